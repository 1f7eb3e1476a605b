"""``advocacy sandbox generate``: build a sandbox world store (and optionally the post exports)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    parser.add_argument("--scale", type=float, default=1.0, help="volume scale (default 1)")
    parser.add_argument("--out", type=Path, default=Path("data/sandbox/world.sqlite"),
                        help="store file to write (default data/sandbox/world.sqlite)")
    parser.add_argument("--exports-dir", type=Path, default=None,
                        help="also write the advocacy platform exports (CSV) here")


def run(args: argparse.Namespace) -> int:
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.exports import write_exports
    from connectors.sandbox.world import generate, summary

    config = WorldConfig(seed=args.seed, scale=args.scale)
    started = time.monotonic()
    print(f"generating world seed={args.seed} scale={args.scale} -> {args.out}", flush=True)
    generate(args.out, config, progress=lambda msg: print(f"  {msg}", flush=True))
    if args.exports_dir is not None:
        for path in write_exports(args.out, args.exports_dir):
            print(f"  export: {path}")
    counts = summary(args.out)
    width = max(len(k) for k in counts)
    for key, n in counts.items():
        print(f"  {key:<{width}}  {n:>10,}")
    print(f"done in {time.monotonic() - started:.1f}s: {args.out}")
    return 0
