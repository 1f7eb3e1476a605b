"""The HubSpot connector: the real ``hubspot-api-client`` over HTTP against the sandbox's
HubSpot fake (no mocks). Raw tables are compared with the world store the fake serves."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
from pathlib import Path

import duckdb
import pytest

from connectors.hubspot import OBJECTS, HubSpotSource
from connectors.retry import RetryPolicy
from connectors.source import Settings, SourceStopped
from connectors.warehouse import Warehouse

FAST = RetryPolicy(attempts=6, base_delay=0.05, max_delay=1.0)


def run_sync(env: dict[str, str], db: Path, **kwargs: object):
    with Warehouse(db) as wh:
        source = HubSpotSource(Settings(env), wh, retry_policy=FAST)
        return source.sync(**kwargs), source


def assert_equal_to_store(store_path: Path, db: Path, hubspot_state) -> None:
    store_state, raw_state = hubspot_state
    expected, got = store_state(store_path), raw_state(db)
    for key in ("contacts", "companies", "deals", "associations", "owners"):
        assert got[key] == expected[key], f"hubspot {key} differ from the store"


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
    assert searches == len(OBJECTS)                     # one snapshot search per object
    assert assoc <= math.ceil(deals_live / 1000) + 1
    total = len(full_sync["requests"])
    records = full_sync["result"].records
    lines.append(f"total {total} requests ({searches} search, {assoc} association), "
                 f"{records} records in {full_sync['seconds']:.2f}s = "
                 f"{records / full_sync['seconds']:,.0f} records/s")
    print("\n" + "\n".join(lines))
    assert full_sync["client_requests"] == total


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
    assert_equal_to_store(sb.store_path, db, hubspot_state)
    requests = sb.hubspot.requests()
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


def test_search_index_lag_is_caught_by_the_next_run(fresh_sandbox, hubspot_state, tmp_path):
    lag = 2.0
    sb = fresh_sandbox(faults=f"hubspot:lag={lag}")
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db)
    sb.advance(7)
    advanced = time.monotonic()
    run_sync(sb.env(), db)           # search does not see the week's changes yet
    time.sleep(max(0.0, lag + 0.2 - (time.monotonic() - advanced)))
    run_sync(sb.env(), db)           # the cursor did not move past what search could not see
    assert_equal_to_store(sb.store_path, db, hubspot_state)


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
