"""The sources ``advocacy sync`` and ``advocacy check`` know, in sync order."""

from __future__ import annotations

import importlib

from connectors.source import Source

# name -> "module:Class"
SOURCES: dict[str, str] = {
    "hubspot": "connectors.hubspot:HubSpotSource",
    "salesforce": "connectors.salesforce:SalesforceSource",
    "ga4": "connectors.ga4:GA4Source",
    "advocacy_platform": "connectors.advocacy_exports:AdvocacyExportsSource",
}


def source_class(name: str) -> type[Source]:
    module_name, _, class_name = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
