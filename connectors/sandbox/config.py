"""The knobs of the simulated world. Every number the generator, the fakes and the truth share
lives here, so a test can build a world with different behaviour by changing one field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

# The sandbox clock is fixed so that a seed always gives the same world. The history starts two
# quarters before the contest quarter; the clock stops at the end of the quarter after it.
WORLD_START = dt.date(2025, 7, 1)        # Q3 2025: history
CONTEST_QUARTER_START = dt.date(2026, 1, 1)  # Q1 2026: the advocacy contest (case: Q4 -> Q1)
WORLD_CLOCK = dt.date(2026, 7, 1)        # exclusive end of the generated days ("today")


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    seed: int = 7
    scale: float = 1.0
    world_start: dt.date = WORLD_START
    contest_quarter_start: dt.date = CONTEST_QUARTER_START
    clock: dt.date = WORLD_CLOCK

    # Volumes at scale 1 (the generator multiplies by ``scale`` except reps/advocates, which
    # grow with the square root so that a large world is still one company).
    ga_sessions: int = 50_000
    contacts: int = 5_000
    opportunities: int = 1_000
    reps: int = 12
    advocates: int = 40

    # Identity and observability
    share_forms_without_visitor_id: float = 0.12   # form fills whose hidden field was empty
    share_sessions_without_visitor_id: float = 0.03  # GA events sent without the custom dimension
    share_salesforce_only_leads: float = 0.05      # leads typed into Salesforce by sales
    share_hubspot_only_deals: float = 0.08         # deals created in HubSpot and never synced
    # Emails that are no identity: a role/placeholder address (info@<account>, test@test.com)
    # typed by different people, and one address typed on a flood of form fills (a booth's
    # demo laptop). Linking on them would merge strangers (DEFINITIONS.md "People").
    share_role_emails: float = 0.03
    share_flood_emails: float = 0.03
    # Of the colleagues added to an opportunity: the contact role added weeks after the
    # contact (a role dated after a past as_of), or a lead converted weeks later into the
    # existing opportunity (a conversion dated after it).
    share_late_colleague_roles: float = 0.25
    share_colleague_leads: float = 0.25

    # Funnel: advocacy-sourced leads convert at ``advocacy_conversion_lift`` x the base rates.
    lead_to_mql: float = 0.45
    mql_to_sql: float = 0.55
    sql_to_opportunity: float = 0.75
    opportunity_to_won: float = 0.30
    advocacy_conversion_lift: float = 1.5
    contest_conversion_boost: float = 1.1          # advocacy leads of the contest quarter: x this more
    # The confounder (docs/LIFT.md): every conversion rate is multiplied by the factor of the
    # lead's company size band (small < 200 employees <= mid < 1000 <= large), and advocacy
    # reaches larger companies: an advocacy lead's account is drawn with weight
    # exp(advocacy_size_skew x band index) (small 0, mid 1, large 2); 0 = no confounding.
    size_band_limits: tuple[int, ...] = (200, 1000)
    size_conversion_factors: tuple[float, ...] = (0.7, 1.0, 1.5)
    advocacy_size_skew: float = 1.0

    # Money
    corporate_currency: str = "USD"
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP")
    multi_currency: bool = True                    # single-currency orgs have no CurrencyIsoCode

    # GA4 property
    ga4_property_id: str = "123456789"
    ga4_time_zone: str = "UTC"
    ga4_other_row_threshold: int = 0               # rows per date beyond which GA collapses the
                                                   # tail into "(other)"; 0 = derived from scale
    ga4_revision_days: int = 2                     # GA keeps revising the last N days

    # Deletions and merges
    share_deleted: float = 0.01
    share_merged: float = 0.005
    recycle_bin_days: int = 15
    # Salesforce's getDeleted answers EXCEEDED_ID_LIMIT above 600,000 ids and purges its delete
    # log early when it is large; the sandbox does both at small sizes so that they happen
    sf_deleted_id_limit: int = 20
    sf_delete_log_limit: int = 2_000

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorldConfig:
        raw = json.loads(text)
        for name in ("world_start", "contest_quarter_start", "clock"):
            raw[name] = dt.date.fromisoformat(raw[name])
        raw["currencies"] = tuple(raw["currencies"])
        for name in ("size_band_limits", "size_conversion_factors"):
            if name in raw:  # stores written before the confounder keep the defaults
                raw[name] = tuple(raw[name])
        return cls(**raw)


SIZE_BANDS = ("small", "mid", "large")


def size_band(cfg: WorldConfig, employees: int) -> int:
    """The index of the company size band of ``employees`` (0 small, 1 mid, 2 large)."""
    return sum(employees >= limit for limit in cfg.size_band_limits)


def sql_probability(cfg: WorldConfig, lift: float, band: int) -> float:
    """P(a lead reaches SQL) as the generator draws it: two conversion steps, each capped."""
    f = lift * cfg.size_conversion_factors[band]
    return min(0.95, cfg.lead_to_mql * f) * min(0.95, cfg.mql_to_sql * f)


def sandbox_credentials(seed: int) -> dict[str, str]:
    """The sandbox accounts' secrets: deterministic per seed so an env file stays valid across
    restarts, and distinctive so tests can grep output and logs for leaks."""
    import hashlib

    def secret(name: str, n: int = 24) -> str:
        return hashlib.sha256(f"advocacy-sandbox:{seed}:{name}".encode()).hexdigest()[:n]

    return {
        "hubspot_access_token": f"pat-na1-{secret('hubspot', 32)}",
        "salesforce_username": "revops@sandbox.example.com",
        "salesforce_password": f"pw-{secret('sf-password', 16)}",
        "salesforce_security_token": f"st{secret('sf-security-token', 22)}",
        "salesforce_client_id": f"3MVG9{secret('sf-client-id', 40)}",
        "salesforce_client_secret": f"cs{secret('sf-client-secret', 30)}",
        "ga4_service_account_email": "advocacy-reader@sandbox-project.iam.gserviceaccount.com",
        # a user's Application Default Credentials (gcloud auth application-default login)
        "ga4_oauth_client_id": f"{secret('ga4-client-id', 12)}.apps.googleusercontent.com",
        "ga4_oauth_client_secret": f"GOCSPX-{secret('ga4-client-secret', 28)}",
        "ga4_refresh_token": f"1//sandbox-{secret('ga4-refresh-token', 40)}",
    }
