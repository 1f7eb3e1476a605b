"""One simulated person: the plan of everything that will happen to them (``plan_*``), and the
records the CRMs hold about them at a given cutoff (``render``).

A plan is a JSON-able dict with every random choice and every id already made, so rendering is a
pure function of (plan, cutoff): ``generate`` renders a new person once at the clock, ``advance``
re-renders the people whose plan still has events after the old clock (kept in ``gen_person``)
and rewrites their records: unchanged rows come out byte-identical, later events appear.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from urllib.parse import quote

from connectors.sandbox import catalog
from connectors.sandbox.config import WorldConfig
from connectors.sandbox.genutil import (
    DAY_MS,
    FIRST_NAMES,
    HOUR_MS,
    LAST_NAMES,
    MIN_MS,
    SITE,
    Ids,
    date_str,
    iso_sf,
    iso_z,
    rng_for,
)

HS_SOURCE = {
    "organic": "ORGANIC_SEARCH", "paid_search": "PAID_SEARCH", "paid_social": "PAID_SOCIAL",
    "email": "EMAIL_MARKETING", "direct": "DIRECT_TRAFFIC", "referral": "REFERRALS",
    "advocacy": "SOCIAL_MEDIA",
}
LEAD_SOURCE = {
    "organic": "Web", "paid_search": "Advertisement", "paid_social": "Advertisement",
    "email": "Email", "direct": "Web", "referral": "Partner", "advocacy": "Social Media",
}
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
SF_UTM_FIELDS = ("UTM_Source__c", "UTM_Medium__c", "UTM_Campaign__c", "UTM_Content__c", "UTM_Term__c")
OPP_STAGES = {s[0]: s for s in catalog.OPPORTUNITY_STAGES}
SF_TO_HS_STAGE = {
    "Prospecting": "appointmentscheduled", "Qualification": "qualifiedtobuy",
    "Proposal/Price Quote": "presentationscheduled", "Negotiation/Review": "decisionmakerboughtin",
    "Closed Won": "closedwon", "Closed Lost": "closedlost",
}
HS_STAGE_META = {s[0]: s for s in catalog.HUBSPOT_DEAL_PIPELINE["stages"]}
PRODUCTS = ("Analytics Suite", "Forecast Pro", "Data Connect", "Platform")
SYNC_MS = 3 * MIN_MS          # the HubSpot<->Salesforce sync runs every few minutes
# Addresses many different people type into a form (the account's domain filled in) and the
# one address of the form-fill flood: none of them identifies a person.
ROLE_EMAILS = ("info@{domain}", "sales@{domain}", "noreply@{domain}", "test@test.com")
FLOOD_EMAIL = "booth.demo@gmail.com"
RECYCLE_MS = DAY_MS           # multiplied by config.recycle_bin_days


@dataclasses.dataclass
class Ctx:
    """What rendering needs besides the plan: the company's static parts."""

    config: WorldConfig
    reps: list[dict]                          # user_id, owner_id, name, email
    account: Callable[[int], dict]            # index -> sf_id, hs_id, name, domain, currency
    fx: Callable[[str, str], float]           # (currency, YYYY-MM-DD) -> units per USD
    integration_user_id: str

    @property
    def multi(self) -> bool:
        return self.config.multi_currency


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
def sf_fields(sobject: str, multi: bool, values: dict) -> dict:
    fields = dict.fromkeys(catalog.SALESFORCE_FIELDS[sobject])
    if not multi:
        fields.pop(catalog.CURRENCY_FIELD, None)
        values = {k: v for k, v in values.items() if k != catalog.CURRENCY_FIELD}
    fields.update(values)
    return fields


def sf_row(sobject: str, rid: str, created: int | None, modified: int | None, values: dict,
           multi: bool, deleted: int | None = None, purged: bool = False) -> tuple:
    """A ``sf_record`` row. ``deleted`` is the deletion time (ms) when in the recycle bin/purged."""
    spec = catalog.SALESFORCE_FIELDS[sobject]
    v = dict(values)
    v["Id"] = rid
    if "IsDeleted" in spec:
        v["IsDeleted"] = deleted is not None
    # each time formatted once (the Z form is the +0000 form's first 23 characters)
    created_sf = iso_sf(created) if created is not None and "CreatedDate" in spec else None
    modified_sf = iso_sf(modified) if modified is not None else None
    if created_sf is not None:
        v["CreatedDate"] = created_sf
    if modified_sf is not None:
        if "LastModifiedDate" in spec:
            v["LastModifiedDate"] = modified_sf
        if "SystemModstamp" in spec:
            v["SystemModstamp"] = modified_sf
    fields = sf_fields(sobject, multi, v)
    return (
        sobject, rid,
        modified_sf[:23] + "Z" if modified_sf is not None and "SystemModstamp" in spec else None,
        created_sf[:23] + "Z" if created_sf is not None else None,
        1 if deleted is not None else 0, 1 if purged else 0,
        iso_z(deleted) if deleted is not None else None,
        json.dumps(fields, sort_keys=True, separators=(",", ":")),
    )


def hs_row(object_type: str, oid: int, created: int, updated: int, props: dict,
           archived_at: int | None = None) -> tuple:
    props = {k: v for k, v in props.items() if v is not None}
    props["hs_object_id"] = str(oid)
    props["createdate"] = iso_z(created)
    props[catalog.HUBSPOT_MODIFIED_PROPERTY[object_type]] = iso_z(updated)
    assert all(isinstance(v, str) for v in props.values()), props
    return (
        object_type, oid, created, updated, 1 if archived_at is not None else 0, archived_at,
        json.dumps(props, sort_keys=True, separators=(",", ":")),
    )


def assoc_rows(from_type: str, from_id: int, to_type: str, to_id: int) -> list[tuple]:
    return [
        (from_type, from_id, to_type, to_id, catalog.HUBSPOT_ASSOCIATION_TYPES[(from_type, to_type)]),
        (to_type, to_id, from_type, from_id, catalog.HUBSPOT_ASSOCIATION_TYPES[(to_type, from_type)]),
    ]


def money(x: float) -> str:
    return f"{x:.2f}"


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------
def first_url(landing: str, url_utm: dict[str, str]) -> str:
    if not url_utm:
        return SITE + landing
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in url_utm.items())
    return f"{SITE}{landing}?{query}"


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _email(first: str, last: str, num: int, domain: str) -> str:
    return f"{first.lower()}.{last.lower()}{num}@{domain}"


def _u(rng: random.Random, lo_days: float, hi_days: float) -> int:
    return int(rng.uniform(lo_days, hi_days) * DAY_MS)


def plan_person(rng: random.Random, ctx: Ctx, ids: Ids, *, t0: int, account: int, rep: int,
                visitor: dict | None, form_has_vid: bool, contest: bool) -> dict:
    """Plan a person. ``visitor`` is None for a lead typed into Salesforce by sales; else it has
    vid, channel, url_utm (the first session's UTMs as the link carried them), landing, first_ts,
    advocate, post."""
    cfg = ctx.config
    num = ids.next("person")
    acct = ctx.account(account)
    first, last = _name(rng)
    web = visitor is not None
    channel = visitor["channel"] if web else "offline"
    p: dict = {
        "pid": f"person_{num:07d}", "num": num, "web": web, "t0": t0, "account": account,
        "rep": rep, "first": first, "last": last, "email": _email(first, last, num, acct["domain"]),
        "channel": channel, "v2": rng.random() < 0.5,
        "vid": visitor["vid"] if web else None,
        "form_vid": visitor["vid"] if web and form_has_vid else None,
        "url_utm": visitor["url_utm"] if web else {},
        "landing": visitor["landing"] if web else None,
        "first_ts": visitor["first_ts"] if web else None,
        "advocate": visitor.get("advocate") if web else None,
        "post": visitor.get("post") if web else None,
        "lead_source": LEAD_SOURCE[channel] if web else rng.choice(("Phone Inquiry", "Trade Show")),
    }
    # A stream of its own, so that the day's stream (everything else) is unchanged by it.
    erng = rng_for(cfg.seed, "email", num)
    x = erng.random()
    if x < cfg.share_role_emails:
        p["email"] = erng.choice(ROLE_EMAILS).format(domain=acct["domain"])
    elif x < cfg.share_role_emails + cfg.share_flood_emails:
        p["email"] = FLOOD_EMAIL
    if web:
        p["hs_id"] = ids.hs("contacts")
        p["lead_at"] = t0 + rng.randint(MIN_MS, 10 * MIN_MS)
    else:
        p["hs_id"] = None
        p["lead_at"] = t0
    p["lead_id"] = ids.sf("Lead")

    lift = cfg.advocacy_conversion_lift if channel == "advocacy" else 1.0
    if channel == "advocacy" and contest:
        lift *= cfg.contest_conversion_boost
    # the confounder: larger companies convert better whatever the channel (config.py)
    lift *= cfg.size_conversion_factors[acct.get("band", 1)]

    def chance(rate: float) -> bool:
        return rng.random() < min(0.95, rate * lift)

    # Salesforce status path: (ms, status). HubSpot lifecycle follows (see render).
    statuses: list[list] = []
    t = p["lead_at"]
    t += _u(rng, 0.2, 3)
    if rng.random() < 0.85:
        statuses.append([t, "Working - Contacted"])
    mql = sql = conv = None
    if chance(cfg.lead_to_mql):
        t += _u(rng, 0.5, 10)
        mql = t
        statuses.append([t + rng.randint(MIN_MS, 10 * MIN_MS), "Marketing Qualified"])
        if chance(cfg.mql_to_sql):
            t += _u(rng, 2, 18)
            sql = t
            statuses.append([t, "Sales Qualified"])
            if chance(cfg.sql_to_opportunity):
                t += _u(rng, 1, 14)
                conv = t
    if conv is None and rng.random() < 0.45:
        statuses.append([t + _u(rng, 20, 90), "Closed - Not Converted"])
    p.update(mql=mql, sql=sql, conv=conv, statuses=statuses)

    # Opportunity
    opp = None
    if conv is not None:
        hs_only = web and rng.random() < cfg.share_hubspot_only_deals
        won = rng.random() < min(0.95, cfg.opportunity_to_won * lift)
        stage_names = ["Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review"]
        reached = 4 if won else rng.randint(1, 4)
        stages, ts = [["Prospecting", conv]], conv
        for name in stage_names[1:reached]:
            ts += _u(rng, 3, 18)
            stages.append([name, ts])
        ts += _u(rng, 3, 30)
        stages.append(["Closed Won" if won else "Closed Lost", ts])
        currency = acct["currency"] if ctx.multi else "USD"
        usd = min(250_000.0, max(3_000.0, rng.lognormvariate(9.9, 0.6)))
        rate = ctx.fx(currency, date_str(conv))
        amount0 = round(usd * rate / 100) * 100
        edit = None
        if reached >= 3 and rng.random() < 0.35:
            edit_at = stages[2][1] + rng.randint(HOUR_MS, 2 * DAY_MS)
            if edit_at < stages[-1][1]:
                edit = [edit_at, round(amount0 * rng.uniform(0.75, 1.25) / 100) * 100]
        opp = {
            "hs_only": hs_only, "stages": stages, "won": won, "currency": currency,
            "amount0": amount0, "edit": edit,
            "expected_close": date_str(stages[-1][1] + _u(rng, -10, 20)),
            "name": f"{acct['name']} - {rng.choice(PRODUCTS)}",
            "deal_id": ids.hs("deals"),
            "deal_delay": rng.randint(MIN_MS, SYNC_MS),
        }
        if not hs_only:
            opp.update(
                id=ids.sf("Opportunity"), contact_id=ids.sf("Contact"),
                ocr_id=ids.sf("OpportunityContactRole"),
                hist_ids=ids.sf_many("OpportunityHistory", len(stages) + (1 if edit else 0)),
            )
            if rng.random() < 0.3:
                cf, cl = _name(rng)
                cnum = ids.next("person")
                opp["colleague"] = {
                    "pid": f"person_{cnum:07d}", "first": cf, "last": cl,
                    "email": _email(cf, cl, cnum, acct["domain"]),
                    "at": conv + _u(rng, 0.5, 6), "contact_id": ids.sf("Contact"),
                    "ocr_id": ids.sf("OpportunityContactRole"),
                }
                if opp["colleague"]["at"] >= stages[-1][1]:
                    opp["colleague"]["at"] = conv + HOUR_MS
                _late_colleague(cfg, ids, opp["colleague"])
    p["opp"] = opp

    # One LeadHistory id for 'created' and one per status change (+ conversion).
    converted = opp is not None and not opp["hs_only"]
    p["lh_ids"] = ids.sf_many("LeadHistory", 1 + len(statuses) + (1 if converted else 0))

    # Deletion (never for people who reached an opportunity) or a duplicate merged later.
    p["delete"] = p["dup"] = None
    if conv is None and rng.random() < cfg.share_deleted / 0.8:
        at = t0 + _u(rng, 2, 60)
        kind = rng.choice(("both", "both", "hubspot", "salesforce")) if web else "salesforce"
        p["delete"] = {"at": at, "kind": kind}
        p["statuses"] = [s for s in statuses if s[0] < at]
    elif web and rng.random() < cfg.share_merged:
        dup_t = t0 + rng.randint(MIN_MS, 20 * MIN_MS)
        merge_at = dup_t + _u(rng, 1, 20)
        if conv is not None and merge_at >= conv:
            merge_at = max(dup_t + HOUR_MS, conv - HOUR_MS)
        e = p["email"]
        p["dup"] = {
            "hs_id": ids.hs("contacts"), "lead_id": ids.sf("Lead"), "t": dup_t,
            "lead_at": dup_t + rng.randint(MIN_MS, 10 * MIN_MS),
            "email": e.capitalize(),  # same address, different case: one person once
            "merge_at": merge_at, "lh_id": ids.sf("LeadHistory"),
        }
    # Late edits: someone touches the record weeks later.
    p["edits"] = sorted(t0 + _u(rng, 14, 120) for _ in range(rng.choice((0, 0, 0, 0, 0, 1, 1, 2))))
    return p


def _late_colleague(cfg: WorldConfig, ids: Ids, col: dict) -> None:
    """How the colleague joins the opportunity: a contact with its role at once (``contact``),
    a contact whose role is added 5-40 days later (``late_role``), or a lead typed in at
    ``at`` and converted 5-40 days later into the existing opportunity (``lead``: the contact
    and its role appear at the conversion)."""
    crng = rng_for(cfg.seed, "colleague", col["pid"])
    x = crng.random()
    later = col["at"] + _u(crng, 5, 40)
    if x < cfg.share_late_colleague_roles:
        col.update(kind="late_role", role_at=later)
    elif x < cfg.share_late_colleague_roles + cfg.share_colleague_leads:
        col.update(kind="lead", conv_at=later, lead_id=ids.sf("Lead"),
                   lh_ids=ids.sf_many("LeadHistory", 2))
    else:
        col.update(kind="contact")


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Rendered:
    hs: list[tuple] = dataclasses.field(default_factory=list)
    assoc: list[tuple] = dataclasses.field(default_factory=list)
    sf: list[tuple] = dataclasses.field(default_factory=list)
    truth: list[tuple] = dataclasses.field(default_factory=list)
    next_ms: int | None = None


def _opp_state(opp: dict, cutoff: int) -> dict | None:
    """The opportunity as it stood just before ``cutoff``: stage, amount, close date, last change."""
    stages = [s for s in opp["stages"] if s[1] < cutoff]
    if not stages:
        return None
    name, at = stages[-1]
    amount, last = opp["amount0"], at
    if opp["edit"] and opp["edit"][0] < cutoff:
        amount = opp["edit"][1]
        last = max(last, opp["edit"][0])
    closed = OPP_STAGES[name][2]
    return {
        "stage": name, "stage_at": at, "amount": amount, "last": last, "closed": closed,
        "won": OPP_STAGES[name][3], "close_date": date_str(at) if closed else opp["expected_close"],
        "closed_at": at if closed else None,
    }


def render(p: dict, cutoff: int, ctx: Ctx) -> Rendered:
    cfg, multi = ctx.config, ctx.multi
    out = Rendered()
    future: list[int] = []

    def seen(ms: int | None) -> bool:
        if ms is None:
            return False
        if ms < cutoff:
            return True
        future.append(ms)
        return False

    acct = ctx.account(p["account"])
    rep = ctx.reps[p["rep"]]
    opp = p["opp"]
    dele = p["delete"]
    dup = p["dup"]
    recycle = cfg.recycle_bin_days * RECYCLE_MS
    del_at = dele["at"] if dele and seen(dele["at"]) else None
    if dele:
        seen(dele["at"] + recycle)  # the purge is an event too
    merge_at = dup["merge_at"] if dup and seen(dup["merge_at"]) else None
    if dup:
        seen(dup["merge_at"] + recycle)
    edits = [e for e in p["edits"] if seen(e) and (del_at is None or e < del_at)]
    conv = p["conv"] if seen(p["conv"]) else None
    converted = conv is not None and not opp["hs_only"]
    url_utm = p["url_utm"]
    utm_values = {f: url_utm.get(k) for f, k in zip(SF_UTM_FIELDS, UTM_PARAMS, strict=True)}

    # --- Salesforce Lead, its history and the converted contact -------------------------------
    lead_live = False
    if seen(p["lead_at"]):
        lead_at = p["lead_at"]
        changes = [s for s in p["statuses"] if seen(s[0]) and (not converted or s[0] < conv)]
        if converted:
            changes.append([conv, "Closed - Converted"])
        status = changes[-1][1] if changes else "Open - Not Contacted"
        lead_edits = [e for e in edits if not converted or e < conv]
        mod = max([lead_at, *(c[0] for c in changes), *lead_edits])
        sf_del = del_at if del_at is not None and dele["kind"] in ("both", "salesforce") else None
        if sf_del is not None:
            mod = max(mod, sf_del)
        purged = sf_del is not None and sf_del < cutoff - recycle
        lead_live = sf_del is None
        values = {
            "FirstName": p["first"], "LastName": p["last"], "Email": p["email"],
            "Company": acct["name"], "Status": status, "LeadSource": p["lead_source"],
            "OwnerId": rep["user_id"], "IsConverted": converted,
            "GA_Client_ID__c": p["form_vid"], **utm_values,
            catalog.CURRENCY_FIELD: acct["currency"] if multi else None,
        }
        if converted:
            values.update(
                ConvertedDate=date_str(conv), ConvertedAccountId=acct["sf_id"],
                ConvertedContactId=opp["contact_id"], ConvertedOpportunityId=opp["id"],
            )
        out.sf.append(sf_row("Lead", p["lead_id"], lead_at, mod, values, multi, sf_del, purged))
        lh = p["lh_ids"]
        hist = [(lh[0], lead_at, "created", None, None, "Text")]
        old = "Open - Not Contacted"
        for i, (at, new) in enumerate(changes):
            hist.append((lh[1 + i], at, "Status", old, new, "DynamicEnum"))
            old = new
        for hid, at, field, ov, nv, dtype in hist:
            out.sf.append(sf_row(
                "LeadHistory", hid, at, None,
                {"LeadId": p["lead_id"], "Field": field, "OldValue": ov, "NewValue": nv,
                 "DataType": dtype, "CreatedById": ctx.integration_user_id if field == "created"
                 and p["web"] else rep["user_id"]},
                multi, sf_del, purged,
            ))
        if converted:
            c_mod = max([conv, *(e for e in edits if e >= conv)])
            out.sf.append(sf_row("Contact", opp["contact_id"], conv, c_mod, {
                "FirstName": p["first"], "LastName": p["last"], "Email": p["email"],
                "AccountId": acct["sf_id"], "OwnerId": rep["user_id"],
                "LeadSource": p["lead_source"], "GA_Client_ID__c": p["form_vid"], **utm_values,
                catalog.CURRENCY_FIELD: acct["currency"],
            }, multi))

    # --- the duplicate (merged into this person later) ----------------------------------------
    if dup and seen(dup["lead_at"]):
        purged = merge_at is not None and merge_at < cutoff - recycle
        mod = merge_at if merge_at is not None else dup["lead_at"]
        out.sf.append(sf_row("Lead", dup["lead_id"], dup["lead_at"], mod, {
            "FirstName": p["first"], "LastName": p["last"], "Email": dup["email"],
            "Company": acct["name"], "Status": "Open - Not Contacted",
            "LeadSource": p["lead_source"], "OwnerId": rep["user_id"], "IsConverted": False,
            "MasterRecordId": p["lead_id"] if merge_at is not None else None,
            "GA_Client_ID__c": p["form_vid"], **utm_values,
            catalog.CURRENCY_FIELD: acct["currency"],
        }, multi, merge_at, purged))
        out.sf.append(sf_row("LeadHistory", dup["lh_id"], dup["lead_at"], None, {
            "LeadId": dup["lead_id"], "Field": "created", "DataType": "Text",
            "CreatedById": ctx.integration_user_id,
        }, multi, merge_at, purged))

    # --- HubSpot contact ------------------------------------------------------------------------
    hs_live = False
    if p["web"] and seen(p["t0"]):
        t0 = p["t0"]
        life = [("lead", t0)]
        if seen(p["mql"]):
            life.append(("marketingqualifiedlead", p["mql"]))
        if p["sql"] is not None and seen(p["sql"] + SYNC_MS):
            life.append(("salesqualifiedlead", p["sql"] + SYNC_MS))
        o_state = None
        if opp is not None:
            lag = 0 if opp["hs_only"] else SYNC_MS
            if seen(opp["stages"][0][1] + lag):
                life.append(("opportunity", opp["stages"][0][1] + lag))
            o_state = _opp_state(opp, cutoff - lag)
            if o_state and o_state["won"]:
                life.append(("customer", o_state["closed_at"] + lag))
            if opp["won"]:
                seen(opp["stages"][-1][1] + lag)
        props = {
            "email": p["email"], "firstname": p["first"], "lastname": p["last"],
            "company": acct["name"], "lifecyclestage": life[-1][0],
            "hs_analytics_source": HS_SOURCE[p["channel"]],
            "hs_analytics_first_url": first_url(p["landing"], url_utm),
            "hs_analytics_first_timestamp": iso_z(p["first_ts"]),
            "ga_client_id": p["form_vid"], "hubspot_owner_id": str(rep["owner_id"]),
            "associatedcompanyid": str(acct["hs_id"]),
        }
        d1, d2 = _source_data(p["channel"], url_utm, props["hs_analytics_first_url"])
        props["hs_analytics_source_data_1"], props["hs_analytics_source_data_2"] = d1, d2
        for stage, at in life:
            props[f"hs_lifecyclestage_{stage}_date"] = iso_z(at)
            if p["v2"]:
                props[f"hs_v2_date_entered_{stage}"] = iso_z(at)
        times = [t0, *(at for _, at in life)]
        if seen(p["lead_at"] + 5000):
            props["salesforceleadid"] = p["lead_id"]
            times.append(p["lead_at"] + 5000)
        if converted and seen(conv + SYNC_MS):
            props["salesforcecontactid"] = opp["contact_id"]
            times.append(conv + SYNC_MS)
        if merge_at is not None:
            props["hs_merged_object_ids"] = str(dup["hs_id"])
            times.append(merge_at)
        times.extend(edits)
        hs_del = del_at if del_at is not None and dele["kind"] in ("both", "hubspot") else None
        if hs_del is not None:
            times = [x for x in times if x < hs_del] + [hs_del]
        hs_live = hs_del is None
        out.hs.append(hs_row("contacts", p["hs_id"], t0, max(times), props, hs_del))
        out.assoc += assoc_rows("contacts", p["hs_id"], "companies", acct["hs_id"])
        if dup and seen(dup["t"]):
            dprops = {k: v for k, v in props.items() if not k.startswith(("hs_lifecyclestage", "hs_v2", "salesforce", "hs_merged"))}
            dprops.update(email=dup["email"], lifecyclestage="lead")
            dprops["hs_lifecyclestage_lead_date"] = iso_z(dup["t"])
            if seen(dup["lead_at"] + 5000):
                dprops["salesforceleadid"] = dup["lead_id"]
            dmod = merge_at if merge_at is not None else max(
                x for x in (dup["t"], dup["lead_at"] + 5000) if x < cutoff)
            out.hs.append(hs_row("contacts", dup["hs_id"], dup["t"], dmod, dprops, merge_at))

    # --- opportunity, contact roles, history, deal ----------------------------------------------
    if opp is not None and conv is not None:
        _render_opp(p, opp, cutoff, ctx, acct, rep, out, seen, hs_live)

    # --- truth ------------------------------------------------------------------------------------
    created = p["t0"] if p["web"] else p["lead_at"]
    if created < cutoff:
        out.truth.append((
            p["pid"], p["vid"], p["email"], p["hs_id"] if hs_live else None,
            p["lead_id"] if lead_live else None, opp["contact_id"] if converted else None,
            "advocacy" if p["channel"] == "advocacy" else "other", p["channel"],
            p["advocate"], p["post"], iso_z(del_at) if del_at is not None else None,
            dup["hs_id"] if dup else None, dup["lead_id"] if dup else None, iso_z(created),
            acct["sf_id"],
        ))
    col = (opp or {}).get("colleague")
    if col and conv is not None and col["at"] < cutoff:
        is_lead = col.get("kind") == "lead"
        has_contact = not is_lead or col["conv_at"] < cutoff
        out.truth.append((
            col["pid"], None, col["email"], None, col["lead_id"] if is_lead else None,
            col["contact_id"] if has_contact else None, "other", "offline",
            None, None, None, None, None, iso_z(col["at"]), acct["sf_id"],
        ))
    out.next_ms = min(future) if future else None
    return out


def _source_data(channel: str, url_utm: dict, url: str) -> tuple[str | None, str | None]:
    if channel == "advocacy":
        src = (url_utm.get("utm_source") or "").strip().lower()
        if src == "social_hub":
            src = (url_utm.get("utm_medium") or "").strip().lower()
        return {"linkedin": "LinkedIn", "x": "Twitter", "facebook": "Facebook"}.get(src, src), url
    if channel == "organic":
        return "google", "unknown keywords (SSL)"
    if channel == "paid_search":
        return url_utm.get("utm_campaign"), url_utm.get("utm_term")
    if channel == "paid_social":
        return url_utm.get("utm_source"), url_utm.get("utm_campaign")
    if channel == "email":
        return url_utm.get("utm_campaign"), None
    if channel == "referral":
        return "partner.com", "https://partner.com/integrations"
    return "URL", url


def _render_colleague(col: dict, opp: dict, ctx: Ctx, acct: dict, rep: dict, out: Rendered,
                      seen: Callable[[int | None], bool]) -> None:
    """The colleague's records (see :func:`_late_colleague`); plans from before the kinds
    existed are plain contacts."""
    multi = ctx.multi
    kind = col.get("kind", "contact")
    contact_at = role_at = col["at"]
    if kind == "late_role":
        role_at = col["role_at"]
    elif kind == "lead":
        converted = seen(col["conv_at"])
        contact_at = role_at = col["conv_at"]
        values = {
            "FirstName": col["first"], "LastName": col["last"], "Email": col["email"],
            "Company": acct["name"], "LeadSource": "Trade Show", "OwnerId": rep["user_id"],
            "Status": "Closed - Converted" if converted else "Open - Not Contacted",
            "IsConverted": converted, catalog.CURRENCY_FIELD: acct["currency"],
        }
        if converted:
            values.update(ConvertedDate=date_str(col["conv_at"]), ConvertedAccountId=acct["sf_id"],
                          ConvertedContactId=col["contact_id"], ConvertedOpportunityId=opp["id"])
        out.sf.append(sf_row("Lead", col["lead_id"], col["at"],
                             col["conv_at"] if converted else col["at"], values, multi))
        out.sf.append(sf_row("LeadHistory", col["lh_ids"][0], col["at"], None, {
            "LeadId": col["lead_id"], "Field": "created", "DataType": "Text",
            "CreatedById": rep["user_id"]}, multi))
        if not converted:
            return
        out.sf.append(sf_row("LeadHistory", col["lh_ids"][1], col["conv_at"], None, {
            "LeadId": col["lead_id"], "Field": "Status", "OldValue": "Open - Not Contacted",
            "NewValue": "Closed - Converted", "DataType": "DynamicEnum",
            "CreatedById": rep["user_id"]}, multi))
    out.sf.append(sf_row("Contact", col["contact_id"], contact_at, contact_at, {
        "FirstName": col["first"], "LastName": col["last"], "Email": col["email"],
        "AccountId": acct["sf_id"], "OwnerId": rep["user_id"],
        catalog.CURRENCY_FIELD: acct["currency"],
    }, multi))
    if seen(role_at):
        out.sf.append(sf_row("OpportunityContactRole", col["ocr_id"], role_at, role_at, {
            "OpportunityId": opp["id"], "ContactId": col["contact_id"],
            "Role": "Influencer", "IsPrimary": False,
        }, multi))


def _render_opp(p: dict, opp: dict, cutoff: int, ctx: Ctx, acct: dict, rep: dict,
                out: Rendered, seen: Callable[[int | None], bool], hs_contact_live: bool) -> None:
    multi = ctx.multi
    conv = opp["stages"][0][1]
    for _, at in opp["stages"]:
        seen(at)
    if opp["edit"]:
        seen(opp["edit"][0])
    if not opp["hs_only"]:
        st = _opp_state(opp, cutoff)
        stage = OPP_STAGES[st["stage"]]
        out.sf.append(sf_row("Opportunity", opp["id"], conv, st["last"], {
            "Name": opp["name"], "AccountId": acct["sf_id"], "StageName": st["stage"],
            "Amount": float(st["amount"]), "Probability": float(stage[1]),
            "CloseDate": st["close_date"], "IsClosed": stage[2], "IsWon": stage[3],
            "ForecastCategory": stage[4], "Type": "New Business", "LeadSource": p["lead_source"],
            "OwnerId": rep["user_id"], catalog.CURRENCY_FIELD: opp["currency"],
        }, multi))
        out.sf.append(sf_row("OpportunityContactRole", opp["ocr_id"], conv, conv, {
            "OpportunityId": opp["id"], "ContactId": opp["contact_id"],
            "Role": "Decision Maker", "IsPrimary": True,
        }, multi))
        events = [(at, "stage") for _, at in opp["stages"]]
        if opp["edit"]:
            events.append((opp["edit"][0], "amount"))
        events.sort()
        for hid, (at, _) in zip(opp["hist_ids"], events, strict=True):
            if at >= cutoff:
                break
            hs = _opp_state(opp, at + 1)
            hstage = OPP_STAGES[hs["stage"]]
            out.sf.append(sf_row("OpportunityHistory", hid, at, at, {
                "OpportunityId": opp["id"], "StageName": hs["stage"],
                "Amount": float(hs["amount"]), "CloseDate": hs["close_date"],
                "Probability": float(hstage[1]), "ForecastCategory": hstage[4],
                "CreatedById": rep["user_id"],
            }, multi))
        col = opp.get("colleague")
        if col and seen(col["at"]):
            _render_colleague(col, opp, ctx, acct, rep, out, seen)
    # HubSpot deal: HubSpot-only, or the sync's mirror a few minutes behind Salesforce.
    lag = 0 if opp["hs_only"] else opp["deal_delay"]
    if not seen(conv + lag):
        return
    st = _opp_state(opp, cutoff - lag)
    hs_stage = SF_TO_HS_STAGE[st["stage"]]
    closed, won = HS_STAGE_META[hs_stage][2], hs_stage == "closedwon"
    close_ms = st["closed_at"] if st["closed_at"] is not None else None
    props = {
        "dealname": opp["name"], "amount": money(st["amount"]),
        "deal_currency_code": opp["currency"], "dealstage": hs_stage, "pipeline": "default",
        "closedate": iso_z(close_ms) if close_ms is not None else opp["expected_close"] + "T00:00:00.000Z",
        "hs_is_closed": "true" if closed else "false",
        "hs_is_closed_won": "true" if won else "false",
        "hubspot_owner_id": str(rep["owner_id"]),
        "salesforceopportunityid": None if opp["hs_only"] else opp["id"],
    }
    out.hs.append(hs_row("deals", opp["deal_id"], conv + lag, st["last"] + lag, props))
    out.assoc += assoc_rows("deals", opp["deal_id"], "companies", acct["hs_id"])
    if p["web"] and hs_contact_live:
        out.assoc += assoc_rows("deals", opp["deal_id"], "contacts", p["hs_id"])

