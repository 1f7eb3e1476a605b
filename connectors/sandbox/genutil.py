"""Small deterministic helpers of the world generator: seeded random streams, ids, timestamps."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random

from connectors.sandbox import catalog

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_DT = dt.datetime(1970, 1, 1)

SITE = "https://www.lumenanalytics.example"

FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Amir", "Bianca", "Carlos", "Dana", "Emil", "Fatima",
)
LAST_NAMES = (
    "Smith", "Meyer", "Garcia", "Chen", "Novak", "Okafor", "Rossi", "Dubois", "Kowalski",
    "Jensen", "Patel", "Silva", "Muller", "Brown", "Tanaka", "Larsen", "Schmidt", "Moreau",
    "Nguyen", "Kim", "Fischer", "Walsh", "Costa", "Berg", "Ivanova", "Hughes", "Romero", "Weber",
)
COMPANY_A = (
    "Northwind", "Bluepeak", "Ironleaf", "Silverline", "Redwood", "Brightwave", "Cobalt",
    "Evergreen", "Falcon", "Granite", "Harbor", "Juniper", "Keystone", "Lakeside", "Meridian",
    "Nimbus", "Orchid", "Pinnacle", "Quarry", "Riverbend", "Summit", "Tidal", "Umbra", "Vertex",
    "Willow", "Yellowstone", "Zenith", "Atlas", "Beacon", "Cascade", "Delta", "Ember", "Fjord",
    "Glacier", "Horizon", "Indigo", "Jade", "Kestrel", "Lumen", "Mosaic",
)
COMPANY_B = (
    "Systems", "Logistics", "Health", "Bank", "Retail", "Energy", "Foods", "Labs", "Media",
    "Software", "Insurance", "Motors", "Travel", "Pharma", "Telecom", "Partners", "Group",
    "Industries", "Networks", "Capital",
)
INDUSTRIES = (
    "Technology", "Finance", "Healthcare", "Retail", "Manufacturing", "Energy", "Media",
    "Transportation", "Insurance", "Telecommunications",
)
COUNTRIES = (  # (country, weight, currency when multi-currency)
    ("United States", 50, "USD"), ("United Kingdom", 15, "GBP"), ("Germany", 12, "EUR"),
    ("France", 8, "EUR"), ("Netherlands", 5, "EUR"), ("Canada", 5, "USD"), ("Australia", 5, "USD"),
)
BLOG_SLUGS = (
    "attribution-101", "pipeline-metrics", "revops-playbook", "data-driven-sales",
    "employee-advocacy-guide", "forecasting-tips", "crm-hygiene", "b2b-benchmarks-2026",
)
EVENT_SLUGS = ("summit-2025", "webinar-forecasting", "roadshow-london", "summit-2026")


def rng_for(seed: int, *parts: object) -> random.Random:
    """A random stream that depends only on the seed and the given parts (stable across runs)."""
    key = ":".join([str(seed), *map(str, parts)]).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def day_ms(d: dt.date) -> int:
    return (d - _EPOCH).days * DAY_MS


def ms_date(ms: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=ms // DAY_MS)


def _dt(ms: int) -> dt.datetime:
    return _EPOCH_DT + dt.timedelta(milliseconds=ms)


def iso_z(ms: int) -> str:
    """``2026-01-05T10:00:00.000Z``: HubSpot datetimes and the store's sortable columns."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def iso_sf(ms: int) -> str:
    """``2026-01-05T10:00:00.000+0000``: Salesforce REST datetimes."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}+0000"


def date_str(ms: int) -> str:
    return ms_date(ms).isoformat()


def quarter_start(d: dt.date) -> dt.date:
    return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def next_quarter(q: dt.date) -> dt.date:
    return dt.date(q.year + 1, 1, 1) if q.month == 10 else dt.date(q.year, q.month + 3, 1)


def quarters(start: dt.date, end: dt.date) -> list[dt.date]:
    """Quarter starts of every quarter overlapping [start, end)."""
    out, q = [], quarter_start(start)
    while q < end:
        out.append(q)
        q = next_quarter(q)
    return out


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf_id(sobject: str, n: int) -> str:
    """An 18-character Salesforce id: key prefix, a base-62 counter, the case-safe suffix."""
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
    core = catalog.SALESFORCE_KEY_PREFIX[sobject] + "0" * 3 + digits.rjust(9, "0")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(core[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _SUFFIX[bits]
    return core + suffix


class Ids:
    """Counters for every id kind, persisted in meta between generate and advance."""

    HS_BASE = {"contacts": 100_000, "companies": 5_000_000, "deals": 9_000_000}

    def __init__(self, counters: dict[str, int] | None = None) -> None:
        self.counters = dict(counters or {})

    def next(self, kind: str) -> int:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return n

    def sf(self, sobject: str) -> str:
        return sf_id(sobject, self.next("sf:" + sobject))

    def sf_many(self, sobject: str, k: int) -> list[str]:
        return [self.sf(sobject) for _ in range(k)]

    def hs(self, object_type: str) -> int:
        return self.HS_BASE[object_type] + self.next("hs:" + object_type)
