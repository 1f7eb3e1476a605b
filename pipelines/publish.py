"""Publishes the marts read-only for BI tools: one Parquet file per mart and one DuckDB file
holding them all, under ``PUBLISH_DIR`` (default ``published/`` beside the warehouse).

Why: DuckDB allows one writing process, and a BI tool holding the live warehouse open makes
the nightly sync fail. Readers open the published copies instead. Each file is written
beside its final name and renamed into place (``os.replace``, atomic on one file system): a
reader holding the previous file keeps reading it undisturbed, and the next open sees the new
one. ``published.json``, written last, says which build the files come from.

Only a complete night is published. When ``marts.data_quality`` says a source is missing
(``source_complete`` failed: its last sync failed, or its last complete sync is more than a
day old), the files of the last complete publication stay in place, ``published.json`` says
which source is missing since when (``incomplete``), and :class:`IncompleteNight` is raised:
the nightly job's step fails and the alert sensor reports it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from connectors.warehouse import warehouse_path

# not "marts.duckdb": DuckDB names a file's catalog after it, and a catalog "marts" beside the
# schema "marts" makes `marts.funnel_by_segment` ambiguous for every reader
PUBLISHED_DB = "advocacy.duckdb"
MANIFEST = "published.json"


def publish_dir(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("PUBLISH_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return warehouse_path(env).parent / "published"


class IncompleteNight(RuntimeError):
    """The marts hold part of a night (a source missing): not published."""

    def __init__(self, missing: list[dict[str, str]], directory: Path, previous: str | None) -> None:
        self.missing, self.directory, self.previous = missing, directory, previous
        names = "; ".join(f"{m['source']}: {m['detail']}" for m in missing)
        kept = (f"the publication of {previous} stays in place" if previous
                else "nothing was published yet")
        super().__init__(f"marts not published to {directory}: a source is missing from this "
                         f"night ({names}); {kept}. Fix the source and run the sync again")


def missing_sources(conn: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """The sources marts.data_quality says are missing from the build (source_complete
    failed), with its detail (why, since when); empty for a complete night, and for marts
    without the check (built by an older version)."""
    columns = {c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'data_quality'").fetchall()}
    if not {"check", "source", "status", "detail"} <= columns:
        return []
    return [{"source": s, "detail": d} for s, d in conn.execute(
        "select source, detail from marts.data_quality where \"check\" = 'source_complete' "
        "and status = 'fail' order by source").fetchall()]


def _previous(out: Path) -> dict:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@dataclass
class Published:
    directory: Path
    database: Path
    parquet: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _temp_beside(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".tmp_{final.stem}_", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    os.unlink(name)  # DuckDB creates the file itself
    return Path(name)


def publish_marts(warehouse: str | Path | None = None, out_dir: str | Path | None = None) -> Published:
    """Copies every table of the warehouse's ``marts`` schema (``data_quality`` and
    ``run_manifest`` included) to Parquet files and a read-only DuckDB file."""
    warehouse = Path(warehouse) if warehouse else warehouse_path()
    out = Path(out_dir) if out_dir else publish_dir()
    (out / "parquet").mkdir(parents=True, exist_ok=True)
    result = Published(out, out / PUBLISHED_DB)
    temps: dict[Path, Path] = {}          # temporary file -> its final name
    try:
        with duckdb.connect(str(warehouse), read_only=True) as src:
            missing = missing_sources(src)
            if missing:
                refuse(out, missing)
            marts = [r[0] for r in src.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' and table_type = 'BASE TABLE' order by 1").fetchall()]
            if not marts:
                raise RuntimeError(f"the warehouse {warehouse} has no marts to publish: run dbt build first")
            for name in marts:
                final = out / "parquet" / f"{name}.parquet"
                tmp = _temp_beside(final)
                temps[tmp] = final
                src.execute(f"copy (select * from marts.{_quote(name)}) to {_literal(tmp)} "
                            "(format parquet, compression zstd)")
                result.parquet[name] = final
                result.rows[name] = src.execute(f"select count(*) from marts.{_quote(name)}").fetchone()[0]
        # the DuckDB file is built from the Parquet files just written: the warehouse is
        # opened once, read-only, and the copy holds exactly what the Parquet files hold
        parquet_tmp = dict(zip(result.parquet, temps, strict=True))
        db_tmp = _temp_beside(result.database)
        temps[db_tmp] = result.database
        with duckdb.connect(str(db_tmp)) as dst:
            catalog = dst.execute("select current_database()").fetchone()[0]
            dst.execute("create schema marts")
            for name, tmp in parquet_tmp.items():
                dst.execute(f"create table {_quote(catalog)}.marts.{_quote(name)} as "
                            f"select * from read_parquet({_literal(tmp)})")
            dst.execute("checkpoint")
        for tmp, final in temps.items():
            os.chmod(tmp, 0o444)  # published files are for reading
            os.replace(tmp, final)
        temps.clear()
        # a mart dropped from the project leaves no stale file behind (published.json lists
        # what there is; a reader holding the old file keeps reading it)
        for stale in (out / "parquet").glob("*.parquet"):
            if stale.stem not in result.parquet:
                stale.unlink()
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    manifest = {"published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "database": PUBLISHED_DB, "schema": "marts",
                "tables": {n: {"parquet": f"parquet/{n}.parquet", "rows": r} for n, r in result.rows.items()}}
    _write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return result


def refuse(out: Path, missing: list[dict[str, str]]) -> None:
    """Keep the last complete publication; say in ``published.json`` what is missing since
    when; raise :class:`IncompleteNight`."""
    manifest = _previous(out)
    manifest["incomplete"] = {
        "refused_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "missing": missing,
        "note": "the files are the last complete publication (published_at); this night's "
                "build lacks the sources listed and was not published",
    }
    _write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    raise IncompleteNight(missing, out, manifest.get("published_at"))


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = _temp_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
