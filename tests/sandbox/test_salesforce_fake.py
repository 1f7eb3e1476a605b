"""The Salesforce fake, driven by the real simple_salesforce client over HTTPS (no mocks)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors.sandbox import store, tls
from connectors.sandbox.config import sandbox_credentials
from connectors.sandbox.fakes import soql
from connectors.sandbox.fakes.base import FakeServer, FaultPlan
from connectors.sandbox.fakes.salesforce import SalesforceApp

SEED = 5
CLOCK = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
N_LEADS = 4_500
DELETED = set(range(100, 130))          # in the recycle bin
PURGED = set(range(200, 220))           # past it
SOURCES = ("Web", "Partner", "Advocacy", "Phone Inquiry")
USERS = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"),
         ("Alan Turing", "alan@example.com")]


# ---------------------------------------------------------------------------------------------
# A small world, written straight into the store
# ---------------------------------------------------------------------------------------------
def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def rest_dt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def z_dt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def lead_modstamp(i: int) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=37 * i)


def lead_fields(i: int) -> dict[str, object]:
    created = lead_modstamp(i) - dt.timedelta(days=1)
    return {
        "Id": sf_id("00Q", i), "IsDeleted": False,
        "CreatedDate": rest_dt(created), "LastModifiedDate": rest_dt(lead_modstamp(i)),
        "SystemModstamp": rest_dt(lead_modstamp(i)),
        "FirstName": f"First{i}", "LastName": f"O'Last{i}",
        "Email": None if i % 10 == 0 else f"lead{i}@example.com",
        "Company": "Acme", "Status": "Open - Not Contacted",
        "LeadSource": SOURCES[i % len(SOURCES)], "OwnerId": sf_id("005", i % len(USERS)),
        "IsConverted": i % 7 == 0, "ConvertedDate": "2026-03-01" if i % 7 == 0 else None,
        "ConvertedAccountId": None, "ConvertedContactId": None, "ConvertedOpportunityId": None,
        "MasterRecordId": None, "GA_Client_ID__c": f"{i}.123", "UTM_Source__c": "linkedin",
        "UTM_Medium__c": "advocacy", "UTM_Campaign__c": None, "UTM_Content__c": None,
        "UTM_Term__c": None, "CurrencyIsoCode": "USD",
    }


def insert(conn, sobject: str, fields: dict, *, deleted: dt.datetime | None = None, purged: bool = False) -> None:
    def col(name: str) -> str | None:
        v = fields.get(name)
        return z_dt(soql.parse_datetime(v)) if v else None

    conn.execute(
        "INSERT INTO sf_record (sobject, id, system_modstamp, created_date, is_deleted, purged, "
        "deleted_date, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sobject, fields["Id"], col("SystemModstamp"), col("CreatedDate"),
         int(deleted is not None and not purged), int(purged),
         z_dt(deleted) if deleted else None, json.dumps(fields)),
    )


def deleted_at(i: int) -> dt.datetime:
    # recycle-bin rows: deleted in the last 10 days; purged rows: half inside the 15-day window
    if i in DELETED:
        return CLOCK - dt.timedelta(days=10) + dt.timedelta(hours=i - 100)
    return CLOCK - dt.timedelta(days=20 if i % 2 else 3) + dt.timedelta(minutes=i)


def build_store(path: Path) -> Path:
    conn = store.connect(path)
    with store.transaction(conn):
        store.set_meta(conn, "seed", SEED)
        store.set_meta(conn, "clock", CLOCK.date().isoformat())
        store.set_meta(conn, "multi_currency", False)
        for n, (name, email) in enumerate(USERS):
            insert(conn, "User", {
                "Id": sf_id("005", n), "Name": name, "Email": email, "IsActive": True,
                "Username": email, "SystemModstamp": "2025-01-01T00:00:00.000+0000",
                "CreatedDate": "2025-01-01T00:00:00.000+0000",
            })
        for n in range(3):
            insert(conn, "Account", {
                "Id": sf_id("001", n), "Name": f"Account {n}", "OwnerId": sf_id("005", n),
                "IsDeleted": False, "SystemModstamp": "2025-02-01T00:00:00.000+0000",
                "CreatedDate": "2025-02-01T00:00:00.000+0000", "CurrencyIsoCode": "EUR",
            })
        for n in range(4):
            insert(conn, "Contact", {
                "Id": sf_id("003", n), "LastName": f"C{n}", "IsDeleted": False,
                "AccountId": sf_id("001", n) if n < 3 else None, "OwnerId": sf_id("005", 0),
                "SystemModstamp": "2025-03-01T00:00:00.000+0000",
                "CreatedDate": "2025-03-01T00:00:00.000+0000",
            })
        for i in range(N_LEADS):
            fields = lead_fields(i)
            if i in DELETED:
                fields["IsDeleted"] = True
                insert(conn, "Lead", fields, deleted=deleted_at(i))
            elif i in PURGED:
                insert(conn, "Lead", fields, deleted=deleted_at(i), purged=True)
            else:
                insert(conn, "Lead", fields)
        insert(conn, "ForecastingQuota", {
            "Id": sf_id("0J9", 1), "QuotaOwnerId": sf_id("005", 0), "QuotaAmount": 100000.0,
            "StartDate": "2026-01-01", "IsAmount": True, "CurrencyIsoCode": "USD",
            "SystemModstamp": "2025-12-01T00:00:00.000+0000",
            "CreatedDate": "2025-12-01T00:00:00.000+0000",
        })
    conn.close()
    return path


LIVE = [i for i in range(N_LEADS) if i not in DELETED and i not in PURGED]


# ---------------------------------------------------------------------------------------------
# Fixtures: one HTTPS server for the read-only tests, fresh ones for faults
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tls.make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("sf") / "world.sqlite")


@contextmanager
def serve(path: Path, certs: tuple[Path, Path], faults: str | None = None, **kwargs) -> Iterator[FakeServer]:
    app = SalesforceApp(path, **kwargs)
    server = FakeServer(app, faults=FaultPlan.parse(faults), ssl_context=tls.server_context(*certs))
    with server:
        yield server


@pytest.fixture(scope="module")
def server(store_path: Path, certs: tuple[Path, Path]) -> Iterator[FakeServer]:
    # Bulk jobs: ready at once, but the first status GET still answers InProgress
    with serve(store_path, certs, bulk_in_progress_polls=1, bulk_seconds=0.0) as s:
        yield s


def get_token(server: FakeServer, cert: Path, grant: str = "password", seed: int = SEED,
              **override: str) -> requests.Response:
    creds = sandbox_credentials(seed)
    data = {"grant_type": grant, "client_id": creds["salesforce_client_id"],
            "client_secret": creds["salesforce_client_secret"]}
    if grant == "password":
        data["username"] = creds["salesforce_username"]
        data["password"] = creds["salesforce_password"] + creds["salesforce_security_token"]
    data.update(override)
    session = requests.Session()
    session.trust_env = False
    return session.post(f"{server.url}/services/oauth2/token", data=data, verify=str(cert), timeout=10)


def client(server: FakeServer, cert: Path, token: str | None = None, seed: int = SEED) -> Salesforce:
    if token is None:
        resp = get_token(server, cert, seed=seed)
        assert resp.status_code == 200, resp.text
        token = resp.json()["access_token"]
    session = requests.Session()
    session.verify = str(cert)
    session.trust_env = False
    return Salesforce(instance_url=server.url, session_id=token, session=session)


@pytest.fixture(scope="module")
def sf(server: FakeServer, certs: tuple[Path, Path]) -> Salesforce:
    return client(server, certs[0])


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.content[0]["errorCode"]


# ---------------------------------------------------------------------------------------------
# OAuth
# ---------------------------------------------------------------------------------------------
def test_password_and_client_credentials_grants(server: FakeServer, certs) -> None:
    cert = certs[0]
    ok = get_token(server, cert)
    assert ok.status_code == 200
    body = ok.json()
    assert body["instance_url"] == server.url and body["token_type"] == "Bearer"
    assert {"access_token", "id", "issued_at", "signature"} <= body.keys()
    cc = get_token(server, cert, grant="client_credentials")
    assert cc.status_code == 200 and cc.json()["access_token"] != body["access_token"]
    # both tokens work with the real client
    for token in (body["access_token"], cc.json()["access_token"]):
        assert client(server, cert, token).query("SELECT COUNT() FROM Lead")["totalSize"] == len(LIVE)

    bad = get_token(server, cert, password=sandbox_credentials(SEED)["salesforce_password"])
    assert bad.status_code == 400 and bad.json() == {
        "error": "invalid_grant", "error_description": "authentication failure"}
    bad_secret = get_token(server, cert, grant="client_credentials", client_secret="nope")
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"
    assert get_token(server, cert, grant="refresh_token").json()["error"] == "unsupported_grant_type"


def test_unknown_session_is_expired_session(server: FakeServer, certs) -> None:
    sf_bad = client(server, certs[0], token="00Dnot-a-token")
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf_bad.query("SELECT Id FROM Lead LIMIT 1")
    assert exc.value.status == 401
    assert exc.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


# ---------------------------------------------------------------------------------------------
# REST query
# ---------------------------------------------------------------------------------------------
def test_query_all_pages_past_2000(server: FakeServer, sf: Salesforce) -> None:
    first = sf.query("SELECT Id, Email FROM Lead")
    assert first["totalSize"] == len(LIVE) and first["done"] is False
    assert len(first["records"]) == 2000
    assert re.fullmatch(r"/services/data/v59\.0/query/01g[A-Za-z0-9]{15}-2000", first["nextRecordsUrl"])
    rec = first["records"][0]
    assert rec["attributes"] == {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{sf_id('00Q', 0)}"}
    assert list(rec) == ["attributes", "Id", "Email"]

    server.reset_log()
    result = sf.query_all("SELECT Id, Email FROM Lead")
    assert result["totalSize"] == len(LIVE)
    assert [r["Id"] for r in result["records"]] == [sf_id("00Q", i) for i in LIVE]
    paths = [r.raw_path for r in server.requests("GET")]
    assert paths[0].startswith("/services/data/v59.0/query/?q=SELECT")
    assert [p.rsplit("-", 1)[1] for p in paths[1:]] == ["2000", "4000"]
    assert sf.api_usage["api-usage"].total == 15000 and sf.api_usage["api-usage"].used > 0


def test_batch_size_header_is_honoured_within_limits(sf: Salesforce) -> None:
    page = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(page["records"]) == 500 and page["nextRecordsUrl"].endswith("-500")
    tiny = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(tiny["records"]) == 200
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more("/services/data/v59.0/query/01gNOTALOCATOR00-2000", identifier_is_url=True)
    assert error_code(exc) == "INVALID_QUERY_LOCATOR"


def test_query_all_includes_recycle_bin_but_never_purged(sf: Salesforce) -> None:
    rows = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)["records"]
    assert len(rows) == N_LEADS - len(PURGED)
    deleted = {r["Id"] for r in rows if r["IsDeleted"]}
    assert deleted == {sf_id("00Q", i) for i in DELETED}
    assert not {sf_id("00Q", i) for i in PURGED} & {r["Id"] for r in rows}
    only_deleted = sf.query_all("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert only_deleted["totalSize"] == len(DELETED)
    assert sf.query("SELECT COUNT() FROM Lead WHERE IsDeleted = true")["totalSize"] == 0


def test_where_systemmodstamp_range_with_order_by(sf: Salesforce) -> None:
    lo, hi = lead_modstamp(1000), lead_modstamp(1600)
    soql_text = (
        f"SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp >= {lo.strftime('%Y-%m-%dT%H:%M:%SZ')} "
        f"AND SystemModstamp < {hi.isoformat(timespec='milliseconds')} "
        "ORDER BY SystemModstamp DESC, Id ASC"
    )
    rows = sf.query_all(soql_text)["records"]
    assert [r["Id"] for r in rows] == [sf_id("00Q", i) for i in reversed(range(1000, 1600))]
    assert rows[0]["SystemModstamp"] == rest_dt(lead_modstamp(1599))
    # +01:00 offsets compare as instants; `>` is strict
    local = (lo + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    later = sf.query(f"SELECT COUNT() FROM Lead WHERE SystemModstamp > {local}")
    assert later["totalSize"] == len([i for i in LIVE if i > 1000])


def test_in_or_null_and_relationship_fields(sf: Salesforce) -> None:
    rows = sf.query_all(
        "SELECT Id, Email, LeadSource, Owner.Name, Owner.Email FROM Lead "
        "WHERE (LeadSource IN ('Partner', 'advocacy') OR Email = null) AND IsConverted = false "
        "ORDER BY Id LIMIT 3000"
    )["records"]
    expected = [i for i in LIVE
                if (SOURCES[i % 4] in ("Partner", "Advocacy") or i % 10 == 0) and i % 7 != 0]
    assert [r["Id"] for r in rows] == [sf_id("00Q", i) for i in expected]
    first = rows[0]
    owner_n = expected[0] % len(USERS)
    assert first["Owner"] == {
        "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{sf_id('005', owner_n)}"},
        "Name": USERS[owner_n][0], "Email": USERS[owner_n][1],
    }
    not_in = sf.query("SELECT COUNT() FROM Lead WHERE LeadSource NOT IN ('Web') AND Email != null")
    assert not_in["totalSize"] == len([i for i in LIVE if i % 4 != 0 and i % 10 != 0])
    like = sf.query("SELECT Id, LastName FROM Lead WHERE LastName LIKE 'o\\'last12%' ORDER BY LastName DESC")
    assert {r["LastName"] for r in like["records"]} == {f"O'Last{i}" for i in LIVE if str(i).startswith("12")}
    # a null reference gives a null relationship object
    contacts = sf.query("SELECT Id, Account.Name, Account.Owner.Name FROM Contact ORDER BY Id")["records"]
    assert contacts[0]["Account"]["Name"] == "Account 0"
    assert contacts[1]["Account"]["Owner"]["Name"] == USERS[1][0]
    assert contacts[3]["Account"] is None


def test_count(sf: Salesforce) -> None:
    res = sf.query("SELECT COUNT() FROM Lead WHERE LeadSource = 'Web'")
    assert res == {"totalSize": len([i for i in LIVE if i % 4 == 0]), "done": True, "records": []}


def test_errors_invalid_field_type_and_malformed(store_path: Path, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id, CurrencyIsoCode FROM Lead")
    assert error_code(exc) == "INVALID_FIELD"
    assert "No such column 'CurrencyIsoCode' on entity 'Lead'" in exc.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM CurrencyType")
    assert error_code(exc) == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Lead WHERE")
    assert error_code(exc) == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'")
    assert error_code(exc) == "INVALID_QUERY_FILTER_OPERATOR"
    with pytest.raises(SalesforceResourceNotFound):
        sf.CurrencyType.describe()
    assert catalog_field_names(sf.Lead.describe()).isdisjoint({"CurrencyIsoCode"})

    # the org becomes multi-currency while serving: the fake re-reads meta per request
    conn = store.connect(store_path)
    try:
        store.set_meta(conn, "multi_currency", True)
        rows = sf.query("SELECT Id, CurrencyIsoCode FROM Lead LIMIT 1")["records"]
        assert rows[0]["CurrencyIsoCode"] == "USD"
        assert "CurrencyIsoCode" in catalog_field_names(sf.Lead.describe())
    finally:
        store.set_meta(conn, "multi_currency", False)
        conn.close()


def catalog_field_names(describe: dict) -> set[str]:
    return {f["name"] for f in describe["fields"]}


def test_describe(sf: Salesforce) -> None:
    lead = sf.Lead.describe()
    fields = {f["name"]: f for f in lead["fields"]}
    assert lead["name"] == "Lead" and lead["keyPrefix"] == "00Q"
    assert fields["UTM_Source__c"]["custom"] is True and fields["Email"]["custom"] is False
    assert fields["SystemModstamp"]["type"] == "datetime" and fields["SystemModstamp"]["filterable"]
    assert fields["SystemModstamp"]["nillable"] is False and fields["Email"]["nillable"] is True
    assert fields["OwnerId"]["referenceTo"] == ["User"] and fields["OwnerId"]["relationshipName"] == "Owner"
    assert "Closed - Converted" in [p["value"] for p in fields["Status"]["picklistValues"]]
    assert {f["name"]: f["filterable"] for f in sf.LeadHistory.describe()["fields"]}["OldValue"] is False
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Lead", "Opportunity", "ForecastingQuota"} <= names and "CurrencyType" not in names
    record = sf.Lead.get(sf_id("00Q", 1))
    assert record["Email"] == "lead1@example.com" and "CurrencyIsoCode" not in record


def test_deleted_endpoint(server: FakeServer, sf: Salesforce) -> None:
    start, end = CLOCK - dt.timedelta(days=14), CLOCK - dt.timedelta(minutes=1)
    server.app.deleted_id_limit = 600_000   # the real limit (the sandbox's is small)
    try:
        res = sf.Lead.deleted(start, end)
    finally:
        server.app.deleted_id_limit = None
    got = {r["id"]: r["deletedDate"] for r in res["deletedRecords"]}
    expected = {i for i in DELETED | PURGED if start <= deleted_at(i) < end}
    assert set(got) == {sf_id("00Q", i) for i in expected}
    assert any(i in PURGED for i in expected) and any(i in DELETED for i in expected)
    assert got[sf_id("00Q", 100)] == rest_dt(deleted_at(100))
    assert res["earliestDateAvailable"] == rest_dt(CLOCK - dt.timedelta(days=15))
    assert res["latestDateCovered"] == rest_dt(end)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.deleted(CLOCK - dt.timedelta(days=40), end)
    assert error_code(exc) == "INVALID_REPLICATION_DATE"


# ---------------------------------------------------------------------------------------------
# Composite Batch and record counts
# ---------------------------------------------------------------------------------------------
def test_composite_batch_describes_and_record_counts(server: FakeServer, sf: Salesforce) -> None:
    server.reset_log()
    def used() -> int:
        daily = sf.limits()["DailyApiRequests"]
        return int(daily["Max"]) - int(daily["Remaining"])

    usage_before = used()
    body = sf.restful("composite/batch", method="POST", json={"batchRequests": [
        {"method": "GET", "url": "v59.0/sobjects/Lead/describe"},
        {"method": "GET", "url": "v59.0/sobjects/CurrencyType/describe"},   # single-currency world
        {"method": "GET", "url": "v59.0/limits/recordCount?sObjects=Lead,LeadHistory,CurrencyType,User"},
        {"method": "GET", "url": "v59.0/query/?q=SELECT+Id+FROM+Lead+LIMIT+3"},
    ]})
    assert body["hasErrors"] is True
    lead, currency, counts, query = body["results"]
    assert lead["statusCode"] == 200 and lead["result"] == sf.Lead.describe()
    assert currency["statusCode"] == 404 and currency["result"][0]["errorCode"] == "NOT_FOUND"
    # history objects and objects the org lacks are left out; the recycle bin is not counted
    assert counts["statusCode"] == 200
    assert counts["result"] == {"sObjects": [{"count": len(LIVE), "name": "Lead"},
                                             {"count": len(USERS), "name": "User"}]}
    assert query["statusCode"] == 200 and len(query["result"]["records"]) == 3
    # one request on the wire; every subrequest counts against the API limit
    batch_log = [e for e in server.requests() if "/composite/" in e.path]
    assert len(batch_log) == 1
    # four subrequests, the describe compared above, and the limits call itself
    assert used() - usage_before == 4 + 1 + 1

    halted = sf.restful("composite/batch", method="POST", json={"haltOnError": True, "batchRequests": [
        {"method": "GET", "url": "v59.0/sobjects/Nope/describe"},
        {"method": "GET", "url": "v59.0/sobjects/Lead/describe"}]})
    assert [r["statusCode"] for r in halted["results"]] == [404, 412]
    assert halted["results"][1]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/batch", method="POST", json={"batchRequests": [
            {"method": "GET", "url": "v59.0/sobjects/Lead/describe"}] * 26})
    unsupported = sf.restful("composite/batch", method="POST", json={"batchRequests": [
        {"method": "GET", "url": "v59.0/jobs/query"},
        {"method": "GET", "url": "v60.5/sobjects/Lead/describe"}]})
    assert [r["statusCode"] for r in unsupported["results"]] == [400, 400]


def test_composite_batch_faults_hit_the_outer_request_only(store_path: Path, certs) -> None:
    with serve(store_path, certs, "salesforce:503@1x1") as srv:
        sf1 = client(srv, certs[0])
        batch = {"batchRequests": [{"method": "GET", "url": f"v59.0/sobjects/{o}/describe"}
                                   for o in ("Lead", "User", "Opportunity")]}
        with pytest.raises(SalesforceGeneralError) as exc:   # the token request is exempt
            sf1.restful("composite/batch", method="POST", json=batch)
        assert exc.value.status == 503
        again = sf1.restful("composite/batch", method="POST", json=batch)
        assert [r["statusCode"] for r in again["results"]] == [200, 200, 200]
        assert len(srv.requests(faulted=True)) == 1


# ---------------------------------------------------------------------------------------------
# Bulk API 2.0
# ---------------------------------------------------------------------------------------------
def test_bulk2_job_completes_by_the_clock(store_path: Path, certs) -> None:
    with serve(store_path, certs, bulk_seconds=0.3) as srv:
        sf1 = client(srv, certs[0])
        bulk = sf1.bulk2.Lead._client
        job = bulk.create_job("query", "SELECT Id FROM Lead")
        assert bulk.get_job(job["id"], True)["state"] == "InProgress"     # too early
        time.sleep(0.35)
        assert bulk.get_job(job["id"], True)["state"] == "JobComplete"   # one poll after the wait
        quick = bulk.create_job("query", "SELECT Id FROM Lead LIMIT 5")
        time.sleep(0.35)
        # results straight away once the job is done (no status GET needed)
        page = bulk.get_query_results(quick["id"], "", 100)
        assert page["number_of_records"] == 5 and page["locator"] == ""


def test_bulk2_query_pages(server: FakeServer, sf: Salesforce, tmp_path: Path) -> None:
    server.reset_log()
    soql_text = "SELECT Id, IsConverted, Email, SystemModstamp, Owner.Name FROM Lead"
    pages = list(sf.bulk2.Lead.query(soql_text, max_records=2000, wait=0.01))
    assert len(pages) == 3
    rows = []
    for page in pages:
        assert page.startswith('"Id","IsConverted","Email","SystemModstamp","Owner.Name"\n')
        rows.extend(csv.DictReader(io.StringIO(page)))
    assert [r["Id"] for r in rows] == [sf_id("00Q", i) for i in LIVE]
    assert rows[0] == {"Id": sf_id("00Q", 0), "IsConverted": "true", "Email": "",
                       "SystemModstamp": z_dt(lead_modstamp(0)), "Owner.Name": USERS[0][0]}
    polls = server.requests("GET", "/services/data/v59.0/jobs/query/")
    results = [r for r in polls if r.path.endswith("/results")]
    assert len(results) == 3 and "locator=" in results[1].raw_path
    assert len(polls) - len(results) == 2  # InProgress, then JobComplete

    all_rows = list(sf.bulk2.Lead.query_all("SELECT Id FROM Lead", wait=0.01))
    assert len(all_rows) == 1 and all_rows[0].count("\n") == N_LEADS - len(PURGED) + 1

    files = sf.bulk2.Lead.download("SELECT Id FROM Lead", str(tmp_path), max_records=3000, wait=0.01)
    assert [f["number_of_records"] for f in files] == [3000, len(LIVE) - 3000]
    assert files[-1]["locator"] == ""


def test_bulk2_wire_details(server: FakeServer, sf: Salesforce, certs) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(certs[0])
    session.headers["Authorization"] = f"Bearer {sf.session_id}"
    base = f"{server.url}/services/data/v59.0/jobs/query"
    job = session.post(base, json={"operation": "query", "query": "SELECT Id FROM Lead LIMIT 450",
                                   "columnDelimiter": "COMMA", "lineEnding": "LF"}).json()
    assert job["id"].startswith("750") and job["state"] == "UploadComplete" and job["object"] == "Lead"
    early = session.get(f"{base}/{job['id']}/results")
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    assert session.get(f"{base}/{job['id']}").json()["state"] == "InProgress"
    done = session.get(f"{base}/{job['id']}").json()
    assert done["state"] == "JobComplete" and done["numberRecordsProcessed"] == 450
    first = session.get(f"{base}/{job['id']}/results", params={"maxRecords": 400})
    assert first.headers["Content-Type"].startswith("text/csv")
    assert first.headers["Sforce-NumberOfRecords"] == "400" and first.headers["Sforce-Locator"] == "NDAw"
    last = session.get(f"{base}/{job['id']}/results",
                       params={"maxRecords": 400, "locator": first.headers["Sforce-Locator"]})
    assert last.headers["Sforce-NumberOfRecords"] == "50" and last.headers["Sforce-Locator"] == "null"
    assert last.text.startswith('"Id"\n')
    assert session.patch(f"{base}/{job['id']}", json={"state": "Aborted"}).json()["state"] == "JobComplete"
    assert session.delete(f"{base}/{job['id']}").status_code == 204
    assert session.get(f"{base}/{job['id']}").status_code == 404
    bad = session.post(base, json={"operation": "query", "query": "SELECT Nope FROM Lead"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------
def test_expire_fault_revokes_tokens(store_path: Path, certs) -> None:
    with serve(store_path, certs, "salesforce:expire@2x1") as srv:
        sf1 = client(srv, certs[0])
        assert sf1.query("SELECT COUNT() FROM Lead")["totalSize"] == len(LIVE)
        with pytest.raises(SalesforceExpiredSession) as exc:
            sf1.query("SELECT COUNT() FROM Lead")
        assert error_code(exc) == "INVALID_SESSION_ID"
        with pytest.raises(SalesforceExpiredSession):   # the token is gone, not just one 401
            sf1.query("SELECT COUNT() FROM Lead")
        assert srv.app.issued_tokens == set()
        sf2 = client(srv, certs[0])                      # re-authenticating works
        assert sf2.query("SELECT COUNT() FROM Lead")["totalSize"] == len(LIVE)


def test_request_limit_exceeded(store_path: Path, certs) -> None:
    with serve(store_path, certs, "salesforce:limit@3") as srv:
        sf1 = client(srv, certs[0])
        sf1.query("SELECT COUNT() FROM Lead")
        sf1.query("SELECT COUNT() FROM Lead")
        for _ in range(2):
            with pytest.raises(SalesforceRefusedRequest) as exc:
                sf1.query("SELECT COUNT() FROM Lead")
            assert exc.value.status == 403
            assert exc.value.content == [{"message": "TotalRequests Limit exceeded.",
                                          "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_429_with_retry_after_and_drop(store_path: Path, certs) -> None:
    with serve(store_path, certs, "salesforce:429=2@2x2,salesforce:drop@5x1") as srv:
        sf1 = client(srv, certs[0])
        url = f"{srv.url}/services/data/v59.0/query/"
        params = {"q": "SELECT Id FROM Lead LIMIT 5"}
        assert sf1.session.get(url, params=params, headers=sf1.headers).status_code == 200
        limited = sf1.session.get(url, params=params, headers=sf1.headers)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert "Sforce-Limit-Info" in limited.headers and isinstance(limited.json(), list)
        assert len(sf1.query("SELECT Id FROM Lead LIMIT 5")["records"]) == 5
        with pytest.raises(SalesforceGeneralError) as exc:   # simple_salesforce never retries
            sf1.query("SELECT Id FROM Lead LIMIT 5")
        assert exc.value.status == 429
        with pytest.raises(requests.exceptions.RequestException) as dropped:
            sf1.query("SELECT Id FROM Lead LIMIT 5")
        assert isinstance(dropped.value, (requests.exceptions.ChunkedEncodingError,
                                          requests.exceptions.ConnectionError))
        assert len(sf1.query("SELECT Id FROM Lead LIMIT 5")["records"]) == 5


def test_no_forecasting(store_path: Path, certs, sf: Salesforce) -> None:
    assert sf.query("SELECT Id, QuotaAmount, QuotaOwner.Name FROM ForecastingQuota")["totalSize"] == 1
    with serve(store_path, certs, "salesforce:no-forecasting") as srv:
        sf1 = client(srv, certs[0])
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf1.query("SELECT Id, QuotaAmount FROM ForecastingQuota")
        assert error_code(exc) == "INSUFFICIENT_ACCESS"
        assert sf1.query("SELECT COUNT() FROM Lead")["totalSize"] == len(LIVE)


def test_server_errors(store_path: Path, certs) -> None:
    with serve(store_path, certs, "salesforce:503@2x1,salesforce:502@3x1") as srv:
        sf1 = client(srv, certs[0])
        sf1.query("SELECT COUNT() FROM Lead")
        with pytest.raises(SalesforceGeneralError) as exc:
            sf1.query("SELECT COUNT() FROM Lead")
        assert exc.value.status == 503 and error_code(exc) == "SERVER_UNAVAILABLE"
        with pytest.raises(SalesforceGeneralError) as exc:
            sf1.query("SELECT COUNT() FROM Lead")
        assert exc.value.status == 502 and isinstance(exc.value.content, str)
        assert sf1.query("SELECT COUNT() FROM Lead")["totalSize"] == len(LIVE)


# ---------------------------------------------------------------------------------------------
# SOQL unit tests
# ---------------------------------------------------------------------------------------------
SCHEMA = soql.Schema({
    "Lead": {"Id": "id", "Email": "email", "OwnerId": "reference", "SystemModstamp": "datetime",
             "ConvertedDate": "date", "IsConverted": "boolean", "LeadSource": "picklist"},
    "Opportunity": {"Id": "id", "Amount": "currency", "CloseDate": "date", "OwnerId": "reference"},
    "User": {"Id": "id", "Name": "string"},
})


def run(text: str, records: list[dict], users: dict | None = None) -> list[str]:
    q = soql.parse(text, SCHEMA, today=dt.date(2026, 7, 1))
    users = users or {}

    def getter(rec: dict):
        def get(ref: soql.FieldRef):
            if ref.hops:
                target = users.get(rec.get("OwnerId"))
                return target.get(ref.name) if target else None
            return rec.get(ref.name)
        return get

    hits = [r for r in records if soql.matches(q.where, getter(r))]
    hits = soql.order_records(hits, q.order_by, lambda r, ref: getter(r)(ref))
    return [r["Id"] for r in hits][q.offset:][: q.limit]


def test_soql_parse_shapes() -> None:
    q = soql.parse("select id, owner.name, LEAD.Email from lead where email != null "
                   "order by SystemModstamp desc nulls first, Id limit 5 offset 2", SCHEMA)
    assert q.sobject == "Lead" and [f.dotted for f in q.fields] == ["Id", "Owner.Name", "Email"]
    assert q.fields[1].hops == (("OwnerId", "User"),) and q.limit == 5 and q.offset == 2
    assert q.order_by[0].descending and q.order_by[0].nulls_first
    assert soql.parse("SELECT COUNT() FROM Lead", SCHEMA).count


@pytest.mark.parametrize("text, code", [
    ("SELECT Id FROM Lead WHERE Email = 'a' AND Id = 'b' OR Id = 'c'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
    ("SELECT Id, Id FROM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead LIMIT", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Email = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ("SELECT Nope FROM Lead", "INVALID_FIELD"),
    ("SELECT Manager.Name FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE IsConverted = 'true'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Lead WHERE ConvertedDate > 2026-01-01T00:00:00Z", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Lead WHERE Email = 5", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Lead WHERE Email > null", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Id IN (SELECT Id FROM Lead)", "MALFORMED_QUERY"),
])
def test_soql_errors(text: str, code: str) -> None:
    with pytest.raises(soql.SoqlError) as exc:
        soql.parse(text, SCHEMA)
    assert exc.value.error_code == code


def test_soql_evaluation() -> None:
    recs = [
        {"Id": "00Q000000000001AAA", "Email": "A@x.com", "SystemModstamp": "2026-06-30T10:00:00.000+0000",
         "ConvertedDate": "2026-06-30", "IsConverted": True, "LeadSource": "Web", "OwnerId": "005A"},
        {"Id": "00Q000000000002AAA", "Email": None, "SystemModstamp": "2026-06-29T23:30:00.000+0000",
         "ConvertedDate": None, "IsConverted": False, "LeadSource": "Partner", "OwnerId": "005B"},
        {"Id": "00Q000000000003AAA", "Email": "c_%@x.com", "SystemModstamp": None,
         "ConvertedDate": "2026-05-01", "IsConverted": False, "LeadSource": None, "OwnerId": None},
    ]
    users = {"005A": {"Name": "Ada"}, "005B": {"Name": "Bob"}}
    ids = ["00Q000000000001AAA", "00Q000000000002AAA", "00Q000000000003AAA"]
    assert run("SELECT Id FROM Lead WHERE SystemModstamp >= 2026-06-30T00:30:00+01:00", recs) == ids[:2]
    assert run("SELECT Id FROM Lead WHERE SystemModstamp > 2026-06-29T23:30:00.000+0000", recs) == ids[:1]
    assert run("SELECT Id FROM Lead WHERE SystemModstamp = YESTERDAY", recs) == ids[:1]
    assert run("SELECT Id FROM Lead WHERE ConvertedDate < 2026-06-30", recs) == ids[2:]
    assert run("SELECT Id FROM Lead WHERE ConvertedDate = LAST_N_DAYS:3", recs) == ids[:1]
    assert run("SELECT Id FROM Lead WHERE Email = 'a@X.COM'", recs) == ids[:1]
    assert run("SELECT Id FROM Lead WHERE LeadSource != 'Web'", recs) == ids[1:]   # nulls included
    assert run("SELECT Id FROM Lead WHERE LeadSource NOT IN ('Partner', 'Web')", recs) == ids[2:]
    assert run("SELECT Id FROM Lead WHERE NOT (IsConverted = true OR Email = null)", recs) == ids[2:]
    assert run("SELECT Id FROM Lead WHERE Email LIKE 'c\\_\\%%'", recs) == ids[2:]
    assert run("SELECT Id FROM Lead WHERE Email LIKE 'c%' OR Owner.Name = 'bob'", recs, users) == ids[1:]
    assert run("SELECT Id FROM Lead WHERE Id = '00Q000000000002'", recs) == ids[1:2]
    assert run("SELECT Id FROM Lead ORDER BY SystemModstamp", recs) == [ids[2], ids[1], ids[0]]
    assert run("SELECT Id FROM Lead ORDER BY SystemModstamp DESC", recs) == [ids[0], ids[1], ids[2]]
    assert run("SELECT Id FROM Lead ORDER BY SystemModstamp ASC NULLS LAST", recs) == [ids[1], ids[0], ids[2]]
    assert run("SELECT Id FROM Lead ORDER BY IsConverted, Email DESC NULLS FIRST", recs) == [ids[1], ids[2], ids[0]]
    assert run("SELECT Id FROM Lead ORDER BY Id DESC LIMIT 2 OFFSET 1", recs) == [ids[1], ids[0]]


# ---------------------------------------------------------------------------------------------
# Against a generated world
# ---------------------------------------------------------------------------------------------
def test_generated_world_pages_leads(world_store: Path, certs) -> None:
    conn = store.connect(world_store, readonly=True)
    seed = store.get_meta(conn, "seed")
    expected = conn.execute(
        "SELECT COUNT(*) FROM sf_record WHERE sobject = 'Lead' AND purged = 0").fetchone()[0]
    conn.close()
    started = time.monotonic()
    with serve(world_store, certs) as srv:
        sf1 = client(srv, certs[0], seed=seed)
        rest = sf1.query_all("SELECT Id, Email, SystemModstamp, Owner.Name FROM Lead", include_deleted=True)
        bulk_ids = []
        for page in sf1.bulk2.Lead.query_all("SELECT Id, Email, SystemModstamp, Owner.Name FROM Lead",
                                            max_records=1000, wait=0.01):
            bulk_ids.extend(r["Id"] for r in csv.DictReader(io.StringIO(page)))
    assert expected > 0 and rest["totalSize"] == expected
    assert sorted(bulk_ids) == sorted(r["Id"] for r in rest["records"])
    assert time.monotonic() - started < 30
