"""Copy the raw layer of a DuckDB warehouse into PostgreSQL or Spark, so that the same dbt
project builds the marts there (dbt_project/README.md, "Portability").

The connectors write DuckDB; a team moving to a shared Postgres warehouse (or testing the
project there, as tests/dbt/test_portable_postgres.py does) copies the raw schemas as they are:
every table of the source schemas, same names, column types mapped, rows streamed through
``COPY`` (CSV, one table at a time, never the whole warehouse in memory). The copy replaces
each table (drop + create in one transaction per table): rerunning it is idempotent.

Spark (``copy_raw_to_spark``): every table goes through a Parquet file that DuckDB writes, read
into a managed Parquet table of the session's warehouse (``CREATE TABLE ... USING parquet AS``);
the schemas become Spark databases of the same names."""

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


def _tables(src: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (schema, table) pairs of ``schemas`` in the DuckDB warehouse, in order."""
    return src.execute("""
        select table_schema, table_name from information_schema.tables
        where table_schema in (select unnest(?)) and table_type = 'BASE TABLE'
        order by 1, 2""", [list(schemas)]).fetchall()


def _columns(src: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of ``schema.table``, in table order."""
    return src.execute("""
        select column_name, data_type from information_schema.columns
        where table_schema = ? and table_name = ? order by ordinal_position""",
                       [schema, table]).fetchall()


def copy_raw_to_postgres(duckdb_path: Path, dsn: str,
                         schemas: tuple[str, ...] = RAW_SCHEMAS) -> dict[str, int]:
    """Copies every table of ``schemas``; returns the row count per ``schema.table``."""
    import psycopg2  # the Postgres driver dbt-postgres brings; only needed for this copy

    counts: dict[str, int] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as src, \
            tempfile.TemporaryDirectory(prefix="advocacy-copy-") as tmp:
        tables = _tables(src, schemas)
        pg = psycopg2.connect(dsn)
        try:
            for schema, table in tables:
                columns = _columns(src, schema, table)
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


def _spark_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def copy_raw_to_spark(duckdb_path: Path, spark, schemas: tuple[str, ...] = RAW_SCHEMAS) -> dict[str, int]:
    """Copies every table of ``schemas`` into the Spark session ``spark`` (pyspark's
    SparkSession, configured as the dbt profile's: same warehouse and metastore); returns the
    row count per ``schema.table``. DuckDB's TIMESTAMP (no time zone) arrives as Spark's
    TIMESTAMP_NTZ and is cast to TIMESTAMP, which the models' casts produce: the wall-clock
    value is kept when the session time zone is UTC (the profile sets it)."""
    counts: dict[str, int] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as src, \
            tempfile.TemporaryDirectory(prefix="advocacy-copy-") as tmp:
        tables = _tables(src, schemas)
        for schema in sorted({s for s, _ in tables}):
            spark.sql(f"create database if not exists {_spark_ident(schema)}")
        for schema, table in tables:
            columns = _columns(src, schema, table)
            for _, data_type in columns:
                postgres_type(data_type)  # the same closed list of raw types: unknown -> error
            parquet = Path(tmp) / f"{schema}.{table}.parquet"
            src.execute(f"copy {_ident(schema)}.{_ident(table)} to '{parquet}' (format parquet)")
            select = ", ".join(
                f"cast({_spark_ident(c)} as timestamp) as {_spark_ident(c)}"
                if t == "TIMESTAMP" else _spark_ident(c) for c, t in columns)
            target = f"{_spark_ident(schema)}.{_spark_ident(table)}"
            spark.sql(f"drop table if exists {target}")
            spark.sql(f"create table {target} using parquet as "
                      f"select {select} from parquet.`{parquet}`")
            counts[f"{schema}.{table}"] = src.execute(
                f"select count(*) from {_ident(schema)}.{_ident(table)}").fetchone()[0]
            parquet.unlink()
    return counts
