"""Alerts reach a Slack-compatible webhook for a failed run and for failed asset checks, with
secrets redacted, retries on 5xx, and never a failure of their own."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import pytest

from connectors.retry import RetryPolicy
from connectors.source import Settings
from pipelines import alerts

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
SECRET = "pat-na1-very-secret-token"


class Receiver:
    """A local webhook: records each JSON body; answers the queued statuses first, then 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", r.url)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", SECRET)
    yield r
    r.close()


def test_no_webhook_configured_means_no_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    assert alerts.post_alert("anything", settings=Settings({})) is False


def test_alert_text_is_redacted_and_5xx_is_retried(receiver: Receiver) -> None:
    receiver.statuses = [503]
    settings = Settings.from_environment(None)
    assert alerts.post_alert(f"hubspot failed: token {SECRET} rejected", settings=settings, policy=FAST)
    assert len(receiver.bodies) == 2                      # the 503, then the delivery
    text = receiver.bodies[-1]["text"]
    assert SECRET not in text and "token *** rejected" in text


def test_a_webhook_that_refuses_is_logged_without_its_url(receiver: Receiver,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    receiver.statuses = [404]
    with caplog.at_level(logging.DEBUG):
        assert alerts.post_alert("x", settings=Settings.from_environment(None), policy=FAST) is False
    assert len(receiver.bodies) == 1                      # a 404 is not retried
    assert "not delivered" in caplog.text and receiver.url not in caplog.text
    assert "XXXX" not in caplog.text


def _run(job: dg.JobDefinition, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return job.execute_in_process(instance=instance, raise_on_error=False)


def test_a_failed_run_posts_one_message(receiver: Receiver) -> None:
    @dg.op
    def sync_hubspot() -> None:
        raise dg.Failure(description=f"hubspot stopped: 401 for token {SECRET}")

    @dg.job(name="nightly")
    def nightly() -> None:
        sync_hubspot()

    instance = dg.DagsterInstance.ephemeral()
    result = _run(nightly, instance)
    assert not result.success
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=event).for_run_failure()
    alerts.alert_on_run_failure(context)
    (body,) = receiver.bodies
    assert f"run {result.run_id[:8]} of job `nightly` failed" in body["text"]
    assert result.run_id in body["text"]
    assert "- sync_hubspot: hubspot stopped: 401 for token ***" in body["text"]   # why, redacted
    assert SECRET not in body["text"]


def test_a_run_with_failed_warning_checks_lists_them(receiver: Receiver) -> None:
    @dg.asset(check_specs=[dg.AssetCheckSpec("no_quarantined_rows", asset="contacts"),
                           dg.AssetCheckSpec("fresh", asset="contacts")])
    def contacts() -> dg.MaterializeResult:
        return dg.MaterializeResult(check_results=[
            dg.AssetCheckResult(check_name="no_quarantined_rows", passed=False,
                                severity=dg.AssetCheckSeverity.WARN, metadata={"quarantined": 3}),
            dg.AssetCheckResult(check_name="fresh", passed=True),
        ])

    job = dg.Definitions(assets=[contacts], jobs=[dg.define_asset_job("nightly")]).resolve_job_def("nightly")
    instance = dg.DagsterInstance.ephemeral()
    result = _run(job, instance)
    assert result.success
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_failed_checks", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=event)
    assert alerts.failed_checks(instance, result.run_id) == [("contacts", "no_quarantined_rows", "WARN")]
    alerts.alert_on_failed_checks(context)
    (body,) = receiver.bodies
    assert "1 failed asset check" in body["text"] and "contacts `no_quarantined_rows` (warn)" in body["text"]

    # a run whose checks all pass says nothing
    receiver.bodies.clear()

    @dg.asset(name="contacts", check_specs=[dg.AssetCheckSpec("fresh", asset="contacts")])
    def clean() -> dg.MaterializeResult:
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="fresh", passed=True)])

    job = dg.Definitions(assets=[clean], jobs=[dg.define_asset_job("nightly")]).resolve_job_def("nightly")
    result = _run(job, instance)
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    alerts.alert_on_failed_checks(dg.build_run_status_sensor_context(
        sensor_name="alert_on_failed_checks", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=event))
    assert receiver.bodies == []


def test_the_definitions_carry_the_sensors_and_quarantine_checks() -> None:
    from connectors import schema as raw
    from pipelines.definitions import defs

    names = {s.name for s in defs.sensors or []}
    assert {"alert_on_run_failure", "alert_on_failed_checks"} <= names
    check_keys = defs.resolve_asset_graph().asset_check_keys
    for table in raw.TABLES.values():
        assert dg.AssetCheckKey(dg.AssetKey(table.asset_key), "no_quarantined_rows") in check_keys, table.qualified


def test_a_failed_run_lists_its_failed_checks_too(receiver: Receiver) -> None:
    @dg.asset(check_specs=[dg.AssetCheckSpec("no_quarantined_rows", asset="contacts")])
    def contacts() -> dg.MaterializeResult:
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
            check_name="no_quarantined_rows", passed=False, severity=dg.AssetCheckSeverity.WARN)])

    @dg.asset(deps=[contacts])
    def marts() -> None:
        raise dg.Failure(description="dbt build failed")

    job = dg.Definitions(assets=[contacts, marts], jobs=[dg.define_asset_job("nightly")]).resolve_job_def("nightly")
    instance = dg.DagsterInstance.ephemeral()
    result = _run(job, instance)
    assert not result.success
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    alerts.alert_on_run_failure(dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=event).for_run_failure())
    (body,) = receiver.bodies
    assert "failed." in body["text"] and "contacts `no_quarantined_rows` (warn)" in body["text"]
