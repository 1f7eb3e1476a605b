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
import decimal
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import postgres_cluster
import pytest
from test_dbt_project import REPO, _env, run_dbt

# columns that describe the run, not the data (and freshness: minutes between the builds)
VOLATILE = {"run_manifest": {"run_id", "run_started_at", "built_at", "adapter_type", "dbt_version",
                             "config_hash", "config_json"}}
# target `postgres` is not `prod`: its schemas carry the target schema (generate_schema_name)
PG_MARTS = "analytics_marts"
# computed only where dbt runs Python models (numpy): on Postgres these marts hold no
# data-driven rows by design (models/intermediate/portable/int_data_driven_attribution.sql)
PYTHON_ONLY_MARTS = {"data_driven_credit", "model_comparison"}
REL = 1e-9
ABS = 1e-9


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


def _plain(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def _rows(fetch: list[tuple], columns: list[str], skip: set[str]) -> list[tuple]:
    keep = [i for i, c in enumerate(columns) if c not in skip]
    rows = [tuple(_plain(r[i]) for i in keep) for r in fetch]
    # order by the exact columns first, floats rounded last: the same order on both engines
    return sorted(rows, key=lambda r: tuple(
        (0, round(v, 6)) if isinstance(v, float) else (1, "") if v is None else (2, str(v))
        for v in r))


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL, abs_tol=ABS)
    return a == b


def test_postgres_build_succeeds(pg_built: dict) -> None:
    proc, stats = pg_built["proc"], pg_built["stats"]
    assert sum(pg_built["copied"].values()) > 1000
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    results = json.loads((pg_built["work"] / "build_results.json").read_text())
    assert {r["unique_id"].split(".")[0] for r in results["results"]} >= {
        "model", "seed", "test", "unit_test", "snapshot"}
    assert all(r["status"] in ("success", "pass") for r in results["results"])
    assert stats.returncode == 0, stats.stdout[-4000:] + stats.stderr[-3000:]
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
    with duckdb.connect(str(built["db"]), read_only=True) as duck:
        marts = [t for (t,) in duck.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by 1").fetchall()]
        assert len(marts) >= 10
        differences: list[tuple] = []
        pg = psycopg2.connect(postgres.dsn())
        try:
            for mart in marts:
                if mart in PYTHON_ONLY_MARTS:
                    continue
                skip = VOLATILE.get(mart, set())
                cur = duck.execute(f'select * from marts."{mart}"')
                columns = [d[0] for d in cur.description]
                ours = _rows(cur.fetchall(), columns, skip)
                with pg.cursor() as pcur:
                    pcur.execute(f'select * from {PG_MARTS}."{mart}"')
                    pg_columns = [d[0] for d in pcur.description]
                    assert pg_columns == columns, mart
                    theirs = _rows(pcur.fetchall(), pg_columns, skip)
                if mart == "data_quality":  # freshness: hours since the sync, read minutes apart
                    fresh, detail = columns.index("value"), columns.index("detail")
                    timed = ("freshness_hours", "source_complete")
                    ours, theirs = ([r[:fresh] + (None,) + r[fresh + 1:detail] + (None,) + r[detail + 1:]
                                     if r[0] in timed else r for r in rows] for rows in (ours, theirs))
                if len(ours) != len(theirs):
                    differences.append((mart, "rows", len(ours), len(theirs)))
                    continue
                kept = [c for c in columns if c not in skip]
                for a, b in zip(ours, theirs, strict=True):
                    bad = [(c, x, y) for c, x, y in zip(kept, a, b, strict=True) if not _same(x, y)]
                    if bad:
                        differences.append((mart, a, bad))
                        break  # the first differing row of each mart
        finally:
            pg.close()
    assert not differences, differences
