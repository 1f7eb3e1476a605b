"""``advocacy plan-experiment`` (docs/LIFT.md): the minimum detectable lift against a hand
computation, the seeded assignment, and the command on a small warehouse."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb

from pipelines.cli.main import main
from pipelines.cli.plan_experiment import assign, minimum_detectable_lift, plan


def test_minimum_detectable_lift_equals_the_hand_computation() -> None:
    # p = 0.25, 400 a side: (1.959964 + 0.841621) x sqrt(0.1875 x (1/400 + 1/400)) = 0.085780
    assert math.isclose(minimum_detectable_lift(0.25, 400, 400), 0.085780, abs_tol=1e-6)
    # clustering: 40 leads per account at ICC 0.05 -> design effect 2.95, MDE x sqrt(2.95)
    p = plan("holdout", baseline_rate=0.25, leads=800, clusters=20, treated_share=0.5, icc=0.05)
    assert math.isclose(p.mde, minimum_detectable_lift(0.25, 400, 400) * math.sqrt(2.95), rel_tol=1e-12)
    assert plan("staggered", baseline_rate=0.25, leads=800, clusters=4, treated_share=0.9,
                icc=0.05).treated_share == 0.5


def test_the_assignment_is_reproducible_by_seed() -> None:
    units = [f"acc{i:02d}" for i in range(20)]
    kw = {"holdout_share": 0.3, "waves": 3, "start": dt.date(2026, 7, 1), "months": 3}
    a = assign(units, "holdout", seed=5, **kw)
    assert a == assign(list(reversed(units)), "holdout", seed=5, **kw)
    assert a != assign(units, "holdout", seed=6, **kw)
    assert sum(r["arm"] == "holdout" for r in a) == 6 and {r["unit"] for r in a} == set(units)
    waves = assign(["a", "b", "c", "d"], "staggered", seed=1, **kw)
    assert {r["arm"] for r in waves} == {"wave 1", "wave 2", "wave 3"}
    assert min(r["starts_on"] for r in waves) == "2026-07-23"  # 90 days / 4 periods = 22 days in


def test_the_command_reads_the_history_and_writes_the_list(tmp_path: Path, capsys) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as c:
        for s in ("marts", "intermediate", "staging"):
            c.execute(f"create schema {s}")
        c.execute("create table marts.adjusted_funnel_comparison as select 'sql' as stage, "
                  "'naive' as row_type, 0.25 as other_rate, date '2026-04-30' as cohort_end_date")
        c.execute("create table intermediate.int_person_segments as select 'ga4' as segment_basis, "
                  "date '2026-01-01' + (i % 90)::int as lead_date from range(900) t(i)")
        c.execute("create table staging.stg_salesforce__accounts as select 'acc' || i as account_id "
                  "from range(10) t(i)")
        c.execute("create table intermediate.int_advocates as select 'Sales' as team")
    out = tmp_path / "assignment.csv"
    rc = main(["plan-experiment", "--env-file", str(tmp_path / "none.env"), "--warehouse", str(db),
               "--seed", "3", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    # 300 leads a month x 3 months, 10 accounts (90 leads each: DE 5.45), half held out
    expected = minimum_detectable_lift(0.25, 450, 450, design_effect=1 + 89 * 0.05)
    assert f"{100 * expected:.1f} pt" in text
    lines = out.read_text().splitlines()
    assert lines[0] == "unit,arm" and len(lines) == 11
    rc = main(["plan-experiment", "--env-file", str(tmp_path / "none.env"), "--warehouse", str(db),
               "--design", "staggered", "--waves", "1", "--start", "2026-07-01"])
    text = capsys.readouterr().out
    # one team: every lead in one cluster (DE 1 + 899 x 0.05), half of the lead-periods treated
    assert rc == 0 and "Sales,wave 1,2026-08-15" in text
    assert f"{100 * minimum_detectable_lift(0.25, 450, 450, design_effect=1 + 899 * 0.05):.1f} pt" in text
