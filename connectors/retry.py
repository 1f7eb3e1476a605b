"""Retries with exponential backoff and jitter that honour ``Retry-After``.

One policy for every connector. Each client raises its own exception types, so the caller
passes a ``classify`` function that says, for an exception, whether to retry and how long
the server asked us to wait (``Retry-After``), or ``None`` to give up at once.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6            # total tries, the first included
    base_delay: float = 0.5      # seconds; doubled each retry
    max_delay: float = 60.0      # cap on one wait (Retry-After is honoured up to max_retry_after)
    max_retry_after: float = 300.0

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Equal jitter: uniform in [cap/2, cap], cap = min(max, base * 2**n): never retries
        at once, yet spreads a thundering herd."""
        cap = min(self.max_delay, self.base_delay * (2 ** retry_number))
        return (rng or random).uniform(cap / 2, cap)


@dataclasses.dataclass(frozen=True)
class Verdict:
    retry: bool
    retry_after: float | None = None   # seconds the server asked for
    reason: str = ""


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def call_with_retries(
    fn: Callable[[], T],
    classify: Callable[[BaseException], Verdict],
    *,
    policy: RetryPolicy = RetryPolicy(),
    what: str = "request",
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, float, str], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, ``classify`` says stop, or attempts run out."""
    for attempt in range(policy.attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classify decides
            verdict = classify(exc)
            if not verdict.retry or attempt == policy.attempts - 1:
                raise
            if verdict.retry_after is not None:
                delay = min(verdict.retry_after, policy.max_retry_after)
            else:
                delay = policy.backoff(attempt)
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what,
                        verdict.reason or type(exc).__name__, attempt + 1,
                        policy.attempts - 1, delay)
            if on_retry:
                on_retry(attempt + 1, delay, verdict.reason)
            sleep(delay)
    raise AssertionError("unreachable")


RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
