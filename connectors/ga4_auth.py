"""GA4 credentials: a service-account key file, or Application Default Credentials (ADC) —
many organisations forbid service-account keys.

* ``GOOGLE_APPLICATION_CREDENTIALS`` set: the JSON file it names, of any type google-auth loads
  — ``service_account`` (a key), ``authorized_user`` (``gcloud auth application-default
  login``), ``impersonated_service_account`` (``gcloud auth application-default login
  --impersonate-service-account=SA``), ``external_account`` (workload identity federation).
* Unset: Application Default Credentials as Google resolves them — the gcloud ADC file
  (``~/.config/gcloud/application_default_credentials.json``, or under ``CLOUDSDK_CONFIG``),
  then the metadata server of GCE / GKE workload identity / Cloud Run.

Whoever the credentials are needs the Viewer role on the GA4 property, and a user's ADC must
carry the ``analytics.readonly`` scope (``gcloud auth application-default login
--scopes=https://www.googleapis.com/auth/analytics.readonly,https://www.googleapis.com/auth/cloud-platform``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]
FILE_TYPES = ("service_account", "authorized_user", "impersonated_service_account",
              "external_account")
FIX = ("give the pipeline Google credentials with the Viewer role on the property: "
       "Application Default Credentials (`gcloud auth application-default login "
       "--scopes=https://www.googleapis.com/auth/analytics.readonly,"
       "https://www.googleapis.com/auth/cloud-platform`, or workload identity where it runs), "
       "or a service-account key file (Google Cloud console -> IAM -> Service accounts -> Keys "
       "-> Add key -> JSON) named by GOOGLE_APPLICATION_CREDENTIALS")


class CredentialsProblem(Exception):
    """Credentials cannot be loaded; the message names the cause and the fix."""


def load(settings: Any, scopes: list[str] | None = None) -> tuple[Any, str]:
    """(google-auth credentials, who they are: for findings and messages, never a secret).
    ``scopes``: the OAuth scopes to ask for (default: the Data API's read-only scope; the
    BigQuery export's reader asks for BigQuery's)."""
    scopes = scopes or SCOPES
    import google.auth
    from google.auth import exceptions as gauth_exc

    path = settings.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        file = Path(str(path)).expanduser()
        if not file.is_file():
            raise CredentialsProblem(f"credentials file {file} not found; {FIX}")
        try:
            info = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise CredentialsProblem(f"credentials file {file} not readable as JSON "
                                     f"({type(exc).__name__}); {FIX}") from exc
        kind = info.get("type") if isinstance(info, dict) else None
        if kind not in FILE_TYPES:
            raise CredentialsProblem(f"{file} is not a Google credentials file (type {kind!r}); "
                                     f"{FIX}")
        try:
            credentials = _from_info(kind, info, scopes)
        except (gauth_exc.GoogleAuthError, ValueError, KeyError) as exc:
            raise CredentialsProblem(f"credentials in {file} unusable ({type(exc).__name__}); "
                                     f"{FIX}") from exc
        return credentials, _who(kind, info, f"file {file}")
    try:
        credentials, _ = google.auth.default(scopes=scopes)
    except gauth_exc.DefaultCredentialsError as exc:
        raise CredentialsProblem(f"no GOOGLE_APPLICATION_CREDENTIALS and no Application Default "
                                 f"Credentials found; {FIX}") from exc
    email = getattr(credentials, "service_account_email", None)
    return credentials, "Application Default Credentials" + (f" ({email})" if email else "")


def _from_info(kind: str, info: dict[str, Any], scopes: list[str]) -> Any:
    """The type's own loader (google-auth's generic file loader is deprecated for files from
    elsewhere: here the type is checked first)."""
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=scopes)
    if kind == "authorized_user":
        from google.oauth2 import credentials

        # built by hand: from_authorized_user_info always uses Google's token endpoint, and a
        # file may name another (gcloud's files name none: Google's is the default)
        return credentials.Credentials(
            None, refresh_token=info["refresh_token"], client_id=info["client_id"],
            client_secret=info["client_secret"], scopes=scopes,
            token_uri=info.get("token_uri") or "https://oauth2.googleapis.com/token",
            quota_project_id=info.get("quota_project_id"))
    if kind == "impersonated_service_account":
        from google.auth import impersonated_credentials

        return impersonated_credentials.Credentials.from_impersonated_service_account_info(
            info, scopes=scopes)
    from google.auth import identity_pool

    return identity_pool.Credentials.from_info(info, scopes=scopes)


def _who(kind: str, info: dict[str, Any], where: str) -> str:
    if kind == "service_account":
        return f"service account {info.get('client_email') or '?'} ({where})"
    if kind == "impersonated_service_account":
        url = str(info.get("service_account_impersonation_url") or "")
        target = url.rsplit("/", 1)[-1].removesuffix(":generateAccessToken") or "?"
        return f"impersonating {target} ({where})"
    if kind == "authorized_user":
        return f"your user account (gcloud application-default login, {where})"
    return f"workload identity federation ({where})"
