"""One vocabulary for what ``advocacy check`` and ``advocacy sync`` print, one hint table for
their failures, and the settings both read.

Every status line has the same shape, whichever command prints it::

    [ok  ] hubspot: contacts readable
    [skip] ga4: not configured: GA4_PROPERTY_ID, GOOGLE_APPLICATION_CREDENTIALS not set (see .env.example)
    [FAIL] hubspot: stopped: HTTP 401 ... -> renew HUBSPOT_ACCESS_TOKEN ...

A ``FAIL`` line always ends with ``-> fix``: the connector's own when it has one (``check``
findings, invalid settings), else the first matching row of :data:`HINTS`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from connectors import settings as settings_rules
from connectors.source import Progress, Settings

OK, SKIP, FAIL, NA = "ok", "skip", "FAIL", "n/a"
DEFAULT_ENV_FILE = ".env"


def line(status: str, subject: str, text: str, fix: str = "") -> str:
    return f"[{status:<4}] {subject}: {text}" + (f" -> {fix}" if fix and status == FAIL else "")


def shorten(text: str, limit: int = 400) -> str:
    """A failure's text for one line: URLs lose their query strings (a client quotes the whole
    request, hundreds of characters of field names), and the rest is cut at ``limit``."""
    text = re.sub(r"(/[\w./-]*)\?[^\s'\")]+", r"\1?...", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# (source or None for any, pattern searched in the failure's text, fix). First match wins.
HINTS: tuple[tuple[str | None, str, str], ...] = (
    ("hubspot", r"\b401\b|unauthori[sz]ed|expired|invalid.*token",
     "renew HUBSPOT_ACCESS_TOKEN (HubSpot: Settings -> Integrations -> Private apps), then "
     "`advocacy check --source hubspot`"),
    ("hubspot", r"\b403\b|forbidden|scope",
     "give the private app the read scopes listed in .env.example, then `advocacy check`"),
    ("salesforce", r"REQUEST_LIMIT_EXCEEDED|api.?limit|TotalRequests",
     "the org's daily API requests are used up: run again once they reset (a rolling 24 h); "
     "the sync resumes from what it committed"),
    ("salesforce", r"\b401\b|INVALID_SESSION_ID|invalid_grant|invalid_client|authentication failure",
     "check the SALESFORCE_* credentials (and SALESFORCE_LOGIN_URL for a Salesforce sandbox): "
     "`advocacy check --source salesforce` says which"),
    ("salesforce", r"INSUFFICIENT_ACCESS|\b403\b|not readable",
     "grant the integration user read access to the objects `advocacy check` lists"),
    ("ga4", r"\b403\b|PERMISSION_DENIED|forbidden",
     "give the service account (GOOGLE_APPLICATION_CREDENTIALS) Viewer access on the property "
     "GA4_PROPERTY_ID"),
    ("ga4", r"\b429\b|RESOURCE_EXHAUSTED|quota|tokens",
     "the property's GA4 API tokens are used up: run again in an hour (or tomorrow); the days "
     "already committed are kept"),
    ("advocacy_platform", r"No such file|not found|FileNotFound|not a directory",
     "point ADVOCACY_EXPORTS_DIR at the folder holding the platform's CSV exports"),
    (None, r"\b429\b|rate.?limit|too many requests",
     "the API's rate limit held after every retry: run again later; committed pages are kept"),
    (None, r"Connection ?refused|Max retries|timed? ?out|Name or service not known|"
           r"Temporary failure in name resolution|ConnectionError|SSL",
     "the API could not be reached: check the network and the source's URL variables "
     "(HUBSPOT_BASE_URL, SALESFORCE_INSTANCE_URL, GA4_API_ENDPOINT, SALESFORCE_CA_BUNDLE)"),
)
DEFAULT_HINT = "run `advocacy check` for this source, or again with -v for the details"


def hint(source: str, text: str) -> str:
    for who, pattern, fix in HINTS:
        if (who is None or who == source) and re.search(pattern, text, re.IGNORECASE):
            return fix
    return DEFAULT_HINT


# -- settings ---------------------------------------------------------------------------------
class NotConfigured(Exception):
    """Nothing to work with: an ``--env-file`` that does not exist, or no source configured."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.fix = fix

    def line(self) -> str:
        return line(FAIL, "settings", str(self), self.fix)


def load_settings(env_file: str | None) -> Settings:
    """The settings from the environment and ``env_file`` (default ``.env``, optional). An
    ``env_file`` given explicitly must exist: silently ignoring a typo reads nothing."""
    if env_file is not None and not Path(env_file).is_file():
        state = "is a folder" if Path(env_file).is_dir() else "does not exist"
        raise NotConfigured(f"--env-file {env_file} {state}",
                            "give the path of your .env file (or copy .env.example to .env and "
                            "leave --env-file out)")
    return Settings.from_environment(env_file or DEFAULT_ENV_FILE)


def require_a_source(settings: Settings, names: list[str], env_file: str | None) -> list[str]:
    """The ``names`` that are configured; :class:`NotConfigured` when none is."""
    configured = settings_rules.configured_sources(settings.env, names)
    if configured:
        return configured
    which = ", ".join(names)
    fill = "fill in the variables of at least one source (.env.example documents each)"
    if env_file is not None:
        raise NotConfigured(f"no source configured ({which}) in {env_file} or the environment", fill)
    if not Path(DEFAULT_ENV_FILE).exists():
        raise NotConfigured(f"no source configured: no .env found in {os.getcwd()}",
                            "copy .env.example to .env and fill it in (or `make demo` to try "
                            "the product on a simulated company)")
    raise NotConfigured(f"no source configured ({which}) in .env", fill)


# -- log lines and progress lines on one stream ---------------------------------------------
class ProgressLogHandler(logging.Handler):
    """Log records written through :class:`Progress`, so a warning (a retry, say) never lands
    in the middle of a progress line that a terminal is rewriting in place."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.progress.write_line(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the sync
            self.handleError(record)


def route_logs_through(progress: Progress) -> tuple[list[logging.Handler], ProgressLogHandler]:
    """Replace the root logger's handlers by one writing through ``progress`` (their filters,
    the secret redaction among them, move along). Returns what :func:`restore_logs` needs."""
    root = logging.getLogger()
    old = list(root.handlers)
    handler = ProgressLogHandler(progress)
    for h in old:
        for f in h.filters:
            if f not in handler.filters:
                handler.addFilter(f)
        root.removeHandler(h)
    root.addHandler(handler)
    return old, handler


def restore_logs(saved: tuple[list[logging.Handler], ProgressLogHandler]) -> None:
    old, handler = saved
    root = logging.getLogger()
    root.removeHandler(handler)
    for h in old:
        root.addHandler(h)
