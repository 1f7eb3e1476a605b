"""The end-to-end bench's verdicts on the performance targets (docs/PERFORMANCE.md), from the
steps each scale's run records (no run here: the runs take minutes to hours)."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.cli.bench.endtoend import SOURCES, targets


def _write(root: Path, scale: str, rows: list[dict]) -> None:
    (root / f"scale{scale}").mkdir(parents=True)
    (root / f"scale{scale}" / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _step(step: str, seconds: float, rss: float, cpu: float | None = None) -> dict:
    return {"step": step, "seconds": seconds, "cpu_seconds": seconds if cpu is None else cpu,
            "peak_rss_mb": rss, "load_before": "1.0 1.0 1.0", "load_after": "1.0 1.0 1.0"}


def test_targets_judge_scale_100_against_scales_1_and_10(tmp_path: Path) -> None:
    _write(tmp_path, "1", [_step(f"sync_full:{s}", 2, 200) for s in SOURCES])
    _write(tmp_path, "10", [_step("sync_full", 80, 300), _step("dbt_full", 10, 700),
                            _step("sync_incremental", 15, 250), _step("dbt_nightly", 10, 600)])
    big = [_step(f"sync_full:{s}", 800, 290 if s != "salesforce" else 420) for s in SOURCES]
    # an older generate row is superseded by the latest one
    _write(tmp_path, "100", [_step("generate", 900, 400), _step("generate", 250, 300), *big,
                             _step("sync_full", 900, 420), _step("dbt_full", 55, 2000),
                             _step("sync_incremental", 40, 300), _step("dbt_nightly", 30, 900)])
    verdicts = {row[0]: row[2] for row in targets(tmp_path)}
    assert verdicts["world generation at scale 100 < 300 s and < 4 GiB"] == "met"
    assert verdicts["full sync peak RSS scale 100 / scale 1 <= 1.5 (hubspot)"] == "met"
    assert verdicts["full sync peak RSS scale 100 / scale 1 <= 1.5 (salesforce)"] == "NOT met"
    assert verdicts["dbt build at scale 100 < 60 s"] == "met"
    assert verdicts["dbt build scale 100 / scale 10 <= 10"] == "met"
    assert verdicts["nightly / full <= 0.2 at scale 100"] == "met"      # 70 / 955
    assert verdicts["nightly / full <= 0.2 at scale 10"] == "NOT met"   # 25 / 90
    # a scale that never ran is said to be unmeasured, not passed
    assert {row[2] for row in targets(tmp_path / "nothing")} == {"not measured"}


def test_a_regenerated_world_starts_without_the_old_worlds_sandbox_files(tmp_path, monkeypatch):
    """The sandbox writes the advocacy platform's CSV exports into the workdir; a new world's
    exports beside the old world's were read twice (46,526 records instead of 23,222)."""
    import argparse

    from pipelines.cli.bench import endtoend

    old = tmp_path / "serve" / "exports" / "posts_2026-07-01.csv"
    old.parent.mkdir(parents=True)
    old.write_text("post_id\n1\n")
    (tmp_path / "world.sqlite").write_text("old world")

    def fake_timed(cmd, env, log):
        (tmp_path / "world.sqlite").write_text("new world")
        return {"code": 0, "seconds": 1.0, "cpu_seconds": 1.0, "peak_rss_mb": 1.0, "command": ""}

    monkeypatch.setattr(endtoend, "timed", fake_timed)
    args = argparse.Namespace(scale=0.1, seed=7, days=1, workdir=str(tmp_path), regenerate=True,
                              project=str(tmp_path))
    endtoend.Run(args).generate()
    assert (tmp_path / "world.sqlite").read_text() == "new world"
    assert not old.exists()
