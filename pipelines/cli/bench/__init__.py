"""``advocacy bench``: measure the connectors against the sandbox at several scales.

For each scale (``--scales 0.1,1``):

1. generate the sandbox world in a child process (wall time, peak RSS);
2. serve it through the local fakes and run a **clean full sync of each source** (an empty
   warehouse, no cursors) in its own child process: wall time, the child's CPU time and peak
   RSS (``os.wait4``: that child alone), records written, and the requests each fake served,
   split into *data* requests (pages of records) and fixed *overhead* (auth, describe,
   COUNT(), snapshot/probe queries, Bulk job bookkeeping);
3. compare the requests with the **minimum** a client needs for the records the APIs hold at
   the page sizes the APIs allow (see :func:`full_minimum`; the table says what it counts);
4. ``Sandbox.advance(days)`` and an **incremental sync** of each source: requests and records
   against what changed in the world;
5. ``dbt build`` over the warehouse when ``dbt_project/dbt_project.yml`` exists, with the
   identity models' time and rows (:mod:`pipelines.cli.bench.identity`); then the identity
   models alone on a 30k-record group and on 500k records (``--no-identity-stress`` skips it).

The result is printed as markdown; ``--write`` puts it into ``docs/PERFORMANCE.md`` between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` with the machine, date and commit, and
``--json`` keeps the raw figures.

After the full syncs, for HubSpot, Salesforce and GA4, the same run measures the official
client used naively and a bare HTTP loop over the same pages (:mod:`pipelines.cli.bench.peers`;
``--no-peers`` skips them): records/s, CPU and peak RSS, and ours over each. The raw figures
are appended to ``bench/results/<UTC date>.json`` (or ``--json``) with the command and load.

The pieces: ``children`` (measured child processes), ``traffic`` (classifying the requests the
fakes serve), ``minimum`` (what the APIs hold and the fewest requests for it), ``peers`` (the
naive clients and the wire), ``runner`` (one scale), ``report`` (markdown and
docs/PERFORMANCE.md), ``profile`` (a sync under pyinstrument, summarised).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from pipelines.cli.bench import identity

# the measuring pieces, re-exported: `from pipelines.cli import bench` keeps working
from pipelines.cli.bench.children import ROOT, ChildRun, child_env, dbt_build, run_module_child
from pipelines.cli.bench.minimum import (
    changes,
    full_minimum,
    holdings,
    salesforce_minimum,
    world_clock,
)
from pipelines.cli.bench.report import (
    DOC,
    END,
    START,
    load_average,
    machine,
    render,
    save_results,
    write_doc,
)
from pipelines.cli.bench.runner import bench_scale
from pipelines.cli.bench.traffic import (
    CLASSIFIERS,
    Tally,
    classify_ga4,
    classify_hubspot,
    classify_salesforce,
)

__all__ = ["CLASSIFIERS", "DOC", "END", "START", "ChildRun", "Tally", "add_arguments",
           "bench_scale", "changes", "child_env", "load_average", "save_results", "classify_ga4", "classify_hubspot",
           "classify_salesforce", "dbt_build", "full_minimum", "holdings", "machine", "render",
           "run", "run_module_child", "salesforce_minimum", "world_clock", "write_doc"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scales", default="0.1,1",
                        help="comma-separated world scales to measure (default 0.1,1)")
    parser.add_argument("--seed", type=int, default=7,
                        help="seed of the simulated company measured at every scale (default 7)")
    parser.add_argument("--sources", default="",
                        help="comma-separated sources (default: all of hubspot, salesforce, ga4, "
                             "advocacy_platform)")
    parser.add_argument("--advance-days", type=int, default=1,
                        help="days the world moves on before the incremental sync (default 1; 0 skips it)")
    parser.add_argument("--no-dbt", action="store_true", help="skip the dbt build")
    parser.add_argument("--no-peers", action="store_true",
                        help="skip the naive official clients and the bare HTTP loops")
    parser.add_argument("--no-identity-stress", action="store_true",
                        help="skip the identity models on a 30k-record group and on 500k records")
    parser.add_argument("--workdir", default="",
                        help="where worlds, warehouses and logs go (default: a temporary directory, removed)")
    parser.add_argument("--write", action="store_true",
                        help="update the figures section of --out (docs/PERFORMANCE.md)")
    parser.add_argument("--out", default=str(DOC), help="the document --write updates")
    parser.add_argument("--json", default="",
                        help="the JSON file the raw figures are added to (default "
                             "bench/results/<date>.json; each run appended to its runs)")



def compile_bytecode() -> None:
    """Every module's bytecode written before anything is timed, as ``pip install`` leaves an
    environment (uv does not, and a ``PYTHONDONTWRITEBYTECODE`` environment never writes it):
    otherwise each measured process compiles what it imports from source, and a contender
    that imports more (our CLI, the official clients) pays for it in every run. Up-to-date
    files are skipped, so this costs seconds after the first time."""
    import site
    import subprocess

    targets = [p for p in {*site.getsitepackages(), str(ROOT / "connectors"), str(ROOT / "pipelines")}
               if Path(p).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *targets],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def run(args: argparse.Namespace) -> int:
    from connectors import registry

    try:
        scales = [float(s) for s in str(args.scales).split(",") if s.strip()]
    except ValueError:
        print(f"advocacy bench: --scales must be numbers, got {args.scales!r}", file=sys.stderr)
        return 2
    sources = [s.strip() for s in str(args.sources).split(",") if s.strip()] or list(registry.SOURCES)
    unknown = [s for s in sources if s not in registry.SOURCES]
    if unknown or not scales:
        print(f"advocacy bench: unknown source(s) {', '.join(unknown)}" if unknown
              else "advocacy bench: no scale given", file=sys.stderr)
        return 2
    keep = bool(args.workdir)
    workdir = Path(args.workdir).resolve() if keep else Path(tempfile.mkdtemp(prefix="advocacy-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    stress: list[dict[str, Any]] = []
    failed = False
    compile_bytecode()
    try:
        for scale in scales:
            r = bench_scale(scale, args.seed, sources, workdir, advance_days=args.advance_days,
                            dbt=not args.no_dbt, peers=not args.no_peers)
            r["advance_days"] = args.advance_days
            results.append(r)
            failed = failed or any(row["code"] != 0 for row in r.get("full", []) + r.get("incremental", []))
        if not args.no_dbt and not args.no_identity_stress:
            stress = identity.stress(workdir)
            failed = failed or any(row["code"] != 0 for row in stress)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    argv = "advocacy bench " + " ".join(
        [f"--scales {','.join(f'{s:g}' for s in scales)}", f"--seed {args.seed}"]
        + ([f"--sources {','.join(sources)}"] if args.sources else [])
        + ([f"--advance-days {args.advance_days}"] if args.advance_days != 1 else [])
        + (["--no-dbt"] if args.no_dbt else [])
        + (["--no-peers"] if args.no_peers else [])
        + (["--no-identity-stress"] if args.no_identity_stress else []))
    info = machine()
    section = render(results, info, argv, stress)
    print("\n" + section)
    out = save_results(Path(args.json) if args.json else None,
                       {"command": argv, "machine": info, "load_average": load_average(),
                        "results": results, "identity_stress": stress})
    print(f"raw figures added to {out}")
    if args.write:
        write_doc(Path(args.out), section)
        print(f"figures written to {args.out}")
    if keep:
        print(f"worlds, warehouses and logs kept in {workdir}")
    return 1 if failed else 0
