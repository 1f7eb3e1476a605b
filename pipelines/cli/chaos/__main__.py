"""``python -m pipelines.cli.chaos [--nights N] [--minutes M] ...``: the long chaos run of
``make chaos``; prints a line per night and, at the end, the figures docs/RELIABILITY.md
records (also written as JSON with ``--json``). Exit code 1 when anything differed."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from pipelines.cli.chaos.runner import Chaos, markdown, quiet_logs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.cli.chaos", description=__doc__)
    p.add_argument("--nights", type=int, default=120, help="nights to run (default 120)")
    p.add_argument("--minutes", type=float, help="stop starting nights after this long")
    p.add_argument("--runs", type=int, default=10, help="faulted syncs per night (default 10)")
    p.add_argument("--kill-rate", type=float, default=0.3,
                   help="share of the runs SIGKILLed at a random point (default 0.3)")
    p.add_argument("--marts-every", type=int, default=10,
                   help="build and compare the marts every N nights and after the last (0: never)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--scale", type=float, default=0.02, help="world scale (default 0.02: small)")
    p.add_argument("--workdir", type=Path, help="where the world and warehouses go (default: a temp dir)")
    p.add_argument("--json", type=Path, help="write the figures here as JSON")
    p.add_argument("--table", type=Path, metavar="JSON",
                   help="print the docs/RELIABILITY.md table of a run's JSON figures and exit")
    args = p.parse_args(argv)
    if args.table:
        print(markdown(json.loads(args.table.read_text())))
        return 0
    quiet_logs()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="advocacy-chaos-"))
    with Chaos(workdir, seed=args.seed, scale=args.scale, runs=args.runs,
               kill_rate=args.kill_rate, marts_every=args.marts_every) as chaos:
        tally = chaos.run(args.nights, minutes=args.minutes)
    figures = tally.as_dict()
    print(json.dumps(figures, indent=2))
    print(markdown(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(main())
