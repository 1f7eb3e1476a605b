"""The fields the simulated company's CRMs and GA4 property have.

This is the sandbox's side of the contract: the generator fills exactly these HubSpot
properties and Salesforce fields, the fakes describe them (HubSpot properties API,
Salesforce ``describe``) and serve them. The product's connectors do not import this module:
they discover fields through the APIs, as they would against a real account.

Types follow the APIs' own vocabularies: HubSpot ``string|number|date|datetime|enumeration|bool``;
Salesforce ``id|reference|string|picklist|email|boolean|double|currency|percent|date|datetime|textarea|url``.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# HubSpot
# ---------------------------------------------------------------------------------------------
LIFECYCLE_STAGES = (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
    "customer", "evangelist", "other",
)

_CONTACT_STAGE_DATES = {
    **{f"hs_lifecyclestage_{s}_date": "datetime" for s in LIFECYCLE_STAGES},
    **{f"hs_v2_date_entered_{s}": "datetime" for s in LIFECYCLE_STAGES},
}

HUBSPOT_PROPERTIES: dict[str, dict[str, str]] = {
    "contacts": {
        "hs_object_id": "number",
        "email": "string",
        "firstname": "string",
        "lastname": "string",
        "company": "string",
        "createdate": "datetime",
        "lastmodifieddate": "datetime",
        "lifecyclestage": "enumeration",
        **_CONTACT_STAGE_DATES,
        "hs_analytics_source": "enumeration",     # ORGANIC_SEARCH, PAID_SEARCH, SOCIAL_MEDIA, ...
        "hs_analytics_source_data_1": "string",
        "hs_analytics_source_data_2": "string",
        "hs_analytics_first_url": "string",       # first page seen, with its utm_* query string
        "hs_analytics_first_timestamp": "datetime",
        "ga_client_id": "string",                 # custom: the GA4 client id from the form
        "salesforceleadid": "string",             # set by the HubSpot<->Salesforce sync
        "salesforcecontactid": "string",
        "hubspot_owner_id": "enumeration",
        "associatedcompanyid": "number",
        "hs_merged_object_ids": "enumeration",    # ';'-separated ids merged into this one
    },
    "companies": {
        "hs_object_id": "number",
        "name": "string",
        "domain": "string",
        "industry": "enumeration",
        "country": "string",
        "numberofemployees": "number",
        "createdate": "datetime",
        "hs_lastmodifieddate": "datetime",
        "hubspot_owner_id": "enumeration",
        "salesforceaccountid": "string",
        "hs_merged_object_ids": "enumeration",    # ';'-separated ids merged into this one
    },
    "deals": {
        "hs_object_id": "number",
        "dealname": "string",
        "amount": "number",
        "deal_currency_code": "enumeration",
        "dealstage": "enumeration",               # a stage id of the pipeline
        "pipeline": "enumeration",
        "closedate": "datetime",
        "createdate": "datetime",
        "hs_lastmodifieddate": "datetime",
        "hs_is_closed": "bool",
        "hs_is_closed_won": "bool",
        "hubspot_owner_id": "enumeration",
        "salesforceopportunityid": "string",      # set by the sync on deals mirrored from SF
        "hs_merged_object_ids": "enumeration",    # ';'-separated ids merged into this one
    },
}

# The modification-date property each object's incremental search filters on.
HUBSPOT_MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

HUBSPOT_DEAL_PIPELINE = {
    "id": "default",
    "label": "Sales Pipeline",
    "stages": [
        # (id, label, isClosed, probability)
        ("appointmentscheduled", "Appointment Scheduled", False, 0.2),
        ("qualifiedtobuy", "Qualified To Buy", False, 0.4),
        ("presentationscheduled", "Presentation Scheduled", False, 0.6),
        ("decisionmakerboughtin", "Decision Maker Bought-In", False, 0.8),
        ("contractsent", "Contract Sent", False, 0.9),
        ("closedwon", "Closed Won", True, 1.0),
        ("closedlost", "Closed Lost", True, 0.0),
    ],
}

# v4 association type ids (HUBSPOT_DEFINED)
HUBSPOT_ASSOCIATION_TYPES = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}

# ---------------------------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------------------------
_SYSTEM = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "LastModifiedDate": "datetime",
    "SystemModstamp": "datetime",
}
_UTM = {
    "GA_Client_ID__c": "string",
    "UTM_Source__c": "string",
    "UTM_Medium__c": "string",
    "UTM_Campaign__c": "string",
    "UTM_Content__c": "string",
    "UTM_Term__c": "string",
}
# CurrencyIsoCode exists only in multi-currency orgs: the fake removes it from describe and
# answers INVALID_FIELD when the world is single-currency.
CURRENCY_FIELD = "CurrencyIsoCode"

SALESFORCE_FIELDS: dict[str, dict[str, str]] = {
    "User": {
        "Id": "id", "Username": "string", "Name": "string", "FirstName": "string",
        "LastName": "string", "Email": "email", "IsActive": "boolean", "UserType": "picklist",
        "Title": "string", "Department": "string",
        "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
    },
    "Account": {
        **_SYSTEM, "Name": "string", "Website": "url", "Industry": "picklist",
        "BillingCountry": "string", "NumberOfEmployees": "int", "OwnerId": "reference", "Type": "picklist",
        "MasterRecordId": "reference", CURRENCY_FIELD: "picklist",
    },
    "Lead": {
        **_SYSTEM, "FirstName": "string", "LastName": "string", "Email": "email",
        "Company": "string", "Status": "picklist", "LeadSource": "picklist",
        "OwnerId": "reference", "IsConverted": "boolean", "ConvertedDate": "date",
        "ConvertedAccountId": "reference", "ConvertedContactId": "reference",
        "ConvertedOpportunityId": "reference", "MasterRecordId": "reference",
        **_UTM, CURRENCY_FIELD: "picklist",
    },
    "Contact": {
        **_SYSTEM, "FirstName": "string", "LastName": "string", "Email": "email",
        "AccountId": "reference", "OwnerId": "reference", "LeadSource": "picklist",
        "MasterRecordId": "reference", **_UTM, CURRENCY_FIELD: "picklist",
    },
    "Opportunity": {
        **_SYSTEM, "Name": "string", "AccountId": "reference", "StageName": "picklist",
        "Amount": "currency", "Probability": "percent", "CloseDate": "date",
        "IsClosed": "boolean", "IsWon": "boolean", "ForecastCategory": "picklist",
        "Type": "picklist", "LeadSource": "picklist", "OwnerId": "reference",
        CURRENCY_FIELD: "picklist",
    },
    "OpportunityContactRole": {
        **_SYSTEM, "OpportunityId": "reference", "ContactId": "reference",
        "Role": "picklist", "IsPrimary": "boolean",
    },
    "OpportunityHistory": {
        "Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime",
        "SystemModstamp": "datetime", "OpportunityId": "reference", "StageName": "picklist",
        "Amount": "currency", "CloseDate": "date", "Probability": "percent",
        "ForecastCategory": "picklist", "CreatedById": "reference",
    },
    "LeadHistory": {
        # No SystemModstamp: the cursor is CreatedDate. OldValue/NewValue are anyType.
        "Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime", "LeadId": "reference",
        "Field": "picklist", "OldValue": "anyType", "NewValue": "anyType",
        "DataType": "picklist", "CreatedById": "reference",
    },
    "Period": {
        "Id": "id", "StartDate": "date", "EndDate": "date", "Type": "picklist",
        "FiscalYearSettingsId": "reference", "SystemModstamp": "datetime",
    },
    "ForecastingQuota": {
        "Id": "id", "QuotaOwnerId": "reference", "QuotaAmount": "currency",
        "StartDate": "date", "PeriodId": "reference", "IsAmount": "boolean",
        "ForecastingTypeId": "reference", CURRENCY_FIELD: "picklist",
        "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
    },
    "CurrencyType": {
        "Id": "id", "IsoCode": "picklist", "ConversionRate": "double",
        "DecimalPlaces": "int", "IsActive": "boolean", "IsCorporate": "boolean",
        "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
    },
    "DatedConversionRate": {
        "Id": "id", "IsoCode": "picklist", "ConversionRate": "double",
        "StartDate": "date", "NextStartDate": "date",
        "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
    },
    "Campaign": {
        **_SYSTEM, "Name": "string", "Type": "picklist", "Status": "picklist",
        "StartDate": "date", "EndDate": "date", "IsActive": "boolean", "OwnerId": "reference",
    },
    "CampaignMember": {
        **_SYSTEM, "CampaignId": "reference", "LeadId": "reference", "ContactId": "reference",
        "Status": "picklist", "HasResponded": "boolean", "FirstRespondedDate": "date",
    },
}

# Formula fields (``calculated: true`` in describe), served beside the stored fields. These are
# cross-object formulas: their value follows the referenced record, and Salesforce does not
# move the formula's own record's SystemModstamp when it changes, so an incremental read on
# SystemModstamp never sees the change. name -> (type, reference field, target, target field).
SALESFORCE_FORMULAS: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "Opportunity": {"Account_Industry__c": ("string", "AccountId", "Account", "Industry")},
    "Contact": {"Account_Name__c": ("string", "AccountId", "Account", "Name")},
}

# Objects that exist only in multi-currency orgs.
MULTI_CURRENCY_OBJECTS = ("CurrencyType", "DatedConversionRate")

# Salesforce 3-character key prefixes (ids are 18 characters: prefix + 15).
SALESFORCE_KEY_PREFIX = {
    "User": "005", "Account": "001", "Lead": "00Q", "Contact": "003", "Opportunity": "006",
    "OpportunityContactRole": "00K", "OpportunityHistory": "008", "LeadHistory": "017",
    "Period": "026", "ForecastingQuota": "0J9", "CurrencyType": "02c",
    "DatedConversionRate": "04w", "Campaign": "701", "CampaignMember": "00v",
}

LEAD_STATUSES = (
    "Open - Not Contacted", "Working - Contacted", "Marketing Qualified", "Sales Qualified",
    "Closed - Converted", "Closed - Not Converted",
)
OPPORTUNITY_STAGES = (
    # (StageName, Probability, IsClosed, IsWon, ForecastCategory)
    ("Prospecting", 10, False, False, "Pipeline"),
    ("Qualification", 20, False, False, "Pipeline"),
    ("Proposal/Price Quote", 60, False, False, "Pipeline"),
    ("Negotiation/Review", 90, False, False, "Commit"),
    ("Closed Won", 100, True, True, "Closed"),
    ("Closed Lost", 0, True, False, "Omitted"),
)

# ---------------------------------------------------------------------------------------------
# GA4
# ---------------------------------------------------------------------------------------------
GA4_VISITOR_DIMENSION = "customEvent:ga_client_id"

# Columns of ``ga4_row`` in the world store and the GA4 names they answer to.
GA4_STORE_DIMENSIONS = {
    "date": "date",
    "visitor_id": GA4_VISITOR_DIMENSION,
    "source": "sessionSource",
    "medium": "sessionMedium",
    "campaign": "sessionCampaignName",
    "ad_content": "sessionManualAdContent",
    "term": "sessionManualTerm",
    "landing_page": "landingPage",
}
GA4_STORE_METRICS = {
    "sessions": "sessions",
    "engaged_sessions": "engagedSessions",
    "key_events": "keyEvents",
}

# ---------------------------------------------------------------------------------------------
# Advocacy platform exports: two platforms' layouts of the same post.
# ---------------------------------------------------------------------------------------------
# "gaggle" uses the default UTM convention (docs/DEFINITIONS.md, "Touches"):
#     utm_medium=advocacy, utm_source=<network>, utm_campaign=<campaign>,
#     utm_content=<advocate id>, utm_term=<post id>
# "social_hub" puts the advocate id in utm_campaign:
#     utm_source=social_hub, utm_medium=<network>, utm_campaign=<advocate id>,
#     utm_content=<post id>, utm_term=<campaign>
EXPORT_LAYOUTS = {
    "gaggle": {
        "file_prefix": "gaggle_posts_",
        "columns": {  # our name -> the export's header
            "post_id": "Post ID", "advocate_id": "User ID", "advocate_email": "User Email",
            "advocate_name": "User Name", "network": "Network", "category": "Category",
            "campaign": "Campaign", "posted_at": "Shared At", "url": "Link",
            "clicks": "Clicks", "likes": "Likes", "comments": "Comments", "shares": "Reshares",
        },
        "posted_at_format": "%Y-%m-%d %H:%M:%S",   # UTC
    },
    "social_hub": {
        "file_prefix": "socialhub_export_",
        "columns": {
            "post_id": "share_id", "advocate_id": "employee_id", "advocate_email": "employee_email",
            "advocate_name": "employee_name", "network": "channel", "category": "content_topic",
            "campaign": "campaign_name", "posted_at": "published_at", "url": "tracked_url",
            "clicks": "link_clicks", "likes": "reactions", "comments": "comments",
            "shares": "reshares",
        },
        "posted_at_format": "iso",                 # 2026-01-05T09:30:00Z
    },
}
NETWORKS = ("linkedin", "x", "facebook")
