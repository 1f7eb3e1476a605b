"""``advocacy bench``: measure the connectors against the sandbox at several scales.

For each scale (``--scales 0.1,1``):

1. generate the sandbox world in a child process (wall time, peak RSS);
2. serve it through the local fakes and run a **clean full sync of each source** (an empty
   warehouse, no cursors) in its own child process: wall time, the child's CPU time and peak
   RSS (``os.wait4``: that child alone), records written, and the requests each fake served,
   split into *data* requests (pages of records) and fixed *overhead* (auth, describe,
   COUNT(), snapshot/probe queries, Bulk job bookkeeping);
3. compare the requests with the **minimum** a client needs for the records the APIs hold at
   the page sizes the APIs allow (see :func:`full_minimum`; the table says what it counts);
4. ``Sandbox.advance(days)`` and an **incremental sync** of each source: requests and records
   against what changed in the world;
5. ``dbt build`` over the warehouse when ``dbt_project/dbt_project.yml`` exists.

The result is printed as markdown; ``--write`` puts it into ``docs/PERFORMANCE.md`` between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` with the machine, date and commit, and
``--json`` keeps the raw figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "PERFORMANCE.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# Page sizes the APIs allow (the ceilings the minimum is computed with).
HUBSPOT_LIST_MAX = 100          # GET /crm/v3/objects/{t}, /crm/v3/owners
HUBSPOT_SEARCH_MAX = 200        # POST /crm/v3/objects/{t}/search
HUBSPOT_ASSOC_BATCH_MAX = 1_000  # POST /crm/v4/associations/{from}/{to}/batch/read
SALESFORCE_REST_BATCH = 2_000   # query / queryAll / nextRecordsUrl
SALESFORCE_BULK_PAGE = 50_000   # Bulk 2.0 results page (maxRecords as the connector asks)
SALESFORCE_BATCH_MAX = 25       # Composite Batch subrequests
GA4_MAX_ROWS = 250_000          # runReport limit
HUBSPOT_OBJECTS = ("contacts", "companies", "deals")
# the project's variables that would change what a sync reads: never taken from the caller
_PROJECT_VARS = re.compile(r"^(HUBSPOT_|SALESFORCE_|GA4_|GOOGLE_APPLICATION_CREDENTIALS$|"
                           r"ADVOCACY_EXPORTS_DIR$|HISTORY_START_DATE$|DUCKDB_PATH$)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scales", default="0.1,1",
                        help="comma-separated world scales to measure (default 0.1,1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sources", default="",
                        help="comma-separated sources (default: all of hubspot, salesforce, ga4, "
                             "advocacy_platform)")
    parser.add_argument("--advance-days", type=int, default=1,
                        help="days the world moves on before the incremental sync (default 1; 0 skips it)")
    parser.add_argument("--no-dbt", action="store_true", help="skip the dbt build")
    parser.add_argument("--workdir", default="",
                        help="where worlds, warehouses and logs go (default: a temporary directory, removed)")
    parser.add_argument("--write", action="store_true",
                        help="update the figures section of --out (docs/PERFORMANCE.md)")
    parser.add_argument("--out", default=str(DOC), help="the document --write updates")
    parser.add_argument("--json", default="", help="also write the raw figures to this JSON file")


# -- measuring child processes ------------------------------------------------------------------
# ``ru_maxrss`` of a child is no good here: subprocess starts children with vfork, and Linux
# carries the parent's RSS high-water mark across exec, so every child would "peak" at least at
# the bench's own size. Each child therefore reports its own peak (VmHWM of its address space,
# which starts afresh at exec) and its children's (RUSAGE_CHILDREN) from an atexit hook.
_WRAPPER = r"""
import atexit, os, resource, runpy, sys
def _report():
    hwm = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["ADVOCACY_BENCH_RSS_FILE"], "w") as fh:
        fh.write(f"{hwm} {kids}")
atexit.register(_report)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@dataclasses.dataclass
class ChildRun:
    code: int
    seconds: float
    cpu_seconds: float       # the child's user + system time (and its children's)
    peak_rss_mb: float       # the child's own peak RSS (VmHWM)
    children_peak_rss_mb: float  # the largest peak RSS among the processes it ran (dbt)
    fake_cpu_seconds: float  # this process's CPU meanwhile: the fakes serving the child
    stdout: str
    stderr: str


def run_module_child(module: str, args: list[str], env: dict[str, str], log_path: Path) -> ChildRun:
    """``python -m module args...`` in a child process, measured alone: wall time, CPU time
    (``os.wait4``) and peak RSS (reported by the child itself)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_path.with_suffix(".out"), log_path.with_suffix(".err")
    rss_path = log_path.with_suffix(".rss")
    rss_path.unlink(missing_ok=True)
    env = {**env, "ADVOCACY_BENCH_RSS_FILE": str(rss_path)}
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, module, *args], env=env, cwd=ROOT,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    try:
        own_kb, kids_kb = (int(x) for x in rss_path.read_text().split())
    except (OSError, ValueError):
        own_kb = kids_kb = 0
    return ChildRun(
        code=proc.returncode, seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=own_kb / 1024, children_peak_rss_mb=kids_kb / 1024,
        fake_cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        stdout=out_path.read_text(errors="replace"), stderr=err_path.read_text(errors="replace"),
    )


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _PROJECT_VARS.match(k)}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- classifying the requests the fakes serve -----------------------------------------------------
DATA, OVERHEAD = "data", "overhead"


def classify_hubspot(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
    if path.startswith("/crm/v3/objects/") and path.endswith("/search"):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        sorts = req.get("sorts") or []
        if int(req.get("limit") or 0) == 1 and any(
                isinstance(s, dict) and s.get("direction") == "DESCENDING" for s in sorts):
            return OVERHEAD, "snapshot search"
        return DATA, "search"
    if path.startswith("/crm/v3/objects/") and method == "GET":
        archived = (query.get("archived") or ["false"])[0].lower() == "true"
        return DATA, "archived list" if archived else "list"
    if path.startswith("/crm/v4/associations/"):
        return DATA, "associations"
    if path.startswith("/crm/v3/owners"):
        return DATA, "owners"
    if path.startswith("/crm/v3/pipelines"):
        return DATA, "pipelines"
    return OVERHEAD, "other"


def classify_salesforce(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
    if "/oauth2/" in path:
        return OVERHEAD, "auth"
    if path.endswith("/describe") or path.endswith("/describe/"):
        return OVERHEAD, "describe"
    if path.rstrip("/").endswith("/composite/batch"):
        return OVERHEAD, "describe batch"
    if "/limits/recordCount" in path:
        return OVERHEAD, "record count"
    if "/jobs/query" in path:
        if path.rstrip("/").endswith("/results"):
            return DATA, "bulk results"
        if method == "POST":
            return OVERHEAD, "bulk create"
        if method == "DELETE":
            return OVERHEAD, "bulk delete"
        return OVERHEAD, "bulk poll"
    if re.search(r"/(query|queryAll)/?$", path):
        soql = (query.get("q") or [""])[0]
        if re.match(r"\s*SELECT\s+COUNT\(\)", soql, re.IGNORECASE):
            return OVERHEAD, "count"
        return DATA, "query"
    if re.search(r"/(query|queryAll)/[^/]+$", path):
        return DATA, "query more"
    if re.search(r"/sobjects/[^/]+/deleted/?$", path):
        return DATA, "deleted"
    if re.search(r"/sobjects/[^/]+/updated/?$", path):
        return DATA, "updated"
    return OVERHEAD, "other"


def classify_ga4(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[str, str]:
    if path.endswith(":runReport"):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        dims = [d.get("name") for d in req.get("dimensions") or [] if isinstance(d, dict)]
        if dims == ["date"]:
            return OVERHEAD, "probe"
        return DATA, "report"
    if path == "/token" or "token" in path:
        return OVERHEAD, "auth"
    return OVERHEAD, "other"


CLASSIFIERS: dict[str, Callable[..., tuple[str, str]]] = {
    "hubspot": classify_hubspot, "salesforce": classify_salesforce, "ga4": classify_ga4,
}


class Tally:
    """Counts the requests one fake answers, by (data|overhead, kind), and remembers which
    Salesforce objects described successfully. Installed by wrapping the app's ``handle``
    (observation only: the answer is the fake's own)."""

    def __init__(self, service: str, server: Any) -> None:
        self.service = service
        self.counts: Counter[tuple[str, str]] = Counter()
        self.errors = 0
        self.described: set[str] = set()
        self.deletable: set[str] = set()    # described with IsDeleted and replicateable
        self._lock = threading.Lock()
        app = server.app
        original = app.handle
        classify = CLASSIFIERS[service]

        def handle(request: Any) -> Any:
            response = original(request)
            cls = classify(request.method, request.path, request.query, request.body)
            with self._lock:
                self.counts[cls] += 1
                if response.status >= 400:
                    self.errors += 1
                m = re.search(r"/sobjects/([^/]+)/describe", request.path)
                if m and response.status < 300:
                    try:
                        self._described(m.group(1), json.loads(response.body or b"{}"))
                    except ValueError:
                        self._described(m.group(1), {})
                if request.path.rstrip("/").endswith("/composite/batch") and response.status < 300:
                    self._batch(request.body, response.body)
            return response

        app.handle = handle

    def _described(self, sobject: str, desc: Any) -> None:
        self.described.add(sobject)
        desc = desc if isinstance(desc, dict) else {}
        names = {f.get("name") for f in desc.get("fields") or [] if isinstance(f, dict)}
        if "IsDeleted" in names and desc.get("replicateable", True):
            self.deletable.add(sobject)

    def _batch(self, request_body: bytes, response_body: bytes) -> None:
        """The describes answered inside a Composite Batch request."""
        try:
            subs = json.loads(request_body or b"{}").get("batchRequests") or []
            results = json.loads(response_body or b"{}").get("results") or []
        except (ValueError, AttributeError):
            return
        for sub, result in zip(subs, results, strict=False):
            url = sub.get("url", "") if isinstance(sub, dict) else ""
            m = re.search(r"sobjects/([^/?]+)/describe", url)
            if m and isinstance(result, dict) and result.get("statusCode", 500) < 300:
                self._described(m.group(1), result.get("result"))

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.errors = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        data = sum(n for (c, _), n in counts.items() if c == DATA)
        overhead = sum(n for (c, _), n in counts.items() if c == OVERHEAD)
        kinds: dict[str, int] = {}
        for (_, kind), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1])):
            kinds[kind] = kinds.get(kind, 0) + n
        return {"requests": data + overhead, "data": data, "overhead": overhead,
                "kinds": kinds, "errors": self.errors}


# -- what the APIs hold (from the world store), and the minimum requests ----------------------------
def _pages(n: int, size: int) -> int:
    """Requests to read ``n`` records at ``size`` per page: an empty list still costs one."""
    return max(1, math.ceil(n / size))


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def world_clock(store_path: Path) -> dt.date:
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        return dt.date.fromisoformat(json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = 'clock'").fetchone()[0]))
    finally:
        conn.close()


def holdings(store_path: Path) -> dict[str, Any]:
    """Records each API serves, read straight from the world store, plus the high-water marks
    an incremental run starts from."""
    from connectors.salesforce import OBJECTS as SF_OBJECTS
    from connectors.salesforce import SalesforceSource
    from connectors.source import Settings

    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        hs: dict[str, dict[str, int]] = {}
        for t in HUBSPOT_OBJECTS:
            live, archived, newest = conn.execute(
                "SELECT coalesce(sum(archived = 0), 0), coalesce(sum(archived = 1), 0), "
                "coalesce(max(CASE WHEN archived = 0 THEN updated_at_ms END), 0) "
                "FROM hubspot_object WHERE object_type = ?",
                (t,)).fetchone()
            hs[t] = {"live": int(live), "archived": int(archived), "newest_ms": int(newest)}
        live, archived = conn.execute(
            "SELECT coalesce(sum(archived = 0), 0), coalesce(sum(archived = 1), 0) "
            "FROM hubspot_owner").fetchone()
        hs["owners"] = {"live": int(live), "archived": int(archived)}

        history_start = SalesforceSource(Settings({}), None).history_start()  # type: ignore[arg-type]
        hist_iso = history_start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        sf: dict[str, dict[str, Any]] = {}
        for spec in SF_OBJECTS:
            col = "created_date" if spec.history else "system_modstamp"
            where = "sobject = ? AND purged = 0"
            params: list[Any] = [spec.sobject]
            if spec.history:
                where += " AND created_date >= ?"
                params.append(hist_iso)
            n, newest = conn.execute(
                f"SELECT count(*), max({col}) FROM sf_record WHERE {where}", params).fetchone()
            sf[spec.sobject] = {"records": int(n), "newest": newest, "cursor_column": col,
                                "history": spec.history}

        clock = dt.date.fromisoformat(json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = 'clock'").fetchone()[0]))
        first = (clock - dt.timedelta(days=730)).strftime("%Y%m%d")
        last = (clock - dt.timedelta(days=1)).strftime("%Y%m%d")
        visitor = dict(conn.execute(
            "SELECT date, count(*) FROM (SELECT DISTINCT date, visitor_id, source, medium, "
            "campaign, ad_content, term FROM ga4_row WHERE date BETWEEN ? AND ?) "
            "GROUP BY date", (first, last)).fetchall())
        traffic = dict(conn.execute(
            "SELECT date, count(*) FROM (SELECT DISTINCT date, source, medium, campaign, "
            "ad_content FROM ga4_row WHERE date BETWEEN ? AND ?) GROUP BY date",
            (first, last)).fetchall())
        per_day = {d: (int(n), int(s)) for d, n, s in conn.execute(
            "SELECT date, count(*), sum(sessions) FROM ga4_row WHERE date BETWEEN ? AND ? "
            "GROUP BY date", (first, last)).fetchall()}
        data_days = sorted(d for d, (_, s) in per_day.items() if s > 0)
        ga4 = {"dates": len(data_days), "data_days": data_days,
               "visitor_rows": {d: visitor.get(d, 0) for d in data_days},
               "traffic_rows": {d: traffic.get(d, 0) for d in data_days},
               "per_day": per_day}
    finally:
        conn.close()
    return {"hubspot": hs, "salesforce": sf, "ga4": ga4, "clock": clock.isoformat()}


def full_minimum(h: dict[str, Any], described: set[str] | None) -> dict[str, dict[str, Any]]:
    """The fewest requests that can read everything the APIs hold, at the largest page sizes
    the APIs allow: the record pages (``data_minimum``) plus the few requests no client can do
    without (``fixed``).

    * HubSpot: per object ``ceil(live/100)`` list pages + ``ceil(archived/100)`` archived
      pages (an empty list still costs one request), owners the same, 1 pipelines request,
      ``ceil(live deals/1000)`` association batch reads. Fixed: none (a private-app token
      needs no request; properties are asked for by name).
    * Salesforce: per object the org has (its describe answered) the cheaper of REST,
      ``ceil(records/2000)`` query pages (at least one), and Bulk 2.0, one job create plus
      ``ceil(records/50000)`` result pages. Fixed: the OAuth token, and one Composite Batch
      per 25 objects for their describes (fields are discovered, not configured: a new field
      must become a column).
    * GA4: per date with sessions, one per-visitor request, and per calendar month one traffic
      request, times ``ceil(rows/250000)`` pages. Fixed: one request that says which dates hold sessions
      (without it, every empty date of the window costs two requests).

    Nothing else is in the minimum: no record count, status poll, job delete or snapshot."""
    hs = h["hubspot"]
    hub = 0
    detail_h: dict[str, int] = {}
    for t in HUBSPOT_OBJECTS:
        n = _pages(hs[t]["live"], HUBSPOT_LIST_MAX) + _pages(hs[t]["archived"], HUBSPOT_LIST_MAX)
        detail_h[t] = n
        hub += n
    detail_h["owners"] = (_pages(hs["owners"]["live"], HUBSPOT_LIST_MAX)
                          + _pages(hs["owners"]["archived"], HUBSPOT_LIST_MAX))
    detail_h["pipelines"] = 1
    detail_h["associations"] = math.ceil(hs["deals"]["live"] / HUBSPOT_ASSOC_BATCH_MAX)
    hub += detail_h["owners"] + detail_h["pipelines"] + detail_h["associations"]

    detail_s = salesforce_minimum({o: info["records"] for o, info in h["salesforce"].items()},
                                  described)
    sf_data = sum(pages for pages, _ in detail_s.values())
    sf_fixed = (1 + math.ceil(len(detail_s) / SALESFORCE_BATCH_MAX)
                + sum(jobs for _, jobs in detail_s.values()))

    g = h["ga4"]
    # the per-visitor report one date per request (GA's (other) rule acts per date), the
    # traffic report one calendar month per request (date is one of its dimensions)
    months: dict[str, int] = {}
    for d in g["data_days"]:
        months[d[:6]] = months.get(d[:6], 0) + g["traffic_rows"][d]
    ga = (sum(_pages(g["visitor_rows"][d], GA4_MAX_ROWS) for d in g["data_days"])
          + sum(_pages(n, GA4_MAX_ROWS) for n in months.values()))
    return {"hubspot": {"minimum": hub, "data_minimum": hub, "fixed": 0, "detail": detail_h},
            "salesforce": {"minimum": sf_data + sf_fixed, "data_minimum": sf_data,
                           "fixed": sf_fixed,
                           "detail": {o: {"pages": p, "bulk": bool(j)} for o, (p, j) in detail_s.items()}},
            "ga4": {"minimum": ga + 1, "data_minimum": ga, "fixed": 1,
                    "detail": {"dates": g["dates"], "reports": 2}}}


def salesforce_minimum(records: dict[str, int], described: set[str] | None) -> dict[str, tuple[int, int]]:
    """Per object the org has (objects without a describe cost nothing): (record pages, Bulk
    jobs) of the cheaper way to read ``n`` records, REST (``ceil(n/2000)`` pages, at least one)
    or Bulk 2.0 (one job create, then ``ceil(n/50000)`` result pages); a tie goes to REST."""
    out: dict[str, tuple[int, int]] = {}
    for sobject, n in records.items():
        if described is not None and sobject not in described:
            continue
        rest = _pages(n, SALESFORCE_REST_BATCH)
        bulk = _pages(n, SALESFORCE_BULK_PAGE)
        out[sobject] = (bulk, 1) if 1 + bulk < rest else (rest, 0)
    return out


def changes(before: dict[str, Any], after_store: Path, *, deletable: set[str] | None = None,
            hubspot_lookback_ms: int = 600_000,
            salesforce_lookback: dt.timedelta = dt.timedelta(minutes=5)) -> dict[str, dict[str, Any]]:
    """What changed in the world since ``before`` (a :func:`holdings`), and the minimum an
    incremental run needs to read it and notice deletes:

    * HubSpot: ``ceil(changed/200)`` search pages per object + every archived list (search
      never returns archived records) + owners + pipelines + ``ceil(changed deals/1000)``
      association reads;
    * Salesforce: the token and the describes' Composite Batch, + the cheaper of
      ``ceil(changed/2000)`` REST pages and a Bulk job (create + ``ceil(changed/50000)``) per
      object (changed = cursor column at or after
      the previous run's newest value minus the connector's lookback), + one
      ``sobjects/{O}/deleted`` per object with ``IsDeleted`` (purges leave no row to query) +
      the recycle bin of each history object with ``IsDeleted`` (a deleted history row keeps
      its CreatedDate, so the CreatedDate window cannot see it);
    * GA4: the date probe + one request per report per date whose data differ (new or
      revised)."""
    after = holdings(after_store)
    conn = sqlite3.connect(f"file:{after_store}?mode=ro", uri=True)
    try:
        hub_changed: dict[str, int] = {}
        hub_min = 0
        for t in HUBSPOT_OBJECTS:
            floor = before["hubspot"][t]["newest_ms"] - hubspot_lookback_ms
            n = conn.execute("SELECT count(*) FROM hubspot_object WHERE object_type = ? AND "
                             "archived = 0 AND updated_at_ms >= ?", (t, floor)).fetchone()[0]
            hub_changed[t] = int(n)
            hub_min += _pages(n, HUBSPOT_SEARCH_MAX) + _pages(after["hubspot"][t]["archived"],
                                                              HUBSPOT_LIST_MAX)
        hub_min += (_pages(after["hubspot"]["owners"]["live"], HUBSPOT_LIST_MAX)
                    + _pages(after["hubspot"]["owners"]["archived"], HUBSPOT_LIST_MAX) + 1
                    + math.ceil(hub_changed["deals"] / HUBSPOT_ASSOC_BATCH_MAX))

        sf_changed: dict[str, int] = {}
        sf_min = 0
        for sobject, info in before["salesforce"].items():
            col = info["cursor_column"]
            newest = info["newest"]
            if newest:
                floor = (dt.datetime.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")
                         - salesforce_lookback).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                n = conn.execute(f"SELECT count(*) FROM sf_record WHERE sobject = ? AND "
                                 f"purged = 0 AND {col} >= ?", (sobject, floor)).fetchone()[0]
            else:
                n = after["salesforce"][sobject]["records"]
            sf_changed[sobject] = int(n)
            sf_min += min(_pages(n, SALESFORCE_REST_BATCH), 1 + _pages(n, SALESFORCE_BULK_PAGE))
            if deletable is not None and sobject in deletable:
                sf_min += 1
                if info["history"]:
                    binned = conn.execute("SELECT count(*) FROM sf_record WHERE sobject = ? AND "
                                          "is_deleted = 1 AND purged = 0", (sobject,)).fetchone()[0]
                    sf_min += _pages(int(binned), SALESFORCE_REST_BATCH)
    finally:
        conn.close()

    old_days, new_days = before["ga4"]["per_day"], after["ga4"]["per_day"]
    changed_days = sorted(d for d in new_days if new_days[d] != old_days.get(d))
    changed_data = [d for d in changed_days if new_days[d][1] > 0]
    # the date probe, a per-visitor request per changed date, a traffic request per month
    ga_min = 1 + len(changed_data) + len({d[:6] for d in changed_data})
    sf_min += 1 + math.ceil(len(before["salesforce"]) / SALESFORCE_BATCH_MAX)  # token, describes
    return {
        "hubspot": {"changed": sum(hub_changed.values()), "detail": hub_changed, "minimum": hub_min},
        "salesforce": {"changed": sum(sf_changed.values()), "detail": sf_changed, "minimum": sf_min},
        "ga4": {"changed": sum(new_days[d][0] for d in changed_days),
                "changed_dates": len(changed_days), "minimum": ga_min},
    }


# -- the run -------------------------------------------------------------------------------------
_TOTAL = re.compile(r"^total: (\d+) records", re.MULTILINE)


def _records(stdout: str) -> int | None:
    m = _TOTAL.search(stdout)
    return int(m.group(1)) if m else None


def _sync(source: str, env: dict[str, str], logs: Path, label: str, sandbox: Any,
          tallies: dict[str, Tally]) -> dict[str, Any]:
    for tally in tallies.values():
        tally.reset()
    run = run_module_child("pipelines.cli.main", ["sync", "--source", source, "--quiet",
                                              "--env-file", str(logs / "no.env")],
                           env, logs / f"{label}-{source}")
    if run.code != 0:
        tail = (run.stderr.strip().splitlines() or ["(no output)"])[-5:]
        print(f"   {source}: sync exit {run.code}: " + " | ".join(tail), file=sys.stderr, flush=True)
    out: dict[str, Any] = {
        "source": source, "code": run.code, "seconds": round(run.seconds, 2),
        "cpu_seconds": round(run.cpu_seconds, 2), "peak_rss_mb": round(run.peak_rss_mb, 1),
        "fake_cpu_seconds": round(run.fake_cpu_seconds, 2), "records": _records(run.stdout),
    }
    if source in tallies:
        out.update(tallies[source].snapshot())
        served = len(getattr(sandbox, source).requests())
        out["served"] = served
    return out


def bench_scale(scale: float, seed: int, sources: list[str], workdir: Path, *,
                advance_days: int, dbt: bool) -> dict[str, Any]:
    from connectors.sandbox.server import Sandbox

    tag = f"scale{scale:g}"
    here = workdir / tag
    if here.exists():
        shutil.rmtree(here)
    here.mkdir(parents=True)
    logs = here / "logs"
    store_path = here / "world.sqlite"
    warehouse = here / "warehouse.duckdb"
    result: dict[str, Any] = {"scale": scale, "seed": seed}

    print(f"\n== scale {scale:g}: generating the world", flush=True)
    gen = run_module_child(__name__, ["generate", str(store_path), str(seed), str(scale)],
                           child_env({}), logs / "generate")
    if gen.code != 0:
        raise RuntimeError(f"world generation failed at scale {scale}: {gen.stderr[-2000:]}")
    result["generate"] = {"seconds": round(gen.seconds, 2), "peak_rss_mb": round(gen.peak_rss_mb, 1),
                          "store_mb": round(store_path.stat().st_size / 2**20, 1)}
    print(f"   {gen.seconds:.1f}s, peak RSS {gen.peak_rss_mb:.0f} MB", flush=True)

    before = holdings(store_path)
    with Sandbox(store_path, here / "serve") as sandbox:
        tallies = {name: Tally(name, getattr(sandbox, name)) for name in CLASSIFIERS
                   if getattr(sandbox, name, None) is not None}
        env = child_env({**sandbox.env(), "DUCKDB_PATH": str(warehouse)})
        described = tallies["salesforce"].described if "salesforce" in tallies else None

        full: list[dict[str, Any]] = []
        for source in sources:
            print(f"== scale {scale:g}: full sync of {source}", flush=True)
            row = _sync(source, env, logs, "full", sandbox, tallies)
            print(f"   {row['records']} records in {row['seconds']:.1f}s, "
                  f"{row.get('requests', '-')} requests, peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
            full.append(row)
        minimum = full_minimum(before, set(described) if described is not None else None)
        for row in full:
            m = minimum.get(row["source"])
            if m is not None and "requests" in row:
                row["minimum"] = m["minimum"]
                row["data_minimum"] = m["data_minimum"]
                row["minimum_fixed"] = m["fixed"]
                row["minimum_detail"] = m["detail"]
        result["full"] = full
        result["holdings"] = {
            "hubspot": {t: {k: v for k, v in info.items() if k != "newest_ms"}
                        for t, info in before["hubspot"].items()},
            "salesforce": {o: info["records"] for o, info in before["salesforce"].items()},
            "ga4": {"dates": before["ga4"]["dates"],
                    "visitor_rows": sum(before["ga4"]["visitor_rows"].values()),
                    "traffic_rows": sum(before["ga4"]["traffic_rows"].values())},
        }
        result["warehouse_mb_full"] = round(warehouse.stat().st_size / 2**20, 1) if warehouse.exists() else None

        if advance_days > 0:
            print(f"== scale {scale:g}: advancing the world {advance_days} day(s)", flush=True)
            started = time.monotonic()
            sandbox.advance(advance_days)
            result["advance_seconds"] = round(time.monotonic() - started, 2)
            changed = changes(before, store_path, deletable=(
                set(tallies["salesforce"].deletable) if "salesforce" in tallies else None))
            incremental: list[dict[str, Any]] = []
            for source in sources:
                print(f"== scale {scale:g}: incremental sync of {source}", flush=True)
                row = _sync(source, env, logs, "incremental", sandbox, tallies)
                c = changed.get(source)
                if c is not None:
                    row["changed"] = c["changed"]
                    row["minimum"] = c["minimum"]
                    if "changed_dates" in c:
                        row["changed_dates"] = c["changed_dates"]
                print(f"   {row['records']} records in {row['seconds']:.1f}s, "
                      f"{row.get('requests', '-')} requests", flush=True)
                incremental.append(row)
            result["incremental"] = incremental

    if dbt:
        result["dbt"] = _dbt(store_path, warehouse, logs)
    return result


def _dbt(store_path: Path, warehouse: Path, logs: Path) -> dict[str, Any]:
    if not (ROOT / "dbt_project" / "dbt_project.yml").exists():
        return {"skipped": "dbt_project/dbt_project.yml not found"}
    as_of = world_clock(store_path) - dt.timedelta(days=1)
    print(f"== dbt build (as_of {as_of})", flush=True)
    # the bench's own target and log folders: never disturb dbt_project/target (partial parse
    # state, manifest) of whoever works in the project; so the parse is a full one every time
    run = run_module_child(__name__, ["dbt", str(warehouse), as_of.isoformat(),
                                      str(logs.parent / "dbt-target"), str(logs.parent / "dbt-logs")],
                           child_env({}), logs / "dbt-build")
    summary = ""
    m = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", run.stdout)
    if m:
        summary = f"PASS={m.group(1)} WARN={m.group(2)} ERROR={m.group(3)} SKIP={m.group(4)}"
    print(f"   exit {run.code} in {run.seconds:.1f}s {summary}", flush=True)
    return {"code": run.code, "seconds": round(run.seconds, 2),
            "peak_rss_mb": round(max(run.peak_rss_mb, run.children_peak_rss_mb), 1),
            "summary": summary}


# -- the report ------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    mem_gb = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = ""
    try:
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}   # read-only: never touch the index
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               env=env, capture_output=True, text=True, timeout=30).stdout.strip()
        if commit and dirty:
            commit += " + uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import duckdb
        duck = duckdb.__version__
    except ImportError:
        duck = "?"
    return {"cores": str(os.cpu_count()), "cpu": cpu, "memory": mem_gb,
            "python": platform.python_version(), "duckdb": duck,
            "os": f"{platform.system()} {platform.release()}",
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit or "?"}


def _f(value: Any, fmt: str = "{:,}") -> str:
    if value is None or value == "":
        return "–"
    return fmt.format(value)


def _ratio(a: int | None, b: int | None) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:.2f}"


def _label(row: dict[str, Any]) -> str:
    return row["source"] if row["code"] == 0 else f"{row['source']} (exit {row['code']})"


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{k} {n:,}" for k, n in kinds.items())


def render(results: list[dict[str, Any]], info: dict[str, str], argv: str) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), {info['memory']} RAM, "
        f"{info['os']}, Python {info['python']}, DuckDB {info['duckdb']}; commit {info['commit']}. "
        f"Command: `{argv}`.",
        "",
        "**Clean full sync** (empty warehouse; each source in its own process; requests as "
        "served by the fakes; *min* = the fewest requests that read the same records at the "
        "largest page sizes the APIs allow: record pages plus the *fixed* requests no client "
        "can do without, see below; *data / min data* compares the record pages alone):",
        "",
        "| scale | source | records | wall s | records/s | client CPU s | fakes CPU s | peak RSS MB | requests | data | overhead | min | of which fixed | requests / min | data / min data |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for row in r.get("full", []):
            rps = (row["records"] / row["seconds"]) if row.get("records") and row["seconds"] else None
            lines.append(
                f"| {r['scale']:g} | {_label(row)} "
                f"| {_f(row.get('records'))} | {row['seconds']:.1f} | {_f(rps, '{:,.0f}')} "
                f"| {row['cpu_seconds']:.1f} | {row['fake_cpu_seconds']:.1f} | {row['peak_rss_mb']:.0f} "
                f"| {_f(row.get('requests'))} | {_f(row.get('data'))} | {_f(row.get('overhead'))} "
                f"| {_f(row.get('minimum'))} | {_f(row.get('minimum_fixed'))} "
                f"| {_ratio(row.get('requests'), row.get('minimum'))} "
                f"| {_ratio(row.get('data'), row.get('data_minimum'))} |")
    lines += ["", "Requests by kind (full sync):", ""]
    for r in results:
        for row in r.get("full", []):
            if row.get("kinds"):
                lines.append(f"- scale {r['scale']:g}, {row['source']}: {_kinds(row['kinds'])}")
    if any(r.get("incremental") for r in results):
        lines += [
            "",
            "**Incremental sync** after the world moved on "
            f"{max((r.get('advance_days') or 1) for r in results)} day (*changed* = records whose "
            "cursor field moved into the connector's window, GA4: rows on dates that are new or "
            "revised; *min* = pages to read those at the APIs' page sizes, plus the lists every "
            "run must read and the same fixed requests as a full sync, see below):",
            "",
            "| scale | source | changed | records written | wall s | peak RSS MB | requests | data | overhead | min | requests / min | requests vs full |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            full = {row["source"]: row for row in r.get("full", [])}
            for row in r.get("incremental", []):
                f_req = full.get(row["source"], {}).get("requests")
                changed = _f(row.get("changed"))
                if row.get("changed_dates") is not None:
                    changed += f" ({row['changed_dates']} dates)"
                share = f"{row['requests'] / f_req:.0%}" if row.get("requests") and f_req else "–"
                lines.append(
                    f"| {r['scale']:g} | {_label(row)} "
                    f"| {changed} | {_f(row.get('records'))} | {row['seconds']:.1f} "
                    f"| {row['peak_rss_mb']:.0f} | {_f(row.get('requests'))} | {_f(row.get('data'))} "
                    f"| {_f(row.get('overhead'))} | {_f(row.get('minimum'))} "
                    f"| {_ratio(row.get('requests'), row.get('minimum'))} | {share} |")
        lines += ["", "Requests by kind (incremental sync):", ""]
        for r in results:
            for row in r.get("incremental", []):
                if row.get("kinds"):
                    lines.append(f"- scale {r['scale']:g}, {row['source']}: {_kinds(row['kinds'])}")
    lines += [
        "",
        "**World, warehouse and dbt:**",
        "",
        "| scale | generate s | generate peak RSS MB | world store MB | warehouse MB (after full sync) | dbt build s | dbt peak RSS MB | dbt result |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        g = r["generate"]
        d = r.get("dbt") or {"skipped": "--no-dbt"}
        if "skipped" in d:
            dbt_cells = f"– | – | skipped: {d['skipped']}"
        else:
            verdict = "ok" if d["code"] == 0 else f"exit {d['code']}"
            dbt_cells = (f"{d['seconds']:.1f} | {d['peak_rss_mb']:.0f} | {verdict}"
                         + (f" ({d['summary']})" if d.get("summary") else ""))
        lines.append(f"| {r['scale']:g} | {g['seconds']:.1f} | {g['peak_rss_mb']:.0f} | {g['store_mb']:.1f} "
                     f"| {_f(r.get('warehouse_mb_full'), '{:.1f}')} | {dbt_cells} |")
    # memory across scales
    if len(results) > 1:
        lines += ["", "**Peak RSS of the full-sync processes across scales** (MB; flat = constant memory):", ""]
        scales = [r["scale"] for r in results]
        lines.append("| source | " + " | ".join(f"scale {s:g}" for s in scales) + " | largest / smallest |")
        lines.append("|---|" + "---:|" * (len(scales) + 1))
        sources = [row["source"] for row in results[0].get("full", [])]
        for s in sources:
            vals = [next((row["peak_rss_mb"] for row in r.get("full", []) if row["source"] == s), None)
                    for r in results]
            ok = [v for v in vals if v]
            ratio = f"{ok[-1] / ok[0]:.2f}" if len(ok) > 1 else "–"
            lines.append(f"| {s} | " + " | ".join(_f(v, "{:.0f}") for v in vals) + f" | {ratio} |")
        recs = [sum(row.get("records") or 0 for row in r.get("full", [])) for r in results]
        lines.append("| *(records, all sources)* | " + " | ".join(f"{n:,}" for n in recs)
                     + (f" | {recs[-1] / recs[0]:.1f}× |" if recs[0] else " | – |"))
    lines += ["", "API holdings per scale (what the minimum is computed from):", ""]
    for r in results:
        h = r.get("holdings") or {}
        hs = h.get("hubspot", {})
        parts = [f"{t} {v['live']:,} live + {v['archived']:,} archived" for t, v in hs.items()]
        sf = h.get("salesforce", {})
        g = h.get("ga4", {})
        lines.append(f"- scale {r['scale']:g}: HubSpot {'; '.join(parts)}. Salesforce "
                     + ", ".join(f"{o} {n:,}" for o, n in sf.items())
                     + f". GA4 {g.get('dates', 0)} dates with sessions, "
                       f"{g.get('visitor_rows', 0):,} visitor rows, {g.get('traffic_rows', 0):,} traffic rows.")
    return "\n".join(lines) + "\n"


def write_doc(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else (
        "# Performance\n\nMeasured with `make bench` (`advocacy bench --write`).\n\n"
        f"## Figures\n\n{START}\n{END}\n")
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Figures\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{START}\n{section}{END}{tail}")


def run(args: argparse.Namespace) -> int:
    from connectors import registry

    try:
        scales = [float(s) for s in str(args.scales).split(",") if s.strip()]
    except ValueError:
        print(f"advocacy bench: --scales must be numbers, got {args.scales!r}", file=sys.stderr)
        return 2
    sources = [s.strip() for s in str(args.sources).split(",") if s.strip()] or list(registry.SOURCES)
    unknown = [s for s in sources if s not in registry.SOURCES]
    if unknown or not scales:
        print(f"advocacy bench: unknown source(s) {', '.join(unknown)}" if unknown
              else "advocacy bench: no scale given", file=sys.stderr)
        return 2
    keep = bool(args.workdir)
    workdir = Path(args.workdir).resolve() if keep else Path(tempfile.mkdtemp(prefix="advocacy-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    failed = False
    try:
        for scale in scales:
            r = bench_scale(scale, args.seed, sources, workdir, advance_days=args.advance_days,
                            dbt=not args.no_dbt)
            r["advance_days"] = args.advance_days
            results.append(r)
            failed = failed or any(row["code"] != 0 for row in r.get("full", []) + r.get("incremental", []))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    argv = "advocacy bench " + " ".join(
        [f"--scales {','.join(f'{s:g}' for s in scales)}", f"--seed {args.seed}"]
        + ([f"--sources {','.join(sources)}"] if args.sources else [])
        + ([f"--advance-days {args.advance_days}"] if args.advance_days != 1 else [])
        + (["--no-dbt"] if args.no_dbt else []))
    info = machine()
    section = render(results, info, argv)
    print("\n" + section)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=1,
                                              default=str) + "\n")
    if args.write:
        write_doc(Path(args.out), section)
        print(f"figures written to {args.out}")
    if keep:
        print(f"worlds, warehouses and logs kept in {workdir}")
    return 1 if failed else 0

def dbt_build(warehouse: Path, as_of: dt.date, *, extra_args: list[str] | None = None) -> int:
    """`dbt build` of the project on ``warehouse`` as of ``as_of``, with this environment's dbt."""
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    project = ROOT / "dbt_project"
    env = {**os.environ, "DUCKDB_PATH": str(warehouse), "DBT_PROFILES_DIR": str(project)}
    cmd = [dbt, "build", "--project-dir", str(project), "--profiles-dir", str(project),
           "--vars", json.dumps({"as_of": as_of.isoformat()}), *(extra_args or [])]
    return subprocess.call(cmd, env=env, cwd=ROOT)



def _child(argv: list[str]) -> int:
    """Work the bench runs in a measured child process: ``generate STORE SEED SCALE`` or
    ``dbt WAREHOUSE AS_OF TARGET_PATH LOG_PATH``."""
    if argv[0] == "generate":
        from connectors.sandbox.config import WorldConfig
        from connectors.sandbox.world import generate

        generate(Path(argv[1]), WorldConfig(seed=int(argv[2]), scale=float(argv[3])))
        return 0
    if argv[0] == "dbt":
        return dbt_build(Path(argv[1]), dt.date.fromisoformat(argv[2]),
                         extra_args=["--target-path", argv[3], "--log-path", argv[4]])
    raise SystemExit(f"unknown bench child task {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
