"""``advocacy check`` for Salesforce: one finding per problem, each with its fix.

* **Credentials and their host**: which OAuth flow and at which host the token is asked for.
  The client-credentials grant works only at the org's My Domain URL (Salesforce refuses it at
  login.salesforce.com / test.salesforce.com with "request not supported on this domain").
* **Permissions**: does the integration user see every record? Without "View All Data" (or
  View All on each object) queries *and getDeleted* silently return the records the user can
  see through sharing. One Composite Batch request compares the org's record counts
  (``limits/recordCount``, which counts every record) with ``SELECT COUNT()`` per object.
* **Objects** readable, **custom fields** present (GA client id and UTMs on Lead/Contact),
  single- or multi-currency org.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from simple_salesforce.exceptions import SalesforceError

from connectors.salesforce_client import (
    API_VERSION,
    SalesforceAuthError,
    auth_config,
    error_message,
)
from connectors.source import Finding, SourceNotConfigured, SourceStopped

if TYPE_CHECKING:
    from connectors.salesforce import ObjectSpec, SalesforceSource

# objects whose visibility decides the marts; a user seeing less than this share of the org's
# count lacks View All Data (recordCount is approximate and cached: a small gap is normal)
VISIBILITY_OBJECTS = ("Lead", "Contact", "Account", "Opportunity")
VISIBLE_SHARE = 0.95
VIEW_ALL_FIX = ("give the integration user the 'View All Data' permission (a permission set), "
                "or 'View All' on Lead, Contact, Account and Opportunity: without it queries and "
                "getDeleted silently return only the records shared with the user")


def check(source: SalesforceSource) -> list[Finding]:
    from connectors.salesforce import (
        _CREDENTIAL_VARIABLES,
        CUSTOM_FIELDS,
        FLS_FIX,
        OBJECTS,
        hidden_fields,
    )

    name = source.name
    out: list[Finding] = []
    try:
        auth = auth_config(source.settings, name)
    except SourceNotConfigured as exc:
        if any(source.settings.get(n) for n in (*_CREDENTIAL_VARIABLES, "SALESFORCE_JWT_KEY_FILE")):
            # half configured: that is a mistake to fix, not a source to skip
            return [Finding(name, False, str(exc), "set the Salesforce variables in .env")]
        raise
    problem = auth.host_problem()
    if problem:
        # no request: Salesforce would refuse it, and the reason is known
        return [Finding(name, False, f"credentials: {problem}",
                        "set SALESFORCE_LOGIN_URL (or SALESFORCE_INSTANCE_URL) to the org's My "
                        "Domain URL, https://<your-domain>.my.salesforce.com (Setup > My "
                        "Domain; sandboxes: https://<domain>--<sandbox>.sandbox.my.salesforce.com)")]
    client = source.client
    try:
        client.call("limits", lambda sf: sf.limits())
    except (SalesforceAuthError, SourceStopped) as exc:
        return [Finding(name, False, f"credentials: {exc}",
                        "check SALESFORCE_* in .env (and SALESFORCE_LOGIN_URL: the org's My "
                        "Domain URL, or test.salesforce.com for sandboxes)")]
    except SourceNotConfigured as exc:
        return [Finding(name, False, str(exc), "fix SALESFORCE_JWT_KEY_FILE in .env")]
    except SalesforceError as exc:
        out.append(Finding(name, False, f"authenticated ({auth.describe()}) but the "
                           f"API answered {error_message(exc)}", "check the instance URL"))
        return out
    except Exception as exc:  # noqa: BLE001 - connection problems become a finding
        return [Finding(name, False, f"cannot reach Salesforce: {type(exc).__name__}: "
                        f"{str(exc)[:200]}", "check SALESFORCE_INSTANCE_URL / "
                        "SALESFORCE_LOGIN_URL / SALESFORCE_CA_BUNDLE")]
    described = auth.describe()
    if client.token_url != auth.token_url:
        described = (f"OAuth {auth.method} at {urlparse(client.token_url).netloc} (the org's My "
                     f"Domain: {urlparse(auth.token_url).netloc} refused the grant, so "
                     "SALESFORCE_LOGIN_URL could be the My Domain URL)")
    out.append(Finding(name, True, f"credentials authenticate: {described}"))
    usage = client.usage_text()
    out.append(Finding(name, True, f"API reachable at {client.instance_url}"
                       + (f" ({usage})" if usage else "")))
    out.extend(_visibility(source))
    multi: bool | None = None
    any_currency = False
    for spec in OBJECTS:
        finding, desc = _check_object(source, spec)
        out.append(finding)
        if desc is not None:
            names = {f.get("name") for f in desc.get("fields") or []}
            any_currency = any_currency or "CurrencyIsoCode" in names
            hidden = hidden_fields(spec.table, names, any_currency)
            if hidden:
                out.append(Finding(name, False, f"{spec.sobject}: {', '.join(hidden)} hidden from "
                                   "the integration user by field-level security (would sync as "
                                   "empty: amounts null, currency the corporate one)", FLS_FIX))
        if spec.sobject in ("Lead", "Contact") and desc is not None:
            names = {f.get("name") for f in desc.get("fields") or []}
            missing = [c for c in CUSTOM_FIELDS if c not in names]
            if missing:
                out.append(Finding(
                    name, False, f"{spec.sobject} lacks custom fields {', '.join(missing)}",
                    "create them (Text 255) so forms can store the GA client id and UTMs, "
                    "or point the dbt vars at the fields you use"))
            else:
                out.append(Finding(name, True, f"{spec.sobject} has GA_Client_ID__c and "
                                   "UTM_Source/Medium/Campaign/Content/Term__c"))
            if spec.sobject == "Lead":
                multi = "CurrencyIsoCode" in names
    if multi is not None:
        out.append(Finding(name, True, "multi-currency org (CurrencyIsoCode present)"
                           if multi else "single-currency org (no CurrencyIsoCode): amounts "
                           "are in the corporate currency"))
    return out


def _visibility(source: SalesforceSource) -> list[Finding]:
    """The org's record counts against what the user's queries count, in one request."""
    name = source.name
    version = f"v{API_VERSION}"
    subs = [{"method": "GET",
             "url": f"{version}/limits/recordCount?sObjects={','.join(VISIBILITY_OBJECTS)}"}]
    subs += [{"method": "GET", "url": f"{version}/query?q=SELECT+COUNT()+FROM+{o}"}
             for o in VISIBILITY_OBJECTS]
    try:
        body: Any = source.client.call("visibility check", lambda sf: sf.restful(
            "composite/batch", method="POST", json={"batchRequests": subs, "haltOnError": False}))
        results = body["results"]
        org = {str(i["name"]): int(i["count"]) for i in results[0]["result"]["sObjects"]}
        seen = {o: int(r["result"]["totalSize"]) for o, r in zip(VISIBILITY_OBJECTS, results[1:],
                                                                strict=True)
                if r.get("statusCode") == 200}
    except (SalesforceError, KeyError, TypeError, ValueError, IndexError) as exc:
        detail = error_message(exc) if isinstance(exc, SalesforceError) else type(exc).__name__
        return [Finding(name, True, "record visibility not checked - warning: the org's record "
                        f"counts are not readable ({detail})")]
    short = {o: (seen[o], org[o]) for o in seen if o in org
             and seen[o] < VISIBLE_SHARE * org[o] and org[o] - seen[o] > 1}
    if short:
        text = ", ".join(f"{o} {s:,} of {n:,}" for o, (s, n) in short.items())
        return [Finding(name, False, f"the integration user does not see every record ({text}, "
                        "by the org's record counts)", VIEW_ALL_FIX)]
    total = sum(seen.values())
    return [Finding(name, True, f"the integration user sees every record ({total:,} Leads, "
                    "Contacts, Accounts and Opportunities, as the org counts them)")]


def _check_object(source: SalesforceSource, spec: ObjectSpec) -> tuple[Finding, dict[str, Any] | None]:
    from connectors.salesforce import _is_missing

    name = source.name
    try:
        desc = source._describe(spec.sobject)
        source.client.call(f"read {spec.sobject}",
                           lambda sf: sf.query(f"SELECT Id FROM {spec.sobject} LIMIT 1"))
    except SalesforceError as exc:
        if spec.optional and _is_missing(exc):
            # a warning, not a failure: the product works without it
            return Finding(name, True, f"{spec.sobject} not readable - warning: "
                           f"{spec.optional} ({error_message(exc)})"), None
        return Finding(name, False, f"{spec.sobject} not readable: {error_message(exc)}",
                       "grant the integration user read access to it"), None
    return Finding(name, True, f"{spec.sobject} readable"), desc
