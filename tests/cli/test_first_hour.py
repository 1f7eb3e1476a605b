"""The first hour of a new user (issue 10), through the command line as they run it: nothing
configured, a missing ``--env-file``, invalid settings, a warehouse that cannot be opened, and
failures that name their fix. Each test runs ``python -m pipelines.cli.main`` in a subprocess
and asserts on the lines printed and the exit code."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """A user's shell: none of the project's variables, only what the test sets."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {**base, "PYTHONPATH": str(REPO), **extra}


def advocacy(*args: str, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def fail_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("[FAIL]")]


# -- 1. nothing configured ---------------------------------------------------------------------
def test_check_and_sync_with_nothing_configured_say_copy_env_example(tmp_path):
    check = advocacy("check", env=clean_env(), cwd=tmp_path)
    assert check.returncode == 1, check.stdout
    assert "all checks passed" not in check.stdout
    (line,) = [x for x in fail_lines(check.stdout) if "settings" in x]
    assert line.startswith("[FAIL] settings: no source configured: no .env found in "), line
    assert line.endswith("-> copy .env.example to .env and fill it in (or `make demo` to try the "
                         "product on a simulated company)")

    sync = advocacy("sync", env=clean_env(), cwd=tmp_path)
    assert sync.returncode == 1
    assert "no .env found" in sync.stderr and "copy .env.example to .env" in sync.stderr
    assert "Traceback" not in sync.stderr and "total:" not in sync.stdout
    assert not (tmp_path / "data").exists(), "nothing configured: no empty warehouse is created"


def test_an_env_file_that_does_not_exist_is_named(tmp_path):
    for command in ("check", "sync"):
        proc = advocacy(command, "--env-file", "prod.env", env=clean_env(), cwd=tmp_path)
        assert proc.returncode == 1, command
        assert (proc.stdout + proc.stderr).strip() == (
            "[FAIL] settings: --env-file prod.env does not exist -> give the path of your .env "
            "file (or copy .env.example to .env and leave --env-file out)")


# -- 3. settings validated before any work ----------------------------------------------------
BAD = {
    "HISTORY_START_DATE": "2999-01-01",
    "GA4_PROPERTY_ID": "abc",
    "GOOGLE_APPLICATION_CREDENTIALS": "/nowhere/key.json",
    "SALESFORCE_ACCESS_TOKEN": "00Dtoken-not-printed",
    "SALESFORCE_INSTANCE_URL": "acme.my.salesforce.com",
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-not-printed",
}


def test_invalid_settings_are_named_with_their_fix_and_nothing_is_requested(tmp_path):
    db = tmp_path / "data" / "warehouse.duckdb"
    env = clean_env(**BAD, DUCKDB_PATH=str(db))
    started = time.monotonic()
    sync = advocacy("sync", env=env, cwd=tmp_path)
    took = time.monotonic() - started
    assert sync.returncode == 1
    lines = fail_lines(sync.stderr)
    assert lines == [
        "[FAIL] settings: HISTORY_START_DATE='2999-01-01' is in the future (today is "
        + lines[0].split("today is ")[1].split(")")[0] + ") -> set the first date history should "
        "be read from, in the past, or leave it empty for 730 days back",
        "[FAIL] settings: SALESFORCE_INSTANCE_URL='acme.my.salesforce.com' is not an https:// "
        "URL -> write the whole address, e.g. https://acme.my.salesforce.com",
        "[FAIL] settings: GA4_PROPERTY_ID='abc' is not a GA4 property id (digits only) -> copy "
        "the numeric Property ID from GA4 Admin -> Property settings (e.g. 123456789); a G-XXXX "
        "measurement id is not it",
        "[FAIL] settings: GOOGLE_APPLICATION_CREDENTIALS='/nowhere/key.json' does not exist -> "
        "point it at the service-account JSON key file (an absolute path is safest)",
    ], sync.stderr
    assert "sync not started" in sync.stderr
    assert not db.exists() and "retry" not in sync.stderr.lower()
    assert took < 30, "no retries: a configuration error is not a network error"
    for secret in (BAD["SALESFORCE_ACCESS_TOKEN"], BAD["HUBSPOT_ACCESS_TOKEN"]):
        assert secret not in sync.stdout + sync.stderr

    check = advocacy("check", env=env, cwd=tmp_path)
    assert check.returncode == 1
    failed = fail_lines(check.stdout)
    assert failed[:4] == lines, check.stdout    # the same lines: one validation
    assert "[FAIL] salesforce: not contacted: its settings are invalid (above) -> fix them first" in failed
    assert "[FAIL] ga4: not contacted: its settings are invalid (above) -> fix them first" in failed


def test_a_date_in_another_format_is_refused(tmp_path):
    env = clean_env(HISTORY_START_DATE="01/07/2024", HUBSPOT_ACCESS_TOKEN="pat-x",
                    DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    proc = advocacy("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert fail_lines(proc.stderr) == [
        "[FAIL] settings: HISTORY_START_DATE='01/07/2024' is not a date -> expected YYYY-MM-DD "
        "(e.g. 2024-07-01), or leave it empty for 730 days back"]


def test_dagster_ingestion_asset_fails_on_the_same_validation_without_retry(monkeypatch, tmp_path):
    from pipelines.ingestion import build_ingestion_asset

    monkeypatch.chdir(tmp_path)
    for name, value in {"GA4_PROPERTY_ID": "abc", "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path),
                        "DUCKDB_PATH": str(tmp_path / "w.duckdb")}.items():
        monkeypatch.setenv(name, value)
    from pipelines.resources import resources_from_environment

    asset = build_ingestion_asset("ga4")   # GA4's days are partitions: its latest, as nightly
    result = dg.materialize([asset], raise_on_error=False, resources=resources_from_environment(),
                            instance=dg.DagsterInstance.ephemeral(),
                            partition_key=asset.partitions_def.get_last_partition_key())
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    text = failure.step_failure_data.user_failure_data.description
    assert "GA4_PROPERTY_ID='abc' is not a GA4 property id (digits only): copy the numeric" in text
    assert f"GOOGLE_APPLICATION_CREDENTIALS='{tmp_path}' is a folder" in text
    assert not (tmp_path / "w.duckdb").exists(), "failed before opening the warehouse"


# -- 2. a warehouse that cannot be opened -------------------------------------------------------
def exports_env(tmp_path: Path, db: Path) -> dict[str, str]:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    return clean_env(ADVOCACY_EXPORTS_DIR=str(folder), DUCKDB_PATH=str(db))


def test_a_locked_warehouse_names_the_process_holding_it(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        # a writer waits (bounded) for the lock, saying for whom, then gives up with one line
        env = {**exports_env(tmp_path, db), "DUCKDB_LOCK_WAIT_SECONDS": "1"}
        sync = advocacy("sync", env=env, cwd=tmp_path)
        assert sync.returncode == 1
        assert "Traceback" not in sync.stderr
        assert f"PID {holder.pid}" in sync.stderr and "waiting up to 1s" in sync.stderr, sync.stderr
        (line,) = fail_lines(sync.stderr)
        assert line.startswith(f"[FAIL] warehouse: cannot open {db}: locked by another process "
                               f"(PID {holder.pid}: python"), line
        assert "still after waiting 1s" in line
        assert f"-> wait for it to finish or stop it (kill {holder.pid})" in line
        assert "DUCKDB_PATH" in line and "DUCKDB_LOCK_WAIT_SECONDS" in line

        check = advocacy("check", env=env, cwd=tmp_path)
        assert check.returncode == 1
        (line,) = fail_lines(check.stdout)
        assert line.startswith("[FAIL] warehouse:") and f"PID {holder.pid}" in line, check.stdout
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    check = advocacy("check", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    assert "[ok  ] warehouse: " in check.stdout and "not locked" in check.stdout


def test_a_read_only_folder_is_one_line_with_the_fix(tmp_path):
    if os.geteuid() == 0:
        db = Path("/sys/advocacy-warehouse.duckdb")   # not writable even for root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        db = locked / "warehouse.duckdb"
    sync = advocacy("sync", env=exports_env(tmp_path, db), cwd=tmp_path)
    assert sync.returncode == 1
    assert "Traceback" not in sync.stderr
    (line,) = fail_lines(sync.stderr)
    assert line.startswith(f"[FAIL] warehouse: cannot open {db}: ") and "Permission denied" in line
    assert line.endswith(f"-> make {db.parent} writable for this user, or point DUCKDB_PATH at "
                         "another file")


# -- 4. one vocabulary, one hint table ----------------------------------------------------------
def test_a_failed_source_has_a_fix_and_the_summary_agrees(sandbox_env, tmp_path):
    env = clean_env(**{**sandbox_env, "HUBSPOT_ACCESS_TOKEN": "pat-na1-00000000-dead-beef-0000"},
                    DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    proc = advocacy("sync", "--source", "hubspot", "--source", "advocacy_platform", env=env,
                    cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = fail_lines(proc.stderr)
    assert line.startswith("[FAIL] hubspot: stopped: ") and "401" in line, proc.stderr
    assert line.count("stopped") == 1 and "STOPPED" not in proc.stderr
    assert line.endswith("-> renew HUBSPOT_ACCESS_TOKEN (HubSpot: Settings -> Integrations -> "
                         "Private apps), then `advocacy check --source hubspot`")
    assert any(x.startswith("[ok  ] advocacy_platform: ") for x in proc.stderr.splitlines())
    rows = {row.split()[0]: row for row in proc.stdout.splitlines()[2:-1]}
    assert "(FAILED)" in rows["hubspot"] and "(stopped)" not in proc.stdout
    total = proc.stdout.splitlines()[-1]
    assert "sources: 1 ok, 1 FAILED;" in total, total


def test_log_lines_never_land_inside_a_progress_line(fresh_sandbox, tmp_path):
    """On a terminal the progress line is rewritten in place; a retry warning logged meanwhile
    must clear it first, not be appended to it."""
    # a connection cut mid-body on the third contacts page: connectors.retry logs its retry
    sb = fresh_sandbox(faults="hubspot:drop@3x1")
    env = clean_env(**sb.env(), DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "sync", "--source", "hubspot"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    screen = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    warnings = [seg for seg in screen.split("\n") if "retry 1/" in seg]
    assert warnings, screen
    for segment in warnings:
        # what is left on screen of that line: the text after its last carriage return
        visible = segment.rsplit("\r", 1)[-1].replace("\x1b[2K", "")
        assert re.match(r"(\S+ \S+ )?WARNING connectors.retry: hubspot", visible), repr(segment)
        assert "rec/s" not in visible
