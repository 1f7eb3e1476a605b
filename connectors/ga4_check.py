"""``advocacy check`` for GA4: credentials, property access, the visitor dimension, a report
with it, and whether GA thresholds it — one finding each, with the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors import ga4_auth
from connectors.ga4 import describe_error
from connectors.retry import RetryPolicy
from connectors.source import Finding

if TYPE_CHECKING:
    from connectors.ga4 import GA4Source


def check(source: GA4Source) -> list[Finding]:
    source.settings.require(source.name, "GA4_PROPERTY_ID")
    findings: list[Finding] = []
    key_fix = ga4_auth.FIX
    try:
        source.client()
    except RuntimeError as exc:   # a broken key must be a finding, not a crash
        cause = exc.__cause__
        text = str(cause).split("; ", 1)[0] if cause else str(exc)
        return [Finding(source.name, False, text, key_fix)]
    email = source.identity
    findings.append(Finding(source.name, True, f"credentials loaded ({email})"))

    from google.api_core import exceptions as gexc

    # a check answers in seconds: few retries, and no waiting for a quota refill
    saved, source.retry_policy = source.retry_policy, RetryPolicy(attempts=2, base_delay=0.2,
                                                                  max_delay=2)
    saved_wait, source.pacer.max_wait = source.pacer.max_wait, 0.0
    try:
        try:
            metadata = source._call("metadata", lambda: source.client().get_metadata(
                name=f"{source.property_name}/metadata", timeout=30))
        except (gexc.Forbidden, gexc.NotFound, gexc.PermissionDenied) as exc:
            findings.append(Finding(
                source.name, False, f"property {source.property_id} not accessible "
                f"({describe_error(exc)})",
                f"check GA4_PROPERTY_ID (GA4 Admin -> Property settings -> Property ID) and "
                f"give {email} the Viewer role (GA4 Admin -> Property access management)"))
            return findings
        except (gexc.Unauthorized, gexc.Unauthenticated) as exc:
            findings.append(Finding(
                source.name, False, f"credentials rejected ({describe_error(exc)})",
                "the key may be deleted or disabled: " + key_fix))
            return findings
        except Exception as exc:  # noqa: BLE001 - unreachable endpoint, quota, ...
            findings.append(Finding(
                source.name, False, f"GA4 Data API not reachable ({describe_error(exc)})",
                "check the network and GA4_API_ENDPOINT (leave it empty for Google's API); "
                "enable the Google Analytics Data API in the service account's project"))
            return findings
        findings.append(Finding(source.name, True, f"property {source.property_id} reachable"))

        names = {d.api_name for d in metadata.dimensions}
        wanted = source.visitor_dimension
        if source.export is not None:
            # the per-visitor sessions come from the BigQuery export (user_pseudo_id): the
            # custom dimension and its thresholds do not matter (connectors/ga4_bigquery.py)
            findings.append(Finding(source.name, True, "per-visitor sessions from the BigQuery "
                                    "export (GA4_SOURCE=bigquery_export): the visitor dimension "
                                    "is not needed"))
            return findings
        if wanted not in names:
            custom = sorted(n for n in names if n.startswith(("customEvent:", "customUser:")))
            param = wanted.split(":", 1)[-1]
            findings.append(Finding(
                source.name, False,
                f"visitor dimension {wanted} not found on the property"
                + (f" (custom dimensions there: {', '.join(custom)})" if custom
                   else " (it has no custom dimensions)"),
                f"register it in GA4 Admin -> Data display -> Custom definitions -> Create "
                f"custom dimension (scope Event, event parameter '{param}'), and make the "
                f"site send that parameter with every event (gtag config/GTM) carrying the "
                f"same visitor id the CRM forms capture; or set GA4_VISITOR_DIMENSION to the "
                f"right API name. GA only has it from the day it is registered"))
            return findings
        findings.append(Finding(source.name, True, f"visitor dimension {wanted} exists"))

        try:
            answer = source.run_report("check report", {
                "dimensions": [{"name": "date"}, {"name": wanted}],
                "metrics": [{"name": "sessions"}],
                "date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}],
                "limit": 1,
            })
        except Exception as exc:  # noqa: BLE001
            findings.append(Finding(
                source.name, False, f"report with {wanted} fails ({describe_error(exc)})",
                "check the property's permissions and that the dimension is event-scoped"))
            return findings
        findings.append(Finding(
            source.name, True, f"report with the visitor dimension runs "
            f"({int(answer.get('rowCount') or 0)} rows in the last 7 days; {source.pacer.note_text() or 'no quota info'})"))
        if (answer.get("metadata") or {}).get("subjectToThresholding"):
            findings.append(Finding(
                source.name, False, "GA applies data thresholds to the per-visitor report: "
                "rows with few users (one visitor each) may be withheld",
                "in GA4 Admin -> Data collection, turn Google signals off, or set Reporting "
                "identity to Device-based (thresholds protect Google-signals data); the "
                "loss is measured per date in marts.data_quality (ga4_visitor_report_loss)"))
    finally:
        source.retry_policy = saved
        source.pacer.max_wait = saved_wait
    return findings
