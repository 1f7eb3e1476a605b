"""HubSpot behaviours a "changed since" read cannot see, against the sandbox's HubSpot fake:
associations added without touching the deal (the weekly sweep), records deleted for good
(id-only reconciliation), property lists too long for one URL (414), and the way out through
a proxy with a corporate CA."""

from __future__ import annotations

import math
import select
import socket
import sys
import threading
from pathlib import Path

import duckdb
import pytest

import connectors.hubspot as hubspot_module
from connectors.hubspot_http import property_chunks
from connectors.sandbox import tls
from connectors.sandbox.fakes.base import FakeServer
from connectors.sandbox.fakes.hubspot import MAX_URL_LENGTH, HubSpotApp
from connectors.source import InvalidSetting, SourceStopped

sys.path.insert(0, str(Path(__file__).parent))
from test_hubspot import (  # noqa: E402
    assert_equal_to_store,
    edit_store,
    run_reconcile,
    run_sync,
    store_rows,
)

ASSOC_PATH = "/crm/v4/associations/deals/contacts/batch/read"


def live_ids(store_path: Path, t: str) -> list[int]:
    return [i for (i,) in store_rows(store_path, "SELECT id FROM hubspot_object WHERE object_type = ? "
                                     "AND archived = 0 ORDER BY id", (t,))]


def raw_associations(db: Path, deal: str) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return {c for (c,) in conn.execute("SELECT contact_id FROM hubspot.deal_contact_associations "
                                           "WHERE deal_id = ?", [deal]).fetchall()}


# -- 2. associations that move no modified date ---------------------------------------------
def test_silent_associations_are_found_by_the_weekly_sweep(fresh_sandbox, hubspot_state, tmp_path):
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db, objects=["deals"])          # a full listing: counts as a sweep
    sb.hubspot.reset_log()
    run_sync(sb.env(), db, objects=["deals"])
    assert sb.hubspot.requests("POST", ASSOC_PATH) == [], "no sweep due a moment after a full listing"

    old_clock = store_rows(sb.store_path, "SELECT max(updated_at_ms) FROM hubspot_object")[0][0]
    sb.advance(7)
    # a contact associated with a deal that did not change; neither record's date moves
    deal = next(d for (d,) in store_rows(
        sb.store_path, "SELECT id FROM hubspot_object WHERE object_type = 'deals' AND archived = 0 "
        "AND updated_at_ms <= ? ORDER BY id", (old_clock,)))
    contact = next(c for c in live_ids(sb.store_path, "contacts") if str(c) not in raw_associations(db, str(deal)))
    edit_store(sb.store_path, "INSERT INTO hubspot_association (from_type, from_id, to_type, to_id, type_id) "
               "VALUES ('deals', ?, 'contacts', ?, 3), ('contacts', ?, 'deals', ?, 4)",
               (deal, contact, contact, deal))
    sb.hubspot.reset_log()
    result, _ = run_sync(sb.env(), db, objects=["deals"])
    assert str(contact) in raw_associations(db, str(deal)), "the silent association was missed"
    assert_equal_to_store(sb.store_path, db, hubspot_state, ("associations",))
    (assoc,) = [o for o in result.objects if o.object == "deal_contact_associations"]
    assert "swept" in assoc.note
    deals = len(live_ids(sb.store_path, "deals"))
    # the sweep: one batch read per 1,000 deals (the test world has fewer)
    assert len(sb.hubspot.requests("POST", ASSOC_PATH)) <= 1 + math.ceil(deals / 1000)


def test_association_sweep_setting(fresh_sandbox, tmp_path):
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    with pytest.raises(InvalidSetting, match="HUBSPOT_ASSOCIATION_SWEEP_DAYS=weekly"):
        run_sync({**sb.env(), "HUBSPOT_ASSOCIATION_SWEEP_DAYS": "weekly"}, db, objects=["deals"])
    run_sync(sb.env(), db, objects=["deals"])
    sb.hubspot.reset_log()
    run_sync({**sb.env(), "HUBSPOT_ASSOCIATION_SWEEP_DAYS": "0"}, db, objects=["deals"])
    assert sb.hubspot.requests("POST", ASSOC_PATH), "0 days: every run sweeps"


# -- 3. records deleted for good -------------------------------------------------------------
def test_reconcile_marks_records_deleted_for_good(fresh_sandbox, tmp_path):
    """GDPR deletes and purges are in neither list; an id-only listing finds them (no
    properties requested: the cheapest answer), one request per 100 records."""
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db, objects=["contacts", "companies", "deals"])
    gone = {"contacts": live_ids(sb.store_path, "contacts")[-2:], "deals": live_ids(sb.store_path, "deals")[:1]}
    for t, ids in gone.items():
        for i in ids:
            edit_store(sb.store_path, "DELETE FROM hubspot_object WHERE object_type = ? AND id = ?", (t, i))
    assert raw_associations(db, str(gone["deals"][0]))
    run_sync(sb.env(), db, objects=["contacts", "companies", "deals"])     # incremental: blind to it
    sb.hubspot.reset_log()
    result, _ = run_reconcile(sb.env(), db)
    deleted = {o.object: o.deleted for o in result.objects}
    # the id-only listing, then the weekly association sweep (nothing deleted there)
    assert deleted == {"contacts": 2, "companies": 0, "deals": 1, "deal_contact_associations": 0}
    with duckdb.connect(str(db), read_only=True) as conn:
        for t, ids in gone.items():
            assert conn.execute(f"SELECT bool_and(_is_deleted) FROM hubspot.{t} WHERE id IN "
                                "(SELECT unnest(?::VARCHAR[]))", [[str(i) for i in ids]]).fetchone()[0]
        assert conn.execute("SELECT count(*) FROM hubspot.contacts WHERE NOT _is_deleted").fetchone()[0] \
            == len(live_ids(sb.store_path, "contacts"))
    assert not raw_associations(db, str(gone["deals"][0]))
    requests = sb.hubspot.requests()
    listing = [r for r in requests if r.method == "GET"]
    assert all("properties=hs_object_id" in r.raw_path for r in listing)
    assert len(listing) == sum(math.ceil(max(1, len(live_ids(sb.store_path, t))) / 100)
                               for t in ("contacts", "companies", "deals"))
    sweep = [r for r in requests if r.method != "GET"]     # v4 batch reads, 1,000 deals each
    assert all("associations" in r.raw_path for r in sweep)
    assert len(sweep) == math.ceil(len(live_ids(sb.store_path, "deals")) / 1000)


def test_reconcile_refuses_to_delete_most_of_what_we_hold(fresh_sandbox, tmp_path):
    """An empty listing (a token for another portal) must not mark everything deleted."""
    sb = fresh_sandbox()
    db = tmp_path / "wh.duckdb"
    run_sync(sb.env(), db, objects=["contacts"])
    deleted = "SELECT count(*) FROM hubspot.contacts WHERE _is_deleted"
    with duckdb.connect(str(db), read_only=True) as conn:
        before = conn.execute(deleted).fetchone()[0]
    edit_store(sb.store_path, "DELETE FROM hubspot_object WHERE object_type = 'contacts'")
    with pytest.raises(SourceStopped, match="not marking them deleted"):
        run_reconcile(sb.env(), db)
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute(deleted).fetchone()[0] == before


# -- 4. 414 URI Too Long ---------------------------------------------------------------------
def test_many_properties_are_chunked_and_merged_by_id(fresh_sandbox, hubspot_state, tmp_path, monkeypatch):
    """A portal with hundreds of properties: one URL cannot carry them all (414), so each
    page is read in property chunks and the records merged by id."""
    extras = [f"custom_property_{i:04d}_of_a_big_portal" for i in range(300)]
    sb = fresh_sandbox()
    env = {**sb.env(), "HUBSPOT_EXTRA_PROPERTIES_CONTACTS": ",".join(extras)}
    db = tmp_path / "wh.duckdb"
    run_sync(env, db, objects=["contacts"])
    lists = sb.hubspot.requests("GET", "/crm/v3/objects/contacts")
    assert all(r.status == 200 and len(r.raw_path) <= MAX_URL_LENGTH for r in lists)
    pages = math.ceil(len(live_ids(sb.store_path, "contacts")) / 100)
    assert len(lists) > pages, "the properties went out in more than one request per page"
    assert_equal_to_store(sb.store_path, db, hubspot_state, ("contacts",))

    # small chunks split the connector's own properties too: every value still lands
    monkeypatch.setattr(hubspot_module, "property_chunks", lambda names: property_chunks(names, 120))
    db2 = tmp_path / "wh2.duckdb"
    run_sync(sb.env(), db2, objects=["contacts"])
    columns = ("email", "lifecyclestage", "ga_client_id", "hs_v2_date_entered_customer", "salesforceleadid")
    with duckdb.connect(str(db), read_only=True) as a, duckdb.connect(str(db2), read_only=True) as b:
        query = f"SELECT id, {', '.join(columns)} FROM hubspot.contacts ORDER BY id"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()


# -- 5. proxies and corporate CAs ------------------------------------------------------------
class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that records the tunnels it opened."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.tunnels: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(target)
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pair = {client: upstream, upstream: client}
                while True:
                    ready, _, _ = select.select(list(pair), [], [], 5)
                    if not ready:
                        return
                    for s in ready:
                        try:
                            data = s.recv(65536)
                            if not data:
                                return
                            pair[s].sendall(data)
                        except OSError:     # a side hung up mid-handshake (a rejected certificate)
                            return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def https_hubspot(fresh_sandbox, tmp_path):
    """The sandbox's HubSpot fake served over HTTPS with a certificate of its own CA (as a
    TLS-inspecting corporate proxy re-signs HubSpot's)."""
    sb = fresh_sandbox()
    cert, key = tls.make_certificate(tmp_path / "tls")
    server = FakeServer(HubSpotApp(sb.store_path, access_token=sb.env()["HUBSPOT_ACCESS_TOKEN"]),
                        ssl_context=tls.server_context(cert, key)).start()
    proxy = ConnectProxy()
    try:
        yield sb, server, cert, proxy
    finally:
        proxy.close()
        server.stop()


def test_https_proxy_and_ca_bundle_are_honoured(https_hubspot, tmp_path):
    sb, server, cert, proxy = https_hubspot
    env = {**sb.env(), "HUBSPOT_BASE_URL": server.url, "HTTPS_PROXY": proxy.url}
    # without the CA the certificate is rejected (the variables are not ignored: they are needed)
    with pytest.raises(SourceStopped, match="TLS certificate not trusted.*HUBSPOT_CA_BUNDLE"):
        run_sync(env, tmp_path / "a.duckdb", objects=["companies"])
    result, _ = run_sync({**env, "REQUESTS_CA_BUNDLE": str(cert)}, tmp_path / "b.duckdb", objects=["companies"])
    assert result.records > 0
    assert proxy.tunnels and set(proxy.tunnels) == {server.url.removeprefix("https://")}, "through the proxy"
    count = len(proxy.tunnels)
    run_sync({**env, "SSL_CERT_FILE": str(cert), "NO_PROXY": "localhost,127.0.0.1"},
             tmp_path / "c.duckdb", objects=["companies"])
    assert len(proxy.tunnels) == count, "NO_PROXY bypasses the proxy"
    assert server.requests(), "and still reaches HubSpot"


def test_a_missing_ca_bundle_is_one_clear_error(sandbox_env, tmp_path):
    with pytest.raises(InvalidSetting, match="HUBSPOT_CA_BUNDLE=.*no such file"):
        run_sync({**sandbox_env, "HUBSPOT_CA_BUNDLE": str(tmp_path / "corp-ca.pem")},
                 tmp_path / "wh.duckdb", objects=["owners"])


# -- advocacy check ----------------------------------------------------------------------------
def check(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    from connectors.hubspot import HubSpotSource
    from connectors.source import Settings
    from connectors.warehouse import Warehouse

    with Warehouse(tmp_path / "check.duckdb") as wh:
        return {f.what: f for f in HubSpotSource(Settings(env), wh).check()}


def test_check_names_the_fix_for_settings_that_lose_data(sandbox_env, tmp_path):
    findings = check({**sandbox_env, "HUBSPOT_SEARCH_LOOKBACK_MINUTES": "10",
                      "HUBSPOT_ASSOCIATION_SWEEP_DAYS": "-1"}, tmp_path)
    (lookback,) = [f for w, f in findings.items() if w.startswith("HUBSPOT_SEARCH_LOOKBACK_MINUTES=10")]
    assert not lookback.ok and "70" in lookback.fix
    (sweep,) = [f for w, f in findings.items() if w.startswith("HUBSPOT_ASSOCIATION_SWEEP_DAYS=-1")]
    assert not sweep.ok and sweep.fix
    assert any(f.ok and w.startswith("token accepted") for w, f in findings.items())

    missing = check({**sandbox_env, "SSL_CERT_FILE": str(tmp_path / "corp.pem")}, tmp_path)
    assert [(f.ok, "PEM" in f.fix) for f in missing.values()] == [(False, True)]


def test_check_says_to_set_the_ca_bundle_behind_a_tls_inspecting_proxy(https_hubspot, tmp_path):
    sb, server, cert, proxy = https_hubspot
    env = {**sb.env(), "HUBSPOT_BASE_URL": server.url, "HTTPS_PROXY": proxy.url}
    findings = check(env, tmp_path)
    (reach,) = [f for w, f in findings.items() if w.startswith("cannot reach HubSpot")]
    assert "HUBSPOT_CA_BUNDLE" in reach.fix
    ok = check({**env, "HUBSPOT_CA_BUNDLE": str(cert)}, tmp_path)
    assert all(f.ok for f in ok.values()), [f.line() for f in ok.values()]
    assert any(w.startswith("through the proxy http://127.0.0.1:") for w in ok)
