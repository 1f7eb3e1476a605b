"""The reduced chaos suite of ``make test`` (the long one is ``make chaos``): nights of syncs
under random faults of every kind the fakes support, some SIGKILLed at random points and run
again, the world advancing between nights; after each night the raw layer equals a warehouse
synced cleanly from the same world, row by row."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipelines.cli.chaos import faults
from pipelines.cli.chaos.runner import Chaos

pytestmark = pytest.mark.slow


def test_every_fault_kind_is_drawn_or_excluded_with_its_reason() -> None:
    import random

    from connectors.sandbox.fakes.base import KINDS, FaultPlan

    rng = random.Random(1)
    drawn = set()
    for _ in range(2000):
        spec = faults.draw_plan(rng, ["hubspot", "salesforce", "ga4"])
        drawn |= {f.kind for f in FaultPlan.parse(spec).faults}   # parses: valid specs
    assert drawn | set(faults.EXCLUDED) == set(KINDS)


def test_nights_of_faults_and_kills_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    with Chaos(tmp_path, seed=3, scale=0.02, runs=4, kill_rate=0.5, kill_within=15,
               out=out) as chaos:
        tally = chaos.run(2)
    assert tally.ok, out.getvalue()
    assert tally.nights == 2 and tally.raw_checks == 2
    assert tally.fault_runs >= 6 and tally.kills >= 1, tally.as_dict()
    assert (tally.lost, tally.duplicated, tally.changed, tally.extra) == (0, 0, 0, 0)


def test_the_comparison_sees_a_lost_a_duplicated_and_a_changed_row(tmp_path: Path) -> None:
    """The check the chaos runs rely on can fail: rows removed or altered in a copy
    of a warehouse are counted."""
    import shutil

    import duckdb

    from pipelines.cli.chaos.compare import compare_raw

    with Chaos(tmp_path, seed=3, scale=0.02, runs=0) as chaos:
        chaos.sync_here(chaos.clean_path, ["hubspot"])
    broken = tmp_path / "broken.duckdb"
    shutil.copy(chaos.clean_path, broken)
    with duckdb.connect(str(broken)) as conn:
        ids = [i for (i,) in conn.execute("select id from hubspot.contacts order by id limit 2").fetchall()]
        conn.execute("delete from hubspot.contacts where id = ?", [ids[0]])
        conn.execute("update hubspot.contacts set email = 'x@y.z' where id = ?", [ids[1]])
    diffs = {d.table: d for d in compare_raw(broken, chaos.clean_path)}
    contacts = diffs["hubspot.contacts"]
    assert (contacts.lost, contacts.changed) == (1, 1), contacts
    assert not any(d for name, d in diffs.items() if name != "hubspot.contacts")


def test_mart_rows_match_within_float_noise_and_not_beyond() -> None:
    """Doubles summed in another order differ in the last digit (seen in a long run:
    963533.6292756253 against ...255, which fixed-decimal rounding split); a real change, or a
    row missing, still counts."""
    from pipelines.cli.chaos.compare import unmatched

    clean = [("u_shaped", 0.28970372004710376, 963533.6292756253, None),
             ("w_shaped", 0.2936302392866918, 963533.6292756255, 1.0),
             ("w_shaped", 0.5, 1.0, 2.0)]
    noisy = [("w_shaped", 0.5, 1.0, 2.0),
             ("u_shaped", 0.2897037200471037, 963533.6292756255, None),
             ("w_shaped", 0.29363023928669185, 963533.6292756253, 1.0)]
    assert unmatched(clean, noisy, [1, 2, 3]) == (0, 0)
    changed = [*noisy[:2], ("w_shaped", 0.29363023928669185, 963533.6392756253, 1.0)]   # a cent more
    assert unmatched(clean, changed, [1, 2, 3]) == (1, 1)
    assert unmatched(clean, noisy[:2], [1, 2, 3]) == (1, 0)
    assert unmatched(clean, [*noisy, noisy[0]], [1, 2, 3]) == (0, 1)
    assert unmatched([("a", None)], [("a", 0.0)], [1]) == (1, 1)
