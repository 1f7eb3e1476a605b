"""The same dbt project on Spark, unchanged: the raw layer of the shared test world
(``raw_warehouse``) is copied into a local Spark warehouse of plain Parquet tables
(connectors/warehouse_copy.py, through Parquet files DuckDB writes), ``dbt build --target spark``
runs there (dbt-spark in session mode: Spark inside the dbt process, local[2]), the post-build
step ``advocacy stats`` writes the p-values, and every mart must equal DuckDB's row by row
(tests/dbt/mart_equality.py, the comparison the Postgres test uses).

Marked ``spark``: `make test-spark` runs it (CI runs that target after `make test`); plain
`pytest` leaves it out (pyproject's addopts). pyspark bundles Spark; Java comes from Debian's
openjdk-17-jre-headless (`make java`). Without them the tests skip, and fail under CI=true."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from mart_equality import assert_build_succeeded, mart_differences
from test_dbt_project import REPO, _env, run_dbt

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(2400)]

# target `spark` is not `prod`: its databases carry the target schema (generate_schema_name)
SPARK_MARTS = "analytics_marts"
# computed only where dbt runs Python models (numpy): without them (Postgres, Spark in session
# mode) these marts hold no data-driven rows by design
# (models/intermediate/portable/int_data_driven_attribution.sql)
PYTHON_ONLY_MARTS = {"data_driven_credit", "model_comparison"}


def _missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "no pyspark: `make env` installs the spark dependency group"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java: `make java` installs Debian's openjdk-17-jre-headless"
    return None


@pytest.fixture(scope="session")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    base = tmp_path_factory.mktemp("spark")
    return {"SPARK_WAREHOUSE_DIR": str(base / "warehouse"),
            "SPARK_METASTORE_DIR": str(base / "metastore"), "SPARK_SCHEMA": "analytics"}


@pytest.fixture(scope="session")
def spark_built(spark_env: dict[str, str], raw_warehouse: Path, truth: dict,
                tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dbt_spark")
    started = time.monotonic()
    # each step a process of its own: the Derby metastore admits one process at a time
    copy = subprocess.run([sys.executable, "-m", "pipelines.spark_session", "copy",
                           str(raw_warehouse)], cwd=REPO, env=_env(spark_env), capture_output=True, text=True,
                          timeout=900)
    assert copy.returncode == 0, copy.stdout[-3000:] + copy.stderr[-3000:]
    copied = json.loads(copy.stdout.strip().splitlines()[-1])
    copy_seconds = time.monotonic() - started
    as_of = truth["meta"]["as_of"]
    run_date = (dt.date.fromisoformat(as_of) + dt.timedelta(days=1)).isoformat()
    proc = run_dbt(["build"], work / "unused.duckdb", work, as_of=as_of, tz="America/New_York",
                   nightly=True, target="spark", env=spark_env, timeout=1800)
    build_seconds = time.monotonic() - started - copy_seconds
    results = work / "target" / "run_results.json"
    if results.exists():
        shutil.copy2(results, work / "build_results.json")
    stats = subprocess.run(
        [sys.executable, "-m", "pipelines.cli.main", "stats", "--target", "spark",
         "--vars", json.dumps({"as_of": as_of, "run_date": run_date}),
         "--target-path", str(work / "target")],
        cwd=REPO, env=_env({**spark_env, "TZ": "America/New_York"}),
        capture_output=True, text=True, timeout=900)
    # the snapshots once more, as the next nightly would: the Parquet snapshot's rewrite path
    # (versions closed and added through a work table); nothing changed, so no new version
    again = run_dbt(["snapshot"], work / "unused.duckdb", work, as_of=as_of,
                    tz="America/New_York", nightly=True, target="spark", env=spark_env,
                    timeout=900)
    return {"proc": proc, "stats": stats, "again": again, "work": work, "copied": copied,
            "seconds": {"copy": copy_seconds, "build": build_seconds,
                        "stats": time.monotonic() - started - copy_seconds - build_seconds}}


def test_spark_build_succeeds(spark_built: dict) -> None:
    assert_build_succeeded(spark_built)
    again = spark_built["again"]
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-3000:]
    print("spark seconds:", {k: round(v, 1) for k, v in spark_built["seconds"].items()})


def test_every_mart_equals_duckdb(built: dict, spark_built: dict, spark_env: dict) -> None:
    """Read through Spark itself (its catalogue, its Parquet reader), after the last dbt
    process has left the metastore."""
    from pipelines.spark_session import spark_session

    assert built["proc"].returncode == 0 and spark_built["proc"].returncode == 0
    session = spark_session({**os.environ, **spark_env})

    def fetch(mart: str) -> tuple[list[str], list[tuple]]:
        frame = session.table(f"{SPARK_MARTS}.`{mart}`")
        return list(frame.columns), [tuple(row) for row in frame.collect()]

    try:
        compared, differences = mart_differences(built["db"], fetch, PYTHON_ONLY_MARTS)
        # the reported quarters, snapshotted twice (created, then rewritten unchanged): the
        # same versions as DuckDB's single snapshot
        snapshots = {name: sorted(tuple(r) for r in session.sql(
            f"select snapshot_key, dbt_valid_to is null from analytics_snapshots.{name}").collect())
            for name in ("funnel_by_segment_reported", "pipeline_by_segment_reported")}
    finally:
        session.stop()
    assert len(compared) >= 10
    assert not differences, differences
    with duckdb.connect(str(built["db"]), read_only=True) as duck:
        for name, rows in snapshots.items():
            assert rows, name
            assert rows == sorted(duck.execute(
                f"select snapshot_key, dbt_valid_to is null from snapshots.{name}").fetchall()), name
