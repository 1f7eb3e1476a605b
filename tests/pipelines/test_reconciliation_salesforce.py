"""The Salesforce reconciliation as Dagster runs it (the weekly ``reconciliation`` job): its
op (real Dagster, the real connector against the sandbox) marks a hard delete the delete log
lost, with its request count in the run's metadata."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from connectors.salesforce import SalesforceSource
from connectors.salesforce_soql import soql_datetime
from connectors.source import Settings
from connectors.warehouse import Warehouse, utcnow

pytestmark = pytest.mark.slow


def test_reconciliation_op_marks_what_the_delete_log_lost(fresh_sandbox: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from test_reconciliation import run_reconciliation

    sb = fresh_sandbox()
    warehouse = tmp_path / "warehouse.duckdb"
    env = {**sb.env(), "DUCKDB_PATH": str(warehouse)}
    for k in [k for k in os.environ if k.startswith(("SALESFORCE_", "HUBSPOT_", "GA4_"))]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        if k.startswith(("SALESFORCE_", "DUCKDB_")):    # Salesforce only
            monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)                         # no .env of the developer's
    with Warehouse(warehouse) as wh:
        SalesforceSource(Settings(env), wh).sync(objects=["Lead"])
    sb.salesforce.app.delete_log_limit = 0          # the log purged early: getDeleted is empty
    conn = sqlite3.connect(sb.store_path)
    victim = conn.execute("SELECT id FROM sf_record WHERE sobject='Lead' AND is_deleted=0 "
                          "AND purged=0 ORDER BY id LIMIT 1").fetchone()[0]
    conn.execute("UPDATE sf_record SET purged=1, deleted_date=? WHERE sobject='Lead' AND id=?",
                 (soql_datetime(utcnow()), victim))
    conn.commit()
    conn.close()
    result = run_reconciliation()
    assert result.success
    events = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    meta = {tuple(e.asset_key.path): e.step_materialization_data.materialization.metadata for e in events}
    assert meta[("salesforce", "lead")]["marked_deleted"].value >= 1
    assert meta[("salesforce", "lead")]["requests"].value > 0
    with duckdb.connect(str(warehouse), read_only=True) as db:
        assert db.execute("SELECT _is_deleted FROM salesforce.lead WHERE id=?",
                          [victim]).fetchone()[0] is True
