"""``advocacy demo``: the whole product on a simulated company, in one command.

Generates a sandbox world, serves it through the local fakes of HubSpot, Salesforce and GA4,
syncs it into ``data/warehouse.duckdb`` with the real connectors, builds the dbt project,
and prints the headline tables beside the sandbox's own truth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--data-dir", default="data", help="where the world, warehouse and report go")
    parser.add_argument("--fresh", action="store_true", help="regenerate the world and warehouse")


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def _done(started: float, what: str = "done") -> None:
    print(f"   {what} in {time.monotonic() - started:.1f}s", flush=True)


def run(args: argparse.Namespace) -> int:
    from connectors.sandbox import store as world_store
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.truth import compute_truth, headline
    from connectors.sandbox.world import generate

    data = Path(args.data_dir).resolve()
    sandbox_dir = data / "sandbox"
    sandbox_dir.mkdir(parents=True, exist_ok=True)
    store_path = sandbox_dir / f"world-seed{args.seed}-scale{args.scale:g}.sqlite"
    warehouse = data / "warehouse.duckdb"

    started = _step(f"1. Sandbox world (seed {args.seed}, scale {args.scale:g})")
    if args.fresh or not store_path.exists() or not _store_complete(store_path):
        store_path.unlink(missing_ok=True)
        generate(store_path, WorldConfig(seed=args.seed, scale=args.scale),
                 progress=lambda line: print(f"   {line}", flush=True))
        if warehouse.exists():
            warehouse.unlink()  # a new world needs a new warehouse
        _done(started, f"generated {store_path.relative_to(ROOT) if store_path.is_relative_to(ROOT) else store_path}")
    else:
        _done(started, f"reusing {store_path.name}")
    conn = world_store.connect(store_path, readonly=True)
    clock = dt.date.fromisoformat(world_store.get_meta(conn, "clock"))
    conn.close()
    as_of = clock - dt.timedelta(days=1)

    started = _step("2. Truth of the simulated company (what the marts must show)")
    truth = compute_truth(store_path)
    (data / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True, default=str))
    print(headline(truth))
    _done(started, f"truth written to {data / 'truth.json'}")

    from connectors.sandbox.server import Sandbox

    started = _step("3. Local fakes of HubSpot, Salesforce and GA4")
    with Sandbox(store_path, sandbox_dir / "serve") as sandbox:
        env_file = sandbox_dir / ".env.sandbox"
        sandbox.write_env_file(env_file)
        print(f"   HubSpot    {sandbox.hubspot.url}")
        if sandbox.salesforce is not None:
            print(f"   Salesforce {sandbox.salesforce.url}")
        print(f"   GA4        {sandbox.ga4.url}")
        print(f"   environment written to {env_file} (secrets stay in that file, mode 0600)")
        _done(started, "serving")

        # The connectors and dbt read their settings from the environment, as in production.
        os.environ.update({**sandbox.env(), "DUCKDB_PATH": str(warehouse)})
        started = _step(f"4. The nightly job through Dagster: sync every source, dbt build (as_of {as_of})")
        ok = run_nightly_job(as_of)
        counts = sandbox.request_counts()
        print("   API requests served: "
              + ", ".join(f"{svc} {sum(c.values()) if isinstance(c, dict) else c}"
                          for svc, c in counts.items()))
        if not ok:
            print("   the nightly job failed (see the log above)", file=sys.stderr)
            return 1
        _done(started)

    _step("5. Headline tables from the marts")
    from pipelines.cli.demo_tables import print_headline

    print_headline(warehouse, truth)

    print(
        "\nNext:\n"
        f"  warehouse:   {warehouse}\n"
        "  Dagster UI:  make dagster   (then open http://127.0.0.1:3000)\n"
        "  dbt alone:   .venv/bin/dbt build --project-dir dbt_project --profiles-dir dbt_project\n"
        "  your data:   cp .env.example .env, fill it in, `advocacy check`, then `advocacy sync`"
    )
    from pipelines.publish import publish_dir
    from pipelines.report import REPORT_NAME
    from pipelines.report_assets import report_dir

    # the nightly job wrote both; the report's path is the demo's last line
    print(f"  BI files:    {publish_dir()} (Parquet + read-only DuckDB)")
    print(f"\nReport: {report_dir() / REPORT_NAME}")
    return 0


def _store_complete(path: Path) -> bool:
    from connectors.sandbox import store as world_store

    try:
        conn = world_store.connect(path, readonly=True)
        try:
            return world_store.get_meta(conn, "clock") is not None
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - a half-written store is simply regenerated
        return False


def run_nightly_job(as_of: dt.date) -> bool:
    """Run the ``nightly`` job of the Dagster definitions in this process: the same assets,
    job and dbt invocation the schedule runs, on an ephemeral Dagster instance."""
    import dagster as dg

    from pipelines.definitions import defs  # reads DUCKDB_PATH at import: set it first

    for noisy in ("alembic", "dagster"):  # instance set-up chatter; failures still print
        logging.getLogger(noisy).setLevel(logging.WARNING)
    job = defs.resolve_job_def("nightly")
    result = job.execute_in_process(
        run_config={
            "ops": {"dbt_models": {"config": {"as_of": as_of.isoformat()}}},
            # step failures still print; the per-event chatter stays in the Dagster UI's logs
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    for step in failed:
        print(f"   step failed: {step}", file=sys.stderr)
    materialized = sum(1 for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION")
    print(f"   {materialized} assets materialized")
    return result.success

