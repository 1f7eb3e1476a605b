"""``advocacy plan-experiment``: how small a lift in the SQL rate an experiment could detect,
given the history in the warehouse, and a seeded assignment list (docs/LIFT.md).

Two designs:

- ``holdout``: a random share of the accounts gets no advocacy content for the test; leads of
  the other accounts are compared with theirs. Accounts are the clusters.
- ``staggered``: advocacy is rolled out team by team in waves (a stepped wedge): every team
  starts, in a random order, at the start of one of ``waves`` equal periods after a first
  period without any; half of the lead-periods are treated. Teams are the clusters.

The minimum detectable lift (absolute, in rate points) at significance ``alpha`` (two-sided)
and ``power``: (z(1 - alpha/2) + z(power)) x sqrt(p (1 - p) x DE x (1/n_treated + 1/n_control)),
p the other leads' SQL rate, n the leads expected in the test (the history's leads with a
sourcing touch per month x months), DE = 1 + (m - 1) x ICC the design effect of m leads per
cluster (ICC given; 0.05 by default, a common value for account-level outcomes). A normal
approximation: a plan, not a promise.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import duckdb


@dataclass(frozen=True)
class Plan:
    design: str
    baseline_rate: float
    leads: float              # expected leads in the test
    clusters: int
    treated_share: float
    icc: float
    mde: float                # absolute, rate points (0.05 = 5 pt)

    @property
    def relative_mde(self) -> float:
        return self.mde / self.baseline_rate if self.baseline_rate else math.inf


def minimum_detectable_lift(p: float, n_treated: float, n_control: float, *, design_effect: float = 1.0,
                            alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest absolute difference of two rates a two-sided test detects (normal)."""
    if n_treated <= 0 or n_control <= 0:
        return math.inf
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * math.sqrt(p * (1 - p) * design_effect * (1 / n_treated + 1 / n_control))


def plan(design: str, *, baseline_rate: float, leads: float, clusters: int, treated_share: float,
         icc: float, alpha: float = 0.05, power: float = 0.8) -> Plan:
    if design == "staggered":
        treated_share = 0.5  # a stepped wedge treats half of the lead-periods
    per_cluster = leads / clusters if clusters else leads
    de = 1 + max(0.0, per_cluster - 1) * icc
    mde = minimum_detectable_lift(baseline_rate, leads * treated_share, leads * (1 - treated_share),
                                  design_effect=de, alpha=alpha, power=power)
    return Plan(design, baseline_rate, leads, clusters, treated_share, icc, mde)


def assign(units: list[str], design: str, *, seed: int, holdout_share: float, waves: int,
           start: dt.date, months: int) -> list[dict[str, str]]:
    """The seeded assignment: accounts to holdout/advocacy, or teams to waves with start dates."""
    rng = random.Random(seed)
    order = sorted(units)
    rng.shuffle(order)
    if design == "holdout":
        n_hold = round(len(order) * holdout_share)
        return [{"unit": u, "arm": "holdout" if i < n_hold else "advocacy"} for i, u in enumerate(order)]
    period_days = months * 30 // (waves + 1)
    return [{"unit": u, "arm": f"wave {i % waves + 1}",
             "starts_on": (start + dt.timedelta(days=period_days * (i % waves + 1))).isoformat()}
            for i, u in enumerate(order)]


def history(conn: duckdb.DuckDBPyConnection, design: str) -> tuple[float, float, list[str]]:
    """(the other leads' SQL rate, leads with a sourcing touch per month, the units)."""
    row = conn.execute("""select other_rate from marts.adjusted_funnel_comparison
                          where stage = 'sql' and row_type = 'naive'""").fetchone()
    if row is None or row[0] is None:
        raise LookupError("marts.adjusted_funnel_comparison has no SQL rate yet: run dbt build "
                          "on a warehouse with matured leads")
    (per_month,) = conn.execute("""
        select count(*) / greatest(1, count(distinct date_trunc('month', lead_date)))
        from intermediate.int_person_segments p
        where segment_basis <> 'none'
          and lead_date <= (select max(cohort_end_date) from marts.adjusted_funnel_comparison)""").fetchone()
    if design == "holdout":
        units = [r[0] for r in conn.execute(
            "select account_id from staging.stg_salesforce__accounts order by 1").fetchall()]
    else:
        units = [r[0] for r in conn.execute(
            "select distinct team from intermediate.int_advocates where team is not null order by 1").fetchall()]
    return float(row[0]), float(per_month or 0), units


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", default=".env", help="file of environment variables (default .env)")
    parser.add_argument("--warehouse", help="DuckDB file with the built marts (default DUCKDB_PATH)")
    parser.add_argument("--design", choices=("holdout", "staggered"), default="holdout",
                        help="holdout of accounts, or a staggered roll-out by advocate team (default holdout)")
    parser.add_argument("--months", type=int, default=3, help="length of the test in months (default 3)")
    parser.add_argument("--holdout-share", type=float, default=0.5,
                        help="share of accounts held out (holdout; default 0.5)")
    parser.add_argument("--waves", type=int, default=3, help="roll-out waves (staggered; default 3)")
    parser.add_argument("--icc", type=float, default=0.05,
                        help="intra-cluster correlation of the SQL outcome (default 0.05)")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided significance (default 0.05)")
    parser.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the assignment (default 1)")
    parser.add_argument("--start", default=None, help="first day of the test (default: tomorrow)")
    parser.add_argument("--out", help="CSV file for the assignment list (default: printed)")


def run(args: argparse.Namespace) -> int:
    from connectors.source import Settings
    from connectors.warehouse import warehouse_path

    if not 0 < args.holdout_share < 1 or args.months < 1 or args.waves < 1:
        print("advocacy plan-experiment: --holdout-share must be between 0 and 1, --months and "
              "--waves at least 1", file=sys.stderr)
        return 2
    settings = Settings.from_environment(args.env_file)
    warehouse = Path(args.warehouse).resolve() if args.warehouse else warehouse_path(settings.env)
    try:
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            p0, per_month, units = history(conn, args.design)
    except (duckdb.Error, LookupError) as exc:
        print(f"advocacy plan-experiment: cannot read the history from {warehouse}: {exc}. "
              "Run `advocacy sync` and `dbt build` first.", file=sys.stderr)
        return 1
    if not units:
        fix = ("sync Salesforce accounts" if args.design == "holdout" else
               "fill the team column of the advocate_roster seed (dbt_project/seeds/advocate_roster.csv) "
               "and run dbt build")
        print(f"advocacy plan-experiment: no {'accounts' if args.design == 'holdout' else 'advocate teams'} "
              f"in the warehouse to assign -> {fix}", file=sys.stderr)
        return 1
    result = plan(args.design, baseline_rate=p0, leads=per_month * args.months, clusters=len(units),
                  treated_share=1 - args.holdout_share, icc=args.icc, alpha=args.alpha, power=args.power)
    start = dt.date.fromisoformat(args.start) if args.start else dt.date.today() + dt.timedelta(days=1)
    rows = assign(units, args.design, seed=args.seed, holdout_share=args.holdout_share,
                  waves=args.waves, start=start, months=args.months)
    unit = "accounts" if args.design == "holdout" else "teams"
    print(f"design: {args.design}, {args.months} months from {start}, {len(units)} {unit}, "
          f"~{result.leads:.0f} leads with a sourcing touch expected")
    print(f"baseline SQL rate (other leads): {100 * p0:.1f} %; ICC {args.icc}, alpha {args.alpha}, power {args.power}")
    print(f"minimum detectable lift in the SQL rate: {100 * result.mde:.1f} pt "
          f"({100 * result.relative_mde:.0f} % of the baseline)")
    fields = list(rows[0])
    if args.out:
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fields)
            w.writeheader()
            w.writerows(rows)
        print(f"assignment (seed {args.seed}): {args.out}")
    else:
        print(f"assignment (seed {args.seed}):")
        w = csv.DictWriter(sys.stdout, fields)
        w.writeheader()
        w.writerows(rows)
    return 0
