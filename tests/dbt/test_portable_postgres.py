"""The same dbt project on PostgreSQL, unchanged: the raw layer of the shared test world
(``raw_warehouse``, the connectors' DuckDB file) is copied into a throw-away Postgres cluster
(connectors/warehouse_copy.py), ``dbt build --target postgres`` runs with the vars and time
zone of the DuckDB build, then the post-build step ``advocacy stats`` writes the p-values
Postgres cannot compute in dbt Python models; every mart must equal DuckDB's row by row
(numbers to a relative 1e-9: the engines sum floats in different orders).

Postgres comes from Debian's package (`make postgres`); without it the tests skip, and fail
under CI=true."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import postgres_cluster
import pytest
from mart_equality import assert_build_succeeded, mart_differences
from test_dbt_project import REPO, _env, run_dbt

# target `postgres` is not `prod`: its schemas carry the target schema (generate_schema_name)
PG_MARTS = "analytics_marts"
# computed only where dbt runs Python models (numpy): on Postgres these marts hold no
# data-driven rows by design (models/intermediate/portable/int_data_driven_attribution.sql)
PYTHON_ONLY_MARTS = {"data_driven_credit", "model_comparison"}


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_cluster.Cluster]:
    if postgres_cluster.server_bin() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL server: `make postgres` installs Debian's postgresql package")
        pytest.skip("no PostgreSQL server (run `make postgres`)")
    cluster = postgres_cluster.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_built(postgres: postgres_cluster.Cluster, raw_warehouse: Path, truth: dict,
             tmp_path_factory: pytest.TempPathFactory) -> dict:
    from connectors.warehouse_copy import copy_raw_to_postgres

    work = tmp_path_factory.mktemp("dbt_postgres")
    started = time.monotonic()
    copied = copy_raw_to_postgres(raw_warehouse, postgres.dsn())
    copy_seconds = time.monotonic() - started
    as_of = truth["meta"]["as_of"]
    run_date = (dt.date.fromisoformat(as_of) + dt.timedelta(days=1)).isoformat()
    proc = run_dbt(["build"], work / "unused.duckdb", work, as_of=as_of, tz="America/New_York",
                   nightly=True, target="postgres", env=postgres.env())
    build_seconds = time.monotonic() - started - copy_seconds
    # the step runs where the build left its artefacts (dbt's partial parsing: as a user runs
    # it); the build's results are kept aside first
    results = work / "target" / "run_results.json"
    if results.exists():
        shutil.copy2(results, work / "build_results.json")
    stats = subprocess.run(
        [sys.executable, "-m", "pipelines.cli.main", "stats", "--target", "postgres",
         "--vars", json.dumps({"as_of": as_of, "run_date": run_date}),
         "--target-path", str(work / "target")],
        cwd=REPO, env=_env({**postgres.env(), "TZ": "America/New_York"}),
        capture_output=True, text=True, timeout=600)
    return {"proc": proc, "stats": stats, "work": work, "copied": copied,
            "seconds": {"copy": copy_seconds, "build": build_seconds,
                        "stats": time.monotonic() - started - copy_seconds - build_seconds}}


def test_postgres_build_succeeds(pg_built: dict) -> None:
    assert_build_succeeded(pg_built)
    print("postgres seconds:", {k: round(v, 1) for k, v in pg_built["seconds"].items()})


def test_a_shared_warehouse_keeps_targets_apart(pg_built: dict, postgres) -> None:
    """On a shared warehouse a target other than prod writes <target schema>_<schema>: dev and
    prod never overwrite each other's marts (DuckDB keeps the plain names: tests above)."""
    import psycopg2

    with psycopg2.connect(postgres.dsn()) as pg, pg.cursor() as cur:
        cur.execute("select schema_name from information_schema.schemata")
        schemas = {s for (s,) in cur.fetchall()}
    assert {"analytics_marts", "analytics_staging", "analytics_intermediate",
            "analytics_config", "analytics_snapshots"} <= schemas
    assert not schemas & {"marts", "staging", "intermediate", "config", "snapshots"}


def test_every_mart_equals_duckdb(built: dict, pg_built: dict, postgres) -> None:
    import psycopg2

    assert built["proc"].returncode == 0 and pg_built["proc"].returncode == 0
    pg = psycopg2.connect(postgres.dsn())

    def fetch(mart: str) -> tuple[list[str], list[tuple]]:
        with pg.cursor() as cur:
            cur.execute(f'select * from {PG_MARTS}."{mart}"')
            return [d[0] for d in cur.description], cur.fetchall()

    try:
        compared, differences = mart_differences(built["db"], fetch, PYTHON_ONLY_MARTS)
    finally:
        pg.close()
    assert len(compared) >= 10
    assert not differences, differences
