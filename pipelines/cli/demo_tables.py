"""Headline tables from the marts, printed in the terminal at the end of ``advocacy demo``.

``headline_tables(warehouse)`` reads ``marts.*`` read-only and labels what it prints for a
reader, not a database: quarters as ``2025 Q3``, amounts with their currency, rates as
percentages, ``none`` for a table without rows, and a footnote for what a column means.
``truth_verdict`` compares the funnel with the sandbox truth's ``observable`` part (``world``
with ``GA4_SOURCE=bigquery_export``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb


def quarter(value: Any, fiscal_start_month: int = 1) -> str:
    """``2025-07-01`` -> ``2025 Q3`` (calendar quarters; a fiscal year starting in another
    month labels its quarters ``FY2026 Q1`` by the year it ends in)."""
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if fiscal_start_month == 1:
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    shifted = (day.month - fiscal_start_month) % 12
    year = day.year + (1 if day.month >= fiscal_start_month else 0)
    return f"FY{year} Q{shifted // 3 + 1}"


def money(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.0f}"


def percent(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f}%"


def interval(bounds: Any) -> str:
    low, high = bounds if bounds else (None, None)
    if low is None or high is None:
        return "-"
    return f"{float(low) * 100:.1f}-{float(high) * 100:.1f}%"


def count(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]],
          note: str = "", empty: str = "none") -> str:
    """A titled table of pre-formatted cells: text columns left, numbers right."""
    if not rows:
        return "\n".join([title, f"  {empty}"] + ([note] if note else []))
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    numeric = [all(_numeric(r[i]) for r in rows) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    lines = [title, fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]
    return "\n".join(lines + ([note] if note else []))


def _numeric(cell: str) -> bool:
    text = cell.replace(",", "").replace("%", "").replace("-", "").replace(".", "")
    return text.isdigit() or cell == "-"


def _vars(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The dbt vars the marts were built with (``marts.run_manifest``'s last build)."""
    try:
        row = conn.execute("select reporting_currency, config_json from marts.run_manifest "
                           "order by run_started_at desc limit 1").fetchone()
    except duckdb.Error:
        return {}
    if row is None:
        return {}
    try:
        recorded = json.loads(row[1] or "{}").get("vars") or {}
    except (ValueError, AttributeError):
        recorded = {}
    return {**recorded, "reporting_currency": row[0]}


def headline_tables(warehouse: str | Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        settings = _vars(conn)
        currency = str(settings.get("reporting_currency") or "USD")
        maturity = settings.get("maturity_days") or 90
        fiscal = int(settings.get("fiscal_year_start_month") or 1)

        def q(sql: str) -> list[tuple]:
            return conn.execute(sql).fetchall()

        def rows(sql: str, *formats: Callable[[Any], str]) -> list[list[str]]:
            return [[f(v) for f, v in zip(formats, r, strict=True)] for r in q(sql)]

        qtr = lambda v: quarter(v, fiscal)  # noqa: E731
        out = [
            table("Funnel by quarter of the lead: advocacy vs every other channel",
                  ["quarter", "segment", "leads", "MQLs", "SQLs", "opps", "won",
                   f"won {currency}", "lead->MQL", "95% interval", "mature"],
                  rows("""select period_start, segment, leads, mqls, sqls, opportunities, won,
                                 won_amount, lead_to_mql_rate,
                                 [lead_to_mql_rate_ci_low, lead_to_mql_rate_ci_high], is_mature
                          from marts.funnel_by_segment where period_grain = 'quarter'
                          order by period_start, segment""",
                       qtr, str, count, count, count, count, count, money, percent, interval,
                       lambda m: "yes" if m else "no"),
                  note=f"mature: every lead of the quarter is at least {maturity} days old, so its "
                       "conversions are (nearly) final;\n95% interval: Wilson score interval of "
                       "lead->MQL (too wide to compare when the quarter has few leads)"),
            table(f"Pipeline by quarter the opportunity was created ({currency})",
                  ["quarter", "segment", "W-shaped credit", "of it won", "sourced",
                   "influenced", "close rate"],
                  rows("""select period_start, segment, pipeline_amount, won_amount,
                                 sourced_pipeline, influenced_pipeline, close_rate
                          from marts.pipeline_by_segment
                          where period_grain = 'quarter' and model = 'w_shaped'
                          order by period_start, segment""",
                       qtr, str, money, money, money, money, percent),
                  note="W-shaped credit: the segment's share of each amount; sourced / influenced: "
                       "whole amounts of the\nopportunities the segment sourced / touched "
                       "(docs/DEFINITIONS.md, \"Attribution\")"),
            table("Top 5 advocates (all quarters)",
                  ["advocate", "posts", "clicks", "sessions", "leads",
                   f"pipeline influenced {currency}"],
                  rows("""select advocate_name, sum(posts), sum(clicks), sum(sessions),
                                 sum(leads_sourced), sum(pipeline_influenced)
                          from marts.advocate_leaderboard where period_grain = 'quarter'
                          group by advocate_name order by sum(clicks) desc, advocate_name
                          limit 5""",
                       str, count, count, count, count, money)),
            table(f"Advocacy value by network ({currency}, all quarters)",
                  ["network", "clicks", "sessions", "paid-click equivalent", "earned media"],
                  rows("""select network, sum(clicks), sum(advocacy_sessions),
                                 sum(paid_equivalent_value), sum(earned_media_value)
                          from marts.advocacy_value where period_grain = 'quarter'
                          group by network order by sum(clicks) desc""",
                       str, count, count, money, money)),
            table("Data-quality warnings", ["check", "source", "value", "detail"],
                  rows("""select "check", source, value, detail from marts.data_quality
                          where status = 'warn' order by 1, 2""", str, str, str, str),
                  empty="none: every data-quality check passed (marts.data_quality)"),
        ]
    return out


def truth_part(env: Any = None) -> str:
    """The truth part the marts must equal: ``world`` when GA4's per-visitor sessions come from
    the BigQuery export (every session, every visitor: docs/GA4.md), else ``observable``."""
    import os

    source = ((env if env is not None else os.environ).get("GA4_SOURCE") or "").strip().lower()
    return "world" if source == "bigquery_export" else "observable"


def funnel_matches_truth(warehouse: str | Path, truth: dict[str, Any],
                         part: str = "observable") -> tuple[int, int]:
    """(rows equal, rows compared) of the funnel against the funnel of the truth's ``part``."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        mart = {(g, str(s), seg): (a, b, c, d, e, f) for g, s, seg, a, b, c, d, e, f in conn.execute(
            """select period_grain, period_start, segment, leads, mqls, sqls, opportunities, won,
                      won_amount from marts.funnel_by_segment""").fetchall()}
    ok = 0
    rows = truth[part]["funnel"]
    for r in rows:
        got = mart.get((r["period_grain"], r["period_start"], r["segment"]))
        if got and list(got[:5]) == [r["leads"], r["mqls"], r["sqls"], r["opportunities"], r["won"]] \
                and abs(float(got[5] or 0) - r["won_amount"]) <= 0.01:
            ok += 1
    return ok, len(rows)


def truth_verdict(warehouse: str | Path, truth: dict[str, Any], part: str | None = None) -> str:
    part = part or truth_part()
    ok, n = funnel_matches_truth(warehouse, truth, part)
    which = f"sandbox truth ({part} part: " + ("every GA session, the BigQuery export"
                                              if part == "world" else "what the GA4 Data API shows") + ")"
    if ok == n:
        return (f"The funnel equals the {which}: {ok}/{n} rows, computed independently "
                "of the product.")
    return f"The funnel DIFFERS from the {which}: {ok}/{n} rows equal."


def print_headline(warehouse: str | Path, truth: dict[str, Any] | None = None) -> None:
    for text in headline_tables(warehouse):
        print("\n" + text)
    if truth and "observable" in truth:
        print("\n" + truth_verdict(warehouse, truth))
