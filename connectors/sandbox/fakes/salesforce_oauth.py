"""The Salesforce fake's token endpoint rules (``POST /services/oauth2/token``), as orgs use them:

* the **client-credentials** grant is refused on the generic login hosts
  (``login.salesforce.com``, ``test.salesforce.com``) with ``invalid_grant: request not
  supported on this domain``: it works only at the org's My Domain URL. In the sandbox the
  fake's ``localhost`` name stands for the generic login host and ``127.0.0.1`` for the My
  Domain (the certificate covers both);
* the **JWT bearer** grant (``urn:ietf:params:oauth:grant-type:jwt-bearer``): an RS256 JWT
  signed with the connected app's certificate key, ``iss`` = the consumer key, ``sub`` = the
  username, ``aud`` = ``https://login.salesforce.com`` (``https://test.salesforce.com`` for
  sandboxes; the fake's own URLs are accepted too), ``exp`` at most a few minutes ahead. The
  fake verifies the signature with the certificate's public key.

Answers follow Salesforce's error bodies: ``{"error": ..., "error_description": ...}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import jwt

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GENERIC_LOGIN_HOSTS = frozenset({"localhost", "login.salesforce.com", "test.salesforce.com"})
STANDARD_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


def host_of(request_host: str | None) -> str:
    host = (request_host or "").strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def client_credentials_refusal(request_host: str | None) -> dict[str, str] | None:
    """The error body when the client-credentials grant is asked at a generic login host."""
    if host_of(request_host) in GENERIC_LOGIN_HOSTS:
        return {"error": "invalid_grant", "error_description": "request not supported on this domain"}
    return None


def verify_jwt_assertion(assertion: str, *, public_key_pem: bytes | None, client_id: str,
                         username: str, own_urls: tuple[str, ...]) -> dict[str, str] | None:
    """None when the assertion is valid for this org, else Salesforce's error body."""
    if not public_key_pem:
        return {"error": "invalid_grant", "error_description": "invalid assertion"}
    audiences = [*STANDARD_AUDIENCES, *(u.rstrip("/") for u in own_urls if u)]
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion, public_key_pem, algorithms=["RS256"], audience=audiences,
            options={"require": ["iss", "sub", "aud", "exp"]}, leeway=30)
    except jwt.InvalidAudienceError:
        return {"error": "invalid_grant", "error_description": "audience is invalid"}
    except jwt.ExpiredSignatureError:
        return {"error": "invalid_grant", "error_description": "expired authorization code"}
    except jwt.PyJWTError:
        return {"error": "invalid_grant", "error_description": "invalid assertion"}
    if claims.get("iss") != client_id:
        return {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    if claims.get("sub") != username:
        return {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}
    return None


def own_urls(base_url: str) -> tuple[str, ...]:
    """The fake's URLs under both of its names (My Domain and the generic login stand-in)."""
    if not base_url:
        return ()
    port = urlparse(base_url).port
    suffix = f":{port}" if port else ""
    return (base_url, f"https://localhost{suffix}", f"https://127.0.0.1{suffix}")
