"""The causal truth of advocacy's lift (docs/LIFT.md), computed independently of the product.

Two parts:

- ``causal``: what the generator did. Each web lead's chance of reaching SQL is known from the
  world's config (:func:`connectors.sandbox.config.sql_probability`: the advocacy lift, the
  contest boost, the company-size factor). The true lift is the average treatment effect on
  the treated (ATT): over the matured advocacy leads, P(SQL | advocacy) - P(SQL | same lead
  without advocacy). The expected naive difference is what comparing advocacy with other leads
  directly gives in expectation; its gap to the ATT is the confounder's bias.
- ``estimate``: the selection-adjusted comparison as ``marts.adjusted_funnel_comparison``
  computes it, from observable people: the end-to-end test demands equality.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from connectors.sandbox.config import WorldConfig, size_band, sql_probability
from connectors.sandbox.genutil import next_quarter

# dbt vars (dbt_project.yml) this module follows
LIFT_VARS: dict[str, Any] = {
    "lift_maturity_days": 60,
    "company_size_bands": [200, 1000],
}
SIZE_NAMES = ("small", "mid", "large")
UNKNOWN = "unknown"
FUNNEL_STAGES = ("mql", "sql", "opportunity")
Z95 = 1.959963984540054


def band_name(employees: int | None) -> str:
    if employees is None:
        return UNKNOWN
    return SIZE_NAMES[sum(employees >= lim for lim in LIFT_VARS["company_size_bands"])]


def cohort_end(as_of: dt.date) -> dt.date:
    """The last lead date a comparison counts: leads younger than the maturity are left out."""
    return as_of - dt.timedelta(days=int(LIFT_VARS["lift_maturity_days"]))


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The estimator (both the truth and the mart)
# ---------------------------------------------------------------------------------------------
def _var(x: int, n: int) -> float:
    """Variance of a rate x/n, with (x + 1) / (n + 2) in place of the rate so that a stratum
    with x = 0 or x = n does not claim certainty."""
    p = (x + 1) / (n + 2)
    return p * (1 - p) / n


def compare(cells: dict[str, dict[str, list[int]]]) -> list[dict[str, Any]]:
    """``cells[stratum][segment] = [leads, reached]`` -> stratum rows, the naive row and the
    adjusted (ATT-weighted: each stratum by its share of advocacy leads) row."""
    rows: list[dict[str, Any]] = []
    tot = {"advocacy": [0, 0], "other": [0, 0]}
    usable = {s: c for s, c in cells.items() if c["advocacy"][0] > 0 and c["other"][0] > 0}
    n_adv = sum(c["advocacy"][0] for c in usable.values())
    est = var = adj_adv = adj_oth = 0.0
    for s in sorted(cells):
        a, o = cells[s]["advocacy"], cells[s]["other"]
        for seg in tot:
            tot[seg][0] += cells[s][seg][0]
            tot[seg][1] += cells[s][seg][1]
        pa = a[1] / a[0] if a[0] else None
        po = o[1] / o[0] if o[0] else None
        w = a[0] / n_adv if s in usable else 0.0
        row = {"row_type": "stratum", "stratum": s, "advocacy_leads": a[0], "advocacy_reached": a[1],
               "advocacy_rate": pa, "other_leads": o[0], "other_reached": o[1], "other_rate": po,
               "difference": None, "ci_low": None, "ci_high": None, "weight": w}
        if s in usable:
            d, v = pa - po, _var(*a[::-1]) + _var(*o[::-1])
            row.update(difference=d, ci_low=d - Z95 * math.sqrt(v), ci_high=d + Z95 * math.sqrt(v))
            est += w * d
            var += w * w * v
            adj_adv += w * pa
            adj_oth += w * po
        rows.append(row)
    a, o = tot["advocacy"], tot["other"]
    naive = {"row_type": "naive", "stratum": "(all)", "advocacy_leads": a[0], "advocacy_reached": a[1],
             "advocacy_rate": a[1] / a[0] if a[0] else None, "other_leads": o[0],
             "other_reached": o[1], "other_rate": o[1] / o[0] if o[0] else None,
             "difference": None, "ci_low": None, "ci_high": None, "weight": 1.0}
    if a[0] and o[0]:
        d, v = naive["advocacy_rate"] - naive["other_rate"], _var(a[1], a[0]) + _var(o[1], o[0])
        naive.update(difference=d, ci_low=d - Z95 * math.sqrt(v), ci_high=d + Z95 * math.sqrt(v))
    adjusted = {"row_type": "adjusted", "stratum": "(all)", "advocacy_leads": n_adv,
                "advocacy_reached": sum(c["advocacy"][1] for c in usable.values()),
                "advocacy_rate": adj_adv if usable else None,
                "other_leads": sum(c["other"][0] for c in usable.values()),
                "other_reached": sum(c["other"][1] for c in usable.values()),
                "other_rate": adj_oth if usable else None,
                "difference": est if usable else None,
                "ci_low": est - Z95 * math.sqrt(var) if usable else None,
                "ci_high": est + Z95 * math.sqrt(var) if usable else None, "weight": 1.0}
    return [*rows, naive, adjusted]


# ---------------------------------------------------------------------------------------------
# The observable estimate (what the mart must equal)
# ---------------------------------------------------------------------------------------------
def person_size(world: Any, members: list[str]) -> int | None:
    """Employees of the person's company: the first member (sorted ids) whose record names a
    company with a size: a HubSpot contact's associated company, a Salesforce contact's account."""
    for m in members:
        kind, rid = m.split(":", 1)
        if kind == "hubspot":
            cid = _int(world.hs["contacts"].get(int(rid), {}).get("associatedcompanyid"))
            size = _int(world.hs["companies"].get(cid, {}).get("numberofemployees")) if cid else None
        elif kind == "sf_contact":
            aid = world.sf["Contact"].get(rid, {}).get("AccountId")
            size = _int(world.sf["Account"].get(aid, {}).get("NumberOfEmployees")) if aid else None
        else:
            size = None
        if size is not None:
            return size
    return None


def estimate(world: Any, st: Any) -> list[dict[str, Any]]:
    end = cohort_end(world.as_of)
    out: list[dict[str, Any]] = []
    cells: dict[str, dict[str, dict[str, list[int]]]] = {
        s: defaultdict(lambda: {"advocacy": [0, 0], "other": [0, 0]}) for s in FUNNEL_STAGES}
    for key in sorted(world.people):
        person = world.people[key]
        if st.basis[key] == "none" or person.lead_date > end:
            continue
        band = band_name(person_size(world, person.members))
        for stage in FUNNEL_STAGES:
            c = cells[stage][band][st.segment[key]]
            c[0] += 1
            c[1] += person.stage_dates.get(stage) is not None
    for stage in FUNNEL_STAGES:
        out += [{"stage": stage, **r} for r in compare(cells[stage])]
    return out


# ---------------------------------------------------------------------------------------------
# The causal truth (what the generator did)
# ---------------------------------------------------------------------------------------------
def causal(world: Any) -> dict[str, Any]:
    raw = world.meta.get("config")
    cfg = WorldConfig.from_json(raw) if raw else WorldConfig()
    end = cohort_end(world.as_of)
    q_end = next_quarter(cfg.contest_quarter_start)
    employees: dict[str, int] = {}
    for rid, f in world.sf["Account"].items():
        n = _int(f.get("NumberOfEmployees"))
        if n is not None:
            employees[rid] = n
    p1: list[float] = []
    p0_treated: list[float] = []
    p0_other: list[float] = []
    for channel, created, deleted, account in world.conn.execute(
        "SELECT intended_channel, created_at, deleted_at, account_id FROM truth_person "
        "WHERE intended_channel <> 'offline' ORDER BY person_id"
    ):
        if not created or account not in employees:  # hand-made stores of the unit tests
            continue
        d = dt.date.fromisoformat(created[:10])
        if d > end or (deleted and dt.date.fromisoformat(deleted[:10]) <= world.as_of):
            continue
        band = size_band(cfg, employees[account])
        base = sql_probability(cfg, 1.0, band)
        if channel == "advocacy":
            lift = cfg.advocacy_conversion_lift
            if cfg.contest_quarter_start <= d < q_end:
                lift *= cfg.contest_conversion_boost
            p1.append(sql_probability(cfg, lift, band))
            p0_treated.append(base)
        else:
            p0_other.append(base)

    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    att = mean([a - b for a, b in zip(p1, p0_treated, strict=True)])
    naive = (mean(p1) - mean(p0_other)) if p1 and p0_other else None
    return {
        "stage": "sql",
        "cohort_end": end.isoformat(),
        "advocacy_leads": len(p1),
        "other_leads": len(p0_other),
        "true_lift": att,
        "expected_naive_difference": naive,
        "confounding_bias": naive - att if naive is not None and att is not None else None,
        "advocacy_size_skew": cfg.advocacy_size_skew,
    }
