"""``advocacy stats``: the p-values of segment_comparison and quota_advocacy_correlation after a
``dbt build`` on an adapter without dbt Python models (Postgres, Spark in session mode); see
pipelines/stats.py. On DuckDB the Python models compute them in the build: nothing to do."""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.stats import PROJECT, StatsError, write_back


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True,
                        help="the dbt target of the build (dbt_project/profiles.yml), e.g. postgres")
    parser.add_argument("--vars", default="{}",
                        help="the vars of the build, as JSON (e.g. '{\"as_of\": \"2026-06-30\"}')")
    parser.add_argument("--profiles-dir", default=str(PROJECT),
                        help="folder of profiles.yml (default dbt_project)")
    parser.add_argument("--target-path",
                        help="dbt's folder for its artefacts (default dbt's: dbt_project/target)")


def run(args: argparse.Namespace) -> int:
    try:
        dbt_vars = json.loads(args.vars)
    except json.JSONDecodeError as exc:
        print(f"advocacy stats: --vars is not JSON ({exc})", file=sys.stderr)
        return 2
    common = ["--project-dir", str(PROJECT), "--profiles-dir", args.profiles_dir,
              "--target", args.target,
              *(["--target-path", args.target_path] if args.target_path else [])]
    try:
        rows = write_back(common, dbt_vars)
    except StatsError as exc:
        print(f"advocacy stats: {exc} -> fix the dbt target or run `dbt build --target "
              f"{args.target}` first", file=sys.stderr)
        return 1
    print("p-values written: " + ", ".join(f"{name} {n} rows" for name, n in rows.items()))
    return 0
