"""What every source connector shares: settings from the environment, progress reporting,
results and ``check`` findings.

A connector module (``connectors/hubspot.py``, ``salesforce.py``, ``ga4.py``,
``advocacy_exports.py``) defines a subclass of :class:`Source` and registers it in
:data:`SOURCES` (see ``connectors/registry.py``). Connectors never import Dagster.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TextIO

# InvalidSetting is re-exported: connectors and their tests import it from here
from connectors.settings import (
    DEFAULT_HISTORY_DAYS,
    HISTORY_START_VARIABLE,
    InvalidSetting,
    parse_history_start,
)
from connectors.warehouse import Warehouse

__all__ = ["InvalidSetting"]


class SourceNotConfigured(Exception):
    """The source's environment variables are absent: skipped, with this message."""


class SourceStopped(Exception):
    """The source cannot go on (e.g. API limit exceeded); what was committed stays."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Environment variables (every one is documented in .env.example), read once. Secrets
    stay in here and are never part of any repr, log line or metadata."""

    env: Mapping[str, str] = dataclasses.field(repr=False)

    @classmethod
    def from_environment(cls, env_file: str | Path | None = ".env") -> Settings:
        values = {}
        if env_file and Path(env_file).exists():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ)  # the real environment wins over the file
        return cls(values)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        return value if value not in (None, "") else default

    def history_start(self, default_days: int | None = DEFAULT_HISTORY_DAYS, *,
                      today: dt.date | None = None) -> dt.date | None:
        """``HISTORY_START_DATE``: the first date a full sync reads, as an ISO date
        ``YYYY-MM-DD``. Unset or blank: ``default_days`` before ``today`` (UTC), or
        ``None`` when ``default_days`` is ``None`` (the caller has its own default, e.g. GA4's
        ``730daysAgo`` in the property's calendar). Anything else, or a date after today,
        raises :class:`InvalidSetting` (:func:`connectors.settings.parse_history_start`).
        What the date bounds is the source's business: each connector documents it in its
        module docstring."""
        day = parse_history_start(self.get(HISTORY_START_VARIABLE), today=today)
        if day is not None or default_days is None:
            return day
        today = today or dt.datetime.now(dt.UTC).date()
        return today - dt.timedelta(days=default_days)

    def require(self, source: str, *names: str) -> None:
        missing = [n for n in names if not self.get(n)]
        if missing:
            raise SourceNotConfigured(
                f"{source}: skipped, {', '.join(missing)} not set (see .env.example)"
            )

    def secrets(self) -> list[str]:
        """Values that must never appear in output (for redaction and tests)."""
        names = ("HUBSPOT_ACCESS_TOKEN", "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_PASSWORD",
                 "SALESFORCE_SECURITY_TOKEN", "SALESFORCE_CLIENT_SECRET",
                 "ALERT_WEBHOOK_URL", "DIGEST_WEBHOOK_URL")  # whoever has a URL can post
        return [v for n in names if (v := self.get(n))]

    def redact(self, text: str) -> str:
        """``text`` with every secret of these settings replaced by ``***``."""
        return redact(text, self.secrets())


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of any length; empty ones ignored) replaced by ``***``,
    longest first so that a secret containing another is replaced whole."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


@dataclasses.dataclass
class ObjectResult:
    object: str
    records: int = 0
    deleted: int = 0
    pages: int = 0
    requests: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    note: str = ""


@dataclasses.dataclass
class SyncResult:
    source: str
    objects: list[ObjectResult] = dataclasses.field(default_factory=list)
    skipped: str | None = None      # why the whole source was skipped
    stopped: str | None = None      # why it stopped early (what was committed is kept)

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects)


@dataclasses.dataclass(frozen=True)
class Finding:
    source: str
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"[{mark}] {self.source}: {self.what}" + (f" -> {self.fix}" if self.fix and not self.ok else "")


# Progress also goes out as records of this logger (not propagated: they are not log lines),
# for a caller that draws its own display, e.g. `advocacy demo` whose sync runs inside Dagster.
progress_events = logging.getLogger("connectors.progress")
progress_events.propagate = False


class Progress:
    """One line per page on a terminal (rewritten in place), plain lines otherwise. Every
    line passes through ``redact`` first (notes and messages can quote an API's answer).
    Whatever else must be written to the same stream (log records) goes through
    :meth:`write_line`, which first clears a line being rewritten."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 redact: Callable[[str], str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._redact = redact or (lambda text: text)
        self._started: dict[str, float] = {}
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._partial = False     # a progress line without its newline is on the terminal

    def _event(self, kind: str, source: str, obj: str, **values: object) -> None:
        if progress_events.isEnabledFor(logging.INFO):
            progress_events.info("%s %s.%s", kind, source, obj,
                                 extra={"progress": {"kind": kind, "source": source,
                                                     "object": obj, **values}})

    def start(self, source: str, obj: str) -> None:
        self._started[f"{source}.{obj}"] = time.monotonic()
        self._event("start", source, obj)

    def page(self, source: str, obj: str, pages: int, records: int) -> None:
        self._event("page", source, obj, pages=pages, records=records)
        if self.quiet:
            return
        elapsed = max(1e-6, time.monotonic() - self._started.get(f"{source}.{obj}", time.monotonic()))
        line = f"{source}.{obj}: {pages} pages, {records} records, {records / elapsed:,.0f} rec/s"
        line = self._redact(line)
        if self._tty:
            self.stream.write("\r\x1b[2K" + line)
            self._partial = True
        elif pages == 1 or pages % 20 == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self, source: str, result: ObjectResult) -> None:
        self._event("done", source, result.object, records=result.records, pages=result.pages,
                    deleted=result.deleted, quarantined=result.quarantined, seconds=result.seconds)
        if self.quiet:
            return
        extra = f", {result.deleted} deleted" if result.deleted else ""
        extra += f", {result.quarantined} quarantined" if result.quarantined else ""
        extra += f" ({result.note})" if result.note else ""
        self.write_line(f"{source}.{result.object}: {result.records} records in {result.pages} "
                        f"pages, {result.seconds:.1f}s{extra}")

    def message(self, text: str) -> None:
        if not self.quiet:
            self.write_line(text)

    def write_line(self, text: str) -> None:
        """A whole line on the progress stream, after clearing a line being rewritten."""
        if self._partial:
            self.stream.write("\r\x1b[2K")
            self._partial = False
        self.stream.write(self._redact(text) + "\n")
        self.stream.flush()


class Source:
    """A source connector. Subclasses set ``name`` and implement ``sync`` and ``check``."""

    name = ""
    schema = ""

    def __init__(self, settings: Settings, warehouse: Warehouse, progress: Progress | None = None):
        self.settings = settings
        self.warehouse = warehouse
        self.progress = progress or Progress(quiet=True)

    def sync(self, *, full_refresh: bool = False, objects: list[str] | None = None) -> SyncResult:
        raise NotImplementedError

    def check(self) -> list[Finding]:
        raise NotImplementedError
