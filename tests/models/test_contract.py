"""One contract test over every forecaster (STYLE.md §8)."""

from __future__ import annotations

import numpy as np
import pytest

from exportcast.models import default_models
from exportcast.models.protocol import Forecaster, NotFittedError
from tests.conftest import make_panel

FORECASTERS = default_models(log=True)
H = 4


def _series(uid: str) -> np.ndarray:
    df = make_panel(n_series=3, n_years=24, seed=7)
    return df.loc[df["unique_id"] == uid, "y"].to_numpy()


@pytest.mark.parametrize("model", FORECASTERS, ids=lambda m: m.alias)
def test_forecaster_contract(model: Forecaster) -> None:
    assert isinstance(model, Forecaster)
    assert isinstance(model.alias, str)
    fresh = type(model)(log=model.log)

    with pytest.raises(NotFittedError):
        fresh.predict(H)

    y = _series("S1")
    original = y.copy()
    y.flags.writeable = False  # any in-place change would raise
    assert fresh.fit(y) is fresh
    first = fresh.predict(H, level=[80, 95])
    np.testing.assert_array_equal(y, original)

    assert first["mean"].shape == (H,)
    assert np.all(np.isfinite(first["mean"]))
    for key in ("lo-95", "lo-80", "hi-80", "hi-95"):
        assert first[key].shape == (H,)
    # model intervals nest around the point forecast
    assert np.all(first["lo-95"] <= first["lo-80"])
    assert np.all(first["lo-80"] <= first["mean"])
    assert np.all(first["mean"] <= first["hi-80"])
    assert np.all(first["hi-80"] <= first["hi-95"])

    # a refit on other data, then on the same data again, gives the same forecast
    fresh.fit(_series("S2"))
    again = fresh.fit(y).predict(H, level=[80, 95])
    for key, values in first.items():
        np.testing.assert_allclose(again[key], values, rtol=1e-10, err_msg=key)

    # no level -> only the mean
    assert set(fresh.predict(H)) == {"mean"}


@pytest.mark.parametrize("model", FORECASTERS, ids=lambda m: m.alias)
def test_forecaster_rejects_bad_input(model: Forecaster) -> None:
    with pytest.raises(ValueError):
        model.fit(np.array([]))
    with pytest.raises(ValueError):
        model.fit(np.array([1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]))
    model.fit(_series("S0"))
    with pytest.raises(ValueError, match="h must be"):
        model.predict(0)
    with pytest.raises(ValueError, match="levels"):
        model.predict(2, level=[120])
