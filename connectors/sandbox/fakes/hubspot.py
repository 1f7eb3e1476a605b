"""A wire-compatible fake of the HubSpot CRM API (v3 objects/search/batch/properties/pipelines/
owners, v4 associations), served from the world store. Plain HTTP; driven in tests by the real
``hubspot-api-client``.

Behaviour (as HubSpot's CRM API documentation describes it; the client library is the judge):

* ``Authorization: Bearer <access_token>`` or 401 ``INVALID_AUTHENTICATION``.
* Every response carries a ``Date`` header on the sandbox clock, as HubSpot sends its own:
  the store's ``clock`` (the exclusive end of the generated days) at 00:00:00 UTC. Every
  generated record was modified before it and ``advance(days)`` stamps changes in
  ``[clock, clock + days)``, so it is "now" for the world served (re-read per request).
* Every response carries ``X-HubSpot-RateLimit-*`` headers (a rolling 10-second window of
  100 requests and a daily budget of 250,000, both only *reported*; 429s come from faults).
* List: ``limit`` default 10, max 100 (400 above); ``after`` is the next id; ``properties`` /
  ``associations`` repeated or comma-separated, unknown names ignored, known-but-empty ones
  ``null``; ``archived=true`` returns only archived objects; ascending id; ``paging`` absent on
  the last page, otherwise ``next.after`` + an absolute ``link`` to this fake.
* Search: ``filterGroups`` (OR of ANDs; max 5 groups, 10 filters per group, 25 in all) or a
  legacy top-level ``filters``; operators EQ NEQ GT GTE LT LTE BETWEEN IN NOT_IN HAS_PROPERTY
  NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN; values compare as epoch ms for
  datetime/date properties (epoch-ms strings or ISO strings), as numbers for number
  properties (and ``hs_object_id``), case-insensitively as strings otherwise; one sort;
  ``limit`` max 200; ``after`` is an offset and a request whose offset reaches 10,000 is
  answered 400; archived objects are never searched. Response properties: the default set of
  the type + the requested ones + ``hs_object_id``, ``createdate`` and the modified property.
* Search-index lag (on by default, one hour; the fault ``hubspot:lag=L`` sets ``L`` seconds,
  ``lag=0`` turns it off): the search index shows each change only after a delay of its own,
  from 0 to the lag, so changes are indexed late *and out of order* (a change may become
  searchable before an older one). The delay is a deterministic function of the object and
  its ``updated_at_ms`` (:func:`index_delay_ms`), counted on the sandbox clock: a change is
  invisible to search while ``updated_at_ms + delay > now``. List, get and batch read see it at
  once (they read the database). HubSpot documents no bound; Airbyte added a lookback for it
  (PR #69203) and Estuary avoids search for very recent changes (``docs/API_BEHAVIOUR.md``).
* URL length: a request whose target (path + query) is longer than :data:`MAX_URL_LENGTH`
  bytes is answered ``414 URI Too Long`` (an HTML body from the edge, as HubSpot's front
  answers it); long ``properties`` lists on list GETs hit it (dlt verified-sources #305,
  Airbyte #13691).
* Batch read: up to 100 inputs, optional ``idProperty``; 200, or 207 with ``errors[]``
  (``OBJECT_NOT_FOUND``, ``context.ids``) when some ids are missing.
* v4 associations: batch read (per-id ``after`` cursor, 500 per page; ids without
  associations or unknown come back in ``errors`` with 207) and the per-object GET.
* Faults: ``429`` (HubSpot's TEN_SECONDLY_ROLLING body, Retry-After when configured),
  ``500/502/503``, ``expire`` (401 in HubSpot's shape), ``drop``, ``slow``, ``lag``.
* Associations added or removed without a change to either record's modified date, and
  records deleted for good (GDPR deletes, the recycle bin purged after 90 days), come from the
  world generator (:mod:`connectors.sandbox.hubspot_events`); the fake serves what the store
  holds.
* Test hook :meth:`HubSpotApp.fail_association_reads`: the v4 association batch read answers
  207 with a per-item ``INTERNAL_ERROR`` (not ``OBJECT_NOT_FOUND``) for the given from-ids,
  a set number of times or always.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import json
import math
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from connectors.sandbox import catalog
from connectors.sandbox.fakes._common import StoreReader, clock_date, date_ms, iso_ms, parse_time_ms
from connectors.sandbox.fakes.base import App, Request, Response

OBJECT_TYPES = ("contacts", "companies", "deals")
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
_TYPE_ALIASES = {
    "contact": "contacts", "contacts": "contacts", "0-1": "contacts",
    "company": "companies", "companies": "companies", "0-2": "companies",
    "deal": "deals", "deals": "deals", "0-3": "deals",
}
DEFAULT_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
}
LIST_MAX = 100
SEARCH_MAX = 200
SEARCH_CAP = 10_000
BATCH_MAX = 100
ASSOC_PAGE = 500
RATE_MAX = 100               # per 10-second window (reported only)
RATE_DAILY = 250_000
DEFAULT_INDEX_LAG_S = 3600.0  # search-index lag, at most (seconds of the sandbox clock)
MAX_URL_LENGTH = 8_192       # request target bytes; longer -> 414
ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
    "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL", "AI_REFERRALS",
)
_FIELD_TYPES = {
    "string": "text", "number": "number", "date": "date", "datetime": "date",
    "enumeration": "select", "bool": "booleancheckbox",
}
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/crm/v3/objects/([^/]+)/?$"), "list_objects"),
    ("POST", re.compile(r"^/crm/v3/objects/([^/]+)/search/?$"), "search"),
    ("POST", re.compile(r"^/crm/v3/objects/([^/]+)/batch/read/?$"), "batch_read"),
    ("GET", re.compile(r"^/crm/v3/objects/([^/]+)/([^/]+)/?$"), "get_object"),
    ("POST", re.compile(r"^/crm/v4/associations/([^/]+)/([^/]+)/batch/read/?$"), "assoc_batch"),
    ("GET", re.compile(r"^/crm/v4/objects/([^/]+)/([^/]+)/associations/([^/]+)/?$"), "assoc_get"),
    ("GET", re.compile(r"^/crm/v3/properties/([^/]+)/?$"), "properties"),
    ("GET", re.compile(r"^/crm/v3/properties/([^/]+)/([^/]+)/?$"), "property"),
    ("GET", re.compile(r"^/crm/v3/pipelines/([^/]+)/?$"), "pipelines"),
    ("GET", re.compile(r"^/crm/v3/pipelines/([^/]+)/([^/]+)/?$"), "pipeline"),
    ("GET", re.compile(r"^/crm/v3/pipelines/([^/]+)/([^/]+)/stages/?$"), "pipeline_stages"),
    ("GET", re.compile(r"^/crm/v3/owners/?$"), "owners"),
    ("GET", re.compile(r"^/crm/v3/owners/([^/]+)/?$"), "owner"),
]


class HubSpotError(Exception):
    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.message, self.extra = status, category, message, extra


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "1", "yes")


def _multi(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for value in request.query.get(name, []):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


class HubSpotApp(App):
    service = "hubspot"

    def __init__(self, store_path: str | Path, *, access_token: str,
                 index_lag_s: float = DEFAULT_INDEX_LAG_S) -> None:
        super().__init__()
        self.index_lag_s = index_lag_s   # the ``lag`` fault overrides it
        self.reader = StoreReader(store_path)
        self.access_token = access_token
        self.base_url = ""           # set by FakeServer; used for absolute paging links
        self._rate_lock = threading.Lock()
        self._window: collections.deque[float] = collections.deque()
        self._daily = 0
        self._assoc_failures: dict[str, int | None] = {}   # from-id -> times left (None: always)
        self._assoc_unattributed = False
        self.assoc_failures_served: collections.Counter[str] = collections.Counter()

    def fail_association_reads(self, ids: list[str] | set[str], times: int | None = None, *,
                               attributed: bool = True) -> None:
        """Test hook: the v4 association batch read answers these from-ids with a per-item
        error (207, category ``INTERNAL_ERROR``) ``times`` times each (None: every time).
        ``attributed=False`` leaves the id out of the error's context (an error the client
        cannot tie to an input). ``assoc_failures_served`` counts the errors served per id."""
        with self._rate_lock:
            for i in ids:
                self._assoc_failures[str(i)] = times
            self._assoc_unattributed = not attributed

    def server_time(self) -> float | None:
        """The sandbox clock, 00:00:00 UTC of the store's ``clock`` date (epoch seconds); the
        wall clock (None) for a store without one."""
        meta = self.reader.meta()
        if not meta.get("clock"):
            return None
        return date_ms(clock_date(meta)) / 1000

    def _take_assoc_failure(self, key: str) -> bool:
        with self._rate_lock:
            if key not in self._assoc_failures:
                return False
            left = self._assoc_failures[key]
            if left is not None:
                if left <= 0:
                    return False
                self._assoc_failures[key] = left - 1
            self.assoc_failures_served[key] += 1
            return True

    # -- error shapes ---------------------------------------------------------------------
    def _error(self, status: int, category: str, message: str, **extra: Any) -> Response:
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                "category": category, **extra}
        return Response.json(status, body, self._rate_headers())

    def rate_limited(self, retry_after: float | None) -> Response:
        headers = self._rate_headers(exhausted=True)
        if retry_after is not None:
            # whole seconds: urllib3 rejects a fractional Retry-After (InvalidHeader)
            headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
            "requestId": str(uuid.uuid4()),
        }
        return Response.json(429, body, headers)

    def server_error(self, status: int) -> Response:
        resp = self._error(status, "INTERNAL_ERROR" if status == 500 else "BAD_GATEWAY",
                           "internal error" if status == 500 else "Service unavailable")
        if status == 503:
            resp.headers["Retry-After"] = "1"
        return resp

    def expired(self) -> Response:
        return self._error(
            401, "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired 0 second(s) ago.",
        )

    def _rate_headers(self, exhausted: bool = False) -> dict[str, str]:
        now = time.monotonic()
        with self._rate_lock:
            self._daily += 1
            self._window.append(now)
            while self._window and self._window[0] < now - 10:
                self._window.popleft()
            remaining = 0 if exhausted else max(0, RATE_MAX - len(self._window))
            daily = self._daily
        return {
            "X-HubSpot-RateLimit-Daily": str(RATE_DAILY),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, RATE_DAILY - daily)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(RATE_MAX),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Secondly": str(RATE_MAX // 10),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(0 if exhausted else RATE_MAX // 10),
        }

    def _ok(self, payload: object, status: int = 200) -> Response:
        return Response.json(status, payload, self._rate_headers())

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if len(request.raw_path.encode()) > MAX_URL_LENGTH:
            return Response(414, b"<html><head><title>414 Request-URI Too Large</title></head>"
                            b"<body><center><h1>414 Request-URI Too Large</h1></center></body></html>",
                            {"Content-Type": "text/html"})
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.access_token}":
            return self._error(
                401, "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        for method, pattern, name in _ROUTES:
            if request.method != method:
                continue
            m = pattern.match(request.path)
            if m:
                try:
                    return getattr(self, "_" + name)(request, *m.groups())
                except HubSpotError as exc:
                    return self._error(exc.status, exc.category, exc.message, **exc.extra)
        return self._error(404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.path}")

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _type(raw: str) -> str:
        t = _TYPE_ALIASES.get(raw.lower())
        if t is None:
            raise HubSpotError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {raw}")
        return t

    def _link(self, path: str, params: dict[str, Any]) -> str:
        return f"{self.base_url}{path}?{urlencode(params, doseq=True)}"

    @staticmethod
    def _props_for(t: str, requested: list[str] | None) -> list[str]:
        """Requested properties that exist (unknown names are ignored), or the default set."""
        known = catalog.HUBSPOT_PROPERTIES[t]
        base = ["createdate", catalog.HUBSPOT_MODIFIED_PROPERTY[t], "hs_object_id"]
        if not requested:
            return list(dict.fromkeys([*DEFAULT_PROPERTIES[t], *base]))
        return list(dict.fromkeys(p for p in requested if p in known))

    @staticmethod
    def _object(row: Any, props_wanted: list[str], *,
                history: list[str] | None = None) -> dict[str, Any]:
        props = json.loads(row["props"])
        props.setdefault("hs_object_id", str(row["id"]))
        out_props = {p: props.get(p) for p in props_wanted}
        obj: dict[str, Any] = {
            "id": str(row["id"]),
            "properties": out_props,
            "createdAt": iso_ms(row["created_at_ms"]),
            "updatedAt": iso_ms(row["updated_at_ms"]),
            "archived": bool(row["archived"]),
        }
        if row["archived"]:
            obj["archivedAt"] = iso_ms(row["archived_at_ms"] or row["updated_at_ms"])
        if history:
            obj["propertiesWithHistory"] = {
                p: ([{"value": props[p], "timestamp": iso_ms(row["updated_at_ms"]),
                      "sourceType": "CRM_UI", "sourceId": "sandbox"}] if props.get(p) is not None else [])
                for p in history if p in catalog.HUBSPOT_PROPERTIES.get(_row_type(row), {})
            }
        return obj

    def _associations_block(self, t: str, object_id: int, to_types: list[str]) -> dict[str, Any]:
        conn = self.reader.conn()
        block: dict[str, Any] = {}
        for raw in to_types:
            to_t = _TYPE_ALIASES.get(raw.lower())
            if not to_t:
                continue
            rows = conn.execute(
                "SELECT DISTINCT to_id FROM hubspot_association WHERE from_type=? AND from_id=? "
                "AND to_type=? ORDER BY to_id", (t, object_id, to_t),
            ).fetchall()
            if rows:
                label = f"{_SINGULAR[t]}_to_{_SINGULAR[to_t]}"
                block[to_t] = {"results": [{"id": str(r[0]), "type": label} for r in rows]}
        return block

    # -- objects --------------------------------------------------------------------------
    def _list_objects(self, request: Request, raw_type: str) -> Response:
        t = self._type(raw_type)
        limit = self._int(request.q("limit"), 10, "limit")
        if limit < 1 or limit > LIST_MAX:
            raise HubSpotError(400, "VALIDATION_ERROR",
                               f"limit must be between 1 and {LIST_MAX}, got {limit}")
        history = _multi(request, "propertiesWithHistory")
        if history:
            limit = min(limit, 50)
        after = self._int(request.q("after"), 0, "after")
        archived = _bool(request.q("archived"))
        props = self._props_for(t, _multi(request, "properties"))
        assoc = _multi(request, "associations")
        rows = self.reader.conn().execute(
            "SELECT * FROM hubspot_object WHERE object_type=? AND archived=? AND id>=? "
            "ORDER BY id LIMIT ?", (t, int(archived), after, limit + 1),
        ).fetchall()
        results = []
        for row in rows[:limit]:
            obj = self._object(row, props, history=history)
            if assoc:
                obj["associations"] = self._associations_block(t, row["id"], assoc)
            results.append(obj)
        payload: dict[str, Any] = {"results": results}
        if len(rows) > limit:
            nxt = str(rows[limit]["id"])
            params = {k: v for k, v in request.query.items() if k != "after"}
            params["after"] = [nxt]
            payload["paging"] = {"next": {"after": nxt, "link": self._link(request.path, params)}}
        return self._ok(payload)

    def _get_object(self, request: Request, raw_type: str, object_id: str) -> Response:
        t = self._type(raw_type)
        archived = _bool(request.q("archived"))
        id_property = request.q("idProperty")
        row = self._find(t, object_id, id_property, archived)
        if row is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found")
        obj = self._object(row, self._props_for(t, _multi(request, "properties")),
                           history=_multi(request, "propertiesWithHistory"))
        assoc = _multi(request, "associations")
        if assoc:
            obj["associations"] = self._associations_block(t, row["id"], assoc)
        return self._ok(obj)

    def _find(self, t: str, key: str, id_property: str | None, archived: bool) -> Any:
        conn = self.reader.conn()
        if not id_property or id_property == "hs_object_id":
            if not str(key).isdigit():
                return None
            return conn.execute(
                "SELECT * FROM hubspot_object WHERE object_type=? AND id=? AND archived=?",
                (t, int(key), int(archived)),
            ).fetchone()
        return conn.execute(
            "SELECT * FROM hubspot_object WHERE object_type=? AND archived=? "
            "AND json_extract(props, '$.' || ?) = ? ORDER BY id LIMIT 1",
            (t, int(archived), id_property, str(key)),
        ).fetchone()

    def _batch_read(self, request: Request, raw_type: str) -> Response:
        t = self._type(raw_type)
        body = self._body(request)
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX:
            raise HubSpotError(400, "VALIDATION_ERROR",
                               f"Batch input limit exceeded: {len(inputs)} > {BATCH_MAX}")
        archived = _bool(request.q("archived"))
        props = self._props_for(t, body.get("properties") or [])
        history = body.get("propertiesWithHistory") or []
        started = iso_ms(int(time.time() * 1000))
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id") if isinstance(item, dict) else item)
            row = self._find(t, key, body.get("idProperty"), archived)
            if row is None:
                missing.append(key)
            else:
                results.append(self._object(row, props, history=history))
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                   "completedAt": iso_ms(int(time.time() * 1000))}
        if missing:
            payload["numErrors"] = 1
            payload["errors"] = [{
                "status": "error", "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {_SINGULAR[t].upper()} objects, they may be "
                           "deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
            }]
            return self._ok(payload, 207)
        return self._ok(payload)

    # -- search ---------------------------------------------------------------------------
    def _search(self, request: Request, raw_type: str) -> Response:
        t = self._type(raw_type)
        body = self._body(request)
        limit = self._int(body.get("limit"), 10, "limit")
        if limit < 1 or limit > SEARCH_MAX:
            raise HubSpotError(
                400, "VALIDATION_ERROR", "There was a problem with the request.",
                errors=[{"message": f"limit must be less than or equal to {SEARCH_MAX}",
                         "context": {"limit": [str(limit)]}}],
            )
        offset = self._int(body.get("after"), 0, "after")
        if offset >= SEARCH_CAP:
            raise HubSpotError(
                400, "VALIDATION_ERROR", "There was a problem with the request.",
                errors=[{"message": f"Search results are limited to {SEARCH_CAP} total "
                                    "results; refine the query to page further.",
                         "code": "INVALID_INTEGER", "context": {"after": [str(offset)]}}],
            )
        groups = body.get("filterGroups") or []
        if not groups and body.get("filters"):
            groups = [{"filters": body["filters"]}]
        groups = [g.get("filters") or [] for g in groups]
        if len(groups) > 5 or any(len(g) > 10 for g in groups) or sum(map(len, groups)) > 25:
            raise HubSpotError(400, "VALIDATION_ERROR",
                               "Too many filters: at most 5 groups, 10 filters per group and "
                               "25 filters in total")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            raise HubSpotError(400, "VALIDATION_ERROR", "Only one sort is allowed")
        query = (body.get("query") or "").strip().lower()
        types = catalog.HUBSPOT_PROPERTIES[t]
        modified = catalog.HUBSPOT_MODIFIED_PROPERTY[t]
        compiled = [[self._compile_filter(f, types) for f in g] for g in groups]

        sql = "SELECT * FROM hubspot_object WHERE object_type=? AND archived=0"
        args: list[Any] = [t]
        indexed = self._indexed_test()
        # Push the incremental-sync filters (modified date, id) of a single group into SQL.
        if len(compiled) == 1:
            for f in compiled[0]:
                column = {"hs_object_id": "id", modified: "updated_at_ms"}.get(f["name"])
                if column and f["op"] in ("GT", "GTE", "LT", "LTE", "EQ", "BETWEEN") \
                        and f["value"] is not None:
                    if f["op"] == "BETWEEN":
                        sql += f" AND {column} BETWEEN ? AND ?"
                        args += [f["value"], f["high"]]
                    else:
                        op = {"GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=", "EQ": "="}[f["op"]]
                        sql += f" AND {column} {op} ?"
                        args.append(f["value"])
        sort_name = sorts[0].get("propertyName") if sorts else "hs_object_id"
        descending = bool(sorts) and str(sorts[0].get("direction", "ASCENDING")).upper().startswith("DESC")
        sql_sort = {"hs_object_id": "id", modified: "updated_at_ms, id"}.get(sort_name)
        if sql_sort:
            sql += " ORDER BY " + ", ".join(
                f"{c.strip()} {'DESC' if descending else 'ASC'}" for c in sql_sort.split(",")
            )
        rows = self.reader.conn().execute(sql, args).fetchall()
        decoded = []
        for row in rows:
            if not indexed(row):
                continue
            props = json.loads(row["props"])
            props.setdefault("hs_object_id", str(row["id"]))
            if compiled and not any(all(f["test"](props) for f in g) for g in compiled):
                continue
            if query and not any(query in str(props.get(p) or "").lower()
                                 for p in (*DEFAULT_PROPERTIES[t], "hs_object_id")):
                continue
            decoded.append(row)
        if not sql_sort:
            ptype = types.get(sort_name, "string")

            def key(row: Any) -> tuple[Any, ...]:
                v = _typed(json.loads(row["props"]).get(sort_name), ptype)
                return (v is None, v if v is not None else 0, row["id"])

            present = sorted((r for r in decoded if key(r)[0] is False), key=key, reverse=descending)
            absent = sorted((r for r in decoded if key(r)[0] is True), key=lambda r: r["id"])
            decoded = present + absent
        total = len(decoded)
        requested = [p for p in (body.get("properties") or []) if p in types]
        props_out = list(dict.fromkeys([*(requested or DEFAULT_PROPERTIES[t]),
                                        "hs_object_id", "createdate", modified]))
        page = decoded[offset: offset + limit]
        payload: dict[str, Any] = {"total": total,
                                   "results": [self._object(r, props_out) for r in page]}
        if offset + limit < total:
            nxt = str(offset + limit)
            payload["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return self._ok(payload)

    @property
    def lag_ms(self) -> int:
        lag = self.fault_value("lag")
        return int((self.index_lag_s if lag is None else lag) * 1000)

    def now_ms(self) -> int:
        server = self.server_time()
        return int((server if server is not None else time.time()) * 1000)

    def _indexed_test(self) -> Any:
        """A test ``row -> bool``: is the row's latest change in the search index yet?"""
        lag_ms, now = self.lag_ms, self.now_ms()
        if lag_ms <= 0:
            return lambda row: True

        def indexed(row: Any) -> bool:
            updated = int(row["updated_at_ms"])
            if updated + lag_ms <= now:
                return True
            return updated + index_delay_ms(row["object_type"], int(row["id"]), updated, lag_ms) <= now

        return indexed

    def unindexed_ids(self, object_type: str) -> set[str]:
        """Ids of live objects whose latest change search does not show yet (for tests)."""
        indexed = self._indexed_test()
        return {str(r["id"]) for r in self.reader.conn().execute(
            "SELECT object_type, id, updated_at_ms FROM hubspot_object WHERE object_type=? "
            "AND archived=0 AND updated_at_ms > ?", (object_type, self.now_ms() - self.lag_ms))
            if not indexed(r)}

    @staticmethod
    def _compile_filter(f: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
        name = f.get("propertyName")
        op = str(f.get("operator") or "EQ").upper()
        if not name:
            raise HubSpotError(400, "VALIDATION_ERROR", "filter without propertyName")
        ptype = "number" if name == "hs_object_id" else types.get(name, "string")
        value = _typed(f.get("value"), ptype)
        high = _typed(f.get("highValue"), ptype)
        values = [_typed(v, ptype) for v in (f.get("values") or [])]
        raw_token = str(f.get("value") or "").lower().strip("*")

        def test(props: dict[str, Any]) -> bool:
            raw = props.get(name)
            has = raw is not None and raw != ""
            if op == "HAS_PROPERTY":
                return has
            if op == "NOT_HAS_PROPERTY":
                return not has
            v = _typed(raw, ptype) if has else None
            if op == "NEQ":
                return v != value
            if op == "NOT_IN":
                return v not in values
            if op == "NOT_CONTAINS_TOKEN":
                return raw_token not in str(raw or "").lower()
            if v is None:
                return False
            try:
                if op == "EQ":
                    return v == value
                if op == "GT":
                    return v > value
                if op == "GTE":
                    return v >= value
                if op == "LT":
                    return v < value
                if op == "LTE":
                    return v <= value
                if op == "BETWEEN":
                    return value <= v <= high
            except TypeError:
                return False
            if op == "IN":
                return v in values
            if op == "CONTAINS_TOKEN":
                return raw_token in str(raw).lower()
            raise HubSpotError(400, "VALIDATION_ERROR", f"Unknown operator {op}")

        if op not in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "IN", "NOT_IN",
                      "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            raise HubSpotError(400, "VALIDATION_ERROR", f"Unknown operator {op}")
        return {"name": name, "op": op, "value": value, "high": high, "test": test}

    # -- associations v4 ------------------------------------------------------------------
    def _assoc_targets(self, t: str, from_id: int, to_t: str) -> list[dict[str, Any]]:
        rows = self.reader.conn().execute(
            "SELECT to_id, type_id, category FROM hubspot_association WHERE from_type=? "
            "AND from_id=? AND to_type=? ORDER BY to_id, type_id", (t, from_id, to_t),
        ).fetchall()
        grouped: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            grouped.setdefault(r["to_id"], []).append(
                {"category": r["category"], "typeId": r["type_id"], "label": None})
        return [{"toObjectId": k, "associationTypes": v} for k, v in grouped.items()]

    @staticmethod
    def _cursor(offset: int) -> str:
        return base64.b64encode(str(offset).encode()).decode()

    @staticmethod
    def _uncursor(after: Any) -> int:
        if after in (None, ""):
            return 0
        text = str(after)
        try:
            return int(base64.b64decode(text.replace("%3D", "=")).decode())
        except ValueError:
            try:
                return int(text)
            except ValueError as exc:
                raise HubSpotError(400, "VALIDATION_ERROR", f"bad after cursor {text!r}") from exc

    def _assoc_batch(self, request: Request, raw_from: str, raw_to: str) -> Response:
        t, to_t = self._type(raw_from), self._type(raw_to)
        body = self._body(request)
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            raise HubSpotError(400, "VALIDATION_ERROR", "Batch input limit exceeded (1000)")
        results, errors = [], []
        started = iso_ms(int(time.time() * 1000))
        for item in inputs:
            key = str(item.get("id")) if isinstance(item, dict) else str(item)
            if self._take_assoc_failure(key):
                context = {} if self._assoc_unattributed else {
                    "fromObjectId": [key], "toObjectType": [_SINGULAR[to_t].upper()]}
                errors.append({
                    "status": "error", "category": "INTERNAL_ERROR",
                    "message": f"Failed to read the {_SINGULAR[to_t]} associations of "
                               f"{_SINGULAR[t]} {key}; try again.",
                    "context": context,
                })
                continue
            targets = self._assoc_targets(t, int(key), to_t) if key.isdigit() else []
            if not targets:
                errors.append({
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {_SINGULAR[to_t]} is associated with {_SINGULAR[t]} {key}.",
                    "context": {"fromObjectId": [key], "toObjectType": [_SINGULAR[to_t].upper()]},
                })
                continue
            start = self._uncursor(item.get("after") if isinstance(item, dict) else None)
            page = targets[start: start + ASSOC_PAGE]
            entry: dict[str, Any] = {"from": {"id": key}, "to": page}
            if start + ASSOC_PAGE < len(targets):
                entry["paging"] = {"next": {"after": self._cursor(start + ASSOC_PAGE), "link": None}}
            results.append(entry)
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                   "completedAt": iso_ms(int(time.time() * 1000))}
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
            return self._ok(payload, 207)
        return self._ok(payload)

    def _assoc_get(self, request: Request, raw_type: str, object_id: str, raw_to: str) -> Response:
        t, to_t = self._type(raw_type), self._type(raw_to)
        limit = self._int(request.q("limit"), ASSOC_PAGE, "limit")
        targets = self._assoc_targets(t, int(object_id), to_t) if object_id.isdigit() else []
        start = self._uncursor(request.q("after"))
        payload: dict[str, Any] = {"results": targets[start: start + limit]}
        if start + limit < len(targets):
            nxt = self._cursor(start + limit)
            payload["paging"] = {"next": {"after": nxt, "link": self._link(
                request.path, {"after": nxt, "limit": limit})}}
        return self._ok(payload)

    # -- properties, pipelines, owners ----------------------------------------------------
    def _property_defs(self, t: str) -> list[dict[str, Any]]:
        out = []
        created = iso_ms(date_ms(_epoch_date()))
        for order, (name, ptype) in enumerate(catalog.HUBSPOT_PROPERTIES[t].items()):
            options = self._options(t, name, ptype)
            out.append({
                "name": name,
                "label": name.replace("hs_", "").replace("_", " ").title(),
                "type": ptype,
                "fieldType": "radio" if name == "lifecyclestage" else _FIELD_TYPES[ptype],
                "groupName": f"{_SINGULAR[t]}information",
                "description": "",
                "options": options,
                "displayOrder": order,
                "hidden": False,
                "calculated": False,
                "externalOptions": name == "hubspot_owner_id",
                "hasUniqueValue": name == "hs_object_id",
                "formField": t == "contacts" and name in ("email", "firstname", "lastname",
                                                          "company", "ga_client_id"),
                "hubspotDefined": name not in ("ga_client_id",),
                "modificationMetadata": {"archivable": True, "readOnlyDefinition": True,
                                         "readOnlyValue": name == "hs_object_id"},
                "createdAt": created,
                "updatedAt": created,
                "archived": False,
            })
        return out

    def _options(self, t: str, name: str, ptype: str) -> list[dict[str, Any]]:
        def opts(values: list[tuple[str, str]]) -> list[dict[str, Any]]:
            return [{"label": label, "value": value, "displayOrder": i, "hidden": False}
                    for i, (value, label) in enumerate(values)]

        if ptype == "bool":
            return opts([("true", "Yes"), ("false", "No")])
        if name == "lifecyclestage":
            labels = {"marketingqualifiedlead": "Marketing Qualified Lead",
                      "salesqualifiedlead": "Sales Qualified Lead"}
            return opts([(s, labels.get(s, s.title())) for s in catalog.LIFECYCLE_STAGES])
        if name == "dealstage":
            return opts([(s[0], s[1]) for s in catalog.HUBSPOT_DEAL_PIPELINE["stages"]])
        if name == "pipeline":
            return opts([(catalog.HUBSPOT_DEAL_PIPELINE["id"], catalog.HUBSPOT_DEAL_PIPELINE["label"])])
        if name == "hs_analytics_source":
            return opts([(s, s.replace("_", " ").title()) for s in ANALYTICS_SOURCES])
        if name == "deal_currency_code":
            currencies = self.reader.meta().get("currencies") or ["USD", "EUR", "GBP"]
            return opts([(c, c) for c in currencies])
        if name == "hubspot_owner_id":
            rows = self.reader.conn().execute(
                "SELECT id, payload FROM hubspot_owner WHERE archived=0 ORDER BY id").fetchall()
            values = []
            for r in rows:
                p = json.loads(r["payload"])
                values.append((str(r["id"]), f"{p.get('firstName', '')} {p.get('lastName', '')}".strip()))
            return opts(values)
        return []

    def _properties(self, request: Request, raw_type: str) -> Response:
        return self._ok({"results": self._property_defs(self._type(raw_type))})

    def _property(self, request: Request, raw_type: str, name: str) -> Response:
        for d in self._property_defs(self._type(raw_type)):
            if d["name"] == name:
                return self._ok(d)
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")

    @staticmethod
    def _pipeline_defs(t: str) -> list[dict[str, Any]]:
        if t != "deals":
            return []
        p = catalog.HUBSPOT_DEAL_PIPELINE
        created = iso_ms(date_ms(_epoch_date()))
        stages = [{
            "id": sid, "label": label, "displayOrder": i,
            "metadata": {"isClosed": "true" if closed else "false", "probability": str(float(prob))},
            "archived": False, "createdAt": created, "updatedAt": created,
        } for i, (sid, label, closed, prob) in enumerate(p["stages"])]
        return [{"id": p["id"], "label": p["label"], "displayOrder": 0, "archived": False,
                 "createdAt": created, "updatedAt": created, "stages": stages}]

    def _pipelines(self, request: Request, raw_type: str) -> Response:
        return self._ok({"results": self._pipeline_defs(self._type(raw_type))})

    def _pipeline(self, request: Request, raw_type: str, pipeline_id: str) -> Response:
        for p in self._pipeline_defs(self._type(raw_type)):
            if p["id"] == pipeline_id:
                return self._ok(p)
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id}")

    def _pipeline_stages(self, request: Request, raw_type: str, pipeline_id: str) -> Response:
        for p in self._pipeline_defs(self._type(raw_type)):
            if p["id"] == pipeline_id:
                return self._ok({"results": p["stages"]})
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id}")

    def _owners(self, request: Request) -> Response:
        limit = self._int(request.q("limit"), 100, "limit")
        if limit < 1 or limit > 500:
            raise HubSpotError(400, "VALIDATION_ERROR", "limit must be between 1 and 500")
        after = self._uncursor(request.q("after"))
        archived = _bool(request.q("archived"))
        sql = "SELECT id, archived, payload FROM hubspot_owner WHERE archived=? AND id>=?"
        args: list[Any] = [int(archived), after]
        email = request.q("email")
        if email:
            sql += " AND lower(json_extract(payload, '$.email')) = lower(?)"
            args.append(email)
        rows = self.reader.conn().execute(sql + " ORDER BY id LIMIT ?", (*args, limit + 1)).fetchall()
        payload: dict[str, Any] = {"results": [self._owner_obj(r) for r in rows[:limit]]}
        if len(rows) > limit:
            nxt = self._cursor(rows[limit]["id"])
            params = {k: v for k, v in request.query.items() if k != "after"}
            params["after"] = [nxt]
            payload["paging"] = {"next": {"after": nxt, "link": self._link("/crm/v3/owners/", params)}}
        return self._ok(payload)

    def _owner(self, request: Request, owner_id: str) -> Response:
        id_property = request.q("idProperty", "id")
        archived = _bool(request.q("archived"))
        rows = self.reader.conn().execute(
            "SELECT id, archived, payload FROM hubspot_owner WHERE archived=?", (int(archived),)
        ).fetchall()
        for r in rows:
            obj = self._owner_obj(r)
            if str(obj.get("userId" if id_property == "userId" else "id")) == owner_id:
                return self._ok(obj)
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found")

    @staticmethod
    def _owner_obj(row: Any) -> dict[str, Any]:
        obj = json.loads(row["payload"])
        obj["id"] = str(obj.get("id", row["id"]))
        obj.setdefault("archived", bool(row["archived"]))
        obj.setdefault("type", "PERSON")
        return obj

    # -- parsing --------------------------------------------------------------------------
    @staticmethod
    def _int(value: Any, default: int, name: str) -> int:
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise HubSpotError(400, "VALIDATION_ERROR", f"{name} must be an integer") from exc

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as exc:
            raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON") from exc
        if not isinstance(body, dict):
            raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object")
        return body


def index_delay_ms(object_type: str, object_id: int, updated_at_ms: int, lag_ms: int) -> int:
    """How long after ``updated_at_ms`` this change becomes searchable: deterministic in the
    change, from 0 to ``lag_ms``, skewed short (most changes are indexed within minutes, a few
    take nearly the whole lag), so changes are indexed out of order."""
    digest = hashlib.blake2b(f"{object_type}:{object_id}:{updated_at_ms}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    return int(lag_ms * u ** 2)


def _typed(value: Any, ptype: str) -> Any:
    if value is None or value == "":
        return None
    if ptype in ("datetime", "date"):
        return parse_time_ms(value)
    if ptype == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if ptype == "bool":
        return str(value).lower() == "true"
    return str(value).lower()


def _row_type(row: Any) -> str:
    return row["object_type"]


def _epoch_date() -> dt.date:
    return dt.date(2019, 1, 1)
