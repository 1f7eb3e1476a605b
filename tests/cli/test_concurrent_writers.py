"""Two writers at once: a second `advocacy sync` while one runs, and a Dagster step (the dbt
step's, the publish step's) meeting a running sync, wait (bounded: DUCKDB_LOCK_WAIT_SECONDS)
and then end with one line naming the process that holds the warehouse and the fix, never a
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_a_second_writer_during_a_sync_ends_with_one_line(fresh_sandbox: Any, tmp_path: Path) -> None:
    from pipelines.resources import WarehouseResource

    sb = fresh_sandbox(faults="salesforce:slow=0.5")    # a sync that takes a while
    db = tmp_path / "warehouse.duckdb"
    (tmp_path / "empty.env").write_text("")
    env = {**os.environ, **sb.env(), "DUCKDB_PATH": str(db), "PYTHONUNBUFFERED": "1",
           "DUCKDB_LOCK_WAIT_SECONDS": "1"}
    advocacy = str(Path(sys.executable).with_name("advocacy"))
    first = subprocess.Popen([advocacy, "sync", "--source", "salesforce", "--env-file",
                              str(tmp_path / "empty.env")], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        for line in first.stderr:            # its first progress line: the warehouse is open
            if line.startswith("salesforce."):
                break
        second = subprocess.run([advocacy, "sync", "--source", "advocacy_platform", "--env-file",
                                 str(tmp_path / "empty.env")], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        out = second.stdout + second.stderr
        assert "Traceback" not in out, out
        lines = [ln for ln in out.splitlines() if ln.strip()]
        fail = [ln for ln in lines if ln.startswith("[FAIL]")]
        assert len(fail) == 1, out
        assert f"locked by another process (PID {first.pid}: " in fail[0], fail[0]
        assert "advocacy sync --source salesforce" in fail[0], fail[0]   # who holds it
        assert "still after waiting 1s" in fail[0] and "DUCKDB_LOCK_WAIT_SECONDS" in fail[0]

        # a Dagster step (dbt's, publish's) opens the warehouse through the resource
        resource = WarehouseResource(path=str(db), lock_wait_seconds="1")
        with pytest.raises(dg.Failure) as info:
            resource.open()
        text = info.value.description or ""
        assert "\n" not in text and f"PID {first.pid}" in text, text
        assert first.poll() is None     # the first sync went on undisturbed
    finally:
        first.kill()
        first.wait(timeout=30)
