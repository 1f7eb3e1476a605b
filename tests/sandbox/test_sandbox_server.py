"""The Sandbox runner and `advocacy sandbox serve`: every fake reachable with the env it
writes, through the real clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import hubspot
import pytest
import requests
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import DateRange, Dimension, Metric, RunReportRequest
from google.oauth2 import service_account

from connectors.sandbox.config import sandbox_credentials
from connectors.sandbox.server import Sandbox

sys.path.insert(0, str(Path(__file__).parent))
from fake_world_helpers import build_store  # noqa: E402

ENV_VARS = {
    "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_BASE_URL", "SALESFORCE_INSTANCE_URL", "SALESFORCE_LOGIN_URL",
    "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN",
    "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_CA_BUNDLE", "GA4_PROPERTY_ID",
    "GOOGLE_APPLICATION_CREDENTIALS", "GA4_API_ENDPOINT", "GA4_VISITOR_DIMENSION",
    "ADVOCACY_EXPORTS_DIR",
    # GA4's BigQuery export, offered (GA4_SOURCE=bigquery_export selects it)
    "GA4_BIGQUERY_PROJECT", "GA4_BIGQUERY_DATASET", "GA4_BIGQUERY_ENDPOINT",
}
SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]
ROOT = Path(__file__).resolve().parents[2]


def ga4_client(env: dict[str, str]) -> BetaAnalyticsDataClient:
    creds = service_account.Credentials.from_service_account_file(
        env["GOOGLE_APPLICATION_CREDENTIALS"], scopes=SCOPES)
    return BetaAnalyticsDataClient(credentials=creds, transport="rest",
                                   client_options={"api_endpoint": env["GA4_API_ENDPOINT"]})


def exercise(env: dict[str, str]) -> dict[str, int]:
    """One call per service with nothing but the env; returns what each answered."""
    hs = hubspot.Client.create(access_token=env["HUBSPOT_ACCESS_TOKEN"], host=env["HUBSPOT_BASE_URL"])
    contacts = hs.crm.contacts.get_all(properties=["email"])
    report = ga4_client(env).run_report(RunReportRequest(
        property=f"properties/{env['GA4_PROPERTY_ID']}",
        dimensions=[Dimension(name="date"), Dimension(name=env["GA4_VISITOR_DIMENSION"])],
        metrics=[Metric(name="sessions")],
        date_ranges=[DateRange(start_date="30daysAgo", end_date="yesterday")]))
    token = requests.post(
        env["SALESFORCE_LOGIN_URL"] + "/services/oauth2/token",
        data={"grant_type": "password", "client_id": env["SALESFORCE_CLIENT_ID"],
              "client_secret": env["SALESFORCE_CLIENT_SECRET"], "username": env["SALESFORCE_USERNAME"],
              "password": env["SALESFORCE_PASSWORD"] + env["SALESFORCE_SECURITY_TOKEN"]},
        verify=env["SALESFORCE_CA_BUNDLE"], timeout=10)
    assert token.status_code == 200, token.text
    assert token.json()["instance_url"] == env["SALESFORCE_INSTANCE_URL"]
    return {"contacts": len(contacts), "ga4_rows": report.row_count}


def test_sandbox_env_file_and_fakes(tmp_path):
    store_path = build_store(tmp_path / "world.sqlite", seed=5)
    with Sandbox(store_path, tmp_path / "work", faults="hubspot:503@1x1") as sb:
        assert sb.credentials == sandbox_credentials(5)
        env = sb.env()
        assert set(env) == ENV_VARS
        assert env["HUBSPOT_BASE_URL"].startswith("http://127.0.0.1:")
        assert env["SALESFORCE_INSTANCE_URL"].startswith("https://127.0.0.1:")
        assert env["GA4_API_ENDPOINT"].startswith("http://127.0.0.1:")
        assert env["GA4_VISITOR_DIMENSION"] == "customEvent:ga_client_id"
        assert env["GA4_BIGQUERY_ENDPOINT"].startswith("http://127.0.0.1:")
        assert env["GA4_BIGQUERY_DATASET"] == f"analytics_{env['GA4_PROPERTY_ID']}"
        assert "GA4_SOURCE" not in env   # the Data API stays the default
        sa = json.loads(Path(env["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
        assert sa["type"] == "service_account" and sa["token_uri"] == env["GA4_API_ENDPOINT"] + "/token"
        assert stat.S_IMODE(os.stat(env["GOOGLE_APPLICATION_CREDENTIALS"]).st_mode) == 0o600
        env_file = sb.write_env_file(tmp_path / "sandbox.env")
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        lines = env_file.read_text().splitlines()
        assert lines[0].startswith("#")
        parsed = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
        assert parsed == env
        got = exercise(env)
        # 35 stored (date, visitor) rows; two days have two visitors without id: one (not set) row
        assert got == {"contacts": 22, "ga4_rows": 33}
        counts = sb.request_counts()
        # the 503 (with Retry-After) on the first GET was retried by urllib3 default Retry
        assert counts["hubspot"] == {"requests": 2, "faulted": 1, "errors": 1}
        assert counts["ga4"]["requests"] == 1 and counts["salesforce"]["requests"] == 1


@pytest.mark.slow
def test_sandbox_over_generated_world(world_store, tmp_path):
    store_path = tmp_path / "world.sqlite"
    shutil.copy(world_store, store_path)
    with Sandbox(store_path, tmp_path / "work") as sb:
        env = sb.env()
        got = exercise(env)
        assert got["contacts"] > 0 and got["ga4_rows"] > 0
        hs = hubspot.Client.create(access_token=env["HUBSPOT_ACCESS_TOKEN"], host=env["HUBSPOT_BASE_URL"])
        for object_type in ("contacts", "deals"):
            listed = len(hs.crm.objects.get_all(object_type=object_type))
            assert hs.crm.objects.search_api.do_search(object_type, {"limit": 1}).total == listed
        exports = sorted(Path(env["ADVOCACY_EXPORTS_DIR"]).glob("*.csv"))
        assert exports, "no advocacy exports written"
        # the (other) threshold the generator chose holds per date
        client = ga4_client(env)
        resp = client.run_report(RunReportRequest(
            property=f"properties/{env['GA4_PROPERTY_ID']}",
            dimensions=[Dimension(name="date"), Dimension(name="sessionSource"),
                        Dimension(name=env["GA4_VISITOR_DIMENSION"])],
            metrics=[Metric(name="sessions")], limit=250_000,
            date_ranges=[DateRange(start_date="2025-07-01", end_date="yesterday")]))
        per_date: dict[str, int] = {}
        for row in resp.rows:
            per_date[row.dimension_values[0].value] = per_date.get(row.dimension_values[0].value, 0) + 1
        from connectors.sandbox import store
        conn = store.connect(store_path, readonly=True)
        threshold = store.get_meta(conn, "ga4_other_row_threshold")
        clock_before = store.get_meta(conn, "clock")
        conn.close()
        assert threshold and max(per_date.values()) <= threshold
        assert resp.row_count == len(resp.rows)
        # advance: the fakes see the new clock at once
        sb.advance(2)
        conn = store.connect(store_path, readonly=True)
        assert store.get_meta(conn, "clock") > clock_before
        conn.close()
        later = client.run_report(RunReportRequest(
            property=f"properties/{env['GA4_PROPERTY_ID']}", dimensions=[Dimension(name="date")],
            metrics=[Metric(name="sessions")],
            date_ranges=[DateRange(start_date="yesterday", end_date="yesterday")]))
        assert later.rows[0].dimension_values[0].value > clock_before.replace("-", "")


@pytest.mark.slow
def test_serve_command_prints_ready(tmp_path):
    env_file = tmp_path / "sandbox.env"
    cmd = [sys.executable, "-m", "pipelines.cli.main", "sandbox", "serve", "--seed", "3",
           "--scale", "0.01", "--env-file", str(env_file), "--workdir", str(tmp_path / "work")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.strip() == "ready":
                break
        assert output and output[-1].strip() == "ready", "".join(output)
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines()
                   if line and not line.startswith("#"))
        assert set(env) == ENV_VARS
        got = exercise(env)
        assert got["contacts"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
    output.append(rest)
    text = "".join(output)
    assert proc.returncode == 0, text
    assert "requests: " in text and '"hubspot"' in text
    for name, secret in sandbox_credentials(3).items():
        if name != "salesforce_username" and name != "ga4_service_account_email":
            assert secret not in text, f"{name} leaked to the output"
