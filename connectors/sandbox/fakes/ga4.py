"""A wire-compatible fake of the GA4 Data API v1beta (REST), served from ``ga4_row`` in the
world store. Plain HTTP; driven in tests by the real ``BetaAnalyticsDataClient`` with
``transport="rest"`` and ``client_options={"api_endpoint": "http://127.0.0.1:PORT"}``.

Routes: ``POST /v1beta/properties/{id}:runReport``, ``POST /v1beta/properties/{id}:batchRunReports``
(up to 5 reports), ``GET /v1beta/properties/{id}/metadata`` (``0`` = universal metadata) and
``POST /token`` (OAuth2 JWT-bearer and refresh-token grants, exempt from faults). ``$alt`` is ignored.

Auth. The GAPIC client turns service-account credentials into *self-signed JWTs*
(``always_use_jwt_access``), so it never calls the token endpoint: the bearer token is an RS256
JWT whose ``iss`` is the service account. The fake accepts (a) such a JWT when its signature
verifies with ``public_key_pem``, its ``iss`` is ``service_account_email`` and it has not
expired, and (b) opaque access tokens that ``/token`` issued (for clients that use the
OAuth grant: ``google.oauth2.service_account.Credentials`` without JWT access). Anything else:
401 ``UNAUTHENTICATED``.

Reports. Rows of ``ga4_row`` in the date range(s) are filtered (``dimensionFilter``: string,
in-list and empty filters, and/or/not groups), grouped by the requested dimensions and their
metrics summed (SQL), then:

1. **The ``(other)`` rule (a contract; the truth re-implements it):** groups are per ``date``
   when ``date`` is requested, else the whole request (and per date range when several are
   requested). A group with more than ``T`` rows (meta ``ga4_other_row_threshold``; 0/absent =
   never) keeps the ``T - 1`` rows with the most sessions (ties: the tuple of dimension values in
   request order, ascending as strings) and the rest become ONE row whose dimension values are
   all ``(other)`` except ``date`` (and ``dateRange``), metrics summed;
   ``metadata.dataLossFromOtherRow`` is then true.
2. ``orderBys`` (dimension ALPHANUMERIC/CASE_INSENSITIVE/NUMERIC, metric; ``desc``), default
   ascending by the dimension values; then ``offset``/``limit`` paging, ``rowCount`` = all rows.

Served values: empty store values are ``(not set)`` (in particular ``visitor_id`` ``''``);
``date`` is ``YYYYMMDD``; ``dateHour`` is the date + ``00`` (the store has no hours). Derived
dimensions: ``sessionSourceMedium`` (``source / medium``), the ``sessionManual*`` aliases,
``sessionDefaultChannelGroup`` (a simplified GA channel rule), ``landingPagePlusQueryString``
(= ``landingPage``), ``year``, ``month``, ``day``, ``yearMonth``, ``dayOfWeek``, ``dayOfWeekName``.
Metrics: ``sessions``, ``engagedSessions``, ``keyEvents`` (and its old name ``conversions``),
``bounceRate`` = 1 - engaged/sessions, ``engagementRate``, ``totalUsers``/``activeUsers`` =
distinct true visitors (summed, so approximate, in an ``(other)`` row). Other valid GA4 names
answer 400 ``INVALID_ARGUMENT`` "not available in the sandbox"; unknown names answer GA's own
"is not a valid dimension/metric" message.

Dates: ``YYYY-MM-DD``, ``today`` (= the store's clock, the exclusive end of data: empty),
``yesterday``, ``NdaysAgo``; time zone = meta ``ga4_time_zone``.

Limits: 9 dimensions, 10 metrics, 4 date ranges, ``limit`` 1..250,000 (default 10,000),
string or int ``limit``/``offset``. Token costs, the property quotas (exhausted: 429
``RESOURCE_EXHAUSTED`` naming the quota; ``propertyQuota`` returned when
``returnPropertyQuota`` is true), data thresholds (``subjectToThresholding``, rows with too few
users withheld) and sampling (``samplingMetadatas``) are in ``ga4_limits.py``.
Faults: ``429``/``429-bare`` answer 429 ``RESOURCE_EXHAUSTED`` "Exhausted concurrent requests
quota." (with/without ``Retry-After``), ``500``/``502``/``503`` Google envelopes, ``expire`` 401.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from connectors.sandbox import catalog
from connectors.sandbox.fakes._common import StoreReader, clock_date
from connectors.sandbox.fakes.base import App, Request, Response
from connectors.sandbox.fakes.ga4_limits import (
    EXHAUSTED,
    QuotaLedger,
    may_sample,
    sampled,
    sampling_rate,
    scale_up,
    threshold_users,
    token_cost,
)

MAX_DIMENSIONS = 9
MAX_METRICS = 10
MAX_DATE_RANGES = 4
MAX_LIMIT = 250_000
DEFAULT_LIMIT = 10_000
OTHER = "(other)"
NOT_SET = "(not set)"
SCHEMA_URL = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"



def _nz(column: str) -> str:
    return f"(CASE WHEN {column} = '' THEN '{NOT_SET}' ELSE {column} END)"


_ISO_DATE = "(substr(date,1,4)||'-'||substr(date,5,2)||'-'||substr(date,7,2))"
_DOW = f"strftime('%w', {_ISO_DATE})"
_SOURCE, _MEDIUM = _nz("source"), _nz("medium")
_SEARCH = "('google','bing','yahoo','duckduckgo','baidu','yandex','ecosia')"
_SOCIAL = ("('linkedin','linkedin.com','lnkd.in','facebook','facebook.com','m.facebook.com',"
           "'x','twitter','t.co','x.com','instagram','reddit','youtube')")
_CHANNEL = f"""(CASE
    WHEN lower(source) = '(direct)' AND lower(medium) IN ('(none)', '(not set)', '') THEN 'Direct'
    WHEN lower(medium) IN ('cpc', 'ppc', 'paidsearch') AND lower(source) IN {_SEARCH} THEN 'Paid Search'
    WHEN lower(source) IN {_SOCIAL} AND (lower(medium) IN ('cpc', 'ppc', 'paid', 'paidsocial', 'paid_social', 'retargeting')) THEN 'Paid Social'
    WHEN lower(medium) = 'organic' OR lower(source) IN {_SEARCH} THEN 'Organic Search'
    WHEN lower(medium) IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media')
         OR lower(source) IN {_SOCIAL} THEN 'Organic Social'
    WHEN lower(medium) IN ('email', 'e-mail', 'e_mail', 'e mail') THEN 'Email'
    WHEN lower(medium) = 'affiliate' THEN 'Affiliates'
    WHEN lower(medium) = 'referral' THEN 'Referral'
    WHEN lower(medium) IN ('cpc', 'ppc', 'paid') THEN 'Paid Other'
    ELSE 'Unassigned' END)"""

# API name -> (SQL expression over ga4_row, ui name, category)
DIMENSIONS: dict[str, tuple[str, str, str]] = {
    "date": ("date", "Date", "Time"),
    "dateHour": ("(date || '00')", "Date + hour (YYYYMMDDHH)", "Time"),
    "year": ("substr(date,1,4)", "Year", "Time"),
    "month": ("substr(date,5,2)", "Month", "Time"),
    "day": ("substr(date,7,2)", "Day", "Time"),
    "yearMonth": ("substr(date,1,6)", "Month of year", "Time"),
    "dayOfWeek": (_DOW, "Day of week", "Time"),
    "dayOfWeekName": (
        f"(CASE {_DOW} WHEN '0' THEN 'Sunday' WHEN '1' THEN 'Monday' WHEN '2' THEN 'Tuesday' "
        "WHEN '3' THEN 'Wednesday' WHEN '4' THEN 'Thursday' WHEN '5' THEN 'Friday' "
        "ELSE 'Saturday' END)", "Day of week name", "Time"),
    catalog.GA4_VISITOR_DIMENSION: (_nz("visitor_id"), "ga_client_id", "Event-scoped Custom Dimension"),
    "sessionSource": (_SOURCE, "Session source", "Traffic source"),
    "sessionMedium": (_MEDIUM, "Session medium", "Traffic source"),
    "sessionSourceMedium": (f"({_SOURCE} || ' / ' || {_MEDIUM})", "Session source / medium", "Traffic source"),
    "sessionCampaignName": (_nz("campaign"), "Session campaign", "Traffic source"),
    "sessionManualSource": (_SOURCE, "Session manual source", "Traffic source"),
    "sessionManualMedium": (_MEDIUM, "Session manual medium", "Traffic source"),
    "sessionManualSourceMedium": (f"({_SOURCE} || ' / ' || {_MEDIUM})", "Session manual source / medium", "Traffic source"),
    "sessionManualCampaignName": (_nz("campaign"), "Session manual campaign name", "Traffic source"),
    "sessionManualAdContent": (_nz("ad_content"), "Session manual ad content", "Traffic source"),
    "sessionManualTerm": (_nz("term"), "Session manual term", "Traffic source"),
    "sessionDefaultChannelGroup": (_CHANNEL, "Session default channel group", "Traffic source"),
    "landingPage": (_nz("landing_page"), "Landing page", "Page / screen"),
    "landingPagePlusQueryString": (_nz("landing_page"), "Landing page + query string", "Page / screen"),
}
# Valid GA4 names the sandbox cannot compute from its store.
UNSERVED_DIMENSIONS = frozenset({
    "sessionCampaignId", "sessionManualCampaignId", "sessionSourcePlatform",
    "sessionGoogleAdsKeyword", "sessionDefaultChannelGrouping", "firstUserSource",
    "firstUserMedium", "firstUserCampaignName", "firstUserDefaultChannelGroup",
    "firstUserManualAdContent", "firstUserManualTerm", "dateHourMinute", "yearWeek", "week",
    "isoYearIsoWeek", "eventName", "pagePath", "pageTitle", "hostName", "country", "city",
    "deviceCategory", "browser", "operatingSystem", "language", "newVsReturning", "hour",
    "minute", "nthDay",
})
# API name -> (type, ui name)
METRICS: dict[str, tuple[str, str]] = {
    "sessions": ("TYPE_INTEGER", "Sessions"),
    "engagedSessions": ("TYPE_INTEGER", "Engaged sessions"),
    "keyEvents": ("TYPE_INTEGER", "Key events"),
    "conversions": ("TYPE_INTEGER", "Conversions"),
    "bounceRate": ("TYPE_FLOAT", "Bounce rate"),
    "engagementRate": ("TYPE_FLOAT", "Engagement rate"),
    "totalUsers": ("TYPE_INTEGER", "Total users"),
    "activeUsers": ("TYPE_INTEGER", "Active users"),
}
UNSERVED_METRICS = frozenset({
    "newUsers", "screenPageViews", "eventCount", "averageSessionDuration",
    "sessionKeyEventRate", "sessionConversionRate", "totalRevenue", "purchaseRevenue",
    "userEngagementDuration", "sessionsPerUser", "screenPageViewsPerSession", "eventsPerSession",
})
_MATCH_TYPES = {1: "EXACT", 2: "BEGINS_WITH", 3: "ENDS_WITH", 4: "CONTAINS", 5: "FULL_REGEXP",
                6: "PARTIAL_REGEXP"}
_ORDER_TYPES = {1: "ALPHANUMERIC", 2: "CASE_INSENSITIVE_ALPHANUMERIC", 3: "NUMERIC"}
_AGGREGATIONS = {1: "TOTAL", 4: "COUNT", 5: "MINIMUM", 6: "MAXIMUM"}
_ROUTE = re.compile(r"^/v1beta/properties/([^/:]+)(?::(runReport|batchRunReports)|/(metadata))$")


class GA4Error(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def _bad(message: str) -> GA4Error:
    return GA4Error(400, "INVALID_ARGUMENT", message)


def _enum(value: Any, names: dict[int, str], default: str) -> str:
    if value is None:
        return default
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return names.get(int(value), default)
    return str(value)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fmt(value: float | int, kind: str) -> str:
    if kind == "TYPE_INTEGER":
        return str(int(round(value)))
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


class GA4App(App):
    service = "ga4"

    def __init__(self, store_path: str | Path, *, service_account_email: str,
                 public_key_pem: str | bytes,
                 authorized_user: tuple[str, str, str] | None = None) -> None:
        super().__init__()
        self.reader = StoreReader(store_path)
        self.service_account_email = service_account_email
        # (client id, client secret, refresh token) of a user's ADC (refresh_token grant)
        self.authorized_user = authorized_user
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        self.public_key = serialization.load_pem_public_key(pem)
        self.base_url = ""
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.ledger = QuotaLedger()

    # -- error shapes ---------------------------------------------------------------------
    @staticmethod
    def _error(code: int, status: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return Response.json(code, {"error": {"code": code, "message": message, "status": status}}, headers)

    def rate_limited(self, retry_after: float | None) -> Response:
        # whole seconds, as HTTP requires (urllib3 rejects a fractional Retry-After)
        headers = {} if retry_after is None else {"Retry-After": str(max(0, math.ceil(retry_after)))}
        return self._error(429, "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota.", headers)

    def server_error(self, status: int) -> Response:
        if status == 503:
            return self._error(503, "UNAVAILABLE", "The service is currently unavailable.",
                               {"Retry-After": "1"})
        if status == 502:
            return self._error(502, "UNAVAILABLE", "Bad Gateway")
        return self._error(500, "INTERNAL", "Internal error encountered.")

    def expired(self) -> Response:
        return self._unauthenticated()

    def _unauthenticated(self) -> Response:
        return self._error(
            401, "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential. See "
            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
            {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        )

    def exempt(self, request: Request) -> bool:
        return request.path == "/token"

    # -- auth -----------------------------------------------------------------------------
    def _verify_jwt(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_b64url(parts[0]))
            claims = json.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except ValueError:
            return None
        if header.get("alg") != "RS256":
            return None
        try:
            self.public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None
        if claims.get("iss") != self.service_account_email:
            return None
        if float(claims.get("exp", 0)) < time.time() - 60:
            return None
        return claims

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return False
        token = auth[len("Bearer "):].strip()
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is not None:
            return expiry > time.time()
        return self._verify_jwt(token) is not None

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        if form.get("grant_type") == "refresh_token":
            got = (form.get("client_id"), form.get("client_secret"), form.get("refresh_token"))
            if self.authorized_user is None or got != self.authorized_user:
                return Response.json(400, {"error": "invalid_grant",
                                           "error_description": "Bad Request"})
            return self._issue()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": "Invalid grant_type"})
        claims = self._verify_jwt(form.get("assertion", ""))
        if claims is None:
            return Response.json(400, {"error": "invalid_grant",
                                       "error_description": "Invalid JWT Signature."})
        return self._issue()

    def _issue(self) -> Response:
        token = "ya29.sandbox-" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + 3600
        return Response.json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        if not self._authorized(request):
            return self._unauthenticated()
        m = _ROUTE.match(request.path)
        if not m:
            return self._error(404, "NOT_FOUND", f"The requested URL {request.path} was not found.")
        property_id, verb, metadata = m.groups()
        try:
            meta = self.reader.meta()
            known = str(meta.get("ga4_property_id") or "123456789")
            if metadata and request.method == "GET":
                if property_id not in (known, "0"):
                    raise self._denied()
                return Response.json(200, self._metadata(property_id))
            if request.method != "POST" or not verb:
                return self._error(404, "NOT_FOUND", f"The requested URL {request.path} was not found.")
            if property_id != known:
                raise self._denied()
            body = self._body(request)
            exhausted = self.ledger.enter(meta)
            if exhausted:
                raise GA4Error(429, "RESOURCE_EXHAUSTED", EXHAUSTED[exhausted])
            try:
                if verb == "runReport":
                    return Response.json(200, self._run_report(body, meta))
                reports = body.get("requests") or []
                if not reports or len(reports) > 5:
                    raise _bad("batchRunReports takes 1 to 5 requests.")
                return Response.json(200, {"reports": [self._run_report(r, meta) for r in reports],
                                           "kind": "analyticsData#batchRunReports"})
            finally:
                self.ledger.leave()
        except GA4Error as exc:
            return self._error(exc.code, exc.status, exc.message)

    @staticmethod
    def _denied() -> GA4Error:
        return GA4Error(
            403, "PERMISSION_DENIED",
            "User does not have sufficient permissions for this property. To learn more about "
            "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.",
        )

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as exc:
            raise _bad("Invalid JSON payload received.") from exc
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise _bad("Invalid JSON payload received. Expected an object.")
        return body

    # -- reports --------------------------------------------------------------------------
    def _run_report(self, body: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        dims = [d.get("name") for d in body.get("dimensions") or []]
        mets = [m.get("name") for m in body.get("metrics") or []]
        ranges = body.get("dateRanges") or []
        if len(dims) > MAX_DIMENSIONS:
            raise _bad(f"Requested {len(dims)} dimensions; a report can have at most "
                       f"{MAX_DIMENSIONS} dimensions.")
        if len(mets) > MAX_METRICS:
            raise _bad(f"Requested {len(mets)} metrics; a report can have at most {MAX_METRICS} metrics.")
        if not mets and not dims:
            raise _bad("Must specify at least one dimension or metric.")
        for name in dims:
            if name not in DIMENSIONS:
                if name in UNSERVED_DIMENSIONS:
                    raise _bad(f"Field {name} is a valid GA4 dimension but is not available in "
                               "the sandbox property.")
                raise _bad(f"Field {name} is not a valid dimension. For a list of valid "
                           f"dimensions and metrics, see {SCHEMA_URL} ")
        for name in mets:
            if name not in METRICS:
                if name in UNSERVED_METRICS:
                    raise _bad(f"Field {name} is a valid GA4 metric but is not available in "
                               "the sandbox property.")
                raise _bad(f"Field {name} is not a valid metric. For a list of valid "
                           f"dimensions and metrics, see {SCHEMA_URL} ")
        if len(set(dims)) != len(dims) or len(set(mets)) != len(mets):
            raise _bad("Dimensions and metrics must not be repeated in a request.")
        if not ranges:
            raise _bad("Must specify at least one date range.")
        if len(ranges) > MAX_DATE_RANGES:
            raise _bad(f"Requested {len(ranges)} date ranges; a request can have at most "
                       f"{MAX_DATE_RANGES} date ranges.")
        limit = self._int(body.get("limit"), DEFAULT_LIMIT, "limit")
        offset = self._int(body.get("offset"), 0, "offset")
        if limit <= 0 and body.get("limit") not in (None, "", 0, "0"):
            raise _bad("limit must be positive.")
        if limit == 0:
            limit = DEFAULT_LIMIT
        if limit > MAX_LIMIT:
            raise _bad(f"limit {limit} exceeds the maximum of {MAX_LIMIT}.")
        if offset < 0:
            raise _bad("offset must be non-negative.")
        if body.get("metricFilter"):
            raise _bad("metricFilter is not available in the sandbox property.")

        clock = clock_date(meta)
        parsed = []
        for i, r in enumerate(ranges):
            start = self._date(r.get("startDate"), clock)
            end = self._date(r.get("endDate"), clock)
            if start > end:
                raise _bad(f"Date range startDate {r.get('startDate')} is after endDate {r.get('endDate')}.")
            parsed.append((r.get("name") or f"date_range_{i}", start, end))
        multi = len(parsed) > 1
        out_dims = dims + (["dateRange"] if multi else [])
        where, where_args = ("", [])
        if body.get("dimensionFilter"):
            sql, where_args = self._filter_sql(body["dimensionFilter"])
            where = f" AND ({sql})"
        min_users = threshold_users(meta, dims)
        need_users = min_users > 0 or any(m in ("totalUsers", "activeUsers") for m in mets)

        conn = self.reader.conn()
        conn.create_function("ga_regexp", 3, _regexp, deterministic=True)
        conn.create_function("ga_sampled", 2, sampled, deterministic=True)
        samplings: list[dict[str, str]] = []

        def aggregate(where: str, where_args: list[Any]) -> list[tuple[list[str], list[float]]]:
            out: list[tuple[list[str], list[float]]] = []
            measure = not samplings
            for name, start, end in parsed:
                bounds = [start.strftime("%Y%m%d"), end.strftime("%Y%m%d")]
                (space,) = conn.execute("SELECT COALESCE(SUM(sessions), 0) FROM ga4_row "
                                        "WHERE date BETWEEN ? AND ?", bounds).fetchone()
                rate = sampling_rate(meta, int(space)) if may_sample(dims) else 1.0
                sample_sql, sample_args = "", []
                if rate < 1.0:
                    sample_sql, sample_args = " AND ga_sampled(rowid, ?)", [int(rate * 1_000_000)]
                    (read,) = conn.execute(
                        f"SELECT COALESCE(SUM(sessions), 0) FROM ga4_row WHERE date BETWEEN ? "
                        f"AND ?{sample_sql}", [*bounds, *sample_args]).fetchone()
                    if measure:
                        samplings.append({"samplesReadCount": str(int(read)),
                                          "samplingSpaceSize": str(int(space))})
                select = [f"{DIMENSIONS[d][0]} AS d{i}" for i, d in enumerate(dims)]
                select += ["SUM(sessions)", "SUM(engaged_sessions)", "SUM(key_events)",
                           "COUNT(DISTINCT true_visitor_id)" if need_users else "0"]
                sql = (f"SELECT {', '.join(select)} FROM ga4_row WHERE date BETWEEN ? AND ?"
                       f"{sample_sql}{where}")
                if dims:
                    sql += " GROUP BY " + ", ".join(f"d{i}" for i in range(len(dims)))
                for rec in conn.execute(sql, [*bounds, *sample_args, *where_args]):
                    values = [str(v) for v in tuple(rec)[: len(dims)]]
                    sums = [float(v or 0) for v in tuple(rec)[len(dims):]]
                    if not dims and not sums[0] and not sums[3]:
                        continue
                    out.append((values + ([name] if multi else []),
                                [scale_up(v, rate) for v in sums]))
            return out

        # The (other) rule acts on GA's aggregated table, before filters and privacy
        # thresholds (Google: dataLossFromOtherRow is set "regardless of filters and limits";
        # a filter may drop the (other) row from the report). So a filtered request never
        # recovers what its unfiltered table rolled into (other): the fake collapses the
        # unfiltered rows, keeps the filtered rows that survived, and drops the (other) row.
        threshold = int(meta.get("ga4_other_row_threshold") or 0)
        rows = aggregate(where, where_args)
        if where and threshold:
            table, collapsed = collapse_other(aggregate("", []), out_dims, threshold)
            kept = {tuple(values) for values, _ in table}
            rows = [r for r in rows if tuple(r[0]) in kept]
        else:
            rows, collapsed = collapse_other(rows, out_dims, threshold)
        if min_users:
            # too few users: the row is withheld
            rows = [r for r in rows if r[1][3] >= min_users]
        rows = self._order(rows, body.get("orderBys") or [], out_dims, mets)
        row_count = len(rows)
        page = rows[offset: offset + limit]
        types = [METRICS[m][0] for m in mets]

        def metric_values(sums: list[float]) -> list[dict[str, str]]:
            return [{"value": _fmt(_metric(m, sums), t)} for m, t in zip(mets, types, strict=True)]

        response: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in out_dims],
            "metricHeaders": [{"name": m, "type": t} for m, t in zip(mets, types, strict=True)],
        }
        if page:
            response["rows"] = [{"dimensionValues": [{"value": v} for v in values],
                                 "metricValues": metric_values(sums)} for values, sums in page]
        aggregations = {_enum(a, _AGGREGATIONS, "") for a in body.get("metricAggregations") or []}
        if rows and mets:
            if "TOTAL" in aggregations:
                total = [sum(s[i] for _, s in rows) for i in range(4)]
                response["totals"] = [{"dimensionValues": [{"value": "RESERVED_TOTAL"}] * len(out_dims),
                                       "metricValues": metric_values(total)}]
            for agg, key, pick in (("MAXIMUM", "maximums", max), ("MINIMUM", "minimums", min)):
                if agg in aggregations:
                    response[key] = [{
                        "dimensionValues": [{"value": f"RESERVED_{agg[:3]}"}] * len(out_dims),
                        "metricValues": [{"value": _fmt(pick(_metric(m, s) for _, s in rows), t)}
                                         for m, t in zip(mets, types, strict=True)],
                    }]
        if row_count:
            response["rowCount"] = row_count
        metadata: dict[str, Any] = {
            "currencyCode": meta.get("ga4_currency_code") or meta.get("corporate_currency") or "USD",
            "timeZone": meta.get("ga4_time_zone") or "UTC",
        }
        if collapsed:
            metadata["dataLossFromOtherRow"] = True
        if min_users:
            # set for every report GA *may* threshold, whether or not a row was withheld
            metadata["subjectToThresholding"] = True
        if samplings:
            metadata["samplingMetadatas"] = samplings
        response["metadata"] = metadata
        days = sum((end - start).days + 1 for _, start, end in parsed)
        quota = self.ledger.charge(
            token_cost(len(page), len(out_dims) + len(mets), days, bool(body.get("dimensionFilter"))),
            meta)
        if body.get("returnPropertyQuota"):
            response["propertyQuota"] = quota
        response["kind"] = "analyticsData#runReport"
        return response

    @staticmethod
    def _int(value: Any, default: int, name: str) -> int:
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise _bad(f"{name} must be an integer.") from exc

    @staticmethod
    def _date(value: Any, clock: dt.date) -> dt.date:
        text = str(value or "").strip()
        if text == "today":
            return clock
        if text == "yesterday":
            return clock - dt.timedelta(days=1)
        m = re.fullmatch(r"(\d+)daysAgo", text)
        if m:
            return clock - dt.timedelta(days=int(m.group(1)))
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise _bad(f"Invalid date {text!r}: use YYYY-MM-DD, NdaysAgo, yesterday, or today.") from exc

    def _filter_sql(self, expr: dict[str, Any]) -> tuple[str, list[Any]]:
        for group, joiner in (("andGroup", " AND "), ("orGroup", " OR ")):
            if group in expr:
                parts = [self._filter_sql(e) for e in (expr[group] or {}).get("expressions") or []]
                if not parts:
                    return ("1" if group == "andGroup" else "0"), []
                return "(" + joiner.join(p for p, _ in parts) + ")", [a for _, args in parts for a in args]
        if "notExpression" in expr:
            sql, args = self._filter_sql(expr["notExpression"])
            return f"NOT ({sql})", args
        f = expr.get("filter")
        if not isinstance(f, dict):
            raise _bad("dimensionFilter must have andGroup, orGroup, notExpression or filter.")
        name = f.get("fieldName")
        if name not in DIMENSIONS:
            raise _bad(f"Field {name} is not a valid dimension for a dimension filter.")
        column = DIMENSIONS[name][0]
        if "stringFilter" in f:
            sf = f["stringFilter"] or {}
            match = _enum(sf.get("matchType"), _MATCH_TYPES, "EXACT")
            value = str(sf.get("value", ""))
            case = bool(sf.get("caseSensitive"))
            col = column if case else f"lower({column})"
            val = value if case else value.lower()
            if match == "EXACT":
                return f"{col} = ?", [val]
            if match == "BEGINS_WITH":
                return f"substr({col}, 1, ?) = ?", [len(val), val]
            if match == "ENDS_WITH":
                if not val:
                    return "1", []
                return f"substr({col}, -?) = ?", [len(val), val]
            if match == "CONTAINS":
                return f"instr({col}, ?) > 0", [val]
            if match in ("FULL_REGEXP", "PARTIAL_REGEXP"):
                return f"ga_regexp(?, {column}, ?)", [
                    value if match == "PARTIAL_REGEXP" else f"\\A(?:{value})\\Z", int(case)]
            raise _bad(f"Unknown matchType {sf.get('matchType')!r}.")
        if "inListFilter" in f:
            lf = f["inListFilter"] or {}
            values = [str(v) for v in lf.get("values") or []]
            if not values:
                return "0", []
            if lf.get("caseSensitive"):
                return f"{column} IN ({', '.join('?' * len(values))})", values
            return (f"lower({column}) IN ({', '.join('?' * len(values))})", [v.lower() for v in values])
        if "emptyFilter" in f:
            return f"({column} = '' OR {column} = '{NOT_SET}')", []
        raise _bad("Only stringFilter, inListFilter and emptyFilter are available in the sandbox.")

    @staticmethod
    def _order(rows: list[tuple[list[str], list[float]]], order_bys: list[dict[str, Any]],
               dims: list[str], mets: list[str]) -> list[tuple[list[str], list[float]]]:
        rows = sorted(rows, key=lambda r: r[0])
        for ob in reversed(order_bys):
            desc = bool(ob.get("desc"))
            if "metric" in ob:
                name = (ob["metric"] or {}).get("metricName")
                if name not in mets:
                    raise _bad(f"orderBys metric {name} must be one of the requested metrics.")
                rows.sort(key=lambda r, n=name: _metric(n, r[1]), reverse=desc)
            elif "dimension" in ob:
                name = (ob["dimension"] or {}).get("dimensionName")
                if name not in dims:
                    raise _bad(f"orderBys dimension {name} must be one of the requested dimensions.")
                i = dims.index(name)
                kind = _enum((ob["dimension"] or {}).get("orderType"), _ORDER_TYPES, "ALPHANUMERIC")
                if kind == "NUMERIC":
                    def key(r: Any, i: int = i) -> tuple[int, float]:
                        try:
                            return (0, float(r[0][i]))
                        except ValueError:
                            return (1, 0.0)
                elif kind == "CASE_INSENSITIVE_ALPHANUMERIC":
                    def key(r: Any, i: int = i) -> Any:
                        return r[0][i].lower()
                else:
                    def key(r: Any, i: int = i) -> Any:
                        return r[0][i]
                rows.sort(key=key, reverse=desc)
            else:
                raise _bad("orderBys entries need a metric or a dimension.")
        return rows

    def _metadata(self, property_id: str) -> dict[str, Any]:
        return {
            "name": f"properties/{property_id}/metadata",
            "dimensions": [
                {"apiName": name, "uiName": ui, "description": f"{ui} (sandbox)", "category": cat,
                 **({"customDefinition": True} if name.startswith("customEvent:") else {})}
                for name, (_, ui, cat) in DIMENSIONS.items()
            ],
            "metrics": [
                {"apiName": name, "uiName": ui, "description": f"{ui} (sandbox)", "type": t,
                 "category": "Session" if "ession" in name or "Rate" in name else "User"}
                for name, (t, ui) in METRICS.items()
            ],
        }


def _metric(name: str, sums: list[float]) -> float:
    sessions, engaged, key_events, users = sums
    if name == "sessions":
        return sessions
    if name == "engagedSessions":
        return engaged
    if name in ("keyEvents", "conversions"):
        return key_events
    if name in ("totalUsers", "activeUsers"):
        return users
    if name == "engagementRate":
        return engaged / sessions if sessions else 0.0
    if name == "bounceRate":
        return 1 - engaged / sessions if sessions else 0.0
    raise KeyError(name)


def collapse_other(
    rows: list[tuple[list[str], list[float]]], dims: list[str], threshold: int
) -> tuple[list[tuple[list[str], list[float]]], bool]:
    """Apply the ``(other)`` row rule (see the module docstring) to aggregated rows:
    ``(dimension values, [sessions, engaged, key events, users])``."""
    if threshold <= 0:
        return rows, False
    keep_idx = [i for i, d in enumerate(dims) if d in ("date", "dateRange")]
    groups: dict[tuple[str, ...], list[tuple[list[str], list[float]]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[0][i] for i in keep_idx), []).append(row)
    out: list[tuple[list[str], list[float]]] = []
    collapsed = False
    for group in groups.values():
        if len(group) <= threshold:
            out.extend(group)
            continue
        collapsed = True
        ranked = sorted(group, key=lambda r: (-r[1][0], tuple(r[0])))
        kept, rest = ranked[: threshold - 1], ranked[threshold - 1:]
        out.extend(kept)
        other_values = [rest[0][0][i] if i in keep_idx else OTHER for i in range(len(dims))]
        other_sums = [sum(r[1][k] for r in rest) for k in range(len(rest[0][1]))]
        out.append((other_values, other_sums))
    return out, collapsed


def _regexp(pattern: str, value: str, case_sensitive: int) -> int:
    flags = 0 if case_sensitive else re.IGNORECASE
    return int(re.search(pattern, value or "", flags) is not None)
