"""The GA4 connector against the sandbox's GA4 fake, through the real BetaAnalyticsDataClient
(REST transport, service-account JWTs) over real HTTP. Expected tables are computed here from
the world store with plain SQL and the ``(other)`` rule of the fake's contract."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

import pytest

import connectors.ga4 as ga4_module
from connectors.ga4 import GA4Source, classify
from connectors.retry import RetryPolicy
from connectors.source import (
    InvalidSetting,
    Progress,
    Settings,
    SourceNotConfigured,
    SourceStopped,
)
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.slow

DIMS = ("visitor_id", "source", "medium", "campaign", "ad_content", "term")
FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.05, max_delay=0.5, max_retry_after=2)


# -- expected, from the store -----------------------------------------------------------------
def _store(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def store_meta(path: Path, key: str) -> str:
    import json

    with _store(path) as conn:
        return json.loads(conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])


def clock_of(path: Path) -> dt.date:
    return dt.date.fromisoformat(store_meta(path, "clock"))


def _iso(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def expected_visitor_rows(path: Path, start: dt.date, end: dt.date
                          ) -> tuple[set[tuple], dict[str, int]]:
    """(rows as (date, *dims, sessions, engaged, key_events), {date: (other)-row sessions})."""
    threshold = int(store_meta(path, "ga4_other_row_threshold") or 0)
    nz = [f"CASE WHEN {c} = '' THEN '(not set)' ELSE {c} END" for c in DIMS]
    sql = (f"SELECT date, {', '.join(nz)}, SUM(sessions), SUM(engaged_sessions), SUM(key_events) "
           f"FROM ga4_row WHERE date BETWEEN ? AND ? GROUP BY {', '.join(str(i) for i in range(1, 2 + len(DIMS)))}")
    by_date: dict[str, list[tuple]] = defaultdict(list)
    with _store(path) as conn:
        for rec in conn.execute(sql, (start.strftime("%Y%m%d"), end.strftime("%Y%m%d"))):
            by_date[_iso(rec[0])].append((_iso(rec[0]), *rec[1:]))
    rows: set[tuple] = set()
    other: dict[str, int] = {}
    for day, group in by_date.items():
        if threshold and len(group) > threshold:
            n = 1 + len(DIMS)          # date + dimensions, then the metrics
            ranked = sorted(group, key=lambda r: (-r[n], r[:n]))
            kept, rest = ranked[: threshold - 1], ranked[threshold - 1:]
            rows.update(kept)
            sums = tuple(sum(r[i] for r in rest) for i in (n, n + 1, n + 2))
            rows.add((day, *(["(other)"] * len(DIMS)), *sums))
            other[day] = sums[0]
        else:
            rows.update(group)
    return rows, other


def expected_traffic_sessions(path: Path, start: dt.date, end: dt.date) -> dict[str, int]:
    with _store(path) as conn:
        return {_iso(d): s for d, s in conn.execute(
            "SELECT date, SUM(sessions) FROM ga4_row WHERE date BETWEEN ? AND ? GROUP BY 1",
            (start.strftime("%Y%m%d"), end.strftime("%Y%m%d")))}


def data_dates(path: Path, start: dt.date, end: dt.date) -> list[str]:
    with _store(path) as conn:
        return [_iso(d) for (d,) in conn.execute(
            "SELECT DISTINCT date FROM ga4_row WHERE date BETWEEN ? AND ? AND sessions > 0 "
            "ORDER BY 1", (start.strftime("%Y%m%d"), end.strftime("%Y%m%d")))]


# -- the warehouse side -----------------------------------------------------------------------
def visitor_rows(wh: Warehouse) -> set[tuple]:
    return {(d.isoformat(), *rest) for d, *rest in wh.conn.execute(
        "SELECT date, visitor_id, session_source, session_medium, session_campaign_name, "
        "session_manual_ad_content, session_manual_term, sessions, engaged_sessions, "
        "key_events FROM ga4.visitor_sessions").fetchall()}


def traffic_sessions(wh: Warehouse) -> dict[str, int]:
    return {d.isoformat(): int(s) for d, s in wh.conn.execute(
        "SELECT date, SUM(sessions) FROM ga4.traffic_daily GROUP BY 1").fetchall()}


def cursor(wh: Warehouse, obj: str) -> dict:
    import json

    return json.loads(wh.conn.execute("SELECT cursor FROM ga4._sync_state WHERE object = ?",
                                      [obj]).fetchone()[0])


def run_reports(sandbox, *, answered: bool = True) -> int:
    """runReport requests the fake served (or, with ``answered=False``, every attempt)."""
    return len([r for r in sandbox.ga4.requests("POST") if r.path.endswith(":runReport")
                and (not answered or (r.status == 200 and r.fault is None))])


def sync(env: dict[str, str], wh_path: Path, **kwargs):
    with Warehouse(wh_path) as wh:
        source = GA4Source(Settings(env), wh, retry_policy=FAST_RETRY,
                           progress=kwargs.pop("progress", None))
        return source.sync(**kwargs)


def window_env(sandbox, days: int, **extra: str) -> dict[str, str]:
    start = clock_of(sandbox.store_path) - dt.timedelta(days=days)
    return {**sandbox.env(), "HISTORY_START_DATE": start.isoformat(), **extra}


# -- full sync on the shared sandbox ----------------------------------------------------------
@pytest.fixture(scope="module")
def full_sync(sandbox, tmp_path_factory):
    path = tmp_path_factory.mktemp("ga4_full") / "warehouse.duckdb"
    before = run_reports(sandbox)
    started = time.monotonic()
    result = sync(dict(sandbox.env()), path)
    seconds = time.monotonic() - started
    return path, result, run_reports(sandbox) - before, seconds


def test_full_sync_equals_the_property_after_the_other_rule(sandbox, full_sync):
    path, result, _, _ = full_sync
    store = sandbox.store_path
    clock = clock_of(store)
    first = dt.date.fromisoformat(data_dates(store, dt.date(2015, 8, 14), clock)[0])
    want, other = expected_visitor_rows(store, first, clock - dt.timedelta(days=1))
    assert other, "the test world should have days collapsed into (other)"
    with Warehouse(path, read_only=True) as wh:
        got = visitor_rows(wh)
        assert got == want
        assert sum(r[7] for r in got) == sum(r[7] for r in want)
        # row_key is md5 of the ISO date and the dimension values joined by '|'
        for key, *values in wh.conn.execute(
                "SELECT row_key, strftime(date, '%Y-%m-%d'), visitor_id, session_source, "
                "session_medium, session_campaign_name, session_manual_ad_content, "
                "session_manual_term FROM ga4.visitor_sessions LIMIT 50").fetchall():
            assert key == hashlib.md5("|".join(values).encode()).hexdigest()
        days = {d.isoformat(): (n, loss, o) for d, n, loss, o in wh.conn.execute(
            "SELECT date, row_count, data_loss_from_other_row, other_row_sessions "
            "FROM ga4.report_days WHERE report = 'visitor_sessions'").fetchall()}
        assert {d for d, (_, loss, _) in days.items() if loss} == set(other)
        assert {d: o for d, (_, loss, o) in days.items() if loss} == other
        per_day = defaultdict(int)
        for r in want:
            per_day[r[0]] += 1
        assert {d: n for d, (n, _, _) in days.items() if n} == dict(per_day)
        # the cursor is the last date, committed with it
        assert cursor(wh, "visitor_sessions")["last_date"] == (clock - dt.timedelta(days=1)).isoformat()
    visitor = next(o for o in result.objects if o.object == "visitor_sessions")
    assert visitor.records == len(want)
    assert "(other)" in visitor.note and "quota" in visitor.note


def test_traffic_daily_sessions_per_date_equal_the_store(sandbox, full_sync):
    path = full_sync[0]
    clock = clock_of(sandbox.store_path)
    want = expected_traffic_sessions(sandbox.store_path, dt.date(2015, 8, 14), clock)
    with Warehouse(path, read_only=True) as wh:
        assert traffic_sessions(wh) == want
        assert wh.conn.execute("SELECT count(*) FROM ga4.traffic_daily WHERE total_users IS NULL "
                               "OR total_users <= 0").fetchone()[0] == 0


def test_full_sync_costs_one_request_per_date_and_report(sandbox, full_sync):
    _, result, requests, seconds = full_sync
    clock = clock_of(sandbox.store_path)
    days = data_dates(sandbox.store_path, dt.date(2015, 8, 14), clock)
    # one probe (dates with data, up to the property's yesterday), one page per date of the
    # per-visitor report and one per calendar month of the traffic report (date is one of
    # its dimensions); nothing requested for the year before the first date with data
    months = {d[:7] for d in days}
    assert requests == 1 + len(days) + len(months)
    assert sum(o.requests for o in result.objects) == requests
    path = full_sync[0]
    with Warehouse(path, read_only=True) as wh:
        tokens = {r: int(t) for r, t in wh.conn.execute(
            "SELECT report, SUM(tokens) FROM ga4.report_days GROUP BY 1").fetchall()}
        zones = {z for (z,) in wh.conn.execute(
            "SELECT DISTINCT time_zone FROM ga4.report_days WHERE sessions > 0").fetchall()}
    assert zones == {store_meta(sandbox.store_path, "ga4_time_zone")}
    assert tokens["traffic_daily"] < tokens["visitor_sessions"]
    print(f"\nGA4 full sync: {len(days)} dates, {requests} requests, {seconds:.1f}s, "
          f"{result.records / seconds:,.0f} rows/s, tokens {tokens}")


def test_paging_with_a_small_page_size(sandbox, tmp_path):
    env = window_env(sandbox, 12, GA4_PAGE_SIZE="4")
    store = sandbox.store_path
    clock = clock_of(store)
    start = clock - dt.timedelta(days=12)
    before = run_reports(sandbox)
    sync(env, tmp_path / "w.duckdb", objects=["visitor_sessions"])
    want, _ = expected_visitor_rows(store, start, clock - dt.timedelta(days=1))
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert visitor_rows(wh) == want
    per_day = defaultdict(int)
    for r in want:
        per_day[r[0]] += 1
    assert run_reports(sandbox) - before == 1 + sum(math.ceil(n / 4) for n in per_day.values())


def test_report_rows_are_written_under_the_lower_memory_limit(sandbox, tmp_path, monkeypatch):
    """The report tables carry no index, so their writes run under WRITE_MEMORY_LIMIT rather
    than the sync's DUCKDB_SYNC_MEMORY_LIMIT (docs/PERFORMANCE.md, "Memory"); the sync's limit
    is back when the sync ends."""
    from connectors.settings import memory_bytes

    seen: dict[str, set[int]] = defaultdict(set)
    upsert = Warehouse.upsert

    def recording_upsert(self, table, rows, *args, **kwargs):
        seen[table.name].add(self.memory_limit_bytes())
        return upsert(self, table, rows, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "upsert", recording_upsert)
    with Warehouse(tmp_path / "w.duckdb", memory_limit="96MB") as wh:
        sync_limit = wh.memory_limit_bytes()
        GA4Source(Settings(window_env(sandbox, 5)), wh, retry_policy=FAST_RETRY).sync()
        assert wh.memory_limit_bytes() == sync_limit
    lower = memory_bytes(ga4_module.WRITE_MEMORY_LIMIT)
    assert lower < sync_limit
    for table in ("visitor_sessions", "traffic_daily"):
        (written_under,) = seen[table]
        assert abs(written_under - lower) < lower / 100, (table, written_under)


# -- incremental ------------------------------------------------------------------------------
def test_incremental_rereads_recent_days_and_replaces_revised_ones(fresh_sandbox, tmp_path):
    sb = fresh_sandbox()
    store = sb.store_path
    clock0 = clock_of(store)
    start = clock0 - dt.timedelta(days=10)
    env = window_env(sb, 10)
    wh_path = tmp_path / "w.duckdb"
    sync(env, wh_path)
    last_two = (clock0 - dt.timedelta(days=2), clock0 - dt.timedelta(days=1))
    before_revision = expected_traffic_sessions(store, *last_two)

    sb.advance(3)
    clock1 = clock_of(store)
    assert clock1 == clock0 + dt.timedelta(days=3)
    assert expected_traffic_sessions(store, *last_two) != before_revision, \
        "advance should revise the last days"
    sb.ga4.reset_log()
    result = sync(env, wh_path)
    # probe + 3 re-read days + 3 new days of the per-visitor report, one page each, and the
    # traffic report's one request per calendar month of those days
    def months(first: dt.date, n: int) -> int:
        return len({(first + dt.timedelta(days=i)).strftime("%Y%m") for i in range(n)})

    assert run_reports(sb) == 1 + 6 + months(clock0 - dt.timedelta(days=3), 6)
    assert all(o.note.startswith(f"{clock0 - dt.timedelta(days=3)}..{clock1 - dt.timedelta(days=1)}")
               for o in result.objects)

    want, _ = expected_visitor_rows(store, start, clock1 - dt.timedelta(days=1))
    with Warehouse(wh_path, read_only=True) as wh:
        assert visitor_rows(wh) == want          # revised days updated, no stale rows
        assert traffic_sessions(wh) == expected_traffic_sessions(store, start, clock1)
        assert cursor(wh, "traffic_daily")["last_date"] == \
            (clock1 - dt.timedelta(days=1)).isoformat()

    sb.ga4.reset_log()
    sync(env, wh_path)                            # same day again: only the re-read window
    assert run_reports(sb) == 1 + 3 + months(clock1 - dt.timedelta(days=3), 3)


# -- faults -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean_window(sandbox, tmp_path_factory):
    path = tmp_path_factory.mktemp("ga4_clean") / "w.duckdb"
    sync(window_env(sandbox, 20), path)
    with Warehouse(path, read_only=True) as wh:
        return visitor_rows(wh), traffic_sessions(wh)


@pytest.mark.parametrize("faults", ["ga4:429x2", "ga4:503@5x3", "ga4:drop@7x1", "ga4:429-bare@4x2"])
def test_faults_give_the_clean_result(fresh_sandbox, tmp_path, clean_window, faults):
    sb = fresh_sandbox(faults=faults)
    result = sync(window_env(sb, 20), tmp_path / "w.duckdb")
    assert sb.ga4.requests(faulted=True), "the fault should have fired"
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert (visitor_rows(wh), traffic_sessions(wh)) == clean_window
    assert sum(o.requests for o in result.objects) == run_reports(sb, answered=False)


class _ExhaustAfter(Progress):
    """Spends the fake property's daily tokens after ``n`` committed dates (a real 429 then)."""

    def __init__(self, sandbox, n: int) -> None:
        super().__init__(quiet=True)
        self.sandbox, self.n, self.pages = sandbox, n, 0

    def page(self, source, obj, pages, records):
        self.pages += 1
        if self.pages == self.n:
            self.sandbox.ga4.app.ledger._spent.append((time.time(), 200_000))


def test_daily_quota_stops_and_the_next_run_resumes(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setattr(ga4_module, "GROUP_DAYS", 1)   # one committed date per progress page
    sb = fresh_sandbox()
    store = sb.store_path
    clock = clock_of(store)
    # midnight Pacific is further away than the wait bound: the run stops, resumable
    env = window_env(sb, 10, GA4_QUOTA_MAX_WAIT_SECONDS="1")
    wh_path = tmp_path / "w.duckdb"
    with pytest.raises(SourceStopped, match="quota exhausted") as info:
        sync(env, wh_path, progress=_ExhaustAfter(sb, 4))
    assert "next run resumes" in str(info.value)
    start = clock - dt.timedelta(days=10)
    with Warehouse(wh_path, read_only=True) as wh:
        last = dt.date.fromisoformat(cursor(wh, "visitor_sessions")["last_date"])
        kept = visitor_rows(wh)
    # the quota runs out after the 4th date committed; the 5th date's page, asked for while
    # the 4th was written (connectors/ahead.py), may have been answered before that
    assert last in (start + dt.timedelta(days=3), start + dt.timedelta(days=4)), last
    want, _ = expected_visitor_rows(store, start, last)
    assert kept == want                          # committed dates are kept, whole
    sb.ga4.app.ledger._spent.clear()                     # the quota resets
    sync(env, wh_path)
    want, _ = expected_visitor_rows(store, start, clock - dt.timedelta(days=1))
    with Warehouse(wh_path, read_only=True) as wh:
        assert visitor_rows(wh) == want


def _set_meta(store_path: Path, **values: object) -> None:
    from connectors.sandbox import store

    conn = store.connect(store_path)
    with store.transaction(conn):
        for key, value in values.items():
            store.set_meta(conn, key, value)
    conn.close()


class _Messages(Progress):
    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


def test_hourly_quota_is_waited_out_not_a_stop(fresh_sandbox, tmp_path):
    """A backfill that needs more tokens than the project's hourly quota completes in one run:
    the connector reads the remaining tokens from each answer, waits (reporting it) for the
    refill and goes on. The fake's hour is shrunk to 1.5 s and its per-project quota to 12."""
    sb = fresh_sandbox()
    _set_meta(sb.store_path, ga4_quota_limits={"tokensPerProjectPerHour": 12},
              ga4_quota_hour_seconds=1.5)
    env = window_env(sb, 30, GA4_QUOTA_POLL_SECONDS="0.5", GA4_QUOTA_MAX_WAIT_SECONDS="60")
    progress = _Messages()
    result = sync(env, tmp_path / "w.duckdb", progress=progress)
    assert result.stopped is None
    waits = [line for line in progress.lines if "hourly quota" in line]
    assert waits and all("waiting" in line for line in waits)
    clock = clock_of(sb.store_path)
    start = clock - dt.timedelta(days=30)
    want, _ = expected_visitor_rows(sb.store_path, start, clock - dt.timedelta(days=1))
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert visitor_rows(wh) == want
        assert traffic_sessions(wh) == expected_traffic_sessions(sb.store_path, start, clock)
    # a wait bound too short for the refill stops the run, resumably
    with pytest.raises(SourceStopped, match="hourly token quota"):
        sync({**env, "GA4_QUOTA_MAX_WAIT_SECONDS": "0.1"}, tmp_path / "w2.duckdb")


def test_thresholding_and_sampling_are_recorded_per_date(fresh_sandbox, tmp_path):
    """GA withholds per-visitor rows with few users (subjectToThresholding) and samples a
    month of traffic above its event limit: the per-visitor loss is stored per date, and a
    sampled month is read again day by day, exactly."""
    sb = fresh_sandbox()
    clock = clock_of(sb.store_path)
    start = clock - dt.timedelta(days=20)
    per_day = expected_traffic_sessions(sb.store_path, start, clock)
    # a month is above the sampling limit, every single day below it
    _set_meta(sb.store_path, ga4_threshold_users=2, ga4_sampling_events=max(per_day.values()) + 1)
    env = window_env(sb, 20)
    sync(env, tmp_path / "w.duckdb")
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert traffic_sessions(wh) == per_day          # unsampled: read day by day
        days = wh.conn.execute(
            "SELECT report, date, sessions, subject_to_thresholding, samples_read_count "
            "FROM ga4.report_days ORDER BY 1, 2").fetchall()
        visitor = {d: (s, t) for r, d, s, t, _ in days if r == "visitor_sessions"}
        traffic = {d: (s, t, n) for r, d, s, t, n in days if r == "traffic_daily" and s}
    assert traffic and all(not t and n is None for _, t, n in traffic.values())
    assert all(visitor[d][1] for d in traffic)
    # the per-visitor report lost the rows of single visitors: less than the traffic report
    assert all(visitor[d][0] < traffic[d][0] for d in traffic)
    # and `advocacy check` says so, with the fix
    with Warehouse(tmp_path / "w.duckdb") as wh:
        bad = [f for f in GA4Source(Settings(env), wh).check() if not f.ok]
    assert len(bad) == 1 and "thresholds" in bad[0].what and "Google signals" in bad[0].fix


# -- configuration and check ------------------------------------------------------------------
def test_not_configured(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        source = GA4Source(Settings({}), wh)
        with pytest.raises(SourceNotConfigured, match="GA4_PROPERTY_ID"):
            source.sync()
        with pytest.raises(SourceNotConfigured):
            source.check()


def test_check_passes_against_the_sandbox(sandbox_env, tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        findings = GA4Source(Settings(sandbox_env), wh).check()
    assert findings and all(f.ok for f in findings), [f.line() for f in findings]


def test_check_missing_dimension_and_bad_key(sandbox_env, tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        env = {**sandbox_env, "GA4_VISITOR_DIMENSION": "customEvent:nope"}
        findings = GA4Source(Settings(env), wh).check()
        bad = [f for f in findings if not f.ok]
        assert len(bad) == 1 and "customEvent:nope" in bad[0].what
        assert "Custom definitions" in bad[0].fix and "every event" in bad[0].fix

        env = {**sandbox_env, "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")}
        findings = GA4Source(Settings(env), wh).check()
        assert [f.ok for f in findings] == [False] and "not found" in findings[0].what

        env = {**sandbox_env, "GA4_PROPERTY_ID": "999"}
        findings = GA4Source(Settings(env), wh).check()
        assert not findings[-1].ok and "Viewer" in findings[-1].fix


def test_sync_with_a_missing_dimension_fails_clearly(sandbox_env, tmp_path):
    env = {**sandbox_env, "GA4_VISITOR_DIMENSION": "customEvent:nope",
           "HISTORY_START_DATE": "2026-06-01"}
    with pytest.raises(RuntimeError, match="advocacy check"):
        sync(env, tmp_path / "w.duckdb", objects=["visitor_sessions"])


def test_classify_quota_messages():
    from google.api_core import exceptions as gexc

    assert classify(gexc.TooManyRequests("Exhausted concurrent requests quota.")).retry
    assert not classify(gexc.TooManyRequests("Exhausted property tokens per day.")).retry
    assert not classify(gexc.TooManyRequests("Exhausted property tokens for a project per hour.")).retry
    assert classify(gexc.ServiceUnavailable("x")).retry
    assert not classify(gexc.BadRequest("x")).retry
    assert not classify(gexc.Forbidden("x")).retry


# -- HISTORY_START_DATE -------------------------------------------------------------------------
BAD_START = "HISTORY_START_DATE='2025-13-01' is not a date: expected YYYY-MM-DD (e.g. 2024-07-01)"


def test_bad_history_start_is_one_clear_error(sandbox, sandbox_env, tmp_path):
    """The same InvalidSetting (a ValueError) and line as HubSpot and Salesforce, before any
    request."""
    before = run_reports(sandbox, answered=False)
    with pytest.raises(InvalidSetting) as err:
        sync({**sandbox_env, "HISTORY_START_DATE": "2025-13-01"}, tmp_path / "w.duckdb")
    assert str(err.value).startswith(BAD_START) and "\n" not in str(err.value)
    assert run_reports(sandbox, answered=False) == before


def test_history_start_is_the_first_date_requested(sandbox, tmp_path):
    store = sandbox.store_path
    clock = clock_of(store)
    start = clock - dt.timedelta(days=5)
    sync({**sandbox.env(), "HISTORY_START_DATE": f" {start.isoformat()} "}, tmp_path / "w.duckdb")
    want = data_dates(store, start, clock - dt.timedelta(days=1))
    assert want and want[0] == start.isoformat()
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        for report in ("visitor_sessions", "traffic_daily"):
            days = [d.isoformat() for (d,) in wh.conn.execute(
                "SELECT date FROM ga4.report_days WHERE report = ? ORDER BY 1", [report]).fetchall()]
            assert days == want, report
        for table in ("visitor_sessions", "traffic_daily"):
            first = wh.conn.execute(f"SELECT min(date) FROM ga4.{table}").fetchone()[0]
            assert first == start, table


def test_row_key_tells_apart_values_that_contain_the_separator() -> None:
    from connectors.ga4 import row_key

    plain = ("v1", "linkedin", "social", "q4", "", "", "/")
    assert row_key("2026-01-02", plain) == hashlib.md5("|".join(("2026-01-02", *plain)).encode()).hexdigest()
    keys = {row_key("2026-01-02", v) for v in (("a|b", "c"), ("a", "b|c"), ("a\\", "|c"), ("a\\|", "c"))}
    assert len(keys) == 4


# -- credentials: a key file or Application Default Credentials ---------------------------------
def test_user_credentials_file_instead_of_a_key(sandbox, tmp_path):
    """`gcloud auth application-default login` writes an authorized_user file: no
    service-account key needed (refresh-token grant against the fake's token endpoint)."""
    from connectors.sandbox.config import sandbox_credentials

    creds = sandbox_credentials(int(store_meta(sandbox.store_path, "seed")))
    user = tmp_path / "adc.json"
    user.write_text(json.dumps({
        "type": "authorized_user", "client_id": creds["ga4_oauth_client_id"],
        "client_secret": creds["ga4_oauth_client_secret"],
        "refresh_token": creds["ga4_refresh_token"], "token_uri": f"{sandbox.ga4.url}/token"}))
    env = window_env(sandbox, 3, GOOGLE_APPLICATION_CREDENTIALS=str(user))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        findings = GA4Source(Settings(env), wh).check()
        assert all(f.ok for f in findings), findings
        assert "your user account" in findings[0].what
    assert sync(env, tmp_path / "w.duckdb").stopped is None
    user.write_text(json.dumps({**json.loads(user.read_text()), "refresh_token": "revoked"}))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert not all(f.ok for f in GA4Source(Settings(env), wh).check())


def test_application_default_credentials_without_the_variable(sandbox, tmp_path, monkeypatch):
    """GOOGLE_APPLICATION_CREDENTIALS unset: google-auth's Application Default Credentials
    (here gcloud's well-known file under CLOUDSDK_CONFIG)."""
    env = {k: v for k, v in window_env(sandbox, 3).items()
           if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    (tmp_path / "application_default_credentials.json").write_text(
        Path(sandbox.env()["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    with Warehouse(tmp_path / "w.duckdb") as wh:
        findings = GA4Source(Settings(env), wh).check()
    assert all(f.ok for f in findings), findings
    assert "Application Default Credentials" in findings[0].what
    # nothing at all: one clear error naming both ways
    (tmp_path / "application_default_credentials.json").unlink()
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")        # no metadata server either
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        findings = GA4Source(Settings(env), wh).check()
    assert not findings[0].ok and "Application Default Credentials" in findings[0].what
    assert "gcloud auth application-default login" in findings[0].fix


def test_killed_backfill_resumes_where_it_was(fresh_sandbox, tmp_path):
    """`advocacy sync --source ga4`, paced by a small hourly quota, killed (SIGKILL) after its
    first group of dates committed: the next run reads only what was not committed (and the
    re-read window), and the result equals the property."""
    import os
    import signal
    import subprocess
    import sys

    sb = fresh_sandbox()
    _set_meta(sb.store_path, ga4_quota_limits={"tokensPerProjectPerHour": 10},
              ga4_quota_hour_seconds=1.0)
    db = tmp_path / "w.duckdb"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GA4_", "GOOGLE_APPLICATION_CREDENTIALS", "HUBSPOT_",
                                "SALESFORCE_", "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH"))}
    env.update(window_env(sb, 60, GA4_QUOTA_POLL_SECONDS="0.3"), DUCKDB_PATH=str(db))
    cmd = [sys.executable, "-m", "pipelines.cli.main", "sync", "--source", "ga4", "--quiet"]
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(cmd, env=env, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while run_reports(sb) < 1 + ga4_module.GROUP_DAYS + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Warehouse(db, read_only=True) as wh:
        last = dt.date.fromisoformat(cursor(wh, "visitor_sessions")["last_date"])
    clock = clock_of(sb.store_path)
    start = clock - dt.timedelta(days=60)
    assert start + dt.timedelta(days=ga4_module.GROUP_DAYS - 2) <= last < clock - dt.timedelta(days=1)

    sb.ga4.reset_log()
    done = subprocess.run(cmd, env=env, cwd=repo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # the probe, the dates after the re-read window of the committed cursor, the traffic months
    resumed = (clock - dt.timedelta(days=1) - last).days + ga4_module.DEFAULT_REREAD_DAYS
    assert run_reports(sb) <= 1 + resumed + 3
    want, _ = expected_visitor_rows(sb.store_path, start, clock - dt.timedelta(days=1))
    with Warehouse(db, read_only=True) as wh:
        assert visitor_rows(wh) == want
        assert traffic_sessions(wh) == expected_traffic_sessions(sb.store_path, start, clock)
