"""The Salesforce fake behaves as real orgs do where that hurts connectors (issue 13): getDeleted's
id limit and early purge, formula fields, the client-credentials host rule, the JWT bearer
flow, QUERY_TIMEOUT, the long-running-request limit, partial visibility, describe keys and
Bulk API 1.0. Driven by the real simple_salesforce client over HTTPS."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceRefusedRequest
from test_salesforce_fake import (  # noqa: E402 - the module's small world and helpers
    CLOCK,
    DELETED,
    LIVE,
    PURGED,
    build_store,
    client,
    error_code,
    get_token,
    serve,
    sf_id,
)

from connectors.sandbox import store, tls
from connectors.sandbox.config import sandbox_credentials
from connectors.sandbox.fakes import salesforce_describe

SEED = 5


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tls.make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("sf") / "world.sqlite")


def test_deleted_id_limit_and_early_purge(store_path: Path, certs) -> None:
    with serve(store_path, certs) as server:
        sf = client(server, certs[0])
        start, end = CLOCK - dt.timedelta(days=14), CLOCK - dt.timedelta(minutes=1)
        server.app.deleted_id_limit = 10
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.Lead.deleted(start, end)
        assert error_code(exc) == "EXCEEDED_ID_LIMIT"
        # a window closer together answers
        near = sf.Lead.deleted(CLOCK - dt.timedelta(days=10), CLOCK - dt.timedelta(days=9, hours=22))
        assert 0 < len(near["deletedRecords"]) <= 10
        # a large log is purged early, oldest first: only the newest entries are left
        server.app.deleted_id_limit, server.app.delete_log_limit = 600_000, 5
        got = [r["id"] for r in sf.Lead.deleted(start, end)["deletedRecords"]]
        assert len(got) == 5
        newest = sorted((i for i in DELETED | PURGED), key=lambda i: _deleted_at(i))[-5:]
        assert set(got) == {sf_id("00Q", i) for i in newest}


def _deleted_at(i: int) -> dt.datetime:
    from test_salesforce_fake import deleted_at

    return deleted_at(i)


def test_describe_carries_every_key_and_formula_fields(store_path: Path, certs, tmp_path: Path) -> None:
    path = tmp_path / "world.sqlite"
    path.write_bytes(store_path.read_bytes())
    with serve(path, certs) as server:
        sf = client(server, certs[0])
        desc = sf.Contact.describe()
        assert set(desc) == set(salesforce_describe.OBJECT_KEYS)
        for field in desc["fields"]:
            assert set(field) == set(salesforce_describe.FIELD_KEYS), field["name"]
            assert "compoundFieldName" in field
        calc = {f["name"]: f for f in desc["fields"] if f["calculated"]}
        assert set(calc) == {"Account_Name__c"}
        assert calc["Account_Name__c"]["calculatedFormula"] and not calc["Account_Name__c"]["updateable"]
        before = {r["Id"]: r for r in sf.query(
            "SELECT Id, Account_Name__c, SystemModstamp FROM Contact")["records"]}
        assert before[sf_id("003", 1)]["Account_Name__c"] == "Account 1"
        # the account is renamed: the contact's formula changes, its SystemModstamp does not
        conn = store.connect(path)
        with store.transaction(conn):
            fields = json.loads(conn.execute(
                "SELECT fields FROM sf_record WHERE id = ?", (sf_id("001", 1),)).fetchone()[0])
            fields["Name"] = "Renamed Ltd"
            conn.execute("UPDATE sf_record SET fields = ? WHERE id = ?",
                         (json.dumps(fields), sf_id("001", 1)))
        conn.close()
        after = {r["Id"]: r for r in sf.query(
            "SELECT Id, Account_Name__c, SystemModstamp FROM Contact")["records"]}
        assert after[sf_id("003", 1)]["Account_Name__c"] == "Renamed Ltd"
        assert after[sf_id("003", 1)]["SystemModstamp"] == before[sf_id("003", 1)]["SystemModstamp"]


def test_bulk_v1_answers_as_an_org_without_it(store_path: Path, certs) -> None:
    with serve(store_path, certs) as server:
        session = requests.Session()
        session.trust_env = False
        token = get_token(server, certs[0]).json()["access_token"]
        r = session.post(f"{server.url}/services/async/59.0/job", verify=str(certs[0]),
                         headers={"X-SFDC-Session": token, "Content-Type": "application/json"},
                         json={"operation": "query", "object": "Lead", "contentType": "CSV"},
                         timeout=10)
        assert r.status_code == 400 and r.json()["exceptionCode"] == "FeatureNotEnabled"
        r = session.post(f"{server.url}/services/async/59.0/job", verify=str(certs[0]),
                         headers={"X-SFDC-Session": token, "Content-Type": "application/xml"},
                         data="<jobInfo/>", timeout=10)
        assert r.status_code == 400 and "<exceptionCode>FeatureNotEnabled" in r.text


def test_client_credentials_only_at_my_domain_and_jwt_bearer(store_path: Path, certs) -> None:
    creds = sandbox_credentials(SEED)
    with serve(store_path, certs) as server:
        session = requests.Session()
        session.trust_env = False
        generic = f"https://localhost:{server.port}/services/oauth2/token"
        form = {"grant_type": "client_credentials", "client_id": creds["salesforce_client_id"],
                "client_secret": creds["salesforce_client_secret"]}
        r = session.post(generic, data=form, verify=str(certs[0]), timeout=10)
        assert r.status_code == 400 and r.json() == {
            "error": "invalid_grant", "error_description": "request not supported on this domain"}
        assert get_token(server, certs[0], grant="client_credentials").status_code == 200

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server.app.jwt_public_key_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

        def assertion(signing_key=key, **claims) -> str:
            body = {"iss": creds["salesforce_client_id"], "sub": creds["salesforce_username"],
                    "aud": "https://login.salesforce.com", "exp": int(time.time()) + 180, **claims}
            return jwt.encode(body, signing_key, algorithm="RS256")

        def post(token: str) -> requests.Response:
            return session.post(f"{server.url}/services/oauth2/token", verify=str(certs[0]),
                                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                      "assertion": token}, timeout=10)

        ok = post(assertion())
        assert ok.status_code == 200, ok.text
        sf = client(server, certs[0], token=ok.json()["access_token"])
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == len(LIVE)
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert post(assertion(other)).json()["error_description"] == "invalid assertion"
        assert post(assertion(aud="https://example.com")).json()["error_description"] == \
            "audience is invalid"
        assert post(assertion(exp=int(time.time()) - 600)).json()["error_description"] == \
            "expired authorization code"
        assert post(assertion(iss="someone-else")).json()["error"] == "invalid_client_id"


def test_query_timeout_long_txn_and_partial_visibility(store_path: Path, certs) -> None:
    with serve(store_path, certs, faults="salesforce:query-timeout=30x1") as server:
        sf = client(server, certs[0])
        wide = ("SELECT Id FROM Lead WHERE SystemModstamp >= 2026-01-01T00:00:00.000Z "
                "ORDER BY SystemModstamp ASC, Id ASC")
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.query_all(wide)
        assert error_code(exc) == "QUERY_TIMEOUT"
        assert sf.query_all(wide)["totalSize"] == len(LIVE)     # x1: fired once
    with serve(store_path, certs, faults="salesforce:long-txnx1") as server:
        sf = client(server, certs[0])
        with pytest.raises(SalesforceRefusedRequest) as exc:
            sf.query("SELECT COUNT() FROM Lead")
        assert exc.value.content[0]["message"].startswith("ConcurrentPerOrgLongTxn")
    with serve(store_path, certs, faults="salesforce:partial-visibility") as server:
        sf = client(server, certs[0])
        counts = {r["name"]: r["count"] for r in sf.restful(
            "limits/recordCount", params={"sObjects": "Lead"})["sObjects"]}
        seen = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
        assert counts["Lead"] == len(LIVE) and 0 < seen < 0.8 * len(LIVE)
