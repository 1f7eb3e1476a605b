"""One scale of the bench: generate the world, serve it, a clean full sync of each source, an
incremental sync after the world moved on, and dbt build, each in a measured child process."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.cli.bench import identity
from pipelines.cli.bench.children import ROOT, child_env, run_module_child
from pipelines.cli.bench.minimum import changes, full_minimum, holdings, world_clock
from pipelines.cli.bench.traffic import CLASSIFIERS, Tally

CHILDREN = "pipelines.cli.bench.children"   # the module the measured child processes run
PEERS = "pipelines.cli.bench.peers"          # the naive clients and the wire
PEER_SOURCES = ("hubspot", "salesforce", "ga4")
_TOTAL = re.compile(r"^total: (\d+) records", re.MULTILINE)


def _records(stdout: str) -> int | None:
    m = _TOTAL.search(stdout)
    return int(m.group(1)) if m else None


def _sync(source: str, env: dict[str, str], logs: Path, label: str, sandbox: Any,
          tallies: dict[str, Tally]) -> dict[str, Any]:
    for tally in tallies.values():
        tally.reset()
    # an empty env file: the sync reads the sandbox's environment only, never a .env lying here
    (logs / "no.env").write_text("")
    run = run_module_child("pipelines.cli.main", ["sync", "--source", source, "--quiet",
                                              "--env-file", str(logs / "no.env")],
                           env, logs / f"{label}-{source}")
    if run.code != 0:
        tail = (run.stderr.strip().splitlines() or ["(no output)"])[-5:]
        print(f"   {source}: sync exit {run.code}: " + " | ".join(tail), file=sys.stderr, flush=True)
    out: dict[str, Any] = {
        "source": source, "code": run.code, "seconds": round(run.seconds, 2),
        "cpu_seconds": round(run.cpu_seconds, 2), "peak_rss_mb": round(run.peak_rss_mb, 1),
        "fake_cpu_seconds": round(run.fake_cpu_seconds, 2), "records": _records(run.stdout),
    }
    if source in tallies:
        out.update(tallies[source].snapshot())
        served = len(getattr(sandbox, source).requests())
        out["served"] = served
    return out


def _peer(kind: str, source: str, env: dict[str, str], here: Path) -> dict[str, Any]:
    """One contender of :mod:`pipelines.cli.bench.peers` in its own measured process."""
    naive_wh = here / f"naive-{source}.duckdb"
    naive_wh.unlink(missing_ok=True)
    run = run_module_child(PEERS, [kind, source], {**env, "DUCKDB_PATH": str(naive_wh)},
                           here / "logs" / f"{kind}-{source}")
    if run.code != 0:
        tail = (run.stderr.strip().splitlines() or ["(no output)"])[-3:]
        print(f"   {kind} {source}: exit {run.code}: " + " | ".join(tail), file=sys.stderr, flush=True)
    return {"source": source, "kind": kind, "code": run.code, "seconds": round(run.seconds, 2),
            "cpu_seconds": round(run.cpu_seconds, 2), "peak_rss_mb": round(run.peak_rss_mb, 1),
            "fake_cpu_seconds": round(run.fake_cpu_seconds, 2), "records": _records(run.stdout)}


def compare(full: list[dict[str, Any]], env: dict[str, str], here: Path) -> list[dict[str, Any]]:
    """For each API source synced: the naive official client and the bare HTTP loop, right
    after our full sync in the same run; a row per source with the three and their ratios."""
    out = []
    for ours in full:
        source = ours["source"]
        if source not in PEER_SOURCES or ours["code"] != 0:
            continue
        row: dict[str, Any] = {"source": source, "ours": {k: ours[k] for k in
                               ("seconds", "cpu_seconds", "peak_rss_mb", "records", "code")}}
        for kind in ("naive", "wire"):
            print(f"   {source}: {kind} ...", end="", flush=True)
            row[kind] = _peer(kind, source, env, here)
            print(f" {row[kind]['records']} records in {row[kind]['seconds']:.1f}s, "
                  f"peak RSS {row[kind]['peak_rss_mb']:.0f} MB", flush=True)
        rate = {k: (row[k]["records"] / row[k]["seconds"]) if row[k].get("records") and row[k]["seconds"]
                else None for k in ("ours", "naive", "wire")}
        row["records_per_s"] = {k: round(v) if v else None for k, v in rate.items()}
        for kind in ("naive", "wire"):
            row[f"ours_over_{kind}"] = round(rate["ours"] / rate[kind], 2) if rate["ours"] and rate[kind] else None
            row[f"rss_ours_over_{kind}"] = (round(ours["peak_rss_mb"] / row[kind]["peak_rss_mb"], 2)
                                            if row[kind]["peak_rss_mb"] else None)
        out.append(row)
    return out


def bench_scale(scale: float, seed: int, sources: list[str], workdir: Path, *,
                advance_days: int, dbt: bool, peers: bool = True) -> dict[str, Any]:
    from connectors.sandbox.server import Sandbox

    tag = f"scale{scale:g}"
    here = workdir / tag
    if here.exists():
        shutil.rmtree(here)
    here.mkdir(parents=True)
    logs = here / "logs"
    store_path = here / "world.sqlite"
    warehouse = here / "warehouse.duckdb"
    result: dict[str, Any] = {"scale": scale, "seed": seed}

    print(f"\n== scale {scale:g}: generating the world", flush=True)
    gen = run_module_child(CHILDREN, ["generate", str(store_path), str(seed), str(scale)],
                           child_env({}), logs / "generate")
    if gen.code != 0:
        raise RuntimeError(f"world generation failed at scale {scale}: {gen.stderr[-2000:]}")
    result["generate"] = {"seconds": round(gen.seconds, 2), "peak_rss_mb": round(gen.peak_rss_mb, 1),
                          "store_mb": round(store_path.stat().st_size / 2**20, 1)}
    print(f"   {gen.seconds:.1f}s, peak RSS {gen.peak_rss_mb:.0f} MB", flush=True)

    before = holdings(store_path)
    with Sandbox(store_path, here / "serve") as sandbox:
        tallies = {name: Tally(name, getattr(sandbox, name)) for name in CLASSIFIERS
                   if getattr(sandbox, name, None) is not None}
        env = child_env({**sandbox.env(), "DUCKDB_PATH": str(warehouse)})
        described = tallies["salesforce"].described if "salesforce" in tallies else None

        full: list[dict[str, Any]] = []
        for source in sources:
            print(f"== scale {scale:g}: full sync of {source}", flush=True)
            row = _sync(source, env, logs, "full", sandbox, tallies)
            print(f"   {row['records']} records in {row['seconds']:.1f}s, "
                  f"{row.get('requests', '-')} requests, peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
            full.append(row)
        minimum = full_minimum(before, set(described) if described is not None else None)
        for row in full:
            m = minimum.get(row["source"])
            if m is not None and "requests" in row:
                row["minimum"] = m["minimum"]
                row["data_minimum"] = m["data_minimum"]
                row["minimum_fixed"] = m["fixed"]
                row["minimum_detail"] = m["detail"]
        result["full"] = full
        if peers:
            print(f"== scale {scale:g}: the naive official clients and the wire", flush=True)
            result["peers"] = compare(full, env, here)
        result["holdings"] = {
            "hubspot": {t: {k: v for k, v in info.items() if k != "newest_ms"}
                        for t, info in before["hubspot"].items()},
            "salesforce": {o: info["records"] for o, info in before["salesforce"].items()},
            "ga4": {"dates": before["ga4"]["dates"],
                    "visitor_rows": sum(before["ga4"]["visitor_rows"].values()),
                    "traffic_rows": sum(before["ga4"]["traffic_rows"].values())},
        }
        result["warehouse_mb_full"] = round(warehouse.stat().st_size / 2**20, 1) if warehouse.exists() else None

        if advance_days > 0:
            print(f"== scale {scale:g}: advancing the world {advance_days} day(s)", flush=True)
            started = time.monotonic()
            sandbox.advance(advance_days)
            result["advance_seconds"] = round(time.monotonic() - started, 2)
            changed = changes(before, store_path, deletable=(
                set(tallies["salesforce"].deletable) if "salesforce" in tallies else None))
            incremental: list[dict[str, Any]] = []
            for source in sources:
                print(f"== scale {scale:g}: incremental sync of {source}", flush=True)
                row = _sync(source, env, logs, "incremental", sandbox, tallies)
                c = changed.get(source)
                if c is not None:
                    row["changed"] = c["changed"]
                    row["minimum"] = c["minimum"]
                    if "changed_dates" in c:
                        row["changed_dates"] = c["changed_dates"]
                print(f"   {row['records']} records in {row['seconds']:.1f}s, "
                      f"{row.get('requests', '-')} requests", flush=True)
                incremental.append(row)
            result["incremental"] = incremental

    if dbt:
        result["dbt"] = _dbt(store_path, warehouse, logs)
        if result["dbt"].get("code") == 0:
            result["identity"] = identity.from_build(logs.parent / "dbt-target", warehouse)
    return result


def _dbt(store_path: Path, warehouse: Path, logs: Path) -> dict[str, Any]:
    if not (ROOT / "dbt_project" / "dbt_project.yml").exists():
        return {"skipped": "dbt_project/dbt_project.yml not found"}
    as_of = world_clock(store_path) - dt.timedelta(days=1)
    print(f"== dbt build (as_of {as_of})", flush=True)
    # the bench's own target and log folders: never disturb dbt_project/target (partial parse
    # state, manifest) of whoever works in the project; so the parse is a full one every time
    run = run_module_child(CHILDREN, ["dbt", str(warehouse), as_of.isoformat(),
                                      str(logs.parent / "dbt-target"), str(logs.parent / "dbt-logs")],
                           child_env({}), logs / "dbt-build")
    summary = ""
    m = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", run.stdout)
    if m:
        summary = f"PASS={m.group(1)} WARN={m.group(2)} ERROR={m.group(3)} SKIP={m.group(4)}"
    print(f"   exit {run.code} in {run.seconds:.1f}s {summary}", flush=True)
    return {"code": run.code, "seconds": round(run.seconds, 2),
            "peak_rss_mb": round(max(run.peak_rss_mb, run.children_peak_rss_mb), 1),
            "summary": summary}
