"""``advocacy demo`` as a new user runs it: two screens of stages, tables and next steps, the
details in the log, the run in the Dagster instance ``make dagster`` opens."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli.demo_console import DemoConsole
from pipelines.cli.demo_tables import quarter, table

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_fits_two_screens_and_its_run_is_in_the_dagster_instance(tmp_path):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env["PYTHONPATH"] = str(REPO)
    data = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli.main", "demo", "--seed", "11", "--scale", "0.1",
         "--data-dir", str(data)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) <= 100, f"{len(lines)} lines"
    assert proc.stderr == "", proc.stderr[-2000:]
    assert "\r" not in proc.stdout, "not a terminal: plain lines, no bars"
    for number, stage in enumerate(("world", "truth", "fakes", "sync", "dbt"), start=1):
        assert any(line.startswith(f"[{number}/5] {stage}") for line in lines), stage
    for source in ("hubspot", "salesforce", "ga4", "advocacy_platform"):
        (row,) = [line for line in lines if line.startswith(f"      {source} ")]
        assert re.search(r"\d+ objects? +[\d,]+ records +\(\d+\.\ds\)$", row), row
    (dbt,) = [line for line in lines if line.startswith("[5/5] dbt")]
    assert "ERROR=0" in dbt and "PASS=" in dbt
    text = proc.stdout
    assert re.search(r"^20\d\d Q[1-4]  advocacy", text, re.M), "quarters read 2025 Q3"
    assert "won USD" in text and "mature: every lead of the quarter is at least" in text
    assert "The funnel equals the sandbox truth" in text
    assert "Next steps" in text and "make dagster" in text
    for noise in ("AssetObservation", "Telemetry", "START sql", "alembic", "Traceback"):
        assert noise not in text, noise

    log = (data / "demo.log").read_text()
    assert " of 314 PASS " in log or re.search(r"\d+ of \d+ PASS", log), "dbt's lines are in the log"
    assert "AssetObservation" not in log, "dbt tests are asset checks, not observations"

    with dg.DagsterInstance.from_config(str(data / "dagster")) as instance:
        runs = instance.get_runs()
        assert [(r.job_name, r.status) for r in runs] == [("nightly", dg.DagsterRunStatus.SUCCESS)]


def test_tables_read_as_a_reader_expects():
    assert quarter("2025-07-01") == "2025 Q3" and quarter("2026-01-01") == "2026 Q1"
    assert quarter("2025-07-01", fiscal_start_month=7) == "FY2026 Q1"
    assert table("Data-quality warnings", ["check"], [], empty="none: all passed") == \
        "Data-quality warnings\n  none: all passed"
    text = table("t", ["name", "amount"], [["a", "1,000"], ["bb", "-"]])
    assert text.splitlines()[1:] == ["name  amount", "----  ------", "a      1,000", "bb         -"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_per_source_a_pipe_plain_lines(tmp_path):
    events = [{"kind": "start", "source": "hubspot", "object": "contacts"},
              {"kind": "page", "source": "hubspot", "object": "contacts", "records": 100},
              {"kind": "done", "source": "hubspot", "object": "contacts", "records": 150},
              {"kind": "start", "source": "ga4", "object": "visitor_sessions"}]
    for stream, tty in ((FakeTerminal(), True), (io.StringIO(), False)):
        console = DemoConsole(tmp_path / "demo.log", out=stream)
        console.expected_objects = {"hubspot": 6, "ga4": 2}
        for event in events:
            console.on_progress(event)
        console.finish_sources()
        console.close()
        out = stream.getvalue()
        plain = [line for line in out.replace("\r\x1b[2K", "\n").splitlines() if line.strip()]
        assert any(re.fullmatch(r" +hubspot +1 object +150 records +\(\d+\.\ds\)", x) for x in plain), out
        if tty:
            assert "\u2588" in out and "0/6 objects, 100 records contacts 100" in out
            assert "hubspot            \u2595" in out
        else:
            assert "\r" not in out and "\u2588" not in out
        assert "hubspot.contacts: 150 records" in (tmp_path / "demo.log").read_text()


def test_verbose_echoes_the_details(tmp_path):
    quiet, loud = io.StringIO(), io.StringIO()
    for stream, verbose in ((quiet, False), (loud, True)):
        console = DemoConsole(tmp_path / f"{verbose}.log", out=stream, verbose=verbose)
        console.on_stdout_line("1 of 3 OK created sql view model staging.x")
        console.close()
    assert quiet.getvalue() == "" and "1 of 3 OK" in loud.getvalue()
    assert "1 of 3 OK" in (tmp_path / "False.log").read_text()
