"""Deletes past the recycle bin for the Salesforce connector: ``sobjects/{O}/deleted``
(getDeleted), windowed as the API requires.

The API keeps at most 15 days of deletes (an older start answers ``INVALID_REPLICATION_DATE``:
the connector goes on from the earliest date it names), takes at most 30 days per call, and
answers ``EXCEEDED_ID_LIMIT`` above 600,000 ids: the window is then halved (whole minutes, the
API's precision, down to two minutes) until one answers, and widened again after each
answered window. Its log is also purged early when large: what it lost is found by the
id-only reconciliation (:mod:`connectors.salesforce_reconcile`). docs/API_BEHAVIOUR.md.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from simple_salesforce.exceptions import SalesforceError

from connectors.salesforce_client import error_code, error_message
from connectors.salesforce_soql import aware, iso_z, parse_datetime
from connectors.source import ObjectResult, SourceStopped
from connectors.warehouse import utcnow

if TYPE_CHECKING:
    from connectors.salesforce import SalesforceSource, _Plan

DELETED_MAX_RANGE = dt.timedelta(days=29)    # getDeleted takes at most 30 days per call
DELETED_MIN_RANGE = dt.timedelta(minutes=2)  # narrowest window (minute precision)
DELETED_RETENTION = dt.timedelta(days=15)    # how far back getDeleted answers
FIRST_RUN_DELETES_BACK = dt.timedelta(days=1)  # see sync_deleted


def sync_deleted(source: SalesforceSource, plan: _Plan, res: ObjectResult,
                 full_refresh: bool) -> list[str]:
    """``sobjects/{O}/deleted`` from where the last call's coverage ended, in windows the
    API accepts, marking the ids we hold; the coverage end the API reports is saved with
    the marks, in one transaction. On the first run (and a full refresh, which reconciles
    instead) nothing is called: the window of the next run starts at the object's own
    newest change read now (a record deleted after the object was read is deleted later
    than that; the org's newest change, read by a later object, can be later than such a
    delete), but no more than a day before the org's newest (a run is shorter than that;
    the API keeps 15 days, and the next run may come days later)."""
    wh = source.warehouse
    sobject = plan.spec.sobject
    key = f"{plan.table.name}:deleted"
    state = wh.get_cursor(source.schema, key)
    start: dt.datetime | None = None
    if isinstance(state, dict) and state.get("covered"):
        try:
            start = parse_datetime(state["covered"]) - source.lookback
        except ValueError:
            start = None
    if start is None or full_refresh:
        newest = source._org_newest
        if newest is not None:
            floor = newest - FIRST_RUN_DELETES_BACK
            own = source._object_newest.get(sobject)
            newest = max(own, floor) if own is not None else floor
        if newest is not None and (start is None or newest > start):
            with wh.transaction():
                wh.set_cursor(source.schema, key, {"covered": iso_z(newest)})
        return []
    notes: list[str] = []
    marked = 0
    span = DELETED_MAX_RANGE      # narrowed on EXCEEDED_ID_LIMIT, for the rest of the run
    splits = 0
    for _ in range(400):
        now = utcnow()
        # up to now; a server clock ahead of ours (a simulated org) gets the full range and
        # reports how far it covered
        full_end = start + DELETED_MAX_RANGE if now <= start + dt.timedelta(minutes=1) \
            else min(start + DELETED_MAX_RANGE, now)
        end = full_end
        if start + span < full_end:   # narrowed: whole minutes (the API's precision)
            end = max((start + span).replace(second=0, microsecond=0),
                      start + dt.timedelta(minutes=1))
        try:
            body = source.client.call(
                f"deleted {sobject}",
                lambda sf, a=start, b=end: getattr(sf, sobject).deleted(aware(a), aware(b)))
        except SalesforceError as exc:
            if error_code(exc) == "EXCEEDED_ID_LIMIT":
                # more ids in the window than the API returns at once (600,000): ask for
                # windows half as wide until one answers
                if end - start <= DELETED_MIN_RANGE:
                    raise SourceStopped(
                        f"salesforce: {sobject} getDeleted exceeds its id limit even for "
                        f"{DELETED_MIN_RANGE} from {iso_z(start)}; a --reconcile run finds "
                        "those deletes instead") from exc
                span = max(DELETED_MIN_RANGE, (end - start) / 2)
                splits += 1
                continue
            if error_code(exc) == "INVALID_REPLICATION_DATE":
                # the start is older than the API keeps deletes (15 days): go on from the
                # earliest date it names, else from 15 days back, and say what was skipped
                earliest = _first_datetime(error_message(exc)) or (
                    utcnow() - DELETED_RETENTION + dt.timedelta(minutes=5))
                if earliest > start:
                    notes.append(f"deletes before {iso_z(earliest)} are past the API's window "
                                 "(a --full-refresh reconciles them)")
                    start = earliest
                    continue
            if exc.status in (400, 403, 404):
                notes.append(f"deleted records not available ({error_message(exc)})")
                return notes
            raise
        ids = [str(r["id"]) for r in body.get("deletedRecords") or [] if r.get("id")]
        covered_text = body.get("latestDateCovered")
        try:
            covered = parse_datetime(covered_text) if covered_text else None
        except ValueError:
            covered = None
        with wh.transaction():
            held = source._held_live(plan.table, ids)
            if held:
                wh.mark_deleted(plan.table, held)
                marked += len(held)
            if covered is not None:
                wh.set_cursor(source.schema, key, {"covered": iso_z(covered)})
        if covered is None:
            break
        if end < full_end and covered >= end:   # a narrowed window: the next follows it
            start = covered
            span = min(DELETED_MAX_RANGE, span * 2)   # deletes come in bursts: widen again
            continue
        # another window only when this one was the widest the API takes and the server
        # covered all of it; a window that ended at our own present is the last
        if end != start + DELETED_MAX_RANGE or covered < end.replace(second=0, microsecond=0):
            break
        start = covered
    if splits:
        notes.append(f"getDeleted windows narrowed {splits} times (EXCEEDED_ID_LIMIT)")
    if marked:
        res.deleted += marked
        notes.append(f"{marked} purged records marked deleted")
    return notes


_ANY_DT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


def _first_datetime(text: str) -> dt.datetime | None:
    m = _ANY_DT.search(text)
    if not m:
        return None
    try:
        return parse_datetime(m.group(0))
    except ValueError:
        return None
