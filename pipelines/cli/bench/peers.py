"""What our connectors are measured against, in the same bench run over the same sandbox:

* **naive** — the same official client used the obvious way: HubSpot's ``hubspot-api-client``
  models (``basic_api.get_page``, the v4 association ``batch_api.get_page``, owners,
  pipelines), ``simple-salesforce``'s ``query_all`` per object, ``google-analytics-data``'s
  ``run_report`` paged with ``offset``; each page's records as dicts
  (``to_dict()``/proto fields) into ``pyarrow.Table.from_pylist`` and ``INSERT`` into DuckDB
  (append only: no upsert, cursor, quarantine or delete handling);
* **wire** — a bare HTTP loop (``requests``, one keep-alive session, ``json`` decoding) over
  the same pages, writing nothing: the ceiling any client could reach against these fakes.

Both read what our full sync reads: HubSpot's live and archived lists of contacts, companies
and deals (100 per page, the same properties), deal->contact associations (1,000 deals per
batch read), owners and deal pipelines; Salesforce's objects with the connector's own SOQL
(fields from describe, history objects from ``HISTORY_START_DATE``) over REST ``queryAll``
(2,000 per page; our connector reads the large objects over Bulk 2.0 CSV instead); GA4's
per-visitor report one date per request for every date with sessions and the traffic report
one calendar month per request, at the connector's page size. Setup that is no part of
reading (the OAuth token, Salesforce's describes to learn the fields) happens before the
clock starts; the bench times the whole child process for every contender alike.

``python -m pipelines.cli.bench.peers naive|wire SOURCE`` runs one in the sandbox's
environment (``DUCKDB_PATH`` for naive) and prints ``total: N records``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import requests

SOURCES = ("hubspot", "salesforce", "ga4")
KINDS = ("naive", "wire")


# -- writing, the obvious way ------------------------------------------------------------------
class NaiveWriter:
    """Each page appended to a table named after what it holds, created from the first page."""

    def __init__(self, path: str) -> None:
        import duckdb

        self.conn = duckdb.connect(path)
        self.created: set[str] = set()
        self.records = 0

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        if not rows:
            return
        batch = pa.Table.from_pylist(rows)
        self.conn.register("page", batch)
        if table not in self.created:
            self.conn.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM page LIMIT 0')
            self.created.add(table)
        self.conn.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM page')
        self.conn.unregister("page")
        self.records += len(rows)


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A HubSpot object as one row: its properties beside id and timestamps, as text."""
    row = {k: (str(v) if v is not None else None) for k, v in (record.get("properties") or {}).items()}
    row.update({"id": str(record.get("id")), "created_at": str(record.get("created_at") or ""),
                "updated_at": str(record.get("updated_at") or ""),
                "archived": bool(record.get("archived"))})
    return row


# -- HubSpot -----------------------------------------------------------------------------------
def _hubspot_env() -> tuple[str, str, dict[str, list[str]]]:
    from connectors import hubspot
    from connectors.source import Settings
    from connectors.warehouse import Warehouse

    settings = Settings.from_environment(None)
    source = hubspot.HubSpotSource(settings, Warehouse(":memory:"))
    props = {t: source.properties_for(t) for t in hubspot.OBJECTS}
    base = (settings.get("HUBSPOT_BASE_URL") or hubspot.DEFAULT_BASE_URL).rstrip("/")
    return base, settings.get("HUBSPOT_ACCESS_TOKEN") or "", props


def hubspot_wire(_writer: NaiveWriter | None = None) -> int:
    base, token, props = _hubspot_env()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    records = 0
    deal_ids: list[str] = []

    def pages(url: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            page = json.loads(http.get(url, params={**params, **({"after": after} if after else {})},
                                       timeout=60).content)
            yield page
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    for t, names in props.items():
        for archived in ("false", "true"):
            for page in pages(f"{base}/crm/v3/objects/{t}",
                              {"limit": 100, "properties": ",".join(names), "archived": archived}):
                results = page.get("results") or []
                records += len(results)
                if t == "deals" and archived == "false":
                    deal_ids.extend(str(r["id"]) for r in results)
    for i in range(0, len(deal_ids), 1000):
        body = {"inputs": [{"id": d} for d in deal_ids[i:i + 1000]]}
        page = json.loads(http.post(f"{base}/crm/v4/associations/deals/contacts/batch/read",
                                    json=body, timeout=60).content)
        records += sum(len(item.get("to") or []) for item in page.get("results") or [])
    for page in pages(f"{base}/crm/v3/owners", {"limit": 100}):
        records += len(page.get("results") or [])
    for page in pages(f"{base}/crm/v3/owners", {"limit": 100, "archived": "true"}):
        records += len(page.get("results") or [])
    page = json.loads(http.get(f"{base}/crm/v3/pipelines/deals", timeout=60).content)
    records += len(page.get("results") or [])
    return records


def hubspot_naive(writer: NaiveWriter) -> int:
    import hubspot as hs
    from hubspot.crm.associations.v4 import (
        BatchInputPublicFetchAssociationsBatchRequest,
        PublicFetchAssociationsBatchRequest,
    )

    base, token, props = _hubspot_env()
    client = hs.Client.create(access_token=token, host=base)
    deal_ids: list[str] = []
    for t, names in props.items():
        for archived in (False, True):
            after = None
            while True:
                kwargs: dict[str, Any] = {"limit": 100, "properties": names, "archived": archived}
                if after:
                    kwargs["after"] = after
                page = client.crm.objects.basic_api.get_page(t, **kwargs)
                rows = [_flat(r.to_dict()) for r in page.results]
                writer.write(f"{t}_archived" if archived else t, rows)
                if t == "deals" and not archived:
                    deal_ids.extend(r["id"] for r in rows)
                after = page.paging.next.after if page.paging and page.paging.next else None
                if not after:
                    break
    api = client.crm.associations.v4.batch_api
    for i in range(0, len(deal_ids), 1000):
        body = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=d) for d in deal_ids[i:i + 1000]])
        page = api.get_page("deals", "contacts", body)
        writer.write("deal_contact_associations", [
            {"deal_id": str(item._from.id), "contact_id": str(to.to_object_id),
             "type_id": at.type_id, "category": at.category}
            for item in page.results for to in item.to for at in to.association_types])
    for archived in (False, True):
        after = None
        while True:
            kwargs = {"limit": 100, "archived": archived, **({"after": after} if after else {})}
            page = client.crm.owners.owners_api.get_page(**kwargs)
            writer.write("owners", [{k: (str(v) if v is not None else None)
                                     for k, v in r.to_dict().items() if k != "teams"}
                                    for r in page.results])
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                break
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals")
    writer.write("deal_pipelines", [{"id": p.id, "label": p.label} for p in pipelines.results])
    return writer.records


# -- Salesforce --------------------------------------------------------------------------------
def _salesforce_queries() -> tuple[Any, list[tuple[str, str]]]:
    """The connector's client (authenticated) and its full-sync SOQL per object (setup: the
    token and the describes, as in the connector)."""
    from connectors.salesforce import OBJECTS, SalesforceSource
    from connectors.source import Settings
    from connectors.warehouse import Warehouse

    source = SalesforceSource(Settings.from_environment(None), Warehouse(":memory:"))
    queries = []
    for spec in OBJECTS:
        plan = source._plan(spec)
        if plan is None:
            continue
        since, _ = source._window_start(plan, True)
        queries.append((spec.sobject, source._soql(plan, since, ordered=False)))
    return source.client, queries


def salesforce_wire(_writer: NaiveWriter | None = None) -> int:
    from connectors.salesforce_client import API_VERSION

    client, queries = _salesforce_queries()
    sf = client.sf
    http = requests.Session()
    if os.environ.get("SALESFORCE_CA_BUNDLE"):
        http.verify = os.environ["SALESFORCE_CA_BUNDLE"]
        http.trust_env = False   # REQUESTS_CA_BUNDLE would override verify
    http.headers["Authorization"] = f"Bearer {sf.session_id}"
    base = f"https://{sf.sf_instance}"
    records = 0
    for _, soql in queries:
        url = f"{base}/services/data/v{API_VERSION}/queryAll?q={urllib.parse.quote(soql)}"
        while url:
            page = json.loads(http.get(url, timeout=120).content)
            records += len(page.get("records") or [])
            nxt = page.get("nextRecordsUrl")
            url = (nxt if nxt.startswith("http") else base + nxt) if nxt else ""
    return records


def salesforce_naive(writer: NaiveWriter) -> int:
    client, queries = _salesforce_queries()
    sf = client.sf
    for sobject, soql in queries:
        result = sf.query_all(soql, include_deleted=True)
        writer.write(sobject, [{k: v for k, v in r.items() if k != "attributes"}
                               for r in result["records"]])
    return writer.records


# -- GA4 ---------------------------------------------------------------------------------------
def _ga4_plan() -> tuple[Any, list[tuple[str, list[str], list[str], str, str]]]:
    """The connector's GA4 source (credentials loaded) and the requests of a full sync:
    (report, dimensions, metrics, start, end) per date / month holding sessions."""
    from connectors.ga4 import GA4Source, _months
    from connectors.ga4_reports import reports
    from connectors.source import Settings
    from connectors.warehouse import Warehouse

    source = GA4Source(Settings.from_environment(None), Warehouse(":memory:"))
    days = source.probe(source.history_start()[0])
    plan = []
    for spec in reports(source.visitor_dimension).values():
        dims, mets = spec.dimension_names, [m for m, _ in spec.metrics]
        if spec.name == "traffic_daily":
            for a, b in _months(min(days), max(days)):
                if any(a <= d <= b for d in days):
                    plan.append((spec.name, dims, mets, a.isoformat(), b.isoformat()))
        else:
            plan.extend((spec.name, dims, mets, d.isoformat(), d.isoformat()) for d in sorted(days))
    return source, plan


def ga4_wire(_writer: NaiveWriter | None = None) -> int:
    import google.auth.transport.requests

    source, plan = _ga4_plan()
    credentials = source.client()._transport._credentials
    credentials.refresh(google.auth.transport.requests.Request())
    endpoint = (source.settings.get("GA4_API_ENDPOINT") or "https://analyticsdata.googleapis.com").rstrip("/")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {credentials.token}"
    url = f"{endpoint}/v1beta/{source.property_name}:runReport"
    records = 0
    for _, dims, mets, a, b in plan:
        offset = 0
        while True:
            body = {"dimensions": [{"name": d} for d in dims], "metrics": [{"name": m} for m in mets],
                    "dateRanges": [{"startDate": a, "endDate": b}],
                    "orderBys": [{"dimension": {"dimensionName": d}} for d in dims],
                    "limit": source.page_size, "offset": offset, "returnPropertyQuota": True}
            page = json.loads(http.post(url, json=body, timeout=120).content)
            rows = page.get("rows") or []
            records += len(rows)
            offset += len(rows)
            if not rows or offset >= int(page.get("rowCount") or 0):
                break
    return records


def ga4_naive(writer: NaiveWriter) -> int:
    from google.analytics.data_v1beta.types import (
        DateRange,
        Dimension,
        Metric,
        OrderBy,
        RunReportRequest,
    )

    source, plan = _ga4_plan()
    client = source.client()
    for name, dims, mets, a, b in plan:
        offset = 0
        while True:
            response = client.run_report(RunReportRequest(
                property=source.property_name, dimensions=[Dimension(name=d) for d in dims],
                metrics=[Metric(name=m) for m in mets], date_ranges=[DateRange(start_date=a, end_date=b)],
                order_bys=[OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name=d)) for d in dims],
                limit=source.page_size, offset=offset))
            heads = [h.name for h in response.dimension_headers] + [h.name for h in response.metric_headers]
            rows = [dict(zip(heads, [v.value for v in r.dimension_values]
                             + [v.value for v in r.metric_values], strict=True)) for r in response.rows]
            writer.write(name, rows)
            offset += len(rows)
            if not rows or offset >= response.row_count:
                break
    return writer.records


RUNNERS: dict[tuple[str, str], Callable[..., int]] = {
    ("hubspot", "wire"): hubspot_wire, ("hubspot", "naive"): hubspot_naive,
    ("salesforce", "wire"): salesforce_wire, ("salesforce", "naive"): salesforce_naive,
    ("ga4", "wire"): ga4_wire, ("ga4", "naive"): ga4_naive,
}


def run(kind: str, source: str, warehouse: str | None = None) -> int:
    """One contender over the sandbox this environment points at; returns the records read."""
    fn = RUNNERS[(source, kind)]
    if kind == "naive":
        writer = NaiveWriter(warehouse or os.environ["DUCKDB_PATH"])
        try:
            return fn(writer)
        finally:
            writer.conn.close()
    return fn()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in KINDS or argv[1] not in SOURCES:
        print("usage: python -m pipelines.cli.bench.peers naive|wire hubspot|salesforce|ga4",
              file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.UTC)
    records = run(argv[0], argv[1])
    print(f"total: {records} records ({argv[0]} {argv[1]}, "
          f"{(dt.datetime.now(dt.UTC) - started).total_seconds():.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
