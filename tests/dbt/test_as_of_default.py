"""as_of defaults to the last complete day in the reporting time zone (DEFINITIONS.md): a run
at 02:00 in New York reports through yesterday, not through the run's UTC date (a day with
only hours of data). Checked by compiling ``as_of_date()`` with time zones on both sides of UTC,
where the answer differs from the UTC date on any day."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")


def compiled_as_of(tmp_path: Path, dbt_vars: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["DUCKDB_PATH"] = str(tmp_path / "w.duckdb")
    proc = subprocess.run(
        [str(DBT), "compile", "--quiet", "--inline", "select {{ as_of_literal() }}",
         "--vars", dbt_vars, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
         "--no-use-colors"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1].removeprefix("select ").strip()


def last_complete_day(tz: str) -> str:
    return (dt.datetime.now(ZoneInfo(tz)).date() - dt.timedelta(days=1)).isoformat()


def test_default_as_of_is_yesterday_in_the_reporting_time_zone(tmp_path: Path) -> None:
    # UTC+14 and UTC-11: the two last complete days are two days apart, whatever the hour
    got = {}
    for tz in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        before = last_complete_day(tz)
        got[tz] = compiled_as_of(tmp_path, f"{{reporting_timezone: {tz}}}")
        assert got[tz] in (before, last_complete_day(tz)), tz
    assert got["Pacific/Kiritimati"] > got["Pacific/Pago_Pago"]
    # an explicit date wins
    assert compiled_as_of(tmp_path, "{as_of: '2026-03-31', reporting_timezone: Pacific/Kiritimati}") == "2026-03-31"


def test_unknown_reporting_time_zone_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="unknown time zone 'Mars/Olympus'"):
        compiled_as_of(tmp_path, "{reporting_timezone: Mars/Olympus}")
