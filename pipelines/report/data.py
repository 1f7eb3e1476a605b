"""The report's data: the marts it shows, read once (read-only), as plain tables.

Each table is a mart projected to the quarter grain (the report's period), or a sum of a
mart's rows to that grain; nothing is computed here that the page could not show from the
mart itself. The same tables become the CSV files beside the report and the data embedded in
the page, where the quarter and attribution-model pickers work on them client-side.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# Rows of the most-clicked / most-engaging posts and of the leaderboard kept per quarter:
# the page lists ten; the CSVs of the full marts are one query away in the published files.
TOP_POSTS = 10
TOP_ADVOCATES = 15

# Tables of marts added later than the report: a warehouse (or published file) without them
# shows the section empty rather than failing.
OPTIONAL = {"lift": "advocacy_lift", "adjusted": "adjusted_funnel_comparison"}

# name -> SQL. `{fq}` is the fiscal-quarter start of a date column (var fiscal_year_start_month).
TABLE_SQL: dict[str, str] = {
    "funnel": """
        select * exclude (period_grain) from marts.funnel_by_segment
        where period_grain = 'quarter' order by period_start, segment""",
    "comparison": """
        select * exclude (period_grain) from marts.segment_comparison
        where period_grain = 'quarter' order by period_start, transition""",
    "pipeline": """
        select * exclude (period_grain) from marts.pipeline_by_segment
        where period_grain = 'quarter' order by period_start, model, segment""",
    # all opportunities up to as_of (not per quarter): data-driven models need every path
    "model_comparison": """
        select * from marts.model_comparison order by model""",
    "data_driven": """
        select * from marts.data_driven_credit
        order by path_kind, dimension, model, n_paths desc, channel_or_segment""",
    # sessions by fiscal quarter x segment x day of week (web_traffic_by_segment is daily)
    "traffic_dow": """
        select {fq} as period_start, segment, day_of_week, isodow(date) as dow,
               sum(sessions) as sessions
        from marts.web_traffic_by_segment group by all order by 1, 2, 4""",
    # clicks of the posts by the day of week they were posted (clicks are counted per post)
    "clicks_dow": """
        select period_start, dayname(posted_date) as day_of_week, isodow(posted_date) as dow,
               sum(clicks) as clicks
        from marts.advocacy_posts group by all order by 1, 3""",
    "advocates": """
        select * exclude (period_grain) from marts.advocate_leaderboard
        where period_grain = 'quarter' and rank_by_clicks <= {top_advocates}
        order by period_start, rank_by_clicks, advocate_id""",
    # the most-clicked and most-engaging posts of each quarter, and each listed advocate's top post
    "posts": """
        with ranked as (
            select *, row_number() over (partition by period_start order by clicks desc, platform, post_id) as click_rank,
                      row_number() over (partition by period_start order by engagements desc, platform, post_id) as engagement_rank
            from marts.advocacy_posts
        )
        select * exclude (period_grain) from ranked
        where click_rank <= {top_posts} or engagement_rank <= {top_posts}
           or exists (select 1 from marts.advocate_leaderboard l
                      where l.period_grain = 'quarter' and l.period_start = ranked.period_start
                        and l.advocate_id = ranked.advocate_id and l.top_post_id = ranked.post_id
                        and l.rank_by_clicks <= {top_advocates})
        order by period_start, click_rank""",
    "reps": """
        select * exclude (period_grain) from marts.rep_quota_vs_advocacy
        order by period_start, rep_id""",
    "correlation": """
        select * exclude (period_grain) from marts.quota_advocacy_correlation
        where period_grain = 'quarter' order by period_start""",
    "value": """
        select * exclude (period_grain) from marts.advocacy_value
        where period_grain = 'quarter' order by period_start, network""",
    "value_assumptions": """
        select network, valid_from, valid_to, cpc, currency, eemv_per_engagement, source_note
        from config.network_values order by network, valid_from""",
    # the advocacy lift (docs/LIFT.md): the programme readout and the selection-adjusted comparison
    "lift": """
        select * from marts.advocacy_lift order by programme, metric, comparison""",
    "adjusted": """
        select * from marts.adjusted_funnel_comparison
        order by stage, row_type <> 'naive', row_type <> 'adjusted', stratum""",
    "data_quality": """
        select * from marts.data_quality order by status = 'fail' desc, status = 'warn' desc, "check", source""",
    "manifest": """
        select run_id, run_started_at, as_of, reporting_currency, config_json
        from marts.run_manifest order by run_started_at desc limit 1""",
}


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


class MartsMissing(RuntimeError):
    """The warehouse has no marts yet (no successful dbt build)."""


def _fiscal_quarter_sql(column: str, fiscal_start_month: int) -> str:
    # months since the fiscal year's start month, rounded down to a multiple of 3
    shift = fiscal_start_month - 1
    return (f"cast(date_trunc('quarter', {column} - interval {shift} month) "
            f"+ interval {shift} month as date)")


def fiscal_start_month(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("select config_json from marts.run_manifest "
                       "order by run_started_at desc limit 1").fetchone()
    if not row or not row[0]:
        return 1
    return int(json.loads(row[0]).get("vars", {}).get("fiscal_year_start_month", 1) or 1)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN never reaches JSON
        return None
    return value


def load_tables(warehouse: str | Path) -> dict[str, Table]:
    """Every table the report shows, read from the warehouse's marts (read-only)."""
    path = Path(warehouse)
    if not path.exists():
        raise MartsMissing(f"no warehouse at {path}: run `advocacy sync` and `dbt build` first")
    with duckdb.connect(str(path), read_only=True) as conn:
        present = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
        needed = {"funnel_by_segment", "segment_comparison", "pipeline_by_segment", "run_manifest",
                  "web_traffic_by_segment", "advocate_leaderboard", "advocacy_posts",
                  "rep_quota_vs_advocacy", "quota_advocacy_correlation", "advocacy_value", "data_quality",
                  "model_comparison", "data_driven_credit"}
        missing = sorted(needed - present)
        if missing:
            raise MartsMissing(f"the warehouse {path} lacks marts {', '.join(missing)}: "
                               "run `dbt build --project-dir dbt_project --profiles-dir dbt_project`")
        fq = _fiscal_quarter_sql("date", fiscal_start_month(conn))
        has_seed = conn.execute("select count(*) from information_schema.tables where "
                                "table_schema = 'config' and table_name = 'network_values'").fetchone()[0]
        tables = {}
        for name, sql in TABLE_SQL.items():
            if name == "value_assumptions" and not has_seed:
                # the published marts file carries no seeds: the assumptions table stays empty
                sql = sql.replace("from config.network_values", "from (select null::varchar as network, "
                                  "null::date as valid_from, null::date as valid_to, null::double as cpc, "
                                  "null::varchar as currency, null::double as eemv_per_engagement, "
                                  "null::varchar as source_note) where false")
            if name in OPTIONAL and OPTIONAL[name] not in present:
                tables[name] = Table(name, [], [])
                continue
            cur = conn.execute(sql.format(fq=fq, top_posts=TOP_POSTS, top_advocates=TOP_ADVOCATES))
            columns = [d[0] for d in cur.description]
            tables[name] = Table(name, columns, [[_plain(v) for v in r] for r in cur.fetchall()])
    return tables
