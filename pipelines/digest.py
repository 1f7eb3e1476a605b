"""Weekly digest: a short Slack-compatible summary of the last week (headline figures, the
change on the week before, the report's path), posted by the ``weekly_digest`` schedule to
``DIGEST_WEBHOOK_URL``, else ``ALERT_WEBHOOK_URL``. Neither set: the schedule skips.

It reads the published marts (:mod:`pipelines.publish`), never the live warehouse, so it can
run while the nightly job writes. The week is the seven days ending at the last build's
``as_of``; the message goes through the same redaction and retries as every alert.
"""

# (no `from __future__ import annotations`: Dagster reads the context annotation at runtime)

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from connectors.source import Settings
from pipelines.alerts import post_alert
from pipelines.publish import PUBLISHED_DB, publish_dir

WEBHOOK_VARIABLES = ("DIGEST_WEBHOOK_URL", "ALERT_WEBHOOK_URL")
DIGEST_MODEL = "w_shaped"


@dataclass
class Week:
    start: dt.date
    end: dt.date                 # inclusive
    sessions: float = 0
    advocacy_sessions: float = 0
    leads: float = 0
    advocacy_leads: float = 0
    advocacy_pipeline: float = 0
    advocacy_won: float = 0


def _week(conn: duckdb.DuckDBPyConnection, end: dt.date) -> Week:
    start = end - dt.timedelta(days=6)
    week = Week(start, end)
    (week.sessions, week.advocacy_sessions, week.leads, week.advocacy_leads) = conn.execute("""
        select coalesce(sum(sessions), 0),
               coalesce(sum(case when segment = 'advocacy' then sessions end), 0),
               coalesce(sum(leads_created), 0),
               coalesce(sum(case when segment = 'advocacy' then leads_created end), 0)
        from marts.web_traffic_by_segment where date between ? and ?""", [start, end]).fetchone()
    week.advocacy_pipeline = conn.execute("""
        select coalesce(sum(credited_pipeline_amount), 0) from marts.attribution_credit
        where model = ? and segment = 'advocacy' and opportunity_created_date between ? and ?""",
        [DIGEST_MODEL, start, end]).fetchone()[0]
    week.advocacy_won = conn.execute("""
        select coalesce(sum(credited_won_amount), 0) from marts.attribution_credit
        where model = ? and segment = 'advocacy' and is_won and opportunity_close_date between ? and ?""",
        [DIGEST_MODEL, start, end]).fetchone()[0]
    return week


def weekly_figures(database: str | Path) -> tuple[Week, Week, str]:
    """(this week, the week before, reporting currency) from a marts database."""
    with duckdb.connect(str(database), read_only=True) as conn:
        row = conn.execute("select as_of, reporting_currency from marts.run_manifest "
                           "order by run_started_at desc limit 1").fetchone()
        if row is None:
            raise RuntimeError(f"{database}: no build recorded in marts.run_manifest")
        as_of, currency = row
        return _week(conn, as_of), _week(conn, as_of - dt.timedelta(days=7)), currency


def _change(now: float, before: float) -> str:
    if not before:
        return "no figure the week before"
    return f"{(now / before - 1) * 100:+.0f} % vs {before:,.0f}"


def digest_text(this: Week, last: Week, currency: str, report: str | Path | None) -> str:
    share = f", {this.advocacy_sessions / this.sessions * 100:.1f} % of all sessions" if this.sessions else ""
    lines = [
        f":bar_chart: *Advocacy attribution, week {this.start} to {this.end}* (vs the week before)",
        f"• Advocacy sessions: {this.advocacy_sessions:,.0f} ({_change(this.advocacy_sessions, last.advocacy_sessions)}){share}",
        f"• Advocacy-sourced leads: {this.advocacy_leads:,.0f} ({_change(this.advocacy_leads, last.advocacy_leads)}) "
        f"of {this.leads:,.0f} leads",
        f"• Pipeline credited to advocacy (W-shaped): {currency} {this.advocacy_pipeline:,.0f} "
        f"({_change(this.advocacy_pipeline, last.advocacy_pipeline)})",
        f"• Won revenue credited to advocacy (W-shaped): {currency} {this.advocacy_won:,.0f} "
        f"({_change(this.advocacy_won, last.advocacy_won)})",
    ]
    if report:
        lines.append(f"Full report: {report}")
    return "\n".join(lines)


def webhook_configured(settings: Settings) -> bool:
    return any(settings.get(n) for n in WEBHOOK_VARIABLES)


def post_digest(settings: Settings | None = None, database: str | Path | None = None,
                report: str | Path | None = None, **kwargs) -> bool:
    """Posts the digest of the published marts; False when no webhook is set or it failed."""
    settings = settings or Settings.from_environment()
    if not webhook_configured(settings):
        return False
    database = Path(database) if database else publish_dir() / PUBLISHED_DB
    this, last, currency = weekly_figures(database)
    if report is None:
        from pipelines.report import REPORT_NAME
        from pipelines.report_assets import report_dir

        candidate = report_dir() / REPORT_NAME
        report = candidate if candidate.exists() else None
    return post_alert(digest_text(this, last, currency, report), settings=settings,
                      url_variables=WEBHOOK_VARIABLES, **kwargs)


@dg.op
def post_weekly_digest(context: dg.OpExecutionContext) -> None:
    if post_digest():
        context.log.info("weekly digest posted")
    else:
        context.log.warning("weekly digest not delivered (no webhook set, or it refused)")


@dg.job(description="Post the weekly digest of the published marts to the digest webhook.")
def weekly_digest() -> None:
    post_weekly_digest()


@dg.schedule(job=weekly_digest, cron_schedule=os.environ.get("DIGEST_CRON", "0 8 * * 1"),
             execution_timezone=os.environ.get("NIGHTLY_TIMEZONE", "UTC"),
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_digest_schedule(context: dg.ScheduleEvaluationContext):
    if not webhook_configured(Settings.from_environment()):
        return dg.SkipReason("neither DIGEST_WEBHOOK_URL nor ALERT_WEBHOOK_URL is set")
    if not (publish_dir() / PUBLISHED_DB).exists():
        return dg.SkipReason("no published marts yet: the nightly job publishes them")
    return dg.RunRequest()
