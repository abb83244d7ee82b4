"""The policy report: files, self-contained HTML in Chromium, PDF text, XLSX round trip,
escaping, and numbers that come from the bundle."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from exportcast.models.index_backtest import summarize_index_backtest
from exportcast.reports import build_report, load_bundle
from exportcast.reports.build import SHEETS, render_html
from exportcast.reports.content import summary_sentences
from exportcast.reports.sections_index import index_backtest_section
from exportcast.reports.sections_scenarios import scenario_sections
from tests.reports.conftest import ARTIFACTS, write_bundle

EVIL = "<script>alert(1)</script> & Viet"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _forecast_end(bundle):
    conc = bundle.concentration
    return conc[conc["year"] == conc["year"].max()].iloc[0]


def test_files_are_named_for_reporter_and_year(built):
    for path, ext in ((built.html, "html"), (built.pdf, "pdf"), (built.xlsx, "xlsx")):
        assert path.name == f"exportcast-report-KOR-2023.{ext}"
        assert path.stat().st_size > 1000
    assert not list(built.html.parent.glob("*.tmp"))


def test_html_is_self_contained(built):
    html = built.html.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "<link" not in html
    assert not re.findall(r"""(?:src|href)\s*=\s*["'](?!data:)""", html)
    assert not re.findall(r"url\(", html)
    assert html.count('src="data:image/png;base64,') >= 5


def test_html_renders_in_chromium_without_errors_or_requests(built, chromium_page):
    page = chromium_page.page
    url = built.html.resolve().as_uri()
    page.goto(url, wait_until="load")
    assert chromium_page.errors == []
    assert chromium_page.console == []
    assert [r for r in chromium_page.requests if not r.startswith("data:")] == [url]
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert len(widths) >= 5
    assert all(w and w > 0 for w in widths)
    headings = page.locator("h2").all_inner_texts()
    assert headings[:3] == ["Summary", "Dependence and concentration", "Top partners"]
    assert "Appendix" in headings
    # no table is wider than the text column (long file names and hashes in the sources wrap)
    wide = page.eval_on_selector_all(
        "table",
        "ts => ts.map(t => [t.scrollWidth, t.parentElement.clientWidth])"
        ".filter(([w, room]) => w > room + 1)",
    )
    assert wide == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-KOR.png"), full_page=True)


def test_pdf_has_pages_and_the_summary_numbers(built, bundle_dir, tmp_path):
    bundle = load_bundle(bundle_dir)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "20", str(built.pdf), str(tmp_path / "p")], check=True
    )
    pages = list(tmp_path.glob("p-*.png"))
    assert 3 <= len(pages) <= 25
    text = subprocess.run(
        ["pdftotext", str(built.pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    text = " ".join(text.split())
    end = _forecast_end(bundle)
    conc = bundle.concentration
    now = conc[conc["year"] == 2023].iloc[0]
    assert f"{_pct(end['dependence_share'])} of Korea" in text
    assert (
        f"{_pct(end['dependence_share_lo_80'])[:-2]}–{_pct(end['dependence_share_hi_80'])}" in text
    )
    assert f"{_pct(now['dependence_share'])} in 2023" in text
    top = bundle.opportunities.sort_values("rank").iloc[0]
    assert f"Biggest diversification opportunity: {top['name']}" in text
    assert "80 % intervals contained the outcome 80.1 % of the time" in text


def test_xlsx_sheets_equal_bundle_frames(built, bundle_dir):
    bundle = load_bundle(bundle_dir)
    sheets = pd.read_excel(built.xlsx, sheet_name=None, keep_default_na=False, na_values=[""])
    assert list(sheets)[:1] == ["Summary"]
    assert {"Summary", "Sources", *SHEETS} == set(sheets)
    for sheet, attr in SHEETS.items():
        pd.testing.assert_frame_equal(
            sheets[sheet], getattr(bundle, attr), check_dtype=False, obj=sheet
        )
    sources = sheets["Sources"]
    assert list(sources["table"]) == [s["table"] for s in bundle.meta["sources"]]
    assert any(
        v.startswith("China + United States are forecast") for v in sheets["Summary"]["value"]
    )


def test_xlsx_formats_shares_as_percent_and_usd_with_separators(built, bundle_dir):
    import openpyxl

    bundle = load_bundle(bundle_dir)
    wb = openpyxl.load_workbook(built.xlsx)

    def formats(sheet, column):
        ws = wb[sheet]
        j = [c.value for c in ws[1]].index(column) + 1
        return {ws.cell(row=i, column=j).number_format for i in range(2, ws.max_row + 1)}

    assert formats("Indices", "dependence_share") == {"0.0%"}
    assert formats("Indices", "dependence_share_lo_80") == {"0.0%"}
    assert formats("Indices", "hhi_hi_95") == {"0.0000"}
    assert formats("Indices", "year") == {"General"}
    assert formats("History", "export_usd") == {"#,##0"}
    assert formats("Forecasts", "hi_95") == {"#,##0"}
    assert formats("Opportunities", "current_share") == {"0.0%"}
    assert formats("Index backtest", "actual") == {"0.0%"}  # a share here, USD elsewhere
    assert formats("Scenario partners", "actual") == {"#,##0"}
    # scenario indices: the row's index decides (a share, the HHI, effective partners)
    ws = wb["Scenario indices"]
    header = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2, values_only=False))
    by_index = {r[header.index("index")].value: r for r in rows}
    assert by_index["dependence_share"][header.index("baseline_point")].number_format == "0.0%"
    assert by_index["dependence_share"][header.index("diff_point")].number_format == "0.000%"
    assert by_index["hhi"][header.index("baseline_point")].number_format == "0.0000"
    # formats only: the stored numbers are the bundle's, unrounded
    got = wb["Indices"].cell(row=2, column=header_of(wb["Indices"], "hhi")).value
    assert got == bundle.concentration["hhi"].iloc[0]


def header_of(ws, column):
    return [c.value for c in ws[1]].index(column) + 1


def test_text_from_data_is_escaped(tmp_path, snapshot_tables, chromium_page):
    folder = write_bundle(
        tmp_path / "bundle", snapshot_tables, rename={"VNM": EVIL}, title_suffix=" <b>&</b>"
    )
    html = render_html(load_bundle(folder))
    assert "<script>alert" not in html
    assert "<b>&</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Viet" in html
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html
    path = tmp_path / "evil.html"
    path.write_text(html, encoding="utf-8")
    page = chromium_page.page
    page.goto(path.as_uri())
    assert page.locator("script").count() == 0
    assert page.locator("b").count() == 0
    body = page.inner_text("body")
    assert EVIL in body  # shown literally
    assert "outputs <b>&</b>" in body  # config value, escaped in the <pre>
    assert chromium_page.errors == []


def test_summary_numbers_follow_the_bundle(bundle_dir):
    bundle = load_bundle(bundle_dir)
    conc = bundle.concentration.copy()
    last = conc["year"] == conc["year"].max()
    conc.loc[last, "dependence_share"] = 0.4321
    conc.loc[last, "p_dependence_below"] = 0.07
    changed = dataclasses.replace(bundle, concentration=conc)
    text = " ".join(summary_sentences(changed))
    assert "take 43.2 % of Korea" in text
    assert "in 2028 is 7 %." in text
    assert "43.2 %" not in " ".join(summary_sentences(bundle))


def test_accuracy_sentence_says_less_or_more_than_no_change(bundle_dir):
    bundle = load_bundle(bundle_dir)
    text = " ".join(summary_sentences(bundle))
    assert "Over 2008–2018, the forecasts missed by 6 % less than simply assuming no change" in text
    acc = bundle.accuracy.copy()
    acc.loc[acc["model"] == "Selected", "relMASE"] = 1.12
    worse = " ".join(summary_sentences(dataclasses.replace(bundle, accuracy=acc)))
    assert "missed by 12 % more than simply assuming no change" in worse
    acc.loc[acc["model"] == "Selected", "relMASE"] = 0.996
    tie = " ".join(summary_sentences(dataclasses.replace(bundle, accuracy=acc)))
    assert "missed about as much as simply assuming no change" in tie
    assert "missed by 0 %" not in tie


def test_ppml_and_regression_disagreement_gets_a_sentence(bundle_dir):
    sections = {s["title"]: s for s in scenario_sections(load_bundle(bundle_dir))}
    india = " ".join(sections["Upgraded Korea–India CEPA"]["sentences"])
    uae = " ".join(sections["Korea–UAE CEPA enters into force"]["sentences"])
    assert "disagree" in india and "India in 2028" in india
    assert india.count("disagree") == 1  # one sentence per partner, at the horizon
    assert "agree on the direction" in uae
    known = sections["Korea–UAE CEPA enters into force"]["outcomes"]
    assert known is not None and known.rows  # earlier origin with actual outcomes


def test_report_without_scenarios_says_so(tmp_path, snapshot_tables):
    folder = write_bundle(tmp_path / "bundle", snapshot_tables, scenarios=False)
    bundle = load_bundle(folder)
    assert bundle.scenario_partners.empty
    html = render_html(bundle)
    assert html.count("No scenarios were configured for this run.") == 2  # summary + section


def test_missing_chromium_is_a_clear_error_and_leaves_no_partial_pdf(bundle_dir, tmp_path):
    missing = tmp_path / "no" / "chromium"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        build_report(bundle_dir, tmp_path / "out", chromium=missing)
    assert not list((tmp_path / "out").glob("*.pdf"))
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_bundle_copy_rebuilds_identical_html(built, bundle_dir, tmp_path):
    # the report depends only on the bundle folder: a copy elsewhere gives the same HTML
    copy = shutil.copytree(bundle_dir, tmp_path / "elsewhere")
    assert render_html(load_bundle(copy)) == built.html.read_text(encoding="utf-8")


def test_report_package_imports_no_orchestration_or_tracking():
    # only the atomic file writer of flows.io; Prefect and MLflow stay out of report building
    code = (
        "import sys, exportcast.reports.build; "
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('exportcast.flows', 'flows', 'prefect', 'mlflow'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],  # the interpreter running the tests (.venv or not)
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert out.stdout.strip() == "['exportcast.flows', 'exportcast.flows.io']"


def test_build_without_pdf_needs_no_chromium(bundle_dir, tmp_path):
    files = build_report(bundle_dir, tmp_path, chromium=tmp_path / "none", pdf=False)
    assert files.pdf is None
    assert files.html.is_file() and files.xlsx.is_file()
    assert not list(tmp_path.glob("*.pdf"))


def test_names_fall_back_to_iso_names_without_partner_names(bundle_dir):
    bundle = load_bundle(bundle_dir)
    meta = {k: v for k, v in bundle.meta.items() if k != "partner_names"}
    text = summary_sentences(dataclasses.replace(bundle, meta=meta))[0]
    assert text.startswith("China + United States are forecast")


def test_header_only_scenario_files_render(tmp_path, snapshot_tables):
    # the pipeline writes the contract's columns and no rows when no scenario is configured
    folder = write_bundle(tmp_path / "bundle", snapshot_tables, scenarios=False)
    cols = {
        "scenario_partners.csv": "scenario,origin,partner,year,baseline_mean,scenario_mean,"
        "effect_pct,ppml_effect_pct,gbm_effect_pct,ridge_effect_pct,actual",
        "scenario_indices.csv": "scenario,origin,year,index,baseline_p50,scenario_p50,"
        "diff_p50,actual",
    }
    for name, header in cols.items():
        (folder / name).write_text(header + "\n")
    html = render_html(load_bundle(folder))
    assert "No scenarios were configured for this run." in html


def _overall(bundle):
    return summarize_index_backtest(bundle.index_backtest).set_index("h").loc["all"]


def test_index_track_record_sentences_and_table_come_from_the_bundle(bundle_dir):
    bundle = load_bundle(bundle_dir)
    s = _overall(bundle)
    assert s["mae"] < s["mae_no_change"] and s["bias"] > 0  # the synthetic bundle's case
    sentences, table = index_backtest_section(bundle)
    text = " ".join(sentences)
    assert (
        "Tested on origins 2008–2018, the China + United States share computed from the "
        f"forecasts missed the actual share by {s['mae']:.2f} percentage points on average "
        "(1–5 years ahead, 55 forecasts); assuming the share stays at its last value missed by "
        f"{s['mae_no_change']:.2f} points."
    ) in text
    gap = round(s["mae_no_change"], 2) - round(s["mae"], 2)
    rel = 100 * gap / round(s["mae_no_change"], 2)
    assert (
        f"beat this no-change benchmark: it missed by {gap:.2f} points ({rel:.0f} %) less." in text
    )
    assert f"On average the forecast share was {s['bias']:.2f} points too high." in text
    assert [r[0] for r in table.rows] == ["1", "2", "3", "4", "5", "1–5"]
    assert table.rows[-1][1:] == [
        f"{s['mae']:.2f}",
        f"{s['mae_no_change']:.2f}",
        f"+{s['bias']:.2f}",
        "55",
    ]
    summary = " ".join(summary_sentences(bundle))
    assert (
        "Track record of the China + United States share forecast: tested on origins "
        f"2008–2018, it missed the actual share by {s['mae']:.2f} percentage points on average "
        f"(1–5 years ahead), better than assuming no change ({s['mae_no_change']:.2f} points)."
    ) in summary


def test_index_track_record_says_plainly_when_no_change_did_as_well_or_better(bundle_dir):
    bundle = load_bundle(bundle_dir)
    frame = bundle.index_backtest
    low = dataclasses.replace(bundle, index_backtest=frame.assign(forecast=frame["actual"] - 0.03))
    s = _overall(low)
    assert s["mae"] == pytest.approx(3.0) and s["mae"] > s["mae_no_change"]
    text = " ".join(index_backtest_section(low)[0])
    gap = round(s["mae"], 2) - round(s["mae_no_change"], 2)
    rel = 100 * gap / round(s["mae_no_change"], 2)
    assert (
        f"did not beat simply assuming no change: it missed by {gap:.2f} points ({rel:.0f} %) more."
    ) in text
    assert "On average the forecast share was 3.00 points too low." in text
    assert "beat this no-change benchmark" not in text
    assert "3.00 percentage points on average (1–5 years ahead), worse than assuming no " in (
        " ".join(summary_sentences(low))
    )
    same = dataclasses.replace(bundle, index_backtest=frame.assign(forecast=frame["no_change"]))
    text = " ".join(index_backtest_section(same)[0])
    assert "The forecast of the share did not beat simply assuming no change." in text
    assert ", no better than assuming no change (" in " ".join(summary_sentences(same))


def test_index_track_record_calls_a_gap_under_five_percent_a_tie(bundle_dir):
    # Korea's real numbers: 1.80 vs 1.83 points (2 %) must not read as "better"
    bundle = load_bundle(bundle_dir)
    frame = bundle.index_backtest
    err = (frame["no_change"] - frame["actual"]).abs().mean()
    # every forecast error 2 % smaller than no change's, with the same sign
    close = frame.assign(forecast=frame["actual"] + 0.98 * (frame["no_change"] - frame["actual"]))
    tie = dataclasses.replace(bundle, index_backtest=close)
    s = _overall(tie)
    assert s["mae"] == pytest.approx(0.98 * 100 * err) and s["mae"] < s["mae_no_change"]
    text = " ".join(index_backtest_section(tie)[0])
    assert "did not beat simply assuming no change: the difference (" in text
    assert "is too small to tell apart on 11 overlapping origins." in text
    assert "beat this no-change benchmark" not in text
    summary = " ".join(summary_sentences(tie))
    assert "no better than assuming no change (" in summary
    assert "; too close to tell apart)." in summary
    assert "better than assuming no change" not in summary.replace("no better than", "")


def test_report_shows_the_index_track_record(built, bundle_dir):
    s = _overall(load_bundle(bundle_dir))
    html = built.html.read_text(encoding="utf-8")
    accuracy = html[html.index('<section id="accuracy">') :]
    assert "<h3>The China + United States share</h3>" in accuracy
    assert f"missed the actual share by {s['mae']:.2f} percentage points" in accuracy
    summary = html[: html.index('<section id="dependence">')]
    assert "Track record of the China + United States share forecast" in summary
    assert '<th class="num">No-change error, points</th>' in accuracy


def test_bundle_of_an_older_run_without_index_backtest_builds(tmp_path, snapshot_tables):
    folder = write_bundle(tmp_path / "bundle", snapshot_tables, index_backtest=False)
    bundle = load_bundle(folder)
    assert index_backtest_section(bundle) == ([], None)
    assert not any("Track record" in s for s in summary_sentences(bundle))
    files = build_report(folder, tmp_path / "out", pdf=False)
    html = files.html.read_text(encoding="utf-8")
    assert "How accurate are the forecasts?" in html
    assert "No-change error" not in html and "Exports by partner" not in html
    sheets = pd.read_excel(files.xlsx, sheet_name=None)
    assert sheets["Index backtest"].empty
    assert "no_change" in sheets["Index backtest"].columns


def test_opportunities_show_partner_gdp_growth_and_old_bundles_without_it_load(
    tmp_path, bundle_dir
):
    from exportcast.reports.sections_partners import opportunities_table

    bundle = load_bundle(bundle_dir)
    table = opportunities_table(bundle)
    assert table.columns[-1] == "Partner GDP growth, % a year"
    growth = bundle.opportunities.sort_values("rank").head(len(table.rows))
    growth = growth["partner_gdp_growth_pct"]
    assert growth.notna().any()  # the helper bundle has WEO rows for its partners
    for row, g in zip(table.rows, growth, strict=True):
        assert row[-1] == ("n/a" if pd.isna(g) else f"{g:+.1f}".replace("-", "\u2212"))
    old = tmp_path / "old"
    shutil.copytree(bundle_dir, old)
    frame = pd.read_csv(old / "opportunities.csv").drop(columns="partner_gdp_growth_pct")
    frame.to_csv(old / "opportunities.csv", index=False)
    rows = opportunities_table(load_bundle(old)).rows
    assert rows and all(r[-1] == "n/a" for r in rows)


def test_opportunities_drop_the_agreement_column_for_a_reporter_without_fta_data(bundle_dir):
    from exportcast.reports.sections_partners import opportunities_table

    bundle = load_bundle(bundle_dir)
    full = opportunities_table(bundle)
    assert "Trade agreement" in full.columns
    opp = bundle.opportunities.assign(fta_status="not in the data")
    table = opportunities_table(dataclasses.replace(bundle, opportunities=opp))
    assert "Trade agreement" not in table.columns
    assert len(table.columns) == len(full.columns) - 1
    assert all(len(row) == len(table.columns) for row in table.rows)
    assert all("not in the data" not in cell for row in table.rows for cell in row)
    assert [row[-3] for row in table.rows] == [row[-3] for row in full.rows]  # distance
    assert "trade agreements are not in the data" in table.note
    assert all(table.columns[i] != "Partner" for i in table.numeric)


def test_method_notes_describe_the_information_set(bundle_dir):
    from exportcast.reports.bundle import load_bundle
    from exportcast.reports.outlook import forecast_method

    meta = dict(load_bundle(bundle_dir).meta)
    notes = " ".join(forecast_method(meta))
    assert "trade data up to T only" in notes
    assert "the fall (October) WEO of the origin year" in notes
    assert "use no WEO data" in notes
    meta["weo_vintage_live"] = "F2025"
    meta["config"] = {**meta["config"], "forecast": {**meta["config"]["forecast"],
                      "weo_as_of": "spring_after_origin", "demand_model": True}}  # fmt: skip
    notes = " ".join(forecast_method(meta))
    assert "the live outlook uses F2025" in notes
    assert "spring (April) WEO of the year after the origin" in notes
    assert "The demand model" in notes
