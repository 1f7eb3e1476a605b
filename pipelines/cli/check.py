"""``advocacy check``: is everything in place for ``advocacy sync``?

Reads the settings (environment, then ``.env``), validates every value
(:func:`connectors.settings.validate`), checks that the warehouse (``DUCKDB_PATH``) can be
written and is not locked by another process, and runs ``check()`` of every configured source:
credentials, permissions, custom fields, the GA4 visitor dimension, the export folder. One
line per finding, in the vocabulary of :mod:`pipelines.cli.outcome`, with the fix when it
fails::

    [ok  ] ga4: property 123456789 reachable
    [FAIL] ga4: visitor dimension customEvent:nope not found ... -> register it in GA4 Admin ...
    [skip] salesforce: not configured: SALESFORCE_INSTANCE_URL not set (see .env.example)

A source whose settings are invalid is not contacted. Exit code 1 if any line is FAIL or no
source is configured at all, else 0. Secrets (tokens, passwords) are redacted from every line,
whatever a client put in an error message.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from connectors import registry
from connectors.settings import OPERATIONS, validate
from connectors.source import Finding, Settings, SourceNotConfigured
from connectors.warehouse import Warehouse, WarehouseUnavailable, warehouse_path
from pipelines.cli import outcome
from pipelines.cli.sync import redact_logs

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", choices=list(registry.SOURCES), metavar="NAME",
                        help=f"check only this source (repeatable): {', '.join(registry.SOURCES)}")
    parser.add_argument("--env-file", metavar="PATH",
                        help="file of environment variables (default: .env when it exists; the "
                             "real environment wins over the file)")


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
    if path.exists():
        try:   # a lock held by a running sync or `dagster dev` fails this open too (no waiting:
            # check reports the state now; a writer waits DUCKDB_LOCK_WAIT_SECONDS)
            Warehouse(path, read_only=True, wait_seconds=0).close()
        except WarehouseUnavailable as exc:
            return Finding("warehouse", False, str(exc), exc.fix)
        return Finding("warehouse", True, f"{path} writable, not locked by another process")
    return Finding("warehouse", True, f"{folder} writable ({path.name})")


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    env_file = getattr(args, "env_file", None)
    try:
        settings = outcome.load_settings(env_file)
    except outcome.NotConfigured as exc:
        out.write(exc.line() + "\n")
        return 1
    redact_logs(settings.secrets())   # `-v` prints tracebacks of crashed checks
    names = getattr(args, "source", None) or list(registry.SOURCES)
    failed = False

    def say(text: str) -> None:
        out.write(settings.redact(text) + "\n")
        out.flush()

    def report(finding: Finding) -> None:
        nonlocal failed
        failed = failed or not finding.ok
        say(outcome.line(outcome.OK if finding.ok else outcome.FAIL, finding.source,
                         finding.what, finding.fix))

    report(check_warehouse_folder(settings))
    try:
        configured = outcome.require_a_source(settings, names, env_file)
    except outcome.NotConfigured as exc:
        say(exc.line())
        configured, failed = [], True
    invalid: set[str] = set()
    for problem in validate(settings.env, [*(configured or names), OPERATIONS]):
        report(Finding("settings", False, problem.what(), problem.fix))
        invalid.update(problem.scope)
    # Sources get a scratch warehouse: a check never touches (or locks) the real one.
    with tempfile.TemporaryDirectory(prefix="advocacy-check-") as scratch, \
            Warehouse(Path(scratch) / "check.duckdb") as wh:
        for name in configured and names:   # nothing configured: the line above says it all
            if name in invalid and name in configured:
                report(Finding(name, False, "not contacted: its settings are invalid (above)",
                               "fix them first"))
                continue
            check_source(name, settings, wh, say, report)
    say("checks failed: fix the FAIL lines above, then run `advocacy check` again" if failed
        else "all checks passed")
    return 1 if failed else 0


def check_source(name: str, settings: Settings, wh: Warehouse,
                 say: Callable[[str], None], report: Callable[[Finding], None]) -> None:
    try:
        cls = registry.source_class(name)
    except (ImportError, AttributeError) as exc:
        say(outcome.line(outcome.NA, name, f"not available in this build ({type(exc).__name__})"))
        return
    started = time.monotonic()
    try:
        findings = cls(settings, wh).check()
    except SourceNotConfigured as exc:
        message = str(exc).removeprefix(f"{name}: ").removeprefix("skipped, ")
        say(outcome.line(outcome.SKIP, name, f"not configured: {message}"))
        return
    except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check
        log.debug("check of %s crashed", name, exc_info=True)
        text = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        report(Finding(name, False, f"check crashed: {text}", outcome.hint(name, text)))
        return
    for finding in findings:
        report(finding)
    log.debug("%s checked in %.1fs", name, time.monotonic() - started)
