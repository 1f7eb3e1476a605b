"""The advocacy-platform export connector over the CSV files the sandbox writes (both layouts),
compared with the world store's ``advocacy_post``."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from connectors import advocacy_exports, export_layouts
from connectors import schema as raw
from connectors.advocacy_exports import (
    AdvocacyExportsSource,
    normalise_network,
    parse_count,
    read_header,
)
from connectors.source import Settings, SourceNotConfigured
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.slow

POST_COLUMNS = ("post_id", "platform", "advocate_id", "advocate_email", "advocate_name", "network",
                "category", "campaign", "url", "clicks", "likes", "comments", "shares")


def store_posts(store_path: Path) -> dict[tuple[str, str], dict]:
    """The store's posts by their key (platform, post_id): the platforms number posts alike."""
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        out = {}
        for r in conn.execute("SELECT * FROM advocacy_post"):
            row = {c: r[c] for c in POST_COLUMNS}
            row["posted_at"] = dt.datetime.fromisoformat(r["posted_at"][:19])
            row["engagements"] = r["likes"] + r["comments"] + r["shares"]
            out[(r["platform"], r["post_id"])] = row
        return out
    finally:
        conn.close()


def warehouse_posts(wh: Warehouse) -> dict[tuple[str, str], dict]:
    cols = (*POST_COLUMNS, "posted_at", "engagements")
    return {(r[1], r[0]): dict(zip(cols, r, strict=True)) for r in wh.conn.execute(
        f"SELECT {', '.join(cols)} FROM advocacy_platform.posts").fetchall()}


def sync(folder: Path, wh_path: Path, **env: str):
    with Warehouse(wh_path) as wh:
        source = AdvocacyExportsSource(Settings({"ADVOCACY_EXPORTS_DIR": str(folder), **env}), wh)
        return source.sync()


def copy_exports(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.glob("*.csv"), key=lambda p: p.stat().st_mtime_ns):
        shutil.copy2(p, dest / p.name)
    return dest


def test_both_layouts_imported_and_equal_the_store(sandbox, tmp_path):
    folder = Path(sandbox.env()["ADVOCACY_EXPORTS_DIR"])
    layouts = {p.name.split("_")[0] for p in folder.glob("*.csv")}
    assert layouts == {"gaggle", "socialhub"}
    result = sync(folder, tmp_path / "w.duckdb")
    want = store_posts(sandbox.store_path)
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        got = warehouse_posts(wh)
        assert got == want
        # each platform numbers its own posts: ids shared by both platforms are two posts
        assert len({pid for _, pid in want}) < len(want)
        assert {p for (p,) in wh.conn.execute(
            "SELECT DISTINCT platform FROM advocacy_platform.posts").fetchall()} == {"gaggle", "social_hub"}
        assert wh.conn.execute("SELECT count(*) FROM advocacy_platform.posts WHERE _source_file IS NULL"
                               ).fetchone()[0] == 0
    (posts,) = result.objects
    assert posts.records == len(want) and posts.quarantined == 0
    assert sum(r["clicks"] for r in got.values()) == sum(r["clicks"] for r in want.values())


def test_importing_twice_is_idempotent_and_skips_unchanged_files(sandbox, tmp_path):
    folder = copy_exports(Path(sandbox.env()["ADVOCACY_EXPORTS_DIR"]), tmp_path / "exports")
    wh_path = tmp_path / "w.duckdb"
    sync(folder, wh_path)
    with Warehouse(wh_path, read_only=True) as wh:
        first = warehouse_posts(wh)
    again = sync(folder, wh_path)
    assert again.objects[0].records == 0 and "unchanged skipped" in again.objects[0].note
    # a renamed copy of the same content is recognised by its sha256
    src = next(folder.glob("gaggle_*.csv"))
    shutil.copy2(src, folder / "gaggle_copy.csv")
    assert sync(folder, wh_path).objects[0].records == 0
    with Warehouse(wh_path) as wh:
        assert warehouse_posts(wh) == first
        full = AdvocacyExportsSource(Settings({"ADVOCACY_EXPORTS_DIR": str(folder)}), wh).sync(
            full_refresh=True)
        assert full.objects[0].records > 0
        assert warehouse_posts(wh) == first


def test_newer_export_updates_counts(fresh_sandbox, tmp_path):
    sb = fresh_sandbox()
    folder = Path(sb.env()["ADVOCACY_EXPORTS_DIR"])
    wh_path = tmp_path / "w.duckdb"
    sync(folder, wh_path)
    before = store_posts(sb.store_path)
    sb.advance(3)
    after = store_posts(sb.store_path)
    assert after != before and len(list(folder.glob("*.csv"))) == 4
    result = sync(folder, wh_path)
    assert "2 file(s) imported" in result.objects[0].note
    with Warehouse(wh_path, read_only=True) as wh:
        assert warehouse_posts(wh) == after
    # re-reading everything (old files first) still ends at the newest counts
    with Warehouse(wh_path) as wh:
        AdvocacyExportsSource(Settings({"ADVOCACY_EXPORTS_DIR": str(folder)}), wh).sync(full_refresh=True)
        assert warehouse_posts(wh) == after


def test_bad_rows_are_quarantined_and_unknown_layouts_reported(sandbox, tmp_path):
    folder = copy_exports(Path(sandbox.env()["ADVOCACY_EXPORTS_DIR"]), tmp_path / "exports")
    gaggle = next(folder.glob("gaggle_*.csv"))
    with gaggle.open("a", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u", 1, 1, 1, 1])
        w.writerow(["BAD1", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u", "many", 1, 1, 1])
        w.writerow(["BAD2", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "yesterday", "u", 1, 1, 1, 1])
        w.writerow(["OK1", "adv_1", "a@x", "A", "Twitter", "c", "k", "2026-01-01 10:00:00", "u", "1,200", "", 2, 3])
    (folder / "mystery.csv").write_text("id,when,what\n1,2,3\n")
    (folder / "empty.csv").write_text("")
    result = sync(folder, tmp_path / "w.duckdb")
    (posts,) = result.objects
    want = store_posts(sandbox.store_path)
    assert posts.records == len(want) + 1
    assert posts.quarantined == 3 + 2        # three bad rows, two unreadable files
    assert "mystery.csv: unknown export layout" in posts.note and "empty.csv" in posts.note
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        reasons = sorted(r for (r,) in wh.conn.execute(
            "SELECT reason FROM advocacy_platform._quarantine").fetchall())
        assert reasons == ["missing post id", "unknown export layout", "unknown export layout",
                           "unparsable clicks: 'many'", "unparsable posted_at: 'yesterday'"]
        ok = wh.conn.execute("SELECT network, clicks, likes, engagements, posted_at "
                             "FROM advocacy_platform.posts WHERE post_id = 'OK1'").fetchone()
        assert ok == ("x", 1200, 0, 5, dt.datetime(2026, 1, 1, 10, 0))
        assert wh.conn.execute("SELECT count(*) FROM advocacy_platform.posts "
                               "WHERE post_id IN ('BAD1', 'BAD2')").fetchone()[0] == 0
    with Warehouse(tmp_path / "w2.duckdb") as wh:
        findings = AdvocacyExportsSource(Settings({"ADVOCACY_EXPORTS_DIR": str(folder)}), wh).check()
    failed = [f for f in findings if not f.ok]
    assert {f.what.split(":")[0] for f in failed} == {"mystery.csv", "empty.csv"}
    assert all("ADVOCACY_EXPORT_LAYOUTS" in f.fix for f in failed)
    assert any("3 bad" in f.what for f in findings if f.ok)


def test_user_layout_file(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "mine.csv").write_text(
        "Share Id;Employee;Channel;Date;Clicks;Likes;Comments;Shares\n".replace(";", ",")
        + "S1,e1,Twitter,05/01/2026 10:30,3,1,0,2\n"
        + "S2,e2,LinkedIn,06/01/2026 23:15,0,0,0,0\n")
    layouts = tmp_path / "layouts.json"
    layouts.write_text(json.dumps({"mine": {
        "columns": {"post_id": "Share Id", "advocate_id": "Employee", "network": "Channel",
                    "posted_at": "Date", "clicks": "Clicks", "likes": "Likes",
                    "comments": "Comments", "shares": "Shares"},
        "posted_at_format": "%d/%m/%Y %H:%M", "timezone": "Europe/Berlin"}}))
    result = sync(folder, tmp_path / "w.duckdb", ADVOCACY_EXPORT_LAYOUTS=str(layouts))
    assert result.objects[0].records == 2
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        rows = wh.conn.execute("SELECT post_id, platform, network, posted_at, engagements "
                               "FROM advocacy_platform.posts ORDER BY 1").fetchall()
    assert rows == [("S1", "mine", "x", dt.datetime(2026, 1, 5, 9, 30), 3),
                    ("S2", "mine", "linkedin", dt.datetime(2026, 1, 6, 22, 15), 0)]


def test_not_configured_and_missing_folder(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        with pytest.raises(SourceNotConfigured, match="ADVOCACY_EXPORTS_DIR"):
            AdvocacyExportsSource(Settings({}), wh).sync()
        source = AdvocacyExportsSource(Settings({"ADVOCACY_EXPORTS_DIR": str(tmp_path / "nope")}), wh)
        (finding,) = source.check()
        assert not finding.ok and "does not exist" in finding.what


def test_helpers():
    assert normalise_network(" Twitter ") == "x" and normalise_network("LinkedIn") == "linkedin"
    assert parse_count("clicks", "12.0") == 12 and parse_count("clicks", "") == 0
    with pytest.raises(ValueError):
        parse_count("clicks", "-3")


def test_large_export_streams_in_batches(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    n = 12_345
    with (folder / "gaggle_big.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Post ID", "User ID", "User Email", "User Name", "Network", "Category",
                    "Campaign", "Shared At", "Link", "Clicks", "Likes", "Comments", "Reshares"])
        for i in range(n):
            w.writerow([f"P{i:07d}", "adv_1", "a@x", "A", "X", "c", "k", "2026-01-01 10:00:00",
                        "u", i % 7, 1, 1, i % 3])
    os.utime(folder / "gaggle_big.csv")
    result = sync(folder, tmp_path / "w.duckdb")
    assert result.objects[0].records == n and result.objects[0].pages == 3


GAGGLE_HEADER = ["Post ID", "User ID", "User Email", "User Name", "Network", "Category",
                 "Campaign", "Shared At", "Link", "Clicks", "Likes", "Comments", "Reshares"]


def write_gaggle(path: Path, ids: list[str], mtime: int, *, tail: bytes = b"") -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(GAGGLE_HEADER)
        for post_id in ids:
            w.writerow([post_id, "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00",
                        "u", 1, 2, 3, 4])
    if tail:
        with path.open("ab") as fh:
            fh.write(tail)
    os.utime(path, (mtime, mtime))


def test_unreadable_file_is_quarantined_and_the_others_go_on(tmp_path, monkeypatch):
    monkeypatch.setattr(advocacy_exports, "BATCH_ROWS", 10)   # so the broken file flushes pages
    folder = tmp_path / "exports"
    folder.mkdir()
    write_gaggle(folder / "a_first.csv", ["A1", "A2", "A3"], 1_000_000)
    binary = folder / "b_binary.csv"                  # not text at all: fails on its header
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xc3\x28" * 64)
    os.utime(binary, (2_000_000, 2_000_000))
    # a good header and ~20 KB of good rows (two pages flushed), then bytes that are not UTF-8
    write_gaggle(folder / "c_broken_late.csv", [f"C{i:04d}" for i in range(250)], 2_500_000,
                 tail=b"C9999,adv_1,\xe9t\xe9@x,A,LinkedIn,c,k,2026-01-01 10:00:00,u,1,1,1,1\n")
    write_gaggle(folder / "d_last.csv", ["D1", "D2"], 3_000_000)
    wh_path = tmp_path / "w.duckdb"
    result = sync(folder, wh_path)
    (posts,) = result.objects
    assert posts.records == 5 and posts.quarantined == 2 and posts.pages == 2
    assert "2 file(s) imported" in posts.note
    assert "b_binary.csv: not readable as UTF-8 CSV (UnicodeDecodeError" in posts.note
    assert "c_broken_late.csv: not readable as UTF-8 CSV (UnicodeDecodeError" in posts.note
    with Warehouse(wh_path, read_only=True) as wh:
        ids = {i for (i,) in wh.conn.execute("SELECT post_id FROM advocacy_platform.posts").fetchall()}
        assert ids == {"A1", "A2", "A3", "D1", "D2"}       # nothing of the broken file is kept
        quarantined = sorted(wh.conn.execute(
            "SELECT record_id, reason FROM advocacy_platform._quarantine").fetchall())
        assert quarantined == [("b_binary.csv", "unreadable file (UnicodeDecodeError)"),
                               ("c_broken_late.csv", "unreadable file (UnicodeDecodeError)")]
        cursor = json.loads(wh.conn.execute(
            "SELECT cursor FROM advocacy_platform._sync_state WHERE object = 'posts'").fetchone()[0])
        assert sorted(cursor["files"]) == ["a_first.csv", "d_last.csv"]
    # the next run skips the imported files and tries the broken ones again (no new rows)
    again = sync(folder, wh_path).objects[0]
    assert again.records == 0 and again.quarantined == 2 and "2 unchanged skipped" in again.note
    with Warehouse(wh_path, read_only=True) as wh:
        assert wh.conn.execute("SELECT count(*) FROM advocacy_platform._quarantine").fetchone()[0] == 2


def test_builtin_layouts_accept_files_without_optional_columns(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    # GaggleAMP without Category and Campaign; Social-Hub-style with the required columns only
    (folder / "gaggle_lean.csv").write_text(
        "Post ID,User ID,User Email,User Name,Network,Shared At,Link,Clicks,Likes,Comments,Reshares\n"
        "G1,adv_1,a@x,A,Twitter,2026-01-02 08:00:00,u,5,1,2,3\n")
    (folder / "hub_minimal.csv").write_text(
        "share_id,published_at,link_clicks,reactions,comments,reshares\n"
        "H1,2026-01-03T09:30:00,7,1,0,0\n")
    # a file without a required column is still no known layout
    (folder / "gaggle_no_clicks.csv").write_text(
        "Post ID,User ID,Network,Shared At,Likes,Comments,Reshares\n"
        "G2,adv_1,LinkedIn,2026-01-02 08:00:00,1,2,3\n")
    layouts = export_layouts.load_layouts({})
    assert export_layouts.detect(read_header(folder / "gaggle_lean.csv"), layouts) == "gaggle"
    assert export_layouts.detect(read_header(folder / "hub_minimal.csv"), layouts) == "social_hub"
    assert export_layouts.detect(read_header(folder / "gaggle_no_clicks.csv"), layouts) is None
    result = sync(folder, tmp_path / "w.duckdb")
    (posts,) = result.objects
    assert posts.records == 2 and posts.quarantined == 1
    assert "gaggle_no_clicks.csv: unknown export layout" in posts.note
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        rows = wh.conn.execute(
            "SELECT post_id, platform, advocate_id, network, category, campaign, url, clicks, "
            "engagements, posted_at FROM advocacy_platform.posts ORDER BY 1").fetchall()
    assert rows == [
        ("G1", "gaggle", "adv_1", "x", None, None, "u", 5, 6, dt.datetime(2026, 1, 2, 8, 0)),
        ("H1", "social_hub", None, None, None, None, None, 7, 1, dt.datetime(2026, 1, 3, 9, 30)),
    ]


def test_user_layout_optional_by_column_or_header_name():
    layout = export_layouts.validate("mine", {
        "columns": {"post_id": "Id", "posted_at": "Date", "clicks": "C", "likes": "L",
                    "comments": "M", "shares": "S", "advocate_email": "Email", "network": "Net",
                    "url": "Link"},
        "optional": ["advocate_email", "Net", "post_id"]})   # a required column stays required
    assert sorted(export_layouts.needed_headers(layout)) == ["C", "Date", "Id", "L", "Link", "M", "S"]
    header = ["Id", "Date", "C", "L", "M", "S", "Link"]
    assert export_layouts.detect(header, {"mine": layout}) == "mine"
    assert export_layouts.detect(header[:-1], {"mine": layout}) is None


def test_file_cut_inside_its_last_line_rejects_that_line(tmp_path):
    """A download cut inside the last field ("12" of "1234", no final line break) would import
    the cut value: the line is quarantined with the file and line named; the rest is imported."""
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "gaggle_cut.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(GAGGLE_HEADER)
        w.writerow(["GOOD", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u", 5, 1, 1, 1])
        fh.write("CUT,adv_1,a@x,A,LinkedIn,c,k,2026-01-01 10:00:00,u,5,1,1,12")
    (posts,) = sync(folder, tmp_path / "w.duckdb").objects
    assert posts.records == 1 and posts.quarantined == 1
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert wh.conn.execute("SELECT post_id FROM advocacy_platform.posts").fetchall() == [("GOOD",)]
        assert wh.conn.execute("SELECT record_id, reason FROM advocacy_platform._quarantine").fetchall() == [
            ("CUT", "gaggle_cut.csv line 3: cut short (the file ends inside this line: an "
                    "incomplete download? export it again)")]


def test_cells_out_of_range_and_short_rows_are_quarantined_not_fatal(tmp_path):
    """A count beyond 10^12 (which keeps every sum within BIGINT), a date that cannot be moved to UTC and a row cut short are bad
    rows: quarantined with a reason, while the file's good rows are imported."""
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "gaggle_edge.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(GAGGLE_HEADER)
        w.writerow(["GOOD", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u", 5, 1, 1, 1])
        w.writerow(["HUGE", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u",
                    "99999999999999999999", 1, 1, 1])
        w.writerow(["LONG", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u", "9" * 400, 1, 1, 1])
        w.writerow(["EARLY", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "0001-01-01T00:00:00+05:00", "u", 1, 1, 1, 1])
        fh.write("CUT,adv_1,a@x,A,LinkedIn,c,k,2026-01-01 10:00:00,u,12\n")
        w.writerow(["SUM", "adv_1", "a@x", "A", "LinkedIn", "c", "k", "2026-01-01 10:00:00", "u", 1,
                    6 * 10**11, 6 * 10**11, 0])
    result = sync(folder, tmp_path / "w.duckdb")
    (posts,) = result.objects
    assert posts.records == 1 and posts.quarantined == 5
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        reasons = sorted(r for (r,) in wh.conn.execute(
            "SELECT reason FROM advocacy_platform._quarantine").fetchall())
        assert wh.conn.execute("SELECT post_id, clicks FROM advocacy_platform.posts").fetchall() == [("GOOD", 5)]
    assert reasons == ["clicks out of range: '99999999999999999999'", "engagements out of range",
                       "fewer fields than the header",
                       f"unparsable clicks: {('9' * 40)!r}",
                       "unparsable posted_at: '0001-01-01T00:00:00+05:00'"], reasons
    # an ISO layout parses that date, which then cannot move to UTC: a bad row too
    with pytest.raises(advocacy_exports.BadRow, match="posted_at out of range"):
        advocacy_exports.parse_posted_at("0001-01-01T00:00:00+05:00", "iso", "UTC")


def test_two_platforms_numbering_posts_alike_keep_both(tmp_path):
    """Posts are keyed on (platform, post id): GaggleAMP's post 1 and a Social-Hub post 1 are
    two posts, and a warehouse keyed on post_id alone by an older version is migrated."""
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "gaggle_a.csv").write_text(
        "Post ID,User ID,User Email,User Name,Network,Shared At,Link,Clicks,Likes,Comments,Reshares\n"
        "1,adv_1,a@x,A,LinkedIn,2026-01-02 08:00:00,u,5,1,2,3\n")
    (folder / "hub_a.csv").write_text(
        "share_id,published_at,link_clicks,reactions,comments,reshares\n"
        "1,2026-01-03T09:30:00,7,1,0,0\n")
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:      # the raw table as the previous version created it
        wh.ensure_schema("advocacy_platform")
        old = raw.table("advocacy_platform.posts")
        wh.conn.execute(old.ddl().replace('PRIMARY KEY ("platform", "post_id")', 'PRIMARY KEY ("post_id")'))
        wh.conn.execute("INSERT INTO advocacy_platform.posts (post_id, platform, clicks) VALUES ('0', 'gaggle', 9)")
        wh.conn.execute("ALTER TABLE advocacy_platform.posts ADD COLUMN drift_col VARCHAR")
    result = sync(folder, path)
    assert result.objects[0].records == 2
    with Warehouse(path, read_only=True) as wh:
        rows = wh.conn.execute("SELECT platform, post_id, clicks FROM advocacy_platform.posts ORDER BY 1, 2").fetchall()
        key = wh.conn.execute("SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = "
                              "'advocacy_platform' AND table_name = 'posts' AND constraint_type = 'PRIMARY KEY'"
                              ).fetchone()[0]
        assert "drift_col" in wh.columns(raw.table("advocacy_platform.posts"))
    assert rows == [("gaggle", "0", 9), ("gaggle", "1", 5), ("social_hub", "1", 7)]
    assert key == ["platform", "post_id"]
