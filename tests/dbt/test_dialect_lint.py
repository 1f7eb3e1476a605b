"""`make lint`'s dialect check (tests/dbt/dialect_lint.py) on hand-written compiled models: a
construct sqlglot cannot carry to Postgres or Spark, or SQL it cannot read, is reported; the
DuckDB-only functions that only the duckdb__ macros emit are not. (`make lint` runs it on
every model of the project.)"""

from __future__ import annotations

from pathlib import Path

from dialect_lint import lint


def test_dialect_drift_is_reported_and_dispatched_duckdb_sql_is_not(tmp_path: Path) -> None:
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "pivoted.sql").write_text(
        "select * from t pivot (sum(amount) for segment in ('advocacy', 'other'))")
    (tmp_path / "broken.sql").write_text("select from where (")
    (tmp_path / "decoded.sql").write_text(
        "select coalesce(try(url_decode(replace(u, '+', ' '))), u) as v from t")
    (tmp_path / "plain.sql").write_text("select cast(a as bigint) as a from t where b ~ '^x'")
    problems = lint(tmp_path)
    assert any(p.startswith("marts/pivoted.sql -> postgres") for p in problems), problems
    assert any(p.startswith("broken.sql:") for p in problems), problems
    assert not [p for p in problems if "decoded" in p or "plain" in p], problems
