"""GA4 Data API connector: ``ga4.visitor_sessions``, ``ga4.traffic_daily``, ``ga4.report_days``.

Two reports, both **one date per request** (so memory stays flat whatever the property's size,
and GA's ``(other)`` row collapse happens per day, never across the whole range):

* ``visitor_sessions``: date x the visitor custom dimension (``GA4_VISITOR_DIMENSION``, default
  ``customEvent:ga_client_id``; always lands in column ``visitor_id``) x sessionSource x
  sessionMedium x sessionCampaignName x sessionManualAdContent x sessionManualTerm x
  landingPage; metrics sessions, engagedSessions, keyEvents. A row is a *touch*
  (docs/DEFINITIONS.md); ``row_key`` = md5 of ``YYYY-MM-DD|visitor_id|source|medium|campaign|
  content|term|landing_page`` (the date in ISO form, the other values exactly as GA serves them,
  e.g. ``(not set)``).
* ``traffic_daily``: the same without the visitor dimension, term and landing page (all
  sessions, including those whose events lacked the visitor id), plus totalUsers;
  ``row_key`` = md5 of ``YYYY-MM-DD|source|medium|campaign|content``.
* ``report_days``: per report and date, the rows GA returned (``rowCount``), whether GA
  collapsed rows into ``(other)`` (``metadata.dataLossFromOtherRow``) and the sessions in that
  ``(other)`` row: how much of the day the per-visitor grain lost.

Incremental. The property's clock decides, never the machine's: one cheap *probe* report
(dimension ``date``, metric ``sessions``) over ``[start, "yesterday"]`` (GA relative dates,
evaluated in the property's time zone) returns the dates that have data; its last date is the
end of the run. A full sync starts at ``HISTORY_START_DATE`` (default ``730daysAgo``, again
relative to the property) but requests nothing before the first date with data. Later runs re-read
the last ``GA4_REREAD_DAYS`` (default 3) committed dates, the cursor's (the last committed date)
included, because GA keeps revising recent days (0: only dates after the cursor). Dates inside the range with no data are cleared without a request.

``HISTORY_START_DATE`` (``YYYY-MM-DD``, parsed by :meth:`connectors.source.Settings.history_start`;
a bad value raises :class:`connectors.source.InvalidSetting` before any request) bounds **every
date requested**: it is the first date of a full sync's probe and reports, and no later run's
re-read window starts before it (dates before 2015-08-14, the Data API's first, are clamped).

Backfill. :meth:`GA4Source.sync_dates` replaces exactly a range of dates (the Dagster GA4
assets' daily partitions), clamped to ``HISTORY_START_DATE`` and the property's yesterday, and
leaves the cursors alone, so re-reading an old month never moves the nightly re-read window.

Dates are written in groups (``GROUP_ROWS``/``GROUP_DAYS``), each group in one DuckDB
transaction, a very large day on its own: the old rows deleted, the new pages upserted
as they arrive (``GA4_PAGE_SIZE`` rows per request, default 100,000, max 250,000, offset
paging by ``rowCount``), its ``report_days`` row and the cursor, so a revised day never keeps
stale rows and a crash loses or duplicates nothing.

Errors. 429 ``RESOURCE_EXHAUSTED`` for concurrent requests, 500/502/503/504 and dropped
connections are retried with backoff (``Retry-After`` honoured). Exhausted hourly or daily
token quotas stop the source (:class:`SourceStopped`): committed dates stay, the next run
resumes from the cursor. The remaining property tokens are reported in each object's note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from connectors import schema as raw
from connectors.retry import RetryPolicy, Verdict, call_with_retries, parse_retry_after
from connectors.source import (
    Finding,
    ObjectResult,
    Progress,
    Settings,
    Source,
    SourceStopped,
    SyncResult,
)
from connectors.warehouse import Warehouse

log = logging.getLogger(__name__)
T = TypeVar("T")

SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]
DEFAULT_VISITOR_DIMENSION = "customEvent:ga_client_id"
DEFAULT_PAGE_SIZE = 100_000
MAX_PAGE_SIZE = 250_000
DEFAULT_REREAD_DAYS = 3
DEFAULT_HISTORY = "730daysAgo"       # two years back, in the property's own calendar
GA4_EARLIEST = dt.date(2015, 8, 14)  # the Data API refuses earlier dates
OTHER = "(other)"
REQUEST_TIMEOUT = 120.0

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
    utm = (("sessionSource", "session_source"), ("sessionMedium", "session_medium"),
           ("sessionCampaignName", "session_campaign_name"),
           ("sessionManualAdContent", "session_manual_ad_content"))
    base_metrics = (("sessions", "sessions"), ("engagedSessions", "engaged_sessions"),
                    ("keyEvents", "key_events"))
    return {
        "visitor_sessions": Report(
            "visitor_sessions", T_VISITOR,
            (("date", "date"), (visitor_dimension, "visitor_id"), *utm,
             ("sessionManualTerm", "session_manual_term"), ("landingPage", "landing_page")),
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


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)


# -- errors -----------------------------------------------------------------------------------
class QuotaExhausted(Exception):
    """A GA4 token quota that will not refill within this run."""


_STOP_MESSAGES = ("per day", "per hour", "thresholded requests", "server errors quota")


def classify(exc: BaseException) -> Verdict:
    """Retry transient failures; give up at once on everything else."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.TooManyRequests):
        message = str(getattr(exc, "message", exc))
        if any(m in message for m in _STOP_MESSAGES):
            return Verdict(False, reason="quota exhausted")
        return Verdict(True, _retry_after(exc), "429 " + message[:80])
    if isinstance(exc, (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.BadGateway,
                        gexc.GatewayTimeout, gexc.DeadlineExceeded)):
        return Verdict(True, _retry_after(exc), f"HTTP {getattr(exc, 'code', '?')}")
    if _is_connection_error(exc):
        return Verdict(True, None, f"connection: {type(exc).__name__}")
    return Verdict(False)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        return parse_retry_after(headers.get("Retry-After"))
    except Exception:  # noqa: BLE001 - a strange header is just no hint
        return None


def _is_connection_error(exc: BaseException) -> bool:
    import http.client

    import google.auth.exceptions
    import requests
    import urllib3.exceptions

    return isinstance(exc, (requests.exceptions.ConnectionError,
                            requests.exceptions.ChunkedEncodingError,
                            requests.exceptions.Timeout,
                            urllib3.exceptions.HTTPError, http.client.HTTPException,
                            ConnectionError, google.auth.exceptions.TransportError))


def describe_error(exc: BaseException) -> str:
    """A one-line message without request bodies or headers."""
    message = getattr(exc, "message", None) or str(exc)
    code = getattr(exc, "code", None)
    text = f"{type(exc).__name__}" + (f" ({code})" if isinstance(code, int) else "")
    return f"{text}: {str(message).splitlines()[0][:300]}"


# -- the source -------------------------------------------------------------------------------
# Days written per transaction: bounded by rows (memory) and by days (how much a crash
# makes the next run read again).
GROUP_ROWS = 50_000
GROUP_DAYS = 31


class _DayGroup:
    """Consecutive dates read but not yet written."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.days: list[dict[str, Any]] = []
        self.batches: list[pa.Table] = []
        self.rows = 0
        self.pages = 0

    def add(self, day: dt.date, batch: pa.Table | None, *, pages: int, row_count: int,
            loss: bool, other: int) -> None:
        self.days.append({"date": day, "row_count": row_count,
                          "data_loss_from_other_row": loss, "other_row_sessions": other})
        if batch is not None and batch.num_rows:
            self.batches.append(batch)
            self.rows += batch.num_rows
        self.pages += pages


class GA4Source(Source):
    name = "ga4"
    schema = "ga4"

    def __init__(self, settings: Settings, warehouse: Warehouse, progress: Progress | None = None,
                 *, retry_policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(settings, warehouse, progress)
        self.retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._client: Any = None
        self.requests = 0
        self.quota: dict[str, int] = {}
        self.time_zone: str | None = None
        self._move_cursor = True   # False while backfilling a date range (sync_dates)

    # -- configuration ------------------------------------------------------------------------
    @property
    def property_id(self) -> str:
        return str(self.settings.get("GA4_PROPERTY_ID", "")).strip().removeprefix("properties/")

    @property
    def property_name(self) -> str:
        return f"properties/{self.property_id}"

    @property
    def visitor_dimension(self) -> str:
        return self.settings.get("GA4_VISITOR_DIMENSION") or DEFAULT_VISITOR_DIMENSION

    @property
    def page_size(self) -> int:
        value = int(self.settings.get("GA4_PAGE_SIZE") or DEFAULT_PAGE_SIZE)
        return max(1, min(MAX_PAGE_SIZE, value))

    @property
    def reread_days(self) -> int:
        return max(0, int(self.settings.get("GA4_REREAD_DAYS") or DEFAULT_REREAD_DAYS))

    def history_start(self) -> tuple[str, dt.date | None]:
        """(GA date expression, the literal date when one is configured). Unset:
        ``730daysAgo`` in the property's calendar; a bad value raises
        :class:`connectors.source.InvalidSetting` (the shared parser)."""
        day = self.settings.history_start(default_days=None)
        if day is None:
            return DEFAULT_HISTORY, None
        day = max(GA4_EARLIEST, day)
        return day.isoformat(), day

    def client(self) -> Any:
        if self._client is None:
            self.settings.require(self.name, "GA4_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS")
            from google.analytics.data_v1beta import BetaAnalyticsDataClient
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_file(
                self.settings.get("GOOGLE_APPLICATION_CREDENTIALS"), scopes=SCOPES)
            endpoint = self.settings.get("GA4_API_ENDPOINT")
            # An http:// endpoint keeps its scheme (the REST transport only adds https:// when
            # no scheme is given), which is how the local sandbox is reached.
            options = {"api_endpoint": endpoint.rstrip("/")} if endpoint else None
            self._client = BetaAnalyticsDataClient(credentials=credentials, transport="rest",
                                                   client_options=options)
        return self._client

    # -- requests -----------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], result: ObjectResult | None = None) -> T:
        def once() -> T:
            self.requests += 1
            if result is not None:
                result.requests += 1
            return fn()

        try:
            return call_with_retries(once, classify, policy=self.retry_policy, what=f"ga4 {what}",
                                     sleep=self._sleep)
        except Exception as exc:
            from google.api_core import exceptions as gexc

            if isinstance(exc, gexc.TooManyRequests):
                raise SourceStopped(
                    f"ga4 stopped: GA4 quota exhausted ({describe_error(exc)}). Committed dates "
                    "are kept; the next run resumes from the cursor (daily quotas reset at "
                    "midnight Pacific time, hourly ones within the hour)."
                ) from exc
            if isinstance(exc, gexc.BadRequest) and self.visitor_dimension in str(exc):
                raise RuntimeError(
                    f"GA4 rejected the visitor dimension {self.visitor_dimension!r} "
                    f"({describe_error(exc)}); run `advocacy check` for how to register it"
                ) from exc
            raise

    def run_report(self, what: str, body: dict[str, Any], result: ObjectResult | None = None) -> Any:
        """runReport; returns the raw protobuf message (fast field access)."""
        from google.analytics.data_v1beta.types import RunReportRequest, RunReportResponse

        request = RunReportRequest({"property": self.property_name, "return_property_quota": True,
                                    **body})
        client = self.client()
        response = self._call(what, lambda: client.run_report(request=request,
                                                              timeout=REQUEST_TIMEOUT), result)
        pb = RunReportResponse.pb(response)
        self._note_quota(pb)
        if pb.metadata.time_zone:
            self.time_zone = pb.metadata.time_zone
        return pb

    def _note_quota(self, pb: Any) -> None:
        if not pb.HasField("property_quota"):
            return
        q = pb.property_quota
        for name in ("tokens_per_day", "tokens_per_hour", "tokens_per_project_per_hour"):
            if q.HasField(name):
                self.quota[name] = int(getattr(q, name).remaining)

    def _quota_note(self) -> str:
        parts = []
        if "tokens_per_day" in self.quota:
            parts.append(f"{self.quota['tokens_per_day']} tokens left today")
        if "tokens_per_project_per_hour" in self.quota:
            parts.append(f"{self.quota['tokens_per_project_per_hour']} this hour")
        return "quota: " + ", ".join(parts) if parts else ""

    # -- sync ---------------------------------------------------------------------------------
    def sync(self, *, full_refresh: bool = False, objects: list[str] | None = None) -> SyncResult:
        self.settings.require(self.name, "GA4_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS")
        history_expr, history_day = self.history_start()   # InvalidSetting before any request
        specs = reports(self.visitor_dimension)
        names = [n for n in specs if objects is None or n in objects]
        wh = self.warehouse
        for t in (T_VISITOR, T_TRAFFIC, T_DAYS):
            wh.ensure_table(t)
        result = SyncResult(self.name)
        if not names:
            return result

        # Where each report starts: its cursor minus the re-read window, or the history start.
        starts: dict[str, dt.date | None] = {}
        for name in names:
            cursor = None if full_refresh else wh.get_cursor(self.schema, name)
            last = (cursor or {}).get("last_date")
            if last:
                start = dt.date.fromisoformat(last) - dt.timedelta(days=max(0, self.reread_days - 1))
                if self.reread_days == 0:
                    start = dt.date.fromisoformat(last) + dt.timedelta(days=1)
                starts[name] = max(start, history_day) if history_day else start
            else:
                starts[name] = None   # full: from the history start
        probe_from = (history_expr if any(s is None for s in starts.values())
                      else min(s for s in starts.values() if s is not None).isoformat())

        probe_result = ObjectResult("visitor_sessions")  # the probe is billed to the first object
        try:
            data_days = self.probe(probe_from, probe_result)
        except SourceStopped as exc:
            exc.result = result  # type: ignore[attr-defined]
            raise
        if not data_days:
            for name in names:
                result.objects.append(ObjectResult(name, requests=probe_result.requests,
                                                   note=f"no GA4 data from {probe_from} to yesterday"))
                probe_result.requests = 0
            return result
        first, end = min(data_days), max(data_days)

        for name in names:
            spec = specs[name]
            start = starts[name] or first
            res = ObjectResult(name, requests=probe_result.requests)
            probe_result.requests = 0
            result.objects.append(res)
            try:
                self._sync_report(spec, start, end, data_days, res)
            except SourceStopped as exc:
                res.note = "; ".join(p for p in (res.note, self._quota_note()) if p)
                result.stopped = str(exc)
                exc.result = result  # type: ignore[attr-defined]
                raise
        return result

    def sync_dates(self, first: dt.date, last: dt.date, *,
                   objects: list[str] | None = None) -> SyncResult:
        """Backfill: replace exactly the dates ``first``..``last`` (the property's calendar),
        clamped to ``HISTORY_START_DATE`` and to the property's yesterday. The cursors are
        left alone: re-reading an old range must not move the nightly run's re-read window."""
        self.settings.require(self.name, "GA4_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS")
        _, history_day = self.history_start()
        first = max(first, history_day or GA4_EARLIEST)
        specs = reports(self.visitor_dimension)
        names = [n for n in specs if objects is None or n in objects]
        for t in (T_VISITOR, T_TRAFFIC, T_DAYS):
            self.warehouse.ensure_table(t)
        result = SyncResult(self.name)
        if not names or first > last:
            return result
        probe_result = ObjectResult(names[0])
        data_days = {d: n for d, n in self.probe(first.isoformat(), probe_result).items()
                     if d <= last}
        if not data_days:
            result.objects = [ObjectResult(n, requests=probe_result.requests if i == 0 else 0,
                                           note=f"no GA4 data from {first} to {last}")
                              for i, n in enumerate(names)]
            return result
        end = max(data_days)
        self._move_cursor = False
        try:
            for i, name in enumerate(names):
                res = ObjectResult(name, requests=probe_result.requests if i == 0 else 0)
                result.objects.append(res)
                self._sync_report(specs[name], first, end, data_days, res)
        finally:
            self._move_cursor = True
        return result

    def probe(self, start: str, result: ObjectResult | None = None) -> dict[dt.date, int]:
        """Sessions per date from ``start`` to the property's yesterday: which dates have data
        and where the run ends, decided by GA's own calendar."""
        days: dict[dt.date, int] = {}
        offset = 0
        while True:
            body = {"dimensions": [{"name": "date"}], "metrics": [{"name": "sessions"}],
                    "date_ranges": [{"start_date": start, "end_date": "yesterday"}],
                    "order_bys": [{"dimension": {"dimension_name": "date"}}],
                    "limit": MAX_PAGE_SIZE, "offset": offset}
            pb = self.run_report("probe dates", body, result)
            for row in pb.rows:
                sessions = _int(row.metric_values[0].value)
                if sessions > 0:
                    days[_ga_date(row.dimension_values[0].value)] = sessions
            offset += len(pb.rows)
            if not pb.rows or offset >= pb.row_count:
                return days

    def _sync_report(self, spec: Report, start: dt.date, end: dt.date,
                     data_days: dict[dt.date, int], res: ObjectResult) -> None:
        """Replace every date from ``start`` to ``end``. Small days are written in groups (one
        transaction, one insert per group: DuckDB's per-statement cost would otherwise
        dominate); a day bigger than a group streams page by page in its own transaction.
        Either way a date's rows, its ``report_days`` row and the cursor commit together."""
        started = time.monotonic()
        self.progress.start(self.name, spec.name)
        group = _DayGroup()
        lost_days = 0
        try:
            for day in _days(start, end):
                if day not in data_days:   # no sessions that day: clear what an earlier run stored
                    group.add(day, None, pages=0, row_count=0, loss=False, other=0)
                else:
                    first = self._fetch_page(spec, day, 0, res)
                    batch, other, row_count, loss = first
                    lost_days += bool(loss)
                    if row_count > len(batch) or row_count > GROUP_ROWS:
                        self._flush(spec, group, res, end)          # keep dates in order
                        self._stream_day(spec, day, first, res, end)
                        continue
                    group.add(day, batch, pages=1, row_count=row_count, loss=loss, other=other)
                if group.rows >= GROUP_ROWS or len(group.days) >= GROUP_DAYS:
                    self._flush(spec, group, res, end)
        except SourceStopped:
            self._flush(spec, group, res, end)   # keep every date read before the stop
            raise
        self._flush(spec, group, res, end)
        res.seconds = time.monotonic() - started
        notes = [f"{start.isoformat()}..{end.isoformat()}"]
        if self.time_zone:
            notes.append(f"property time zone {self.time_zone}")
        if lost_days:
            notes.append(f"{lost_days} day(s) with an (other) row")
        if self._quota_note():
            notes.append(self._quota_note())
        res.note = "; ".join(notes)
        self.progress.done(self.name, res)

    def _flush(self, spec: Report, group: _DayGroup, res: ObjectResult, end: dt.date) -> None:
        if not group.days:
            return
        wh = self.warehouse
        first, last = group.days[0]["date"], group.days[-1]["date"]
        with wh.transaction():
            wh.conn.execute(f"DELETE FROM {spec.table.schema}.{raw.quote(spec.table.name)} "
                            "WHERE date BETWEEN ? AND ?", [first, last])
            written = wh.upsert(spec.table, pa.concat_tables(group.batches)) if group.batches else 0
            wh.upsert(T_DAYS, [{"report": spec.name, **d} for d in group.days])
            if self._move_cursor:
                wh.set_cursor(self.schema, spec.name,
                              {"last_date": last.isoformat(), "end_date": end.isoformat()}, written)
        res.records += written
        res.pages += group.pages
        self.progress.page(self.name, spec.name, res.pages, res.records)
        group.clear()

    def _stream_day(self, spec: Report, day: dt.date, first: tuple[pa.Table, int, int, bool],
                    res: ObjectResult, end: dt.date) -> None:
        """A day too big for a group: its pages go in one by one, in one transaction."""
        wh = self.warehouse
        batch, other_sessions, row_count, loss = first
        with wh.transaction():
            wh.conn.execute(f"DELETE FROM {spec.table.schema}.{raw.quote(spec.table.name)} "
                            "WHERE date = ?", [day])
            written = wh.upsert(spec.table, batch) if batch.num_rows else 0
            offset, pages = batch.num_rows, 1
            while batch.num_rows and offset < row_count:
                batch, other, row_count, more_loss = self._fetch_page(spec, day, offset, res)
                pages += 1
                loss = loss or more_loss
                other_sessions += other
                written += wh.upsert(spec.table, batch) if batch.num_rows else 0
                offset += batch.num_rows
                self.progress.page(self.name, spec.name, res.pages + pages, res.records + written)
            wh.upsert(T_DAYS, [{"report": spec.name, "date": day, "row_count": row_count,
                                "data_loss_from_other_row": loss,
                                "other_row_sessions": other_sessions}])
            if self._move_cursor:
                wh.set_cursor(self.schema, spec.name,
                              {"last_date": day.isoformat(), "end_date": end.isoformat()}, written)
        res.records += written
        res.pages += pages

    def _fetch_page(self, spec: Report, day: dt.date, offset: int, res: ObjectResult
                    ) -> tuple[pa.Table, int, int, bool]:
        """One page of one date: (rows, sessions in the (other) row, GA rowCount, data loss)."""
        iso = day.isoformat()
        dims = spec.dimension_names
        body = {
            "dimensions": [{"name": d} for d in dims],
            "metrics": [{"name": m} for m, _ in spec.metrics],
            "date_ranges": [{"start_date": iso, "end_date": iso}],
            # a total order, so offset paging is stable
            "order_bys": [{"dimension": {"dimension_name": d}} for d in dims],
            "limit": self.page_size,
            "offset": offset,
        }
        pb = self.run_report(f"{spec.name} {iso}", body, res)
        batch, other = self._to_arrow(spec, iso, day, pb.rows, len(dims))
        return batch, other, int(pb.row_count), bool(pb.metadata.data_loss_from_other_row)

    @staticmethod
    def _to_arrow(spec: Report, iso: str, day: dt.date, rows: Any, n_dims: int
                  ) -> tuple[pa.Table, int]:
        dim_cols: list[list[str]] = [[] for _ in range(n_dims - 1)]
        met_cols: list[list[int]] = [[] for _ in spec.metrics]
        keys: list[str] = []
        other_sessions = 0
        for row in rows:
            values = [v.value for v in row.dimension_values]
            rest = values[1:]
            metrics = [_int(v.value) for v in row.metric_values]
            if rest and all(v == OTHER for v in rest):
                other_sessions += metrics[0]
            keys.append(row_key(iso, rest))
            for i, v in enumerate(rest):
                dim_cols[i].append(v)
            for i, v in enumerate(metrics):
                met_cols[i].append(v)
        n = len(keys)
        arrays: dict[str, pa.Array] = {
            "row_key": pa.array(keys, pa.string()),
            "date": pa.array([day] * n, pa.date32()),
        }
        for (_, column), values in zip(spec.dimensions[1:], dim_cols, strict=True):
            arrays[column] = pa.array(values, pa.string())
        for (_, column), values in zip(spec.metrics, met_cols, strict=True):
            arrays[column] = pa.array(values, pa.int64())
        return pa.table(arrays), other_sessions

    # -- check --------------------------------------------------------------------------------
    def check(self) -> list[Finding]:
        self.settings.require(self.name, "GA4_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS")
        findings: list[Finding] = []
        path = Path(str(self.settings.get("GOOGLE_APPLICATION_CREDENTIALS"))).expanduser()
        key_fix = ("create a key for a service account (Google Cloud console -> IAM -> Service "
                   "accounts -> Keys -> Add key -> JSON) and set GOOGLE_APPLICATION_CREDENTIALS "
                   "to the file's path")
        if not path.is_file():
            return [Finding(self.name, False, f"credentials file {path} not found", key_fix)]
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return [Finding(self.name, False,
                            f"credentials file {path} not readable as JSON ({type(exc).__name__})",
                            key_fix)]
        if not isinstance(info, dict) or info.get("type") != "service_account":
            return [Finding(self.name, False, f"{path} is not a service-account key file",
                            key_fix)]
        email = str(info.get("client_email") or "the service account")
        try:
            self.client()
        except Exception as exc:  # noqa: BLE001 - a broken key must be a finding, not a crash
            return [Finding(self.name, False, f"service-account key in {path} unusable "
                            f"({type(exc).__name__})", key_fix)]
        findings.append(Finding(self.name, True, f"credentials file readable ({email})"))

        from google.api_core import exceptions as gexc

        saved, self.retry_policy = self.retry_policy, RetryPolicy(attempts=2, base_delay=0.2,
                                                                  max_delay=2)
        try:
            try:
                metadata = self._call("metadata", lambda: self.client().get_metadata(
                    name=f"{self.property_name}/metadata", timeout=30))
            except (gexc.Forbidden, gexc.NotFound, gexc.PermissionDenied) as exc:
                findings.append(Finding(
                    self.name, False, f"property {self.property_id} not accessible "
                    f"({describe_error(exc)})",
                    f"check GA4_PROPERTY_ID (GA4 Admin -> Property settings -> Property ID) and "
                    f"give {email} the Viewer role (GA4 Admin -> Property access management)"))
                return findings
            except (gexc.Unauthorized, gexc.Unauthenticated) as exc:
                findings.append(Finding(
                    self.name, False, f"credentials rejected ({describe_error(exc)})",
                    "the key may be deleted or disabled: " + key_fix))
                return findings
            except Exception as exc:  # noqa: BLE001 - unreachable endpoint, quota, ...
                findings.append(Finding(
                    self.name, False, f"GA4 Data API not reachable ({describe_error(exc)})",
                    "check the network and GA4_API_ENDPOINT (leave it empty for Google's API); "
                    "enable the Google Analytics Data API in the service account's project"))
                return findings
            findings.append(Finding(self.name, True, f"property {self.property_id} reachable"))

            names = {d.api_name for d in metadata.dimensions}
            wanted = self.visitor_dimension
            if wanted not in names:
                custom = sorted(n for n in names if n.startswith(("customEvent:", "customUser:")))
                param = wanted.split(":", 1)[-1]
                findings.append(Finding(
                    self.name, False,
                    f"visitor dimension {wanted} not found on the property"
                    + (f" (custom dimensions there: {', '.join(custom)})" if custom
                       else " (it has no custom dimensions)"),
                    f"register it in GA4 Admin -> Data display -> Custom definitions -> Create "
                    f"custom dimension (scope Event, event parameter '{param}'), and make the "
                    f"site send that parameter with every event (gtag config/GTM) carrying the "
                    f"same visitor id the CRM forms capture; or set GA4_VISITOR_DIMENSION to the "
                    f"right API name. GA only has it from the day it is registered"))
                return findings
            findings.append(Finding(self.name, True, f"visitor dimension {wanted} exists"))

            try:
                pb = self.run_report("check report", {
                    "dimensions": [{"name": "date"}, {"name": wanted}],
                    "metrics": [{"name": "sessions"}],
                    "date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}],
                    "limit": 1,
                })
            except Exception as exc:  # noqa: BLE001
                findings.append(Finding(
                    self.name, False, f"report with {wanted} fails ({describe_error(exc)})",
                    "check the property's permissions and that the dimension is event-scoped"))
                return findings
            findings.append(Finding(
                self.name, True, f"report with the visitor dimension runs "
                f"({int(pb.row_count)} rows in the last 7 days; {self._quota_note() or 'no quota info'})"))
        finally:
            self.retry_policy = saved
        return findings
