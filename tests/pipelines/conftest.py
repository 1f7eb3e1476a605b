"""The one nightly run the pipeline tests share: the Dagster job (real connectors against the
sandbox serving a copy of the shared world, real dbt, the report and the published marts),
run once per session. test_nightly_job reads what it materialised, test_report the report
and published files it wrote; test_report's last tests run a second night on top of it, so
they come after every reader of the first night (pytest runs test_nightly_job first)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_nightly_job import nightly


@pytest.fixture(scope="session")
def nightly_pipeline(world_store: Path, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[dict[str, Any]]:
    from connectors.sandbox.server import Sandbox

    base = tmp_path_factory.mktemp("nightly_pipeline")
    store = base / "world.sqlite"
    shutil.copy2(world_store, store)
    warehouse = base / "warehouse.duckdb"
    with Sandbox(store, base / "work") as sandbox:
        env = dict(sandbox.env())
        result = nightly(warehouse, env)
        yield {"env": env, "warehouse": warehouse, "result": result, "base": base,
               "report": base / "report" / "advocacy_report.html",
               "published": base / "published"}
