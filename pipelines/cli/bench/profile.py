"""Where a full sync spends its time: the sync of one source against a served sandbox world,
under pyinstrument (a dev dependency), summarised as the frames with the most *self* time
(time in the function itself, not in what it calls) and their share of the run.

    python -m pipelines.cli.bench.profile --scale 1 --source hubspot [--world FILE] [--html OUT]

The sync runs in a child process (``advocacy sync --source X`` on an empty warehouse) while
the fakes serve it from this one, as in ``advocacy bench``; docs/PERFORMANCE.md ("Profiles")
holds the summaries this prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pipelines.cli.bench.children import ROOT, child_env, run_module_child

PROFILE = "pipelines.cli.bench.profile"


def _own(frame: Any) -> str:
    path = frame.file_path_short or frame.file_path or "?"
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{frame.function} ({path}:{frame.line_no})" if frame.function else path


def _area(frame: Any) -> str:
    """Where a frame's self time goes, coarsely: the import machinery, DuckDB, the network,
    decoding, Arrow, the HTTP clients, our own code, or elsewhere. A built-in function counts
    where its name says (DuckDB's methods, sockets) or else where its caller is."""
    path, fn = frame.file_path or "", frame.function or ""
    if path.startswith("<built-in>"):
        if "pybind11" in fn or "DuckDBPyConnection" in fn:
            return "DuckDB statements"
        if fn.startswith(("socket.", "_SSLSocket.")) or fn in {"sleep", "select", "poll"}:
            return "network I/O and waits"
        if fn.endswith(".acquire"):     # waiting for the page read ahead (connectors/ahead.py)
            return "network I/O and waits"
        if fn in {"loads"} or "json" in fn:
            return "JSON decoding"
        return _area(frame.parent) if frame.parent is not None else "other"
    if "importlib" in path:
        return "import machinery (failed imports)"
    if "duckdb" in path:
        return "DuckDB statements"
    if "/ssl.py" in path or "/socket.py" in path or "selectors" in path:
        return "network I/O and waits"
    if "protobuf" in path or "proto/" in path:
        return "protobuf decoding"
    if "/json/" in path or "orjson" in path:
        return "JSON decoding"
    if "pyarrow" in path:
        return "Arrow"
    if any(m in path for m in ("urllib3", "requests", "http/client", "hubspot/", "simple_salesforce",
                               "google/", "email/")):
        return "HTTP clients and their models"
    if "connectors/" in path or "pipelines/" in path:
        return "connector Python (ours)"
    return "other (interpreter, stdlib, csv, re)"


def self_times(root: Any) -> tuple[Counter[str], Counter[str]]:
    """Self time (seconds) per function and per area, summed over every call path. A
    synthetic ``[self]`` frame is the self time of its parent, already counted there."""
    by_fn: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.is_synthetic:
            continue
        own = frame.total_self_time
        if own > 0:
            by_fn[_own(frame)] += own
            by_area[_area(frame)] += own
    return by_fn, by_area


def summary(root: Any, total: float, top: int = 10) -> str:
    by_fn, by_area = self_times(root)
    lines = [f"total {total:.2f} s sampled (pyinstrument, self time)", "by area:"]
    for name, seconds in by_area.most_common():
        lines.append(f"  {100 * seconds / total:5.1f} %  {seconds:6.2f} s  {name}")
    lines.append(f"top {top} functions:")
    for name, seconds in by_fn.most_common(top):
        lines.append(f"  {100 * seconds / total:5.1f} %  {seconds:6.2f} s  {name}")
    return "\n".join(lines)


def _child(out: str, argv: list[str]) -> int:
    """Run ``advocacy <argv>`` under the profiler; write the summary to ``out``."""
    from pyinstrument import Profiler

    from pipelines.cli.main import main

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        code = main(argv)
    finally:
        session = profiler.stop()
    root = session.root_frame()
    session.save(str(Path(out).with_suffix(".pyisession")))   # to summarise again later
    Path(out).write_text(summary(root, session.duration) + "\n")
    if os.environ.get("ADVOCACY_PROFILE_HTML"):
        Path(os.environ["ADVOCACY_PROFILE_HTML"]).write_text(profiler.output_html())
    return int(code or 0)


def profile_sync(world: Path, source: str, workdir: Path, html: str = "") -> str:
    """Serve ``world``, profile a clean full sync of ``source``; returns the summary."""
    from connectors.sandbox.server import Sandbox

    warehouse = workdir / f"profile-{source}.duckdb"
    warehouse.unlink(missing_ok=True)
    (workdir / "no.env").write_text("")
    out = workdir / f"profile-{source}.txt"
    with Sandbox(world, workdir / "serve") as sandbox:
        env = child_env({**sandbox.env(), "DUCKDB_PATH": str(warehouse),
                         **({"ADVOCACY_PROFILE_HTML": html} if html else {})})
        run = run_module_child(PROFILE, ["--child", str(out), "sync", "--source", source,
                                         "--quiet", "--env-file", str(workdir / "no.env")],
                               env, workdir / "logs" / f"profile-{source}")
    if run.code != 0:
        raise RuntimeError(f"profiled sync failed: {run.stderr[-2000:]}")
    return (f"{source}: {run.seconds:.1f} s wall, peak RSS {run.peak_rss_mb:.0f} MB\n"
            + out.read_text())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        return _child(argv[1], argv[2:])
    p = argparse.ArgumentParser(prog="python -m " + PROFILE, description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--source", action="append", help="hubspot, salesforce, ga4 (repeatable)")
    p.add_argument("--world", default="", help="a generated world store to reuse")
    p.add_argument("--html", default="", help="also write pyinstrument's HTML report here")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="advocacy-profile-"))
    world = Path(args.world) if args.world else workdir / "world.sqlite"
    if not args.world:
        gen = run_module_child("pipelines.cli.bench.children",
                               ["generate", str(world), str(args.seed), str(args.scale)],
                               child_env({}), workdir / "logs" / "generate")
        if gen.code != 0:
            print(gen.stderr[-2000:], file=sys.stderr)
            return 1
    for source in args.source or ["hubspot", "salesforce", "ga4"]:
        print(profile_sync(world, source, workdir, args.html), flush=True)
    print(f"(work files in {workdir}; cwd {ROOT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
