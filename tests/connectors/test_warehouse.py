"""The shared warehouse's guarantees (docs/ARCHITECTURE.md, "The raw layer")."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors import schema as raw
from connectors.warehouse import Warehouse

CONTACTS = raw.table("hubspot.contacts")


def row(i: str, email: str, updated: dt.datetime) -> dict:
    return {"id": i, "email": email, "updated_at": updated, "created_at": updated}


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        w.ensure_table(CONTACTS)
        yield w


def test_duplicate_id_in_one_batch_keeps_the_newer_row(wh):
    t0 = dt.datetime(2024, 1, 1)
    n = wh.upsert(CONTACTS, [row("1", "new@x.com", t0 + dt.timedelta(hours=1)),
                             row("1", "old@x.com", t0), row("2", "b@x.com", t0)],
                  version="updated_at")
    assert n == 2
    assert wh.conn.execute("SELECT email FROM hubspot.contacts WHERE id='1'").fetchone()[0] == "new@x.com"
    # an older version arriving later does not overwrite the stored newer one
    wh.upsert(CONTACTS, [row("1", "older@x.com", t0 - dt.timedelta(days=1))], version="updated_at")
    assert wh.conn.execute("SELECT email FROM hubspot.contacts WHERE id='1'").fetchone()[0] == "new@x.com"
    # without a version, the later row of the batch wins
    wh.upsert(CONTACTS, [row("3", "first@x.com", t0), row("3", "second@x.com", t0)])
    assert wh.conn.execute("SELECT email FROM hubspot.contacts WHERE id='3'").fetchone()[0] == "second@x.com"


def test_cursor_and_rows_commit_together_or_not_at_all(wh):
    t0 = dt.datetime(2024, 1, 1)
    with wh.transaction():
        wh.upsert(CONTACTS, [row("1", "a@x.com", t0)], version="updated_at")
        wh.set_cursor("hubspot", "contacts", {"modified_since_ms": 1})
    with pytest.raises(RuntimeError), wh.transaction():
        wh.upsert(CONTACTS, [row("2", "b@x.com", t0)], version="updated_at")
        wh.set_cursor("hubspot", "contacts", {"modified_since_ms": 2})
        raise RuntimeError("crash between the page and the next")
    assert wh.count(CONTACTS) == 1
    assert wh.get_cursor("hubspot", "contacts") == {"modified_since_ms": 1}


def test_unknown_field_becomes_a_drift_column(wh):
    t0 = dt.datetime(2024, 1, 1)
    wh.upsert(CONTACTS, [{**row("1", "a@x.com", t0), "favourite_colour": "teal"}])
    assert "favourite_colour" in wh.columns(CONTACTS)
    assert wh.conn.execute("SELECT favourite_colour FROM hubspot.contacts").fetchone()[0] == "teal"
    # rows without it still load
    wh.upsert(CONTACTS, [row("2", "b@x.com", t0)])
    assert wh.count(CONTACTS) == 2


def _hold_lock(path, seconds: float):
    """Another process opening the file read-write for ``seconds``; returns once it holds it."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); time.sleep(float(sys.argv[2]))", str(path), str(seconds)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_locked_warehouse_is_waited_for_then_opened(tmp_path, monkeypatch, caplog):
    import time

    path = tmp_path / "wh.duckdb"
    holder = _hold_lock(path, 1.5)
    monkeypatch.setenv("DUCKDB_LOCK_WAIT_SECONDS", "30")
    started = time.monotonic()
    try:
        with caplog.at_level("WARNING"), Warehouse(path) as opened:
            assert opened.conn.execute("select 1").fetchone() == (1,)
    finally:
        holder.wait(10)
    assert time.monotonic() - started >= 0.5
    assert f"PID {holder.pid}" in caplog.text and "waiting up to 30s" in caplog.text


def test_a_warehouse_locked_too_long_fails_naming_the_holder(tmp_path, monkeypatch):
    from connectors.warehouse import WarehouseLocked

    path = tmp_path / "wh.duckdb"
    holder = _hold_lock(path, 30)
    monkeypatch.setenv("DUCKDB_LOCK_WAIT_SECONDS", "0.5")
    try:
        with pytest.raises(WarehouseLocked, match=rf"PID {holder.pid}") as info:
            Warehouse(path)
        assert "DUCKDB_LOCK_WAIT_SECONDS" in info.value.line()
    finally:
        holder.kill()
        holder.wait(10)


def test_with_ids_binds_an_id_list_as_one_value(tmp_path) -> None:
    """Id lists reach DuckDB as one string split in SQL (or, for an id holding the separator,
    a registered Arrow table), never as a list parameter converted element by element; the
    statement's other parameters keep their places on either side of ``{ids}``."""
    import builtins

    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.conn.execute("CREATE TABLE t (id VARCHAR, n INT)")
        wh.conn.execute("INSERT INTO t SELECT i::VARCHAR, i FROM range(10) r(i)")
        imports: list[str] = []
        real = builtins.__import__

        def spy(name, *args, **kwargs):
            imports.append(name)
            return real(name, *args, **kwargs)

        builtins.__import__ = spy
        try:
            ids = [str(i) for i in range(0, 10, 2)] * 200      # 1,000 ids
            rows = wh.with_ids("SELECT n FROM t WHERE n > ? AND id IN ({ids}) AND n < ? ORDER BY n",
                               ids, [0, 8])
        finally:
            builtins.__import__ = real
        assert rows == [(2,), (4,), (6,)]
        assert imports.count("pandas") <= 6, imports.count("pandas")   # not 2 per id
        assert wh.with_ids("SELECT count(*) FROM t WHERE id IN ({ids})", []) == [(0,)]
        assert wh.with_ids("SELECT count(*) FROM t WHERE id IN ({ids}) OR n = ?",
                           ["x\x1fy", "3"], [5]) == [(2,)]


def test_the_warehouse_and_its_folders_are_created_owner_only(tmp_path):
    """The warehouse holds the names and emails of leads: the folders the writer creates are
    0700, the DuckDB file and its write-ahead log 0600, whatever the umask was."""
    import os
    import stat

    from connectors.warehouse import Warehouse

    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "sub" / "warehouse.duckdb"
        with Warehouse(path) as wh:
            wh.conn.execute("create table t as select 'ann@example.com' as email")
            wh.conn.execute("insert into t values ('ben@example.com')")
            wal = path.with_name(path.name + ".wal")
            files = [path, *([wal] if wal.exists() else [])]
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f, oct(f.stat().st_mode))
        for folder in (tmp_path / "data", tmp_path / "data" / "sub"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert wal in files or not wal.exists()
    finally:
        os.umask(old)


VISITS = raw.table("ga4.visitor_sessions")


def visit(key: str, day: dt.date, sessions: int) -> dict:
    return {"row_key": key, "date": day, "visitor_id": "v" + key, "sessions": sessions}


def test_a_partition_table_keeps_its_key_unique_without_an_index(tmp_path):
    """GA4's tables are written by replacing dates, so they carry no PRIMARY KEY index (it
    held ~150 bytes of unevictable memory a row: docs/PERFORMANCE.md, "Memory"); an upsert
    still leaves one row per key, the latest."""
    d1, d2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    with Warehouse(tmp_path / "wh.duckdb") as w:
        w.ensure_table(VISITS)
        assert not w.conn.execute(
            "SELECT * FROM duckdb_constraints() WHERE table_name = 'visitor_sessions' "
            "AND constraint_type = 'PRIMARY KEY'").fetchall()
        assert w.upsert(VISITS, [visit("a", d1, 1), visit("b", d1, 1), visit("a", d1, 2)]) == 2
        # a later page of the same date serving a key again (GA's offset paging can) replaces it
        assert w.upsert(VISITS, [visit("a", d1, 3), visit("c", d2, 1)]) == 2
        rows = w.conn.execute("SELECT row_key, date, sessions FROM ga4.visitor_sessions "
                              "ORDER BY row_key").fetchall()
        assert rows == [("a", d1, 3), ("b", d1, 1), ("c", d2, 1)]
        with pytest.raises(ValueError, match="no version guard"):
            w.upsert(VISITS, [visit("a", d1, 4)], version="date")


def test_a_ga4_table_an_older_version_indexed_is_rebuilt_without_the_index(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        w.ensure_schema("ga4")
        w.conn.execute(VISITS.ddl().replace("\n)", ',\n    PRIMARY KEY ("row_key")\n)'))
        w.conn.execute("INSERT INTO ga4.visitor_sessions (row_key, date, sessions) "
                       "VALUES ('a', DATE '2024-01-02', 5), ('b', DATE '2024-01-01', 6)")
        w.conn.execute("ALTER TABLE ga4.visitor_sessions ADD COLUMN drift VARCHAR")
        w.conn.execute("UPDATE ga4.visitor_sessions SET drift = 'kept'")
    with Warehouse(tmp_path / "wh.duckdb") as w:
        w.ensure_raw_layer()
        assert not w.conn.execute(
            "SELECT * FROM duckdb_constraints() WHERE table_name = 'visitor_sessions' "
            "AND constraint_type = 'PRIMARY KEY'").fetchall()
        assert w.conn.execute("SELECT row_key, sessions, drift FROM ga4.visitor_sessions "
                              "ORDER BY row_key").fetchall() == [("a", 5, "kept"), ("b", 6, "kept")]


def test_a_sync_connection_has_its_memory_limit_and_a_bad_one_is_refused(tmp_path):
    """A sync's DuckDB evicts what it cached past DUCKDB_SYNC_MEMORY_LIMIT (default 96MB):
    its memory no longer grows with the data written (docs/PERFORMANCE.md, "Memory")."""
    from connectors.settings import sync_memory_limit, validate

    assert sync_memory_limit({}) == "96MB"
    with Warehouse(tmp_path / "wh.duckdb", memory_limit=sync_memory_limit({})) as w:
        limit = w.conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit.replace(" ", "") in ("96.0MB", "91.5MiB"), limit
    with Warehouse(tmp_path / "wh.duckdb") as w:        # not a sync: DuckDB's own default
        assert "GiB" in w.conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    bad = {"DUCKDB_SYNC_MEMORY_LIMIT": "96MB'; DROP TABLE x; --"}
    with pytest.raises(ValueError, match="not an amount of memory"):
        sync_memory_limit(bad)
    assert [p.variable for p in validate(bad, ["ga4"])] == ["DUCKDB_SYNC_MEMORY_LIMIT"]


def test_memory_at_most_lowers_the_limit_for_a_block_then_restores_it(tmp_path):
    """GA4's report writes (tables without an index) run under a lower DuckDB limit than the
    sync's (connectors/ga4.py WRITE_MEMORY_LIMIT); the sync's limit is back afterwards, a
    higher amount never raises it, and an in-memory database keeps its own."""
    from connectors.settings import memory_bytes

    assert memory_bytes("96MB") == 96_000_000 and memory_bytes("91.5 MiB") == 95_944_704
    assert memory_bytes("1GB") == 10**9 and memory_bytes("2 GiB") == 2 * 2**30
    with pytest.raises(ValueError, match="not an amount of memory"):
        memory_bytes("32MB'; DROP TABLE x; --")
    with Warehouse(tmp_path / "wh.duckdb", memory_limit="96MB") as w:
        before = w.memory_limit_bytes()
        with w.memory_at_most("32MB"):
            # DuckDB shows it as 30.5 MiB
            assert abs(w.memory_limit_bytes() - 32_000_000) < 100_000
            w.conn.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
        assert w.memory_limit_bytes() == before
        with w.memory_at_most("1GB"):
            assert w.memory_limit_bytes() == before
        with pytest.raises(RuntimeError), w.memory_at_most("32MB"):
            raise RuntimeError("a failed write")
        assert w.memory_limit_bytes() == before
    with Warehouse(":memory:") as w:
        before = w.memory_limit_bytes()
        with w.memory_at_most("32MB"):
            assert w.memory_limit_bytes() == before


def test_memory_at_most_checkpoints_what_earlier_writes_hold_first(tmp_path):
    """Several sources in one process (`advocacy sync`): the tables HubSpot and Salesforce
    wrote are not yet checkpointed, so they and their indexes sit in memory, unevictable and
    more than GA4's lower limit. memory_at_most checkpoints them first; without it DuckDB
    cannot lower the limit ('could not free up enough memory for the new limit') or a later
    write fails ('Out of Memory Error ... 30.7 MiB/30.5 MiB used')."""
    with Warehouse(tmp_path / "wh.duckdb", memory_limit="96MB") as w:
        # many small indexed tables, as a sync writes them (each index's memory comes in
        # blocks of its own), too little for DuckDB's automatic checkpoint
        for n in range(80):
            w.conn.execute(f"CREATE TABLE indexed_{n} (k VARCHAR PRIMARY KEY, v VARCHAR)")
            w.conn.execute(f"INSERT INTO indexed_{n} SELECT md5(i::VARCHAR), repeat('x', 40) "
                           "FROM range(500) AS r(i)")
        held = w.conn.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag IN "
                              "('ART_INDEX', 'IN_MEMORY_TABLE')").fetchone()[0]
        assert held > 16_000_000, held
        with w.memory_at_most("16MB"):
            assert abs(w.memory_limit_bytes() - 16_000_000) < 100_000    # lowered, not kept
            w.conn.execute("CREATE TABLE appended AS SELECT range AS i, md5(range::VARCHAR) AS h "
                           "FROM range(300000)")
        assert w.conn.execute("SELECT count(*) FROM indexed_79").fetchone()[0] == 500
        before = w.memory_limit_bytes()
        with w.transaction(), w.memory_at_most("16MB"):   # no checkpoint in a transaction
            assert w.memory_limit_bytes() == before        # the limit stays as it was
