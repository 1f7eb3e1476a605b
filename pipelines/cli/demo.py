"""``advocacy demo``: the whole product on a simulated company, in one command.

Generates a sandbox world and its truth, serves the world through the local fakes of HubSpot,
Salesforce and GA4, runs the Dagster ``nightly`` job (the real connectors sync every source
into ``<data-dir>/warehouse.duckdb``, then dbt builds the marts), and prints the headline
tables beside a check against the sandbox's own truth.

The terminal gets one line per stage with counts and times (a live bar per source on a
terminal), the tables and the next steps: two screens. Everything else goes to
``<data-dir>/demo.log``; ``-v`` prints it too. The run is recorded in the Dagster instance
under ``<data-dir>/dagster`` (``DAGSTER_HOME``, unless set), the one ``make dagster`` opens, so
the UI shows the demo's run and materializations.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

from pipelines.cli.demo_console import DemoConsole, StdoutSink, attach, detach

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7,
                        help="seed of the simulated company: the same seed, the same company "
                             "(default 7)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="size of the company: 1 = about 50k GA sessions, 5k contacts, 1k "
                             "opportunities; 10 is ten times that (default 1)")
    parser.add_argument("--data-dir", default="data", metavar="DIR",
                        help="folder for the sandbox world, its truth (truth.json), the warehouse "
                             "(warehouse.duckdb), the Dagster instance (dagster/, unless "
                             "DAGSTER_HOME is set) and the log (demo.log); default data")
    parser.add_argument("--fresh", action="store_true",
                        help="generate the world again and start from an empty warehouse (by "
                             "default a world already generated with this seed and scale is reused)")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="print every detail (world generation, log records, dbt's per-node "
                             "lines) on the terminal too, not only in the log")


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def run(args: argparse.Namespace) -> int:
    data = Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    console = DemoConsole(data / "demo.log", verbose=getattr(args, "verbose", False))
    saved = attach(console)
    try:
        return _run(args, data, console)
    finally:
        detach(saved)
        console.close()


def _run(args: argparse.Namespace, data: Path, console: DemoConsole) -> int:
    from connectors.sandbox import store as world_store
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.truth import compute_truth, headline
    from connectors.sandbox.world import generate
    from pipelines.cli.demo_tables import truth_part

    sandbox_dir = data / "sandbox"
    sandbox_dir.mkdir(parents=True, exist_ok=True)
    store_path = sandbox_dir / f"world-seed{args.seed}-scale{args.scale:g}.sqlite"
    warehouse = data / "warehouse.duckdb"
    console.line(f"advocacy demo: a simulated company (seed {args.seed}, scale {args.scale:g}) "
                 "through the real connectors, Dagster and dbt")
    console.line(f"details: {_shown(console.log_path)} (-v prints them here)")

    console.stage(1, "world")
    if args.fresh or not store_path.exists() or not _store_complete(store_path):
        store_path.unlink(missing_ok=True)
        notes: list[str] = []

        def note(text: str) -> None:
            notes.append(text)
            console.detail(f"      {text}")
            console.live(f"      {text}")

        generate(store_path, WorldConfig(seed=args.seed, scale=args.scale), progress=note)
        warehouse.unlink(missing_ok=True)   # a new world needs a new warehouse
        static = next((n.removeprefix("static: ") for n in notes if n.startswith("static:")), "")
        what = f"generated {_shown(store_path)}" + (f": {static}" if static else "")
    else:
        what = f"reusing {_shown(store_path)} (--fresh generates it again)"
    conn = world_store.connect(store_path, readonly=True)
    clock = dt.date.fromisoformat(world_store.get_meta(conn, "clock"))
    conn.close()
    as_of = clock - dt.timedelta(days=1)
    console.stage_done(1, "world", what)

    console.stage(2, "truth")
    truth = compute_truth(store_path)
    (data / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True, default=str))
    console.detail(headline(truth, truth_part()))
    console.stage_done(2, "truth", f"what the marts must show, computed apart from the product "
                                   f"-> {_shown(data / 'truth.json')}")

    from connectors.sandbox.server import Sandbox

    console.stage(3, "fakes")
    with Sandbox(store_path, sandbox_dir / "serve") as sandbox:
        env_file = sandbox_dir / ".env.sandbox"
        sandbox.write_env_file(env_file)
        urls = [f"HubSpot {sandbox.hubspot.url}", f"GA4 {sandbox.ga4.url}"]
        if sandbox.salesforce is not None:
            urls.insert(1, f"Salesforce {sandbox.salesforce.url}")
        if sandbox.bigquery is not None:
            urls.append(f"GA4 BigQuery export {sandbox.bigquery.url}")
        console.detail("      " + ", ".join(urls))
        # GA4_SOURCE=bigquery_export (make demo GA4_SOURCE=...) reads the per-visitor sessions
        # from the export; the truth part the marts must equal follows (demo_tables.truth_part)
        ga4 = ("GA4 (per-visitor sessions from its BigQuery export)"
               if truth_part() == "world" else "GA4")
        console.stage_done(3, "fakes", f"HubSpot, Salesforce and {ga4} serving on 127.0.0.1 "
                                       f"(settings in {_shown(env_file)}, mode 0600)")

        # The connectors and dbt read their settings from the environment, as in production.
        os.environ.update({**sandbox.env(), "DUCKDB_PATH": str(warehouse)})
        os.environ.setdefault("DAGSTER_HOME", str(data / "dagster"))
        console.stage(4, "sync", f"the Dagster nightly job: every source into "
                                 f"{_shown(warehouse)}")
        started = time.monotonic()
        ok, failures = run_nightly_job(as_of, console)
        console.finish_sources()
        dbt = console.dbt
        sync_end = dbt["started"] or time.monotonic()
        first = min((sp.started for sp in console.sources.values()), default=sync_end)
        records = sum(sp.records for sp in console.sources.values())
        console.line(f"      {'all sources':<18} {len(console.sources):>3} sources {records:>10,} "
                     f"records  ({sync_end - first:.1f}s, after {first - started:.1f}s of Dagster "
                     "start-up: definitions, dbt parse, instance)")
        result = dbt["result"] or "did not finish"
        dbt_seconds = time.monotonic() - (dbt["started"] or time.monotonic())
        console.line(f"[5/{console.stages}] dbt    built the marts as of {as_of}: {result}  "
                     f"({dbt_seconds:.1f}s)")
        counts = sandbox.request_counts()
        console.line("      API requests served: "
                     + ", ".join(f"{svc} {c['requests']:,}" for svc, c in counts.items()))
        if not ok:
            for failure in failures:
                console.line(f"      FAILED {failure}")
            console.line(f"the nightly job failed: the details are in {_shown(console.log_path)}")
            return 1

    from pipelines.cli.demo_tables import headline_tables, truth_verdict

    for table in headline_tables(warehouse):
        console.line()
        console.line(table)
    console.line()
    console.line(truth_verdict(warehouse, truth))
    if console.warnings:
        console.line(f"{console.warnings} warning(s) logged: see {_shown(console.log_path)}")
    dagster_home = os.environ["DAGSTER_HOME"]
    home = "" if Path(dagster_home) == ROOT / "data" / "dagster" else f"DAGSTER_HOME={dagster_home} "
    console.line(
        "\nNext steps\n"
        f"  see this run in Dagster:  {home}make dagster   then open http://127.0.0.1:3000 "
        "(Runs; PORT=3001 for another port)\n"
        f"  query the marts:          schema marts in {_shown(warehouse)}, any DuckDB client\n"
        "  what each number means:   docs/DEFINITIONS.md\n"
        "  your own accounts:        cp .env.example .env, fill it in, then "
        ".venv/bin/advocacy check and .venv/bin/advocacy sync"
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


def run_nightly_job(as_of: dt.date, console: DemoConsole) -> tuple[bool, list[str]]:
    """Run the ``nightly`` job of the Dagster definitions in this process, recorded in the
    instance at ``DAGSTER_HOME``: the same assets, job and dbt invocation the schedule runs.
    Returns (success, one line per failed step)."""
    import dagster as dg

    from connectors import schema as raw
    from pipelines.definitions import build_definitions
    from pipelines.ingestion import SOURCE_SCHEMAS
    from pipelines.jobs import run_nightly_in_process

    console.expected_objects = {source: len(raw.tables_of(schema))
                                for source, schema in SOURCE_SCHEMAS.items()}
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        # the repository's instance settings (one writer at a time; no usage statistics: the
        # sandbox demo runs offline), as `make dagster` uses them
        shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    # dagster-dbt writes dbt's lines to sys.stdout, Dagster its first-run banner: to the console
    with contextlib.redirect_stdout(StdoutSink(console)), dg.DagsterInstance.get() as instance:
        # built now, from the environment the demo set (the resources bind its variables)
        result = run_nightly_in_process(
            build_definitions(),
            {
                # the sandbox's today is the day after as_of: a reporting run (writes the snapshots)
                "ops": {"dbt_models": {"config": {"as_of": as_of.isoformat(),
                                                  "run_date": (as_of + dt.timedelta(days=1)).isoformat()}}},
                # Dagster's records reach the demo's log through Python logging; its own
                # console logger would print each a second time
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
            instance=instance,
        )
    failures = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = (error.message.strip().splitlines() or [""])[0] if error else ""
            failures.append(f"{event.step_key}: {message}"[:300])
    return result.success, failures
