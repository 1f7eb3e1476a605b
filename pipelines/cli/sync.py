"""``advocacy sync [--source NAME ...] [--full-refresh] [--quiet]``: run the source
connectors into the DuckDB raw layer (``DUCKDB_PATH``) and print what each object wrote.

A source whose variables are absent is skipped with one line; a source that stops (API limit,
revoked token) keeps what it committed, the others still run, and the exit code is 1.
Secrets (``Settings.secrets()``) are redacted from every message printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable
from typing import TextIO

from connectors import registry
from connectors.source import (
    ObjectResult,
    Progress,
    Settings,
    SourceNotConfigured,
    SourceStopped,
    SyncResult,
    redact,
)
from connectors.warehouse import Warehouse, warehouse_path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", choices=list(registry.SOURCES), metavar="NAME",
                        help=f"sync only this source (repeatable): {', '.join(registry.SOURCES)}")
    parser.add_argument("--full-refresh", action="store_true",
                        help="ignore the saved cursors and read everything again")
    parser.add_argument("--reconcile", action="store_true",
                        help="instead of syncing, run each source's cheap id-only "
                             "reconciliation (records the source no longer returns marked "
                             "deleted, missed records read, formula fields refreshed); a "
                             "source without one is skipped")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, summary only")
    parser.add_argument("--env-file", default=".env", help="file of environment variables (default .env)")


class RedactingFilter(logging.Filter):
    """Last line of defence: no log record leaves with a secret in it, neither in its message
    nor in its traceback (``exc_info``/``exc_text``) or stack (``stack_info``)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            message = None
        if message is not None:
            cleaned = redact(message, self.secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            # formatters print exc_text when set; dropping exc_info keeps any formatter from
            # rendering the original (unredacted) traceback again
            record.exc_text = redact(record.exc_text, self.secrets)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


_FORMATTER = logging.Formatter()


def redact_logs(secrets: Iterable[str]) -> RedactingFilter:
    """Make every handler of the root logger (or, without any, logging's last-resort handler)
    redact ``secrets``. Idempotent: a handler gets one filter, however often this is called;
    later calls add their secrets to it."""
    root = logging.getLogger()
    handlers = list(root.handlers) or ([logging.lastResort] if logging.lastResort else [])
    shared: RedactingFilter | None = None
    for handler in handlers:
        existing = next((f for f in handler.filters if isinstance(f, RedactingFilter)), None)
        if existing is None:
            existing = shared or RedactingFilter()
            handler.addFilter(existing)
        existing.secrets.update(s for s in secrets if s)
        shared = shared or existing
    return shared or RedactingFilter(secrets)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    settings = Settings.from_environment(getattr(args, "env_file", ".env"))
    redact_logs(settings.secrets())
    names = args.source or list(registry.SOURCES)
    progress = Progress(err, quiet=args.quiet, redact=settings.redact)
    path = warehouse_path(settings.env)
    results: list[SyncResult] = []
    failed = False
    started = time.monotonic()

    def say(text: str, stream: TextIO = err) -> None:
        stream.write(settings.redact(text) + "\n")
        stream.flush()

    with Warehouse(path) as wh:
        # Every raw table exists after a sync, empty for a source not configured: dbt's staging
        # reads them all (an optional source must mean no rows, not a failed build).
        wh.ensure_raw_layer()
        for name in names:
            try:
                cls = registry.source_class(name)
            except (ImportError, AttributeError) as exc:
                say(f"{name}: not available in this build ({type(exc).__name__}: {exc})")
                results.append(SyncResult(name, skipped="not available"))
                continue
            t0 = time.monotonic()
            try:
                source = cls(settings, wh, progress)
                if getattr(args, "reconcile", False):
                    reconcile = getattr(source, "reconcile", None)
                    if reconcile is None:
                        say(f"{name}: skipped, no reconciliation for this source")
                        results.append(SyncResult(name, skipped="no reconciliation"))
                        continue
                    result = reconcile()
                else:
                    result = source.sync(full_refresh=args.full_refresh)
            except SourceNotConfigured as exc:
                say(str(exc) if str(exc).startswith(name) else f"{name}: skipped, {exc}")
                results.append(SyncResult(name, skipped=str(exc)))
                continue
            except SourceStopped as exc:
                failed = True
                say(f"{name}: STOPPED: {exc}")
                results.append(SyncResult(name, stopped=str(exc)))
                continue
            except Exception as exc:  # noqa: BLE001 - one source failing must not hide the others
                failed = True
                log.debug("%s failed", name, exc_info=True)
                say(f"{name}: FAILED after {time.monotonic() - t0:.1f}s: {type(exc).__name__}: {exc}")
                results.append(SyncResult(name, stopped=f"{type(exc).__name__}: {exc}"))
                continue
            results.append(result)

    say(summary(results, time.monotonic() - started, path), out)
    return 1 if failed else 0


def summary(results: list[SyncResult], seconds: float, path: object) -> str:
    header = ("source", "object", "records", "deleted", "quarantined", "seconds")
    rows: list[tuple[str, ...]] = []
    for r in results:
        if r.skipped or r.stopped:
            label = "(stopped)" if r.stopped else (
                "(not available)" if r.skipped == "not available" else "(skipped)")
            rows.append((r.source, label, "", "", "", ""))
            continue
        for o in r.objects:
            rows.append(_row(r.source, o))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    lines = [fmt(header), fmt(tuple("-" * w for w in widths)), *(fmt(r) for r in rows)]
    objects = [o for r in results for o in r.objects]
    records = sum(o.records for o in objects)
    deleted = sum(o.deleted for o in objects)
    quarantined = sum(o.quarantined for o in objects)
    synced = sum(1 for r in results if not r.skipped and not r.stopped)
    lines.append(
        f"total: {records} records, {deleted} deleted, {quarantined} quarantined from "
        f"{synced} source(s) in {seconds:.1f}s -> {path}"
    )
    return "\n".join(lines)


def _row(source: str, o: ObjectResult) -> tuple[str, ...]:
    return (source, o.object, str(o.records), str(o.deleted), str(o.quarantined), f"{o.seconds:.1f}")
