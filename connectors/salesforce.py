"""Salesforce -> DuckDB raw layer (schema ``salesforce``), incremental and crash-safe.

Per object, in this order (docs/ARCHITECTURE.md, "How each source is read"):

1. ``describe()``: select every field the org has that is not compound/binary. Fields our
   table does not know become drift columns typed by :func:`connectors.schema.salesforce_type`;
   ``CurrencyIsoCode`` is simply absent in a single-currency org. Objects that may not exist
   (CurrencyType, DatedConversionRate) or may be refused (ForecastingQuota without the
   forecasting permission, Period) are skipped with a note, never a failure. Every object's
   describe is fetched up front in **one** Composite Batch request (``composite/batch``, up to
   25 subrequests; a refused batch falls back to one describe per object).
2. REST or Bulk API 2.0, whichever reads the records in **fewer requests**: REST costs
   ``ceil(n/2000)`` pages, Bulk one job create plus ``ceil(n/50000)`` result pages, so Bulk
   wins from 4,001 records (``SALESFORCE_BULK_THRESHOLD`` replaces this rule by a fixed
   record count). No request is spent on counting: when the whole object is read (first run,
   full refresh) the estimate comes from the same Composite Batch as the describes: the org's
   record count (``limits/recordCount``) and, for the history objects it leaves out, a
   ``SELECT COUNT()`` subrequest over the window; else the rows we already hold. Otherwise
   (and always for incremental windows) REST starts, and the first page's ``totalSize``
   decides: when Bulk is cheaper for the rest of the window, it reads it
   (``cursor >= the first page's newest value``).
3. The window: ``queryAll`` (recycle-bin deletes included, ``IsDeleted`` -> ``_is_deleted``)
   ``WHERE SystemModstamp >= cursor - lookback`` (history objects: ``CreatedDate``), never a
   bare ``>``, ``ORDER BY <cursor>, Id``. The lookback (``SALESFORCE_LOOKBACK_MINUTES``,
   default 15) re-reads rows a long transaction committed after a newer stamp was read. A
   window answering ``QUERY_TIMEOUT`` is read as halves on the cursor field, oldest first. REST: page by page along ``nextRecordsUrl``; every
   page's rows and the cursor (max value seen) commit in one DuckDB transaction. Bulk 2.0:
   pages are unordered, so rows commit per page and the cursor with the last page. History
   rows keep their ``CreatedDate`` when their parent is deleted, so after the window (read by
   REST or by Bulk alike) the history objects' recycle bin (``IsDeleted = true``) is read
   whole whenever we hold rows older than the window: every incremental run, and a full read
   that starts after rows we hold.
4. ``sobjects/{O}/deleted`` since the last window covered (at most 15 days back, as the API
   keeps them): records purged from the recycle bin are marked ``_is_deleted`` if we hold them.
   A window answering ``EXCEEDED_ID_LIMIT`` (over 600,000 ids) is halved until one answers.
   The log is also purged early by Salesforce when large: what it lost is found by
5. the weekly id-only reconciliation (:meth:`SalesforceSource.reconcile`,
   :mod:`connectors.salesforce_reconcile`), which also refreshes **formula fields**
   (``calculated`` in describe: they change without moving ``SystemModstamp``, so windows never
   see it) and reads by Id live records no window returned. A full refresh reads everything
   with ``queryAll`` and then marks ids we hold that the source no longer returns as deleted.

Real-API behaviours and how the sandbox reproduces them: docs/API_BEHAVIOUR.md.

``HISTORY_START_DATE`` (``YYYY-MM-DD``, default 730 days back; parsed by
:meth:`connectors.source.Settings.history_start`, a bad value raises
:class:`connectors.source.InvalidSetting` before any request) bounds the **history objects**
only, LeadHistory and OpportunityHistory: a full sync reads ``CreatedDate >= start`` (UTC
midnight), incremental windows never start before it, and a full refresh's reconciliation
leaves rows created before it alone. Every other object is state, read whole whatever its
``CreatedDate``: a lead, contact or account created before the start can convert, be won or
own an opportunity later, and the marts need it then; User, Period, ForecastingQuota,
CurrencyType and DatedConversionRate are reference data that old rows still describe.

A Bulk 2.0 job's first results page is asked for ``bulk_poll_seconds`` (1 s) after its
creation, without a status request: a job done by then costs no poll. The jobs of the objects
read by Bulk from the start are all created right after the describe batch, so that second
passes while the objects before them are read. A job still running
answers 412 ``JOB_NOT_COMPLETE``; only then is its status polled, with doubling waits (up to
30 s). Finished jobs are left for Salesforce to remove (it does after 7 days) unless
``SALESFORCE_DELETE_BULK_JOBS`` is true.

Failures: 429/5xx/broken connections are retried (``Retry-After`` honoured); an expired
session re-authenticates once; ``REQUEST_LIMIT_EXCEEDED`` of the daily kind raises
:class:`SourceStopped` with everything committed so far kept, of the concurrent long-running
kind (``ConcurrentPerOrgLongTxn``) is retried with backoff. Bad records are quarantined,
never fatal. Authentication (JWT bearer, password, client credentials at the My Domain):
:mod:`connectors.salesforce_auth`; ``advocacy check``: :mod:`connectors.salesforce_check`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import io
import logging
import math
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceError

from connectors import schema as raw
from connectors.retry import RetryPolicy
from connectors.salesforce_client import (
    API_VERSION,
    SalesforceAuthError,
    SalesforceClient,
    auth_config,
    error_code,
    error_message,
)
from connectors.salesforce_soql import (
    converter,
    iso_z,
    parse_datetime,
    soql_datetime,
    soql_quote,
)
from connectors.schema import Table, quote, snake_case
from connectors.source import (
    Finding,
    ObjectResult,
    Progress,
    Settings,
    Source,
    SourceStopped,
    SyncResult,
)
from connectors.warehouse import Warehouse, utcnow

log = logging.getLogger(__name__)

REST_PAGE_RECORDS = 2_000                    # queryAll's largest page (its batch size)
# Salesforce answers 414 to a request line over 16,384 bytes: a GET query selecting hundreds
# of fields (customised Account/Opportunity) goes to Bulk 2.0, whose query is a POST body
REST_QUERY_MAX_CHARS = 15_000
BULK_MAX_RECORDS = 50_000                    # Bulk 2.0 results page asked for (maxRecords)
# A Bulk results page is streamed to an owner-only file beside the warehouse in chunks of
# this size, then read row by row: a page of 50,000 records held whole as bytes and text
# was ~100 MB of a full sync's peak memory at scale 100 (docs/PERFORMANCE.md, "Memory")
BULK_CHUNK_BYTES = 1 << 20
BULK_POLL_MAX_SECONDS = 30.0                 # the longest wait between two Bulk job polls
BULK_JOB_TIMEOUT = dt.timedelta(hours=6)
COMPOSITE_BATCH_MAX = 25                     # subrequests per composite/batch call
# a transaction commits its rows with the SystemModstamp of its start: a row committed after a
# newer one was read has an older stamp than the cursor. 15 minutes covers long transactions
# (upserts are idempotent: the re-read rows cost a page at most)
DEFAULT_LOOKBACK = dt.timedelta(minutes=15)
NARROW_MAX_DEPTH = 12                        # QUERY_TIMEOUT: halvings of a window at most
# history object -> (parent table, the history table's column naming the parent)
HISTORY_PARENTS = {"LeadHistory": ("lead", "lead_id"),
                   "OpportunityHistory": ("opportunity", "opportunity_id")}
HISTORY_REREAD_IDS = 200                     # ids per "Id IN (...)" query
SKIP_TYPES = frozenset({"address", "location", "base64"})   # compound / binary fields
CUSTOM_FIELDS = ("GA_Client_ID__c", "UTM_Source__c", "UTM_Medium__c", "UTM_Campaign__c",
                 "UTM_Content__c", "UTM_Term__c")
# errors that mean "this object is not there / not for us", for optional objects
_MISSING_CODES = frozenset({"INVALID_TYPE", "NOT_FOUND", "INSUFFICIENT_ACCESS",
                            "INSUFFICIENT_ACCESS_OR_READONLY", "INVALID_TYPE_FOR_OPERATION",
                            "API_DISABLED_FOR_ORG"})
_BULK_UNSUPPORTED = re.compile(
    r"not supported by the Bulk API|INVALIDENTITY|compound data not supported|does not support query",
    re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class ObjectSpec:
    sobject: str
    history: bool = False            # immutable rows: cursor on CreatedDate
    optional: str = ""               # why it may be absent (note when skipped); "" = required

    @property
    def table(self) -> Table:
        return next(t for t in raw.tables_of("salesforce") if t.source_object == self.sobject)


# rows per upsert within one page's transaction (a Bulk 2.0 page holds up to 50,000 records)
WRITE_SLICE = 10_000

OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec("User"),
    ObjectSpec("Account"),
    ObjectSpec("Lead"),
    ObjectSpec("Contact"),
    ObjectSpec("Opportunity"),
    ObjectSpec("OpportunityContactRole"),
    ObjectSpec("OpportunityHistory", history=True),
    ObjectSpec("LeadHistory", history=True),
    ObjectSpec("Campaign", optional="campaigns not readable (the user needs read access to "
                                    "Campaign): Salesforce campaign touches are left out"),
    ObjectSpec("CampaignMember", optional="campaign members not readable: Salesforce campaign "
                                          "touches are left out"),
    ObjectSpec("Period", optional="fiscal periods are not readable; quota periods come from the "
                                  "rep_quotas seed"),
    ObjectSpec("ForecastingQuota", optional="no forecasting permission ('View All Forecasts' or "
                                            "'Allow Forecasting'); the rep_quotas seed serves "
                                            "quotas instead"),
    ObjectSpec("CurrencyType", optional="single-currency org: no CurrencyType"),
    ObjectSpec("DatedConversionRate", optional="no advanced currency management: no "
                                               "DatedConversionRate"),
)


@dataclasses.dataclass
class _Field:
    name: str
    type: str
    column: str


@dataclasses.dataclass
class _Plan:
    """What one object's sync reads, from its describe."""

    spec: ObjectSpec
    table: Table
    fields: list[_Field]
    cursor_field: str | None
    deletable: bool                  # has IsDeleted
    replicateable: bool
    extra_types: dict[str, str]
    # formula fields (describe ``calculated: true``): their value can change without moving
    # SystemModstamp, so incremental reads never see it; the reconciliation refreshes them
    calculated: list[_Field] = dataclasses.field(default_factory=list)

    @property
    def version(self) -> str | None:
        return snake_case(self.cursor_field) if self.cursor_field else None

    @functools.cached_property
    def converters(self) -> list[tuple[str, str, Callable[[Any], Any]]]:
        """(field, column, its value's converter) of every field read."""
        return [(f.name, f.column, converter(f.type)) for f in self.fields]


_CREDENTIAL_VARIABLES = (
    "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD",
    "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
)


class SalesforceSource(Source):
    name = "salesforce"
    schema = "salesforce"

    bulk_poll_seconds = 1.0          # wait before a Bulk job's first results (tests lower it)

    def __init__(self, settings: Settings, warehouse: Warehouse, progress: Progress | None = None,
                 *, retry_policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(settings, warehouse, progress)
        self.retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._client: SalesforceClient | None = None
        self._described: dict[str, dict[str, Any] | SalesforceError] = {}
        self._estimates: dict[str, tuple[int, str]] = {}   # object -> (records, from where)
        self._prefetch_requests = 0
        # Bulk jobs created right after the describe batch (_create_bulk_jobs): object ->
        # (SOQL, the job's id or the error its creation raised, when created); the create
        # requests each counted on its object
        self._early_jobs: dict[str, tuple[str, str | SalesforceError, float]] = {}
        self._early_requests: dict[str, int] = {}

    # -- settings ----------------------------------------------------------------------------
    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            self._client = SalesforceClient(self.settings, policy=self.retry_policy,
                                            sleep=self._sleep)
        return self._client

    @property
    def bulk_threshold(self) -> int | None:
        """``SALESFORCE_BULK_THRESHOLD`` (records), or None: choose by request count."""
        value = (self.settings.get("SALESFORCE_BULK_THRESHOLD") or "").strip()
        if not value or value.lower() == "auto":
            return None
        try:
            return max(1, int(value))
        except ValueError:
            log.warning("salesforce: SALESFORCE_BULK_THRESHOLD=%r is not a number; choosing "
                        "REST or Bulk by request count", value)
            return None

    def use_bulk(self, total: int, already_read: int = 0) -> bool:
        """Whether Bulk 2.0 should read a window of ``total`` records of which REST has read
        ``already_read`` (its first page: the page size the org really gives this object,
        smaller than 2,000 for wide records): with a threshold, ``total`` at or above it; else
        when a job (create plus result pages) takes fewer requests than the REST pages left."""
        return bulk_pays(total, already_read, self.bulk_threshold,
                         rest_page=already_read or REST_PAGE_RECORDS)

    @property
    def delete_bulk_jobs(self) -> bool:
        return (self.settings.get("SALESFORCE_DELETE_BULK_JOBS") or "").strip().lower() in (
            "1", "true", "yes", "on")

    @property
    def lookback(self) -> dt.timedelta:
        value = self.settings.get("SALESFORCE_LOOKBACK_MINUTES")
        try:
            return dt.timedelta(minutes=float(value)) if value else DEFAULT_LOOKBACK
        except ValueError:
            return DEFAULT_LOOKBACK

    def history_start(self) -> dt.datetime:
        """``HISTORY_START_DATE`` (default 730 days back) as the UTC midnight that bounds the
        history objects' ``CreatedDate``: see the module docstring. A bad value raises
        :class:`connectors.source.InvalidSetting`."""
        d = self.settings.history_start()
        assert d is not None   # a default is given
        return dt.datetime(d.year, d.month, d.day)

    # -- sync --------------------------------------------------------------------------------
    def sync(self, *, full_refresh: bool = False, objects: list[str] | None = None) -> SyncResult:
        auth_config(self.settings, self.name)   # SourceNotConfigured before touching anything
        self.history_start()                    # a bad HISTORY_START_DATE: InvalidSetting, now
        wanted = _wanted(objects)
        result = SyncResult(self.name)
        wh = self.warehouse
        for spec in OBJECTS:
            wh.ensure_table(spec.table)
        self._org_newest: dt.datetime | None = None
        self._object_newest: dict[str, dt.datetime | None] = {}
        self._run_started = utcnow()      # rows this run wrote have _synced_at at or after it
        try:
            self._prefetch([s for s in OBJECTS if s.sobject in wanted], full_refresh)
            self._create_bulk_jobs([s for s in OBJECTS if s.sobject in wanted], full_refresh)
            read: list[tuple[ObjectResult, _Plan]] = []
            for spec in OBJECTS:
                if spec.sobject in wanted:
                    res, plan = self._sync_object(spec, full_refresh)
                    result.objects.append(res)
                    if plan is not None:
                        read.append((res, plan))
            # deletes past the recycle bin, once every object is read: the org's newest
            # change is then known (it starts the first getDeleted window)
            for res, plan in read:
                if plan.deletable and plan.replicateable:
                    self._deletes_for(plan, res, full_refresh)
        except SalesforceAuthError as exc:
            raise SourceStopped(f"salesforce stopped: {exc} (everything committed before this "
                                "is kept)") from exc
        except SalesforceError as exc:
            raise SourceStopped(f"salesforce stopped: {error_message(exc)} (everything "
                                "committed before this is kept)") from exc
        return result

    def _sync_object(self, spec: ObjectSpec, full_refresh: bool) -> tuple[ObjectResult, _Plan | None]:
        table = spec.table
        res = ObjectResult(table.name)
        started = time.monotonic()
        requests_before = self.client.session.count
        quarantined_before = self._quarantined(spec.sobject)
        self.progress.start(self.name, table.name)
        plan: _Plan | None = None
        try:
            plan = self._plan(spec)
            if plan is None:
                res.note = f"skipped: {spec.optional}"
                return res, None
            tracker = _CursorTracker(plan, None)
            notes = self._read(plan, full_refresh, res, tracker)
            if tracker.seen is not None and (self._org_newest is None or tracker.seen > self._org_newest):
                self._org_newest = tracker.seen
            self._object_newest[spec.sobject] = tracker.seen
            if full_refresh:
                notes += self._reconcile(plan, res)
            usage = self.client.usage_text()
            res.note = "; ".join([*notes, *([usage] if usage else [])])
            return res, plan
        except SalesforceError as exc:
            if spec.optional and _is_missing(exc):
                res.note = f"skipped: {spec.optional} ({error_message(exc)})"
                return res, None
            raise
        finally:
            res.seconds = time.monotonic() - started
            # the first object carries the up-front requests (token, the describe batch)
            res.requests = (self.client.session.count - requests_before + self._prefetch_requests
                            + self._early_requests.pop(spec.sobject, 0))
            self._prefetch_requests = 0
            res.quarantined = self._quarantined(spec.sobject) - quarantined_before
            self.progress.done(self.name, res)

    def _deletes_for(self, plan: _Plan, res: ObjectResult, full_refresh: bool) -> None:
        started = time.monotonic()
        requests_before = self.client.session.count
        before = res.deleted
        notes = self._sync_deleted(plan, res, full_refresh)
        res.seconds += time.monotonic() - started
        res.requests += self.client.session.count - requests_before
        if notes:
            res.note = "; ".join([res.note, *notes]) if res.note else "; ".join(notes)
        if res.deleted > before:
            self.progress.message(f"{self.name}.{plan.table.name}: "
                                  f"{res.deleted - before} purged records marked deleted")

    def _quarantined(self, sobject: str) -> int:
        return sum(n for (s, o, _), n in self.warehouse.quarantined.items()
                   if s == self.schema and o == sobject)

    # -- describe ----------------------------------------------------------------------------
    def _describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe: from the up-front batch when it answered for it, else one
        request (raising the API's error as :class:`SalesforceError`)."""
        cached = self._described.pop(sobject, None)
        if isinstance(cached, SalesforceError):
            raise cached
        if cached is not None:
            return cached
        return self.client.call(f"describe {sobject}", lambda sf: getattr(sf, sobject).describe())

    def _prefetch(self, specs: list[ObjectSpec], full_refresh: bool) -> None:
        """Every object's describe, and for the objects read whole their record counts (the
        org's ``limits/recordCount``, and a ``SELECT COUNT()`` per history object), in
        Composite Batch requests of up to 25 subrequests: one request instead of one per
        object. Each subrequest still counts against the org's daily API allowance, as a
        describe would. A subresult that is an error for a required object, or a transient one,
        is left out so that :meth:`_describe` asks again on its own (with retries); a batch the
        org refuses (old API, no permission) leaves everything to :meth:`_describe`."""
        self._described, self._estimates = {}, {}
        before = self.client.session.count
        version = f"v{API_VERSION}"
        # (what, object, subrequest): what is "describe", "counts" (limits/recordCount) or
        # "count" (SELECT COUNT() over a history object's window, which recordCount leaves out)
        subrequests: list[tuple[str, str, dict[str, str]]] = [
            ("describe", s.sobject, {"method": "GET", "url": f"{version}/sobjects/{s.sobject}/describe"})
            for s in specs]
        whole = [s for s in specs if full_refresh or not self._has_cursor(s)]
        counted = [s.sobject for s in whole if not s.history]
        if counted:
            subrequests.append(("counts", "", {
                "method": "GET", "url": f"{version}/limits/recordCount?sObjects={','.join(counted)}"}))
        start = soql_datetime(self.history_start())
        for s in whole:
            if s.history:
                q = urllib.parse.urlencode(
                    {"q": f"SELECT COUNT() FROM {s.sobject} WHERE CreatedDate >= {start}"})
                subrequests.append(("count", s.sobject, {"method": "GET", "url": f"{version}/queryAll?{q}"}))
        by_name = {s.sobject: s for s in specs}
        try:
            for i in range(0, len(subrequests), COMPOSITE_BATCH_MAX):
                chunk = subrequests[i:i + COMPOSITE_BATCH_MAX]
                body = self.client.call("describe batch", lambda sf, c=chunk: sf.restful(
                    "composite/batch", method="POST",
                    json={"batchRequests": [r for _, _, r in c], "haltOnError": False}))
                results = (body or {}).get("results") if isinstance(body, dict) else None
                if not isinstance(results, list) or len(results) != len(chunk):
                    log.info("salesforce: unexpected composite/batch answer; describing one by one")
                    self._described, self._estimates = {}, {}
                    return
                for (what, name, _), sub in zip(chunk, results, strict=True):
                    status = sub.get("statusCode") if isinstance(sub, dict) else None
                    result = sub.get("result") if isinstance(sub, dict) else None
                    if what == "counts":
                        if status == 200 and isinstance(result, dict):
                            for item in result.get("sObjects") or []:
                                if isinstance(item, dict) and isinstance(item.get("count"), int):
                                    self._estimates[str(item.get("name"))] = (
                                        item["count"], "the org's record count")
                        continue
                    if what == "count":   # an error (object absent, timeout): REST probes it
                        if status == 200 and isinstance(result, dict) and \
                                isinstance(result.get("totalSize"), int):
                            self._estimates[name] = (result["totalSize"], "SELECT COUNT()")
                        continue
                    if status == 200 and isinstance(result, dict):
                        self._described[name] = result
                    elif isinstance(status, int) and by_name[name].optional:
                        exc = SalesforceError(f"composite/batch: sobjects/{name}/describe",
                                              status, name, result)
                        if _is_missing(exc):
                            self._described[name] = exc
        except SalesforceError as exc:
            if exc.status in (400, 403, 404, 405, 501) and \
                    error_code(exc) != "REQUEST_LIMIT_EXCEEDED":
                log.info("salesforce: composite/batch refused (%s); describing one by one",
                         error_message(exc))
                self._described, self._estimates = {}, {}
            else:
                raise
        finally:
            self._prefetch_requests = self.client.session.count - before

    def _has_cursor(self, spec: ObjectSpec) -> bool:
        state = self.warehouse.get_cursor(self.schema, spec.table.name)
        return isinstance(state, dict) and bool(state.get("value"))

    def _estimate(self, plan: _Plan) -> tuple[int, str] | None:
        """How many records a read of the whole object will return, without asking the API:
        the org's record count from the up-front batch, else the rows we hold."""
        if plan.spec.sobject in self._estimates:
            return self._estimates[plan.spec.sobject]
        t = plan.table
        held = self.warehouse.conn.execute(
            f"SELECT count(*) FROM {t.schema}.{quote(t.name)}").fetchone()[0]
        return (int(held), "rows held") if held else None

    def _plan(self, spec: ObjectSpec) -> _Plan | None:
        try:
            desc = self._describe(spec.sobject)
        except SalesforceError as exc:
            if spec.optional and _is_missing(exc):
                return None
            raise
        self._record_hidden(spec, desc)
        return self._plan_of(spec, desc)

    def _plan_of(self, spec: ObjectSpec, desc: dict[str, Any]) -> _Plan:
        """The fields, cursor and types to read ``spec`` with, from its describe."""
        table = spec.table
        core = table.columns
        fields: list[_Field] = []
        kept: list[dict[str, Any]] = []       # the describe of each field in ``fields``
        extra: dict[str, str] = {}
        seen_columns: set[str] = set()
        for f in desc.get("fields") or []:
            name, ftype = f.get("name"), f.get("type") or "string"
            if not name or ftype in SKIP_TYPES or f.get("deprecatedAndHidden"):
                continue
            column = snake_case(name)
            if column in seen_columns or column in raw.META_COLUMNS:
                continue
            seen_columns.add(column)
            fields.append(_Field(name, ftype, column))
            kept.append(f)
            if column not in core:
                extra[column] = raw.salesforce_type(ftype)
        names = {f.name for f in fields}
        if "Id" not in names:
            raise SourceStopped(f"salesforce: {spec.sobject} has no Id field in describe")
        if spec.history and "CreatedDate" in names:
            cursor = "CreatedDate"
        else:
            cursor = next((c for c in ("SystemModstamp", "LastModifiedDate", "CreatedDate")
                           if c in names), None)
        calculated = [f for f, d in zip(fields, kept, strict=True) if d.get("calculated")]
        return _Plan(spec, table, fields, cursor, "IsDeleted" in names,
                     bool(desc.get("replicateable", True)), extra, calculated)

    # -- reading -----------------------------------------------------------------------------
    def _record_hidden(self, spec: ObjectSpec, desc: dict[str, Any]) -> None:
        """Fields of the object that field-level security hides from the user: recorded in
        ``salesforce._hidden_fields`` (data_quality reports them) and said once in the log."""
        names = {f.get("name") for f in desc.get("fields") or []}
        self._multi_currency = getattr(self, "_multi_currency", False) or "CurrencyIsoCode" in names
        hidden = hidden_fields(spec.table, names, self._multi_currency)
        wh = self.warehouse
        wh.conn.execute("CREATE SCHEMA IF NOT EXISTS salesforce")   # a fresh (or in-memory) file
        wh.conn.execute(raw.HIDDEN_FIELDS_DDL)
        with wh.transaction():
            wh.conn.execute("DELETE FROM salesforce._hidden_fields WHERE object = ?", [spec.sobject])
            for field in hidden:
                wh.conn.execute("INSERT INTO salesforce._hidden_fields VALUES (?, ?, ?)",
                                [spec.sobject, field, utcnow()])
        if hidden:
            message = (f"salesforce.{spec.table.name}: {', '.join(hidden)} hidden from the "
                       f"integration user (field-level security): synced as empty; {FLS_FIX}")
            log.warning(message)
            self.progress.message(message)

    def _window_start(self, plan: _Plan, full_refresh: bool) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(lower bound for the query, the stored cursor value)."""
        stored: dt.datetime | None = None
        if not full_refresh and plan.cursor_field:
            state = self.warehouse.get_cursor(self.schema, plan.table.name)
            if isinstance(state, dict) and state.get("value") and state.get("field") == plan.cursor_field:
                try:
                    stored = parse_datetime(state["value"])
                except ValueError:
                    stored = None
        since = stored - self.lookback if stored else None
        if plan.spec.history and plan.cursor_field:
            start = self.history_start()
            since = max(since, start) if since else start
        return since, stored

    def _soql(self, plan: _Plan, since: dt.datetime | None, *, ordered: bool = True,
              until: dt.datetime | None = None) -> str:
        select = ", ".join(f.name for f in plan.fields)
        soql = f"SELECT {select} FROM {plan.spec.sobject}"
        bounds = []
        if since is not None and plan.cursor_field:
            bounds.append(f"{plan.cursor_field} >= {soql_datetime(since)}")
        if until is not None and plan.cursor_field:
            bounds.append(f"{plan.cursor_field} < {soql_datetime(until)}")
        if bounds:
            soql += " WHERE " + " AND ".join(bounds)
        if ordered and plan.cursor_field:
            soql += f" ORDER BY {plan.cursor_field} ASC, Id ASC"
        return soql

    def _read(self, plan: _Plan, full_refresh: bool, res: ObjectResult,
              tracker: _CursorTracker) -> list[str]:
        since, stored = self._window_start(plan, full_refresh)
        tracker.value = stored
        if full_refresh:
            self._seen_reset(plan)
        window = f"{plan.cursor_field} >= {iso_z(since)}" if since else "all records"
        notes = [window]
        # REST or Bulk without a COUNT() request (module docstring, step 2)
        estimate = self._estimate(plan) if stored is None else None
        encoded = len(urllib.parse.quote(self._soql(plan, since)))
        if encoded > REST_QUERY_MAX_CHARS:
            notes.append(f"{len(plan.fields)} fields: a {encoded:,}-character query is too long "
                         "for REST")
            notes.append(self._read_bulk_or_rest(plan, since, tracker, res, full_refresh))
        elif estimate is not None and self._bulk_from_start(estimate):
            notes.append(f"about {estimate[0]:,} to read ({estimate[1]})")
            notes.append(self._read_bulk_or_rest(plan, since, tracker, res, full_refresh))
        else:
            try:
                total, complete = self._read_rest(plan, since, tracker, res, full_refresh,
                                                  probe=True)
            except SalesforceError as exc:
                if error_code(exc) != "QUERY_TIMEOUT" or not plan.cursor_field:
                    raise
                windows = self._read_narrowed(plan, since, tracker, res, full_refresh)
                total, complete = res.records, True
                notes.append(f"QUERY_TIMEOUT: read in {windows} narrower windows")
            notes.append(f"{total:,} to read")
            if not complete:
                # the first page is committed (cursor included): Bulk reads the rest, from the
                # newest value of that page on (>= keeps its ties; upserts are idempotent).
                # That page's value, not the stored cursor: in an incremental window the page
                # can end inside the lookback, below the stored cursor, and the rows between
                # are what the lookback is there to catch.
                rest_since = tracker.seen if tracker.seen is not None else since
                if since is not None and rest_since is not None and rest_since < since:
                    rest_since = since
                how = self._read_bulk_or_rest(plan, rest_since, tracker, res, full_refresh)
                notes.append(f"first page by REST, the rest by {how}")
            else:
                notes.append("REST")
        # whichever path read the window (REST or Bulk), history rows it cannot see are
        # still deleted (module docstring, step 3)
        if self._recycle_bin_needed(plan, since, stored):
            before = res.records
            self._read_rest(plan, since, tracker, res, full_refresh,
                            soql=f"SELECT {', '.join(f.name for f in plan.fields)} FROM "
                                 f"{plan.spec.sobject} WHERE IsDeleted = true",
                            commit_cursor=False)
            tracker.pending = 0
            notes.append(f"recycle bin: {res.records - before:,} rows")
            restored = self._reread_restored_history(plan, tracker, res, full_refresh)
            if restored:
                notes.append(f"{restored:,} rows of restored parents read again")
        return notes

    def _bulk_from_start(self, estimate: tuple[int, str] | None) -> bool:
        return estimate is not None and self.use_bulk(estimate[0])

    def _create_bulk_jobs(self, specs: list[ObjectSpec], full_refresh: bool) -> None:
        """Create, right after the describe batch, the Bulk 2.0 jobs of every object that
        :meth:`_read` will send to Bulk from the start (its record count says so, or its
        query is too long for REST): Salesforce runs them while the objects before them are
        read, and the wait before each job's first results page (``bulk_poll_seconds``)
        passes meanwhile instead of in a sleep — 1 s per job, most of a small org's full
        sync. The same requests as creating each job in its turn; a creation that fails is
        raised in that turn, where it would have been."""
        self._early_jobs, self._early_requests = {}, {}
        for spec in specs:
            desc = self._described.get(spec.sobject)
            if not isinstance(desc, dict):
                continue    # described on its own in its turn (or absent): no early job
            plan = self._plan_of(spec, desc)
            since, stored = self._window_start(plan, full_refresh)
            too_long = len(urllib.parse.quote(self._soql(plan, since))) > REST_QUERY_MAX_CHARS
            if not too_long and (stored is not None or not self._bulk_from_start(self._estimate(plan))):
                continue
            soql = self._soql(plan, since, ordered=False)
            before = self.client.session.count
            job: str | SalesforceError
            try:
                job = str(self.client.call(
                    f"bulk create {spec.sobject}",
                    lambda sf, o=spec.sobject, q=soql: getattr(sf.bulk2, o)._client.create_job(
                        Operation.query_all, q))["id"])
            except SalesforceError as exc:
                job = exc
            self._early_jobs[spec.sobject] = (soql, job, time.monotonic())
            self._early_requests[spec.sobject] = self.client.session.count - before

    def _reread_restored_history(self, plan: _Plan, tracker: _CursorTracker, res: ObjectResult,
                                 full_refresh: bool) -> int:
        """A lead or opportunity brought back from the recycle bin (undelete) brings its
        history rows back too, with their old ``CreatedDate``: no window sees them again, and
        the recycle-bin read only ever marks rows deleted. So the rows we hold as deleted whose
        parent came back live in this run (its new ``SystemModstamp`` brought it into its
        window) are read again by Id, 200 per query (the query stays far below REST's URI
        limit); whatever Salesforce still holds comes back with its own ``IsDeleted``."""
        parent = HISTORY_PARENTS.get(plan.spec.sobject)
        if parent is None:
            return 0
        parent_table, ref = parent
        t = plan.table
        # parents written since the last re-read that completed (state), not only in this run:
        # a run that wrote the restored parent may have stopped before its history
        # (no state yet: every parent, once)
        key = f"{t.name}:restored"
        state = self.warehouse.get_cursor(self.schema, key)
        since = dt.datetime(1970, 1, 1)
        if isinstance(state, dict) and state.get("parents_synced_since"):
            with contextlib.suppress(ValueError):
                since = min(self._run_started,
                            parse_datetime(state["parents_synced_since"]).replace(tzinfo=None))
        ids = [r[0] for r in self.warehouse.conn.execute(
            f"SELECT h.id FROM {t.schema}.{quote(t.name)} AS h "
            f"JOIN {t.schema}.{quote(parent_table)} AS p ON p.id = h.{quote(ref)} "
            "WHERE h._is_deleted AND NOT coalesce(p._is_deleted, false) AND p._synced_at >= ? "
            "ORDER BY h.id", [since]).fetchall()]
        before = res.records
        select = ", ".join(f.name for f in plan.fields)
        for i in range(0, len(ids), HISTORY_REREAD_IDS):
            chunk = ", ".join(soql_quote(x) for x in ids[i:i + HISTORY_REREAD_IDS])
            self._read_rest(plan, None, tracker, res, full_refresh, commit_cursor=False,
                            soql=f"SELECT {select} FROM {plan.spec.sobject} WHERE Id IN ({chunk})")
        tracker.pending = 0
        with self.warehouse.transaction():   # every parent before this run is now covered
            self.warehouse.set_cursor(self.schema, key,
                                      {"parents_synced_since": iso_z(self._run_started)})
        return res.records - before

    def _recycle_bin_needed(self, plan: _Plan, since: dt.datetime | None,
                            stored: dt.datetime | None) -> bool:
        """History rows keep their ``CreatedDate`` when their parent is deleted, so a window on
        ``CreatedDate`` misses the deletes of rows created before it: the recycle bin (at most
        15 days of deletes) is read whole when we hold such rows. That is every incremental
        run, and a full read that starts after rows we hold (``HISTORY_START_DATE`` moved
        later, or the default two years moved on)."""
        if not (plan.spec.history and plan.deletable) or since is None:
            return False
        if stored is not None:
            return True
        t = plan.table
        return bool(self.warehouse.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM {t.schema}.{quote(t.name)} WHERE created_date < ? "
            f"AND NOT coalesce(_is_deleted, false))", [since]).fetchone()[0])

    def _read_rest(self, plan: _Plan, since: dt.datetime | None, tracker: _CursorTracker,
                   res: ObjectResult, full_refresh: bool, *, soql: str | None = None,
                   commit_cursor: bool = True, probe: bool = False) -> tuple[int, bool]:
        """``queryAll`` then ``nextRecordsUrl`` page by page (never everything in memory).
        Returns the first page's ``totalSize`` and whether every page was read: with
        ``probe``, it stops after the first page when ``totalSize`` is at or above the Bulk
        threshold and more pages follow (the caller reads the rest by Bulk 2.0)."""
        resumable = soql is None
        soql = soql or self._soql(plan, since)
        page = self.client.call(f"query {plan.spec.sobject}",
                                lambda sf: sf.query(soql, include_deleted=True))
        total = int(page.get("totalSize") or 0)
        restarts = 0
        while True:
            records = page.get("records") or []
            self._commit(plan, (_rest_values(r) for r in records), tracker, res, full_refresh,
                         commit_cursor=commit_cursor)
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return total, True
            if probe and self.use_bulk(total, len(records)):
                return total, False
            probe = False
            try:
                page = self.client.call(
                    f"query_more {plan.spec.sobject}",
                    lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True))
            except SalesforceError as exc:
                if error_code(exc) != "INVALID_QUERY_LOCATOR" or restarts >= 3 or not resumable:
                    raise
                # the server forgot the cursor: resume from the newest value read in this
                # window (>= keeps ties), not the stored cursor (the lookback lies below it)
                restarts += 1
                resume = tracker.seen or since
                log.warning("salesforce %s: query locator expired, resuming from %s",
                            plan.spec.sobject, resume)
                soql = self._soql(plan, resume)
                page = self.client.call(f"query {plan.spec.sobject}",
                                        lambda sf, q=soql: sf.query(q, include_deleted=True))

    def _read_narrowed(self, plan: _Plan, since: dt.datetime | None, tracker: _CursorTracker,
                       res: ObjectResult, full_refresh: bool) -> int:
        """The window timed out (``QUERY_TIMEOUT``: the query ran too long for the org): read
        it as ``[lo, hi)`` windows on the cursor field, oldest first (the cursor commits with
        each page, so the order keeps a crash from skipping rows), halving any window that
        still times out. Returns how many windows were read."""
        end = utcnow() + dt.timedelta(days=1)        # past any stamp the org can hold
        floor = dt.datetime(2000, 1, 1)              # only to halve an open lower bound
        read = 0

        def window(lo: dt.datetime | None, hi: dt.datetime, depth: int) -> None:
            nonlocal read
            try:
                self._read_rest(plan, lo, tracker, res, full_refresh,
                                soql=self._soql(plan, lo, until=hi))
                read += 1
            except SalesforceError as exc:
                if error_code(exc) != "QUERY_TIMEOUT" or depth >= NARROW_MAX_DEPTH:
                    raise
                mid = (lo or floor) + ((hi - (lo or floor)) / 2)
                log.info("salesforce %s: QUERY_TIMEOUT, reading %s..%s in halves",
                         plan.spec.sobject, lo, hi)
                window(lo, mid, depth + 1)
                window(mid, hi, depth + 1)

        lo = since
        mid = (lo or floor) + ((end - (lo or floor)) / 2)
        window(lo, mid, 1)
        window(mid, end, 1)
        return read

    def _read_bulk_or_rest(self, plan: _Plan, since: dt.datetime | None,
                           tracker: _CursorTracker, res: ObjectResult, full_refresh: bool) -> str:
        """Bulk API 2.0, or REST where the org refuses Bulk for this object. Says which."""
        try:
            self._read_bulk(plan, since, tracker, res, full_refresh)
            return "Bulk API 2.0"
        except _BulkUnavailable as exc:
            self._read_rest(plan, since, tracker, res, full_refresh)
            return f"REST (Bulk API 2.0 unavailable: {exc})"

    def _read_bulk(self, plan: _Plan, since: dt.datetime | None, tracker: _CursorTracker,
                   res: ObjectResult, full_refresh: bool) -> None:
        """Bulk API 2.0 ``queryAll`` job; each call (create, poll, every results page) is
        retried on its own, so a fault never restarts the job. Result pages are unordered
        (PK chunking), so the cursor commits with the last page only."""
        sobject = plan.spec.sobject
        soql = self._soql(plan, since, ordered=False)

        def client(sf: Any) -> Any:
            return getattr(sf.bulk2, sobject)._client

        early = self._early_jobs.pop(sobject, None)
        created = time.monotonic()
        try:
            if early is not None and early[0] == soql:
                if isinstance(early[1], SalesforceError):
                    raise early[1]
                job, created = {"id": early[1]}, early[2]
            else:
                job = self.client.call(f"bulk create {sobject}",
                                       lambda sf: client(sf).create_job(Operation.query_all, soql))
        except SalesforceError as exc:
            if exc.status in (400, 403, 404) and (
                    _BULK_UNSUPPORTED.search(str(exc.content)) or error_code(exc) in
                    ("INVALIDENTITY", "API_ERROR", "FEATURENOTENABLED")):
                raise _BulkUnavailable(error_message(exc)) from exc
            raise
        job_id = job["id"]
        with tempfile.TemporaryDirectory(prefix="advocacy-bulk-", dir=self._spool_dir()) as folder:

            def download(sf: Any, locator: str = "") -> dict[str, Any]:
                """One results page streamed into a file of ``folder`` (0700: personal data)."""
                return client(sf).download_job_data(folder, job_id, locator, BULK_MAX_RECORDS,
                                                    chunk_size=BULK_CHUNK_BYTES)

            page = self._first_results(sobject, job_id, client, created, fetch=download)
            while True:
                locator = page.get("locator") or ""
                last = not locator
                try:
                    self._commit(plan, _csv_file_values(page["file"]), tracker, res,
                                 full_refresh, commit_cursor=last)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(page["file"])
                if last:
                    break
                page = self.client.call(f"bulk results {sobject}",
                                        lambda sf, loc=locator: download(sf, loc))
        if self.delete_bulk_jobs:   # optional: Salesforce removes finished jobs after 7 days
            try:
                client(self.client.sf).delete_job(job_id, True)
            except Exception as exc:  # noqa: BLE001 - never fail a finished sync on this
                log.debug("salesforce: could not delete bulk job %s: %s", job_id, type(exc).__name__)

    def _spool_dir(self) -> str | None:
        """Where Bulk pages are spooled: beside the warehouse file (its folder is owner-only,
        and holds the same data), else the system's temporary folder."""
        path = self.warehouse.path
        return str(path.parent) if str(path) != ":memory:" and path.parent.is_dir() else None

    def _first_results(self, sobject: str, job_id: str, client: Callable[[Any], Any],
                       created: float | None = None, *,
                       fetch: Callable[..., dict[str, Any]] | None = None) -> dict[str, Any]:
        """The job's first results page, asked for ``bulk_poll_seconds`` after its creation
        (``created``, monotonic; default now) with no status request before it: a job done
        by then costs none. A job not done answers 412 ``JOB_NOT_COMPLETE``; its status is
        then polled until it is, and the results asked for again. ``fetch(sf)`` reads the
        page (default: the records as text)."""
        waited = 0.0 if created is None else time.monotonic() - created
        time.sleep(max(0.0, self.bulk_poll_seconds - waited))
        if fetch is None:
            def fetch(sf: Any, locator: str = "") -> dict[str, Any]:
                return client(sf).get_query_results(job_id, locator, BULK_MAX_RECORDS)

        def first(sf: Any) -> dict[str, Any] | None:
            try:
                return fetch(sf)
            except SalesforceError as exc:
                # 412 JOB_NOT_COMPLETE: still running. Any other refusal of the results
                # (a job that failed or was aborted) is for the status to explain: the poll
                # below raises _BulkUnavailable then, and REST reads the object instead
                if exc.status in (400, 404, 409, 412) and error_code(exc) != "REQUEST_LIMIT_EXCEEDED":
                    return None
                raise

        page = self.client.call(f"bulk results {sobject}", first)
        if page is not None:
            return page
        self._wait_for_job(sobject, job_id, client, first_wait=2 * self.bulk_poll_seconds)
        return self.client.call(f"bulk results {sobject}", fetch)

    def _wait_for_job(self, sobject: str, job_id: str, client: Callable[[Any], Any], *,
                      first_wait: float) -> None:
        """Polls the job after ``first_wait``, then with doubling waits (at most
        ``BULK_POLL_MAX_SECONDS``). Each poll is retried on its own; Failed/Aborted ->
        :class:`_BulkUnavailable`."""
        wait = max(0.0, first_wait)
        deadline = time.monotonic() + BULK_JOB_TIMEOUT.total_seconds()
        state = "UploadComplete"
        while True:
            time.sleep(wait)
            info = self.client.call(f"bulk poll {sobject}",
                                    lambda sf: client(sf).get_job(job_id, True))
            state = str(info.get("state") or "")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                raise _BulkUnavailable(
                    f"job {job_id} {state.lower()}: {str(info.get('errorMessage') or '')[:200]}")
            if time.monotonic() > deadline:
                raise SourceStopped(f"salesforce: Bulk 2.0 job {job_id} for {sobject} still "
                                    f"{state} after {BULK_JOB_TIMEOUT}; the next run retries")
            wait = min(BULK_POLL_MAX_SECONDS, max(wait * 2, 0.05))

    # -- writing -----------------------------------------------------------------------------
    def _commit(self, plan: _Plan, records: Iterable[dict[str, Any]], tracker: _CursorTracker,
                res: ObjectResult, full_refresh: bool, *, commit_cursor: bool) -> None:
        """One page: typed rows upserted, bad records quarantined, and (when asked) the cursor
        written, all in one transaction."""
        wh = self.warehouse
        sobject = plan.spec.sobject
        rows: list[dict[str, Any]] = []
        ids: list[str] = []
        deleted = n = 0
        version = plan.version

        def flush() -> int:
            """Rows so far into the table (inside the page's transaction): a Bulk page of
            50,000 records is written in slices, so its Python rows never all exist at once."""
            written = wh.upsert(plan.table, rows, version=version, extra_types=plan.extra_types)
            if full_refresh and ids:
                self._seen_add(plan, ids)
            rows.clear()
            ids.clear()
            return written

        with wh.transaction():
            for record in records:
                row, reason = self._row(plan, record)
                rid = record.get("Id") or None
                if row is None:
                    wh.quarantine(self.schema, sobject, rid, reason or "bad record", record)
                    if rid:
                        ids.append(str(rid))
                    continue
                rows.append(row)
                ids.append(row["id"])
                if row.get("_is_deleted"):
                    deleted += 1
                tracker.see(row.get(version) if version else None)
                if len(rows) >= WRITE_SLICE:
                    n += flush()
            n += flush()
            if commit_cursor and tracker.value is not None:
                wh.set_cursor(self.schema, plan.table.name,
                              {"field": plan.cursor_field, "value": iso_z(tracker.value)},
                              rows_synced=n + tracker.pending)
                tracker.pending = 0
            elif not commit_cursor:
                tracker.pending += n
        res.records += n
        res.deleted += deleted
        res.pages += 1
        self.progress.page(self.name, plan.table.name, res.pages, res.records)

    def _row(self, plan: _Plan, record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        rid = record.get("Id")
        if not rid or not isinstance(rid, str):
            return None, "record without Id"
        row: dict[str, Any] = {}
        try:
            for name, column, conv in plan.converters:
                row[column] = conv(record.get(name))
        except (ValueError, TypeError, ArithmeticError) as exc:
            return None, f"{name}: {exc}"[:200]
        if plan.cursor_field and row.get(snake_case(plan.cursor_field)) is None:
            return None, f"{plan.cursor_field} missing"
        row["_is_deleted"] = bool(row.get("is_deleted")) if plan.deletable else False
        return row, None

    # -- deletes -----------------------------------------------------------------------------
    def _sync_deleted(self, plan: _Plan, res: ObjectResult, full_refresh: bool) -> list[str]:
        """``sobjects/{O}/deleted``: :func:`connectors.salesforce_deletes.sync_deleted`."""
        from connectors.salesforce_deletes import sync_deleted

        return sync_deleted(self, plan, res, full_refresh)

    def _held_live(self, table: Table, ids: list[str]) -> list[str]:
        if not ids:
            return []
        rows = self.warehouse.with_ids(
            f"SELECT id FROM {table.schema}.{quote(table.name)} WHERE id IN "
            f"({{ids}}) AND NOT coalesce(_is_deleted, false)", ids)
        return [r[0] for r in rows]

    # -- full refresh reconciliation ---------------------------------------------------------
    def _seen_table(self, plan: _Plan) -> str:
        return f"__sf_seen_{plan.table.name}"

    def _seen_reset(self, plan: _Plan) -> None:
        name = self._seen_table(plan)
        self.warehouse.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} (id VARCHAR)")

    def _seen_add(self, plan: _Plan, ids: list[str]) -> None:
        batch = pa.table({"id": pa.array(ids, pa.string())})
        self.warehouse.conn.register("__sf_seen_batch", batch)
        try:
            self.warehouse.conn.execute(
                f"INSERT INTO {self._seen_table(plan)} SELECT id FROM __sf_seen_batch")
        finally:
            self.warehouse.conn.unregister("__sf_seen_batch")

    def _reconcile(self, plan: _Plan, res: ObjectResult) -> list[str]:
        """After a complete full read: ids we hold that the source no longer returns at all
        (purged, hard-deleted) are marked deleted."""
        t = plan.table
        name = self._seen_table(plan)
        conn = self.warehouse.conn
        gone = [r[0] for r in conn.execute(
            f"SELECT id FROM {t.schema}.{quote(t.name)} WHERE NOT coalesce(_is_deleted, false) "
            f"AND id NOT IN (SELECT id FROM {name})").fetchall()]
        if plan.spec.history:
            start = self.history_start()
            gone = [r[0] for r in self.warehouse.with_ids(
                f"SELECT id FROM {t.schema}.{quote(t.name)} WHERE id IN "
                f"({{ids}}) AND created_date >= ?", gone, [start])]
        with self.warehouse.transaction():
            self.warehouse.mark_deleted(t, gone)
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        if gone:
            res.deleted += len(gone)
            return [f"{len(gone)} records no longer in Salesforce marked deleted"]
        return []

    # -- reconciliation and check -------------------------------------------------------------
    def reconcile(self, *, objects: list[str] | None = None) -> SyncResult:
        """The id-only reconciliation (:mod:`connectors.salesforce_reconcile`): records the
        delete log lost marked deleted, records the windows missed read by Id, formula fields
        refreshed. Default weekly (Dagster); ``advocacy sync --reconcile``."""
        from connectors.salesforce_reconcile import reconcile

        return reconcile(self, objects)

    def check(self) -> list[Finding]:
        """Credentials and their host, permissions (does the user see every record?), objects,
        custom fields: :func:`connectors.salesforce_check.check`."""
        from connectors.salesforce_check import check

        return check(self)


# -- helpers -----------------------------------------------------------------------------------
FLS_FIX = ("give the integration user's profile or permission set read access to them "
           "(Setup > Object Manager > the object > Fields > Set Field-Level Security)")


def hidden_fields(table: Table, described: set[Any], multi_currency: bool) -> list[str]:
    """The core fields of ``table`` absent from the object's describe: Salesforce leaves out the
    fields field-level security hides from the user, and a query would then read them as null
    (an amount) or the corporate currency. ``CurrencyIsoCode`` only counts in a multi-currency
    org; custom fields (``__c``) are checked by `advocacy check` as setup, not as permissions."""
    return [f for f in table.source_fields
            if f not in described and not f.endswith("__c")
            and (multi_currency or f != "CurrencyIsoCode")]


def bulk_pays(total: int, already_read: int = 0, threshold: int | None = None, *,
              rest_page: int = REST_PAGE_RECORDS) -> bool:
    """Whether Bulk 2.0 should read the rest of a window of ``total`` records, ``already_read``
    of them read by REST: with a ``threshold``, ``total`` at or above it; without one, when a
    job (one create, then ``ceil(left/50000)`` result pages) costs fewer requests than the
    REST pages left (``ceil(left/rest_page)``): more than 4,000 records at 2,000 a page.
    Bulk's status polls are not counted: a job done before its first results request needs
    none (a real org's big jobs take longer: ``SALESFORCE_BULK_THRESHOLD`` can move the
    switch up)."""
    if threshold is not None:
        return total >= threshold
    left = total - already_read
    page = max(1, min(rest_page, REST_PAGE_RECORDS))
    return left > 0 and 1 + math.ceil(left / BULK_MAX_RECORDS) < math.ceil(left / page)


class _BulkUnavailable(Exception):
    """The object cannot be read through Bulk API 2.0: fall back to REST."""


class _CursorTracker:
    """The max cursor value seen (never below the stored one) and rows not yet covered by a
    written cursor (Bulk pages before the last)."""

    def __init__(self, plan: _Plan, stored: dt.datetime | None) -> None:
        self.value = stored
        self.seen: dt.datetime | None = None     # newest value read in this run
        self.pending = 0

    def see(self, value: Any) -> None:
        if not isinstance(value, dt.datetime):
            return
        if self.value is None or value > self.value:
            self.value = value
        if self.seen is None or value > self.seen:
            self.seen = value


def _wanted(objects: list[str] | None) -> set[str]:
    if not objects:
        return {s.sobject for s in OBJECTS}
    out = set()
    by_name = {}
    for s in OBJECTS:
        by_name[s.sobject.lower()] = s.sobject
        by_name[s.table.name.lower()] = s.sobject
    for o in objects:
        key = o.split(".")[-1].lower()
        if key not in by_name:
            raise ValueError(f"unknown Salesforce object {o!r}; known: "
                             f"{', '.join(s.table.name for s in OBJECTS)}")
        out.add(by_name[key])
    return out


def _is_missing(exc: SalesforceError) -> bool:
    return exc.status == 404 or error_code(exc) in _MISSING_CODES


def _rest_values(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes"}


def _csv_file_values(path: str) -> Iterator[dict[str, Any]]:
    """One Bulk 2.0 results page spooled to ``path``, a record at a time."""
    with open(path, newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _csv_values(text: str) -> Iterator[dict[str, Any]]:
    """One Bulk 2.0 results page (each page has its own header line)."""
    if not text:
        return iter(())
    return iter(csv.DictReader(io.StringIO(text, newline="")))
