"""Copy the raw layer of a DuckDB warehouse into PostgreSQL, so that the same dbt project
builds the marts on Postgres (dbt_project/README.md, "Other warehouses").

The connectors write DuckDB; a team moving to a shared Postgres warehouse (or testing the
project there, as tests/dbt/test_portable_postgres.py does) copies the raw schemas as they are:
every table of the source schemas, same names, column types mapped, rows streamed through
``COPY`` (CSV, one table at a time, never the whole warehouse in memory). The copy replaces
each table (drop + create in one transaction per table): rerunning it is idempotent."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import duckdb

RAW_SCHEMAS = ("hubspot", "salesforce", "ga4", "advocacy_platform", "meta")   # meta: source_status

# DuckDB column types of the raw layer -> PostgreSQL (connectors/raw_schema.py uses no others;
# an unknown type is an error, never a silent text column)
_TYPES = {"VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision",
          "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "SMALLINT": "smallint",
          "FLOAT": "real", "TIMESTAMP WITH TIME ZONE": "timestamptz", "JSON": "text"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


def postgres_type(duckdb_type: str) -> str:
    match = _DECIMAL.fullmatch(duckdb_type)
    if match:
        return f"numeric({match[1]},{match[2]})"
    if duckdb_type not in _TYPES:
        raise ValueError(f"no PostgreSQL type for DuckDB type {duckdb_type}")
    return _TYPES[duckdb_type]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_raw_to_postgres(duckdb_path: Path, dsn: str,
                         schemas: tuple[str, ...] = RAW_SCHEMAS) -> dict[str, int]:
    """Copies every table of ``schemas``; returns the row count per ``schema.table``."""
    import psycopg2  # the Postgres driver dbt-postgres brings; only needed for this copy

    counts: dict[str, int] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as src, \
            tempfile.TemporaryDirectory(prefix="advocacy-copy-") as tmp:
        tables = src.execute("""
            select table_schema, table_name from information_schema.tables
            where table_schema in (select unnest(?)) and table_type = 'BASE TABLE'
            order by 1, 2""", [list(schemas)]).fetchall()
        pg = psycopg2.connect(dsn)
        try:
            for schema, table in tables:
                columns = src.execute("""
                    select column_name, data_type from information_schema.columns
                    where table_schema = ? and table_name = ? order by ordinal_position""",
                                      [schema, table]).fetchall()
                csv_path = Path(tmp) / f"{schema}.{table}.csv"
                # DuckDB writes NULL as an empty field and an empty string as "": exactly what
                # Postgres' CSV COPY reads back as NULL and ''
                src.execute(f"copy {_ident(schema)}.{_ident(table)} to '{csv_path}' "
                            "(format csv, header false)")
                target = f"{_ident(schema)}.{_ident(table)}"
                cols = ", ".join(f"{_ident(c)} {postgres_type(t)}" for c, t in columns)
                with pg.cursor() as cur:
                    cur.execute(f"create schema if not exists {_ident(schema)}")
                    cur.execute(f"drop table if exists {target}")
                    cur.execute(f"create table {target} ({cols})")
                    with csv_path.open() as fh:
                        cur.copy_expert(f"copy {target} from stdin with (format csv)", fh)
                    counts[f"{schema}.{table}"] = cur.rowcount
                pg.commit()
                csv_path.unlink()
        finally:
            pg.close()
    return counts
