"""KOSIS web downloads with Korean headers (CP949 / UTF-8 with or without BOM) in the inbox.

The two files in tests/data/fixtures/api/kosis/web_download_*_constructed.csv follow the KOSIS
web download layouts (no recorded web download exists in public repositories; the Korean
names follow the documentation sample's ``C1_NM``/``UNIT_NM`` style): time in rows (CP949) and
time in columns with two header lines (UTF-8 with BOM). Values in thousand USD.
"""

from __future__ import annotations

import shutil

import pytest

from exportcast.features.sources._common import SourceError
from exportcast.features.sources.inbox import detect_format, parse_inbox_file
from exportcast.features.sources.kosis_web import korean_names, parse_kosis_web_csv
from exportcast.flows.snapshot import load_snapshot
from exportcast.flows.update import run_update
from exportcast.flows.vintages import active_id, resolve_vintage
from tests.updates.conftest import FIXTURES

ROWS = FIXTURES / "kosis" / "web_download_DT_1R11006_FRM101_2024_time_in_rows_cp949_constructed.csv"
COLS = (
    FIXTURES
    / "kosis"
    / "web_download_DT_1R11006_FRM101_2023_2024_time_in_columns_utf8bom_constructed.csv"
)
CP949_TEXT = ROWS.read_bytes().decode("cp949")


def _write(tmp_path, text: str, encoding: str = "utf-8", name: str = "kosis.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_cp949_time_in_rows_thousands_to_usd_and_korean_names():
    assert detect_format(ROWS) == "kosis_web"
    rel = parse_inbox_file(ROWS, {})
    got = rel.rows.set_index("partner")["export_usd"]
    assert got.to_dict() == {
        "ARE": 5_700_000_000.0,  # 아랍에미리트 연합 (a Korea Customs spelling, blank ignored)
        "CHN": 133_026_000_000.0,  # 천달러 x 1000
        "HKG": 32_010_000_000.0,
        "JPN": 29_650_000_000.0,
        "TWN": 23_300_000_000.0,  # 대만
        "USA": 127_803_000_000.0,
        "VNM": 58_390_000_000.0,
    }
    assert set(rel.rows["year"]) == {2024} and set(rel.rows["reporter"]) == {"KOR"}
    assert rel.totals["total_usd"].tolist() == [683_757_497_000.0]  # 총계
    assert rel.kind == "kosis" and rel.dropped == {}  # the unit is stated in the header


def test_utf8_with_and_without_bom_read_the_same(tmp_path):
    plain = _write(tmp_path, CP949_TEXT, "utf-8", "plain.csv")
    bom = _write(tmp_path, CP949_TEXT, "utf-8-sig", "bom.csv")
    expected = parse_kosis_web_csv(ROWS).rows.drop(columns="source")
    for path in (plain, bom):
        assert detect_format(path) == "kosis_web"
        got = parse_kosis_web_csv(path).rows.drop(columns="source")
        assert got.reset_index(drop=True).equals(expected.reset_index(drop=True))


def test_time_in_columns_two_header_lines_and_provisional_years():
    rel = parse_kosis_web_csv(COLS)
    got = rel.rows.set_index(["partner", "year"])["export_usd"]
    assert got[("CHN", 2023)] == 124_817_700_000.0 and got[("CHN", 2024)] == 133_026_000_000.0
    assert len(got) == 6  # 3 countries x 2 years; imports ignored
    assert rel.totals.set_index("year")["total_usd"].to_dict() == {
        2023: 632_225_800_000.0,
        2024: 683_757_497_000.0,  # "2024 p)" is provisional 2024
    }


def test_no_figure_is_unknown_and_no_unit_assumes_thousands(tmp_path):
    text = '"국가별","시점","수출액"\n"총계","2024","683757497"\n"중국","2024","-"\n"미국","2024","127,803,000"\n'
    rel = parse_kosis_web_csv(_write(tmp_path, text))
    assert rel.rows.set_index("partner")["export_usd"].to_dict() == {"USA": 127_803_000_000.0}
    assert rel.dropped == {"unit not stated: 천달러 (thousand USD) assumed": 1}


def test_the_unit_assumption_is_printed_by_the_update(data_cfg, tmp_path):
    text = CP949_TEXT.replace("수출액 (천달러)", "수출액")
    (data_cfg.inbox_dir / "kosis.csv").write_bytes(text.encode("cp949"))
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    assert "  kosis.csv: unit not stated: 천달러 (thousand USD) assumed: 1" in out.lines


def test_korean_names_cover_korea_s_main_partners():
    names = korean_names()
    for ko, iso in [("중국", "CHN"), ("미국", "USA"), ("베트남", "VNM"), ("일본", "JPN"),
                    ("홍콩", "HKG"), ("대만", "TWN"), ("인도", "IND"), ("싱가포르", "SGP"),
                    ("멕시코", "MEX"), ("호주", "AUS"), ("독일", "DEU"), ("캄보디아", "KHM")]:  # fmt: skip
        assert names[ko] == iso, ko


@pytest.mark.parametrize(
    ("old", "new", "line", "column", "words"),
    [
        (
            '"베트남","2024"',
            '"아틀란티스","2024"',
            5,
            "국가별",
            "unknown country name '아틀란티스'",
        ),
        ("수출액 (천달러)", "수출액 (백만원)", 1, "수출액 (백만원)", "unit '백만원'"),
        ('"중국","2024"', '"중국","2024.01"', 3, "시점", "period '2024.01'; expected a year"),
        (",133026000,", ",133O26000,", 3, "수출액 (천달러)", "'133O26000' is not a number"),
        ("수출액 (천달러)", "수출실적 (천달러)", 1, None, "no export amount column"),
        ('"시점"', '"기간"', 1, None, "no '시점' column"),
    ],
)
def test_bad_variants_name_file_line_column_and_expectation(tmp_path, old, new, line, column,
                                                            words):  # fmt: skip
    assert old in CP949_TEXT
    path = _write(tmp_path, CP949_TEXT.replace(old, new, 1), "cp949")
    with pytest.raises(SourceError) as err:
        parse_inbox_file(path, {})
    e = err.value
    assert e.path == str(path) and e.row == line and e.column == column
    assert words in str(e) and "expected" in str(e)


def test_unreadable_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "kosis.csv"
    path.write_bytes("국가별,시점,수출액\n".encode("utf-16"))
    with pytest.raises(SourceError, match="UTF-8 \\(with or without BOM\\) or CP949"):
        parse_kosis_web_csv(path)


def test_inbox_update_merges_a_partial_korean_release(data_cfg):
    shutil.copy(ROWS, data_cfg.inbox_dir / ROWS.name)
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "new", out.message
    assert any("partial release, 7 partners" in x and "provisional" in x for x in out.lines)
    _, folder = resolve_vintage(None, data_cfg.vintages_dir, data_cfg.snapshot_dir)
    snap = load_snapshot(folder, ["kor_exports", "release_rest"])
    kor = snap["kor_exports"]
    y24 = kor.loc[kor["year"] == 2024].set_index("partner")["export_usd"]
    assert y24["CHN"] == 133_026_000_000.0 and len(y24) == 7  # the rest unknown, not zero
    rest = snap["release_rest"].set_index("year").loc[2024]
    assert rest["total_usd"] == 683_757_497_000.0 and bool(rest["provisional"])
    assert (data_cfg.inbox_dir / "processed" / ROWS.name).is_file()


def test_units_mislabelled_as_dollars_fail_and_keep_the_active(data_cfg):
    text = CP949_TEXT.replace("수출액 (천달러)", "수출액 (달러)")  # thousands under a USD label
    path = data_cfg.inbox_dir / "kosis_dollars.csv"
    path.write_bytes(text.encode("cp949"))
    out = run_update(data_cfg, log=lambda _: None)
    assert out.status == "failed" and out.exit_code == 2
    assert "look like thousands of USD" in out.message and "kosis_dollars.csv" in out.message
    assert active_id(data_cfg.vintages_dir) is None
    assert (out.quarantine / "kosis_dollars.csv").is_file()
