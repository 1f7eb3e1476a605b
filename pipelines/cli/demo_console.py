"""What ``advocacy demo`` shows while it works: one line per stage with counts and times, a
live line per source during the sync (a bar on a terminal, one plain line per source
otherwise), a dbt progress line, and everything else in a log file.

The details go to the log (``data/demo.log``): the world generator's progress, every Python
log record, dbt's per-node lines (dagster-dbt writes them to ``sys.stdout``, which the demo
sends here while the job runs). ``-v`` prints them on the terminal too.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from connectors.source import progress_events

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DBT_NODE = re.compile(r"^\s*(\d+) of (\d+) (OK|PASS|FAIL|ERROR|WARN|SKIP|NO-OP)\b")
_DBT_FOUND = re.compile(r"^Found (.*)$")
_DBT_DONE = re.compile(r"^Done\. (.*)$")
BAR_WIDTH = 20


def bar(done: int, total: int) -> str:
    filled = 0 if total <= 0 else min(BAR_WIDTH, round(BAR_WIDTH * done / total))
    return "\u2595" + "\u2588" * filled + "\u2591" * (BAR_WIDTH - filled) + "\u258f"


@dataclasses.dataclass
class SourceProgress:
    source: str
    objects_expected: int
    started: float = dataclasses.field(default_factory=time.monotonic)
    objects_done: int = 0
    records: int = 0            # of finished objects
    current: str = ""
    current_records: int = 0    # of the object being read
    quarantined: int = 0
    ended: float | None = None

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class DemoConsole:
    """The terminal side of the demo. ``out`` is the terminal (or a pipe), ``log_path`` the
    file that gets every detail."""

    def __init__(self, log_path: Path, *, verbose: bool = False, out: TextIO | None = None,
                 stages: int = 5) -> None:
        self.out = out or sys.stdout
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.verbose = verbose
        self.stages = stages
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("w", encoding="utf-8")
        self._live = False          # a line being rewritten is on the terminal
        self._stage_started = time.monotonic()
        self.sources: dict[str, SourceProgress] = {}
        self.expected_objects: dict[str, int] = {}
        self.dbt: dict[str, Any] = {"done": 0, "total": 0, "failed": 0, "found": "", "result": "",
                                    "started": None}
        self.warnings = 0

    # -- plain output ---------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """A whole line on the terminal (and in the log)."""
        self._clear_live()
        self.out.write(text + "\n")
        self.out.flush()
        self.detail(text, echo=False)

    def detail(self, text: str, *, echo: bool | None = None) -> None:
        """A line for the log; on the terminal too with ``-v``."""
        self.log.write(_ANSI.sub("", text) + "\n")
        self.log.flush()
        if echo if echo is not None else self.verbose:
            self._clear_live()
            self.out.write(text + "\n")
            self.out.flush()

    def live(self, text: str) -> None:
        """A status line rewritten in place on a terminal; nothing otherwise."""
        if not self.tty or self.verbose:
            return
        self.out.write("\r\x1b[2K" + text)
        self.out.flush()
        self._live = True

    def _clear_live(self) -> None:
        if self._live:
            self.out.write("\r\x1b[2K")
            self._live = False

    def stage(self, number: int, name: str, text: str = "") -> None:
        """The first line of a stage (long stages: what it is about to do)."""
        self._stage_started = time.monotonic()
        if text:
            self.line(f"[{number}/{self.stages}] {name:<6} {text}")

    def stage_done(self, number: int, name: str, text: str) -> None:
        self.line(f"[{number}/{self.stages}] {name:<6} {text}  "
                  f"({time.monotonic() - self._stage_started:.1f}s)")

    def close(self) -> None:
        self._clear_live()
        self.log.close()

    # -- sync progress (records of connectors.progress) -----------------------------------------
    def on_progress(self, event: dict) -> None:
        source, kind = event["source"], event["kind"]
        sp = self.sources.get(source)
        if sp is None:
            for other in self.sources.values():
                self.finish_source(other)
            sp = self.sources[source] = SourceProgress(source, self.expected_objects.get(source, 0))
        if kind == "start":
            sp.current, sp.current_records = event["object"], 0
        elif kind == "page":
            sp.current, sp.current_records = event["object"], int(event.get("records", 0))
        elif kind == "done":
            sp.objects_done += 1
            sp.records += int(event.get("records", 0))
            sp.quarantined += int(event.get("quarantined", 0))
            sp.current, sp.current_records = "", 0
            self.detail(f"      {source}.{event['object']}: {event.get('records', 0):,} records, "
                        f"{event.get('seconds', 0):.1f}s")
        total = max(sp.objects_expected, sp.objects_done + (1 if sp.current else 0))
        reading = f" {sp.current} {sp.current_records:,}" if sp.current else ""
        self.live(f"      {source:<18} {bar(sp.objects_done, total)} {sp.objects_done}/{total} "
                  f"objects, {sp.records + sp.current_records:,} records{reading}  "
                  f"{sp.seconds:.0f}s")

    def finish_source(self, sp: SourceProgress) -> None:
        if sp.ended is not None:
            return
        sp.ended = time.monotonic()
        objects = f"{sp.objects_done} object{'s' if sp.objects_done != 1 else ''}"
        quarantined = f", {sp.quarantined:,} quarantined" if sp.quarantined else ""
        self.line(f"      {sp.source:<18} {objects:>11} {sp.records:>10,} records{quarantined}"
                  f"  ({sp.seconds:.1f}s)")

    def finish_sources(self) -> None:
        for sp in self.sources.values():
            self.finish_source(sp)

    # -- dbt (its lines arrive on sys.stdout) ---------------------------------------------------
    def on_stdout_line(self, text: str) -> None:
        clean = _ANSI.sub("", text).rstrip()
        if not clean:
            return
        if self.dbt["started"] is None and clean.startswith("Running with dbt"):
            self.finish_sources()       # dbt speaks: the sync step is over
            self.dbt["started"] = time.monotonic()
        self.detail(text)
        node = _DBT_NODE.match(clean)
        if node:
            self.dbt["done"] += 1
            self.dbt["total"] = int(node.group(2))
            if node.group(3) in ("FAIL", "ERROR"):
                self.dbt["failed"] += 1
                self.line(f"      dbt: {clean.strip()}")
            self.live(f"      dbt build          {bar(self.dbt['done'], self.dbt['total'])} "
                      f"{self.dbt['done']}/{self.dbt['total']} nodes")
        elif found := _DBT_FOUND.match(clean):
            self.dbt["found"] = found.group(1)
        elif done := _DBT_DONE.match(clean):
            self.dbt["result"] = done.group(1)


class StdoutSink(io.TextIOBase):
    """``sys.stdout`` while the Dagster job runs: whole lines go to the console's handler."""

    def __init__(self, console: DemoConsole) -> None:
        self.console = console
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self.console.on_stdout_line(line)
        return len(text)

    def flush(self) -> None:
        pass


class ConsoleLogHandler(logging.Handler):
    """Python log records: all to the log file; errors (everything with ``-v``) on the
    terminal, after clearing a live line."""

    def __init__(self, console: DemoConsole) -> None:
        super().__init__(logging.DEBUG if console.verbose else logging.INFO)
        self.console = console
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno == logging.WARNING:
                self.console.warnings += 1
            self.console.detail(text, echo=self.console.verbose or record.levelno >= logging.ERROR)
        except Exception:  # noqa: BLE001 - logging must never break the demo
            self.handleError(record)


class ProgressEventHandler(logging.Handler):
    def __init__(self, console: DemoConsole) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "progress", None)
        if event:
            self.console.on_progress(event)


def attach(console: DemoConsole) -> tuple[list[logging.Handler], int, list[logging.Handler]]:
    """Route Python logging and the connectors' progress to ``console``; returns what
    :func:`detach` restores."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, list(progress_events.handlers))
    for handler in saved[0]:
        root.removeHandler(handler)
    root.addHandler(ConsoleLogHandler(console))
    root.setLevel(logging.DEBUG if console.verbose else logging.INFO)
    logging.captureWarnings(True)     # Python warnings (Dagster's preview notes) to the log
    progress_events.addHandler(ProgressEventHandler(console))
    progress_events.setLevel(logging.INFO)
    return saved


def detach(saved: tuple[list[logging.Handler], int, list[logging.Handler]]) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.captureWarnings(False)
    for handler in list(progress_events.handlers):
        progress_events.removeHandler(handler)
    for handler in saved[2]:
        progress_events.addHandler(handler)
