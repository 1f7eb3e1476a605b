"""A wire-compatible fake of the BigQuery REST API v2, serving the world's GA sessions as a GA4
BigQuery export (``connectors/sandbox/fakes/bigquery_events.py``). Plain HTTP; driven in tests
by the real ``google.cloud.bigquery.Client`` with
``client_options={"api_endpoint": "http://127.0.0.1:PORT"}``.

The export: project meta ``ga4_bigquery_project`` (default ``sandbox-project``), dataset
``analytics_<property id>`` (Google's naming), one ``events_YYYYMMDD`` table per date with
sessions; the last meta ``ga4_bigquery_intraday_days`` dates (default 0) exist only as
``events_intraday_YYYYMMDD`` (the daily export of those dates is not complete yet).

Routes (under ``/bigquery/v2``): ``POST projects/{p}/queries`` (jobs.query),
``POST projects/{p}/jobs`` (jobs.insert, query jobs), ``GET projects/{p}/jobs/{id}`` (jobs.get),
``POST projects/{p}/jobs/{id}/cancel``, ``GET projects/{p}/queries/{id}`` (jobs.getQueryResults:
``maxResults``, ``pageToken``, ``startIndex``), ``GET projects/{p}/datasets/{d}`` (datasets.get),
``GET projects/{p}/datasets/{d}/tables`` (tables.list, paged) and
``GET projects/{p}/datasets/{d}/tables/{t}`` (tables.get).

Queries run for real: the referenced export tables are built from the store, loaded into an
in-memory DuckDB and the client's SQL executed there (``bigquery_sql.py`` translates the little
DuckDB lacks). ``totalBytesProcessed`` is BigQuery's logical size of the columns the query
references in the tables it reads; ``totalBytesBilled`` adds the on-demand minimum of 10 MB
per table referenced. Jobs finish at once (``jobComplete: true``); results are kept per job
for paging. Auth: the GA4 fake's tokens (``authorize``). State fault ``bigquery:denied``: the
credentials lack BigQuery roles (403 ``accessDenied``).
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from connectors.sandbox.fakes import bigquery_sql as bsql
from connectors.sandbox.fakes._common import StoreReader, clock_date
from connectors.sandbox.fakes.base import App, Request, Response
from connectors.sandbox.fakes.bigquery_events import day_events, export_dates, logical_bytes

DEFAULT_PROJECT = "sandbox-project"
LOCATION = "US"
DEFAULT_PAGE_ROWS = 20_000
MIN_BILLED_PER_TABLE = 10 * 1024 * 1024
_ROUTE = re.compile(r"^/bigquery/v2/projects/([^/]+)/(queries|jobs|datasets)(?:/([^/]+))?"
                    r"(?:/(tables|cancel))?(?:/([^/]+))?$")
_EVENTS = re.compile(r"^events_(?:intraday_)?(\d{8})$")


class BQError(Exception):
    def __init__(self, code: int, status: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.reason, self.message = code, status, reason, message


def _bq_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "INTEGER"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "FLOAT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_date(t):
        return "DATE"
    return "STRING"


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BigQueryApp(App):
    service = "bigquery"

    def __init__(self, store_path: str | Path, *, authorize: Callable[[Request], bool]) -> None:
        super().__init__()
        self.reader = StoreReader(store_path)
        self.authorize = authorize
        self.base_url = ""
        self._jobs: dict[str, dict[str, Any]] = {}
        self._tables: dict[tuple[str, str], pa.Table] = {}   # (clock, table) -> events
        self._sizes: dict[tuple[str, str], dict[str, int]] = {}  # -> bytes per column
        self._lock = threading.Lock()

    # -- the export --------------------------------------------------------------------------
    def names(self) -> tuple[str, str]:
        meta = self.reader.meta()
        project = str(meta.get("ga4_bigquery_project") or DEFAULT_PROJECT)
        return project, f"analytics_{meta.get('ga4_property_id') or '123456789'}"

    def export_tables(self) -> dict[str, str]:
        """table id -> its date (YYYYMMDD), as the export holds them now."""
        meta = self.reader.meta()
        intraday = int(meta.get("ga4_bigquery_intraday_days") or 0)
        clock = clock_date(meta).strftime("%Y%m%d")
        dates = [d for d in export_dates(self.reader.conn()) if d < clock]
        cut = len(dates) - intraday
        return {(f"events_{d}" if i < cut else f"events_intraday_{d}"): d
                for i, d in enumerate(dates)}

    def _table(self, table_id: str) -> pa.Table:
        clock = str(self.reader.meta().get("clock"))
        key = (clock, table_id)
        with self._lock:
            cached = self._tables.get(key)
        if cached is None:
            m = _EVENTS.match(table_id)
            assert m
            cached = day_events(self.reader.conn(), m.group(1))
            sizes = {name: logical_bytes(cached, {name}) for name in cached.column_names}
            with self._lock:
                if len(self._tables) > 2_000:
                    self._tables.clear()
                    self._sizes.clear()
                self._tables[key] = cached
                self._sizes[key] = sizes
        return cached

    def _bytes(self, table_id: str, columns: set[str]) -> int:
        """BigQuery's logical bytes of ``columns`` in the table (computed once per table)."""
        self._table(table_id)
        with self._lock:
            sizes = self._sizes[(str(self.reader.meta().get("clock")), table_id)]
        return sum(n for name, n in sizes.items() if name in columns)

    # -- error shapes --------------------------------------------------------------------------
    @staticmethod
    def _error(code: int, status: str, reason: str, message: str,
               headers: dict[str, str] | None = None) -> Response:
        return Response.json(code, {"error": {
            "code": code, "message": message, "status": status,
            "errors": [{"message": message, "domain": "global", "reason": reason}]}}, headers)

    def rate_limited(self, retry_after: float | None) -> Response:
        headers = {} if retry_after is None else {"Retry-After": str(max(0, int(retry_after)))}
        return self._error(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded",
                           "Exceeded rate limits: too many api requests per user per method "
                           "for this user_method.", headers)

    def server_error(self, status: int) -> Response:
        if status == 503:
            return self._error(503, "UNAVAILABLE", "backendError",
                               "Error encountered during execution. Retrying may solve the problem.",
                               {"Retry-After": "1"})
        return self._error(status, "INTERNAL", "internalError",
                           "An internal error occurred and the request could not be completed.")

    def expired(self) -> Response:
        return self._unauthenticated()

    def _unauthenticated(self) -> Response:
        return self._error(401, "UNAUTHENTICATED", "authError",
                           "Request is missing required authentication credential. Expected "
                           "OAuth 2 access token, login cookie or other valid authentication "
                           "credential.", {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if not self.authorize(request):
            return self._unauthenticated()
        m = _ROUTE.match(request.path)
        if not m:
            return self._error(404, "NOT_FOUND", "notFound", f"Not found: URL {request.path}")
        project, kind, ident, sub, sub_id = m.groups()
        try:
            if self.has_fault("denied"):
                raise self._denied(project, kind, ident)
            if kind == "datasets" and ident and request.method == "GET":
                return self._dataset(project, ident, sub, sub_id, request)
            if kind == "queries" and not ident and request.method == "POST":
                return Response.json(200, self._query(project, self._body(request)))
            if kind == "queries" and ident and request.method == "GET":
                return Response.json(200, self._results(project, ident, request))
            if kind == "jobs" and not ident and request.method == "POST":
                return Response.json(200, self._insert(project, self._body(request)))
            if kind == "jobs" and ident and request.method in ("GET", "POST"):
                job = self._job(project, ident)
                return Response.json(200, {"kind": "bigquery#jobCancelResponse", "job": job}
                                     if sub == "cancel" else job)
            return self._error(404, "NOT_FOUND", "notFound", f"Not found: URL {request.path}")
        except BQError as exc:
            return self._error(exc.code, exc.status, exc.reason, exc.message)

    @staticmethod
    def _denied(project: str, kind: str, ident: str | None) -> BQError:
        if kind == "datasets":
            return BQError(403, "PERMISSION_DENIED", "accessDenied",
                           f"Access Denied: Dataset {project}:{ident}: Permission "
                           f"bigquery.datasets.get denied on dataset {project}:{ident} (or it "
                           "may not exist).")
        return BQError(403, "PERMISSION_DENIED", "accessDenied",
                       f"Access Denied: Project {project}: User does not have "
                       f"bigquery.jobs.create permission in project {project}.")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as exc:
            raise BQError(400, "INVALID_ARGUMENT", "invalid", "Invalid JSON payload received.") from exc
        return body if isinstance(body, dict) else {}

    # -- datasets and tables -------------------------------------------------------------------
    def _dataset(self, project: str, dataset: str, sub: str | None, table_id: str | None,
                 request: Request) -> Response:
        own_project, own_dataset = self.names()
        if (project, dataset) != (own_project, own_dataset):
            raise BQError(404, "NOT_FOUND", "notFound", f"Not found: Dataset {project}:{dataset}")
        ref = {"projectId": project, "datasetId": dataset}
        if sub is None:
            return Response.json(200, {"kind": "bigquery#dataset", "id": f"{project}:{dataset}",
                                       "datasetReference": ref, "location": LOCATION,
                                       "etag": "sandbox"})
        tables = self.export_tables()
        if table_id is None:
            names = sorted(tables)
            size = max(1, min(1_000, int(request.q("maxResults") or 50)))
            start = int(request.q("pageToken") or 0)
            page = names[start:start + size]
            body: dict[str, Any] = {"kind": "bigquery#tableList", "etag": "sandbox",
                                    "totalItems": len(names), "tables": [
                                        {"kind": "bigquery#table", "id": f"{project}:{dataset}.{t}",
                                         "tableReference": {**ref, "tableId": t}, "type": "TABLE"}
                                        for t in page]}
            if start + size < len(names):
                body["nextPageToken"] = str(start + size)
            return Response.json(200, body)
        if table_id not in tables:
            raise BQError(404, "NOT_FOUND", "notFound",
                          f"Not found: Table {project}:{dataset}.{table_id}")
        data = self._table(table_id)
        return Response.json(200, {
            "kind": "bigquery#table", "id": f"{project}:{dataset}.{table_id}",
            "tableReference": {**ref, "tableId": table_id}, "type": "TABLE",
            "numRows": str(data.num_rows),
            "numBytes": str(self._bytes(table_id, set(data.column_names))),
            "location": LOCATION,
            "schema": {"fields": [{"name": f.name, "type": _bq_type(f.type)} for f in data.schema]}})

    # -- queries -------------------------------------------------------------------------------
    def _insert(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        config = (body.get("configuration") or {}).get("query") or {}
        job_id = ((body.get("jobReference") or {}).get("jobId")
                  or "job_" + secrets.token_urlsafe(18).replace("-", "_"))
        self._run(project, job_id, config)
        return self._job(project, job_id)

    def _query(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        job_id = "job_" + secrets.token_urlsafe(18).replace("-", "_")
        self._run(project, job_id, body)
        response = self._page(project, job_id, body.get("maxResults"), None, None)
        response["kind"] = "bigquery#queryResponse"
        return response

    def _run(self, project: str, job_id: str, config: dict[str, Any]) -> None:
        sql = str(config.get("query") or "")
        if config.get("useLegacySql") not in (False, "false"):
            raise BQError(400, "INVALID_ARGUMENT", "invalidQuery",
                          "The sandbox runs GoogleSQL only: set useLegacySql to false.")
        own_project, own_dataset = self.names()
        tables = self.export_tables()
        relations: dict[str, str] = {}
        scanned: dict[str, pa.Table] = {}
        for ref in bsql.table_refs(sql):
            parts = ref.split(".")
            if len(parts) != 3:
                raise BQError(400, "INVALID_ARGUMENT", "invalidQuery",
                              f"Table name \"{ref}\" missing dataset while no default dataset "
                              "is set in the request.")
            p, d, t = parts
            if (p, d) != (own_project, own_dataset):
                raise BQError(404, "NOT_FOUND", "notFound", f"Not found: Dataset {p}:{d}")
            if t not in tables:
                raise BQError(404, "NOT_FOUND", "notFound",
                              f"Not found: Table {p}:{d}.{t} was not found in location {LOCATION}")
            relations[ref] = f"t_{t}"
            scanned[t] = self._table(t)
        try:
            params = bsql.parameters(config.get("queryParameters"))
            translated = bsql.translate(sql, relations)
            con = duckdb.connect()
            try:
                for t, data in scanned.items():
                    con.register(f"t_{t}", data)
                result = con.execute(translated, params).to_arrow_table()
            finally:
                con.close()
        except bsql.InvalidQuery as exc:
            raise BQError(400, "INVALID_ARGUMENT", "invalidQuery", str(exc)) from exc
        except duckdb.Error as exc:
            raise BQError(400, "INVALID_ARGUMENT", "invalidQuery",
                          f"Query error (sandbox: DuckDB): {str(exc).splitlines()[0]}") from exc
        columns = bsql.referenced_identifiers(sql)
        per_table = [self._bytes(t, columns) for t in scanned]
        processed = sum(per_table)
        billed = sum(max(MIN_BILLED_PER_TABLE, n) for n in per_table)
        now = str(int(time.time() * 1000))
        rows = [[_cell(v) for v in row] for row in zip(*(c.to_pylist() for c in result.columns),
                                                      strict=True)] if result.num_columns else []
        with self._lock:
            self._jobs[job_id] = {
                "project": project, "query": sql, "rows": rows, "created": now,
                "schema": {"fields": [{"name": f.name, "type": _bq_type(f.type), "mode": "NULLABLE"}
                                      for f in result.schema]},
                "processed": processed, "billed": billed,
            }

    def _stored(self, project: str, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job["project"] != project:
            raise BQError(404, "NOT_FOUND", "notFound", f"Not found: Job {project}:{LOCATION}.{job_id}")
        return job

    def _job(self, project: str, job_id: str) -> dict[str, Any]:
        job = self._stored(project, job_id)
        ref = {"projectId": project, "jobId": job_id, "location": LOCATION}
        stats = {"totalBytesProcessed": str(job["processed"]),
                 "totalBytesBilled": str(job["billed"]), "cacheHit": False,
                 "statementType": "SELECT", "totalSlotMs": "1"}
        return {
            "kind": "bigquery#job", "id": f"{project}:{LOCATION}.{job_id}", "jobReference": ref,
            "selfLink": f"{self.base_url}/bigquery/v2/projects/{project}/jobs/{job_id}",
            "configuration": {"jobType": "QUERY", "query": {"query": job["query"],
                                                            "useLegacySql": False}},
            "status": {"state": "DONE"},
            "statistics": {"creationTime": job["created"], "startTime": job["created"],
                           "endTime": job["created"], "totalBytesProcessed": str(job["processed"]),
                           "query": stats},
        }

    def _results(self, project: str, job_id: str, request: Request) -> dict[str, Any]:
        response = self._page(project, job_id, request.q("maxResults"), request.q("pageToken"),
                              request.q("startIndex"))
        response["kind"] = "bigquery#getQueryResultsResponse"
        response["etag"] = "sandbox"
        return response

    def _page(self, project: str, job_id: str, max_results: Any, page_token: str | None,
              start_index: Any) -> dict[str, Any]:
        job = self._stored(project, job_id)
        rows = job["rows"]
        start = int(start_index or 0)
        if page_token:
            try:
                token_job, _, offset = base64.urlsafe_b64decode(page_token.encode()).decode().partition(":")
                assert token_job == job_id
                start = int(offset)
            except (ValueError, AssertionError) as exc:
                raise BQError(400, "INVALID_ARGUMENT", "invalid", "Invalid page token.") from exc
        size = DEFAULT_PAGE_ROWS if max_results in (None, "") else int(max_results)
        page = rows[start:start + size] if size > 0 else []
        body: dict[str, Any] = {
            "schema": job["schema"],
            "jobReference": {"projectId": project, "jobId": job_id, "location": LOCATION},
            "totalRows": str(len(rows)), "jobComplete": True, "cacheHit": False,
            "totalBytesProcessed": str(job["processed"]),
        }
        if page:
            body["rows"] = [{"f": [{"v": v} for v in row]} for row in page]
        if size > 0 and start + size < len(rows):
            body["pageToken"] = base64.urlsafe_b64encode(f"{job_id}:{start + size}".encode()).decode()
        return body
