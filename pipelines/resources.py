"""Connections as Dagster resources: one ``ConfigurableResource`` per source and one for the
warehouse, each field bound to its environment variable with ``EnvVar``.

The Dagster UI lists every resource with its fields; a field bound to ``EnvVar`` shows the
variable's *name*, never its value, so operators see what a run will use (and what is not
set) without a secret reaching the UI, the run config or the event log. Asset bodies ask the
resource for the connector's :class:`connectors.source.Settings` and never read
``os.environ`` themselves.

Every source is optional (a company may not use GA4): a variable absent when the definitions
load leaves its field empty, and the connector then reports the source as not configured.
Set or change a variable in ``.env`` and reload the code location (``dagster dev`` reads
``.env`` at start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg

from connectors.source import HISTORY_START_VARIABLE, Settings
from connectors.warehouse import (
    DEFAULT_PATH,
    LOCK_WAIT_VARIABLE,
    Warehouse,
    WarehouseUnavailable,
    lock_wait_seconds,
)


def _bind(variables: Mapping[str, str], env: Mapping[str, str]) -> dict[str, Any]:
    """field -> ``EnvVar(variable)`` for every variable set (non-empty) in ``env``."""
    return {field: dg.EnvVar(var) for field, var in variables.items() if (env.get(var) or "").strip()}


class SourceResource(dg.ConfigurableResource):
    """A source's connection settings. Subclasses declare one optional field per variable in
    ``VARIABLES`` (field name -> environment variable)."""

    VARIABLES: ClassVar[dict[str, str]] = {}
    history_start_date: str | None = None

    @classmethod
    def variables(cls) -> dict[str, str]:
        return {**cls.VARIABLES, "history_start_date": HISTORY_START_VARIABLE}

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> SourceResource:
        return cls(**_bind(cls.variables(), os.environ if env is None else env))

    def settings(self) -> Settings:
        """The connector's settings: exactly the variables this resource holds."""
        values = {var: str(v) for field, var in self.variables().items()
                  if (v := getattr(self, field)) not in (None, "")}
        return Settings(values)


class HubSpotResource(SourceResource):
    """HubSpot CRM v3/v4 (private-app token)."""

    VARIABLES: ClassVar[dict[str, str]] = {
        "access_token": "HUBSPOT_ACCESS_TOKEN",
        "base_url": "HUBSPOT_BASE_URL",
        "search_lookback_minutes": "HUBSPOT_SEARCH_LOOKBACK_MINUTES",
        "extra_properties_contacts": "HUBSPOT_EXTRA_PROPERTIES_CONTACTS",
        "extra_properties_companies": "HUBSPOT_EXTRA_PROPERTIES_COMPANIES",
        "extra_properties_deals": "HUBSPOT_EXTRA_PROPERTIES_DEALS",
        "association_sweep_days": "HUBSPOT_ASSOCIATION_SWEEP_DAYS",
        "write_batch": "HUBSPOT_WRITE_BATCH",
        "ca_bundle": "HUBSPOT_CA_BUNDLE",
        # the process-wide proxy and CA variables the HubSpot client honours (docs/API_BEHAVIOUR.md)
        "https_proxy": "HTTPS_PROXY",
        "http_proxy": "HTTP_PROXY",
        "no_proxy": "NO_PROXY",
        "requests_ca_bundle": "REQUESTS_CA_BUNDLE",
        "ssl_cert_file": "SSL_CERT_FILE",
    }
    access_token: str | None = None
    base_url: str | None = None
    search_lookback_minutes: str | None = None
    extra_properties_contacts: str | None = None
    extra_properties_companies: str | None = None
    extra_properties_deals: str | None = None
    association_sweep_days: str | None = None
    write_batch: str | None = None
    ca_bundle: str | None = None
    https_proxy: str | None = None
    http_proxy: str | None = None
    no_proxy: str | None = None
    requests_ca_bundle: str | None = None
    ssl_cert_file: str | None = None


class SalesforceResource(SourceResource):
    """Salesforce REST + Bulk API 2.0 (an access token, the password grant, client credentials
    or the JWT bearer flow)."""

    VARIABLES: ClassVar[dict[str, str]] = {
        "instance_url": "SALESFORCE_INSTANCE_URL",
        "access_token": "SALESFORCE_ACCESS_TOKEN",
        "username": "SALESFORCE_USERNAME",
        "password": "SALESFORCE_PASSWORD",
        "security_token": "SALESFORCE_SECURITY_TOKEN",
        "client_id": "SALESFORCE_CLIENT_ID",
        "client_secret": "SALESFORCE_CLIENT_SECRET",
        "login_url": "SALESFORCE_LOGIN_URL",
        "ca_bundle": "SALESFORCE_CA_BUNDLE",
        "bulk_threshold": "SALESFORCE_BULK_THRESHOLD",
        "delete_bulk_jobs": "SALESFORCE_DELETE_BULK_JOBS",
        "lookback_minutes": "SALESFORCE_LOOKBACK_MINUTES",
        "jwt_key_file": "SALESFORCE_JWT_KEY_FILE",
        "jwt_audience": "SALESFORCE_JWT_AUDIENCE",
    }
    instance_url: str | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    login_url: str | None = None
    ca_bundle: str | None = None
    bulk_threshold: str | None = None
    delete_bulk_jobs: str | None = None
    lookback_minutes: str | None = None
    jwt_key_file: str | None = None
    jwt_audience: str | None = None


class GA4Resource(SourceResource):
    """The GA4 Data API (a credentials file, or Application Default Credentials), and
    optionally the property's BigQuery export as the per-visitor source (``GA4_SOURCE``)."""

    VARIABLES: ClassVar[dict[str, str]] = {
        "property_id": "GA4_PROPERTY_ID",
        "credentials_file": "GOOGLE_APPLICATION_CREDENTIALS",
        "api_endpoint": "GA4_API_ENDPOINT",
        "visitor_dimension": "GA4_VISITOR_DIMENSION",
        "page_size": "GA4_PAGE_SIZE",
        "reread_days": "GA4_REREAD_DAYS",
        "quota_poll_seconds": "GA4_QUOTA_POLL_SECONDS",
        "quota_max_wait_seconds": "GA4_QUOTA_MAX_WAIT_SECONDS",
        "daily_token_reserve": "GA4_DAILY_TOKEN_RESERVE",
        # the BigQuery export as the per-visitor source (docs/GA4.md)
        "source": "GA4_SOURCE",
        "bigquery_project": "GA4_BIGQUERY_PROJECT",
        "bigquery_dataset": "GA4_BIGQUERY_DATASET",
        "bigquery_endpoint": "GA4_BIGQUERY_ENDPOINT",
        "bigquery_location": "GA4_BIGQUERY_LOCATION",
        "bigquery_page_size": "GA4_BIGQUERY_PAGE_SIZE",
        "bigquery_key_events": "GA4_BIGQUERY_KEY_EVENTS",
    }
    property_id: str | None = None
    credentials_file: str | None = None
    api_endpoint: str | None = None
    visitor_dimension: str | None = None
    page_size: str | None = None
    reread_days: str | None = None
    quota_poll_seconds: str | None = None
    quota_max_wait_seconds: str | None = None
    daily_token_reserve: str | None = None
    source: str | None = None
    bigquery_project: str | None = None
    bigquery_dataset: str | None = None
    bigquery_endpoint: str | None = None
    bigquery_location: str | None = None
    bigquery_page_size: str | None = None
    bigquery_key_events: str | None = None


class AdvocacyExportsResource(SourceResource):
    """The advocacy platform's CSV post exports (a folder)."""

    VARIABLES: ClassVar[dict[str, str]] = {
        "exports_dir": "ADVOCACY_EXPORTS_DIR",
        "export_layouts": "ADVOCACY_EXPORT_LAYOUTS",
    }
    exports_dir: str | None = None
    export_layouts: str | None = None


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``DUCKDB_PATH``) shared by the connectors and dbt."""

    path: str = DEFAULT_PATH
    # text, as every environment variable (EnvVar binds strings only); parsed on open
    lock_wait_seconds: str | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> WarehouseResource:
        return cls(**_bind({"path": "DUCKDB_PATH", "lock_wait_seconds": LOCK_WAIT_VARIABLE},
                           os.environ if env is None else env))

    @property
    def absolute_path(self) -> Path:
        """Absolute: dbt runs in its project folder, and must open the same file."""
        return Path(self.path).expanduser().resolve()

    def open(self, *, read_only: bool = False, memory_limit: str | None = None) -> Warehouse:
        """The warehouse, after a bounded wait while another process holds it; a step that
        cannot open it fails with one line naming the holder and the fix (no traceback).
        ``memory_limit``: DuckDB's, for a sync (connectors.settings.sync_memory_limit)."""
        wait = lock_wait_seconds({LOCK_WAIT_VARIABLE: self.lock_wait_seconds or ""})
        try:
            return Warehouse(self.absolute_path, read_only=read_only, wait_seconds=wait,
                             memory_limit=memory_limit)
        except WarehouseUnavailable as exc:
            raise dg.Failure(description=exc.line(), allow_retries=False) from None


SOURCE_RESOURCES: dict[str, type[SourceResource]] = {
    "hubspot": HubSpotResource,
    "salesforce": SalesforceResource,
    "ga4": GA4Resource,
    "advocacy_platform": AdvocacyExportsResource,
}


def resources_from_environment(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every source's resource (keyed by source name) and ``warehouse``."""
    return {"warehouse": WarehouseResource.from_environment(env),
            **{name: cls.from_environment(env) for name, cls in SOURCE_RESOURCES.items()}}
