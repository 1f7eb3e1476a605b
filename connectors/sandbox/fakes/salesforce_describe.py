"""The Salesforce fake's describe answers (``sobjects/{O}/describe`` and the object summaries).

Every key a real describe carries is present, with the value a real org gives a field of that
kind, so that other Salesforce tools (which read keys such as ``compoundFieldName``,
``aggregatable`` or ``extraTypeInfo`` on their first request) work against the sandbox. The key
lists follow the REST API's DescribeSObjectResult and Field; a tool that reads a key missing
here would fail on its first request, so tests/sandbox compare them with these lists.

Formula fields (:data:`connectors.sandbox.catalog.SALESFORCE_FORMULAS`) are described as real
ones are: ``calculated: true``, a ``calculatedFormula``, neither createable nor updateable.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.sandbox import catalog
from connectors.sandbox.fakes import soql

SYSTEM_FIELDS = frozenset(
    {"Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById"}
)
PICKLISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Lead", "Status"): catalog.LEAD_STATUSES,
    ("Opportunity", "StageName"): tuple(s[0] for s in catalog.OPPORTUNITY_STAGES),
    ("Opportunity", "ForecastCategory"): ("Omitted", "Pipeline", "BestCase", "Commit", "Closed"),
    ("OpportunityHistory", "StageName"): tuple(s[0] for s in catalog.OPPORTUNITY_STAGES),
}
# The keys of one field in a REST describe (API v59), in the order Salesforce sends them.
FIELD_KEYS = (
    "aggregatable", "aiPredictionField", "autoNumber", "byteLength", "calculated",
    "calculatedFormula", "cascadeDelete", "caseSensitive", "compoundFieldName", "controllerName",
    "createable", "custom", "defaultValue", "defaultValueFormula", "defaultedOnCreate",
    "dependentPicklist", "deprecatedAndHidden", "digits", "displayLocationInDecimal", "encrypted",
    "externalId", "extraTypeInfo", "filterable", "filteredLookupInfo",
    "formulaTreatNullNumberAsZero", "groupable", "highScaleNumber", "htmlFormatted", "idLookup",
    "inlineHelpText", "label", "length", "mask", "maskType", "name", "nameField", "namePointing",
    "nillable", "permissionable", "picklistValues", "polymorphicForeignKey", "precision",
    "queryByDistance", "referenceTargetField", "referenceTo", "relationshipName",
    "relationshipOrder", "restrictedDelete", "restrictedPicklist", "scale",
    "searchPrefilterable", "soapType", "sortable", "type", "unique", "updateable",
    "writeRequiresMasterRead",
)
# The object-level keys of a describe besides ``fields`` (DescribeSObjectResult).
OBJECT_KEYS = (
    "actionOverrides", "activateable", "associateEntityType", "associateParentEntity",
    "childRelationships", "compactLayoutable", "createable", "custom", "customSetting",
    "deepCloneable", "defaultImplementation", "deletable", "deprecatedAndHidden", "extendedBy",
    "extendsInterfaces", "feedEnabled", "fields", "hasSubtypes", "implementedBy",
    "implementsInterfaces", "isInterface", "isSubtype", "keyPrefix", "label", "labelPlural",
    "layoutable", "listviewable", "lookupLayoutable", "mergeable", "mruEnabled", "name",
    "namedLayoutInfos", "networkScopeFieldName", "queryable", "recordTypeInfos", "replicateable",
    "retrieveable", "searchLayoutable", "searchable", "sobjectDescribeOption", "supportedScopes",
    "triggerable", "undeletable", "updateable", "urls",
)
_NAME_FIELDS = {"User": "Name", "Account": "Name", "Opportunity": "Name"}
_SOAP = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "double": "xsd:double",
    "currency": "xsd:double", "percent": "xsd:double", "int": "xsd:int", "date": "xsd:date",
    "datetime": "xsd:dateTime", "anyType": "xsd:anyType",
}


def label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base.replace("_", " ")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).strip()


def formula(sobject: str, name: str) -> tuple[str, str, str, str] | None:
    """``(type, reference field, target object, target field)`` of a formula field, or None."""
    return catalog.SALESFORCE_FORMULAS.get(sobject, {}).get(name)


def object_summary(sobject: str, version: str) -> dict[str, Any]:
    """The object as ``sobjects`` lists it (the describe's object-level keys minus fields)."""
    base = f"/services/data/v{version}/sobjects/{sobject}"
    history = sobject.endswith("History")
    readonly = history or sobject in ("Period", "CurrencyType", "DatedConversionRate")
    return {
        "activateable": False, "associateEntityType": "History" if history else None,
        "associateParentEntity": sobject[:-len("History")] if history else None,
        "createable": not readonly, "custom": False, "customSetting": False,
        "deepCloneable": False, "deletable": not readonly and sobject != "User",
        "deprecatedAndHidden": False, "feedEnabled": False, "hasSubtypes": False,
        "isInterface": False, "isSubtype": False,
        "keyPrefix": catalog.SALESFORCE_KEY_PREFIX.get(sobject), "label": label(sobject),
        "labelPlural": label(sobject) + "s", "layoutable": not readonly,
        "mergeable": sobject in ("Lead", "Contact", "Account"), "mruEnabled": not readonly,
        "name": sobject, "queryable": True, "replicateable": sobject not in ("Period",),
        "retrieveable": True, "searchable": not readonly, "triggerable": not readonly,
        "undeletable": not readonly, "updateable": not readonly,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def describe(sobject: str, fields: dict[str, str], currencies: list[str], version: str) -> dict[str, Any]:
    """The full describe of ``sobject`` whose fields (stored and formula) are ``fields``."""
    body = object_summary(sobject, version)
    readonly = not body["createable"]
    body.update({
        "actionOverrides": [], "childRelationships": [], "compactLayoutable": not readonly,
        "defaultImplementation": None, "extendedBy": None, "extendsInterfaces": None,
        "fields": [describe_field(sobject, n, t, currencies) for n, t in fields.items()],
        "implementedBy": None, "implementsInterfaces": None, "listviewable": None,
        "lookupLayoutable": None, "namedLayoutInfos": [], "networkScopeFieldName": None,
        "recordTypeInfos": [], "searchLayoutable": not readonly, "sobjectDescribeOption": "FULL",
        "supportedScopes": [],
    })
    return {k: body.get(k) for k in OBJECT_KEYS}


def describe_field(sobject: str, name: str, ftype: str, currencies: list[str]) -> dict[str, Any]:
    is_string = ftype in soql.STRING_TYPES
    length = 18 if ftype in soql.ID_TYPES else (255 if is_string else 0)
    system = name in SYSTEM_FIELDS
    calc = formula(sobject, name)
    picklist: list[dict[str, Any]] = []
    values = PICKLISTS.get((sobject, name))
    if name in (catalog.CURRENCY_FIELD, "IsoCode"):
        values = tuple(currencies)
    if ftype == "picklist" and values:
        picklist = [
            {"active": True, "defaultValue": i == 0, "label": v, "validFor": None, "value": v}
            for i, v in enumerate(values)
        ]
    target = None
    if ftype == "reference":
        target = soql.relationship_target(sobject, name[:-2]) if name.endswith("Id") else None
    filterable = ftype not in soql.UNFILTERABLE_TYPES
    numeric = ftype in ("currency", "double", "percent", "int")
    field = {
        "aggregatable": filterable and ftype not in ("boolean", "textarea"),
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": length * 3,
        "calculated": calc is not None,
        "calculatedFormula": f"{calc[1][:-2]}.{calc[3]}" if calc else None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": not system and calc is None,
        "custom": name.endswith("__c"),
        "defaultValue": False if ftype == "boolean" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": system or ftype == "boolean",
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 9 if ftype == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": False,
        "extraTypeInfo": "plaintextarea" if ftype == "textarea" else None,
        "filterable": filterable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": filterable and not numeric and ftype != "datetime",
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": name == "Id" or ftype == "email",
        "inlineHelpText": None,
        "label": "Record ID" if name == "Id" else (
            label(name[:-2]) + " ID" if ftype == "reference" and name.endswith("Id") else label(name)),
        "length": length,
        "mask": None,
        "maskType": None,
        "name": name,
        "nameField": _NAME_FIELDS.get(sobject) == name,
        "namePointing": False,
        "nillable": not system and ftype != "boolean",
        "permissionable": not system and name.endswith("__c"),
        "picklistValues": picklist,
        "polymorphicForeignKey": False,
        "precision": 18 if ftype in ("currency", "double", "percent") else 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": [target] if target else [],
        "relationshipName": name[:-2] if target else None,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": False,
        "scale": 2 if ftype in ("currency", "percent") else 0,
        "searchPrefilterable": False,
        "soapType": _SOAP.get(ftype, "xsd:string"),
        "sortable": filterable,
        "type": ftype,
        "unique": False,
        "updateable": not system and calc is None,
        "writeRequiresMasterRead": False,
    }
    return {k: field[k] for k in FIELD_KEYS}
