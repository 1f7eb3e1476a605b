"""``advocacy check`` as a user runs it (a subprocess of the real CLI) against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.source import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run_check(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
            if k in os.environ}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli.main", "check", *args],   # cwd holds no .env
        env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def secrets_of(env: dict[str, str]) -> list[str]:
    values = list(Settings(env).secrets())
    key_file = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key_file and Path(key_file).exists():
        info = json.loads(Path(key_file).read_text())
        values += [info["private_key_id"]]
        values += [line for line in info["private_key"].splitlines()
                   if line and not line.startswith("-----")][:3]
    return [v for v in values if v]


def assert_no_secrets(proc: subprocess.CompletedProcess, env: dict[str, str]) -> None:
    text = proc.stdout + proc.stderr
    for secret in secrets_of(env):
        assert secret not in text


def test_all_ok_against_the_sandbox(sandbox_env, tmp_path):
    env = {**sandbox_env, "DUCKDB_PATH": str(tmp_path / "data" / "warehouse.duckdb")}
    proc = run_check(env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert not [line for line in lines if line.startswith("[FAIL]")]
    for source in ("warehouse", "ga4", "advocacy_platform"):
        assert any(line.startswith(f"[ok  ] {source}:") for line in lines), proc.stdout
    assert "all checks passed" in proc.stdout
    assert_no_secrets(proc, env)


def test_wrong_hubspot_token_fails_with_a_fix(sandbox_env, tmp_path):
    env = {**sandbox_env, "DUCKDB_PATH": str(tmp_path / "w.duckdb"),
           "HUBSPOT_ACCESS_TOKEN": "pat-na1-00000000-wrong-token-0000"}
    proc = run_check(env, tmp_path)
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert failed and all(line.startswith("[FAIL] hubspot:") for line in failed), proc.stdout
    assert all(" -> " in line for line in failed)
    assert_no_secrets(proc, env)
    assert_no_secrets(proc, sandbox_env)


def test_missing_ga4_dimension_fails_with_a_fix(sandbox_env, tmp_path):
    env = {**sandbox_env, "DUCKDB_PATH": str(tmp_path / "w.duckdb"),
           "GA4_VISITOR_DIMENSION": "customEvent:nope"}
    proc = run_check(env, tmp_path, "--source", "ga4")
    assert proc.returncode == 1
    (failed,) = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert failed.startswith("[FAIL] ga4: visitor dimension customEvent:nope")
    assert "Custom definitions" in failed and "every event" in failed
    assert_no_secrets(proc, env)


def test_unconfigured_sources_are_skipped_not_failed(tmp_path):
    # (salesforce is left out: its check() reports missing variables as a FAIL finding); one
    # source is configured: with none at all, check fails (tests/cli/test_first_hour.py)
    (tmp_path / "exports").mkdir()
    proc = run_check({"DUCKDB_PATH": str(tmp_path / "w.duckdb"),
                      "ADVOCACY_EXPORTS_DIR": str(tmp_path / "exports")}, tmp_path, "--source", "ga4",
                     "--source", "advocacy_platform", "--source", "hubspot")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("[skip]")]
    # GA4 needs only the property id: credentials may be Application Default Credentials
    assert any("ga4: not configured: GA4_PROPERTY_ID not set" in s
               for s in skipped), proc.stdout
    assert any(s.startswith("[skip] hubspot: not configured: HUBSPOT_ACCESS_TOKEN")
               for s in skipped)


def test_unwritable_warehouse_folder_fails(tmp_path):
    if os.geteuid() == 0:
        target = Path("/proc/advocacy/warehouse.duckdb")   # not writable even for root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "warehouse.duckdb"
    proc = run_check({"DUCKDB_PATH": str(target), "ADVOCACY_EXPORTS_DIR": str(tmp_path)}, tmp_path,
                     "--source", "advocacy_platform")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("[FAIL] warehouse:")
    assert "DUCKDB_PATH" in proc.stdout.splitlines()[0]


def test_short_secrets_are_redacted_too(tmp_path):
    # a 3-character token (an admin's placeholder, a truncated paste) is still a secret; the
    # folder named after it makes the advocacy check print it in a FAIL line
    secret = "Q7z"
    folder = tmp_path / f"exports-{secret}"
    env = {"DUCKDB_PATH": str(tmp_path / "w.duckdb"), "HUBSPOT_ACCESS_TOKEN": secret,
           "ADVOCACY_EXPORTS_DIR": str(folder)}
    proc = run_check(env, tmp_path, "--source", "advocacy_platform")
    assert proc.returncode == 1
    (failed,) = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert failed.startswith("[FAIL] advocacy_platform: exports folder") and "exports-***" in failed
    assert secret not in proc.stdout + proc.stderr
