"""`make lint`: every dbt model, compiled for DuckDB, transpiled by sqlglot to Spark's and
Postgres' dialects; a construct sqlglot cannot carry over (unsupported) or cannot parse is
dialect drift: SQL that only DuckDB runs, outside the adapter.dispatch macros of
dbt_project/macros/cross_db/portable.sql. Exit status 1 lists each model and the reason.

Usage: python tests/dbt/dialect_lint.py [--compiled DIR]   (default: compile into a temp dir)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlglot
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
DIALECTS = ("spark", "postgres")
# DuckDB-only functions that only the duckdb__ implementations of portable.sql emit (try():
# duckdb__url_decode): the
# compiled DuckDB SQL holds them by design (the other adapters compile their own variants)
DISPATCHED = ("try function", "url_decode", "epoch_ms", "regexp_matches", "quantile_cont",
              "timezone")


def compile_models(work: Path) -> Path:
    env = {**os.environ, "DUCKDB_PATH": str(work / "lint.duckdb")}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "compile", "--quiet", "--project-dir",
         str(PROJECT), "--profiles-dir", str(PROJECT), "--target-path", str(work / "target"),
         "--log-path", str(work / "logs"), "--select", "resource_type:model",
         "--vars", '{"as_of": "2026-06-30", "run_date": "2026-07-01"}'],
        env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode:
        sys.exit(f"dbt compile failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return work / "target" / "compiled" / "advocacy_attribution" / "models"


def lint(compiled: Path) -> list[str]:
    problems = []
    for path in sorted(compiled.rglob("*.sql")):
        sql = path.read_text()
        name = path.relative_to(compiled)
        for dialect in DIALECTS:
            try:
                sqlglot.transpile(sql, read="duckdb", write=dialect,
                                  unsupported_level=ErrorLevel.RAISE)
            except UnsupportedError as exc:
                reason = str(exc).splitlines()[0]
                if not any(f in reason.lower() for f in DISPATCHED):
                    problems.append(f"{name} -> {dialect}: {reason}")
            except ParseError as exc:
                problems.append(f"{name}: not DuckDB SQL sqlglot can read: {str(exc).splitlines()[0]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiled", type=Path, help="a compiled models folder to lint")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advocacy-lint-") as tmp:
        compiled = args.compiled or compile_models(Path(tmp))
        n = len(list(compiled.rglob("*.sql")))
        problems = lint(compiled)
    for line in problems:
        print(line)
    print(f"dialect lint: {n} compiled models and tests transpiled to {' and '.join(DIALECTS)}, "
          f"{len(problems)} problem(s)")
    return 1 if problems or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
