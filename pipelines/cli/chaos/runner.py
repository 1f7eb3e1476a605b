"""The chaos runs: nights of syncs under random faults, some SIGKILLed at random points and
run again, the world advancing a day between nights; after each night the raw layer (and,
every few nights, the marts) must equal a clean warehouse synced from the same world.

One sandbox serves both warehouses. A night:

1. the world advances a day (not before the first night);
2. ``runs`` syncs of random source subsets into the *chaos* warehouse, each with a random
   fault plan (:mod:`.faults`); a share of them run as ``advocacy sync`` processes that are
   SIGKILLed after a random number of requests (plus a random few milliseconds, so that
   kills land inside DuckDB writes too); the others run in this process, where a source a
   fault stops (an API limit) stops as it would at night;
3. one sync of every source without faults (the rerun a failed night gets);
4. the *clean* warehouse syncs the same world without faults; both are compared row by row
   (:mod:`.compare`): nothing lost, duplicated, changed or extra.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from connectors import registry
from connectors.sandbox.fakes.base import FaultPlan
from connectors.source import Progress, Settings
from connectors.warehouse import Warehouse
from pipelines.cli.chaos import faults as fault_plans
from pipelines.cli.chaos.compare import Difference, compare_marts, compare_raw

ROOT = Path(__file__).resolve().parents[3]
SOURCES = list(registry.SOURCES)


@dataclasses.dataclass
class Tally:
    nights: int = 0
    runs: int = 0              # syncs under a fault plan (killed ones included)
    fault_runs: int = 0        # of them, runs in which at least one fault was injected
    kills: int = 0             # syncs SIGKILLed before they ended
    source_stops: int = 0      # sources a fault stopped (an API limit) in an in-process run
    faults: Counter = dataclasses.field(default_factory=Counter)
    lost: int = 0
    duplicated: int = 0
    changed: int = 0
    extra: int = 0
    raw_checks: int = 0        # nights whose raw layer was compared
    mart_checks: int = 0       # nights whose marts were built and compared
    mart_rows_differing: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def add(self, diffs: list[Difference]) -> None:
        for d in diffs:
            self.lost += d.lost
            self.duplicated += d.duplicated
            self.changed += d.changed
            self.extra += d.extra

    @property
    def ok(self) -> bool:
        return not (self.problems or self.lost or self.duplicated or self.changed or self.extra
                    or self.mart_rows_differing)

    def as_dict(self) -> dict[str, object]:
        out = dataclasses.asdict(self)
        out["faults"] = dict(sorted(self.faults.items()))
        return out


class Chaos:
    def __init__(self, workdir: Path, *, seed: int = 5, scale: float = 0.02, runs: int = 10,
                 kill_rate: float = 0.3, kill_within: int = 60, marts_every: int = 0,
                 out: TextIO | None = None) -> None:
        self.workdir = Path(workdir)
        self.rng = random.Random(seed)
        self.seed, self.scale, self.runs = seed, scale, runs
        self.kill_rate, self.marts_every = kill_rate, marts_every
        self.kill_within = kill_within   # a kill comes after 1..kill_within requests
        self.out = out or sys.stdout
        self.tally = Tally()
        self.chaos_path = self.workdir / "chaos.duckdb"
        self.clean_path = self.workdir / "clean.duckdb"
        self.sandbox = None

    # -- set-up -------------------------------------------------------------------------
    def __enter__(self) -> Chaos:
        from connectors.sandbox.config import WorldConfig
        from connectors.sandbox.server import Sandbox
        from connectors.sandbox.world import generate

        self.workdir.mkdir(parents=True, exist_ok=True)
        store = self.workdir / "world.sqlite"
        for path in (store, self.chaos_path, self.clean_path):
            for p in (path, path.with_name(path.name + ".wal")):
                p.unlink(missing_ok=True)
        generate(store, WorldConfig(seed=self.seed, scale=self.scale))
        self.sandbox = Sandbox(store, self.workdir / "sandbox").start()
        self.env = self.sandbox.env()
        self.env_file = self.workdir / "empty.env"   # the sync process reads no .env of the repo
        self.env_file.write_text("")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()

    def _servers(self) -> list:
        sb = self.sandbox
        return [s for s in (sb.hubspot, sb.salesforce, sb.ga4) if s is not None]

    def set_faults(self, spec: str) -> FaultPlan:
        plan = FaultPlan.parse(spec)
        for server in self._servers():
            server.app.faults = plan.for_service(server.app.service)
        return plan

    def _requests(self) -> int:
        return sum(len(s.request_log) for s in self._servers())

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- syncs --------------------------------------------------------------------------
    def sync_here(self, path: Path, sources: list[str]) -> list[str]:
        """Sync ``sources`` into ``path`` in this process; the sources that failed, with why."""
        failed: list[str] = []
        settings = Settings(dict(self.env))
        with Warehouse(path, wait_seconds=60) as wh:
            wh.ensure_raw_layer()
            for name in sources:
                try:
                    registry.source_class(name)(settings, wh, Progress(io.StringIO(), quiet=True)).sync()
                except Exception as exc:  # noqa: BLE001 - a fault may stop a source: counted
                    failed.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
        return failed

    def sync_killed(self, path: Path, sources: list[str]) -> bool:
        """``advocacy sync`` of ``sources`` in a child process, SIGKILLed after a random number
        of requests; True when it was killed (False: it ended first)."""
        env = {**os.environ, **self.env, "DUCKDB_PATH": str(path), "DUCKDB_LOCK_WAIT_SECONDS": "60"}
        cmd = [sys.executable, "-m", "pipelines.cli.main", "sync", "--quiet",
               "--env-file", str(self.env_file)]
        for name in sources:
            cmd += ["--source", name]
        after = self.rng.randint(1, self.kill_within)
        extra_ms = self.rng.uniform(0, 0.05)
        start = self._requests()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while proc.poll() is None and self._requests() - start < after:
                time.sleep(0.002)
            if proc.poll() is not None:
                return False
            time.sleep(extra_ms)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return proc.returncode == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # -- one night ------------------------------------------------------------------------
    def night(self, number: int) -> None:
        if number:
            self.sandbox.advance(1)
        t = self.tally
        for _ in range(self.runs):
            sources = [s for s in SOURCES if self.rng.random() < 0.5] or [self.rng.choice(SOURCES)]
            plan = self.set_faults(fault_plans.draw_plan(self.rng, sources))
            if self.rng.random() < self.kill_rate:
                t.kills += self.sync_killed(self.chaos_path, sources)
            else:
                t.source_stops += len(self.sync_here(self.chaos_path, sources))
            fired = fault_plans.fired(plan)
            t.runs += 1
            t.fault_runs += bool(fired)
            t.faults.update(fired)
        # the rerun of the night, and the clean warehouse, on the same world, against a HubSpot
        # search index that has caught up (lag 0): a change made in the last hour of the day
        # may be indexed between the two syncs (the default lag is an hour), which would show
        # as a row one side has and the other does not yet, though the next night has it on
        # both (seen at night 45 of a long run: a deal created at 23:44, synced by a run under
        # `lag=0`, not yet visible to the clean sync). Losses that the faulted runs' cursors
        # caused still show: the rerun reads from its cursor, whatever the index holds.
        self.set_faults("hubspot:lag=0")
        for path, what in ((self.chaos_path, "rerun"), (self.clean_path, "clean sync")):
            failed = self.sync_here(path, SOURCES)
            if failed:
                t.problems.append(f"night {number}: {what} failed without faults: {failed}")
        self.set_faults("")
        diffs = [d for d in compare_raw(self.chaos_path, self.clean_path)]
        t.raw_checks += 1
        t.add(diffs)
        bad = [str(d) for d in diffs if d]
        if bad:
            t.problems.append(f"night {number}: raw layer differs: {'; '.join(bad)}")
        if self.marts_every and (number + 1) % self.marts_every == 0:
            self.check_marts(number)
        t.nights += 1

    def check_marts(self, number: int) -> None:
        from pipelines.cli.bench.children import dbt_build

        clock = dt.date.fromisoformat(json.loads(json.dumps(self._clock())))
        as_of = clock - dt.timedelta(days=1)
        for path in (self.chaos_path, self.clean_path):
            target = self.workdir / f"dbt-{path.stem}"
            code = dbt_build(path, as_of, extra_args=[
                "--quiet", "--target-path", str(target / "target"), "--log-path", str(target / "logs")])
            if code:
                self.tally.problems.append(f"night {number}: dbt build of {path.name} failed ({code})")
                return
        diffs = compare_marts(self.chaos_path, self.clean_path)
        self.tally.mart_checks += 1
        self.tally.mart_rows_differing += sum(d.lost + d.extra for d in diffs)
        bad = [str(d) for d in diffs if d]
        if bad:
            self.tally.problems.append(f"night {number}: marts differ: {'; '.join(bad)}")

    def _clock(self) -> str:
        from connectors.sandbox import store

        conn = store.connect(self.sandbox.store_path, readonly=True)
        try:
            return str(store.get_meta(conn, "clock"))
        finally:
            conn.close()

    def run(self, nights: int, *, minutes: float | None = None) -> Tally:
        started = time.monotonic()
        deadline = started + minutes * 60 if minutes else None
        for number in range(nights):
            if deadline and time.monotonic() > deadline:
                self.say(f"time is up after {number} nights")
                break
            self.night(number)
            t = self.tally
            self.tally.seconds = time.monotonic() - started
            self.say(f"night {number + 1}/{nights}: {t.runs} runs ({t.fault_runs} with faults, "
                     f"{sum(t.faults.values())} faults), {t.kills} kills, {t.lost} lost, "
                     f"{t.duplicated} duplicated, {t.changed} changed, {t.extra} extra, "
                     f"marts compared {t.mart_checks}x; {t.seconds:.0f}s")
            if t.problems:
                for p in t.problems:
                    self.say("PROBLEM " + p)
                break
        if self.marts_every and self.tally.nights and self.tally.nights % self.marts_every \
                and not self.tally.problems:
            self.check_marts(self.tally.nights - 1)   # the last night's marts, always
        self.tally.seconds = time.monotonic() - started
        return self.tally


def markdown(figures: dict) -> str:
    """The figures of a run as docs/RELIABILITY.md's table."""
    faults = figures["faults"]
    rows = [
        ("nights (world advanced a day between nights)", figures["nights"]),
        ("faulted sync runs (random source subsets)", figures["runs"]),
        ("... in which at least one fault fired", figures["fault_runs"]),
        ("faults injected", sum(faults.values())),
        *((f"... `{kind}`", n) for kind, n in sorted(faults.items())),
        ("SIGKILLs (an `advocacy sync` process killed mid-run, then run again)", figures["kills"]),
        ("sources that ended failed under faults (API limit, retries spent), resumed later", figures["source_stops"]),
        ("nights whose raw layer was compared with a clean run", figures["raw_checks"]),
        ("nights whose marts were built and compared with a clean build", figures["mart_checks"]),
        ("rows lost", figures["lost"]),
        ("rows duplicated", figures["duplicated"]),
        ("rows changed", figures["changed"]),
        ("rows extra", figures["extra"]),
        ("mart rows differing", figures["mart_rows_differing"]),
        ("minutes", round(figures["seconds"] / 60, 1)),
    ]
    return "\n".join(["| | |", "|---|---:|", *(f"| {a} | {b} |" for a, b in rows)])


def quiet_logs() -> None:
    """Retry warnings of the faulted runs are expected by the hundred: kept off the console."""
    logging.getLogger().setLevel(logging.ERROR)
