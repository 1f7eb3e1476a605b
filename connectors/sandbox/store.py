"""The world store: one SQLite file holding the simulated company as the three APIs see it.

Why SQLite: the generator streams records into it day by day (bounded memory at any scale),
the fakes serve pages from it with indexed range scans, and the truth is computed from it by
plain Python that shares nothing with the product's dbt models.

Contract (shared by the generator, the fakes, the export writer and the truth):

* ``meta``               key/value: seed, scale, clock (ISO date, exclusive end of generated days),
                         world_start, config (JSON of :class:`connectors.sandbox.config.WorldConfig`).
* ``hubspot_object``     contacts, companies, deals. ``props`` is a JSON object of HubSpot
                         property name -> string value (HubSpot serves every value as a string).
                         ``updated_at_ms`` mirrors ``lastmodifieddate`` (contacts) /
                         ``hs_lastmodifieddate`` (others). ``archived`` rows are only served by
                         list endpoints with ``archived=true``.
* ``hubspot_association`` v4 associations (deal->contact type 3, contact->deal 4,
                         contact->company 1, company->contact 2, deal->company 5, company->deal 6).
                         Both directions are stored.
* ``hubspot_owner``      owners as the owners API returns them (``payload`` JSON).
* ``sf_record``          every Salesforce sObject. ``fields`` is a JSON object keyed by API field
                         name with JSON values as the REST API returns them (datetimes as
                         ``2024-03-31T18:00:01.000+0000``, dates ``YYYY-MM-DD``, numbers, booleans,
                         null). ``system_modstamp``/``created_date`` repeat those fields in sortable
                         ISO-Z form (``2024-03-31T18:00:01.000Z``) for indexed range scans.
                         ``is_deleted`` rows are in the recycle bin (served by queryAll with
                         ``IsDeleted = true``); ``purged`` rows are past the recycle bin: served by
                         neither query nor queryAll, only by ``sobjects/{O}/deleted``
                         (``deleted_date``).
* ``ga4_row``            GA4 at its finest grain: one row per date x true visitor x session
                         source/medium/campaign/ad content/term x landing page, with sessions,
                         engaged sessions and key events. ``visitor_id`` is ``''`` where the site
                         did not send it (GA shows ``(not set)``); the fake always aggregates
                         (GROUP BY the requested dimensions), never serves rows as stored.
                         The last ``ga4_revision_days`` days before the clock are still being
                         revised: ``advance`` adds late-processed sessions to them.
* ``advocacy_post``      the advocacy platform's posts with cumulative clicks and engagements, in
                         the platform's own layout named by ``platform``; keyed by (platform,
                         post_id): each platform numbers its own posts, so ids repeat across them.
* ``truth_*``            what really happened, for the truth file only: never served by any fake.
* ``advocate``           the advocate roster (ids, names, emails, teams, platform, rep's user id).
* ``gen_*``              the generator's own state for ``advance``; not part of the world.

Everything here is plain SQL over the standard library's sqlite3.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS hubspot_object (
    object_type     TEXT    NOT NULL,   -- contacts | companies | deals
    id              INTEGER NOT NULL,   -- hs_object_id
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    archived        INTEGER NOT NULL DEFAULT 0,
    archived_at_ms  INTEGER,
    props           TEXT    NOT NULL,   -- JSON {property: string}
    PRIMARY KEY (object_type, id)
);
CREATE INDEX IF NOT EXISTS hubspot_object_updated
    ON hubspot_object (object_type, archived, updated_at_ms, id);

CREATE TABLE IF NOT EXISTS hubspot_association (
    from_type TEXT    NOT NULL,
    from_id   INTEGER NOT NULL,
    to_type   TEXT    NOT NULL,
    to_id     INTEGER NOT NULL,
    type_id   INTEGER NOT NULL,
    category  TEXT    NOT NULL DEFAULT 'HUBSPOT_DEFINED',
    PRIMARY KEY (from_type, from_id, to_type, to_id, type_id)
);

CREATE TABLE IF NOT EXISTS hubspot_owner (
    id       INTEGER PRIMARY KEY,
    archived INTEGER NOT NULL DEFAULT 0,
    payload  TEXT    NOT NULL           -- JSON as GET /crm/v3/owners/ returns one result
);

CREATE TABLE IF NOT EXISTS sf_record (
    sobject         TEXT    NOT NULL,   -- Lead, Contact, Account, Opportunity, ...
    id              TEXT    NOT NULL,   -- 18-character Salesforce id
    system_modstamp TEXT,               -- ISO-Z with milliseconds, sortable
    created_date    TEXT,               -- ISO-Z with milliseconds, sortable
    is_deleted      INTEGER NOT NULL DEFAULT 0,
    purged          INTEGER NOT NULL DEFAULT 0,
    deleted_date    TEXT,               -- ISO-Z, set when deleted
    fields          TEXT    NOT NULL,   -- JSON {ApiFieldName: json value}
    PRIMARY KEY (sobject, id)
);
CREATE INDEX IF NOT EXISTS sf_record_modstamp ON sf_record (sobject, system_modstamp, id);
CREATE INDEX IF NOT EXISTS sf_record_created ON sf_record (sobject, created_date, id);

CREATE TABLE IF NOT EXISTS ga4_row (
    date             TEXT    NOT NULL,  -- YYYYMMDD in the property's time zone
    true_visitor_id  TEXT    NOT NULL,  -- who really visited (truth only, never served)
    visitor_id       TEXT    NOT NULL,  -- as GA received it; '' = not sent ("(not set)")
    source           TEXT    NOT NULL,  -- sessionSource, exactly as the link carried it
    medium           TEXT    NOT NULL,  -- sessionMedium
    campaign         TEXT    NOT NULL,  -- sessionCampaignName
    ad_content       TEXT    NOT NULL,  -- sessionManualAdContent (utm_content)
    term             TEXT    NOT NULL,  -- sessionManualTerm (utm_term)
    landing_page     TEXT    NOT NULL,  -- landingPage (path, no query string)
    sessions         INTEGER NOT NULL,
    engaged_sessions INTEGER NOT NULL,
    key_events       INTEGER NOT NULL,
    PRIMARY KEY (date, true_visitor_id, source, medium, campaign, ad_content, term, landing_page)
);

-- What really happened to each person, for the truth file only.
CREATE TABLE IF NOT EXISTS truth_person (
    person_id           TEXT PRIMARY KEY,
    true_visitor_id     TEXT,           -- the GA client id of the person's browser, if any
    email               TEXT,
    hubspot_contact_id  INTEGER,        -- surviving record ids (after merges), null if none
    sf_lead_id          TEXT,
    sf_contact_id       TEXT,
    intended_segment    TEXT NOT NULL,  -- 'advocacy' | 'other': the channel the generator chose
    intended_channel    TEXT NOT NULL,  -- organic | paid_search | paid_social | email | direct | referral | advocacy | offline
    advocate_id         TEXT,           -- when intended_segment = 'advocacy'
    post_id             TEXT,
    deleted_at          TEXT,           -- ISO-Z when the person's records were deleted, else null
    duplicate_hubspot_contact_id INTEGER, -- a duplicate record merged into the survivor, if any
    duplicate_sf_lead_id TEXT,
    created_at          TEXT,           -- ISO-Z of the form fill (or the lead typed by sales)
    account_id          TEXT            -- the Salesforce account of the person's company
);

-- The advocate roster as HR knows it (the dbt roster seed can be written from it).
CREATE TABLE IF NOT EXISTS advocate (
    advocate_id      TEXT PRIMARY KEY,  -- adv_0001
    name             TEXT NOT NULL,
    email            TEXT NOT NULL,
    team             TEXT NOT NULL,
    platform         TEXT NOT NULL,     -- gaggle | social_hub
    sf_user_id       TEXT,              -- when the advocate is a sales rep
    hubspot_owner_id INTEGER
);

-- Generator-private state (advance reads it; nothing else should).
CREATE TABLE IF NOT EXISTS gen_person (
    person_id TEXT PRIMARY KEY,
    next_ms   INTEGER NOT NULL,         -- the next planned event at or after the clock
    plan      TEXT NOT NULL             -- JSON plan (connectors.sandbox.people)
);
CREATE INDEX IF NOT EXISTS gen_person_next ON gen_person (next_ms);

CREATE TABLE IF NOT EXISTS advocacy_post (
    post_id        TEXT NOT NULL,       -- numbered per platform: two platforms share ids
    platform       TEXT NOT NULL,       -- which platform's export layout carries it
    advocate_id    TEXT NOT NULL,
    advocate_email TEXT NOT NULL,
    advocate_name  TEXT NOT NULL,
    network        TEXT NOT NULL,       -- linkedin | x | facebook
    category       TEXT NOT NULL,       -- content category
    campaign       TEXT NOT NULL,
    posted_at      TEXT NOT NULL,       -- ISO-Z
    url            TEXT NOT NULL,       -- the shared link with its UTMs
    clicks         INTEGER NOT NULL,
    likes          INTEGER NOT NULL,
    comments       INTEGER NOT NULL,
    shares         INTEGER NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (platform, post_id)
);
"""


# Secondary indexes that only readers need (the fakes' range scans, ``advance``): a fresh
# world is written without them and they are built once at the end, a sort instead of a random
# B-tree insert per row (:func:`connectors.sandbox.world.generate`).
READ_INDEXES = ("hubspot_object_updated", "sf_record_modstamp", "sf_record_created", "gen_person_next")


def drop_read_indexes(conn: sqlite3.Connection) -> None:
    for name in READ_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def create_read_indexes(conn: sqlite3.Connection) -> None:
    """Build the dropped indexes, inside the caller's transaction (``executescript`` would
    commit it first)."""
    for ddl in re.findall(r"CREATE INDEX IF NOT EXISTS[^;]+", SCHEMA):
        conn.execute(ddl)


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the world store. Fakes open one read-only connection per thread."""
    path = Path(path)
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
    conn.row_factory = sqlite3.Row
    return conn


def get_meta(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value)),
    )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    """Every meta key, JSON-decoded, with the world config's fields filled in underneath
    (so ``meta["ga4_revision_days"]`` works whether or not it was written as its own key).
    The generator's own state (``gen_*``: megabytes in a big world, read with
    :func:`get_meta` by the generator alone) is left out: the fakes call this per request."""
    out: dict[str, Any] = {}
    for key, value in conn.execute("SELECT key, value FROM meta WHERE key NOT LIKE 'gen\\_%' ESCAPE '\\'"):
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    config = out.get("config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            config = None
    if isinstance(config, dict):
        for key, value in config.items():
            out.setdefault(key, value)
    return out
