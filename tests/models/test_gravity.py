import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from exportcast.models.gravity import PPMLResult, fit_ppml, gravity_design

TRUE_FTA = 0.3


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def make_gravity_panel(n_partners: int = 15, n_years: int = 12, seed: int = 0) -> pd.DataFrame:
    """Korea-like panel: exports = exp(FE + 0.8 log GDP + 0.3 FTA) x Poisson-ish noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_partners):
        fe = rng.normal(0, 1)
        entry = rng.integers(2003, 2015) if p % 2 == 0 else 9999  # half get an FTA
        dist = float(np.exp(rng.normal(8, 0.5)))
        for t in range(2000, 2000 + n_years):
            log_gdp = 10 + 0.5 * p / n_partners + 0.03 * (t - 2000) + rng.normal(0, 0.05)
            fta = int(t >= entry)
            mu = np.exp(fe + 0.8 * log_gdp + TRUE_FTA * fta + 0.02 * (t - 2000) - 5)
            rows.append(
                {
                    "reporter": "KOR",
                    "partner": f"P{p:02d}",
                    "year": t,
                    "export_usd": mu * rng.gamma(20, 1 / 20),
                    "log_partner_gdp": log_gdp,
                    "log_distance": np.log(dist),
                    "fta_in_force": fta,
                }
            )
    return pd.DataFrame(rows)


def test_matches_direct_statsmodels_glm_call():
    panel = make_gravity_panel()
    res = fit_ppml(panel, regressors=["log_partner_gdp", "fta_in_force"])
    X = pd.concat(
        [
            pd.Series(1.0, index=panel.index, name="const"),
            panel[["log_partner_gdp", "fta_in_force"]].astype(float),
            pd.get_dummies(panel["partner"], drop_first=True, dtype=float),
            pd.get_dummies(panel["year"], drop_first=True, dtype=float),
        ],
        axis=1,
    )
    groups = pd.factorize(panel["partner"])[0]
    direct = sm.GLM(panel["export_usd"], X, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert res.fta_coef == pytest.approx(direct.params["fta_in_force"], rel=1e-8)
    assert res.fta_se == pytest.approx(direct.bse["fta_in_force"], rel=1e-8)
    lo, hi = direct.conf_int().loc["fta_in_force"]
    assert res.fta_ci == pytest.approx((lo, hi), rel=1e-8)
    assert res.params["log_partner_gdp"] == pytest.approx(
        direct.params["log_partner_gdp"], rel=1e-8
    )
    assert res.n_obs == len(panel) and res.n_clusters == 15 and res.n_dropped == 0


def test_the_fit_frees_statsmodels_cycles_early_and_restores_the_collector(monkeypatch):
    # statsmodels' IRLS leaves a reference cycle per iteration; the fit lowers generation 0's
    # threshold meanwhile (peak memory) and gives the process its own threshold back
    import gc

    from exportcast.models import gravity

    before = gc.get_threshold()
    seen = []
    real_glm = sm.GLM

    def spying_glm(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real_glm(*args, **kwargs)

    monkeypatch.setattr(sm, "GLM", spying_glm)
    gravity.fit_ppml(make_gravity_panel(), regressors=["log_partner_gdp", "fta_in_force"])
    assert seen == [(20, *before[1:])] and gc.get_threshold() == before
    monkeypatch.setattr(sm, "GLM", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        gravity.fit_ppml(make_gravity_panel(), regressors=["log_partner_gdp", "fta_in_force"])
    assert gc.get_threshold() == before


def test_recovers_fta_effect_and_reports_percent():
    res = fit_ppml(make_gravity_panel(n_partners=30, seed=1))
    assert isinstance(res, PPMLResult)
    assert res.fta_ci[0] < TRUE_FTA < res.fta_ci[1]
    assert res.fta_effect_pct == pytest.approx(100 * (np.exp(res.fta_coef) - 1))
    lo, hi = res.fta_effect_ci
    assert lo == pytest.approx(100 * np.expm1(res.fta_ci[0]))
    assert lo < res.fta_effect_pct < hi


def test_distance_absorbed_by_partner_effects_but_kept_without_them():
    panel = make_gravity_panel()
    with_fe = fit_ppml(panel)
    assert with_fe.absorbed == ("log_distance",)
    assert "log_distance" not in with_fe.params.index
    without = fit_ppml(panel, partner_effects=False)
    assert without.absorbed == () and "log_distance" in without.params.index


def test_all_zero_partner_is_dropped_and_counted():
    panel = make_gravity_panel()
    panel.loc[panel["partner"] == "P03", "export_usd"] = 0.0
    res = fit_ppml(panel, regressors=["log_partner_gdp", "fta_in_force"])
    assert res.n_dropped == 12 and res.n_clusters == 14
    assert not any("P03" in name for name in res.params.index)


def test_missing_values_drop_rows():
    panel = make_gravity_panel()
    panel.loc[0, "log_partner_gdp"] = np.nan
    res = fit_ppml(panel, regressors=["log_partner_gdp", "fta_in_force"])
    assert res.n_obs == len(panel) - 1 and res.n_dropped == 1


def test_crossed_effects_for_structural_gravity():
    a = make_gravity_panel(n_partners=8, n_years=6, seed=2)
    b = make_gravity_panel(n_partners=8, n_years=6, seed=3).assign(reporter="JPN")
    panel = pd.concat([a, b], ignore_index=True)
    res = fit_ppml(
        panel,
        regressors=["fta_in_force"],
        partner_effects=False,
        year_effects=False,
        extra_effects=[["reporter", "partner"], ["reporter", "year"], ["partner", "year"]],
        cluster=["reporter", "partner"],
    )
    y, X, _, absorbed, _ = gravity_design(
        panel,
        regressors=["fta_in_force"],
        effects=[["reporter", "partner"], ["reporter", "year"], ["partner", "year"]],
    )
    assert absorbed == ()
    assert np.linalg.matrix_rank(X.to_numpy()) == X.shape[1]  # collinear dummies dropped
    direct = sm.GLM(y, X, family=sm.families.Poisson()).fit(
        cov_type="cluster",
        cov_kwds={"groups": pd.factorize(panel["reporter"] + panel["partner"])[0]},
    )
    assert res.fta_coef == pytest.approx(direct.params["fta_in_force"], rel=1e-8)
    assert res.fta_se == pytest.approx(direct.bse["fta_in_force"], rel=1e-8)
    assert res.n_clusters == 16


def test_bad_inputs_raise():
    panel = make_gravity_panel()
    with pytest.raises(ValueError, match="must be one of the regressors"):
        fit_ppml(panel, regressors=["log_partner_gdp"])
    with pytest.raises(ValueError, match="negative"):
        fit_ppml(panel.assign(export_usd=-panel["export_usd"]))
    with pytest.raises(ValueError, match="lacks"):
        fit_ppml(panel.drop(columns="log_partner_gdp"))
    with pytest.raises(ValueError, match="absorbed"):
        fit_ppml(panel.assign(fta_in_force=(panel["partner"] == "P00").astype(int)))
