"""A company with one CRM and no GA4 or advocacy exports yet still gets marts: sources that are
not configured are skipped by `advocacy sync`, their raw tables exist empty, `dbt build` passes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
CONFIG_PREFIXES = ("HUBSPOT_", "SALESFORCE_", "GA4_", "GOOGLE_APPLICATION_CREDENTIALS",
                   "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH", "DBT_")


@pytest.mark.slow
def test_hubspot_only_company_builds(world_store: Path, tmp_path: Path) -> None:
    from connectors.sandbox.server import Sandbox

    store = tmp_path / "world.sqlite"
    shutil.copy2(world_store, store)
    db = tmp_path / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    with Sandbox(store, tmp_path / "work") as sandbox:
        env.update({k: v for k, v in sandbox.env().items() if k.startswith("HUBSPOT_")})
        env["DUCKDB_PATH"] = str(db)
        sync = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    for source in ("salesforce", "ga4", "advocacy_platform"):
        assert f"[skip] {source}: not configured" in sync.stderr, sync.stderr
    dbt = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(PROJECT),
         "--profiles-dir", str(PROJECT), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs"), "--vars", json.dumps({"as_of": "2026-06-30"}),
         "--exclude", "resource_type:unit_test"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert dbt.returncode == 0, dbt.stdout[-5000:]
    with duckdb.connect(str(db), read_only=True) as conn:
        leads = conn.execute("select sum(leads) from marts.funnel_by_segment "
                             "where period_grain = 'quarter'").fetchone()[0]
        hubspot_contacts = conn.execute(
            "select count(*) from hubspot.contacts where not _is_deleted").fetchone()[0]
    assert leads and leads <= hubspot_contacts
