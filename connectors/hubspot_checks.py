"""``advocacy check`` findings about how the HubSpot connector is set up to cope with the API
as it really behaves (``docs/API_BEHAVIOUR.md``, section HubSpot): the way out (proxy, CA
bundle), the search lookback against the index's lag, the association sweep, and property
lists long enough to need several requests per page. Each failing finding names the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from connectors import hubspot_sweeps as sweeps
from connectors.hubspot_http import ca_bundle, property_chunks, proxy_for
from connectors.source import Finding, InvalidSetting

if TYPE_CHECKING:
    from connectors.hubspot import HubSpotSource

INDEX_LAG_MINUTES = 60     # how late HubSpot's search index may show a change


def ca_problem(source: HubSpotSource) -> Finding | None:
    """A CA bundle variable naming no file: no request can go out until it is fixed."""
    try:
        ca_bundle(source.settings)
    except InvalidSetting as exc:
        return Finding(source.name, False, str(exc), "point it at the PEM file of the CA that signs "
                       "HubSpot's certificate on your network (your proxy's), or unset it")
    return None


def setting_findings(source: HubSpotSource) -> list[Finding]:
    """Findings that need no request (after :func:`ca_problem` found none)."""
    from connectors.hubspot import DEFAULT_LOOKBACK_MINUTES, OBJECTS

    name, settings = source.name, source.settings
    out: list[Finding] = []
    ca = ca_bundle(settings)
    proxy = proxy_for(settings, source.base_url)
    if proxy:
        parts = urlsplit(proxy)
        shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        out.append(Finding(name, True, f"through the proxy {shown} (HTTPS_PROXY; NO_PROXY bypasses it)"))
    if ca:
        out.append(Finding(name, True, f"certificates verified with {ca}"))
    try:
        lookback = source.lookback_ms / 60_000
    except ValueError:
        lookback = -1.0
    if lookback < INDEX_LAG_MINUTES:
        value = settings.get("HUBSPOT_SEARCH_LOOKBACK_MINUTES")
        out.append(Finding(
            name, False, f"HUBSPOT_SEARCH_LOOKBACK_MINUTES={value} is shorter than HubSpot's search-"
            f"index lag (up to {INDEX_LAG_MINUTES} minutes): changes indexed late are skipped for good",
            f"unset it (default {DEFAULT_LOOKBACK_MINUTES}) or set {INDEX_LAG_MINUTES + 10} or more"))
    try:
        days = sweeps.sweep_days(source)
        out.append(Finding(name, True, f"deal associations swept every {days:g} day(s) "
                           "(associations added without touching the deal)"))
    except InvalidSetting as exc:
        out.append(Finding(name, False, str(exc), "set a number of days, e.g. 7"))
    for t in OBJECTS:
        chunks = len(property_chunks(source.properties_for(t)))
        if chunks > 1:
            out.append(Finding(name, True, f"{t}: {len(source.properties_for(t))} properties are read "
                               f"in {chunks} requests per page (one URL cannot carry them all)"))
    return out


def unreachable_fix(message: str) -> str:
    """The fix for a first request that did not reach HubSpot."""
    if "certificate" in message.lower():
        return ("set HUBSPOT_CA_BUNDLE (or REQUESTS_CA_BUNDLE / SSL_CERT_FILE) to the PEM bundle of "
                "the CA your network's proxy signs with")
    if "proxy" in message.lower():
        return "check HTTPS_PROXY (and NO_PROXY for hosts reached directly)"
    return "check HUBSPOT_BASE_URL, the network, and HTTPS_PROXY/NO_PROXY if you need a proxy"
