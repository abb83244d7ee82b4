"""The fallback model stands in only for expected numerical failures, and is counted."""

import numpy as np
import pytest

from exportcast.models import engine as engine_module
from exportcast.models.engine import run_engine
from exportcast.models.fallbacks import FallbackShareError, fallback_counts
from exportcast.models.forecasting import cross_validate
from exportcast.models.timeseries import Drift, Naive
from tests.conftest import make_panel


class Flaky:
    """Drift that fails on the series listed in ``bad`` with the given exception."""

    def __init__(self, exc: type[BaseException], bad: set[float], alias: str = "Flaky") -> None:
        self.exc, self.bad, self.alias = exc, bad, alias

    def fit(self, y, X=None):
        if round(float(y[0]), 6) in self.bad:
            raise self.exc("cannot fit this one")
        self.inner_ = Drift().fit(y, X)
        return self

    def predict(self, h, X=None, level=None):
        return self.inner_.predict(h, X, level)


def _first_values(panel, n):
    return {round(float(v), 6) for v in panel.groupby("unique_id")["y"].first().iloc[:n]}


@pytest.mark.parametrize("exc", [ValueError, FloatingPointError, np.linalg.LinAlgError])
def test_expected_errors_fall_back_and_are_counted(exc):
    panel = make_panel(n_series=4, n_years=20)
    model = Flaky(exc, _first_values(panel, 1))
    cv = cross_validate(panel, [model, Naive()], 2, origins=[2012, 2014], fallback=Naive())
    counts = fallback_counts(cv, ["Flaky", "Naive"]).set_index("model")
    assert counts.loc["Flaky", "replaced"] == 2  # one series at two origins
    assert counts.loc["Flaky", "fits"] == 8
    assert counts.loc["Flaky", "share"] == pytest.approx(0.25)
    assert counts.loc["Naive", "replaced"] == 0


@pytest.mark.parametrize("exc", [TypeError, KeyError, AttributeError, RuntimeError])
def test_a_bug_in_a_model_is_not_hidden_by_the_fallback(exc):
    panel = make_panel(n_series=4, n_years=20)
    model = Flaky(exc, _first_values(panel, 1))
    with pytest.raises(exc) as info:
        cross_validate(panel, [model], 2, origins=[2012], fallback=Naive())
    assert any("Flaky" in note for note in getattr(info.value, "__notes__", []))


def _engine(panel, models, **kw):
    return run_engine(
        panel,
        h=2,
        models=models,
        scored_origins=range(2012, 2018),
        history_origins=range(2005, 2012),
        levels=(80,),
        n_paths=50,
        **kw,
    )


def test_engine_reports_fallbacks_and_fails_above_the_share(monkeypatch):
    panel = make_panel(n_series=8, n_years=25)
    bad = _first_values(panel, 1)  # 1 of 8 series: 12.5 % of the fits
    monkeypatch.setitem(engine_module.MODEL_CLASSES, "Flaky", lambda: Flaky(ValueError, bad))
    result = _engine(panel, ["Naive", "Flaky"], max_fallback_share=0.2)
    table = result.fallbacks.set_index(["stage", "model"])
    assert table.loc[("backtest", "Flaky"), "share"] == pytest.approx(1 / 8)
    assert table.loc[("backtest", "Naive"), "replaced"] == 0
    assert result.n_fallbacks["Flaky"] >= table.loc[("backtest", "Flaky"), "replaced"]
    with pytest.raises(
        FallbackShareError, match=r"Flaky in the backtest .*12\.5%.*max_fallback_share"
    ):
        _engine(panel, ["Naive", "Flaky"], max_fallback_share=0.1)


def test_engine_without_failures_reports_zero():
    result = _engine(make_panel(n_series=4, n_years=25), ["Naive", "Drift"])
    assert set(result.fallbacks["stage"]) == {"backtest", "live forecast"}
    assert result.fallbacks["replaced"].sum() == 0
