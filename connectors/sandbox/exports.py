"""The advocacy platforms' post exports (CSV), as a user would download them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from connectors.sandbox import catalog, store


def _posted_at(value: str, fmt: str) -> str:
    if fmt == "iso":
        return value[:19] + "Z"
    return dt.datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").strftime(fmt)


def write_exports(store_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write one CSV per platform layout (posts with their current cumulative counts).

    File names carry the world's clock date; a file whose content is unchanged is not rewritten.
    A platform listed in the meta key ``exports_cut_last_line`` serves an incomplete download:
    the file ends inside its last field (its last character and the line break missing).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    conn = store.connect(store_path, readonly=True)
    try:
        clock = store.get_meta(conn, "clock")
        cut = set(store.get_meta(conn, "exports_cut_last_line") or [])
        written = []
        for platform, layout in catalog.EXPORT_LAYOUTS.items():
            cols = layout["columns"]
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(list(cols.values()))
            for row in conn.execute(
                "SELECT * FROM advocacy_post WHERE platform = ? ORDER BY posted_at, post_id",
                (platform,),
            ):
                values = []
                for ours in cols:
                    v = row[ours]
                    if ours == "posted_at":
                        v = _posted_at(v, layout["posted_at_format"])
                    values.append(v)
                writer.writerow(values)
            path = out / f"{layout['file_prefix']}{clock}.csv"
            data = buf.getvalue().encode("utf-8")
            if platform in cut and data.count(b"\n") > 1:
                data = data[:-2]
            if not path.exists() or path.read_bytes() != data:
                tmp = path.with_suffix(".csv.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
            written.append(path)
        return written
    finally:
        conn.close()
