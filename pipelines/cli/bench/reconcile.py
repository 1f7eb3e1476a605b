"""The Salesforce reconciliation's cost at a scale (docs/PERFORMANCE.md, "Salesforce
reconciliation"): a world is generated and served by the sandbox, a clean full sync runs, then
the id-only reconciliation; the requests the fake answered are counted by kind.

    .venv/bin/python -m pipelines.cli.bench.reconcile --scale 10 [--seed 7] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from connectors.salesforce import SalesforceSource
from connectors.sandbox.config import WorldConfig
from connectors.sandbox.server import Sandbox
from connectors.sandbox.world import generate
from connectors.source import Settings
from connectors.warehouse import Warehouse


def request_kind(method: str, path: str) -> str:
    if "/jobs/query" in path:
        if method == "POST":
            return "bulk create"
        return "bulk results" if path.endswith("/results") else "bulk poll"
    if "composite/batch" in path:
        return "describe batch"
    if "oauth2" in path:
        return "token"
    return "query page" if "/query" in path else path.rstrip("/").rsplit("/", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="keep the world and warehouse here (default: removed)")
    args = parser.parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_reconcile_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        generate(work / "world.sqlite", WorldConfig(seed=args.seed, scale=args.scale))
        with Sandbox(work / "world.sqlite", work / "sandbox") as sb:
            env = sb.env()
            with Warehouse(work / "warehouse.duckdb") as wh:
                start = len(sb.salesforce.requests())
                t0 = time.monotonic()
                full = SalesforceSource(Settings(env), wh).sync()
                print(f"full sync: {len(sb.salesforce.requests()) - start} requests, "
                      f"{sum(o.records for o in full.objects):,} records, {time.monotonic() - t0:.1f}s")
                start = len(sb.salesforce.requests())
                t0 = time.monotonic()
                rec = SalesforceSource(Settings(env), wh).reconcile()
                entries = sb.salesforce.requests()[start:]
                print(f"reconciliation: {len(entries)} requests, "
                      f"{sum(o.records for o in rec.objects):,} ids listed, {time.monotonic() - t0:.1f}s")
                print("  by kind: " + ", ".join(
                    f"{k} {n}" for k, n in sorted(Counter(request_kind(e.method, e.path)
                                                          for e in entries).items())))
                for o in rec.objects:
                    print(f"  {o.object}: {o.requests} requests, {o.seconds:.1f}s; {o.note}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
