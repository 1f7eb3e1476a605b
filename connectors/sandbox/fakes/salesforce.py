"""A wire-compatible fake of Salesforce (OAuth token endpoint, REST query/queryAll, describe,
getDeleted/getUpdated, limits and record counts, Composite Batch, Bulk API 2.0 query jobs)
served from the world store.

The real ``simple_salesforce`` client (REST and ``bulk2``) is the judge, and Salesforce's own
REST and Bulk API 2.0 documentation the source of the wire facts it follows. It must be served over
HTTPS (simple-salesforce hard-codes ``https://``)::

    app = SalesforceApp(store_path)
    server = FakeServer(app, ssl_context=tls.server_context(cert, key)).start()

What the fake knows of its own address (for ``instance_url`` and absolute URLs), in order:
``instance_url_getter()``, ``app.base_url`` (set by :class:`FakeServer`), the ``Host`` header.

State that changes while serving (``clock``, ``multi_currency``, records) is re-read from the
store on every request, so advancing the world is seen without a restart.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import json
import math
import re
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from connectors.sandbox import catalog
from connectors.sandbox.config import WorldConfig, sandbox_credentials
from connectors.sandbox.fakes import salesforce_describe as describe_mod
from connectors.sandbox.fakes import salesforce_oauth as oauth
from connectors.sandbox.fakes import soql
from connectors.sandbox.fakes._common import StoreReader
from connectors.sandbox.fakes.base import App, Request, Response

API_LIMIT = 15_000
DEFAULT_BATCH = 2_000
MIN_BATCH, MAX_BATCH = 200, 2_000
BULK_DEFAULT_MAX_RECORDS = 50_000
CURSOR_TTL_SECONDS = 15 * 60
MAX_OPEN_CURSORS = 50     # real orgs allow 10 open cursors per user; older ones are dropped
MAX_JOBS = 200            # query jobs kept (oldest forgotten first); real orgs keep them 7 days
MAX_BATCH_REQUESTS = 25   # Composite Batch: at most 25 subrequests per call
MAX_URI_BYTES = 16_384    # longer request lines get 414 (wide objects' GET queries)
BULK_BASE_SECONDS = 0.2           # a query job is JobComplete this long after its creation ...
BULK_SECONDS_PER_RECORD = 2e-6    # ... plus this per record (50,000 records: +0.1 s)
ORG_ID = "00D5e000000SBX1EAG"
INTEGRATION_USER_ID = "0055e000000SBX1AAG"
_ID_CHARS = string.ascii_letters + string.digits
_DATA_RE = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)(?:/(?P<rest>.*))?$")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, [{"message": message, "errorCode": code}], headers)


def _not_found() -> Response:
    return _error(404, "NOT_FOUND", "The requested resource does not exist")


def _sf_datetime(value: dt.datetime) -> str:
    """``2024-03-31T18:00:01.000+0000``: the REST API's datetime form."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _z_datetime(value: dt.datetime) -> str:
    """``2024-03-31T18:00:01.000Z``: the store's sortable form and Bulk CSV's form."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _random_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_CHARS) for _ in range(18 - len(prefix)))


@dataclasses.dataclass
class _Context:
    """What one request knows about the world (re-read per request)."""

    meta: dict[str, Any]
    now: dt.datetime
    multi_currency: bool
    schema: soql.Schema

    @property
    def today(self) -> dt.date:
        return self.now.date()


@dataclasses.dataclass
class _Cursor:
    query: soql.Query
    ids: list[str]
    include_deleted: bool
    batch: int
    touched: float


@dataclasses.dataclass
class _Job:
    id: str
    operation: str
    query: soql.Query
    ids: list[str]
    created: str
    column_delimiter: str
    line_ending: str
    state: str = "UploadComplete"
    polls: int = 0                   # status GETs answered InProgress
    api_version: float = 59.0
    ready_at: float = 0.0            # time.monotonic() from which the job may be complete

    def info(self, *, complete: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.query.sobject,
            "createdById": INTEGRATION_USER_ID,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.api_version,
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        if complete:
            body.update({
                "jobType": "V2Query",
                "numberRecordsProcessed": len(self.ids) if self.state == "JobComplete" else 0,
                "retries": 0,
                "totalProcessingTime": 0 if self.state != "JobComplete" else 50 + len(self.ids) // 100,
            })
        return body


_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_STATE_CODES = {
    "Open": "OPEN", "UploadComplete": "UPLOAD_COMPLETE", "InProgress": "IN_PROGRESS",
    "Aborted": "ABORTED", "Failed": "FAILED", "JobComplete": "JOB_COMPLETE",
}


class SalesforceApp(App):
    """The Salesforce fake. Public knobs: ``base_url`` (set by the server), ``api_limit``,
    ``bulk_in_progress_polls`` (job GETs answered ``InProgress`` before ``JobComplete``,
    whatever the time), ``bulk_seconds`` (a job is processed this long after its creation,
    plus ``BULK_SECONDS_PER_RECORD`` per record: a status GET before then answers
    ``InProgress``, results 412), ``issued_tokens`` (a copy of the valid access tokens)."""

    service = "salesforce"
    base_url: str = ""

    def __init__(
        self,
        store_path: str | Path,
        *,
        api_version: str = "59.0",
        instance_url_getter: Callable[[], str] | None = None,
        bulk_in_progress_polls: int = 0,
        bulk_seconds: float = BULK_BASE_SECONDS,
    ) -> None:
        super().__init__()
        self.store_path = Path(store_path)
        self.api_version = api_version
        self.api_limit = API_LIMIT
        self.bulk_in_progress_polls = bulk_in_progress_polls
        self.bulk_seconds = bulk_seconds
        self._instance_url_getter = instance_url_getter
        self._reader = StoreReader(store_path)
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._jobs: dict[str, _Job] = {}
        self._api_usage = 0
        self._schemas: dict[tuple[bool, tuple[str, ...]], soql.Schema] = {}
        # getDeleted: ids above which EXCEEDED_ID_LIMIT answers, and the delete log's size
        # beyond which it is purged early (None: the world config's sf_deleted_id_limit and
        # sf_delete_log_limit)
        self.jwt_public_key_pem: bytes | None = None   # the connected app's certificate key
        self.deleted_id_limit: int | None = None
        self.delete_log_limit: int | None = None

    # -- public helpers ---------------------------------------------------------------------
    @property
    def issued_tokens(self) -> set[str]:
        with self._lock:
            return set(self._tokens)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def instance_url(self, request: Request | None = None) -> str:
        if self._instance_url_getter is not None:
            return self._instance_url_getter().rstrip("/")
        if self.base_url:
            return self.base_url.rstrip("/")
        host = request.headers.get("host") if request else None
        return f"https://{host}" if host else ""

    # -- App hooks --------------------------------------------------------------------------
    def exempt(self, request: Request) -> bool:
        return request.path.startswith("/services/oauth2/")

    def _limit_header(self, used: int | None = None) -> dict[str, str]:
        with self._lock:
            n = self._api_usage if used is None else used
        return {"Sforce-Limit-Info": f"api-usage={min(n, self.api_limit)}/{self.api_limit}"}

    def rate_limited(self, retry_after: float | None) -> Response:
        headers = self._limit_header()
        if retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(float(retry_after))))
        return _error(429, "TOO_MANY_REQUESTS",
                      "Too many requests. Retry after the time given in Retry-After.", headers)

    def server_error(self, status: int) -> Response:
        headers = self._limit_header()
        if status == 503:
            headers["Retry-After"] = "1"
            return _error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please retry.", headers)
        if status == 502:
            headers["Content-Type"] = "text/html; charset=UTF-8"
            return Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", headers)
        return _error(
            status, "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1893712345-12345 (-1234567890)", headers,
        )

    def expired(self) -> Response:
        self.revoke_tokens()
        return _error(401, "INVALID_SESSION_ID", "Session expired or invalid", self._limit_header())

    def limit_exceeded(self, long_running: bool = False) -> Response:
        if long_running:
            # the org has 25 requests running for 20 s or more: the same error code as the
            # daily limit, another message; it passes as soon as one of them finishes
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.",
                          self._limit_header())
        return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                      self._limit_header(self.api_limit))

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/services/oauth2/"):
            return self._oauth(request)
        if request.path.startswith("/services/async/"):
            return bulk_v1_not_enabled(request)
        if len(request.raw_path) > MAX_URI_BYTES:
            # Salesforce refuses a request line over 16 KB before any API logic (a GET query
            # that selects hundreds of fields); the body is its web server's, not JSON
            return Response(414, b"<html><body>414 Request-URI Too Large</body></html>",
                            {"Content-Type": "text/html"})
        with self._lock:
            self._api_usage += 1
        response = self._api(request)
        response.headers.update(self._limit_header())
        return response

    # -- context ----------------------------------------------------------------------------
    def _context(self) -> _Context:
        meta = self._reader.meta()
        clock = meta.get("clock")
        if clock and len(str(clock)) > 10:
            now = soql.parse_datetime(str(clock))
        elif clock:
            d = dt.date.fromisoformat(str(clock))
            now = dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
        else:
            now = dt.datetime.now(dt.UTC)
        multi = bool(meta.get("multi_currency", True))
        hidden = tuple(sorted(meta.get("hidden_fields") or ()))
        return _Context(meta, now, multi, self._schema(multi, hidden))

    def _schema(self, multi_currency: bool, hidden: tuple[str, ...] = ()) -> soql.Schema:
        """The org's schema as the integration user sees it. ``hidden`` (meta key
        ``hidden_fields``, ``Object.Field``): fields field-level security hides from the user,
        which Salesforce leaves out of describe and rejects in SOQL like unknown fields."""
        schema = self._schemas.get((multi_currency, hidden))
        if schema is None:
            fields: dict[str, dict[str, str]] = {}
            for obj, flds in catalog.SALESFORCE_FIELDS.items():
                if not multi_currency and obj in catalog.MULTI_CURRENCY_OBJECTS:
                    continue
                fields[obj] = {
                    k: v for k, v in flds.items()
                    if multi_currency or k != catalog.CURRENCY_FIELD
                }
                for name, (ftype, *_rest) in catalog.SALESFORCE_FORMULAS.get(obj, {}).items():
                    fields[obj][name] = ftype
                for name in [n for n in fields[obj] if f"{obj}.{n}" in hidden]:
                    del fields[obj][name]
            schema = self._schemas[(multi_currency, hidden)] = soql.Schema(fields)
        return schema

    # -- OAuth ------------------------------------------------------------------------------
    def _oauth(self, request: Request) -> Response:
        if request.path.rstrip("/") != "/services/oauth2/token":
            return _not_found()
        if request.method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", "HTTP Method 'GET' not allowed. Allowed are POST")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        for k, v in request.query.items():  # some clients send the grant as query parameters
            form.setdefault(k, v[0])
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, csec = base64.b64decode(auth[6:]).decode().partition(":")
                form.setdefault("client_id", unquote(cid))
                form.setdefault("client_secret", unquote(csec))
            except ValueError:
                pass
        meta = self._reader.meta()
        creds = sandbox_credentials(int(meta.get("seed", WorldConfig.seed)))
        grant = form.get("grant_type", "")
        if grant not in ("password", "client_credentials", oauth.JWT_GRANT):
            return Response.json(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if grant == oauth.JWT_GRANT:
            refusal = oauth.verify_jwt_assertion(
                form.get("assertion", ""), public_key_pem=self.jwt_public_key_pem,
                client_id=creds["salesforce_client_id"], username=creds["salesforce_username"],
                own_urls=oauth.own_urls(self.instance_url(request)))
            if refusal is not None:
                return Response.json(400, refusal)
            return self._issue_token(request, creds)
        if grant == "client_credentials" and (
                refusal := oauth.client_credentials_refusal(request.headers.get("host"))):
            return Response.json(400, refusal)
        if form.get("client_id") != creds["salesforce_client_id"]:
            return Response.json(400, {"error": "invalid_client_id", "error_description": "client identifier invalid"})
        if form.get("client_secret") != creds["salesforce_client_secret"]:
            return Response.json(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        if grant == "password" and (
            form.get("username") != creds["salesforce_username"]
            or form.get("password") != creds["salesforce_password"] + creds["salesforce_security_token"]
        ):
            return Response.json(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        return self._issue_token(request, creds)

    def _issue_token(self, request: Request, creds: dict[str, str]) -> Response:
        token = f"{ORG_ID[:15]}!" + secrets.token_urlsafe(72)
        with self._lock:
            self._tokens.add(token)
        issued_at = str(int(time.time() * 1000))
        instance = self.instance_url(request)
        ident = f"{instance}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
        signature = base64.b64encode(
            hmac.new(creds["salesforce_client_secret"].encode(), (ident + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        return Response.json(200, {
            "access_token": token,
            "instance_url": instance,
            "id": ident,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
        })

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        with self._lock:
            return token.strip() in self._tokens

    # -- routing ----------------------------------------------------------------------------
    def _api(self, request: Request) -> Response:
        path = request.path
        if path.rstrip("/") == "/services/data":
            return Response.json(200, [
                {"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                for v in ("57.0", "58.0", "59.0", "60.0")
            ])
        m = _DATA_RE.match(path)
        if not m:
            return _not_found()
        if not self._authorized(request):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        version = m["version"]
        parts = [p for p in (m["rest"] or "").split("/") if p]
        method = request.method
        if not parts:
            return self._only(method, "GET") or Response.json(200, self._resources(version))
        head = parts[0]
        if head in ("query", "queryAll"):
            if not (r := self._only(method, "GET")):
                if len(parts) == 1:
                    return self._query(request, version, include_deleted=head == "queryAll")
                if len(parts) == 2:
                    return self._query_more(parts[1], version)
                return _not_found()
            return r
        if head == "sobjects":
            return self._only(method, "GET") or self._sobjects(request, version, parts[1:])
        if head == "limits" and len(parts) == 1:
            return self._only(method, "GET") or self._limits()
        if head == "limits" and parts[1:] == ["recordCount"]:
            return self._only(method, "GET") or self._record_count(request)
        if head == "composite" and parts[1:] == ["batch"]:
            return self._only(method, "POST") or self._composite_batch(request, version)
        if head == "jobs" and len(parts) >= 2 and parts[1] == "query":
            return self._jobs_route(request, version, parts[2:])
        return _not_found()

    @staticmethod
    def _only(method: str, *allowed: str) -> Response | None:
        if method in allowed or (method == "HEAD" and "GET" in allowed):
            return None
        return _error(405, "METHOD_NOT_ALLOWED",
                      f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}")

    def _resources(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}"
        return {
            "sobjects": f"{base}/sobjects", "query": f"{base}/query",
            "queryAll": f"{base}/queryAll", "limits": f"{base}/limits",
            "jobs": f"{base}/jobs", "composite": f"{base}/composite",
        }

    # -- SOQL -------------------------------------------------------------------------------
    def _parse(self, text: str | None, ctx: _Context) -> soql.Query:
        query = soql.parse(text or "", ctx.schema, today=ctx.today)
        if query.sobject == "ForecastingQuota" and self.has_fault("no-forecasting"):
            raise soql.SoqlError(
                "INSUFFICIENT_ACCESS",
                "insufficient access rights on object: ForecastingQuota requires the "
                "'View All Forecasts' or 'Allow Forecasting' permission",
            )
        return query

    def _timed_out(self, query: soql.Query, ctx: _Context) -> bool:
        """The ``query-timeout`` fault: a replication query (ordered by SystemModstamp or
        CreatedDate) whose window spans more than the fault's days runs too long."""
        fault = next((f for f in self.faults if f.kind == "query-timeout"), None)
        if fault is None or not query.order_by or query.limit is not None:
            return False
        if query.order_by[0].field.name not in _COLUMNS or query.order_by[0].field.hops:
            return False
        if fault.count is not None and fault.fired >= fault.count:
            return False
        lo, hi = soql.window_bounds(query.where, query.order_by[0].field.name)
        hi = hi or ctx.now
        days = fault.value if fault.value is not None else 30.0
        if lo is not None and (hi - lo) <= dt.timedelta(days=days):
            return False
        with self._lock:
            fault.fired += 1
        return True

    def _hidden(self, sobject: str, rid: str) -> bool:
        """The ``partial-visibility`` fault: records the integration user cannot see without
        View All Data (a third of the business records, by id)."""
        return (sobject in ("Lead", "Contact", "Account", "Opportunity")
                and self.has_fault("partial-visibility") and sum(map(ord, rid)) % 3 == 0)

    def _run(self, query: soql.Query, include_deleted: bool, ctx: _Context) -> list[str]:
        """The ids matching ``query``, in its order, after LIMIT/OFFSET. Streams the rows."""
        if self._timed_out(query, ctx):
            raise soql.SoqlError("QUERY_TIMEOUT", "Your query request was running for too long.")
        conn = self._reader.conn()
        sql = ["SELECT id, fields, is_deleted FROM sf_record WHERE sobject = ? AND purged = 0"]
        params: list[Any] = [query.sobject]
        if not include_deleted:
            sql.append("AND is_deleted = 0")
        for cond, cond_params in _narrowing(query):
            sql.append("AND " + cond)
            params.extend(cond_params)
        sql.append("ORDER BY id")
        lookup = _Lookup(conn, include_deleted=False)
        order_by = query.order_by
        hits: list[tuple[str, list[Any]]] = []
        for row in conn.execute(" ".join(sql), params):
            rid, fields, is_deleted = row[0], json.loads(row[1]), bool(row[2])
            if self._hidden(query.sobject, rid):
                continue
            get = _getter(rid, fields, is_deleted, lookup, query.sobject)
            if not soql.matches(query.where, get):
                continue
            hits.append((rid, [get(item.field) for item in order_by]))
        for index in reversed(range(len(order_by))):
            item = order_by[index]
            hits.sort(key=lambda h, it=item, i=index: soql.sort_key(it, h[1][i]), reverse=item.descending)
        ids = [h[0] for h in hits]
        if query.offset:
            ids = ids[query.offset:]
        if query.limit is not None:
            ids = ids[: query.limit]
        return ids

    def _query(self, request: Request, version: str, *, include_deleted: bool) -> Response:
        ctx = self._context()
        try:
            query = self._parse(request.q("q"), ctx)
            ids = self._run(query, include_deleted, ctx)
        except soql.SoqlError as exc:
            return _error(400, exc.error_code, exc.message)
        if query.count:
            return Response.json(200, {"totalSize": len(ids), "done": True, "records": []})
        cursor = _Cursor(query, ids, include_deleted, _batch_size(request), time.monotonic())
        return self._page(cursor, None, 0, version)

    def _query_more(self, locator: str, version: str) -> Response:
        cursor_id, _, offset_text = locator.partition("-")
        with self._lock:
            self._expire_cursors()
            cursor = self._cursors.get(cursor_id)
            if cursor is not None:
                cursor.touched = time.monotonic()
                self._cursors.move_to_end(cursor_id)
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.ids):
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, cursor_id, int(offset_text), version)

    def _expire_cursors(self) -> None:
        cutoff = time.monotonic() - CURSOR_TTL_SECONDS
        for key in [k for k, c in self._cursors.items() if c.touched < cutoff]:
            del self._cursors[key]
        while len(self._cursors) > MAX_OPEN_CURSORS:
            self._cursors.popitem(last=False)

    def _page(self, cursor: _Cursor, cursor_id: str | None, offset: int, version: str) -> Response:
        page_ids = cursor.ids[offset: offset + cursor.batch]
        conn = self._reader.conn()
        rows = _fetch(conn, cursor.query.sobject, page_ids, cursor.include_deleted)
        lookup = _Lookup(conn, include_deleted=False)
        records = [
            _rest_record(cursor.query, rid, *rows[rid], lookup, version)
            for rid in page_ids if rid in rows
        ]
        body: dict[str, Any] = {"totalSize": len(cursor.ids), "done": True}
        next_offset = offset + cursor.batch
        if next_offset < len(cursor.ids):
            if cursor_id is None:
                cursor_id = _random_id("01g")
                with self._lock:
                    self._cursors[cursor_id] = cursor
                    self._expire_cursors()
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{next_offset}"
        body["records"] = records
        return Response.json(200, body)

    # -- sobjects ---------------------------------------------------------------------------
    def _sobjects(self, request: Request, version: str, parts: list[str]) -> Response:
        ctx = self._context()
        if not parts:
            return Response.json(200, {
                "encoding": "UTF-8", "maxBatchSize": 200,
                "sobjects": [self._object_summary(o, version) for o in ctx.schema.fields],
            })
        sobject = ctx.schema.object_name(parts[0])
        if sobject is None:
            return _not_found()
        if len(parts) == 1:
            return Response.json(200, {
                "objectDescribe": self._object_summary(sobject, version), "recentItems": [],
            })
        action = parts[1]
        if action == "describe" and len(parts) == 2:
            return Response.json(200, self._describe(sobject, ctx, version))
        if action in ("deleted", "updated") and len(parts) == 2:
            return self._replication(request, sobject, ctx, deleted=action == "deleted")
        if len(parts) == 2:
            return self._get_record(sobject, parts[1], ctx, version)
        return _not_found()

    def _object_summary(self, sobject: str, version: str) -> dict[str, Any]:
        return describe_mod.object_summary(sobject, version)

    def _describe(self, sobject: str, ctx: _Context, version: str) -> dict[str, Any]:
        currencies = list(ctx.meta.get("currencies") or WorldConfig.currencies)
        return describe_mod.describe(sobject, ctx.schema.fields[sobject], currencies, version)

    def _get_record(self, sobject: str, record_id: str, ctx: _Context, version: str) -> Response:
        conn = self._reader.conn()
        row = conn.execute(
            "SELECT id, fields, is_deleted FROM sf_record WHERE sobject = ? AND id = ? "
            "AND purged = 0 AND is_deleted = 0",
            (sobject, record_id),
        ).fetchone()
        if row is None:
            return _not_found()
        fields = json.loads(row[1])
        out: dict[str, Any] = {"attributes": {
            "type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{row[0]}"}}
        get = _getter(row[0], fields, False, _Lookup(conn, include_deleted=False), sobject)
        for name, ftype in ctx.schema.fields[sobject].items():
            out[name] = get(soql.FieldRef((), (), name, ftype, sobject))
        return Response.json(200, out)

    def _replication(self, request: Request, sobject: str, ctx: _Context, *, deleted: bool) -> Response:
        raw_start, raw_end = request.q("start"), request.q("end")
        if not raw_start or not raw_end:
            return _error(400, "MISSING_ARGUMENT", "start and end are both required parameters")
        try:
            start, end = soql.parse_datetime(unquote(raw_start)), soql.parse_datetime(unquote(raw_end))
        except ValueError:
            return _error(400, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 datetimes")
        days = int(ctx.meta.get("recycle_bin_days") or WorldConfig.recycle_bin_days)
        earliest = (ctx.now - dt.timedelta(days=days)).replace(second=0, microsecond=0)
        if start < earliest:
            return _error(400, "INVALID_REPLICATION_DATE",
                          f"startDate is before the earliest date available: {_sf_datetime(earliest)}")
        if end <= start:
            return _error(400, "INVALID_REPLICATION_DATE", "endDate must chronologically follow startDate")
        covered = min(end, ctx.now).replace(second=0, microsecond=0)
        conn = self._reader.conn()
        lo, hi = _z_datetime(start.replace(second=0, microsecond=0)), _z_datetime(covered)
        if deleted:
            logged = self._delete_log(conn, sobject, ctx, earliest)
            rows = [(rid, when) for rid, when in logged
                    if lo <= when < hi and not self._hidden(sobject, rid)]
            limit = self.deleted_id_limit
            if limit is None:
                limit = int(ctx.meta.get("sf_deleted_id_limit") or WorldConfig.sf_deleted_id_limit)
            if len(rows) > limit:
                # the real limit is 600,000 ids; the sandbox's is small (configurable) so that
                # connectors meet the error
                return _error(400, "EXCEEDED_ID_LIMIT",
                              f"There are more than {limit} ids to return for this request. "
                              "Choose start and end dates that are closer together.")
            return Response.json(200, {
                "deletedRecords": [
                    {"id": r[0], "deletedDate": _sf_datetime(soql.parse_datetime(r[1]))} for r in rows
                ],
                "earliestDateAvailable": _sf_datetime(earliest),
                "latestDateCovered": _sf_datetime(covered),
            })
        rows = conn.execute(
            "SELECT id FROM sf_record WHERE sobject = ? AND is_deleted = 0 AND purged = 0 "
            "AND system_modstamp >= ? AND system_modstamp < ? ORDER BY system_modstamp, id",
            (sobject, lo, hi),
        )
        return Response.json(200, {"ids": [r[0] for r in rows], "latestDateCovered": _sf_datetime(covered)})

    def _delete_log(self, conn: Any, sobject: str, ctx: _Context,
                    earliest: dt.datetime) -> list[tuple[str, str]]:
        """The object's delete log, oldest first: ``(id, deleted_date)`` of the records deleted
        since ``earliest``. Salesforce purges the log early when it grows past a limit: every
        two hours, entries older than two hours go, oldest first, until the log is back under
        the limit. The fake keeps the ``delete_log_limit`` newest entries plus those under two
        hours old: the others are gone from getDeleted (a record also purged from the recycle
        bin is then gone from every answer)."""
        rows = [(r[0], r[1]) for r in conn.execute(
            "SELECT id, deleted_date FROM sf_record WHERE sobject = ? "
            "AND (is_deleted = 1 OR purged = 1) AND deleted_date >= ? ORDER BY deleted_date, id",
            (sobject, _z_datetime(earliest)))]
        limit = self.delete_log_limit
        if limit is None:
            limit = int(ctx.meta.get("sf_delete_log_limit") or WorldConfig.sf_delete_log_limit)
        if len(rows) <= limit:
            return rows
        recent = _z_datetime(ctx.now - dt.timedelta(hours=2))
        keep_from = len(rows) - limit
        return [r for i, r in enumerate(rows) if i >= keep_from or r[1] >= recent]

    def _limits(self) -> Response:
        with self._lock:
            used = self._api_usage
            jobs = len(self._jobs)
        return Response.json(200, {
            "DailyApiRequests": {"Max": self.api_limit, "Remaining": max(0, self.api_limit - used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - jobs},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1048576, "Remaining": 1048576},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        })

    def _record_count(self, request: Request) -> Response:
        """``limits/recordCount?sObjects=A,B``: the org's (approximate, cached) record counts.
        Objects the org does not have are left out, not an error; history objects are never
        counted (the real resource leaves out History, Feed, Share... objects); recycle-bin
        records are not counted."""
        ctx = self._context()
        raw = request.q("sObjects")
        if raw:
            names = [ctx.schema.object_name(n.strip()) for n in unquote(raw).split(",") if n.strip()]
        else:
            names = list(ctx.schema.fields)
        wanted = [n for n in dict.fromkeys(names) if n and not n.endswith("History")]
        counts: dict[str, int] = {}
        if wanted:
            conn = self._reader.conn()
            marks = ",".join("?" * len(wanted))
            counts = {r[0]: int(r[1]) for r in conn.execute(
                f"SELECT sobject, count(*) FROM sf_record WHERE sobject IN ({marks}) "
                "AND is_deleted = 0 AND purged = 0 GROUP BY sobject", wanted)}
        return Response.json(200, {"sObjects": [
            {"count": counts.get(n, 0), "name": n} for n in wanted]})

    # -- Composite Batch --------------------------------------------------------------------
    def _composite_batch(self, request: Request, version: str) -> Response:
        """``POST composite/batch``: up to 25 independent subrequests run in order, each
        answered as ``{"statusCode", "result"}`` (an error's result is the usual error array).
        Subrequests go to the same handlers as top-level requests; faults only ever hit the
        outer request (the server applies them before the app sees it). Each subrequest counts
        against the API limit (the batch itself does not add one)."""
        try:
            body = request.json()
        except ValueError:
            return _error(400, "JSON_PARSER_ERROR", "Unexpected character in the request body")
        subs = body.get("batchRequests") if isinstance(body, dict) else None
        if not isinstance(subs, list) or not subs:
            return _error(400, "INVALID_BATCH_REQUEST", "batchRequests is required and must not be empty")
        if len(subs) > MAX_BATCH_REQUESTS:
            return _error(400, "INVALID_BATCH_REQUEST",
                          f"A batch cannot contain more than {MAX_BATCH_REQUESTS} requests")
        halt = bool(body.get("haltOnError"))
        with self._lock:
            self._api_usage += len(subs) - 1
        results: list[dict[str, Any]] = []
        halted = False
        for sub in subs:
            if halted:
                results.append({"statusCode": 412, "result": [{
                    "errorCode": "BATCH_PROCESSING_HALTED",
                    "message": "Batch processing halted per request"}]})
                continue
            response = self._subrequest(request, version, sub)
            result: Any = None
            if response.body:
                try:
                    result = json.loads(response.body)
                except ValueError:
                    result = response.body.decode("utf-8", "replace")
            results.append({"statusCode": response.status, "result": result})
            halted = halt and response.status >= 400
        return Response.json(200, {
            "hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results})

    def _subrequest(self, outer: Request, version: str, sub: Any) -> Response:
        if not isinstance(sub, dict) or not isinstance(sub.get("url"), str) or not sub.get("method"):
            return _error(400, "INVALID_BATCH_REQUEST", "each subrequest needs a method and a url")
        url = sub["url"].lstrip("/")
        if url.startswith("services/data/"):
            url = url[len("services/data/"):]
        path, _, query = url.partition("?")
        m = re.match(r"^v(\d+\.\d+)/(sobjects|query|queryAll|limits)(/|$)", path)
        if not m:
            return _error(400, "INVALID_BATCH_REQUEST",
                          f"The resource {sub['url']!r} is not supported in a batch")
        if float(m[1]) > float(version):
            return _error(400, "INVALID_BATCH_REQUEST",
                          f"A subrequest's version ({m[1]}) cannot be newer than the batch's ({version})")
        rich = sub.get("richInput")
        inner = Request(
            method=str(sub["method"]).upper(), path=f"/services/data/{path}",
            query=parse_qs(query, keep_blank_values=True), headers=dict(outer.headers),
            body=json.dumps(rich).encode() if rich is not None else b"",
            raw_path=f"/services/data/{url}",
        )
        return self._api(inner)

    # -- Bulk API 2.0 -----------------------------------------------------------------------
    def _jobs_route(self, request: Request, version: str, parts: list[str]) -> Response:
        method = request.method
        if not parts:
            if method == "POST":
                return self._create_job(request, version)
            if method == "GET":
                with self._lock:
                    jobs = list(self._jobs.values())
                return Response.json(200, {
                    "done": True, "nextRecordsUrl": None,
                    "records": [j.info(complete=False) for j in jobs],
                })
            return self._only(method, "GET", "POST") or _not_found()
        with self._lock:
            job = self._jobs.get(parts[0])
        if job is None:
            return _not_found()
        if len(parts) == 1:
            if method == "GET":
                return Response.json(200, self._poll(job))
            if method == "DELETE":
                with self._lock:
                    self._jobs.pop(job.id, None)
                return Response(204)
            if method == "PATCH":
                try:
                    state = (request.json() or {}).get("state")  # type: ignore[union-attr]
                except (ValueError, AttributeError):
                    state = None
                if state != "Aborted":
                    return _error(400, "INVALIDJOBSTATE", f"Invalid job state: {state}")
                with self._lock:
                    if job.state not in ("JobComplete", "Failed"):
                        job.state = "Aborted"
                return Response.json(200, job.info(complete=False))
            return self._only(method, "GET", "DELETE", "PATCH") or _not_found()
        if parts[1:] == ["results"]:
            return self._only(method, "GET") or self._results(request, job)
        return _not_found()

    def _create_job(self, request: Request, version: str) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "JSON_PARSER_ERROR", "Unexpected character in the request body")
        if not isinstance(body, dict):
            return _error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return _error(400, "INVALIDJOB", f"Invalid operation for a query job: {operation}")
        if not body.get("query"):
            return _error(400, "INVALIDJOB", "The query field is required for a query job")
        delimiter = body.get("columnDelimiter") or "COMMA"
        line_ending = body.get("lineEnding") or "LF"
        if delimiter not in _DELIMITERS or line_ending not in _LINE_ENDINGS:
            return _error(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        ctx = self._context()
        try:
            query = self._parse(body["query"], ctx)
        except soql.SoqlError as exc:
            return _error(400, exc.error_code, exc.message)
        if query.count:
            return _error(400, "API_ERROR",
                          "Implementation restriction: COUNT() is not supported by the Bulk API")
        try:
            ids = self._run(query, operation == "queryAll", ctx)
        except soql.SoqlError as exc:
            return _error(400, exc.error_code, exc.message)
        job = _Job(
            _random_id("750"), operation, query, ids, _sf_datetime(dt.datetime.now(dt.UTC)),
            delimiter, line_ending, api_version=float(version),
            ready_at=time.monotonic() + self.bulk_seconds + BULK_SECONDS_PER_RECORD * len(ids),
        )
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.pop(next(iter(self._jobs)))
        return Response.json(200, job.info(complete=False))

    def _ready(self, job: _Job) -> bool:
        """Whether the job may be complete: ``bulk_in_progress_polls`` status GETs have
        answered InProgress and its processing time has passed."""
        return job.polls >= self.bulk_in_progress_polls and time.monotonic() >= job.ready_at

    def _poll(self, job: _Job) -> dict[str, Any]:
        with self._lock:
            if job.state in ("UploadComplete", "InProgress"):
                if self._ready(job):
                    job.state = "JobComplete"
                else:
                    job.state = "InProgress"
                    job.polls += 1          # InProgress answers given
            return job.info(complete=True)

    def _results(self, request: Request, job: _Job) -> Response:
        with self._lock:
            if job.state in ("UploadComplete", "InProgress") and self._ready(job):
                job.state = "JobComplete"
            state = job.state
        if state != "JobComplete":
            return _error(
                412, "JOB_NOT_COMPLETE",
                "can only download query results of successfully completed bulk job with "
                f"status: JOB_COMPLETE. Current status: {_STATE_CODES.get(state, state.upper())}",
            )
        raw_max = request.q("maxRecords")
        try:
            max_records = int(raw_max) if raw_max else BULK_DEFAULT_MAX_RECORDS
        except ValueError:
            max_records = 0
        if max_records <= 0:
            return _error(400, "INVALIDMAXRECORDS", "maxRecords must be a positive integer")
        offset = 0
        locator = request.q("locator")
        if locator:
            try:
                offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
            except ValueError:
                offset = -1
            if offset < 0 or offset > len(job.ids):
                return _error(400, "INVALID_QUERY_LOCATOR", f"Invalid locator: {locator}")
        page_ids = job.ids[offset: offset + max_records]
        conn = self._reader.conn()
        rows = _fetch(conn, job.query.sobject, page_ids, job.operation == "queryAll")
        lookup = _Lookup(conn, include_deleted=False)
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=_DELIMITERS[job.column_delimiter],
                            lineterminator=_LINE_ENDINGS[job.line_ending], quoting=csv.QUOTE_ALL)
        writer.writerow([ref.dotted for ref in job.query.fields])
        n = 0
        for rid in page_ids:
            if rid not in rows:
                continue
            fields, is_deleted = rows[rid]
            get = _getter(rid, fields, is_deleted, lookup, job.query.sobject)
            writer.writerow([_csv_value(ref.type, get(ref)) for ref in job.query.fields])
            n += 1
        next_offset = offset + max_records
        next_locator = (
            base64.b64encode(str(next_offset).encode()).decode().rstrip("=")
            if next_offset < len(job.ids) else "null"
        )
        return Response(200, buf.getvalue().encode("utf-8"), {
            "Content-Type": "text/csv",
            "Sforce-NumberOfRecords": str(n),
            "Sforce-Locator": next_locator,
        })


# ---------------------------------------------------------------------------------------------
# Store access and rendering
# ---------------------------------------------------------------------------------------------
class _Lookup:
    """Referenced records (Owner, Account, ...) by id, cached for one request."""

    def __init__(self, conn: Any, *, include_deleted: bool) -> None:
        self.conn = conn
        self.include_deleted = include_deleted
        self.cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def __call__(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        key = (sobject, record_id)
        if key not in self.cache:
            sql = "SELECT id, fields FROM sf_record WHERE sobject = ? AND id = ? AND purged = 0"
            if not self.include_deleted:
                sql += " AND is_deleted = 0"
            row = self.conn.execute(sql, key).fetchone()
            if row is None and len(record_id) == 15:
                row = self.conn.execute(sql.replace("id = ?", "substr(id, 1, 15) = ?"), key).fetchone()
            if row is None:
                self.cache[key] = None
            else:
                fields = json.loads(row[1])
                fields["Id"] = row[0]
                self.cache[key] = fields
        return self.cache[key]


def _getter(rid: str, fields: dict[str, Any], is_deleted: bool, lookup: _Lookup,
            sobject: str = "") -> soql.Getter:
    def get(ref: soql.FieldRef) -> Any:
        if not ref.hops:
            if ref.name == "Id":
                return rid
            if ref.name == "IsDeleted":
                return is_deleted
            calc = describe_mod.formula(sobject, ref.name)
            if calc is not None:
                # computed when read, from the referenced record as it is now: its changes
                # never move this record's SystemModstamp (as in a real org)
                target_id = fields.get(calc[1])
                target = lookup(calc[2], str(target_id)) if target_id else None
                return target.get(calc[3]) if target else None
            return fields.get(ref.name)
        rec: dict[str, Any] | None = fields
        for ref_field, target in ref.hops:
            target_id = rec.get(ref_field) if rec else None
            if not target_id:
                return None
            rec = lookup(target, str(target_id))
            if rec is None:
                return None
        return rec.get(ref.name) if rec else None

    return get


def _fetch(conn: Any, sobject: str, ids: list[str], include_deleted: bool) -> dict[str, tuple[dict[str, Any], bool]]:
    out: dict[str, tuple[dict[str, Any], bool]] = {}
    extra = "" if include_deleted else " AND is_deleted = 0"
    for i in range(0, len(ids), 500):
        chunk = ids[i: i + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT id, fields, is_deleted FROM sf_record WHERE sobject = ? AND purged = 0{extra} "
            f"AND id IN ({marks})",
            [sobject, *chunk],
        ):
            out[row[0]] = (json.loads(row[1]), bool(row[2]))
    return out


def _rest_record(
    query: soql.Query, rid: str, fields: dict[str, Any], is_deleted: bool, lookup: _Lookup, version: str
) -> dict[str, Any]:
    def attrs(sobject: str, record_id: str) -> dict[str, str]:
        return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}

    out: dict[str, Any] = {"attributes": attrs(query.sobject, rid)}
    get = _getter(rid, fields, is_deleted, lookup, query.sobject)
    for ref in query.fields:
        if not ref.hops:
            out[ref.name] = get(ref)
            continue
        container: dict[str, Any] = out
        rec: dict[str, Any] | None = fields
        for (ref_field, target), rel_name in zip(ref.hops, ref.path, strict=False):
            target_id = rec.get(ref_field) if rec else None
            rec = lookup(target, str(target_id)) if target_id else None
            if rec is None:
                container.setdefault(rel_name, None)
                break
            nested = container.get(rel_name)
            if not isinstance(nested, dict):
                nested = container[rel_name] = {"attributes": attrs(target, rec["Id"])}
            container = nested
        else:
            container[ref.name] = rec.get(ref.name) if rec else None
    return out


def _csv_value(ftype: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if ftype == "datetime":
        try:
            return _z_datetime(soql.parse_datetime(str(value)))
        except ValueError:
            return str(value)
    return str(value)


def _batch_size(request: Request) -> int:
    options = request.headers.get("sforce-query-options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", options, re.IGNORECASE)
    if not m:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(m[1])))


_COLUMNS = {"SystemModstamp": "system_modstamp", "CreatedDate": "created_date"}


def _narrowing(query: soql.Query) -> Iterable[tuple[str, list[Any]]]:
    """SQL conditions implied by top-level conjuncts (a superset of the matches: the WHERE is
    still evaluated on every row), so that indexed range scans do the heavy lifting."""
    for expr in soql.top_level_conjuncts(query.where):
        if isinstance(expr, soql.Compare) and not expr.field.hops:
            name, lit, op = expr.field.name, expr.value, expr.op
            column = _COLUMNS.get(name)
            if column and lit.kind in ("datetime", "range") and op != "!=":
                if lit.kind == "datetime":
                    lo = hi = _z_datetime(lit.value)
                else:
                    start, end = lit.value
                    lo = _z_datetime(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC))
                    hi = _z_datetime(dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC))
                if op in (">", ">=", "="):
                    yield f"{column} >= ?", [lo]
                if op in ("<", "<=", "="):
                    yield f"{column} <= ?", [hi]
            elif name == "Id" and op == "=" and lit.kind == "string" and len(lit.value) == 18:
                yield "id = ?", [lit.value]
            elif name == "IsDeleted" and op == "=" and lit.kind == "bool":
                yield "is_deleted = ?", [1 if lit.value else 0]
        elif (
            isinstance(expr, soql.InList) and not expr.field.hops and expr.field.name == "Id"
            and not expr.negate and expr.values
            and all(v.kind == "string" and len(v.value) == 18 for v in expr.values)
        ):
            yield f"id IN ({','.join('?' * len(expr.values))})", [v.value for v in expr.values]


def bulk_v1_not_enabled(request: Request) -> Response:
    """Bulk API 1.0 (``/services/async/{version}/job...``) answers as in an org where it is not
    enabled: HTTP 400 with ``FeatureNotEnabled`` in the Bulk API 1.0 error shape (XML, or
    JSON when the request is JSON). The product reads by Bulk API 2.0; a tool that tries 1.0
    gets the error a real org without it gives, not a 404 it cannot explain."""
    message = "Bulk API isn't enabled for this organization."
    content = request.headers.get("content-type", "") + request.headers.get("accept", "")
    if "json" in content.lower():
        return Response.json(400, {"exceptionCode": "FeatureNotEnabled", "exceptionMessage": message})
    body = ('<?xml version="1.0" encoding="UTF-8"?><error '
            'xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
            f"<exceptionCode>FeatureNotEnabled</exceptionCode><exceptionMessage>{message}"
            "</exceptionMessage></error>")
    return Response(400, body.encode(), {"Content-Type": "application/xml"})
