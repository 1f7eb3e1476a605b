"""Helpers the HubSpot and GA4 fakes share: a read-only store connection per thread and the
meta values (clock, GA4 settings) that the fakes re-read on every request, so that
``advance`` on the store is seen without restarting anything."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any

from connectors.sandbox import store


class StoreReader:
    """One read-only SQLite connection per thread (ThreadingHTTPServer runs a thread per
    client connection; the connection dies with its thread)."""

    def __init__(self, store_path: str | Path) -> None:
        self.store_path = Path(store_path)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = store.connect(self.store_path, readonly=True)
            self._local.conn = conn
        return conn

    def meta(self) -> dict[str, Any]:
        """Every meta key, JSON-decoded, plus the keys of ``config`` not set at top level
        (the generator's own state left out: cheap enough for every request)."""
        return store.read_meta(self.conn())


def clock_date(meta: dict[str, Any]) -> dt.date:
    """The sandbox clock: the exclusive end of the generated days ("today")."""
    raw = meta.get("clock")
    if not raw:
        return dt.datetime.now(dt.UTC).date()
    return dt.date.fromisoformat(str(raw)[:10])


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(ms) % 1000:03d}Z"
    )


def parse_time_ms(value: Any) -> int | None:
    """Epoch milliseconds from an epoch-ms number/string, an ISO datetime or an ISO date."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        return int(float(text)) if text.lstrip("-").replace(".", "", 1).isdigit() else _iso(text)
    except ValueError:
        return None


def _iso(text: str) -> int:
    if len(text) == 10:
        d = dt.date.fromisoformat(text)
        return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(round(t.timestamp() * 1000))


def date_ms(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)
