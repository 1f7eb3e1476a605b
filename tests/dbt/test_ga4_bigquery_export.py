"""GA4's BigQuery export as the per-visitor source, end to end: the shared raw warehouse (every
source synced through the Data API and built once, tests/dbt/conftest.py) gets its GA4 sessions
again from the sandbox's BigQuery export (``GA4_SOURCE=bigquery_export``: the real
``google-cloud-bigquery`` client over HTTP, the fake running the connector's SQL on DuckDB),
then only the dbt models downstream of GA4 are run again.

Why the expected numbers differ from the Data API path (test_dbt_project.py compares that with
the truth's ``observable`` part): the export holds every event, with ``user_pseudo_id`` on each
of them. Nothing is rolled into an ``(other)`` row, nothing withheld under thresholds, and the
sessions whose events lacked the visitor custom dimension (``(not set)`` in the Data API) keep
their visitor. So every GA number, and every number the GA touches decide (funnel, sourced
revenue, advocates, reps, web traffic), equals the truth's **world** part: what really happened.

What the export cannot change: people whose CRM form captured no visitor id
(``gap.people_with_uncaptured_visitor_id``) stay unlinked to their visits whatever the GA source,
so the attribution credits of their opportunities, their segment basis and the identity counts
follow the ids the CRM holds, where the world part links them by their true visitor. Those
marts are compared with the truth's ``export`` part (the world's GA rows, the captured ids),
which equals ``world`` everywhere else.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_dbt_project as data_api  # its comparisons, reused (imported names would be collected)
from test_dbt_project import _env, query, run_dbt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def export_built(built: dict, world_store: Path, truth: dict,
                 tmp_path_factory: pytest.TempPathFactory) -> dict:
    from connectors.sandbox.server import Sandbox

    base = tmp_path_factory.mktemp("ga4_export")
    db = base / "warehouse.duckdb"
    shutil.copy2(built["db"], db)
    store = base / "store" / "world.sqlite"
    store.parent.mkdir(parents=True)
    shutil.copy2(world_store, store)
    with Sandbox(store, base / "work") as sandbox:
        env = _env({**sandbox.env(), "GA4_SOURCE": "bigquery_export", "DUCKDB_PATH": str(db)})
        sync = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync", "--source",
                               "ga4", "--full-refresh"], cwd=base, env=env, capture_output=True,
                              text=True, timeout=600)
        requests = sandbox.request_counts()
    assert sync.returncode == 0, sync.stdout + sync.stderr
    # the models downstream of GA4 only (their tests ran in the shared build)
    proc = run_dbt(["run", "--select", "source:ga4+"], db, base, as_of=truth["meta"]["as_of"],
                   nightly=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return {"db": db, "sync": sync, "requests": requests}


def test_the_export_sync_reads_every_session_of_the_world(export_built: dict, truth: dict) -> None:
    world, observable = truth["world"]["ga4"], truth["observable"]["ga4"]
    # the Data API path lost sessions to (other) rows and to the missing custom dimension
    assert observable["other_row_sessions"] + observable["sessions_without_visitor_id"] > 0
    rows, sessions, unknown = query(export_built["db"], """
        select count(*), sum(sessions),
               count(*) filter (where visitor_id in ('(other)', '(not set)'))
        from ga4.visitor_sessions""")[0]
    assert (rows, sessions, unknown) == (world["rows"], world["total_sessions"], 0)
    assert export_built["requests"]["bigquery"]["requests"] > 0
    assert "from the BigQuery export" in export_built["sync"].stderr + export_built["sync"].stdout
    # the loss the data_quality mart reports is gone: no (other) row, no session of the traffic
    # report missing from the per-visitor sessions
    loss = dict(query(export_built["db"], """
        select "check", value from marts.data_quality
        where "check" in ('ga4_other_row_loss', 'ga4_visitor_report_loss')"""))
    assert loss == {"ga4_other_row_loss": 0.0, "ga4_visitor_report_loss": 0.0}


@pytest.mark.parametrize("check", [
    data_api.test_funnel_equals_truth, data_api.test_won_revenue_by_segment_equals_truth,
    data_api.test_advocates_equal_truth, data_api.test_reps_equal_truth,
    data_api.test_web_traffic_by_segment_equals_truth, data_api.test_advocacy_value_equals_truth,
], ids=lambda f: f.__name__.removeprefix("test_"))
def test_marts_equal_the_world_truth(check, export_built: dict, truth: dict) -> None:
    # the same comparisons as the Data API path, against the world part instead
    check({"db": export_built["db"]}, {"meta": truth["meta"], "observable": truth["world"]})


@pytest.mark.parametrize("check", [
    data_api.test_attribution_equals_truth, data_api.test_segments_and_identity_equal_truth,
    data_api.test_identity_equals_truth, data_api.test_pipeline_by_segment_equals_truth,
    data_api.test_segment_comparison_equals_truth, data_api.test_data_quality_equals_truth,
    data_api.test_quota_advocacy_correlation_equals_truth,
], ids=lambda f: f.__name__.removeprefix("test_"))
def test_identity_bound_marts_equal_the_export_truth(check, export_built: dict,
                                                     truth: dict) -> None:
    # the same comparisons against the export part: the world's GA rows, the captured ids
    check({"db": export_built["db"]}, {"meta": truth["meta"], "observable": truth["export"]})


def test_the_export_truth_differs_from_the_world_only_by_the_uncaptured_ids(truth: dict) -> None:
    export, world = truth["export"], truth["world"]
    for part in ("funnel", "won_revenue_by_segment", "advocates", "reps", "web_traffic",
                 "advocacy_value", "counts"):
        assert export[part] == world[part], part
    assert truth["gap"]["people_with_uncaptured_visitor_id"] > 0


def test_the_world_differs_from_what_the_data_api_shows(truth: dict) -> None:
    """The comparison above means something: in this world the two parts differ."""
    world, observable = truth["world"], truth["observable"]
    assert world["funnel"] != observable["funnel"]
    assert world["advocates"] != observable["advocates"]
