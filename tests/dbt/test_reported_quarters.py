"""Reported quarters and restatements (docs/DEFINITIONS.md "Reported quarters and
restatements"): a quarter's numbers are frozen as of its reporting date (its last day +
maturity_days); nightly runs of a world that keeps growing after that date open no new
snapshot version, a corrected closed deal does, and marts.restatements lists exactly what
changed. Only a reporting run (as_of = the last complete day) writes the snapshots.

One world, one warehouse, built three times in sequence (module fixture): at a past as_of,
at today's, and at today's again after a closed deal was corrected at the source and synced.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_dbt_project import _env, query, run_dbt

# What a reporting run builds, as far as these tests read it: the snapshots, restatements and
# the two marts they freeze, with everything upstream (the data and unit tests, and the other
# marts, are exercised by test_dbt_project; leaving them out keeps these three builds quick).
BUILD = ["build", "--select", "+restatements", "+funnel_by_segment", "+pipeline_by_segment",
         "--resource-type", "model", "--resource-type", "seed", "--resource-type", "snapshot"]
# Quarters are reported at their close here (maturity_days 0), so that the sandbox's cohorts,
# which convert within weeks, visibly grow after their reporting date.
VARS = {"maturity_days": 0}
PAST_AS_OF = "2026-03-31"       # Q3 2025 .. Q1 2026 reported (on each quarter's last day)
GROWING_QUARTER = "2026-01-01"  # Q1 2026: reported 2026-03-31, keeps converting afterwards
SNAPSHOTS = ("funnel_by_segment_reported", "pipeline_by_segment_reported")


def _versions(db: Path) -> dict[str, list[tuple]]:
    return {s: query(db, f"select snapshot_key, dbt_valid_to is null from snapshots.{s} order by 1, 2")
            for s in SNAPSHOTS}


def _funnel(db: Path, quarter: str) -> dict[str, tuple]:
    return {seg: tuple(rest) for seg, *rest in query(db, """
        select segment, leads, mqls, sqls, opportunities, won, round(won_amount, 2)
        from marts.funnel_by_segment where period_grain = 'quarter' and period_start = ?""", [quarter])}


def _a_reported_won_deal(db: Path) -> tuple[str, str, str, str, str]:
    """A USD Salesforce opportunity won by the reporting date (the last day, maturity 0) of
    both its creation quarter and its earliest lead's cohort quarter: (id, creation quarter,
    lead quarter, lead segment, sourced segment)."""
    rows = query(db, """
        select o.opportunity_id, cast(cast(date_trunc('quarter', o.created_date) as date) as varchar),
               cast(cast(date_trunc('quarter', s.lead_date) as date) as varchar), s.segment,
               o.sourced_segment
        from intermediate.int_opportunity_summary as o
        inner join intermediate.int_opportunities as x on x.opportunity_id = o.opportunity_id
        inner join intermediate.int_person_segments as s on s.person_key = o.lead_person_key
        where o.is_won and o.source_system = 'salesforce' and x.currency_code = 'USD'
          and o.amount > 0
          and o.close_date < date_trunc('quarter', o.created_date) + interval 3 month
          and o.close_date < date_trunc('quarter', s.lead_date) + interval 3 month
          and o.created_date < date '2026-04-01'
        order by o.opportunity_id limit 1""")
    assert rows, "the world has no USD deal won in a reported quarter"
    return rows[0]


def _correct_a_closed_deal(store: Path, opp_id: str) -> float:
    """In the world store, double the amount of the opportunity (a correction typed into
    Salesforce after its quarter was reported), stamped modified at the world's clock.
    Returns the old amount."""
    conn = sqlite3.connect(store)
    try:
        row = conn.execute("select fields from sf_record where sobject = 'Opportunity' and id = ?",
                           (opp_id,)).fetchone()
        assert row, f"{opp_id} is not in the world store"
        fields = json.loads(row[0])
        old = float(fields["Amount"])
        fields["Amount"] = old * 2
        fields["LastModifiedDate"] = fields["SystemModstamp"] = "2026-06-30T12:00:00.000+0000"
        conn.execute("update sf_record set fields = ?, system_modstamp = ? "
                     "where sobject = 'Opportunity' and id = ?",
                     (json.dumps(fields), "2026-06-30T12:00:00.000Z", opp_id))
        conn.commit()
        return old
    finally:
        conn.close()


def _sync(store: Path, db: Path, work: Path, *args: str) -> None:
    from connectors.sandbox.server import Sandbox

    with Sandbox(store, work / "sandbox") as sandbox:
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync", "--quiet", *args],
                              cwd=work, env=_env({**sandbox.env(), "DUCKDB_PATH": str(db)}),
                              capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def runs(world_store: Path, raw_warehouse: Path, world_config,
         tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("reported_quarters")
    store = work / "world.sqlite"
    shutil.copy2(world_store, store)
    db = work / "warehouse.duckdb"
    shutil.copy2(raw_warehouse, db)      # the session's sync of the same world (tests/dbt/conftest.py)
    as_of = (world_config.clock - dt.timedelta(days=1)).isoformat()  # the world's last full day
    out: dict = {"db": db, "work": work, "as_of": as_of}

    def build(day: str, label: str) -> None:
        proc = run_dbt(BUILD, db, work, as_of=day, nightly=True, dbt_vars=VARS)
        assert proc.returncode == 0, proc.stdout[-4000:]
        out[label] = {"versions": _versions(db), "funnel": _funnel(db, GROWING_QUARTER),
                      "restatements": query(db, "select * from marts.restatements"),
                      "reported": {seg: tuple(rest) for seg, *rest in query(db, """
                          select segment, leads, mqls, sqls, opportunities, won, won_amount
                          from snapshots.funnel_by_segment_reported
                          where period_start = ? and dbt_valid_to is null""", [GROWING_QUARTER])},
                      "reported_credit": query(db, """
                          select s.segment, s.model, s.opportunities, round(p.opportunities, 6)
                          from snapshots.pipeline_by_segment_reported as s
                          left join marts.pipeline_by_segment as p
                            on p.period_grain = 'quarter' and p.period_start = s.period_start
                           and p.segment = s.segment and p.model = s.model
                          where s.period_start = ? and s.dbt_valid_to is null""", [GROWING_QUARTER])}

    build(PAST_AS_OF, "past")            # the nightly run of 2026-04-01
    # a backfill of that day run later (today's date): not a reporting run, the snapshots'
    # inputs are empty (only they are rebuilt: they decide)
    proc = run_dbt(["run", "--select", "funnel_by_segment_reported_quarters",
                    "pipeline_by_segment_reported_quarters"], db, work, as_of=PAST_AS_OF, dbt_vars=VARS)
    assert proc.returncode == 0, proc.stdout[-4000:]
    out["backfill_inputs"] = query(db, """
        select (select count(*) from intermediate.funnel_by_segment_reported_quarters),
               (select count(*) from intermediate.pipeline_by_segment_reported_quarters)""")[0]
    build(as_of, "today")                # ... and of the world's today, two months later
    deal = _a_reported_won_deal(db)
    out["corrected"] = (*deal, _correct_a_closed_deal(store, deal[0]))
    _sync(store, db, work, "--source", "salesforce", "--full-refresh")
    build(as_of, "after_correction")
    return out


@pytest.mark.slow
def test_only_a_reporting_run_writes_the_snapshots(runs: dict) -> None:
    assert runs["backfill_inputs"] == (0, 0)
    funnel_keys = {k for k, _ in runs["past"]["versions"]["funnel_by_segment_reported"]}
    # as of 2026-04-30 three quarters are reported; Q2 2026 (reported 2026-06-30) is not yet
    assert {k.split("|")[0] for k in funnel_keys} == {"2025-07-01", "2025-10-01", "2026-01-01"}


@pytest.mark.slow
def test_a_quarter_is_reported_as_the_marts_showed_it_on_its_reporting_date(runs: dict) -> None:
    """Q1 2026 is reported on 2026-03-31: the snapshot holds the funnel (and credited counts)
    the marts showed in the run of that as_of, and still does two months later."""
    past, today = runs["past"], runs["today"]
    assert past["reported"] and past["reported"] == past["funnel"]
    assert today["reported"] == past["funnel"]
    assert past["reported_credit"] and all(
        abs(got - want) <= 1e-6 for _, _, got, want in past["reported_credit"])


@pytest.mark.slow
def test_growth_after_the_reporting_date_is_no_restatement(runs: dict) -> None:
    past, today = runs["past"], runs["today"]
    # the world grew: the reported quarter's cohort gained stages and wins after 2026-03-31
    assert past["funnel"] != today["funnel"], "the test world must grow after the reporting date"
    for s in SNAPSHOTS:
        keys = [k for k, _ in today["versions"][s]]
        assert len(keys) == len(set(keys)), f"{s}: growth opened a new version"
        assert all(current for _, current in today["versions"][s]), s
        # the next quarter (reported 2026-06-30) joined as new keys
        assert set(past["versions"][s]) < set(today["versions"][s]), s
    assert today["restatements"] == []


@pytest.mark.slow
def test_a_corrected_closed_deal_is_a_restatement(runs: dict) -> None:
    _, created_q, lead_q, lead_segment, sourced, old_amount = runs["corrected"]
    restated = {(r[0], r[1], r[6]): (r[7], r[8]) for r in runs["after_correction"]["restatements"]}
    assert restated, "the correction was not seen"
    # the funnel of the deal's lead cohort: won_amount, by the added amount, and nothing else
    funnel = {k: v for k, v in restated.items() if k[0] == "funnel_by_segment_reported"}
    assert set(funnel) == {("funnel_by_segment_reported", f"{lead_q}|{lead_segment}", "won_amount")}
    (before, after), = funnel.values()
    assert after - before == pytest.approx(old_amount, abs=0.01)
    # the pipeline of its creation quarter: the sourced amounts of its sourcing segment ...
    pipeline = {k: v for k, v in restated.items() if k[0] == "pipeline_by_segment_reported"}
    for figure in ("sourced_pipeline", "sourced_won"):
        for model in ("first_touch", "linear"):
            before, after = pipeline[("pipeline_by_segment_reported", f"{created_q}|{sourced}|{model}", figure)]
            assert after - before == pytest.approx(old_amount, abs=0.01), (figure, model)
    # ... and only amounts: no count, no other quarter
    assert {k[2] for k in pipeline} <= {"pipeline_amount", "won_amount", "influenced_pipeline",
                                        "influenced_won", "sourced_pipeline", "sourced_won"}
    assert {k[1].split("|")[0] for k in pipeline} == {created_q}
    # the snapshot kept the first report: two versions of the restated keys, one current
    versions = runs["after_correction"]["versions"]["funnel_by_segment_reported"]
    assert sorted(c for k, c in versions if k == f"{lead_q}|{lead_segment}") == [False, True]

