"""The DuckDB raw layer: idempotent upserts, cursors committed with their rows, quarantine.

Every connector writes through :class:`Warehouse`, so the raw layer's guarantees
(docs/ARCHITECTURE.md, "The raw layer") are made in one place:

* a batch is reduced to the latest version of each key before the upsert (DuckDB's
  ``ON CONFLICT DO UPDATE`` would otherwise keep the *first* of two rows with one key);
* ``with wh.transaction():`` wraps the rows and the cursor that covers them, so a crash
  anywhere loses nothing and duplicates nothing on the next run;
* a field the table has not seen becomes a new column (schema drift), never a lost value;
* bad records go to ``<schema>._quarantine`` with a reason and a payload hash, and are counted;
  so does every row whose value its column cannot hold (a number beyond ``DECIMAL(18,2)`` or
  ``BIGINT``, ``NaN`` as money), checked here for every source before the batch is written, so
  one bad value never stops a source; text with a lone UTF-16 surrogate is repaired (U+FFFD)
  and the record counted in ``<schema>._repaired`` (connectors/values.py).

Rows go in as Arrow tables (one page at a time), so memory stays flat whatever the volume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from connectors import schema as raw
from connectors import values
from connectors.schema import Table, quote
from connectors.settings import SYNC_MEMORY_VARIABLE, memory_bytes, sync_memory_limit

DEFAULT_PATH = "data/warehouse.duckdb"
# DuckDB admits one writing process per file. A second writer (the schedule's run beside a
# run started by hand, a sync beside `dbt build`, a DuckDB client left open) waits this long
# for the first to finish before giving up with a message naming the holder.
LOCK_WAIT_VARIABLE = "DUCKDB_LOCK_WAIT_SECONDS"
DEFAULT_LOCK_WAIT_SECONDS = 600.0

log = logging.getLogger(__name__)


def warehouse_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("DUCKDB_PATH") or DEFAULT_PATH).expanduser().resolve()


def lock_wait_seconds(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    value = (env.get(LOCK_WAIT_VARIABLE) or "").strip()
    try:
        return max(0.0, float(value)) if value else DEFAULT_LOCK_WAIT_SECONDS
    except ValueError:
        raise ValueError(f"{LOCK_WAIT_VARIABLE}={value!r} is not a number of seconds") from None


def connect(path: str | Path, *, read_only: bool = False, wait_seconds: float | None = None,
            sleep: Any = time.sleep) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` that waits (bounded) while another process holds the file's lock,
    saying once who holds it, instead of failing at the first attempt; then
    :class:`WarehouseLocked` naming the holder and the fix."""
    wait = lock_wait_seconds() if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    delay, told = 0.2, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not _LOCK_PID.search(str(exc)):
                raise
            held = unavailable(Path(path), exc)
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseLocked(
                    Path(path), f"{held.cause}, still after waiting {wait:.0f}s",
                    f"{held.fix}, or raise {LOCK_WAIT_VARIABLE}", held.pid) from None
            if not told:
                log.warning("warehouse %s is %s; waiting up to %.0fs for it (%s)",
                            path, held.cause, wait, LOCK_WAIT_VARIABLE)
                told = True
            sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents owner-only (0700): the warehouse holds the
    names and emails of leads. Folders that exist keep their mode (the user's choice)."""
    missing = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        with contextlib.suppress(FileExistsError):   # another process made it meanwhile
            parent.mkdir(mode=0o700)
            os.chmod(parent, 0o700)   # mkdir's mode passes through the umask


def owner_only_umask() -> None:
    """Files this process creates from now on are owner-only (group and others masked): the
    DuckDB file's write-ahead log (``.wal``), which DuckDB creates and deletes as it writes,
    has no other way to get a mode. Files meant for readers (published marts, the report)
    set their mode explicitly."""
    current = os.umask(0o077)
    os.umask(current | 0o077)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def payload_hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class WarehouseUnavailable(Exception):
    """The warehouse file cannot be opened: one line naming the file, the cause and the fix
    (:meth:`line`), instead of DuckDB's or the OS's traceback."""

    def __init__(self, path: Path, cause: str, fix: str, pid: int | None = None) -> None:
        super().__init__(f"cannot open {path}: {cause}")
        self.path, self.cause, self.fix, self.pid = path, cause, fix, pid

    def line(self) -> str:
        return f"{self} -> {self.fix}"


class WarehouseLocked(WarehouseUnavailable):
    """Another process held the warehouse file for longer than the wait allows
    (``DUCKDB_LOCK_WAIT_SECONDS``)."""


_LOCK_PID = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def _process_name(pid: int) -> str:
    """The command line of ``pid`` (Linux ``/proc``), shortened; empty when unknown."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [w for w in raw.decode(errors="replace").split("\0") if w]
    text = " ".join(" ".join([Path(words[0]).name, *words[1:]]).split()) if words else ""
    return text if len(text) <= 80 else text[:77] + "..."


def unavailable(path: Path, exc: BaseException) -> WarehouseUnavailable:
    """What a failed open of ``path`` means for the user: who holds the lock, or which
    permission is missing, and what to do."""
    elsewhere = "or point DUCKDB_PATH at another file"
    text = str(exc)
    lock = _LOCK_PID.search(text)
    if lock:
        pid = int(lock["pid"])
        name = _process_name(pid) or Path(lock["exe"]).name
        return WarehouseUnavailable(
            path, f"locked by another process (PID {pid}: {name})",
            f"wait for it to finish or stop it (kill {pid}): one process at a time may open "
            f"the file for writing (a sync, `dagster dev`, a SQL client), {elsewhere}",
            pid)
    if isinstance(exc, OSError) and exc.strerror:
        cause = f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    else:
        cause = text.removeprefix("IO Error: ").split(". See also")[0]
    if "ermission denied" in cause or "Read-only file system" in cause:
        fix = f"make {path.parent} writable for this user, {elsewhere}"
    elif "No such file" in cause:
        fix = f"create {path.parent}, {elsewhere}"
    else:
        fix = f"check that {path} is a DuckDB file this user can write, {elsewhere}"
    return WarehouseUnavailable(path, cause, fix)


class Warehouse:
    """One DuckDB connection to the warehouse file. Not shared across threads. Opening it
    raises :class:`WarehouseUnavailable` (file, cause, fix) when the file is locked by another
    process or cannot be created."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 wait_seconds: float | None = None, memory_limit: str | None = None) -> None:
        """``memory_limit``: DuckDB's ``memory_limit`` for this connection (a sync passes
        :func:`connectors.settings.sync_memory_limit`); ``None`` keeps DuckDB's default."""
        self.path = Path(path) if path else warehouse_path()
        in_memory = self.in_memory = str(path) == ":memory:"   # DuckDB's in-process database
        try:
            created = False
            if not read_only and not in_memory:
                make_private_dirs(self.path.parent)
                created = not self.path.exists()
                owner_only_umask()   # the .wal DuckDB creates later, too
            self.conn = connect(":memory:" if in_memory else self.path, read_only=read_only,
                                wait_seconds=wait_seconds)
            if created:
                os.chmod(self.path, 0o600)   # names and emails of leads: owner-only
        except (OSError, duckdb.IOException) as exc:
            raise unavailable(self.path, exc) from exc
        if memory_limit is not None:
            # checked again here: the value is spliced into the statement (SET takes no parameter)
            limit = sync_memory_limit({SYNC_MEMORY_VARIABLE: memory_limit})
            self.conn.execute(f"SET memory_limit = '{limit}'")
        self._columns: dict[str, dict[str, str]] = {}
        self._ensured: set[str] = set()     # tables ensure_table/ensure_raw_layer made current
        self._in_tx = False
        self._relations = 0     # names of registered id relations (with_ids)
        self._lock = threading.Lock()
        self.quarantined: dict[tuple[str, str, str], int] = {}
        self.repaired: dict[tuple[str, str, str], int] = {}

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- set-up ---------------------------------------------------------------------------
    def ensure_schema(self, schema: str) -> None:
        self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self.conn.execute(raw.SYNC_STATE_DDL.format(schema=schema))
        self.conn.execute(raw.QUARANTINE_DDL.format(schema=schema))
        self.conn.execute(raw.REPAIRED_DDL.format(schema=schema))

    def ensure_table(self, table: Table) -> None:
        if table.qualified in self._ensured:     # already, on this connection
            return
        self.ensure_schema(table.schema)
        self.conn.execute(table.ddl())
        self._columns.pop(table.qualified, None)
        # a table an older version created gains the columns declared since (NULL in old rows)
        self.add_columns(table, table.columns)
        self._migrate_key(table)
        self._ensured.add(table.qualified)

    def _migrate_key(self, table: Table) -> None:
        """A table an older version created with another primary key is rebuilt with the
        declared one (``Table.index_key``: none for a partition table), every row and column
        (drift columns included) kept, in one transaction. The declared key must be at least
        as fine as the old one (it only ever grows), so no two kept rows can collide."""
        row = self.conn.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = ? "
            "AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table.schema, table.name]).fetchone()
        if row is None or tuple(row[0]) == table.index_key:
            return
        have = self.columns(table)
        target = f"{table.schema}.{quote(table.name)}"
        rebuilt = f"{table.name}__rekeyed"
        cols = ",\n    ".join(f"{quote(c)} {t}" for c, t in have.items())
        names = ", ".join(quote(c) for c in have)
        log.info("warehouse: rebuilding %s with the primary key %s", table.qualified,
                 table.index_key or f"none (rows replaced by {table.partition})")
        with self.transaction():
            self.conn.execute(f"DROP TABLE IF EXISTS {table.schema}.{quote(rebuilt)}")
            self.conn.execute(
                f"CREATE TABLE {table.schema}.{quote(rebuilt)} (\n    {cols}{table.key_clause()}\n)")
            order = f" ORDER BY {quote(table.partition)}" if table.partition else ""
            self.conn.execute(f"INSERT INTO {table.schema}.{quote(rebuilt)} ({names}) "
                              f"SELECT {names} FROM {target}{order}")
            self.conn.execute(f"DROP TABLE {target}")
            self.conn.execute(f"ALTER TABLE {table.schema}.{quote(rebuilt)} RENAME TO {quote(table.name)}")
        self._columns.pop(table.qualified, None)

    def columns(self, table: Table) -> dict[str, str]:
        if table.qualified not in self._columns:
            rows = self.conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [table.schema, table.name],
            ).fetchall()
            self._columns[table.qualified] = {name: typ for name, typ in rows}
        return self._columns[table.qualified]

    def add_columns(self, table: Table, new: Mapping[str, str]) -> list[str]:
        """Schema drift: add columns the table does not have yet. Returns those added."""
        have = self.columns(table)
        added = []
        for name, typ in new.items():
            if name not in have:
                self.conn.execute(
                    f"ALTER TABLE {table.schema}.{quote(table.name)} ADD COLUMN {quote(name)} {typ}"
                )
                added.append(name)
        if added:
            self._columns.pop(table.qualified, None)
        return added

    def memory_limit_bytes(self) -> int:
        """DuckDB's ``memory_limit`` of this connection, in bytes."""
        return memory_bytes(self.conn.execute(
            "SELECT current_setting('memory_limit')").fetchone()[0])

    @contextlib.contextmanager
    def memory_at_most(self, limit: str) -> Iterator[None]:
        """DuckDB's ``memory_limit`` lowered to ``limit`` for the block (never raised), then
        restored. For writes to tables without an index (``Table.partition``): they need the
        blocks being written and nothing else, and under a higher limit DuckDB keeps the blocks
        it has written cached up to it (docs/PERFORMANCE.md, "Memory"). What earlier writes of
        this connection hold in memory (tables not yet checkpointed and their indexes: not
        evictable, and more than the lower limit once several sources ran in one process) is
        checkpointed first. In a transaction (no checkpoint there), in an in-memory database
        (nothing to evict to) and when DuckDB cannot free enough, the limit stays."""
        previous, lower = self.memory_limit_bytes(), memory_bytes(limit)
        lowered = False
        if lower < previous and not self.in_memory and not self._in_tx:
            try:
                self.conn.execute("CHECKPOINT")
                self.conn.execute(f"SET memory_limit = '{lower}B'")   # an int: nothing spliced
                lowered = True
            except duckdb.Error as exc:     # DuckDB could not free enough for the lower limit
                # (a failed SET may have taken effect all the same: set the old one back)
                self.conn.execute(f"SET memory_limit = '{previous}B'")
                log.info("memory_limit kept (%s)", str(exc).splitlines()[0])
        try:
            yield
        finally:
            if lowered:
                self.conn.execute(f"SET memory_limit = '{previous}B'")

    # -- transactions ---------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """Rows and the cursor covering them commit together or not at all."""
        if self._in_tx:
            yield self
            return
        self.conn.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._columns.clear()   # a drift column added in the rolled-back work is gone too
            self._ensured.clear()
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._in_tx = False

    # -- writes ---------------------------------------------------------------------------
    def upsert(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]] | pa.Table,
        *,
        version: str | None = None,
        extra_types: Mapping[str, str] | None = None,
    ) -> int:
        """Insert or update ``rows`` on the table's key; returns the number of distinct keys.

        ``version`` names the column that orders versions of one key (e.g. ``system_modstamp``);
        within the batch the latest wins (ties: the later row in the batch), and a row already
        stored with a newer version is not overwritten by an older one.
        ``extra_types`` gives DuckDB types for drift columns (default VARCHAR).
        A partition table (``Table.partition``, no PRIMARY KEY index) has its batch's keys
        deleted, then inserted: the same outcome, without a version guard.
        """
        if version and table.partition:
            raise ValueError(f"{table.qualified} is replaced by {table.partition}: no version guard")
        have = self.columns(table)
        if isinstance(rows, pa.Table):
            batch = rows
        else:
            types = {**(extra_types or {}), **have}
            # the common case in one pass per column; a batch with a value to repair or
            # quarantine (or mixed types in a column) takes the row-by-row path
            fast = _clean_arrow(rows, types)
            batch = fast if fast is not None else _to_arrow(self._admit(table, rows, types))
        if batch.num_rows == 0:
            return 0
        missing = {
            c: (extra_types or {}).get(c, "VARCHAR") for c in batch.column_names if c not in have
        }
        if missing:
            self.add_columns(table, missing)
            have = self.columns(table)
        now = utcnow()
        if "_synced_at" not in batch.column_names:
            batch = batch.append_column("_synced_at", pa.array([now] * batch.num_rows, pa.timestamp("us")))
        if "_is_deleted" not in batch.column_names:
            batch = batch.append_column("_is_deleted", pa.array([False] * batch.num_rows, pa.bool_()))
        if len(table.key) == 1:
            distinct = pc.count_distinct(batch.column(table.key[0]), mode="all").as_py()
        else:
            distinct = batch.group_by(list(table.key)).aggregate([]).num_rows
        # one row per key already (the common case): no ranking of the batch's versions
        ranked = distinct != batch.num_rows
        batch = batch.append_column("__ord", pa.array(range(batch.num_rows), pa.int64()))
        cols = [c for c in batch.column_names if c != "__ord"]
        view = f"__batch_{table.schema}_{table.name}"
        self.conn.register(view, batch)
        try:
            order = f"{quote(version)} DESC NULLS LAST, __ord DESC" if version else "__ord DESC"
            keys = ", ".join(quote(k) for k in table.key)
            select = ", ".join(f"CAST({quote(c)} AS {have[c]}) AS {quote(c)}" for c in cols)
            updates = ", ".join(
                f"{quote(c)} = excluded.{quote(c)}" for c in cols if c not in table.key
            )
            target = f"{table.schema}.{quote(table.name)}"
            guard = ""
            if version:
                guard = (
                    f" WHERE {target}.{quote(version)} IS NULL OR excluded.{quote(version)} IS NULL"
                    f" OR excluded.{quote(version)} >= {target}.{quote(version)}"
                )
            source = (
                f"SELECT {', '.join(quote(c) for c in cols)} FROM ("
                f"  SELECT {select}, row_number() OVER (PARTITION BY {keys} ORDER BY {order}) AS __rn"
                f"  FROM {view}) WHERE __rn = 1" if ranked else f"SELECT {select} FROM {view}")
            if table.partition:
                self._replace_keys(table, view, batch)
                sql = f"INSERT INTO {target} ({', '.join(quote(c) for c in cols)}) {source}"
            else:
                sql = (
                    f"INSERT INTO {target} ({', '.join(quote(c) for c in cols)}) {source} "
                    f"ON CONFLICT ({keys}) DO UPDATE SET {updates}{guard}"
                )
            self.conn.execute(sql)
        finally:
            self.conn.unregister(view)
        return distinct

    def _replace_keys(self, table: Table, view: str, batch: pa.Table) -> None:
        """A partition table's upsert, first half: the batch's keys already stored are deleted
        (the insert that follows is the update). A key holds one partition value, so only the
        batch's partition range is searched; rows land in partition order, so DuckDB's min-max
        zone maps skip the rest of the table."""
        if table.partition not in batch.column_names:
            raise ValueError(f"{table.qualified}: a batch without its partition column {table.partition}")
        column = batch.column(table.partition)
        bounds = pc.min_max(column).as_py()
        target = f"{table.schema}.{quote(table.name)}"
        match = " AND ".join(f"{target}.{quote(k)} = __b.{quote(k)}" for k in table.key)
        within, params = "", []
        if column.null_count == 0:      # a row without its partition value: search every row
            within, params = f"{target}.{quote(table.partition)} BETWEEN ? AND ? AND ", [
                bounds["min"], bounds["max"]]
        self.conn.execute(
            f"DELETE FROM {target} USING (SELECT DISTINCT {', '.join(quote(k) for k in table.key)} "
            f"FROM {view}) AS __b WHERE {within}{match}", params)

    def with_ids(self, sql: str, ids: Iterable[Any], params: Sequence[Any] = ()) -> list[tuple]:
        """Run ``sql``, in which ``{ids}`` stands for a query of one column ``id`` (VARCHAR)
        holding ``ids``, and return its rows; ``params`` bind the statement's other ``?``.

        The ids never go in as a list parameter: DuckDB's Python client converts a list
        element by element, trying ``import pandas`` for each (two failed imports per id: a
        HubSpot full sync at scale 10 made ~160,000 of them; docs/PERFORMANCE.md,
        "Profiles"). They go in as ONE string parameter split in SQL on the unit separator
        (0.5 ms for 1,000 ids, against 5-17 ms to register an Arrow table and 650 ms as a
        list), or, should an id ever hold that character, as a registered Arrow table."""
        values = [i if isinstance(i, str) else str(i) for i in ids]
        params = list(params)
        before = sql[:sql.index("{ids}")].count("?")     # where the ids' own parameter goes
        if not values:
            return self.conn.execute(
                sql.replace("{ids}", "SELECT NULL::VARCHAR AS id WHERE false"), params).fetchall()
        if not any(_SEP in v for v in values):
            params.insert(before, _SEP.join(values))
            return self.conn.execute(
                sql.replace("{ids}", "SELECT unnest(string_split(?, chr(31))) AS id"),
                params).fetchall()
        self._relations += 1
        name = f"__ids_{self._relations}"
        self.conn.register(name, pa.table({"id": pa.array(values, pa.string())}))
        try:
            return self.conn.execute(sql.replace("{ids}", f"SELECT id FROM {name}"),
                                     params).fetchall()
        finally:
            self.conn.unregister(name)

    def mark_deleted(self, table: Table, ids: Iterable[str], *, key: str = "id") -> int:
        """Record deletes the source reported for rows we hold (purged from the recycle bin,
        archived). Ids we never synced stay absent: there is nothing of theirs to retract."""
        ids = list(ids)
        if not ids:
            return 0
        target = f"{table.schema}.{quote(table.name)}"
        rows = self.with_ids(
            f"UPDATE {target} SET _is_deleted = true, _synced_at = ? WHERE {quote(key)} IN "
            f"({{ids}}) AND NOT coalesce(_is_deleted, false)", ids, [utcnow()])
        return int(rows[0][0]) if rows else 0

    def replace_partition(self, table: Table, where_sql: str, params: Sequence[Any],
                          rows: Sequence[Mapping[str, Any]] | pa.Table) -> int:
        """Replace every row matching ``where_sql`` (e.g. one GA4 date) with ``rows``.
        Call inside :meth:`transaction` so the swap is atomic."""
        self.conn.execute(
            f"DELETE FROM {table.schema}.{quote(table.name)} WHERE {where_sql}", list(params)
        )
        return self.upsert(table, rows)

    # -- cursors --------------------------------------------------------------------------
    def get_cursor(self, schema: str, obj: str) -> Any:
        """The committed cursor, or None (also on a warehouse never synced, even read-only)."""
        try:
            row = self.conn.execute(
                f"SELECT cursor FROM {schema}._sync_state WHERE object = ?", [obj]
            ).fetchone()
        except duckdb.CatalogException:
            return None
        return json.loads(row[0]) if row and row[0] is not None else None

    def set_cursor(self, schema: str, obj: str, cursor: Any, rows_synced: int = 0) -> None:
        self.conn.execute(
            f"INSERT INTO {schema}._sync_state (object, cursor, updated_at, rows_synced) "
            f"VALUES (?, ?, ?, ?) ON CONFLICT (object) DO UPDATE SET cursor = excluded.cursor, "
            f"updated_at = excluded.updated_at, "
            f"rows_synced = {schema}._sync_state.rows_synced + excluded.rows_synced",
            [obj, json.dumps(cursor, default=str), utcnow(), rows_synced],
        )

    def clear_cursor(self, schema: str, obj: str | None = None) -> None:
        self.ensure_schema(schema)
        if obj is None:
            self.conn.execute(f"DELETE FROM {schema}._sync_state")
        else:
            self.conn.execute(f"DELETE FROM {schema}._sync_state WHERE object = ?", [obj])

    # -- quarantine -----------------------------------------------------------------------
    def quarantine(self, schema: str, obj: str, record_id: str | None, reason: str,
                   payload: Any) -> None:
        """Keep a bad record out of the raw table, but never silently: one row per record and
        reason, with a hash of its payload (not the payload: it may hold PII)."""
        self.ensure_schema(schema)
        self.conn.execute(
            f"INSERT INTO {schema}._quarantine VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [schema, obj, record_id, reason, payload_hash(payload), utcnow()],
        )
        k = (schema, obj, reason)
        self.quarantined[k] = self.quarantined.get(k, 0) + 1

    def repair(self, schema: str, obj: str, record_id: str | None, reason: str,
               payload: Any) -> None:
        """Count a record kept after a repair of one of its values (one row per record and
        reason, like :meth:`quarantine`)."""
        self.ensure_schema(schema)
        self.conn.execute(
            f"INSERT INTO {schema}._repaired VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [schema, obj, record_id, reason, payload_hash(payload), utcnow()],
        )
        k = (schema, obj, reason)
        self.repaired[k] = self.repaired.get(k, 0) + 1

    def _admit(self, table: Table, rows: Sequence[Mapping[str, Any]],
               types: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """The rows the table can hold: text repaired to valid UTF-8 (record counted), a row
        with a number its column cannot hold quarantined with the field and value named."""
        kept: list[Mapping[str, Any]] = []
        n_repaired = 0
        for row in rows:
            rid = "/".join(str(row.get(k)) for k in table.key)
            rid = values.clean_text(rid)
            problem = None
            repaired: dict[str, Any] | None = None
            for name, value in row.items():
                if isinstance(value, str):
                    if values.has_surrogates(value):
                        repaired = repaired if repaired is not None else dict(row)
                        repaired[name] = values.clean_text(value)
                elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                    problem = _unfit(name, value, types.get(name, ""))
                    if problem:
                        break
            if problem:
                self.quarantine(table.schema, table.name, rid, problem, row)
                continue
            if repaired is not None:
                fields = sorted(k for k, v in row.items() if isinstance(v, str) and values.has_surrogates(v))
                self.repair(table.schema, table.name, rid,
                            f"invalid UTF-8 (lone surrogate) replaced in {', '.join(fields)}", repaired)
                row = repaired
                n_repaired += 1
            kept.append(row)
        if n_repaired:
            log.warning("%s: %d record(s) held invalid UTF-8 (lone surrogates), stored with U+FFFD "
                        "in their place and counted in %s._repaired", table.qualified, n_repaired,
                        table.schema)
        return kept

    def ensure_raw_layer(self) -> None:
        """Every raw table of every source, empty where a source is not configured: dbt's
        staging reads them all, so a missing optional source must mean no rows, not an error."""
        tables = [t for t in raw.TABLES.values() if t.qualified not in self._ensured]
        # what ensure_table does for each, in a few statements for all (the catalog queries
        # cost ~5 ms each: 0.5 s of every sync when made per table)
        for schema in dict.fromkeys(t.schema for t in tables):
            self.ensure_schema(schema)
        for t in tables:
            self.conn.execute(t.ddl())
        have: dict[str, dict[str, str]] = {}
        for schema, name, column, typ in self.conn.execute(
                "SELECT table_schema, table_name, column_name, data_type FROM "
                "information_schema.columns ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall():
            have.setdefault(f"{schema}.{name}", {})[column] = typ
        keys = {f"{schema}.{name}": tuple(columns) for schema, name, columns in self.conn.execute(
            "SELECT schema_name, table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY'").fetchall()}
        for t in tables:
            self._columns[t.qualified] = have.get(t.qualified, {})
            self.add_columns(t, t.columns)
            if keys.get(t.qualified, t.index_key) != t.index_key:
                self._migrate_key(t)
            self._ensured.add(t.qualified)
        self.ensure_source_status()

    # -- source status ----------------------------------------------------------------------
    def ensure_source_status(self) -> None:
        self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {raw.SOURCE_STATUS_SCHEMA}")
        self.conn.execute(raw.SOURCE_STATUS_DDL)

    def record_source_status(self, source: str, status: str, detail: str = "",
                             now: dt.datetime | None = None) -> None:
        """What became of ``source``'s sync: ``ok``, ``failed`` (``detail``: why, redacted by
        the caller) or ``not_configured``. A failure keeps the time of the first failure since
        the last complete sync (``failing_since``); a complete sync clears it."""
        if status not in ("ok", "failed", "not_configured"):
            raise ValueError(f"unknown source status {status!r}")
        now = now or utcnow()
        self.ensure_source_status()
        self.conn.execute(
            "INSERT INTO meta.source_status VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO "
            "UPDATE SET status = excluded.status, detail = excluded.detail, "
            "attempted_at = excluded.attempted_at, "
            "last_success_at = coalesce(excluded.last_success_at, meta.source_status.last_success_at), "
            "failing_since = CASE WHEN excluded.status = 'failed' THEN "
            "coalesce(meta.source_status.failing_since, excluded.failing_since) END",
            [source, status, detail[:500] or None, now, now if status == "ok" else None,
             now if status == "failed" else None])

    def count(self, table: Table, **equals: Any) -> int:
        """Rows of ``table``, optionally where columns equal values (bound, never inlined)."""
        where = " AND ".join(f"{quote(c)} = ?" for c in equals) or "true"
        return int(self.conn.execute(
            f"SELECT count(*) FROM {table.schema}.{quote(table.name)} WHERE {where}",
            list(equals.values()),
        ).fetchone()[0])


def _unfit(name: str, value: int | float | Decimal, sql_type: str) -> str | None:
    """Why ``value`` cannot be stored in a column of ``sql_type`` (None when it can)."""
    sql_type = sql_type.upper()
    limit = values.decimal_bounds(sql_type)
    if limit is not None:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not number.is_finite():
            return f"{name}: not a finite number {value!r} for {sql_type}"
        if abs(number) >= limit:
            return f"{name}: {value!r} out of range for {sql_type}"
    elif sql_type in ("BIGINT", "INTEGER", "HUGEINT") and isinstance(value, int):
        bits = {"BIGINT": 63, "INTEGER": 31, "HUGEINT": 127}[sql_type]
        if not -(2**bits) <= value < 2**bits:
            return f"{name}: {value!r} out of range for {sql_type}"
    elif sql_type in ("BIGINT", "INTEGER") and isinstance(value, float) and not math.isfinite(value):
        return f"{name}: not a finite number {value!r} for {sql_type}"
    return None


_SEP = "\x1f"      # ASCII unit separator: joins ids into one parameter (Warehouse.with_ids)


_NUMERIC_CHECKED = ("BIGINT", "INTEGER", "HUGEINT")


def _clean_arrow(rows: Sequence[Mapping[str, Any]], types: Mapping[str, str]) -> pa.Table | None:
    """``rows`` as an Arrow table when :meth:`Warehouse._admit` would keep every row unchanged
    and :func:`_to_arrow` would type every column from its values: no lone surrogate in any
    text (Arrow refuses to encode one), every number fits its column, no column mixes types.
    Otherwise None. Per column, not per value: most of a page's Python time otherwise
    (docs/PERFORMANCE.md, "Profiles")."""
    if not rows:
        return pa.table({})
    names = dict.fromkeys(itertools.chain.from_iterable(rows))
    arrays = {}
    for name in names:
        column = [r.get(name) for r in rows]
        try:
            array = pa.array(column)
        except (UnicodeEncodeError, OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        kind = array.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            sql_type = types.get(name, "").upper()
            if (values.decimal_bounds(sql_type) is not None or sql_type in _NUMERIC_CHECKED) and any(
                    _unfit(name, v, sql_type) for v in column
                    if v is not None and not isinstance(v, bool)):
                return None
        arrays[name] = array
    return pa.table(arrays)


def _to_arrow(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts, possibly with different keys) -> an Arrow table with every key a column."""
    names: dict[str, None] = {}
    for r in rows:
        for k in r:
            names.setdefault(k, None)
    arrays = {}
    for name in names:
        values = [r.get(name) for r in rows]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # mixed types in one column: keep every value, as text
            arrays[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays)
