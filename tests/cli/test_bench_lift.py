"""``make bench-lift`` (pipelines/cli/bench/lift.py) on one seed: the 50-seed run itself is a
bench, kept out of ``make test`` (docs/LIFT.md records its coverage)."""

from __future__ import annotations

from pipelines.cli.bench.lift import coverage


def test_one_seed_of_the_coverage_bench() -> None:
    s = coverage([11], 0.1, progress=False)
    assert s["seeds"] == 1 and s["adjusted_coverage"] == 1.0 and s["naive_coverage"] == 0.0
    assert s["mean_naive_bias"] > 0.05 > abs(s["mean_adjusted_bias"])
