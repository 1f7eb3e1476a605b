"""One scale end to end, as a user runs it: generate the world, a full sync of every source,
``dbt build``, the world moves on a day, the nightly's incremental sync and ``dbt build`` — each
step a child process under ``/usr/bin/time -v`` (wall time and peak RSS of exactly that
process), results appended to ``<workdir>/steps.jsonl`` and printed as one table.

    python -m pipelines.cli.bench.endtoend --scale 100 --workdir data/s100
    python -m pipelines.cli.bench.endtoend --scale 100 --workdir data/s100 --steps dbt_full,advance,sync_incremental,dbt_nightly

Steps (``--steps``, default all, in this order): ``generate`` (skipped when the store exists and
``--regenerate`` is not given), ``sync_full`` (into an empty warehouse), ``dbt_full`` (the first
build: every incremental model built in full), ``advance`` (the world moves on ``--days``),
``sync_incremental`` (the saved cursors), ``dbt_nightly`` (the incremental build). The dbt steps
share one target folder, as a deployed project's partial parse does from night to night.
``docs/PERFORMANCE.md`` ("Scale 100 end to end") holds the figures and the commands.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.cli.bench.children import ROOT, child_env
from pipelines.cli.bench.minimum import world_clock

STEPS = ("generate", "sync_full", "dbt_full", "advance", "sync_incremental", "dbt_nightly")
SOURCES = ("hubspot", "salesforce", "ga4", "advocacy_platform")
TIME = "/usr/bin/time"
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")
_CPU = re.compile(r"(User|System) time \(seconds\): ([\d.]+)")


def timed(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``cmd`` under ``/usr/bin/time -v``: its exit code, wall seconds, CPU seconds and peak
    RSS (the largest of the process and its waited-for children, as GNU time reports it)."""
    if not Path(TIME).exists():
        raise SystemExit(f"{TIME} is missing: apt-get install -y time")
    log.parent.mkdir(parents=True, exist_ok=True)
    time_file = log.with_suffix(".time")
    started = time.monotonic()
    with open(log.with_suffix(".out"), "wb") as out:
        code = subprocess.call([TIME, "-v", "-o", str(time_file), *cmd], env=env, cwd=ROOT,
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    text = time_file.read_text() if time_file.exists() else ""
    rss = _RSS.search(text)
    wall = _WALL.search(text)
    if wall:
        seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return {"code": code, "seconds": round(seconds, 1),
            "cpu_seconds": round(sum(float(v) for _, v in _CPU.findall(text)), 1),
            "peak_rss_mb": round(int(rss.group(1)) / 1024, 0) if rss else None,
            "command": " ".join(cmd[2:] if cmd[:2] == [sys.executable, "-m"] else cmd)}


def _python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.scale: float = args.scale
        self.seed: int = args.seed
        self.days: int = args.days
        self.work = Path(args.workdir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.store = self.work / "world.sqlite"
        self.warehouse = self.work / "warehouse.duckdb"
        self.logs = self.work / "logs"
        self.regenerate: bool = args.regenerate
        self.project = Path(args.project).resolve()
        (self.logs).mkdir(parents=True, exist_ok=True)
        (self.logs / "no.env").write_text("")

    def record(self, step: str, row: dict[str, Any]) -> dict[str, Any]:
        row = {"step": step, "scale": self.scale, "seed": self.seed,
               "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "load_before": row.pop("load_before", None), "load_after": _load_avg(), **row}
        with open(self.work / "steps.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"   {step}: {row.get('seconds')} s, peak RSS {row.get('peak_rss_mb')} MB, "
              f"exit {row.get('code')}  ({row.get('detail', '')})", flush=True)
        if row.get("code") not in (0, None):
            raise SystemExit(f"step {step} failed: see {self.logs}")
        return row

    # -- steps ----------------------------------------------------------------------------
    def generate(self) -> None:
        if self.store.exists() and not self.regenerate:
            print(f"   generate: {self.store} exists (--regenerate to make it again)")
            return
        for p in self.work.glob("world.sqlite*"):
            p.unlink()
        # the sandbox's files of the old world (the advocacy platform's CSV exports) go with
        # it: a new world's exports beside the old ones would be read twice
        shutil.rmtree(self.work / "serve", ignore_errors=True)
        load = _load_avg()
        row = timed(_python("pipelines.cli.main", "sandbox", "generate", "--seed", str(self.seed),
                            "--scale", f"{self.scale:g}", "--out", str(self.store)),
                    child_env({}), self.logs / "generate")
        row["store_mb"] = round(self.store.stat().st_size / 2**20)
        self.record("generate", {**row, "load_before": load})

    def _sync(self, step: str) -> None:
        from connectors.sandbox.server import Sandbox

        if step == "sync_full":
            for p in self.work.glob("warehouse.duckdb*"):
                p.unlink()
        with Sandbox(self.store, self.work / "serve") as sandbox:
            env = child_env({**sandbox.env(), "DUCKDB_PATH": str(self.warehouse)})
            total = {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mb": 0.0, "records": 0}
            load = _load_avg()
            for source in SOURCES:
                row = timed(_python("pipelines.cli.main", "sync", "--source", source, "--quiet",
                                    "--env-file", str(self.logs / "no.env")),
                            env, self.logs / f"{step}-{source}")
                out = (self.logs / f"{step}-{source}.out").read_text(errors="replace")
                m = re.search(r"^total: (\d+) records", out, re.MULTILINE)
                row["records"] = int(m.group(1)) if m else None
                row["detail"] = f"{source}: {row['records']} records"
                self.record(f"{step}:{source}", {**row, "load_before": load})
                load = _load_avg()
                total["seconds"] += row["seconds"]
                total["cpu_seconds"] += row["cpu_seconds"]
                total["peak_rss_mb"] = max(total["peak_rss_mb"], row["peak_rss_mb"] or 0)
                total["records"] += row["records"] or 0
        total["warehouse_mb"] = round(self.warehouse.stat().st_size / 2**20)
        total["detail"] = f"{total['records']} records, warehouse {total['warehouse_mb']} MB"
        total["code"] = 0
        total["seconds"] = round(total["seconds"], 1)
        total["cpu_seconds"] = round(total["cpu_seconds"], 1)
        self.record(step, total)

    def _dbt(self, step: str) -> None:
        as_of = world_clock(self.store) - dt.timedelta(days=1)
        target, logs = self.work / "dbt-target", self.work / "dbt-logs"
        load = _load_avg()
        # as the nightly job runs it (pipelines/transform.py): no unit tests, run_date the day
        # after as_of (a reporting run)
        run_date = as_of + dt.timedelta(days=1)
        dbt = str(Path(sys.executable).with_name("dbt"))
        row = timed([dbt, "build", "--exclude-resource-type", "unit_test",
                     "--project-dir", str(self.project), "--profiles-dir", str(self.project),
                     "--target-path", str(target), "--log-path", str(logs),
                     "--vars", json.dumps({"as_of": as_of.isoformat(), "run_date": run_date.isoformat()})],
                    child_env({"DUCKDB_PATH": str(self.warehouse)}), self.logs / step)
        out = (self.logs / f"{step}.out").read_text(errors="replace")
        m = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", out)
        row["detail"] = f"as_of {as_of}, " + (m.group(0) if m else "no summary")
        row["models"] = _slowest(target / "run_results.json")
        self.record(step, {**row, "load_before": load})

    def advance(self) -> None:
        load = _load_avg()
        row = timed(_python("pipelines.cli.bench.endtoend", "--advance-store", str(self.store),
                            "--days", str(self.days)), child_env({}), self.logs / "advance")
        row["detail"] = f"world clock now {world_clock(self.store)}"
        self.record("advance", {**row, "load_before": load})

    def run(self, steps: list[str]) -> None:
        for step in steps:
            print(f"== scale {self.scale:g}: {step} (load {_load_avg()})", flush=True)
            if step == "generate":
                self.generate()
            elif step.startswith("sync_"):
                self._sync(step)
            elif step.startswith("dbt_"):
                self._dbt(step)
            elif step == "advance":
                self.advance()
        summarise(self.work / "steps.jsonl")


def _slowest(run_results: Path, n: int = 8) -> list[list[Any]]:
    """The ``n`` slowest nodes of a dbt run: [unique_id, seconds]."""
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    rows = sorted(((r["unique_id"], round(r.get("execution_time") or 0, 2)) for r in results),
                  key=lambda r: -r[1])
    return [list(r) for r in rows[:n]]


def summarise(path: Path) -> None:
    """The latest row of each step as a Markdown table, plus nightly / full."""
    latest = _latest(path)
    print("\n| step | wall s | CPU s | peak RSS MB | detail | load avg before/after |")
    print("|---|---:|---:|---:|---|---|")
    for step, row in latest.items():
        print(f"| {step} | {row['seconds']} | {row.get('cpu_seconds', '')} | {row.get('peak_rss_mb')} "
              f"| {row.get('detail', '')} | {row.get('load_before')} / {row.get('load_after')} |")
    full = [latest.get(s) for s in ("sync_full", "dbt_full")]
    nightly = [latest.get(s) for s in ("sync_incremental", "dbt_nightly")]
    if all(full) and all(nightly):
        f = sum(r["seconds"] for r in full)
        n = sum(r["seconds"] for r in nightly)
        print(f"\nnightly / full = {n:.1f} / {f:.1f} s = {n / f:.3f}  "
              f"(dbt alone: {nightly[1]['seconds']} / {full[1]['seconds']} s = "
              f"{nightly[1]['seconds'] / full[1]['seconds']:.3f})")


def _latest(path: Path) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            latest[row["step"]] = row
    return latest


def targets(root: Path) -> list[list[str]]:
    """The issue's targets against the latest runs under ``root`` (``scale1``, ``scale10``,
    ``scale100`` workdirs, as ``make bench`` leaves them): [target, measured, verdict]."""
    runs = {s: _latest(root / f"scale{s}" / "steps.jsonl") for s in ("1", "10", "100")}
    rows: list[list[str]] = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "NOT met")

    gen = runs["100"].get("generate")
    rows.append(["world generation at scale 100 < 300 s and < 4 GiB",
                 f"{gen['seconds']} s wall, {gen.get('cpu_seconds')} s CPU, {gen['peak_rss_mb']} MB "
                 f"(load {gen.get('load_before')} / {gen.get('load_after')})" if gen else "–",
                 verdict(gen and gen["seconds"] < 300 and gen["peak_rss_mb"] < 4096)])
    for source in SOURCES:
        big, small = (runs[s].get(f"sync_full:{source}") for s in ("100", "1"))
        ratio = big["peak_rss_mb"] / small["peak_rss_mb"] if big and small else None
        rows.append([f"full sync peak RSS scale 100 / scale 1 <= 1.5 ({source})",
                     f"{big['peak_rss_mb']:.0f} / {small['peak_rss_mb']:.0f} MB = {ratio:.2f}" if ratio else "–",
                     verdict(None if ratio is None else ratio <= 1.5)])
    d100, d10 = runs["100"].get("dbt_full"), runs["10"].get("dbt_full")
    rows.append(["dbt build at scale 100 < 60 s",
                 f"{d100['seconds']} s wall, {d100.get('cpu_seconds')} s CPU (load {d100.get('load_before')})"
                 if d100 else "–", verdict(d100 and d100["seconds"] < 60)])
    if d100 and d10:
        rows.append(["dbt build scale 100 / scale 10 <= 10",
                     f"wall {d100['seconds'] / d10['seconds']:.2f}, CPU "
                     f"{d100['cpu_seconds'] / max(d10['cpu_seconds'], 0.1):.2f}",
                     verdict(d100["seconds"] / d10["seconds"] <= 10)])
    for s in ("10", "100"):
        r = runs[s]
        full = [r.get(k) for k in ("sync_full", "dbt_full")]
        nightly = [r.get(k) for k in ("sync_incremental", "dbt_nightly")]
        if all(full) and all(nightly):
            f = sum(x["seconds"] for x in full)
            n = sum(x["seconds"] for x in nightly)
            fc = sum(x["cpu_seconds"] for x in full)
            nc = sum(x["cpu_seconds"] for x in nightly)
            rows.append([f"nightly / full <= 0.2 at scale {s}",
                         f"wall {n:.0f} / {f:.0f} s = {n / f:.2f}; CPU {nc:.0f} / {fc:.0f} s = {nc / fc:.2f}",
                         verdict(n / f <= 0.2)])
        else:
            rows.append([f"nightly / full <= 0.2 at scale {s}", "–", verdict(None)])
    return rows


def print_targets(root: Path) -> None:
    print("\n| target | measured | verdict |\n|---|---|---|")
    for row in targets(root):
        print("| " + " | ".join(row) + " |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.cli.bench.endtoend", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--days", type=int, default=1, help="days the world advances (default 1)")
    p.add_argument("--workdir", default=None, help="default data/endtoend/scale<N>")
    p.add_argument("--steps", default=",".join(STEPS))
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--project", default=str(ROOT / "dbt_project"),
                   help="the dbt project to build (default: this checkout's)")
    p.add_argument("--summary", action="store_true", help="print the table of the workdir only")
    p.add_argument("--targets", metavar="DIR",
                   help="print the targets against DIR/scale1, scale10, scale100 (make bench's workdirs)")
    p.add_argument("--advance-store", help=argparse.SUPPRESS)   # the measured child of `advance`
    args = p.parse_args(argv)
    if args.advance_store:
        from connectors.sandbox.server import Sandbox

        Sandbox(args.advance_store, Path(args.advance_store).parent / "serve").advance(args.days)
        return 0
    if args.targets:
        print_targets(Path(args.targets))
        return 0
    args.workdir = args.workdir or str(ROOT / "data" / "endtoend" / f"scale{args.scale:g}")
    if args.summary:
        summarise(Path(args.workdir) / "steps.jsonl")
        return 0
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(steps) - set(STEPS)
    if unknown:
        p.error(f"unknown steps {sorted(unknown)}; choose from {', '.join(STEPS)}")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    Run(args).run(steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
