"""The Salesforce connector against the Salesforce fake, through the REAL simple_salesforce
client over HTTPS (no mocks): full, incremental, Bulk 2.0, faults, single currency, SIGKILL,
request efficiency. Expected values are computed from the world store with sqlite3."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors import schema as raw
from connectors.retry import RetryPolicy
from connectors.salesforce import OBJECTS, SalesforceSource
from connectors.salesforce_soql import convert, parse_datetime, soql_datetime, soql_quote
from connectors.source import InvalidSetting, Settings, SourceNotConfigured, SourceStopped
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=6, base_delay=0.05, max_delay=0.5)
QUERY_PATHS = ("/services/data/v59.0/query", "/services/data/v59.0/queryAll")


# -- helpers -----------------------------------------------------------------------------------
def make_source(env: dict[str, str], wh: Warehouse, *, sleep: Any = None, **overrides: str) -> SalesforceSource:
    settings = Settings({**env, **overrides})
    src = SalesforceSource(settings, wh, retry_policy=FAST, sleep=sleep)
    src.bulk_poll_seconds = 0.02
    return src


def store_ids(store_path: Path) -> dict[str, dict[str, set[str]]]:
    """Per sObject: live ids, recycle-bin ids, purged ids."""
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        out: dict[str, dict[str, set[str]]] = {}
        for sobject, rid, is_deleted, purged in conn.execute(
                "SELECT sobject, id, is_deleted, purged FROM sf_record"):
            d = out.setdefault(sobject, {"live": set(), "bin": set(), "purged": set()})
            d["purged" if purged else "bin" if is_deleted else "live"].add(rid)
        return out
    finally:
        conn.close()


def raw_ids(wh_path: Path, table: str) -> tuple[set[str], set[str], int]:
    conn = duckdb.connect(str(wh_path), read_only=True)
    try:
        rows = conn.execute(f'SELECT id, _is_deleted FROM salesforce."{table}"').fetchall()
        n_distinct = conn.execute(f'SELECT count(DISTINCT id) FROM salesforce."{table}"').fetchone()[0]
    finally:
        conn.close()
    assert n_distinct == len(rows), f"{table}: duplicate ids"
    return {r[0] for r in rows if not r[1]}, {r[0] for r in rows if r[1]}, len(rows)


def assert_raw_equals_store(wh_path: Path, store_path: Path, *, skip: tuple[str, ...] = ()) -> None:
    expected = store_ids(store_path)
    for spec in OBJECTS:
        table = spec.table.name
        live, deleted, _ = raw_ids(wh_path, table)
        exp = expected.get(spec.sobject, {"live": set(), "bin": set(), "purged": set()})
        if spec.sobject in skip:
            assert not live and not deleted, f"{table} should be empty"
            continue
        assert live == exp["live"], (
            f"{table}: {len(live)} live in raw vs {len(exp['live'])} in the store; "
            f"missing {sorted(exp['live'] - live)[:5]}, extra {sorted(live - exp['live'])[:5]}")
        # every recycle-bin record is present as deleted; deleted rows are really deleted
        assert exp["bin"] <= deleted, f"{table}: recycle-bin rows missing: {sorted(exp['bin'] - deleted)[:5]}"
        assert deleted <= exp["bin"] | exp["purged"], f"{table}: rows marked deleted that are live"


def sf_log(sb: Any, start: int = 0) -> list[Any]:
    return sb.salesforce.requests()[start:]


def query_requests(entries: list[Any]) -> list[Any]:
    return [e for e in entries if e.path.startswith(QUERY_PATHS) and "COUNT%28%29" not in e.raw_path
            and "COUNT()" not in e.raw_path]


def overhead_kinds(entries: list[Any]) -> list[str]:
    """The last path segment of every request that is not a query page, sorted."""
    queries = {id(e) for e in query_requests(entries)}
    return sorted(e.path.rstrip("/").rsplit("/", 1)[-1] for e in entries if id(e) not in queries)


# -- unit-level: literals and typing -------------------------------------------------------------
def test_soql_literals_and_values() -> None:
    assert soql_quote("O'Brien \\ x") == "'O\\'Brien \\\\ x'"
    assert soql_quote("a\nb") == "'a\\nb'"
    with pytest.raises(TypeError):
        soql_quote(5)  # type: ignore[arg-type]
    assert soql_datetime(dt.datetime(2026, 1, 5, 10, 0, 0, 123456)) == "2026-01-05T10:00:00.123Z"
    aware = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert soql_datetime(aware) == "2026-01-05T10:00:00.000Z"
    assert parse_datetime("2024-03-31T18:00:01.000+0000") == dt.datetime(2024, 3, 31, 18, 0, 1)
    assert parse_datetime("2024-03-31T18:00:01.250Z") == dt.datetime(2024, 3, 31, 18, 0, 1, 250000)
    assert parse_datetime("2024-03-31T20:00:01+02:00") == dt.datetime(2024, 3, 31, 18, 0, 1)
    assert convert("currency", 25000.1) == Decimal("25000.1")
    assert convert("boolean", "true") is True and convert("boolean", False) is False
    assert convert("date", "2026-03-01") == dt.date(2026, 3, 1)
    assert convert("string", "") is None
    assert convert("int", "12") == 12
    assert convert("anyType", True) == "true"
    with pytest.raises(ValueError):
        convert("datetime", "yesterday")
    with pytest.raises(ValueError):
        convert("int", "1.5")


def test_not_configured(warehouse_path: Path) -> None:
    with Warehouse(warehouse_path) as wh:
        with pytest.raises(SourceNotConfigured):
            SalesforceSource(Settings({}), wh).sync()
        with pytest.raises(SourceNotConfigured, match="INSTANCE_URL"):
            SalesforceSource(Settings({"SALESFORCE_ACCESS_TOKEN": "x"}), wh).sync()
        # nothing set: `advocacy check` skips the source; half set: a finding to fix
        with pytest.raises(SourceNotConfigured):
            SalesforceSource(Settings({}), wh).check()
        findings = SalesforceSource(Settings({"SALESFORCE_ACCESS_TOKEN": "x"}), wh).check()
        assert findings and not findings[0].ok and "INSTANCE_URL" in findings[0].what


# -- the clean full sync (shared session sandbox) ------------------------------------------------
def test_full_sync(sandbox: Any, sandbox_env: dict[str, str], warehouse_path: Path) -> None:
    start = len(sf_log(sandbox))
    with Warehouse(warehouse_path) as wh:
        src = make_source(sandbox_env, wh)
        t0 = time.monotonic()
        result = src.sync()
        seconds = time.monotonic() - t0
        notes = {o.object: o.note for o in result.objects}
        assert "API usage" in notes["lead"]
        assert "CurrencyIsoCode" not in notes["lead"]
    assert_raw_equals_store(warehouse_path, sandbox.store_path)
    entries = sf_log(sandbox, start)
    print(f"\nfull sync: {result.records:,} records in {seconds:.2f}s "
          f"({result.records / seconds:,.0f} rec/s), {len(entries)} requests")
    # the fixed overhead: one token request and one Composite Batch (every describe and the
    # record counts); no COUNT() queries, no describe of its own, no deleted/ on a first run
    assert overhead_kinds(entries) == ["batch", "token"], [e.raw_path for e in entries]
    assert not any(re.search(r"SELECT(\+|%20)COUNT(%28|\()", e.raw_path, re.I) for e in entries)

    # spot values, typed
    conn = sqlite3.connect(f"file:{sandbox.store_path}?mode=ro", uri=True)
    stored = [json.loads(r[0]) for r in conn.execute(
        "SELECT fields FROM sf_record WHERE sobject = 'Opportunity' AND is_deleted = 0 "
        "AND purged = 0 ORDER BY id LIMIT 25")]
    n_bin = conn.execute("SELECT count(*) FROM sf_record WHERE is_deleted = 1 AND purged = 0").fetchone()[0]
    conn.close()
    db = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        for f in stored:
            row = db.execute(
                "SELECT amount, close_date, is_won, is_closed, created_date, system_modstamp, "
                "currency_iso_code, stage_name, _is_deleted FROM salesforce.opportunity WHERE id = ?",
                [f["Id"]]).fetchone()
            assert row is not None
            amount, close_date, is_won, is_closed, created, modstamp, currency, stage, deleted = row
            if f.get("Amount") is None:
                assert amount is None
            else:
                assert isinstance(amount, Decimal)
                assert amount == Decimal(str(f["Amount"])).quantize(Decimal("0.01"))
            assert close_date == (dt.date.fromisoformat(f["CloseDate"]) if f.get("CloseDate") else None)
            assert is_won is f["IsWon"] and is_closed is f["IsClosed"]
            assert created == parse_datetime(f["CreatedDate"])
            assert modstamp == parse_datetime(f["SystemModstamp"])
            assert currency == f["CurrencyIsoCode"] and currency is not None   # multi-currency world
            assert stage == f["StageName"] and deleted is False
        # recycle-bin rows (if the world has any; the incremental test makes some) are flagged
        assert db.execute("SELECT count(*) FROM salesforce.lead WHERE _is_deleted"
                          ).fetchone()[0] >= (1 if n_bin else 0)
        # the deleted flag follows IsDeleted
        assert db.execute("SELECT count(*) FROM salesforce.lead WHERE _is_deleted <> is_deleted"
                          ).fetchone()[0] == 0
        # drift: a field our schema does not list (Account.Type) became a column
        cols = {r[0] for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='salesforce' "
            "AND table_name='account'").fetchall()}
        assert "type" in cols
        assert db.execute("SELECT count(*) FROM salesforce._quarantine").fetchone()[0] == 0
        cursor = json.loads(db.execute(
            "SELECT cursor FROM salesforce._sync_state WHERE object = 'lead'").fetchone()[0])
        assert cursor["field"] == "SystemModstamp"
    finally:
        db.close()

    # a second run right away reads (almost) nothing
    start = len(sf_log(sandbox))
    with Warehouse(warehouse_path) as wh:
        again = make_source(sandbox_env, wh).sync()
    assert again.records < result.records * 0.05
    assert_raw_equals_store(warehouse_path, sandbox.store_path)


def test_bulk_path(sandbox: Any, sandbox_env: dict[str, str], warehouse_path: Path) -> None:
    start = len(sf_log(sandbox))
    with Warehouse(warehouse_path) as wh:
        src = make_source(sandbox_env, wh, SALESFORCE_BULK_THRESHOLD="100")
        src.bulk_poll_seconds = 0.5      # the sandbox finishes a job of this size in ~0.2 s
        result = src.sync()
    entries = sf_log(sandbox, start)
    jobs = [e for e in entries if e.method == "POST" and e.path.endswith("/jobs/query")]
    results = [e for e in entries if e.path.endswith("/results")]
    polls = [e for e in entries if e.method == "GET" and re.search(r"/jobs/query/[^/]+$", e.path)]
    big = [o for o in result.objects if "Bulk API 2.0" in o.note]
    assert jobs and results and len(big) >= 3, [o.note for o in result.objects]
    assert not polls, "a job done before its first results request costs no status request"
    assert len(results) == len(jobs), "one results page per job at this size"
    assert not [e for e in entries if e.method == "DELETE"], "finished jobs are not deleted"
    # every object went straight to Bulk on its estimate from the Composite Batch: the
    # org's record count, or SELECT COUNT() for the history objects it leaves out
    lead = next(o for o in result.objects if o.object == "lead")
    assert "the org's record count" in lead.note and "first page" not in lead.note
    history = next(o for o in result.objects if o.object == "lead_history")
    assert "SELECT COUNT()" in history.note and "first page" not in history.note
    assert not [e for e in entries if e.path in QUERY_PATHS and "COUNT()" in e.raw_path.upper()], \
        "counts ride in the Composite Batch, never a request of their own"
    assert_raw_equals_store(warehouse_path, sandbox.store_path)
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        # typed like REST: no empty strings, booleans and decimals typed
        assert db.execute("SELECT count(*) FROM salesforce.lead WHERE email = ''").fetchone()[0] == 0
        assert db.execute("SELECT typeof(amount) FROM salesforce.opportunity LIMIT 1").fetchone()[0] == "DECIMAL(18,2)"
        assert db.execute("SELECT count(*) FROM salesforce.lead_history WHERE created_date IS NULL"
                          ).fetchone()[0] == 0


def test_slow_bulk_job_is_polled_only_after_412(fresh_sandbox: Any, warehouse_path: Path) -> None:
    """A job still running when its first results are asked for answers 412 JOB_NOT_COMPLETE;
    only then is its status polled, and the rows are the same. Both jobs are created before
    any results are asked for (right after the describe batch): the second runs while the
    first is waited for and read, so it is done by its turn (one 412, not two)."""
    sb = fresh_sandbox()
    sb.salesforce.app.bulk_seconds = 0.3          # each job takes 0.3 s; results asked at 0.02 s
    with Warehouse(warehouse_path) as wh:
        result = make_source(sb.env(), wh, SALESFORCE_BULK_THRESHOLD="100").sync(
            objects=["Lead", "LeadHistory"])
    entries = sb.salesforce.requests()
    jobs = [e for e in entries if e.method == "POST" and e.path.endswith("/jobs/query")]
    early = [e for e in entries if e.path.endswith("/results") and e.status == 412]
    polls = [e for e in entries if e.method == "GET" and re.search(r"/jobs/query/[^/]+$", e.path)]
    assert len(jobs) == 2 and len(early) == 1 and len(polls) >= 2, (len(jobs), len(early), len(polls))
    first_results = min(e.at for e in entries if e.path.endswith("/results"))
    assert all(e.at < first_results for e in jobs), "every Bulk job is created up front"
    assert all("Bulk API 2.0" in o.note for o in result.objects), [o.note for o in result.objects]
    assert_raw_equals_store(warehouse_path, sb.store_path, skip=tuple(
        s.sobject for s in OBJECTS if s.sobject not in ("Lead", "LeadHistory")))


def test_bulk_and_rest_give_identical_rows(sandbox: Any, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    paths = {"rest": tmp_path / "rest.duckdb", "bulk": tmp_path / "bulk.duckdb"}
    for kind, path in paths.items():
        with Warehouse(path) as wh:
            src = make_source(sandbox_env, wh,
                              SALESFORCE_BULK_THRESHOLD="1" if kind == "bulk" else "100000000")
            if kind == "bulk":   # LeadHistory has no record count: estimate it large
                src._estimate = lambda plan: (10**9, "test")  # type: ignore[method-assign]
            result = src.sync(objects=["Opportunity", "LeadHistory"])
            read_by_bulk = [o.object for o in result.objects if "Bulk API 2.0" in o.note]
            assert read_by_bulk == (["opportunity", "lead_history"] if kind == "bulk" else [])
    db = duckdb.connect()
    try:
        db.execute(f"ATTACH '{paths['rest']}' AS r (READ_ONLY)")
        db.execute(f"ATTACH '{paths['bulk']}' AS b (READ_ONLY)")
        for table in ("opportunity", "lead_history"):
            cols = [r[0] for r in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog='r' AND "
                f"table_schema='salesforce' AND table_name='{table}' AND column_name <> '_synced_at'"
            ).fetchall()]
            sel = ", ".join(f'"{c}"' for c in cols)
            diff = db.execute(f"SELECT count(*) FROM (SELECT {sel} FROM r.salesforce.{table} EXCEPT "
                              f"SELECT {sel} FROM b.salesforce.{table})").fetchone()[0]
            assert diff == 0, f"{table}: REST and Bulk rows differ"
    finally:
        db.close()


# -- incremental --------------------------------------------------------------------------------
def store_clock(conn: sqlite3.Connection) -> dt.datetime:
    d = dt.date.fromisoformat(json.loads(conn.execute(
        "SELECT value FROM meta WHERE key='clock'").fetchone()[0])[:10])
    return dt.datetime(d.year, d.month, d.day)


def bin_delete(store_path: Path, sobject: str, days_ago: float) -> str:
    """Delete one live record into the recycle bin, as Salesforce does: IsDeleted, and a new
    SystemModstamp at the time of the delete."""
    conn = sqlite3.connect(store_path)
    try:
        when = store_clock(conn) - dt.timedelta(days=days_ago)
        rid, fields = conn.execute(
            "SELECT id, fields FROM sf_record WHERE sobject=? AND is_deleted=0 AND purged=0 "
            "ORDER BY id DESC LIMIT 1", (sobject,)).fetchone()
        f = json.loads(fields)
        f["IsDeleted"] = True
        f["SystemModstamp"] = when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        conn.execute(
            "UPDATE sf_record SET is_deleted=1, deleted_date=?, system_modstamp=?, fields=? "
            "WHERE sobject=? AND id=?",
            (soql_datetime(when), soql_datetime(when), json.dumps(f), sobject, rid))
        conn.commit()
        return rid
    finally:
        conn.close()


def test_incremental_after_advance(fresh_sandbox: Any, warehouse_path: Path) -> None:
    sb = fresh_sandbox()
    env = sb.env()
    binned_before = bin_delete(sb.store_path, "Lead", 3)
    with Warehouse(warehouse_path) as wh:
        full = make_source(env, wh).sync()
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        assert db.execute("SELECT _is_deleted, is_deleted FROM salesforce.lead WHERE id = ?",
                          [binned_before]).fetchone() == (True, True)
    full_requests = len(sf_log(sb))
    full_queries = len(query_requests(sf_log(sb)))
    assert_raw_equals_store(warehouse_path, sb.store_path)
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        cursors = {k: json.loads(v) for k, v in db.execute(
            "SELECT object, cursor FROM salesforce._sync_state").fetchall()}

    sb.advance(7)
    binned_after = bin_delete(sb.store_path, "Opportunity", 1)
    # a lead we hold is deleted and its recycle bin emptied at once (purged): only
    # sobjects/Lead/deleted can tell us; its SystemModstamp is not touched
    conn = sqlite3.connect(sb.store_path)
    clock = store_clock(conn).date()
    victim = conn.execute("SELECT id FROM sf_record WHERE sobject='Lead' AND is_deleted=0 "
                          "AND purged=0 ORDER BY id LIMIT 1").fetchone()[0]
    when = dt.datetime(clock.year, clock.month, clock.day) - dt.timedelta(days=2)
    conn.execute("UPDATE sf_record SET is_deleted=1, purged=1, deleted_date=? WHERE sobject='Lead' "
                 "AND id=?", (when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), victim))
    conn.commit()
    conn.close()

    start = len(sf_log(sb))
    with Warehouse(warehouse_path) as wh:
        inc = make_source(env, wh).sync()
    entries = sf_log(sb, start)
    assert_raw_equals_store(warehouse_path, sb.store_path)
    print(f"\nincremental after 7 days: {inc.records:,} records ({full.records:,} full), "
          f"{len(entries)} requests ({full_requests} full)")
    assert inc.records < full.records * 0.25
    assert len(query_requests(entries)) <= full_queries + 2   # +2: history recycle-bin reads
    deleted_calls = [e for e in entries if "/deleted/" in e.path]
    assert {e.path.split("/")[-3] for e in deleted_calls} >= {"Lead", "Contact", "Opportunity"}
    # objects that cannot be deleted (no IsDeleted: User, Period, ForecastingQuota, the
    # currency objects) are not asked; one deleted/ call per deletable object; besides the
    # queries and those, only the token and the describe batch (no record counts: every
    # object has a cursor)
    with_is_deleted = {"Account", "Lead", "Contact", "Opportunity", "OpportunityContactRole",
                       "OpportunityHistory", "LeadHistory", "Campaign", "CampaignMember"}
    assert sorted(e.path.split("/")[-3] for e in deleted_calls) == sorted(with_is_deleted)
    assert overhead_kinds([e for e in entries if "/deleted/" not in e.path]) == ["batch", "token"]
    assert not any("recordCount" in e.raw_path for e in entries)
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        assert db.execute("SELECT _is_deleted FROM salesforce.lead WHERE id = ?", [victim]).fetchone()[0] is True
        assert db.execute("SELECT _is_deleted FROM salesforce.opportunity WHERE id = ?",
                          [binned_after]).fetchone()[0] is True
        state = dict(db.execute("SELECT object, cursor FROM salesforce._sync_state").fetchall())
    assert parse_datetime(json.loads(state["lead:deleted"])["covered"]).date() == clock
    lead = next(o for o in inc.objects if o.object == "lead")
    assert "purged records marked deleted" in lead.note

    # only changed records were read: per object, exactly the store's records changed since
    # the previous cursor minus the 5-minute lookback (history: plus the recycle bin)
    conn = sqlite3.connect(f"file:{sb.store_path}?mode=ro", uri=True)
    try:
        for o in inc.objects:
            spec = next(s for s in OBJECTS if s.table.name == o.object)
            col = "created_date" if spec.history else "system_modstamp"
            since = parse_datetime(cursors[o.object]["value"]) - dt.timedelta(minutes=5)
            changed = conn.execute(
                f"SELECT count(*) FROM sf_record WHERE sobject=? AND purged=0 AND {col} >= ?",
                (spec.sobject, soql_datetime(since))).fetchone()[0]
            if spec.history:
                binned = conn.execute("SELECT count(*) FROM sf_record WHERE sobject=? AND "
                                      "is_deleted=1 AND purged=0", (spec.sobject,)).fetchone()[0]
                assert changed <= o.records <= changed + binned, (o.object, o.records, changed, binned)
            else:
                assert o.records == changed, (o.object, o.records, changed)
    finally:
        conn.close()


# -- faults ------------------------------------------------------------------------------------
@pytest.mark.parametrize("faults", [
    "salesforce:expire@9x2",
    "salesforce:429@6x3",
    "salesforce:429-bare@5x3",
    "salesforce:503@7x3",
    "salesforce:500@11x2",
    "salesforce:drop@4x4",
])
def test_faults_give_the_clean_result(fresh_sandbox: Any, warehouse_path: Path, faults: str) -> None:
    sb = fresh_sandbox(faults=faults)
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    with Warehouse(warehouse_path) as wh:
        src = make_source(sb.env(), wh, sleep=sleep)
        src.sync()
        client = src.client
    assert_raw_equals_store(warehouse_path, sb.store_path)
    faulted = sb.salesforce.requests(faulted=True)
    assert faulted, "the fault never fired"
    if "expire" in faults:
        assert client.reauthentications >= 1
        assert len(sb.salesforce.requests("POST", "/services/oauth2/token")) >= 2
    elif faults.startswith("salesforce:429@"):
        assert 1.0 in delays, f"Retry-After: 1 not honoured: {delays}"
    else:
        assert delays, "no retry happened"


def test_expired_bare_token_is_a_clear_stop(fresh_sandbox: Any, warehouse_path: Path) -> None:
    sb = fresh_sandbox(faults="salesforce:expire@3x1")
    env = sb.env()
    # get a token the way a user would, then configure only that token
    with Warehouse(warehouse_path) as wh:
        src = make_source(env, wh)
        token = src.client.sf.session_id
    bare = {"SALESFORCE_ACCESS_TOKEN": token, "SALESFORCE_INSTANCE_URL": env["SALESFORCE_INSTANCE_URL"],
            "SALESFORCE_CA_BUNDLE": env["SALESFORCE_CA_BUNDLE"]}
    with Warehouse(warehouse_path) as wh, pytest.raises(SourceStopped, match="cannot be renewed") as info:
        SalesforceSource(Settings(bare), wh, retry_policy=FAST).sync()
    assert token not in str(info.value)


def test_request_limit_stops_and_next_run_completes(fresh_sandbox: Any, warehouse_path: Path) -> None:
    sb = fresh_sandbox(faults="salesforce:limit@6x1")
    with Warehouse(warehouse_path) as wh, pytest.raises(SourceStopped, match="REQUEST_LIMIT_EXCEEDED"):
        make_source(sb.env(), wh).sync()
    limited = sb.salesforce.requests(faulted=True)
    assert len(limited) == 1 and limited[0].status == 403
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        kept = db.execute("SELECT count(*) FROM salesforce.user").fetchone()[0]
        cursors = db.execute("SELECT count(*) FROM salesforce._sync_state").fetchone()[0]
    assert kept > 0 and cursors > 0, "what was committed before the stop must stay"
    with Warehouse(warehouse_path) as wh:
        make_source(sb.env(), wh).sync()
    assert_raw_equals_store(warehouse_path, sb.store_path)


def test_no_forecasting_permission(fresh_sandbox: Any, warehouse_path: Path) -> None:
    sb = fresh_sandbox(faults="salesforce:no-forecasting")
    with Warehouse(warehouse_path) as wh:
        src = make_source(sb.env(), wh)
        result = src.sync()
        findings = src.check()
    fq = next(o for o in result.objects if o.object == "forecasting_quota")
    assert fq.records == 0 and "skipped" in fq.note and "rep_quotas" in fq.note
    assert_raw_equals_store(warehouse_path, sb.store_path, skip=("ForecastingQuota",))
    fq_finding = next(f for f in findings if "ForecastingQuota" in f.what)
    assert fq_finding.ok and "warning" in fq_finding.what


def test_check(sandbox: Any, sandbox_env: dict[str, str], warehouse_path: Path) -> None:
    with Warehouse(warehouse_path) as wh:
        findings = make_source(sandbox_env, wh).check()
    text = "\n".join(f.line() for f in findings)
    assert all(f.ok for f in findings), text
    assert "password grant" in text and "multi-currency" in text
    assert "Lead has GA_Client_ID__c" in text and "Contact has GA_Client_ID__c" in text
    for secret in Settings(sandbox_env).secrets():
        assert secret not in text


# -- single currency -----------------------------------------------------------------------------
def test_single_currency_world(tmp_path: Path, warehouse_path: Path) -> None:
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.server import Sandbox
    from connectors.sandbox.world import generate

    store_path = tmp_path / "single.sqlite"
    generate(store_path, WorldConfig(seed=3, scale=0.02, multi_currency=False))
    with Sandbox(store_path, tmp_path / "work") as sb, Warehouse(warehouse_path) as wh:
        src = make_source(sb.env(), wh)
        result = src.sync()
        findings = src.check()
        entries = sb.salesforce.requests()
    assert not any("CurrencyIsoCode" in e.raw_path for e in entries)
    errors = [(e.status, e.raw_path) for e in entries if e.status >= 400]
    assert all("CurrencyType" in p or "DatedConversionRate" in p for _, p in errors), errors
    notes = {o.object: o.note for o in result.objects}
    assert notes["currency_type"].startswith("skipped") and notes["dated_conversion_rate"].startswith("skipped")
    assert_raw_equals_store(warehouse_path, store_path, skip=("CurrencyType", "DatedConversionRate"))
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        assert db.execute("SELECT count(currency_iso_code) FROM salesforce.opportunity").fetchone()[0] == 0
    assert any("single-currency" in f.what for f in findings)


# -- crash safety ------------------------------------------------------------------------------
def test_sigkill_mid_sync_then_rerun(fresh_sandbox: Any, tmp_path: Path) -> None:
    sb = fresh_sandbox(faults="salesforce:slow=0.4")
    wh_path = tmp_path / "killed.duckdb"
    env = {**os.environ, **sb.env(), "DUCKDB_PATH": str(wh_path), "PYTHONUNBUFFERED": "1"}
    env.pop("SALESFORCE_BULK_THRESHOLD", None)
    (tmp_path / "empty.env").write_text("")
    cmd = [sys.executable, "-m", "pipelines.cli.main", "sync", "--source", "salesforce",
           "--env-file", str(tmp_path / "empty.env")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    # kill it once the first lead page is committed: the sync prints its progress line after
    # the page's transaction (rows and cursor) commits, and the next request takes 0.4 s, so
    # the kill lands while the sync waits for the fake, however loaded the machine
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("salesforce.lead: 1 pages"):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    with duckdb.connect(str(wh_path), read_only=True) as db:
        partial = db.execute("SELECT count(*) FROM salesforce.lead").fetchone()[0]
        contacts = db.execute("SELECT count(*) FROM salesforce.contact").fetchone()[0]
    assert partial > 0 and contacts == 0, (partial, contacts)
    with Warehouse(wh_path) as wh:
        make_source(sb.env(), wh).sync()
    assert_raw_equals_store(wh_path, sb.store_path)   # also asserts no duplicate ids


# -- request efficiency --------------------------------------------------------------------------
def test_request_efficiency(tmp_path: Path, warehouse_path: Path) -> None:
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.server import Sandbox
    from connectors.sandbox.world import generate

    store_path = tmp_path / "big.sqlite"
    generate(store_path, WorldConfig(seed=11, scale=float(os.environ.get("SF_EFFICIENCY_SCALE", "1.0"))))
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    served = dict(conn.execute("SELECT sobject, count(*) FROM sf_record WHERE purged = 0 GROUP BY 1"))
    conn.close()
    with Sandbox(store_path, tmp_path / "work") as sb, Warehouse(warehouse_path) as wh:
        src = make_source(sb.env(), wh, SALESFORCE_BULK_THRESHOLD="1000000000")
        t0 = time.monotonic()
        result = src.sync()
        seconds = time.monotonic() - t0
        entries = sb.salesforce.requests()
    minimum = sum(math.ceil(n / 2000) for n in served.values())
    queries = len(query_requests(entries))
    constant = len(entries) - queries
    print(f"\nrequest efficiency: {queries} query requests for {sum(served.values()):,} records "
          f"(minimum {minimum} at 2,000 per page, ratio {queries / minimum:.3f}); "
          f"+{constant} token/describe-batch requests; {result.records:,} records in "
          f"{seconds:.2f}s = {result.records / seconds:,.0f} rec/s")
    assert queries <= math.ceil(1.05 * minimum)
    assert constant == 2     # the token and one Composite Batch (describes + record counts)
    assert_raw_equals_store(warehouse_path, store_path)

    # the default: per object REST or Bulk, whichever takes fewer requests. The whole sync
    # then makes exactly the minimum: the token, one Composite Batch (describes and counts)
    # and, per object, its REST pages or one job create and its result pages (no status
    # poll: the jobs are done before their first results request)
    from pipelines.cli import bench
    assert served["LeadHistory"] >= 10_000, "the world is too small for this check"
    bulk_path = tmp_path / "bulk.duckdb"
    with Sandbox(store_path, tmp_path / "work2") as sb, Warehouse(bulk_path) as wh:
        src = make_source(sb.env(), wh)
        src.bulk_poll_seconds = 0.5
        result = src.sync()
        entries = sb.salesforce.requests()
    best = bench.full_minimum(bench.holdings(store_path), described=None)["salesforce"]
    by_bulk = {o.object for o in result.objects if "Bulk API 2.0" in o.note}
    assert by_bulk == {raw.snake_case(o) for o, d in best["detail"].items() if d["bulk"]}, by_bulk
    assert "lead_history" in by_bulk
    assert len(entries) == best["minimum"], sorted(Counter(
        (e.method, re.sub(r"/[0-9A-Za-z]{15,18}(?=/|$)", "/{id}", e.path)) for e in entries).items())
    assert_raw_equals_store(bulk_path, store_path)

    # without an estimate (the count subrequest failed, or an incremental window) REST reads
    # the first page and its totalSize sends the rest to Bulk 2.0; the result is the same
    probe_path = tmp_path / "probe.duckdb"
    with Sandbox(store_path, tmp_path / "work3") as sb, Warehouse(probe_path) as wh:
        src = make_source(sb.env(), wh)
        src._estimate = lambda plan: None  # type: ignore[method-assign]
        result = src.sync(objects=["LeadHistory"])
    history = next(o for o in result.objects if o.object == "lead_history")
    assert "first page by REST, the rest by Bulk API 2.0" in history.note, history.note
    assert raw_ids(probe_path, "lead_history")[0] == store_ids(store_path)["LeadHistory"]["live"]


# -- quarantine, full-refresh reconciliation, no secrets in output -------------------------------
def test_quarantine_reconcile_and_no_secrets(fresh_sandbox: Any, warehouse_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    import io
    import logging

    from connectors.source import Progress

    sb = fresh_sandbox(faults="salesforce:expire@6x1,salesforce:429@9x1")
    conn = sqlite3.connect(sb.store_path)
    (bad_id, fields), (gone_id, _) = conn.execute(
        "SELECT id, fields FROM sf_record WHERE sobject='Lead' AND is_deleted=0 AND purged=0 "
        "ORDER BY id LIMIT 2").fetchall()
    f = json.loads(fields)
    f["ConvertedDate"] = "31/02/2026"
    conn.execute("UPDATE sf_record SET fields=? WHERE sobject='Lead' AND id=?", (json.dumps(f), bad_id))
    conn.commit()

    stream = io.StringIO()
    caplog.set_level(logging.DEBUG)
    with Warehouse(warehouse_path) as wh:
        src = SalesforceSource(Settings(sb.env()), wh, Progress(stream), retry_policy=FAST)
        first = src.sync()
        lead = next(o for o in first.objects if o.object == "lead")
        assert lead.quarantined == 1
        assert wh.conn.execute("SELECT record_id, reason FROM salesforce._quarantine").fetchall() == [
            (bad_id, "ConvertedDate: Invalid isoformat string: '31/02/2026'")]
        held = {r[0] for r in wh.conn.execute("SELECT id FROM salesforce.lead").fetchall()}
        assert bad_id not in held and gone_id in held

        # hard-deleted without a trace in getDeleted: only a full refresh can notice
        conn.execute("UPDATE sf_record SET purged=1, is_deleted=1 WHERE sobject='Lead' AND id=?", (gone_id,))
        conn.commit()
        conn.close()
        full = src.sync(full_refresh=True)
        lead = next(o for o in full.objects if o.object == "lead")
        assert "no longer in Salesforce marked deleted" in lead.note
        assert wh.conn.execute("SELECT _is_deleted FROM salesforce.lead WHERE id=?", [gone_id]
                               ).fetchone()[0] is True
    assert src.client.reauthentications == 1
    output = stream.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert "salesforce.lead:" in output
    secrets = [*Settings(sb.env()).secrets(), *sb.salesforce.app.issued_tokens]
    assert secrets and not [s for s in secrets if s in output]


# -- history objects: recycle-bin deletes on both read paths, HISTORY_START_DATE ------------------
HISTORY = {"LeadHistory": ("lead_history", "Lead", "LeadId"),
           "OpportunityHistory": ("opportunity_history", "Opportunity", "OpportunityId")}


def bin_delete_with_history(store_path: Path, sobject: str, created_before: str) -> tuple[str, set[str]]:
    """Delete one live record that has history rows created before ``created_before`` into the
    recycle bin a day before the store's clock, as Salesforce does: the record and its history
    rows get IsDeleted (the history rows keep their CreatedDate)."""
    history = next(h for h, (_, parent, _) in HISTORY.items() if parent == sobject)
    ref = HISTORY[history][2]
    conn = sqlite3.connect(store_path)
    try:
        when = soql_datetime(store_clock(conn) - dt.timedelta(days=1))
        rid = conn.execute(
            f"SELECT p.id FROM sf_record p JOIN sf_record h ON h.sobject=? AND "
            f"json_extract(h.fields, '$.{ref}') = p.id AND h.created_date < ? "
            f"WHERE p.sobject=? AND p.is_deleted=0 AND p.purged=0 AND h.is_deleted=0 "
            f"ORDER BY p.id LIMIT 1", (history, created_before, sobject)).fetchone()[0]
        rows = conn.execute(f"SELECT sobject, id, fields FROM sf_record WHERE (sobject=? AND id=?) "
                            f"OR (sobject=? AND json_extract(fields, '$.{ref}') = ?)",
                            (sobject, rid, history, rid)).fetchall()
        for so, i, fields in rows:
            f = json.loads(fields)
            f["IsDeleted"] = True
            stamp = None
            if "SystemModstamp" in f:
                f["SystemModstamp"] = when.replace("Z", "+0000")
                stamp = when
            conn.execute("UPDATE sf_record SET is_deleted=1, deleted_date=?, "
                         "system_modstamp=coalesce(?, system_modstamp), fields=? "
                         "WHERE sobject=? AND id=?", (when, stamp, json.dumps(f), so, i))
        conn.commit()
        return rid, {i for so, i, _ in rows if so == history}
    finally:
        conn.close()


def assert_history_flags_equal_store(wh_path: Path, store_path: Path, start: str) -> None:
    """Every history row we hold has the store's deleted flag (recycle bin or purged = deleted),
    and every row the store still serves from ``start`` on is held."""
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        for sobject, (table, _, _) in HISTORY.items():
            store = {i: (bool(d or p), bool(p), c) for i, d, p, c in conn.execute(
                "SELECT id, is_deleted, purged, created_date FROM sf_record WHERE sobject=?",
                (sobject,))}
            with duckdb.connect(str(wh_path), read_only=True) as db:
                held = dict(db.execute(f"SELECT id, _is_deleted FROM salesforce.{table}").fetchall())
            wrong = {i: (flag, store.get(i)) for i, flag in held.items()
                     if store.get(i) is None or flag != store[i][0]}
            assert not wrong, f"{table}: deleted flags differ from the store: {list(wrong.items())[:5]}"
            missing = {i for i, (_, purged, created) in store.items()
                       if not purged and created >= start and i not in held}
            assert not missing, f"{table}: rows from {start} on not held: {sorted(missing)[:5]}"
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["bulk", "rest"])
def test_history_deletes_recorded_on_bulk_and_rest(fresh_sandbox: Any, warehouse_path: Path,
                                                   path: str) -> None:
    """History rows keep their CreatedDate when their lead/opportunity is deleted: a full read
    that starts after rows we hold (HISTORY_START_DATE moved on) must still record their
    deletes from the recycle bin, whether Bulk 2.0 or REST read the window."""
    sb = fresh_sandbox()
    threshold = "1" if path == "bulk" else "1000000000"
    objects = ["Lead", "Opportunity", "LeadHistory", "OpportunityHistory"]
    with Warehouse(warehouse_path) as wh:
        make_source(sb.env(), wh, SALESFORCE_BULK_THRESHOLD=threshold,
                    HISTORY_START_DATE="2025-01-01").sync(objects=objects)
    assert_history_flags_equal_store(warehouse_path, sb.store_path, "2025-01-01")

    sb.advance(7)
    later = "2026-01-01T00:00:00.000Z"
    lead, lead_history = bin_delete_with_history(sb.store_path, "Lead", later)
    opp, opp_history = bin_delete_with_history(sb.store_path, "Opportunity", later)
    with Warehouse(warehouse_path) as wh:
        result = make_source(sb.env(), wh, SALESFORCE_BULK_THRESHOLD=threshold,
                             HISTORY_START_DATE="2026-01-01").sync(objects=objects, full_refresh=True)
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        for table, ids in (("lead_history", lead_history), ("opportunity_history", opp_history)):
            flags = dict(db.execute(f"SELECT id, _is_deleted FROM salesforce.{table} WHERE id IN "
                                    "(SELECT unnest(?::VARCHAR[]))", [sorted(ids)]).fetchall())
            assert flags == dict.fromkeys(ids, True), (table, flags)
    assert_history_flags_equal_store(warehouse_path, sb.store_path, "2026-01-01")
    notes = {o.object: o.note for o in result.objects}
    for table in ("lead_history", "opportunity_history"):
        assert ("Bulk API 2.0" in notes[table]) == (path == "bulk"), notes[table]
        assert "recycle bin:" in notes[table], notes[table]


BAD_START = "HISTORY_START_DATE='2025-13-01' is not a date: expected YYYY-MM-DD (e.g. 2024-07-01)"


def test_history_start_parser() -> None:
    today = dt.date(2026, 7, 1)
    assert Settings({}).history_start(today=today) == dt.date(2024, 7, 1)
    assert Settings({"HISTORY_START_DATE": " "}).history_start(today=today) == dt.date(2024, 7, 1)
    assert Settings({}).history_start(default_days=None) is None
    assert Settings({"HISTORY_START_DATE": " 2025-03-04 "}).history_start() == dt.date(2025, 3, 4)
    for bad in ("2025-13-01", "yesterday", "20250304", "2025-03-04T00:00:00", "04/03/2025"):
        with pytest.raises(InvalidSetting, match=re.escape(f"HISTORY_START_DATE={bad!r} is not a "
                                                           "date: expected YYYY-MM-DD")):
            Settings({"HISTORY_START_DATE": bad}).history_start(default_days=None)
    assert issubclass(InvalidSetting, ValueError)


def test_bad_history_start_is_one_clear_error(sandbox: Any, sandbox_env: dict[str, str],
                                              warehouse_path: Path) -> None:
    start = len(sf_log(sandbox))
    with Warehouse(warehouse_path) as wh, pytest.raises(InvalidSetting) as err:
        make_source(sandbox_env, wh, HISTORY_START_DATE="2025-13-01").sync()
    assert str(err.value).startswith(BAD_START) and "\n" not in str(err.value)
    assert not sf_log(sandbox, start), "nothing is requested with a bad HISTORY_START_DATE"


def test_history_start_bounds_history_objects_only(sandbox: Any, sandbox_env: dict[str, str],
                                                   warehouse_path: Path) -> None:
    """As documented: LeadHistory/OpportunityHistory from HISTORY_START_DATE on; state objects
    (here Lead, Opportunity) whole, including records created before the start."""
    start = "2026-03-01"
    with Warehouse(warehouse_path) as wh:
        result = make_source(sandbox_env, wh, HISTORY_START_DATE=start).sync(
            objects=["Lead", "Opportunity", "LeadHistory", "OpportunityHistory"])
    notes = {o.object: o.note for o in result.objects}
    assert notes["lead_history"].startswith("CreatedDate >= 2026-03-01T00:00:00.000Z")
    assert notes["lead"].startswith("all records")
    conn = sqlite3.connect(f"file:{sandbox.store_path}?mode=ro", uri=True)
    try:
        with duckdb.connect(str(warehouse_path), read_only=True) as db:
            for sobject, table in (("LeadHistory", "lead_history"),
                                   ("OpportunityHistory", "opportunity_history"),
                                   ("Lead", "lead"), ("Opportunity", "opportunity")):
                history = sobject.endswith("History")
                expected = {r[0] for r in conn.execute(
                    "SELECT id FROM sf_record WHERE sobject=? AND purged=0"
                    + (" AND created_date >= ?" if history else ""),
                    (sobject, start) if history else (sobject,))}
                held = {r[0] for r in db.execute(f"SELECT id FROM salesforce.{table}").fetchall()}
                assert held == expected, (table, len(held), len(expected))
                older = db.execute(f"SELECT count(*) FROM salesforce.{table} "
                                   "WHERE created_date < ?", [dt.datetime(2026, 3, 1)]).fetchone()[0]
                assert (older == 0) if history else (older > 0), (table, older)
    finally:
        conn.close()


def test_bulk_after_the_probe_page_starts_inside_the_lookback(tmp_path: Path) -> None:
    """Rows that commit late land in the lookback, below the stored cursor. When the probe's
    first REST page ends among them, Bulk must read the rest from that page's newest value,
    not from the stored cursor, or the rows in between are lost for good."""
    from connectors.sandbox.config import WorldConfig
    from connectors.sandbox.server import Sandbox
    from connectors.sandbox.world import generate

    store_path = tmp_path / "world.sqlite"
    generate(store_path, WorldConfig(seed=5, scale=0.4))
    wh_path = tmp_path / "wh.duckdb"
    with Sandbox(store_path, tmp_path / "work") as sb:
        with Warehouse(wh_path) as wh:
            make_source(sb.env(), wh).sync(objects=["LeadHistory"])
            stored = parse_datetime(wh.get_cursor("salesforce", "lead_history")["value"])
            late = [r[0] for r in wh.conn.execute(
                "SELECT id FROM salesforce.lead_history WHERE created_date < ? ORDER BY id LIMIT 2500",
                [stored - dt.timedelta(hours=1)]).fetchall()]
            assert len(late) == 2500, "the world is too small for this check"
            # not seen by the last run: they commit now, stamped 2 minutes before its cursor
            wh.conn.execute("DELETE FROM salesforce.lead_history WHERE id IN (SELECT unnest(?::VARCHAR[]))",
                            [late])
        stamp = soql_datetime(stored - dt.timedelta(minutes=2))
        conn = sqlite3.connect(store_path)
        try:
            for rid, fields in conn.execute(
                    "SELECT id, fields FROM sf_record WHERE sobject='LeadHistory' AND id IN "
                    f"({','.join('?' * len(late))})", late).fetchall():
                f = json.loads(fields)
                f["CreatedDate"] = stamp.replace("Z", "+0000")
                conn.execute("UPDATE sf_record SET created_date=?, fields=? WHERE sobject='LeadHistory' "
                             "AND id=?", (stamp, json.dumps(f), rid))
            conn.commit()
        finally:
            conn.close()
        with Warehouse(wh_path) as wh:
            result = make_source(sb.env(), wh, SALESFORCE_BULK_THRESHOLD="1000").sync(objects=["LeadHistory"])
    history = next(o for o in result.objects if o.object == "lead_history")
    assert "first page by REST, the rest by Bulk API 2.0" in history.note, history.note
    held = raw_ids(wh_path, "lead_history")[0]
    assert set(late) <= held, f"{len(set(late) - held)} late rows lost"


def test_undeleted_parent_brings_its_history_back(fresh_sandbox: Any, warehouse_path: Path) -> None:
    """Undelete restores a lead and its LeadHistory rows (old CreatedDate, IsDeleted false):
    the rows we had marked deleted from the recycle bin come back live on the next run."""
    sb = fresh_sandbox()
    objects = ["Lead", "LeadHistory"]
    with Warehouse(warehouse_path) as wh:
        make_source(sb.env(), wh).sync(objects=objects)
    conn = sqlite3.connect(sb.store_path)
    try:
        later = soql_datetime(store_clock(conn))
    finally:
        conn.close()
    lead, history = bin_delete_with_history(sb.store_path, "Lead", later)
    assert history
    with Warehouse(warehouse_path) as wh:
        make_source(sb.env(), wh).sync(objects=objects)
    assert history <= raw_ids(warehouse_path, "lead_history")[1], "the delete was not recorded"

    # undelete: the lead gets a new SystemModstamp, its history rows are live again as they were
    conn = sqlite3.connect(sb.store_path)
    try:
        when = soql_datetime(store_clock(conn) - dt.timedelta(hours=1))
        for so, rid, fields in conn.execute(
                "SELECT sobject, id, fields FROM sf_record WHERE (sobject='Lead' AND id=?) OR "
                "(sobject='LeadHistory' AND json_extract(fields, '$.LeadId') = ?)", (lead, lead)).fetchall():
            f = json.loads(fields)
            f["IsDeleted"] = False
            if so == "Lead":
                f["SystemModstamp"] = when.replace("Z", "+0000")
            conn.execute("UPDATE sf_record SET is_deleted=0, deleted_date=NULL, "
                         "system_modstamp=CASE WHEN sobject='Lead' THEN ? ELSE system_modstamp END, "
                         "fields=? WHERE sobject=? AND id=?", (when, json.dumps(f), so, rid))
        conn.commit()
    finally:
        conn.close()
    # a run that writes the restored lead and stops before LeadHistory; the next run does not
    # read the lead again (another lead changed 30 minutes later: the restore is behind the
    # cursor and its lookback), yet must restore the history
    conn = sqlite3.connect(sb.store_path)
    try:
        other, fields = conn.execute("SELECT id, fields FROM sf_record WHERE sobject='Lead' AND id <> ? "
                                     "AND is_deleted=0 ORDER BY id LIMIT 1", (lead,)).fetchone()
        f = json.loads(fields)
        stamp = soql_datetime(store_clock(conn) - dt.timedelta(minutes=30))
        f["SystemModstamp"] = stamp.replace("Z", "+0000")
        conn.execute("UPDATE sf_record SET system_modstamp=?, fields=? WHERE sobject='Lead' AND id=?",
                     (stamp, json.dumps(f), other))
        conn.commit()
    finally:
        conn.close()
    with Warehouse(warehouse_path) as wh:
        make_source(sb.env(), wh).sync(objects=["Lead"])
    with Warehouse(warehouse_path) as wh:
        result = make_source(sb.env(), wh).sync(objects=objects)
    assert next(o for o in result.objects if o.object == "lead").records < 10
    live, deleted, _ = raw_ids(warehouse_path, "lead_history")
    assert history <= live and not (history & deleted), sorted(history & deleted)[:5]
    assert lead in raw_ids(warehouse_path, "lead")[0]
    note = next(o.note for o in result.objects if o.object == "lead_history")
    assert f"{len(history)} rows of restored parents read again" in note, note


class _DeletedOnly:
    """Just enough of a client for ``sobjects/Lead/deleted``: covers up to the present (ours),
    to the minute, as Salesforce does; or refuses a start past its 15 days with no date."""

    def __init__(self, refuse_first: bool = False) -> None:
        self.calls: list[tuple[dt.datetime, dt.datetime]] = []
        self.refuse_first = refuse_first
        self.sf = self

    def call(self, what: str, op: Any) -> Any:
        return op(self)

    @property
    def Lead(self) -> Any:  # noqa: N802 - the sObject's name
        outer = self

        class Lead:
            @staticmethod
            def deleted(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
                from simple_salesforce.exceptions import SalesforceMalformedRequest

                outer.calls.append((start, end))
                if outer.refuse_first and len(outer.calls) == 1:
                    raise SalesforceMalformedRequest("url", 400, "Lead", [{
                        "errorCode": "INVALID_REPLICATION_DATE",
                        "message": "startDate is before the org's replication window"}])
                from connectors.warehouse import utcnow
                covered = min(end.replace(tzinfo=None), utcnow()).replace(second=0, microsecond=0)
                return {"deletedRecords": [], "latestDateCovered": covered.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
        return Lead


@pytest.mark.parametrize("refuse_first", [False, True])
def test_deleted_reads_once_up_to_the_present(tmp_path: Path, refuse_first: bool) -> None:
    """One call per object per run when the window ends at our present (no second call with a
    future end), and a start older than the API's 15 days moves on by itself."""
    from connectors.salesforce import _Plan
    from connectors.source import ObjectResult
    from connectors.warehouse import utcnow

    spec = next(s for s in OBJECTS if s.sobject == "Lead")
    plan = _Plan(spec, spec.table, [], "SystemModstamp", True, True, {})
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        wh.ensure_table(spec.table)
        covered = utcnow() - (dt.timedelta(days=40) if refuse_first else dt.timedelta(hours=1))
        wh.set_cursor("salesforce", "lead:deleted", {"covered": covered.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
        src = make_source({"SALESFORCE_ACCESS_TOKEN": "x", "SALESFORCE_INSTANCE_URL": "https://x"}, wh)
        client = _DeletedOnly(refuse_first)
        src._client = client  # type: ignore[assignment]
        notes = src._sync_deleted(plan, ObjectResult("lead"), False)
        state = wh.get_cursor("salesforce", "lead:deleted")
    assert len(client.calls) == (2 if refuse_first else 1), client.calls
    assert all(end.replace(tzinfo=None) <= utcnow() for _, end in client.calls), client.calls
    assert parse_datetime(state["covered"]) >= utcnow() - dt.timedelta(minutes=2)
    if refuse_first:
        assert any("past the API's window" in n for n in notes), notes


def test_first_run_delete_window_starts_at_each_objects_own_read(fresh_sandbox: Any, warehouse_path: Path) -> None:
    """A lead hard-deleted (purged) while the first run reads later objects is deleted after
    the leads were read but can be before the org's newest change that a later object
    brought: the next run's sobjects/Lead/deleted window must start from the leads' own
    newest change, or that delete is never seen."""
    from connectors.source import Progress

    sb = fresh_sandbox()
    conn = sqlite3.connect(sb.store_path)
    lead_newest = parse_datetime(conn.execute(
        "SELECT max(system_modstamp) FROM sf_record WHERE sobject='Lead' AND purged=0").fetchone()[0])
    victim = conn.execute("SELECT id FROM sf_record WHERE sobject='Lead' AND is_deleted=0 AND purged=0 "
                          "ORDER BY id LIMIT 1").fetchone()[0]
    # a contact changed an hour after the leads' newest change: the org's newest, read later
    contact, fields = conn.execute("SELECT id, fields FROM sf_record WHERE sobject='Contact' ORDER BY id LIMIT 1").fetchone()
    later = soql_datetime(lead_newest + dt.timedelta(hours=1))
    f = json.loads(fields)
    f["SystemModstamp"] = later.replace("Z", "+0000")
    conn.execute("UPDATE sf_record SET system_modstamp=?, fields=? WHERE sobject='Contact' AND id=?",
                 (later, json.dumps(f), contact))
    conn.commit()
    conn.close()

    class PurgeAfterLeads(Progress):
        def done(self, source: str, result: Any) -> None:
            if result.object == "lead":
                c = sqlite3.connect(sb.store_path)
                c.execute("UPDATE sf_record SET is_deleted=1, purged=1, deleted_date=? WHERE sobject='Lead' "
                          "AND id=?", (soql_datetime(lead_newest + dt.timedelta(minutes=10)), victim))
                c.commit()
                c.close()

    with Warehouse(warehouse_path) as wh:
        SalesforceSource(Settings(sb.env()), wh, PurgeAfterLeads(quiet=True), retry_policy=FAST).sync(
            objects=["Lead", "Contact"])
    assert victim in raw_ids(warehouse_path, "lead")[0], "read before its purge"
    with Warehouse(warehouse_path) as wh:
        make_source(sb.env(), wh).sync(objects=["Lead", "Contact"])
    assert victim in raw_ids(warehouse_path, "lead")[1], "the purge between the reads was lost"


def test_a_bulk_page_written_in_slices_keeps_every_row(sandbox: Any, sandbox_env: dict[str, str],
                                                       warehouse_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A Bulk 2.0 page (up to 50,000 records) is upserted in slices of ``WRITE_SLICE`` rows
    inside its one transaction, so memory stays flat: the rows, counts and cursor are those of
    one write."""
    import connectors.salesforce as sf_mod

    monkeypatch.setattr(sf_mod, "WRITE_SLICE", 7)
    with Warehouse(warehouse_path) as wh:
        src = make_source(sandbox_env, wh, SALESFORCE_BULK_THRESHOLD="1")
        src._estimate = lambda plan: (10**9, "test")  # type: ignore[method-assign]
        result = src.sync(objects=["Lead", "LeadHistory"])
        assert all("Bulk API 2.0" in o.note for o in result.objects), [o.note for o in result.objects]
        for o in result.objects:
            assert o.records == wh.count(raw.table(f"salesforce.{o.object}")), o.object
            assert wh.get_cursor("salesforce", o.object)["value"]
    assert_raw_equals_store(warehouse_path, sandbox.store_path, skip=tuple(
        s.sobject for s in OBJECTS if s.sobject not in ("Lead", "LeadHistory")))
