"""Shared fixtures. The slow ones are session-scoped: one small world, one sandbox, one
pipeline run, shared by every end-to-end test so that ``make test`` stays within minutes.

Sandbox fixtures, for the connector and command-line tests:

* ``sandbox``        session-scoped :class:`connectors.sandbox.server.Sandbox`, started; never
                     advance it or change its store (other tests share it).
* ``sandbox_env``    ``sandbox.env()``: the source variables pointing at it.
* ``fresh_sandbox``  function-scoped factory: ``make_sandbox(faults="hubspot:429@3x2")``
                     returns a started Sandbox over its own store copy, stopped at teardown.
* ``warehouse_path`` a fresh DuckDB file path per test (not created).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.sandbox.config import WorldConfig

# The world every slow test shares: small enough to build in seconds, big enough that every
# segment, quarter, currency and deletion kind occurs.
TEST_SEED = 11
TEST_SCALE = float(os.environ.get("ADVOCACY_TEST_SCALE", "0.1"))


# `make test` runs the suite on two pytest-xdist workers (`--dist loadgroup`). Each worker has
# its own session, so a session fixture is built once per worker that asks for it: every module
# whose tests use one of the expensive shared runs goes to that run's group (one worker builds it
# once, its tests in file order: test_report's second night after test_nightly_job's readers),
# and every other module is a group of its own, so module fixtures are never built twice.
SHARED_RUNS = {"nightly_pipeline": "shared-nightly-run", "built": "shared-dbt-build",
               "raw_warehouse": "shared-dbt-build", "truth": "shared-dbt-build"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups: dict[str, str] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in SHARED_RUNS:
                groups[module] = SHARED_RUNS[fixture]
    for item in items:
        module = item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(groups.get(module, module)))


@pytest.fixture(scope="session")
def world_config() -> WorldConfig:
    return WorldConfig(seed=TEST_SEED, scale=TEST_SCALE)


@pytest.fixture(scope="session")
def world_store(tmp_path_factory: pytest.TempPathFactory, world_config: WorldConfig) -> Path:
    """A generated world store (SQLite), never modified by tests: copy it to advance it."""
    from connectors.sandbox.world import generate

    path = tmp_path_factory.mktemp("world") / "world.sqlite"
    generate(path, world_config)
    return path


def _copy_store(world_store: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / "world.sqlite"
    shutil.copy2(world_store, dest)
    # SQLite side files (WAL mode) travel with the store if present
    for suffix in ("-wal", "-shm"):
        side = world_store.with_name(world_store.name + suffix)
        if side.exists():
            shutil.copy2(side, dest.with_name(dest.name + suffix))
    return dest


@pytest.fixture(scope="session")
def sandbox(world_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from connectors.sandbox.server import Sandbox

    base = tmp_path_factory.mktemp("sandbox")
    store_copy = _copy_store(world_store, base / "store")
    sb = Sandbox(store_copy, base / "work")
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="session")
def sandbox_env(sandbox: object) -> dict[str, str]:
    return dict(sandbox.env())  # type: ignore[attr-defined]


@pytest.fixture
def fresh_sandbox(world_store: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[..., object]]:
    from connectors.sandbox.server import Sandbox

    started: list[Sandbox] = []

    def make_sandbox(faults: str | None = None) -> Sandbox:
        base = tmp_path_factory.mktemp("fresh_sandbox")
        store_copy = _copy_store(world_store, base / "store")
        sb = Sandbox(store_copy, base / "work", faults=faults)
        sb.start()
        started.append(sb)
        return sb

    try:
        yield make_sandbox
    finally:
        for sb in started:
            with contextlib.suppress(Exception):  # teardown must stop the others
                sb.stop()


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


# -- HubSpot: the store as the API serves it, and the raw layer as the connector wrote it ------
def hubspot_store_state(store_path: Path) -> dict[str, object]:
    """What ``hubspot.*`` must hold after a complete sync of this store: per object type
    ``{id: (is_deleted, updated_at_ms)}``, and the deal->contact association keys of live deals."""
    import sqlite3

    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        state: dict[str, object] = {}
        for t in ("contacts", "companies", "deals"):
            state[t] = {str(i): (bool(a), int(u)) for i, a, u in conn.execute(
                "SELECT id, archived, updated_at_ms FROM hubspot_object WHERE object_type=?", (t,))}
        state["associations"] = {(str(d), str(c), int(k)) for d, c, k in conn.execute(
            "SELECT a.from_id, a.to_id, a.type_id FROM hubspot_association a "
            "JOIN hubspot_object o ON o.object_type='deals' AND o.id=a.from_id AND o.archived=0 "
            "WHERE a.from_type='deals' AND a.to_type='contacts'")}
        state["owners"] = {str(i): bool(a) for i, a in conn.execute(
            "SELECT id, archived FROM hubspot_owner")}
        return state
    finally:
        conn.close()


def hubspot_raw_state(duckdb_path: Path) -> dict[str, object]:
    """The same shape as :func:`hubspot_store_state`, read from the warehouse."""
    import duckdb

    conn = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        state: dict[str, object] = {}
        for t in ("contacts", "companies", "deals"):
            state[t] = {i: (bool(d), int(ms)) for i, d, ms in conn.execute(
                f"SELECT id, _is_deleted, epoch_ms(updated_at) FROM hubspot.{t}").fetchall()}
        state["associations"] = {(d, c, int(k)) for d, c, k in conn.execute(
            "SELECT deal_id, contact_id, association_type_id "
            "FROM hubspot.deal_contact_associations").fetchall()}
        state["owners"] = {i: bool(d) for i, d in conn.execute(
            "SELECT id, _is_deleted FROM hubspot.owners").fetchall()}
        return state
    finally:
        conn.close()


@pytest.fixture(scope="session")
def hubspot_state() -> tuple[Callable[[Path], dict[str, object]], Callable[[Path], dict[str, object]]]:
    """(store_state, raw_state) functions for HubSpot equality checks."""
    return hubspot_store_state, hubspot_raw_state
