"""The sandbox truth: each definition of docs/DEFINITIONS.md proven on a tiny hand-made store,
then internal consistency on the shared generated world."""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox import store
from connectors.sandbox.truth import (
    MODELS,
    World,
    build_part,
    compute_truth,
    dumps,
    headline,
)
from connectors.sandbox.truth_rules import (
    OTHER,
    Rates,
    classify,
    collapse_other,
    md5,
    model_credits,
    normalise,
    period_start,
    url_utms,
)

CLOCK = "2026-07-01"


# ---------------------------------------------------------------------------------------------
# A tiny world store, row by row (store.py's contract)
# ---------------------------------------------------------------------------------------------
def hs_ts(day: str, hour: int = 10) -> str:
    return f"{day}T{hour:02d}:00:00.000Z"


def sf_ts(day: str, hour: int = 10) -> str:
    return f"{day}T{hour:02d}:00:00.000+0000"


def ymd(day: str) -> str:
    return day.replace("-", "")


class Mini:
    def __init__(self, path: Path, *, threshold: int = 0, clock: str = CLOCK) -> None:
        self.path = path
        self.conn = store.connect(path)
        for key, value in {"seed": 1, "scale": 0.01, "clock": clock, "corporate_currency": "USD",
                           "ga4_other_row_threshold": threshold, "multi_currency": True}.items():
            store.set_meta(self.conn, key, value)

    def contact(self, cid: int, created: str, *, archived: bool = False, **props: str) -> None:
        props = {"hs_object_id": str(cid), "createdate": hs_ts(created), **props}
        self.conn.execute(
            "INSERT INTO hubspot_object VALUES ('contacts', ?, 0, 0, ?, NULL, ?)",
            (cid, int(archived), json.dumps(props)))

    def deal(self, did: int, created: str, close: str, amount: str, *, won: bool = True,
             contacts: tuple[int, ...] = (), **props: str) -> None:
        props = {"hs_object_id": str(did), "createdate": hs_ts(created),
                 "closedate": hs_ts(close), "amount": amount,
                 "hs_is_closed": "true", "hs_is_closed_won": "true" if won else "false", **props}
        self.conn.execute("INSERT INTO hubspot_object VALUES ('deals', ?, 0, 0, 0, NULL, ?)",
                          (did, json.dumps(props)))
        for c in contacts:
            self.conn.execute("INSERT INTO hubspot_association VALUES ('deals', ?, 'contacts', ?, 3, "
                              "'HUBSPOT_DEFINED')", (did, c))
            self.conn.execute("INSERT INTO hubspot_association VALUES ('contacts', ?, 'deals', ?, 4, "
                              "'HUBSPOT_DEFINED')", (c, did))

    def sf(self, sobject: str, rid: str, *, created: str | None = None, deleted: bool = False,
           purged: bool = False, **fields: Any) -> None:
        fields = {"Id": rid, **fields}
        if created is not None:
            fields["CreatedDate"] = sf_ts(created)
        self.conn.execute(
            "INSERT INTO sf_record (sobject, id, created_date, is_deleted, purged, fields) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sobject, rid, created, int(deleted), int(purged), json.dumps(fields)))

    def lead(self, lid: str, created: str, **fields: Any) -> None:
        self.sf("Lead", lid, created=created, **fields)

    def status(self, hid: str, lead: str, day: str, new: str) -> None:
        self.sf("LeadHistory", hid, created=day, LeadId=lead, Field="Status", NewValue=new)

    def opp(self, oid: str, created: str, close: str, amount: float | None, *, won: bool = True,
            currency: str | None = "USD", contacts: tuple[str, ...] = (), **fields: Any) -> None:
        extra = {"CurrencyIsoCode": currency} if currency is not None else {}
        self.sf("Opportunity", oid, created=created, CloseDate=close, Amount=amount,
                IsWon=won, IsClosed=True, **extra, **fields)
        for i, c in enumerate(contacts):
            self.sf("OpportunityContactRole", f"{oid}-ocr{i}", created=created,
                    OpportunityId=oid, ContactId=c)

    def ga(self, day: str, visitor: str, source: str = "(direct)", medium: str = "(none)",
           campaign: str = "(direct)", content: str = "(not set)", term: str = "(not set)",
           landing: str = "/", sessions: int = 1, true_visitor: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO ga4_row VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (ymd(day), true_visitor or visitor or "anon", visitor, source, medium, campaign,
             content, term, landing, sessions, 0, 0))

    def adv_ga(self, day: str, visitor: str, advocate: str = "adv_0001", post: str = "P1",
               **kw: Any) -> None:
        self.ga(day, visitor, "linkedin", "advocacy", "spring", advocate, post, **kw)

    def truth_person(self, pid: str, vid: str | None, *, hubspot: int | None = None,
                     lead: str | None = None, contact: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO truth_person (person_id, true_visitor_id, hubspot_contact_id, sf_lead_id, "
            "sf_contact_id, intended_segment, intended_channel) VALUES (?, ?, ?, ?, ?, 'other', 'x')",
            (pid, vid, hubspot, lead, contact))

    def truth(self, **kw: Any) -> dict[str, Any]:
        self.conn.commit()
        return compute_truth(self.path, **kw)

    def parts(self) -> tuple[World, Any, Any]:
        self.conn.commit()
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        w = World(conn)
        return (w, build_part(w, w.ga_rows(observable=True)[0], observable=True),
                build_part(w, w.ga_rows(observable=False)[0], observable=False))


@pytest.fixture
def mini(tmp_path: Path) -> Mini:
    return Mini(tmp_path / "mini.sqlite")


def basis_of(truth: dict, part: str = "observable") -> dict[tuple[str, str], int]:
    return {(r["segment"], r["segment_basis"]): r["people"]
            for r in truth[part]["segments"]["by_segment_basis"]}


def key_of(member: str) -> str:
    return md5(member)


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
def test_normalise_and_classify() -> None:
    assert normalise("  Spring%20Launch+2026 ") == "spring launch 2026"
    assert normalise(None) == ""
    c = classify("LinkedIn", " Advocacy ", "spring", "adv_0007", "P0000012")
    assert (c.segment, c.rule, c.advocate_id, c.post_id, c.network) == (
        "advocacy", "default", "adv_0007", "p0000012", "linkedin")
    c = classify("Social_Hub", "Twitter", "adv_0003", "P9", "spring%20launch")
    assert (c.segment, c.rule, c.advocate_id, c.post_id, c.network) == (
        "advocacy", "social_hub", "adv_0003", "p9", "x")
    assert classify("google", "cpc", "x", "", "").channel == "paid_search"
    assert classify("facebook", "cpc", "x", "", "").channel == "paid_social"
    assert classify("linkedin", "paid_social", "x", "", "").channel == "paid_social"
    assert classify("google", "organic", "", "", "").channel == "organic"
    assert classify("newsletter", "email", "", "", "").channel == "email"
    assert classify("partner.com", "referral", "", "", "").channel == "referral"
    assert classify("(direct)", "(none)", "", "", "").channel == "direct"
    assert classify("weird", "thing", "", "", "").channel == "unclassified"
    assert classify("weird", "thing", "", "", "").segment == "other"


def test_url_utms_keep_values_as_written() -> None:
    assert url_utms("https://x.example/blog") is None
    assert url_utms("https://x.example/?a=1") is None
    got = url_utms("https://x.example/p?utm_source=x&utm_campaign=spring%2520launch&utm_source=y")
    assert got == {"utm_source": "x", "utm_campaign": "spring%2520launch"}
    assert normalise(got["utm_campaign"]) == "spring%20launch"   # decoded once, like SQL


def test_periods() -> None:
    assert period_start(dt.date(2026, 5, 17), "quarter") == dt.date(2026, 4, 1)
    assert period_start(dt.date(2026, 5, 17), "month") == dt.date(2026, 5, 1)
    assert period_start(dt.date(2026, 1, 17), "quarter", 2) == dt.date(2025, 11, 1)
    assert period_start(dt.date(2026, 2, 1), "quarter", 2) == dt.date(2026, 2, 1)


def test_other_rule_keeps_top_rows_and_breaks_ties_by_dimensions() -> None:
    def row(visitor: str, sessions: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
        return (("20260105", visitor, "s", "m", "c", "a", "t", "/"), (sessions, 1, 0))

    rows = [row("d", 1), row("c", 3), row("a", 5), row("b", 3)]
    out, collapsed = collapse_other(rows, 3)
    assert collapsed
    assert [r[0][1] for r in out] == ["a", "b", OTHER]       # b beats c on the tie
    other = out[-1]
    assert other[0] == ("20260105",) + (OTHER,) * 7
    assert other[1] == (4, 2, 0)
    assert collapse_other(rows, 4) == (rows, False)           # not more than T rows: untouched
    assert collapse_other(rows, 0) == (rows, False)           # 0 = never
    out, _ = collapse_other(rows, 1)                          # T = 1: everything is (other)
    assert len(out) == 1 and out[0][1] == (12, 4, 0)


def test_model_credits() -> None:
    assert model_credits("first_touch", 3) == [1.0, 0.0, 0.0]
    assert model_credits("last_touch", 3) == [0.0, 0.0, 1.0]
    assert model_credits("linear", 4) == [0.25] * 4
    assert model_credits("u_shaped", 1) == [1.0]
    assert model_credits("u_shaped", 2) == [0.5, 0.5]
    assert model_credits("u_shaped", 4) == pytest.approx([0.4, 0.1, 0.1, 0.4])
    # W-shaped: coinciding milestones add up, then everything is normalised.
    assert model_credits("w_shaped", 1, lead_index=0) == pytest.approx([1.0])
    assert model_credits("w_shaped", 2, lead_index=0) == pytest.approx([2 / 3, 1 / 3])
    assert model_credits("w_shaped", 3, lead_index=1) == pytest.approx([1 / 3] * 3)
    assert model_credits("w_shaped", 3, lead_index=0) == pytest.approx([0.6, 0.1, 0.3])
    assert model_credits("w_shaped", 4, lead_index=None) == pytest.approx(
        [3 / 7, 1 / 14, 1 / 14, 3 / 7])
    assert model_credits("w_shaped", 5, lead_index=2) == pytest.approx(
        [0.3, 0.05, 0.3, 0.05, 0.3])
    got = model_credits("time_decay", 2, age_days=[7, 0], half_life=7)
    assert got == pytest.approx([1 / 3, 2 / 3])
    for m in MODELS:
        assert math.fsum(model_credits(m, 5, lead_index=3, age_days=[9, 5, 3, 1, 0])) == \
            pytest.approx(1.0)


def test_rates() -> None:
    rates = Rates("USD", {"EUR": 0.85, "GBP": 0.75}, [
        ("EUR", dt.date(2026, 1, 1), dt.date(2026, 4, 1), 0.9),
        ("EUR", dt.date(2026, 4, 1), dt.date(9999, 12, 31), 0.8),
    ])
    assert rates.rate("USD", None) == 1.0
    assert rates.rate(None, dt.date(2026, 1, 1)) == 1.0
    assert rates.rate("EUR", dt.date(2026, 1, 1)) == 0.9
    assert rates.rate("EUR", dt.date(2026, 3, 31)) == 0.9
    assert rates.rate("EUR", dt.date(2026, 4, 1)) == 0.8      # next_start_date is exclusive
    assert rates.rate("EUR", dt.date(2025, 12, 31)) == 0.85   # before any dated rate
    assert rates.rate("EUR", None) == 0.85
    assert rates.rate("GBP", dt.date(2026, 2, 1)) == 0.75
    assert rates.rate("JPY", dt.date(2026, 2, 1)) is None


# ---------------------------------------------------------------------------------------------
# Definitions on hand-made stores
# ---------------------------------------------------------------------------------------------
def test_sourcing_touch_on_the_lead_day_counts(mini: Mini) -> None:
    mini.contact(1, "2026-03-10", ga_client_id="v1", email="a@x.com")
    mini.adv_ga("2026-03-10", "v1", advocate="adv_0009", post="P5")
    mini.ga("2026-03-11", "v1", "google", "organic", "(organic)")
    t = mini.truth()
    assert basis_of(t) == {("advocacy", "ga4"): 1}
    assert t["observable"]["advocates"]["all_time"]["adv_0009"]["leads_sourced"] == 1
    assert t["observable"]["advocates"]["all_time"]["adv_0009"]["sessions"] == 1
    q = [r for r in t["observable"]["funnel"] if r["period_grain"] == "quarter"]
    assert q == [{"period_grain": "quarter", "period_start": "2026-01-01", "segment": "advocacy",
                  "leads": 1, "mqls": 0, "sqls": 0, "opportunities": 0, "won": 0,
                  "won_amount": 0.0}]


def test_lookback_is_90_days_inclusive(mini: Mini) -> None:
    # Person 1: an advocacy touch 91 days before the lead -> no sourcing touch (and no synthetic
    # touch either, because the person has a GA4 touch).
    mini.contact(1, "2026-03-10", ga_client_id="v1",
                 hs_analytics_first_url="https://x.example/?utm_medium=advocacy&utm_content=adv_1")
    mini.adv_ga("2025-12-09", "v1")
    # Person 2: exactly 90 days -> sourced by it; the later organic touch is not first.
    mini.contact(2, "2026-03-10", ga_client_id="v2")
    mini.adv_ga("2025-12-10", "v2")
    mini.ga("2026-03-01", "v2", "google", "organic")
    t = mini.truth()
    assert basis_of(t) == {("advocacy", "ga4"): 1, ("other", "none"): 1}


def test_first_candidate_wins_ties_by_touch_id(mini: Mini) -> None:
    mini.contact(1, "2026-03-10", ga_client_id="v1")
    mini.adv_ga("2026-03-09", "v1", landing="/a")
    mini.ga("2026-03-09", "v1", "google", "organic", landing="/b")
    w, obs, _ = mini.parts()
    key = key_of("hubspot:1")
    ids = sorted(md5("|".join(["2026-03-09", "v1", *vals])) for vals in (
        ["linkedin", "advocacy", "spring", "adv_0001", "P1"],
        ["google", "organic", "(direct)", "(not set)", "(not set)"]))
    assert obs.sourcing[key].touch_id == ids[0]
    assert [t.touch_id for t in obs.touches_of[key]] == ids


def test_synthetic_touch_from_crm_original_source(mini: Mini) -> None:
    # HubSpot first URL (values decoded once by normalisation).
    mini.contact(1, "2026-03-10", email="a@x.com",
                 hs_analytics_first_url="https://x.example/blog?utm_source=Social_Hub&"
                                        "utm_medium=LinkedIn&utm_campaign=adv_0002&"
                                        "utm_content=P9&utm_term=spring%20launch")
    # Salesforce UTM fields when the first URL has none.
    mini.contact(2, "2026-03-11", email="b@x.com", hs_analytics_first_url="https://x.example/")
    mini.lead("00Q2", "2026-03-11", Email="b@x.com", UTM_Source__c="LinkedIn",
              UTM_Medium__c="Advocacy", UTM_Content__c="adv_0003", UTM_Term__c="P3")
    # Nothing recorded: no touch.
    mini.lead("00Q3", "2026-03-12", Email="c@x.com")
    mini.opp("006A", "2026-04-01", "2026-04-20", 1000.0, contacts=())
    mini.sf("Lead", "00Q4", created="2026-03-12", Email="d@x.com", ConvertedOpportunityId="006A",
            UTM_Medium__c="email", UTM_Source__c="newsletter")
    t = mini.truth()
    assert basis_of(t) == {("advocacy", "crm_original_source"): 2,
                           ("other", "crm_original_source"): 1, ("other", "none"): 1}
    adv = t["observable"]["advocates"]["all_time"]
    assert adv["adv_0002"]["leads_sourced"] == 1 and adv["adv_0003"]["leads_sourced"] == 1
    credits = [c for c in t["observable"]["attribution"]["credits"] if c["model"] == "linear"]
    assert credits == [{
        "opportunity_id": "006A", "touch_id": md5("synthetic|" + key_of("sf_lead:00Q4")),
        "model": "linear", "credit": 1.0, "touch_date": "2026-03-12", "channel": "email",
        "segment": "other", "advocate_id": None, "post_id": None}]


def test_identity_links(mini: Mini) -> None:
    # salesforceleadid links records with different emails.
    mini.contact(1, "2026-02-01", email="one@x.com", salesforceleadid="00Q1")
    mini.lead("00Q1", "2026-02-02", Email="other@y.com")
    # Normalised email links a HubSpot contact and a Salesforce contact.
    mini.contact(2, "2026-02-03", email="  Two@X.com ")
    mini.sf("Contact", "0032", created="2026-02-01", Email="two@x.com")
    # A converted lead links to its contact.
    mini.lead("00Q3", "2026-02-04", Email="three@x.com", ConvertedContactId="0033")
    mini.sf("Contact", "0033", created="2026-02-05", Email="three-new@x.com")
    # A link to a deleted lead is no link; the deleted lead is no record.
    mini.contact(4, "2026-02-06", email="four@x.com", salesforceleadid="00Q4")
    mini.lead("00Q4", "2026-02-06", Email="four-sf@x.com", deleted=True)
    # An archived contact is no record either.
    mini.contact(5, "2026-02-07", email="three@x.com", archived=True)
    t = mini.truth()
    ident = t["observable"]["identity"]
    assert ident["people"] == 4
    assert ident["records"] == {"hubspot_contacts": 3, "salesforce_leads": 2,
                                "salesforce_contacts": 2}
    assert (ident["people_in_both_crms"], ident["people_hubspot_only"],
            ident["people_salesforce_only"]) == (2, 1, 1)
    w, _, _ = mini.parts()
    assert sorted(w.people) == sorted(key_of(m) for m in (
        "hubspot:1", "hubspot:2", "sf_contact:0033", "hubspot:4"))
    p2 = w.people[key_of("hubspot:2")]
    assert p2.members == ["hubspot:2", "sf_contact:0032"]
    assert p2.lead_date == dt.date(2026, 2, 1)                # earliest record of the person
    assert t["observable"]["counts"]["salesforce.lead"] == {"live": 2, "deleted": 1}
    assert t["observable"]["counts"]["hubspot.contacts"] == {"live": 3, "deleted": 1}


def test_role_addresses_and_email_floods_link_nobody(mini: Mini) -> None:
    """Only an email that identifies someone links records: not a role/placeholder address of
    the seed identity_email_exclusions, and on at most MAX_RECORDS_PER_EMAIL records."""
    mini.contact(1, "2026-02-01", email="info@acme.com")
    mini.contact(2, "2026-02-02", email=" INFO@acme.com")
    mini.lead("00Q1", "2026-02-03", Email="test@test.com")
    mini.lead("00Q2", "2026-02-03", Email="test@test.com")
    # a flood: one address on 11 records (> 10) links none of them ...
    for i in range(11):
        mini.contact(100 + i, "2026-03-01", email="booth@gmail.com")
    # ... while 10 records of one address are one person, and CRM ids still link
    for i in range(10):
        mini.contact(200 + i, "2026-03-02", email="jo@corp.com")
    mini.contact(300, "2026-03-03", email="info@corp.com", salesforceleadid="00Q3")
    mini.lead("00Q3", "2026-03-03", Email="info@corp.com")
    t = mini.truth()
    ident = t["observable"]["identity"]
    assert ident["people"] == 2 + 2 + 11 + 1 + 1
    assert ident["emails_skipped"] == 4 and ident["email_skipped_records"] == 2 + 2 + 11 + 2
    assert ident["emails_skipped_by_reason"] == {"placeholder": 1, "role address": 2,
                                                 "shared by more than 10 records": 1}
    assert ident["largest_group"] == 10


def test_seed_email_exclusions_match_the_truths() -> None:
    import csv

    from connectors.sandbox.truth_rules import EMAIL_EXCLUSIONS

    seed = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "identity_email_exclusions.csv"
    with seed.open(newline="") as f:
        rows = [(r["pattern"], r["reason"]) for r in csv.DictReader(f)]
    assert sorted(rows) == sorted(EMAIL_EXCLUSIONS)


def test_past_as_of_ignores_later_roles_conversions_and_rates(mini: Mini) -> None:
    """At a past as_of nothing dated after it counts: records, contact roles, conversions, and
    an amount converts at the rate of min(close date, as_of)."""
    mini.sf("CurrencyType", "02cU", IsoCode="USD", ConversionRate=1.0, IsCorporate=True)
    mini.sf("DatedConversionRate", "04w1", IsoCode="EUR", ConversionRate=0.5,
            StartDate="2026-01-01", NextStartDate="2026-04-01")
    mini.sf("DatedConversionRate", "04w2", IsoCode="EUR", ConversionRate=0.8,
            StartDate="2026-04-01", NextStartDate="9999-12-31")
    mini.sf("Contact", "003A", created="2026-02-01", Email="a@x.com")
    mini.sf("Contact", "003B", created="2026-02-01", Email="b@x.com")
    mini.lead("00QC", "2026-02-01", Email="c@x.com", ConvertedDate="2026-03-20",
              ConvertedOpportunityId="006A", ConvertedContactId="003C")
    mini.sf("Contact", "003C", created="2026-03-20", Email="c-new@x.com")
    mini.opp("006A", "2026-02-10", "2026-04-20", 800.0, currency="EUR", contacts=("003A",))
    mini.sf("OpportunityContactRole", "00KB", created="2026-03-25", OpportunityId="006A",
            ContactId="003B")                                        # role added on 03-25
    past = mini.truth(as_of=dt.date(2026, 3, 15))
    now = mini.truth()
    w, _, _ = mini.parts()
    assert w.opportunities["006A"].linked == sorted(
        key_of(m) for m in ("sf_contact:003A", "sf_contact:003B", "sf_contact:003C"))
    a_past, a_now = past["observable"]["attribution"], now["observable"]["attribution"]
    # close 04-20 is after the past as_of: converted at the rate of 03-15 (0.5), not 0.8
    assert a_past["pipeline_total"] == 1600.0 and a_now["pipeline_total"] == 1000.0
    assert past["meta"]["as_of"] == "2026-03-15"
    ident = past["observable"]["identity"]
    assert ident["people"] == 3 and ident["records_after_as_of"] == 1
    # on 03-15 only 003A's person is linked to the opportunity (so reaches that stage)
    assert sum(r["opportunities"] for r in past["observable"]["funnel"]
               if r["period_grain"] == "month") == 1
    assert sum(r["opportunities"] for r in now["observable"]["funnel"]
               if r["period_grain"] == "month") == 3
    with pytest.raises(ValueError, match="not before the store's clock"):
        mini.truth(as_of=dt.date(2026, 7, 1))


def test_monotone_stages_with_inference(mini: Mini) -> None:
    # Person A: SQL (HubSpot) before MQL (Salesforce), opportunity created before both.
    mini.contact(1, "2026-01-05", email="a@x.com", salesforceleadid="00QA",
                 hs_lifecyclestage_salesqualifiedlead_date=hs_ts("2026-01-20"),
                 hs_lifecyclestage_marketingqualifiedlead_date=hs_ts("2026-07-05"))  # > as_of
    mini.lead("00QA", "2026-01-05", Email="a@x.com", ConvertedContactId="003A",
              ConvertedOpportunityId="006A")
    mini.status("017A1", "00QA", "2026-01-25", "Marketing Qualified")
    mini.status("017A2", "00QA", "2026-01-26", "Working - Contacted")
    mini.sf("Contact", "003A", created="2026-01-27", Email="a@x.com")
    mini.opp("006A", "2026-01-18", "2026-02-10", 100.0, contacts=("003A",))
    # Person B: nothing but a won opportunity -> every earlier stage inferred.
    mini.lead("00QB", "2026-01-06", Email="b@x.com", ConvertedOpportunityId="006B")
    mini.opp("006B", "2026-02-01", "2026-03-01", 50.0)
    # Person C: MQL only (v2 property), lost opportunity.
    mini.contact(3, "2026-01-07", email="c@x.com",
                 hs_v2_date_entered_marketingqualifiedlead=hs_ts("2026-01-09"))
    w, _, _ = mini.parts()
    a = w.people[key_of("hubspot:1")]
    assert a.stage_dates == {"mql": dt.date(2026, 1, 18), "sql": dt.date(2026, 1, 18),
                             "opportunity": dt.date(2026, 1, 18), "won": dt.date(2026, 2, 10)}
    assert not any(a.inferred.values())
    b = w.people[key_of("sf_lead:00QB")]
    assert b.stage_dates == {"mql": dt.date(2026, 2, 1), "sql": dt.date(2026, 2, 1),
                             "opportunity": dt.date(2026, 2, 1), "won": dt.date(2026, 3, 1)}
    assert b.inferred == {"mql": True, "sql": True, "opportunity": False, "won": False}
    c = w.people[key_of("hubspot:3")]
    assert c.stage_dates == {"mql": dt.date(2026, 1, 9), "sql": None, "opportunity": None,
                             "won": None}
    t = mini.truth()
    row = next(r for r in t["observable"]["funnel"] if r["period_grain"] == "month")
    assert row == {"period_grain": "month", "period_start": "2026-01-01", "segment": "other",
                   "leads": 3, "mqls": 3, "sqls": 2, "opportunities": 2, "won": 2,
                   "won_amount": 150.0}


def test_currency_conversion_by_dated_rate(mini: Mini) -> None:
    mini.sf("CurrencyType", "02cU", IsoCode="USD", ConversionRate=1.0, IsCorporate=True)
    mini.sf("CurrencyType", "02cE", IsoCode="EUR", ConversionRate=0.85)
    mini.sf("CurrencyType", "02cG", IsoCode="GBP", ConversionRate=0.75)
    mini.sf("DatedConversionRate", "04w1", IsoCode="EUR", ConversionRate=0.9,
            StartDate="2026-01-01", NextStartDate="2026-04-01")
    mini.sf("DatedConversionRate", "04w2", IsoCode="EUR", ConversionRate=0.8,
            StartDate="2026-04-01", NextStartDate="9999-12-31")
    mini.opp("0061", "2026-01-10", "2026-02-01", 900.0, currency="EUR")   # 0.9
    mini.opp("0062", "2026-01-10", "2026-05-01", 800.0, currency="EUR")   # 0.8
    mini.opp("0063", "2025-11-10", "2025-12-01", 850.0, currency="EUR")   # CurrencyType 0.85
    mini.opp("0064", "2026-01-10", "2026-02-01", 750.0, currency="GBP")   # CurrencyType 0.75
    mini.opp("0065", "2026-01-10", "2026-02-01", 500.0, currency=None)    # reporting currency
    mini.opp("0066", "2026-01-10", "2026-02-01", 1e6, currency="JPY")     # quarantined
    mini.opp("0067", "2026-01-10", "2026-02-01", None, won=False)
    mini.deal(9001, "2026-01-10", "2026-02-02", "900.00", deal_currency_code="EUR")
    mini.deal(9002, "2026-01-10", "2026-02-02", "5.00", salesforceopportunityid="0061")  # dropped
    t = mini.truth()
    a = t["observable"]["attribution"]
    assert a["opportunities"] == 7
    assert a["pipeline_total"] == 5500.0 and a["won_total"] == 5500.0
    assert t["observable"]["data_quality"]["quarantined_opportunities"] == ["0066"]
    # none of them has a linked lead: sourced by nobody, unattributed
    assert t["observable"]["won_revenue_by_segment"] == {"advocacy": 0.0, "other": 0.0,
                                                         "unattributed": 5500.0}
    w, _, _ = mini.parts()
    assert w.opportunities["0062"].amount == pytest.approx(1000.0)
    assert w.opportunities["hubspot:9001"].amount == pytest.approx(1000.0)
    assert w.opportunities["0067"].amount == 0.0


def test_attribution_window_order_and_w_shape(mini: Mini) -> None:
    mini.contact(1, "2026-03-01", email="a@x.com", ga_client_id="v1")
    mini.ga("2025-09-01", "v1", "google", "organic")              # 181 days before 03-01: out
    mini.ga("2025-09-02", "v1", "google", "cpc", "brand")         # 180 days: in
    mini.adv_ga("2026-03-01", "v1")                                # the lead-creation touch
    mini.ga("2026-03-15", "v1", "newsletter", "email")
    mini.ga("2026-03-20", "v1", "google", "organic")               # after both creations: out
    # 9001, created on the lead day: first = 09-02, lead-creation = last = 03-01.
    mini.deal(9001, "2026-03-01", "2026-04-01", "1000", contacts=(1,))
    # 9002, created 03-15: 09-02 is 194 days old; first = lead-creation = 03-01, last = 03-15.
    mini.deal(9002, "2026-03-15", "2026-04-01", "10", contacts=(1,), won=False)
    t = mini.truth(sample_size=10)
    credits = t["observable"]["attribution"]["credits"]

    def model_rows(opp: str, model: str) -> list[tuple[str, float]]:
        return [(r["touch_date"], r["credit"]) for r in credits
                if r["opportunity_id"] == opp and r["model"] == model]

    assert model_rows("hubspot:9001", "first_touch") == [("2025-09-02", 1.0)]
    assert model_rows("hubspot:9001", "last_touch") == [("2026-03-01", 1.0)]
    assert model_rows("hubspot:9001", "w_shaped") == [
        ("2025-09-02", pytest.approx(1 / 3)), ("2026-03-01", pytest.approx(2 / 3))]
    decay = 2 ** (-180 / 7)
    assert model_rows("hubspot:9001", "time_decay") == [
        ("2025-09-02", pytest.approx(decay / (1 + decay))),
        ("2026-03-01", pytest.approx(1 / (1 + decay)))]
    assert model_rows("hubspot:9002", "first_touch") == [("2026-03-01", 1.0)]
    assert model_rows("hubspot:9002", "w_shaped") == [
        ("2026-03-01", pytest.approx(2 / 3)), ("2026-03-15", pytest.approx(1 / 3))]
    assert model_rows("hubspot:9002", "time_decay") == [
        ("2026-03-01", pytest.approx(0.2)), ("2026-03-15", pytest.approx(0.8))]
    a = t["observable"]["attribution"]
    assert a["credited_won_by_segment"]["first_touch"] == {"advocacy": 0.0, "other": 1000.0,
                                                           "unattributed": 0.0}
    assert a["credited_won_by_segment"]["last_touch"] == {"advocacy": 1000.0, "other": 0.0,
                                                          "unattributed": 0.0}
    assert a["credited_pipeline_by_segment"]["last_touch"] == {"advocacy": 1000.0, "other": 10.0,
                                                               "unattributed": 0.0}
    assert a["influenced"] == {"opportunities": 2, "pipeline": 1010.0, "won": 1000.0}


def test_w_shaped_with_three_distinct_milestones(mini: Mini) -> None:
    mini.contact(1, "2026-03-01", email="a@x.com", ga_client_id="v1")
    mini.ga("2026-02-01", "v1", "google", "organic")               # first (and sourcing: in 90d)
    mini.ga("2026-03-05", "v1", "newsletter", "email")
    mini.contact(2, "2026-03-10", email="b@x.com", ga_client_id="v2")
    mini.adv_ga("2026-03-10", "v2")                                 # b's sourcing touch
    mini.ga("2026-03-20", "v2", "google", "cpc")                    # last
    # Earliest linked lead is person 1 -> lead-creation touch = its sourcing touch = the first.
    mini.deal(9001, "2026-03-25", "2026-04-01", "100", contacts=(1, 2))
    t = mini.truth()
    rows = [(r["touch_date"], r["credit"]) for r in t["observable"]["attribution"]["credits"]
            if r["model"] == "w_shaped"]
    # first+lead 0.6, middles 0.05 each, last 0.3 -> total 1.0
    assert rows == [("2026-02-01", pytest.approx(0.6)), ("2026-03-05", pytest.approx(0.05)),
                    ("2026-03-10", pytest.approx(0.05)), ("2026-03-20", pytest.approx(0.3))]
    u = [r["credit"] for r in t["observable"]["attribution"]["credits"] if r["model"] == "u_shaped"]
    assert u == pytest.approx([0.4, 0.1, 0.1, 0.4])


def test_unattributed(mini: Mini) -> None:
    """No touch: the segment unattributed, never other (an unattributed credit row is not a
    touch); no linked lead: sourced by nobody, unattributed too."""
    mini.lead("00Q1", "2026-03-01", Email="a@x.com", ConvertedOpportunityId="0061")
    mini.opp("0061", "2026-03-05", "2026-04-01", 700.0)
    mini.opp("0062", "2026-03-05", "2026-04-01", 300.0, won=False)      # no linked person
    t = mini.truth()
    a = t["observable"]["attribution"]
    assert a["sample_opportunity_ids"] == ["0061", "0062"]
    assert {(r["opportunity_id"], r["model"], r["touch_id"], r["credit"], r["segment"])
            for r in a["credits"]} == {
        (o, m, "unattributed", 1.0, "unattributed") for o in ("0061", "0062") for m in MODELS}
    for m in MODELS:
        assert a["credited_pipeline_by_segment"][m] == {"advocacy": 0.0, "other": 0.0,
                                                        "unattributed": 1000.0}
        assert a["credited_won_by_segment"][m] == {"advocacy": 0.0, "other": 0.0,
                                                   "unattributed": 700.0}
    assert a["unattributed_opportunities"] == 2
    assert a["influenced_by_segment"]["other"] == {"opportunities": 0, "pipeline": 0.0, "won": 0.0}
    assert a["influenced_by_segment"]["unattributed"] == {"opportunities": 2, "pipeline": 1000.0,
                                                          "won": 700.0}
    # 0061's lead (no touch at all) is an other lead; 0062 has no lead
    assert a["sourced_pipeline_by_segment"] == {"advocacy": 0.0, "other": 700.0, "unattributed": 300.0}
    assert t["observable"]["won_revenue_by_segment"] == {"advocacy": 0.0, "other": 700.0,
                                                         "unattributed": 0.0}


def test_other_rows_hide_touches_from_the_product(tmp_path: Path) -> None:
    m = Mini(tmp_path / "other.sqlite", threshold=4)
    m.contact(1, "2026-03-10", email="a@x.com", ga_client_id="v1")
    m.contact(2, "2026-03-10", email="b@x.com")                       # the form lost the id
    m.contact(3, "2026-03-10", email="c@x.com", ga_client_id="v3")
    m.truth_person("p1", "v1", hubspot=1)
    m.truth_person("p2", "v2", hubspot=2)
    m.truth_person("p3", "v3", hubspot=3)
    # 5 rows > T = 4 on 03-10: keep 3 = v2 (5 sessions), then of the 1-session ties the
    # smallest dimension tuples: '(not set)' < 'v1' < 'v3' < 'v5'.
    m.adv_ga("2026-03-10", "v2", sessions=5, advocate="adv_0002")
    m.adv_ga("2026-03-10", "v1", sessions=1)
    m.ga("2026-03-10", "v3", "google", "organic", sessions=1)
    m.ga("2026-03-10", "", "google", "organic", sessions=1, true_visitor="v4")
    m.ga("2026-03-10", "v5", "google", "organic", sessions=1)
    m.ga("2026-03-11", "v1", "google", "organic", sessions=2)          # one row: no collapse
    t = m.truth()
    g = t["observable"]["ga4"]
    assert (g["collapsed_days"], g["other_row_sessions"], g["sessions_without_visitor_id"],
            g["total_sessions"], g["rows"]) == (1, 2, 1, 11, 5)
    assert t["observable"]["counts"]["ga4.visitor_sessions"] == {"live": 5, "deleted": 0,
                                                                 "sessions": 11}
    # v3's touch is inside (other): the product sees no touch for person 3.
    assert basis_of(t) == {("advocacy", "ga4"): 1, ("other", "none"): 2}
    assert basis_of(t, "world") == {("advocacy", "ga4"): 2, ("other", "ga4"): 1}
    assert t["gap"]["leads_with_different_segment"] == 1
    assert t["world"]["ga4"]["other_row_sessions"] == 0
    assert t["world"]["advocates"]["all_time"]["adv_0002"]["leads_sourced"] == 1
    assert t["observable"]["advocates"]["all_time"]["adv_0002"]["sessions"] == 5


def test_not_set_sessions_count_for_advocates_but_link_to_nobody(mini: Mini) -> None:
    mini.contact(1, "2026-03-10", ga_client_id="v1")
    mini.adv_ga("2026-03-10", "", sessions=3, true_visitor="v1")
    mini.truth_person("p1", "v1", hubspot=1)
    t = mini.truth()
    assert t["observable"]["advocates"]["all_time"]["adv_0001"]["sessions"] == 3
    assert t["observable"]["ga4"]["sessions_without_visitor_id"] == 3
    assert basis_of(t) == {("other", "none"): 1}
    assert basis_of(t, "world") == {("advocacy", "ga4"): 1}


def test_reps_quota_and_attainment(mini: Mini) -> None:
    mini.sf("CurrencyType", "02cE", IsoCode="EUR", ConversionRate=0.5)
    mini.sf("User", "005A", Email="Rep@Co.example")
    mini.sf("User", "005B", Email="b@co.example")
    mini.conn.execute("INSERT INTO hubspot_owner VALUES (77, 0, ?)",
                      (json.dumps({"id": "77", "email": "rep@co.example"}),))
    mini.sf("ForecastingQuota", "0J91", QuotaOwnerId="005A", QuotaAmount=1000.0,
            StartDate="2026-01-01", CurrencyIsoCode="EUR")               # 2000 USD
    mini.sf("ForecastingQuota", "0J92", QuotaOwnerId="005A", QuotaAmount=0.0,
            StartDate="2026-04-01", CurrencyIsoCode="USD")
    mini.opp("0061", "2026-01-05", "2026-02-01", 500.0, OwnerId="005A")
    mini.opp("0062", "2026-01-05", "2026-02-01", 500.0, OwnerId="005A", won=False)
    mini.opp("0063", "2026-01-05", "2026-07-02", 999.0, OwnerId="005A")   # after as_of
    mini.opp("0064", "2026-01-05", "2026-02-01", 50.0, OwnerId="005B")    # no quota: no row
    mini.deal(9001, "2026-01-05", "2026-03-01", "500", hubspot_owner_id="77")
    t = mini.truth()
    own = {"is_advocate": False, "own_advocacy_sessions": 0, "own_advocacy_leads": 0}
    assert t["observable"]["reps"] == [
        {"rep_id": "005A", "rep_email": "rep@co.example", "period_start": "2026-01-01",
         "quota_amount": 2000.0, "won_amount": 1000.0, "attainment": 0.5, **own},
        {"rep_id": "005A", "rep_email": "rep@co.example", "period_start": "2026-04-01",
         "quota_amount": 0.0, "won_amount": 0.0, "attainment": None, **own},
    ]


def test_advocate_posts_and_quarters(mini: Mini) -> None:
    mini.conn.execute("INSERT INTO advocate VALUES ('adv_0001','A','a@co','Sales','gaggle',NULL,NULL)")
    mini.conn.execute("INSERT INTO advocate VALUES ('adv_0002','B','b@co','Sales','gaggle',NULL,NULL)")
    for pid, day, clicks in (("P1", "2026-03-31", 5), ("P2", "2026-04-01", 7)):
        mini.conn.execute(
            "INSERT INTO advocacy_post VALUES (?, 'gaggle', 'adv_0001', 'a@co', 'A', 'linkedin', "
            "'product', 'spring', ?, 'https://x', ?, 2, 1, 1, ?)",
            (pid, hs_ts(day), clicks, hs_ts(day)))
    mini.adv_ga("2026-04-02", "v9", sessions=4)
    t = mini.truth()
    adv = t["observable"]["advocates"]
    assert adv["all_time"]["adv_0001"] == {"clicks": 12, "engagements": 8, "posts": 2,
                                           "sessions": 4, "leads_sourced": 0}
    assert adv["all_time"]["adv_0002"] == dict.fromkeys(
        ("clicks", "engagements", "posts", "sessions", "leads_sourced"), 0)
    assert [(r["period_start"], r["clicks"], r["sessions"]) for r in adv["by_quarter"]] == [
        ("2026-01-01", 5, 0), ("2026-04-01", 7, 4)]


def test_web_traffic_from_the_daily_report_with_leads_by_sourcing_network(tmp_path: Path) -> None:
    m = Mini(tmp_path / "traffic.sqlite", threshold=3)
    m.contact(1, "2026-03-10", email="a@x.com", ga_client_id="v1")
    m.contact(2, "2026-03-10", email="b@x.com", ga_client_id="v2")
    m.truth_person("p1", "v1", hubspot=1)
    m.truth_person("p2", "v2", hubspot=2)
    # 03-10: the daily report groups by date/source/medium/campaign/content (no visitor, no
    # term): 4 groups > T = 3 -> keep 2 (linkedin advocacy 3, google organic 2), (other) = 2.
    m.adv_ga("2026-03-10", "v1", sessions=2, post="P1")
    m.adv_ga("2026-03-10", "", sessions=1, post="P2", true_visitor="v9")   # same group (no term)
    m.ga("2026-03-10", "v2", "google", "organic", sessions=2)
    m.ga("2026-03-10", "v3", "bing", "organic", sessions=1)
    m.ga("2026-03-10", "v4", "(direct)", "(none)", sessions=1)
    # a network value that normalises to empty (GA serves "" as "(not set)", a network too)
    m.ga("2026-03-11", "v5", "social_hub", "+", "adv_0002", "P9", sessions=4)
    t = m.truth()
    rows = {(r["date"], r["segment"], r["network"]): (r["sessions"], r["leads_created"])
            for r in t["observable"]["web_traffic"]}
    assert rows == {
        ("2026-03-10", "advocacy", "linkedin"): (3, 1),
        ("2026-03-10", "other", "(none)"): (4, 1),          # google 2 + (other) 2
        ("2026-03-11", "advocacy", "(unknown)"): (4, 0),
    }
    assert t["observable"]["counts"]["ga4.traffic_daily"] == {"live": 4, "deleted": 0, "sessions": 11}


def test_advocacy_value_counts_posts_and_sessions_per_network(mini: Mini) -> None:
    for pid, day, network, clicks in (("P1", "2026-03-31", "LinkedIn ", 5), ("P2", "2026-04-01", "twitter", 7),
                                      ("P3", "2026-07-01", "x", 9)):          # after as_of
        mini.conn.execute(
            "INSERT INTO advocacy_post VALUES (?, 'gaggle', 'adv_0001', 'a@co', 'A', ?, "
            "'product', 'spring', ?, 'https://x', ?, 2, 1, 1, ?)",
            (pid, network, hs_ts(day), clicks, hs_ts(day)))
    mini.ga("2026-04-02", "v9", "Twitter", "advocacy", "spring", "adv_0001", "P2", sessions=4)
    t = mini.truth()
    rows = {(r["period_grain"], r["period_start"], r["network"]):
            (r["posts"], r["clicks"], r["engagements"], r["advocacy_sessions"])
            for r in t["observable"]["advocacy_value"]}
    assert rows == {
        ("month", "2026-03-01", "linkedin"): (1, 5, 4, 0),
        ("quarter", "2026-01-01", "linkedin"): (1, 5, 4, 0),
        ("month", "2026-04-01", "x"): (1, 7, 4, 4),
        ("quarter", "2026-04-01", "x"): (1, 7, 4, 4),
    }


def test_influenced_by_segment_and_credited_opportunities(mini: Mini) -> None:
    mini.contact(1, "2026-03-01", email="a@x.com", ga_client_id="v1")
    mini.adv_ga("2026-03-01", "v1")
    mini.ga("2026-03-02", "v1", "google", "organic")
    mini.lead("00Q1", "2026-03-01", Email="a@x.com", ConvertedOpportunityId="0061")
    mini.opp("0061", "2026-03-05", "2026-04-01", 100.0)                   # advocacy + other
    mini.opp("0062", "2026-03-05", "2026-04-01", 50.0, won=False)        # no touch: unattributed
    t = mini.truth()
    a = t["observable"]["attribution"]
    assert a["influenced_by_segment"] == {
        "advocacy": {"opportunities": 1, "pipeline": 100.0, "won": 100.0},
        "other": {"opportunities": 1, "pipeline": 100.0, "won": 100.0},
        "unattributed": {"opportunities": 1, "pipeline": 50.0, "won": 0.0}}
    assert a["credited_opportunities_by_segment"]["linear"] == {"advocacy": 0.5, "other": 0.5,
                                                                "unattributed": 1.0}
    assert a["credited_opportunities_by_segment"]["first_touch"] == {"advocacy": 1.0, "other": 0.0,
                                                                     "unattributed": 1.0}
    ident = t["observable"]["identity"]
    assert (ident["people"], ident["people_with_ga4_touch"]) == (1, 1)


def test_rep_own_advocacy_and_data_quality(mini: Mini) -> None:
    mini.sf("User", "005A", Email="a@co")
    mini.sf("ForecastingQuota", "0J91", QuotaOwnerId="005A", QuotaAmount=3.0, StartDate="2026-04-01",
            CurrencyIsoCode="USD")
    mini.sf("ForecastingQuota", "0J92", QuotaOwnerId="005A", QuotaAmount=9.0, StartDate="2026-07-01",
            CurrencyIsoCode="USD")                                         # after as_of
    mini.opp("0061", "2026-04-05", "2026-05-01", 1.0, OwnerId="005A")
    # adv_0001's latest post carries the rep's email (an older one does not)
    for pid, day, email in (("P1", "2026-01-05", "old@co"), ("P2", "2026-04-05", " A@co ")):
        mini.conn.execute(
            "INSERT INTO advocacy_post VALUES (?, 'gaggle', 'adv_0001', ?, 'A', 'linkedin', "
            "'product', 'spring', ?, 'https://x', 1, 0, 0, 0, ?)", (pid, email, hs_ts(day), hs_ts(day)))
    mini.contact(1, "2026-04-10", email="l@x.com", ga_client_id="v1")
    mini.adv_ga("2026-04-10", "v1", sessions=2)
    mini.adv_ga("2026-04-11", "", sessions=3, advocate="adv_0002")
    mini.ga("2026-04-12", "v7", "weird", "thing", sessions=1)
    mini.ga("2026-04-13", "v7", "Weird", "THING", landing="/b", sessions=1)
    t = mini.truth()
    assert t["observable"]["reps"] == [
        {"rep_id": "005A", "rep_email": "a@co", "period_start": "2026-04-01", "quota_amount": 3.0,
         "won_amount": 1.0, "attainment": 0.333333333333, "is_advocate": True,
         "own_advocacy_sessions": 2, "own_advocacy_leads": 1}]
    dq = t["observable"]["data_quality"]
    assert (dq["unclassified_rows"], dq["unclassified_source_medium"], dq["unclassified_sessions"]) == (2, 1, 2)


# ---------------------------------------------------------------------------------------------
# The shared generated world
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world_truth(world_store: Path) -> dict[str, Any]:
    return compute_truth(world_store)


def test_world_truth_is_deterministic_and_serialisable(world_store: Path,
                                                       world_truth: dict[str, Any]) -> None:
    again = compute_truth(world_store)
    assert dumps(again) == dumps(world_truth)
    assert json.loads(dumps(world_truth)) == world_truth


@pytest.mark.parametrize("part", ["observable", "world"])
def test_world_truth_is_consistent(world_truth: dict[str, Any], part: str) -> None:
    data = world_truth[part]
    people = data["segments"]["people"]
    assert people > 0
    assert sum(data["segments"]["by_segment"].values()) == people
    assert sum(r["people"] for r in data["segments"]["by_segment_basis"]) == people
    for grain in ("quarter", "month"):
        rows = [r for r in data["funnel"] if r["period_grain"] == grain]
        assert sum(r["leads"] for r in rows) == people
        for r in rows:
            assert r["leads"] >= r["mqls"] >= r["sqls"] >= r["opportunities"] >= r["won"] >= 0
    assert {r["segment"] for r in data["funnel"]} == {"advocacy", "other"}

    a = data["attribution"]
    sums: dict[tuple[str, str], float] = {}
    for r in a["credits"]:
        assert 0 < r["credit"] <= 1
        k = (r["opportunity_id"], r["model"])
        sums[k] = sums.get(k, 0.0) + r["credit"]
    assert set(sums) == {(o, m) for o in a["sample_opportunity_ids"] for m in MODELS}
    for total in sums.values():
        assert total == pytest.approx(1.0, abs=1e-9)
    for m in MODELS:
        assert sum(a["credited_pipeline_by_segment"][m].values()) == pytest.approx(
            a["pipeline_total"], abs=0.011)
        assert sum(a["credited_won_by_segment"][m].values()) == pytest.approx(
            a["won_total"], abs=0.011)
    assert sum(data["won_revenue_by_segment"].values()) == pytest.approx(a["won_total"], abs=0.011)
    assert sum(a["sourced_pipeline_by_segment"].values()) == pytest.approx(
        a["pipeline_total"], abs=0.011)
    # The funnel's won amount counts won opportunities with a linked lead.
    funnel_won = sum(r["won_amount"] for r in data["funnel"] if r["period_grain"] == "quarter")
    assert funnel_won <= a["won_total"] + 0.01

    adv = data["advocates"]
    for field in ("clicks", "sessions", "leads_sourced", "posts"):
        assert sum(v[field] for v in adv["all_time"].values()) == sum(
            r[field] for r in adv["by_quarter"])
    assert sum(v["leads_sourced"] for v in adv["all_time"].values()) == sum(
        r["people"] for r in data["segments"]["by_segment_basis"] if r["segment"] == "advocacy")
    for r in data["reps"]:
        if r["attainment"] is not None:
            assert r["attainment"] == pytest.approx(r["won_amount"] / r["quota_amount"], rel=1e-5)

    assert sum(r["sessions"] for r in data["web_traffic"]) == data["counts"]["ga4.traffic_daily"]["sessions"]
    assert sum(r["leads_created"] for r in data["web_traffic"]) == people
    for field in ("posts", "clicks", "engagements", "advocacy_sessions"):
        by_grain = [sum(r[field] for r in data["advocacy_value"] if r["period_grain"] == g)
                    for g in ("month", "quarter")]
        assert by_grain[0] == by_grain[1]
    assert sum(r["posts"] for r in data["advocacy_value"] if r["period_grain"] == "quarter") == sum(
        v["posts"] for v in adv["all_time"].values())
    infl = a["influenced_by_segment"]
    assert infl["advocacy"] == a["influenced"]
    assert infl["advocacy"]["opportunities"] + infl["other"]["opportunities"] >= (
        a["opportunities"] - a["unattributed_opportunities"])
    assert infl["unattributed"]["opportunities"] == a["unattributed_opportunities"]
    for m in MODELS:
        assert sum(a["credited_opportunities_by_segment"][m].values()) == pytest.approx(
            a["opportunities"], abs=1e-9)


def test_world_truth_parts_agree_on_people_and_money(world_truth: dict[str, Any]) -> None:
    obs, wld = world_truth["observable"], world_truth["world"]
    assert obs["segments"]["people"] == wld["segments"]["people"]
    assert sum(r["leads"] for r in obs["funnel"]) == sum(r["leads"] for r in wld["funnel"])
    for key in ("pipeline_total", "won_total", "opportunities"):
        assert obs["attribution"][key] == wld["attribution"][key]
    assert obs["counts"] == wld["counts"]
    assert obs["ga4"]["total_sessions"] == wld["ga4"]["total_sessions"]
    # The world sees at least as many advocacy sessions as the product (none hide in (other)).
    assert sum(v["sessions"] for v in wld["advocates"]["all_time"].values()) >= sum(
        v["sessions"] for v in obs["advocates"]["all_time"].values())
    assert world_truth["gap"]["leads_with_different_segment"] == sum(
        n for k, n in world_truth["gap"]["segment_moves_observable_to_world"].items()
        if k.split("->")[0] != k.split("->")[1])


def test_world_sample_covers_the_interesting_opportunities(world_truth: dict[str, Any]) -> None:
    obs = world_truth["observable"]["attribution"]
    ids = obs["sample_opportunity_ids"]
    assert len(ids) == 25 and ids == sorted(ids)
    assert any(i.startswith("hubspot:") for i in ids)
    per_opp: dict[str, set[str]] = {}
    for r in obs["credits"]:
        if r["model"] == "linear":
            per_opp.setdefault(r["opportunity_id"], set()).add(r["touch_id"])
    assert any(t == {"unattributed"} for t in per_opp.values())
    assert any(len(t) >= 3 for t in per_opp.values())
    assert world_truth["meta"]["as_of"] == "2026-06-30"
    counts = world_truth["observable"]["counts"]
    assert counts["ga4.visitor_sessions"]["sessions"] == world_truth["observable"]["ga4"][
        "total_sessions"]
    assert counts["hubspot.contacts"]["live"] == world_truth["observable"]["identity"][
        "records"]["hubspot_contacts"]


def test_headline_and_cli(world_store: Path, world_truth: dict[str, Any], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    text = headline(world_truth)
    assert "advocacy" in text and "Top 5 advocates" in text
    from pipelines.cli.main import main

    out = tmp_path / "truth.json"
    assert main(["sandbox", "truth", "--store", str(world_store), "--out", str(out),
                 "--sample-size", "25"]) == 0
    assert json.loads(out.read_text()) == world_truth
    assert "Won revenue by sourced segment" in capsys.readouterr().out


def test_the_causal_truth_knows_the_confounder(world_store: Path, world_config: Any, tmp_path: Path) -> None:
    """docs/LIFT.md: advocacy reaches larger companies, which convert better anyway, so the
    naive difference overstates the true lift; without the skew (advocacy_size_skew 0) the
    advocacy leads' companies are like the others' and the bias is gone."""
    import dataclasses

    from connectors.sandbox.config import size_band
    from connectors.sandbox.world import generate

    causal = compute_truth(world_store)["lift"]["causal"]
    assert 0.2 < causal["true_lift"] < causal["expected_naive_difference"]
    assert causal["confounding_bias"] > 0.05
    conn = sqlite3.connect(world_store)
    sizes = {rid: json.loads(f)["NumberOfEmployees"] for rid, f in conn.execute(
        "SELECT id, fields FROM sf_record WHERE sobject = 'Account'")}
    large = {seg: [size_band(world_config, sizes[a]) == 2 for (a,) in conn.execute(
        "SELECT account_id FROM truth_person WHERE intended_segment = ? AND intended_channel <> 'offline'",
        (seg,))] for seg in ("advocacy", "other")}
    conn.close()
    assert sum(large["advocacy"]) / len(large["advocacy"]) > 2 * sum(large["other"]) / len(large["other"])
    flat = tmp_path / "flat.sqlite"
    generate(flat, dataclasses.replace(world_config, advocacy_size_skew=0.0))
    assert abs(compute_truth(flat)["lift"]["causal"]["confounding_bias"]) < 0.04
