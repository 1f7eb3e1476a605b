"""Session fixtures of the dbt tests: the sandbox world synced once into a DuckDB raw layer
(``raw_warehouse``), its truth, and one DuckDB build (``built``), shared by the DuckDB tests
(test_dbt_project.py) and the portability tests (test_portable_postgres.py), which copy the
same raw layer to another engine and compare its marts with DuckDB's."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def truth(world_store: Path) -> dict:
    from connectors.sandbox.truth import compute_truth

    return compute_truth(world_store)


@pytest.fixture(scope="session")
def raw_warehouse(world_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw layer as the product builds it: ``advocacy sync`` against the sandbox."""
    from test_dbt_project import _env

    from connectors.sandbox.server import Sandbox

    base = tmp_path_factory.mktemp("dbt_raw")
    store = base / "store" / "world.sqlite"
    store.parent.mkdir(parents=True)
    shutil.copy2(world_store, store)
    sandbox = Sandbox(store, base / "work")
    sandbox.start()
    try:
        db = base / "raw.duckdb"
        env = _env({**sandbox.env(), "DUCKDB_PATH": str(db)})
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync", "--quiet"],
                              cwd=base, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # the weekly reconciliation on top changes nothing the truth can see (it only marks
        # what the source lost, reads what the windows missed, refreshes formula fields)
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync", "--reconcile",
                               "--quiet"], cwd=base, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        sandbox.stop()
    return db


@pytest.fixture(scope="session")
def built(raw_warehouse: Path, truth: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from test_dbt_project import run_dbt

    work = tmp_path_factory.mktemp("dbt_build")
    db = work / "warehouse.duckdb"
    shutil.copy2(raw_warehouse, db)
    started = time.monotonic()
    # on a machine away from UTC: no mart may depend on the local time zone (the raw layer's
    # timestamps are UTC; the truth is computed in UTC)
    proc = run_dbt(["build"], db, work, as_of=truth["meta"]["as_of"], tz="America/New_York",
                   nightly=True)
    return {"db": db, "work": work, "proc": proc, "seconds": time.monotonic() - started}
