"""GA4's daily partitions: one partition per day of the property's calendar, from
``HISTORY_START_DATE`` (default: 730 days back) to the property's yesterday.

A partition key is a GA date (``YYYY-MM-DD``): the day in the property's time zone, which is
what GA4 reports by. ``GA4_PROPERTY_TIME_ZONE`` (an IANA name, default UTC; GA4 Admin ->
Property details) decides when a day is complete and its partition appears; a sync that finds
GA reporting another zone says so in the run's log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

import dagster as dg

from connectors.source import Settings

TIME_ZONE_VARIABLE = "GA4_PROPERTY_TIME_ZONE"
BACKFILL_TAG = "dagster/backfill"


def ga4_time_zone(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get(TIME_ZONE_VARIABLE) or "").strip() or "UTC"


@cache
def _partitions(start: str, time_zone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone=time_zone)


def ga4_partitions(env: Mapping[str, str] | None = None) -> dg.DailyPartitionsDefinition:
    """The daily partitions of the GA4 raw tables (one object per configuration, so every
    asset and job built from one environment shares it)."""
    env = os.environ if env is None else env
    start = Settings(dict(env)).history_start()
    assert start is not None   # with a default number of days it is always a date
    return _partitions(start.isoformat(), ga4_time_zone(env))


def is_backfill(context: dg.AssetExecutionContext) -> bool:
    """A run of a backfill, or of any partition range but the latest day: re-read exactly those
    dates. A run of the latest partition (the nightly schedule's) syncs incrementally instead,
    which also catches up any day a missed night left out."""
    if context.run.tags.get(BACKFILL_TAG):
        return True
    if not (context.has_partition_key or context.has_partition_key_range):
        return False
    latest = context.assets_def.partitions_def.get_last_partition_key()  # type: ignore[union-attr]
    key_range = context.partition_key_range
    return not (key_range.start == key_range.end == latest)
