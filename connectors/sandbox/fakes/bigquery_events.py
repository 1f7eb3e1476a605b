"""The world's GA sessions as a GA4 BigQuery export: one row per event, in the export's schema
(docs: "[GA4] BigQuery Export schema"), one table per date.

Each session of ``ga4_row`` (a row holds ``sessions`` sessions of one true visitor with one set
of session UTMs and one landing page) becomes:

* ``session_start`` and ``page_view`` on the landing page (``page_location`` carries the UTMs;
  ``collected_traffic_source`` holds them, as GA collects them from the URL);
* ``user_engagement`` with ``session_engaged = '1'`` when the session was engaged (the first
  ``engaged_sessions`` sessions of the row);
* ``generate_lead`` once per key event (all on the row's first session);

every event with ``user_pseudo_id`` = the **true** visitor (the ``_ga`` cookie's client id: the
export has it whether or not the site sent the ``ga_client_id`` event parameter, which is
present only where it was sent), ``event_params.ga_session_id`` (the session's start in epoch
seconds, unique per visitor) and ``session_traffic_source_last_click.manual_campaign`` = the
session's UTMs. Empty world values are NULL (the Data API shows them as ``(not set)``).

Deterministic: the same store gives the same events, so paging and re-reads are stable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pyarrow as pa

SITE = "https://www.example.com"
STREAM_ID = "4123456789"

_VALUE = pa.struct([("string_value", pa.string()), ("int_value", pa.int64()),
                    ("float_value", pa.float64()), ("double_value", pa.float64())])
_PARAMS = pa.list_(pa.struct([("key", pa.string()), ("value", _VALUE)]))
_MANUAL = pa.struct([(n, pa.string()) for n in (
    "campaign_id", "campaign_name", "source", "medium", "term", "content", "source_platform",
    "creative_format", "marketing_tactic")])
_LAST_CLICK = pa.struct([("manual_campaign", _MANUAL)])
_COLLECTED = pa.struct([(n, pa.string()) for n in (
    "manual_campaign_id", "manual_campaign_name", "manual_source", "manual_medium",
    "manual_term", "manual_content", "gclid", "dclid", "srsltid")])
_DEVICE = pa.struct([("category", pa.string()), ("operating_system", pa.string()),
                     ("language", pa.string())])

SCHEMA = pa.schema([
    ("event_date", pa.string()),
    ("event_timestamp", pa.int64()),
    ("event_name", pa.string()),
    ("event_params", _PARAMS),
    ("event_bundle_sequence_id", pa.int64()),
    ("user_pseudo_id", pa.string()),
    ("device", _DEVICE),
    ("stream_id", pa.string()),
    ("platform", pa.string()),
    ("collected_traffic_source", _COLLECTED),
    ("session_traffic_source_last_click", _LAST_CLICK),
])


def _s(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"string_value": value, "int_value": None,
                                  "float_value": None, "double_value": None}}


def _i(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"string_value": None, "int_value": value,
                                  "float_value": None, "double_value": None}}


def _null(value: str) -> str | None:
    return value or None


def _landing_url(landing: str, utm: tuple[str, ...]) -> str:
    names = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
    query = "&".join(f"{n}={quote(v, safe='')}" for n, v in zip(names, utm, strict=True) if v)
    return SITE + (landing or "/") + (f"?{query}" if query else "")


def day_events(conn: sqlite3.Connection, date: str) -> pa.Table:
    """The ``events_<date>`` table (``date`` ``YYYYMMDD``) of the world store."""
    rows = list(_events(conn, date))
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _events(conn: sqlite3.Connection, date: str) -> Iterator[dict[str, Any]]:
    day = dt.datetime.strptime(date, "%Y%m%d").replace(tzinfo=dt.UTC)
    day_start = int(day.timestamp())
    used: set[tuple[str, int]] = set()
    bundle = 0
    for (true_vid, sent_vid, source, medium, campaign, content, term, landing, sessions,
         engaged, key_events) in conn.execute(
            "SELECT true_visitor_id, visitor_id, source, medium, campaign, ad_content, term, "
            "landing_page, sessions, engaged_sessions, key_events FROM ga4_row WHERE date = ? "
            "ORDER BY true_visitor_id, source, medium, campaign, ad_content, term, landing_page",
            (date,)):
        utm = (source, medium, campaign, content, term)
        last_click = {"manual_campaign": {
            "campaign_id": None, "campaign_name": _null(campaign), "source": _null(source),
            "medium": _null(medium), "term": _null(term), "content": _null(content),
            "source_platform": "Manual" if source else None, "creative_format": None,
            "marketing_tactic": None}}
        collected = None
        if any(utm[:4]) and source not in ("(direct)",):
            collected = {"manual_campaign_id": None, "manual_campaign_name": _null(campaign),
                         "manual_source": _null(source), "manual_medium": _null(medium),
                         "manual_term": _null(term), "manual_content": _null(content),
                         "gclid": None, "dclid": None, "srsltid": None}
        url = _landing_url(landing, utm)
        digest = hashlib.md5("|".join((date, true_vid, *utm, landing)).encode()).digest()
        offset = int.from_bytes(digest[:4], "big") % 80_000
        for i in range(int(sessions)):
            sid = day_start + offset + i * 600
            while (true_vid, sid) in used:           # one ga_session_id per visitor session
                sid += 1
            used.add((true_vid, sid))
            ts = sid * 1_000_000
            base = [_i("ga_session_id", sid), _i("ga_session_number", 1 + i)]
            if sent_vid:
                base.append(_s("ga_client_id", sent_vid))
            page = [_s("page_location", url), _s("page_title", (landing or "/").strip("/") or "Home")]
            is_engaged = i < int(engaged)
            leads = int(key_events) if i == 0 else 0
            names = ["session_start", "page_view"]
            if is_engaged:
                names.append("user_engagement")
            names += ["generate_lead"] * leads
            for k, name in enumerate(names):
                params = base + page + [_s("session_engaged", "1" if k >= 2 else "0")]
                if name == "user_engagement":
                    params.append(_i("engagement_time_msec", 12_000 + 1_000 * i))
                bundle += 1
                yield {
                    "event_date": date, "event_timestamp": ts + k * 1_000, "event_name": name,
                    "event_params": params, "event_bundle_sequence_id": bundle,
                    "user_pseudo_id": true_vid,
                    "device": {"category": "desktop", "operating_system": "Windows",
                               "language": "en-us"},
                    "stream_id": STREAM_ID, "platform": "WEB",
                    "collected_traffic_source": collected if k < 2 else None,
                    "session_traffic_source_last_click": last_click,
                }


def export_dates(conn: sqlite3.Connection) -> list[str]:
    """The dates (``YYYYMMDD``) with sessions: one export table each."""
    return [r[0] for r in conn.execute("SELECT DISTINCT date FROM ga4_row ORDER BY date")]


def logical_bytes(table: pa.Table, columns: set[str]) -> int:
    """BigQuery's logical size of the named top-level columns (its on-demand billing unit):
    STRING 2 bytes + its UTF-8 length, INT64 and FLOAT64 8, NULL 0, a RECORD the sum of its
    fields, a REPEATED field the sum of its elements."""
    return sum(_size(table.column(name).to_pylist()) for name in table.column_names
               if name in columns)


def _size(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return 2 + len(value.encode("utf-8"))
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 8
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, list):
        return sum(_size(v) for v in value)
    return 8
