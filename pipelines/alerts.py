"""Alerts: a failed run, or a finished run with failed asset checks, posts one message to
``ALERT_WEBHOOK_URL`` (Slack-compatible incoming webhook: ``POST {"text": ...}``).

Without ``ALERT_WEBHOOK_URL`` the sensors do nothing (they still run, so setting the variable
and restarting Dagster is all it takes). The webhook URL is itself a secret (whoever holds it
can post to the channel): it is never logged; messages pass through the settings' redaction,
so no credential quoted by an error reaches the channel. A webhook that fails is retried
(429/5xx, ``Retry-After`` honoured) and then logged as failed: an alert never fails a run.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable

import dagster as dg

from connectors.retry import RetryPolicy, Verdict, call_with_retries, parse_retry_after
from connectors.source import Settings

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10.0
# A sensor tick must end well within Dagster's 60-second sensor timeout, or its cursor is
# dropped and the next tick posts the same alert again: two tries, Retry-After up to 5 s
SENSOR_POLICY = RetryPolicy(attempts=2, base_delay=1.0, max_delay=5.0, max_retry_after=5.0)
MAX_LINES = 20        # failed checks listed in one message; the rest are counted


class _WebhookError(Exception):
    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def _classify(exc: BaseException) -> Verdict:
    if isinstance(exc, _WebhookError):
        retryable = exc.status == 429 or exc.status >= 500
        return Verdict(retryable, parse_retry_after(exc.retry_after), str(exc))
    if isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError)):
        return Verdict(True, reason=type(exc).__name__)
    return Verdict(False, reason=type(exc).__name__)


def post_alert(text: str, *, settings: Settings | None = None,
               policy: RetryPolicy | None = None,
               url_variables: tuple[str, ...] = ("ALERT_WEBHOOK_URL",)) -> bool:
    """Posts ``text`` (redacted) to the first of ``url_variables`` that is set (default
    ``ALERT_WEBHOOK_URL``). True when the webhook accepted it; False when no webhook is
    configured or it kept failing (logged, never raised)."""
    settings = settings or Settings.from_environment()
    url = next((u.strip() for n in url_variables if (u := settings.get(n)) and u.strip()), "")
    if not url:
        return False
    body = json.dumps({"text": settings.redact(text)}).encode("utf-8")

    def once() -> None:
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise _WebhookError(exc.code, exc.headers.get("Retry-After") if exc.headers else None) from None

    try:
        call_with_retries(once, _classify, policy=policy or SENSOR_POLICY, what="alert webhook")
        return True
    except Exception as exc:  # noqa: BLE001 - an alert must never fail the run it reports
        # the exception text could carry the URL (urllib puts it in some messages): type only
        log.warning("alert webhook: not delivered (%s)", type(exc).__name__)
        return False


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """``step: why`` of every step that failed in the run: the ``Failure`` description (a
    source stopped, a night not published because a source is missing, since when) or the
    error's message."""
    out = []
    for record in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        data = event.step_failure_data if event else None
        if data is None:
            continue
        why = getattr(data.user_failure_data, "description", None) or \
            (data.error.message.strip() if data.error else "")
        out.append(f"{event.step_key}: {why.strip()[:600]}")
    return out


def failed_run_text(job_name: str, run_id: str, message: str,
                    failed: Iterable[tuple[str, str, str]] = (), steps: Iterable[str] = ()) -> str:
    """``failed``: the run's failed checks (warnings included: a failed run is not reported
    by the failed-checks sensor, so they are listed here); ``steps``: why each step failed."""
    steps = list(steps)
    if steps:
        message = message.strip() + "\n" + "\n".join(f"- {s}" for s in steps)
    text = (f":red_circle: advocacy attribution: run {run_id[:8]} of job `{job_name}` failed.\n"
            f"{message.strip()[:2500]}\n"
            f"Open the run in the Dagster UI (Runs, {run_id}) for the step that failed and its logs.")
    rows = sorted(failed)
    if rows:
        text += f"\nFailed asset checks ({len(rows)}):\n" + "\n".join(_check_lines(rows))
    return text


def _check_lines(rows: list[tuple[str, str, str]]) -> list[str]:
    lines = [f"- {asset} `{check}` ({severity.lower()})" for asset, check, severity in rows[:MAX_LINES]]
    if len(rows) > MAX_LINES:
        lines.append(f"- ... and {len(rows) - MAX_LINES} more")
    return lines


def failed_checks_text(job_name: str, run_id: str, failed: Iterable[tuple[str, str, str]]) -> str:
    """``failed``: (asset, check, severity) of each failed check."""
    rows = sorted(failed)
    return (f":warning: advocacy attribution: run {run_id[:8]} of job `{job_name}` finished "
            f"with {len(rows)} failed asset check(s):\n" + "\n".join(_check_lines(rows)))


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str, str]]:
    """(asset, check, severity) of every asset check that failed in the run."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    out = []
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event else None
        if data is None or getattr(data, "passed", True):
            continue
        severity = getattr(getattr(data, "severity", None), "value", "ERROR")
        out.append(("/".join(data.asset_key.path), data.check_name, str(severity)))
    return out


@dg.run_failure_sensor(name="alert_on_run_failure", default_status=dg.DefaultSensorStatus.RUNNING,
                       monitor_all_code_locations=False,
                       description="Posts one message to ALERT_WEBHOOK_URL (Slack-compatible) per "
                                   "failed run: a source stopped, dbt failed, or an error-severity "
                                   "check failed. Does nothing while ALERT_WEBHOOK_URL is unset.")
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    """A failed run (a source stopped, dbt failed, an error check failed) -> one message."""
    run = context.dagster_run
    message = context.failure_event.message or "the run failed"
    failed = failed_checks(context.instance, run.run_id)
    steps = failed_steps(context.instance, run.run_id)
    if post_alert(failed_run_text(run.job_name, run.run_id, message, failed, steps)):
        context.log.info("alert posted for failed run %s", run.run_id)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="alert_on_failed_checks",
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Posts one message to ALERT_WEBHOOK_URL per run that succeeded "
                                  "with failed warning-severity checks (quarantined rows, dbt "
                                  "tests set to warn), listing them. Does nothing while "
                                  "ALERT_WEBHOOK_URL is unset.")
def alert_on_failed_checks(context: dg.RunStatusSensorContext) -> None:
    """A run that succeeded but with failed (warning-severity) asset checks -> one message
    listing them. Error-severity failures fail the run and reach :func:`alert_on_run_failure`."""
    run = context.dagster_run
    failed = failed_checks(context.instance, run.run_id)
    if failed and post_alert(failed_checks_text(run.job_name, run.run_id, failed)):
        context.log.info("alert posted for %d failed checks in run %s", len(failed), run.run_id)


sensors = [alert_on_run_failure, alert_on_failed_checks]
