"""A small but realistic report bundle (Korea's real exports, synthetic forecasts).

The browser fixture ``chromium_page`` is shared, in tests/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exportcast.features.concentration import concentration_from_paths, concentration_index
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.opportunities import opportunities
from exportcast.models.paths import path_quantiles

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DEP = ("CHN", "USA")
LEVELS = (80, 95)
HORIZON = 5
N_OWN = 25  # partners forecast on their own; the rest is REST
Z = {80: 1.2816, 95: 1.96}


@pytest.fixture(scope="session")
def snapshot_tables():
    return load_snapshot(ROOT / "data" / "snapshot").tables


def _forecasts(history: pd.DataFrame, last: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    now = history[history["year"] == last].set_index("partner")["export_usd"]
    own = now.sort_values(ascending=False).head(N_OWN)
    level = pd.concat([own, pd.Series({"REST": now.drop(own.index).sum()})])
    growth = pd.Series(rng.normal(0.03, 0.04, len(level)), index=level.index)
    growth["VNM"] = 0.09  # a clear diversification opportunity
    sigma = pd.Series(rng.uniform(0.05, 0.12, len(level)), index=level.index)
    rows, paths = [], []
    for h in range(1, HORIZON + 1):
        mean = level * (1 + growth) ** h
        spread = sigma * np.sqrt(h)
        for code in level.index:
            row = {"reporter": "KOR", "partner": code, "year": last + h, "model": "Selected"}
            row["mean"] = mean[code]
            for lv in LEVELS:
                row[f"lo_{lv}"] = mean[code] * np.exp(-Z[lv] * spread[code])
                row[f"hi_{lv}"] = mean[code] * np.exp(Z[lv] * spread[code])
            row["data_vintage"] = "cfdbe6d207db"
            rows.append(row)
    n_paths = 300
    for h in range(1, HORIZON + 1):
        z = rng.normal(size=(n_paths, len(level)))
        values = (level * (1 + growth) ** h).to_numpy() * np.exp(
            sigma.to_numpy() * np.sqrt(h) * z - 0.5 * (sigma.to_numpy() ** 2) * h
        )
        frame = pd.DataFrame(values, columns=level.index).assign(
            path=np.arange(n_paths), year=last + h
        )
        paths.append(
            frame.melt(id_vars=["path", "year"], var_name="partner", value_name="export_usd")
        )
    return pd.DataFrame(rows), pd.concat(paths, ignore_index=True)


def _concentration(history: pd.DataFrame, paths: pd.DataFrame, last: int) -> pd.DataFrame:
    hist = concentration_index(history, dependence_set=DEP).assign(kind="history")
    base = ["reporter", "year", "kind", "hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5"]
    shares = [f"share_{c}" for c in DEP]
    hist = hist[[*base, "theil", "n_partners", *shares, "dependence_share"]]
    now = history[history["year"] == last].set_index("partner")["export_usd"]
    own = set(paths["partner"]) - {"REST"}
    rest = now.drop(list(own & set(now.index)))
    rest_shares = tuple(rest[rest > 0] / rest[rest > 0].sum())
    n_partners = int((now > 0).sum())
    idx = concentration_from_paths(
        paths, dependence_set=DEP, rest="REST", rest_shares=rest_shares, n_partners=n_partners
    )
    cols = ["hhi", "hhi_norm", "n_effective", *shares, "dependence_share"]
    q = path_quantiles(idx, cols, levels=LEVELS)
    below = idx.assign(b=idx["dependence_share"] < 0.35).groupby("year")["b"].mean()
    fc = q.rename(columns={f"{c}_p50": c for c in cols}).assign(
        reporter="KOR",
        kind="forecast",
        p_dependence_below=q["year"].map(below).to_numpy(),
        n_partners=n_partners,
    )
    out = pd.concat([hist, fc], ignore_index=True)
    out = out[[*hist.columns, *[c for c in fc.columns if c not in hist.columns]]]
    return out.assign(data_vintage="cfdbe6d207db")


def _accuracy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["Naive", "Drift", "ETS", "Selected"],
            "MASE": [1.21, 1.30, 1.15, 1.14],
            "sMAPE": [18.2, 19.5, 17.6, 17.4],
            "RMSSE": [1.05, 1.12, 1.01, 0.99],
            "relMASE": [1.0, 1.07, 0.95, 0.94],
            "wMASE": [1.02, 1.1, 0.99, 0.97],
            "wsMAPE": [9.1, 9.9, 8.8, 8.7],
            "wRMSSE": [0.95, 1.0, 0.92, 0.91],
            "wrelMASE": [1.0, 1.08, 0.97, 0.95],
            "n_units": [1200, 1200, 1200, 1200],
        }
    )


def index_backtest_frame(first: int = 2008, last: int = 2018) -> pd.DataFrame:
    """A synthetic ``index_backtest.csv``: a drifting forecast around a wavy actual share."""

    def actual(year: int) -> float:
        return 0.33 + 0.003 * (year - first) + 0.012 * np.sin(1.3 * year)

    rows = [
        {
            "cutoff": cutoff,
            "year": cutoff + h,
            "h": h,
            "forecast": actual(cutoff) + 0.004 * h,
            "actual": actual(cutoff + h),
            "no_change": actual(cutoff),
            "n_series": 213,
        }
        for cutoff in range(first, last + 1)
        for h in range(1, HORIZON + 1)
    ]
    return pd.DataFrame(rows)


def _scenarios(forecasts: pd.DataFrame, history: pd.DataFrame, conc: pd.DataFrame, last: int):
    meta = [
        {
            "name": "uae_cepa",
            "title": "Korea\u2013UAE CEPA enters into force",
            "description": "The signed Korea\u2013UAE CEPA enters into force in 2025.",
            "origin": last,
            "changes": ["United Arab Emirates: FTA in force from 2025."],
            "coefficients": {"fta_in_force": 0.21},
            "method": "PPML gravity coefficient applied to the baseline paths.",
        },
        {
            "name": "india_upgrade",
            "title": "Upgraded Korea\u2013India CEPA",
            "description": "Deeper tariff cuts with India from 2024.",
            "origin": last,
            "changes": ["India: deeper FTA from 2024."],
            "coefficients": {"fta_deep": 0.3},
            "method": "PPML gravity coefficient applied to the baseline paths.",
        },
    ]
    prow, irow = [], []
    effects = {"uae_cepa": ("ARE", 12.0, 11.0, 9.5), "india_upgrade": ("IND", 15.0, -2.0, 1.0)}
    hist_conc = conc.set_index("year")
    for name, (partner, ppml, gbm, ridge) in effects.items():
        for origin in (last - 5, last):
            for h in range(1, HORIZON + 1):
                year = origin + h
                if origin == last:
                    base = float(
                        forecasts.loc[
                            (forecasts["partner"] == partner) & (forecasts["year"] == year), "mean"
                        ].iloc[0]
                        if partner in set(forecasts["partner"])
                        else 5e9
                    )
                    actual = np.nan
                else:
                    actual = float(
                        history.loc[
                            (history["partner"] == partner) & (history["year"] == year),
                            "export_usd",
                        ].sum()
                    )
                    base = actual * 0.97
                eff = ppml * min(h, 3) / 3
                prow.append(
                    {
                        "scenario": name,
                        "origin": origin,
                        "partner": partner,
                        "year": year,
                        "baseline_mean": base,
                        "scenario_mean": base * (1 + eff / 100),
                        "scenario_lo_80": base * (1 + (eff - 4) / 100),
                        "scenario_hi_80": base * (1 + (eff + 4) / 100),
                        "scenario_lo_95": base * (1 + (eff - 7) / 100),
                        "scenario_hi_95": base * (1 + (eff + 7) / 100),
                        "effect_pct": eff,
                        "effect_lo_80": eff - 4,
                        "effect_hi_80": eff + 4,
                        "effect_lo_95": eff - 7,
                        "effect_hi_95": eff + 7,
                        "ppml_effect_pct": eff,
                        "gbm_effect_pct": gbm * min(h, 3) / 3,
                        "ridge_effect_pct": ridge * min(h, 3) / 3,
                        "actual": actual,
                    }
                )
                for index in ("dependence_share", "hhi", "n_effective"):
                    ref = float(hist_conc.loc[min(year, hist_conc.index.max()), index])
                    d = {"dependence_share": -0.002, "hhi": -0.0005, "n_effective": 0.06}[index]
                    d *= min(h, 3)
                    row = {"scenario": name, "origin": origin, "year": year, "index": index}
                    # the index of the point forecasts: 1 % off the path median, as in a real run
                    row["baseline_point"] = ref * 1.01
                    row["scenario_point"] = (ref + d) * 1.01
                    row["diff_point"] = row["scenario_point"] - row["baseline_point"]
                    for who, shift in (("baseline", 0.0), ("scenario", d), ("diff", None)):
                        centre = d if shift is None else ref + shift
                        width = abs(d) * 0.6 if shift is None else abs(ref) * 0.08
                        row[f"{who}_p50"] = centre
                        row[f"{who}_lo_80"] = centre - width
                        row[f"{who}_hi_80"] = centre + width
                        row[f"{who}_lo_95"] = centre - 1.6 * width
                        row[f"{who}_hi_95"] = centre + 1.6 * width
                    row["actual"] = ref if origin < last else np.nan
                    irow.append(row)
    return meta, pd.DataFrame(prow), pd.DataFrame(irow)


def write_bundle(
    folder: Path,
    tables,
    *,
    scenarios: bool = True,
    rename: dict[str, str] | None = None,
    title_suffix: str = "",
    seed: int = 7,
    index_backtest: bool = True,
) -> Path:
    """Write a report bundle; ``rename`` overrides partner names (escaping tests).

    ``index_backtest=False`` leaves out ``index_backtest.csv`` (a bundle of an older run).
    """
    folder.mkdir(parents=True, exist_ok=True)
    exports = tables["kor_exports"]
    last = int(exports["year"].max())
    history = exports[exports["year"] > last - 15][["reporter", "partner", "year", "export_usd"]]
    history = history.reset_index(drop=True)
    forecasts, paths = _forecasts(history, last, seed)
    conc = _concentration(history, paths, last)
    countries = tables["countries"].copy()
    if rename:
        countries["name"] = countries["country"].map(rename).fillna(countries["name"])
    fta = tables["fta"][tables["fta"]["reporter"] == "KOR"]
    pairs = tables["pairs"][tables["pairs"]["reporter"] == "KOR"]
    opp = opportunities(
        forecasts,
        history,
        dependence_set=DEP,
        horizon=HORIZON,
        countries=countries,
        fta_status=fta,
        distances=pairs,
        indicators=tables["indicators"],
    )
    meta_s, sp, si = _scenarios(forecasts, history, conc, last)
    if title_suffix:
        meta_s[0]["title"] += title_suffix
    codes = sorted(set(forecasts["partner"]) - {"REST"})
    names = countries.set_index("country")["name"]
    config = {
        "reporter": "KOR",
        "dependence_set": list(DEP),
        "horizon": HORIZON,
        "forecast": {"levels": list(LEVELS), "dependence_threshold": 0.35},
        "output": {"dir": "outputs" + title_suffix},
    }
    meta = {
        "reporter": "KOR",
        "reporter_name": "Korea",
        "dependence_set": list(DEP),
        "horizon": HORIZON,
        "first_year": 1990,
        "last_year": last,
        "levels": list(LEVELS),
        "dependence_threshold": 0.35,
        "data_vintage": "cfdbe6d207db",
        "config_hash": "9068d464894a",
        "code_version": "ebe374b9bb00",
        "mlflow_run_id": "68026382055b4e46b9d276058ba4dcf1",
        "prefect_flow_run_id": "325f0c10-8288-4ca6-9a23-ad48f211d7ff",
        "created_utc": "2025-11-02T06:00:00Z",
        "selected_model": "ETS",
        "interval_coverage_backtest": {"80": 0.801, "95": 0.93},
        "backtest_period": [2008, 2018],
        "config": config,
        "partner_names": {c: str(names.get(c, c)) for c in codes},
        "sources": [
            {
                "table": "kor_exports",
                "publisher": "Korea Customs Service / Statistics Korea (KOSIS)",
                "title": "Exports by country",
                "license": "KOSIS public statistics (cite the source)",
                "url": "https://kosis.kr",
            },
            {
                "table": "countries",
                "publisher": "World Bank",
                "title": "Country and lending groups",
                "license": "CC BY 4.0",
                "url": "https://datahelpdesk.worldbank.org",
            },
        ],
        "scenarios": meta_s if scenarios else [],
    }
    (folder / "report.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    conc.to_csv(folder / "concentration.csv", index=False)
    forecasts.to_csv(folder / "forecasts.csv", index=False)
    history.to_csv(folder / "history.csv", index=False)
    _accuracy().to_csv(folder / "backtest_accuracy.csv", index=False)
    opp.to_csv(folder / "opportunities.csv", index=False)
    if index_backtest:
        index_backtest_frame().to_csv(folder / "index_backtest.csv", index=False)
    if scenarios:
        sp.to_csv(folder / "scenario_partners.csv", index=False)
        si.to_csv(folder / "scenario_indices.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, snapshot_tables) -> Path:
    return write_bundle(tmp_path_factory.mktemp("bundle"), snapshot_tables)


@pytest.fixture(scope="session")
def built(tmp_path_factory, bundle_dir):
    """The report built once for the session (the PDF takes a few seconds)."""
    from exportcast.reports import build_report

    return build_report(bundle_dir, tmp_path_factory.mktemp("report"))
