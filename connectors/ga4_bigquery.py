"""GA4's BigQuery export as the per-visitor source (``GA4_SOURCE=bigquery_export``): the
sessions of ``ga4.visitor_sessions`` rebuilt from the raw events, through the official
``google-cloud-bigquery`` client. What the export gives that the Data API cannot: every event,
no ``(other)`` row, no thresholds, no sampling, and ``user_pseudo_id`` (the ``_ga`` cookie's
client id) on every event, also where the site did not send the visitor custom dimension
(docs/GA4.md "The BigQuery export").

Same table, same grain, same ``row_key`` as the Data API's per-visitor report (dbt needs no
change): one row per date x visitor x session source / medium / campaign / content / term with
sessions, engaged sessions and key events, a missing value written ``(not set)`` as GA serves
it. How a row is built (the SQL: :func:`export_sql`, one query per group of dates):

* a **session** = the events of one ``user_pseudo_id`` and ``event_params.ga_session_id`` in
  one export table (a date of the property's time zone, as GA's reports count it);
* its **UTMs** = ``session_traffic_source_last_click.manual_campaign`` (session-scoped,
  GA's own last-click attribution: what the Data API's ``sessionSource`` etc. show), or, in
  tables exported before that record existed (July 2024), the ``collected_traffic_source``
  of its ``session_start`` event;
* **engaged** when an event carries ``session_engaged = '1'``; **key events** = its events named
  in ``GA4_BIGQUERY_KEY_EVENTS`` (default ``generate_lead``; GA4 Admin -> Events -> key events).

Incremental by table date, like the Data API path (the same cursor and re-read window
``GA4_REREAD_DAYS``: GA updates a daily table up to three days after its date). The dataset's
tables are listed once per run (``tables.list``); a date uses ``events_YYYYMMDD`` or, while
its daily table is not exported yet, ``events_intraday_YYYYMMDD`` (re-read on later runs).
Dates before the first export table are left as they are (history read from the Data API
stays). Each group of at most 31 dates is one query and one DuckDB transaction: its dates'
rows deleted, the answer's pages upserted as they arrive (``GA4_BIGQUERY_PAGE_SIZE`` rows,
constant memory), its ``report_days`` rows and the cursor. Bytes processed per query are
summed in the sync's note (on-demand billing: docs/GA4.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from connectors import ga4_auth
from connectors import schema as raw
from connectors.ga4_reports import T_DAYS, DayStats, Report, row_key
from connectors.source import Finding, InvalidSetting, ObjectResult

if TYPE_CHECKING:
    from connectors.ga4 import GA4Source

SOURCE_VARIABLE = "GA4_SOURCE"
DATA_API, BIGQUERY_EXPORT = "data_api", "bigquery_export"
# running a query job needs BigQuery's own scope; what the credentials may read and run is
# limited by their IAM roles (BigQuery Data Viewer on the dataset, Job User on the project)
SCOPES = ["https://www.googleapis.com/auth/bigquery"]
DEFAULT_PAGE_SIZE = 50_000
DEFAULT_KEY_EVENTS = ("generate_lead",)
GROUP_DAYS = 31
REQUEST_TIMEOUT = 300.0
NOT_SET = "(not set)"
_TABLE = re.compile(r"^events_(intraday_)?(\d{8})$")
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DATASET = re.compile(r"^\w{1,1024}$")
# (column, last-click field, collected_traffic_source field)
_UTMS = (("session_source", "source", "manual_source"),
         ("session_medium", "medium", "manual_medium"),
         ("session_campaign_name", "campaign_name", "manual_campaign_name"),
         ("session_manual_ad_content", "content", "manual_content"),
         ("session_manual_term", "term", "manual_term"))


def export_sql(project: str, dataset: str, tables: list[tuple[dt.date, str]]) -> str:
    """The sessions query over ``tables`` ((date, table id) pairs). Identifiers are checked
    against BigQuery's naming rules before they are quoted; the key events are a parameter."""
    if not _PROJECT.match(project) or not _DATASET.match(dataset):
        raise InvalidSetting(f"GA4_BIGQUERY_PROJECT={project!r} / GA4_BIGQUERY_DATASET="
                             f"{dataset!r} are not BigQuery names")
    union = "\n    UNION ALL\n".join(
        f"    SELECT '{day:%Y%m%d}' AS table_date, user_pseudo_id, event_name, event_params,\n"
        f"           session_traffic_source_last_click, collected_traffic_source\n"
        f"    FROM `{project}.{dataset}.{_checked(table)}`"
        for day, table in tables)
    utms = ",\n    ".join(
        f"COALESCE(NULLIF(CASE WHEN last_click IS NOT NULL THEN last_click.{lc} "
        f"ELSE collected.{ct} END, ''), '{NOT_SET}') AS {column}" for column, lc, ct in _UTMS)
    columns = ", ".join(c for c, _, _ in _UTMS)
    return f"""WITH events AS (
{union}
),
flat AS (
  SELECT
    table_date,
    user_pseudo_id,
    event_name,
    (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS ga_session_id,
    (SELECT COALESCE(value.string_value, CAST(value.int_value AS STRING))
       FROM UNNEST(event_params) WHERE key = 'session_engaged') AS session_engaged,
    session_traffic_source_last_click.manual_campaign AS last_click,
    CASE WHEN event_name = 'session_start' THEN collected_traffic_source END AS collected
  FROM events
),
sessions AS (
  SELECT
    table_date,
    user_pseudo_id,
    ga_session_id,
    ANY_VALUE(last_click) AS last_click,
    ANY_VALUE(collected) AS collected,
    MAX(CASE WHEN session_engaged = '1' THEN 1 ELSE 0 END) AS engaged,
    SUM(CASE WHEN event_name IN UNNEST(@key_events) THEN 1 ELSE 0 END) AS key_events
  FROM flat
  GROUP BY table_date, user_pseudo_id, ga_session_id
),
touches AS (
  SELECT
    table_date,
    COALESCE(NULLIF(user_pseudo_id, ''), '{NOT_SET}') AS visitor_id,
    {utms},
    engaged,
    key_events
  FROM sessions
)
SELECT table_date, visitor_id, {columns},
       COUNT(*) AS sessions, SUM(engaged) AS engaged_sessions, SUM(key_events) AS key_events
FROM touches
GROUP BY table_date, visitor_id, {columns}
ORDER BY table_date, visitor_id, {columns}"""


def _checked(table: str) -> str:
    if not _TABLE.match(table):
        raise ValueError(f"not a GA4 export table: {table!r}")
    return table


def _chunks(days: list[dt.date], size: int) -> Iterator[list[dt.date]]:
    for i in range(0, len(days), size):
        yield days[i:i + size]


class ExportReader:
    """Reads the per-visitor sessions of :class:`connectors.ga4.GA4Source` from the export."""

    def __init__(self, source: GA4Source) -> None:
        self.source = source
        self.settings = source.settings
        self._client: Any = None
        self.identity = "the credentials"
        self.bytes_processed = 0
        self.queries = 0

    # -- configuration ------------------------------------------------------------------------
    @property
    def project(self) -> str:
        project = (self.settings.get("GA4_BIGQUERY_PROJECT") or "").strip()
        if not project:
            raise InvalidSetting(
                "GA4_SOURCE=bigquery_export needs GA4_BIGQUERY_PROJECT: set it to the Google "
                "Cloud project holding the export (GA4 Admin -> Product links -> BigQuery links)")
        return project

    @property
    def dataset(self) -> str:
        return (self.settings.get("GA4_BIGQUERY_DATASET")
                or f"analytics_{self.source.property_id}").strip()

    @property
    def page_size(self) -> int:
        return max(1, int(self.settings.get("GA4_BIGQUERY_PAGE_SIZE") or DEFAULT_PAGE_SIZE))

    @property
    def key_events(self) -> list[str]:
        text = self.settings.get("GA4_BIGQUERY_KEY_EVENTS")
        names = [n.strip() for n in text.split(",")] if text else list(DEFAULT_KEY_EVENTS)
        return [n for n in names if n]

    def client(self) -> Any:
        if self._client is None:
            from google.cloud import bigquery

            try:
                credentials, self.identity = ga4_auth.load(self.settings, SCOPES)
            except ga4_auth.CredentialsProblem as exc:
                raise RuntimeError(f"ga4: {exc}") from exc
            endpoint = self.settings.get("GA4_BIGQUERY_ENDPOINT")
            options = {"api_endpoint": endpoint.rstrip("/")} if endpoint else None
            self._client = bigquery.Client(project=self.project, credentials=credentials,
                                           client_options=options,
                                           location=self.settings.get("GA4_BIGQUERY_LOCATION"))
        return self._client

    def tables(self) -> dict[dt.date, str]:
        """date -> the export table to read: the daily table, else the intraday one."""
        out: dict[dt.date, str] = {}
        for item in self.client().list_tables(f"{self.project}.{self.dataset}", page_size=1_000,
                                              timeout=REQUEST_TIMEOUT):
            m = _TABLE.match(item.table_id)
            if not m:
                continue
            day = dt.datetime.strptime(m.group(2), "%Y%m%d").date()
            if m.group(1) is None or day not in out:      # daily wins over intraday
                out[day] = item.table_id
        return out

    # -- sync ---------------------------------------------------------------------------------
    def sync_range(self, spec: Report, start: dt.date, end: dt.date, res: ObjectResult, *,
                   move_cursor: bool) -> None:
        """Replace the dates ``start``..``end`` that the export holds (see the module doc)."""
        from google.cloud import bigquery

        tables = self.tables()
        res.requests += 1
        if not tables:
            res.note = f"no GA4 export tables in {self.project}.{self.dataset}"
            return
        first, last = max(start, min(tables)), min(end, max(tables))
        if first > last:
            res.note = (f"no GA4 export tables from {start.isoformat()} to {end.isoformat()} in "
                        f"{self.project}.{self.dataset}")
            return
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        key_events = bigquery.ArrayQueryParameter("key_events", "STRING", self.key_events)
        config = bigquery.QueryJobConfig(query_parameters=[key_events])
        wh = self.source.warehouse
        table_name = f"{spec.table.schema}.{raw.quote(spec.table.name)}"
        for chunk in _chunks(days, GROUP_DAYS):
            present = [(d, tables[d]) for d in chunk if d in tables]
            stats = {d: DayStats(time_zone=self.source.time_zone) for d in chunk}
            written = 0
            with wh.transaction():
                wh.conn.execute(f"DELETE FROM {table_name} WHERE date BETWEEN ? AND ?",
                                [chunk[0], chunk[-1]])
                if present:
                    rows = self.client().query_and_wait(
                        export_sql(self.project, self.dataset, present), job_config=config,
                        page_size=self.page_size, api_timeout=REQUEST_TIMEOUT,
                        wait_timeout=REQUEST_TIMEOUT)
                    self.queries += 1
                    res.requests += 1
                    for page in rows.pages:
                        batch = _to_batch(list(page), stats)
                        written += wh.upsert(spec.table, batch) if batch.num_rows else 0
                        res.pages += 1
                        self.source.progress.page(self.source.name, spec.name, res.pages,
                                                  res.records + written)
                    self.bytes_processed += int(rows.total_bytes_processed or 0)
                wh.upsert(T_DAYS, [stats[d].row(spec.name, d) for d in chunk])
                if move_cursor:
                    wh.set_cursor(self.source.schema, spec.name,
                                  {"last_date": chunk[-1].isoformat(), "end_date": end.isoformat(),
                                   "source": BIGQUERY_EXPORT}, written)
            res.records += written
        res.note = (f"{first.isoformat()}..{last.isoformat()} from the BigQuery export "
                    f"{self.project}.{self.dataset}: {self.queries} queries, "
                    f"{self.bytes_processed:,} bytes processed")

    # -- check --------------------------------------------------------------------------------
    def check(self) -> list[Finding]:
        from google.api_core import exceptions as gexc

        name = self.source.name
        where = f"{self.project}.{self.dataset}"
        try:
            client = self.client()
        except RuntimeError as exc:
            cause = exc.__cause__
            return [Finding(name, False, str(cause).split("; ", 1)[0] if cause else str(exc),
                            ga4_auth.FIX)]
        try:
            client.get_dataset(where, timeout=30)
            tables = self.tables()
        except gexc.NotFound as exc:
            return [Finding(name, False, f"BigQuery export dataset {where} not found "
                            f"({_message(exc)})",
                            "link the property to BigQuery (GA4 Admin -> Product links -> "
                            "BigQuery links; daily export) and set GA4_BIGQUERY_PROJECT to that "
                            "project and GA4_BIGQUERY_DATASET to the dataset it created "
                            f"(analytics_<property id>; default analytics_{self.source.property_id})")]
        except (gexc.Forbidden, gexc.Unauthorized) as exc:
            return [Finding(name, False, f"no access to the BigQuery export {where} "
                            f"({_message(exc)})", self._grant_fix())]
        except Exception as exc:  # noqa: BLE001 - unreachable endpoint and the like
            return [Finding(name, False, f"BigQuery not reachable ({_message(exc)})",
                            "check the network and GA4_BIGQUERY_ENDPOINT (leave it empty for "
                            "Google's API); enable the BigQuery API in the project")]
        findings = [Finding(name, True, f"BigQuery export {where} readable as {self.identity} "
                            f"({len(tables)} event tables"
                            + (f", {min(tables)}..{max(tables)})" if tables else ")"))]
        if not tables:
            findings.append(Finding(name, False, f"the dataset {where} holds no events_YYYYMMDD "
                                    "tables yet", "turn on the Daily export in GA4 Admin -> "
                                    "BigQuery links; the first table arrives the next day"))
            return findings
        try:
            from google.cloud import bigquery

            day = max(tables)
            job = client.query_and_wait(
                export_sql(self.project, self.dataset, [(day, tables[day])]),
                job_config=bigquery.QueryJobConfig(query_parameters=[
                    bigquery.ArrayQueryParameter("key_events", "STRING", self.key_events)]),
                max_results=1, api_timeout=60)
            findings.append(Finding(name, True, f"the sessions query runs on {tables[day]} "
                                    f"({int(job.total_bytes_processed or 0):,} bytes processed)"))
        except (gexc.Forbidden, gexc.Unauthorized) as exc:
            findings.append(Finding(name, False, f"queries in project {self.project} are not "
                                    f"allowed ({_message(exc)})", self._grant_fix()))
        except Exception as exc:  # noqa: BLE001
            findings.append(Finding(name, False, f"the sessions query fails ({_message(exc)})",
                                    "check that the dataset is a GA4 export (events_ tables)"))
        return findings

    def _grant_fix(self) -> str:
        return (f"give {self.identity} the roles BigQuery Data Viewer on the dataset "
                f"{self.dataset} and BigQuery Job User on the project {self.project} (Google "
                "Cloud console -> IAM); a user's Application Default Credentials also need the "
                "bigquery scope (gcloud auth application-default login "
                "--scopes=https://www.googleapis.com/auth/bigquery,"
                "https://www.googleapis.com/auth/cloud-platform)")


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).splitlines()[0][:300]


def _to_batch(rows: list[Any], stats: dict[dt.date, DayStats]) -> pa.Table:
    """One page of the answer as raw-layer rows (and its sessions counted per date)."""
    cols: dict[str, list[Any]] = {c: [] for c in (
        "row_key", "date", "visitor_id", *(c for c, _, _ in _UTMS), "sessions",
        "engaged_sessions", "key_events")}
    for row in rows:
        values = list(row.values())
        day = dt.datetime.strptime(values[0], "%Y%m%d").date()
        dims = [str(v) for v in values[1:7]]
        sessions, engaged, key_events = (int(v or 0) for v in values[7:10])
        cols["row_key"].append(row_key(day.isoformat(), dims))
        cols["date"].append(day)
        for name, value in zip(("visitor_id", *(c for c, _, _ in _UTMS)), dims, strict=True):
            cols[name].append(value)
        cols["sessions"].append(sessions)
        cols["engaged_sessions"].append(engaged)
        cols["key_events"].append(key_events)
        day_stats = stats.get(day)
        if day_stats is not None:
            day_stats.row_count += 1
            day_stats.sessions += sessions
    types = {"date": pa.date32(), "sessions": pa.int64(), "engaged_sessions": pa.int64(),
             "key_events": pa.int64()}
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in cols.items()})
