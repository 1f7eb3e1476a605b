"""The attribution report: one self-contained HTML page from the marts, with a CSV per table
(``write_report``). ``data`` reads the marts, ``writer`` assembles and writes the files; the
page itself (``template.html``, ``report.js``, ``report.css``) draws everything client-side
from the embedded tables, so the quarter and model pickers need no server."""

from pipelines.report.data import MartsMissing, load_tables
from pipelines.report.writer import REPORT_NAME, Report, write_report

__all__ = ["REPORT_NAME", "MartsMissing", "Report", "load_tables", "write_report"]
