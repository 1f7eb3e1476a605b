"""``advocacy sandbox truth``: compute the truth file of a sandbox world (JSON) and print its
headline. Uses ``--store`` when given, else generates the world of ``--seed``/``--scale`` into a
temporary file first."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    parser.add_argument("--scale", type=float, default=1.0, help="world scale (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the truth JSON")
    parser.add_argument("--store", type=Path, default=None,
                        help="an existing world store (default: generate one into a temp file)")
    parser.add_argument("--sample-size", type=int, default=25,
                        help="opportunities whose attribution credits are listed (default 25)")


def run(args: argparse.Namespace) -> int:
    from connectors.sandbox.truth import compute_truth, dumps, headline

    started = time.monotonic()
    if args.store is not None:
        if not Path(args.store).exists():
            print(f"advocacy sandbox truth: no store at {args.store}", file=sys.stderr)
            return 2
        truth = compute_truth(args.store, sample_size=args.sample_size)
    else:
        from connectors.sandbox.config import WorldConfig
        from connectors.sandbox.world import generate

        with tempfile.TemporaryDirectory(prefix="advocacy-truth-") as tmp:
            path = Path(tmp) / "world.sqlite"
            generate(path, WorldConfig(seed=args.seed, scale=args.scale))
            truth = compute_truth(path, sample_size=args.sample_size)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(truth) + "\n", encoding="utf-8")
    print(headline(truth))
    print(f"\ntruth written to {out} ({time.monotonic() - started:.1f} s)")
    return 0
