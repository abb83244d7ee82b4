"""``research/global_probe.py``'s data and scoring: Korea's scored partners as a matrix, MASE.

Split out of the probe (a research script, not the product); the probe and
``research/selection_probe.py`` import these names from ``global_probe``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
H = 5
FIRST, LAST = 1990, 2023
TEST = list(range(2008, 2019))
TUNE = list(range(1998, 2019))  # origins whose forecasts feed rolling selections
Preds = dict[int, np.ndarray]  # origin -> (n_partners, H) level forecasts


# --------------------------------------------------------------------------- data


class Data:
    """Korea's scored partners as a matrix plus the long frames for the global model."""

    def __init__(self, snap) -> None:
        kor = snap["kor_exports"]
        years = list(range(FIRST, LAST + 1))
        wide = kor.pivot(index="partner", columns="year", values="export_usd")
        wide = wide.reindex(columns=years)
        self.partners = sorted(wide.index[(wide > 0).all(axis=1)])
        self.y = wide.loc[self.partners].to_numpy(dtype="float64")  # (163, 34)
        top = wide.loc[self.partners, 2018].nlargest(20).index
        self.top20 = np.isin(self.partners, top)
        totals = snap["kor_totals"].set_index("year")["total_export_usd"]
        self.total = totals.reindex(years).to_numpy(dtype="float64")

        dots = snap["dots_exports"]
        market = dots.groupby(["partner", "year"])["export_usd"].sum()  # partner's imports
        kor_long = kor[["partner", "year", "export_usd"]].rename(
            columns={"partner": "unique_id", "year": "ds", "export_usd": "y"}
        )
        kor_long["total"] = kor_long["ds"].map(totals)
        kor_long["market"] = pd.MultiIndex.from_arrays([kor_long["unique_id"], kor_long["ds"]]).map(
            market
        )
        self.kor_long = kor_long.reset_index(drop=True)

        dn = dots.loc[dots["reporter"] != "KOR"]
        dn = dn.groupby(["reporter", "partner", "year"], as_index=False)["export_usd"].sum()
        rep_total = dn.groupby(["reporter", "year"])["export_usd"].sum()
        self.dots_long = pd.DataFrame(
            {
                "unique_id": dn["reporter"] + ">" + dn["partner"],
                "ds": dn["year"].to_numpy(),
                "y": dn["export_usd"].to_numpy(),
                "total": pd.MultiIndex.from_arrays([dn["reporter"], dn["year"]])
                .map(rep_total)
                .to_numpy(),
                "market": pd.MultiIndex.from_arrays([dn["partner"], dn["year"]])
                .map(market)
                .to_numpy(),
            }
        )

    def use_wdi_market(self, snap) -> None:
        """Replace ``market`` (DOTS import sums, to 2020) by WDI merchandise imports (to 2025)."""
        imports = snap["indicators"].set_index(["country", "year"])["merch_imports_usd"]
        for name in ("kor_long", "dots_long"):
            frame = getattr(self, name)
            partner = frame["unique_id"].str.split(">").str[-1]
            keys = pd.MultiIndex.from_arrays([partner, frame["ds"]])
            frame["market"] = keys.map(imports).to_numpy()

    def top_reporters(self, n: int, year: int) -> list[str]:
        """The n largest DOTS reporters (Korea excluded) by total exports in ``year``."""
        dl = self.dots_long.loc[self.dots_long["ds"] == year]
        tot = dl.groupby(dl["unique_id"].str.split(">").str[0])["y"].sum()
        return list(tot.nlargest(n).index)

    def hist(self, t: int) -> np.ndarray:
        return self.y[:, : t - FIRST + 1]


# --------------------------------------------------------------------------- scoring


def unit_mase(d: Data, preds: Preds, t: int, last: int = LAST) -> np.ndarray:
    """MASE per partner for origin t, scored on target years <= last."""
    i = t - FIRST
    hm = min(H, last - t)
    scale = np.mean(np.abs(np.diff(d.hist(t), axis=1)), axis=1)
    return np.abs(d.y[:, i + 1 : i + 1 + hm] - preds[t][:, :hm]).mean(axis=1) / scale


def summarize(d: Data, name: str, preds: Preds, naive: Preds, seconds: float) -> dict:
    m = np.concatenate([unit_mase(d, preds, t) for t in TEST])
    b = np.concatenate([unit_mase(d, naive, t) for t in TEST])
    top = np.tile(d.top20, len(TEST))
    err = act = 0.0
    for t in TEST:
        i, hm = t - FIRST, min(H, LAST - t)
        err += np.abs(d.y[:, i + 1 : i + 1 + hm] - preds[t][:, :hm]).sum()
        act += d.y[:, i + 1 : i + 1 + hm].sum()
    return {
        "method": name,
        "MASE": m.mean(),
        "relMASE": m.sum() / b.sum(),
        "wAPE %": 100 * err / act,
        "top-20 relMASE": m[top].sum() / b[top].sum(),
        "seconds": seconds,
    }
