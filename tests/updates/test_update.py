"""`exportcast update` from the inbox: new vintage, no new data, quarantine, partial releases."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from exportcast.flows.snapshot import load_snapshot, read_manifest
from exportcast.flows.update import run_update
from exportcast.flows.vintages import active_id, list_vintages, resolve_vintage
from tests.updates.conftest import FIXTURES, SNAPSHOT, long_file

KOSIS_FILE = "statisticsParameterData_DT_1R11006_FRM101_2024_constructed.json"

EMBEDDED = read_manifest(SNAPSHOT)["vintage"]


def _year_2024(kor_2023: pd.DataFrame, factor: float = 1.05) -> pd.DataFrame:
    # a synthetic 2024: every 2023 partner grown by `factor` (test data, not a forecast)
    return kor_2023.assign(year=2024, export_usd=kor_2023["export_usd"] * factor)


def test_new_year_makes_an_active_vintage_and_the_same_file_again_is_no_new_data(
    data_cfg, kor_2023
):
    rows = _year_2024(kor_2023)
    long_file(data_cfg.inbox_dir / "kor_2024.csv", rows, total=rows["export_usd"].sum())
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    assert out.previous == EMBEDDED and out.active != EMBEDDED
    assert active_id(data_cfg.vintages_dir) == out.active
    vid, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    snap = load_snapshot(folder)
    assert vid == out.active == snap.vintage
    kor = snap["kor_exports"]
    assert kor["year"].max() == 2024
    assert len(kor.loc[kor["year"] == 2024]) == len(rows)
    # earlier years are byte-for-byte the embedded ones
    base = load_snapshot(SNAPSHOT, ["kor_exports"])["kor_exports"]
    pd.testing.assert_frame_equal(
        kor.loc[kor["year"] <= 2023].reset_index(drop=True), base, check_dtype=True
    )
    assert snap["kor_totals"]["year"].max() == 2024
    assert not snap["release_rest"]["provisional"].any()
    assert not list(data_cfg.inbox_dir.glob("*.csv"))
    assert (data_cfg.inbox_dir / "processed" / "kor_2024.csv").is_file()
    release = json.loads((folder / "release.json").read_text())
    assert release["sources"] == ["kor_2024.csv"]
    listed = list_vintages(data_cfg.vintages_dir, data_cfg.snapshot_dir)
    assert [v.active for v in listed] == [False, True]

    long_file(data_cfg.inbox_dir / "kor_2024.csv", rows, total=rows["export_usd"].sum())
    again = run_update(data_cfg, log=lambda _: None)
    assert again.status == "no new data" and again.active == out.active
    assert again.exit_code == 0
    assert len(list_vintages(data_cfg.vintages_dir, data_cfg.snapshot_dir)) == 2


def test_empty_inbox_is_nothing_to_do(data_cfg):
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "nothing to do" and out.active == EMBEDDED


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("12x", "row 4, column 'export_usd': expected a number, found '12x'"),
        ("-5", "row 4, column 'export_usd': expected a finite, non-negative amount"),
    ],
)
def test_corrupt_file_is_quarantined_and_the_active_vintage_stays(
    data_cfg, kor_2023, cell, expected
):
    path = long_file(data_cfg.inbox_dir / "bad.csv", _year_2024(kor_2023))
    lines = path.read_text().splitlines()
    parts = lines[3].split(",")
    lines[3] = ",".join([*parts[:3], cell])
    path.write_text("\n".join(lines) + "\n")
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "failed" and out.exit_code == 2
    assert out.active == out.previous == EMBEDDED
    assert active_id(data_cfg.vintages_dir) is None
    assert expected in out.message and "bad.csv" in out.message
    reason = (out.quarantine / "reason.txt").read_text()
    assert expected in reason
    assert (out.quarantine / "bad.csv").is_file() and not path.exists()
    # no staging folder or partial vintage left behind
    store = data_cfg.vintages_dir
    assert not store.exists() or not [p for p in store.iterdir() if p.name != "active"]


def test_thousands_instead_of_units_is_rejected(data_cfg, kor_2023):
    rows = _year_2024(kor_2023)
    long_file(
        data_cfg.inbox_dir / "thousands.csv", rows.assign(export_usd=rows["export_usd"] / 1e3)
    )
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "failed"
    assert "thousands of USD" in out.message and "thousands.csv" in out.message


def test_partial_release_carries_rest_as_provisional_and_leaves_the_rest_unknown(
    data_cfg, kor_2023
):
    rows = _year_2024(kor_2023)
    top = rows.nlargest(40, "export_usd")
    total = float(rows["export_usd"].sum())
    long_file(data_cfg.inbox_dir / "top40.csv", top, total=total)
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    snap = load_snapshot(folder)
    kor = snap["kor_exports"]
    y24 = kor.loc[kor["year"] == 2024]
    assert len(y24) == 40  # the other partners are unknown: no row, not zero
    assert (y24["export_usd"] > 0).all()
    rest = snap["release_rest"].set_index("year").loc[2024]
    assert bool(rest["provisional"])
    assert rest["rest_usd"] == pytest.approx(total - top["export_usd"].sum())
    assert rest["total_usd"] == pytest.approx(total)
    release = json.loads((folder / "release.json").read_text())
    unknown = {(u["partner"], u["year"]) for u in release["unknown_partner_years"]}
    assert len(unknown) == len(rows) - 40
    assert ("ZWE", 2024) in unknown
    assert any("partial release" in line for line in out.lines)


def test_partners_above_the_total_are_rejected(data_cfg, kor_2023):
    rows = _year_2024(kor_2023)
    long_file(data_cfg.inbox_dir / "over.csv", rows, total=0.5 * rows["export_usd"].sum())
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "failed"
    assert "more than the total" in out.message


def test_unknown_format_names_the_file_and_expected_columns(data_cfg):
    (data_cfg.inbox_dir / "odd.csv").write_text("country,yr,value\nCHN,2024,1\n")
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "failed"
    assert "odd.csv" in out.message and "reporter, partner, year, export_usd" in out.message


def test_kosis_csv_download_in_thousands_is_a_partial_release(data_cfg):
    body = json.loads((FIXTURES / "kosis" / KOSIS_FILE).read_text())
    pd.DataFrame(body).to_csv(data_cfg.inbox_dir / "kosis_2024.csv", index=False)
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    snap = load_snapshot(folder)
    kor = snap["kor_exports"].query("year == 2024").set_index("partner")["export_usd"]
    assert kor["CHN"] == 133026000000.0 and len(kor) == 5  # thousand US$ x 1000
    assert snap["release_rest"].set_index("year").loc[2024, "provisional"]


def test_comtrade_csv_exports_rows_only(data_cfg):
    body = json.loads(
        (FIXTURES / "comtrade" / "data_v1_get_C_A_HS_KOR_2024_constructed.json").read_text()
    )
    frame = pd.DataFrame(body["data"])
    imports = frame.assign(flowCode="M", primaryValue=1.0)  # must be ignored
    pd.concat([frame, imports]).to_csv(data_cfg.inbox_dir / "comtrade.csv", index=False)
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    kor = load_snapshot(folder, ["kor_exports"])["kor_exports"].query("year == 2024")
    assert kor.set_index("partner")["export_usd"].to_dict() == {
        "CHN": 133026000000.0, "USA": 127803000000.0, "VNM": 58390000000.0
    }  # fmt: skip


def test_kosis_csv_unknown_country_names_row_and_column(data_cfg):
    body = json.loads((FIXTURES / "kosis" / KOSIS_FILE).read_text())
    body[2]["C1_NM_ENG"] = "Atlantis"
    pd.DataFrame(body).to_csv(data_cfg.inbox_dir / "kosis.csv", index=False)
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "failed"
    assert "kosis.csv, row 4, column 'C1_NM_ENG': unknown country name 'Atlantis'" in out.message


def test_update_writes_what_changed(data_cfg, kor_2023):
    rows = _year_2024(kor_2023)
    revised = kor_2023.loc[kor_2023["partner"] == "CHN"].assign(
        export_usd=lambda d: d["export_usd"] * 1.10
    )
    long_file(data_cfg.inbox_dir / "r.csv", pd.concat([rows, revised]))
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    changes = pd.read_csv(data_cfg.vintages_dir / out.active / "changes.csv")
    assert changes["kind"].tolist() == ["new year", "revision"]
    rev = changes.iloc[1]
    assert (rev["partner"], rev["year"]) == ("CHN", 2023)
    assert rev["change_pct"] == pytest.approx(10.0)
    assert any("KOR 2024 new; 1 revision(s) > 5 % and > USD 50 m" in x for x in out.lines)


def test_a_release_equal_to_the_active_data_is_no_new_data(data_cfg, kor_2023):
    long_file(data_cfg.inbox_dir / "same.csv", kor_2023)  # 2023 exactly as in the snapshot
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "no new data" and out.active == EMBEDDED
    assert not (data_cfg.vintages_dir / "active").exists()
    assert (data_cfg.inbox_dir / "processed" / "same.csv").is_file()


def test_one_update_at_a_time_and_a_stale_lock_is_taken_over(data_cfg, kor_2023):
    long_file(data_cfg.inbox_dir / "a.csv", _year_2024(kor_2023))
    data_cfg.vintages_dir.mkdir()
    lock = data_cfg.vintages_dir / ".update.lock"
    lock.write_text("1")  # PID 1 is alive: another update holds the lock
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "busy" and out.exit_code == 2 and "another update" in out.message
    assert (data_cfg.inbox_dir / "a.csv").is_file()  # untouched
    lock.write_text("999999999")  # no such process: stale
    assert run_update(data_cfg, log=lambda _: None).status == "new"
    assert not lock.exists()


def test_report_says_what_changed_and_what_is_provisional(data_cfg, kor_2023):
    from types import SimpleNamespace

    from exportcast.flows.vintages import vintage_notes
    from exportcast.reports.content import data_update_sentences

    rows = _year_2024(kor_2023)
    long_file(data_cfg.inbox_dir / "top40.csv", rows.nlargest(40, "export_usd"),
              total=float(rows["export_usd"].sum()))  # fmt: skip
    out = run_update(data_cfg, log=lambda _: None)
    notes = vintage_notes(data_cfg.vintages_dir / out.active)
    assert vintage_notes(SNAPSHOT) is None
    assert notes["new_years"] == ["KOR 2024"] and notes["base_vintage"] == EMBEDDED
    assert notes["unknown_partner_years"] == len(rows) - 40
    [p] = notes["provisional"]
    assert (p["reporter"], p["year"], p["n_partners"]) == ("KOR", 2024, 40)
    text = data_update_sentences(SimpleNamespace(meta={"data_update": notes}))
    assert text[0].startswith(f"Data vintage {out.active} (made from top40.csv) changed since "
                              f"vintage {EMBEDDED}: KOR 2024; 0 partner-year revision(s)")  # fmt: skip
    assert "Provisional: KOR\u2019s 2024 figures list 40 partners" in text[1]
    assert "unknown, not zero" in text[1]
    assert data_update_sentences(SimpleNamespace(meta={"data_update": None})) == []
