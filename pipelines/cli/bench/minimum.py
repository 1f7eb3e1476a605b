"""What the APIs hold (from the world store) and the minimum requests a client needs for it at
the page sizes the APIs allow; what changed between two worlds."""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

from connectors.hubspot import DEFAULT_LOOKBACK_MINUTES as HUBSPOT_LOOKBACK_MINUTES

# Page sizes the APIs allow (the ceilings the minimum is computed with).
HUBSPOT_LIST_MAX = 100          # GET /crm/v3/objects/{t}, /crm/v3/owners
HUBSPOT_SEARCH_MAX = 200        # POST /crm/v3/objects/{t}/search
HUBSPOT_ASSOC_BATCH_MAX = 1_000  # POST /crm/v4/associations/{from}/{to}/batch/read
SALESFORCE_REST_BATCH = 2_000   # query / queryAll / nextRecordsUrl
SALESFORCE_BULK_PAGE = 50_000   # Bulk 2.0 results page (maxRecords as the connector asks)
SALESFORCE_BATCH_MAX = 25       # Composite Batch subrequests
GA4_MAX_ROWS = 250_000          # runReport limit
HUBSPOT_OBJECTS = ("contacts", "companies", "deals")
# the project's variables that would change what a sync reads: never taken from the caller


# -- what the APIs hold (from the world store), and the minimum requests ----------------------------
def _pages(n: int, size: int) -> int:
    """Requests to read ``n`` records at ``size`` per page: an empty list still costs one."""
    return max(1, math.ceil(n / size))


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def world_clock(store_path: Path) -> dt.date:
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        return dt.date.fromisoformat(json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = 'clock'").fetchone()[0]))
    finally:
        conn.close()


def holdings(store_path: Path) -> dict[str, Any]:
    """Records each API serves, read straight from the world store, plus the high-water marks
    an incremental run starts from."""
    from connectors.salesforce import OBJECTS as SF_OBJECTS
    from connectors.salesforce import SalesforceSource
    from connectors.source import Settings

    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        hs: dict[str, dict[str, int]] = {}
        for t in HUBSPOT_OBJECTS:
            live, archived, newest = conn.execute(
                "SELECT coalesce(sum(archived = 0), 0), coalesce(sum(archived = 1), 0), "
                "coalesce(max(CASE WHEN archived = 0 THEN updated_at_ms END), 0) "
                "FROM hubspot_object WHERE object_type = ?",
                (t,)).fetchone()
            hs[t] = {"live": int(live), "archived": int(archived), "newest_ms": int(newest)}
        live, archived = conn.execute(
            "SELECT coalesce(sum(archived = 0), 0), coalesce(sum(archived = 1), 0) "
            "FROM hubspot_owner").fetchone()
        hs["owners"] = {"live": int(live), "archived": int(archived)}

        history_start = SalesforceSource(Settings({}), None).history_start()  # type: ignore[arg-type]
        hist_iso = history_start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        sf: dict[str, dict[str, Any]] = {}
        for spec in SF_OBJECTS:
            col = "created_date" if spec.history else "system_modstamp"
            where = "sobject = ? AND purged = 0"
            params: list[Any] = [spec.sobject]
            if spec.history:
                where += " AND created_date >= ?"
                params.append(hist_iso)
            n, newest = conn.execute(
                f"SELECT count(*), max({col}) FROM sf_record WHERE {where}", params).fetchone()
            sf[spec.sobject] = {"records": int(n), "newest": newest, "cursor_column": col,
                                "history": spec.history}

        clock = dt.date.fromisoformat(json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = 'clock'").fetchone()[0]))
        first = (clock - dt.timedelta(days=730)).strftime("%Y%m%d")
        last = (clock - dt.timedelta(days=1)).strftime("%Y%m%d")
        visitor = dict(conn.execute(
            "SELECT date, count(*) FROM (SELECT DISTINCT date, visitor_id, source, medium, "
            "campaign, ad_content, term FROM ga4_row WHERE date BETWEEN ? AND ?) "
            "GROUP BY date", (first, last)).fetchall())
        traffic = dict(conn.execute(
            "SELECT date, count(*) FROM (SELECT DISTINCT date, source, medium, campaign, "
            "ad_content FROM ga4_row WHERE date BETWEEN ? AND ?) GROUP BY date",
            (first, last)).fetchall())
        per_day = {d: (int(n), int(s)) for d, n, s in conn.execute(
            "SELECT date, count(*), sum(sessions) FROM ga4_row WHERE date BETWEEN ? AND ? "
            "GROUP BY date", (first, last)).fetchall()}
        data_days = sorted(d for d, (_, s) in per_day.items() if s > 0)
        ga4 = {"dates": len(data_days), "data_days": data_days,
               "visitor_rows": {d: visitor.get(d, 0) for d in data_days},
               "traffic_rows": {d: traffic.get(d, 0) for d in data_days},
               "per_day": per_day}
    finally:
        conn.close()
    return {"hubspot": hs, "salesforce": sf, "ga4": ga4, "clock": clock.isoformat()}


def full_minimum(h: dict[str, Any], described: set[str] | None) -> dict[str, dict[str, Any]]:
    """The fewest requests that can read everything the APIs hold, at the largest page sizes
    the APIs allow: the record pages (``data_minimum``) plus the few requests no client can do
    without (``fixed``).

    * HubSpot: per object ``ceil(live/100)`` list pages + ``ceil(archived/100)`` archived
      pages (an empty list still costs one request), owners the same, 1 pipelines request,
      ``ceil(live deals/1000)`` association batch reads. Fixed: none (a private-app token
      needs no request; properties are asked for by name).
    * Salesforce: per object the org has (its describe answered) the cheaper of REST,
      ``ceil(records/2000)`` query pages (at least one), and Bulk 2.0, one job create plus
      ``ceil(records/50000)`` result pages. Fixed: the OAuth token, and one Composite Batch
      per 25 objects for their describes (fields are discovered, not configured: a new field
      must become a column).
    * GA4: per date with sessions, one per-visitor request, and per calendar month one traffic
      request, times ``ceil(rows/250000)`` pages. Fixed: one request that says which dates hold sessions
      (without it, every empty date of the window costs two requests).

    Nothing else is in the minimum: no record count, status poll, job delete or snapshot."""
    hs = h["hubspot"]
    hub = 0
    detail_h: dict[str, int] = {}
    for t in HUBSPOT_OBJECTS:
        n = _pages(hs[t]["live"], HUBSPOT_LIST_MAX) + _pages(hs[t]["archived"], HUBSPOT_LIST_MAX)
        detail_h[t] = n
        hub += n
    detail_h["owners"] = (_pages(hs["owners"]["live"], HUBSPOT_LIST_MAX)
                          + _pages(hs["owners"]["archived"], HUBSPOT_LIST_MAX))
    detail_h["pipelines"] = 1
    detail_h["associations"] = math.ceil(hs["deals"]["live"] / HUBSPOT_ASSOC_BATCH_MAX)
    hub += detail_h["owners"] + detail_h["pipelines"] + detail_h["associations"]

    detail_s = salesforce_minimum({o: info["records"] for o, info in h["salesforce"].items()},
                                  described)
    sf_data = sum(pages for pages, _ in detail_s.values())
    sf_fixed = (1 + math.ceil(len(detail_s) / SALESFORCE_BATCH_MAX)
                + sum(jobs for _, jobs in detail_s.values()))

    g = h["ga4"]
    # the per-visitor report one date per request (GA's (other) rule acts per date), the
    # traffic report one calendar month per request (date is one of its dimensions)
    months: dict[str, int] = {}
    for d in g["data_days"]:
        months[d[:6]] = months.get(d[:6], 0) + g["traffic_rows"][d]
    ga = (sum(_pages(g["visitor_rows"][d], GA4_MAX_ROWS) for d in g["data_days"])
          + sum(_pages(n, GA4_MAX_ROWS) for n in months.values()))
    return {"hubspot": {"minimum": hub, "data_minimum": hub, "fixed": 0, "detail": detail_h},
            "salesforce": {"minimum": sf_data + sf_fixed, "data_minimum": sf_data,
                           "fixed": sf_fixed,
                           "detail": {o: {"pages": p, "bulk": bool(j)} for o, (p, j) in detail_s.items()}},
            "ga4": {"minimum": ga + 1, "data_minimum": ga, "fixed": 1,
                    "detail": {"dates": g["dates"], "reports": 2}}}


def salesforce_minimum(records: dict[str, int], described: set[str] | None) -> dict[str, tuple[int, int]]:
    """Per object the org has (objects without a describe cost nothing): (record pages, Bulk
    jobs) of the cheaper way to read ``n`` records, REST (``ceil(n/2000)`` pages, at least one)
    or Bulk 2.0 (one job create, then ``ceil(n/50000)`` result pages); a tie goes to REST."""
    out: dict[str, tuple[int, int]] = {}
    for sobject, n in records.items():
        if described is not None and sobject not in described:
            continue
        rest = _pages(n, SALESFORCE_REST_BATCH)
        bulk = _pages(n, SALESFORCE_BULK_PAGE)
        out[sobject] = (bulk, 1) if 1 + bulk < rest else (rest, 0)
    return out


def changes(before: dict[str, Any], after_store: Path, *, deletable: set[str] | None = None,
            hubspot_lookback_ms: int = HUBSPOT_LOOKBACK_MINUTES * 60_000,
            salesforce_lookback: dt.timedelta = dt.timedelta(minutes=5)) -> dict[str, dict[str, Any]]:
    """What changed in the world since ``before`` (a :func:`holdings`), and the minimum an
    incremental run needs to read it and notice deletes:

    * HubSpot: ``ceil(changed/200)`` search pages per object + every archived list (search
      never returns archived records) + owners + pipelines + ``ceil(changed deals/1000)``
      association reads;
    * Salesforce: the token and the describes' Composite Batch, + the cheaper of
      ``ceil(changed/2000)`` REST pages and a Bulk job (create + ``ceil(changed/50000)``) per
      object (changed = cursor column at or after
      the previous run's newest value minus the connector's lookback), + one
      ``sobjects/{O}/deleted`` per object with ``IsDeleted`` (purges leave no row to query) +
      the recycle bin of each history object with ``IsDeleted`` (a deleted history row keeps
      its CreatedDate, so the CreatedDate window cannot see it);
    * GA4: the date probe + one request per report per date whose data differ (new or
      revised)."""
    after = holdings(after_store)
    conn = sqlite3.connect(f"file:{after_store}?mode=ro", uri=True)
    try:
        hub_changed: dict[str, int] = {}
        hub_min = 0
        for t in HUBSPOT_OBJECTS:
            floor = before["hubspot"][t]["newest_ms"] - hubspot_lookback_ms
            n = conn.execute("SELECT count(*) FROM hubspot_object WHERE object_type = ? AND "
                             "archived = 0 AND updated_at_ms >= ?", (t, floor)).fetchone()[0]
            hub_changed[t] = int(n)
            hub_min += _pages(n, HUBSPOT_SEARCH_MAX) + _pages(after["hubspot"][t]["archived"],
                                                              HUBSPOT_LIST_MAX)
        hub_min += (_pages(after["hubspot"]["owners"]["live"], HUBSPOT_LIST_MAX)
                    + _pages(after["hubspot"]["owners"]["archived"], HUBSPOT_LIST_MAX) + 1
                    + math.ceil(hub_changed["deals"] / HUBSPOT_ASSOC_BATCH_MAX))

        sf_changed: dict[str, int] = {}
        sf_min = 0
        for sobject, info in before["salesforce"].items():
            col = info["cursor_column"]
            newest = info["newest"]
            if newest:
                floor = (dt.datetime.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")
                         - salesforce_lookback).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                n = conn.execute(f"SELECT count(*) FROM sf_record WHERE sobject = ? AND "
                                 f"purged = 0 AND {col} >= ?", (sobject, floor)).fetchone()[0]
            else:
                n = after["salesforce"][sobject]["records"]
            sf_changed[sobject] = int(n)
            sf_min += min(_pages(n, SALESFORCE_REST_BATCH), 1 + _pages(n, SALESFORCE_BULK_PAGE))
            if deletable is not None and sobject in deletable:
                sf_min += 1
                if info["history"]:
                    binned = conn.execute("SELECT count(*) FROM sf_record WHERE sobject = ? AND "
                                          "is_deleted = 1 AND purged = 0", (sobject,)).fetchone()[0]
                    sf_min += _pages(int(binned), SALESFORCE_REST_BATCH)
    finally:
        conn.close()

    old_days, new_days = before["ga4"]["per_day"], after["ga4"]["per_day"]
    changed_days = sorted(d for d in new_days if new_days[d] != old_days.get(d))
    changed_data = [d for d in changed_days if new_days[d][1] > 0]
    # the date probe, a per-visitor request per changed date, a traffic request per month
    ga_min = 1 + len(changed_data) + len({d[:6] for d in changed_data})
    sf_min += 1 + math.ceil(len(before["salesforce"]) / SALESFORCE_BATCH_MAX)  # token, describes
    return {
        "hubspot": {"changed": sum(hub_changed.values()), "detail": hub_changed, "minimum": hub_min},
        "salesforce": {"changed": sum(sf_changed.values()), "detail": sf_changed, "minimum": sf_min},
        "ga4": {"changed": sum(new_days[d][0] for d in changed_days),
                "changed_dates": len(changed_days), "minimum": ga_min},
    }
