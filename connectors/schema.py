"""The raw layer: every table the connectors write, its key, and the columns dbt relies on.

Connectors, dbt sources and tests all read this module, so a column is named once.

Naming (docs/ARCHITECTURE.md, "The raw layer"): the API's field names in snake case, as Fivetran names them
(``IsConverted`` -> ``is_converted``, ``GA_Client_ID__c`` -> ``ga_client_id_c``); HubSpot
properties flattened to columns under their own names. Every table also has ``_synced_at``
(when the row was last written) and ``_is_deleted`` (the source deleted/archived it).

The columns listed are the *core*: they always exist (created up front, null when the source
does not have the field). Fields the source has beyond them become extra columns the first
time they are seen (schema drift): nothing is dropped.

Types: HubSpot serves every property as a string, so HubSpot property columns are VARCHAR
and staging casts them; Salesforce and GA4 values are typed here.
"""

from __future__ import annotations

import dataclasses
import functools
import re

SCHEMAS = ("hubspot", "salesforce", "ga4", "advocacy_platform")
SYNC_STATE_TABLE = "_sync_state"   # <schema>._sync_state (object, cursor JSON, ...)
QUARANTINE_TABLE = "_quarantine"   # <schema>._quarantine (docs/ARCHITECTURE.md, "The raw layer")
META_COLUMNS = {"_synced_at": "TIMESTAMP", "_is_deleted": "BOOLEAN"}


@dataclasses.dataclass(frozen=True)
class Table:
    schema: str
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]          # core columns -> DuckDB type (meta columns added by ddl())
    source_object: str = ""          # the API object it mirrors (Salesforce sObject, HubSpot type)
    description: str = ""
    source_fields: tuple[str, ...] = ()   # Salesforce: the API names of the core columns
    # A table the connector writes by replacing whole values of this column (GA4: a date's
    # rows deleted, then the date read again) keeps its key unique without a PRIMARY KEY
    # index: a key holds one partition value, so an upsert deletes the batch's keys within
    # the batch's partition range, then inserts (Warehouse.upsert). DuckDB's index over
    # GA4's md5 row keys held ~150 bytes a row in memory, none of it evictable, and made
    # inserts 10x slower: 4.8 M rows = a 1.1 GB sync (docs/PERFORMANCE.md, "Memory").
    partition: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def asset_key(self) -> list[str]:
        return [self.schema, self.name]

    def all_columns(self) -> dict[str, str]:
        return {**self.columns, **META_COLUMNS}

    @property
    def index_key(self) -> tuple[str, ...]:
        """The columns of the table's PRIMARY KEY constraint: none for a partition table."""
        return () if self.partition else self.key

    def key_clause(self) -> str:
        """The ``PRIMARY KEY (...)`` line of a CREATE TABLE (with its leading comma), or
        nothing for a partition table."""
        key = ", ".join(quote(c) for c in self.index_key)
        return f",\n    PRIMARY KEY ({key})" if key else ""

    def ddl(self) -> str:
        cols = ",\n    ".join(f"{quote(c)} {t}" for c, t in self.all_columns().items())
        return (
            f"CREATE TABLE IF NOT EXISTS {self.schema}.{quote(self.name)} (\n    {cols}"
            f"{self.key_clause()}\n)"
        )


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=4096)   # called per field of every record: names repeat
def snake_case(name: str) -> str:
    """Fivetran-style column name: ``IsConverted`` -> ``is_converted``,
    ``GA_Client_ID__c`` -> ``ga_client_id_c``, ``Owner.Name`` -> ``owner_name``,
    ``customEvent:ga_client_id`` -> ``custom_event_ga_client_id``."""
    s = re.sub(r"[.:\-\s]+", "_", name)
    s = _CAMEL_1.sub(r"\1_\2", s)
    s = _CAMEL_2.sub(r"\1_\2", s)
    s = re.sub(r"_+", "_", s).strip("_")
    return s.lower()


# Salesforce field type -> DuckDB type. Anything unknown stays VARCHAR (never lost).
SALESFORCE_TYPES = {
    "id": "VARCHAR", "reference": "VARCHAR", "string": "VARCHAR", "picklist": "VARCHAR",
    "multipicklist": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "url": "VARCHAR",
    "textarea": "VARCHAR", "combobox": "VARCHAR", "anyType": "VARCHAR",
    "boolean": "BOOLEAN", "double": "DOUBLE", "currency": "DECIMAL(18,2)", "percent": "DOUBLE",
    "int": "BIGINT", "long": "BIGINT", "date": "DATE", "datetime": "TIMESTAMP", "time": "VARCHAR",
}


def salesforce_type(field_type: str) -> str:
    return SALESFORCE_TYPES.get(field_type, "VARCHAR")


def _hubspot(name: str, properties: list[str], object_type: str, description: str) -> Table:
    cols = {"id": "VARCHAR"}
    cols.update({p: "VARCHAR" for p in properties})
    cols.update({"created_at": "TIMESTAMP", "updated_at": "TIMESTAMP",
                 "archived": "BOOLEAN", "archived_at": "TIMESTAMP"})
    return Table("hubspot", name, ("id",), cols, object_type, description)


_STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
HUBSPOT_CONTACT_PROPERTIES = [
    "hs_object_id", "email", "firstname", "lastname", "createdate", "lastmodifieddate",
    "lifecyclestage",
    *[f"hs_lifecyclestage_{s}_date" for s in _STAGES],
    *[f"hs_v2_date_entered_{s}" for s in _STAGES],
    "hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_source_data_2",
    "hs_analytics_first_url", "hs_analytics_first_timestamp", "ga_client_id",
    "salesforceleadid", "salesforcecontactid", "hubspot_owner_id", "associatedcompanyid",
    "hs_merged_object_ids",
]
HUBSPOT_COMPANY_PROPERTIES = [
    "hs_object_id", "name", "domain", "country", "industry", "numberofemployees", "createdate", "hs_lastmodifieddate",
    "hubspot_owner_id", "salesforceaccountid", "hs_merged_object_ids",
]
HUBSPOT_DEAL_PROPERTIES = [
    "hs_object_id", "dealname", "amount", "deal_currency_code", "dealstage", "pipeline",
    "closedate", "createdate", "hs_lastmodifieddate", "hs_is_closed", "hs_is_closed_won",
    "hubspot_owner_id", "salesforceopportunityid", "hs_merged_object_ids",
]


def _sf(name: str, sobject: str, fields: dict[str, str], description: str) -> Table:
    cols = {snake_case(f): salesforce_type(t) for f, t in fields.items()}
    return Table("salesforce", name, ("id",), cols, sobject, description, tuple(fields))


_SF_SYSTEM = {"Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime",
              "LastModifiedDate": "datetime", "SystemModstamp": "datetime"}
_SF_UTM = {"GA_Client_ID__c": "string", "UTM_Source__c": "string", "UTM_Medium__c": "string",
           "UTM_Campaign__c": "string", "UTM_Content__c": "string", "UTM_Term__c": "string"}

TABLES: dict[str, Table] = {t.qualified: t for t in [
    # ---- HubSpot ------------------------------------------------------------------------
    _hubspot("contacts", HUBSPOT_CONTACT_PROPERTIES, "contacts", "HubSpot contacts"),
    _hubspot("companies", HUBSPOT_COMPANY_PROPERTIES, "companies", "HubSpot companies"),
    _hubspot("deals", HUBSPOT_DEAL_PROPERTIES, "deals", "HubSpot deals"),
    Table("hubspot", "deal_contact_associations", ("deal_id", "contact_id", "association_type_id"),
          {"deal_id": "VARCHAR", "contact_id": "VARCHAR", "association_type_id": "INTEGER",
           "association_category": "VARCHAR"},
          "associations", "v4 deal->contact associations of every synced deal"),
    Table("hubspot", "owners", ("id",),
          {"id": "VARCHAR", "email": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
           "type": "VARCHAR", "user_id": "BIGINT", "archived": "BOOLEAN",
           "created_at": "TIMESTAMP", "updated_at": "TIMESTAMP", "teams": "VARCHAR"},
          "owners", "HubSpot owners (teams as JSON)"),
    Table("hubspot", "deal_pipelines", ("pipeline_id", "stage_id"),
          {"pipeline_id": "VARCHAR", "pipeline_label": "VARCHAR", "stage_id": "VARCHAR",
           "stage_label": "VARCHAR", "display_order": "INTEGER", "probability": "DOUBLE",
           "is_closed": "BOOLEAN", "archived": "BOOLEAN"},
          "pipelines", "one row per deal pipeline stage"),
    # ---- Salesforce ---------------------------------------------------------------------
    _sf("user", "User", {"Id": "id", "Username": "string", "Name": "string",
                         "FirstName": "string", "LastName": "string", "Email": "email",
                         "IsActive": "boolean", "UserType": "picklist", "Title": "string",
                         "Department": "string", "CreatedDate": "datetime",
                         "LastModifiedDate": "datetime", "SystemModstamp": "datetime"}, "Users"),
    _sf("account", "Account", {**_SF_SYSTEM, "Name": "string", "Website": "url",
                               "Industry": "picklist", "BillingCountry": "string",
                               "NumberOfEmployees": "int",
                               "OwnerId": "reference", "MasterRecordId": "reference",
                               "CurrencyIsoCode": "picklist"}, "Accounts"),
    _sf("lead", "Lead", {**_SF_SYSTEM, "FirstName": "string", "LastName": "string",
                         "Email": "email", "Company": "string", "Status": "picklist",
                         "LeadSource": "picklist", "OwnerId": "reference",
                         "IsConverted": "boolean", "ConvertedDate": "date",
                         "ConvertedAccountId": "reference", "ConvertedContactId": "reference",
                         "ConvertedOpportunityId": "reference", "MasterRecordId": "reference",
                         **_SF_UTM, "CurrencyIsoCode": "picklist"}, "Leads"),
    _sf("contact", "Contact", {**_SF_SYSTEM, "FirstName": "string", "LastName": "string",
                               "Email": "email", "AccountId": "reference",
                               "OwnerId": "reference", "LeadSource": "picklist",
                               "MasterRecordId": "reference", **_SF_UTM,
                               "CurrencyIsoCode": "picklist"}, "Contacts"),
    _sf("opportunity", "Opportunity", {**_SF_SYSTEM, "Name": "string", "AccountId": "reference",
                                       "StageName": "picklist", "Amount": "currency",
                                       "Probability": "percent", "CloseDate": "date",
                                       "IsClosed": "boolean", "IsWon": "boolean",
                                       "ForecastCategory": "picklist", "Type": "picklist",
                                       "LeadSource": "picklist", "OwnerId": "reference",
                                       "CurrencyIsoCode": "picklist"}, "Opportunities"),
    _sf("opportunity_contact_role", "OpportunityContactRole",
        {**_SF_SYSTEM, "OpportunityId": "reference", "ContactId": "reference",
         "Role": "picklist", "IsPrimary": "boolean"}, "Opportunity contact roles"),
    _sf("opportunity_history", "OpportunityHistory",
        {"Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime",
         "SystemModstamp": "datetime", "OpportunityId": "reference", "StageName": "picklist",
         "Amount": "currency", "CloseDate": "date", "Probability": "percent",
         "ForecastCategory": "picklist", "CreatedById": "reference"}, "Opportunity stage history"),
    _sf("lead_history", "LeadHistory",
        {"Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime", "LeadId": "reference",
         "Field": "picklist", "OldValue": "anyType", "NewValue": "anyType",
         "DataType": "picklist", "CreatedById": "reference"}, "Lead field history"),
    _sf("forecasting_quota", "ForecastingQuota",
        {"Id": "id", "QuotaOwnerId": "reference", "QuotaAmount": "currency",
         "StartDate": "date", "PeriodId": "reference", "IsAmount": "boolean",
         "ForecastingTypeId": "reference", "CurrencyIsoCode": "picklist",
         "CreatedDate": "datetime", "LastModifiedDate": "datetime",
         "SystemModstamp": "datetime"}, "Quotas (needs forecasting permission)"),
    _sf("period", "Period", {"Id": "id", "StartDate": "date", "EndDate": "date",
                             "Type": "picklist", "SystemModstamp": "datetime"},
        "Fiscal periods (quota periods)"),
    _sf("currency_type", "CurrencyType",
        {"Id": "id", "IsoCode": "picklist", "ConversionRate": "double", "DecimalPlaces": "int",
         "IsActive": "boolean", "IsCorporate": "boolean", "SystemModstamp": "datetime"},
        "Currencies (multi-currency orgs only)"),
    _sf("dated_conversion_rate", "DatedConversionRate",
        {"Id": "id", "IsoCode": "picklist", "ConversionRate": "double", "StartDate": "date",
         "NextStartDate": "date", "SystemModstamp": "datetime"},
        "Dated exchange rates (units of IsoCode per 1 corporate currency)"),
    _sf("campaign", "Campaign",
        {**_SF_SYSTEM, "Name": "string", "Type": "picklist", "Status": "picklist",
         "StartDate": "date", "EndDate": "date", "IsActive": "boolean", "OwnerId": "reference"},
        "Campaigns (advocacy programmes, events, webinars) that leads and contacts join"),
    _sf("campaign_member", "CampaignMember",
        {**_SF_SYSTEM, "CampaignId": "reference", "LeadId": "reference",
         "ContactId": "reference", "Status": "picklist", "HasResponded": "boolean",
         "FirstRespondedDate": "date"},
        "Campaign members: a lead or contact in a campaign, and when it first responded"),
    # ---- GA4 ----------------------------------------------------------------------------
    Table("ga4", "visitor_sessions", ("row_key",),
          {"row_key": "VARCHAR",  # md5('YYYY-MM-DD|visitor_id|source|medium|campaign|content|term'), values as GA serves them, '\\' and '|' backslash-escaped
           "date": "DATE", "visitor_id": "VARCHAR", "session_source": "VARCHAR",
           "session_medium": "VARCHAR", "session_campaign_name": "VARCHAR",
           "session_manual_ad_content": "VARCHAR", "session_manual_term": "VARCHAR",
           "sessions": "BIGINT", "engaged_sessions": "BIGINT",
           "key_events": "BIGINT"},
          "runReport", "per-visitor report: one row per date x visitor x session UTMs",
          partition="date"),
    Table("ga4", "traffic_daily", ("row_key",),
          {"row_key": "VARCHAR",  # md5('YYYY-MM-DD|source|medium|campaign|content'), escaped alike
           "date": "DATE", "session_source": "VARCHAR",
           "session_medium": "VARCHAR", "session_campaign_name": "VARCHAR",
           "session_manual_ad_content": "VARCHAR", "sessions": "BIGINT",
           "engaged_sessions": "BIGINT", "key_events": "BIGINT", "total_users": "BIGINT"},
          "runReport", "daily traffic without the visitor dimension (all sessions)",
          partition="date"),
    Table("ga4", "report_days", ("report", "date"),
          {"report": "VARCHAR", "date": "DATE", "row_count": "BIGINT",
           "data_loss_from_other_row": "BOOLEAN", "other_row_sessions": "BIGINT",
           "sessions": "BIGINT",                   # sessions served for the date, (other) row included
           "subject_to_thresholding": "BOOLEAN",   # GA may have withheld rows with few users
           "samples_read_count": "BIGINT",         # sampled: events read (NULL = unsampled)
           "sampling_space_size": "BIGINT",        # sampled: events in the date range read
           "tokens": "BIGINT",                     # quota tokens of the request(s) that read it
           "time_zone": "VARCHAR"},                # the property's time zone: GA dates are its days
          "runReport", "per report and date: rows read, what GA withheld ((other) row, "
          "thresholds, sampling), tokens and the property's time zone"),
    # ---- Advocacy platform --------------------------------------------------------------
    Table("advocacy_platform", "posts", ("platform", "post_id"),
          {"post_id": "VARCHAR", "platform": "VARCHAR", "advocate_id": "VARCHAR",
           "advocate_email": "VARCHAR", "advocate_name": "VARCHAR", "network": "VARCHAR",
           "category": "VARCHAR", "campaign": "VARCHAR", "posted_at": "TIMESTAMP",
           "url": "VARCHAR", "clicks": "BIGINT", "likes": "BIGINT", "comments": "BIGINT",
           "shares": "BIGINT", "engagements": "BIGINT", "_source_file": "VARCHAR"},
          "export", "advocacy platform posts with cumulative clicks and engagements"),
]}


def table(qualified: str) -> Table:
    return TABLES[qualified]


def tables_of(schema: str) -> list[Table]:
    return [t for t in TABLES.values() if t.schema == schema]


SYNC_STATE_DDL = """CREATE TABLE IF NOT EXISTS {schema}._sync_state (
    object      VARCHAR PRIMARY KEY,
    cursor      VARCHAR,            -- JSON, the connector's own shape
    updated_at  TIMESTAMP NOT NULL,
    rows_synced BIGINT
)"""

# What became of each source's last sync (``meta.source_status``, one row per source), written
# by `advocacy sync` and the Dagster sync assets: marts.data_quality's ``source_complete``
# check fails while a source's last sync failed (naming it and since when) or when its last
# complete sync is older than a day, so a partial night is never published as a whole one.
SOURCE_STATUS_SCHEMA = "meta"
SOURCE_STATUS_DDL = """CREATE TABLE IF NOT EXISTS meta.source_status (
    source          VARCHAR PRIMARY KEY,
    status          VARCHAR NOT NULL,   -- ok | failed | not_configured
    detail          VARCHAR,            -- why it failed or was skipped (secrets redacted)
    attempted_at    TIMESTAMP NOT NULL, -- UTC: when the last sync ended
    last_success_at TIMESTAMP,          -- UTC: when the last complete sync ended
    failing_since   TIMESTAMP           -- UTC: the first failed sync since the last complete one
)"""

QUARANTINE_DDL = """CREATE TABLE IF NOT EXISTS {schema}._quarantine (
    source        VARCHAR NOT NULL,
    object        VARCHAR NOT NULL,
    record_id     VARCHAR,
    reason        VARCHAR NOT NULL,
    payload_hash  VARCHAR NOT NULL,
    quarantined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, object, payload_hash, reason)
)"""

# Salesforce fields field-level security hides from the integration user (absent from
# describe), as of each object's latest sync: reported by `advocacy check` and data_quality.
HIDDEN_FIELDS_DDL = """CREATE TABLE IF NOT EXISTS salesforce._hidden_fields (
    object      VARCHAR NOT NULL,
    field       VARCHAR NOT NULL,
    checked_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (object, field)
)"""

# Records kept after a repair (a lone UTF-16 surrogate replaced by U+FFFD): counted, never silent.
REPAIRED_TABLE = "_repaired"
REPAIRED_DDL = """CREATE TABLE IF NOT EXISTS {schema}._repaired (
    source        VARCHAR NOT NULL,
    object        VARCHAR NOT NULL,
    record_id     VARCHAR,
    reason        VARCHAR NOT NULL,
    payload_hash  VARCHAR NOT NULL,
    repaired_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (source, object, payload_hash, reason)
)"""
