"""The advocacy platform exports written from the world store."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from connectors.sandbox import catalog
from connectors.sandbox.exports import write_exports


def test_exports_both_layouts_and_idempotent(world_store: Path, tmp_path: Path) -> None:
    paths = write_exports(world_store, tmp_path)
    assert [p.name for p in paths] == [
        f"{layout['file_prefix']}2026-07-01.csv" for layout in catalog.EXPORT_LAYOUTS.values()
    ]
    conn = sqlite3.connect(f"file:{world_store}?mode=ro", uri=True)
    counts = dict(conn.execute("SELECT platform, COUNT(*) FROM advocacy_post GROUP BY 1"))
    clicks = {(pl, pid): n for pl, pid, n in conn.execute("SELECT platform, post_id, clicks FROM advocacy_post")}
    conn.close()
    for path, (platform, layout) in zip(paths, catalog.EXPORT_LAYOUTS.items(), strict=True):
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        cols = layout["columns"]
        assert list(rows[0]) == list(cols.values())
        assert len(rows) == counts[platform] > 0
        for row in rows[:50]:
            assert int(row[cols["clicks"]]) == clicks[(platform, row[cols["post_id"]])]
            posted = row[cols["posted_at"]]
            if layout["posted_at_format"] == "iso":
                assert posted.endswith("Z") and "T" in posted
            else:
                assert len(posted) == 19 and posted[10] == " "
            assert "utm_" in row[cols["url"]]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]
    again = write_exports(world_store, tmp_path)
    assert again == paths
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in again] == before
