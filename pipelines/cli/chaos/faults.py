"""Random fault plans for the chaos runs, in the sandbox's fault spec
(:mod:`connectors.sandbox.fakes.base`), and the count of what each plan injected.

Every kind the fakes support is drawn, except the permissions (``partial-visibility``: an
integration user without "View All Data"; ``denied``: the BigQuery export's IAM roles): an org
gives them or not, never a passing fault; no rerun can recover what they hide, and
``advocacy check`` reports them (connectors/salesforce_check.py, connectors/ga4_check.py).
"""

from __future__ import annotations

import random
from collections import Counter

from connectors.sandbox.fakes.base import KINDS, STATE_KINDS, FaultPlan

# kinds every fake injects per request
COMMON = ("429", "429-bare", "500", "502", "503", "drop", "slow", "expire")
# kinds only one API has
ONLY = {"hubspot": ("lag",), "salesforce": ("limit", "long-txn", "query-timeout", "no-forecasting")}
EXCLUDED = {"partial-visibility": "a permission, not a passing fault (reported by `advocacy check`)",
            "denied": "the BigQuery export's missing IAM roles: a permission, not a passing fault "
                      "(reported by `advocacy check`); the chaos runs read GA4 through the Data API"}
# the source each faulted service serves (the advocacy exports are files: no API to fault)
SERVICE_OF = {"hubspot": "hubspot", "salesforce": "salesforce", "ga4": "ga4"}

assert set(COMMON) | {k for ks in ONLY.values() for k in ks} | set(EXCLUDED) == set(KINDS), \
    "a fault kind of the fakes is neither drawn nor excluded with its reason"


def draw_fault(rng: random.Random, service: str) -> str:
    """One fault of ``service`` in spec syntax, bounded so that retries can absorb it (a
    ``limit`` stops the source: the next run of the night must pick up where it stopped)."""
    kind = rng.choice(COMMON + ONLY.get(service, ()))
    every = rng.randint(2, 12)
    count = rng.randint(1, 3)
    if kind == "slow":
        return f"{service}:slow={rng.choice((0.05, 0.1, 0.2))}@{every}x{count * 3}"
    if kind == "429":
        return f"{service}:429=1@{every}x{count}"
    if kind == "lag":
        return f"{service}:lag={rng.choice((0, 60, 600, 3600, 7200))}"
    if kind == "limit":
        return f"{service}:limit@{rng.randint(2, 40)}x{count}"
    if kind == "query-timeout":
        return f"{service}:query-timeout={rng.choice((1, 7, 30, 120))}x{count}"
    if kind == "no-forecasting":
        return f"{service}:no-forecasting"
    return f"{service}:{kind}@{every}x{count}"


def draw_plan(rng: random.Random, sources: list[str], most: int = 3) -> str:
    """1..``most`` faults on the services of ``sources`` ('' when none of them has an API)."""
    services = [SERVICE_OF[s] for s in sources if s in SERVICE_OF]
    if not services:
        return ""
    return ",".join(draw_fault(rng, rng.choice(services)) for _ in range(rng.randint(1, most)))


def fired(plan: FaultPlan) -> Counter[str]:
    """What ``plan`` injected so far, by kind. A state fault (read by the fake as a setting,
    not fired per request unless it counts itself, as ``query-timeout`` does) counts once per
    run it was active in."""
    out: Counter[str] = Counter()
    for fault in plan.faults:
        if fault.kind in STATE_KINDS and fault.kind != "query-timeout":
            out[fault.kind] += 1
        elif fault.fired:
            out[fault.kind] += fault.fired
    return out
