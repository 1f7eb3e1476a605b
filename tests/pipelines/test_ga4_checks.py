"""The GA4 loss check: fails above GA4_MAX_LOSS_SHARE, on a real DuckDB raw layer, and runs in
the nightly job (registered in the definitions)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from connectors import schema as raw
from connectors.warehouse import Warehouse
from pipelines.ga4_checks import CHECK_NAME, VISITOR_ASSET, evaluate, ga4_visitor_report_loss

DAY = dt.date(2026, 6, 1)


def _days(wh: Warehouse, rows: list[tuple]) -> None:
    wh.ensure_table(raw.table("ga4.report_days"))
    wh.upsert(raw.table("ga4.report_days"), [
        {"report": r, "date": DAY + dt.timedelta(days=d), "sessions": s, "other_row_sessions": o,
         "subject_to_thresholding": t, "samples_read_count": None, "sampling_space_size": None,
         "row_count": 1, "data_loss_from_other_row": bool(o), "tokens": 1, "time_zone": "UTC"}
        for r, d, s, o, t in rows])


def test_fails_above_the_configured_loss_and_passes_below(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        # day 0: 10 of 100 sessions in (other); day 1: thresholds withheld 30 of 100
        _days(wh, [("traffic_daily", 0, 100, 0, False), ("visitor_sessions", 0, 100, 10, False),
                   ("traffic_daily", 1, 100, 0, False), ("visitor_sessions", 1, 70, 0, True)])
        result = evaluate(wh.conn, max_share=0.05, window_days=30)
        assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
        assert result.metadata["lost_sessions"].value == 40
        assert result.metadata["thresholded_days"].value == 1
        assert evaluate(wh.conn, max_share=0.25, window_days=30).passed
        # the window: only the last date (30 of 100 lost)
        assert evaluate(wh.conn, max_share=0.25, window_days=1).metadata["loss_share"].value == 0.3
    # as Dagster runs it, configured from the environment
    monkeypatch.setenv("DUCKDB_PATH", str(db))
    monkeypatch.setenv("GA4_MAX_LOSS_SHARE", "0.1")
    assert not ga4_visitor_report_loss().passed
    monkeypatch.setenv("GA4_MAX_LOSS_SHARE", "0.5")
    assert ga4_visitor_report_loss().passed


def test_nothing_read_yet_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "empty.duckdb"))
    result = ga4_visitor_report_loss()
    assert result.passed and result.metadata["days"].value == 0


def test_registered_in_the_definitions():
    from pipelines.definitions import defs

    keys = defs.resolve_asset_graph().asset_check_keys
    assert dg.AssetCheckKey(VISITOR_ASSET, CHECK_NAME) in keys
