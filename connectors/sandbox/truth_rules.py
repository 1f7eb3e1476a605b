"""The small, pure rules the sandbox truth is built from (docs/DEFINITIONS.md), written out in
plain Python so that each can be unit-tested on its own: UTM normalisation and classification,
the GA4 ``(other)`` row rule, the attribution models, periods and currency conversion.

Nothing here imports the product (``connectors.warehouse``, dbt, DuckDB) or the fakes: the truth
must be an independent second implementation of the same definitions.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote_plus

OTHER = "(other)"
NOT_SET = "(not set)"
UNATTRIBUTED = "unattributed"
MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")

# GA4's per-visitor report, in request order (the tie-break order of the (other) rule).
GA_DIMENSIONS = ("date", "visitor_id", "source", "medium", "campaign", "ad_content", "term")
# The daily traffic report (no visitor dimension).
GA_TRAFFIC_DIMENSIONS = ("date", "source", "medium", "campaign", "ad_content")

SEARCH_ENGINES = frozenset({"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia"})
SOCIAL_SOURCES = frozenset({
    "linkedin", "linkedin.com", "lnkd.in", "facebook", "facebook.com", "m.facebook.com", "x",
    "twitter", "t.co", "x.com", "instagram", "reddit", "youtube",
})
NETWORK_ALIASES = {"twitter": "x"}

# Salesforce lead statuses -> stage (seed ``salesforce_lead_status_mapping``).
LEAD_STATUS_STAGE = {
    "Marketing Qualified": "mql",
    "Sales Qualified": "sql",
    "Closed - Converted": "sql",
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Identity: emails that link no records (seed identity_email_exclusions, var
# identity_max_records_per_email)
# ---------------------------------------------------------------------------------------------
MAX_RECORDS_PER_EMAIL = 10
EMAIL_EXCLUSIONS: tuple[tuple[str, str], ...] = (
    *((f"{local}@%", "role address") for local in (
        "info", "sales", "contact", "hello", "marketing", "support", "admin", "office",
        "enquiries", "inquiries", "team")),
    *((f"{local}@%", "no-reply address") for local in (
        "noreply", "no-reply", "donotreply", "do-not-reply")),
    ("test@%", "placeholder"), ("%@test.com", "placeholder"), ("%@example.com", "placeholder"),
    ("%@example.org", "placeholder"), ("%@example.net", "placeholder"), ("none@%", "placeholder"),
    ("na@%", "placeholder"), ("noemail@%", "placeholder"), ("unknown@%", "placeholder"),
)


def like(value: str, pattern: str) -> bool:
    """SQL LIKE (``%`` any characters, ``_`` any one character; no escape character)."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, flags=re.DOTALL) is not None


def email_skip_reason(email: str, n_records: int, *,
                      exclusions: Iterable[tuple[str, str]] = EMAIL_EXCLUSIONS,
                      max_records: int = MAX_RECORDS_PER_EMAIL) -> str | None:
    """Why a normalised email links no records (None: it links them): the smallest reason of
    the exclusion patterns it matches, else too many records carry it."""
    reasons = [reason for pattern, reason in exclusions if like(email, pattern.strip().lower())]
    if reasons:
        return min(reasons)
    if n_records > max_records:
        return f"shared by more than {max_records} records"
    return None


# ---------------------------------------------------------------------------------------------
# UTMs
# ---------------------------------------------------------------------------------------------
def normalise(value: str | None) -> str:
    """URL-decode (percent-decoding, ``+`` as space), trim, lower-case. None -> ''."""
    if value is None:
        return ""
    return unquote_plus(str(value)).strip().lower()


@dataclasses.dataclass(frozen=True)
class Classification:
    segment: str                 # advocacy | other
    channel: str                 # advocacy | paid_search | paid_social | organic | email | ...
    rule: str | None             # the advocacy rule that matched (default | social_hub)
    advocate_id: str | None
    post_id: str | None
    network: str | None


def _network(value: str) -> str:
    return NETWORK_ALIASES.get(value, value)


def classify(source: str | None, medium: str | None, campaign: str | None,
             content: str | None, term: str | None) -> Classification:
    """The seed ``advocacy_utm_rules`` (in priority order) and then the generic channel rules."""
    s, m, c, co, t = (normalise(v) for v in (source, medium, campaign, content, term))
    if m == "advocacy":
        return Classification("advocacy", "advocacy", "default", co or None, t or None,
                              _network(s) if s else None)
    if s == "social_hub":
        return Classification("advocacy", "advocacy", "social_hub", c or None, co or None,
                              _network(m) if m else None)
    if m in ("cpc", "ppc", "paid_search") and s in SEARCH_ENGINES:
        channel = "paid_search"
    elif m == "paid_social" or (m == "cpc" and s in SOCIAL_SOURCES):
        channel = "paid_social"
    elif m == "organic":
        channel = "organic"
    elif m == "email":
        channel = "email"
    elif m == "referral":
        channel = "referral"
    elif s == "(direct)":
        channel = "direct"
    else:
        channel = "unclassified"
    return Classification("other", channel, None, None, None, None)


UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def url_utms(url: str | None) -> dict[str, str] | None:
    """The ``utm_*`` query parameters of a URL, values *as written* (normalisation decodes them
    once, later); the first occurrence of a key wins. None when the URL has no utm_* parameter."""
    if not url or "?" not in url:
        return None
    query = url.split("?", 1)[1].split("#", 1)[0]
    out: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = unquote_plus(key).strip().lower()
        if key in UTM_KEYS and key not in out:
            out[key] = value
    return out or None


# ---------------------------------------------------------------------------------------------
# GA4 (other) rule
# ---------------------------------------------------------------------------------------------
def served(value: str | None) -> str:
    """GA serves an empty dimension value as ``(not set)``."""
    return NOT_SET if value is None or value == "" else value


def collapse_other(rows: Sequence[tuple[tuple[str, ...], tuple[int, ...]]], threshold: int
                   ) -> tuple[list[tuple[tuple[str, ...], tuple[int, ...]]], bool]:
    """Apply GA's ``(other)`` rule to the grouped rows of ONE date's report.

    ``rows`` are ``(dimension values in request order, metrics)`` with sessions first. With more
    than ``threshold`` rows (0 = never), the ``threshold - 1`` rows with the most sessions stay
    (ties: the dimension tuple ascending as strings) and the rest become one row whose dimension
    values are all ``(other)`` except the first (the date), metrics summed.
    """
    if threshold <= 0 or len(rows) <= threshold:
        return list(rows), False
    ranked = sorted(rows, key=lambda r: (-r[1][0], r[0]))
    kept, rest = ranked[: threshold - 1], ranked[threshold - 1:]
    dims = (rest[0][0][0],) + (OTHER,) * (len(rest[0][0]) - 1)
    sums = tuple(sum(r[1][k] for r in rest) for k in range(len(rest[0][1])))
    return kept + [(dims, sums)], True


# ---------------------------------------------------------------------------------------------
# Attribution models
# ---------------------------------------------------------------------------------------------
def model_credits(model: str, n: int, *, lead_index: int | None = None,
                  age_days: Sequence[int] = (), half_life: float = 7.0) -> list[float]:
    """Credit per touch (ordered by date, touch_id) for one model; sums to 1 for n >= 1.

    ``lead_index``: position of the lead-creation touch (W-shaped), None when it is not among
    the touches. ``age_days``: opportunity created date minus touch date, per touch (time decay).
    """
    if n <= 0:
        return []
    if model == "first_touch":
        return [1.0] + [0.0] * (n - 1)
    if model == "last_touch":
        return [0.0] * (n - 1) + [1.0]
    if model == "linear":
        return [1.0 / n] * n
    if model == "u_shaped":
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
    if model == "w_shaped":
        w = [0.0] * n
        roles = [0, n - 1] + ([lead_index] if lead_index is not None else [])
        for i in roles:
            w[i] += 0.3
        free = [i for i in range(n) if i not in roles]
        for i in free:
            w[i] += 0.1 / len(free)
        total = sum(w)
        return [x / total for x in w]
    if model == "time_decay":
        if len(age_days) != n:
            raise ValueError("time_decay needs one age per touch")
        w = [2.0 ** (-a / half_life) for a in age_days]
        total = sum(w)
        return [x / total for x in w]
    raise ValueError(f"unknown model {model}")


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------
def parse_datetime(value: object) -> dt.datetime | None:
    """An aware UTC datetime from HubSpot (``...000Z``), Salesforce (``...000+0000``) or a date."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 10:
        d = dt.date.fromisoformat(text)
        return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def parse_date(value: object) -> dt.date | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 8 and text.isdigit():
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    t = parse_datetime(text)
    return t.date() if t else None


def period_start(d: dt.date, grain: str, fiscal_start_month: int = 1) -> dt.date:
    if grain == "month":
        return d.replace(day=1)
    if grain != "quarter":
        raise ValueError(grain)
    offset = (d.month - fiscal_start_month) % 12
    month = (fiscal_start_month - 1 + 3 * (offset // 3)) % 12 + 1
    year = d.year if month <= d.month else d.year - 1
    return dt.date(year, month, 1)


def next_period(start: dt.date, grain: str) -> dt.date:
    months = 1 if grain == "month" else 3
    m = start.month - 1 + months
    return dt.date(start.year + m // 12, m % 12 + 1, 1)


# ---------------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------------
class Rates:
    """Conversion to the reporting currency: ``amount / rate`` where ``rate`` is the cross rate
    ``rate(currency, on) / rate(reporting, on)``. Salesforce rates are units of a currency per 1
    unit of the org's *corporate* currency: ``rate(c, on)`` is the dated rate of ``c`` with
    ``start_date <= on < next_start_date``, else ``CurrencyType.ConversionRate``, and 1 for the
    corporate currency (default: the reporting currency). So ``amount / rate`` equals
    ``amount / rate(currency, on) * rate(reporting, on)``. The reporting currency itself (and no
    currency) has rate 1; a currency, or a reporting currency, without a rate gives no rate
    (the amount is quarantined)."""

    def __init__(self, reporting: str, currency_types: dict[str, float],
                 dated: Iterable[tuple[str, dt.date, dt.date | None, float]],
                 corporate: str | None = None) -> None:
        self.reporting = reporting
        self.corporate = corporate or reporting
        self.currency_types = dict(currency_types)
        self._dated: dict[str, list[tuple[dt.date, dt.date | None, float]]] = {}
        for code, start, nxt, rate in dated:
            self._dated.setdefault(code, []).append((start, nxt, rate))
        for periods in self._dated.values():
            periods.sort(key=lambda p: p[0])
        self._starts = {c: [p[0] for p in ps] for c, ps in self._dated.items()}

    def corporate_rate(self, code: str, on: dt.date | None) -> float | None:
        """Units of ``code`` per 1 corporate-currency unit on ``on`` (None: no rate)."""
        periods = self._dated.get(code)
        if periods and on is not None:
            i = bisect.bisect_right(self._starts[code], on) - 1
            # Overlapping periods are not expected; search backwards for the first that holds.
            while i >= 0:
                start, nxt, rate = periods[i]
                if start <= on and (nxt is None or on < nxt):
                    return rate
                i -= 1
        if code in self.currency_types:
            return self.currency_types[code]
        if code == self.corporate:
            return 1.0
        return None

    def rate(self, currency: str | None, on: dt.date | None) -> float | None:
        code = (currency or "").strip() or self.reporting
        if code == self.reporting:
            return 1.0
        mine, reporting = self.corporate_rate(code, on), self.corporate_rate(self.reporting, on)
        if not mine or not reporting:
            return None
        return mine / reporting

    def known(self, currency: str | None) -> bool:
        """Whether ``currency`` has a rate on some date (the reporting currency always has)."""
        code = (currency or "").strip() or self.reporting

        def any_rate(c: str) -> bool:
            return c == self.corporate or c in self.currency_types or c in self._dated

        return code == self.reporting or (any_rate(code) and any_rate(self.reporting))
