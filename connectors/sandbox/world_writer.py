"""Where the world generator's rows go: people rendered into records and every row written to
the store, in the generator's process (:class:`StoreWriter`) or in a second one
(:class:`ProcessWriter`).

Rendering a person (:func:`connectors.sandbox.people.render`: records, JSON, timestamps) and
SQLite's inserts are about half of a large world's generation and depend on nothing the
simulation draws next, so a large world hands them, a day at a time, to a writer process and
simulates the next day meanwhile: on two cores generation takes about half the wall time. The
rows, and the order they are written in, are the same either way (the writer renders the
people in the order they were planned), so the store is the same for the same seed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from connectors.sandbox import store
from connectors.sandbox.config import WorldConfig
from connectors.sandbox.people import Ctx, render

BATCH_SQL = {
    "hs": "INSERT OR REPLACE INTO hubspot_object (object_type, id, created_at_ms, updated_at_ms, "
          "archived, archived_at_ms, props) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "assoc": "INSERT OR IGNORE INTO hubspot_association (from_type, from_id, to_type, to_id, "
             "type_id) VALUES (?, ?, ?, ?, ?)",
    "sf": "INSERT OR REPLACE INTO sf_record (sobject, id, system_modstamp, created_date, "
          "is_deleted, purged, deleted_date, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "truth": "INSERT OR REPLACE INTO truth_person (person_id, true_visitor_id, email, "
             "hubspot_contact_id, sf_lead_id, sf_contact_id, intended_segment, intended_channel, "
             "advocate_id, post_id, deleted_at, duplicate_hubspot_contact_id, "
             "duplicate_sf_lead_id, created_at, account_id) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "post": "INSERT OR REPLACE INTO advocacy_post (post_id, platform, advocate_id, advocate_email, "
            "advocate_name, network, category, campaign, posted_at, url, clicks, likes, comments, "
            "shares, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "ga": "INSERT INTO ga4_row (date, true_visitor_id, visitor_id, source, medium, campaign, "
          "ad_content, term, landing_page, sessions, engaged_sessions, key_events) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (date, true_visitor_id, source, medium, campaign, ad_content, term, "
          "landing_page) DO UPDATE SET sessions = sessions + excluded.sessions, "
          "engaged_sessions = engaged_sessions + excluded.engaged_sessions, "
          "key_events = key_events + excluded.key_events",
}

# A batch: rows by BATCH_SQL key, and the people to render, as (plan, cutoff), in planning order.
# Their records go after the batch's own rows of the same table; the generator never adds a
# plain row to a table after a person in the same batch (static records and a quarter's
# records are written before any person of the day), so this is the order of the calls.
Rows = dict[str, list]
People = list[tuple[dict, int]]


class StoreWriter:
    """Renders a batch's people and writes every row of it (one ``executemany`` per table)."""

    def __init__(self, conn: sqlite3.Connection, ctx: Ctx) -> None:
        self.conn, self.ctx = conn, ctx

    def write(self, rows: Rows, people: People) -> None:
        rows = {key: list(rows.get(key, ())) for key in BATCH_SQL}
        pending: list[tuple] = []
        done: list[tuple] = []
        for plan, cutoff in people:
            r = render(plan, cutoff, self.ctx)
            rows["hs"] += r.hs
            rows["assoc"] += r.assoc
            rows["sf"] += r.sf
            rows["truth"] += r.truth
            if r.next_ms is not None:
                pending.append((plan["pid"], r.next_ms, json.dumps(plan, separators=(",", ":"))))
            else:
                done.append((plan["pid"],))
        for key, sql in BATCH_SQL.items():
            if rows[key]:
                self.conn.executemany(sql, rows[key])
        if pending:
            self.conn.executemany(
                "INSERT OR REPLACE INTO gen_person (person_id, next_ms, plan) VALUES (?, ?, ?)", pending)
        if done:
            self.conn.executemany("DELETE FROM gen_person WHERE person_id = ?", done)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with store.transaction(self.conn):
            yield

    def close(self) -> None:
        """Nothing to finish: the rows are in the caller's connection."""


class WriterFailed(RuntimeError):
    """The writer process stopped; the message holds its traceback."""


class ProcessWriter:
    """A :class:`StoreWriter` in a child interpreter (``python -m
    connectors.sandbox.world_writer``: a fresh process, neither a fork of this one and its
    connection nor a re-import of the caller's main module) with its own connection to the
    store. Batches go over a pipe (a send waits while the child is still reading the previous
    one, so about two days of rows are in flight); the child answers only to fail or finish."""

    def __init__(self, path: str | Path, config: WorldConfig) -> None:
        down_r, down_w = os.pipe()      # batches, to the child
        up_r, up_w = os.pipe()          # its answer
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(down_r), str(up_w), str(path), config.to_json()],
            pass_fds=(down_r, up_w), env=env, stdin=subprocess.DEVNULL)
        os.close(down_r)
        os.close(up_w)
        self._down = Connection(down_w, readable=False)
        self._up = Connection(up_r, writable=False)

    def _send(self, message: tuple) -> None:
        try:
            self._down.send(message)
        except OSError:
            self._fail()
        if self._up.poll():
            self._fail()

    def _fail(self, answer: Any = None) -> None:
        if answer is None:
            try:
                answer = self._up.recv() if self._up.poll(5) else None
            except (EOFError, OSError):
                answer = None
        self.abort()
        detail = answer[1] if answer and answer[0] == "error" else f"exit code {self._proc.returncode}"
        raise WriterFailed(f"the world writer process failed: {detail}")

    def write(self, rows: Rows, people: People) -> None:
        self._send(("write", rows, people))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._send(("begin",))
        yield
        self._send(("commit",))

    def close(self) -> None:
        """Wait for the child to write and commit everything it was sent."""
        self._send(("close",))
        try:
            answer = self._up.recv()
        except (EOFError, OSError):
            answer = None
        if answer != ("done",):
            self._fail(answer)
        self._proc.wait()
        self._down.close()
        self._up.close()

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
        self._proc.wait()
        for end in (self._down, self._up):
            with contextlib.suppress(OSError):
                end.close()


def _serve(down: Connection, up: Connection, path: str, config_json: str) -> int:
    """The writer process: a plain connection (``store.connect`` would rebuild the indexes the
    generator dropped), the same render context as the generator's, batches until ``close``."""
    try:
        from connectors.sandbox.world import build_static, make_ctx

        cfg = WorldConfig.from_json(config_json)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        writer = StoreWriter(conn, make_ctx(cfg, build_static(cfg)))
        while True:
            message = down.recv()
            if message[0] == "write":
                writer.write(message[1], message[2])
            elif message[0] in ("begin", "commit"):
                conn.execute(message[0].upper())
            else:
                break
        conn.close()
        up.send(("done",))
        return 0
    except BaseException:
        with contextlib.suppress(OSError):
            up.send(("error", traceback.format_exc()))
        return 1


if __name__ == "__main__":
    sys.exit(_serve(Connection(int(sys.argv[1]), writable=False),
                    Connection(int(sys.argv[2]), readable=False), sys.argv[3], sys.argv[4]))
