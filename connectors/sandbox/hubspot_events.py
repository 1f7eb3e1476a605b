"""HubSpot changes that leave no trace an incremental reader can see, as the world advances.

Real HubSpot does these, and a connector that reads only "what changed since" misses them
(``docs/API_BEHAVIOUR.md``, section HubSpot):

* **Associations added without touching either record.** Associating a contact with a deal
  changes neither record's modified date (``hs_lastmodifieddate`` / ``lastmodifieddate``), so
  a search for changed deals never returns the deal. Each advance associates about 1% of the
  live deals (at least one) with one more contact of the deal's company.
* **GDPR deletes.** ``POST /crm/v3/objects/contacts/gdpr-delete`` removes a contact and its
  associations for good: it is in neither the live nor the archived list. Each advance
  GDPR-deletes about 0.2% of the live contacts (at least one) that are on no deal.
* **The recycle bin purged.** Deleted (archived) records can be restored for 90 days, then
  they are gone from the archived list too. Each advance purges records archived more than
  :data:`RECYCLE_BIN_DAYS` days before the new clock.

:func:`apply` runs at the end of every ``advance`` and, without the purge, at the end of
``generate`` (the world's past has its GDPR deletes and silent associations too, so the
end-to-end truth test runs with them). Everything is deterministic in the seed and the clock
(``rng_for``). The truth reads the
store, so it accounts for all three by itself. People whose plan still has events
(``gen_person``) are never deleted: the generator would write them again.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from connectors.sandbox.genutil import rng_for
from connectors.sandbox.people import assoc_rows

RECYCLE_BIN_DAYS = 90
DAY_MS = 86_400_000
SILENT_ASSOCIATION_SHARE = 0.01
GDPR_DELETE_SHARE = 0.002
TARGET_INDEX = "hubspot_association_to"
# The live contacts of a deal's companies that are not on the deal yet. CROSS JOIN keeps the
# deal outermost: SQLite's planner would rather scan every contact's associations in
# c.from_id order than sort a handful of candidates (quadratic in the world's size).
SILENT_CANDIDATES = (
    "SELECT c.from_id FROM hubspot_association d "
    "CROSS JOIN hubspot_association c ON c.from_type='contacts' AND c.to_type='companies' "
    "AND c.to_id=d.to_id "
    "JOIN hubspot_object o ON o.object_type='contacts' AND o.id=c.from_id AND o.archived=0 "
    "WHERE d.from_type='deals' AND d.from_id=? AND d.to_type='companies' "
    "AND c.from_id NOT IN (SELECT to_id FROM hubspot_association WHERE from_type='deals' "
    "AND from_id=? AND to_type='contacts') ORDER BY c.from_id")


def apply(conn: sqlite3.Connection, seed: int, old_clock_ms: int, new_clock_ms: int, *,
          purge: bool = True) -> dict[str, int]:
    """Apply the silent changes of the period ``[old_clock_ms, new_clock_ms)`` inside the
    caller's transaction; returns counts. ``purge=False`` leaves the recycle bin alone (a
    generated world keeps its archived records, so a first sync sees deletes)."""
    rng = rng_for(seed, "hubspot_events", old_clock_ms, new_clock_ms)
    out = {"silent_associations": 0, "gdpr_deleted": 0, "purged": 0}
    # A company's contacts and a deleted record's associations are found by the association's
    # target: without this index each lookup scans every association (quadratic in the world).
    # Built here, once, rather than maintained through the generator's inserts.
    conn.execute(f"CREATE INDEX IF NOT EXISTS {TARGET_INDEX} "
                 "ON hubspot_association (to_type, to_id, from_type, from_id)")

    # 1. associations that move no modified date
    deals = conn.execute(
        "SELECT id, updated_at_ms < ? FROM hubspot_object WHERE object_type='deals' AND archived=0 "
        "ORDER BY id", (old_clock_ms,)).fetchall()
    target = min(len(deals), max(1, round(len(deals) * SILENT_ASSOCIATION_SHARE)))
    # deals in a random order until the target is met, those untouched since the old clock
    # first (on them the association is truly silent: nothing else moves their modified date);
    # a deal whose company has no other contact cannot gain one
    shuffled = rng.sample(deals, len(deals))
    order = [d for d, old in shuffled if old] + [d for d, old in shuffled if not old]
    for deal in order:
        if out["silent_associations"] >= target:
            break
        candidates = [r[0] for r in conn.execute(SILENT_CANDIDATES, (deal, deal))]
        if not candidates:
            continue
        contact = rng.choice(candidates)
        conn.executemany(
            "INSERT OR IGNORE INTO hubspot_association (from_type, from_id, to_type, to_id, type_id) "
            "VALUES (?, ?, ?, ?, ?)", assoc_rows("deals", deal, "contacts", contact))
        out["silent_associations"] += 1

    # 2. GDPR deletes: contacts on no deal, whose person the generator will not write again
    pending = _pending_contact_ids(conn)
    contacts = [r[0] for r in conn.execute(
        "SELECT id FROM hubspot_object o WHERE object_type='contacts' AND archived=0 AND NOT EXISTS "
        "(SELECT 1 FROM hubspot_association a WHERE a.from_type='contacts' AND a.from_id=o.id "
        "AND a.to_type='deals') ORDER BY id") if r[0] not in pending]
    gone: list[int] = []      # contacts deleted for good
    for contact in rng.sample(contacts, min(len(contacts), max(1, round(len(contacts) * GDPR_DELETE_SHARE)))):
        _delete_for_good(conn, "contacts", contact)
        gone.append(contact)
        out["gdpr_deleted"] += 1

    # 3. the recycle bin: archived more than 90 days ago is gone
    if purge:
        cutoff = new_clock_ms - RECYCLE_BIN_DAYS * DAY_MS
        for object_type, oid in conn.execute(
                "SELECT object_type, id FROM hubspot_object WHERE archived=1 "
                "AND coalesce(archived_at_ms, updated_at_ms) < ? ORDER BY object_type, id", (cutoff,)).fetchall():
            if object_type == "contacts" and oid in pending:
                continue
            _delete_for_good(conn, object_type, oid)
            if object_type == "contacts":
                gone.append(oid)
            out["purged"] += 1
    # the person lives on (in Salesforce); the contact record does not. One pass over the
    # truth for all of them (it has no index on the contact id).
    conn.execute("UPDATE truth_person SET hubspot_contact_id = NULL "
                 "WHERE hubspot_contact_id IN (SELECT value FROM json_each(?))", (json.dumps(gone),))
    return out


def _pending_contact_ids(conn: sqlite3.Connection) -> set[int]:
    ids: set[int] = set()
    for (plan,) in conn.execute("SELECT plan FROM gen_person"):
        hs_id: Any = json.loads(plan).get("hs_id")
        if hs_id is not None:
            ids.add(int(hs_id))
    return ids


def _delete_for_good(conn: sqlite3.Connection, object_type: str, oid: int) -> None:
    conn.execute("DELETE FROM hubspot_object WHERE object_type=? AND id=?", (object_type, oid))
    conn.execute("DELETE FROM hubspot_association WHERE (from_type=? AND from_id=?) "
                 "OR (to_type=? AND to_id=?)", (object_type, oid, object_type, oid))
