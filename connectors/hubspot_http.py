"""How the HubSpot connector reaches the API: proxies, CA bundles and URL length.

* **Proxies.** The generated clients of ``hubspot-api-client`` build their own
  ``urllib3.PoolManager`` and never read the environment, so ``HTTPS_PROXY`` would be ignored
  (requests-based tools honour it; urllib3 does not). :func:`client_options` reads
  ``HTTPS_PROXY`` / ``HTTP_PROXY`` (either case, by the base URL's scheme) and ``NO_PROXY``
  the way curl and requests do (``urllib.request.proxy_bypass_environment``) and hands the
  proxy to the client (``Configuration.proxy``: a ``urllib3.ProxyManager``, HTTPS through a
  ``CONNECT`` tunnel).
* **CA bundles.** A corporate TLS-inspecting proxy re-signs HubSpot's certificate with its own
  CA. ``HUBSPOT_CA_BUNDLE``, else ``REQUESTS_CA_BUNDLE``, else ``SSL_CERT_FILE`` (a PEM file)
  becomes ``Configuration.ssl_ca_cert``; otherwise urllib3 uses certifi's bundle.
* **URL length.** List GETs carry the wanted properties in the query string
  (``properties=a&properties=b&...``). Portals with hundreds of custom properties exceed what
  HubSpot's front accepts and get ``414 URI Too Long`` (dlt verified-sources #305 at ~8,000
  characters; Airbyte measured ~16,300 and chunks at 15,000). :func:`property_chunks` splits
  the list so each request's ``properties`` part stays within
  :data:`PROPERTY_PARAM_BUDGET` characters; the connector requests each chunk for the same
  page and merges the records by id.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from connectors.source import InvalidSetting, Settings

PROPERTY_PARAM_BUDGET = 6_000   # characters of ``properties=...&`` per request (limit ~8,000)
CA_VARIABLES = ("HUBSPOT_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def proxy_for(settings: Settings, url: str) -> str | None:
    """The proxy URL for ``url`` from ``HTTPS_PROXY``/``HTTP_PROXY`` and ``NO_PROXY`` (either
    case), or None for a direct connection."""
    parts = urlsplit(url)
    names = ("HTTPS_PROXY", "https_proxy") if parts.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    proxy = next((v for n in names if (v := settings.get(n))), None)
    if not proxy:
        return None
    no_proxy = settings.get("NO_PROXY") or settings.get("no_proxy") or ""
    if no_proxy and urllib.request.proxy_bypass_environment(parts.netloc, {"no": no_proxy}):
        return None
    return proxy


def ca_bundle(settings: Settings) -> str | None:
    """The CA bundle file to verify HubSpot's certificate with, or None for certifi's. A named
    file that does not exist raises :class:`InvalidSetting` (before any request)."""
    for name in CA_VARIABLES:
        value = settings.get(name)
        if value:
            if not Path(value).is_file():
                raise InvalidSetting(f"{name}={value}: no such file (expected a PEM bundle of "
                                     "the CA certificates to trust)")
            return value
    return None


def client_options(settings: Settings, base_url: str) -> dict[str, Any]:
    """Keyword arguments for ``hubspot.Client.create``: proxy and CA bundle, when set."""
    options: dict[str, Any] = {}
    proxy = proxy_for(settings, base_url)
    if proxy:
        options["proxy"] = proxy
    ca = ca_bundle(settings)
    if ca:
        options["ssl_ca_cert"] = ca
    return options


def property_chunks(properties: list[str], budget: int = PROPERTY_PARAM_BUDGET) -> list[list[str]]:
    """``properties`` split so that each chunk's query string (``properties=<name>&`` per
    name, URL-encoded as the client sends it) fits ``budget`` characters. The first chunk keeps
    the first names (the connector's own properties); at least one name per chunk."""
    chunks: list[list[str]] = [[]]
    used = 0
    for name in properties:
        size = len("properties=") + len(quote(name, safe="")) + 1
        if chunks[-1] and used + size > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(name)
        used += size
    return chunks
