"""The Salesforce connector against behaviours of real orgs the fake now has (issue 13):
getDeleted's id limit and early purge, the id-only reconciliation, formula fields, late
commits behind the cursor, QUERY_TIMEOUT, the long-running-request limit, client credentials
at the My Domain only, the JWT bearer flow, and the visibility check. Real simple_salesforce
over HTTPS against the fake; expected values from the world store."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_salesforce import assert_raw_equals_store, make_source, sf_log  # noqa: E402

from connectors.salesforce import DEFAULT_LOOKBACK
from connectors.salesforce_soql import parse_datetime, soql_datetime
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.slow


def _newest(conn: sqlite3.Connection, sobject: str) -> dt.datetime:
    return parse_datetime(conn.execute(
        "SELECT max(system_modstamp) FROM sf_record WHERE sobject=? AND purged=0",
        (sobject,)).fetchone()[0])


def _purge(store_path: Path, sobject: str, n: int, first: dt.datetime, step: dt.timedelta) -> list[str]:
    """Hard-delete ``n`` live records (past the recycle bin: only getDeleted knows them)."""
    conn = sqlite3.connect(store_path)
    try:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM sf_record WHERE sobject=? AND is_deleted=0 AND purged=0 ORDER BY id "
            "LIMIT ?", (sobject, n))]
        for i, rid in enumerate(ids):
            conn.execute("UPDATE sf_record SET is_deleted=1, purged=1, deleted_date=? "
                         "WHERE sobject=? AND id=?", (soql_datetime(first + i * step), sobject, rid))
        conn.commit()
        return ids
    finally:
        conn.close()


def _update(store_path: Path, sobject: str, rid: str, **values: Any) -> None:
    conn = sqlite3.connect(store_path)
    try:
        fields = json.loads(conn.execute("SELECT fields FROM sf_record WHERE sobject=? AND id=?",
                                         (sobject, rid)).fetchone()[0])
        fields.update(values)
        stamp = values.get("SystemModstamp")
        conn.execute("UPDATE sf_record SET fields=?, system_modstamp=coalesce(?, system_modstamp) "
                     "WHERE sobject=? AND id=?",
                     (json.dumps(fields), soql_datetime(parse_datetime(stamp)) if stamp else None,
                      sobject, rid))
        conn.commit()
    finally:
        conn.close()


def _deleted_flags(wh_path: Path, table: str, ids: list[str]) -> set[bool]:
    with duckdb.connect(str(wh_path), read_only=True) as db:
        return {r[0] for r in db.execute(
            f"SELECT _is_deleted FROM salesforce.{table} WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [ids]).fetchall()}


def test_delete_log_limits_split_windows_and_reconciliation(fresh_sandbox: Any, warehouse_path: Path) -> None:
    sb = fresh_sandbox()
    env = sb.env()
    with Warehouse(warehouse_path) as wh:
        make_source(env, wh).sync()
    conn = sqlite3.connect(sb.store_path)
    newest = _newest(conn, "Lead")
    conn.close()
    # 30 hard deletes over ten minutes: above the sandbox's getDeleted id limit (20)
    burst = _purge(sb.store_path, "Lead", 30, newest - dt.timedelta(minutes=10), dt.timedelta(seconds=20))
    with Warehouse(warehouse_path) as wh:
        res = make_source(env, wh).sync()
    lead = next(o for o in res.objects if o.object == "lead")
    assert "EXCEEDED_ID_LIMIT" in lead.note, lead.note
    assert _deleted_flags(warehouse_path, "lead", burst) == {True}
    # the log is purged early (too large): hard deletes older than two hours vanish from it;
    # only the id-only reconciliation finds them
    sb.salesforce.app.delete_log_limit = 0
    lost = _purge(sb.store_path, "Contact", 3, newest - dt.timedelta(hours=5), dt.timedelta(minutes=1))
    with Warehouse(warehouse_path) as wh:
        make_source(env, wh).sync()
    assert _deleted_flags(warehouse_path, "contact", lost) == {False}
    before = len(sf_log(sb))
    with Warehouse(warehouse_path) as wh:
        rec = make_source(env, wh).reconcile()
    contact = next(o for o in rec.objects if o.object == "contact")
    assert contact.deleted == 3, contact.note
    assert _deleted_flags(warehouse_path, "contact", lost) == {True}
    assert_raw_equals_store(warehouse_path, sb.store_path)
    # cheap: a describe batch plus one listing per object (pages of 2,000 or a Bulk job)
    assert len(sf_log(sb)) - before <= 1 + 3 * len(rec.objects), [o.note for o in rec.objects]


def test_formula_fields_and_late_commits_caught_by_reconciliation(fresh_sandbox: Any,
                                                                  warehouse_path: Path) -> None:
    sb = fresh_sandbox()
    env = sb.env()
    with Warehouse(warehouse_path) as wh:
        make_source(env, wh).sync()
    conn = sqlite3.connect(sb.store_path)
    contact, account = conn.execute(
        "SELECT id, json_extract(fields, '$.AccountId') FROM sf_record WHERE sobject='Contact' "
        "AND is_deleted=0 AND json_extract(fields, '$.AccountId') IS NOT NULL ORDER BY id LIMIT 1").fetchone()
    newest = _newest(conn, "Lead")
    late = conn.execute("SELECT id FROM sf_record WHERE sobject='Lead' AND is_deleted=0 AND purged=0 "
                        "ORDER BY id LIMIT 1").fetchone()[0]
    conn.close()
    # the account is renamed (its own stamp moves); the contact's formula follows silently
    _update(sb.store_path, "Account", account, Name="Renamed Holdings",
            SystemModstamp=(newest + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    # a lead committed late by a long transaction: its stamp is 40 minutes behind the newest
    _update(sb.store_path, "Lead", late, Company="Committed Late",
            SystemModstamp=(newest - dt.timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    with Warehouse(warehouse_path) as wh:
        make_source(env, wh).sync()
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        assert db.execute("SELECT name FROM salesforce.account WHERE id=?", [account]).fetchone()[0] == \
            "Renamed Holdings"
        # incremental reads cannot see either: that is the real API's behaviour
        assert db.execute("SELECT account_name_c FROM salesforce.contact WHERE id=?",
                          [contact]).fetchone()[0] != "Renamed Holdings"
        assert db.execute("SELECT company FROM salesforce.lead WHERE id=?", [late]).fetchone()[0] != \
            "Committed Late"
    # the late lead's row is held, older: re-read it by Id needs it missing; drop our copy to
    # stand for a row the window never saw at all
    with Warehouse(warehouse_path) as wh:
        wh.conn.execute("DELETE FROM salesforce.lead WHERE id = ?", [late])
        rec = make_source(env, wh).reconcile()
    notes = {o.object: o.note for o in rec.objects}
    assert "formula fields refreshed" in notes["contact"] and "read by Id" in notes["lead"], notes
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        assert db.execute("SELECT account_name_c FROM salesforce.contact WHERE id=?",
                          [contact]).fetchone()[0] == "Renamed Holdings"
        assert db.execute("SELECT company FROM salesforce.lead WHERE id=?", [late]).fetchone()[0] == \
            "Committed Late"


def test_lookback_catches_rows_committed_behind_the_cursor(fresh_sandbox: Any, warehouse_path: Path) -> None:
    assert dt.timedelta(minutes=15) <= DEFAULT_LOOKBACK
    sb = fresh_sandbox()
    env = sb.env()
    with Warehouse(warehouse_path) as wh:
        make_source(env, wh).sync()
    conn = sqlite3.connect(sb.store_path)
    newest = _newest(conn, "Lead")
    rid = conn.execute("SELECT id FROM sf_record WHERE sobject='Lead' AND is_deleted=0 AND purged=0 "
                       "ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.close()
    _update(sb.store_path, "Lead", rid, Company="Twelve Minutes Late",
            SystemModstamp=(newest - dt.timedelta(minutes=12)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    with Warehouse(warehouse_path) as wh:
        make_source(env, wh).sync(objects=["Lead"])
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        assert db.execute("SELECT company FROM salesforce.lead WHERE id=?", [rid]).fetchone()[0] == \
            "Twelve Minutes Late"


@pytest.mark.parametrize("faults", ["salesforce:query-timeout=30x3", "salesforce:long-txn@4x3"])
def test_query_timeout_and_long_running_limit(fresh_sandbox: Any, warehouse_path: Path, faults: str) -> None:
    sb = fresh_sandbox(faults=faults)
    with Warehouse(warehouse_path) as wh:
        res = make_source(sb.env(), wh, sleep=lambda s: None).sync()
    assert_raw_equals_store(warehouse_path, sb.store_path)
    if "query-timeout" in faults:
        assert any("QUERY_TIMEOUT" in o.note for o in res.objects), [o.note for o in res.objects]


def test_client_credentials_go_to_my_domain_and_check_says_so(sandbox: Any, sandbox_env: dict[str, str],
                                                              warehouse_path: Path) -> None:
    env = {k: v for k, v in sandbox_env.items() if k not in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD",
                                                               "SALESFORCE_SECURITY_TOKEN")}
    env["SALESFORCE_LOGIN_URL"] = sandbox.salesforce_generic_login_url   # login.salesforce.com
    with Warehouse(warehouse_path) as wh:
        res = make_source(env, wh).sync(objects=["User"])
        assert res.objects[0].records > 0
        findings = make_source(env, wh).check()
        assert any(f.ok and "client credentials" in f.what and "My Domain" in f.what for f in findings)
        # without the My Domain known, check names the host problem and its fix (no request)
        no_domain = {**env, "SALESFORCE_LOGIN_URL": "https://login.salesforce.com"}
        no_domain.pop("SALESFORCE_INSTANCE_URL")
        bad = make_source(no_domain, wh).check()
    assert len(bad) == 1 and not bad[0].ok and "My Domain" in bad[0].what + bad[0].fix
    assert "my.salesforce.com" in bad[0].fix


def test_jwt_bearer_flow(sandbox: Any, sandbox_env: dict[str, str], warehouse_path: Path,
                         tmp_path: Path) -> None:
    env = {k: v for k, v in sandbox_env.items() if k not in ("SALESFORCE_PASSWORD",
                                                               "SALESFORCE_SECURITY_TOKEN",
                                                               "SALESFORCE_CLIENT_SECRET")}
    env["SALESFORCE_JWT_KEY_FILE"] = str(sandbox.jwt_key_path)
    with Warehouse(warehouse_path) as wh:
        assert make_source(env, wh).sync(objects=["User"]).objects[0].records > 0
        findings = make_source(env, wh).check()
        assert any(f.ok and "JWT bearer" in f.what for f in findings), findings
        # a key that is not the certificate's: refused, with the fix named
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        other = tmp_path / "other.pem"
        other.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        bad = make_source({**env, "SALESFORCE_JWT_KEY_FILE": str(other)}, wh).check()
    assert not bad[0].ok and "invalid assertion" in bad[0].what and "SALESFORCE_JWT_KEY_FILE" in bad[0].what


def test_check_finds_a_user_without_view_all_data(fresh_sandbox: Any, sandbox_env: dict[str, str],
                                                  warehouse_path: Path) -> None:
    with Warehouse(warehouse_path) as wh:
        ok = make_source(sandbox_env, wh).check()
        assert any(f.ok and "sees every record" in f.what for f in ok)
        sb = fresh_sandbox(faults="salesforce:partial-visibility")
        findings = make_source(sb.env(), wh).check()
    bad = [f for f in findings if not f.ok]
    assert len(bad) == 1 and "does not see every record" in bad[0].what
    assert "View All Data" in bad[0].fix


def test_settings_are_never_in_errors(sandbox_env: dict[str, str], warehouse_path: Path) -> None:
    env = {**sandbox_env, "SALESFORCE_CLIENT_SECRET": "wrong-secret-value"}
    for k in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"):
        env.pop(k)
    with Warehouse(warehouse_path) as wh:
        findings = make_source(env, wh).check()
    text = " ".join(f.what + f.fix for f in findings)
    assert "wrong-secret-value" not in text and not findings[0].ok
