"""How the Salesforce connector authenticates: which OAuth flow the environment allows, where
its token request goes, and the JWT bearer assertion. (Transport and retries:
:mod:`connectors.salesforce_client`.)

Flows, in the order they are chosen (docs/API_BEHAVIOUR.md, Salesforce, "Authentication"):

1. ``SALESFORCE_ACCESS_TOKEN`` + ``SALESFORCE_INSTANCE_URL``: a token handed to us (renewed by
   one of the flows below when its variables are also set).
2. **JWT bearer** (``SALESFORCE_JWT_KEY_FILE`` + ``SALESFORCE_CLIENT_ID`` +
   ``SALESFORCE_USERNAME``): server-to-server with the connected app's certificate, the flow
   Salesforce recommends for an integration user. The assertion is an RS256 JWT:
   ``iss`` = the consumer key, ``sub`` = the username, ``aud`` = ``https://login.salesforce.com``
   (``https://test.salesforce.com`` for a sandbox org; ``SALESFORCE_JWT_AUDIENCE`` overrides),
   ``exp`` three minutes ahead.
3. **Username-password** (``SALESFORCE_USERNAME`` + ``SALESFORCE_PASSWORD`` + client id and
   secret): being retired by Salesforce; still accepted.
4. **Client credentials** (client id and secret alone): Salesforce refuses it at the generic
   login hosts (``login.salesforce.com``, ``test.salesforce.com``) with ``invalid_grant:
   request not supported on this domain``: it works only at the org's My Domain URL. So its
   token request goes to ``SALESFORCE_INSTANCE_URL`` (the My Domain) when
   ``SALESFORCE_LOGIN_URL`` is a generic host, and ``advocacy check`` says which host it used.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from connectors.source import Settings, SourceNotConfigured

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
GENERIC_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180


def is_generic_login(url: str) -> bool:
    return (urlparse(url).hostname or "").lower() in GENERIC_LOGIN_HOSTS


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """Which way we authenticate; secrets stay in ``settings`` (never in a repr)."""

    method: str      # "access token" | "JWT bearer" | "password grant" | "client credentials"
    login_url: str
    instance_url: str | None
    settings: Settings = dataclasses.field(repr=False)

    @property
    def has_token(self) -> bool:
        return bool(self.settings.get("SALESFORCE_ACCESS_TOKEN"))

    @property
    def grant(self) -> str | None:
        """The OAuth grant that obtains (or renews) the token: ``jwt_bearer``, ``password``,
        ``client_credentials``, or None when nothing can."""
        s = self.settings
        if s.get("SALESFORCE_JWT_KEY_FILE") and s.get("SALESFORCE_CLIENT_ID") and \
                s.get("SALESFORCE_USERNAME"):
            return "jwt_bearer"
        if not (s.get("SALESFORCE_CLIENT_ID") and s.get("SALESFORCE_CLIENT_SECRET")):
            return None
        if s.get("SALESFORCE_USERNAME") and s.get("SALESFORCE_PASSWORD"):
            return "password"
        return "client_credentials"

    @property
    def can_refresh(self) -> bool:
        return self.grant is not None

    @property
    def token_url(self) -> str:
        """Where the token request goes: the login URL, except for client credentials at a
        generic login host, which go to the My Domain (the instance URL) when it is known."""
        base = self.login_url
        if self.grant == "client_credentials" and is_generic_login(base) and self.instance_url:
            base = self.instance_url
        return f"{base}/services/oauth2/token"

    @property
    def token_host(self) -> str:
        return urlparse(self.token_url).netloc

    def host_problem(self) -> str | None:
        """Why the token request will be refused for its host, or None."""
        if self.grant == "client_credentials" and is_generic_login(self.token_url):
            return (f"the OAuth client-credentials grant is refused at {self.token_host} "
                    "(Salesforce answers 'request not supported on this domain'): it works only "
                    "at the org's My Domain URL")
        return None

    def describe(self) -> str:
        host = self.token_host
        grant = (self.grant or "").replace("_", "-")
        if self.method == "access token":
            extra = (f" (renewed by the OAuth {grant} grant at {host})"
                     if self.can_refresh else " (cannot be renewed: no client credentials)")
            return f"access token for {self.instance_url}{extra}"
        if self.grant == "client_credentials" and self.token_url.startswith(self.instance_url or "\0"):
            return f"OAuth client credentials at {host} (the org's My Domain)"
        return f"OAuth {self.method} at {host}"

    # -- the token request -------------------------------------------------------------
    def token_form(self) -> dict[str, str]:
        """The form of the token request (secrets inside: never log it)."""
        s = self.settings
        grant = self.grant
        if grant == "jwt_bearer":
            return {"grant_type": JWT_GRANT, "assertion": self.jwt_assertion()}
        form = {"grant_type": grant or "", "client_id": s.get("SALESFORCE_CLIENT_ID") or "",
                "client_secret": s.get("SALESFORCE_CLIENT_SECRET") or ""}
        if grant == "password":
            form["username"] = s.get("SALESFORCE_USERNAME") or ""
            form["password"] = (s.get("SALESFORCE_PASSWORD") or "") + \
                (s.get("SALESFORCE_SECURITY_TOKEN") or "")
        return form

    def jwt_audience(self) -> str:
        s = self.settings
        explicit = (s.get("SALESFORCE_JWT_AUDIENCE") or "").strip()
        if explicit:
            return explicit.rstrip("/")
        host = (urlparse(self.login_url).hostname or "").lower()
        sandbox = host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com")
        return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"

    def jwt_assertion(self) -> str:
        """The RS256-signed assertion of the JWT bearer flow (the key file is read here only)."""
        import jwt

        s = self.settings
        path = Path(s.get("SALESFORCE_JWT_KEY_FILE") or "")
        try:
            key: Any = path.read_bytes()
        except OSError as exc:
            raise SourceNotConfigured(
                f"salesforce: SALESFORCE_JWT_KEY_FILE cannot be read ({type(exc).__name__}): "
                "point it at the PEM private key of the connected app's certificate") from exc
        claims = {"iss": s.get("SALESFORCE_CLIENT_ID") or "", "sub": s.get("SALESFORCE_USERNAME") or "",
                  "aud": self.jwt_audience(), "exp": int(time.time()) + JWT_LIFETIME_SECONDS}
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise SourceNotConfigured(
                "salesforce: SALESFORCE_JWT_KEY_FILE is not an RSA private key in PEM form "
                f"({type(exc).__name__})") from exc


def auth_config(settings: Settings, source: str = "salesforce") -> AuthConfig:
    """The authentication method the environment allows, or :class:`SourceNotConfigured`."""
    s = settings
    login_url = (s.get("SALESFORCE_LOGIN_URL") or DEFAULT_LOGIN_URL).rstrip("/")
    instance = (s.get("SALESFORCE_INSTANCE_URL") or "").rstrip("/") or None
    if s.get("SALESFORCE_ACCESS_TOKEN"):
        if not instance:
            raise SourceNotConfigured(
                f"{source}: skipped, SALESFORCE_ACCESS_TOKEN is set but SALESFORCE_INSTANCE_URL "
                "is not (see .env.example)")
        return AuthConfig("access token", login_url, instance, s)
    if s.get("SALESFORCE_JWT_KEY_FILE"):
        if not (s.get("SALESFORCE_CLIENT_ID") and s.get("SALESFORCE_USERNAME")):
            raise SourceNotConfigured(
                f"{source}: skipped, the OAuth JWT bearer flow (SALESFORCE_JWT_KEY_FILE) needs "
                "SALESFORCE_CLIENT_ID (the connected app's consumer key) and SALESFORCE_USERNAME "
                "(the integration user) (see .env.example)")
        return AuthConfig("JWT bearer", login_url, instance, s)
    has_client = bool(s.get("SALESFORCE_CLIENT_ID") and s.get("SALESFORCE_CLIENT_SECRET"))
    if s.get("SALESFORCE_USERNAME") or s.get("SALESFORCE_PASSWORD"):
        if not (s.get("SALESFORCE_USERNAME") and s.get("SALESFORCE_PASSWORD")):
            raise SourceNotConfigured(
                f"{source}: skipped, SALESFORCE_USERNAME and SALESFORCE_PASSWORD go together "
                "(see .env.example)")
        if not has_client:
            raise SourceNotConfigured(
                f"{source}: skipped, the OAuth password grant needs SALESFORCE_CLIENT_ID and "
                "SALESFORCE_CLIENT_SECRET (a connected app) besides SALESFORCE_USERNAME, "
                "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (see .env.example)")
        return AuthConfig("password grant", login_url, instance, s)
    if has_client:
        return AuthConfig("client credentials", login_url, instance, s)
    raise SourceNotConfigured(
        f"{source}: skipped, no credentials: set SALESFORCE_ACCESS_TOKEN + "
        "SALESFORCE_INSTANCE_URL, or SALESFORCE_JWT_KEY_FILE + SALESFORCE_CLIENT_ID + "
        "SALESFORCE_USERNAME (JWT bearer), or SALESFORCE_USERNAME + SALESFORCE_PASSWORD + "
        "SALESFORCE_SECURITY_TOKEN + SALESFORCE_CLIENT_ID + SALESFORCE_CLIENT_SECRET, or "
        "SALESFORCE_CLIENT_ID + SALESFORCE_CLIENT_SECRET with the My Domain URL "
        "(see .env.example)")
