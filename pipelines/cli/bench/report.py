"""The bench's figures as markdown, and the section of docs/PERFORMANCE.md they replace."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from pipelines.cli.bench import identity

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "PERFORMANCE.md"
RESULTS = ROOT / "bench" / "results"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# -- the report ------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    mem_gb = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = ""
    try:
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}   # read-only: never touch the index
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               env=env, capture_output=True, text=True, timeout=30).stdout.strip()
        if commit and dirty:
            commit += " + uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import duckdb
        duck = duckdb.__version__
    except ImportError:
        duck = "?"
    return {"cores": str(os.cpu_count()), "cpu": cpu, "memory": mem_gb,
            "python": platform.python_version(), "duckdb": duck,
            "os": f"{platform.system()} {platform.release()}",
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit or "?",
            "load": load_average()}


def _f(value: Any, fmt: str = "{:,}") -> str:
    if value is None or value == "":
        return "–"
    return fmt.format(value)


def _ratio(a: int | None, b: int | None) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:.2f}"


def _label(row: dict[str, Any]) -> str:
    return row["source"] if row["code"] == 0 else f"{row['source']} (exit {row['code']})"


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{k} {n:,}" for k, n in kinds.items())


def render(results: list[dict[str, Any]], info: dict[str, str], argv: str,
           identity_stress: list[dict[str, Any]] | None = None) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), {info['memory']} RAM, "
        f"{info['os']}, Python {info['python']}, DuckDB {info['duckdb']}; commit {info['commit']}; "
        f"load average {info.get('load', '?')} at the end (a shared machine). "
        f"Command: `{argv}`.",
        "",
        "**Clean full sync** (empty warehouse; each source in its own process; requests as "
        "served by the fakes; *min* = the fewest requests that read the same records at the "
        "largest page sizes the APIs allow: record pages plus the *fixed* requests no client "
        "can do without, see below; *data / min data* compares the record pages alone):",
        "",
        "| scale | source | records | wall s | records/s | client CPU s | fakes CPU s | peak RSS MB | requests | data | overhead | min | of which fixed | requests / min | data / min data |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for row in r.get("full", []):
            rps = (row["records"] / row["seconds"]) if row.get("records") and row["seconds"] else None
            lines.append(
                f"| {r['scale']:g} | {_label(row)} "
                f"| {_f(row.get('records'))} | {row['seconds']:.1f} | {_f(rps, '{:,.0f}')} "
                f"| {row['cpu_seconds']:.1f} | {row['fake_cpu_seconds']:.1f} | {row['peak_rss_mb']:.0f} "
                f"| {_f(row.get('requests'))} | {_f(row.get('data'))} | {_f(row.get('overhead'))} "
                f"| {_f(row.get('minimum'))} | {_f(row.get('minimum_fixed'))} "
                f"| {_ratio(row.get('requests'), row.get('minimum'))} "
                f"| {_ratio(row.get('data'), row.get('data_minimum'))} |")
    lines += ["", "Requests by kind (full sync):", ""]
    for r in results:
        for row in r.get("full", []):
            if row.get("kinds"):
                lines.append(f"- scale {r['scale']:g}, {row['source']}: {_kinds(row['kinds'])}")
    if any(r.get("incremental") for r in results):
        lines += [
            "",
            "**Incremental sync** after the world moved on "
            f"{max((r.get('advance_days') or 1) for r in results)} day (*changed* = records whose "
            "cursor field moved into the connector's window, GA4: rows on dates that are new or "
            "revised; *min* = pages to read those at the APIs' page sizes, plus the lists every "
            "run must read and the same fixed requests as a full sync, see below):",
            "",
            "| scale | source | changed | records written | wall s | peak RSS MB | requests | data | overhead | min | requests / min | requests vs full |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            full = {row["source"]: row for row in r.get("full", [])}
            for row in r.get("incremental", []):
                f_req = full.get(row["source"], {}).get("requests")
                changed = _f(row.get("changed"))
                if row.get("changed_dates") is not None:
                    changed += f" ({row['changed_dates']} dates)"
                share = f"{row['requests'] / f_req:.0%}" if row.get("requests") and f_req else "–"
                lines.append(
                    f"| {r['scale']:g} | {_label(row)} "
                    f"| {changed} | {_f(row.get('records'))} | {row['seconds']:.1f} "
                    f"| {row['peak_rss_mb']:.0f} | {_f(row.get('requests'))} | {_f(row.get('data'))} "
                    f"| {_f(row.get('overhead'))} | {_f(row.get('minimum'))} "
                    f"| {_ratio(row.get('requests'), row.get('minimum'))} | {share} |")
        lines += ["", "Requests by kind (incremental sync):", ""]
        for r in results:
            for row in r.get("incremental", []):
                if row.get("kinds"):
                    lines.append(f"- scale {r['scale']:g}, {row['source']}: {_kinds(row['kinds'])}")
    lines += [
        "",
        "**World, warehouse and dbt:**",
        "",
        "| scale | generate s | generate peak RSS MB | world store MB | warehouse MB (after full sync) | dbt build s | dbt peak RSS MB | dbt result |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        g = r["generate"]
        d = r.get("dbt") or {"skipped": "--no-dbt"}
        if "skipped" in d:
            dbt_cells = f"– | – | skipped: {d['skipped']}"
        else:
            verdict = "ok" if d["code"] == 0 else f"exit {d['code']}"
            dbt_cells = (f"{d['seconds']:.1f} | {d['peak_rss_mb']:.0f} | {verdict}"
                         + (f" ({d['summary']})" if d.get("summary") else ""))
        lines.append(f"| {r['scale']:g} | {g['seconds']:.1f} | {g['peak_rss_mb']:.0f} | {g['store_mb']:.1f} "
                     f"| {_f(r.get('warehouse_mb_full'), '{:.1f}')} | {dbt_cells} |")
    # memory across scales
    if len(results) > 1:
        lines += ["", "**Peak RSS of the full-sync processes across scales** (MB; flat = constant memory):", ""]
        scales = [r["scale"] for r in results]
        lines.append("| source | " + " | ".join(f"scale {s:g}" for s in scales) + " | largest / smallest |")
        lines.append("|---|" + "---:|" * (len(scales) + 1))
        sources = [row["source"] for row in results[0].get("full", [])]
        for s in sources:
            vals = [next((row["peak_rss_mb"] for row in r.get("full", []) if row["source"] == s), None)
                    for r in results]
            ok = [v for v in vals if v]
            ratio = f"{ok[-1] / ok[0]:.2f}" if len(ok) > 1 else "–"
            lines.append(f"| {s} | " + " | ".join(_f(v, "{:.0f}") for v in vals) + f" | {ratio} |")
        recs = [sum(row.get("records") or 0 for row in r.get("full", [])) for r in results]
        lines.append("| *(records, all sources)* | " + " | ".join(f"{n:,}" for n in recs)
                     + (f" | {recs[-1] / recs[0]:.1f}× |" if recs[0] else " | – |"))
    lines += render_peers(results)
    lines += identity.render(results, identity_stress or [])
    lines += ["", "API holdings per scale (what the minimum is computed from):", ""]
    for r in results:
        h = r.get("holdings") or {}
        hs = h.get("hubspot", {})
        parts = [f"{t} {v['live']:,} live + {v['archived']:,} archived" for t, v in hs.items()]
        sf = h.get("salesforce", {})
        g = h.get("ga4", {})
        lines.append(f"- scale {r['scale']:g}: HubSpot {'; '.join(parts)}. Salesforce "
                     + ", ".join(f"{o} {n:,}" for o, n in sf.items())
                     + f". GA4 {g.get('dates', 0)} dates with sessions, "
                       f"{g.get('visitor_rows', 0):,} visitor rows, {g.get('traffic_rows', 0):,} traffic rows.")
    return "\n".join(lines) + "\n"


def load_average() -> str:
    """The 1/5/15-minute load averages: the bench runs on shared machines, and says so."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def save_results(path: Path | None, run: dict[str, Any]) -> Path:
    """Append ``run`` to ``path`` (default ``bench/results/<UTC date>.json``): one file a day
    holding every run of that day, so a second run never overwrites the first."""
    path = path or RESULTS / f"{dt.datetime.now(dt.UTC).date().isoformat()}.json"
    runs: list[Any] = []
    if path.exists():
        try:
            runs = json.loads(path.read_text()).get("runs", [])
        except (ValueError, AttributeError):
            runs = []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": [*runs, run]}, indent=1, default=str) + "\n")
    return path


def render_peers(results: list[dict[str, Any]]) -> list[str]:
    """Ours against the naive official client and the wire, per scale and source."""
    rows = [(r["scale"], p) for r in results for p in r.get("peers") or []]
    if not rows:
        return []
    lines = [
        "",
        "**Ours against the official client used naively and against the wire** (the same run, "
        "right after our full sync; each in its own process, wall time of the whole process; "
        "*naive* = the official client's models and paging, each page appended to DuckDB "
        "through Arrow; *wire* = a bare `requests` loop with `json` decoding over the same "
        "pages, writing nothing; records/s each over its own record count; RSS = peak RSS):",
        "",
        "| scale | source | records ours / naive / wire | ours s | naive s | wire s | ours records/s | naive records/s | wire records/s | **ours / naive** | **ours / wire** | CPU s ours / naive / wire | ours / naive by CPU | ours / wire by CPU | peak RSS MB ours / naive / wire |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for scale, p in rows:
        o, n, w = p["ours"], p["naive"], p["wire"]
        rps = p["records_per_s"]
        lines.append(
            f"| {scale:g} | {p['source']} | {_f(o.get('records'))} / {_f(n.get('records'))} / "
            f"{_f(w.get('records'))} | {o['seconds']:.1f} | {n['seconds']:.1f} | {w['seconds']:.1f} "
            f"| {_f(rps.get('ours'))} | {_f(rps.get('naive'))} | {_f(rps.get('wire'))} "
            f"| {_f(p.get('ours_over_naive'), '{:.2f}')} | {_f(p.get('ours_over_wire'), '{:.2f}')} "
            f"| {o['cpu_seconds']:.1f} / {n['cpu_seconds']:.1f} / {w['cpu_seconds']:.1f} "
            f"| {_f(cpu_ratio(o, n), '{:.2f}')} | {_f(cpu_ratio(o, w), '{:.2f}')} "
            f"| {o['peak_rss_mb']:.0f} / {n['peak_rss_mb']:.0f} / {w['peak_rss_mb']:.0f} |")
    return lines


def cpu_ratio(ours: dict[str, Any], other: dict[str, Any]) -> float | None:
    """Records per CPU second of ours over the other's: on a shared machine the wall times
    of processes run minutes apart see different loads; their own CPU time much less so."""
    if not (ours.get("records") and other.get("records") and ours.get("cpu_seconds")
            and other.get("cpu_seconds")):
        return None
    return (ours["records"] / ours["cpu_seconds"]) / (other["records"] / other["cpu_seconds"])


def write_doc(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else (
        "# Performance\n\nMeasured with `make bench` (`advocacy bench --write`).\n\n"
        f"## Figures\n\n{START}\n{END}\n")
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Figures\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{START}\n{section}{END}{tail}")
