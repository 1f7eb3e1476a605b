"""``advocacy report``: write the HTML attribution report and a CSV per table from the marts
(``data/report/`` by default), and with ``--publish`` the read-only copies of the marts for BI
tools (``data/published/``). The nightly Dagster job does both after every build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", default=".env", help="file of environment variables (default .env)")
    parser.add_argument("--warehouse", help="DuckDB file to read the marts from (default DUCKDB_PATH; "
                        "the published data/published/advocacy.duckdb works too)")
    parser.add_argument("--out", help="folder for the report and its CSVs (default REPORT_DIR, "
                        "else report/ beside the warehouse)")
    parser.add_argument("--publish", action="store_true",
                        help="also publish the marts as Parquet and a read-only DuckDB file (PUBLISH_DIR)")


def run(args: argparse.Namespace) -> int:
    from connectors.source import Settings
    from connectors.warehouse import warehouse_path
    from pipelines.publish import IncompleteNight, publish_dir, publish_marts
    from pipelines.report import MartsMissing, write_report
    from pipelines.report_assets import report_dir

    settings = Settings.from_environment(args.env_file)
    warehouse = Path(args.warehouse).resolve() if args.warehouse else warehouse_path(settings.env)
    out = Path(args.out).resolve() if args.out else report_dir(settings.env)
    try:
        report = write_report(warehouse, out)
        if args.publish:
            # beside the warehouse read (PUBLISH_DIR wins), as the nightly job does
            published = publish_marts(warehouse, publish_dir({**settings.env, "DUCKDB_PATH": str(warehouse)}))
    except MartsMissing as exc:
        print(f"advocacy report: {exc}", file=sys.stderr)
        return 1
    except IncompleteNight as exc:
        print(f"report: {report.html} (it names the missing source)\n"
              f"advocacy report: {exc}", file=sys.stderr)
        return 1
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        print(f"advocacy report: {warehouse} is being written by another process (a sync or a dbt "
              "build); run again when it has finished, or read the published copy with "
              "--warehouse data/published/advocacy.duckdb", file=sys.stderr)
        return 1
    print(f"report: {report.html} ({report.size_bytes / 1e6:.1f} MB); "
          f"{len(report.csvs)} CSV files in {report.html.parent}")
    if args.publish:
        print(f"published: {published.database} and {len(published.parquet)} Parquet files "
              f"in {published.directory / 'parquet'}")
    return 0
