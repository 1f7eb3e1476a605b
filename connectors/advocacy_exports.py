"""Advocacy-platform post exports (CSV files in ``ADVOCACY_EXPORTS_DIR``) ->
``advocacy_platform.posts``.

* Every ``*.csv`` in the folder (not recursive) is read; its layout is detected from the header
  row (:mod:`connectors.export_layouts`: GaggleAMP-style, Social-Hub-style, plus any the user
  adds through ``ADVOCACY_EXPORT_LAYOUTS``). A file with an unknown header is reported (one line
  naming the file and its header, and a ``_quarantine`` row) and the other files go on; so is a
  file that cannot be read as UTF-8 CSV (binary, another encoding, broken quoting, unreadable):
  whatever of it was written is rolled back, and it is tried again on the next run.
* Rows are streamed (``csv.DictReader``) and upserted on (``platform``, ``post_id``) in batches
  of 5,000 (two platforms may number their posts alike):
  ``engagements`` = likes + comments + shares, ``posted_at`` parsed per layout to UTC,
  ``network`` lower-cased with ``twitter`` -> ``x``, ``platform`` = the layout's name,
  ``_source_file`` = the file name.
* Exports are cumulative snapshots, so a post appears in every later export with larger
  counts. The newest export wins: each row carries its file's modification time
  (``_exported_at``) and an upsert never replaces a row from a newer file with one from an
  older file, whatever order files are read in. The modification time stands for the export's
  date, since the layouts carry none: an old export copied or re-downloaded after a newer one
  counts as newer (give it its export date back with ``touch -d``, or leave it out).
  A row cut short (fewer fields than the header) or with a count above 10^12 (a broken cell,
  and the bound that keeps every sum within BIGINT) is quarantined, never imported as zeros or
  a crash. A file that does not end with a line break was cut inside its last line (an
  incomplete download): that line is quarantined with the file and line named, never imported
  with its cut value.
* A row without a post id, or with a count or date that does not parse, is quarantined with
  the reason (``advocacy_platform._quarantine``) and counted; it never stops the file.
* Each file is imported in one transaction together with its sha256 in the ``posts`` cursor;
  a file whose content was already imported is skipped, so re-running is free and idempotent.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from connectors import export_layouts
from connectors import schema as raw
from connectors.source import Finding, ObjectResult, Progress, Settings, Source, SyncResult
from connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

T_POSTS = raw.table("advocacy_platform.posts")
OBJECT = "posts"
BATCH_ROWS = 5_000
CHECK_ROWS = 10_000          # rows per file `check` parses
NETWORK_ALIASES = {"twitter": "x", "twitter.com": "x", "x.com": "x", "x (twitter)": "x",
                   "linkedin.com": "linkedin", "facebook.com": "facebook"}
COUNTS = ("clicks", "likes", "comments", "shares")
TEXT_COLUMNS = ("post_id", "advocate_id", "advocate_email", "advocate_name", "category",
                "campaign", "url")
UNREADABLE = (OSError, UnicodeDecodeError, csv.Error)   # a file we cannot read as UTF-8 CSV
_INT = re.compile(r"^[+]?\d{1,3}(,\d{3})+$|^[+]?\d+(\.0*)?$")
# A count above a trillion on one post is a broken cell, not activity (more than every person
# alive clicking a hundred times). The bound also keeps every sum the marts take of these
# counts within BIGINT, whatever the number of posts (2**63 / 10**12 > 9 million posts).
MAX_COUNT = 10**12


class BadRow(ValueError):
    """A row that cannot be imported; the message is the quarantine reason."""


def normalise_network(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    if not v:
        return None
    return NETWORK_ALIASES.get(v, v)


def parse_count(column: str, value: str | None) -> int:
    text = (value or "").strip()
    if text == "":
        return 0   # an empty cell is no activity (platforms leave zeros blank)
    if len(text) > 30 or not _INT.match(text):
        raise BadRow(f"unparsable {column}: {text[:40]!r}")
    number = int(text.replace(",", "").partition(".")[0])
    if number > MAX_COUNT:
        raise BadRow(f"{column} out of range: {text[:40]!r}")
    return number


def parse_posted_at(value: str | None, fmt: str, tz: str) -> dt.datetime:
    text = (value or "").strip()
    if not text:
        raise BadRow("missing posted_at")
    try:
        if fmt == "iso":
            parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        else:
            parsed = dt.datetime.strptime(text, fmt)
    except ValueError as exc:
        raise BadRow(f"unparsable posted_at: {text[:40]!r}") from exc
    if parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(tz))
        except ZoneInfoNotFoundError as exc:
            raise BadRow(f"unknown time zone {tz!r} in the export layout") from exc
    try:
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (OverflowError, ValueError) as exc:   # e.g. 0001-01-01 east of UTC
        raise BadRow(f"posted_at out of range: {text[:40]!r}") from exc


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


class AdvocacyExportsSource(Source):
    name = "advocacy_platform"
    schema = "advocacy_platform"

    def __init__(self, settings: Settings, warehouse: Warehouse, progress: Progress | None = None
                 ) -> None:
        super().__init__(settings, warehouse, progress)
        self._layouts: dict[str, dict[str, Any]] | None = None

    @property
    def folder(self) -> Path:
        return Path(str(self.settings.get("ADVOCACY_EXPORTS_DIR"))).expanduser()

    def layouts(self) -> dict[str, dict[str, Any]]:
        if self._layouts is None:
            self._layouts = export_layouts.load_layouts(self.settings.env)
        return self._layouts

    def files(self) -> list[Path]:
        """The folder's CSV files, oldest export first (mtime, then name)."""
        found = [p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"]
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))

    # -- parsing ------------------------------------------------------------------------------
    def rows(self, path: Path, layout_name: str, *, exported_at: dt.datetime | None = None
             ) -> Iterator[dict[str, Any] | BadRow]:
        """The file's rows in our columns, or a :class:`BadRow` (with ``.row``) per bad row."""
        layout = self.layouts()[layout_name]
        columns: dict[str, str] = layout["columns"]
        fmt, tz = layout["posted_at_format"], layout.get("timezone") or "UTC"
        cut = _ends_inside_a_line(path)
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            reader.fieldnames = [f.strip() for f in reader.fieldnames or []]
            pending: tuple[int, dict[str, Any]] | None = None
            for src in reader:
                if pending is not None:
                    yield self._item(pending, columns, fmt, tz, layout_name, path.name, exported_at)
                pending = (reader.line_num, src)
            if pending is not None:
                if cut:
                    exc = BadRow(f"{path.name} line {pending[0]}: cut short (the file ends inside "
                                 "this line: an incomplete download? export it again)")
                    exc.row, exc.line = pending[1], pending[0]   # type: ignore[attr-defined]
                    yield exc
                else:
                    yield self._item(pending, columns, fmt, tz, layout_name, path.name, exported_at)

    def _item(self, pending: tuple[int, dict[str, Any]], columns: dict[str, str], fmt: str,
              tz: str, layout: str, file_name: str, exported_at: dt.datetime | None
              ) -> dict[str, Any] | BadRow:
        line, src = pending
        try:
            return self._row(src, columns, fmt, tz, layout, file_name, exported_at)
        except BadRow as exc:
            exc.row = src            # type: ignore[attr-defined]
            exc.line = line          # type: ignore[attr-defined]
            return exc

    @staticmethod
    def _row(src: dict[str, Any], columns: dict[str, str], fmt: str, tz: str, layout: str,
             file_name: str, exported_at: dt.datetime | None) -> dict[str, Any]:
        if None in src:
            raise BadRow("more fields than the header")
        # DictReader fills the cells of a short row with None (an empty cell is ""): a cut
        # line must not import its missing counts as zeros
        if any(src.get(header, "") is None for header in columns.values() if header):
            raise BadRow("fewer fields than the header")

        def cell(ours: str) -> str | None:
            header = columns.get(ours)
            value = src.get(header) if header else None
            if value is None:
                return None
            value = value.strip()
            return value or None

        post_id = cell("post_id")
        if not post_id:
            raise BadRow("missing post id")
        counts = {c: parse_count(c, cell(c)) for c in COUNTS}
        if counts["likes"] + counts["comments"] + counts["shares"] > MAX_COUNT:
            raise BadRow("engagements out of range")
        row: dict[str, Any] = {c: cell(c) for c in TEXT_COLUMNS}
        row.update({
            "post_id": post_id,
            "platform": layout,
            "network": normalise_network(cell("network")),
            "posted_at": parse_posted_at(cell("posted_at"), fmt, tz),
            **counts,
            "engagements": counts["likes"] + counts["comments"] + counts["shares"],
            "_source_file": file_name,
            "_exported_at": exported_at,
        })
        return row

    # -- sync ---------------------------------------------------------------------------------
    def sync(self, *, full_refresh: bool = False, objects: list[str] | None = None) -> SyncResult:
        self.settings.require(self.name, "ADVOCACY_EXPORTS_DIR")
        result = SyncResult(self.name)
        if objects is not None and OBJECT not in objects:
            return result
        folder = self.folder
        if not folder.is_dir():
            raise FileNotFoundError(f"ADVOCACY_EXPORTS_DIR {folder} is not a folder")
        wh = self.warehouse
        wh.ensure_table(T_POSTS)
        res = ObjectResult(OBJECT)
        result.objects.append(res)
        started = time.monotonic()
        self.progress.start(self.name, OBJECT)
        cursor = (None if full_refresh else wh.get_cursor(self.schema, OBJECT)) or {}
        imported: dict[str, str] = dict(cursor.get("files") or {})
        seen_hashes = set(imported.values())
        layouts = self.layouts()
        skipped: list[str] = []
        errors: list[str] = []
        done = 0
        for path in self.files():
            pages_before = res.pages
            try:
                digest = sha256_of(path)
                if digest in seen_hashes:
                    skipped.append(path.name)
                    continue
                header = read_header(path)
                layout = export_layouts.detect(header, layouts)
                if layout is None:
                    message = (f"{path.name}: unknown export layout (header: "
                               f"{', '.join(h for h in header[:15]) or 'empty file'}); known "
                               f"layouts: {', '.join(layouts)}; add one with ADVOCACY_EXPORT_LAYOUTS")
                    errors.append(message)
                    log.warning("advocacy_platform: %s", message)
                    self.progress.message(f"advocacy_platform: {message}")
                    wh.quarantine(self.schema, OBJECT, path.name, "unknown export layout",
                                  {"file": path.name, "header": header, "sha256": digest})
                    res.quarantined += 1
                    continue
                exported_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
                files = {**imported, path.name: digest}
                with wh.transaction():   # an error part-way rolls the whole file back
                    n, bad = self._import_file(path, layout, exported_at, res)
                    wh.set_cursor(self.schema, OBJECT, {"files": files}, n)
            except UNREADABLE as exc:
                # one unreadable file (not UTF-8 text, broken CSV, vanished, no permission) is
                # quarantined and reported; the other files go on
                res.pages = pages_before
                message = (f"{path.name}: not readable as UTF-8 CSV ({type(exc).__name__}: "
                           f"{str(exc)[:200]}); re-export the file as CSV (UTF-8)")
                errors.append(message)
                log.warning("advocacy_platform: %s", message)
                self.progress.message(f"advocacy_platform: {message}")
                wh.quarantine(self.schema, OBJECT, path.name,
                              f"unreadable file ({type(exc).__name__})",
                              {"file": path.name, "size": _size(path)})
                res.quarantined += 1
                continue
            imported = files
            seen_hashes.add(digest)
            done += 1
            res.records += n
            res.quarantined += bad
            log.info("advocacy_platform: %s (%s): %d rows, %d quarantined", path.name, layout, n, bad)
        res.seconds = time.monotonic() - started
        notes = [f"{done} file(s) imported"]
        if skipped:
            notes.append(f"{len(skipped)} unchanged skipped")
        notes += errors
        res.note = "; ".join(notes)
        self.progress.done(self.name, res)
        return result

    def _import_file(self, path: Path, layout: str, exported_at: dt.datetime,
                     res: ObjectResult) -> tuple[int, int]:
        wh = self.warehouse
        batch: list[dict[str, Any]] = []
        written = bad = 0

        def flush() -> int:
            if not batch:
                return 0
            n = wh.upsert(T_POSTS, _arrow(batch), version="_exported_at",
                          extra_types={"_exported_at": "TIMESTAMP"})
            batch.clear()
            res.pages += 1
            self.progress.page(self.name, OBJECT, res.pages, res.records + written + n)
            return n

        for item in self.rows(path, layout, exported_at=exported_at):
            if isinstance(item, BadRow):
                src = getattr(item, "row", {})
                wh.quarantine(self.schema, OBJECT, (src.get(self.layouts()[layout]["columns"]["post_id"])
                                                    or None) if isinstance(src, dict) else None,
                              str(item), {"file": path.name, "line": getattr(item, "line", None),
                                          "row": src})
                bad += 1
                continue
            batch.append(item)
            if len(batch) >= BATCH_ROWS:
                written += flush()
        written += flush()
        return written, bad

    # -- check --------------------------------------------------------------------------------
    def check(self) -> list[Finding]:
        self.settings.require(self.name, "ADVOCACY_EXPORTS_DIR")
        folder = self.folder
        if not folder.is_dir():
            return [Finding(self.name, False, f"exports folder {folder} does not exist",
                            "create it and save the platforms' post exports (CSV) there, or "
                            "unset ADVOCACY_EXPORTS_DIR")]
        try:
            layouts = self.layouts()
        except export_layouts.LayoutError as exc:
            return [Finding(self.name, False, str(exc), "fix the file ADVOCACY_EXPORT_LAYOUTS names")]
        files = self.files()
        findings = [Finding(self.name, True, f"exports folder {folder} readable, "
                            f"{len(files)} CSV file(s); layouts: {', '.join(layouts)}")]
        for path in files:
            try:
                header = read_header(path)
            except UNREADABLE as exc:
                findings.append(Finding(self.name, False, f"{path.name}: not readable as UTF-8 CSV "
                                        f"({type(exc).__name__})", "re-export the file as CSV (UTF-8)"))
                continue
            layout = export_layouts.detect(header, layouts)
            if layout is None:
                findings.append(Finding(
                    self.name, False,
                    f"{path.name}: unknown export layout (header: {', '.join(header[:15]) or 'empty'})",
                    "export with the platform's standard post report, or describe its columns in a "
                    "JSON/YAML file named by ADVOCACY_EXPORT_LAYOUTS (see connectors/export_layouts.py)"))
                continue
            rows = bad = 0
            reasons: dict[str, int] = {}
            try:
                for item in self.rows(path, layout):
                    rows += 1
                    if isinstance(item, BadRow):
                        bad += 1
                        key = str(item).split(":")[0]
                        reasons[key] = reasons.get(key, 0) + 1
                    if rows >= CHECK_ROWS:
                        break
            except UNREADABLE as exc:
                findings.append(Finding(self.name, False, f"{path.name}: does not parse "
                                        f"({type(exc).__name__}: {exc})", "re-export the file as CSV (UTF-8)"))
                continue
            detail = f"{path.name}: layout {layout}, {rows} row(s) parsed"
            if bad:
                detail += (f", {bad} bad (will be quarantined: "
                           + ", ".join(f"{k} x{v}" for k, v in sorted(reasons.items())) + ")")
            findings.append(Finding(self.name, True, detail))
        return findings


def _ends_inside_a_line(path: Path) -> bool:
    """True when the file's last byte is not a line break: it was cut inside its last line
    (every platform ends its exports with one). An empty file is not cut."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return False
        fh.seek(-1, 2)
        return fh.read(1) not in (b"\n", b"\r")


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    names = ["post_id", "platform", "advocate_id", "advocate_email", "advocate_name", "network",
             "category", "campaign", "url", "_source_file"]
    arrays: dict[str, pa.Array] = {n: pa.array([r.get(n) for r in rows], pa.string()) for n in names}
    arrays["posted_at"] = pa.array([r["posted_at"] for r in rows], pa.timestamp("us"))
    for n in (*COUNTS, "engagements"):
        arrays[n] = pa.array([r[n] for r in rows], pa.int64())
    arrays["_exported_at"] = pa.array([r.get("_exported_at") for r in rows], pa.timestamp("us"))
    return pa.table(arrays)
