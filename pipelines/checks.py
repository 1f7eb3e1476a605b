"""Asset checks beyond dbt's tests: freshness of every raw table and mart, and the
``marts.data_quality`` thresholds.

Both are warnings: the run goes on, and ``alert_on_failed_checks`` (pipelines/alerts.py)
posts the failed ones. Freshness is evaluated after each materialization and, between runs,
by ``freshness_checks_sensor``, which runs the checks when an asset's window runs out: a
source that stopped syncing (a revoked token, a quota) alerts within
``FRESHNESS_WINDOW_HOURS`` (default 26: a nightly schedule plus two hours) of its last sync.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from pipelines.resources import WarehouseResource

FRESHNESS_VARIABLE = "FRESHNESS_WINDOW_HOURS"
DEFAULT_FRESHNESS_HOURS = 26.0
DATA_QUALITY = dg.AssetKey(["marts", "data_quality"])
# marts.data_quality's checks that compare a value with a threshold (status pass | warn, and
# fail for source_complete: a source missing from the night);
# the informational ones (people_by_segment_basis, deleted_records) are not checks.
DATA_QUALITY_CHECKS = (
    "identity_match_rate", "quarantined_rows", "unknown_currency_opportunities",
    "unknown_currency_quotas", "unclassified_utms", "ga4_other_row_loss",
    "ga4_sessions_without_visitor_id", "freshness_hours", "source_complete",
    # hostile inputs (docs/RELIABILITY.md): numbers a user would otherwise trust blindly
    "hidden_fields", "impossible_opportunity_dates", "unparsable_lifecycle_dates",
)


def freshness_window(env: Mapping[str, str] | None = None) -> dt.timedelta:
    env = os.environ if env is None else env
    value = (env.get(FRESHNESS_VARIABLE) or "").strip()
    try:
        hours = float(value) if value else DEFAULT_FRESHNESS_HOURS
    except ValueError:
        raise ValueError(f"{FRESHNESS_VARIABLE}={value!r} is not a number of hours") from None
    if hours <= 0:
        raise ValueError(f"{FRESHNESS_VARIABLE}={value!r} must be more than 0 hours")
    return dt.timedelta(hours=hours)


def freshness_checks(keys: Iterable[dg.AssetKey], window: dt.timedelta
                     ) -> Sequence[dg.AssetChecksDefinition]:
    """One ``freshness_check`` per asset: fails when its last materialization is older than
    ``window``.

    Dagster calls these checks superseded by ``FreshnessPolicy``; a policy, though, records a
    freshness *state*, not a check evaluation, so it would not reach the failed-checks alert
    (nor show beside the other checks). Hence the checks, with the notice silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_last_update_freshness_checks(assets=sorted(keys, key=lambda k: k.path),
                                                     lower_bound_delta=window)


def freshness_sensor(checks: Sequence[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks, name="freshness_checks_sensor",
            default_status=dg.DefaultSensorStatus.RUNNING)


def data_quality_results(rows: Iterable[tuple[str, str, float | None, float | None, str, str]]
                         ) -> list[dg.AssetCheckResult]:
    """One result per threshold check: failed when any of its rows (one per source) is
    ``warn``; the failing rows' source, value, threshold and detail in the metadata."""
    by_check: dict[str, list[tuple]] = {name: [] for name in DATA_QUALITY_CHECKS}
    for row in rows:
        if row[0] in by_check:
            by_check[row[0]].append(row)
    results = []
    for name, found in by_check.items():
        warned = [r for r in found if r[4] in ("warn", "fail")]
        results.append(dg.AssetCheckResult(
            check_name=name, asset_key=DATA_QUALITY, passed=not warned,
            severity=dg.AssetCheckSeverity.WARN,
            description=("; ".join(f"{r[1]}: {r[5]} (value {r[2]}, threshold {r[3]})"
                                   for r in warned[:10]) or None),
            metadata={"rows": len(found), "above_threshold": len(warned)}))
    return results


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=DATA_QUALITY,
                             description=f"marts.data_quality's {name} rows are within their "
                                         "thresholds (status pass)")
           for name in DATA_QUALITY_CHECKS],
    can_subset=False,
)
def data_quality_thresholds(warehouse: WarehouseResource) -> Iterable[dg.AssetCheckResult]:
    with warehouse.open(read_only=True) as wh:
        rows = wh.conn.execute(
            'select "check", source, value, threshold, status, detail from marts.data_quality'
        ).fetchall()
    yield from data_quality_results(rows)
