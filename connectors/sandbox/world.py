"""The deterministic sandbox world generator.

``generate(path, config)`` builds a fresh world store (see :mod:`connectors.sandbox.store`) by
simulating the company day by day from ``config.world_start`` to ``config.clock``;
``advance(path, days)`` continues the same world for more days. Everything random comes from
:func:`connectors.sandbox.genutil.rng_for` streams keyed by the seed and a stable name (the day,
the post, the quarter), so a seed always gives the same store.

Memory stays bounded at any scale: a day's sessions are aggregated and written before the next
day starts, people are written as soon as they fill a form (their later events are planned up
front; those after the clock wait in ``gen_person``), and only the last week's posts, a bounded
pool of returning visitors and the company's static parts (reps, advocates, accounts) are kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import math
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from connectors.sandbox import campaigns, catalog, hubspot_events, store
from connectors.sandbox.config import WorldConfig, size_band
from connectors.sandbox.genutil import (
    BLOG_SLUGS,
    COMPANY_A,
    COMPANY_B,
    COUNTRIES,
    DAY_MS,
    EVENT_SLUGS,
    FIRST_NAMES,
    HOUR_MS,
    INDUSTRIES,
    LAST_NAMES,
    MIN_MS,
    SITE,
    Ids,
    day_ms,
    iso_sf,
    iso_z,
    next_quarter,
    poisson,
    quarter_start,
    quarters,
    rng_for,
)
from connectors.sandbox.people import (
    Ctx,
    hs_row,
    plan_person,
    sf_row,
)
from connectors.sandbox.world_writer import BATCH_SQL, ProcessWriter, StoreWriter

Progress = Callable[[str], None] | None
WRITER_PROCESS_SCALE = 2.0

COMPANY_DOMAIN = "lumenanalytics.example"
FORECASTING_TYPE_ID = "0Db000000000001AAA"
FISCAL_YEAR_SETTINGS_ID = "022000000000001AAA"
TEAMS = ("Marketing", "Product", "Engineering", "Customer Success", "Leadership", "People")
CATEGORIES = (("product", 3), ("thought-leadership", 3), ("culture", 2), ("events", 1), ("hiring", 1))
NETWORK_WEIGHTS = (("linkedin", 6), ("x", 2.5), ("facebook", 1.5))
NETWORK_CLICKS = {"linkedin": 1.2, "x": 0.7, "facebook": 0.8}
CLICK_DAY_WEIGHTS = (0.8, 0.12, 0.04, 0.02, 0.01, 0.005, 0.005)
SESSIONS_PER_CLICK = 0.72
CHANNEL_MIX = (("organic", 35), ("paid_search", 15), ("paid_social", 8), ("email", 10),
               ("direct", 22), ("referral", 10))
RETURNING_MIX = (("direct", 40), ("organic", 30), ("email", 15), ("paid_search", 10), ("referral", 5))
FILL_FACTOR = {"organic": 0.9, "paid_search": 1.4, "paid_social": 0.8, "email": 1.1,
               "direct": 1.2, "referral": 0.9, "advocacy": 0.8}
BASE_FILL = 0.095
MESSY_SHARE = 0.12
NETWORK_DISPLAY = {"linkedin": "LinkedIn", "x": "X", "facebook": "Facebook"}
FX_BASE = {"EUR": (0.92, 0.03), "GBP": (0.79, 0.02)}


def _weighted(rng: random.Random, pairs: tuple) -> str:
    names, cum = _cumulative(pairs)
    return rng.choices(names, cum_weights=cum)[0]


@functools.cache
def _cumulative(pairs: tuple) -> tuple[list[str], list[float]]:
    """The names and cumulative weights of ``pairs``: what ``choices`` computes from plain
    weights on every call (the same draw either way; this runs per simulated session)."""
    return [p[0] for p in pairs], list(itertools.accumulate(p[1] for p in pairs))


def n_reps(cfg: WorldConfig) -> int:
    return max(3, round(cfg.reps * math.sqrt(cfg.scale)))


def n_advocates(cfg: WorldConfig) -> int:
    return max(5, round(cfg.advocates * math.sqrt(cfg.scale)))


def n_accounts(cfg: WorldConfig) -> int:
    return max(30, round(cfg.contacts * cfg.scale / 8))


def is_contest(cfg: WorldConfig, d: dt.date) -> bool:
    return cfg.contest_quarter_start <= d < next_quarter(cfg.contest_quarter_start)


# ---------------------------------------------------------------------------------------------
# The company's static parts: derived from the seed alone, so advance rebuilds them identically.
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Static:
    reps: list[dict]
    others: list[dict]              # non-rep users (marketing, integration)
    accounts: list[dict]
    advocates: list[dict]
    ids: Ids                        # counters after the static ids


def build_static(cfg: WorldConfig) -> Static:
    ids = Ids()
    rng = rng_for(cfg.seed, "static")
    people: list[dict] = []
    used: set[str] = set()

    def person(title: str, dept: str, owner_team: str) -> dict:
        while True:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first.lower()}.{last.lower()}@{COMPANY_DOMAIN}"
            if email not in used:
                used.add(email)
                break
        i = len(people)
        u = {
            "user_id": ids.sf("User"), "owner_id": 41_600_000 + 7 * i, "hs_user_id": 9_500_000 + i,
            "first": first, "last": last, "name": f"{first} {last}", "email": email,
            "title": title, "dept": dept, "team": owner_team,
            "created": day_ms(cfg.world_start) - rng.randint(30, 900) * DAY_MS + rng.randint(0, DAY_MS - 1),
        }
        people.append(u)
        return u

    reps = [person("Account Executive", "Sales", "Sales") for _ in range(n_reps(cfg))]
    others = [person("Marketing Manager", "Marketing", "Marketing") for _ in range(2)]
    integ = person("Integration User", "IT", "Operations")
    integ.update(first="Integration", last="User", name="Integration User",
                 email=f"integration@{COMPANY_DOMAIN}")
    others.append(integ)

    accounts = []
    country_names = [c[0] for c in COUNTRIES]
    country_w = [c[1] for c in COUNTRIES]
    currency_of = {c[0]: c[2] for c in COUNTRIES}
    for i in range(n_accounts(cfg)):
        a, b = COMPANY_A[i % len(COMPANY_A)], COMPANY_B[(i // len(COMPANY_A)) % len(COMPANY_B)]
        k = i // (len(COMPANY_A) * len(COMPANY_B))
        name = f"{a} {b}" + (f" {k + 1}" if k else "")
        country = rng.choices(country_names, weights=country_w)[0]
        accounts.append({
            "sf_id": ids.sf("Account"), "hs_id": ids.hs("companies"), "name": name,
            "domain": name.lower().replace(" ", "") + ".com", "country": country,
            "currency": currency_of[country] if cfg.multi_currency else cfg.corporate_currency,
            "industry": rng.choice(INDUSTRIES), "rep": rng.randrange(len(reps)),
            "created": day_ms(cfg.world_start) - rng.randint(5, 700) * DAY_MS + rng.randint(0, DAY_MS - 1),
            # a stream of its own, so the rest of the company is what it was before sizes
            "employees": max(5, round(rng_for(cfg.seed, "employees", i).lognormvariate(5.6, 1.2))),
        })
    for a in accounts:
        a["band"] = size_band(cfg, a["employees"])

    advocates = []
    n_rep_adv = max(1, round(len(reps) / 3))
    for i in range(n_advocates(cfg)):
        if i < n_rep_adv:
            r = reps[i]
            first, last, email, team = r["first"], r["last"], r["email"], "Sales"
            user_id, owner_id = r["user_id"], r["owner_id"]
        else:
            while True:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                email = f"{first.lower()}.{last.lower()}@{COMPANY_DOMAIN}"
                if email not in used:
                    used.add(email)
                    break
            team, user_id, owner_id = rng.choice(TEAMS), None, None
        advocates.append({
            "id": f"adv_{i + 1:04d}", "first": first, "last": last, "name": f"{first} {last}",
            "email": email, "team": team, "user_id": user_id, "owner_id": owner_id,
            "platform": "social_hub" if rng.random() < 0.25 else "gaggle",
            "rate": rng.uniform(0.4, 1.6),          # posts per week
            "audience": rng.lognormvariate(0, 0.5),  # click factor
        })
    platforms = [a["platform"] for a in advocates]
    if "social_hub" not in platforms:
        advocates[-1]["platform"] = "social_hub"
    if "gaggle" not in platforms:
        advocates[0]["platform"] = "gaggle"
    return Static(reps, others, accounts, advocates, ids)


def make_ctx(cfg: WorldConfig, static: Static) -> Ctx:
    """What rendering a person needs of the company (the writer process builds the same)."""
    return Ctx(
        config=cfg, reps=static.reps, account=static.accounts.__getitem__,
        fx=lambda cur, d: fx_rate(cfg, cur, quarter_start(dt.date.fromisoformat(d))),
        integration_user_id=static.others[-1]["user_id"],
    )


def fx_rate(cfg: WorldConfig, currency: str, q: dt.date) -> float:
    """Units of ``currency`` per 1 corporate-currency unit in the quarter starting ``q``."""
    if currency == cfg.corporate_currency or currency not in FX_BASE:
        return 1.0
    base, spread = FX_BASE[currency]
    return round(base + rng_for(cfg.seed, "fx", currency, q).uniform(-spread, spread), 6)


# ---------------------------------------------------------------------------------------------
# The world being simulated
# ---------------------------------------------------------------------------------------------
class World:
    def __init__(self, conn: sqlite3.Connection, cfg: WorldConfig, static: Static, ids: Ids,
                 progress: Progress) -> None:
        self.conn, self.cfg, self.static, self.ids = conn, cfg, static, ids
        self.progress = progress or (lambda _msg: None)
        self.seed = cfg.seed
        self.ctx = make_ctx(cfg, static)
        # where rows go: this connection, or a writer process for the days of a large world
        self.writer: StoreWriter | ProcessWriter = StoreWriter(conn, self.ctx)
        self.pool: list[dict] = []
        self.pool_cap = max(500, min(20_000, int(4000 * cfg.scale)))
        self.active_posts: list[dict] = []
        self.daily_rows: list[int] = []
        self.counts: dict[str, int] = {}
        self._buf: dict[str, list] = {k: [] for k in BATCH_SQL}
        self._people: list[tuple[dict, int]] = []     # rendered by the writer, in this order
        self._advocacy_cum: list[float] | None = None

    # -- writing ---------------------------------------------------------------------------------
    def flush(self) -> None:
        self.writer.write(self._buf, self._people)
        self._buf = {k: [] for k in BATCH_SQL}
        self._people = []

    def put_person(self, plan: dict, cutoff: int) -> None:
        self._people.append((plan, cutoff))

    # -- static parts ------------------------------------------------------------------------------
    def write_static(self) -> None:
        cfg, multi = self.cfg, self.cfg.multi_currency
        st = self.static
        for u in st.reps + st.others:
            self._buf["sf"].append(sf_row("User", u["user_id"], u["created"], u["created"], {
                "Username": u["email"], "Name": u["name"], "FirstName": u["first"],
                "LastName": u["last"], "Email": u["email"], "IsActive": True,
                "UserType": "Standard", "Title": u["title"], "Department": u["dept"],
            }, multi))
            if u["title"] == "Integration User":
                continue
            self.conn.execute(
                "INSERT OR REPLACE INTO hubspot_owner (id, archived, payload) VALUES (?, 0, ?)",
                (u["owner_id"], json.dumps({
                    "id": str(u["owner_id"]), "email": u["email"], "type": "PERSON",
                    "firstName": u["first"], "lastName": u["last"], "userId": u["hs_user_id"],
                    "userIdIncludingInactive": u["hs_user_id"], "createdAt": iso_z(u["created"]),
                    "updatedAt": iso_z(u["created"]), "archived": False,
                    "teams": [{"id": "368389" if u["team"] == "Sales" else "368390",
                               "name": u["team"], "primary": True}],
                }, sort_keys=True)),
            )
        for a in st.accounts:
            rep = st.reps[a["rep"]]
            self._buf["sf"].append(sf_row("Account", a["sf_id"], a["created"], a["created"], {
                "Name": a["name"], "Website": f"https://www.{a['domain']}", "Industry": a["industry"],
                "BillingCountry": a["country"], "NumberOfEmployees": a["employees"], "OwnerId": rep["user_id"], "Type": "Prospect",
                catalog.CURRENCY_FIELD: a["currency"],
            }, multi))
            hs_created = a["created"] + 5 * MIN_MS
            self._buf["hs"].append(hs_row("companies", a["hs_id"], hs_created, hs_created, {
                "name": a["name"], "domain": a["domain"], "industry": a["industry"],
                "country": a["country"], "numberofemployees": str(a["employees"]),
                "hubspot_owner_id": str(rep["owner_id"]),
                "salesforceaccountid": a["sf_id"],
            }))
        for adv in st.advocates:
            self.conn.execute(
                "INSERT OR REPLACE INTO advocate VALUES (?, ?, ?, ?, ?, ?, ?)",
                (adv["id"], adv["name"], adv["email"], adv["team"], adv["platform"],
                 adv["user_id"], adv["owner_id"]),
            )
        if multi:
            created = day_ms(cfg.world_start) - 400 * DAY_MS
            for cur in cfg.currencies:
                rate = fx_rate(cfg, cur, quarter_start(cfg.world_start))
                self._buf["sf"].append(sf_row("CurrencyType", self.ids.sf("CurrencyType"), created, created, {
                    "IsoCode": cur, "ConversionRate": rate, "DecimalPlaces": 2, "IsActive": True,
                    "IsCorporate": cur == cfg.corporate_currency,
                }, multi))
        self.flush()

    def open_quarter(self, q: dt.date, created: int) -> None:
        """Period, quotas and dated conversion rates of a quarter (created before it starts)."""
        cfg, multi = self.cfg, self.cfg.multi_currency
        rng = rng_for(self.seed, "quarter", q)
        end = next_quarter(q)
        pid = self.ids.sf("Period")
        self._buf["sf"].append(sf_row("Period", pid, None, created, {
            "StartDate": q.isoformat(), "EndDate": (end - dt.timedelta(days=1)).isoformat(),
            "Type": "Quarter", "FiscalYearSettingsId": FISCAL_YEAR_SETTINGS_ID,
        }, multi))
        for rep in self.static.reps:
            amount = round(rng.uniform(120_000, 220_000) * math.sqrt(cfg.scale) / 1000) * 1000
            self._buf["sf"].append(sf_row("ForecastingQuota", self.ids.sf("ForecastingQuota"), created, created, {
                "QuotaOwnerId": rep["user_id"], "QuotaAmount": float(amount),
                "StartDate": q.isoformat(), "PeriodId": pid, "IsAmount": True,
                "ForecastingTypeId": FORECASTING_TYPE_ID,
                catalog.CURRENCY_FIELD: cfg.corporate_currency,
            }, multi))
        if not multi:
            return
        self.flush()
        # The previous open-ended rate rows now end where this quarter starts.
        for rid, fields in self.conn.execute(
            "SELECT id, fields FROM sf_record WHERE sobject IN ('DatedConversionRate', 'CurrencyType') "
            "ORDER BY id"
        ).fetchall():
            f = json.loads(fields)
            if "NextStartDate" in f:
                if f["NextStartDate"] != "9999-12-31":
                    continue
                f["NextStartDate"] = q.isoformat()
                sobject = "DatedConversionRate"
            else:
                f["ConversionRate"] = fx_rate(cfg, f["IsoCode"], q)
                sobject = "CurrencyType"
            f["LastModifiedDate"] = f["SystemModstamp"] = iso_sf(created)
            self.conn.execute(
                "UPDATE sf_record SET fields = ?, system_modstamp = ? WHERE sobject = ? AND id = ?",
                (json.dumps(f, sort_keys=True, separators=(",", ":")), iso_z(created), sobject, rid))
        for cur in cfg.currencies:
            self._buf["sf"].append(sf_row("DatedConversionRate", self.ids.sf("DatedConversionRate"), created, created, {
                "IsoCode": cur, "ConversionRate": fx_rate(cfg, cur, q),
                "StartDate": q.isoformat(), "NextStartDate": "9999-12-31",
            }, multi))
        self.flush()

    # -- posts -------------------------------------------------------------------------------------
    def _campaign(self, rng: random.Random, d: dt.date) -> str:
        q = quarter_start(d)
        table = {
            dt.date(2025, 7, 1): ("summer-webinar", "brand-awareness"),
            dt.date(2025, 10, 1): ("q4-product-launch", "year-end-report"),
            dt.date(2026, 1, 1): ("advocacy-contest", "spring launch"),
            dt.date(2026, 4, 1): ("spring launch", "customer-summit"),
        }
        return rng.choice(table.get(q, ("evergreen", f"{q.year}-q{(q.month + 2) // 3} launch")))

    def _post_plan(self, post: dict) -> None:
        """Clicks per day after posting and total engagements: a pure function of the post."""
        adv = self._advocate(post["advocate_id"])
        posted = dt.date.fromisoformat(post["posted_at"][:10])
        rng = rng_for(self.seed, "post", post["platform"], post["post_id"])
        mean = (3.0 * math.sqrt(self.cfg.scale) * adv["audience"] * NETWORK_CLICKS[post["network"]]
                * (1.12 if is_contest(self.cfg, posted) else 1.0))
        total = poisson(rng, mean * rng.lognormvariate(0, 0.4))
        per_day = [0] * len(CLICK_DAY_WEIGHTS)
        for _ in range(total):
            per_day[rng.choices(range(len(CLICK_DAY_WEIGHTS)), weights=CLICK_DAY_WEIGHTS)[0]] += 1
        likes = round(total * rng.uniform(1.0, 3.0)) + rng.randint(0, 3)
        post["plan"] = {
            "day0": posted, "clicks": per_day, "likes": likes,
            "comments": round(likes * rng.uniform(0.05, 0.2)),
            "shares": round(likes * rng.uniform(0.03, 0.12)),
        }

    def _advocate(self, adv_id: str) -> dict:
        return self.static.advocates[int(adv_id[4:]) - 1]

    def _new_posts(self, rng: random.Random, d: dt.date) -> None:
        wd = d.weekday()
        contest = is_contest(self.cfg, d)
        factor = (1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.12)[wd]
        if contest:  # the contest: more posting, and Saturday posting took off
            factor *= 6.0 if wd == 5 else 1.25
        for adv in self.static.advocates:
            for _ in range(poisson(rng, adv["rate"] / 5.0 * factor)):
                # Each platform numbers its own posts (both from P0000001): a post is known
                # by (platform, post_id), never by its id alone.
                pid = f"P{self.ids.next('post' if adv['platform'] == 'gaggle' else 'post:' + adv['platform']):07d}"
                network = _weighted(rng, NETWORK_WEIGHTS)
                category = _weighted(rng, CATEGORIES)
                campaign = self._campaign(rng, d)
                landing = {
                    "product": rng.choice(("/product", "/pricing", "/demo")),
                    "thought-leadership": f"/blog/{rng.choice(BLOG_SLUGS)}",
                    "culture": "/blog/life-at-lumen", "hiring": "/careers",
                    "events": f"/events/{rng.choice(EVENT_SLUGS)}",
                }[category]
                posted = day_ms(d) + rng.randint(7 * HOUR_MS, 20 * HOUR_MS)
                post = {
                    "post_id": pid, "platform": adv["platform"], "advocate_id": adv["id"],
                    "advocate_email": adv["email"], "advocate_name": adv["name"],
                    "network": network, "category": category, "campaign": campaign,
                    "posted_at": iso_z(posted), "posted_ms": posted, "landing": landing,
                }
                post["url"] = _post_url(post)
                self._post_plan(post)
                self.active_posts.append(post)

    def _load_active_posts(self, clock: dt.date) -> None:
        since = iso_z(day_ms(clock) - (len(CLICK_DAY_WEIGHTS) - 1) * DAY_MS)
        for row in self.conn.execute(
            "SELECT * FROM advocacy_post WHERE posted_at >= ? ORDER BY posted_at, platform, post_id",
            (since,)
        ).fetchall():
            post = {k: row[k] for k in ("post_id", "platform", "advocate_id", "advocate_email",
                                        "advocate_name", "network", "category", "campaign",
                                        "posted_at", "url")}
            post["landing"] = urlsplit(post["url"]).path
            post["posted_ms"] = day_ms(dt.date.fromisoformat(post["posted_at"][:10]))
            self._post_plan(post)
            self.active_posts.append(post)

    # -- GA sessions -------------------------------------------------------------------------------
    def _session_time(self, rng: random.Random, d: dt.date, not_before: int = 0) -> int:
        start = day_ms(d)
        t = start + int(rng.triangular(6, 23.9, 13) * HOUR_MS)
        if t < not_before:
            t = min(not_before + rng.randint(MIN_MS, 30 * MIN_MS), start + DAY_MS - 45 * MIN_MS)
        return t

    def _new_visitor(self, rng: random.Random, t: int, channel: str, ga: tuple, url_utm: dict,
                     landing: str, post: dict | None) -> dict:
        v = {
            "vid": f"{rng.randint(1_000_000_000, 2_147_483_647)}.{t // 1000}",
            "channel": channel, "url_utm": url_utm, "landing": landing, "first_ts": t,
            "advocate": post["advocate_id"] if post else None,
            "post": post["post_id"] if post else None, "conv": False,
        }
        if len(self.pool) < self.pool_cap:
            self.pool.append(v)
        else:
            self.pool[rng.randrange(self.pool_cap)] = v
        return v

    def simulate(self, start: dt.date, end: dt.date, cutoff: int) -> None:
        d = start
        while d < end:
            if d.day == 1 or d == start:
                self.progress(f"{d.isoformat()}: simulating (people so far: {self.ids.counters.get('person', 0)})")
            self.simulate_day(d, cutoff)
            d += dt.timedelta(days=1)

    def simulate_day(self, d: dt.date, cutoff: int) -> None:
        cfg = self.cfg
        rng = rng_for(self.seed, "day", d)
        contest = is_contest(cfg, d)
        date_key = d.strftime("%Y%m%d")
        rows: dict[tuple, list] = {}
        sessions: list[tuple] = []   # (channel, ga tuple, url_utm, landing, post, not_before)

        # Advocacy: today's posts, then clicks on the last week's posts.
        self._new_posts(rng, d)
        keep = []
        for post in self.active_posts:
            plan = post["plan"]
            k = (d - plan["day0"]).days
            if k < 0 or k >= len(plan["clicks"]):
                continue
            for _ in range(plan["clicks"][k]):
                if rng.random() < SESSIONS_PER_CLICK:
                    ga, url_utm = _advocacy_utm(rng, post)
                    sessions.append(("advocacy", ga, url_utm, post["landing"], post,
                                     post["posted_ms"] if k == 0 else 0))
            cum = sum(plan["clicks"][:k + 1])
            total = max(1, sum(plan["clicks"]))
            frac = min(1.0, (cum + k) / (total + len(plan["clicks"]) - 1))
            self._buf["post"].append((
                post["post_id"], post["platform"], post["advocate_id"], post["advocate_email"],
                post["advocate_name"], post["network"], post["category"], post["campaign"],
                post["posted_at"], post["url"], cum, round(plan["likes"] * frac),
                round(plan["comments"] * frac), round(plan["shares"] * frac),
                iso_z(day_ms(d) + 23 * HOUR_MS),
            ))
            if k + 1 < len(plan["clicks"]):
                keep.append(post)
        self.active_posts = keep

        # Every other channel.
        wd = d.weekday()
        dow = (1.15, 1.15, 1.12, 1.1, 1.0, 0.55, 0.5)[wd]
        lam = cfg.ga_sessions * cfg.scale * 0.9 / 365.25 * dow
        for _ in range(poisson(rng, lam)):
            if self.pool and rng.random() < 0.25:
                channel = _weighted(rng, RETURNING_MIX)
            else:
                channel = _weighted(rng, CHANNEL_MIX)
            ga, url_utm, landing = _channel_utm(rng, channel, d)
            sessions.append((channel, ga, url_utm, landing, None, 0))
        rng.shuffle(sessions)

        for channel, ga, url_utm, landing, post, not_before in sessions:
            t = self._session_time(rng, d, not_before)
            returning = self.pool and rng.random() < (0.15 if channel == "advocacy" else 0.25)
            if returning:
                visitor = self.pool[rng.randrange(len(self.pool))]
            else:
                visitor = self._new_visitor(rng, t, channel, ga, url_utm, landing, post)
            sent = rng.random() >= cfg.share_sessions_without_visitor_id
            key = (visitor["vid"], *ga, landing)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [visitor["vid"] if sent else "", 0, 0, 0]
            row[1] += 1
            engaged = rng.random() < (0.55 if channel == "advocacy" else 0.62)
            p_fill = BASE_FILL * FILL_FACTOR[channel]
            if channel == "advocacy" and contest:
                p_fill *= 2.3
            if not visitor["conv"] and rng.random() < p_fill:
                visitor["conv"] = True
                engaged = True
                t0 = min(t + rng.randint(MIN_MS, 20 * MIN_MS), day_ms(d) + DAY_MS - 30 * MIN_MS)
                acct = rng.randrange(len(self.static.accounts))
                if visitor["channel"] == "advocacy":
                    acct = self._advocacy_account(visitor["vid"])
                plan = plan_person(
                    rng, self.ctx, self.ids, t0=t0, account=acct,
                    rep=self.static.accounts[acct]["rep"], visitor=visitor,
                    form_has_vid=rng.random() >= cfg.share_forms_without_visitor_id,
                    contest=contest,
                )
                row[3] += 2 if plan["dup"] else 1
                self.put_person(plan, cutoff)
            if engaged:
                row[2] += 1

        # Leads typed into Salesforce by sales (weekdays).
        if wd < 5:
            lam = cfg.contacts * cfg.scale * cfg.share_salesforce_only_leads / 365.25 * 7 / 5
            for _ in range(poisson(rng, lam)):
                acct = rng.randrange(len(self.static.accounts))
                t0 = day_ms(d) + rng.randint(8 * HOUR_MS, 19 * HOUR_MS)
                plan = plan_person(rng, self.ctx, self.ids, t0=t0, account=acct,
                                   rep=self.static.accounts[acct]["rep"], visitor=None,
                                   form_has_vid=False, contest=contest)
                self.put_person(plan, cutoff)

        self._buf["ga"] += [(date_key, k[0], r[0], *k[1:], r[1], r[2], r[3])
                            for k, r in sorted(rows.items())]
        # rows of the per-visitor report (served visitor id x session UTMs; no landing page)
        self.daily_rows.append(len({(r[0], *k[1:-1]) for k, r in rows.items()}))
        self.flush()

    def _advocacy_account(self, vid: str) -> int:
        """The confounder: advocates' networks reach larger companies (config
        ``advocacy_size_skew``), from a stream of its own so the day's stream is unchanged."""
        if self._advocacy_cum is None:
            # the cumulative weights once (the accounts never change): ``choices`` computes
            # exactly this list from ``weights`` on every call, O(accounts) per advocacy lead
            self._advocacy_cum = list(itertools.accumulate(
                math.exp(self.cfg.advocacy_size_skew * a["band"]) for a in self.static.accounts))
        return rng_for(self.seed, "advocacy_account", vid).choices(
            range(len(self._advocacy_cum)), cum_weights=self._advocacy_cum)[0]

    # -- advance -----------------------------------------------------------------------------------
    def rerender_pending(self, cutoff: int) -> int:
        n = 0
        while True:
            batch = self.conn.execute(
                "SELECT person_id, plan FROM gen_person WHERE next_ms < ? ORDER BY person_id LIMIT 2000",
                (cutoff,)).fetchall()
            if not batch:
                return n
            for _pid, plan in batch:
                self.put_person(json.loads(plan), cutoff)
                n += 1
            self.flush()

    def revise_ga(self, old_clock: dt.date) -> int:
        """GA keeps processing late hits for the last days: more sessions, a few new rows."""
        added = 0
        for back in range(self.cfg.ga4_revision_days, 0, -1):
            d = old_clock - dt.timedelta(days=back)
            if d < self.cfg.world_start:
                continue
            rng = rng_for(self.seed, "revise", d, old_clock)
            key = d.strftime("%Y%m%d")
            rows = self.conn.execute(
                "SELECT true_visitor_id, source, medium, campaign, ad_content, term, landing_page "
                "FROM ga4_row WHERE date = ? ORDER BY true_visitor_id, source, medium, campaign, "
                "ad_content, term, landing_page", (key,)).fetchall()
            if not rows:
                continue
            for _ in range(max(1, len(rows) // 25)):
                r = rows[rng.randrange(len(rows))]
                self.conn.execute(
                    "UPDATE ga4_row SET sessions = sessions + 1, engaged_sessions = engaged_sessions + ? "
                    "WHERE date = ? AND true_visitor_id = ? AND source = ? AND medium = ? "
                    "AND campaign = ? AND ad_content = ? AND term = ? AND landing_page = ?",
                    (1 if rng.random() < 0.5 else 0, key, *r))
                added += 1
            for _ in range(max(1, len(rows) // 50)):
                channel = _weighted(rng, CHANNEL_MIX)
                ga, _utm, landing = _channel_utm(rng, channel, d)
                vid = f"{rng.randint(1_000_000_000, 2_147_483_647)}.{(day_ms(d) + rng.randint(0, DAY_MS - 1)) // 1000}"
                self._buf["ga"].append((key, vid, vid, *ga, landing, 1, 1 if rng.random() < 0.6 else 0, 0))
                added += 1
        self.flush()
        return added

    # -- state between runs ------------------------------------------------------------------------
    def save_state(self) -> None:
        store.set_meta(self.conn, "gen_counters", self.ids.counters)
        store.set_meta(self.conn, "gen_pool", self.pool)


def _post_url(post: dict) -> str:
    from urllib.parse import quote

    if post["platform"] == "social_hub":
        params = {"utm_source": "social_hub", "utm_medium": post["network"],
                  "utm_campaign": post["advocate_id"], "utm_content": post["post_id"],
                  "utm_term": post["campaign"]}
    else:
        params = {"utm_source": post["network"], "utm_medium": "advocacy",
                  "utm_campaign": post["campaign"], "utm_content": post["advocate_id"],
                  "utm_term": post["post_id"]}
    return SITE + post["landing"] + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def _advocacy_utm(rng: random.Random, post: dict) -> tuple[tuple, dict]:
    """The session's UTMs as GA received them from the post's link, sometimes messed up."""
    net, camp = post["network"], post["campaign"]
    if post["platform"] == "social_hub":
        vals = ["social_hub", net, post["advocate_id"], post["post_id"], camp]
        net_i, camp_i, fixed_i = 1, 4, 0
    else:
        vals = [net, "advocacy", camp, post["advocate_id"], post["post_id"]]
        net_i, camp_i, fixed_i = 0, 2, 1
    if rng.random() < MESSY_SHARE:
        kind = rng.choice(("case", "space", "encoded"))
        if kind == "encoded" and " " not in camp:
            kind = "case"
        if kind == "case":
            vals[net_i] = NETWORK_DISPLAY[net]
            vals[fixed_i] = vals[fixed_i].title() if vals[fixed_i] != "social_hub" else "Social_Hub"
        elif kind == "space":
            vals[fixed_i] = f" {vals[fixed_i]} "
        else:
            vals[camp_i] = camp.replace(" ", "%20")
    url_utm = dict(zip(("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"), vals, strict=True))
    return tuple(vals), url_utm


_NS = "(not set)"
_KEYWORDS = ("attribution software", "revenue analytics", "crm reporting", "lumen analytics",
             "pipeline dashboard", "b2b marketing attribution")


def _channel_utm(rng: random.Random, channel: str, d: dt.date) -> tuple[tuple, dict, str]:
    if channel == "organic":
        src = "google" if rng.random() < 0.85 else "bing"
        landing = rng.choices(("/", f"/blog/{rng.choice(BLOG_SLUGS)}", "/pricing", "/product"),
                              weights=(3, 5, 1, 1))[0]
        return (src, "organic", "(organic)", _NS, _NS), {}, landing
    if channel == "paid_search":
        camp = rng.choice(("brand-search", "generic-search", "competitor-search"))
        term = rng.choice(_KEYWORDS)
        utm = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": camp, "utm_term": term}
        return ("google", "cpc", camp, _NS, term), utm, rng.choice(("/pricing", "/demo", "/"))
    if channel == "paid_social":
        src, med = ("linkedin", "paid_social") if rng.random() < 0.7 else ("facebook", "cpc")
        camp = rng.choice(("abm-enterprise", "retargeting", "ebook-promo"))
        content = rng.choice(("carousel-a", "video-b", "single-image"))
        utm = {"utm_source": src, "utm_medium": med, "utm_campaign": camp, "utm_content": content}
        return (src, med, camp, content, _NS), utm, rng.choice(("/demo", "/ebook"))
    if channel == "email":
        camp = f"newsletter-{d:%Y-%m}"
        utm = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": camp}
        landing = rng.choice((f"/blog/{rng.choice(BLOG_SLUGS)}", f"/events/{rng.choice(EVENT_SLUGS)}"))
        return ("newsletter", "email", camp, _NS, _NS), utm, landing
    if channel == "referral":
        return ("partner.com", "referral", "(referral)", _NS, _NS), {}, rng.choice(("/", "/partners"))
    landing = rng.choices(("/", "/pricing", "/demo"), weights=(6, 2, 2))[0]
    return ("(direct)", "(none)", "(direct)", _NS, _NS), {}, landing


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------
def _other_threshold(cfg: WorldConfig, daily_rows: list[int]) -> int:
    if cfg.ga4_other_row_threshold > 0:
        return cfg.ga4_other_row_threshold
    counts = sorted(daily_rows) or [1]
    return max(1, counts[max(0, math.ceil(0.95 * len(counts)) - 1)])


def generate(store_path: str | Path, config: WorldConfig, progress: Progress = None, *,
             writer_process: bool | None = None) -> None:
    """Build a fresh world store at ``store_path`` from ``config`` (deterministic in the seed).
    ``writer_process``: render and write the simulated days in a second process
    (:mod:`connectors.sandbox.world_writer`; the same store); default from scale
    :data:`WRITER_PROCESS_SCALE` up, where it pays for the process's start."""
    path = Path(store_path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            os.remove(p)
    conn = store.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    store.drop_read_indexes(conn)
    try:
        static = build_static(config)
        w = World(conn, config, static, Ids(static.ids.counters), progress)
        cutoff = day_ms(config.clock)
        w.progress(f"static: {len(static.reps)} reps, {len(static.advocates)} advocates, "
                   f"{len(static.accounts)} accounts")
        with store.transaction(conn):
            w.write_static()
            for q in quarters(config.world_start, config.clock):
                w.open_quarter(q, day_ms(q) - 10 * DAY_MS + 9 * HOUR_MS)
        local = w.writer
        if writer_process if writer_process is not None else config.scale >= WRITER_PROCESS_SCALE:
            w.writer = ProcessWriter(path, config)
        try:
            d = config.world_start
            while d < config.clock:
                month_end = min(config.clock, (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1))
                with w.writer.transaction():
                    w.simulate(d, month_end, cutoff)
                d = month_end
            w.writer.close()
        except BaseException:
            if isinstance(w.writer, ProcessWriter):
                w.writer.abort()
            raise
        w.writer = local
        with store.transaction(conn):
            w.flush()
            store.create_read_indexes(conn)
            w.progress(f"hubspot {hubspot_events.apply(conn, config.seed, day_ms(config.world_start), cutoff, purge=False)}")
            campaigns.write_campaigns(conn, config, static.reps[0]["user_id"])
            meta = {
                "seed": config.seed, "scale": config.scale, "clock": config.clock.isoformat(),
                "world_start": config.world_start.isoformat(), "config": config.to_json(),
                "multi_currency": config.multi_currency,
                "ga4_other_row_threshold": _other_threshold(config, w.daily_rows),
                "ga4_property_id": config.ga4_property_id, "ga4_time_zone": config.ga4_time_zone,
                "corporate_currency": config.corporate_currency,
            }
            for k, v in meta.items():
                store.set_meta(conn, k, v)
            w.save_state()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        w.progress(f"done: clock {config.clock.isoformat()}")
    finally:
        conn.close()


def advance(store_path: str | Path, days: int, progress: Progress = None) -> None:
    """Continue the world in ``store_path`` for ``days`` more days and move its clock."""
    if days <= 0:
        return
    conn = store.connect(store_path)
    try:
        cfg = WorldConfig.from_json(store.get_meta(conn, "config"))
        old_clock = dt.date.fromisoformat(store.get_meta(conn, "clock"))
        new_clock = old_clock + dt.timedelta(days=days)
        cfg = dataclasses.replace(cfg, clock=new_clock)
        static = build_static(cfg)
        w = World(conn, cfg, static, Ids(store.get_meta(conn, "gen_counters", {})), progress)
        w.pool = store.get_meta(conn, "gen_pool", [])
        cutoff = day_ms(new_clock)
        with store.transaction(conn):
            revised = w.revise_ga(old_clock)
            for q in quarters(old_clock, new_clock):
                if q >= old_clock:
                    w.open_quarter(q, day_ms(old_clock) + HOUR_MS)
            n = w.rerender_pending(cutoff)
            w.progress(f"advance: {revised} GA revisions, {n} people progressed")
            w._load_active_posts(old_clock)
            w.simulate(old_clock, new_clock, cutoff)
            w.flush()
            events = hubspot_events.apply(conn, cfg.seed, day_ms(old_clock), cutoff)
            w.progress(f"advance: hubspot {events}")
            store.set_meta(conn, "clock", new_clock.isoformat())
            campaigns.write_campaigns(conn, cfg, static.reps[0]["user_id"], since=old_clock)
            store.set_meta(conn, "config", cfg.to_json())
            w.save_state()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        w.progress(f"done: clock {new_clock.isoformat()}")
    finally:
        conn.close()


def summary(store_path: str | Path) -> dict[str, int]:
    """Record counts per object, for the CLI and tests."""
    conn = store.connect(store_path, readonly=True)
    try:
        out: dict[str, int] = {}
        for t, n in conn.execute("SELECT object_type, COUNT(*) FROM hubspot_object GROUP BY 1 ORDER BY 1"):
            out[f"hubspot.{t}"] = n
        out["hubspot.owners"] = conn.execute("SELECT COUNT(*) FROM hubspot_owner").fetchone()[0]
        out["hubspot.associations"] = conn.execute("SELECT COUNT(*) FROM hubspot_association").fetchone()[0]
        for t, n in conn.execute("SELECT sobject, COUNT(*) FROM sf_record GROUP BY 1 ORDER BY 1"):
            out[f"salesforce.{t}"] = n
        out["ga4.rows"], out["ga4.sessions"] = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(sessions), 0) FROM ga4_row").fetchone()
        out["advocacy.posts"], out["advocacy.clicks"] = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(clicks), 0) FROM advocacy_post").fetchone()
        out["advocates"] = conn.execute("SELECT COUNT(*) FROM advocate").fetchone()[0]
        out["truth.people"] = conn.execute("SELECT COUNT(*) FROM truth_person").fetchone()[0]
        return out
    finally:
        conn.close()
