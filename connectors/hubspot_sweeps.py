"""The HubSpot reads an incremental sync cannot replace: changes that leave no modified date.

* :func:`reconcile` - **records deleted for good** (a GDPR delete, a record purged from the
  recycle bin 90 days after it was deleted) are in neither the live nor the archived list, so
  no "changed since" read ever sees them go. An id-only listing of every live record
  (``GET /crm/v3/objects/{t}?properties=hs_object_id``, 100 ids per request; the list reads
  the database, not the lagging search index) finds the live rows we hold that HubSpot no
  longer has, and marks them deleted (a deal with its associations). Run weekly by the
  Dagster ``reconciliation`` job, or ``advocacy sync --reconcile``; a ``--full-refresh``
  reconciles too.
* :func:`sweep_associations` - **associations added or removed without touching the deal**:
  associating a contact with a deal moves neither record's modified date, so the deal never
  shows up in a search for changes. Every ``HUBSPOT_ASSOCIATION_SWEEP_DAYS`` days (default 7)
  the deals sync reads the associations of every live deal we hold again (v4 batch read,
  1,000 deals per request) and replaces their rows. A full listing reads every deal's
  associations anyway, so it counts as a sweep.

Both refuse to act on an answer that would delete more than :data:`MAX_VANISHED_SHARE` of
what we hold (a token for another portal, an API outage answering empty lists): that is a
configuration problem to look at, not a mass deletion to commit.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from connectors import schema as raw
from connectors.source import ObjectResult, SourceStopped

if TYPE_CHECKING:
    from connectors.hubspot import HubSpotSource

log = logging.getLogger(__name__)

SWEEP_KEY = "deal_contact_associations:sweep"   # state: {"at_ms": when the last sweep began}
RECONCILE_KEY = "reconcile"                      # state: {"at_ms", "deleted": {object: n}}
DEFAULT_SWEEP_DAYS = 7.0
MAX_VANISHED_SHARE = 0.5
DAY_MS = 86_400_000


def now_ms(source: HubSpotSource) -> int:
    """HubSpot's clock (the latest response's ``Date``), else this machine's."""
    return source.last_server_time_ms or int(time.time() * 1000)


# -- reconciliation --------------------------------------------------------------------------
def reconcile(source: HubSpotSource, objects: tuple[str, ...] | list[str]) -> list[ObjectResult]:
    """Id-only listing of each object in ``objects``; live rows HubSpot no longer lists are
    marked deleted. One :class:`ObjectResult` per object (``deleted``, ``requests``)."""
    from connectors.hubspot import LIST_LIMIT, OBJECT_TABLES

    wh = source.warehouse
    out: list[ObjectResult] = []
    counts: dict[str, int] = {}
    for t in objects:
        res = ObjectResult(t, note="reconcile")
        started, before = time.monotonic(), source.requests
        wh.ensure_table(OBJECT_TABLES[t])
        source.progress.start(source.name, f"{t} (reconcile)")
        seen = seen_table(source, t)
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_LIMIT, "properties": ["hs_object_id"], "archived": False}
            if after:
                kwargs["after"] = after
            page = source._call(f"list {t} ids", source.api("crm.objects.basic_api").get_page, t, **kwargs)[1]
            res.pages += 1
            add_seen(source, t, page.get("results") or [])
            res.records += len(page.get("results") or [])
            source.progress.page(source.name, t, res.pages, res.records)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        res.deleted = mark_vanished(source, t, seen)
        counts[t] = res.deleted
        res.note = f"reconcile: {res.records} ids listed, {res.deleted} records no longer in HubSpot marked deleted"
        res.requests, res.seconds = source.requests - before, time.monotonic() - started
        source.progress.done(source.name, res)
        out.append(res)
    with wh.transaction():
        wh.set_cursor(source.schema, RECONCILE_KEY, {"at_ms": now_ms(source), "deleted": counts})
    return out


SEEN_FLUSH = 20_000     # listed ids held in Python before they go into the seen table


def seen_table(source: HubSpotSource, t: str) -> str:
    name = f"__hs_seen_{t}"
    source.warehouse.conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} (id VARCHAR)")
    source.seen_ids[t] = []
    return name


def add_seen(source: HubSpotSource, t: str, results: list[dict[str, Any]]) -> None:
    """The ids of a listed page, into the seen table in statements of up to ``SEEN_FLUSH``
    (one per page cost 5 % of a full sync); :func:`mark_vanished` flushes the rest first."""
    pending = source.seen_ids.setdefault(t, [])
    pending.extend(str(o["id"]) for o in results if isinstance(o, dict) and o.get("id") is not None)
    if len(pending) >= SEEN_FLUSH:
        flush_seen(source, t)


def flush_seen(source: HubSpotSource, t: str) -> None:
    pending = source.seen_ids.get(t)
    if pending:
        source.warehouse.with_ids(f"INSERT INTO __hs_seen_{t} {{ids}}", pending)
        pending.clear()


def mark_vanished(source: HubSpotSource, t: str, seen: str) -> int:
    """Live rows of ``t`` whose id is not in the ``seen`` table: marked deleted (a deal with its
    associations). Refuses (:class:`SourceStopped`) when that would be most of them."""
    from connectors.hubspot import OBJECT_TABLES, T_ASSOC

    wh = source.warehouse
    table = OBJECT_TABLES[t]
    flush_seen(source, t)
    try:
        live = wh.conn.execute(f"SELECT count(*) FROM {table.schema}.{raw.quote(table.name)} "
                               "WHERE NOT coalesce(_is_deleted, false)").fetchone()[0]
        gone = [i for (i,) in wh.conn.execute(
            f"SELECT id FROM {table.schema}.{raw.quote(table.name)} WHERE NOT coalesce(_is_deleted, false) "
            f"AND id NOT IN (SELECT id FROM {seen})").fetchall()]
        if len(gone) > 10 and len(gone) > MAX_VANISHED_SHARE * live:
            raise SourceStopped(
                f"hubspot {t}: {len(gone)} of {live} stored records are not in HubSpot's listing; "
                "not marking them deleted (is HUBSPOT_ACCESS_TOKEN for the same portal?)")
        with wh.transaction():
            if gone:
                wh.mark_deleted(table, gone)
                if t == "deals":
                    wh.with_ids(f"DELETE FROM {T_ASSOC.schema}.{raw.quote(T_ASSOC.name)} "
                                "WHERE deal_id IN ({ids})", gone)
        if gone:
            log.info("hubspot %s: %d records no longer in HubSpot marked deleted", t, len(gone))
        return len(gone)
    finally:
        wh.conn.execute(f"DROP TABLE IF EXISTS {seen}")


# -- association sweep -----------------------------------------------------------------------
def sweep_days(source: HubSpotSource) -> float:
    from connectors.source import InvalidSetting

    value = source.settings.get("HUBSPOT_ASSOCIATION_SWEEP_DAYS")
    try:
        days = float(value) if value is not None else DEFAULT_SWEEP_DAYS
    except ValueError:
        days = -1.0
    if days < 0:
        raise InvalidSetting(f"HUBSPOT_ASSOCIATION_SWEEP_DAYS={value}: expected a number of days "
                             f">= 0 (0: every run; default {DEFAULT_SWEEP_DAYS:g})")
    return days


def sweep_due(source: HubSpotSource) -> bool:
    state = source.warehouse.get_cursor(source.schema, SWEEP_KEY)
    at = state.get("at_ms") if isinstance(state, dict) else None
    return at is None or now_ms(source) - int(at) >= sweep_days(source) * DAY_MS


def record_sweep(source: HubSpotSource, at_ms: int) -> None:
    """Inside the caller's transaction: every live deal's associations were read as of ``at_ms``."""
    source.warehouse.set_cursor(source.schema, SWEEP_KEY, {"at_ms": int(at_ms)})


def sweep_associations(source: HubSpotSource, assoc: ObjectResult | None) -> int:
    """Read the associations of every live deal we hold that this run did not read, 1,000 per
    request, replacing their rows (as a deal page's are). Returns how many deals were read."""
    from connectors.hubspot import ASSOC_BATCH, T_DEALS

    started_at = now_ms(source)
    ids = sorted({i for (i,) in source.warehouse.conn.execute(
        f"SELECT id FROM {T_DEALS.schema}.{raw.quote(T_DEALS.name)} "
        "WHERE NOT coalesce(_is_deleted, false)").fetchall()} - source._assoc_attempted)
    for i in range(0, len(ids), ASSOC_BATCH):
        batch = ids[i:i + ASSOC_BATCH]
        rows, read_ids, failed = source._associations(batch, assoc)
        source._assoc_attempted.update(batch)
        with source.warehouse.transaction():
            source._write_associations(rows, read_ids, failed)
        if assoc is not None:
            assoc.records += len(rows)
            assoc.quarantined += len(failed)
    with source.warehouse.transaction():
        record_sweep(source, started_at)
    if assoc is not None:
        assoc.note = f"swept the associations of {len(ids)} deals"
    return len(ids)
