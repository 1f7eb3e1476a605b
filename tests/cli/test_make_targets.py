"""The make targets a new user types: one Dagster instance under data/ for the demo and the
UI, a port of one's choosing, docs that say how to open them (``make -n`` shows the commands)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def dry_run(*args: str) -> str:
    if shutil.which("make") is None and os.environ.get("CI") != "true":
        pytest.skip("make is not installed")
    # a user's shell: no DAGSTER_HOME, and not inside `make test` (a sub-make would print
    # "Entering directory" lines and inherit make's flags)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    proc = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_demo_and_dagster_share_a_persistent_instance_under_data():
    home = f"DAGSTER_HOME={REPO / 'data' / 'dagster'} "
    assert home + ".venv/bin/advocacy demo --seed 7 --scale 1" in dry_run("demo")
    assert dry_run("demo", "V=1").rstrip().endswith("--scale 1 -v")
    dagster = dry_run("dagster", "PORT=3005")
    (line,) = [x for x in dagster.splitlines() if "dagster dev" in x]
    assert line.startswith(home) and line.endswith(
        ".venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3005"), line
    assert f"cp dagster.yaml {REPO / 'data' / 'dagster'}/dagster.yaml" in dagster  # one writer
    assert "-p 3000" in dry_run("dagster")


def test_docs_say_how_to_open_them():
    docs = dry_run("docs")
    assert "dbt docs generate --static" in docs and "static_index.html" in docs
    assert "dbt docs serve" not in docs
    served = dry_run("docs", "SERVE=1", "DOCS_PORT=8123")
    assert "dbt docs serve" in served and "--host 127.0.0.1 --port 8123" in served
