"""``advocacy sandbox serve``: generate (or reuse) a world, serve it through the three fakes,
write the env file that points the product at them, print ``ready`` and serve until
interrupted (SIGINT/SIGTERM). Secrets go only into the env file (mode 0600), never to output."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

DEFAULT_WORKDIR = Path("data/sandbox")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    parser.add_argument("--scale", type=float, default=1.0, help="world scale (default 1.0)")
    parser.add_argument("--env-file", required=True, type=Path,
                        help="where to write the KEY=value configuration for the product")
    parser.add_argument("--faults", default=None,
                        help="fault spec, e.g. 'hubspot:429@5x3,ga4:503@7' (see fakes/base.py)")
    parser.add_argument("--store", type=Path, default=None,
                        help="world store to serve; generated when missing or of another seed/scale")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help=f"certificate, service-account key and exports (default {DEFAULT_WORKDIR})")
    parser.add_argument("--port-base", type=int, default=None,
                        help="serve HubSpot on N, Salesforce on N+1 and GA4 on N+2 (default: free ports)")


def _store_matches(path: Path, seed: int, scale: float) -> bool:
    if not path.exists():
        return False
    from connectors.sandbox import store

    try:
        conn = store.connect(path, readonly=True)
        try:
            got_seed = store.get_meta(conn, "seed")
            got_scale = store.get_meta(conn, "scale")
        finally:
            conn.close()
    except Exception:  # an unreadable store is regenerated
        return False
    try:
        return int(got_seed) == seed and abs(float(got_scale) - scale) < 1e-9
    except (TypeError, ValueError):
        return False


def _prepare_store(args: argparse.Namespace) -> Path:
    path = args.store or args.workdir / f"world-seed{args.seed}-scale{args.scale:g}.sqlite"
    if _store_matches(path, args.seed, args.scale):
        print(f"reusing world store {path}", flush=True)
        return path
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.world import generate

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating world seed={args.seed} scale={args.scale:g} into {path}", flush=True)
    generate(path, WorldConfig(seed=args.seed, scale=args.scale))
    return path


def run(args: argparse.Namespace) -> int:
    from connectors.sandbox.fakes.base import FaultPlan
    from connectors.sandbox.server import Sandbox

    try:
        faults = FaultPlan.parse(args.faults)
    except ValueError as exc:
        print(f"advocacy sandbox serve: {exc}", file=sys.stderr)
        return 2
    store_path = _prepare_store(args)
    ports: dict[str, Any] = {}
    if args.port_base:
        ports = {"hubspot": args.port_base, "salesforce": args.port_base + 1,
                 "ga4": args.port_base + 2}
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    sandbox = Sandbox(store_path, args.workdir, faults=faults, ports=ports)
    try:
        sandbox.start()
        sandbox.write_env_file(args.env_file)
        for name, url in sandbox.urls().items():
            print(f"{name}: {url}", flush=True)
        if faults.faults:
            print(f"faults: {args.faults}", flush=True)
        print(f"env file: {args.env_file}", flush=True)
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        counts = sandbox.request_counts() if sandbox.hubspot is not None else {}
        sandbox.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if counts:
            print("requests: " + json.dumps(counts, sort_keys=True), flush=True)
    return 0
