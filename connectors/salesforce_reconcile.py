"""The Salesforce id-only reconciliation: what incremental syncs cannot see, found cheaply.

Incremental syncs read ``SystemModstamp`` windows and the delete log (``getDeleted``). Both
miss things a real org does (docs/API_BEHAVIOUR.md):

* the delete log keeps at most 15 days, is **purged early** when large (every two hours,
  oldest entries first) and answers ``EXCEEDED_ID_LIMIT`` above 600,000 ids: a record deleted
  and purged in between is gone from every answer;
* **formula fields** (``calculated: true`` in describe) change when the records they read
  change, without moving their own record's ``SystemModstamp``;
* a row committed by a long transaction after a newer stamp was read can fall behind the
  cursor (the lookback covers 15 minutes, not hours).

So, per object (default weekly, Dagster job ``reconciliation``; ``advocacy sync --reconcile``):
one ``queryAll`` of ``Id, IsDeleted`` plus the object's formula fields, by REST (2,000 a page)
or Bulk API 2.0 (50,000 a page) whichever takes fewer requests, then

1. ids we hold live that Salesforce no longer returns at all (purged, hard-deleted), or
   returns from the recycle bin, are marked ``_is_deleted``;
2. live ids we do not hold are read whole by Id (200 per query);
3. formula values that differ from ours are updated in place.

History objects are read from ``HISTORY_START_DATE`` on (rows created before it are left
alone, as a full refresh does). Objects without ``IsDeleted`` (User, reference data) are left
out: they are never deleted. Cost at scale 10: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceError

from connectors.salesforce_client import SalesforceAuthError, auth_config, error_message
from connectors.salesforce_soql import convert, soql_datetime, soql_quote
from connectors.schema import quote
from connectors.source import ObjectResult, SourceStopped, SyncResult
from connectors.warehouse import utcnow

if TYPE_CHECKING:   # the source module imports this one
    from connectors.salesforce import SalesforceSource, _Plan

log = logging.getLogger(__name__)

REREAD_IDS = 200          # ids per "Id IN (...)" query: far below REST's URI limit


def reconcile(source: SalesforceSource, objects: list[str] | None = None) -> SyncResult:
    """Reconcile every deletable object (or ``objects``) with Salesforce; see the module doc."""
    from connectors.salesforce import OBJECTS, _CursorTracker, _is_missing, _wanted

    auth_config(source.settings, source.name)
    source.history_start()
    wanted = _wanted(objects)
    result = SyncResult(source.name)
    specs = [s for s in OBJECTS if s.sobject in wanted]
    for spec in specs:
        source.warehouse.ensure_table(spec.table)
    try:
        source._prefetch(specs, False)
        for spec in specs:
            started = time.monotonic()
            before = source.client.session.count
            res = ObjectResult(spec.table.name)
            source.progress.start(source.name, spec.table.name)
            try:
                plan = source._plan(spec)
            except SalesforceError as exc:
                if spec.optional and _is_missing(exc):
                    plan = None
                else:
                    raise
            if plan is None or not plan.deletable or not plan.replicateable:
                res.note = "skipped: never deleted (no IsDeleted)" if plan else "skipped: absent"
            elif not _held(source, plan):
                res.note = "skipped: nothing held yet (sync first)"
            else:
                res.note = "; ".join(_reconcile_object(source, plan, res, _CursorTracker(plan, None)))
            # the first object carries the up-front requests (token, the describe batch)
            res.requests = source.client.session.count - before + source._prefetch_requests
            source._prefetch_requests = 0
            res.seconds = time.monotonic() - started
            result.objects.append(res)
            source.progress.done(source.name, res)
    except SalesforceAuthError as exc:
        raise SourceStopped(f"salesforce reconciliation stopped: {exc}") from exc
    except SalesforceError as exc:
        raise SourceStopped(f"salesforce reconciliation stopped: {error_message(exc)} "
                            "(everything committed before this is kept)") from exc
    return result


def _held(source: SalesforceSource, plan: _Plan) -> int:
    t = plan.table
    return int(source.warehouse.conn.execute(
        f"SELECT count(*) FROM {t.schema}.{quote(t.name)}").fetchone()[0])


def _listing_soql(source: SalesforceSource, plan: _Plan) -> str:
    select = ", ".join(["Id", "IsDeleted", *(f.name for f in plan.calculated)])
    soql = f"SELECT {select} FROM {plan.spec.sobject}"
    if plan.spec.history and plan.cursor_field:
        soql += f" WHERE {plan.cursor_field} >= {soql_datetime(source.history_start())}"
    return soql


def _reconcile_object(source: SalesforceSource, plan: _Plan, res: ObjectResult,
                      tracker: Any) -> list[str]:
    from connectors.salesforce import bulk_pays

    wh = source.warehouse
    t = plan.table
    soql = _listing_soql(source, plan)
    held = _held(source, plan)
    how = "Bulk API 2.0" if bulk_pays(held, 0, source.bulk_threshold) else "REST"
    source._seen_reset(plan)
    live: list[str] = []
    binned: list[str] = []
    formulas: list[dict[str, Any]] = []
    pages = _rest_pages(source, plan, soql)
    if how == "Bulk API 2.0":
        try:
            pages = _bulk_pages(source, plan, soql)
        except SalesforceError as exc:    # the org refuses Bulk 2.0 for this object
            if exc.status not in (400, 403, 404):
                raise
            how = f"REST (Bulk API 2.0 refused: {error_message(exc)})"
    for page in pages:
        ids = [str(r["Id"]) for r in page if r.get("Id")]
        res.records += len(ids)
        res.pages += 1
        source._seen_add(plan, ids)
        for r in page:
            if not r.get("Id"):
                continue
            if convert("boolean", r.get("IsDeleted")):
                binned.append(str(r["Id"]))
                continue
            live.append(str(r["Id"]))
            if plan.calculated:
                row = {"id": str(r["Id"])}
                for f in plan.calculated:
                    try:
                        row[f.column] = convert(f.type, r.get(f.name))
                    except (ValueError, TypeError, ArithmeticError):
                        row[f.column] = None
                formulas.append(row)
        source.progress.page(source.name, t.name, res.pages, res.records)
    notes = [f"{res.records:,} ids listed by {how}"]
    notes += source._reconcile(plan, res)          # gone from Salesforce: marked deleted
    with wh.transaction():
        in_bin = wh.mark_deleted(t, binned)
    if in_bin:
        res.deleted += in_bin
        notes.append(f"{in_bin:,} records in the recycle bin marked deleted")
    missing = _missing(source, plan, live)
    if missing:
        select = ", ".join(f.name for f in plan.fields)
        read_before = res.records
        for i in range(0, len(missing), REREAD_IDS):
            chunk = ", ".join(soql_quote(x) for x in missing[i:i + REREAD_IDS])
            source._read_rest(plan, None, tracker, res, False, commit_cursor=False,
                              soql=f"SELECT {select} FROM {plan.spec.sobject} WHERE Id IN ({chunk})")
        res.records = read_before
        notes.append(f"{len(missing):,} records not held read by Id")
    if formulas:
        changed = _refresh_formulas(source, plan, formulas)
        notes.append(f"{changed:,} rows' formula fields refreshed "
                     f"({', '.join(f.name for f in plan.calculated)})")
    return notes


def _missing(source: SalesforceSource, plan: _Plan, live: list[str]) -> list[str]:
    if not live:
        return []
    t = plan.table
    conn = source.warehouse.conn
    # an Arrow view, not a list parameter: binding 100,000 ids as a list costs seconds
    conn.register("__sf_live_ids", pa.table({"id": pa.array(live, pa.string())}))
    try:
        return [r[0] for r in conn.execute(
            f"SELECT l.id FROM __sf_live_ids AS l WHERE NOT EXISTS (SELECT 1 FROM "
            f"{t.schema}.{quote(t.name)} AS t WHERE t.id = l.id) ORDER BY l.id").fetchall()]
    finally:
        conn.unregister("__sf_live_ids")


def _refresh_formulas(source: SalesforceSource, plan: _Plan, rows: list[dict[str, Any]]) -> int:
    """Formula values that differ from the ones we hold, updated on live rows (the formula
    columns only: the rest of the row keeps the version its SystemModstamp read)."""
    wh = source.warehouse
    t = plan.table
    have = wh.columns(t)
    cols = [f.column for f in plan.calculated if f.column in have]
    if not cols:
        return 0
    batch = pa.table({"id": pa.array([r["id"] for r in rows], pa.string()),
                      **{c: pa.array([None if r[c] is None else str(r[c]) for r in rows], pa.string())
                         for c in cols}})
    view = f"__sf_formulas_{t.name}"
    target = f"{t.schema}.{quote(t.name)}"
    differs = " OR ".join(f"t.{quote(c)} IS DISTINCT FROM CAST(b.{quote(c)} AS {have[c]})" for c in cols)
    sets = ", ".join(f"{quote(c)} = CAST(b.{quote(c)} AS {have[c]})" for c in cols)
    wh.conn.register(view, batch)
    try:
        with wh.transaction():
            row = wh.conn.execute(
                f"UPDATE {target} AS t SET {sets}, _synced_at = ? FROM {view} AS b "
                f"WHERE t.id = b.id AND NOT coalesce(t._is_deleted, false) AND ({differs})",
                [utcnow()]).fetchone()
    finally:
        wh.conn.unregister(view)
    return int(row[0]) if row else 0


def _rest_pages(source: SalesforceSource, plan: _Plan, soql: str) -> Iterator[list[dict[str, Any]]]:
    sobject = plan.spec.sobject
    page = source.client.call(f"reconcile {sobject}",
                              lambda sf: sf.query(soql, include_deleted=True))
    while True:
        yield [{k: v for k, v in r.items() if k != "attributes"} for r in page.get("records") or []]
        next_url = page.get("nextRecordsUrl")
        if page.get("done", True) or not next_url:
            return
        page = source.client.call(
            f"reconcile more {sobject}",
            lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True))


def _bulk_pages(source: SalesforceSource, plan: _Plan, soql: str) -> Iterator[list[dict[str, Any]]]:
    """The job is created here (its refusal raises now); the pages come as iterated."""
    sobject = plan.spec.sobject

    def client(sf: Any) -> Any:
        return getattr(sf.bulk2, sobject)._client

    job = source.client.call(f"reconcile bulk {sobject}",
                             lambda sf: client(sf).create_job(Operation.query_all, soql))
    return _bulk_results(source, sobject, job["id"], client)


def _bulk_results(source: SalesforceSource, sobject: str, job_id: str,
                  client: Any) -> Iterator[list[dict[str, Any]]]:
    from connectors.salesforce import BULK_MAX_RECORDS, _csv_values

    job = {"id": job_id}
    page = source._first_results(sobject, job_id, client)
    while True:
        yield list(_csv_values(page.get("records") or ""))
        locator = page.get("locator") or ""
        if not locator:
            return
        page = source.client.call(
            f"reconcile bulk results {sobject}",
            lambda sf, loc=locator: client(sf).get_query_results(job["id"], loc, BULK_MAX_RECORDS))

