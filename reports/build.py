"""Build the policy report (HTML, PDF, XLSX) from a report bundle folder.

The report is built only from the bundle, so ``exportcast report --run-id`` can rebuild it from
the copy logged to MLflow. Every file is written through a temporary sibling and renamed into
place, so a failed build never leaves a half-written report.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from openpyxl.utils import get_column_letter

from exportcast.flows.io import atomic_write
from exportcast.models.opportunities import METHOD as OPPORTUNITIES_METHOD
from exportcast.reports import (
    charts,
    content,
    formatting,
    fta_content,
    outlook,
    run_history,
    sections_index,
    sections_partners,
    sections_scenarios,
)
from exportcast.reports.bundle import ReportBundle, load_bundle
from exportcast.reports.printer import (
    BROWSER_ARGS,
    CHROMIUM,
    ChromiumMissingError,
    PdfError,
    PdfPrinter,
)

__all__ = [
    "BROWSER_ARGS",
    "CHROMIUM",
    "SHEETS",
    "ChromiumMissingError",
    "PdfError",
    "PdfPrinter",
    "ReportFiles",
    "build_report",
    "render_html",
    "write_pdf",
    "write_xlsx",
]

TEMPLATES = Path(str(resources.files("exportcast.reports") / "templates"))
# Sheet name -> bundle attribute (Summary and Sources are built from report.json).
SHEETS = {
    "Indices": "concentration",
    "Forecasts": "forecasts",
    "History": "history",
    "Opportunities": "opportunities",
    "Scenario partners": "scenario_partners",
    "Scenario indices": "scenario_indices",
    "Backtest accuracy": "accuracy",
    "Index backtest": "index_backtest",
    "Changes since last run": "changes_since_last_run",  # docs/data-updates.md
    "Vintage track record": "vintage_track",
}


@dataclass(frozen=True)
class ReportFiles:
    """The three report files.

    Attributes:
        html: Self-contained HTML.
        pdf: The same content printed by headless Chromium (None when not asked for).
        xlsx: The tables, one sheet each.
    """

    html: Path
    pdf: Path | None
    xlsx: Path


def _charts(bundle: ReportBundle, top: list[str], names: dict[str, str]) -> dict[str, str]:
    dep = " + ".join(names.get(c, c) for c in bundle.dependence_set)
    conc = bundle.concentration
    out = {
        "dependence": charts.fan_chart(
            conc,
            "dependence_share",
            levels=bundle.levels,
            title=f"{dep} share of exports",
            ylabel="%",
            scale=100.0,
            threshold=float(bundle.meta["dependence_threshold"]),
        ),
        "hhi": charts.fan_chart(
            conc, "hhi", levels=bundle.levels, title="Concentration (HHI)", ylabel="HHI"
        ),
        "partners": charts.partner_panels(
            bundle.history, bundle.forecasts, top[:6], names, levels=bundle.levels
        ),
        "fast": "",
        "opportunities": "",
    }
    fast = sections_partners.fastest_growing_frame(bundle)
    if not fast.empty:
        out["fast"] = charts.bar_chart(
            [names.get(str(c), str(c)) for c in fast.index],
            fast["growth"].tolist(),
            title="Forecast growth",
            xlabel="% a year",
        )
    opp = bundle.opportunities.sort_values("rank").head(10)
    if not opp.empty:
        out["opportunities"] = charts.bar_chart(
            [names.get(str(c), str(c)) for c in opp["partner"]],
            (100.0 * opp["contribution_ddep"]).tolist(),
            title=f"Change of the {dep} share by partner",
            xlabel="percentage points",
        )
    return out


def _context(bundle: ReportBundle) -> dict[str, Any]:
    names = formatting.partner_names(bundle)
    top_table, top = sections_partners.top_partners(bundle)
    accuracy_sentences, accuracy_table = content.accuracy_section(bundle)
    index_sentences, index_table = sections_index.index_backtest_section(bundle)
    conc = bundle.concentration
    last_year = int(conc.loc[conc["kind"] == "history", "year"].max())
    end_year = int(conc.loc[conc["kind"] == "forecast", "year"].max())
    meta = bundle.meta
    scenarios = sections_scenarios.scenario_sections(bundle)
    return {
        "title": f"{meta['reporter_name']}: export dependence and diversification outlook "
        f"{last_year}\u2013{end_year}",
        "meta": meta,
        "last_year": last_year,
        "end_year": end_year,
        "levels": bundle.levels,
        "threshold": formatting.fmt_pct(float(meta["dependence_threshold"]), 0),
        "dep_label": " + ".join(names.get(c, c) for c in bundle.dependence_set),
        "summary": content.summary_sentences(bundle),
        "charts": _charts(bundle, top, names),
        "index_table": sections_index.index_table(bundle),
        "top_table": top_table,
        "fast_table": sections_partners.fastest_growing(bundle),
        "registry_table": sections_partners.open_registry_table(bundle),
        "drivers": sections_partners.forecast_drivers(bundle, top),
        "opp_table": sections_partners.opportunities_table(bundle),
        "scenarios": scenarios,
        # the same notes for every scenario of a run: once, in the appendix
        "scenario_methods": list(dict.fromkeys(s["method"] for s in scenarios if s["method"])),
        "fta_effects": fta_content.effect_comparison(bundle),  # None: no world-priced scenario
        "fta_track": fta_content.track_record_section(bundle),  # None: no fta_track_record.csv
        # None: a bundle from before flows/run_history.py (docs/data-updates.md)
        "what_changed": run_history.what_changed_section(bundle),
        "vintage_track": run_history.track_section(bundle),
        "accuracy_sentences": accuracy_sentences,
        "accuracy_table": accuracy_table,
        "index_backtest_sentences": index_sentences,
        "index_backtest_table": index_table,
        "opportunities_method": OPPORTUNITIES_METHOD,
        "forecast_methods": outlook.forecast_method(meta),
        "sources": content.sources_table(bundle),
        "config": content.config_text(bundle),
    }


def render_html(bundle: ReportBundle) -> str:
    """The report as one self-contained HTML page (inline CSS, charts as data URIs).

    Args:
        bundle: The report bundle.

    Returns:
        The HTML text; every text from the data is escaped.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2").render(**_context(bundle))


def write_pdf(
    html: Path, pdf: Path, *, chromium: Path = CHROMIUM, printer: PdfPrinter | None = None
) -> Path:
    """Print an HTML file to PDF with headless Chromium (fresh profile, no network).

    Args:
        html: The HTML file.
        pdf: Destination (written atomically).
        chromium: The Chromium binary (when no ``printer`` is given).
        printer: A running :class:`reports.printer.PdfPrinter` (None: one is started and
            closed for this file).

    Returns:
        The PDF path.

    Raises:
        ChromiumMissingError: The Chromium binary is missing (a ``FileNotFoundError``).
        PdfError: Chromium failed, timed out or wrote no PDF (a ``RuntimeError``).
    """
    if printer is not None:
        return printer.print_pdf(html, pdf)
    with PdfPrinter(chromium) as own:
        return own.print_pdf(html, pdf)


def _summary_frame(bundle: ReportBundle) -> pd.DataFrame:
    meta = bundle.meta
    items = [("Finding", s) for s in content.summary_sentences(bundle)]
    for key in (
        "reporter",
        "reporter_name",
        "first_year",
        "last_year",
        "horizon",
        "data_vintage",
        "config_hash",
        "code_version",
        "mlflow_run_id",
        "prefect_flow_run_id",
        "selected_model",
        "created_utc",
    ):
        items.append((key, str(meta.get(key, ""))))
    items.append(("dependence_set", ", ".join(bundle.dependence_set)))
    return pd.DataFrame(items, columns=["item", "value"])


PERCENT, USD, PCT_POINTS, RATIO, INDEX = "0.0%", "#,##0", "0.0", "0.000", "0.0000"
_BAND = r"(_p50|_(lo|hi)_\d+)?"
# Excel number formats by sheet: (column regex, format); values stay full-precision numbers
XLSX_FORMATS: dict[str, list[tuple[str, str]]] = {
    "Indices": [
        (rf"(cr\d|share_\w+|dependence_share){_BAND}|p_dependence_below", PERCENT),
        (rf"hhi(_norm)?{_BAND}", INDEX),
        (rf"(n_effective|theil){_BAND}", "0.00"),
    ],
    "Forecasts": [(r"mean|(lo|hi)_\d+", USD)],
    "History": [(r"export_usd", USD)],
    "Opportunities": [
        (r"(current|forecast)_share", PERCENT),
        (r"\w+_pct", PCT_POINTS),
        (r"contribution_\w+", "0.00"),
        (r"distance_km", USD),
    ],
    "Scenario partners": [
        (r"(baseline|scenario)_(mean|lo_\d+|hi_\d+)|actual", USD),
        (r"effect_\w+|\w+_effect_pct", PCT_POINTS),
    ],
    "Backtest accuracy": [(r"w?(MASE|RMSSE|relMASE)", RATIO), (r"w?sMAPE", PCT_POINTS)],
    "Index backtest": [(r"forecast|actual|no_change", PERCENT)],
}
# scenario indices: one index per row, so the format follows the row's index
_INDEX_ROW_FORMATS = {"dependence_share": PERCENT, "hhi": INDEX, "hhi_norm": INDEX}


def _column_format(sheet: str, column: str) -> str | None:
    for pattern, fmt in XLSX_FORMATS.get(sheet, []):
        if re.fullmatch(pattern, column):
            return fmt
    return None


def _format_sheet(ws: Any, sheet: str, frame: pd.DataFrame) -> None:
    """Number formats (shares as %, USD with separators) and readable column widths."""
    for j, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = min(max(len(str(column)) + 2, 11), 45)
        fmt = _column_format(sheet, str(column))
        if sheet == "Scenario indices" and column not in ("scenario", "origin", "year", "index"):
            for i, index in enumerate(frame["index"].astype(str), start=2):
                row_fmt = _INDEX_ROW_FORMATS.get(index, "0.00")
                if str(column).startswith("diff_"):  # differences are small: two more digits
                    row_fmt = row_fmt.replace("0.0", "0.000", 1)
                ws.cell(row=i, column=j).number_format = row_fmt
        elif fmt is not None:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt


def write_xlsx(bundle: ReportBundle, path: Path) -> Path:
    """The report's tables as a workbook: Summary, the bundle frames, Sources.

    Args:
        bundle: The report bundle.
        path: Destination (written atomically).

    Returns:
        The workbook path.
    """
    sources = pd.DataFrame(
        bundle.meta["sources"], columns=["table", "publisher", "title", "license", "url"]
    )

    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            _summary_frame(bundle).to_excel(writer, sheet_name="Summary", index=False)
            for sheet, attr in SHEETS.items():
                frame = getattr(bundle, attr)
                frame.to_excel(writer, sheet_name=sheet, index=False)
                _format_sheet(writer.sheets[sheet], sheet, frame)
            sources.to_excel(writer, sheet_name="Sources", index=False)
            for ws in writer.book.worksheets:
                ws.freeze_panes = "A2"

    return atomic_write(path, write)


def build_report(
    bundle_dir: Path,
    out_dir: Path,
    *,
    chromium: Path = CHROMIUM,
    pdf: bool = True,
    printer: PdfPrinter | None = None,
) -> ReportFiles:
    """Build ``exportcast-report-<REPORTER>-<last_year>.{html,pdf,xlsx}`` from a bundle.

    Args:
        bundle_dir: The report bundle folder (see ``reports.bundle``).
        out_dir: Where the three files go (created if needed).
        chromium: The Chromium binary that prints the PDF (when no ``printer`` is given).
        pdf: Print the PDF (False: HTML and XLSX only, no Chromium needed).
        printer: A Chromium already started (``reports.printer.PdfPrinter``; None: one is
            started for this report).

    Returns:
        Paths of the HTML, PDF (None when ``pdf`` is False) and XLSX files.

    Raises:
        reports.bundle.BundleError: A missing file, key or column in the bundle.
        ChromiumMissingError: Chromium is missing.
        PdfError: Chromium failed to print the PDF.
    """
    bundle = load_bundle(bundle_dir)
    conc = bundle.concentration
    last_year = int(conc.loc[conc["kind"] == "history", "year"].max())
    stem = f"exportcast-report-{bundle.meta['reporter']}-{last_year}"
    out_dir = Path(out_dir)
    text = render_html(bundle)
    html = atomic_write(out_dir / f"{stem}.html", lambda p: p.write_text(text, "utf-8"))
    if not pdf:
        return ReportFiles(html=html, pdf=None, xlsx=write_xlsx(bundle, out_dir / f"{stem}.xlsx"))
    # Chromium prints in its own process while this one writes the workbook (the thread only
    # waits for Chromium): about 0.7 s less per report on two cores. Both are always awaited,
    # and the workbook's error wins if both fail.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="exportcast-pdf") as pool:
        printing = pool.submit(
            write_pdf, html, out_dir / f"{stem}.pdf", chromium=chromium, printer=printer
        )
        try:
            xlsx = write_xlsx(bundle, out_dir / f"{stem}.xlsx")
        finally:
            wait([printing])
    return ReportFiles(html=html, pdf=printing.result(), xlsx=xlsx)
