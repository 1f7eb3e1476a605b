"""The sandbox world generator: determinism, advance, bounded memory, and the world's sanity."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.sandbox import catalog, genutil, store
from connectors.sandbox.config import WorldConfig
from connectors.sandbox.world import _weighted, advance, generate, summary

TABLE_KEYS = {
    "meta": "key",
    "hubspot_object": "object_type, id",
    "hubspot_association": "from_type, from_id, to_type, to_id, type_id",
    "hubspot_owner": "id",
    "sf_record": "sobject, id",
    "ga4_row": "date, true_visitor_id, source, medium, campaign, ad_content, term, landing_page",
    "truth_person": "person_id",
    "advocacy_post": "platform, post_id",
    "advocate": "advocate_id",
    "gen_person": "person_id",
}


def table_hashes(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table, key in TABLE_KEYS.items():
            h = hashlib.sha256()
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY {key}"):
                h.update(repr(tuple(row)).encode())
            out[table] = h.hexdigest()
        return out
    finally:
        conn.close()


def q(path: Path, sql: str, *args):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
def test_deterministic(tmp_path: Path) -> None:
    cfg = WorldConfig(seed=3, scale=0.02)
    generate(tmp_path / "a.sqlite", cfg)
    generate(tmp_path / "b.sqlite", cfg)
    a, b = table_hashes(tmp_path / "a.sqlite"), table_hashes(tmp_path / "b.sqlite")
    assert a == b
    generate(tmp_path / "c.sqlite", WorldConfig(seed=4, scale=0.02))
    assert table_hashes(tmp_path / "c.sqlite")["ga4_row"] != a["ga4_row"]


def test_writer_process_writes_the_same_world(tmp_path: Path) -> None:
    """A large world renders and writes its days in a second process (world_writer.py): the
    store is the one the single process writes, row for row; a writer that fails stops the
    generation with its traceback."""
    from connectors.sandbox.world_writer import ProcessWriter, WriterFailed

    cfg = WorldConfig(seed=3, scale=0.05)
    generate(tmp_path / "one.sqlite", cfg, writer_process=False)
    generate(tmp_path / "two.sqlite", cfg, writer_process=True)
    assert table_hashes(tmp_path / "one.sqlite") == table_hashes(tmp_path / "two.sqlite")

    writer = ProcessWriter(tmp_path / "missing" / "w.sqlite", cfg)   # its connect fails
    with pytest.raises(WriterFailed, match="unable to open database"):
        writer.write({}, [])
        writer.close()


def test_generate_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    path.write_bytes(b"not a database")
    generate(path, WorldConfig(seed=3, scale=0.02))
    assert summary(path)["salesforce.User"] > 0


def test_advance(tmp_path: Path, world_store: Path) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    shutil.copy(world_store, a)
    before = {
        (r[0], r[1]): r[2:] for r in q(a, "SELECT sobject, id, system_modstamp, fields, is_deleted, purged FROM sf_record")
    }
    hs_before = {(r[0], r[1]): r[2:] for r in q(a, "SELECT object_type, id, updated_at_ms, props, archived FROM hubspot_object")}
    old_clock = dt.date.fromisoformat(json.loads(q(a, "SELECT value FROM meta WHERE key='clock'")[0][0]))
    advance(a, 7)
    shutil.copy(world_store, b)
    advance(b, 7)
    assert table_hashes(a) == table_hashes(b)

    new_clock = old_clock + dt.timedelta(days=7)
    meta = dict(q(a, "SELECT key, value FROM meta"))
    assert json.loads(meta["clock"]) == new_clock.isoformat()
    assert WorldConfig.from_json(json.loads(meta["config"])).clock == new_clock
    old_z = f"{old_clock.isoformat()}T00:00:00.000Z"
    new_z = f"{new_clock.isoformat()}T00:00:00.000Z"

    after = {(r[0], r[1]): r[2:] for r in q(a, "SELECT sobject, id, system_modstamp, fields, is_deleted, purged FROM sf_record")}
    assert set(before) <= set(after)
    changed = [k for k in before if before[k] != after[k]]
    added = [k for k in after if k not in before]
    assert added and changed
    for k in changed:
        modstamp, _fields, _deleted, purged = after[k]
        # a change is either a later modification or a deletion passing the recycle bin
        assert (modstamp is not None and modstamp >= old_z) or purged, (k, before[k], after[k])
    for k in added:
        created = q(a, "SELECT created_date, system_modstamp FROM sf_record WHERE sobject=? AND id=?", *k)[0]
        stamp = created[0] or created[1]
        assert stamp < new_z
        assert stamp >= f"{(old_clock - dt.timedelta(days=1)).isoformat()}" or k[0] in ("Period", "ForecastingQuota")
    # deletions that passed the recycle bin's 15 days are purged now
    limit = f"{(new_clock - dt.timedelta(days=15)).isoformat()}T00:00:00.000Z"
    for sobject, rid, deleted in q(world_store, "SELECT sobject, id, deleted_date FROM sf_record WHERE is_deleted = 1 AND purged = 0"):
        assert after[(sobject, rid)][3] == (1 if deleted < limit else 0)

    hs_after = {(r[0], r[1]): r[2:] for r in q(a, "SELECT object_type, id, updated_at_ms, props, archived FROM hubspot_object")}
    old_ms = (old_clock - dt.date(1970, 1, 1)).days * 86_400_000
    gone = [k for k in hs_before if k not in hs_after]
    for k, v in hs_before.items():
        if k in hs_after and hs_after[k] != v:
            assert hs_after[k][0] >= old_ms
    assert len(hs_after) > len(hs_before)
    # deleted for good (connectors/sandbox/hubspot_events.py): GDPR-deleted live contacts, and
    # records archived more than 90 days before the new clock, purged from the recycle bin
    assert any(hs_before[k][2] == 0 for k in gone), "a GDPR delete"
    for k in gone:
        assert k[0] == "contacts" or hs_before[k][2] == 1, k
    # associations added to deals that did not change (no modified date moves)
    assoc = "SELECT from_id, to_id FROM hubspot_association WHERE from_type='deals' AND to_type='contacts'"
    silent = set(q(a, assoc)) - set(q(world_store, assoc))
    assert any(hs_after[("deals", d)][0] < old_ms for d, _ in silent), silent

    # GA revision: the last days before the old clock gained sessions; new days exist.
    days = [(old_clock - dt.timedelta(days=i)).strftime("%Y%m%d") for i in (1, 2)]
    s_before = q(world_store, "SELECT SUM(sessions) FROM ga4_row WHERE date IN (?, ?)", *days)[0][0]
    s_after = q(a, "SELECT SUM(sessions) FROM ga4_row WHERE date IN (?, ?)", *days)[0][0]
    assert s_after > s_before
    early = (old_clock - dt.timedelta(days=10)).strftime("%Y%m%d")
    assert q(world_store, "SELECT SUM(sessions) FROM ga4_row WHERE date = ?", early) == q(
        a, "SELECT SUM(sessions) FROM ga4_row WHERE date = ?", early)
    assert q(a, "SELECT MAX(date) FROM ga4_row")[0][0] == (new_clock - dt.timedelta(days=1)).strftime("%Y%m%d")

    # an advance derives only the campaign members due from the old clock on: deriving every
    # member of the history again adds none
    from connectors.sandbox import campaigns

    conn = store.connect(a)
    try:
        with store.transaction(conn):
            cfg = WorldConfig.from_json(json.loads(meta["config"]))
            assert campaigns.write_campaigns(conn, cfg, None) == 0
    finally:
        conn.close()


@pytest.mark.slow
def test_bounded_memory(tmp_path: Path) -> None:
    code = (
        "import resource, sys\n"
        "from connectors.sandbox.world import generate\n"
        "from connectors.sandbox.config import WorldConfig\n"
        "generate(sys.argv[1], WorldConfig(seed=5, scale=float(sys.argv[2])))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )

    def peak(scale: float) -> int:
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{scale}.sqlite"), str(scale)],
                             check=True, capture_output=True, text=True, cwd=Path(__file__).parents[2])
        return int(out.stdout.strip().splitlines()[-1])

    base = peak(0.01)      # the interpreter and imports
    small, large = peak(0.5), peak(2.0)
    # 4x the volume must not take anywhere near 4x the working memory
    assert (large - base) < 2.0 * max(small - base, 8 * 1024), (base, small, large)


# ---------------------------------------------------------------------------------------------
# The shared test world
# ---------------------------------------------------------------------------------------------
def test_meta(world_store: Path, world_config: WorldConfig) -> None:
    conn = store.connect(world_store, readonly=True)
    meta = {k: store.get_meta(conn, k) for k in (
        "seed", "scale", "clock", "world_start", "config", "multi_currency",
        "ga4_other_row_threshold", "ga4_property_id", "ga4_time_zone", "corporate_currency")}
    conn.close()
    assert meta["seed"] == world_config.seed and meta["scale"] == world_config.scale
    assert meta["clock"] == world_config.clock.isoformat()
    assert meta["world_start"] == world_config.world_start.isoformat()
    assert WorldConfig.from_json(meta["config"]) == world_config
    assert meta["multi_currency"] is True and meta["corporate_currency"] == "USD"
    assert isinstance(meta["ga4_other_row_threshold"], int)
    # the per-visitor report exceeds the threshold on a few percent of days
    per_day = [n for (n,) in q(world_store, """
        SELECT COUNT(*) FROM (SELECT DISTINCT date, visitor_id, source, medium, campaign,
        ad_content, term FROM ga4_row) GROUP BY date""")]
    over = sum(1 for n in per_day if n > meta["ga4_other_row_threshold"])
    assert 1 <= over <= 0.1 * len(per_day)


def test_nothing_at_or_after_clock(world_store: Path, world_config: WorldConfig) -> None:
    clock_z = f"{world_config.clock.isoformat()}T00:00:00.000Z"
    assert q(world_store, "SELECT MAX(system_modstamp), MAX(created_date), MAX(deleted_date) FROM sf_record")[0] < (clock_z,) * 3
    clock_ms = (world_config.clock - dt.date(1970, 1, 1)).days * 86_400_000
    assert q(world_store, "SELECT MAX(updated_at_ms), MAX(created_at_ms), MAX(archived_at_ms) FROM hubspot_object")[0] < (clock_ms,) * 3
    assert q(world_store, "SELECT MAX(date) FROM ga4_row")[0][0] < world_config.clock.strftime("%Y%m%d")
    assert q(world_store, "SELECT MIN(date) FROM ga4_row")[0][0] == world_config.world_start.strftime("%Y%m%d")
    assert q(world_store, "SELECT MAX(posted_at), MAX(updated_at) FROM advocacy_post")[0] < (clock_z,) * 2
    # every datetime-looking value inside the payloads too
    clock_sf = f"{world_config.clock.isoformat()}T00:00:00.000+0000"
    for (fields,) in q(world_store, "SELECT fields FROM sf_record"):
        for k, v in json.loads(fields).items():
            if isinstance(v, str) and len(v) == 28 and v[10] == "T":
                assert v < clock_sf, (k, v)
            if k in ("ConvertedDate",) and v:
                assert v < world_config.clock.isoformat()
    for (props,) in q(world_store, "SELECT props FROM hubspot_object WHERE object_type = 'contacts'"):
        for k, v in json.loads(props).items():
            if k.endswith("date") or k.startswith("hs_v2_date") or k.endswith("timestamp"):
                assert v < clock_z, (k, v)


def test_salesforce_fields_complete(world_store: Path) -> None:
    seen = set()
    for sobject, rid, fields in q(world_store, "SELECT sobject, id, fields FROM sf_record"):
        f = json.loads(fields)
        expected = set(catalog.SALESFORCE_FIELDS[sobject])
        assert set(f) == expected, (sobject, expected ^ set(f))
        assert f["Id"] == rid and len(rid) == 18
        assert rid.startswith(catalog.SALESFORCE_KEY_PREFIX[sobject])
        seen.add(sobject)
    assert seen == set(catalog.SALESFORCE_FIELDS)


def test_hubspot_values_are_strings(world_store: Path) -> None:
    for object_type, oid, props in q(world_store, "SELECT object_type, id, props FROM hubspot_object"):
        p = json.loads(props)
        assert set(p) <= set(catalog.HUBSPOT_PROPERTIES[object_type]), set(p) - set(catalog.HUBSPOT_PROPERTIES[object_type])
        assert all(isinstance(v, str) for v in p.values())
        assert p["hs_object_id"] == str(oid)
    for (payload,) in q(world_store, "SELECT payload FROM hubspot_owner"):
        o = json.loads(payload)
        assert {"id", "email", "type", "firstName", "lastName", "userId", "teams"} <= set(o)


def test_segments_channels_quarters_currencies(world_store: Path) -> None:
    channels = {c for (c,) in q(world_store, "SELECT DISTINCT intended_channel FROM truth_person")}
    assert channels == {"organic", "paid_search", "paid_social", "email", "direct", "referral", "advocacy", "offline"}
    assert {s for (s,) in q(world_store, "SELECT DISTINCT intended_segment FROM truth_person")} == {"advocacy", "other"}
    quarters = {r[0] for r in q(world_store, "SELECT DISTINCT substr(created_date, 1, 7) FROM sf_record WHERE sobject = 'Opportunity'")}
    for month in ("2025-08", "2025-11", "2026-02", "2026-05"):
        assert month in quarters
    currencies = {c for (c,) in q(world_store, "SELECT DISTINCT json_extract(fields, '$.CurrencyIsoCode') FROM sf_record WHERE sobject = 'Opportunity'")}
    assert currencies == {"USD", "EUR", "GBP"}
    rates = q(world_store, "SELECT json_extract(fields, '$.IsoCode'), COUNT(*) FROM sf_record WHERE sobject = 'DatedConversionRate' GROUP BY 1")
    assert dict(rates) == {"USD": 4, "EUR": 4, "GBP": 4}
    won = q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject = 'Opportunity' AND json_extract(fields, '$.IsWon')")[0][0]
    lost = q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject = 'Opportunity' AND json_extract(fields, '$.IsClosed') AND NOT json_extract(fields, '$.IsWon')")[0][0]
    assert won > 0 and lost > 0
    # quotas for every rep and quarter
    reps = q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject = 'User' AND json_extract(fields, '$.Title') = 'Account Executive'")[0][0]
    assert q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject = 'ForecastingQuota'")[0][0] == 4 * reps


def test_deletions_merges_and_identity(world_store: Path) -> None:
    assert q(world_store, "SELECT COUNT(*) FROM hubspot_object WHERE archived = 1 AND archived_at_ms IS NOT NULL")[0][0] > 0
    assert q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject='Lead' AND is_deleted=1 AND purged=1")[0][0] > 0
    merged = q(world_store, "SELECT COUNT(*) FROM hubspot_object WHERE props LIKE '%hs_merged_object_ids%'")[0][0]
    masters = q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject='Lead' AND is_deleted=1 AND json_extract(fields, '$.MasterRecordId') IS NOT NULL")[0][0]
    assert merged > 0 and masters > 0
    # forms without the visitor id, sessions without it, Salesforce-only leads, HubSpot-only deals
    assert q(world_store, "SELECT COUNT(*) FROM hubspot_object WHERE object_type='contacts' AND props NOT LIKE '%ga_client_id%'")[0][0] > 0
    assert q(world_store, "SELECT COUNT(*) FROM ga4_row WHERE visitor_id = ''")[0][0] > 0
    assert q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject='Lead' AND json_extract(fields, '$.LeadSource') IN ('Phone Inquiry', 'Trade Show')")[0][0] > 0
    assert q(world_store, "SELECT COUNT(*) FROM hubspot_object WHERE object_type='deals' AND props NOT LIKE '%salesforceopportunityid%'")[0][0] > 0
    # surviving ids in the truth point at live records
    for hs_id, lead_id, contact_id in q(world_store, "SELECT hubspot_contact_id, sf_lead_id, sf_contact_id FROM truth_person"):
        if hs_id is not None:
            assert q(world_store, "SELECT archived FROM hubspot_object WHERE object_type='contacts' AND id=?", hs_id) == [(0,)]
        if lead_id is not None:
            assert q(world_store, "SELECT is_deleted FROM sf_record WHERE sobject='Lead' AND id=?", lead_id) == [(0,)]
        if contact_id is not None:
            assert q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject='Contact' AND id=?", contact_id) == [(1,)]
    # converted leads point at their contact, account and opportunity; deals mirror opportunities
    for (fields,) in q(world_store, "SELECT fields FROM sf_record WHERE sobject='Lead' AND json_extract(fields, '$.IsConverted')"):
        f = json.loads(fields)
        assert f["Status"] == "Closed - Converted" and f["ConvertedDate"]
        for sobject, key in (("Contact", "ConvertedContactId"), ("Account", "ConvertedAccountId"), ("Opportunity", "ConvertedOpportunityId")):
            assert q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject=? AND id=?", sobject, f[key]) == [(1,)]
    mirrored = q(world_store, "SELECT COUNT(*) FROM hubspot_object WHERE object_type='deals' AND json_extract(props, '$.salesforceopportunityid') IN (SELECT id FROM sf_record WHERE sobject='Opportunity')")[0][0]
    opps = q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject='Opportunity'")[0][0]
    assert mirrored >= 0.95 * opps
    assert q(world_store, "SELECT COUNT(*) FROM hubspot_association WHERE from_type='deals' AND to_type='contacts' AND type_id=3")[0][0] > 0
    assert q(world_store, "SELECT COUNT(*) FROM hubspot_association WHERE from_type='contacts' AND to_type='deals' AND type_id=4")[0][0] > 0


def test_funnel_history(world_store: Path) -> None:
    statuses = {s for (s,) in q(world_store, "SELECT DISTINCT json_extract(fields, '$.NewValue') FROM sf_record WHERE sobject='LeadHistory' AND json_extract(fields, '$.Field')='Status'")}
    assert statuses == set(catalog.LEAD_STATUSES) - {"Open - Not Contacted"}
    stages = {s for (s,) in q(world_store, "SELECT DISTINCT json_extract(fields, '$.StageName') FROM sf_record WHERE sobject='OpportunityHistory'")}
    assert stages == {s[0] for s in catalog.OPPORTUNITY_STAGES}
    props = [json.loads(p) for (p,) in q(world_store, "SELECT props FROM hubspot_object WHERE object_type='contacts'")]
    assert any("hs_v2_date_entered_lead" in p for p in props) and any("hs_v2_date_entered_lead" not in p for p in props)
    for p in props:
        order = [p.get(f"hs_lifecyclestage_{s}_date") for s in ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")]
        present = [d for d in order if d]
        assert present == sorted(present)
    assert any(p["lifecyclestage"] == "customer" for p in props)
    # a second contact role for a colleague on some opportunities
    assert q(world_store, "SELECT COUNT(*) FROM sf_record WHERE sobject='OpportunityContactRole' AND NOT json_extract(fields, '$.IsPrimary')")[0][0] > 0


def test_advocacy_and_contest(world_store: Path) -> None:
    advocates = q(world_store, "SELECT advocate_id, platform, sf_user_id FROM advocate")
    assert {a[1] for a in advocates} == {"gaggle", "social_hub"}
    assert any(a[2] for a in advocates)
    assert {p for (p,) in q(world_store, "SELECT DISTINCT platform FROM advocacy_post")} == {"gaggle", "social_hub"}
    # each platform numbers its own posts: the two share post ids
    assert q(world_store, "SELECT COUNT(*) FROM advocacy_post a JOIN advocacy_post b "
             "ON a.post_id = b.post_id AND a.platform < b.platform")[0][0] > 0

    def adv_sessions(lo: str, hi: str) -> int:
        return q(world_store, "SELECT COALESCE(SUM(sessions), 0) FROM ga4_row WHERE date >= ? AND date < ? AND "
                 "(lower(trim(medium)) = 'advocacy' OR lower(trim(source)) = 'social_hub')", lo, hi)[0][0]

    q4, q1 = adv_sessions("20251001", "20260101"), adv_sessions("20260101", "20260401")
    assert q1 > 1.2 * q4
    clicks = dict(q(world_store, "SELECT posted_at >= '2026-01-01', SUM(clicks) FROM advocacy_post WHERE posted_at >= '2025-10-01' AND posted_at < '2026-04-01' GROUP BY 1"))
    assert clicks[1] > 1.2 * clicks[0]
    # messy UTMs on a minority of advocacy rows
    messy = q(world_store, "SELECT COUNT(*) FROM ga4_row WHERE medium IN ('Advocacy', ' advocacy ') OR source IN ('LinkedIn', 'Social_Hub') OR campaign LIKE '%\\%20%' ESCAPE '\\'")[0][0]
    total = adv_sessions("00000000", "99999999")
    assert 0 < messy < 0.3 * total
    # advocacy contacts carry the post's UTMs in their first URL and in Salesforce
    row = q(world_store, "SELECT props FROM hubspot_object WHERE object_type='contacts' AND props LIKE '%SOCIAL_MEDIA%' LIMIT 1")
    assert "utm_" in json.loads(row[0][0])["hs_analytics_first_url"]


@pytest.mark.slow
def test_single_currency(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    generate(path, WorldConfig(seed=2, scale=0.05, multi_currency=False))
    assert q(path, "SELECT COUNT(*) FROM sf_record WHERE sobject IN ('CurrencyType', 'DatedConversionRate')")[0][0] == 0
    assert q(path, "SELECT COUNT(*) FROM sf_record WHERE fields LIKE '%CurrencyIsoCode%'")[0][0] == 0
    assert {c for (c,) in q(path, "SELECT DISTINCT json_extract(props, '$.deal_currency_code') FROM hubspot_object WHERE object_type='deals'")} == {"USD"}
    assert json.loads(q(path, "SELECT value FROM meta WHERE key='multi_currency'")[0][0]) is False


def test_identity_traps_and_late_links(world_store: Path) -> None:
    """The world holds what real CRMs hold and a naive product gets wrong: role/placeholder
    addresses typed by different people, one address on a flood of form fills (more records
    than identity_max_records_per_email), colleagues whose contact role or lead conversion
    comes weeks after the opportunity (after a past as_of)."""
    from connectors.sandbox.people import FLOOD_EMAIL

    emails = q(world_store, """
        SELECT lower(trim(e)), COUNT(*) FROM (
            SELECT json_extract(props, '$.email') AS e FROM hubspot_object
            WHERE object_type = 'contacts' AND archived = 0
            UNION ALL
            SELECT json_extract(fields, '$.Email') FROM sf_record
            WHERE sobject IN ('Lead', 'Contact') AND is_deleted = 0 AND purged = 0)
        GROUP BY 1""")
    by_email = dict(emails)
    assert by_email.get(FLOOD_EMAIL, 0) > 10
    assert by_email.get("test@test.com", 0) >= 2
    assert any(e.startswith(("info@", "sales@", "noreply@")) for e in by_email)
    # contact roles created well after their opportunity; leads converted into an opportunity
    # that existed before the lead was converted
    late_roles = q(world_store, """
        SELECT COUNT(*) FROM sf_record r JOIN sf_record o
          ON o.sobject = 'Opportunity' AND o.id = json_extract(r.fields, '$.OpportunityId')
        WHERE r.sobject = 'OpportunityContactRole' AND r.created_date > o.created_date
          AND julianday(substr(r.created_date, 1, 10)) - julianday(substr(o.created_date, 1, 10)) > 7""")[0][0]
    late_conversions = q(world_store, """
        SELECT COUNT(*) FROM sf_record l JOIN sf_record o
          ON o.sobject = 'Opportunity' AND o.id = json_extract(l.fields, '$.ConvertedOpportunityId')
        WHERE l.sobject = 'Lead' AND json_extract(l.fields, '$.ConvertedDate') > substr(o.created_date, 1, 10)""")[0][0]
    assert late_roles > 0 and late_conversions > 0


def test_generation_work_grows_linearly(world_store: Path, tmp_path: Path) -> None:
    """The generator's lookups that run once per deal, deleted contact or advocacy lead must not
    scan the world (they made scale 100 run for hours): the silent associations' candidates and
    a deleted record's associations are found by index, and an advocacy lead's account is drawn
    from cumulative weights computed once — the same draw as ``choices`` with plain weights."""
    import random

    from connectors.sandbox import hubspot_events
    from connectors.sandbox.world import World, build_static

    path = tmp_path / "w.sqlite"
    shutil.copy(world_store, path)
    conn = store.connect(path)
    try:
        hubspot_events.apply(conn, 1, 0, 1, purge=False)   # builds the index it relies on
        plans = {
            "candidates": hubspot_events.SILENT_CANDIDATES,
            "delete": "DELETE FROM hubspot_association WHERE (from_type=? AND from_id=?) "
                      "OR (to_type=? AND to_id=?)",
        }
        for name, sql in plans.items():
            steps = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, (1, 1) if name == "candidates" else ("contacts", 1, "contacts", 1))]
            assoc = [s for s in steps if "hubspot_association" in s or s.startswith(("SEARCH c ", "SEARCH d "))]
            assert assoc and not any(s.startswith("SCAN") or s.endswith("(from_type=?)") for s in assoc), (name, steps)
    finally:
        conn.close()

    cfg = WorldConfig(seed=5, scale=0.3)
    static = build_static(cfg)
    w = World(sqlite3.connect(":memory:"), cfg, static, static.ids, None)
    weights = [math.exp(cfg.advocacy_size_skew * a["band"]) for a in static.accounts]
    for vid in ("1.1", "42.7", "1999999999.1767225600"):
        expected = genutil.rng_for(cfg.seed, "advocacy_account", vid).choices(range(len(weights)), weights)[0]
        assert w._advocacy_account(vid) == expected
    rng_a, rng_b = random.Random(3), random.Random(3)
    pairs = (("a", 6), ("b", 2.5), ("c", 1.5))
    assert [_weighted(rng_a, pairs) for _ in range(50)] == [
        rng_b.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0] for _ in range(50)]
