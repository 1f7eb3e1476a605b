"""The weekly ``reconciliation`` Dagster job, in process, against the sandbox: records deleted
for good (GDPR deletes, purges) are marked deleted in the raw layer."""

from __future__ import annotations

import os
import sqlite3

import dagster as dg
import duckdb

from connectors.hubspot import HubSpotSource
from connectors.source import Settings
from connectors.warehouse import Warehouse

CONFIG_PREFIXES = ("HUBSPOT_", "SALESFORCE_", "GA4_", "GOOGLE_APPLICATION_CREDENTIALS",
                   "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH")


def run_reconciliation() -> dg.ExecuteInProcessResult:
    """The ``reconciliation`` job as the schedule runs it: definitions (and their resources)
    built from the environment now, in process."""
    from pipelines.definitions import build_definitions

    job = build_definitions().resolve_job_def("reconciliation")
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_the_reconciliation_job_is_scheduled_weekly() -> None:
    from pipelines.definitions import defs
    from pipelines.reconciliation import RECONCILED_SOURCES

    job = defs.resolve_job_def("reconciliation")
    assert job.executor_def is dg.in_process_executor
    assert {n.name for n in job.nodes} == {f"reconcile_{s}" for s in RECONCILED_SOURCES}
    assert job.tags.get("advocacy/warehouse") == "write"       # queued as a writer
    schedule = defs.resolve_schedule_def("reconciliation_schedule")
    assert schedule.cron_schedule == os.environ.get("RECONCILE_CRON", "0 4 * * 0")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_reconciliation_job_marks_vanished_records_deleted(fresh_sandbox, tmp_path, monkeypatch) -> None:
    sb = fresh_sandbox()
    db = tmp_path / "warehouse.duckdb"
    for key in list(os.environ):
        if key.startswith(CONFIG_PREFIXES):
            monkeypatch.delenv(key)
    for key, value in {**sb.env(), "DUCKDB_PATH": str(db)}.items():
        if key.startswith(("HUBSPOT_", "DUCKDB_")):    # HubSpot only (Salesforce: its own test)
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)                  # no .env of the developer's
    with Warehouse(db) as wh:
        HubSpotSource(Settings(dict(os.environ)), wh).sync(objects=["contacts", "deals"])
    conn = sqlite3.connect(sb.store_path)
    (gone,) = conn.execute("SELECT id FROM hubspot_object WHERE object_type = 'contacts' "
                           "AND archived = 0 ORDER BY id LIMIT 1").fetchone()
    conn.execute("DELETE FROM hubspot_object WHERE object_type = 'contacts' AND id = ?", (gone,))
    conn.commit()
    conn.close()

    result = run_reconciliation()
    assert result.success
    with duckdb.connect(str(db), read_only=True) as wh:
        assert wh.execute("SELECT _is_deleted FROM hubspot.contacts WHERE id = ?", [str(gone)]).fetchone()[0]
    events = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    meta = {tuple(e.asset_key.path): e.step_materialization_data.materialization.metadata for e in events}
    assert meta[("hubspot", "contacts")]["marked_deleted"].value == 1
    # ... and the weekly association sweep: every live deal's contacts read again
    swept = meta[("hubspot", "deal_contact_associations")]
    assert swept["ids_listed"].value > 0   # association rows read


def test_a_source_not_configured_is_skipped(tmp_path, monkeypatch) -> None:
    for key in list(os.environ):
        if key.startswith(CONFIG_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.chdir(tmp_path)
    assert run_reconciliation().success
