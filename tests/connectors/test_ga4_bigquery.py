"""GA4's BigQuery export as the per-visitor source (``GA4_SOURCE=bigquery_export``): the
connector's sessions query, through the real ``google-cloud-bigquery`` client over HTTP,
against the sandbox's BigQuery fake (which runs that SQL on DuckDB over the world's events).
Expected rows come from the world store with plain SQL: every session, by its true visitor,
no ``(other)`` rule (the end-to-end comparison with the truth: tests/dbt/test_ga4_bigquery_export.py)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from connectors.ga4 import GA4Source
from connectors.settings import validate
from connectors.source import Settings
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.slow

DIMS = ("true_visitor_id", "source", "medium", "campaign", "ad_content", "term")


def world_rows(store: Path, since: str = "") -> set[tuple]:
    """Every session of the store from ``since`` (ISO date) on, by true visitor."""
    nz = [f"CASE WHEN {c} = '' THEN '(not set)' ELSE {c} END" for c in DIMS]
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        return {(f"{d[:4]}-{d[4:6]}-{d[6:]}", *rest) for d, *rest in conn.execute(
            f"SELECT date, {', '.join(nz)}, SUM(sessions), SUM(engaged_sessions), "
            f"SUM(key_events) FROM ga4_row WHERE date >= ? GROUP BY 1, 2, 3, 4, 5, 6, 7",
            (since.replace("-", ""),))}


def clock_of(store: Path) -> dt.date:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
    return dt.date.fromisoformat(json.loads(value))


def recent(store: Path, days: int = 40) -> str:
    """A history start ``days`` before the store's clock: the tests of later runs read less."""
    return (clock_of(store) - dt.timedelta(days=days)).isoformat()


def raw_rows(wh: Warehouse) -> set[tuple]:
    return {(str(d), *rest) for d, *rest in wh.conn.execute(
        "SELECT date, visitor_id, session_source, session_medium, session_campaign_name, "
        "session_manual_ad_content, session_manual_term, sessions, engaged_sessions, key_events "
        "FROM ga4.visitor_sessions").fetchall()}


def export_source(env: dict[str, str], path: Path, **extra: str) -> GA4Source:
    return GA4Source(Settings({**env, "GA4_SOURCE": "bigquery_export", **extra}), Warehouse(path))


def test_the_export_gives_every_session_in_pages_and_reports_bytes(sandbox, tmp_path) -> None:
    sandbox.bigquery.reset_log()
    source = export_source(sandbox.env(), tmp_path / "wh.duckdb", GA4_BIGQUERY_PAGE_SIZE="100")
    result = source.sync(objects=["visitor_sessions"])
    assert raw_rows(source.warehouse) == world_rows(sandbox.store_path)
    (res,) = result.objects
    # 365 tables: 12 queries of at most 31 tables; a query's ~430 rows come in pages of 100
    assert source.export.queries == 12 and res.pages >= 5076 // 100
    assert "bytes processed" in res.note and source.export.bytes_processed > 0
    paths = [r.raw_path for r in sandbox.bigquery.requests()]
    assert any("/queries/" in p and "pageToken=" in p for p in paths), "paged by getQueryResults"
    # the dates' report_days rows: what was read, nothing withheld
    days = source.warehouse.conn.execute(
        "SELECT count(*), sum(sessions), bool_or(data_loss_from_other_row), "
        "bool_or(subject_to_thresholding) FROM ga4.report_days "
        "WHERE report = 'visitor_sessions'").fetchone()
    assert days[0] == 365 and days[1] == sum(r[7] for r in world_rows(sandbox.store_path))
    assert days[2:] == (False, False)


def test_incremental_rereads_the_days_ga_revises(fresh_sandbox, tmp_path) -> None:
    sb = fresh_sandbox()
    since = recent(sb.store_path)
    source = export_source(sb.env(), tmp_path / "wh.duckdb", HISTORY_START_DATE=since)
    source.sync(objects=["visitor_sessions"])
    sb.advance(2)          # two new days, and GA's late hits added to the last ones
    again = export_source(sb.env(), tmp_path / "wh.duckdb", HISTORY_START_DATE=since)
    result = again.sync(objects=["visitor_sessions"])
    assert raw_rows(again.warehouse) == world_rows(sb.store_path, since)
    (res,) = result.objects
    clock = clock_of(sb.store_path)
    # one query: the re-read window (3 days) and the 2 new ones
    assert again.export.queries == 1
    first = clock - dt.timedelta(days=5)
    assert res.note.startswith(f"{first.isoformat()}..{(clock - dt.timedelta(days=1)).isoformat()}")


def test_server_errors_and_rate_limits_are_retried_by_the_client(fresh_sandbox, tmp_path) -> None:
    """BigQuery's backendError / rateLimitExceeded answers are retried (the client's own retry
    policy) and the result is the clean one."""
    sb = fresh_sandbox(faults="bigquery:503@3x2,bigquery:429@5x1,bigquery:500@7x1")
    since = recent(sb.store_path, 100)
    source = export_source(sb.env(), tmp_path / "wh.duckdb", HISTORY_START_DATE=since)
    source.sync(objects=["visitor_sessions"])
    assert raw_rows(source.warehouse) == world_rows(sb.store_path, since)
    assert len(sb.bigquery.requests(faulted=True)) == 4


def test_a_date_not_yet_in_a_daily_table_is_read_from_intraday_then_again(fresh_sandbox,
                                                                          tmp_path) -> None:
    from connectors.sandbox import store

    sb = fresh_sandbox()
    conn = store.connect(sb.store_path)
    store.set_meta(conn, "ga4_bigquery_intraday_days", 1)   # yesterday: streaming export only
    since = recent(sb.store_path, 10)
    source = export_source(sb.env(), tmp_path / "wh.duckdb", HISTORY_START_DATE=since)
    assert max(source.export.tables().values()).startswith("events_intraday_")
    source.sync(objects=["visitor_sessions"])
    assert raw_rows(source.warehouse) == world_rows(sb.store_path, since)
    store.set_meta(conn, "ga4_bigquery_intraday_days", 0)   # the daily table arrived
    conn.close()
    sb.bigquery.reset_log()
    again = export_source(sb.env(), tmp_path / "wh.duckdb", HISTORY_START_DATE=since)
    again.sync(objects=["visitor_sessions"])
    assert raw_rows(again.warehouse) == world_rows(sb.store_path, since)
    assert again.export.queries == 1
    assert not any(r.path.endswith("/queries") and r.status >= 400
                   for r in sb.bigquery.requests())


def test_check_reports_a_missing_dataset_and_missing_roles(sandbox, fresh_sandbox, tmp_path) -> None:
    # the visitor custom dimension is not needed with the export (user_pseudo_id is the visitor)
    ok = export_source(sandbox.env(), tmp_path / "a.duckdb",
                       GA4_VISITOR_DIMENSION="customEvent:not_registered").check()
    assert all(f.ok for f in ok), [f.line() for f in ok]
    assert any("BigQuery export" in f.what and "365 event tables" in f.what for f in ok)
    assert any("visitor dimension is not needed" in f.what for f in ok)

    wrong = export_source(sandbox.env(), tmp_path / "b.duckdb",
                          GA4_BIGQUERY_DATASET="analytics_999").check()
    line = next(f.line() for f in wrong if not f.ok)
    assert "dataset sandbox-project.analytics_999 not found" in line
    assert "BigQuery links" in line and "GA4_BIGQUERY_DATASET" in line

    denied = fresh_sandbox(faults="bigquery:denied")
    found = export_source(denied.env(), tmp_path / "c.duckdb").check()
    line = next(f.line() for f in found if not f.ok)
    assert "no access to the BigQuery export" in line
    assert "BigQuery Data Viewer" in line and "BigQuery Job User" in line


def test_settings_are_validated() -> None:
    lines = [p.line() for p in validate({"GA4_SOURCE": "bigquery"}, ["ga4"])]
    assert lines == ["GA4_SOURCE='bigquery' is not one of data_api, bigquery_export: "
                     "set one of data_api, bigquery_export"]
    lines = [p.line() for p in validate({"GA4_SOURCE": "bigquery_export"}, ["ga4"])]
    assert len(lines) == 1 and lines[0].startswith("GA4_BIGQUERY_PROJECT='' is not set")
    bad = validate({"GA4_SOURCE": "bigquery_export", "GA4_BIGQUERY_PROJECT": "My Project",
                    "GA4_BIGQUERY_DATASET": "analytics-1", "GA4_BIGQUERY_KEY_EVENTS": "a b"},
                   ["ga4"])
    assert {p.variable for p in bad} == {"GA4_BIGQUERY_PROJECT", "GA4_BIGQUERY_DATASET",
                                         "GA4_BIGQUERY_KEY_EVENTS"}
