"""The coverage of the selection-adjusted lift across sandbox seeds (docs/LIFT.md).

For each seed: generate a world (default scale 0.1), compute its truth, and check whether the
95 % interval of the adjusted SQL-rate difference covers the true causal lift (the world's
ATT), and whether the naive one does. The adjusted estimate is the truth's observable
``adjusted_funnel_comparison``, which the end-to-end test (tests/dbt/test_dbt_project.py)
demands the mart equal exactly; the whole pipeline per seed would take minutes, the truth
takes a second or two.

    .venv/bin/python -m pipelines.cli.bench.lift --seeds 50      (make bench-lift)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


def one_seed(seed: int, scale: float, work: Path) -> dict[str, Any]:
    from connectors.sandbox import world
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.truth import compute_truth

    store = work / f"world-{seed}.sqlite"
    world.generate(store, WorldConfig(seed=seed, scale=scale))
    truth = compute_truth(store)
    store.unlink()
    true = truth["lift"]["causal"]["true_lift"]
    rows = {r["row_type"]: r for r in truth["lift"]["adjusted_funnel_comparison"]
            if r["stage"] == "sql" and r["row_type"] in ("naive", "adjusted")}
    out: dict[str, Any] = {"seed": seed, "true_lift": true}
    for kind, r in rows.items():
        out[kind] = r["difference"]
        out[f"{kind}_covers"] = r["ci_low"] is not None and r["ci_low"] <= true <= r["ci_high"]
    return out


def coverage(seeds: list[int], scale: float, progress: bool = True) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="lift-bench-") as tmp:
        for seed in seeds:
            r = one_seed(seed, scale, Path(tmp))
            results.append(r)
            if progress:
                print(f"seed {seed}: true {r['true_lift']:.3f}  adjusted {r['adjusted']:.3f} "
                      f"({'covers' if r['adjusted_covers'] else 'misses'})  naive {r['naive']:.3f} "
                      f"({'covers' if r['naive_covers'] else 'misses'})", flush=True)
    n = len(results)

    def mean(key: str) -> float:
        return sum(r[key] for r in results) / n

    return {
        "seeds": n, "scale": scale,
        "adjusted_coverage": sum(r["adjusted_covers"] for r in results) / n,
        "naive_coverage": sum(r["naive_covers"] for r in results) / n,
        "mean_true_lift": mean("true_lift"),
        "mean_adjusted_bias": mean("adjusted") - mean("true_lift"),
        "mean_naive_bias": mean("naive") - mean("true_lift"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="number of seeds (default 50)")
    parser.add_argument("--first-seed", type=int, default=100, help="first seed (default 100)")
    parser.add_argument("--scale", type=float, default=0.1, help="world scale (default 0.1)")
    args = parser.parse_args(argv)
    s = coverage(list(range(args.first_seed, args.first_seed + args.seeds)), args.scale)
    print(f"\n{s['seeds']} seeds at scale {s['scale']}: the adjusted 95 % interval covers the true "
          f"lift in {100 * s['adjusted_coverage']:.0f} %, the naive one in "
          f"{100 * s['naive_coverage']:.0f} %; mean true lift {s['mean_true_lift']:.3f}, mean bias "
          f"adjusted {s['mean_adjusted_bias']:+.3f}, naive {s['mean_naive_bias']:+.3f}")
    return 0 if s["adjusted_coverage"] >= 0.85 else 1


if __name__ == "__main__":
    sys.exit(main())
