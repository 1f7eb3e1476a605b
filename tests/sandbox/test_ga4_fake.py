"""The GA4 Data API fake, driven by the real BetaAnalyticsDataClient (REST transport) with
real service-account credentials over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import defaultdict
from pathlib import Path

import google.auth.transport.requests
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import (
    DateRange,
    Dimension,
    Filter,
    FilterExpression,
    Metric,
    MetricAggregation,
    OrderBy,
    RunReportRequest,
)
from google.api_core import exceptions as gexc
from google.oauth2 import service_account

from connectors.sandbox.catalog import GA4_VISITOR_DIMENSION
from connectors.sandbox.fakes.base import FakeServer, FaultPlan
from connectors.sandbox.fakes.ga4 import GA4App

sys.path.insert(0, str(Path(__file__).parent))
from fake_world_helpers import CLOCK, PROPERTY_ID, build_store, ga4_rows, set_meta  # noqa: E402

EMAIL = "reader@sandbox-project.iam.gserviceaccount.com"
SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]
PROPERTY = f"properties/{PROPERTY_ID}"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("ga4") / "world.sqlite")


def serve(store_path: Path, key: rsa.RSAPrivateKey, faults: str | None = None) -> FakeServer:
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    app = GA4App(store_path, service_account_email=EMAIL, public_key_pem=pem)
    return FakeServer(app, faults=FaultPlan.parse(faults)).start()


def key_file(directory: Path, key: rsa.RSAPrivateKey, server: FakeServer) -> Path:
    path = directory / "sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "sandbox-project", "private_key_id": "abc123",
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": EMAIL, "client_id": "1234567890", "token_uri": f"{server.url}/token",
    }))
    return path


def make_client(path: Path, server: FakeServer) -> BetaAnalyticsDataClient:
    creds = service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)
    return BetaAnalyticsDataClient(credentials=creds, transport="rest",
                                   client_options={"api_endpoint": server.url})


@pytest.fixture(scope="module")
def server(store_path, key):
    srv = serve(store_path, key)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server, key, tmp_path_factory):
    return make_client(key_file(tmp_path_factory.mktemp("sa"), key, server), server)


def report(dims: list[str], mets: list[str], start: str = "2026-06-01", end: str = "yesterday",
           **kwargs) -> RunReportRequest:
    return RunReportRequest(property=PROPERTY, dimensions=[Dimension(name=d) for d in dims],
                            metrics=[Metric(name=m) for m in mets],
                            date_ranges=[DateRange(start_date=start, end_date=end)], **kwargs)


def rows_of(resp) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(tuple(v.value for v in r.dimension_values), tuple(v.value for v in r.metric_values))
            for r in resp.rows]


def expected_groups(key_fn) -> dict[tuple[str, ...], list[int]]:
    out: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in ga4_rows():
        sums = out[key_fn(row)]
        sums[0] += row[9]
        sums[1] += row[10]
        sums[2] += row[11]
    return out


def test_paging_to_the_end_and_values(client):
    want = expected_groups(lambda r: (r[0], r[3]))
    got, offset = [], 0
    while True:
        resp = client.run_report(report(["date", "sessionSource"], ["sessions", "engagedSessions", "bounceRate"],
                                        limit=4, offset=offset))
        assert resp.row_count == len(want)
        got += rows_of(resp)
        offset += 4
        if offset >= resp.row_count:
            break
    assert [g[0] for g in got] == sorted(want)  # default order: dimension values ascending
    for dims, (sessions, engaged, bounce) in got:
        s, e, _ = want[dims]
        assert (sessions, engaged) == (str(s), str(e))
        assert float(bounce) == pytest.approx(1 - e / s)
    assert [h.name for h in resp.dimension_headers] == ["date", "sessionSource"]
    assert [h.type_.name for h in resp.metric_headers] == ["TYPE_INTEGER", "TYPE_INTEGER", "TYPE_FLOAT"]
    assert resp.metadata.time_zone == "UTC" and resp.metadata.currency_code == "USD"
    assert resp.metadata.data_loss_from_other_row is False
    assert resp.kind == "analyticsData#runReport"


def test_visitor_dimension_not_set_and_filters_and_order(client):
    resp = client.run_report(report([GA4_VISITOR_DIMENSION], ["sessions"], limit=100000))
    values = [r[0][0] for r in rows_of(resp)]
    assert "(not set)" in values and "" not in values
    flt = FilterExpression(filter=Filter(field_name="sessionMedium", string_filter=Filter.StringFilter(
        match_type=Filter.StringFilter.MatchType.EXACT, value="advocacy")))
    resp = client.run_report(report(["sessionSource"], ["sessions"], dimension_filter=flt,
                                    order_bys=[OrderBy(metric=OrderBy.MetricOrderBy(metric_name="sessions"), desc=True)],
                                    metric_aggregations=[MetricAggregation.TOTAL]))
    want = expected_groups(lambda r: (r[3],) if r[4] == "advocacy" else ("-",))
    want.pop(("-",))
    got = rows_of(resp)
    assert {g[0] for g in got} == set(want) == {("linkedin",), ("x",)}
    assert [int(g[1][0]) for g in got] == sorted((v[0] for v in want.values()), reverse=True)
    assert resp.totals[0].metric_values[0].value == str(sum(v[0] for v in want.values()))


def test_other_row_rule(client, store_path):
    threshold = 3
    set_meta(store_path, "ga4_other_row_threshold", threshold)
    try:
        dims = ["date", "sessionSource", GA4_VISITOR_DIMENSION]
        resp = client.run_report(report(dims, ["sessions", "keyEvents"], limit=100000))
        # independent re-statement of the rule
        agg = expected_groups(lambda r: (r[0], r[3], r[2] or "(not set)"))
        by_date: dict[str, list] = defaultdict(list)
        for k, v in agg.items():
            by_date[k[0]].append((k, v))
        want = []
        for day, rows in by_date.items():
            if len(rows) <= threshold:
                want += [(k, (str(v[0]), str(v[2]))) for k, v in rows]
                continue
            rows.sort(key=lambda kv: (-kv[1][0], kv[0]))
            want += [(k, (str(v[0]), str(v[2]))) for k, v in rows[: threshold - 1]]
            rest = rows[threshold - 1:]
            want.append(((day, "(other)", "(other)"),
                         (str(sum(v[0] for _, v in rest)), str(sum(v[2] for _, v in rest)))))
        assert sorted(rows_of(resp)) == sorted(want)
        assert resp.row_count == len(want) == 5 * threshold
        assert resp.metadata.data_loss_from_other_row is True
        # without date, the whole request is one group
        resp = client.run_report(report(["sessionSource", "landingPage"], ["sessions"]))
        assert resp.row_count == threshold and resp.metadata.data_loss_from_other_row
        # groups at or below the threshold do not collapse (one row per date here)
        resp = client.run_report(report(["date"], ["sessions"]))
        assert resp.metadata.data_loss_from_other_row is False and resp.row_count == 5
    finally:
        set_meta(store_path, "ga4_other_row_threshold", 0)


def test_relative_dates_and_date_format(client):
    resp = client.run_report(report(["date"], ["sessions"], start="yesterday", end="yesterday"))
    assert [r[0][0] for r in rows_of(resp)] == [(CLOCK - dt.timedelta(days=1)).strftime("%Y%m%d")]
    resp = client.run_report(report(["date"], ["sessions"], start="today", end="today"))
    assert resp.row_count == 0 and not resp.rows
    resp = client.run_report(report(["date"], ["sessions"], start="3daysAgo", end="2daysAgo"))
    assert [r[0][0] for r in rows_of(resp)] == ["20260628", "20260629"]
    resp = client.run_report(report(["dateHour", "dayOfWeekName"], ["sessions"], start="yesterday"))
    assert rows_of(resp)[0][0] == ("2026063000", "Tuesday")


@pytest.mark.parametrize("request_", [
    report(["bogusDimension"], ["sessions"]),
    report(["date"], ["bogusMetric"]),
    report(["sessionAdContent"], ["sessions"]),
    report([f"customEvent:x{i}" for i in range(10)], ["sessions"]),
    report(["date"], ["sessions"] * 11),
    RunReportRequest(property=PROPERTY, dimensions=[Dimension(name="date")], metrics=[Metric(name="sessions")],
                     date_ranges=[DateRange(start_date="7daysAgo", end_date="today")] * 5),
    report(["date"], ["sessions"], limit=250_001),
    report(["date"], ["sessions"], start="2026-06-10", end="2026-06-01"),
], ids=["dimension", "metric", "rejected-name", "10-dims", "11-metrics", "5-ranges", "limit", "reversed"])
def test_invalid_requests_are_bad_requests(client, request_):
    with pytest.raises(gexc.BadRequest) as exc:
        client.run_report(request_)
    assert exc.value.code == 400


def test_valid_extremes(client):
    resp = client.run_report(report(["date", "sessionSource", "sessionMedium", "sessionCampaignName",
                                     "sessionManualAdContent", "sessionManualTerm", "landingPage",
                                     GA4_VISITOR_DIMENSION, "sessionDefaultChannelGroup"],
                                    ["sessions", "engagedSessions", "keyEvents", "conversions", "bounceRate",
                                     "engagementRate", "totalUsers", "activeUsers"], limit=250_000))
    assert resp.row_count > 0
    two = RunReportRequest(property=PROPERTY, dimensions=[Dimension(name="sessionMedium")],
                           metrics=[Metric(name="sessions")],
                           date_ranges=[DateRange(start_date="yesterday", end_date="yesterday"),
                                        DateRange(start_date="2daysAgo", end_date="2daysAgo", name="before")])
    resp = client.run_report(two)
    assert [h.name for h in resp.dimension_headers] == ["sessionMedium", "dateRange"]
    assert {r[0][1] for r in rows_of(resp)} == {"date_range_0", "before"}


def test_property_quota_decrements(client):
    first = client.run_report(report(["date"], ["sessions"], return_property_quota=True)).property_quota
    second = client.run_report(report(["date"], ["sessions"], return_property_quota=True)).property_quota
    assert first.tokens_per_day.consumed >= 1
    assert second.tokens_per_day.remaining < first.tokens_per_day.remaining
    assert second.tokens_per_hour.remaining < first.tokens_per_hour.remaining
    assert second.concurrent_requests.remaining == 10
    assert not client.run_report(report(["date"], ["sessions"])).property_quota.tokens_per_day.remaining


def test_metadata_and_unknown_property(client):
    meta = client.get_metadata(name=f"{PROPERTY}/metadata")
    names = {d.api_name for d in meta.dimensions}
    assert {"date", "sessionSource", GA4_VISITOR_DIMENSION} <= names
    assert "sessions" in {m.api_name for m in meta.metrics}
    with pytest.raises(gexc.Forbidden):
        client.run_report(RunReportRequest(property="properties/999", metrics=[Metric(name="sessions")],
                                           date_ranges=[DateRange(start_date="yesterday", end_date="yesterday")]))


def test_auth(server, key, tmp_path):
    # A key the fake does not know: 401 UNAUTHENTICATED.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(gexc.Unauthorized):
        make_client(key_file(tmp_path, other, server), server).run_report(report(["date"], ["sessions"]))
    # The OAuth JWT-bearer grant (credentials without self-signed JWT access).
    creds = service_account.Credentials.from_service_account_file(
        str(key_file(tmp_path, key, server)), scopes=SCOPES)
    creds.refresh(google.auth.transport.requests.Request())
    assert creds.token.startswith("ya29.sandbox-")
    resp = requests.post(f"{server.url}/v1beta/{PROPERTY}:runReport",
                         headers={"Authorization": f"Bearer {creds.token}"},
                         json={"metrics": [{"name": "sessions"}], "limit": "5",
                               "dateRanges": [{"startDate": "yesterday", "endDate": "yesterday"}]})
    assert resp.status_code == 200 and resp.json()["rows"][0]["metricValues"][0]["value"].isdigit()
    resp = requests.post(f"{server.url}/v1beta/{PROPERTY}:runReport", json={})
    assert resp.status_code == 401 and resp.json()["error"]["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("kind, retry_after", [("429=1", "1"), ("429-bare", None)])
def test_429_is_too_many_requests(store_path, key, tmp_path, kind, retry_after):
    srv = serve(store_path, key, f"ga4:{kind}@1x1")
    try:
        client = make_client(key_file(tmp_path, key, srv), srv)
        with pytest.raises(gexc.TooManyRequests) as exc:
            client.run_report(report(["date"], ["sessions"]))
        assert "Exhausted concurrent requests quota." in exc.value.message
        assert exc.value.response.headers.get("Retry-After") == retry_after
        assert client.run_report(report(["date"], ["sessions"])).row_count == 5
    finally:
        srv.stop()


def test_server_errors(store_path, key, tmp_path):
    srv = serve(store_path, key, "ga4:503@1x1,ga4:500@2x1")
    try:
        client = make_client(key_file(tmp_path, key, srv), srv)
        with pytest.raises(gexc.ServiceUnavailable) as exc:
            client.run_report(report(["date"], ["sessions"]))
        assert exc.value.response.headers["Retry-After"] == "1"
        with pytest.raises(gexc.InternalServerError):
            client.run_report(report(["date"], ["sessions"]))
        assert client.run_report(report(["date"], ["sessions"])).row_count == 5
    finally:
        srv.stop()


def test_expiry(store_path, key, tmp_path):
    # google-auth's AuthorizedSession refreshes and retries once on 401: a one-off expiry heals.
    srv = serve(store_path, key, "ga4:expire@1x1")
    try:
        client = make_client(key_file(tmp_path, key, srv), srv)
        assert client.run_report(report(["date"], ["sessions"])).row_count == 5
        assert [r.status for r in srv.requests()] == [401, 200]
    finally:
        srv.stop()
    srv = serve(store_path, key, "ga4:expire")
    try:
        client = make_client(key_file(tmp_path, key, srv), srv)
        with pytest.raises(gexc.Unauthorized) as exc:
            client.run_report(report(["date"], ["sessions"]))
        assert "invalid authentication credentials" in exc.value.message
    finally:
        srv.stop()


# -- what GA withholds and charges (connectors/sandbox/fakes/ga4_limits.py) -------------------
def test_thresholding_withholds_rows_with_few_users(client, store_path):
    """Google: rows with few users may be withheld, commonly with custom dimensions;
    metadata.subjectToThresholding says a report is subject to it."""
    dims = ["date", GA4_VISITOR_DIMENSION]
    before = client.run_report(report(dims, ["sessions"], limit=100000))
    assert not before.metadata.subject_to_thresholding
    set_meta(store_path, "ga4_threshold_users", 2)
    try:
        resp = client.run_report(report(dims, ["sessions"], limit=100000))
        assert resp.metadata.subject_to_thresholding
        # one visitor per row: every row but the (not set) ones (several users) is withheld
        assert 0 < resp.row_count < before.row_count
        assert {r[0][1] for r in rows_of(resp)} == {"(not set)"}
        # a report without a custom dimension is not subject to it
        plain = client.run_report(report(["date", "sessionSource"], ["sessions"]))
        assert not plain.metadata.subject_to_thresholding
    finally:
        set_meta(store_path, "ga4_threshold_users", 0)


def test_sampling_above_the_event_limit(client, store_path):
    """Google: a query over more events than the sampling limit is sampled, and
    samplingMetadatas (one per date range) says how much was read."""
    total = sum(r[9] for r in ga4_rows())
    dims = ["sessionSource", "sessionMedium", "sessionCampaignName"]
    full = client.run_report(report(dims, ["sessions"]))
    assert not full.metadata.sampling_metadatas
    set_meta(store_path, "ga4_sampling_events", total // 2)
    try:
        # what the aggregated tables answer is never sampled
        assert not client.run_report(report(["date", "sessionSource"], ["sessions"])
                                     ).metadata.sampling_metadatas
        resp = client.run_report(report(dims, ["sessions"]))
        (sm,) = resp.metadata.sampling_metadatas
        assert sm.sampling_space_size == total and 0 < sm.samples_read_count < total
        # metrics scaled back up: near the truth, not equal to it
        served = sum(int(r[1][0]) for r in rows_of(resp))
        assert served != total and abs(served - total) < total * 0.5
        # one day is under the limit: unsampled
        day = client.run_report(report(dims, ["sessions"], start="yesterday"))
        assert not day.metadata.sampling_metadatas
    finally:
        set_meta(store_path, "ga4_sampling_events", 0)


def test_token_cost_grows_with_rows_columns_and_range():
    from connectors.sandbox.fakes.ga4_limits import token_cost

    assert token_cost(10, 2, 1, False) == 1
    assert token_cost(100_000, 11, 1, False) == 12            # rows x columns
    assert token_cost(10, 2, 62, False) == 2                  # a longer range
    assert token_cost(10, 2, 1, True) == 2                    # a filter


def test_hourly_project_quota_exhausts_and_refills(store_path, key, tmp_path):
    import time

    set_meta(store_path, "ga4_quota_limits", {"tokensPerProjectPerHour": 3})
    set_meta(store_path, "ga4_quota_hour_seconds", 1.5)
    srv = serve(store_path, key)
    try:
        client = make_client(key_file(tmp_path, key, srv), srv)
        quota = [client.run_report(report(["date"], ["sessions"], return_property_quota=True))
                 .property_quota.tokens_per_project_per_hour.remaining for _ in range(3)]
        assert quota == [2, 1, 0]
        with pytest.raises(gexc.TooManyRequests) as exc:
            client.run_report(report(["date"], ["sessions"]))
        assert "tokens for a project per hour" in exc.value.message
        time.sleep(1.6)                                       # the hour rolls over
        assert client.run_report(report(["date"], ["sessions"])).row_count == 5
    finally:
        srv.stop()
        set_meta(store_path, "ga4_quota_limits", {})
        set_meta(store_path, "ga4_quota_hour_seconds", 0)


def test_a_filter_does_not_recover_what_the_table_rolled_into_other(client, store_path):
    """Google: dataLossFromOtherRow reflects the aggregated table "regardless of filters and
    limits"; a filter can drop the (other) row. Splitting a report by filters recovers nothing."""
    set_meta(store_path, "ga4_other_row_threshold", 3)
    try:
        dims = ["date", "sessionSource", GA4_VISITOR_DIMENSION]
        whole = rows_of(client.run_report(report(dims, ["sessions"], limit=100000)))
        sources = {r[3] or "(not set)" for r in ga4_rows()}
        got: list = []
        lost_flags = []
        for source in sorted(sources):
            only = FilterExpression(filter=Filter(
                field_name="sessionSource",
                string_filter=Filter.StringFilter(value=source, case_sensitive=True)))
            resp = client.run_report(report(dims, ["sessions"], limit=100000,
                                            dimension_filter=only))
            got += rows_of(resp)
            lost_flags.append(resp.metadata.data_loss_from_other_row)
        assert sorted(got) == sorted(r for r in whole if r[0][1] != "(other)")
        assert all(lost_flags)
    finally:
        set_meta(store_path, "ga4_other_row_threshold", 0)
