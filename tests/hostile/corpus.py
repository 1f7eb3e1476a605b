"""The hostile-input corpus (docs/RELIABILITY.md, "Hostile inputs"): values the sources really
send, each with the one outcome the product must give it.

Each :class:`Case` names the source, object and field, the value as the API (or the export)
serves it, and the expected outcome:

* ``normalised``  stored/staged as ``expect`` (raw column, or dbt staging column for ``stg:``);
* ``quarantined`` kept out of the raw table, a ``_quarantine`` row naming the record whose
                  reason contains ``expect``;
* ``repaired``    stored with ``expect`` (lone surrogates -> U+FFFD), a ``_repaired`` row;
* ``flagged``     kept, counted by the ``data_quality`` check ``expect`` (and, for dates, no
                  cycle length).

:func:`inject` writes every case into a copy of the sandbox world store as a record of its own
(ids ending ``ZZZ`` in Salesforce, from 990,000,000 in HubSpot, ``HX`` posts), copied from a
real record of the world so that every reference stays valid; nothing of the world changes.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

HS_BASE = 990_000_000
SF_SUFFIX = "ZZZ"


@dataclasses.dataclass(frozen=True)
class Case:
    cls: str          # the class of hostile input (the table in docs/RELIABILITY.md)
    source: str
    object: str
    field: str
    value: Any
    outcome: str      # normalised | quarantined | repaired | flagged
    expect: Any
    record_id: str = ""   # filled by cases(): the record the value travels in


# -- money: one rule for every source (connectors/values.py) ---------------------------------
MONEY_OK = [
    ("1,234.50", Decimal("1234.50")), ("$1234", Decimal("1234.00")), (" 1234.5 ", Decimal("1234.50")),
    ("$1,234,567.891", Decimal("1234567.89")), ("-$50", Decimal("-50.00")), ("1e3", Decimal("1000.00")),
    ("\u200b99", Decimal("99.00")), ("0", Decimal("0.00")), ("$ 12.00", Decimal("12.00")),
    ("€1,000", Decimal("1000.00")), ("£7.5", Decimal("7.50")), ("+15", Decimal("15.00")),
    ("9999999999999.99", Decimal("9999999999999.99")), ("0.005", Decimal("0.01")),
    ("12,345,678", Decimal("12345678.00")), ("\u00a0300\u00a0", Decimal("300.00")),
    ("-0", Decimal("0.00")), ("\t", None), ("1.005", Decimal("1.01")),
]
MONEY_BAD = [
    ("NaN", "not a finite number"), ("nan", "not a finite number"), ("Infinity", "not a finite number"),
    ("-Infinity", "not a finite number"), ("inf", "not a finite number"), ("1e20", "out of range"),
    ("1E+16", "out of range"), ("10000000000000", "out of range"), ("-1e17", "out of range"),
    ("9999999999999999.99", "out of range"),
    ("12,34", "not a number"), ("abc", "not a number"), ("1.2.3", "not a number"),
    ("$", "not a number"), ("--5", "not a number"), ("0x10", "not a number"),
    ("1 000", "not a number"), ("USD 100", "not a number"), ("1,2345.00", "not a number"),
    ("1.234,50", "not a number"), ("(100)", "not a number"), ("100%", "not a number"),
    ("1e400", "out of range"), ("sNaN", "not a"),
]
# Salesforce serves JSON numbers (Bulk CSV: text, parsed by the same rule)
SF_MONEY_OK = [(36900.0, Decimal("36900.00")), (0.1, Decimal("0.10")), (-250.5, Decimal("-250.50")),
               (123456789012.34, Decimal("123456789012.34")), ("1,234.50", Decimal("1234.50")),
               ("$1234", Decimal("1234.00")), (1e3, Decimal("1000.00"))]
SF_MONEY_BAD = [(1e20, "out of range"), (1.5e16, "out of range"), (12345678901234567890, "out of range"),
                (-1e17, "out of range"), ("NaN", "not a finite number"), ("Infinity", "not a finite number"),
                ("1e20", "out of range"), ("12,34", "not a number"), (True, "not a number")]
QUOTA_BAD = [(1e20, "out of range"), (1e16, "out of range"), (-1e18, "out of range"),
             (2**70, "out of range"), ("NaN", "not a finite number")]
QUOTA_OK = [(68000.5, Decimal("68000.50")), ("$70,000", Decimal("70000.00"))]

# -- text: lone UTF-16 surrogates (JSON "\ud800" escapes) ----------------------------------------
SURROGATES = ["\ud800", "Ann\udfff", "\udc00\ud800x", "Zoë\ud83d", "\ude00b", "x\udbff\udbffy"]

# -- emails: Unicode white space and zero-width characters ----------------------------------------
def _emails(tag: str) -> list[tuple[str, str | None]]:
    """(value, normalised); ``{i}`` in both becomes the case's number (one address each)."""
    a = f"ann.{tag}{{i}}@corpus.example"
    return [
        (f"\t{a}", a), (f"ann.{tag}{{i}}\u200b@corpus.example", a), (f"\u00a0ANN.{tag.upper()}{{i}}@CORPUS.EXAMPLE\u00a0", a),
        (f"\ufeff{a}", a), (f"{a}\u2060", a), (f"\u3000{a}", a), (f"{a}\r\n", a),
        (f"ann.{tag}{{i}}@corpus\u200d.example", a), (f" ann.{tag}{{i}} @corpus.example", a),
        ("\t", None), ("\u200b", None), (" \n ", None), ("\u00a0\u2003", None),
    ]


# -- labels: lifecycle stages and lead statuses differing in case and spaces ---------------------
LIFECYCLE = [("MarketingQualifiedLead", "marketingqualifiedlead"), (" Lead ", "lead"),
             ("SALESQUALIFIEDLEAD", "salesqualifiedlead"), ("sales qualified lead", "salesqualifiedlead"),
             ("Customer\t", "customer"), ("\u00a0opportunity", "opportunity"),
             ("marketing qualified lead", "marketingqualifiedlead"), ("LEAD", "lead")]
LEAD_STATUS = [("marketing qualified", "mql"), ("MARKETING QUALIFIED", "mql"),
               ("  Marketing  Qualified ", "mql"), ("Marketing\u00a0Qualified", "mql"),
               ("sales qualified", "sql"), ("Sales Qualified ", "sql"), ("SALESQUALIFIED", "sql"),
               ("closed - converted", "sql"), ("Closed-Converted", "sql"), ("CLOSED -  CONVERTED", "sql")]

# -- dates -----------------------------------------------------------------------------------------
LIFECYCLE_DATES_BAD = ["2026-02-30T00:00:00Z", "yesterday", "31/12/2025", "2026-13-01", "0",
                       "2026-01-01T25:00:00Z", "N/A", "1e12", "--", "2026-01-05 25:61"]
SF_CLOSE_BAD = [("2026-02-30", "CloseDate"), ("31/12/2025", "CloseDate"), ("soon", "CloseDate"),
                ("2026-13-01", "CloseDate")]
# (created, closed) of won opportunities that are impossible: flagged, no cycle days
SF_IMPOSSIBLE = [("2026-03-10T10:00:00.000+0000", "2026-03-01"), ("2026-05-01T10:00:00.000+0000", "1969-12-31"),
                 ("2026-02-01T10:00:00.000+0000", "2026-01-31"), ("2026-04-01T10:00:00.000+0000", "1970-01-01")]
HS_IMPOSSIBLE = [("2026-03-10T10:00:00.000Z", "2026-03-01T10:00:00.000Z"),
                 ("2026-04-01T10:00:00.000Z", "1969-12-31T23:59:59.000Z"),
                 ("2026-02-01T10:00:00.000Z", "1969-07-20T20:17:00.000Z"),
                 # epoch milliseconds before 1970 (HubSpot takes dates as epoch ms too)
                 ("2026-04-01T10:00:00.000Z", "-86400000"),
                 ("2026-04-01T10:00:00.000Z", "-1")]
# closed deals whose close date does not parse: flagged, no cycle days
HS_CLOSE_BAD = ["2026-02-30T00:00:00Z", "soon", "31/12/2025", "1e12"]

# -- counts near 2**63 (advocacy exports) --------------------------------------------------------
COUNTS_BAD = ["9223372036854775807", "9223372036854775000", "1000000000001", "1000000000000000000",
              "4611686018427387904", "9223372036854775806"]
COUNTS_OK = [("1000000000000", 10**12), ("999999999999", 999_999_999_999)]

# -- integers beyond BIGINT (HubSpot owners' userId) ----------------------------------------------
OWNER_USER_IDS_BAD = [2**63, 2**64 + 5, -(2**63) - 1]


def cases() -> list[Case]:
    out: list[Case] = []

    def add(*args: Any) -> None:
        out.append(Case(*args))

    for v, e in MONEY_OK:
        add("money", "hubspot", "deals", "amount", v, "normalised", None if e is None else str(e))
    for v, r in MONEY_BAD:
        add("money", "hubspot", "deals", "amount", v, "quarantined", f"amount: {r}")
    for v, e in SF_MONEY_OK:
        add("money", "salesforce", "Opportunity", "Amount", v, "normalised", e)
    for v, r in SF_MONEY_BAD:
        add("money", "salesforce", "Opportunity", "Amount", v, "quarantined", f"Amount: {r}")
    for v, e in QUOTA_OK:
        add("money", "salesforce", "ForecastingQuota", "QuotaAmount", v, "normalised", e)
    for v, r in QUOTA_BAD:
        add("money", "salesforce", "ForecastingQuota", "QuotaAmount", v, "quarantined", f"QuotaAmount: {r}")
    for field in ("firstname", "lastname", "hs_analytics_source_data_2"):
        for v in SURROGATES:
            add("text", "hubspot", "contacts", field, v, "repaired", _clean(v))
    for v in SURROGATES:
        add("text", "hubspot", "companies", "name", v, "repaired", _clean(v))
    for v in SURROGATES:
        add("text", "hubspot", "deals", "dealname", v, "repaired", _clean(v))
    for sobject, field in (("Lead", "FirstName"), ("Lead", "LastName"), ("Lead", "Company"), ("Opportunity", "Name"),
                           ("Account", "Name")):
        for v in SURROGATES:
            add("text", "salesforce", sobject, field, v, "repaired", _clean(v))
    for i, (v, e) in enumerate(_emails("hs")):
        add("email", "hubspot", "contacts", "email", v.format(i=i), "normalised", e and e.format(i=i))
    for i, (v, e) in enumerate(_emails("sf")):
        add("email", "salesforce", "Lead", "Email", v.format(i=i), "normalised", e and e.format(i=i))
    for v, e in LIFECYCLE:
        add("label", "hubspot", "contacts", "lifecyclestage", v, "normalised", e)
    for v, e in LEAD_STATUS:
        add("label", "salesforce", "LeadHistory", "NewValue", v, "normalised", e)
    for v in LIFECYCLE_DATES_BAD:
        add("date", "hubspot", "contacts", "hs_lifecyclestage_marketingqualifiedlead_date", v, "flagged",
            "unparsable_lifecycle_dates")
    for v, f in SF_CLOSE_BAD:
        add("date", "salesforce", "Opportunity", f, v, "quarantined", f"{f}: ")
    for created, closed in SF_IMPOSSIBLE:
        add("date", "salesforce", "Opportunity", "CloseDate", (created, closed), "flagged",
            "impossible_opportunity_dates")
    for created, closed in HS_IMPOSSIBLE:
        add("date", "hubspot", "deals", "closedate", (created, closed), "flagged",
            "impossible_opportunity_dates")
    for v in HS_CLOSE_BAD:
        add("date", "hubspot", "deals", "closedate", ("2026-03-10T10:00:00.000Z", v), "flagged",
            "unparsable_deal_dates")
    for v in COUNTS_BAD:
        add("count", "advocacy_platform", "posts", "clicks", v, "quarantined", "clicks out of range")
    for v, e in COUNTS_OK:
        add("count", "advocacy_platform", "posts", "clicks", v, "normalised", e)
    for v in OWNER_USER_IDS_BAD:
        add("integer", "hubspot", "owners", "userId", v, "quarantined", "user_id: ")
    for platform in ("gaggle", "social_hub"):
        add("csv", "advocacy_platform", "posts", "shares", platform, "quarantined", "cut short")
    return [dataclasses.replace(c, record_id=_record_id(c, i)) for i, c in enumerate(out)]


def _clean(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


_SF_PREFIX = {"Lead": "00Q", "Opportunity": "006", "Account": "001", "ForecastingQuota": "0J9",
              "LeadHistory": "00Q"}


def _record_id(case: Case, i: int) -> str:
    if case.source == "hubspot":
        return str(HS_BASE + i)
    if case.source == "salesforce":
        return f"{_SF_PREFIX[case.object]}{i:012d}{SF_SUFFIX}"
    return f"HX{i:06d}"


# -- injection -------------------------------------------------------------------------------------
def inject(store_path: Path, corpus: list[Case]) -> None:
    """Write every case into the (copied) world store as a record of its own."""
    conn = sqlite3.connect(store_path)
    try:
        with conn:
            for c in corpus:
                {"hubspot": _inject_hubspot, "salesforce": _inject_salesforce,
                 "advocacy_platform": _inject_post}[c.source](conn, c)
    finally:
        conn.close()


_CREATED = "2026-03-02T10:00:00.000"
_CREATED_MS = 1772445600000      # 2026-03-02T10:00:00Z


def _hs_template(conn: sqlite3.Connection, object_type: str) -> dict[str, str]:
    (props,) = conn.execute(
        "SELECT props FROM hubspot_object WHERE object_type = ? AND archived = 0 ORDER BY id LIMIT 1",
        (object_type,)).fetchone()
    return json.loads(props)


def _inject_hubspot(conn: sqlite3.Connection, c: Case) -> None:
    if c.object == "owners":
        (payload,) = conn.execute("SELECT payload FROM hubspot_owner ORDER BY id LIMIT 1").fetchone()
        owner = {**json.loads(payload), "id": c.record_id, "userId": c.value,
                 "email": f"owner{c.record_id}@corpus.example"}
        conn.execute("INSERT INTO hubspot_owner (id, archived, payload) VALUES (?, 0, ?)",
                     (int(c.record_id), json.dumps(owner)))
        return
    props = _hs_template(conn, c.object)
    # a record of its own: no link to the world's people, companies or Salesforce records
    for key in ("salesforceleadid", "salesforcecontactid", "salesforceopportunityid", "ga_client_id",
                "associatedcompanyid", "hs_merged_object_ids"):
        props.pop(key, None)
    created_ms = _CREATED_MS
    props.update({"hs_object_id": c.record_id, "createdate": _CREATED + "Z",
                  "lastmodifieddate": _CREATED + "Z", "hs_lastmodifieddate": _CREATED + "Z"})
    if c.object == "contacts":
        props["email"] = f"contact{c.record_id}@corpus.example"
    if c.object == "deals":           # closed after it was created, as any sane deal
        props["closedate"] = "2026-03-20T10:00:00.000Z"
    if c.field == "closedate":
        created, closed = c.value
        props.update({"createdate": created, "closedate": closed, "dealstage": "closedwon",
                      "hs_is_closed": "true", "hs_is_closed_won": "true"})
    else:
        props[c.field] = c.value
    conn.execute(
        "INSERT INTO hubspot_object (object_type, id, created_at_ms, updated_at_ms, archived, props) "
        "VALUES (?, ?, ?, ?, 0, ?)", (c.object, int(c.record_id), created_ms, created_ms, json.dumps(props)))


def _sf_template(conn: sqlite3.Connection, sobject: str, where: str = "") -> dict[str, Any]:
    (fields,) = conn.execute(
        f"SELECT fields FROM sf_record WHERE sobject = ? AND is_deleted = 0 {where} ORDER BY id LIMIT 1",
        (sobject,)).fetchone()
    return json.loads(fields)


def _insert_sf(conn: sqlite3.Connection, sobject: str, fields: dict[str, Any]) -> None:
    stamp = fields.get("SystemModstamp") or fields["CreatedDate"]
    iso = stamp.replace("+0000", "Z")
    conn.execute("INSERT INTO sf_record (sobject, id, system_modstamp, created_date, is_deleted, purged, fields) "
                 "VALUES (?, ?, ?, ?, 0, 0, ?)", (sobject, fields["Id"], iso,
                                                   fields["CreatedDate"].replace("+0000", "Z"), json.dumps(fields)))


def _inject_salesforce(conn: sqlite3.Connection, c: Case) -> None:
    stamp = _CREATED + "+0000"
    if c.object == "LeadHistory":
        # a lead of its own, and its Status change into the hostile value a week later
        lead = _sf_template(conn, "Lead", "AND json_extract(fields, '$.IsConverted') = 0")
        lead.update({"Id": c.record_id, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp,
                     "Email": f"lead{c.record_id}@corpus.example", "Status": "Open - Not Contacted",
                     "GA_Client_ID__c": None})
        _insert_sf(conn, "Lead", lead)
        history = _sf_template(conn, "LeadHistory")
        changed = "2026-03-09T10:00:00.000+0000"
        history.update({"Id": "017" + c.record_id[3:], "LeadId": c.record_id, "CreatedDate": changed,
                        "Field": "Status", "DataType": "Text", "OldValue": "Open - Not Contacted",
                        "NewValue": c.value})
        conn.execute("INSERT INTO sf_record (sobject, id, system_modstamp, created_date, is_deleted, purged, fields) "
                     "VALUES ('LeadHistory', ?, NULL, ?, 0, 0, ?)",
                     (history["Id"], changed.replace("+0000", "Z"), json.dumps(history)))
        return
    where = "AND json_extract(fields, '$.IsWon') = 1" if c.object == "Opportunity" else ""
    fields = _sf_template(conn, c.object, where)
    fields.update({"Id": c.record_id, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp})
    if c.object == "Lead":
        fields.update({"Email": f"lead{c.record_id}@corpus.example", "IsConverted": False,
                       "ConvertedAccountId": None, "ConvertedContactId": None,
                       "ConvertedOpportunityId": None, "ConvertedDate": None, "GA_Client_ID__c": None})
    if c.object == "Opportunity":
        fields["CloseDate"] = "2026-03-20"
    if c.object == "Opportunity" and c.field == "CloseDate" and isinstance(c.value, tuple):
        created, closed = c.value
        fields.update({"CreatedDate": created, "CloseDate": closed})
    else:
        fields[c.field] = c.value
    _insert_sf(conn, c.object, fields)


def _inject_post(conn: sqlite3.Connection, c: Case) -> None:
    if c.field == "shares":        # an export cut inside its last field: the platform's last post
        (platform,) = (c.value,)
        row = conn.execute("SELECT * FROM advocacy_post WHERE platform = ? ORDER BY posted_at DESC, post_id DESC "
                           "LIMIT 1", (platform,)).fetchone()
        cols = [d[0] for d in conn.execute("SELECT * FROM advocacy_post LIMIT 0").description]
        post = dict(zip(cols, row, strict=True))
        post.update({"post_id": c.record_id, "posted_at": "2026-06-30T23:59:59.000Z", "shares": 1234})
        cut = set(json.loads((conn.execute("SELECT value FROM meta WHERE key = 'exports_cut_last_line'")
                              .fetchone() or ["[]"])[0]))
        conn.execute("INSERT INTO meta (key, value) VALUES ('exports_cut_last_line', ?) ON CONFLICT(key) "
                     "DO UPDATE SET value = excluded.value", (json.dumps(sorted(cut | {platform})),))
    else:
        row = conn.execute("SELECT * FROM advocacy_post ORDER BY posted_at, post_id LIMIT 1").fetchone()
        cols = [d[0] for d in conn.execute("SELECT * FROM advocacy_post LIMIT 0").description]
        post = dict(zip(cols, row, strict=True))
        post.update({"post_id": c.record_id, "posted_at": "2026-03-02T10:00:00.000Z", c.field: c.value})
    names = ", ".join(post)
    conn.execute(f"INSERT INTO advocacy_post ({names}) VALUES ({', '.join('?' for _ in post)})",
                 list(post.values()))
