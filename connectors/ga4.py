"""GA4 Data API connector: ``ga4.visitor_sessions``, ``ga4.traffic_daily``, ``ga4.report_days``.

Two reports (``connectors/ga4_reports.py``; what GA withholds and charges: docs/GA4.md):

* ``visitor_sessions``, **one date per request** (GA's ``(other)`` rule and thresholds act per
  date; memory stays flat): date x the visitor custom dimension (``GA4_VISITOR_DIMENSION``,
  default ``customEvent:ga_client_id``; always lands in column ``visitor_id``) x sessionSource
  x sessionMedium x sessionCampaignName x sessionManualAdContent x sessionManualTerm — the
  fewest dimensions that classify a touch; metrics sessions, engagedSessions, keyEvents. A row
  is a *touch* (docs/DEFINITIONS.md); ``row_key`` = md5 of ``YYYY-MM-DD|visitor_id|source|
  medium|campaign|content|term`` (the date in ISO form, the other values exactly as GA serves
  them, e.g. ``(not set)``).
* ``traffic_daily``, **one calendar month per request** (``date`` is a dimension: ~24 requests
  for two years), a month GA answers from a sample read again day by day: the same without the
  visitor dimension and term (all sessions, including those whose events lacked the visitor
  id), plus totalUsers; ``row_key`` = md5 of ``YYYY-MM-DD|source|medium|campaign|content``.
* ``report_days``: per report and date, what GA served and withheld: rows, sessions, the
  ``(other)`` row (``metadata.dataLossFromOtherRow`` and its sessions), thresholding
  (``metadata.subjectToThresholding``), sampling (``samplingMetadatas``), the tokens spent and
  the property's time zone (GA dates are its days; dbt turns them into the reporting zone's).

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
connections are retried with backoff (``Retry-After`` honoured). Token quotas are paced
(``connectors/ga4_quota.py``): exhausted hourly quotas are waited out, bounded and reported;
past the bound, or with the day's tokens spent, the source stops (:class:`SourceStopped`):
committed dates stay, the next run resumes from the cursor. Credentials: a key file or
Application Default Credentials (``connectors/ga4_auth.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from connectors import ga4_auth
from connectors import schema as raw
from connectors.ahead import Ahead
from connectors.ga4_bigquery import BIGQUERY_EXPORT, DATA_API, SOURCE_VARIABLE, ExportReader
from connectors.ga4_quota import QuotaPacer, QuotaWaitExceeded, exhausted_quota
from connectors.ga4_reports import (
    T_DAYS,
    T_TRAFFIC,
    T_VISITOR,
    DayStats,
    Page,
    Report,
    _ga_date,
    _int,
    reports,
    row_key,  # noqa: F401 - re-exported (tests, callers)
    to_page,
)
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

DEFAULT_VISITOR_DIMENSION = "customEvent:ga_client_id"
DEFAULT_PAGE_SIZE = 100_000
MAX_PAGE_SIZE = 250_000
DEFAULT_REREAD_DAYS = 3
DEFAULT_HISTORY = "730daysAgo"       # two years back, in the property's own calendar
GA4_EARLIEST = dt.date(2015, 8, 14)  # the Data API refuses earlier dates
REQUEST_TIMEOUT = 120.0


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)


def _months(start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """``start..end`` cut at calendar month ends."""
    d = start
    while d <= end:
        month_end = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        yield d, min(month_end, end)
        d = month_end + dt.timedelta(days=1)


# -- errors -----------------------------------------------------------------------------------
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
# DuckDB's memory while a report is written: its rows go to tables without an index
# (Table.partition), which need memory only for the blocks being written; under the sync's
# limit DuckDB would keep up to that much of what it wrote cached (a scale-100 full sync:
# 422 MB peak under 96MB, 353 MB under 32MB; docs/PERFORMANCE.md, "Memory").
WRITE_MEMORY_LIMIT = "32MB"


class _DayGroup:
    """Consecutive dates read but not yet written."""

    def __init__(self) -> None:
        self.lost: dict[str, int] = {}     # days per kind of loss, over the whole report
        self.clear()

    def clear(self) -> None:
        self.days: list[dict[str, Any]] = []
        self.batches: list[pa.Table] = []
        self.rows = 0
        self.pages = 0

    def add(self, day: dt.date, batch: pa.Table | None, stats: DayStats, *, pages: int) -> None:
        self.days.append({k: v for k, v in stats.row("", day).items() if k != "report"})
        for what, flag in (("with an (other) row", stats.data_loss_from_other_row),
                           ("subject to thresholding", stats.subject_to_thresholding),
                           ("sampled", stats.samples_read_count is not None)):
            self.lost[what] = self.lost.get(what, 0) + int(flag)
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
        self.last_tokens = 0
        self.pacer = QuotaPacer(settings, sleep=sleep,
                                say=lambda text: self.progress.message(text))
        self.time_zone: str | None = None
        self._move_cursor = True   # False while backfilling a date range (sync_dates)
        self.identity = "the credentials"
        self.export: ExportReader | None = None
        if (settings.get(SOURCE_VARIABLE) or DATA_API).strip().lower() == BIGQUERY_EXPORT:
            self.export = ExportReader(self)

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
            self.settings.require(self.name, "GA4_PROPERTY_ID")
            from google.analytics.data_v1beta import BetaAnalyticsDataClient

            try:
                credentials, self.identity = ga4_auth.load(self.settings)
            except ga4_auth.CredentialsProblem as exc:
                raise RuntimeError(f"ga4: {exc}") from exc
            endpoint = self.settings.get("GA4_API_ENDPOINT")
            # An http:// endpoint keeps its scheme (the REST transport only adds https:// when
            # no scheme is given), which is how the local sandbox is reached.
            options = {"api_endpoint": endpoint.rstrip("/")} if endpoint else None
            self._client = BetaAnalyticsDataClient(credentials=credentials, transport="rest",
                                                   client_options=options)
        return self._client

    # -- requests -----------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], result: ObjectResult | None = None) -> T:
        """One API call: transient failures retried (``classify``); an exhausted token quota
        waited out (``connectors.ga4_quota``, bounded) and the call made again."""
        from google.api_core import exceptions as gexc

        def once() -> T:
            self.requests += 1
            if result is not None:
                result.requests += 1
            return fn()

        try:
            while True:
                self.pacer.before_request()
                try:
                    return call_with_retries(once, classify, policy=self.retry_policy,
                                             what=f"ga4 {what}", sleep=self._sleep)
                except gexc.TooManyRequests as exc:
                    which = exhausted_quota(str(getattr(exc, "message", exc)))
                    if which is None:
                        raise
                    self.pacer.wait_for(which, describe_error(exc))
        except QuotaWaitExceeded as exc:
            raise SourceStopped(
                f"ga4 stopped: GA4 quota exhausted ({exc}). Committed dates are kept; the next "
                "run resumes from the cursor (daily quotas reset at midnight Pacific time, "
                "hourly ones within the hour).") from exc
        except Exception as exc:
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

    def run_report(self, what: str, body: dict[str, Any], result: ObjectResult | None = None
                   ) -> dict[str, Any]:
        """runReport; returns the answer as the REST API's JSON (a dict, camelCase names).

        The request goes out through the official client's own REST transport (its
        ``AuthorizedSession``: the same credentials, token refresh, endpoint and mTLS), but the
        answer is decoded with ``json`` instead of the client's ``json_format.Parse`` into
        protobuf, which took half of a full sync's time (docs/PERFORMANCE.md, "Profiles").
        An error answer raises the client's own exception (``from_http_response``), as the
        client does."""
        from google.analytics.data_v1beta.types import RunReportRequest
        from google.api_core import exceptions as gexc

        request = RunReportRequest({"property": self.property_name, "return_property_quota": True,
                                    **body})
        transport = self.client()._transport
        url = f"{transport._host}/v1beta/{self.property_name}:runReport"
        payload = RunReportRequest.to_json(request, use_integers_for_enums=True,
                                           indent=None).encode()

        def post() -> dict[str, Any]:
            response = transport._session.post(
                url, data=payload, timeout=REQUEST_TIMEOUT,
                headers={"Content-Type": "application/json"})
            if response.status_code >= 400:
                raise gexc.from_http_response(response)
            return json.loads(response.content)

        answer = self._call(what, post, result)
        self.last_tokens = self.pacer.note(answer)
        zone = (answer.get("metadata") or {}).get("timeZone")
        if zone:
            self.time_zone = zone
        return answer

    # -- sync ---------------------------------------------------------------------------------
    def sync(self, *, full_refresh: bool = False, objects: list[str] | None = None) -> SyncResult:
        self.settings.require(self.name, "GA4_PROPERTY_ID")
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
                res.note = "; ".join(p for p in (res.note, self.pacer.note_text()) if p)
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
            answer = self.run_report("probe dates", body, result)
            rows = answer.get("rows") or []
            for row in rows:
                sessions = _int(row["metricValues"][0].get("value", ""))
                if sessions > 0:
                    days[_ga_date(row["dimensionValues"][0]["value"])] = sessions
            offset += len(rows)
            if not rows or offset >= int(answer.get("rowCount") or 0):
                return days

    def _sync_report(self, spec: Report, start: dt.date, end: dt.date,
                     data_days: dict[dt.date, int], res: ObjectResult) -> None:
        with self.warehouse.memory_at_most(WRITE_MEMORY_LIMIT):
            self._replace_dates(spec, start, end, data_days, res)

    def _replace_dates(self, spec: Report, start: dt.date, end: dt.date,
                       data_days: dict[dt.date, int], res: ObjectResult) -> None:
        """Replace every date from ``start`` to ``end``. The per-visitor report is read one
        date per request (GA's (other) rule and thresholds act per date, and memory stays
        flat); the traffic report, small, one calendar month per request (``date`` is one of
        its dimensions: ~24 requests for two years instead of 730), a sampled month read again
        day by day. Small days are written in groups (one transaction, one insert per group:
        DuckDB's per-statement cost would otherwise dominate); a day bigger than a group
        streams page by page in its own transaction. Either way a date's rows, its
        ``report_days`` row and the cursor commit together."""
        started = time.monotonic()
        self.progress.start(self.name, spec.name)
        if self.export is not None and spec.name == "visitor_sessions":
            self.export.sync_range(spec, start, end, res, move_cursor=self._move_cursor)
            res.seconds = time.monotonic() - started
            self.progress.done(self.name, res)
            return
        group = _DayGroup()
        monthly = spec.name == "traffic_daily"
        # per date, its first page is asked for while the date before is decoded and written
        # (connectors/ahead.py); the worker is idle whenever this thread makes a request
        ahead = Ahead()
        coming = iter(sorted(d for d in data_days if start <= d <= end))
        pending: dict[dt.date, Future[Page]] = {}

        def first_page(day: dt.date) -> Page:
            future = pending.pop(day, None)
            page = future.result() if future is not None else self._fetch_page(spec, day, day, 0, res)
            following = next((d for d in coming if d > day), None)
            if following is not None:
                pending[following] = ahead.submit(self._fetch_page, spec, following, following, 0, res)
            return page

        try:
            for a, b in (_months(start, end) if monthly else ((d, d) for d in _days(start, end))):
                if not any(d in data_days for d in _days(a, b)):
                    reads: dict[dt.date, tuple[pa.Table | None, DayStats, int]] = {}
                elif monthly:
                    reads = self._read_range(spec, a, b, res)
                else:
                    page = first_page(a)
                    if page.row_count > page.batch.num_rows or page.row_count > GROUP_ROWS:
                        wait(list(pending.values()))    # no two requests at once
                        self._flush(spec, group, res, end)          # keep dates in order
                        self._stream_day(spec, a, page, res, end)
                        continue
                    reads = {a: (page.batch, self._day_stats(page, a), 1)}
                for day in _days(a, b):
                    # no sessions that day: clear what an earlier run stored
                    batch, stats, pages = reads.get(day, (None, DayStats(), 0))
                    stats.time_zone = stats.time_zone or self.time_zone   # known from the probe
                    group.add(day, batch, stats, pages=pages)
                if group.rows >= GROUP_ROWS or len(group.days) >= GROUP_DAYS:
                    self._flush(spec, group, res, end)
        except SourceStopped:
            self._flush(spec, group, res, end)   # keep every date read before the stop
            raise
        finally:
            ahead.close()
        self._flush(spec, group, res, end)
        res.seconds = time.monotonic() - started
        notes = [f"{start.isoformat()}..{end.isoformat()}"]
        if self.time_zone:
            notes.append(f"property time zone {self.time_zone}")
        for what, n in group.lost.items():
            if n:
                notes.append(f"{n} day(s) {what}")
        if self.pacer.note_text():
            notes.append(self.pacer.note_text())
        res.note = "; ".join(notes)
        self.progress.done(self.name, res)

    def _read_range(self, spec: Report, a: dt.date, b: dt.date, res: ObjectResult
                    ) -> dict[dt.date, tuple[pa.Table | None, DayStats, int]]:
        """Every page of ``a..b`` split by date; a sampled range of several days is read again
        one day at a time (a day holds fewer events than the sampling limit)."""
        pages: list[Page] = []
        offset = 0
        while True:
            page = self._fetch_page(spec, a, b, offset, res)
            pages.append(page)
            offset += page.batch.num_rows
            if not page.batch.num_rows or offset >= page.row_count:
                break
        sampled = any(s.samples_read_count is not None for p in pages for s in p.days.values())
        if sampled and a < b:
            out: dict[dt.date, tuple[pa.Table | None, DayStats, int]] = {}
            for day in _days(a, b):
                out.update(self._read_range(spec, day, day, res))
            return out
        batch = pa.concat_tables([p.batch for p in pages])
        out = {}
        for i, page in enumerate(pages):
            for day, stats in page.days.items():
                if day in out:
                    out[day][1].merge_page(stats)
                    out[day][1].row_count += stats.row_count
                else:
                    out[day] = (None, stats, 0)
            if i == 0 and page.days:
                first = min(page.days)
                out[first] = (None, out[first][1], len(pages))
        dates = batch.column("date")
        for day, (_, stats, n_pages) in list(out.items()):
            out[day] = (batch.filter(pc.equal(dates, pa.scalar(day, pa.date32()))), stats, n_pages)
        return out

    @staticmethod
    def _day_stats(page: Page, day: dt.date) -> DayStats:
        stats = page.days.get(day) or DayStats()
        stats.row_count = page.row_count        # GA's count for the whole date, every page
        return stats

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

    def _stream_day(self, spec: Report, day: dt.date, page: Page, res: ObjectResult,
                    end: dt.date) -> None:
        """A day too big for a group: its pages go in one by one, in one transaction."""
        wh = self.warehouse
        stats = self._day_stats(page, day)
        with wh.transaction():
            wh.conn.execute(f"DELETE FROM {spec.table.schema}.{raw.quote(spec.table.name)} "
                            "WHERE date = ?", [day])
            batch = page.batch
            written = wh.upsert(spec.table, batch) if batch.num_rows else 0
            offset, pages = batch.num_rows, 1
            while batch.num_rows and offset < stats.row_count:
                more = self._fetch_page(spec, day, day, offset, res)
                batch = more.batch
                pages += 1
                stats.merge_page(more.days.get(day) or DayStats(tokens=self.last_tokens))
                written += wh.upsert(spec.table, batch) if batch.num_rows else 0
                offset += batch.num_rows
                self.progress.page(self.name, spec.name, res.pages + pages, res.records + written)
            wh.upsert(T_DAYS, [stats.row(spec.name, day)])
            if self._move_cursor:
                wh.set_cursor(self.schema, spec.name,
                              {"last_date": day.isoformat(), "end_date": end.isoformat()}, written)
        res.records += written
        res.pages += pages

    def _fetch_page(self, spec: Report, a: dt.date, b: dt.date, offset: int,
                    res: ObjectResult) -> Page:
        """One page of the dates ``a..b``."""
        dims = spec.dimension_names
        body = {
            "dimensions": [{"name": d} for d in dims],
            "metrics": [{"name": m} for m, _ in spec.metrics],
            "date_ranges": [{"start_date": a.isoformat(), "end_date": b.isoformat()}],
            # a total order, so offset paging is stable
            "order_bys": [{"dimension": {"dimension_name": d}} for d in dims],
            "limit": self.page_size,
            "offset": offset,
        }
        what = f"{spec.name} {a.isoformat()}" + ("" if a == b else f"..{b.isoformat()}")
        answer = self.run_report(what, body, res)
        return to_page(spec, answer, single_day=a if a == b else None, tokens=self.last_tokens)

    # -- check --------------------------------------------------------------------------------
    def check(self) -> list[Finding]:
        from connectors.ga4_check import check

        findings = check(self)
        if self.export is not None:
            findings += self.export.check()
        return findings
