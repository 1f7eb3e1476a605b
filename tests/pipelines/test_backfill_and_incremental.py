"""A GA4 backfill re-reads exactly its days and records no history; a nightly run after the
world moves a day reads only what changed, and its marts equal a full refresh of the same data.

One sandbox, one warehouse (a copy of the session's first nightly run), in order: backfill ->
advance a day -> nightly (incremental) -> a copy rebuilt with --full-refresh (every sync and
dbt) -> marts compared."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from test_nightly_job import AS_OF, nightly, sandbox_environment

BACKFILL = ("2026-06-01", "2026-06-03")
GA4 = ("visitor_sessions", "traffic_daily", "report_days")


def _query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def _ga4_days(path: Path) -> list[tuple]:
    return _query(path, "select date, count(*), sum(sessions) from ga4.visitor_sessions "
                        "where date between ? and ? group by 1 order by 1", list(BACKFILL))


def _history(path: Path) -> dict[str, int]:
    """Rows that only the nightly run may add: the run manifest and the snapshots."""
    return {t: _query(path, f"select count(*) from {t}")[0][0] for t in
            ("marts.run_manifest", "snapshots.funnel_by_segment_reported",
             "snapshots.pipeline_by_segment_reported")}


def _records(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    """Records each source's sync read, from its materializations' metadata."""
    out: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        value = mat.metadata.get("records")
        if value is not None and mat.asset_key.path[0] != "marts":
            out[mat.asset_key.path[0]] = out.get(mat.asset_key.path[0], 0) + int(value.value)
    return out


def _marts(path: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, doubles to 1e-6 (DuckDB's parallel sums may differ in the
    last bits). data_quality's freshness_hours and source_complete rows measure the time since
    each sync, which differs between two runs by design: left out."""
    tables = [t for (t,) in _query(path, "select table_name from information_schema.tables "
                                         "where table_schema = 'marts' and table_name <> 'run_manifest'")]
    out = {}
    for table in tables:
        where = (" where \"check\" not in ('freshness_hours', 'source_complete')"
                 if table == "data_quality" else "")
        rows = _query(path, f'select * from marts."{table}"{where}')
        out[table] = sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                             for r in rows), key=repr)
    return out


@pytest.mark.slow
def test_backfill_then_an_incremental_nightly_equal_to_a_full_refresh(
        fresh_sandbox, nightly_pipeline: dict, tmp_path: Path) -> None:
    from pipelines.definitions import build_definitions

    # the first night is the session's (tests/pipelines/conftest.py): a copy of its warehouse,
    # and a sandbox of our own serving the same world, which this test moves a day on
    sandbox = fresh_sandbox()
    env = sandbox.env()
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(nightly_pipeline["warehouse"], warehouse)
    first = nightly_pipeline["result"]
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    days, history = _ga4_days(warehouse), _history(warehouse)
    cursors = _query(warehouse, "select object, cursor from ga4._sync_state order by 1")
    assert len(days) == 3 and history["marts.run_manifest"] == 1

    # -- backfill three days of GA4 and everything downstream, as the UI's backfill runs it
    with duckdb.connect(str(warehouse)) as conn:   # those days lost, e.g. by a bad re-read
        conn.execute("delete from ga4.visitor_sessions where date between ? and ?", list(BACKFILL))
    with sandbox_environment(env, warehouse):
        defs = build_definitions()
        ga4_keys = [dg.AssetKey(["ga4", t]) for t in GA4]
        selection = dg.AssetSelection.assets(*ga4_keys).downstream().resolve(
            defs.resolve_asset_graph())
        backfill = defs.resolve_job_def("nightly").execute_in_process(
            asset_selection=list(selection), instance=dg.DagsterInstance.ephemeral(),
            run_config={"ops": {"dbt_models": {"config": {"as_of": AS_OF}}}},
            tags={"dagster/backfill": "test", "dagster/asset_partition_range_start": BACKFILL[0],
                  "dagster/asset_partition_range_end": BACKFILL[1]}, raise_on_error=False)
    assert backfill.success, [e.message for e in backfill.all_events if e.is_failure]
    partitions = {(e.asset_key.path[1], e.partition) for e in backfill.get_asset_materialization_events()
                  if e.asset_key.path[0] == "ga4"}
    assert partitions == {(t, d) for t in GA4 for d in ("2026-06-01", "2026-06-02", "2026-06-03")}
    assert _ga4_days(warehouse) == days                        # exactly those days, back
    assert _query(warehouse, "select object, cursor from ga4._sync_state order by 1") == cursors
    assert _history(warehouse) == history                      # no snapshot version, no manifest row
    built = {e.asset_key for e in backfill.get_asset_materialization_events()}
    assert dg.AssetKey(["marts", "funnel_by_segment"]) in built

    # -- a day later: the nightly reads only what changed. Records deleted for good (a GDPR
    # delete) vanish without a trace from HubSpot's listings: the weekly reconciliation job
    # finds them (a full refresh lists everything and finds them too), so it runs first here,
    # as it would have that week, for the two builds to see the same deletes.
    sandbox.advance(1)
    with sandbox_environment(env, warehouse):
        reconciled = build_definitions().resolve_job_def("reconciliation").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert reconciled.success, [e.message for e in reconciled.all_events if e.is_failure]
    second = nightly(warehouse, env)
    assert second.success, [e.message for e in second.all_events if e.is_failure]
    read_first, read_second = _records(first), _records(second)
    for source in ("hubspot", "salesforce", "ga4"):
        assert 0 < read_second[source] < read_first[source] / 2, (source, read_first, read_second)
    assert _history(warehouse)["marts.run_manifest"] == 2

    # -- the same data rebuilt from scratch gives the same marts
    rebuilt = tmp_path / "full" / "warehouse.duckdb"
    rebuilt.parent.mkdir()
    shutil.copy2(warehouse, rebuilt)
    full = nightly(rebuilt, env, full_refresh=True)
    assert full.success, [e.message for e in full.all_events if e.is_failure]
    assert _records(full)["hubspot"] > read_second["hubspot"]   # it did read everything again
    incremental, from_scratch = _marts(warehouse), _marts(rebuilt)
    assert set(incremental) == set(from_scratch) and len(incremental) >= 10
    for table, rows in incremental.items():
        assert rows == from_scratch[table], table
