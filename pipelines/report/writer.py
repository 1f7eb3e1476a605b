"""Writes the report: one self-contained HTML file (data, plotly.js, styles and script all
inline: it opens from disk or an e-mail attachment, with no network) and a CSV of every table
it shows, into one folder (default ``data/report/``). Each file is written beside its final
name and renamed into place, so a reader never sees half a report."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pipelines.report.data import Table, fiscal_start_month, load_tables

HERE = Path(__file__).resolve().parent
REPORT_NAME = "advocacy_report.html"


def plotly_js() -> str:
    """plotly.js as shipped inside the installed ``plotly`` package (MIT licence; its
    licence header stays at the top of the file)."""
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_text("utf-8")


def _script_json(payload: object) -> str:
    # inside <script type="application/json">: no "</script>" or "<!--" can close it early
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(tables: dict[str, Table], fiscal_month: int) -> str:
    manifest = tables["manifest"].records()
    payload = {
        "currency": manifest[0]["reporting_currency"] if manifest else "",
        "fiscal_year_start_month": fiscal_month,
        "tables": {name: {"columns": t.columns, "rows": t.rows} for name, t in tables.items()
                   if name != "manifest"} | {
            "manifest": {"columns": [c for c in tables["manifest"].columns if c != "config_json"],
                         "rows": [[v for c, v in zip(tables["manifest"].columns, r, strict=True)
                                   if c != "config_json"] for r in tables["manifest"].rows]}},
    }
    page = (HERE / "template.html").read_text("utf-8")
    # replaced one by one, data last: a placeholder inside the data must stay data
    for marker, content in (("/*__CSS__*/", (HERE / "report.css").read_text("utf-8")),
                            ("/*__PLOTLY__*/", plotly_js()),
                            ("/*__JS__*/", (HERE / "report.js").read_text("utf-8"))):
        head, sep, tail = page.partition(marker)
        assert sep, marker
        page = head + content + tail
    head, sep, tail = page.partition("/*__DATA__*/")
    return head + _script_json(payload) + tail


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Report:
    html: Path
    csvs: list[Path] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return self.html.stat().st_size


def write_report(warehouse: str | Path, out_dir: str | Path) -> Report:
    """Reads the marts of ``warehouse`` and writes the report and its CSVs into ``out_dir``."""
    import duckdb

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = load_tables(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        fiscal_month = fiscal_start_month(conn)
    report = Report(out / REPORT_NAME)
    for name, table in tables.items():
        path = out / f"{name}.csv"

        def write_csv(fh, table: Table = table) -> None:
            writer = csv.writer(fh)
            writer.writerow(table.columns)
            writer.writerows(table.rows)

        _atomic_write(path, write_csv)
        report.csvs.append(path)
    html = render_html(tables, fiscal_month)
    _atomic_write(report.html, lambda fh: fh.write(html))
    return report
