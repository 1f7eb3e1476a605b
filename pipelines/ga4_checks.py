"""A Dagster asset check on the GA4 per-visitor report: it FAILS when GA withheld more than a
configured share of the sessions from it.

GA rolls the long tail of a high-cardinality report into an ``(other)`` row and withholds rows
with few users under its data thresholds; the per-visitor report (date x visitor id x UTMs) is
exactly such a report, and the visitors it loses are the ones the CRM join needs. The
connector records per date and report what GA served (``ga4.report_days``); the traffic report,
without the visitor dimension, counts every session. This check compares the two over the last
``GA4_LOSS_WINDOW_DAYS`` (default 30) dates read:

    loss = sum over dates of max(0, traffic sessions - per-visitor sessions outside (other))
           / traffic sessions

and fails (severity ERROR, non-blocking: the marts still build, and the alert sensor reports
the run's failed check) above ``GA4_MAX_LOSS_SHARE`` (default 0.05, the same default as the
dbt var ``ga4_max_loss_share`` behind ``marts.data_quality``). Sampled dates are counted in the
metadata. Nothing read yet (GA4 not configured): passes with nothing measured.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from connectors import schema as raw
from connectors.warehouse import Warehouse

CHECK_NAME = "ga4_visitor_report_loss"
DEFAULT_MAX_LOSS_SHARE = 0.05
DEFAULT_WINDOW_DAYS = 30
VISITOR_ASSET = dg.AssetKey(raw.table("ga4.visitor_sessions").asset_key)

_SQL = """
with days as (
    select report, date, coalesce(sessions, 0) as sessions,
           coalesce(other_row_sessions, 0) as other_row_sessions,
           coalesce(subject_to_thresholding, false) as thresholded,
           samples_read_count is not null as sampled
    from ga4.report_days
    where date > (select max(date) from ga4.report_days) - ?
)
select
    coalesce(sum(t.sessions), 0),
    coalesce(sum(greatest(t.sessions - (coalesce(v.sessions, 0) - coalesce(v.other_row_sessions, 0)), 0)), 0),
    coalesce(sum(coalesce(v.other_row_sessions, 0)), 0),
    count(*) filter (where v.thresholded),
    count(*) filter (where t.sampled or coalesce(v.sampled, false)),
    count(*)
from days as t
left join days as v on v.date = t.date and v.report = 'visitor_sessions'
where t.report = 'traffic_daily'
"""


def measure(conn: Any, window_days: int) -> dict[str, int]:
    """Sessions the per-visitor report lost against the traffic report, per the SQL above."""
    exists = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                          "'ga4' AND table_name = 'report_days' AND column_name = 'sessions'"
                          ).fetchone()[0]
    if not exists:
        return {"traffic_sessions": 0, "lost_sessions": 0, "other_row_sessions": 0,
                "thresholded_days": 0, "sampled_days": 0, "days": 0}
    row = conn.execute(_SQL, [window_days]).fetchone()
    keys = ("traffic_sessions", "lost_sessions", "other_row_sessions", "thresholded_days",
            "sampled_days", "days")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}


def evaluate(conn: Any, *, max_share: float, window_days: int) -> dg.AssetCheckResult:
    m = measure(conn, window_days)
    share = m["lost_sessions"] / m["traffic_sessions"] if m["traffic_sessions"] else 0.0
    passed = share <= max_share
    description = (
        f"{share:.1%} of the sessions of the last {m['days']} GA date(s) are missing from the "
        f"per-visitor report ({m['lost_sessions']} of {m['traffic_sessions']}; in (other) "
        f"rows: {m['other_row_sessions']}; dates subject to thresholding: "
        f"{m['thresholded_days']}; sampled: {m['sampled_days']}); allowed "
        f"{max_share:.1%} (GA4_MAX_LOSS_SHARE)")
    if not passed:
        description += (". Fewer dimensions or shorter ranges cannot recover it: GA withholds it "
                        "server-side. Turn off Google signals / use device-based reporting "
                        "identity against thresholds, or read the BigQuery export")
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.ERROR, description=description,
        metadata={"loss_share": float(share), "max_loss_share": float(max_share), **m})


@dg.asset_check(asset=VISITOR_ASSET, name=CHECK_NAME, blocking=False,
                description="GA withheld at most GA4_MAX_LOSS_SHARE of the sessions from the "
                            "per-visitor report ((other) rows, thresholds) over the last "
                            "GA4_LOSS_WINDOW_DAYS dates.")
def ga4_visitor_report_loss() -> dg.AssetCheckResult:
    max_share = float(os.environ.get("GA4_MAX_LOSS_SHARE") or DEFAULT_MAX_LOSS_SHARE)
    window = int(os.environ.get("GA4_LOSS_WINDOW_DAYS") or DEFAULT_WINDOW_DAYS)
    with Warehouse() as wh:
        wh.ensure_table(raw.table("ga4.report_days"))
        return evaluate(wh.conn, max_share=max_share, window_days=window)


ga4_checks = [ga4_visitor_report_loss]
