"""Structural gravity (pyfixest fepois): the AGTPA textbook estimate and synthetic recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exportcast.models.structural_gravity import combined_effect, fit_structural_gravity

AGTPA_YEARS = range(1986, 2007, 4)  # the book's 4-year intervals


def _agtpa(raw) -> pd.DataFrame:
    path = raw / "yotov_agtpa" / "agtpa_applications.csv"
    data = pd.read_csv(path)
    return data.loc[data["year"].isin(AGTPA_YEARS)]


@pytest.mark.rawdata
def test_agtpa_rta_effect_with_pair_effects_reproduces_the_book(raw):
    """Yotov et al. (2016), ch. 1, application 3, Table 3 col. (4) "Endogeneity": RTA 0.557 (0.102).

    PPML, intra-national flows included, exporter-year, importer-year and (symmetric) pair
    fixed effects, SEs clustered by pair. The column (5) lags are 0.291, 0.414, 0.169, 0.119.
    """
    data = _agtpa(raw)
    fit = fit_structural_gravity(data, ["rta"], pair="pair_id")
    assert round(float(fit.coef["rta"]), 3) == 0.557
    se = float(np.sqrt(fit.cov.loc["rta", "rta"]))
    assert se == pytest.approx(0.102, abs=0.005)  # small-sample factors differ in the 3rd digit
    assert fit.n_obs == len(data) - fit.n_dropped

    lags = fit_structural_gravity(
        data, ["rta", "rta_lag4", "rta_lag8", "rta_lag12"], pair="pair_id"
    )
    got = lags.coef.round(3).to_dict()
    assert got == {"rta": 0.291, "rta_lag4": 0.414, "rta_lag8": 0.169, "rta_lag12": 0.119}
    total = combined_effect(lags, dict.fromkeys(lags.coef.index, 1.0))
    assert total["coef"] == pytest.approx(float(lags.coef.sum()))
    assert total["lo_95"] < total["lo_80"] < total["coef"] < total["hi_80"] < total["hi_95"]


def _synthetic(beta: float, seed: int = 0) -> pd.DataFrame:
    """A world of 25 countries, 6 periods, with known pair/country-year effects and an RTA."""
    rng = np.random.default_rng(seed)
    n, years = 25, [2000, 2004, 2008, 2012, 2016, 2020]
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    keep = i != j
    i, j = i[keep], j[keep]
    mu = rng.normal(0, 1, size=len(i))
    start = np.where(rng.random(len(i)) < 0.3, rng.choice(years[1:], size=len(i)), 9999)
    rows = []
    for t in years:
        pi, chi = rng.normal(0, 0.3, n), rng.normal(0, 0.3, n)
        rta = (t >= start).astype(float)
        eta = 5 + pi[i] + chi[j] + mu + beta * rta
        rows.append(
            pd.DataFrame(
                {
                    "exporter": i.astype(str),
                    "importer": j.astype(str),
                    "year": t,
                    "trade": rng.poisson(np.exp(eta)).astype(float),
                    "rta": rta,
                    "pair": (i * n + j).astype(str),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_recovers_a_known_rta_effect():
    fit = fit_structural_gravity(_synthetic(0.4), ["rta"])
    effect = combined_effect(fit, {"rta": 1.0}, levels=(99,))
    assert effect["lo_99"] < 0.4 < effect["hi_99"]
    assert abs(float(fit.coef["rta"]) - 0.4) < 0.05
    assert fit.n_clusters == 25 * 24


def test_bad_inputs_are_named():
    data = _synthetic(0.1)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['rta_lag4'\]"):
        fit_structural_gravity(data, ["rta", "rta_lag4"])
    with pytest.raises(ValueError, match="negative"):
        fit_structural_gravity(data.assign(trade=-data["trade"]), ["rta"])
    with pytest.raises(ValueError, match="no variation left"):
        fit_structural_gravity(data.assign(const=1.0), ["rta", "const"])
    fit = fit_structural_gravity(data, ["rta"])
    with pytest.raises(KeyError, match="unknown coefficient"):
        combined_effect(fit, {"rta_lag4": 1.0})
