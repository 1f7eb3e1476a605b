"""What every wire-compatible fake shares: a threaded HTTP(S) server on loopback, a request
log that tests count, and fault injection driven by a spec string.

A fake is an :class:`App`: ``handle(request) -> Response``. The server wraps it with the
faults configured for its service, so each app only speaks its own API.

Fault spec (``--faults`` on ``advocacy sandbox serve``, or ``FaultPlan.parse`` in tests)::

    service:kind[=value][@every][xcount], ...

``service`` is ``hubspot``, ``salesforce``, ``ga4`` or ``bigquery`` (the GA4 export); ``every`` injects the fault on every
Nth request to that service (default 1 = every request); ``count`` caps how many times it
fires (default unlimited). Kinds:

=================  =================================================================
``429``            rate limited, with ``Retry-After: value`` (default 1 second)
``429-bare``       rate limited without ``Retry-After``
``500`` ``502``    server errors (``503`` carries ``Retry-After: 1``)
``503``
``drop``           headers sent, then the connection closes mid-body
``slow``           the response is delayed ``value`` seconds (default 0.5)
``expire``         the session/token is expired (401 in the API's own shape); the app
                   decides what expiring means (Salesforce revokes the token)
``lag``            HubSpot only: the search index's lag, at most ``value`` seconds of the
                   sandbox clock (default without the fault: an hour; ``lag=0``: none)
``limit``          Salesforce only: REQUEST_LIMIT_EXCEEDED from the ``every``-th request on
``no-forecasting`` Salesforce only: ForecastingQuota refused (no permission)
``long-txn``       Salesforce only: REQUEST_LIMIT_EXCEEDED of the concurrent long-running
                   kind (``ConcurrentPerOrgLongTxn Limit exceeded``): passes in seconds
``query-timeout``  Salesforce only: a replication query (ordered by SystemModstamp or
                   CreatedDate) spanning more than ``value`` days answers QUERY_TIMEOUT
                   (``count`` times at most)
``partial-visibility``  Salesforce only: the integration user lacks View All Data: queries
                   miss a third of the records, the org's record counts do not
``denied``         BigQuery only: the credentials lack BigQuery roles (403 accessDenied)
=================  =================================================================

Faults apply to API calls only: the app marks auth/token routes and metadata it wants
exempt by returning them from :meth:`App.exempt`.

Every response carries a ``Date`` header on the app's clock (:meth:`App.server_time`, the
wall clock unless the app keeps its own, as a real server sends its own clock);
``App.send_date = False`` leaves it out (a test hook: a proxy that strips it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

SERVICES = ("hubspot", "salesforce", "ga4", "bigquery")
_FAULT_RE = re.compile(
    r"^(?P<service>[a-z0-9]+):(?P<kind>[a-z0-9-]+?)(?:=(?P<value>[0-9.]+))?"
    r"(?:@(?P<every>[0-9]+))?(?:x(?P<count>[0-9]+))?$"
)
KINDS = (
    "429", "429-bare", "500", "502", "503", "drop", "slow", "expire", "lag", "limit",
    "no-forecasting", "long-txn", "query-timeout", "partial-visibility", "denied",
)
# faults read by the app as state, never injected per request by the server
STATE_KINDS = frozenset({"lag", "no-forecasting", "query-timeout", "partial-visibility", "denied"})


@dataclasses.dataclass
class Fault:
    service: str
    kind: str
    value: float | None = None
    every: int = 1
    count: int | None = None
    fired: int = 0

    def due(self, request_number: int) -> bool:
        if self.kind in STATE_KINDS:
            return False  # state faults, read by the app, never injected per request
        if self.count is not None and self.fired >= self.count:
            return False
        if self.kind == "limit":
            return request_number >= self.every
        return request_number % self.every == 0


class FaultPlan:
    """The faults of all services, parsed from a spec string."""

    def __init__(self, faults: list[Fault] | None = None):
        self.faults = faults or []

    @classmethod
    def parse(cls, spec: str | None) -> FaultPlan:
        faults: list[Fault] = []
        for part in (p.strip() for p in (spec or "").split(",")):
            if not part:
                continue
            m = _FAULT_RE.match(part)
            if not m:
                raise ValueError(f"bad fault {part!r}: expected service:kind[=value][@every][xcount]")
            service, kind = m["service"], m["kind"]
            if service not in SERVICES:
                raise ValueError(f"bad fault {part!r}: service must be one of {', '.join(SERVICES)}")
            if kind not in KINDS:
                raise ValueError(f"bad fault {part!r}: kind must be one of {', '.join(KINDS)}")
            every = int(m["every"] or 1)
            if every < 1:
                raise ValueError(f"bad fault {part!r}: @every must be >= 1")
            faults.append(Fault(
                service, kind,
                float(m["value"]) if m["value"] else None,
                every,
                int(m["count"]) if m["count"] else None,
            ))
        return cls(faults)

    def for_service(self, service: str) -> list[Fault]:
        return [f for f in self.faults if f.service == service]


@dataclasses.dataclass
class Request:
    method: str
    path: str                         # without the query string
    query: dict[str, list[str]]       # parse_qs, blank values kept
    headers: dict[str, str]           # lower-cased names
    body: bytes
    raw_path: str                     # path with the query string, as sent

    def json(self) -> object:
        return json.loads(self.body or b"null")

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
        h = {"Content-Type": "application/json;charset=UTF-8"}
        h.update(headers or {})
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), h)


@dataclasses.dataclass
class LoggedRequest:
    service: str
    method: str
    path: str
    raw_path: str
    status: int
    fault: str | None
    at: float


class App:
    """One fake API. Subclasses implement :meth:`handle` and the error shapes of their API."""

    service: str = ""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.send_date = True     # False: responses carry no Date header (test hook)

    def server_time(self) -> float | None:
        """The server's clock for the ``Date`` header (epoch seconds), or None for the wall
        clock. An app serving a world with its own clock overrides this."""
        return None

    def fault_value(self, kind: str) -> float | None:
        """The value of a state fault (``lag``) or None when it is not configured."""
        for f in self.faults:
            if f.kind == kind:
                return f.value if f.value is not None else 0.0
        return None

    def has_fault(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.faults)

    def exempt(self, request: Request) -> bool:
        """Routes that faults never touch (token endpoints, for instance)."""
        return False

    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    # Error shapes, in the API's own form. Subclasses override.
    def rate_limited(self, retry_after: float | None) -> Response:
        headers = {} if retry_after is None else {"Retry-After": _fmt_seconds(retry_after)}
        return Response.json(429, {"error": "rate limited"}, headers)

    def server_error(self, status: int) -> Response:
        headers = {"Retry-After": "1"} if status == 503 else {}
        return Response.json(status, {"error": "server error"}, headers)

    def expired(self) -> Response:
        return Response.json(401, {"error": "expired"})

    def limit_exceeded(self, long_running: bool = False) -> Response:
        return Response.json(403, {"error": "limit exceeded"})


def _fmt_seconds(value: float) -> str:
    """Whole seconds, rounded up: urllib3 rejects a fractional ``Retry-After``."""
    return str(max(0, math.ceil(value)))


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that went away mid-answer (a SIGKILLed sync, a timeout, a dropped TLS session)
    is what clients do, not a fault of the fake: logged at debug level instead of a traceback
    on stderr. Anything else still prints."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], OSError):   # reset, broken pipe, SSL EOF
            log.debug("client %s went away mid-answer", client_address)
            return
        super().handle_error(request, client_address)


class FakeServer:
    """Serves one :class:`App` on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        app: App,
        *,
        faults: FaultPlan | None = None,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        on_request: Callable[[LoggedRequest], None] | None = None,
    ) -> None:
        self.app = app
        app.faults = (faults or FaultPlan()).for_service(app.service)
        self.request_log: list[LoggedRequest] = []
        self._counter = 0
        self._lock = threading.Lock()
        self._on_request = on_request
        handler = _make_handler(self)
        self.httpd = _QuietHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        app.base_url = self.url  # absolute links (paging, nextRecordsUrl) point at this server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name=f"fake-{self.app.service}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request accounting -------------------------------------------------------------
    def requests(self, method: str | None = None, path_prefix: str = "", *, faulted: bool | None = None) -> list[LoggedRequest]:
        with self._lock:
            log_copy = list(self.request_log)
        return [
            r for r in log_copy
            if (method is None or r.method == method)
            and r.path.startswith(path_prefix)
            and (faulted is None or (r.fault is not None) == faulted)
        ]

    def reset_log(self) -> None:
        with self._lock:
            self.request_log.clear()

    def _next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.request_log.append(entry)
        if self._on_request:
            self._on_request(entry)


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    app = server.app

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK
        # stall every response ~40 ms.
        disable_nagle_algorithm = True
        server_version = "advocacy-sandbox"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("%s %s", app.service, format % args)

        def send_response(self, code: int, message: str | None = None) -> None:
            # BaseHTTPRequestHandler.send_response, with the Date header optional
            self.log_request(code)
            self.send_response_only(code, message)
            self.send_header("Server", self.version_string())
            if app.send_date:
                self.send_header("Date", self.date_time_string())

        def date_time_string(self, timestamp: float | None = None) -> str:
            if timestamp is None:
                try:
                    timestamp = app.server_time()
                except Exception:  # the clock of a fake must not break its answers
                    log.exception("fake %s: server_time failed, using the wall clock", app.service)
                    timestamp = None
            return super().date_time_string(timestamp)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                raw_path=self.path,
            )
            fault_applied: str | None = None
            drop = False
            response: Response | None = None
            if not app.exempt(request):
                number = server._next_number()
                for fault in app.faults:
                    if not fault.due(number):
                        continue
                    fault.fired += 1
                    fault_applied = fault.kind
                    if fault.kind == "slow":
                        time.sleep(fault.value if fault.value is not None else 0.5)
                        fault_applied = None  # a slow answer is still the right answer
                        continue
                    if fault.kind == "drop":
                        drop = True
                    elif fault.kind == "429":
                        response = app.rate_limited(fault.value if fault.value is not None else 1)
                    elif fault.kind == "429-bare":
                        response = app.rate_limited(None)
                    elif fault.kind in ("500", "502", "503"):
                        response = app.server_error(int(fault.kind))
                    elif fault.kind == "expire":
                        response = app.expired()
                    elif fault.kind == "limit":
                        response = app.limit_exceeded()
                    elif fault.kind == "long-txn":
                        response = app.limit_exceeded(long_running=True)
                    break
            if response is None:
                try:
                    response = app.handle(request)
                except Exception:  # a bug in a fake must answer 500, not hang the client
                    log.exception("fake %s failed on %s %s", app.service, self.command, self.path)
                    response = Response.json(500, {"error": "fake crashed"})
            server._record(LoggedRequest(
                app.service, request.method, request.path, request.raw_path,
                response.status, fault_applied, time.time(),
            ))
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if drop:
                self.send_header("Connection", "close")
            self.end_headers()
            if drop:
                self.wfile.write(response.body[: max(1, len(response.body) // 3)])
                self.wfile.flush()
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    return Handler
