"""The GA4 reports the connector asks for and how an answer's rows become raw-layer rows
(see connectors/ga4.py for the sync around them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

import pyarrow as pa

from connectors import schema as raw

OTHER = "(other)"
T_VISITOR = raw.table("ga4.visitor_sessions")
T_TRAFFIC = raw.table("ga4.traffic_daily")
T_DAYS = raw.table("ga4.report_days")


@dataclasses.dataclass(frozen=True)
class Report:
    name: str                          # object name = table name
    table: raw.Table
    dimensions: tuple[tuple[str, str], ...]   # (GA4 name, column), ``date`` first
    metrics: tuple[tuple[str, str], ...]      # (GA4 name, column)

    @property
    def dimension_names(self) -> list[str]:
        return [d for d, _ in self.dimensions]


def reports(visitor_dimension: str) -> dict[str, Report]:
    """The per-visitor report has the fewest dimensions that classify a touch: the visitor id
    and the five session UTM fields (advocate and post ids come from utm_content/utm_term).
    No landing page: it classifies nothing, and each extra dimension multiplies the rows GA
    must keep under its row limit before it rolls the tail into ``(other)`` (docs/GA4.md)."""
    utm = (("sessionSource", "session_source"), ("sessionMedium", "session_medium"),
           ("sessionCampaignName", "session_campaign_name"),
           ("sessionManualAdContent", "session_manual_ad_content"))
    base_metrics = (("sessions", "sessions"), ("engagedSessions", "engaged_sessions"),
                    ("keyEvents", "key_events"))
    return {
        "visitor_sessions": Report(
            "visitor_sessions", T_VISITOR,
            (("date", "date"), (visitor_dimension, "visitor_id"), *utm,
             ("sessionManualTerm", "session_manual_term")),
            base_metrics),
        "traffic_daily": Report(
            "traffic_daily", T_TRAFFIC, (("date", "date"), *utm),
            (*base_metrics, ("totalUsers", "total_users"))),
    }


def row_key(date_iso: str, values: list[str] | tuple[str, ...]) -> str:
    """md5 of the ISO date and the other dimension values (as served) joined by ``|``, each
    value with ``\\`` and ``|`` escaped by a backslash: a campaign named ``q4|linkedin`` must
    not share a key (and overwrite the row) of another split of the same characters. Values
    without either character, nearly all, join as they are."""
    return hashlib.md5("|".join((date_iso, *map(_escape_key_part, values))).encode("utf-8")).hexdigest()


def _escape_key_part(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|")


def _int(value: str) -> int:
    """GA serves integers as strings, sometimes as ``"12.0"``."""
    try:
        return int(value)
    except ValueError:
        return int(round(float(value)))


def _ga_date(value: str) -> dt.date:
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))



@dataclasses.dataclass
class DayStats:
    """What one date of one report lost or was read from (a ``ga4.report_days`` row)."""
    row_count: int = 0
    sessions: int = 0
    other_row_sessions: int = 0
    data_loss_from_other_row: bool = False
    subject_to_thresholding: bool = False
    samples_read_count: int | None = None
    sampling_space_size: int | None = None
    tokens: int = 0
    time_zone: str | None = None

    def row(self, report: str, day: dt.date) -> dict[str, Any]:
        return {"report": report, "date": day, **dataclasses.asdict(self)}

    def merge_page(self, other: DayStats) -> None:
        """A later page of the same request: rows and sessions add up, flags stay."""
        self.sessions += other.sessions
        self.other_row_sessions += other.other_row_sessions
        self.data_loss_from_other_row |= other.data_loss_from_other_row
        self.tokens += other.tokens


@dataclasses.dataclass
class Page:
    """One answer: its rows (all dates) and, per date, what it says about them."""
    batch: pa.Table
    row_count: int                       # GA's rowCount of the whole request
    days: dict[dt.date, DayStats]


def to_page(spec: Report, answer: dict[str, Any], *, single_day: dt.date | None,
            tokens: int) -> Page:
    """An answer (the REST JSON) as raw-layer rows; ``date`` is each row's own first
    dimension. JSON leaves empty values out (``{}`` for an empty dimension value, no
    ``rowCount`` for zero): they read as empty strings and zeros."""
    n_dims = len(spec.dimensions)
    dim_cols: list[list[str]] = [[] for _ in range(n_dims - 1)]
    met_cols: list[list[int]] = [[] for _ in spec.metrics]
    keys: list[str] = []
    dates: list[dt.date] = []
    days: dict[dt.date, DayStats] = {}
    meta = answer.get("metadata") or {}
    sampling = meta.get("samplingMetadatas") or []
    template = DayStats(
        subject_to_thresholding=bool(meta.get("subjectToThresholding")),
        samples_read_count=int(sampling[0].get("samplesReadCount") or 0) if sampling else None,
        sampling_space_size=int(sampling[0].get("samplingSpaceSize") or 0) if sampling else None,
        time_zone=meta.get("timeZone") or None)
    parsed: dict[str, dt.date] = {}        # a page holds few distinct dates
    for row in answer.get("rows") or []:
        values = [v.get("value", "") for v in row["dimensionValues"]]
        raw_day = values[0]
        day = parsed.get(raw_day)
        if day is None:
            day = parsed[raw_day] = _ga_date(raw_day)
        rest = values[1:]
        metrics = [_int(v.get("value", "")) for v in row["metricValues"]]
        stats = days.get(day)
        if stats is None:
            stats = days[day] = dataclasses.replace(template)
        stats.row_count += 1
        stats.sessions += metrics[0]
        if rest and all(v == OTHER for v in rest):
            stats.other_row_sessions += metrics[0]
            stats.data_loss_from_other_row = True
        keys.append(row_key(day.isoformat(), rest))
        dates.append(day)
        for i, v in enumerate(rest):
            dim_cols[i].append(v)
        for i, v in enumerate(metrics):
            met_cols[i].append(v)
    if single_day is not None:
        # one date per request: GA's flag covers the date even when its (other) row is on
        # another page, or (Google: "regardless of filters and limits") not served at all
        stats = days.setdefault(single_day, dataclasses.replace(template))
        stats.data_loss_from_other_row |= bool(meta.get("dataLossFromOtherRow"))
    if days:
        next(iter(days.values())).tokens = tokens     # the request's cost, on its first date
    arrays: dict[str, pa.Array] = {
        "row_key": pa.array(keys, pa.string()),
        "date": pa.array(dates, pa.date32()),
    }
    for (_, column), values in zip(spec.dimensions[1:], dim_cols, strict=True):
        arrays[column] = pa.array(values, pa.string())
    for (_, column), values in zip(spec.metrics, met_cols, strict=True):
        arrays[column] = pa.array(values, pa.int64())
    return Page(pa.table(arrays), int(answer.get("rowCount") or 0), days)
