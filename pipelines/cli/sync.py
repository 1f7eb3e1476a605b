"""``advocacy sync [--source NAME ...] [--full-refresh] [--reconcile] [--quiet]``: run the
source connectors into the DuckDB raw layer (``DUCKDB_PATH``) and print what each object
wrote. ``--reconcile`` then runs each source's id-only reconciliation (a source with a
``reconcile()`` method: records it no longer has at all are marked deleted).

Before any work every setting is validated (:func:`connectors.settings.validate`): a bad value
stops the sync with one line per problem (variable, problem, fix), and nothing is requested.
Nothing configured at all, or a warehouse that cannot be opened (another process holds its
lock, a read-only folder), is one line naming the fix, too. A source whose variables are absent
is skipped with one line; a source that fails (API limit, revoked token) keeps what it
committed, the others still run, and the exit code is 1. Status lines and the summary use one
vocabulary (:mod:`pipelines.cli.outcome`): ``ok``, ``skip``, ``FAIL`` with its fix. Secrets
(``Settings.secrets()``) are redacted from every message printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from connectors import registry
from connectors.settings import sync_memory_limit, validate
from connectors.source import (
    InvalidSetting,
    ObjectResult,
    Progress,
    Settings,
    SourceNotConfigured,
    SourceStopped,
    SyncResult,
    redact,
)
from connectors.warehouse import Warehouse, WarehouseUnavailable, warehouse_path
from pipelines.cli import outcome

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", choices=list(registry.SOURCES), metavar="NAME",
                        help=f"sync only this source (repeatable): {', '.join(registry.SOURCES)}")
    parser.add_argument("--full-refresh", action="store_true",
                        help="ignore the saved cursors and read everything again; records HubSpot "
                             "or Salesforce no longer return at all are marked deleted")
    parser.add_argument("--reconcile", action="store_true",
                        help="after syncing, list every record's id and mark deleted what the source "
                             "no longer has at all (GDPR deletes, purges); the weekly Dagster "
                             "'reconciliation' job does the same (--full-refresh already does it)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress lines on stderr, only failures and the summary")
    parser.add_argument("--env-file", metavar="PATH",
                        help="file of environment variables (default: .env when it exists; the "
                             "real environment wins over the file)")


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
    env_file = getattr(args, "env_file", None)
    try:
        settings = outcome.load_settings(env_file)
    except outcome.NotConfigured as exc:
        err.write(exc.line() + "\n")
        return 1
    redact_logs(settings.secrets())
    names = args.source or list(registry.SOURCES)

    def say(text: str, stream: TextIO = err) -> None:
        stream.write(settings.redact(text) + "\n")
        stream.flush()

    try:
        configured = outcome.require_a_source(settings, names, env_file)
    except outcome.NotConfigured as exc:
        say(exc.line())
        return 1
    problems = validate(settings.env, configured)
    if problems:
        for problem in problems:
            say(outcome.line(outcome.FAIL, "settings", problem.what(), problem.fix))
        say("sync not started: fix the settings above (`advocacy check` validates them too)")
        return 1
    path = warehouse_path(settings.env)
    try:
        wh = Warehouse(path, memory_limit=sync_memory_limit(settings.env))
    except WarehouseUnavailable as exc:
        say(outcome.line(outcome.FAIL, "warehouse", str(exc), exc.fix))
        return 1
    progress = Progress(err, quiet=args.quiet, redact=settings.redact)
    saved_logging = outcome.route_logs_through(progress)
    try:
        with wh:
            # Every raw table exists after a sync, empty for a source not configured: dbt's
            # staging reads them all (an optional source must mean no rows, not a failed build).
            wh.ensure_raw_layer()
            results = []
            started = time.monotonic()
            for name in names:
                results.append(sync_one(name, settings, wh, progress, args.full_refresh,
                                        reconcile=getattr(args, "reconcile", False)))
                record_status(wh, results[-1], settings.redact)
                if results[-1].failed or not args.quiet:
                    progress.write_line(status_line(results[-1]))   # as each source ends
    finally:
        outcome.restore_logs(saved_logging)
    say(summary(results, time.monotonic() - started, path), out)
    return 1 if any(r.failed for r in results) else 0


@dataclasses.dataclass
class SourceOutcome:
    """What became of one source: its result, and how it ended."""

    result: SyncResult
    status: str                 # outcome.OK / SKIP / FAIL / NA
    detail: str = ""            # why it was skipped, or how it failed
    fix: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == outcome.FAIL


def sync_one(name: str, settings: Settings, wh: Warehouse, progress: Progress,
             full_refresh: bool, *, reconcile: bool = False) -> SourceOutcome:
    """Sync one source; with ``reconcile`` (and no full refresh, which reconciles as it lists)
    then its id-only reconciliation, whose objects join the result as ``<object> (reconcile)``."""
    t0 = time.monotonic()
    try:
        cls = registry.source_class(name)
    except (ImportError, AttributeError) as exc:
        return SourceOutcome(SyncResult(name, skipped="not available"), outcome.NA,
                       f"not available in this build ({type(exc).__name__}: {exc})")
    try:
        source = cls(settings, wh, progress)
        result = source.sync(full_refresh=full_refresh)
        if reconcile and not full_refresh and hasattr(source, "reconcile"):
            result.objects.extend(dataclasses.replace(o, object=f"{o.object} (reconcile)")
                                  for o in source.reconcile().objects)
    except SourceNotConfigured as exc:
        reason = str(exc).removeprefix(f"{name}: ").removeprefix("skipped, ")
        return SourceOutcome(SyncResult(name, skipped=reason), outcome.SKIP, f"not configured: {reason}")
    except InvalidSetting as exc:     # validated above; a connector's own parse agrees
        text = str(exc)
        what, _, fix = text.partition(": ")
        return SourceOutcome(SyncResult(name, stopped=text), outcome.FAIL, what, fix,
                       time.monotonic() - t0)
    except SourceStopped as exc:
        # the connectors say "<source> stopped: ..." themselves; the status line names both
        text = str(exc).removeprefix(f"{name} stopped: ").removeprefix(f"{name}: ")
        return SourceOutcome(SyncResult(name, stopped=text), outcome.FAIL, f"stopped: {text}",
                       outcome.hint(name, text), time.monotonic() - t0)
    except Exception as exc:  # noqa: BLE001 - one source failing must not hide the others
        log.debug("%s failed", name, exc_info=True)
        text = f"{type(exc).__name__}: {exc}"
        return SourceOutcome(SyncResult(name, stopped=text), outcome.FAIL, f"failed: {text}",
                       outcome.hint(name, text), time.monotonic() - t0)
    seconds = time.monotonic() - t0
    return SourceOutcome(result, outcome.OK, f"{result.records} records in {seconds:.1f}s",
                   seconds=seconds)


# how each outcome is recorded in meta.source_status (a source not in this build: not at all)
RECORDED = {outcome.OK: "ok", outcome.SKIP: "not_configured", outcome.FAIL: "failed"}


def record_status(wh: Warehouse, o: SourceOutcome, redact: Callable[[str], str]) -> None:
    """The outcome in ``meta.source_status``: the marts' data_quality names a source whose
    last sync failed, and since when (the publication keeps the last complete night)."""
    status = RECORDED.get(o.status)
    if status is None:
        return
    try:
        wh.record_source_status(o.result.source, status, redact(o.detail) if status != "ok" else "")
    except Exception:  # noqa: BLE001 - the sync's own outcome is already printed and kept
        log.warning("could not record the status of %s in the warehouse", o.result.source,
                    exc_info=True)


def status_line(o: SourceOutcome) -> str:
    return outcome.line(o.status, o.result.source, outcome.shorten(o.detail), o.fix)


STATUS_WORDS = {outcome.OK: "ok", outcome.SKIP: "skipped", outcome.FAIL: "FAILED",
                outcome.NA: "not available"}


def summary(results: list[SourceOutcome], seconds: float, path: object) -> str:
    header = ("source", "object", "records", "deleted", "quarantined", "seconds")
    rows: list[tuple[str, ...]] = []
    for o in results:
        objects = o.result.objects
        if o.status != outcome.OK or not objects:
            # a failed source keeps what it committed: its objects, then the verdict
            rows.extend(_row(o.result.source, obj) for obj in objects)
            rows.append((o.result.source, f"({STATUS_WORDS[o.status]})", "", "", "",
                         f"{o.seconds:.1f}" if o.seconds else ""))
            continue
        rows.extend(_row(o.result.source, obj) for obj in objects)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    lines = [fmt(header), fmt(tuple("-" * w for w in widths)), *(fmt(r) for r in rows)]
    objects = [obj for o in results for obj in o.result.objects]
    records = sum(obj.records for obj in objects)
    deleted = sum(obj.deleted for obj in objects)
    quarantined = sum(obj.quarantined for obj in objects)
    counts = {status: sum(1 for o in results if o.status == status) for status in STATUS_WORDS}
    sources = ", ".join(f"{n} {STATUS_WORDS[s]}" for s, n in counts.items() if n)
    lines.append(
        f"total: {records} records, {deleted} deleted, {quarantined} quarantined; sources: "
        f"{sources}; {seconds:.1f}s -> {path}"
    )
    return "\n".join(lines)


def _row(source: str, o: ObjectResult) -> tuple[str, ...]:
    return (source, o.object, str(o.records), str(o.deleted), str(o.quarantined), f"{o.seconds:.1f}")
