"""Headline tables from the marts, printed in the terminal (``make demo``, step 6).

``print_headline(warehouse, truth)`` reads ``marts.*`` read-only. When the sandbox truth is
given, the funnel is checked against its ``observable`` part and the result printed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) >= 10 else f"{v:.3f}"
        return str(v)

    cells = [[fmt(v) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def headline_tables(warehouse: str | Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        out = [
            _table("Funnel by lead quarter (advocacy vs other, Wilson 95% CI of lead->MQL)",
                   ["quarter", "segment", "leads", "mqls", "sqls", "opps", "won", "won_amount",
                    "lead->mql", "ci_low", "ci_high", "mature"],
                   q("""select period_start, segment, leads, mqls, sqls, opportunities, won, won_amount,
                               lead_to_mql_rate, lead_to_mql_rate_ci_low, lead_to_mql_rate_ci_high, is_mature
                        from marts.funnel_by_segment where period_grain = 'quarter'
                        order by period_start, segment""")),
            _table("Pipeline by creation quarter: credited under W-shaped, sourced and influenced (full amounts)",
                   ["quarter", "segment", "credited", "credited_won", "sourced", "influenced", "close_rate"],
                   q("""select period_start, segment, pipeline_amount, won_amount, sourced_pipeline,
                               influenced_pipeline, close_rate
                        from marts.pipeline_by_segment where period_grain = 'quarter' and model = 'w_shaped'
                        order by period_start, segment""")),
            _table("Top advocates (all quarters)",
                   ["advocate", "posts", "clicks", "sessions", "leads", "pipeline_influenced"],
                   q("""select advocate_name, sum(posts), sum(clicks), sum(sessions), sum(leads_sourced),
                               sum(pipeline_influenced)
                        from marts.advocate_leaderboard where period_grain = 'quarter'
                        group by advocate_name order by sum(clicks) desc limit 10""")),
            _table("Advocacy value by quarter",
                   ["quarter", "network", "clicks", "sessions", "paid_equivalent", "earned_media"],
                   q("""select period_start, network, clicks, advocacy_sessions, paid_equivalent_value,
                               earned_media_value
                        from marts.advocacy_value where period_grain = 'quarter'
                        order by period_start, network""")),
            _table("Data quality (warnings)", ["check", "source", "value", "detail"],
                   q("""select "check", source, value, detail from marts.data_quality
                        where status = 'warn' order by 1, 2""")),
        ]
    return out


def funnel_matches_truth(warehouse: str | Path, truth: dict[str, Any]) -> tuple[int, int]:
    """(rows equal, rows compared) of the funnel against the truth's observable funnel."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        mart = {(g, str(s), seg): (a, b, c, d, e, f) for g, s, seg, a, b, c, d, e, f in conn.execute(
            """select period_grain, period_start, segment, leads, mqls, sqls, opportunities, won,
                      won_amount from marts.funnel_by_segment""").fetchall()}
    ok = 0
    rows = truth["observable"]["funnel"]
    for r in rows:
        got = mart.get((r["period_grain"], r["period_start"], r["segment"]))
        if got and list(got[:5]) == [r["leads"], r["mqls"], r["sqls"], r["opportunities"], r["won"]] \
                and abs(float(got[5] or 0) - r["won_amount"]) <= 0.01:
            ok += 1
    return ok, len(rows)


def print_headline(warehouse: str | Path, truth: dict[str, Any] | None = None) -> None:
    for table in headline_tables(warehouse):
        print("\n" + table)
    if truth and "observable" in truth:
        ok, n = funnel_matches_truth(warehouse, truth)
        verdict = "equal to" if ok == n else "DIFFERENT from"
        print(f"\nFunnel {verdict} the sandbox truth ({ok}/{n} rows).")
