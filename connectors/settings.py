"""Every setting validated before any work: one function, :func:`validate`, that ``advocacy
check``, ``advocacy sync`` and the Dagster ingestion assets call before a single request.

A bad value is a configuration error, not a network error: it names the variable, what is
wrong with the value and how to fix it, and nothing retries it (a Salesforce instance URL
without ``https://`` used to cost five retries and end as ``HTTPSConnectionPool(host='none')``;
a GA4 property id ``abc`` came back from the API as a misleading 403). Plain Python: no
Dagster, no client library.

Each rule belongs to the sources it would break (``scope``); ``operations`` holds the settings
of the Dagster schedule and alerts, which ``check`` validates and ``sync`` does not need.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

HISTORY_START_VARIABLE = "HISTORY_START_DATE"
DEFAULT_HISTORY_DAYS = 730          # "two years back" (docs/DEFINITIONS.md, "History window")
OPERATIONS = "operations"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidSetting(ValueError):
    """An environment variable holds a value no source can use. The message names the
    variable, the value's problem and the fix (:meth:`Problem.line`); raised before any
    request, and never retried."""


@dataclasses.dataclass(frozen=True)
class Problem:
    variable: str
    value: str
    problem: str        # what is wrong with the value
    fix: str            # what to do about it
    scope: tuple[str, ...]
    secret: bool = False

    def what(self) -> str:
        shown = "(set; value hidden)" if self.secret else repr(self.value)
        return f"{self.variable}={shown} {self.problem}"

    def line(self) -> str:
        return f"{self.what()}: {self.fix}"


# -- the parsers the connectors use too -------------------------------------------------------
def parse_history_start(value: str | None, *, today: dt.date | None = None) -> dt.date | None:
    """``HISTORY_START_DATE`` as a date; ``None`` when unset or blank. A value that is not an
    ISO date, or lies after ``today`` (UTC), raises :class:`InvalidSetting`: with a future date
    Salesforce history would silently read nothing and GA4 answer a 400."""
    if value is None or not value.strip():
        return None
    problem = _history_problem(value, today)
    if problem:
        raise InvalidSetting(problem.line())
    return dt.date.fromisoformat(value.strip())


def _history_problem(value: str, today: dt.date | None = None) -> Problem | None:
    text = value.strip()
    scope = ("hubspot", "salesforce", "ga4")
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        return Problem(HISTORY_START_VARIABLE, value, "is not a date",
                       f"expected YYYY-MM-DD (e.g. 2024-07-01), or leave it empty for "
                       f"{DEFAULT_HISTORY_DAYS} days back", scope)
    today = today or dt.datetime.now(dt.UTC).date()
    if day > today:
        return Problem(HISTORY_START_VARIABLE, value, f"is in the future (today is {today})",
                       "set the first date history should be read from, in the past, or leave "
                       f"it empty for {DEFAULT_HISTORY_DAYS} days back", scope)
    return None


# -- rules ------------------------------------------------------------------------------------
Check = Callable[[str], "tuple[str, str] | None"]   # value -> (problem, fix) or None


def _url(*, https_only: bool, example: str) -> Check:
    def check(value: str) -> tuple[str, str] | None:
        parsed = urlparse(value.strip())
        schemes = ("https",) if https_only else ("http", "https")
        if parsed.scheme not in schemes or not parsed.hostname:
            want = "an https:// URL" if https_only else "a URL starting with https:// (or http://)"
            return f"is not {want}", f"write the whole address, e.g. {example}"
        return None
    return check


def _integer(*, minimum: int, maximum: int | None = None, allow: Iterable[str] = ()) -> Check:
    allowed = {a.lower() for a in allow}

    def check(value: str) -> tuple[str, str] | None:
        text = value.strip()
        if text.lower() in allowed:
            return None
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            bounds = f"from {minimum}" + (f" to {maximum:,}" if maximum is not None else " up")
            extra = f" (or {' / '.join(sorted(allowed))})" if allowed else ""
            return f"is not a whole number {bounds}", f"set a whole number {bounds}{extra}, or leave it empty for the default"
        return None
    return check


def _minutes(value: str) -> tuple[str, str] | None:
    try:
        if float(value) >= 0:
            return None
    except ValueError:
        pass
    return "is not a number of minutes", "set a number of minutes (e.g. 10), or leave it empty for the default"


def _boolean(value: str) -> tuple[str, str] | None:
    if value.strip().lower() in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        return None
    return "is not true or false", "set true or false"


def _ga4_property(value: str) -> tuple[str, str] | None:
    if value.strip().removeprefix("properties/").isdigit():
        return None
    return ("is not a GA4 property id (digits only)",
            "copy the numeric Property ID from GA4 Admin -> Property settings (e.g. 123456789); "
            "a G-XXXX measurement id is not it")


def _existing_file(what: str) -> Check:
    def check(value: str) -> tuple[str, str] | None:
        path = Path(value).expanduser()
        if path.is_file():
            return None
        state = "is a folder" if path.is_dir() else "does not exist"
        return f"{state}", f"point it at the {what} (an absolute path is safest)"
    return check


def _choice(*choices: str) -> Check:
    def check(value: str) -> tuple[str, str] | None:
        if value.strip().lower() in choices:
            return None
        return f"is not one of {', '.join(choices)}", f"set one of {', '.join(choices)}"
    return check


def _pattern(regex: str, what: str, example: str) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> tuple[str, str] | None:
        if compiled.fullmatch(value.strip()):
            return None
        return f"is not {what}", f"e.g. {example}"
    return check


def _cron(value: str) -> tuple[str, str] | None:
    if len(value.split()) == 5:
        return None
    return "is not a cron expression of five fields", "e.g. 0 2 * * * (every day at 02:00)"


def _timezone(value: str) -> tuple[str, str] | None:
    try:
        zoneinfo.ZoneInfo(value.strip())
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "is not a time zone", "use an IANA name such as UTC or Europe/Paris"


# DuckDB's memory for a sync's connection (``SET memory_limit``). Past it DuckDB evicts the
# table blocks it keeps cached after writing them (they grew with the data: ~150 MB of a
# scale-100 GA4 full sync) and spills; the indexes of pages being written stay in memory.
# 96MB: what the scale-100 full syncs were measured with (docs/PERFORMANCE.md, "Memory").
SYNC_MEMORY_VARIABLE = "DUCKDB_SYNC_MEMORY_LIMIT"
DEFAULT_SYNC_MEMORY_LIMIT = "96MB"
_MEMORY_AMOUNT = r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)"      # (number, unit)
_MEMORY_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                 "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def memory_bytes(amount: str) -> int:
    """Bytes of an amount as a user writes it (96MB, 1GB) or DuckDB shows it (91.5 MiB)."""
    m = re.fullmatch(_MEMORY_AMOUNT, amount.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(f"{amount!r} is not an amount of memory such as 96MB or 1GB")
    return int(float(m.group(1)) * _MEMORY_UNITS[m.group(2).upper()])


def sync_memory_limit(env: Mapping[str, str]) -> str:
    """``DUCKDB_SYNC_MEMORY_LIMIT`` (default 96MB), checked: it goes into a SET statement."""
    value = (env.get(SYNC_MEMORY_VARIABLE) or "").strip() or DEFAULT_SYNC_MEMORY_LIMIT
    if not re.fullmatch(_MEMORY_AMOUNT, value, re.IGNORECASE):
        raise ValueError(f"{SYNC_MEMORY_VARIABLE}={value!r} is not an amount of memory such as 96MB or 1GB")
    return value


@dataclasses.dataclass(frozen=True)
class Rule:
    variable: str
    scope: tuple[str, ...]
    check: Check
    secret: bool = False


RULES: tuple[Rule, ...] = (
    Rule("HUBSPOT_BASE_URL", ("hubspot",), _url(https_only=False, example="https://api.hubapi.com")),
    Rule("HUBSPOT_SEARCH_LOOKBACK_MINUTES", ("hubspot",), _minutes),
    Rule("HUBSPOT_WRITE_BATCH", ("hubspot",), _integer(minimum=1)),
    Rule("SALESFORCE_INSTANCE_URL", ("salesforce",),
         _url(https_only=True, example="https://acme.my.salesforce.com")),
    Rule("SALESFORCE_LOGIN_URL", ("salesforce",),
         _url(https_only=True, example="https://login.salesforce.com (https://test.salesforce.com for sandboxes)")),
    Rule("SALESFORCE_CA_BUNDLE", ("salesforce",), _existing_file("CA certificate file (PEM)")),
    Rule("SALESFORCE_BULK_THRESHOLD", ("salesforce",), _integer(minimum=1, allow=("auto",))),
    Rule("SALESFORCE_DELETE_BULK_JOBS", ("salesforce",), _boolean),
    Rule("SALESFORCE_LOOKBACK_MINUTES", ("salesforce",), _minutes),
    Rule("GA4_PROPERTY_ID", ("ga4",), _ga4_property),
    Rule("GOOGLE_APPLICATION_CREDENTIALS", ("ga4",), _existing_file("service-account JSON key file")),
    Rule("GA4_REREAD_DAYS", ("ga4",), _integer(minimum=0, maximum=30)),
    Rule("GA4_PAGE_SIZE", ("ga4",), _integer(minimum=1, maximum=250_000)),
    Rule("GA4_SOURCE", ("ga4",), _choice("data_api", "bigquery_export")),
    Rule("GA4_BIGQUERY_PROJECT", ("ga4",), _pattern(
        r"(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]", "a Google Cloud project id",
        "my-analytics-project (the project ID, not its name or number)")),
    Rule("GA4_BIGQUERY_DATASET", ("ga4",), _pattern(
        r"\w{1,1024}", "a BigQuery dataset name (letters, digits, underscores)",
        "analytics_123456789")),
    Rule("GA4_BIGQUERY_ENDPOINT", ("ga4",),
         _url(https_only=False, example="https://bigquery.googleapis.com (or leave it empty)")),
    Rule("GA4_BIGQUERY_LOCATION", ("ga4",), _pattern(
        r"[A-Za-z][A-Za-z0-9-]*", "a BigQuery location", "US, EU or europe-west1")),
    Rule("GA4_BIGQUERY_PAGE_SIZE", ("ga4",), _integer(minimum=1, maximum=100_000)),
    Rule("GA4_BIGQUERY_KEY_EVENTS", ("ga4",), _pattern(
        r"[A-Za-z][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z][A-Za-z0-9_]*)*",
        "a comma-separated list of GA4 event names", "generate_lead,request_demo")),
    Rule(SYNC_MEMORY_VARIABLE, ("hubspot", "salesforce", "ga4", "advocacy_platform"),
         _pattern(_MEMORY_AMOUNT, "an amount of memory", "96MB, 512MB or 2GB")),
    Rule("NIGHTLY_CRON", (OPERATIONS,), _cron),
    Rule("NIGHTLY_TIMEZONE", (OPERATIONS,), _timezone),
    Rule("ALERT_WEBHOOK_URL", (OPERATIONS,),
         _url(https_only=False, example="https://hooks.slack.com/services/..."), secret=True),
)


def validate(env: Mapping[str, str], scopes: Iterable[str] | None = None, *,
             today: dt.date | None = None) -> list[Problem]:
    """Every problem of the settings in ``env`` (a mapping, or :class:`connectors.source.
    Settings`' ``env``) that would break one of ``scopes`` (source names or ``operations``;
    ``None``: all). Unset and blank variables are not problems: their defaults apply, and a
    source whose variables are absent is skipped by its own ``SourceNotConfigured``."""
    wanted = None if scopes is None else set(scopes)

    def applies(scope: tuple[str, ...]) -> bool:
        return wanted is None or bool(wanted.intersection(scope))

    problems: list[Problem] = []
    value = env.get(HISTORY_START_VARIABLE) or ""
    if value.strip():
        found = _history_problem(value, today)
        if found and applies(found.scope):
            problems.append(found)
    source = (env.get("GA4_SOURCE") or "").strip().lower()
    if source == "bigquery_export" and not (env.get("GA4_BIGQUERY_PROJECT") or "").strip() \
            and applies(("ga4",)):
        problems.append(Problem(
            "GA4_BIGQUERY_PROJECT", "", "is not set but GA4_SOURCE=bigquery_export",
            "set it to the Google Cloud project holding the GA4 export (GA4 Admin -> Product "
            "links -> BigQuery links), or GA4_SOURCE=data_api", ("ga4",)))
    for rule in RULES:
        value = env.get(rule.variable) or ""
        if not value.strip() or not applies(rule.scope):
            continue
        verdict = rule.check(value)
        if verdict:
            problems.append(Problem(rule.variable, value, verdict[0], verdict[1], rule.scope,
                                    rule.secret))
    return problems


def require_valid(env: Mapping[str, str], scopes: Iterable[str] | None = None) -> None:
    """:func:`validate`, raising :class:`InvalidSetting` with one line per problem."""
    problems = validate(env, scopes)
    if problems:
        raise InvalidSetting("\n".join(p.line() for p in problems))


# -- is a source configured at all? ------------------------------------------------------------
# The variables whose presence means "the company uses this source". A source with none of them
# is skipped; with some but not all, its own check/sync says which are missing.
IDENTIFYING_VARIABLES: dict[str, tuple[str, ...]] = {
    "hubspot": ("HUBSPOT_ACCESS_TOKEN",),
    "salesforce": ("SALESFORCE_ACCESS_TOKEN", "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD",
                   "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"),
    "ga4": ("GA4_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS"),
    "advocacy_platform": ("ADVOCACY_EXPORTS_DIR",),
}


def configured_sources(env: Mapping[str, str], sources: Iterable[str]) -> list[str]:
    """The ``sources`` with at least one of their identifying variables set."""
    return [s for s in sources
            if any((env.get(v) or "").strip() for v in IDENTIFYING_VARIABLES.get(s, ()))]
