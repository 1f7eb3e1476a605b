"""Salesforce campaigns of the simulated company: Campaign and CampaignMember records.

B2B teams tag advocacy programmes, webinars and events as Salesforce campaigns and add the
leads and contacts who take part as campaign members; a member who responded carries
``HasResponded`` and ``FirstRespondedDate`` (the date the marts credit the touch on).

Written after the days are simulated (by :func:`connectors.sandbox.world.generate` and
``advance``), deterministically from each lead's or contact's id, so a re-run adds exactly the
members whose dates have come and changes none: about a fifth of the Salesforce leads and
contacts join one campaign some days after they were created; three in five of those
respond, on the day they join. A member whose lead or contact is deleted is deleted with it
(Salesforce deletes campaign members with their lead or contact).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3

from connectors.sandbox import store
from connectors.sandbox.config import WorldConfig
from connectors.sandbox.genutil import sf_id

# (name, type, start) of the company's campaigns; the advocacy programme starts with the
# contest quarter
CAMPAIGNS = (
    ("Employee Advocacy Programme", "Advocacy"),
    ("Product Webinar Series", "Webinar"),
    ("Regional Field Events", "Event"),
    ("Annual Customer Conference", "Conference"),
)
MEMBER_SHARE = 0.2
RESPONDED_SHARE = 0.6
MAX_DAYS_AFTER_CREATED = 45


def _unit(seed: int, *parts: str) -> int:
    key = "|".join((str(seed), *parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _sf_dt(d: dt.datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _z(d: dt.datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def campaign_ids(cfg: WorldConfig) -> list[str]:
    return [sf_id("Campaign", 1 + i) for i in range(len(CAMPAIGNS))]


def write_campaigns(conn: sqlite3.Connection, cfg: WorldConfig, owner_id: str | None,
                    since: dt.date | None = None) -> int:
    """Campaigns and the members due by ``cfg.clock``; returns the members added. Call inside
    a store transaction. ``since`` (an advance's old clock): the members due before it exist
    already, so only leads and contacts created late enough to join from then on are read — a
    member joins at most ``MAX_DAYS_AFTER_CREATED`` days and an hour after its record was
    created, and a record first appears once the clock passes its creation. Without it every
    advance re-derived every member of the world's history."""
    created = dt.datetime(cfg.world_start.year, cfg.world_start.month, cfg.world_start.day, 9)
    ids = campaign_ids(cfg)
    for cid, (name, ctype) in zip(ids, CAMPAIGNS, strict=True):
        fields = {"Id": cid, "IsDeleted": False, "CreatedDate": _sf_dt(created),
                  "LastModifiedDate": _sf_dt(created), "SystemModstamp": _sf_dt(created),
                  "Name": name, "Type": ctype, "Status": "In Progress",
                  "StartDate": cfg.world_start.isoformat(), "EndDate": None, "IsActive": True,
                  "OwnerId": owner_id}
        conn.execute(
            "INSERT OR IGNORE INTO sf_record (sobject, id, system_modstamp, created_date, fields) "
            "VALUES ('Campaign', ?, ?, ?, ?)", (cid, _z(created), _z(created), json.dumps(fields)))
    clock = dt.datetime(cfg.clock.year, cfg.clock.month, cfg.clock.day)
    added = 0
    created_from = "" if since is None else (
        dt.datetime(since.year, since.month, since.day) - dt.timedelta(days=1 + MAX_DAYS_AFTER_CREATED)
    ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    rows = conn.execute(
        "SELECT sobject, id, json_extract(fields, '$.CreatedDate') FROM sf_record "
        "WHERE sobject IN ('Lead', 'Contact') AND is_deleted = 0 AND purged = 0 "
        "AND coalesce(created_date, '') >= ? ORDER BY id", (created_from,)).fetchall()
    for sobject, rid, created_text in rows:
        h = _unit(cfg.seed, "campaign-member", rid)
        if (h % 1000) / 1000 >= MEMBER_SHARE or not created_text:
            continue
        base = dt.datetime.strptime(created_text[:19], "%Y-%m-%dT%H:%M:%S")
        joined = base + dt.timedelta(days=1 + (h >> 10) % MAX_DAYS_AFTER_CREATED, hours=1)
        if joined >= clock:
            continue          # not yet: a later advance adds it
        responded = ((h >> 20) % 1000) / 1000 < RESPONDED_SHARE
        mid = sf_id("CampaignMember", _unit(cfg.seed, "member-id", rid) % 62 ** 9)
        fields = {"Id": mid, "IsDeleted": False, "CreatedDate": _sf_dt(joined),
                  "LastModifiedDate": _sf_dt(joined), "SystemModstamp": _sf_dt(joined),
                  "CampaignId": ids[(h >> 30) % len(ids)],
                  "LeadId": rid if sobject == "Lead" else None,
                  "ContactId": rid if sobject == "Contact" else None,
                  "Status": "Responded" if responded else "Sent", "HasResponded": responded,
                  "FirstRespondedDate": joined.date().isoformat() if responded else None}
        cur = conn.execute(
            "INSERT OR IGNORE INTO sf_record (sobject, id, system_modstamp, created_date, fields) "
            "VALUES ('CampaignMember', ?, ?, ?, ?)", (mid, _z(joined), _z(joined), json.dumps(fields)))
        added += cur.rowcount
    _cascade_deletes(conn)
    return added


def _cascade_deletes(conn: sqlite3.Connection) -> None:
    """Members of deleted (or purged) leads and contacts are deleted with them."""
    for mid, fields_text, deleted_date, purged in conn.execute(
        "SELECT m.id, m.fields, p.deleted_date, p.purged FROM sf_record AS m "
        "JOIN sf_record AS p ON p.id = coalesce(json_extract(m.fields, '$.LeadId'), "
        "json_extract(m.fields, '$.ContactId')) AND p.sobject IN ('Lead', 'Contact') "
        "WHERE m.sobject = 'CampaignMember' AND m.is_deleted = 0 AND m.purged = 0 "
        "AND (p.is_deleted = 1 OR p.purged = 1)").fetchall():
        fields = json.loads(fields_text)
        fields["IsDeleted"] = True
        when = deleted_date or store_now(conn)
        fields["SystemModstamp"] = when.replace("Z", "+0000")
        conn.execute("UPDATE sf_record SET is_deleted = ?, purged = ?, deleted_date = ?, "
                     "system_modstamp = ?, fields = ? WHERE sobject = 'CampaignMember' AND id = ?",
                     (0 if purged else 1, 1 if purged else 0, when, when, json.dumps(fields), mid))


def store_now(conn: sqlite3.Connection) -> str:
    clock = store.get_meta(conn, "clock") or WorldConfig.clock.isoformat()
    return f"{str(clock)[:10]}T00:00:00.000Z"
