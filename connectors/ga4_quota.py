"""GA4 Data API quota pacing: read the remaining tokens from every answer
(``returnPropertyQuota``), wait for a refill instead of stopping the sync, and never wait
unboundedly.

Google's quotas for a standard property (docs/GA4.md): 200,000 core tokens per property per
day, 40,000 per property per hour, 14,000 per project per property per hour; one request's
tokens are deducted from all three. Hourly quotas refresh "within an hour", daily ones at
midnight Pacific time. When *any* quota of a property is exhausted, every request to the
property answers 429 — dashboards and other tools reading the same property included — so the
pacer also keeps a daily reserve (``GA4_DAILY_TOKEN_RESERVE``) for them.

* Before a request: when the last answer left fewer hourly tokens (property or project) than
  the last request cost, wait for the hour to refill; when fewer daily tokens than the reserve,
  the day is spent: wait for midnight Pacific if that is within the wait bound, else stop.
* A 429 naming an hourly token quota: wait and try again; a daily one: as above.
* Waits poll every ``GA4_QUOTA_POLL_SECONDS`` (default 60) with a progress line each time, and
  end after ``GA4_QUOTA_MAX_WAIT_SECONDS`` (default 3,900: one full hour and a margin) in total
  per run: then the source stops (:class:`connectors.source.SourceStopped`), committed dates
  kept, and the next run resumes from the cursor.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

HOURLY = ("tokens_per_hour", "tokens_per_project_per_hour")
DAILY = "tokens_per_day"
DEFAULT_POLL_SECONDS = 60.0
DEFAULT_MAX_WAIT_SECONDS = 3900.0
DEFAULT_DAILY_RESERVE = 20_000        # 10 % of a standard property's day
PACIFIC = ZoneInfo("America/Los_Angeles")
_CAMEL = {"tokens_per_day": "tokensPerDay", "tokens_per_hour": "tokensPerHour",
          "tokens_per_project_per_hour": "tokensPerProjectPerHour"}   # names in the JSON


class QuotaWaitExceeded(Exception):
    """The wait bound is spent; the message says why and what resumes."""


def exhausted_quota(message: str) -> str | None:
    """Which token quota a 429 message names: ``hour``, ``day`` or None (concurrency...)."""
    text = message.lower()
    if "per day" in text:
        return "day"
    if "per hour" in text:
        return "hour"
    return None


def seconds_to_pacific_midnight(now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    local = now.astimezone(PACIFIC)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), PACIFIC)
    return max(0.0, (midnight - local).total_seconds())


class QuotaPacer:
    def __init__(self, settings: Any, *, sleep: Callable[[float], None],
                 say: Callable[[str], None]) -> None:
        self.poll = float(settings.get("GA4_QUOTA_POLL_SECONDS") or DEFAULT_POLL_SECONDS)
        self.max_wait = float(settings.get("GA4_QUOTA_MAX_WAIT_SECONDS")
                              or DEFAULT_MAX_WAIT_SECONDS)
        self.daily_reserve = int(settings.get("GA4_DAILY_TOKEN_RESERVE")
                                 or DEFAULT_DAILY_RESERVE)
        self._sleep, self._say = sleep, say
        self.remaining: dict[str, int] = {}
        self.last_cost = 1
        self.tokens = 0            # tokens this run consumed (as Google reports them)
        self.waited = 0.0          # seconds this run waited for quota
        self.waits = 0

    # -- after an answer -----------------------------------------------------------------------
    def note(self, answer: dict[str, Any]) -> int:
        """Record an answer's ``propertyQuota`` (the REST JSON); returns the tokens it cost (0
        if unknown). JSON leaves zero values out: a missing ``remaining`` is 0."""
        q = answer.get("propertyQuota")
        if q is None:
            return 0
        cost = 0
        for name in (DAILY, *HOURLY):
            status = q.get(_CAMEL[name])
            if status is not None:
                self.remaining[name] = int(status.get("remaining") or 0)
                cost = max(cost, int(status.get("consumed") or 0))
        if cost:
            self.last_cost = cost
            self.tokens += cost
        return cost

    # -- before a request ----------------------------------------------------------------------
    def before_request(self) -> None:
        day = self.remaining.get(DAILY)
        if day is not None and day < self.daily_reserve:
            self.wait_for("day", f"{day} daily tokens left, below the reserve of "
                                 f"{self.daily_reserve} kept for the property's other users")
            return
        low = [n for n in HOURLY if n in self.remaining and self.remaining[n] < self.last_cost]
        if low:
            self.wait_for("hour", f"{self.remaining[low[0]]} {low[0].replace('_', ' ')} left")

    def wait_for(self, which: str, why: str) -> None:
        """Sleep until the ``which`` ("hour"/"day") quota should have refilled, in polls."""
        if which == "day":
            need = seconds_to_pacific_midnight() + 60
            if self.waited + need > self.max_wait:
                raise QuotaWaitExceeded(
                    f"GA4 daily token quota spent ({why}); it refills at midnight Pacific time, "
                    f"in {need / 3600:.1f} h, beyond GA4_QUOTA_MAX_WAIT_SECONDS")
            self._pause(need, f"daily quota: {why}; waiting {need / 60:.0f} min for midnight "
                              "Pacific")
        else:
            if self.waited + self.poll > self.max_wait:
                raise QuotaWaitExceeded(
                    f"GA4 hourly token quota still spent after waiting {self.waited / 60:.0f} "
                    f"min ({why}; GA4_QUOTA_MAX_WAIT_SECONDS={self.max_wait:.0f})")
            self._pause(self.poll, f"hourly quota: {why}; waiting {self.poll:.0f}s for the "
                                   f"refill ({self.waited / 60:.1f} min waited so far)")
        self.remaining.clear()      # unknown until the next answer

    def _pause(self, seconds: float, text: str) -> None:
        self._say(f"ga4 {text}")
        started = time.monotonic()
        self._sleep(seconds)
        self.waited += max(seconds, time.monotonic() - started)
        self.waits += 1

    def note_text(self) -> str:
        parts = []
        if DAILY in self.remaining:
            parts.append(f"{self.remaining[DAILY]} tokens left today")
        if "tokens_per_project_per_hour" in self.remaining:
            parts.append(f"{self.remaining['tokens_per_project_per_hour']} this hour")
        if self.tokens:
            parts.append(f"{self.tokens} spent")
        if self.waits:
            parts.append(f"waited {self.waited:.0f}s for refills")
        return "quota: " + ", ".join(parts) if parts else ""
