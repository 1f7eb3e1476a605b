"""Publishing the marts for BI tools, on a small hand-made warehouse (the nightly job's
publishing, with readers held open, is in test_report.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import duckdb
import pytest

from pipelines.publish import PUBLISHED_DB, publish_dir, publish_marts


def _warehouse(path: Path, marts: dict[str, int]) -> Path:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create schema if not exists staging")
        conn.execute("create or replace table staging.not_published as select 1 as x")
        for name, rows in marts.items():
            conn.execute(f"create or replace table marts.{name} as select range as id from range({rows})")
    return path


def test_every_mart_is_published_read_only_and_a_dropped_mart_leaves_no_file(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", {"funnel_by_segment": 3, "data_quality": 2})
    out = tmp_path / "published"
    published = publish_marts(warehouse, out)
    assert published.rows == {"data_quality": 2, "funnel_by_segment": 3}
    with duckdb.connect(str(out / PUBLISHED_DB), read_only=True) as conn:
        assert conn.execute("select count(*) from marts.funnel_by_segment").fetchone()[0] == 3
        tables = conn.execute("select schema_name, table_name from duckdb_tables() order by 2").fetchall()
    assert tables == [("marts", "data_quality"), ("marts", "funnel_by_segment")]
    for path in [out / PUBLISHED_DB, *(out / "parquet").glob("*.parquet")]:
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    manifest = json.loads((out / "published.json").read_text())
    assert manifest["tables"]["funnel_by_segment"] == {"parquet": "parquet/funnel_by_segment.parquet", "rows": 3}

    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("drop table marts.data_quality")
    publish_marts(warehouse, out)
    assert sorted(p.name for p in (out / "parquet").iterdir()) == ["funnel_by_segment.parquet"]
    assert not [p for p in out.rglob(".tmp_*")]


def test_a_warehouse_without_marts_publishes_nothing(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", {})
    with pytest.raises(RuntimeError, match="no marts to publish: run dbt build first"):
        publish_marts(warehouse, tmp_path / "published")
    assert not (tmp_path / "published" / PUBLISHED_DB).exists()


def test_the_published_folder_sits_beside_the_warehouse_unless_configured(tmp_path: Path) -> None:
    assert publish_dir({"DUCKDB_PATH": str(tmp_path / "wh.duckdb")}) == tmp_path / "published"
    assert publish_dir({"DUCKDB_PATH": "x.duckdb", "PUBLISH_DIR": str(tmp_path / "bi")}) == tmp_path / "bi"


def test_a_night_missing_a_source_keeps_the_last_complete_publication(tmp_path: Path) -> None:
    """data_quality says Salesforce is missing (source_complete failed): nothing is replaced,
    published.json says what is missing since when, and IncompleteNight names it; the next
    complete night publishes again and clears the note."""
    from pipelines.publish import IncompleteNight

    warehouse = _warehouse(tmp_path / "warehouse.duckdb", {"funnel_by_segment": 3})
    out = tmp_path / "published"
    first = json.loads(json.dumps(publish_marts(warehouse, out).rows))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".json"}
    manifest = json.loads((out / "published.json").read_text())
    detail = ("missing: last sync failed, failing since 2026-07-01 02:00:13 UTC; last complete "
              "sync 2026-06-30 02:00:41 UTC: salesforce stopped: REQUEST_LIMIT_EXCEEDED")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create or replace table marts.funnel_by_segment as select range as id from range(1)")
        conn.execute("create or replace table marts.data_quality as select * from (values "
                      "('source_complete', 'hubspot', 1.0, 26.0, 'pass', 'last complete sync ...'), "
                      "('source_complete', 'salesforce', 24.0, 26.0, 'fail', ?)) "
                      "t(\"check\", source, value, threshold, status, detail)", [detail])
    with pytest.raises(IncompleteNight) as info:
        publish_marts(warehouse, out)
    assert "salesforce" in str(info.value) and "failing since 2026-07-01" in str(info.value)
    assert manifest["published_at"] in str(info.value)          # which publication stays
    assert {p: p.read_bytes() for p in before} == before          # nothing replaced
    after = json.loads((out / "published.json").read_text())
    assert after["published_at"] == manifest["published_at"] and after["tables"] == manifest["tables"]
    assert after["incomplete"]["missing"] == [{"source": "salesforce", "detail": detail}]

    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.data_quality set status = 'pass'")
    assert publish_marts(warehouse, out).rows == {"data_quality": 2, "funnel_by_segment": 1}
    assert "incomplete" not in json.loads((out / "published.json").read_text())
    assert first == {"funnel_by_segment": 3}
