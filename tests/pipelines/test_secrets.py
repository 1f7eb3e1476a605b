"""Credentials never leak: sync, check and a Dagster run, with the right secrets and with
wrong ones (the error paths), verbose, under faults that make them retry and log in again;
then every place a secret could land is searched: stdout, stderr, the Dagster event log (its
messages, metadata and errors, serialized) and every file of the Dagster instance (compute
logs, the event log database), and every table and view of the warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from test_nightly_job import nightly

pytestmark = pytest.mark.slow

# wrong values for the error paths: distinctive, so a leak of them is found too
WRONG = {"HUBSPOT_ACCESS_TOKEN": "pat-na1-SENTINELwrong0hubspot0token0000000",
         "SALESFORCE_PASSWORD": "pw-SENTINELwrongPassword",
         "SALESFORCE_CLIENT_SECRET": "cs-SENTINELwrongClientSecret00000"}
WEBHOOK = "https://hooks.example.invalid/services/T000/B000/SENTINELwebhookSecret"


def _secrets(env: dict[str, str]) -> list[str]:
    names = ("HUBSPOT_ACCESS_TOKEN", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN",
             "SALESFORCE_CLIENT_SECRET")
    key = json.loads(Path(env["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())["private_key"]
    body = [ln for ln in key.splitlines() if ln and not ln.startswith("-----")]
    # the secrets, and a line from the middle of the GA4 service account's private key
    return [env[n] for n in names] + [*WRONG.values(), WEBHOOK, body[len(body) // 2]]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s[:12] + "..." for s in secrets if s in text]


def _warehouse_text(path: Path) -> str:
    out = []
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute("select table_schema, table_name from information_schema.tables "
                              "where table_catalog = current_database()").fetchall()
        assert tables
        for schema, table in tables:
            out.append(repr(conn.execute(f'select * from "{schema}"."{table}"').fetchall()))
    return "\n".join(out)


def test_no_secret_in_output_logs_events_or_warehouse(fresh_sandbox: Any, tmp_path: Path) -> None:
    from dagster._serdes import serialize_value

    sb = fresh_sandbox(faults="hubspot:429@3x2,salesforce:expire@4x1,salesforce:503@5x1,ga4:503@3x1")
    good = {**sb.env(), "ALERT_WEBHOOK_URL": WEBHOOK}
    secrets = _secrets(good)
    (tmp_path / "empty.env").write_text("")
    db = tmp_path / "warehouse.duckdb"
    base = {**os.environ, "DUCKDB_PATH": str(db), "DUCKDB_LOCK_WAIT_SECONDS": "30"}

    def advocacy(*args: str, env: dict[str, str]) -> str:
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "-v", *args,
                               "--env-file", str(tmp_path / "empty.env")],
                              env={**base, **env}, cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)
        return proc.stdout + proc.stderr

    outputs = {
        "sync (faults, verbose)": advocacy("sync", env=good),
        "check": advocacy("check", env=good),
        "sync (wrong secrets)": advocacy("sync", "--source", "hubspot", "--source", "salesforce",
                                         env={**good, **WRONG}),
        "check (wrong secrets)": advocacy("check", env={**good, **WRONG}),
    }
    assert "[FAIL]" in outputs["sync (wrong secrets)"]          # the error paths were taken
    assert "Traceback" in outputs["sync (wrong secrets)"] or "401" in outputs["sync (wrong secrets)"]
    for what, text in outputs.items():
        assert not _leaks(text, secrets), (what, _leaks(text, secrets))
    assert not _leaks(_warehouse_text(db), secrets)

    # a Dagster run: Salesforce refuses the (wrong) password, the others sync under faults
    home = tmp_path / "dagster_home"
    home.mkdir()
    dagster_db = tmp_path / "dagster.duckdb"
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = nightly(dagster_db, {**good, "SALESFORCE_PASSWORD": WRONG["SALESFORCE_PASSWORD"]},
                         instance=instance)
        assert not result.success
        records = instance.all_logs(result.run_id)
        events = "\n".join(serialize_value(r) for r in records)
    assert "sync_salesforce" in events and "ASSET_MATERIALIZATION" in events
    assert not _leaks(events, secrets)
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert not _leaks(p.read_bytes().decode("utf-8", "replace"), secrets), p
    assert not _leaks(_warehouse_text(dagster_db), secrets)
