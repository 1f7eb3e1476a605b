"""The sandbox truth file: the numbers the product's marts must show for a world store.

``compute_truth(store_path)`` reads the world store (:mod:`connectors.sandbox.store`) with the
standard library only and computes docs/DEFINITIONS.md a second time, independently of the dbt
project: the end-to-end tests demand exact equality between the marts and ``observable``.

Two parts with the same shape:

* ``observable`` - what the APIs let the product see: live CRM records, GA4 rows as the
  per-visitor report serves them (``''`` -> ``(not set)``, then the ``(other)`` rule per date),
  people linked to visitors only through the ids their forms captured.
* ``world`` - what really happened: the same live records, people linked to their true visitor
  id (``truth_person.true_visitor_id``) and GA4 rows by true visitor, without ``(other)`` rows.
* ``export`` - what the product sees with GA4's BigQuery export as the per-visitor source
  (``GA4_SOURCE=bigquery_export``): the world's GA4 rows (every session, by its
  ``user_pseudo_id`` = the true visitor, no ``(other)`` rows), people linked only through the
  ids their forms captured, as in ``observable``. It differs from ``world`` only for people
  whose form captured no visitor id.

``gap`` compares them (leads whose segment the product cannot see, sessions lost to ``(other)``).
Money is kept at full precision and rounded to cents only in the output.

Shape (all lists sorted, all money in the reporting currency rounded to cents)::

    meta: seed, scale, clock, as_of (default clock - 1 day; compute_truth(as_of=...)), reporting_currency, vars{...},
          ga4_other_row_threshold, touch_id (its recipe), models
    observable | world | export:
      counts: {"<schema>.<table>": {live, deleted[, sessions]}}       (same in both parts)
      funnel: [{period_grain, period_start, segment, leads, mqls, sqls, opportunities, won,
                won_amount}]
      won_revenue_by_segment: {segment: amount}
      advocates: {all_time: {advocate_id: {clicks, engagements, posts, sessions, leads_sourced}},
                  by_quarter: [{advocate_id, period_start, <same fields>}]}
      reps: [{rep_id, rep_email, period_start, quota_amount, won_amount, attainment, is_advocate,
              own_advocacy_sessions, own_advocacy_leads}]
      web_traffic: [{date, segment, network, sessions, engaged_sessions, key_events,
                     leads_created}]   (GA4's daily report; network (none) for other traffic)
      advocacy_value: [{period_grain, period_start, network, posts, clicks, engagements,
                        advocacy_sessions}]
      attribution: {sample_opportunity_ids, credits: [{opportunity_id, touch_id, model, credit,
                    touch_date, channel, segment, advocate_id, post_id}] (credit > 0 only),
                    credited_pipeline_by_segment{model{segment}}, credited_won_by_segment{...},
                    sourced_pipeline_by_segment, sourced_won_by_segment,
                    influenced{opportunities, pipeline, won},
                    influenced_by_segment{segment{opportunities, pipeline, won}},
                    credited_opportunities_by_segment{model{segment}}, opportunities,
                    unattributed_opportunities, pipeline_total, won_total}
      segments: {people, by_segment, by_segment_basis: [{segment, segment_basis, people}],
                 inferred_stages{stage: people}}
      identity: {people, records{...}, people_in_both_crms, people_hubspot_only,
                 people_salesforce_only, people_with_visitor_id, people_with_ga4_touch,
                 records_after_as_of, emails_skipped, emails_skipped_by_reason,
                 email_skipped_records, largest_group}
      ga4: {days, rows, collapsed_days, other_row_sessions, sessions_without_visitor_id,
            total_sessions, threshold}
      data_quality: {quarantined_opportunities, unclassified_rows, unclassified_source_medium,
                     unclassified_sessions, unknown_currency_quotas}
    gap: leads_with_different_segment, segment_moves_observable_to_world, ...
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from connectors import schema
from connectors.sandbox import catalog, truth_lift
from connectors.sandbox.store import read_meta
from connectors.sandbox.truth_rules import (
    GA_TRAFFIC_DIMENSIONS,
    LEAD_STATUS_STAGE,
    MODELS,
    NETWORK_ALIASES,
    NOT_SET,
    OTHER,
    UNATTRIBUTED,
    Classification,
    Rates,
    classify,
    collapse_other,
    email_skip_reason,
    md5,
    model_credits,
    normalise,
    parse_date,
    parse_datetime,
    period_start,
    served,
    url_utms,
)

# dbt vars the truth uses (their defaults; DEFINITIONS.md).
VARS: dict[str, Any] = {
    "lead_sourcing_lookback_days": 90,
    "attribution_lookback_days": 180,
    "time_decay_half_life_days": 7,
    "fiscal_year_start_month": 1,
    "reporting_timezone": "UTC",
}
GRAINS = ("quarter", "month")
SEGMENTS = ("advocacy", "other")
# Opportunities (attribution, pipeline, sourced revenue) have a third segment: no touch at all
# (credit) or no linked lead (sourced) is ``unattributed``, never ``other`` (DEFINITIONS.md).
OPP_SEGMENTS = (*SEGMENTS, UNATTRIBUTED)
STAGES = ("mql", "sql", "opportunity", "won")
# ``touch_id`` = md5 of the row's served values joined by '|', the date written as ISO
# (YYYY-MM-DD, the DATE column of ga4.visitor_sessions cast to text), a '\' or '|' inside a
# value escaped by a backslash (docs/DEFINITIONS.md).
TOUCH_ID_FORMAT = "md5(date ISO|visitor_id|source|medium|campaign|ad_content|term)"
SF_SOBJECTS = {t.name: t.source_object for t in schema.tables_of("salesforce")}
# web_traffic_by_segment / advocacy_value: the network of advocacy traffic without a network
# value, and the network of every non-advocacy row.
UNKNOWN_NETWORK = "(unknown)"
NO_NETWORK = "(none)"


def _r2(x: float) -> float:
    return round(x + 0.0, 2) + 0.0


def _cred(x: float) -> float:
    return round(x, 12)


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Touch:
    touch_id: str
    date: dt.date
    visitor_id: str | None       # None for a synthetic touch
    sessions: int
    cls: Classification
    synthetic: bool = False

    @property
    def key(self) -> tuple[dt.date, str]:
        return (self.date, self.touch_id)


@dataclasses.dataclass
class Person:
    key: str                     # person_key (md5)
    members: list[str]           # hubspot:<id> | sf_lead:<id> | sf_contact:<id>, sorted
    lead_created_at: dt.datetime
    lead_date: dt.date
    captured_ids: set[str]
    true_ids: set[str]
    synthetic_utms: dict[str, str] | None
    stage_dates: dict[str, dt.date | None] = dataclasses.field(default_factory=dict)
    inferred: dict[str, bool] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Opportunity:
    opportunity_id: str
    crm: str                     # salesforce | hubspot
    created_date: dt.date
    close_date: dt.date | None
    is_won: bool                 # won and closed on or before as_of
    is_closed: bool
    owner_user_id: str | None
    currency: str
    amount: float                # reporting currency
    linked: list[str]            # person keys, sorted
    earliest: str | None         # person key of the earliest linked lead


@dataclasses.dataclass
class GARow:
    dims: tuple[str, ...]        # GA_DIMENSIONS values as served (date YYYYMMDD)
    sessions: int
    engaged_sessions: int
    key_events: int


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, x: str) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def _email(value: Any) -> str:
    return str(value or "").strip().lower()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _advocate_id(value: Any) -> str:
    """Advocate ids match case-insensitively (docs/DEFINITIONS.md, "Advocates and reps"): trimmed, lower-cased, like
    the UTM-derived ones (``normalise``)."""
    return _text(value).lower()


def _float(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() == "true"


@lru_cache(maxsize=65536)
def _classify(source: str, medium: str, campaign: str, content: str, term: str) -> Classification:
    return classify(source, medium, campaign, content, term)


# ---------------------------------------------------------------------------------------------
# Loading the store
# ---------------------------------------------------------------------------------------------
class World:
    """Everything the two parts share: live records, people, stages, opportunities."""

    def __init__(self, conn: sqlite3.Connection, as_of: dt.date | None = None) -> None:
        self.conn = conn
        self.meta = self._meta()
        clock = parse_date(self.meta.get("clock"))
        if clock is None:
            raise ValueError("the store has no clock (meta 'clock')")
        self.clock = clock
        # The last day with data by default; an earlier as_of sees the store as it stood then
        # as far as dates tell (records, roles, conversions, rates dated after it are ignored).
        self.as_of = as_of if as_of is not None else clock - dt.timedelta(days=1)
        if self.as_of >= clock:
            raise ValueError(f"as_of {self.as_of} is not before the store's clock {clock}")
        self.reporting_currency = str(self.meta.get("corporate_currency") or "USD")
        self.threshold = int(self.meta.get("ga4_other_row_threshold") or 0)
        self.fiscal = int(VARS["fiscal_year_start_month"])
        self.quarantined: list[str] = []
        self._load_crm()
        self._build_people()
        self._build_campaign_touches()
        self._build_opportunities()
        self._build_stages()

    # -- raw -----------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return read_meta(self.conn)

    def _load_crm(self) -> None:
        self.hs: dict[str, dict[int, dict[str, str]]] = defaultdict(dict)
        for otype, oid, props in self.conn.execute(
            "SELECT object_type, id, props FROM hubspot_object WHERE archived = 0 ORDER BY id"
        ):
            self.hs[otype][int(oid)] = json.loads(props)
        self.deal_contacts: dict[int, set[int]] = defaultdict(set)
        for deal_id, contact_id in self.conn.execute(
            "SELECT from_id, to_id FROM hubspot_association "
            "WHERE from_type = 'deals' AND to_type = 'contacts'"
        ):
            self.deal_contacts[int(deal_id)].add(int(contact_id))
        self.owner_email: dict[str, str] = {}
        for oid, payload in self.conn.execute("SELECT id, payload FROM hubspot_owner WHERE archived = 0"):
            self.owner_email[str(oid)] = _email(json.loads(payload).get("email"))
        self.sf: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for sobject, rid, fields in self.conn.execute(
            "SELECT sobject, id, fields FROM sf_record WHERE is_deleted = 0 AND purged = 0 ORDER BY id"
        ):
            self.sf[sobject][rid] = json.loads(fields)
        currency_types = {}
        corporate = None
        for f in self.sf["CurrencyType"].values():
            if f.get("IsoCode") and f.get("ConversionRate"):
                currency_types[f["IsoCode"]] = float(f["ConversionRate"])
            if f.get("IsoCode") and _bool(f.get("IsCorporate")):
                corporate = f["IsoCode"]
        dated = []
        for f in self.sf["DatedConversionRate"].values():
            start = parse_date(f.get("StartDate"))
            if f.get("IsoCode") and start and f.get("ConversionRate"):
                dated.append((f["IsoCode"], start, parse_date(f.get("NextStartDate")),
                              float(f["ConversionRate"])))
        # Rates are per 1 corporate-currency unit; the reporting currency is the corporate one
        # here (meta corporate_currency), converted with cross rates all the same.
        self.rates = Rates(self.reporting_currency, currency_types, dated, corporate)
        self.user_by_email: dict[str, str] = {}
        for uid in sorted(self.sf["User"]):
            email = _email(self.sf["User"][uid].get("Email"))
            if email:
                self.user_by_email.setdefault(email, uid)
        self.truth_ids: dict[str, set[str]] = defaultdict(set)
        for row in self.conn.execute(
            "SELECT true_visitor_id, hubspot_contact_id, sf_lead_id, sf_contact_id FROM truth_person"
        ):
            vid = _text(row[0])
            if not vid:
                continue
            if row[1] is not None:
                self.truth_ids[f"hubspot:{int(row[1])}"].add(vid)
            if row[2]:
                self.truth_ids[f"sf_lead:{row[2]}"].add(vid)
            if row[3]:
                self.truth_ids[f"sf_contact:{row[3]}"].add(vid)

    # -- people --------------------------------------------------------------------------------
    def converted_by_as_of(self, lead: dict[str, Any]) -> bool:
        """A lead's conversion links (contact, opportunity) count from its ConvertedDate."""
        d = parse_date(lead.get("ConvertedDate"))
        return d is None or d <= self.as_of

    def _build_people(self) -> None:
        """People: the records created by as_of, joined by their CRM links and by emails that
        identify (not a role/placeholder address, on at most MAX_RECORDS_PER_EMAIL records)."""
        uf = _UnionFind()
        created: dict[str, dt.datetime] = {}
        emails: dict[str, list[str]] = defaultdict(list)
        contacts, leads, sf_contacts = self.hs["contacts"], self.sf["Lead"], self.sf["Contact"]
        self.records_after_as_of = 0
        self.record_counts: dict[str, int] = defaultdict(int)
        for prefix, records, created_field, email_field in (
                ("hubspot", contacts, "createdate", "email"), ("sf_lead", leads, "CreatedDate", "Email"),
                ("sf_contact", sf_contacts, "CreatedDate", "Email")):
            for rid, fields in records.items():
                k = f"{prefix}:{rid}"
                at = parse_datetime(fields.get(created_field))
                if at is None or at.date() > self.as_of:
                    self.records_after_as_of += at is not None
                    continue
                uf.add(k)
                created[k] = at
                self.record_counts[prefix] += 1
                if _email(fields.get(email_field)):
                    emails[_email(fields.get(email_field))].append(k)

        def link(a: str, b: str) -> None:
            if a in created and b in created:
                uf.union(a, b)

        for cid, p in contacts.items():
            lead = _text(p.get("salesforceleadid"))
            if lead:
                link(f"hubspot:{cid}", f"sf_lead:{lead}")
            contact = _text(p.get("salesforcecontactid"))
            if contact:
                link(f"hubspot:{cid}", f"sf_contact:{contact}")
        for lid, f in leads.items():
            contact = _text(f.get("ConvertedContactId"))
            if contact and self.converted_by_as_of(f):
                link(f"sf_lead:{lid}", f"sf_contact:{contact}")
        self.emails_skipped: dict[str, int] = defaultdict(int)
        self.email_skipped_records = 0
        for email, members in emails.items():
            reason = email_skip_reason(email, len(members))
            if reason is not None:
                self.emails_skipped[reason] += 1
                self.email_skipped_records += len(members)
                continue
            for other in members[1:]:
                uf.union(members[0], other)

        groups: dict[str, list[str]] = defaultdict(list)
        for k in uf.parent:
            groups[uf.find(k)].append(k)
        self.people: dict[str, Person] = {}
        self.person_of: dict[str, str] = {}
        self.largest_group = max((len(m) for m in groups.values()), default=0)
        for members in groups.values():
            members.sort()
            key = md5(members[0])
            for m in members:
                self.person_of[m] = key
            lead_at = min(created[m] for m in members)
            lead_date = lead_at.date()
            captured: set[str] = set()
            true_ids: set[str] = set()
            for m in members:
                kind, rid = m.split(":", 1)
                if kind == "hubspot":
                    vid = _text(contacts[int(rid)].get("ga_client_id"))
                else:
                    rec = leads[rid] if kind == "sf_lead" else sf_contacts[rid]
                    vid = _text(rec.get("GA_Client_ID__c"))
                if vid:
                    captured.add(vid)
                true_ids |= self.truth_ids.get(m, set())
            self.people[key] = Person(
                key=key, members=members, lead_created_at=lead_at, lead_date=lead_date,
                captured_ids=captured, true_ids=true_ids | captured,
                synthetic_utms=self._synthetic_utms(members),
            )

    def _build_campaign_touches(self) -> None:
        """Responded Salesforce campaign members (live, FirstRespondedDate <= as_of) of each
        person's leads and contacts: one touch per member, dated by its FirstRespondedDate,
        channel salesforce_campaign, segment other (DEFINITIONS.md "Touches")."""
        by_record: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for mid, f in self.sf["CampaignMember"].items():
            if f.get("LeadId"):
                by_record[f"sf_lead:{f['LeadId']}"].append((mid, f))
            if f.get("ContactId"):
                by_record[f"sf_contact:{f['ContactId']}"].append((mid, f))
        cls = Classification("other", "salesforce_campaign", None, None, None, None)
        self.campaign_touches: dict[str, list[Touch]] = {}
        for key, person in self.people.items():
            seen: dict[str, Touch] = {}
            for m in person.members:
                for mid, f in by_record.get(m, ()):
                    d = parse_date(f.get("FirstRespondedDate"))
                    if _bool(f.get("HasResponded")) and d is not None and d <= self.as_of:
                        seen.setdefault(mid, Touch(md5(f"sf_campaign|{mid}"), d, None, 0, cls))
            if seen:
                self.campaign_touches[key] = list(seen.values())

    def _synthetic_utms(self, members: list[str]) -> dict[str, str] | None:
        """The CRM's original source: utm_* of the earliest HubSpot contact's
        ``hs_analytics_first_url`` that has any, else the UTM fields of the earliest Salesforce
        lead/contact with a medium or source."""
        hs_cands = []
        sf_cands = []
        for m in members:
            kind, rid = m.split(":", 1)
            if kind == "hubspot":
                p = self.hs["contacts"][int(rid)]
                utms = url_utms(p.get("hs_analytics_first_url"))
                if utms:
                    hs_cands.append((parse_datetime(p.get("createdate")) or dt.datetime.max.replace(tzinfo=dt.UTC), m, utms))
            else:
                f = self.sf["Lead"][rid] if kind == "sf_lead" else self.sf["Contact"][rid]
                if _text(f.get("UTM_Medium__c")) or _text(f.get("UTM_Source__c")):
                    utms = {
                        "utm_source": _text(f.get("UTM_Source__c")),
                        "utm_medium": _text(f.get("UTM_Medium__c")),
                        "utm_campaign": _text(f.get("UTM_Campaign__c")),
                        "utm_content": _text(f.get("UTM_Content__c")),
                        "utm_term": _text(f.get("UTM_Term__c")),
                    }
                    sf_cands.append((parse_datetime(f.get("CreatedDate")) or dt.datetime.max.replace(tzinfo=dt.UTC), m, utms))
        if hs_cands:
            return min(hs_cands, key=lambda c: (c[0], c[1]))[2]
        if sf_cands:
            return min(sf_cands, key=lambda c: (c[0], c[1]))[2]
        return None

    # -- opportunities -------------------------------------------------------------------------
    def _build_opportunities(self) -> None:
        self.opportunities: dict[str, Opportunity] = {}
        linked: dict[str, set[str]] = defaultdict(set)
        # the day each person became linked to each opportunity (None: undated, i.e. always)
        linked_on: dict[tuple[str, str], list[dt.date | None]] = defaultdict(list)

        def link(opp_id: str, member: str, on: dt.date | None = None) -> None:
            key = self.person_of.get(member)
            if key in self.people:
                linked[opp_id].add(key)
                linked_on[(opp_id, key)].append(on)

        for ocr in self.sf["OpportunityContactRole"].values():
            opp, contact = _text(ocr.get("OpportunityId")), _text(ocr.get("ContactId"))
            role_date = parse_date(ocr.get("CreatedDate"))
            if role_date is not None and role_date > self.as_of:
                continue  # a contact role added after as_of did not exist on as_of
            if opp and contact in self.sf["Contact"]:
                link(opp, f"sf_contact:{contact}", role_date)
        for lid, f in self.sf["Lead"].items():
            opp = _text(f.get("ConvertedOpportunityId"))
            if opp and self.converted_by_as_of(f):
                link(opp, f"sf_lead:{lid}", parse_date(f.get("ConvertedDate")))
        for deal_id, contact_ids in self.deal_contacts.items():
            for cid in contact_ids:
                if cid in self.hs["contacts"]:
                    link(f"hubspot:{deal_id}", f"hubspot:{cid}")

        raw = []
        for oid, f in self.sf["Opportunity"].items():
            raw.append((oid, "salesforce", parse_date(f.get("CreatedDate")),
                        parse_date(f.get("CloseDate")), _bool(f.get("IsWon")),
                        _bool(f.get("IsClosed")), _text(f.get("OwnerId")) or None,
                        f.get(catalog.CURRENCY_FIELD), _float(f.get("Amount"))))
        for did, p in self.hs["deals"].items():
            if _text(p.get("salesforceopportunityid")):
                continue
            owner = self.user_by_email.get(self.owner_email.get(_text(p.get("hubspot_owner_id")), ""))
            raw.append((f"hubspot:{did}", "hubspot", parse_date(p.get("createdate")),
                        parse_date(p.get("closedate")), _bool(p.get("hs_is_closed_won")),
                        _bool(p.get("hs_is_closed")), owner, p.get("deal_currency_code"),
                        _float(p.get("amount"))))
        for oid, crm, created, close, won, closed, owner, currency, amount in raw:
            if created is None or created > self.as_of:
                continue
            code = _text(currency) or self.reporting_currency
            # the rate of the close date, but never of a day after as_of (no rate was known
            # then for a later day): min(close date, as_of), as_of without a close date
            rate = self.rates.rate(code, min(close, self.as_of) if close else self.as_of)
            if rate is None or rate == 0:
                self.quarantined.append(oid)
                continue
            people = sorted(linked.get(oid, ()))
            earliest = min(people, key=lambda k: (self.people[k].lead_created_at, k)) if people else None
            self.opportunities[oid] = Opportunity(
                opportunity_id=oid, crm=crm, created_date=created, close_date=close,
                is_won=won and close is not None and close <= self.as_of, is_closed=closed,
                owner_user_id=owner, currency=code, amount=amount / rate, linked=people,
                earliest=earliest,
            )
        self.quarantined.sort()
        # a person reaches the opportunity/won stage of an opportunity no earlier than the day
        # of their link to it (any undated link: always linked)
        self.linked_date: dict[tuple[str, str], dt.date | None] = {
            k: (None if any(d is None for d in ds) else min(ds)) for k, ds in linked_on.items()}
        self.opps_of: dict[str, list[Opportunity]] = defaultdict(list)
        for oid in sorted(self.opportunities):
            for k in self.opportunities[oid].linked:
                self.opps_of[k].append(self.opportunities[oid])

    # -- stages --------------------------------------------------------------------------------
    def _build_stages(self) -> None:
        status_dates: dict[str, dict[str, list[dt.date]]] = defaultdict(lambda: defaultdict(list))
        for f in self.sf["LeadHistory"].values():
            if f.get("Field") != "Status":
                continue
            stage = LEAD_STATUS_STAGE.get(_text(f.get("NewValue")))
            lead = _text(f.get("LeadId"))
            d = parse_date(f.get("CreatedDate"))
            if stage and lead in self.sf["Lead"] and d is not None:
                status_dates[lead][stage].append(d)
        props = {
            "mql": ("hs_lifecyclestage_marketingqualifiedlead_date",
                    "hs_v2_date_entered_marketingqualifiedlead"),
            "sql": ("hs_lifecyclestage_salesqualifiedlead_date",
                    "hs_v2_date_entered_salesqualifiedlead"),
        }
        for person in self.people.values():
            own: dict[str, list[dt.date]] = {s: [] for s in STAGES}
            for m in person.members:
                kind, rid = m.split(":", 1)
                if kind == "hubspot":
                    p = self.hs["contacts"][int(rid)]
                    for stage, names in props.items():
                        for name in names:
                            d = parse_date(p.get(name))
                            if d is not None:
                                own[stage].append(d)
                elif kind == "sf_lead":
                    for stage, dates in status_dates.get(rid, {}).items():
                        own[stage].extend(dates)
            for opp in self.opps_of.get(person.key, []):
                on = self.linked_date.get((opp.opportunity_id, person.key))
                own["opportunity"].append(max(opp.created_date, on) if on else opp.created_date)
                if opp.is_won and opp.close_date is not None:
                    own["won"].append(max(opp.close_date, on) if on else opp.close_date)
            dates: dict[str, dt.date | None] = {}
            inferred: dict[str, bool] = {}
            nxt: dt.date | None = None
            for stage in reversed(STAGES):
                mine = [d for d in own[stage] if d <= self.as_of]
                d = min(mine) if mine else None
                if d is None:
                    inferred[stage] = nxt is not None
                    d = nxt
                else:
                    inferred[stage] = False
                    if nxt is not None and nxt < d:
                        d = nxt
                dates[stage] = d
                nxt = d
            person.stage_dates, person.inferred = dates, inferred

    # -- GA4 -------------------------------------------------------------------------------------
    def ga_rows(self, *, observable: bool) -> tuple[list[GARow], dict[str, Any]]:
        """The per-visitor report: as served and collapsed (observable) or by true visitor."""
        last = self.as_of.strftime("%Y%m%d")
        grouped: dict[str, dict[tuple[str, ...], list[int]]] = defaultdict(dict)
        for row in self.conn.execute(
            "SELECT date, visitor_id, true_visitor_id, source, medium, campaign, ad_content, term, "
            "sessions, engaged_sessions, key_events FROM ga4_row WHERE date <= ?",
            (last,),
        ):
            visitor = row[1] if observable else row[2]
            dims = (row[0], served(visitor), *(served(v) for v in row[3:8]))
            acc = grouped[row[0]].setdefault(dims, [0, 0, 0])
            acc[0] += row[8]
            acc[1] += row[9]
            acc[2] += row[10]
        out: list[GARow] = []
        stats = {"days": 0, "collapsed_days": 0, "other_row_sessions": 0,
                 "not_set_sessions": 0, "sessions": 0, "rows": 0}
        for date in sorted(grouped):
            rows = [(dims, tuple(m)) for dims, m in grouped[date].items()]
            collapsed = False
            if observable:
                rows, collapsed = collapse_other(rows, self.threshold)
            stats["days"] += 1
            stats["collapsed_days"] += int(collapsed)
            for dims, m in sorted(rows):
                out.append(GARow(dims, m[0], m[1], m[2]))
                stats["sessions"] += m[0]
                stats["rows"] += 1
                if dims[1] == OTHER:
                    stats["other_row_sessions"] += m[0]
                elif dims[1] == NOT_SET:
                    stats["not_set_sessions"] += m[0]
        return out, stats

    def traffic_rows(self) -> list[GARow]:
        """ga4.traffic_daily as the report without the visitor dimension serves it: rows grouped
        by (date, source, medium, campaign, ad_content) as served, the ``(other)`` rule per date."""
        cached = getattr(self, "_traffic", None)
        if cached is not None:
            return cached
        last = self.as_of.strftime("%Y%m%d")
        grouped: dict[str, dict[tuple[str, ...], list[int]]] = defaultdict(dict)
        idx = {"date": 0, "source": 1, "medium": 2, "campaign": 3, "ad_content": 4}
        assert tuple(idx) == GA_TRAFFIC_DIMENSIONS
        for row in self.conn.execute(
            "SELECT date, source, medium, campaign, ad_content, sessions, engaged_sessions, "
            "key_events FROM ga4_row WHERE date <= ?",
            (last,),
        ):
            dims = (row[0], *(served(v) for v in row[1:5]))
            acc = grouped[row[0]].setdefault(dims, [0, 0, 0])
            acc[0] += row[5]
            acc[1] += row[6]
            acc[2] += row[7]
        out: list[GARow] = []
        for date in sorted(grouped):
            rows, _ = collapse_other([(d, tuple(m)) for d, m in grouped[date].items()], self.threshold)
            out.extend(GARow(dims, m[0], m[1], m[2]) for dims, m in sorted(rows))
        self._traffic: list[GARow] | None = out
        return out

    def traffic_counts(self) -> dict[str, int]:
        """Rows and sessions of ga4.traffic_daily."""
        rows = self.traffic_rows()
        return {"live": len(rows), "deleted": 0, "sessions": sum(r.sessions for r in rows)}

    # -- counts ----------------------------------------------------------------------------------
    def counts(self, visitor_stats: dict[str, Any]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for otype in ("contacts", "companies", "deals"):
            live, deleted = self.conn.execute(
                "SELECT COALESCE(SUM(archived = 0), 0), COALESCE(SUM(archived = 1), 0) "
                "FROM hubspot_object WHERE object_type = ?", (otype,)).fetchone()
            out[f"hubspot.{otype}"] = {"live": live, "deleted": deleted}
        (assoc,) = self.conn.execute(
            "SELECT COUNT(*) FROM hubspot_association a JOIN hubspot_object d "
            "ON d.object_type = 'deals' AND d.id = a.from_id AND d.archived = 0 "
            "WHERE a.from_type = 'deals' AND a.to_type = 'contacts'").fetchone()
        out["hubspot.deal_contact_associations"] = {"live": assoc, "deleted": 0}
        live, deleted = self.conn.execute(
            "SELECT COALESCE(SUM(archived = 0), 0), COALESCE(SUM(archived = 1), 0) "
            "FROM hubspot_owner").fetchone()
        out["hubspot.owners"] = {"live": live, "deleted": deleted}
        out["hubspot.deal_pipelines"] = {
            "live": len(catalog.HUBSPOT_DEAL_PIPELINE["stages"]), "deleted": 0}
        multi = self.meta.get("multi_currency", True)
        for name, sobject in sorted(SF_SOBJECTS.items()):
            if not multi and sobject in catalog.MULTI_CURRENCY_OBJECTS:
                continue
            live, deleted = self.conn.execute(
                "SELECT COALESCE(SUM(is_deleted = 0 AND purged = 0), 0), "
                "COALESCE(SUM(is_deleted = 1 AND purged = 0), 0) FROM sf_record WHERE sobject = ?",
                (sobject,)).fetchone()
            out[f"salesforce.{name}"] = {"live": live, "deleted": deleted}
        out["ga4.visitor_sessions"] = {"live": visitor_stats["rows"], "deleted": 0,
                                       "sessions": visitor_stats["sessions"]}
        out["ga4.traffic_daily"] = self.traffic_counts()
        (posts,) = self.conn.execute("SELECT COUNT(*) FROM advocacy_post").fetchone()
        out["advocacy_platform.posts"] = {"live": posts, "deleted": 0}
        return out


# ---------------------------------------------------------------------------------------------
# One part (observable or world)
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class PartState:
    touches_of: dict[str, list[Touch]]              # person key -> GA4 or synthetic touches,
                                                    # and Salesforce campaign touches
    sourcing: dict[str, Touch | None]
    segment: dict[str, str]
    basis: dict[str, str]
    opp_touches: dict[str, list[Touch]]
    credits: dict[str, dict[str, list[float]]]      # opp -> model -> credit per touch


def _ga_touch(row: GARow) -> Touch | None:
    date, visitor = row.dims[0], row.dims[1]
    if visitor in (NOT_SET, OTHER, ""):
        return None
    d = parse_date(date)
    assert d is not None
    values = (d.isoformat(), *(v.replace("\\", "\\\\").replace("|", "\\|") for v in row.dims[1:]))
    return Touch(md5("|".join(values)), d, visitor, row.sessions, _classify(*row.dims[2:7]))


def build_part(world: World, rows: list[GARow], *, observable: bool) -> PartState:
    lookback = dt.timedelta(days=int(VARS["lead_sourcing_lookback_days"]))
    touches_by_visitor: dict[str, list[Touch]] = defaultdict(list)
    for row in rows:
        t = _ga_touch(row)
        if t is not None:
            touches_by_visitor[t.visitor_id].append(t)
    touches_of: dict[str, list[Touch]] = {}
    sourcing: dict[str, Touch | None] = {}
    segment: dict[str, str] = {}
    basis: dict[str, str] = {}
    for key in sorted(world.people):
        person = world.people[key]
        ids = person.captured_ids if observable else person.true_ids
        seen: dict[str, Touch] = {}
        for vid in sorted(ids):
            for t in touches_by_visitor.get(vid, ()):
                seen.setdefault(t.touch_id, t)
        ga = sorted(seen.values(), key=lambda t: t.key)
        if ga:
            touches = ga
        elif person.synthetic_utms is not None:
            u = person.synthetic_utms
            cls = _classify(*(u.get(k, "") for k in ("utm_source", "utm_medium", "utm_campaign",
                                                     "utm_content", "utm_term")))
            touches = [Touch(md5(f"synthetic|{key}"), person.lead_date, None, 0, cls, True)]
        else:
            touches = []
        # campaign touches are credited by attribution, never a lead's sourcing touch
        touches_of[key] = sorted(touches + world.campaign_touches.get(key, []), key=lambda t: t.key)
        lo, hi = person.lead_date - lookback, person.lead_date
        cands = [t for t in ga if lo <= t.date <= hi]
        if cands:
            src, b = cands[0], "ga4"
        elif not ga and touches:
            src, b = touches[0], "crm_original_source"
        else:
            src, b = None, "none"
        sourcing[key] = src
        segment[key] = src.cls.segment if src else "other"
        basis[key] = b

    window = dt.timedelta(days=int(VARS["attribution_lookback_days"]))
    half_life = float(VARS["time_decay_half_life_days"])
    opp_touches: dict[str, list[Touch]] = {}
    credits: dict[str, dict[str, list[float]]] = {}
    for oid in sorted(world.opportunities):
        opp = world.opportunities[oid]
        lo, hi = opp.created_date - window, opp.created_date
        seen = {}
        for k in opp.linked:
            for t in touches_of[k]:
                if lo <= t.date <= hi:
                    seen.setdefault(t.touch_id, t)
        ts = sorted(seen.values(), key=lambda t: t.key)
        opp_touches[oid] = ts
        if not ts:
            credits[oid] = {m: [1.0] for m in MODELS}
            continue
        lead_touch = sourcing.get(opp.earliest) if opp.earliest else None
        ids = [t.touch_id for t in ts]
        lead_index = ids.index(lead_touch.touch_id) if lead_touch and lead_touch.touch_id in ids else None
        ages = [(opp.created_date - t.date).days for t in ts]
        credits[oid] = {m: model_credits(m, len(ts), lead_index=lead_index, age_days=ages,
                                         half_life=half_life) for m in MODELS}
    return PartState(touches_of, sourcing, segment, basis, opp_touches, credits)


def _funnel(world: World, st: PartState) -> list[dict[str, Any]]:
    cells: dict[tuple[str, dt.date, str], dict[str, Any]] = {}
    for key in sorted(world.people):
        person = world.people[key]
        for grain in GRAINS:
            cell = cells.setdefault(
                (grain, period_start(person.lead_date, grain, world.fiscal), st.segment[key]),
                {"leads": 0, "mqls": 0, "sqls": 0, "opportunities": 0, "won": 0, "won_amount": 0.0})
            cell["leads"] += 1
            for stage, col in (("mql", "mqls"), ("sql", "sqls"), ("opportunity", "opportunities"),
                               ("won", "won")):
                if person.stage_dates.get(stage) is not None:
                    cell[col] += 1
    for oid in sorted(world.opportunities):
        opp = world.opportunities[oid]
        if not opp.is_won or opp.earliest is None:
            continue
        person = world.people[opp.earliest]
        for grain in GRAINS:
            cells[(grain, period_start(person.lead_date, grain, world.fiscal),
                   st.segment[opp.earliest])]["won_amount"] += opp.amount
    return [
        {"period_grain": g, "period_start": p.isoformat(), "segment": s,
         **{k: (_r2(v) if k == "won_amount" else v) for k, v in c.items()}}
        for (g, p, s), c in sorted(cells.items())
    ]


def _sourced_segment(st: PartState, opp: Opportunity) -> str:
    return st.segment[opp.earliest] if opp.earliest else UNATTRIBUTED


def _advocates(world: World, st: PartState, rows: list[GARow]) -> dict[str, Any]:
    fields = ("clicks", "engagements", "posts", "sessions", "leads_sourced")
    total: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))
    by_q: dict[tuple[str, dt.date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))

    def add(adv: str, d: dt.date, field: str, n: int) -> None:
        total[adv][field] += n
        by_q[(adv, period_start(d, "quarter", world.fiscal))][field] += n

    for (adv,) in world.conn.execute("SELECT advocate_id FROM advocate"):
        total[_advocate_id(adv)]  # noqa: B018 - the roster's advocates appear even without activity
    for adv, posted, clicks, likes, comments, shares in world.conn.execute(
        "SELECT advocate_id, posted_at, clicks, likes, comments, shares FROM advocacy_post "
        "ORDER BY platform, post_id"
    ):
        adv = _advocate_id(adv)
        d = parse_date(posted)
        if d is None or d > world.as_of:
            continue
        add(adv, d, "posts", 1)
        add(adv, d, "clicks", clicks)
        add(adv, d, "engagements", likes + comments + shares)
    for row in rows:
        cls = _classify(*row.dims[2:7])
        if cls.segment == "advocacy" and cls.advocate_id:
            d = parse_date(row.dims[0])
            assert d is not None
            add(cls.advocate_id, d, "sessions", row.sessions)
    for key in sorted(world.people):
        t = st.sourcing[key]
        if t is not None and t.cls.segment == "advocacy" and t.cls.advocate_id:
            add(t.cls.advocate_id, world.people[key].lead_date, "leads_sourced", 1)
    return {
        "all_time": {adv: dict(v) for adv, v in sorted(total.items())},
        "by_quarter": [{"advocate_id": adv, "period_start": q.isoformat(), **v}
                       for (adv, q), v in sorted(by_q.items())],
    }


def _rep_advocates(world: World) -> dict[str, str]:
    """advocate id -> Salesforce user id: the advocate's email (of its latest post, by
    ``posted_at`` then post id; the roster seed is empty) is the user's (smallest user id)."""
    latest: dict[str, tuple[dt.datetime, str, str]] = {}
    for adv, email, posted, pid in world.conn.execute(
        "SELECT advocate_id, advocate_email, posted_at, post_id FROM advocacy_post"
    ):
        adv = _advocate_id(adv)
        when = parse_datetime(posted) or dt.datetime.min.replace(tzinfo=dt.UTC)
        if adv and (adv not in latest or (when, pid) > latest[adv][:2]):
            latest[adv] = (when, pid, _email(email))
    out = {}
    for adv, (_, _, email) in latest.items():
        user = world.user_by_email.get(email) if email else None
        if user:
            out[adv] = user
    return out


def _quota_rows(world: World) -> list[dict[str, Any]]:
    """The ForecastingQuota rows that count: amount quotas (IsAmount) of one forecasting type,
    the one with the most amount quota rows (ties: the smallest id; dbt var
    quota_forecasting_type_id unset), with an owner and StartDate <= as_of."""
    amount = [f for _, f in sorted(world.sf["ForecastingQuota"].items())
              if f.get("IsAmount") is None or _bool(f.get("IsAmount"))]
    counts: dict[str, int] = defaultdict(int)
    for f in amount:
        counts[_text(f.get("ForecastingTypeId"))] += 1
    if not counts:
        return []
    chosen = min(counts, key=lambda t: (-counts[t], t))
    out = []
    for f in amount:
        owner, start = _text(f.get("QuotaOwnerId")), parse_date(f.get("StartDate"))
        if _text(f.get("ForecastingTypeId")) != chosen or not owner or start is None or start > world.as_of:
            continue
        out.append(f)
    return out


def _unknown_currency_quotas(world: World) -> int:
    """Quota rows left out of the quotas because their currency has no rate."""
    return sum(1 for f in _quota_rows(world)
               if not world.rates.rate(f.get(catalog.CURRENCY_FIELD), parse_date(f.get("StartDate"))))


def _reps(world: World, st: PartState, rows: list[GARow]) -> list[dict[str, Any]]:
    quota: dict[tuple[str, dt.date], float] = defaultdict(float)
    for f in _quota_rows(world):
        owner, start = _text(f.get("QuotaOwnerId")), parse_date(f.get("StartDate"))
        assert start is not None
        rate = world.rates.rate(f.get(catalog.CURRENCY_FIELD), start)
        if rate is None or rate == 0:
            continue  # unknown currency: left out, counted in data_quality
        quota[(owner, period_start(start, "quarter", world.fiscal))] += _float(f.get("QuotaAmount")) / rate
    won: dict[tuple[str, dt.date], float] = defaultdict(float)
    for oid in sorted(world.opportunities):
        opp = world.opportunities[oid]
        if opp.is_won and opp.owner_user_id and opp.close_date is not None:
            won[(opp.owner_user_id, period_start(opp.close_date, "quarter", world.fiscal))] += opp.amount
    user_of = _rep_advocates(world)
    own_sessions: dict[tuple[str, dt.date], int] = defaultdict(int)
    for row in rows:
        cls = _classify(*row.dims[2:7])
        if cls.segment == "advocacy" and cls.advocate_id in user_of:
            d = parse_date(row.dims[0])
            assert d is not None
            own_sessions[(user_of[cls.advocate_id], period_start(d, "quarter", world.fiscal))] += row.sessions
    own_leads: dict[tuple[str, dt.date], int] = defaultdict(int)
    for key in sorted(world.people):
        t = st.sourcing[key]
        if t is not None and t.cls.segment == "advocacy" and t.cls.advocate_id in user_of:
            q = period_start(world.people[key].lead_date, "quarter", world.fiscal)
            own_leads[(user_of[t.cls.advocate_id], q)] += 1
    advocate_users = set(user_of.values())
    reps = {owner for owner, _ in quota}
    out = []
    for rep, q in sorted({k for k in quota} | {k for k in won if k[0] in reps}):
        user = world.sf["User"].get(rep, {})
        qa = quota.get((rep, q))
        wa = won.get((rep, q), 0.0)
        out.append({
            "rep_id": rep, "rep_email": _email(user.get("Email")) or None,
            "period_start": q.isoformat(), "quota_amount": _r2(qa) if qa is not None else None,
            "won_amount": _r2(wa), "attainment": _cred(wa / qa) if qa else None,
            "is_advocate": rep in advocate_users,
            "own_advocacy_sessions": own_sessions.get((rep, q), 0),
            "own_advocacy_leads": own_leads.get((rep, q), 0),
        })
    return out


def _traffic_key(cls: Classification) -> tuple[str, str]:
    """(segment, network) of web_traffic_by_segment: advocacy rows by their network."""
    if cls.segment == "advocacy":
        return "advocacy", cls.network or UNKNOWN_NETWORK
    return "other", NO_NETWORK


def _traffic_cls(row: GARow) -> Classification:
    # The daily report has no term dimension: utm_term is empty.
    return _classify(*row.dims[1:5], "")


def _web_traffic(world: World, st: PartState, traffic: list[GARow]) -> list[dict[str, Any]]:
    """Per date x segment x network: the daily report's sessions / engaged sessions / key
    events (all sessions), and leads_created = people whose lead date is the date, by their
    segment and sourcing touch's network."""
    fields = ("sessions", "engaged_sessions", "key_events", "leads_created")
    cells: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))
    for r in traffic:
        d = parse_date(r.dims[0])
        assert d is not None
        c = cells[(d.isoformat(), *_traffic_key(_traffic_cls(r)))]
        c["sessions"] += r.sessions
        c["engaged_sessions"] += r.engaged_sessions
        c["key_events"] += r.key_events
    for key in sorted(world.people):
        t = st.sourcing[key]
        seg_net = _traffic_key(t.cls) if t is not None else ("other", NO_NETWORK)
        cells[(world.people[key].lead_date.isoformat(), *seg_net)]["leads_created"] += 1
    return [{"date": d, "segment": s, "network": n, **v} for (d, s, n), v in sorted(cells.items())]


def _advocacy_value(world: World, traffic: list[GARow]) -> list[dict[str, Any]]:
    """Per period x network: posts / clicks / engagements of the platform export (network as
    exported, lower-cased, aliases applied; by posted date) and advocacy_sessions of the daily
    report's advocacy rows (by their network, ``(unknown)`` without one). Money (clicks x cpc)
    is left to the reader of the ``network_values`` seed."""
    fields = ("posts", "clicks", "engagements", "advocacy_sessions")
    cells: dict[tuple[str, dt.date, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))

    def add(d: dt.date, network: str, field: str, n: int) -> None:
        for grain in GRAINS:
            cells[(grain, period_start(d, grain, world.fiscal), network)][field] += n

    for network, posted, clicks, likes, comments, shares in world.conn.execute(
        "SELECT network, posted_at, clicks, likes, comments, shares FROM advocacy_post ORDER BY platform, post_id"
    ):
        d = parse_date(posted)
        if d is None or d > world.as_of:
            continue
        net = _text(network).lower()
        net = NETWORK_ALIASES.get(net, net)
        add(d, net, "posts", 1)
        add(d, net, "clicks", clicks)
        add(d, net, "engagements", likes + comments + shares)
    for r in traffic:
        seg, net = _traffic_key(_traffic_cls(r))
        if seg == "advocacy":
            d = parse_date(r.dims[0])
            assert d is not None
            add(d, net, "advocacy_sessions", r.sessions)
    return [{"period_grain": g, "period_start": p.isoformat(), "network": n, **v}
            for (g, p, n), v in sorted(cells.items())]


def _credit_rows(world: World, st: PartState, oid: str) -> list[dict[str, Any]]:
    out = []
    ts = st.opp_touches[oid]
    for model in MODELS:
        if not ts:
            out.append({"opportunity_id": oid, "touch_id": UNATTRIBUTED, "model": model,
                        "credit": 1.0, "touch_date": None, "channel": UNATTRIBUTED,
                        "segment": UNATTRIBUTED, "advocate_id": None, "post_id": None})
            continue
        for t, c in zip(ts, st.credits[oid][model], strict=True):
            if _cred(c) == 0:  # listed only where the (rounded) credit is > 0
                continue
            out.append({"opportunity_id": oid, "touch_id": t.touch_id, "model": model,
                        "credit": _cred(c), "touch_date": t.date.isoformat(),
                        "channel": t.cls.channel, "segment": t.cls.segment,
                        "advocate_id": t.cls.advocate_id, "post_id": t.cls.post_id})
    return out


def select_sample(world: World, st: PartState, size: int) -> list[str]:
    """A deterministic sample (by md5 of the id) that includes, where the world has them, a
    HubSpot-only deal, one without touch, one with several touches and one in another currency."""
    ordered = sorted(world.opportunities, key=lambda oid: (md5(oid), oid))
    wanted = [
        lambda o: o.crm == "hubspot",
        lambda o: not st.opp_touches[o.opportunity_id],
        lambda o: len(st.opp_touches[o.opportunity_id]) >= 3,
        lambda o: o.currency != world.reporting_currency,
        lambda o: o.is_won,
    ]
    chosen: list[str] = []
    for pred in wanted:
        for oid in ordered:
            if pred(world.opportunities[oid]):
                if oid not in chosen:
                    chosen.append(oid)
                break
    for oid in ordered:
        if len(chosen) >= max(size, 0):
            break
        if oid not in chosen:
            chosen.append(oid)
    return sorted(chosen)


def _attribution(world: World, st: PartState, sample: list[str]) -> dict[str, Any]:
    pipe: dict[str, dict[str, float]] = {m: dict.fromkeys(OPP_SEGMENTS, 0.0) for m in MODELS}
    won: dict[str, dict[str, float]] = {m: dict.fromkeys(OPP_SEGMENTS, 0.0) for m in MODELS}
    sourced_pipe = dict.fromkeys(OPP_SEGMENTS, 0.0)
    sourced_won = dict.fromkeys(OPP_SEGMENTS, 0.0)
    influenced = {"opportunities": 0, "pipeline": 0.0, "won": 0.0}
    infl_seg = {s: {"opportunities": 0, "pipeline": 0.0, "won": 0.0} for s in OPP_SEGMENTS}
    opp_credit: dict[str, dict[str, float]] = {m: dict.fromkeys(OPP_SEGMENTS, 0.0) for m in MODELS}
    pipeline_total = won_total = 0.0
    unattributed = 0
    for oid in sorted(world.opportunities):
        opp = world.opportunities[oid]
        ts = st.opp_touches[oid]
        pipeline_total += opp.amount
        won_amount = opp.amount if opp.is_won else 0.0
        won_total += won_amount
        seg = _sourced_segment(st, opp)
        sourced_pipe[seg] += opp.amount
        sourced_won[seg] += won_amount
        if any(t.cls.segment == "advocacy" for t in ts):
            influenced["opportunities"] += 1
            influenced["pipeline"] += opp.amount
            influenced["won"] += won_amount
        if not ts:
            unattributed += 1
        # pipeline_by_segment.influenced_*: a touch of the segment; no touch at all is
        # unattributed (its credit row is not a touch, so it influences no other segment).
        touched = {t.cls.segment for t in ts} if ts else {UNATTRIBUTED}
        for s in touched:
            infl_seg[s]["opportunities"] += 1
            infl_seg[s]["pipeline"] += opp.amount
            infl_seg[s]["won"] += won_amount
        for model in MODELS:
            if not ts:
                pipe[model][UNATTRIBUTED] += opp.amount
                won[model][UNATTRIBUTED] += won_amount
                opp_credit[model][UNATTRIBUTED] += 1.0
                continue
            for t, c in zip(ts, st.credits[oid][model], strict=True):
                pipe[model][t.cls.segment] += c * opp.amount
                won[model][t.cls.segment] += c * won_amount
                opp_credit[model][t.cls.segment] += c
    credits = [row for oid in sample for row in _credit_rows(world, st, oid)]
    return {
        "sample_opportunity_ids": sample,
        "credits": credits,
        "credited_pipeline_by_segment": {m: {s: _r2(v) for s, v in pipe[m].items()} for m in MODELS},
        "credited_won_by_segment": {m: {s: _r2(v) for s, v in won[m].items()} for m in MODELS},
        "sourced_pipeline_by_segment": {s: _r2(v) for s, v in sourced_pipe.items()},
        "sourced_won_by_segment": {s: _r2(v) for s, v in sourced_won.items()},
        "influenced": {"opportunities": influenced["opportunities"],
                       "pipeline": _r2(influenced["pipeline"]), "won": _r2(influenced["won"])},
        "influenced_by_segment": {s: {"opportunities": v["opportunities"],
                                      "pipeline": _r2(v["pipeline"]), "won": _r2(v["won"])}
                                  for s, v in infl_seg.items()},
        "credited_opportunities_by_segment": {m: {s: _cred(v) for s, v in opp_credit[m].items()}
                                              for m in MODELS},
        "opportunities": len(world.opportunities),
        "unattributed_opportunities": unattributed,
        "pipeline_total": _r2(pipeline_total),
        "won_total": _r2(won_total),
    }


def _segments(world: World, st: PartState) -> dict[str, Any]:
    by_segment = dict.fromkeys(SEGMENTS, 0)
    by_basis: dict[tuple[str, str], int] = defaultdict(int)
    for key in world.people:
        by_segment[st.segment[key]] += 1
        by_basis[(st.segment[key], st.basis[key])] += 1
    inferred = dict.fromkeys(STAGES, 0)
    for person in world.people.values():
        for stage in STAGES:
            inferred[stage] += bool(person.inferred.get(stage))
    return {
        "people": len(world.people),
        "inferred_stages": inferred,
        "by_segment": by_segment,
        "by_segment_basis": [{"segment": s, "segment_basis": b, "people": n}
                             for (s, b), n in sorted(by_basis.items())],
    }


def _identity(world: World, st: PartState, *, observable: bool) -> dict[str, Any]:
    both = hs_only = sf_only = with_vid = 0
    with_touch = sum(1 for k in world.people
                     if any(t.visitor_id is not None for t in st.touches_of[k]))
    for person in world.people.values():
        kinds = {m.split(":", 1)[0] for m in person.members}
        has_hs, has_sf = "hubspot" in kinds, bool(kinds & {"sf_lead", "sf_contact"})
        both += has_hs and has_sf
        hs_only += has_hs and not has_sf
        sf_only += has_sf and not has_hs
        with_vid += bool(person.captured_ids if observable else person.true_ids)
    return {
        "people": len(world.people),
        "records": {"hubspot_contacts": world.record_counts["hubspot"],
                    "salesforce_leads": world.record_counts["sf_lead"],
                    "salesforce_contacts": world.record_counts["sf_contact"]},
        "people_in_both_crms": both,
        "people_hubspot_only": hs_only,
        "people_salesforce_only": sf_only,
        "people_with_visitor_id": with_vid,
        "people_with_ga4_touch": with_touch,
        "records_after_as_of": world.records_after_as_of,
        "emails_skipped": sum(world.emails_skipped.values()),
        "emails_skipped_by_reason": dict(sorted(world.emails_skipped.items())),
        "email_skipped_records": world.email_skipped_records,
        "largest_group": world.largest_group,
    }


def _part_output(world: World, st: PartState, rows: list[GARow], stats: dict[str, Any],
                 counts: dict[str, Any], sample: list[str], traffic: list[GARow], *,
                 observable: bool) -> dict[str, Any]:
    won_by_segment = dict.fromkeys(OPP_SEGMENTS, 0.0)
    unclassified = [r for r in rows
                    if r.dims[1] != OTHER and _classify(*r.dims[2:7]).channel == "unclassified"]
    for oid in sorted(world.opportunities):
        opp = world.opportunities[oid]
        if opp.is_won:
            won_by_segment[_sourced_segment(st, opp)] += opp.amount
    return {
        "counts": counts,
        "funnel": _funnel(world, st),
        "won_revenue_by_segment": {s: _r2(v) for s, v in won_by_segment.items()},
        "advocates": _advocates(world, st, rows),
        "reps": _reps(world, st, rows),
        "web_traffic": _web_traffic(world, st, traffic),
        "advocacy_value": _advocacy_value(world, traffic),
        "attribution": _attribution(world, st, sample),
        "segments": _segments(world, st),
        "identity": _identity(world, st, observable=observable),
        "ga4": {
            "days": stats["days"],
            "rows": stats["rows"],
            "collapsed_days": stats["collapsed_days"],
            "other_row_sessions": stats["other_row_sessions"],
            "sessions_without_visitor_id": stats["not_set_sessions"],
            "total_sessions": stats["sessions"],
            "threshold": world.threshold if observable else 0,
        },
        "data_quality": {
            "quarantined_opportunities": world.quarantined,
            "unclassified_rows": sum(1 for r in unclassified),
            "unclassified_source_medium": len({(normalise(r.dims[2]), normalise(r.dims[3]))
                                               for r in unclassified}),
            "unclassified_sessions": sum(r.sessions for r in unclassified),
            "unknown_currency_quotas": _unknown_currency_quotas(world),
        },
    }


def _gap(world: World, obs: PartState, wld: PartState, obs_stats: dict[str, Any]) -> dict[str, Any]:
    moves: dict[str, int] = defaultdict(int)
    basis_moves: dict[str, int] = defaultdict(int)
    differ = 0
    for key in sorted(world.people):
        a, b = obs.segment[key], wld.segment[key]
        moves[f"{a}->{b}"] += 1
        differ += a != b
        if obs.basis[key] != wld.basis[key]:
            basis_moves[f"{obs.basis[key]}->{wld.basis[key]}"] += 1
    uncaptured = sum(1 for p in world.people.values() if p.true_ids - p.captured_ids)
    opp_diff = sum(1 for oid in world.opportunities
                   if [t.touch_id for t in obs.opp_touches[oid]]
                   != [t.touch_id for t in wld.opp_touches[oid]])
    (store_not_set,) = world.conn.execute(
        "SELECT COALESCE(SUM(sessions), 0) FROM ga4_row WHERE visitor_id = '' AND date <= ?",
        (world.as_of.strftime("%Y%m%d"),)).fetchone()
    return {
        "leads_with_different_segment": differ,
        "segment_moves_observable_to_world": dict(sorted(moves.items())),
        "segment_basis_moves_observable_to_world": dict(sorted(basis_moves.items())),
        "people_with_uncaptured_visitor_id": uncaptured,
        "opportunities_with_different_touches": opp_diff,
        "ga4_sessions_sent_without_visitor_id": store_not_set,
        "ga4_sessions_in_other_rows": obs_stats["other_row_sessions"],
    }


def _export_part(part: dict[str, Any]) -> dict[str, Any]:
    """The export has no (other) rule: no threshold applies to its GA4 rows."""
    part["ga4"]["threshold"] = 0
    return part


def compute_truth(store_path: str | Path, *, sample_size: int = 25,
                  as_of: dt.date | None = None) -> dict[str, Any]:
    """The truth file of a world store (JSON-serialisable, deterministic, sorted lists), as of
    ``as_of`` (default: the day before the store's clock, its last day with data)."""
    conn = sqlite3.connect(f"file:{Path(store_path)}?mode=ro", uri=True)
    try:
        world = World(conn, as_of)
        obs_rows, obs_stats = world.ga_rows(observable=True)
        wld_rows, wld_stats = world.ga_rows(observable=False)
        obs = build_part(world, obs_rows, observable=True)
        wld = build_part(world, wld_rows, observable=False)
        exp = build_part(world, wld_rows, observable=True)   # world GA rows, captured ids
        counts = world.counts(obs_stats)
        traffic = world.traffic_rows()
        sample = select_sample(world, obs, sample_size)
        return {
            "meta": {
                "seed": world.meta.get("seed"),
                "scale": world.meta.get("scale"),
                "clock": world.clock.isoformat(),
                "as_of": world.as_of.isoformat(),
                "reporting_currency": world.reporting_currency,
                "vars": dict(VARS),
                "ga4_other_row_threshold": world.threshold,
                "touch_id": TOUCH_ID_FORMAT,
                "models": list(MODELS),
            },
            "observable": _part_output(world, obs, obs_rows, obs_stats, counts, sample, traffic,
                                       observable=True),
            "world": _part_output(world, wld, wld_rows, wld_stats, counts, sample, traffic,
                                  observable=False),
            "export": _export_part(_part_output(world, exp, wld_rows, wld_stats, counts,
                                                sample, traffic, observable=True)),
            "gap": _gap(world, obs, wld, obs_stats),
            "lift": {"causal": truth_lift.causal(world),
                     "adjusted_funnel_comparison": truth_lift.estimate(world, obs)},
        }
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Headline (make demo)
# ---------------------------------------------------------------------------------------------
def _rate(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f}%" if b else "    - "


def _full_quarters(as_of: dt.date, fiscal: int, n: int) -> list[str]:
    current = period_start(as_of + dt.timedelta(days=1), "quarter", fiscal)
    out, q = [], current
    for _ in range(n):
        q = period_start(q - dt.timedelta(days=1), "quarter", fiscal)
        out.append(q.isoformat())
    return sorted(out)


def headline(truth: dict[str, Any], part: str = "observable") -> str:
    """A short text table of the truth's headline numbers (used by ``make demo``)."""
    meta, data = truth["meta"], truth[part]
    as_of = dt.date.fromisoformat(meta["as_of"])
    quarters = _full_quarters(as_of, int(meta["vars"]["fiscal_year_start_month"]), 2)
    cur = meta["reporting_currency"]
    lines = [f"Sandbox truth ({part}) - seed {meta['seed']}, scale {meta['scale']}, "
             f"as of {meta['as_of']}", ""]
    head = (f"{'quarter':<10} {'segment':<9} {'leads':>6} {'mql':>5} {'sql':>5} {'opp':>5} "
            f"{'won':>4} {'L>MQL':>6} {'M>SQL':>6} {'S>OPP':>6} {'O>WON':>6} {'L>WON':>6} "
            f"{'won ' + cur:>14}")
    lines += [head, "-" * len(head)]
    rows = {(r["period_start"], r["segment"]): r for r in data["funnel"]
            if r["period_grain"] == "quarter"}
    for q in quarters:
        for seg in SEGMENTS:
            r = rows.get((q, seg))
            if r is None:
                lines.append(f"{q:<10} {seg:<9} {0:>6}")
                continue
            lines.append(
                f"{q:<10} {seg:<9} {r['leads']:>6} {r['mqls']:>5} {r['sqls']:>5} "
                f"{r['opportunities']:>5} {r['won']:>4} {_rate(r['mqls'], r['leads']):>6} "
                f"{_rate(r['sqls'], r['mqls']):>6} {_rate(r['opportunities'], r['sqls']):>6} "
                f"{_rate(r['won'], r['opportunities']):>6} {_rate(r['won'], r['leads']):>6} "
                f"{r['won_amount']:>14,.2f}")
    lines += ["", f"Won revenue by sourced segment ({cur}, all time):"]
    for seg, amount in data["won_revenue_by_segment"].items():
        lines.append(f"  {seg:<9} {amount:>16,.2f}")
    lines += ["", "Top 5 advocates (all time):",
              f"  {'advocate':<10} {'posts':>6} {'clicks':>7} {'engagements':>12} "
              f"{'sessions':>9} {'leads':>6}"]
    ranked = sorted(data["advocates"]["all_time"].items(),
                    key=lambda kv: (-kv[1]["clicks"], -kv[1]["sessions"], kv[0]))[:5]
    for adv, v in ranked:
        lines.append(f"  {adv:<10} {v['posts']:>6} {v['clicks']:>7} {v['engagements']:>12} "
                     f"{v['sessions']:>9} {v['leads_sourced']:>6}")
    gap = truth.get("gap")
    if gap and part == "observable":
        lines += ["", f"Gap to the world: {gap['leads_with_different_segment']} leads with another "
                  f"segment, {gap['ga4_sessions_in_other_rows']} sessions in (other) rows, "
                  f"{gap['ga4_sessions_sent_without_visitor_id']} sessions without visitor id."]
    return "\n".join(lines)


def dumps(truth: dict[str, Any]) -> str:
    return json.dumps(truth, indent=1, sort_keys=True)
