"""Measuring child processes: wall time, CPU time and peak RSS of one process alone, and the
work the bench runs in them (``python -m pipelines.cli.bench.children generate|dbt ...``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_PROJECT_VARS = re.compile(r"^(HUBSPOT_|SALESFORCE_|GA4_|GOOGLE_APPLICATION_CREDENTIALS$|"
                           r"ADVOCACY_EXPORTS_DIR$|HISTORY_START_DATE$|DUCKDB_PATH$)")


# -- measuring child processes ------------------------------------------------------------------
# ``ru_maxrss`` of a child is no good here: subprocess starts children with vfork, and Linux
# carries the parent's RSS high-water mark across exec, so every child would "peak" at least at
# the bench's own size. Each child therefore reports its own peak (VmHWM of its address space,
# which starts afresh at exec) and its children's (RUSAGE_CHILDREN) from an atexit hook.
_WRAPPER = r"""
import atexit, os, resource, runpy, sys
def _report():
    hwm = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["ADVOCACY_BENCH_RSS_FILE"], "w") as fh:
        fh.write(f"{hwm} {kids}")
atexit.register(_report)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@dataclasses.dataclass
class ChildRun:
    code: int
    seconds: float
    cpu_seconds: float       # the child's user + system time (and its children's)
    peak_rss_mb: float       # the child's own peak RSS (VmHWM)
    children_peak_rss_mb: float  # the largest peak RSS among the processes it ran (dbt)
    fake_cpu_seconds: float  # this process's CPU meanwhile: the fakes serving the child
    stdout: str
    stderr: str


def run_module_child(module: str, args: list[str], env: dict[str, str], log_path: Path) -> ChildRun:
    """``python -m module args...`` in a child process, measured alone: wall time, CPU time
    (``os.wait4``) and peak RSS (reported by the child itself)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_path.with_suffix(".out"), log_path.with_suffix(".err")
    rss_path = log_path.with_suffix(".rss")
    rss_path.unlink(missing_ok=True)
    env = {**env, "ADVOCACY_BENCH_RSS_FILE": str(rss_path)}
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, module, *args], env=env, cwd=ROOT,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    try:
        own_kb, kids_kb = (int(x) for x in rss_path.read_text().split())
    except (OSError, ValueError):
        own_kb = kids_kb = 0
    return ChildRun(
        code=proc.returncode, seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=own_kb / 1024, children_peak_rss_mb=kids_kb / 1024,
        fake_cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        stdout=out_path.read_text(errors="replace"), stderr=err_path.read_text(errors="replace"),
    )


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _PROJECT_VARS.match(k)}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env



def dbt_build(warehouse: Path, as_of: dt.date, *, extra_args: list[str] | None = None) -> int:
    """`dbt build` of the project on ``warehouse`` as of ``as_of``, with this environment's dbt,
    as the nightly job runs it: without the unit tests (pipelines/transform.py
    PRODUCTION_EXCLUDES; they run in `make test`), so the time measured is production's."""
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    project = ROOT / "dbt_project"
    env = {**os.environ, "DUCKDB_PATH": str(warehouse), "DBT_PROFILES_DIR": str(project)}
    cmd = [dbt, "build", "--exclude-resource-type", "unit_test",
           "--project-dir", str(project), "--profiles-dir", str(project),
           "--vars", json.dumps({"as_of": as_of.isoformat()}), *(extra_args or [])]
    return subprocess.call(cmd, env=env, cwd=ROOT)



def _child(argv: list[str]) -> int:
    """Work the bench runs in a measured child process: ``generate STORE SEED SCALE`` or
    ``dbt WAREHOUSE AS_OF TARGET_PATH LOG_PATH``."""
    if argv[0] == "generate":
        from connectors.sandbox.config import WorldConfig
        from connectors.sandbox.world import generate

        generate(Path(argv[1]), WorldConfig(seed=int(argv[2]), scale=float(argv[3])))
        return 0
    if argv[0] == "dbt":
        return dbt_build(Path(argv[1]), dt.date.fromisoformat(argv[2]),
                         extra_args=["--target-path", argv[3], "--log-path", argv[4]])
    raise SystemExit(f"unknown bench child task {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
