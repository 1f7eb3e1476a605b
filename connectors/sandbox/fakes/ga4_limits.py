"""What the GA4 Data API withholds and charges, for the fake (``ga4.py``): token costs and the
property quotas, data thresholds, and sampling. Each rule follows Google's documentation
(facts quoted in docs/GA4_API_BEHAVIOUR.md); where Google publishes no number the fake's choice
is named as such and is configurable through the world store's meta.

Quotas (Data API "Limits and quotas", ``PropertyQuota``; standard property):
core tokens per property per day 200,000 and per hour 40,000; per *project* per property per
hour 14,000 (35 % of the hourly); 10 concurrent requests per property; 10 server errors per
project per hour; 120 potentially thresholded requests per hour. One request's tokens are
deducted from the hourly, the daily and the per-project hourly quota alike. Daily quotas
refresh at midnight Pacific time, hourly ones "within an hour". Any exhausted quota makes
every request to the property answer 429 RESOURCE_EXHAUSTED.

Token cost: Google says a request's cost grows with its rows, its columns (dimensions and
metrics), filter complexity and the date range, and that most requests cost under 10 tokens;
it publishes no formula. The fake's model (``token_cost``): 1 token, plus 1 per 100,000 cells
(rows served x columns), plus 1 per 31 days of date range beyond the first month, plus 1 for a
dimension filter.

Windows: the hour is ``ga4_quota_hour_seconds`` (meta, default 3,600) and the day 24 such
hours, both rolling (a test shrinks the hour to watch the connector wait for a refill).
``ga4_quota_limits`` (meta, a JSON object) overrides any limit, e.g. a smaller
``tokensPerProjectPerHour``.

Thresholds ("Reporting data expectations": rows with few users may be withheld, commonly in
reports with high-cardinality or custom dimensions; ``metadata.subjectToThresholding`` says a
report is subject to it): when ``ga4_threshold_users`` (meta; 0 = off, what a property with
Google signals off and device-based reporting identity gets) is N > 0, a report with a custom
(``customEvent:``/``customUser:``) dimension is subject to thresholding and each row with fewer
than N distinct users is withheld.

Sampling ("Understand how Analytics stores and displays data": for each request, reports and
the Data API alike, GA picks the table giving the most accurate result under the default
sampling limit, 10 million events for a standard property; aggregated tables answer "the most
common requests" unsampled; "Reporting data expectations": runReport may sample "especially for
large datasets or complex queries"). Google publishes no rule for which requests the aggregated
tables answer; the fake's: a report with at most two dimensions besides ``date``, none custom,
is never sampled. Any other report: when a date range holds more sessions than
``ga4_sampling_events`` (meta; default 10,000,000 — the fake counts a session as its event),
the range is read from a deterministic sample of its store rows (rate = limit / sessions),
metrics scaled up by 1 / rate, and ``metadata.samplingMetadatas`` gets one entry per date range
(``samplesReadCount``, ``samplingSpaceSize``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

QUOTA_LIMITS = {
    "tokensPerDay": 200_000,
    "tokensPerHour": 40_000,
    "concurrentRequests": 10,
    "serverErrorsPerProjectPerHour": 10,
    "potentiallyThresholdedRequestsPerHour": 120,
    "tokensPerProjectPerHour": 14_000,
}
DEFAULT_SAMPLING_EVENTS = 10_000_000
CELLS_PER_TOKEN = 100_000
DAYS_PER_TOKEN = 31

# The messages Google's 429s carry (the connector tells them apart by these words).
EXHAUSTED = {
    "tokensPerDay": "Exhausted property tokens per day quota.",
    "tokensPerHour": "Exhausted property tokens per hour quota.",
    "tokensPerProjectPerHour": "Exhausted property tokens for a project per hour quota.",
    "concurrentRequests": "Exhausted concurrent requests quota.",
}


def token_cost(rows: int, columns: int, days: int, filtered: bool) -> int:
    """The fake's token model (see the module docstring)."""
    return (1 + (rows * columns) // CELLS_PER_TOKEN + max(0, days - 1) // DAYS_PER_TOKEN
            + int(filtered))


class QuotaLedger:
    """Tokens spent per rolling hour and day, and requests in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: list[tuple[float, int]] = []
        self._in_flight = 0

    @staticmethod
    def limits(meta: dict[str, Any]) -> dict[str, int]:
        limits = dict(QUOTA_LIMITS)
        extra = meta.get("ga4_quota_limits")
        if isinstance(extra, str):
            extra = json.loads(extra)
        for name, value in (extra or {}).items():
            if name in limits:
                limits[name] = int(value)
        return limits

    @staticmethod
    def hour_seconds(meta: dict[str, Any]) -> float:
        return float(meta.get("ga4_quota_hour_seconds") or 3600)

    def _used(self, hour: float) -> tuple[int, int]:
        now = time.time()
        self._spent = [(at, t) for at, t in self._spent if at > now - 24 * hour]
        return (sum(t for _, t in self._spent),
                sum(t for at, t in self._spent if at > now - hour))

    def enter(self, meta: dict[str, Any]) -> str | None:
        """Admit a request (None) or name the exhausted quota; the caller must ``leave``."""
        limits, hour = self.limits(meta), self.hour_seconds(meta)
        with self._lock:
            day_used, hour_used = self._used(hour)
            if day_used >= limits["tokensPerDay"]:
                return "tokensPerDay"
            if hour_used >= limits["tokensPerHour"]:
                return "tokensPerHour"
            if hour_used >= limits["tokensPerProjectPerHour"]:
                return "tokensPerProjectPerHour"
            if self._in_flight >= limits["concurrentRequests"]:
                return "concurrentRequests"
            self._in_flight += 1
        return None

    def leave(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def charge(self, tokens: int, meta: dict[str, Any]) -> dict[str, Any]:
        """Spend ``tokens`` and return the ``propertyQuota`` object after it."""
        limits, hour = self.limits(meta), self.hour_seconds(meta)
        with self._lock:
            self._spent.append((time.time(), tokens))
            day_used, hour_used = self._used(hour)
            others = max(0, self._in_flight - 1)   # as Google shows it: the others in flight
        used = {"tokensPerDay": day_used, "tokensPerHour": hour_used,
                "tokensPerProjectPerHour": hour_used, "concurrentRequests": others}
        return {
            name: {"consumed": tokens if name.startswith("tokens") else 0,
                   "remaining": max(0, limit - used.get(name, 0))}
            for name, limit in limits.items()
        }


def threshold_users(meta: dict[str, Any], dims: list[str]) -> int:
    """N when the report is subject to thresholding (rows with < N users withheld), else 0."""
    n = int(meta.get("ga4_threshold_users") or 0)
    if n <= 0 or not any(d.startswith(("customEvent:", "customUser:")) for d in dims):
        return 0
    return n


AGGREGATED_MAX_DIMENSIONS = 2


def may_sample(dims: list[str]) -> bool:
    """False for the simple reports the aggregated tables answer (see the module docstring)."""
    rest = [d for d in dims if d not in ("date", "dateRange")]
    return (len(rest) > AGGREGATED_MAX_DIMENSIONS
            or any(d.startswith(("customEvent:", "customUser:")) for d in rest))


def sampling_rate(meta: dict[str, Any], sessions_in_range: int) -> float:
    """The share of a date range's store rows read (1.0 = unsampled)."""
    limit = int(meta.get("ga4_sampling_events") or DEFAULT_SAMPLING_EVENTS)
    if sessions_in_range <= limit:
        return 1.0
    return limit / sessions_in_range


def sampled(rowid: int, rate_millionths: int) -> int:
    """Deterministic row sample: Knuth's multiplicative hash of the store row id."""
    return int((rowid * 2654435761) % 4294967296 < rate_millionths * 4294967296 // 1_000_000)


def scale_up(value: float, rate: float) -> float:
    return float(math.floor(value / rate + 0.5)) if rate < 1.0 else value
