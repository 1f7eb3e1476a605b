"""Authentication, transport and retries for the Salesforce connector.

simple-salesforce does everything after login, but it hard-codes the login hosts
(``https://{domain}.salesforce.com``), does not retry anything and cannot refresh a session
it was handed. So (.env.example, docs/ARCHITECTURE.md "How each source is read"):

* the token comes from the OAuth token endpoint (JWT bearer, password or client-credentials
  grant; which one and at which host: :mod:`connectors.salesforce_auth`), obtained here with
  ``requests``, or from ``SALESFORCE_ACCESS_TOKEN``;
* ``Salesforce(instance_url=..., session_id=token, session=session)`` gets a session whose
  ``verify`` is ``SALESFORCE_CA_BUNDLE`` (with ``trust_env = False``: environment CA variables
  would override ``session.verify``), with a default timeout, that remembers the last
  response's headers (simple-salesforce's exceptions drop them, and we need ``Retry-After``
  and ``Sforce-Limit-Info``);
* every call goes through :meth:`SalesforceClient.call`: 429/5xx/broken connections are
  retried honouring ``Retry-After``; ``INVALID_SESSION_ID`` re-authenticates once (when the
  credentials allow) and retries; ``REQUEST_LIMIT_EXCEEDED`` of the daily kind stops the
  source, of the concurrent long-running kind (``ConcurrentPerOrgLongTxn``) is retried with
  backoff.

Secrets never leave this module: no log line, exception or repr carries them.
"""

from __future__ import annotations

import http.client
import logging
import re
import ssl
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
import urllib3.exceptions
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from connectors.retry import (
    RETRYABLE_STATUS,
    RetryPolicy,
    Verdict,
    call_with_retries,
    parse_retry_after,
)
from connectors.salesforce_auth import AuthConfig, auth_config
from connectors.source import Settings, SourceStopped

log = logging.getLogger(__name__)
T = TypeVar("T")

API_VERSION = "59.0"
TIMEOUT = (15, 300)           # connect, read (a Bulk results page can take a while)

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout, requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError,
    http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError,
)


class SalesforceAuthError(Exception):
    """Credentials were refused, or an access token expired with nothing to renew it."""


# -- errors --------------------------------------------------------------------------------
def error_code(exc: BaseException) -> str | None:
    """The API's ``errorCode`` (REST errors are JSON arrays), or the OAuth ``error``."""
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        code = content[0].get("errorCode")
        return str(code) if code else None
    if isinstance(content, dict):
        code = content.get("errorCode") or content.get("error")
        return str(code) if code else None
    return None


def error_message(exc: BaseException) -> str:
    """A short, secret-free description: ``HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests ...``."""
    if isinstance(exc, SalesforceError):
        content = exc.content
        message = ""
        if isinstance(content, list) and content and isinstance(content[0], dict):
            message = str(content[0].get("message") or "")
        elif isinstance(content, dict):
            message = str(content.get("message") or content.get("error_description") or "")
        elif isinstance(content, str | bytes):
            message = (content.decode("utf-8", "replace") if isinstance(content, bytes)
                       else content)[:200]
        code = error_code(exc)
        return f"HTTP {exc.status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    return f"{type(exc).__name__}: {str(exc)[:300]}"


# -- configuration: connectors.salesforce_auth ---------------------------------------------
__all__ = ["AuthConfig", "SalesforceAuthError", "SalesforceClient", "auth_config", "error_code",
           "error_message"]


def is_concurrency_limit(exc: BaseException) -> bool:
    """``REQUEST_LIMIT_EXCEEDED`` of the concurrent kind (``ConcurrentPerOrgLongTxn Limit
    exceeded``, ``ConcurrentRequests ... Limit exceeded``): the org has too many long-running
    requests at once. Unlike the daily ``TotalRequests`` limit it passes in seconds, so it is
    retried with backoff instead of stopping the source."""
    return error_code(exc) == "REQUEST_LIMIT_EXCEEDED" and "concurrent" in error_message(exc).lower()


# -- transport -----------------------------------------------------------------------------
class TrackingSession(requests.Session):
    """A requests session with a default timeout that remembers the last response's status and
    headers and counts requests (simple-salesforce's exceptions carry neither headers nor
    ``Retry-After``; bulk calls do not parse ``Sforce-Limit-Info``)."""

    def __init__(self, ca_bundle: str | None = None, timeout: Any = TIMEOUT) -> None:
        super().__init__()
        self.timeout = timeout
        self.count = 0
        self.last_status: int | None = None
        self.last_headers: dict[str, str] = {}
        self.limit_info: str | None = None
        if ca_bundle:
            self.verify = ca_bundle
            self.trust_env = False   # REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would override verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        self.count += 1
        self.last_status, self.last_headers = None, {}
        response = super().request(method, url, *args, **kwargs)
        self.last_status = response.status_code
        self.last_headers = dict(response.headers)
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            self.limit_info = info
        return response


_USAGE_RE = re.compile(r"api-usage=(\d+)/(\d+)")


class SalesforceClient:
    """One authenticated simple-salesforce client plus the retry/re-auth policy."""

    def __init__(self, settings: Settings, *, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.auth = auth_config(settings)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.session = TrackingSession(settings.get("SALESFORCE_CA_BUNDLE"))
        self._sf: Salesforce | None = None
        self.token_url = self.auth.token_url   # moves to the My Domain if the host refuses
        self.reauthentications = 0
        self.retries = 0

    # -- auth ------------------------------------------------------------------------------
    def _token(self) -> tuple[str, str]:
        """POST the OAuth grant (:mod:`connectors.salesforce_auth`); returns (access token,
        instance url)."""
        grant = self.auth.grant
        if grant is None:
            raise SalesforceAuthError("no client credentials to obtain a Salesforce token with")
        form = self.auth.token_form()
        url = self.token_url

        def post() -> requests.Response:
            response = self.session.post(url, data=form, headers={"Accept": "application/json"})
            if response.status_code in RETRYABLE_STATUS:
                raise _TransientHTTP(response.status_code, response.headers.get("Retry-After"))
            return response

        # The token's own retries are the only ones: an API call that needs a token does not
        # retry around them (retries never nest), so what they leave is a clear stop.
        host = urlparse(url).netloc
        try:
            response = call_with_retries(post, self._classify, policy=self.policy,
                                         what="salesforce token", **self._sleep_kw())
        except _CONNECTION_ERRORS as exc:
            raise SalesforceAuthError(
                f"cannot reach the Salesforce token endpoint at {host} ({type(exc).__name__} "
                f"after {self.policy.attempts} attempts) - check SALESFORCE_LOGIN_URL (or "
                "SALESFORCE_INSTANCE_URL), the network and any proxy (HTTPS_PROXY)") from None
        except _TransientHTTP as exc:
            raise SalesforceAuthError(
                f"the Salesforce token endpoint at {host} kept answering HTTP {exc.status} "
                f"({self.policy.attempts} attempts) - try again later; status.salesforce.com "
                "shows incidents") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            code = body.get("error") or f"HTTP {response.status_code}"
            desc = body.get("error_description") or ""
            my_domain = f"{self.auth.instance_url}/services/oauth2/token"
            if "not supported on this domain" in desc and self.auth.instance_url and \
                    url != my_domain:
                # a login host that is not the org's own (a generic one under another name):
                # the client-credentials grant goes to the My Domain (SALESFORCE_INSTANCE_URL)
                log.info("salesforce: the token host refused client credentials; asking the "
                         "org's My Domain instead")
                self.token_url = my_domain
                return self._token()
            fix = " - check SALESFORCE_LOGIN_URL and the credentials in .env"
            if "not supported on this domain" in desc:
                fix = (" - the client-credentials grant works only at the org's My Domain URL: "
                       "set SALESFORCE_LOGIN_URL (or SALESFORCE_INSTANCE_URL) to "
                       "https://<your-domain>.my.salesforce.com")
            elif grant == "jwt_bearer":
                fix = (" - check SALESFORCE_CLIENT_ID (consumer key), SALESFORCE_USERNAME, that "
                       "SALESFORCE_JWT_KEY_FILE matches the certificate uploaded to the connected "
                       "app, that the user is pre-authorized, and SALESFORCE_JWT_AUDIENCE for "
                       "sandboxes")
            raise SalesforceAuthError(
                f"Salesforce refused the OAuth {grant.replace('_', '-')} grant at "
                f"{urlparse(url).netloc}: {code}" + (f" ({desc})" if desc else "") + fix)
        instance = body.get("instance_url") or self.auth.instance_url
        if not instance:
            raise SalesforceAuthError("the token response has no instance_url and "
                                      "SALESFORCE_INSTANCE_URL is not set")
        return body["access_token"], instance

    def _connect(self, *, renew: bool = False) -> Salesforce:
        if self.auth.method == "access token" and not renew:
            token, instance = self.settings.get("SALESFORCE_ACCESS_TOKEN") or "", self.auth.instance_url or ""
        else:
            token, instance = self._token()
        self.instance_url = instance
        return Salesforce(instance_url=instance, session_id=token, session=self.session,
                          version=API_VERSION)

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._connect()
        return self._sf

    def reauthenticate(self) -> None:
        if not self.auth.can_refresh:
            raise SalesforceAuthError(
                "the Salesforce session expired or is invalid (INVALID_SESSION_ID) and "
                "SALESFORCE_ACCESS_TOKEN cannot be renewed: set a fresh token, or set "
                "SALESFORCE_CLIENT_ID/SECRET (with username/password for the password grant) "
                "so the connector can log in again by itself")
        log.info("salesforce: session expired, re-authenticating (%s)", self.auth.method)
        self._sf = self._connect(renew=True)
        self.reauthentications += 1

    # -- calls -----------------------------------------------------------------------------
    def _sleep_kw(self) -> dict[str, Any]:
        return {"sleep": self._sleep} if self._sleep else {}

    def _classify(self, exc: BaseException) -> Verdict:
        if isinstance(exc, _TransientHTTP):
            return Verdict(True, parse_retry_after(exc.retry_after), f"HTTP {exc.status}")
        if isinstance(exc, _CONNECTION_ERRORS):
            return Verdict(True, reason=type(exc).__name__)
        if isinstance(exc, ValueError) and not isinstance(exc, SalesforceError):
            # a 2xx whose JSON body was cut (json.JSONDecodeError is a ValueError)
            return Verdict(True, reason="incomplete response body")
        if isinstance(exc, SalesforceError):
            status = exc.status
            code = error_code(exc)
            if status == 412 and code == "JOB_NOT_COMPLETE":
                return Verdict(True, 1.0, "bulk job not complete")
            if is_concurrency_limit(exc):
                # 25 requests of the org running 20 s or more: passes as soon as one ends
                return Verdict(True, None, "concurrent long-running requests limit")
            if status in RETRYABLE_STATUS or status in (420, 406):
                retry_after = None
                if self.session.last_status == status:
                    retry_after = parse_retry_after(self.session.last_headers.get("Retry-After"))
                return Verdict(True, retry_after, f"HTTP {status}" + (f" {code}" if code else ""))
        return Verdict(False, reason=type(exc).__name__)

    def call(self, what: str, op: Callable[[Salesforce], T]) -> T:
        """``op(sf)`` with retries; re-authenticates on INVALID_SESSION_ID; stops the source
        on REQUEST_LIMIT_EXCEEDED."""

        def attempt() -> T:
            try:
                try:
                    return op(self.sf)
                except SalesforceExpiredSession:
                    self.reauthenticate()
                    return op(self.sf)
            except SalesforceError as exc:
                if exc.status == 403 and error_code(exc) == "REQUEST_LIMIT_EXCEEDED" and \
                        not is_concurrency_limit(exc):
                    raise SourceStopped(
                        f"salesforce stopped: the org's API request limit is exhausted "
                        f"({error_message(exc)}; {self.usage_text() or 'usage unknown'}). "
                        "Everything committed so far is kept; the next run resumes from "
                        "the saved cursors once the 24-hour limit frees up.") from exc
                raise

        def on_retry(n: int, delay: float, reason: str) -> None:
            self.retries += 1

        return call_with_retries(attempt, self._classify, policy=self.policy,
                                 what=f"salesforce {what}", on_retry=on_retry, **self._sleep_kw())

    # -- usage -----------------------------------------------------------------------------
    def usage(self) -> tuple[int, int] | None:
        info = self.session.limit_info
        if self._sf is not None and self._sf.api_usage.get("api-usage"):
            u = self._sf.api_usage["api-usage"]
            used, total = getattr(u, "used", None), getattr(u, "total", None)
            if used is not None and total is not None and not info:
                return int(used), int(total)
        if info:
            m = _USAGE_RE.search(info)
            if m:
                return int(m[1]), int(m[2])
        return None

    def usage_text(self) -> str:
        u = self.usage()
        return f"API usage {u[0]:,}/{u[1]:,}" if u else ""


class _TransientHTTP(Exception):
    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
