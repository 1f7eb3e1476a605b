"""``advocacy check``: is everything in place for ``advocacy sync``?

Reads the settings (environment, then ``.env``), checks that the warehouse folder
(``DUCKDB_PATH``) is writable, and runs ``check()`` of every registered source: credentials,
permissions, custom fields, the GA4 visitor dimension, the export folder. One line per finding,
with how to fix it when it fails::

    [ok  ] ga4: property 123456789 reachable
    [FAIL] ga4: visitor dimension customEvent:nope not found ... -> register it in GA4 Admin ...
    [skip] salesforce: not configured: SALESFORCE_INSTANCE_URL not set (see .env.example)

Exit code 1 if any line is FAIL, else 0. Secrets (tokens, passwords) are redacted from every
line, whatever a client put in an error message.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from connectors import registry
from connectors.source import Finding, Settings, SourceNotConfigured
from connectors.warehouse import Warehouse, warehouse_path
from pipelines.cli.sync import redact_logs

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", choices=list(registry.SOURCES), metavar="NAME",
                        help=f"check only this source (repeatable): {', '.join(registry.SOURCES)}")
    parser.add_argument("--env-file", default=".env", help="file of environment variables (default .env)")


def check_warehouse_folder(settings: Settings) -> Finding:
    path = warehouse_path(settings.env)
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = f"create {folder} and make it writable for this user, or point DUCKDB_PATH elsewhere"
    if not existing.is_dir():
        return Finding("warehouse", False, f"{folder} is not a folder", fix)
    if existing != folder:
        try:   # a real probe: os.access says yes to root even where nothing can be created
            os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".advocacy-check-"))
        except OSError as exc:
            return Finding("warehouse", False, f"{folder} does not exist and cannot be created "
                           f"in {existing} ({exc.strerror})", fix)
        return Finding("warehouse", True, f"{folder} will be created for {path.name}")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".advocacy-check-"):
            pass
    except OSError as exc:
        return Finding("warehouse", False, f"{folder} is not writable ({exc.strerror})", fix)
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return Finding("warehouse", False, f"{path} exists but is not readable and writable",
                       f"fix the permissions of {path}")
    return Finding("warehouse", True, f"{folder} writable ({path.name})")


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    settings = Settings.from_environment(getattr(args, "env_file", ".env"))
    redact_logs(settings.secrets())   # `-v` prints tracebacks of crashed checks
    names = getattr(args, "source", None) or list(registry.SOURCES)
    failed = False

    def say(text: str) -> None:
        out.write(settings.redact(text) + "\n")
        out.flush()

    def report(finding: Finding) -> None:
        nonlocal failed
        failed = failed or not finding.ok
        say(finding.line())

    report(check_warehouse_folder(settings))
    # Sources get a scratch warehouse: a check never touches (or locks) the real one.
    with tempfile.TemporaryDirectory(prefix="advocacy-check-") as scratch, \
            Warehouse(Path(scratch) / "check.duckdb") as wh:
        for name in names:
            try:
                cls = registry.source_class(name)
            except (ImportError, AttributeError) as exc:
                say(f"[n/a ] {name}: not available in this build ({type(exc).__name__})")
                continue
            started = time.monotonic()
            try:
                findings = cls(settings, wh).check()
            except SourceNotConfigured as exc:
                message = str(exc)
                message = message.removeprefix(f"{name}: ").removeprefix("skipped, ")
                say(f"[skip] {name}: not configured: {message}")
                continue
            except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check
                log.debug("check of %s crashed", name, exc_info=True)
                report(Finding(name, False, f"check crashed: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:300] if str(exc) else ''}",
                               "run with -v for details and report it"))
                continue
            for finding in findings:
                report(finding)
            log.debug("%s checked in %.1fs", name, time.monotonic() - started)
    say("checks failed: fix the FAIL lines above, then run `advocacy check` again" if failed
        else "all checks passed")
    return 1 if failed else 0
