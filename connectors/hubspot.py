"""HubSpot CRM -> ``hubspot.*`` raw tables, through the official ``hubspot-api-client``.

Tables (``connectors/schema.py``): contacts, companies, deals, deal_contact_associations,
owners, deal_pipelines.

How a sync reads (docs/ARCHITECTURE.md, "How each source is read"):

* **First run / --full-refresh**: the list endpoint (``GET /crm/v3/objects/{t}``, limit 100,
  ascending id) to the end: one request per 100 records, the cheapest full read, and no
  other request. The next incremental run starts from the server's clock when the listing
  began (``snapshot_ms``): the HTTP ``Date`` header of the object's first list response.
  HubSpot stamps modifications with that same clock, so a record changed while the list is
  paged gets a modification date at or after it; the incremental run's lookback
  (``HUBSPOT_SEARCH_LOOKBACK_MINUTES``) covers the header's one-second resolution, the time
  between reading the first page and stamping its header, and clock skew between HubSpot's
  hosts. The list reads the database, not the search index, so the index's lag plays no part
  here. The snapshot is kept in the cursor (``{"phase": "full", "after", "snapshot_ms"}``),
  so a killed run resumes with the same one. Only when the first response carries no usable
  ``Date`` does the connector fall back to one search sorted by the modified-date property
  DESC (limit 1): the newest modification the API knows.
* **Incremental**: search (``POST .../search``, limit 200) filtered ``modified >= floor`` AND
  ``hs_object_id > last_id``, sorted by ``hs_object_id`` ascending, where
  ``floor = cursor - lookback`` (``HUBSPOT_SEARCH_LOOKBACK_MINUTES``, 70 by default). The
  search index shows changes late *and out of order*, by up to about an hour: a change may be
  searchable before an older one, so the newest indexed change (the cursor) can pass a change
  not indexed yet. A lookback of the lag plus 10 minutes reaches back to it on the next run;
  upserts are idempotent, so re-reading an hour of changes costs only requests
  (``docs/PERFORMANCE.md``). Before the
  offset reaches 10,000 the window restarts at offset 0 with ``hs_object_id > last id seen``
  and the same date floor (never an endless loop when >10k records share one timestamp).
  The next cursor is the newest modification the search index knew when the run began (a
  DESC search, one request), so changes made while the run pages are read again next time.
  Here the server's clock would not do: search results come from an index that lags the
  database, so a record changed just before the run began may not be searchable yet, and a
  cursor at "now" would skip it for good; the newest *indexed* modification never passes a
  change the index has not shown us.
* **Deletes**: every run pages ``archived=true`` for each object and upserts those records
  with ``_is_deleted = true`` (with their properties: they may be new to us), one transaction
  per page, so memory stays flat however many records were ever archived. Contacts, companies
  and deals merged into another (``hs_merged_object_ids`` of the survivor; merged-away records
  are in no archived list) are marked deleted in the same
  transaction as the page (and cursor) that carried the survivor: a run that stops later
  cannot lose the merge. Records deleted for good (a GDPR delete, purged from the recycle
  bin 90 days after it was deleted) are in neither list: a full listing run from its first
  page to its last (``--full-refresh``) marks deleted the live rows it did not list, and so
  does :meth:`HubSpotSource.reconcile`, an id-only listing (no properties, 100 ids per
  request) run weekly by the Dagster ``reconciliation`` job or ``advocacy sync --reconcile``
  (:mod:`connectors.hubspot_sweeps`). Either refuses to mark deleted most of what we hold.
* **Crash safety**: a group of pages' rows (up to ``WRITE_BATCH``, 1,000 records; for deals
  with their association rows) and the cursor that covers them commit in one DuckDB
  transaction. The cursor also records where a run is (list ``after`` / search id floor), so
  a killed run resumes at the last group written; a run that stops on an error writes the
  pages it read first (deals excepted: their associations are not read yet).
* **Deal->contact associations**: v4 batch read for the deals synced in the run, up to 1,000
  ids per call (deal pages are buffered up to 1,000 ids and committed together with their
  associations); each deal's association rows are replaced (delete + insert) only when its
  associations were read completely or HubSpot confirmed it has none (``OBJECT_NOT_FOUND``).
  A deal with any other per-item error (a 207 answer) keeps its stored rows, is read once
  more, and if it still fails is quarantined (``association read failed``), counted, and
  kept in the ``deal_contact_associations:retry`` state: every later run reads it again
  until it succeeds, whether or not the deal changes.
* **Associations changed without touching the deal**: associating a contact with a deal
  moves neither record's modified date, so searching for changed deals never finds it. Every
  ``HUBSPOT_ASSOCIATION_SWEEP_DAYS`` days (default 7; 0 = every run) the deals sync reads the
  associations of every live deal we hold (1,000 per request) and replaces their rows; a full
  listing reads them all anyway and counts as a sweep (:mod:`connectors.hubspot_sweeps`).
* **Long property lists** (``HUBSPOT_EXTRA_PROPERTIES_*``): list GETs carry properties in the
  URL, and HubSpot answers ``414 URI Too Long`` past several thousand characters. Each page
  is requested once per property chunk (:func:`connectors.hubspot_http.property_chunks`) and
  the records merged by id. Search and batch reads carry properties in the body.
* **Proxies and CA bundles**: ``HTTPS_PROXY``/``NO_PROXY`` and ``HUBSPOT_CA_BUNDLE`` (else
  ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``) are handed to the client's urllib3 pool, which
  ignores the environment by itself (:mod:`connectors.hubspot_http`). A certificate that
  fails verification stops at once, naming the variable to set.
* ``HISTORY_START_DATE`` bounds **nothing** here, by design: contacts, companies, deals,
  associations, owners and pipelines are state, not events, and a full sync lists them all
  (the list endpoint cannot filter by date; a ``createdate`` search filter could, but would
  drop a contact created before the start who becomes an opportunity later, and the company
  and owner of a current deal). The value is still checked like every source's
  (:meth:`connectors.source.Settings.history_start`): a bad one raises
  :class:`connectors.source.InvalidSetting` before any request, the same line the other
  sources give.
* Responses are read on the client's raw path (``_preload_content=False``: same transport,
  auth and urllib3 retries) and decoded with ``json``; building the generated models costs
  more than the HTTP round trip on big pages (see ``docs/PERFORMANCE.md``).

Retries: urllib3 ``Retry`` inside the client (429/5xx on every method, POST included,
honouring Retry-After) and :func:`connectors.retry.call_with_retries` around each call for
what urllib3 cannot retry (a body cut mid-read, retries exhausted). HubSpot raises a
different ``ApiException`` class per sub-package, so errors are classified by ``.status``.
The access token is never logged or printed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import urllib3
from urllib3.util.retry import Retry

from connectors import hubspot_checks
from connectors import hubspot_sweeps as sweeps
from connectors import schema as raw
from connectors.ahead import Ahead
from connectors.hubspot_http import client_options, property_chunks
from connectors.retry import (
    RETRYABLE_STATUS,
    RetryPolicy,
    Verdict,
    call_with_retries,
    parse_retry_after,
)
from connectors.source import (
    Finding,
    ObjectResult,
    Progress,
    Settings,
    Source,
    SourceStopped,
    SyncResult,
)
from connectors.values import parse_money
from connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
OBJECTS = ("contacts", "companies", "deals")
PROPERTIES = {
    "contacts": raw.HUBSPOT_CONTACT_PROPERTIES,
    "companies": raw.HUBSPOT_COMPANY_PROPERTIES,
    "deals": raw.HUBSPOT_DEAL_PROPERTIES,
}
# Contacts must filter on lastmodifieddate (hs_lastmodifieddate silently matches nothing).
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate",
                     "deals": "hs_lastmodifieddate"}
SCOPES = {"contacts": "crm.objects.contacts.read", "companies": "crm.objects.companies.read",
          "deals": "crm.objects.deals.read", "owners": "crm.objects.owners.read"}
LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
ASSOC_BATCH = 1_000
WRITE_BATCH = ASSOC_BATCH     # records per write of a listing or search (pages grouped)
OWNERS_LIMIT = 100
# Search-index lag: HubSpot's search index shows changes late and out of order, by up to
# about an hour (docs/API_BEHAVIOUR.md); 60 minutes of that plus 10 for clock skew and the
# Date header's one-second resolution.
DEFAULT_LOOKBACK_MINUTES = 70
REQUEST_TIMEOUT = (10.0, 120.0)          # connect, read (seconds)
ASSOC_FAILED = "association read failed"     # quarantine reason
ASSOC_RETRY_KEY = "deal_contact_associations:retry"   # state: deal ids to read again

T_CONTACTS = raw.table("hubspot.contacts")
T_COMPANIES = raw.table("hubspot.companies")
T_DEALS = raw.table("hubspot.deals")
T_ASSOC = raw.table("hubspot.deal_contact_associations")
T_OWNERS = raw.table("hubspot.owners")
T_PIPELINES = raw.table("hubspot.deal_pipelines")
OBJECT_TABLES = {"contacts": T_CONTACTS, "companies": T_COMPANIES, "deals": T_DEALS}
# Money properties, parsed by the one rule every source shares (connectors/values.py): stored
# normalised (``1,234.50`` -> ``1234.50``); a value that is no amount quarantines the record.
MONEY_PROPERTIES = {"deals": ("amount",)}
RESERVED = {"id", "created_at", "updated_at", "archived", "archived_at", "_synced_at", "_is_deleted"}


# -- errors ------------------------------------------------------------------------------
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError,
    urllib3.exceptions.MaxRetryError, urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.DecodeError,
    http.client.HTTPException, ConnectionError, TimeoutError,
)


class TruncatedResponse(Exception):
    """A 2xx response whose body was not complete JSON (connection cut mid-body)."""


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _header(obj: object, name: str) -> str | None:
    """Header ``name`` of an exception or a response, or None."""
    headers = getattr(obj, "headers", None)
    if not headers:
        return None
    try:
        return headers.get(name)
    except AttributeError:
        return None


def classify(exc: BaseException) -> Verdict:
    """Retry rate limits, server errors and broken connections; give up on the rest."""
    if _untrusted_certificate(exc):       # configuration, not a passing fault
        return Verdict(False, reason="TLS certificate not trusted")
    if isinstance(exc, (*_CONNECTION_ERRORS, TruncatedResponse)):
        return Verdict(True, reason=type(exc).__name__)
    status = _status(exc)
    if status is not None and hasattr(exc, "reason") and hasattr(exc, "body"):  # an ApiException
        if status == 0:            # the SDK's wrapper for SSL/transport errors
            return Verdict(True, reason="transport error")
        if status in RETRYABLE_STATUS:
            return Verdict(True, parse_retry_after(_header(exc, "Retry-After")), f"HTTP {status}")
        return Verdict(False, reason=f"HTTP {status}")
    return Verdict(False, reason=type(exc).__name__)


def _untrusted_certificate(exc: BaseException) -> bool:
    """urllib3 gave up on a certificate it could not verify (the SDK's ApiException(status=0)
    or urllib3's MaxRetryError around an SSLError)."""
    text = f"{getattr(exc, 'reason', '')} {exc}".lower()
    return "certificate verify failed" in text


def api_message(exc: BaseException) -> str:
    """A short, token-free description of an API error."""
    if _untrusted_certificate(exc):
        return ("TLS certificate not trusted (behind a TLS-inspecting proxy? set HUBSPOT_CA_BUNDLE "
                "or REQUESTS_CA_BUNDLE to its CA bundle)")
    status = _status(exc)
    body = getattr(exc, "body", None)
    message = ""
    if body:
        try:
            data = json.loads(body)
            message = str(data.get("message") or data.get("category") or "")
        except (ValueError, AttributeError, TypeError):
            message = ""
    if status is not None:
        return f"HTTP {status}" + (f": {message}" if message else "")
    return f"{type(exc).__name__}: {exc}"


# -- values --------------------------------------------------------------------------------
def parse_ts(value: Any) -> dt.datetime | None:
    """HubSpot ISO timestamp (``2024-01-05T11:22:33.444Z``) or epoch ms -> naive UTC.
    Raises ValueError for anything else (the record is quarantined)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).replace(tzinfo=None)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def to_ms(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp() * 1000)


def http_date_ms(value: str | None) -> int | None:
    """An HTTP ``Date`` header (``Wed, 01 Jul 2026 00:00:00 GMT``) -> epoch ms, or None when
    it is absent or unparsable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:          # "-0000": UTC, origin unknown (RFC 5322)
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        ms = int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return None
    return ms if ms > 0 else None


def column_name(prop: str) -> str:
    name = prop.lower()
    return f"property_{name}" if name in RESERVED else name


_COLUMNS: dict[tuple[str, ...], tuple[list[tuple[str, str]], frozenset[str]]] = {}


def _columns_of(props: list[str]) -> tuple[list[tuple[str, str]], frozenset[str]]:
    """(property, column) of each property asked for, and their set: once per list."""
    key = tuple(props)
    if key not in _COLUMNS:
        _COLUMNS[key] = ([(p, column_name(p)) for p in props], frozenset(props))
    return _COLUMNS[key]


class HubSpotSource(Source):
    name = "hubspot"
    schema = "hubspot"

    def __init__(self, settings: Settings, warehouse: Warehouse, progress: Progress | None = None,
                 *, retry_policy: RetryPolicy | None = None, http_retries: int = 3):
        super().__init__(settings, warehouse, progress)
        self.retry_policy = retry_policy or RetryPolicy()
        self.http_retries = http_retries      # urllib3's own retries inside each attempt
        self._client: Any = None
        self._apis: dict[str, Any] = {}     # the client's API objects, built once (api())
        self.seen_ids: dict[str, list[str]] = {}   # listed ids not yet in the seen table (sweeps)
        self.requests = 0
        self._count_lock = threading.Lock()
        self._listed_whole: set[str] = set()    # objects listed from first to last page this run
        self._assoc_attempted: set[str] = set()  # deals whose associations this run read
        # records per write of a listing or search (HUBSPOT_WRITE_BATCH, default 1,000): fewer
        # writes is faster; fewer records per write loses less reading to a killed run
        self.write_batch = max(1, int(settings.get("HUBSPOT_WRITE_BATCH") or WRITE_BATCH))
        self._listing_snapshot_ms = 0              # server clock when the last full listing began
        # The server's clock (the ``Date`` header, epoch ms) of the latest answered call, or
        # None when that response had no usable one.
        self.last_server_time_ms: int | None = None

    # -- client ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return (self.settings.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def client(self) -> Any:
        if self._client is None:
            self.settings.require(self.name, "HUBSPOT_ACCESS_TOKEN")
            import hubspot

            retry = Retry(
                total=self.http_retries, connect=self.http_retries, read=self.http_retries,
                status=self.http_retries, other=min(2, self.http_retries),
                backoff_factor=0.5, backoff_max=30, backoff_jitter=0.25,
                status_forcelist=(429, 500, 502, 503, 504),
                allowed_methods=None,             # POST (search, batch read) too
                respect_retry_after_header=True,
                # urllib3 would otherwise wait up to 6 hours on a Retry-After, three times
                retry_after_max=int(self.retry_policy.max_retry_after),
                raise_on_status=False,            # the final 429/5xx comes back as ApiException
            )
            self._client = hubspot.Client.create(
                access_token=self.settings.get("HUBSPOT_ACCESS_TOKEN"),
                host=self.base_url, base_url=self.base_url, retry=retry,
                **client_options(self.settings, self.base_url),   # proxy, CA bundle
            )
        return self._client

    def api(self, path: str) -> Any:
        """The client's API object at ``path`` (``crm.objects.basic_api``), built once: the
        client's discovery builds a new one, with its own configuration, on every attribute
        access (4 % of a full sync's time at scale 10, docs/PERFORMANCE.md "Profiles")."""
        if path not in self._apis:
            obj = self.client()
            for part in path.split("."):
                obj = getattr(obj, part)
            self._apis[path] = obj
        return self._apis[path]

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One API call on the raw path: returns (status, decoded JSON body). The response's
        ``Date`` header is kept in :attr:`last_server_time_ms`."""

        def once() -> Any:
            with self._count_lock:      # a page read ahead counts from its worker thread
                self.requests += 1
            self.last_server_time_ms = None
            resp = fn(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
            self.last_server_time_ms = http_date_ms(_header(resp, "Date"))
            try:
                data = resp.data            # reads the whole body; a cut connection raises here
            finally:
                resp.release_conn()
            try:
                return resp.status, (json.loads(data) if data else {})
            except ValueError as exc:
                raise TruncatedResponse(f"{what}: incomplete JSON body ({len(data)} bytes)") from exc

        return call_with_retries(once, classify, policy=self.retry_policy, what=f"hubspot {what}")

    def _list_page(self, t: str, after: str | None, properties: list[str], archived: bool) -> dict:
        """One list page with ``properties``. A property list too long for one URL (414 URI Too
        Long) is requested in chunks for the same page and the records merged by id; a record
        missing from a later chunk's answer (archived in between) is left out of this page."""
        pages = []
        for chunk in property_chunks(properties):
            kwargs: dict[str, Any] = {"limit": LIST_LIMIT, "properties": chunk, "archived": archived}
            if after:
                kwargs["after"] = after
            pages.append(self._call(f"list {t}", self.api("crm.objects.basic_api").get_page, t, **kwargs)[1])
        first = pages[0]
        if len(pages) > 1:
            merged = {str(o.get("id")): o for o in first.get("results") or [] if isinstance(o, dict)}
            for page in pages[1:]:
                by_id = {str(o.get("id")): o for o in page.get("results") or [] if isinstance(o, dict)}
                for oid in list(merged):
                    if oid not in by_id:
                        log.info("hubspot %s %s: gone between property chunks; read next run", t, oid)
                        del merged[oid]
                        continue
                    merged[oid].setdefault("properties", {}).update(by_id[oid].get("properties") or {})
            first["results"] = list(merged.values())
        return first

    def _search(self, t: str, body: dict[str, Any]) -> dict:
        from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[Filter(**f) for f in g])
                           for g in body.get("filter_groups", [])],
            sorts=body.get("sorts", []), properties=body.get("properties", []),
            limit=body["limit"], after=body.get("after", "0"),
        )
        return self._call(f"search {t}", self.api("crm.objects.search_api").do_search,
                          t, request)[1]

    def _latest_modified_ms(self, t: str) -> int | None:
        """The newest modification date the search index knows (one request): the cursor of
        an incremental run, and of a full one whose list response had no ``Date``."""
        prop = MODIFIED_PROPERTY[t]
        page = self._search(t, {"sorts": [{"propertyName": prop, "direction": "DESCENDING"}],
                                "properties": [prop], "limit": 1})
        for r in page.get("results") or []:
            ts = r.get("updatedAt") or (r.get("properties") or {}).get(prop)
            try:
                parsed = parse_ts(ts)
            except ValueError:
                return None
            return to_ms(parsed) if parsed else None
        return None

    # -- settings ----------------------------------------------------------------------------
    def properties_for(self, t: str) -> list[str]:
        extra = self.settings.get(f"HUBSPOT_EXTRA_PROPERTIES_{t.upper()}") or ""
        names = [p.strip() for p in extra.split(",") if p.strip()]
        return list(dict.fromkeys([*PROPERTIES[t], *names]))

    @property
    def lookback_ms(self) -> int:
        minutes = float(self.settings.get("HUBSPOT_SEARCH_LOOKBACK_MINUTES") or DEFAULT_LOOKBACK_MINUTES)
        return int(minutes * 60_000)

    # -- rows --------------------------------------------------------------------------------
    def _row(self, t: str, obj: dict[str, Any], props_wanted: list[str],
             deleted: bool) -> dict[str, Any] | None:
        """API object -> raw row, or None after quarantining it."""
        wh = self.warehouse
        oid = obj.get("id") if isinstance(obj, dict) else None
        if not oid:
            wh.quarantine(self.schema, t, None, "missing id", obj)
            return None
        oid = str(oid)
        props = obj.get("properties") or {}
        row: dict[str, Any] = {"id": oid}
        columns, asked = _columns_of(props_wanted)
        for p, col in columns:
            v = props.get(p)
            row[col] = v if v is None or type(v) is str else _str(v)
        if not props.keys() <= asked:
            for p, v in props.items():      # returned beyond what we asked: drift columns
                row.setdefault(column_name(p), _str(v))
        for p in MONEY_PROPERTIES.get(t, ()):
            try:
                amount = parse_money(row.get(column_name(p)))
            except ValueError as exc:
                wh.quarantine(self.schema, t, oid, f"{p}: {exc}", obj)
                return None
            row[column_name(p)] = None if amount is None else str(amount)
        try:
            row["created_at"] = parse_ts(obj.get("createdAt"))
            row["updated_at"] = parse_ts(obj.get("updatedAt"))
        except (ValueError, TypeError, OverflowError):
            wh.quarantine(self.schema, t, oid, "unparsable createdAt/updatedAt", obj)
            return None
        try:
            row["archived_at"] = parse_ts(obj.get("archivedAt"))
        except (ValueError, TypeError, OverflowError):
            row["archived_at"] = None
        row["archived"] = bool(obj.get("archived", deleted))
        row["_is_deleted"] = deleted
        return row

    # -- sync --------------------------------------------------------------------------------
    def sync(self, *, full_refresh: bool = False, objects: list[str] | None = None) -> SyncResult:
        self.settings.require(self.name, "HUBSPOT_ACCESS_TOKEN")
        self.settings.history_start()   # bounds nothing here (module docstring), but checked
        sweeps.sweep_days(self)         # a bad HUBSPOT_ASSOCIATION_SWEEP_DAYS fails before any request
        wanted = objects or [*OBJECTS, "owners", "deal_pipelines"]
        result = SyncResult(self.name)
        wh = self.warehouse
        for table in raw.tables_of(self.schema):
            wh.ensure_table(table)
        try:
            for t in OBJECTS:
                if t in wanted:
                    result.objects.extend(self._sync_object(t, full_refresh))
            if "owners" in wanted:
                result.objects.append(self._sync_owners())
            if "deal_pipelines" in wanted:
                result.objects.append(self._sync_pipelines())
        except Exception as exc:
            if _status(exc) is not None or classify(exc).retry or _untrusted_certificate(exc):
                raise SourceStopped(f"hubspot stopped: {api_message(exc)} "
                                    "(everything committed before this is kept)") from exc
            raise
        return result

    def _sync_object(self, t: str, full_refresh: bool) -> list[ObjectResult]:
        wh = self.warehouse
        table = OBJECT_TABLES[t]
        started = time.monotonic()
        requests_before = self.requests
        res = ObjectResult(t)
        assoc = ObjectResult("deal_contact_associations") if t == "deals" else None
        self.progress.start(self.name, t)
        props = self.properties_for(t)
        cursor = None if full_refresh else wh.get_cursor(self.schema, t)
        q_before = self._quarantined(t)

        buffer: list[dict[str, Any]] = []       # pages read, not yet written
        merged: set[str] = set()                # records merged away, seen this run (few)

        def commit(rows: list[dict[str, Any]], new_cursor: dict[str, Any], force: bool = False) -> None:
            """Write rows (+ deal associations, + merge deletes) and the cursor that covers them,
            atomically. Pages are written in groups of up to ``WRITE_BATCH`` records (deals:
            with their associations, read 1,000 deals per request): one upsert per group
            instead of one per 100-record page, DuckDB's per-statement cost being most of a
            page's (docs/PERFORMANCE.md, "Profiles"); a run stopped mid-group reads those
            pages again from the last committed cursor."""
            buffer.extend(rows)
            if len(buffer) < self.write_batch and not force:
                return
            if t == "deals":
                self._commit_deals(buffer, new_cursor, res, assoc, merged)
            else:
                with wh.transaction():
                    n = wh.upsert(table, buffer, version="updated_at") if buffer else 0
                    gone = self._mark_merged(t, buffer, merged)
                    wh.set_cursor(self.schema, t, new_cursor, n)
                res.records += n
                res.deleted += gone
            buffer.clear()

        self._listed_whole.discard(t)
        self._assoc_attempted = set()
        pending: dict[str, Any] | None = None      # the cursor of the last page buffered
        try:
            for rows, new_cursor, last in self._pages(t, props, cursor, res):
                pending = new_cursor
                commit(rows, new_cursor, force=last)
                self.progress.page(self.name, t, res.pages, res.records + len(buffer))
        except Exception:
            # what was read before a stop is kept, as when every page was its own write
            # (deals need their associations read first: those pages are read again)
            if buffer and pending is not None and t != "deals":
                commit([], pending, force=True)
            raise
        if t in self._listed_whole:
            gone = sweeps.mark_vanished(self, t, f"__hs_seen_{t}")
            if gone:
                res.deleted += gone
                res.note += f"; {gone} records no longer in HubSpot marked deleted"

        # archived (deleted) records: every run, all of them, one page per transaction
        after = None
        while True:
            page = self._list_page(t, after, props, archived=True)
            res.pages += 1
            rows = [r for o in page.get("results") or []
                    if (r := self._row(t, o, props, deleted=True)) is not None]
            if rows:
                res.deleted += self._commit_archived(t, rows)
            self.progress.page(self.name, t, res.pages, res.records)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        if t == "deals":     # after the archived pass: a deal deleted since is not read again
            self._retry_associations(assoc)
            if t in self._listed_whole:     # every live deal's associations were just read
                with wh.transaction():
                    sweeps.record_sweep(self, self._listing_snapshot_ms)
            elif sweeps.sweep_due(self):
                sweeps.sweep_associations(self, assoc)

        res.quarantined = self._quarantined(t) - q_before
        res.requests = self.requests - requests_before
        res.seconds = time.monotonic() - started
        self.progress.done(self.name, res)
        out = [res]
        if assoc is not None:
            assoc.seconds = res.seconds
            out.append(assoc)
        return out

    def _mark_merged(self, t: str, rows: list[dict[str, Any]], merged: set[str]) -> int:
        """Mark deleted the records merged away into a survivor on this page (and any row of
        this page merged away earlier in the run): contacts, companies and deals alike (a
        merged-away deal is in no archived list, and left live it counts its amount twice; its
        contact associations go with it). Runs inside the page's transaction, so the deletes
        commit with the rows and the cursor that moves past the survivor. Returns how many
        stored live records became deleted."""
        found: set[str] = set()
        for r in rows:
            value = r.get("hs_merged_object_ids")
            if value:
                found.update(x.strip() for x in str(value).split(";") if x.strip())
        merged |= found
        ids = found | {r["id"] for r in rows if r["id"] in merged}
        if not ids:
            return 0
        table = OBJECT_TABLES[t]
        live = [i for (i,) in self.warehouse.with_ids(
            f"SELECT id FROM {table.schema}.{raw.quote(table.name)} "
            "WHERE NOT coalesce(_is_deleted, false) AND id IN ({ids}) ORDER BY id", ids)]
        if live:
            self.warehouse.mark_deleted(table, live)
        if t == "deals":
            self.warehouse.with_ids(
                f"DELETE FROM {T_ASSOC.schema}.{raw.quote(T_ASSOC.name)} "
                "WHERE deal_id IN ({ids})", ids)
        return len(live)

    def _commit_archived(self, t: str, rows: list[dict[str, Any]]) -> int:
        """One page of archived records, in its own transaction. Only records not already
        stored as deleted are written (archiving is final: the list repeats the same records
        every run, and rewriting them would cost a night's writes for nothing). Returns how
        many became deleted."""
        wh = self.warehouse
        table = OBJECT_TABLES[t]
        ids = list(dict.fromkeys(r["id"] for r in rows))
        with wh.transaction():
            already = {i for (i,) in wh.with_ids(
                f"SELECT id FROM {table.schema}.{raw.quote(table.name)} "
                "WHERE _is_deleted AND id IN ({ids})", ids)}
            new = [r for r in rows if r["id"] not in already]
            if not new:
                return 0
            wh.upsert(table, new)           # no version guard: archiving is final
            if t == "deals":
                wh.with_ids(
                    f"DELETE FROM {T_ASSOC.schema}.{raw.quote(T_ASSOC.name)} "
                    "WHERE deal_id IN ({ids})", [r["id"] for r in new])
        return len({r["id"] for r in new})

    def _quarantined(self, t: str) -> int:
        return sum(n for (s, o, _), n in self.warehouse.quarantined.items() if s == self.schema and o == t)

    def _pages(self, t: str, props: list[str], cursor: dict[str, Any] | None,
               res: ObjectResult) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any], bool]]:
        """Yield (rows, cursor after these rows, is_last) for the live records to read."""
        if not cursor or cursor.get("phase") == "full" or "modified_since_ms" not in cursor:
            yield from self._full_pages(t, props, cursor or {}, res)
        else:
            yield from self._search_pages(t, props, cursor, res)

    def _full_pages(self, t: str, props: list[str], cursor: dict[str, Any],
                    res: ObjectResult) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any], bool]]:
        """List every live record. The cursor the next incremental run starts from
        (``snapshot_ms``) is the server's clock when the listing began: the ``Date`` of the
        first list response. HubSpot stamps modifications with that clock, so whatever
        changes while the list is paged is dated at or after it (the incremental lookback
        covers the header's one-second resolution and clock skew). No extra request. A
        resumed run keeps the snapshot its cursor carries. Without a usable ``Date``, one
        DESC search takes the newest modification the API knows instead (it comes after the
        first page by one round trip, which the lookback also covers)."""
        after = cursor.get("after") if cursor.get("phase") == "full" else None
        snapshot = cursor.get("snapshot_ms") if after else None
        res.note = "full"
        # a listing from the first page sees every live id: what we hold live and it does not
        # list was deleted for good (GDPR delete, purged, merged away); see sweeps.mark_vanished
        complete = after is None
        if complete:
            sweeps.seen_table(self, t)
        # the next page is asked for while this one is turned into rows and written (ahead.py)
        with Ahead() as ahead:
            pending = ahead.submit(self._list_page, t, after, props, archived=False)
            while True:
                page = pending.result()
                if snapshot is None:        # the first page: no other request made since
                    snapshot = self.last_server_time_ms
                    if snapshot is None:
                        log.info("hubspot %s: no usable Date header, taking the cursor from a search", t)
                        snapshot = self._latest_modified_ms(t) or 0
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending = ahead.submit(self._list_page, t, after, props, archived=False)
                if complete:     # before the page commits (the consumer commits after the yield)
                    sweeps.add_seen(self, t, page.get("results") or [])
                res.pages += 1
                rows = [r for o in page.get("results") or []
                        if (r := self._row(t, o, props, deleted=False)) is not None]
                if after:
                    yield rows, {"phase": "full", "after": after, "snapshot_ms": snapshot}, False
                else:
                    if complete:
                        self._listed_whole.add(t)
                        self._listing_snapshot_ms = int(snapshot)
                    yield rows, {"phase": "incremental", "modified_since_ms": snapshot}, True
                    return

    def _search_pages(self, t: str, props: list[str], cursor: dict[str, Any],
                      res: ObjectResult) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any], bool]]:
        """Keyset paging over the search index: every request asks for ``modified >= floor``
        AND ``hs_object_id > last id seen``, sorted by id, from offset 0. Each page is thus a
        new window, so the 10,000-result cap is never approached, a record archived mid-run
        cannot shift the offsets (and hide another), and a killed run resumes at its id."""
        prop = MODIFIED_PROPERTY[t]
        since = int(cursor["modified_since_ms"])
        window = cursor.get("window") or {}
        if window:      # resume a run that stopped part-way
            floor, last_id, snapshot = int(window["floor_ms"]), int(window["last_id"]), int(window["snapshot_ms"])
        else:
            floor, last_id = max(0, since - self.lookback_ms), 0
            latest = self._latest_modified_ms(t)
            snapshot = max(since, latest) if latest is not None else since
        res.note = "incremental"
        while True:
            filters = [{"property_name": prop, "operator": "GTE", "value": str(floor)}]
            if last_id:
                filters.append({"property_name": "hs_object_id", "operator": "GT", "value": str(last_id)})
            page = self._search(t, {
                "filter_groups": [filters],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": props, "limit": SEARCH_LIMIT, "after": "0",
            })
            res.pages += 1
            results = page.get("results") or []
            rows = [r for o in results if (r := self._row(t, o, props, deleted=False)) is not None]
            ids = [int(o["id"]) for o in results if str(o.get("id", "")).isdigit()]
            more = bool(((page.get("paging") or {}).get("next") or {}).get("after"))
            if not more or not ids or max(ids) <= last_id:
                yield rows, {"phase": "incremental", "modified_since_ms": snapshot}, True
                return
            last_id = max(ids)
            yield rows, {"phase": "incremental", "modified_since_ms": since,
                         "window": {"floor_ms": floor, "last_id": last_id,
                                    "snapshot_ms": snapshot}}, False

    def _commit_deals(self, rows: list[dict[str, Any]], cursor: dict[str, Any],
                      res: ObjectResult, assoc: ObjectResult | None,
                      merged: set[str] | None = None) -> None:
        wh = self.warehouse
        ids = list(dict.fromkeys(r["id"] for r in rows))
        self._assoc_attempted.update(ids)
        assoc_rows, read_ids, failed = self._associations(ids, assoc) if ids else ([], [], {})
        with wh.transaction():
            n = wh.upsert(T_DEALS, rows, version="updated_at") if rows else 0
            self._write_associations(assoc_rows, read_ids, failed)
            gone = self._mark_merged("deals", rows, merged if merged is not None else set())
            wh.set_cursor(self.schema, "deals", cursor, n)
        res.records += n
        res.deleted += gone
        if assoc is not None:
            assoc.records += len(assoc_rows)
            assoc.quarantined += len(failed)

    def _write_associations(self, assoc_rows: list[dict[str, Any]], read_ids: list[str],
                            failed: dict[str, dict[str, Any]]) -> None:
        """Inside the caller's transaction: replace the rows of the deals read completely (a
        failed read keeps its rows), quarantine the failures, and keep the failed ids in the
        ``deal_contact_associations:retry`` state, so the next run reads them again even when
        the deal itself does not change."""
        wh = self.warehouse
        if read_ids:
            wh.with_ids(
                f"DELETE FROM {T_ASSOC.schema}.{raw.quote(T_ASSOC.name)} "
                "WHERE deal_id IN ({ids})", read_ids)
        if assoc_rows:
            wh.upsert(T_ASSOC, assoc_rows)
        for deal_id, err in failed.items():
            wh.quarantine(self.schema, T_ASSOC.name, deal_id, ASSOC_FAILED, {
                "deal_id": deal_id, "category": err.get("category"),
                "subCategory": err.get("subCategory"), "message": err.get("message")})
        pending = self._pending_associations()
        after = (pending - set(read_ids)) | set(failed)
        if after != pending:
            wh.set_cursor(self.schema, ASSOC_RETRY_KEY, {"deal_ids": sorted(after)})

    def _pending_associations(self) -> set[str]:
        state = self.warehouse.get_cursor(self.schema, ASSOC_RETRY_KEY)
        return {str(i) for i in (state or {}).get("deal_ids") or []} if isinstance(state, dict) else set()

    def _retry_associations(self, assoc: ObjectResult | None) -> None:
        """The deals whose associations failed in an earlier run and were not read in this
        one: read again, each in the same way as a deal page's."""
        pending = self._pending_associations()
        retry = sorted(pending - self._assoc_attempted)
        if retry:   # a deal deleted since (archived, merged away, reconciled) is not read again
            gone = {i for (i,) in self.warehouse.with_ids(
                f"SELECT id FROM {T_DEALS.schema}.{raw.quote(T_DEALS.name)} WHERE _is_deleted "
                "AND id IN ({ids})", retry)}
            if gone:
                retry = [i for i in retry if i not in gone]
                with self.warehouse.transaction():
                    self.warehouse.set_cursor(self.schema, ASSOC_RETRY_KEY,
                                              {"deal_ids": sorted(pending - gone)})
        for i in range(0, len(retry), ASSOC_BATCH):
            ids = retry[i:i + ASSOC_BATCH]
            assoc_rows, read_ids, failed = self._associations(ids, assoc)
            with self.warehouse.transaction():
                self._write_associations(assoc_rows, read_ids, failed)
            if assoc is not None:
                assoc.records += len(assoc_rows)
                assoc.quarantined += len(failed)

    def _associations(self, deal_ids: list[str], res: ObjectResult | None
                      ) -> tuple[list[dict[str, Any]], list[str], dict[str, dict[str, Any]]]:
        """Deal->contact associations of ``deal_ids``: (rows, ids read, ids failed).

        *ids read* were read completely (every page) or HubSpot confirmed they have no
        associations: their stored rows may be replaced by *rows*. *ids failed* (id -> the
        error) got any other error, twice: their stored rows must be kept."""
        rows, done, failed = self._read_associations(deal_ids, res)
        if failed:
            log.warning("hubspot associations: %d deal(s) failed, reading them once more", len(failed))
            more, done_again, failed = self._read_associations(list(failed), res)
            rows.extend(more)
            done.extend(done_again)
        for deal_id, err in failed.items():
            log.warning("hubspot associations of deal %s not read (%s: %s); its stored "
                        "associations are kept", deal_id, err.get("category"), err.get("message"))
        return rows, done, failed

    def _read_associations(self, deal_ids: list[str], res: ObjectResult | None
                           ) -> tuple[list[dict[str, Any]], list[str], dict[str, dict[str, Any]]]:
        api = self.api("crm.associations.v4.batch_api")
        out: dict[str, dict[tuple[str, str, int], dict[str, Any]]] = {}
        done: set[str] = set()
        failed: dict[str, dict[str, Any]] = {}
        pending: list[tuple[str, str | None]] = [(i, None) for i in deal_ids]
        while pending:
            chunk, pending = pending[:ASSOC_BATCH], pending[ASSOC_BATCH:]
            # the body as the JSON it becomes: the client's request models cost more than
            # the request itself (1,000 of them per batch; docs/PERFORMANCE.md "Profiles")
            body = {"inputs": [{"id": i, "after": a} if a else {"id": i} for i, a in chunk]}
            status, page = self._call("associations deals->contacts", api.get_page,
                                      "deals", "contacts", body)
            if res is not None:
                res.pages += 1
            requested = {i for i, _ in chunk}
            answered: set[str] = set()
            for item in page.get("results") or []:
                deal_id = str((item.get("from") or {}).get("id"))
                answered.add(deal_id)
                rows = out.setdefault(deal_id, {})
                for to in item.get("to") or []:
                    for at in to.get("associationTypes") or [{}]:
                        type_id = at.get("typeId")
                        key = (deal_id, str(to.get("toObjectId")), int(type_id) if type_id is not None else -1)
                        rows[key] = {"deal_id": key[0], "contact_id": key[1],
                                     "association_type_id": key[2],
                                     "association_category": at.get("category")}
                nxt = ((item.get("paging") or {}).get("next") or {}).get("after")
                if nxt:
                    pending.append((deal_id, nxt))
                else:
                    done.add(deal_id)
            unattributed: dict[str, Any] | None = None
            for err in page.get("errors") or []:
                ids = _error_ids(err)
                if not ids:
                    unattributed = unattributed or err
                for i in ids:
                    if i not in requested:
                        continue
                    answered.add(i)
                    if err.get("category") == "OBJECT_NOT_FOUND":     # no associations
                        done.add(i)
                    else:
                        failed.setdefault(i, err)
            for i, _ in chunk:      # neither a result nor an error names it: not read
                if i not in answered:
                    failed.setdefault(i, unattributed or {
                        "category": f"HTTP {status}", "message": "no result or error for this id"})
        for i in failed:
            out.pop(i, None)
            done.discard(i)
        rows_out = [r for i in done for r in out.get(i, {}).values()]
        return rows_out, sorted(done), failed

    def _sync_owners(self) -> ObjectResult:
        res = ObjectResult("owners")
        started, before = time.monotonic(), self.requests
        self.progress.start(self.name, "owners")
        api = self.client().crm.owners.owners_api
        rows: list[dict[str, Any]] = []
        for archived in (False, True):
            after = None
            while True:
                kwargs: dict[str, Any] = {"limit": OWNERS_LIMIT, "archived": archived}
                if after:
                    kwargs["after"] = after
                page = self._call("owners", api.get_page, **kwargs)[1]
                res.pages += 1
                for o in page.get("results") or []:
                    if not o.get("id"):
                        self.warehouse.quarantine(self.schema, "owners", None, "missing id", o)
                        res.quarantined += 1
                        continue
                    try:
                        created, updated = parse_ts(o.get("createdAt")), parse_ts(o.get("updatedAt"))
                    except (ValueError, TypeError):
                        self.warehouse.quarantine(self.schema, "owners", str(o["id"]),
                                                  "unparsable createdAt/updatedAt", o)
                        res.quarantined += 1
                        continue
                    rows.append({
                        "id": str(o["id"]), "email": o.get("email"),
                        "first_name": o.get("firstName"), "last_name": o.get("lastName"),
                        "type": o.get("type"), "user_id": o.get("userId"),
                        "archived": bool(o.get("archived", archived)),
                        "created_at": created, "updated_at": updated,
                        "teams": json.dumps(o.get("teams") or []),
                        "_is_deleted": bool(o.get("archived", archived)),
                    })
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        with self.warehouse.transaction():
            q_before = self._quarantined("owners")   # rows the writer quarantines (userId beyond BIGINT)
            res.records = self.warehouse.upsert(T_OWNERS, rows) if rows else 0
            res.quarantined += self._quarantined("owners") - q_before
            res.deleted = sum(1 for r in rows if r["_is_deleted"])
            self.warehouse.set_cursor(self.schema, "owners", {"synced": True}, res.records)
        res.requests, res.seconds = self.requests - before, time.monotonic() - started
        self.progress.done(self.name, res)
        return res

    def _sync_pipelines(self) -> ObjectResult:
        res = ObjectResult("deal_pipelines")
        started, before = time.monotonic(), self.requests
        self.progress.start(self.name, "deal_pipelines")
        page = self._call("pipelines", self.api("crm.pipelines.pipelines_api").get_all, "deals")[1]
        res.pages = 1
        rows = []
        for p in page.get("results") or []:
            for s in p.get("stages") or []:
                meta = s.get("metadata") or {}
                try:
                    probability = float(meta["probability"]) if meta.get("probability") not in (None, "") else None
                except (TypeError, ValueError):
                    probability = None
                rows.append({
                    "pipeline_id": str(p.get("id")), "pipeline_label": p.get("label"),
                    "stage_id": str(s.get("id")), "stage_label": s.get("label"),
                    "display_order": s.get("displayOrder"), "probability": probability,
                    "is_closed": str(meta.get("isClosed", "")).lower() == "true",
                    "archived": bool(s.get("archived") or p.get("archived")),
                    "_is_deleted": bool(s.get("archived") or p.get("archived")),
                })
        with self.warehouse.transaction():
            res.records = self.warehouse.replace_partition(T_PIPELINES, "true", [], rows) if rows else 0
            self.warehouse.set_cursor(self.schema, "deal_pipelines", {"synced": True}, res.records)
        res.requests, res.seconds = self.requests - before, time.monotonic() - started
        self.progress.done(self.name, res)
        return res

    def reconcile(self, objects: list[str] | None = None) -> SyncResult:
        """Id-only reconciliation (:func:`connectors.hubspot_sweeps.reconcile`): live rows of
        contacts, companies and deals that HubSpot no longer lists at all (GDPR deletes,
        purged from the recycle bin) are marked deleted. About one request per 100 records.
        With deals, then the association sweep: every live deal's contacts read again (adding
        a contact to a deal moves neither record's modified date), one request per 1,000 deals;
        the nightly run's own sweep then waits HUBSPOT_ASSOCIATION_SWEEP_DAYS from this one."""
        self.settings.require(self.name, "HUBSPOT_ACCESS_TOKEN")
        for table in raw.tables_of(self.schema):
            self.warehouse.ensure_table(table)
        result = SyncResult(self.name)
        try:
            result.objects.extend(sweeps.reconcile(self, [t for t in OBJECTS if not objects or t in objects]))
            if not objects or "deals" in objects:
                assoc = ObjectResult("deal_contact_associations")
                self._assoc_attempted = set()
                sweeps.sweep_associations(self, assoc)
                result.objects.append(assoc)
        except Exception as exc:
            if _status(exc) is not None or classify(exc).retry or _untrusted_certificate(exc):
                raise SourceStopped(f"hubspot reconciliation stopped: {api_message(exc)} "
                                    "(nothing was marked deleted for the object it stopped in)") from exc
            raise
        return result

    # -- check -------------------------------------------------------------------------------
    def check(self) -> list[Finding]:
        self.settings.require(self.name, "HUBSPOT_ACCESS_TOKEN")
        blocked = hubspot_checks.ca_problem(self)
        if blocked is not None:
            return [blocked]
        findings: list[Finding] = []
        quick = RetryPolicy(attempts=2, base_delay=0.2, max_delay=2)
        saved, self.retry_policy = self.retry_policy, quick
        try:
            client = self.client()
            try:
                self._call("owners", client.crm.owners.owners_api.get_page, limit=1)
                findings.append(Finding(self.name, True, f"token accepted by {self.base_url}"))
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                status = _status(exc)
                if status == 401:
                    findings.append(Finding(self.name, False, "token rejected (HTTP 401)",
                                            "create a private-app token and set HUBSPOT_ACCESS_TOKEN"))
                    return findings
                if status == 403:
                    findings.append(Finding(self.name, False, "owners not readable (HTTP 403)",
                                            f"add scope {SCOPES['owners']} to the private app"))
                else:
                    message = api_message(exc)
                    findings.append(Finding(self.name, False, f"cannot reach HubSpot: {message}",
                                            hubspot_checks.unreachable_fix(message)))
                    return findings
            for t in OBJECTS:
                try:
                    self._call(f"list {t}", client.crm.objects.basic_api.get_page, t, limit=1)
                    findings.append(Finding(self.name, True, f"{t} readable"))
                except Exception as exc:  # noqa: BLE001
                    fix = f"add scope {SCOPES[t]} to the private app" if _status(exc) == 403 else ""
                    findings.append(Finding(self.name, False, f"{t} not readable ({api_message(exc)})", fix))
            wanted = {"contacts": ["ga_client_id", "salesforceleadid", "salesforcecontactid"],
                      "deals": ["salesforceopportunityid"]}
            for t, names in wanted.items():
                try:
                    page = self._call(f"properties {t}", client.crm.properties.core_api.get_all, t)[1]
                except Exception as exc:  # noqa: BLE001
                    findings.append(Finding(self.name, False, f"{t} properties not readable ({api_message(exc)})",
                                            f"add scope {SCOPES[t]} to the private app"))
                    continue
                have = {p.get("name") for p in page.get("results") or []}
                for n in names:
                    if n in have:
                        findings.append(Finding(self.name, True, f"{t} property {n} exists"))
                    elif n == "ga_client_id":
                        findings.append(Finding(
                            self.name, False, f"{t} property {n} missing",
                            "create a single-line text contact property ga_client_id and fill it "
                            "from a hidden form field with the GA client id (README)"))
                    else:
                        findings.append(Finding(
                            self.name, False, f"{t} property {n} missing",
                            "install the HubSpot-Salesforce integration so records carry their "
                            "Salesforce ids (identity stitching needs them)"))
                extra = [p for p in self.properties_for(t) if p not in PROPERTIES[t] and p not in have]
                if extra:
                    findings.append(Finding(self.name, False,
                                            f"{t}: HUBSPOT_EXTRA_PROPERTIES_{t.upper()} names unknown "
                                            f"properties: {', '.join(extra)}", "fix the property names"))
            findings.extend(hubspot_checks.setting_findings(self))   # after the blockers
        finally:
            self.retry_policy = saved
        return findings


def _error_ids(err: dict[str, Any]) -> list[str]:
    """The object ids a v4 batch error names (``context.fromObjectId`` or ``context.ids``)."""
    context = err.get("context") or {}
    ids: list[str] = []
    for name in ("fromObjectId", "ids", "id"):
        value = context.get(name) if isinstance(context, dict) else None
        if isinstance(value, list):
            ids.extend(str(v) for v in value)
        elif value is not None:
            ids.append(str(value))
    return ids


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
