"""The shared unit check (features/sources/_common.check_unit_ratio)."""

from __future__ import annotations

import pytest

from exportcast.features.sources._common import SourceError, check_unit_ratio

KW = {"what": "ratio of x", "small": ": SMALL", "large": ": LARGE", "column": "v"}


@pytest.mark.parametrize(
    ("ratio", "hint"),
    [(1e-3, "SMALL"), (0.0005, "SMALL"), (1000.0, "LARGE"), (2500.0, "LARGE"), (0.02, None)],
)
def test_outside_band_raises_with_the_right_hint(ratio, hint):
    with pytest.raises(SourceError) as err:
        check_unit_ratio(ratio, (0.1, 10.0), "f.csv", **KW)
    text = str(err.value)
    assert text.startswith("f.csv, column 'v': ratio of x is ")
    assert "expected 0.1-10" in text
    for word in ("SMALL", "LARGE"):
        assert (word in text) == (word == hint)


@pytest.mark.parametrize("ratio", [0.1, 1.0, 10.0])
def test_inside_band_passes(ratio):
    check_unit_ratio(ratio, (0.1, 10.0), "f.csv", **KW)
