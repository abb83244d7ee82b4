"""Open ship registries: the ITF list as ISO3 codes and ``is_open_registry``."""

from __future__ import annotations

import pycountry
import pytest

from exportcast.features.open_registries import OPEN_REGISTRIES, SOURCE_URL, is_open_registry


@pytest.mark.parametrize("code", ["MHL", "LBR", "PAN", "MLT", "BHS", "pan", " lbr "])
def test_listed_flags_are_open_registries(code):
    assert is_open_registry(code)


@pytest.mark.parametrize("code", ["KOR", "CHN", "USA", "VNM", "FRA", "DEU", "NOR", "REST", ""])
def test_other_partners_are_not(code):
    # FRA/DEU: their international second registers are on the ITF list, the countries are not
    assert not is_open_registry(code)


@pytest.mark.parametrize("value", [None, 3.0, float("nan")])
def test_non_text_is_not_an_open_registry(value):
    assert not is_open_registry(value)


def test_every_code_is_a_current_or_historic_iso3_country():
    historic = {c.alpha_3 for c in pycountry.historic_countries}
    for code in OPEN_REGISTRIES:
        assert pycountry.countries.get(alpha_3=code) or code in historic, code
    assert len(OPEN_REGISTRIES) == 35  # 34 registers: FIS/GIS not countries, ANT + 3 successors
    assert SOURCE_URL.startswith("https://")
