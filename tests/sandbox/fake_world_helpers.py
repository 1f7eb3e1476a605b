"""Tiny hand-built world stores for the HubSpot/GA4 fake tests (no generator needed): rows are
inserted directly so that each test knows exactly what the fakes must serve."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from connectors.sandbox import store

CLOCK = dt.date(2026, 7, 1)
PROPERTY_ID = "123456789"
BASE_MS = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
HOUR_MS = 3_600_000
STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "customer")
SOURCES = ("google", "linkedin", "newsletter", "(direct)", "bing", "x")


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def contact_updated_ms(i: int) -> int:
    # Not monotonic in id, so sorting by modified date differs from id order.
    return BASE_MS + ((i * 7) % 25) * HOUR_MS + i


def build_store(path: Path, *, contacts: int = 25, archived: tuple[int, ...] = (4, 9, 17),
                other_threshold: int = 0, seed: int = 11) -> Path:
    conn = store.connect(path)
    with store.transaction(conn):
        for key, value in {
            "seed": seed, "scale": 0.01, "clock": CLOCK.isoformat(),
            "world_start": "2026-01-01", "ga4_property_id": PROPERTY_ID,
            "ga4_time_zone": "UTC", "ga4_other_row_threshold": other_threshold,
            "currencies": ["USD", "EUR"],
        }.items():
            store.set_meta(conn, key, value)
        for i in range(1, contacts + 1):
            created = BASE_MS + i * 1000
            updated = contact_updated_ms(i)
            props = {
                "hs_object_id": str(i),
                "email": f"person{i}@example.com",
                "firstname": f"First{i}",
                "lastname": f"Last{i}",
                "createdate": iso(created),
                "lastmodifieddate": iso(updated),
                "hs_analytics_source": "SOCIAL_MEDIA" if i % 3 == 0 else "ORGANIC_SEARCH",
                "hubspot_owner_id": str(100 + i % 3),
            }
            if i % 5:  # every fifth contact has no lifecycle stage
                props["lifecyclestage"] = STAGES[i % len(STAGES)]
            is_archived = i in archived
            conn.execute(
                "INSERT INTO hubspot_object VALUES ('contacts', ?, ?, ?, ?, ?, ?)",
                (i, created, updated, int(is_archived), updated + 5 if is_archived else None,
                 json.dumps(props)),
            )
        for d in range(1, 4):
            deal_id = 1000 + d
            props = {"hs_object_id": str(deal_id), "dealname": f"Deal {d}", "amount": str(1000.5 * d),
                     "dealstage": "closedwon" if d == 1 else "qualifiedtobuy",
                     "pipeline": "default", "createdate": iso(BASE_MS),
                     "hs_lastmodifieddate": iso(BASE_MS + d)}
            conn.execute("INSERT INTO hubspot_object VALUES ('deals', ?, ?, ?, 0, NULL, ?)",
                         (deal_id, BASE_MS, BASE_MS + d, json.dumps(props)))
        # deal 1001 -> contacts 1, 2; deal 1002 -> contact 3; deal 1003 has none.
        for deal_id, contact_id in ((1001, 1), (1001, 2), (1002, 3)):
            conn.execute("INSERT INTO hubspot_association VALUES ('deals', ?, 'contacts', ?, 3, 'HUBSPOT_DEFINED')",
                         (deal_id, contact_id))
            conn.execute("INSERT INTO hubspot_association VALUES ('contacts', ?, 'deals', ?, 4, 'HUBSPOT_DEFINED')",
                         (contact_id, deal_id))
        # A second (labelled) association type on the same pair must be folded into one entry.
        conn.execute("INSERT INTO hubspot_association VALUES ('deals', 1001, 'contacts', 1, 145, 'USER_DEFINED')")
        for o in range(3):
            oid = 100 + o
            conn.execute("INSERT INTO hubspot_owner VALUES (?, 0, ?)", (oid, json.dumps({
                "id": str(oid), "email": f"rep{o}@example.com", "type": "PERSON",
                "firstName": f"Rep{o}", "lastName": "Sales", "userId": 9000 + o,
                "createdAt": iso(BASE_MS), "updatedAt": iso(BASE_MS), "archived": False})))
        conn.execute("INSERT INTO hubspot_owner VALUES (200, 1, ?)", (json.dumps({
            "id": "200", "email": "gone@example.com", "type": "PERSON", "firstName": "Gone",
            "lastName": "Rep", "userId": 9100, "archived": True}),))
        for row in ga4_rows():
            conn.execute("INSERT INTO ga4_row VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
    conn.close()
    return path


def ga4_rows() -> list[tuple]:
    """Five days before the clock; per day 2-9 visitors with differing session counts."""
    rows = []
    for back in range(1, 6):
        day = (CLOCK - dt.timedelta(days=back)).strftime("%Y%m%d")
        for v in range(back + 4):
            source = SOURCES[(v + back) % len(SOURCES)]
            medium = {"google": "organic", "bing": "cpc", "linkedin": "advocacy", "x": "advocacy",
                      "newsletter": "email", "(direct)": "(none)"}[source]
            visitor = "" if v % 4 == 3 else f"GA1.1.{v}.{back}"
            sessions = 1 + (v * 3 + back) % 5
            rows.append((day, f"tv{v}-{back}", visitor, source, medium, "spring" if v % 2 else "",
                         f"adv{v % 3}", "", "/pricing" if v % 2 else "/", sessions,
                         sessions // 2, v % 2))
    return rows


def set_meta(path: Path, key: str, value: object) -> None:
    conn = store.connect(path)
    store.set_meta(conn, key, value)
    conn.close()
