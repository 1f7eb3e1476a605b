"""``advocacy sync`` as users run it: a subprocess against the sandbox."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from connectors.source import Settings, redact
from pipelines.cli import sync as sync_command

REPO = Path(__file__).resolve().parents[2]
CONFIG_PREFIXES = ("HUBSPOT_", "SALESFORCE_", "GA4_", "GOOGLE_APPLICATION_CREDENTIALS",
                   "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH")


def command_env(extra: dict[str, str], db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update(extra)
    env["DUCKDB_PATH"] = str(db)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def advocacy(*args: str, env: dict[str, str], cwd: Path, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pipelines.cli.main", *args]
    if kwargs.pop("background", False):
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_sync_verbose_never_prints_secrets(sandbox, sandbox_env, tmp_path):
    db = tmp_path / "wh.duckdb"
    # hubspot only: the other sources have their own tests (and GA4 alone takes ~30 s)
    proc = advocacy("-v", "sync", "--source", "hubspot", env=command_env(sandbox_env, db), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "hubspot" in proc.stdout and "contacts" in proc.stdout and "total:" in proc.stdout
    secrets = Settings(sandbox_env).secrets()
    assert sandbox_env["HUBSPOT_ACCESS_TOKEN"] in secrets
    for secret in secrets:
        assert secret not in output
    # a rejected token: the source stops, is reported, and the token is still not printed
    bad = {**sandbox_env, "HUBSPOT_ACCESS_TOKEN": "pat-na1-00000000-dead-beef-0000-000000000000"}
    proc = advocacy("-v", "sync", "--source", "hubspot", env=command_env(bad, tmp_path / "b.duckdb"),
                    cwd=tmp_path)
    assert proc.returncode == 1
    assert "[FAIL] hubspot: stopped: " in proc.stderr and "401" in proc.stderr
    assert bad["HUBSPOT_ACCESS_TOKEN"] not in proc.stdout + proc.stderr


def test_unconfigured_source_is_skipped_with_one_line(tmp_path):
    (tmp_path / "exports").mkdir()
    env = command_env({"ADVOCACY_EXPORTS_DIR": str(tmp_path / "exports")}, tmp_path / "wh.duckdb")
    proc = advocacy("sync", "--source", "hubspot", "--source", "advocacy_platform", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "[skip] hubspot: not configured: HUBSPOT_ACCESS_TOKEN not set (see .env.example)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "(skipped)" in proc.stdout and "1 ok, 1 skipped" in proc.stdout


def test_sync_reconcile_marks_records_deleted_for_good(fresh_sandbox, tmp_path):
    """``--reconcile``: after the sync, an id-only listing marks deleted what HubSpot no
    longer has at all (a GDPR delete leaves no archived record)."""
    import sqlite3

    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    env = command_env(sb.env(), db)
    assert advocacy("sync", "--source", "hubspot", "--quiet", env=env, cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(sb.store_path)
    (gone,) = conn.execute("SELECT id FROM hubspot_object WHERE object_type = 'contacts' AND archived = 0 "
                           "ORDER BY id LIMIT 1").fetchone()
    conn.execute("DELETE FROM hubspot_object WHERE object_type = 'contacts' AND id = ?", (gone,))
    conn.commit()
    conn.close()
    proc = advocacy("sync", "--source", "hubspot", "--reconcile", "--quiet", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "contacts (reconcile)" in x)
    assert line.split()[4] == "1", line          # source, object (2 words), records, deleted
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT _is_deleted FROM hubspot.contacts WHERE id = ?", [str(gone)]).fetchone()[0]


def test_killed_sync_resumes_without_duplicates(fresh_sandbox, hubspot_state, tmp_path):
    sb = fresh_sandbox(faults="hubspot:slow=0.25")
    db = tmp_path / "wh.duckdb"
    # one page per write (the default groups 1,000 records: the whole of this small world)
    env = {**command_env(sb.env(), db), "HUBSPOT_WRITE_BATCH": "100"}
    proc = advocacy("sync", "--source", "hubspot", env=env, cwd=tmp_path, background=True)
    try:
        deadline = time.monotonic() + 60
        # a few contact pages: some pages are committed, most are not
        while len(sb.hubspot.requests()) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    conn = duckdb.connect(str(db), read_only=True)
    try:
        committed = conn.execute("SELECT count(*) FROM hubspot.contacts").fetchone()[0]
        cursor = json.loads(conn.execute(
            "SELECT cursor FROM hubspot._sync_state WHERE object='contacts'").fetchone()[0])
    finally:
        conn.close()
    assert committed > 0 and cursor["phase"] == "full" and cursor["after"]

    sb.hubspot.reset_log()
    proc = advocacy("sync", "--source", "hubspot", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first_list = sb.hubspot.requests("GET", "/crm/v3/objects/contacts")[0]
    assert f"after={cursor['after']}" in first_list.raw_path, "the rerun resumes where the kill stopped it"
    conn = duckdb.connect(str(db), read_only=True)
    try:
        for t in ("contacts", "companies", "deals"):
            n, distinct = conn.execute(f"SELECT count(*), count(DISTINCT id) FROM hubspot.{t}").fetchone()
            assert n == distinct
    finally:
        conn.close()
    store_state, raw_state = hubspot_state
    expected, got = store_state(sb.store_path), raw_state(db)
    for key in ("contacts", "companies", "deals", "associations", "owners"):
        assert got[key] == expected[key], key


def test_secret_in_a_source_exception_is_not_printed_even_with_its_traceback(tmp_path):
    # the advocacy source fails with the folder (named after the token) in its message; with -v
    # the command logs the traceback too, and neither may show the token
    secret = "pat-na1-0000-secret-in-a-traceback"
    env = command_env({"HUBSPOT_ACCESS_TOKEN": secret,
                       "ADVOCACY_EXPORTS_DIR": str(tmp_path / f"exports-{secret}")},
                      tmp_path / "wh.duckdb")
    proc = advocacy("-v", "sync", "--source", "advocacy_platform", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "[FAIL] advocacy_platform: failed: " in proc.stderr and "exports-***" in proc.stderr
    assert "Traceback" in proc.stderr and "FileNotFoundError" in proc.stderr   # it was logged
    assert secret not in proc.stdout + proc.stderr


def run_in_process(monkeypatch, env: dict[str, str], err: io.StringIO) -> int:
    monkeypatch.setattr(Settings, "from_environment", classmethod(lambda cls, env_file=None: cls(env)))
    args = argparse.Namespace(source=["advocacy_platform"], full_refresh=False, quiet=True,
                              env_file=None)
    return sync_command.run(args, out=io.StringIO(), err=err)


def test_log_filter_redacts_tracebacks_and_is_added_once(monkeypatch, tmp_path):
    secret = "s3cr3t-token-value"
    env = {"HUBSPOT_ACCESS_TOKEN": secret, "DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "ADVOCACY_EXPORTS_DIR": str(tmp_path / f"exports-{secret}")}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    during = io.StringIO()   # while it runs, the sync writes log records with its progress
    try:
        assert run_in_process(monkeypatch, env, during) == 1
        assert run_in_process(monkeypatch, env, during) == 1
        assert root.handlers.count(handler) == 1, "the caller's handler is back after the sync"
        filters = [f for f in handler.filters if isinstance(f, sync_command.RedactingFilter)]
        assert len(filters) == 1, handler.filters
        # a record logged with exc_info by anyone is redacted too, stack included
        try:
            raise RuntimeError(f"token {secret} rejected")
        except RuntimeError:
            logging.getLogger("connectors.somewhere").warning("boom", exc_info=True, stack_info=True)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = stream.getvalue()
    assert text.count("Traceback") == 1 and "RuntimeError: token *** rejected" in text
    assert secret not in text
    logged = during.getvalue()
    assert logged.count("Traceback") == 2 and "FileNotFoundError" in logged
    assert secret not in logged


def test_redact_hides_every_secret_of_any_length():
    settings = Settings({"HUBSPOT_ACCESS_TOKEN": "abcdef", "SALESFORCE_PASSWORD": "pw",
                         "SALESFORCE_SECURITY_TOKEN": "", "SALESFORCE_CLIENT_SECRET": "abc"})
    assert settings.secrets() == ["abcdef", "pw", "abc"]
    assert settings.redact("t=abcdef p=pw c=abc x") == "t=*** p=*** c=*** x"   # longest first
    assert settings.redact("") == "" and redact("nothing to hide", ["", ""]) == "nothing to hide"
    assert redact("a-b", ["a", "b"]) == "***-***"


def test_progress_lines_are_redacted():
    import io

    from connectors.source import ObjectResult, Progress

    settings = Settings({"HUBSPOT_ACCESS_TOKEN": "pat-secret-123"})
    stream = io.StringIO()
    progress = Progress(stream, redact=settings.redact)
    progress.start("hubspot", "contacts")
    progress.page("hubspot", "contacts", 1, 10)
    progress.done("hubspot", ObjectResult("contacts", records=10, pages=1,
                                          note="the API said: bad token pat-secret-123"))
    progress.message("retrying with pat-secret-123")
    text = stream.getvalue()
    assert "pat-secret-123" not in text and text.count("***") == 2, text
