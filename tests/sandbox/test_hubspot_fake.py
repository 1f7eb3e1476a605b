"""The HubSpot fake, driven by the real hubspot-api-client over real HTTP."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

import hubspot
import pytest
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    ApiException,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.contacts.exceptions import UnauthorizedException
from urllib3.util.retry import Retry

from connectors.sandbox.fakes.base import FakeServer, FaultPlan
from connectors.sandbox.fakes.hubspot import HubSpotApp

sys.path.insert(0, str(Path(__file__).parent))
from fake_world_helpers import (  # noqa: E402
    BASE_MS,
    HOUR_MS,
    build_store,
    contact_updated_ms,
    set_meta,
)

TOKEN = "pat-na1-test-token"
ARCHIVED = (4, 9, 17)
LIVE = [i for i in range(1, 26) if i not in ARCHIVED]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("hs") / "world.sqlite", archived=ARCHIVED)


def serve(store_path: Path, faults: str | None = None) -> FakeServer:
    return FakeServer(HubSpotApp(store_path, access_token=TOKEN),
                      faults=FaultPlan.parse(faults)).start()


@pytest.fixture(scope="module")
def server(store_path: Path):
    srv = serve(store_path)
    yield srv
    srv.stop()


@pytest.fixture()
def client(server: FakeServer):
    return hubspot.Client.create(access_token=TOKEN, host=server.url)


def search(client, **kwargs):
    return client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(**kwargs))


def test_list_pages_to_the_end_with_absolute_links(client, server):
    seen, after, pages = [], None, 0
    while True:
        page = client.crm.contacts.basic_api.get_page(
            limit=10, after=after, properties=["email", "lifecyclestage", "no_such_property"])
        pages += 1
        seen += [r.id for r in page.results]
        for r in page.results:
            assert set(r.properties) == {"email", "lifecyclestage"}
            assert r.properties["email"] == f"person{r.id}@example.com"
            if int(r.id) % 5 == 0:
                assert r.properties["lifecyclestage"] is None
            assert r.archived is False and r.updated_at is not None
        if page.paging is None:
            break
        assert page.paging.next.link.startswith(server.url + "/crm/v3/objects/contacts?")
        after = page.paging.next.after
    assert seen == [str(i) for i in LIVE] and pages == 3
    all_contacts = client.crm.contacts.get_all(properties=["email"])
    assert [c.id for c in all_contacts] == [str(i) for i in LIVE]
    # The raw wire: string values, comma-separated properties, default property set.
    req = urllib.request.Request(server.url + "/crm/v3/objects/contacts?limit=100&properties=email,hs_analytics_source",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req) as resp:
        body = json.load(resp)
        assert resp.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert "paging" not in body
    assert set(body["results"][0]["properties"]) == {"email", "hs_analytics_source"}
    default = client.crm.contacts.basic_api.get_page(limit=1).results[0].properties
    assert {"firstname", "lastname", "email", "hs_object_id", "lastmodifieddate"} <= set(default)


def test_list_archived_and_limit(client):
    page = client.crm.contacts.basic_api.get_page(limit=100, archived=True)
    assert [r.id for r in page.results] == [str(i) for i in ARCHIVED]
    assert all(r.archived and r.archived_at is not None for r in page.results)
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_page(limit=101)
    assert exc.value.status == 400
    one = client.crm.contacts.basic_api.get_by_id("3", properties=["email"])
    assert one.properties == {"email": "person3@example.com"}
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_by_id("4")  # archived
    assert exc.value.status == 404


def test_search_filters_sorts_and_paging(client):
    start = BASE_MS + 10 * HOUR_MS
    expected = sorted((i for i in LIVE if contact_updated_ms(i) >= start), key=contact_updated_ms)
    got, after = [], None
    while True:
        res = search(client, filter_groups=[{"filters": [
            {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(start)}]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=["email"], limit=4, after=after)
        assert res.total == len(expected)
        got += [int(r.id) for r in res.results]
        assert {"email", "hs_object_id", "createdate", "lastmodifieddate"} == set(res.results[0].properties)
        if res.paging is None:
            break
        after = res.paging.next.after
    assert got == expected
    # OR of groups, IN, NOT_HAS_PROPERTY, id cursor, BETWEEN; archived never searched.
    res = search(client, filter_groups=[
        {"filters": [{"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer", "LEAD"]},
                     {"propertyName": "hs_object_id", "operator": "GT", "value": "10"}]},
        {"filters": [{"propertyName": "lifecyclestage", "operator": "NOT_HAS_PROPERTY"}]},
    ], limit=200)
    stages = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "customer")
    want = [i for i in LIVE if (i % 5 and stages[i % 4] in ("customer", "lead") and i > 10) or i % 5 == 0]
    assert [int(r.id) for r in res.results] == want
    res = search(client, filter_groups=[{"filters": [
        {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "3", "highValue": "10"}]}],
        sorts=[{"propertyName": "email", "direction": "DESCENDING"}], limit=200)
    assert [int(r.id) for r in res.results] == sorted((i for i in LIVE if 3 <= i <= 10),
                                                     key=lambda i: f"person{i}@example.com", reverse=True)
    # Airbyte's legacy top-level filters.
    res = client.crm.objects.search_api.do_search("contacts", {"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "person7@example.com"}]})
    assert [r.id for r in res.results] == ["7"]


def test_search_limits(client):
    with pytest.raises(ApiException) as exc:
        search(client, limit=201)
    assert exc.value.status == 400
    with pytest.raises(ApiException) as exc:
        search(client, limit=100, after="10000")
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"
    assert search(client, limit=100, after="9900").results == []


def test_batch_read_207(client):
    res = client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "1"}, {"id": "9999"}, {"id": "2"}], properties=["email"], properties_with_history=[]))
    assert type(res).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert sorted(r.id for r in res.results) == ["1", "2"]
    assert res.num_errors == 1 and res.errors[0].context == {"ids": ["9999"]}
    ok = client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "person5@example.com"}], properties=["firstname"], id_property="email"))
    assert type(ok).__name__ == "BatchResponseSimplePublicObject"
    assert ok.results[0].properties["firstname"] == "First5"


def test_associations_v4(client):
    res = client.crm.associations.v4.batch_api.get_page(
        from_object_type="deals", to_object_type="contacts",
        batch_input_public_fetch_associations_batch_request=BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[{"id": "1001"}, {"id": "1002"}, {"id": "1003"}]))
    by_from = {r._from.id: r for r in res.results}
    assert [t.to_object_id for t in by_from["1001"].to] == ["1", "2"]
    assert sorted(a.type_id for a in by_from["1001"].to[0].association_types) == [3, 145]
    assert [t.to_object_id for t in by_from["1002"].to] == ["3"]
    assert res.errors[0].context["fromObjectId"] == ["1003"]
    one = client.crm.associations.v4.basic_api.get_page("contacts", "1", "deals")
    assert [r.to_object_id for r in one.results] == ["1001"]


def test_owners_pipelines_properties(client, server):
    page = client.crm.owners.owners_api.get_page(limit=2)
    assert [o.id for o in page.results] == ["100", "101"] and page.paging.next.after
    assert [o.id for o in client.crm.owners.get_all()] == ["100", "101", "102"]
    assert [o.id for o in client.crm.owners.owners_api.get_page(archived=True).results] == ["200"]
    req = urllib.request.Request(server.url + "/crm/v3/owners?limit=1",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req) as resp:
        assert json.load(resp)["results"][0]["id"] == "100"
    pipelines = client.crm.pipelines.pipelines_api.get_all(object_type="deals").results
    assert pipelines[0].id == "default"
    assert [s.id for s in pipelines[0].stages][-2:] == ["closedwon", "closedlost"]
    assert pipelines[0].stages[-2].metadata == {"isClosed": "true", "probability": "1.0"}
    props = {p.name: p for p in client.crm.properties.core_api.get_all(object_type="contacts").results}
    assert props["lastmodifieddate"].type == "datetime"
    assert [o.value for o in props["lifecyclestage"].options][:3] == ["subscriber", "lead", "marketingqualifiedlead"]
    assert "SOCIAL_MEDIA" in [o.value for o in props["hs_analytics_source"].options]
    deal_props = {p.name: p for p in client.crm.properties.core_api.get_all(object_type="deals").results}
    assert "closedwon" in [o.value for o in deal_props["dealstage"].options]


def _date_header(srv: FakeServer, token: str = TOKEN) -> str | None:
    req = urllib.request.Request(f"{srv.url}/crm/v3/objects/contacts?limit=1",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers.get("Date")
    except urllib.error.HTTPError as err:
        return err.headers.get("Date")


def test_date_header_is_the_sandbox_clock(tmp_path):
    """The fake sends its own clock, as HubSpot does: the store's clock date at midnight UTC
    (every record is older), on errors too, following the clock when it moves; the
    ``send_date`` hook leaves the header out."""
    path = build_store(tmp_path / "clock.sqlite", archived=ARCHIVED)
    srv = serve(path)
    try:
        assert _date_header(srv) == "Wed, 01 Jul 2026 00:00:00 GMT"
        assert _date_header(srv, token="wrong") == "Wed, 01 Jul 2026 00:00:00 GMT"
        assert max(contact_updated_ms(i) for i in LIVE) < parsedate_to_datetime(
            _date_header(srv)).timestamp() * 1000
        set_meta(path, "clock", "2026-07-08")
        assert _date_header(srv) == "Wed, 08 Jul 2026 00:00:00 GMT"
        srv.app.send_date = False
        assert _date_header(srv) is None
    finally:
        srv.stop()


def test_401_body(server):
    bad = hubspot.Client.create(access_token="wrong", host=server.url)
    with pytest.raises(UnauthorizedException) as exc:
        bad.crm.contacts.basic_api.get_page()
    assert exc.value.status == 401
    assert json.loads(exc.value.body)["category"] == "INVALID_AUTHENTICATION"


@pytest.mark.parametrize("kind, retry_after", [("429=1", "1"), ("429-bare", None)])
def test_429_with_and_without_retry_after(store_path, kind, retry_after):
    # (the spec is kind[=value][@every][xcount]; "@1" keeps "x1" from being read as part of the kind)
    srv = serve(store_path, f"hubspot:{kind}@1x1")
    try:
        plain = hubspot.Client.create(access_token=TOKEN, host=srv.url)
        with pytest.raises(ApiException) as exc:
            search(plain, limit=5)  # POST: urllib3's default Retry never retries it
        assert exc.value.status == 429
        assert exc.value.headers.get("Retry-After") == retry_after
        assert exc.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        body = json.loads(exc.value.body)
        assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert plain.crm.contacts.basic_api.get_page(limit=1).results  # fault fired once only
    finally:
        srv.stop()

    srv = serve(store_path, f"hubspot:{kind}@1x1")
    try:
        retrying = hubspot.Client.create(access_token=TOKEN, host=srv.url, retry=Retry(
            total=3, status_forcelist=(429,), allowed_methods=None,
            respect_retry_after_header=True, backoff_factor=0.05))
        started = time.monotonic()
        res = search(retrying, limit=5)  # a POST: retried because allowed_methods=None
        assert res.total == len(LIVE)
        assert [r.status for r in srv.requests()] == [429, 200]
        if retry_after:
            assert time.monotonic() - started >= 0.9
    finally:
        srv.stop()


def test_get_is_retried_by_default_when_retry_after_is_sent(store_path):
    # urllib3's default Retry (used when no retry= is given) honours Retry-After on 429 for GET.
    srv = serve(store_path, "hubspot:429=0.2@1x1")  # sent as "Retry-After: 1"
    try:
        client = hubspot.Client.create(access_token=TOKEN, host=srv.url)
        assert client.crm.contacts.basic_api.get_page(limit=1).results
        assert [r.status for r in srv.requests()] == [429, 200]
    finally:
        srv.stop()


def test_drop_and_expire_faults(store_path):
    srv = serve(store_path, "hubspot:drop@1x1,hubspot:expire@3x1")
    try:
        client = hubspot.Client.create(access_token=TOKEN, host=srv.url)
        with pytest.raises(Exception) as exc:
            search(client, limit=5)  # a POST is not retried after a broken read (a GET would be)
        assert not isinstance(exc.value, ApiException)  # a broken connection, not an API error
        assert "IncompleteRead" in repr(exc.value) or "Connection" in repr(exc.value)
        assert client.crm.contacts.basic_api.get_page().results
        with pytest.raises(UnauthorizedException):
            client.crm.contacts.basic_api.get_page()
    finally:
        srv.stop()


def test_search_index_shows_changes_late_and_out_of_order(tmp_path):
    """Each change becomes searchable after a delay of its own (0 to the lag, on the sandbox
    clock): some late, and not in the order they happened. List reads see everything."""
    from connectors.sandbox.fakes.hubspot import index_delay_ms

    path = build_store(tmp_path / "lag.sqlite", archived=ARCHIVED)
    set_meta(path, "clock", "2026-01-02")          # now: BASE_MS + 24 hours
    now, lag = BASE_MS + 24 * HOUR_MS, 48 * HOUR_MS
    hidden = {i for i in LIVE if contact_updated_ms(i) + index_delay_ms(
        "contacts", i, contact_updated_ms(i), lag) > now}
    assert hidden and hidden != set(LIVE)
    visible = set(LIVE) - hidden
    assert min(contact_updated_ms(i) for i in hidden) < max(contact_updated_ms(i) for i in visible), \
        "an older change still hidden while a newer one is searchable"
    srv = serve(path, f"hubspot:lag={lag // 1000}")
    try:
        client = hubspot.Client.create(access_token=TOKEN, host=srv.url)
        assert sorted(int(r.id) for r in search(client, limit=200).results) == sorted(visible)
        assert srv.app.unindexed_ids("contacts") == {str(i) for i in hidden}
        assert len(client.crm.contacts.get_all()) == len(LIVE)    # the list reads the database
    finally:
        srv.stop()
    srv = serve(path, "hubspot:lag=0")
    try:
        client = hubspot.Client.create(access_token=TOKEN, host=srv.url)
        assert search(client, limit=200).total == len(LIVE)
    finally:
        srv.stop()


def test_a_long_url_is_answered_414(server):
    """A list GET whose query string outgrows what HubSpot's front accepts: 414."""
    names = [f"custom_property_{i:04d}_with_a_long_name" for i in range(300)]
    client = hubspot.Client.create(access_token=TOKEN, host=server.url)
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_page(limit=10, properties=names)
    assert exc.value.status == 414
    assert client.crm.contacts.basic_api.get_page(limit=10, properties=names[:100]).results
