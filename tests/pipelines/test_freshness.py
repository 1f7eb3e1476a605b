"""Freshness: a raw table or mart not updated within FRESHNESS_WINDOW_HOURS fails its check,
and the failed-checks sensor posts it."""

from __future__ import annotations

import time

import dagster as dg
import pytest
from test_alerts import Receiver, receiver  # noqa: F401 - the webhook fixture

from pipelines import alerts
from pipelines.checks import freshness_checks, freshness_window


def test_the_window_comes_from_the_environment_and_must_be_hours() -> None:
    assert freshness_window({}).total_seconds() == 26 * 3600
    assert freshness_window({"FRESHNESS_WINDOW_HOURS": "48"}).total_seconds() == 48 * 3600
    for bad in ("two days", "0", "-3"):
        with pytest.raises(ValueError, match="FRESHNESS_WINDOW_HOURS"):
            freshness_window({"FRESHNESS_WINDOW_HOURS": bad})


def test_a_stale_table_fails_its_freshness_check_and_alerts(receiver: Receiver) -> None:  # noqa: F811
    key = dg.AssetKey(["hubspot", "contacts"])

    @dg.asset(key=key)
    def contacts() -> None:
        return None

    # one second and a half: the sync below is fresh at first, stale after the sleep
    checks = freshness_checks([key], freshness_window({"FRESHNESS_WINDOW_HOURS": str(1.5 / 3600)}))
    defs = dg.Definitions(assets=[contacts], asset_checks=checks, jobs=[
        dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks))])
    job = defs.resolve_job_def("freshness")
    instance = dg.DagsterInstance.ephemeral()

    def evaluate() -> tuple[dg.ExecuteInProcessResult, bool]:
        result = job.execute_in_process(instance=instance)
        (evaluation,) = result.get_asset_check_evaluations()
        return result, evaluation.passed

    assert not evaluate()[1]                      # never synced
    dg.materialize([contacts], instance=instance)
    assert evaluate()[1]                          # just synced
    time.sleep(2)
    result, passed = evaluate()
    assert not passed and result.success          # a warning: the run itself succeeds
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    alerts.alert_on_failed_checks(dg.build_run_status_sensor_context(
        sensor_name="alert_on_failed_checks", dagster_instance=instance,
        dagster_run=result.dagster_run, dagster_event=event))
    (body,) = receiver.bodies
    assert "hubspot/contacts `freshness_check` (warn)" in body["text"]
