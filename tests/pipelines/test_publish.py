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
