"""reports.charts: the chart memo (in this process and in a cache folder) returns exactly the
PNG an identical call renders, renders again for any other input, and never trusts a bad file."""

from __future__ import annotations

import pandas as pd
import pytest

from exportcast.reports import charts

LABELS = ["Viet Nam", "India", "Mexico"]


@pytest.fixture
def rendered(monkeypatch) -> list[int]:
    """Counts the figures actually rendered; the memo starts empty and no folder is set."""
    count: list[int] = []
    real = charts.png_data_uri

    def counting(fig):
        count.append(1)
        return real(fig)

    monkeypatch.setattr(charts, "png_data_uri", counting)
    monkeypatch.setattr(charts, "_MEMO", type(charts._MEMO)())
    return count


def _bar(values: list[float], title: str = "Forecast growth") -> str:
    return charts.bar_chart(LABELS, values, title=title, xlabel="% a year")


def test_an_identical_call_is_not_rendered_again_and_equals_a_fresh_render(rendered) -> None:
    first = _bar([4.0, 3.5, 2.0])
    again = _bar([4.0, 3.5, 2.0])
    assert again == first and len(rendered) == 1
    charts._MEMO.clear()  # a fresh render of the same call gives the same bytes
    assert _bar([4.0, 3.5, 2.0]) == first and len(rendered) == 2


def test_any_other_value_or_argument_renders_its_own_chart(rendered) -> None:
    base = _bar([4.0, 3.5, 2.0])
    other_value = _bar([4.0, 3.5, 2.1])
    other_title = _bar([4.0, 3.5, 2.0], title="Growth")
    assert len(rendered) == 3
    assert len({base, other_value, other_title}) == 3


def test_a_frame_with_one_changed_cell_is_another_chart(rendered) -> None:
    conc = pd.DataFrame(
        {
            "year": [2021, 2022, 2023, 2024, 2025],
            "kind": ["history"] * 3 + ["forecast"] * 2,
            "hhi": [0.09, 0.095, 0.09, 0.091, 0.092],
            "hhi_lo_80": [None, None, None, 0.085, 0.08],
            "hhi_hi_80": [None, None, None, 0.097, 0.1],
        }
    )
    kwargs = {"levels": (80,), "title": "HHI", "ylabel": "HHI"}
    first = charts.fan_chart(conc, "hhi", **kwargs)
    changed = conc.copy()
    changed.loc[4, "hhi"] = 0.093
    assert charts.fan_chart(changed, "hhi", **kwargs) != first
    assert charts.fan_chart(conc.copy(), "hhi", **kwargs) == first  # an equal copy: a hit
    assert len(rendered) == 2


def test_the_cache_folder_serves_a_new_process_and_rewrites_a_bad_file(rendered, tmp_path) -> None:
    with charts.use_cache_dir(tmp_path):
        first = _bar([4.0, 3.5, 2.0])
    (path,) = tmp_path.glob("*.txt")
    assert path.read_text() == first
    charts._MEMO.clear()  # as a new process would start
    with charts.use_cache_dir(tmp_path):
        assert _bar([4.0, 3.5, 2.0]) == first
    assert len(rendered) == 1  # read from the folder, not rendered
    charts._MEMO.clear()
    path.write_text("data:image/png;bas")  # a file cut short is not a chart
    with charts.use_cache_dir(tmp_path):
        assert _bar([4.0, 3.5, 2.0]) == first
    assert len(rendered) == 2 and path.read_text() == first


def test_the_folder_keeps_only_the_newest_charts(rendered, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(charts, "_DISK_FILES", 2)
    with charts.use_cache_dir(tmp_path):
        for v in (1.0, 2.0, 3.0):
            _bar([v, 0.5, 0.2])
    assert len(list(tmp_path.glob("*.txt"))) == 2


def test_a_cache_folder_that_cannot_be_written_only_costs_a_render(rendered, tmp_path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")  # a file where the folder should be (root ignores chmod)
    with charts.use_cache_dir(blocked):
        assert _bar([4.0, 3.5, 2.0]).startswith("data:image/png;base64,")
    assert len(rendered) == 1 and blocked.read_text() == "x"


def test_a_mapping_built_in_another_order_is_the_same_call(rendered) -> None:
    history = pd.DataFrame(
        {"reporter": "KOR", "partner": ["CHN"] * 3 + ["USA"] * 3, "year": [2021, 2022, 2023] * 2,
         "export_usd": [1.0, 1.1, 1.2, 0.8, 0.9, 1.0]}
    )  # fmt: skip
    forecasts = pd.DataFrame(
        {"reporter": "KOR", "partner": ["CHN", "USA"], "year": 2024, "model": "Drift",
         "mean": [1.3, 1.1], "lo_80": [1.2, 1.0], "hi_80": [1.4, 1.2]}
    )  # fmt: skip
    names = {"CHN": "China", "USA": "United States"}
    reordered = dict(reversed(names.items()))  # as a dict filled from a set may come out
    first = charts.partner_panels(history, forecasts, ["CHN", "USA"], names, levels=(80,))
    again = charts.partner_panels(history, forecasts, ["CHN", "USA"], reordered, levels=(80,))
    assert again == first and len(rendered) == 1


def test_the_80_percent_quantile_is_scipy_stats_to_the_last_bit() -> None:
    from scipy import stats

    from exportcast.models import fta_track_record
    from exportcast.reports import fta_content

    expected = float(stats.norm.ppf(0.9))
    assert fta_track_record.z80() == expected
    assert fta_content.z80 is fta_track_record.z80  # the report's bands use the same number


def test_a_chart_of_another_module_is_keyed_by_that_modules_source(tmp_path) -> None:
    from exportcast.reports import fta_content

    one = charts._code_version("exportcast.reports.charts")
    other = charts._code_version(fta_content.__name__)
    assert one != other  # fta_content's own source is in its charts' key
    assert fta_content.track_record_chart.__wrapped__ is not None  # memoised
