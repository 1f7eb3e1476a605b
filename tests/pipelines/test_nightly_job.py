"""The Dagster definitions as users run them: the asset graph joins the raw tables to the dbt
sources, and the nightly job (real Dagster, real connectors against the sandbox, real dbt)
builds marts equal to the sandbox truth."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from connectors import schema as raw
from connectors.registry import SOURCES

CONFIG_PREFIXES = ("HUBSPOT_", "SALESFORCE_", "GA4_", "GOOGLE_APPLICATION_CREDENTIALS",
                   "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH")
AS_OF = "2026-06-30"
RUN_DATE = "2026-07-01"   # the day after AS_OF: the sandbox world's today


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs


def test_every_raw_table_is_an_asset_feeding_its_staging_model(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for table in raw.TABLES.values():
        key = dg.AssetKey(table.asset_key)
        assert key in keys, table.qualified
        assert graph.get(key).child_keys, f"{table.qualified} feeds no dbt model"
    marts = {k.path[1] for k in keys if k.path[0] == "marts"}
    assert {"funnel_by_segment", "segment_comparison", "attribution_credit",
            "pipeline_by_segment", "advocate_leaderboard", "rep_quota_vs_advocacy",
            "quota_advocacy_correlation", "web_traffic_by_segment", "advocacy_value",
            "data_driven_credit", "model_comparison",
            "data_quality", "run_manifest"} <= marts


def test_the_nightly_job_is_scheduled_and_runs_one_step_at_a_time(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def("nightly")
    assert job.executor_def is dg.in_process_executor   # DuckDB has one writing process
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == os.environ.get("NIGHTLY_CRON", "0 2 * * *")


@contextlib.contextmanager
def sandbox_environment(env: dict[str, str], warehouse: Path,
                        drop: tuple[str, ...] = ()) -> Iterator[None]:
    """The sandbox's connection variables (less those starting with ``drop``) and the
    warehouse as the only connection variables set, restored afterwards."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(CONFIG_PREFIXES)}
    for k in saved:
        del os.environ[k]
    os.environ.update({k: v for k, v in env.items() if not (drop and k.startswith(drop))})
    os.environ["DUCKDB_PATH"] = str(warehouse)
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith(CONFIG_PREFIXES)]:
            del os.environ[k]
        os.environ.update(saved)


def nightly(warehouse: Path, env: dict[str, str], *, drop: tuple[str, ...] = (),
            full_refresh: bool = False, instance: dg.DagsterInstance | None = None
            ) -> dg.ExecuteInProcessResult:
    """The nightly job as the schedule runs it (definitions built from the environment then,
    GA4's latest partition), in process; ``full_refresh`` for every sync and for dbt."""
    from pipelines.definitions import build_definitions
    from pipelines.jobs import run_nightly_in_process

    # the sandbox's today is the day after AS_OF: a reporting run, as the demo's
    ops: dict = {"dbt_models": {"config": {"as_of": AS_OF, "run_date": RUN_DATE,
                                           "full_refresh": full_refresh}}}
    if full_refresh:
        ops.update({f"sync_{name}": {"config": {"full_refresh": True}} for name in SOURCES})
    with sandbox_environment(env, warehouse, drop):
        return run_nightly_in_process(build_definitions(), {"ops": ops}, instance=instance)


@pytest.fixture(scope="module")
def nightly_run(nightly_pipeline: dict) -> tuple[dg.ExecuteInProcessResult, Path]:
    """The session's nightly run (tests/pipelines/conftest.py), shared with test_report."""
    return nightly_pipeline["result"], nightly_pipeline["warehouse"]


@pytest.mark.slow
def test_the_nightly_job_materializes_every_asset(nightly_run, defs: dg.Definitions) -> None:
    result, _ = nightly_run
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    done = {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    for table in raw.TABLES.values():
        assert dg.AssetKey(table.asset_key) in done, table.qualified
    assert dg.AssetKey(["marts", "funnel_by_segment"]) in done
    # asset checks: each raw table's quarantine check (the sandbox's records all load), and
    # the dbt tests, which dagster-dbt turns into checks on the models they test
    evaluations = {(tuple(e.asset_key.path), e.check_name): e.passed
                   for e in result.get_asset_check_evaluations()}
    for table in raw.TABLES.values():
        assert evaluations.get((tuple(table.asset_key), "no_quarantined_rows")) is True, table.qualified
    dbt_checks = {k: v for k, v in evaluations.items() if k[0][0] == "marts"}
    assert len(dbt_checks) >= 20 and all(dbt_checks.values()), dbt_checks


@pytest.mark.slow
def test_the_nightly_job_builds_marts_equal_to_the_truth(nightly_run, world_store: Path) -> None:
    from connectors.sandbox.truth import compute_truth
    from pipelines.cli.demo_tables import funnel_matches_truth

    _, warehouse = nightly_run
    truth = compute_truth(world_store)
    ok, n = funnel_matches_truth(warehouse, truth)
    assert n > 0 and ok == n
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        won = dict(conn.execute(
            "select segment, sum(sourced_won) from marts.pipeline_by_segment "
            "where period_grain = 'quarter' and model = 'linear' group by 1").fetchall())
    for segment, amount in truth["observable"]["won_revenue_by_segment"].items():
        assert float(won.get(segment, 0)) == pytest.approx(amount, abs=0.01)


@pytest.mark.slow
def test_the_nightly_job_runs_without_ga4_and_exports(nightly_pipeline: dict, tmp_path: Path) -> None:
    """Every source is optional: with GA4 and the advocacy exports not configured, their
    assets report empty tables, dbt still builds every mart, and the run succeeds. (A company
    whose CRM warehouse is a night old: a copy of the shared run's warehouse without GA4 and
    export rows, so that the CRM syncs are incremental and the test costs one dbt build.)"""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(nightly_pipeline["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        for table in raw.TABLES.values():
            if table.schema in ("ga4", "advocacy_platform"):
                conn.execute(f"delete from {table.qualified}")
    result = nightly(warehouse, nightly_pipeline["env"],
                     drop=("GA4_", "GOOGLE_APPLICATION", "ADVOCACY_EXPORTS_DIR"))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    done = {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert dg.AssetKey(["ga4", "visitor_sessions"]) in done
    assert dg.AssetKey(["marts", "funnel_by_segment"]) in done
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from ga4.visitor_sessions").fetchone()[0] == 0
        assert conn.execute("select count(*) from marts.funnel_by_segment").fetchone()[0] > 0


def test_a_source_not_configured_materializes_empty_tables_and_passes_its_checks(tmp_path) -> None:
    """A company without GA4: its sync asset succeeds, reports each (empty) table and a
    passing quarantine check, so the nightly run and the dbt step after it go on."""
    from connectors import schema as raw
    from pipelines.ingestion import QUARANTINE_CHECK, build_ingestion_assets
    from pipelines.resources import GA4Resource, WarehouseResource

    ga4 = next(a for a in build_ingestion_assets() if a.op.name == "sync_ga4")
    result = dg.materialize(
        [ga4], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        partition_key=ga4.partitions_def.get_last_partition_key(),
        resources={"ga4": GA4Resource(),    # no variable set: not configured
                   "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb"))})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    done = {e.asset_key for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}
    tables = raw.tables_of("ga4")
    assert done == {dg.AssetKey(t.asset_key) for t in tables}
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(tables) and all(e.passed for e in evaluations)
    assert {e.check_name for e in evaluations} == {QUARANTINE_CHECK}



def test_the_nightly_build_leaves_unit_tests_to_make_test() -> None:
    """The nightly job's `dbt build` selects every model, seed, snapshot and data test but no
    unit test (they run in the test suite): listed by `dbt ls` with the job's own arguments."""
    import json
    import subprocess

    from pipelines.transform import DBT_EXECUTABLE, DBT_PROJECT_DIR, DbtBuildConfig, dbt_build_args

    args = dbt_build_args(DbtBuildConfig(as_of="2026-06-30", run_date="2026-07-01"))
    assert args[0] == "build" and "--full-refresh" not in args

    def kinds(selection: list[str]) -> dict[str, int]:
        proc = subprocess.run(
            [DBT_EXECUTABLE, "ls", *selection, "--quiet", "--output", "json", "--output-keys",
             "resource_type", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
             str(DBT_PROJECT_DIR)], capture_output=True, text=True, timeout=300, cwd=DBT_PROJECT_DIR)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        out: dict[str, int] = {}
        for line in proc.stdout.splitlines():
            kind = json.loads(line)["resource_type"]
            out[kind] = out.get(kind, 0) + 1
        return out

    # the same vars for both listings: dbt re-parses the whole project when they change
    everything = kinds(["--vars", args[args.index("--vars") + 1]])
    nightly = kinds(args[1:])
    assert everything.get("unit_test", 0) > 0 and "unit_test" not in nightly
    assert {k: v for k, v in everything.items() if k != "unit_test"} == nightly
    assert json.loads(args[args.index("--vars") + 1]) == {"as_of": "2026-06-30", "run_date": "2026-07-01"}
