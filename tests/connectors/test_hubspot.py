"""The HubSpot connector: the real ``hubspot-api-client`` over HTTP against the sandbox's
HubSpot fake (no mocks). Raw tables are compared with the world store the fake serves."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import sqlite3
import time
from pathlib import Path

import duckdb
import pytest

from connectors.hubspot import ASSOC_FAILED, LIST_LIMIT, OBJECTS, HubSpotSource
from connectors.retry import RetryPolicy
from connectors.sandbox import store
from connectors.sandbox.fakes._common import clock_date, date_ms, iso_ms
from connectors.source import InvalidSetting, Progress, Settings, SourceStopped
from connectors.warehouse import Warehouse, utcnow

FAST = RetryPolicy(attempts=6, base_delay=0.05, max_delay=1.0)


def run_sync(env: dict[str, str], db: Path, **kwargs: object):
    with Warehouse(db) as wh:
        source = HubSpotSource(Settings(env), wh, retry_policy=FAST)
        return source.sync(**kwargs), source


def sandbox_clock_ms(store_path: Path) -> int:
    """The sandbox's "now": its clock date at 00:00:00 UTC (every record is older)."""
    conn = store.connect(store_path, readonly=True)
    try:
        return date_ms(clock_date(store.read_meta(conn)))
    finally:
        conn.close()


def cursors(db: Path) -> dict[str, dict]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return {o: json.loads(c) for o, c in conn.execute(
            "SELECT object, cursor FROM hubspot._sync_state").fetchall()}
    finally:
        conn.close()


def assert_equal_to_store(store_path: Path, db: Path, hubspot_state,
                          keys: tuple[str, ...] = ("contacts", "companies", "deals", "associations",
                                                   "owners"), *, lagging: object = None) -> None:
    """The raw layer equals the store, except by design: a record deleted for good (purged
    from the recycle bin, GDPR-deleted) stays in the raw layer as a deleted row; and with
    ``lagging`` (the HubSpot fake app), changes the search index does not show yet (the next
    run reads them) are left out of the comparison."""
    store_state, raw_state = hubspot_state
    expected, got = store_state(store_path), raw_state(db)
    for key in keys:
        have, want = got[key], expected[key]
        if key in OBJECTS:
            have = {i: v for i, v in have.items() if i in want or not v[0]}
            if lagging is not None:
                unseen = lagging.unindexed_ids(key)
                have = {i: v for i, v in have.items() if i not in unseen}
                want = {i: v for i, v in want.items() if i not in unseen}
        assert have == want, f"hubspot {key} differ from the store"


def run_reconcile(env: dict[str, str], db: Path):
    with Warehouse(db) as wh:
        source = HubSpotSource(Settings(env), wh, retry_policy=FAST)
        return source.reconcile(), source


@pytest.fixture(scope="module")
def full_sync(sandbox, sandbox_env, tmp_path_factory):
    """One full sync of the session sandbox, with its request log and timing."""
    db = tmp_path_factory.mktemp("hubspot_full") / "warehouse.duckdb"
    sandbox.hubspot.reset_log()
    started = time.monotonic()
    result, source = run_sync(sandbox_env, db)
    seconds = time.monotonic() - started
    return {"db": db, "result": result, "seconds": seconds,
            "requests": sandbox.hubspot.requests(), "client_requests": source.requests}


def test_full_sync_equals_store(full_sync, sandbox, hubspot_state):
    assert_equal_to_store(sandbox.store_path, full_sync["db"], hubspot_state)
    expected = hubspot_state[0](sandbox.store_path)
    for t in OBJECTS:
        live = sum(1 for d, _ in expected[t].values() if not d)
        archived = sum(1 for d, _ in expected[t].values() if d)
        conn = duckdb.connect(str(full_sync["db"]), read_only=True)
        try:
            got_live, got_deleted = conn.execute(
                f"SELECT count(*) FILTER (NOT _is_deleted), count(*) FILTER (_is_deleted) FROM hubspot.{t}"
            ).fetchone()
        finally:
            conn.close()
        assert (got_live, got_deleted) == (live, archived), t
    assert sum(1 for d, _ in expected["contacts"].values() if d) > 0, "the world should archive some contacts"
    assert len(expected["associations"]) > 0


def test_spot_values_equal_store(full_sync, sandbox):
    store = sqlite3.connect(f"file:{sandbox.store_path}?mode=ro", uri=True)
    rows = store.execute("SELECT id, props FROM hubspot_object WHERE object_type='contacts' "
                         "AND archived=0 ORDER BY id").fetchall()
    deals = store.execute("SELECT id, props FROM hubspot_object WHERE object_type='deals' "
                          "AND archived=0 ORDER BY id").fetchall()
    store.close()
    conn = duckdb.connect(str(full_sync["db"]), read_only=True)
    try:
        for oid, props in random.Random(5).sample(rows, 5):
            props = json.loads(props)
            got = conn.execute("SELECT email, lifecyclestage, ga_client_id, hs_analytics_first_url, "
                               "salesforceleadid FROM hubspot.contacts WHERE id = ?", [str(oid)]).fetchone()
            assert got == tuple(props.get(k) for k in ("email", "lifecyclestage", "ga_client_id",
                                                       "hs_analytics_first_url", "salesforceleadid"))
        for oid, props in random.Random(6).sample(deals, min(5, len(deals))):
            props = json.loads(props)
            got = conn.execute("SELECT amount, deal_currency_code, dealstage, closedate "
                               "FROM hubspot.deals WHERE id = ?", [str(oid)]).fetchone()
            assert got == tuple(props.get(k) for k in ("amount", "deal_currency_code", "dealstage", "closedate"))
        # every property column is text, as HubSpot serves it
        types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_schema='hubspot' AND table_name='deals'").fetchall())
        assert types["amount"] == "VARCHAR" and types["updated_at"] == "TIMESTAMP"
        stages = conn.execute("SELECT count(*), count(*) FILTER (is_closed) FROM hubspot.deal_pipelines").fetchone()
        assert stages == (7, 2)
        cursor = json.loads(conn.execute(
            "SELECT cursor FROM hubspot._sync_state WHERE object='contacts'").fetchone()[0])
        assert cursor["phase"] == "incremental" and cursor["modified_since_ms"] > 0
    finally:
        conn.close()


def test_full_sync_request_efficiency(full_sync, sandbox, hubspot_state):
    """A full read costs one list request per 100 records (+ the archived pages)."""
    expected = hubspot_state[0](sandbox.store_path)
    lines = []
    for t in OBJECTS:
        live = sum(1 for d, _ in expected[t].values() if not d)
        archived = sum(1 for d, _ in expected[t].values() if d)
        minimum = max(1, math.ceil(live / 100)) + max(1, math.ceil(archived / 100))
        used = len(sandbox.hubspot.requests("GET", f"/crm/v3/objects/{t}"))
        lines.append(f"{t}: {live} live + {archived} archived, {used} list requests (minimum {minimum})")
        assert used <= 1.05 * minimum + 1, lines[-1]
    searches = len(sandbox.hubspot.requests("POST", "/crm/v3/objects/"))
    assoc = len(sandbox.hubspot.requests("POST", "/crm/v4/associations/"))
    deals_live = sum(1 for d, _ in expected["deals"].values() if not d)
    assert searches == 0        # the cursor comes from the Date header: no snapshot search
    assert assoc <= math.ceil(deals_live / 1000) + 1
    total = len(full_sync["requests"])
    records = full_sync["result"].records
    lines.append(f"total {total} requests ({searches} search, {assoc} association), "
                 f"{records} records in {full_sync['seconds']:.2f}s = "
                 f"{records / full_sync['seconds']:,.0f} records/s")
    print("\n" + "\n".join(lines))
    assert full_sync["client_requests"] == total


def test_full_sync_takes_its_cursor_from_the_server_clock(full_sync, sandbox):
    """No request beyond the data pages: the next incremental run starts from the Date of
    each object's first list response, the sandbox clock (its midnight), not from a search."""
    assert not [r for r in full_sync["requests"] if r.method == "POST" and r.path.endswith("/search")]
    clock_ms = sandbox_clock_ms(sandbox.store_path)
    got = cursors(full_sync["db"])
    for t in OBJECTS:
        assert got[t] == {"phase": "incremental", "modified_since_ms": clock_ms}, t


def test_full_sync_without_date_header_falls_back_to_a_search(fresh_sandbox, hubspot_state, tmp_path):
    """A response without a Date header: one DESC search per object takes the newest
    modification the API knows, as before; the next incremental run still loses nothing."""
    sb = fresh_sandbox()
    sb.hubspot.app.send_date = False
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db)
    assert_equal_to_store(sb.store_path, db, hubspot_state)
    searches = sb.hubspot.requests("POST", "/crm/v3/objects/")
    assert sorted(r.path for r in searches) == sorted(f"/crm/v3/objects/{t}/search" for t in OBJECTS)
    got = cursors(db)
    for t in OBJECTS:
        unindexed = sb.hubspot.app.unindexed_ids(t)     # the search index's lag
        newest = max(u for i, u in store_rows(sb.store_path, "SELECT id, updated_at_ms FROM hubspot_object "
                                              "WHERE object_type = ? AND archived = 0", (t,))
                     if str(i) not in unindexed)
        assert got[t] == {"phase": "incremental", "modified_since_ms": newest}, t
        assert newest < sandbox_clock_ms(sb.store_path)
    sb.advance(3)
    result, _ = run_sync(sb.env(), db)
    run_reconcile(sb.env(), db)          # the advance GDPR-deleted a contact
    assert_equal_to_store(sb.store_path, db, hubspot_state, ("contacts", "companies", "deals"),
                          lagging=sb.hubspot.app)
    assert all(o.note == "incremental" for o in result.objects if o.object in OBJECTS)


def test_rerun_without_changes_is_idempotent(full_sync, sandbox, sandbox_env, hubspot_state, tmp_path):
    db = tmp_path / "wh.duckdb"
    run_sync(sandbox_env, db)
    first = hubspot_state[1](db)
    sandbox.hubspot.reset_log()
    result, _ = run_sync(sandbox_env, db)
    assert hubspot_state[1](db) == first
    # incremental: no live list pages, only searches (snapshot + one empty-ish page per object)
    live_lists = [r for r in sandbox.hubspot.requests("GET", "/crm/v3/objects/")
                  if "archived=True" not in r.raw_path]
    assert live_lists == []
    assert all(o.note == "incremental" for o in result.objects if o.object in OBJECTS)


def test_incremental_after_advance(fresh_sandbox, hubspot_state, tmp_path):
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db)
    full_requests = len(sb.hubspot.requests())
    before = hubspot_state[0](sb.store_path)
    sb.advance(7)
    sb.hubspot.reset_log()
    result, _ = run_sync(sb.env(), db)
    after = hubspot_state[0](sb.store_path)
    changed = {t: sum(1 for i, v in after[t].items() if before[t].get(i) != v) for t in OBJECTS}
    assert sum(changed.values()) > 0, "advancing a week should change some records"
    requests = sb.hubspot.requests()
    reconciled, _ = run_reconcile(sb.env(), db)     # the advance GDPR-deleted contacts
    assert sum(o.deleted for o in reconciled.objects) > 0
    assert_equal_to_store(sb.store_path, db, hubspot_state, lagging=sb.hubspot.app)
    live_lists = [r for r in requests if r.method == "GET" and r.path.startswith("/crm/v3/objects/")
                  and "archived=True" not in r.raw_path]
    assert live_lists == [], "an incremental run reads changes through search only"
    searches = len(sb.hubspot.requests("POST", "/crm/v3/objects/"))
    assert searches <= sum(2 + math.ceil(n / 200) for n in changed.values())
    print(f"\nincremental after 7 days: {changed} changed, {len(requests)} requests "
          f"(full sync: {full_requests})")
    assert len(requests) < full_requests
    for o in result.objects:
        if o.object in OBJECTS:
            assert o.note == "incremental"


@pytest.mark.parametrize("faults", [
    "hubspot:429@3x3",          # Retry-After: 1
    "hubspot:429-bare@4x2",     # no Retry-After: backoff
    "hubspot:502@3x3",
    "hubspot:503@5x2",
    "hubspot:drop@4x3",         # connection cut mid-body
])
def test_faults_give_a_clean_result(faults, fresh_sandbox, hubspot_state, tmp_path):
    sb = fresh_sandbox(faults=faults)
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db)
    assert sb.hubspot.requests(faulted=True), "the fault should have fired"
    assert_equal_to_store(sb.store_path, db, hubspot_state)


def _stamp(store_path: Path, t: str, oid: int, at_ms: int) -> None:
    prop = "lastmodifieddate" if t == "contacts" else "hs_lastmodifieddate"
    edit_store(store_path, f"UPDATE hubspot_object SET updated_at_ms = ?, props = json_set(props, "
               f"'$.{prop}', ?) WHERE object_type = ? AND id = ?", (at_ms, iso_ms(at_ms), t, oid))


def test_search_index_lag_is_caught_by_the_next_run(fresh_sandbox, hubspot_state, tmp_path):
    """The search index shows changes late and out of order (the fake's default: up to an
    hour): a change 40 minutes old, not indexed yet, while a newer one is. The run's cursor
    moves to the newest indexed change; the next run's lookback must still reach back to the
    older one (a 10-minute lookback did not)."""
    from connectors.sandbox.fakes.hubspot import index_delay_ms

    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db, objects=["contacts"])
    sb.advance(1)
    now = sandbox_clock_ms(sb.store_path)
    lag = sb.hubspot.app.lag_ms
    assert lag == 3_600_000, "an hour of index lag is the sandbox's default"
    ids = [i for (i,) in store_rows(sb.store_path, "SELECT id FROM hubspot_object WHERE "
                                    "object_type = 'contacts' AND archived = 0 ORDER BY id")]
    late_at, early_at = now - 40 * 60_000, now - 5 * 60_000
    late = next(i for i in ids if index_delay_ms("contacts", i, late_at, lag) > 45 * 60_000)
    early = next(i for i in ids if i != late and index_delay_ms("contacts", i, early_at, lag) < 4 * 60_000)
    _stamp(sb.store_path, "contacts", late, late_at)
    _stamp(sb.store_path, "contacts", early, early_at)
    assert str(late) in sb.hubspot.app.unindexed_ids("contacts")
    assert str(early) not in sb.hubspot.app.unindexed_ids("contacts")

    run_sync(sb.env(), db, objects=["contacts"])
    raw = hubspot_state[1](db)["contacts"]
    assert raw[str(early)][1] == early_at and raw[str(late)][1] != late_at, "searched before indexed"

    sb.advance(1)                    # a day later the index has caught up
    run_sync(sb.env(), db, objects=["contacts"])
    assert hubspot_state[1](db)["contacts"][str(late)][1] == late_at, "the late change was skipped"


def test_persistent_rate_limit_stops_the_source(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(faults="hubspot:429=0")
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        source = HubSpotSource(Settings(sb.env()), wh,
                               retry_policy=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
                               http_retries=1)
        with pytest.raises(SourceStopped, match="HTTP 429"):
            source.sync()


def test_bad_records_are_quarantined_not_stored(tmp_path, sandbox_env):
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        source = HubSpotSource(Settings(sandbox_env), wh)
        props = source.properties_for("contacts")
        assert source._row("contacts", {"properties": {"email": "x@example.com"}}, props, False) is None
        bad = {"id": "77", "properties": {"email": "y@example.com"}, "createdAt": "yesterday",
               "updatedAt": "2024-01-01T00:00:00.000Z"}
        assert source._row("contacts", bad, props, False) is None
        good = {"id": "78", "properties": {"email": "z@example.com", "brand_new_prop": "v"},
                "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z"}
        row = source._row("contacts", good, props, False)
        assert row["email"] == "z@example.com" and row["brand_new_prop"] == "v"
        reasons = sorted(r[0] for r in wh.conn.execute(
            "SELECT reason FROM hubspot._quarantine WHERE object='contacts'").fetchall())
        assert reasons == ["missing id", "unparsable createdAt/updatedAt"]
        assert source._quarantined("contacts") == 2


def test_extra_properties_become_drift_columns(sandbox, sandbox_env, tmp_path):
    env = {**sandbox_env, "HUBSPOT_EXTRA_PROPERTIES_CONTACTS": "company, hs_object_id"}
    db = tmp_path / "wh.duckdb"
    with Warehouse(db) as wh:
        HubSpotSource(Settings(env), wh, retry_policy=FAST).sync(objects=["contacts"])
        n = wh.conn.execute("SELECT count(company) FROM hubspot.contacts").fetchone()[0]
    assert n > 0


def test_check_reports_a_healthy_portal(sandbox_env, tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        findings = HubSpotSource(Settings(sandbox_env), wh).check()
    assert findings and all(f.ok for f in findings), [f.line() for f in findings]
    whats = " | ".join(f.what for f in findings)
    assert "ga_client_id" in whats and "salesforceopportunityid" in whats


def test_check_reports_a_rejected_token(sandbox_env, tmp_path):
    env = {**sandbox_env, "HUBSPOT_ACCESS_TOKEN": "pat-na1-wrong"}
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        findings = HubSpotSource(Settings(env), wh).check()
    assert [f.ok for f in findings] == [False]
    assert "401" in findings[0].what and "HUBSPOT_ACCESS_TOKEN" in findings[0].fix
    assert "pat-na1-wrong" not in findings[0].line()


# -- crash safety of deletes, association errors, archived paging --------------------------------
class Crash(Exception):
    """The process dying mid-run (raised from a hook, after or inside a transaction)."""


class CrashAfterPage(Progress):
    """Stops the sync right after the first committed page of ``obj``."""

    def __init__(self, obj: str) -> None:
        super().__init__(quiet=True)
        self.obj = obj

    def page(self, source: str, obj: str, pages: int, records: int) -> None:
        if obj == self.obj:
            raise Crash(f"killed after {obj} page {pages}")


def edit_store(store_path: Path, sql: str, params: tuple = ()) -> None:
    """Change the world the fake serves (its readers see each commit at once)."""
    conn = sqlite3.connect(store_path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def store_rows(store_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def merge_contacts(store_path: Path, survivor: int, merged_away: int, at_ms: int) -> None:
    """A HubSpot merge: the survivor lists the merged-away id and is modified; the merged-away
    contact leaves the API altogether (neither live nor archived)."""
    edit_store(store_path, "UPDATE hubspot_object SET updated_at_ms = ?, "
               "props = json_set(props, '$.hs_merged_object_ids', ?, '$.lastmodifieddate', ?) "
               "WHERE object_type = 'contacts' AND id = ?",
               (at_ms, str(merged_away), iso_ms(at_ms), survivor))
    edit_store(store_path, "DELETE FROM hubspot_object WHERE object_type = 'contacts' AND id = ?",
               (merged_away,))


def contact_deleted(db: Path, oid: int) -> bool:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return conn.execute("SELECT _is_deleted FROM hubspot.contacts WHERE id = ?", [str(oid)]).fetchone()[0]
    finally:
        conn.close()


def test_merge_delete_commits_with_the_survivor_page(fresh_sandbox, tmp_path):
    """The merged-away contact is marked deleted in the transaction of the page that carried
    its survivor: a run killed right after that page (its cursor past the survivor) has lost
    nothing, and the next run, which never reads the survivor again, need not find it."""
    # no index lag: the edits below are stamped after the sandbox's "now", which a lagging
    # index would never show
    sb = fresh_sandbox(faults="hubspot:lag=0")
    env = {**sb.env(), "HUBSPOT_SEARCH_LOOKBACK_MINUTES": "0"}
    db = tmp_path / "wh.duckdb"
    run_sync(env, db, objects=["contacts"])
    live = [i for (i,) in store_rows(sb.store_path, "SELECT id FROM hubspot_object WHERE "
                                     "object_type = 'contacts' AND archived = 0 AND json_extract("
                                     "props, '$.hs_merged_object_ids') IS NULL ORDER BY id LIMIT 5")]
    survivor, merged_away, other, survivor2, merged_away2 = live
    # Changes are stamped on the server's clock, which the full sync's cursor came from:
    # at or after the sandbox clock (every generated record is older).
    newest = sandbox_clock_ms(sb.store_path)
    assert not contact_deleted(db, merged_away)

    merge_contacts(sb.store_path, survivor, merged_away, newest + 60_000)
    with Warehouse(db) as wh:
        source = HubSpotSource(Settings(env), wh, CrashAfterPage("contacts"), retry_policy=FAST)
        with pytest.raises(Crash):
            source.sync(objects=["contacts"])
        cursor = wh.get_cursor("hubspot", "contacts")
    assert cursor["modified_since_ms"] >= newest + 60_000, "the survivor's page committed"
    assert contact_deleted(db, merged_away), "the merge was lost with the run"

    # A later change moves the search floor past the survivor: it is never read again.
    edit_store(sb.store_path, "UPDATE hubspot_object SET updated_at_ms = ?, props = json_set("
               "props, '$.lastmodifieddate', ?) WHERE object_type = 'contacts' AND id = ?",
               (newest + 120_000, iso_ms(newest + 120_000), other))
    run_sync(env, db, objects=["contacts"])
    assert contact_deleted(db, merged_away)
    assert not contact_deleted(db, survivor)

    # A merge is counted as a delete of the run that saw it.
    merge_contacts(sb.store_path, survivor2, merged_away2, newest + 180_000)
    started = utcnow()
    result, _ = run_sync(env, db, objects=["contacts"])
    (contacts,) = [o for o in result.objects if o.object == "contacts"]
    assert contacts.deleted == 1
    assert contact_deleted(db, merged_away2) and not contact_deleted(db, survivor2)
    conn = duckdb.connect(str(db), read_only=True)
    try:
        synced = conn.execute("SELECT _synced_at FROM hubspot.contacts WHERE id = ?",
                              [str(merged_away2)]).fetchone()[0]
    finally:
        conn.close()
    assert synced >= started


def deal_with_associations(store_path: Path) -> str:
    rows = store_rows(store_path, "SELECT a.from_id FROM hubspot_association a JOIN hubspot_object o "
                      "ON o.object_type = 'deals' AND o.id = a.from_id AND o.archived = 0 "
                      "WHERE a.from_type = 'deals' AND a.to_type = 'contacts' ORDER BY a.from_id LIMIT 1")
    return str(rows[0][0])


def assoc_quarantine(db: Path) -> list[tuple]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return conn.execute("SELECT record_id, reason FROM hubspot._quarantine "
                            "WHERE object = 'deal_contact_associations' ORDER BY 1").fetchall()
    finally:
        conn.close()


def test_failed_association_read_keeps_rows_and_is_quarantined(fresh_sandbox, hubspot_state, tmp_path):
    """A 207 per-item error other than OBJECT_NOT_FOUND never deletes a deal's associations:
    the deal is read once more, then quarantined and counted; its stored rows stay."""
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db, objects=["deals"])
    deal = deal_with_associations(sb.store_path)
    before = hubspot_state[1](db)["associations"]
    assert any(d == deal for d, _, _ in before)

    sb.hubspot.app.fail_association_reads([deal])          # every time
    sb.hubspot.reset_log()
    result, _ = run_sync(sb.env(), db, objects=["deals"], full_refresh=True)
    assert sb.hubspot.requests("POST", "/crm/v4/associations/")[0].status == 207
    assert sb.hubspot.app.assoc_failures_served[deal] == 2, "read, then retried once"
    assert hubspot_state[1](db)["associations"] == before, "the failed deal's rows were deleted"
    assert_equal_to_store(sb.store_path, db, hubspot_state, ("deals", "associations"))
    assert assoc_quarantine(db) == [(deal, ASSOC_FAILED)]
    (assoc,) = [o for o in result.objects if o.object == "deal_contact_associations"]
    assert assoc.quarantined == 1


def test_transient_association_error_is_retried(fresh_sandbox, hubspot_state, tmp_path):
    """An error the client cannot tie to an id (no context) still counts as not read: that
    deal is retried, and the retry's answer is stored. Nothing is quarantined."""
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    deal = deal_with_associations(sb.store_path)
    sb.hubspot.app.fail_association_reads([deal], times=1, attributed=False)
    result, _ = run_sync(sb.env(), db, objects=["deals"])
    assert sb.hubspot.app.assoc_failures_served[deal] == 1
    assert_equal_to_store(sb.store_path, db, hubspot_state, ("deals", "associations"))
    assert assoc_quarantine(db) == []
    (assoc,) = [o for o in result.objects if o.object == "deal_contact_associations"]
    assert assoc.quarantined == 0 and assoc.records > 0


class RecordingWarehouse(Warehouse):
    """Records each upsert of archived rows (size, transaction) and can die at the Nth."""

    def __init__(self, path: Path, crash_at: int | None = None) -> None:
        super().__init__(path)
        self.crash_at = crash_at
        self.archived: list[tuple[int, int]] = []       # (rows, transaction number)
        self.tx_number = 0

    def transaction(self):  # type: ignore[override]
        if not self._in_tx:
            self.tx_number += 1
        return super().transaction()

    def upsert(self, table, rows, **kwargs):  # type: ignore[override]
        if isinstance(rows, list) and rows and all(r.get("_is_deleted") for r in rows):
            self.archived.append((len(rows), self.tx_number))
            if self.crash_at is not None and len(self.archived) == self.crash_at:
                raise Crash("killed while writing archived records")
        return super().upsert(table, rows, **kwargs)


def test_archived_records_stream_one_page_per_transaction(fresh_sandbox, hubspot_state, tmp_path):
    sb = fresh_sandbox()
    edit_store(sb.store_path, "UPDATE hubspot_object SET archived = 1, archived_at_ms = updated_at_ms "
               "WHERE object_type = 'contacts' AND id IN (SELECT id FROM hubspot_object "
               "WHERE object_type = 'contacts' AND archived = 0 ORDER BY id LIMIT 250)")
    (archived,) = store_rows(sb.store_path, "SELECT count(*) FROM hubspot_object "
                             "WHERE object_type = 'contacts' AND archived = 1")[0]
    assert archived > 2 * LIST_LIMIT
    db = tmp_path / "wh.duckdb"
    with RecordingWarehouse(db, crash_at=3) as wh:
        source = HubSpotSource(Settings(sb.env()), wh, retry_policy=FAST)
        with pytest.raises(Crash):
            source.sync(objects=["contacts"])
        sizes = [n for n, _ in wh.archived]
        assert sizes[:2] == [LIST_LIMIT, LIST_LIMIT], "archived records are written a page at a time"
        assert len({tx for _, tx in wh.archived}) == len(wh.archived), "one transaction per page"
        kept = wh.conn.execute("SELECT count(*) FILTER (_is_deleted) FROM hubspot.contacts").fetchone()[0]
        assert kept == 2 * LIST_LIMIT, "the pages before the crash are kept"
    result, _ = run_sync(sb.env(), db, objects=["contacts"])
    (contacts,) = [o for o in result.objects if o.object == "contacts"]
    assert contacts.deleted == archived - 2 * LIST_LIMIT
    expected, got = hubspot_state[0](sb.store_path), hubspot_state[1](db)
    assert got["contacts"] == expected["contacts"]


# -- HISTORY_START_DATE -------------------------------------------------------------------------
BAD_START = "HISTORY_START_DATE='2025-13-01' is not a date: expected YYYY-MM-DD (e.g. 2024-07-01)"


def test_bad_history_start_is_one_clear_error(sandbox, sandbox_env, tmp_path):
    """The same InvalidSetting (a ValueError) and line as GA4 and Salesforce, before any
    request."""
    before = len(sandbox.hubspot.requests())
    with pytest.raises(InvalidSetting) as err:
        run_sync({**sandbox_env, "HISTORY_START_DATE": "2025-13-01"}, tmp_path / "w.duckdb")
    assert str(err.value).startswith(BAD_START) and "\n" not in str(err.value)
    assert len(sandbox.hubspot.requests()) == before


def test_history_start_bounds_no_crm_object(sandbox, sandbox_env, tmp_path, hubspot_state):
    """As documented: CRM objects are state, read whole; a contact created before the start
    (who may become a deal later) is still read."""
    start = dt.date(2026, 3, 1)
    db = tmp_path / "w.duckdb"
    run_sync({**sandbox_env, "HISTORY_START_DATE": start.isoformat()}, db, objects=["contacts"])
    assert_equal_to_store(sandbox.store_path, db, hubspot_state, keys=("contacts",))
    start_ms = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
    with sqlite3.connect(f"file:{sandbox.store_path}?mode=ro", uri=True) as conn:
        older = conn.execute("SELECT count(*) FROM hubspot_object WHERE object_type='contacts' "
                             "AND created_at_ms < ?", (start_ms,)).fetchone()[0]
    assert older > 0


def test_merged_deals_and_companies_are_deleted_with_their_associations(fresh_sandbox, tmp_path):
    """A merged-away deal (or company) leaves the API, live and archived lists alike: the
    survivor's hs_merged_object_ids is the only trace. Left live it would count its amount
    twice, so it is marked deleted and its contact associations removed."""
    # no index lag: the edits below are stamped after the sandbox's "now", which a lagging
    # index would never show
    sb = fresh_sandbox(faults="hubspot:lag=0")
    env = {**sb.env(), "HUBSPOT_SEARCH_LOOKBACK_MINUTES": "0"}
    db = tmp_path / "wh.duckdb"
    run_sync(env, db, objects=["companies", "deals"])
    at = sandbox_clock_ms(sb.store_path) + 60_000
    merges = {}
    for t in ("deals", "companies"):
        survivor, merged_away = [i for (i,) in store_rows(
            sb.store_path, "SELECT o.id FROM hubspot_object o WHERE o.object_type = ? AND o.archived = 0 "
            "AND EXISTS (SELECT 1 FROM hubspot_association a WHERE a.from_type = 'deals' AND a.from_id = o.id) ORDER BY o.id LIMIT 2"
            if t == "deals" else
            "SELECT id FROM hubspot_object WHERE object_type = ? AND archived = 0 ORDER BY id LIMIT 2",
            (t,))]
        edit_store(sb.store_path, "UPDATE hubspot_object SET updated_at_ms = ?, props = json_set(props, "
                   "'$.hs_merged_object_ids', ?, '$.hs_lastmodifieddate', ?) WHERE object_type = ? AND id = ?",
                   (at, str(merged_away), iso_ms(at), t, survivor))
        edit_store(sb.store_path, "DELETE FROM hubspot_object WHERE object_type = ? AND id = ?", (t, merged_away))
        merges[t] = (survivor, merged_away)
    conn = duckdb.connect(str(db), read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM hubspot.deal_contact_associations WHERE deal_id = ?",
                            [str(merges["deals"][1])]).fetchone()[0] > 0
    finally:
        conn.close()
    result, _ = run_sync(env, db, objects=["companies", "deals"])
    deleted = {o.object: o.deleted for o in result.objects}
    assert deleted["deals"] == 1 and deleted["companies"] == 1, deleted
    conn = duckdb.connect(str(db), read_only=True)
    try:
        for t, (survivor, merged_away) in merges.items():
            flags = dict(conn.execute(f"SELECT id, _is_deleted FROM hubspot.{t} WHERE id IN (?, ?)",
                                      [str(survivor), str(merged_away)]).fetchall())
            assert flags == {str(survivor): False, str(merged_away): True}, (t, flags)
        assert conn.execute("SELECT count(*) FROM hubspot.deal_contact_associations WHERE deal_id = ?",
                            [str(merges["deals"][1])]).fetchone()[0] == 0
    finally:
        conn.close()


def test_full_refresh_marks_records_deleted_for_good(fresh_sandbox, tmp_path):
    """A GDPR delete (or a purge from the recycle bin) leaves no archived record: an
    incremental run cannot know, a full refresh reconciles what it no longer lists."""
    sb = fresh_sandbox()
    env = sb.env()
    db = tmp_path / "wh.duckdb"
    run_sync(env, db, objects=["contacts", "deals"])
    gone = {t: store_rows(sb.store_path, "SELECT id FROM hubspot_object WHERE object_type = ? "
                          "AND archived = 0 ORDER BY id DESC LIMIT 2", (t,)) for t in ("contacts", "deals")}
    for t, ids in gone.items():
        for (i,) in ids:
            edit_store(sb.store_path, "DELETE FROM hubspot_object WHERE object_type = ? AND id = ?", (t, i))
    run_sync(env, db, objects=["contacts", "deals"])
    conn = duckdb.connect(str(db), read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM hubspot.contacts WHERE _is_deleted").fetchone()[0] \
            == store_rows(sb.store_path, "SELECT count(*) FROM hubspot_object WHERE object_type = "
                          "'contacts' AND archived = 1")[0][0], "an incremental run cannot see these"
    finally:
        conn.close()
    result, _ = run_sync(env, db, objects=["contacts", "deals"], full_refresh=True)
    notes = {o.object: o.note for o in result.objects}
    conn = duckdb.connect(str(db), read_only=True)
    try:
        for t, ids in gone.items():
            flags = [conn.execute(f"SELECT _is_deleted FROM hubspot.{t} WHERE id = ?", [str(i)]).fetchone()[0]
                     for (i,) in ids]
            assert flags == [True, True], (t, flags)
            assert "2 records no longer in HubSpot marked deleted" in notes[t], notes[t]
        assert conn.execute("SELECT count(*) FROM hubspot.deal_contact_associations WHERE deal_id IN (?, ?)",
                            [str(i) for (i,) in gone["deals"]]).fetchone()[0] == 0
    finally:
        conn.close()


def test_failed_association_read_is_retried_on_later_runs(fresh_sandbox, hubspot_state, tmp_path):
    """A deal quarantined for a failed association read is read again by the next run, though
    the deal itself did not change, and its fresh rows replace the stored ones."""
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    deal = deal_with_associations(sb.store_path)
    sb.hubspot.app.fail_association_reads([deal], times=2)      # this run's read and its retry
    run_sync(sb.env(), db, objects=["deals"])
    assert assoc_quarantine(db) == [(deal, ASSOC_FAILED)]
    assert not any(d == deal for d, _, _ in hubspot_state[1](db)["associations"])
    with Warehouse(db, read_only=True) as wh:
        assert wh.get_cursor("hubspot", "deal_contact_associations:retry") == {"deal_ids": [deal]}

    result, _ = run_sync(sb.env(), db, objects=["deals"])          # nothing changed in HubSpot
    assert sb.hubspot.app.assoc_failures_served[deal] == 2
    assert_equal_to_store(sb.store_path, db, hubspot_state, ("deals", "associations"))
    with Warehouse(db, read_only=True) as wh:
        assert wh.get_cursor("hubspot", "deal_contact_associations:retry") == {"deal_ids": []}
    (assoc,) = [o for o in result.objects if o.object == "deal_contact_associations"]
    assert assoc.records > 0 and assoc.quarantined == 0


def test_a_deleted_deal_leaves_the_association_retry_list(fresh_sandbox, tmp_path):
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    deal = deal_with_associations(sb.store_path)
    sb.hubspot.app.fail_association_reads([deal])                 # every time
    run_sync(sb.env(), db, objects=["deals"])
    with Warehouse(db, read_only=True) as wh:
        assert wh.get_cursor("hubspot", "deal_contact_associations:retry") == {"deal_ids": [deal]}
    edit_store(sb.store_path, "UPDATE hubspot_object SET archived = 1 WHERE object_type = 'deals' AND id = ?",
               (int(deal),))
    served = sb.hubspot.app.assoc_failures_served[deal]
    run_sync(sb.env(), db, objects=["deals"])
    assert sb.hubspot.app.assoc_failures_served[deal] == served, "a deleted deal was read again"
    with Warehouse(db, read_only=True) as wh:
        assert wh.get_cursor("hubspot", "deal_contact_associations:retry") == {"deal_ids": []}
        assert wh.conn.execute("SELECT count(*) FROM hubspot.deal_contact_associations WHERE deal_id = ?",
                               [deal]).fetchone()[0] == 0
