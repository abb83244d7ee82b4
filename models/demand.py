"""Demand-driven pooled regression of partner export growth, direct for every horizon.

At an origin ``T`` (trade data through ``T``) :class:`DemandModel` predicts, for every partner
series and every step ``k = 1..h``, with one median-loss gradient-boosting regression pooled over
partners and training origins ``t < T`` whose targets ``t + k <= T`` are observed, either the
log growth ``log(y[T+k] / y[T])`` (``target="growth"``) or, by default, the change of the
series' share of the total of all series (``target="share"``), to which the total's forecast
growth is added (``total``: flat, WEO World demand variants, or by default a Theta forecast of
the total). Features known at ``t``:

- the partner's real GDP growth outlook for ``t+1..t+k`` (cumulated, log) and its nowcast for
  ``t`` from the newest IMF WEO vintage published by the as-of date of ``t``, the same for the
  World and for CPI (partner, and the USA as the USD deflator);
- the WEO's past optimism for the partner: mean (forecast - first-release outturn) of the
  growth forecasts 1-5 years ahead whose outturn was published by the as-of date;
- the series' momentum (last growths, 5-year mean growth, level against its 5-year mean), its
  share of the reporter's total and the total's growth;
- optionally partner covariates (``exog``: e.g. the partner's merchandise imports, giving the
  reporter's share of the partner's market and its trend, population growth, an agreement
  flag) and static ones (``static``: e.g. log distance), read only up to ``t``.

The forecast is ``y[T] * exp(prediction)``. Measured variants (docs/demand-models.md): every
WEO-driven total over-forecast Korea's exports after 2008; the default (share model x Theta
total) is the best unweighted row but worse than no change export-weighted, so it is not a
default candidate of the engine. The information set is explicit: ``asof(T)`` is
the as-of date of origin ``T`` (default :func:`asof_fall`: every vintage published in year
``T``, i.e. up to the fall WEO of ``T``); nothing after ``T`` in ``series``/``exog`` and no
vintage or outturn published after ``asof(T)`` is read (``tests/models/test_demand.py``
corrupts them and gets identical forecasts).

The WEO frame has the snapshot table ``weo_vintages``' schema: ``country`` (ISO3, World
``WLD``), ``vintage_year``, ``season`` (``S``/``F``), ``published`` (date), ``target``
(``ngdp_rpch``/``pcpi_pch``), ``target_year``, ``prediction``, ``outturn`` (first release).
Series ids are ``"REPORTER|PARTNER"`` (ISO3) as built by ``features.panel``.

The model plugs into the engine as a *panel candidate* (``models.engine.run_engine``'s
``panel_models``): ``backtest(series, origins, h)`` and ``forecast(series, h)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.features.demand_inputs import demand_covariates
from exportcast.features.outlook import as_of_date
from exportcast.features.sources.weo_vintages import VINTAGE_COLUMNS
from exportcast.models.timeseries import Theta

__all__ = [
    "DEMAND_TABLES",
    "WEO_COLUMNS",
    "DemandModel",
    "asof_fall",
    "demand_candidate",
    "weo_outlook",
]

# the weo_vintages snapshot columns the model reads (the table's schema: VINTAGE_COLUMNS)
WEO_COLUMNS = tuple(c for c in VINTAGE_COLUMNS if c != "vintage")
DEMAND_TABLES = ("weo_vintages", "indicators", "pairs", "fta")  # snapshot tables it reads
WORLD = "WLD"
GDP, CPI = "ngdp_rpch", "pcpi_pch"
MIN_ROWS = 500  # fewer training rows: the naive forecast
BIAS_YEARS = 10
TOTAL_ORIGINS = 5  # recent origins whose realised total growth corrects the WEO world demand  # target years whose WEO errors make the optimism feature
GBM_PARAMS: dict = {
    "loss": "absolute_error",
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


def asof_fall(origin: int) -> pd.Timestamp:
    """As-of date of origin ``T``: the end of year ``T`` (every WEO up to the fall one of ``T``).

    The project's default as-of rule (``features.outlook.as_of_date``, ``fall_of_origin``):
    annual trade data for ``T`` are out early in ``T+1``; no credit for the spring WEO of ``T+1``.
    Another rule is ``DemandModel(asof=lambda t: as_of_date(t, "spring_after_origin"))``.
    """
    return as_of_date(origin, "fall_of_origin")


def _check_weo(weo: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in WEO_COLUMNS if c not in weo.columns]
    if missing:
        raise ValueError(f"weo frame lacks column(s) {missing}; expected {list(WEO_COLUMNS)}")
    frame = weo.loc[weo["target"].isin([GDP, CPI]), list(WEO_COLUMNS)].copy()
    frame["published"] = pd.to_datetime(frame["published"])
    return frame


def _log1p_pct(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(values, dtype=float), -90.0, None) / 100.0)


def weo_outlook(weo: pd.DataFrame, origin: int, h: int, asof: pd.Timestamp) -> pd.DataFrame:
    """Per country, the WEO outlook known at ``asof`` for an origin ``T`` (columns below).

    ``gdp_now``/``cpi_now``: growth/inflation nowcast for ``T``; ``gdp_k``/``cpi_k``
    (``k = 1..h``): cumulated log growth/inflation over ``T+1..T+k``, each year's from the newest
    vintage published by ``asof`` that forecasts it (in a backtest the vintage of ``asof``; live,
    years before the newest vintage's first come from the vintage before it). ``gdp_bias``: mean forecast minus first-release outturn (points) of
    the real-growth forecasts 1-5 years ahead for the last :data:`BIAS_YEARS` target years whose
    outturn was published (in the fall WEO after the target year) by ``asof``.

    Args:
        weo: Frame in the ``weo_vintages`` schema (:data:`WEO_COLUMNS`).
        origin: The origin year ``T``.
        h: Horizon in years.
        asof: Only vintages published on or before this date are read.

    Returns:
        One row per country (index ``country``); empty when no vintage qualifies.
    """
    weo = weo.loc[weo["published"] <= asof]
    if weo.empty:
        return pd.DataFrame()
    # per target year the newest published forecast: the newest vintage, except for years it
    # no longer forecasts (a live vintage starting after the last trade year)
    newest = (
        weo.loc[weo["prediction"].notna()]
        .sort_values("published", kind="stable")
        .drop_duplicates(["country", "target", "target_year"], keep="last")
    )
    out = {}
    for target, name in ((GDP, "gdp"), (CPI, "cpi")):
        part = newest.loc[newest["target"] == target]
        wide = part.pivot_table(
            index="country", columns="target_year", values="prediction", aggfunc="first"
        )
        wide = wide.reindex(columns=range(origin, origin + h + 1))
        out[f"{name}_now"] = wide[origin]
        cum = np.cumsum(_log1p_pct(wide[list(range(origin + 1, origin + h + 1))]), axis=1)
        for k in range(1, h + 1):
            out[f"{name}_{k}"] = pd.Series(cum[:, k - 1], index=wide.index)
    frame = pd.DataFrame(out)
    # optimism: errors of forecasts whose outturn was published (fall after the target year)
    past = weo.loc[
        (weo["target"] == GDP)
        & (weo["season"] == "F")
        & (weo["target_year"] - weo["vintage_year"]).between(1, 5)
        & (weo["target_year"] >= origin - BIAS_YEARS)
        & (pd.to_datetime((weo["target_year"] + 1).astype(str) + "-10-15") <= asof)
    ]
    error = past["prediction"] - past["outturn"]
    frame["gdp_bias"] = error.groupby(past["country"]).mean().clip(-10, 10)
    frame.index.name = "country"
    return frame


# ---------------------------------------------------------------------------------------------
# features per origin


def _wide(series: pd.DataFrame, column: str = "y") -> pd.DataFrame:
    return series.pivot_table(index="unique_id", columns="ds", values=column, aggfunc="first")


def _log(a: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    return np.log(a.where(a > 0))


def _at(frame: pd.DataFrame, year: int) -> pd.Series:
    if year in frame.columns:
        return frame[year]
    return pd.Series(np.nan, index=frame.index)


def _own_features(ly: pd.DataFrame, t: int) -> pd.DataFrame:
    """Momentum and size features at ``t`` from the log levels of years ``<= t``."""
    cols = [c for c in ly.columns if c <= t]
    ly = ly[cols]
    g = ly.diff(axis=1)
    level = np.exp(ly)
    tot = _log(level.sum(axis=0))
    f = pd.DataFrame(index=ly.index)
    f["g1"] = g[t]
    f["g2"] = _at(g, t - 1)
    f["mg5"] = g[[c for c in cols if c > t - 5]].mean(axis=1)
    f["mg10"] = g[[c for c in cols if c > t - 10]].mean(axis=1)
    f["vol5"] = g[[c for c in cols if c > t - 5]].std(axis=1)
    f["dev5"] = ly[t] - ly[[c for c in cols if c > t - 5]].mean(axis=1)
    f["share"] = ly[t] - tot[t]
    f["share_d5"] = f["share"] - (_at(ly, t - 5) - tot.get(t - 5, np.nan))
    f["tg1"] = tot[t] - tot.get(t - 1, np.nan)
    f["tg5"] = (tot[t] - tot.get(t - 5, np.nan)) / 5
    scale = level.diff(axis=1).abs()[[c for c in cols if c > t - 10]].mean(axis=1)
    f["scale_rel"] = _log(scale / level[t])
    return f


def _exog_features(exog: pd.DataFrame | None, ly: pd.DataFrame, t: int) -> pd.DataFrame:
    """Partner covariates at ``t`` (``exog`` rows with ``ds <= t`` only)."""
    f = pd.DataFrame(index=ly.index)
    if exog is None:
        return f
    known = exog.loc[exog["ds"] <= t]
    for col in [c for c in known.columns if c not in ("unique_id", "ds")]:
        wide = _wide(known, col).reindex(index=ly.index)
        now = wide.get(t)
        if now is None:
            continue
        if col == "market":  # the partner's imports: the reporter's share of them and trend
            lm = _log(wide)
            f["mshare"] = ly[t] - lm[t]
            f["mshare_d5"] = f["mshare"] - (_at(ly, t - 5) - _at(lm, t - 5))
            f["mg3"] = (lm[t] - _at(lm, t - 3)) / 3
        else:
            f[col] = now
    return f


def _origin_frame(
    series: pd.DataFrame,
    t: int,
    h: int,
    weo: pd.DataFrame,
    asof: pd.Timestamp,
    exog: pd.DataFrame | None,
    static: pd.DataFrame | None,
) -> pd.DataFrame:
    """One row per (series positive at ``t-2..t``, step ``k``): features known at ``t``."""
    known = series.loc[series["ds"] <= t]
    ly = _log(_wide(known))
    if t not in ly.columns or t - 2 not in ly.columns:
        return pd.DataFrame()
    tot0 = float(known.loc[known["ds"] == t, "y"].sum())
    ok = ly[[t - 2, t - 1, t]].notna().all(axis=1)
    ly = ly.loc[ok]
    base = pd.concat([_own_features(ly, t), _exog_features(exog, ly, t)], axis=1)
    if static is not None:
        base = base.join(static.reindex(base.index))
    partner = base.index.str.split("|").str[-1]
    outlook = weo_outlook(weo, t, h, asof)
    if outlook.empty:
        return pd.DataFrame()
    mine = outlook.reindex(partner).set_axis(base.index)
    world = outlook.reindex([WORLD]).iloc[0] if WORLD in outlook.index else None
    usa = outlook.reindex(["USA"]).iloc[0] if "USA" in outlook.index else None
    parts = []
    for k in range(1, h + 1):
        part = base.copy()
        part["k"] = float(k)
        part["gdp_h"] = mine[f"gdp_{k}"]
        part["cpi_h"] = mine[f"cpi_{k}"].clip(-1.0, 3.0)
        part["gdp_now"] = mine["gdp_now"]
        part["gdp_bias"] = mine["gdp_bias"] * k / 100.0
        part["gdp_h_adj"] = part["gdp_h"] - part["gdp_bias"]
        part["wgdp_h"] = np.nan if world is None else world[f"gdp_{k}"]
        part["rel_gdp_h"] = part["gdp_h"] - part["wgdp_h"]
        part["uscpi_h"] = np.nan if usa is None else usa[f"cpi_{k}"]
        # world demand in USD: World real growth + US inflation, and the World's past optimism
        part["wnom_h"] = part["wgdp_h"] + part["uscpi_h"]
        part["wbias_h"] = np.nan if world is None else world["gdp_bias"] * k / 100.0
        part["y0"] = np.exp(ly[t])
        part["tot0"] = tot0
        part["origin"] = t
        parts.append(part)
    return pd.concat(parts).rename_axis("unique_id").reset_index()


class DemandModel:
    """Pooled direct multi-horizon regression of partner export growth (module docstring).

    Args:
        weo: WEO vintages in the ``weo_vintages`` schema.
        exog: Optional ``unique_id, ds, <covariates>`` (``market`` = the partner's imports).
        static: Optional covariates per ``unique_id`` (index), constant over time.
        asof: As-of date of an origin (default :func:`asof_fall`).
        alias: Column name of the forecasts.
        window: Training origins ``T-window .. T-1``.
        weight: ``"mase"`` weighs each row by ``y[t] / mean|diff y|`` (the MASE scale of the
            partner), ``"wmase"`` that times the partner's share of the total (the engine's
            share-weighted selection score), ``"none"`` equally.
        shrink: Multiplies the predicted log growth (1 = as fitted).
        target: ``"growth"``: the series' log growth; ``"share"``: the change of its share of
            the total of all series, plus the total's growth (``total``).
        total: With ``target="share"``, the total's log growth: ``"flat"`` (none), ``"weo"``
            (the WEO's World real growth plus US inflation, cumulated), ``"weo-real"`` (World
            real growth only), ``"weo-bias"`` (World real growth plus US inflation
            minus the WEO's past optimism for the World), ``"weo-learned"`` (that plus the
            median gap between the total's realised growth and that forecast over the last
            :data:`TOTAL_ORIGINS` origins with known outcomes), ``"theta"`` (a Theta forecast of
            the total of all series, data to the origin only).
        learner: ``"gbm"`` (median-loss gradient boosting) or ``"none"`` (share unchanged: only
            the total's growth).
        features: Feature subset (default: every column built).
        params: Overrides for :data:`GBM_PARAMS`.
        seed: Booster seed.
    """

    def __init__(
        self,
        weo: pd.DataFrame,
        exog: pd.DataFrame | None = None,
        static: pd.DataFrame | None = None,
        *,
        asof: Callable[[int], pd.Timestamp] = asof_fall,
        alias: str = "Demand",
        window: int = 20,
        weight: str = "mase",
        shrink: float = 1.0,
        target: str = "share",
        total: str = "theta",
        learner: str = "gbm",
        features: Sequence[str] | None = None,
        params: dict | None = None,
        seed: int = 0,
    ) -> None:
        if weight not in ("mase", "wmase", "none"):
            raise ValueError(f"weight must be 'mase', 'wmase' or 'none', got {weight!r}")
        self.weo = _check_weo(weo)
        self.exog, self.static = exog, static
        self.asof, self.alias, self.window = asof, alias, window
        self.weight, self.shrink, self.features = weight, shrink, features
        for name, value, allowed in (
            ("target", target, ("growth", "share")),
            ("total", total, ("flat", "weo", "weo-real", "weo-bias", "weo-learned", "theta")),
            ("learner", learner, ("gbm", "none")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.target, self.total, self.learner = target, total, learner
        self.params = {**GBM_PARAMS, **(params or {}), "random_state": seed}
        self._cache: dict[tuple[int, int, pd.Timestamp], pd.DataFrame] = {}

    def _frame(self, series: pd.DataFrame, t: int, h: int, asof: pd.Timestamp) -> pd.DataFrame:
        key = (t, h, asof)
        if key not in self._cache:  # features at t read data of years <= t only
            self._cache[key] = _origin_frame(series, t, h, self.weo, asof, self.exog, self.static)
        return self._cache[key]

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        drop = {"unique_id", "origin", "y0", "tot0", "target", "tgrowth"}
        cols = [c for c in frame.columns if c not in drop]
        return [c for c in cols if c in self.features] if self.features else cols

    def _training(self, series: pd.DataFrame, origin: int, h: int) -> pd.DataFrame:
        known = series.loc[series["ds"] <= origin]
        level = known.set_index(["unique_id", "ds"])["y"]
        total = known.groupby("ds")["y"].sum()
        parts = []
        for t in range(origin - self.window, origin):
            frame = self._frame(known, t, h, self.asof(t))
            if frame.empty:
                continue
            frame = frame.loc[frame["origin"] + frame["k"] <= origin]
            key = pd.MultiIndex.from_arrays([frame["unique_id"], frame["origin"] + frame["k"]])
            y1 = level.reindex(key).to_numpy()
            target = np.log(np.where(y1 > 0, y1, np.nan) / frame["y0"])
            t1 = total.reindex(frame["origin"] + frame["k"]).to_numpy()
            tgrowth = np.log(t1 / frame["tot0"].to_numpy())
            if self.target == "share":  # the change of the series' share of the total
                target = target - tgrowth
            parts.append(frame.assign(target=target, tgrowth=tgrowth))
        if not parts:
            return pd.DataFrame()
        train = pd.concat(parts, ignore_index=True)
        return train.loc[np.isfinite(train["target"])]

    def forecast_at(
        self, series: pd.DataFrame, origin: int, h: int, asof: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Forecasts ``unique_id, ds, <alias>`` from origin ``origin`` with data to ``origin``.

        Series the model cannot forecast (not positive at ``T-2..T``, no WEO outlook) get the last
        value (naive), and all series do with fewer than :data:`MIN_ROWS` training rows.
        """
        self._cache = {}  # features are cached per call: a new series frame, a new cache
        return self._forecast_at(series, origin, h, asof)

    def _forecast_at(
        self, series: pd.DataFrame, origin: int, h: int, asof: pd.Timestamp | None
    ) -> pd.DataFrame:
        known = series.loc[series["ds"] <= origin]
        asof = self.asof(origin) if asof is None else asof
        now = _origin_frame(known, origin, h, self.weo, asof, self.exog, self.static)
        train = self._training(known, origin, h)
        last = known.loc[known["ds"] == origin].set_index("unique_id")["y"]
        steps = np.arange(1, h + 1)
        naive = pd.DataFrame(
            {
                "unique_id": np.repeat(last.index.to_numpy(), h),
                "ds": np.tile(origin + steps, len(last)),
                self.alias: np.repeat(last.to_numpy(dtype=float), h),
            }
        )
        if now.empty or len(train) < MIN_ROWS:
            return naive
        cols = self._columns(train)
        weight = None
        if self.weight != "none":
            weight = np.exp(-train["scale_rel"].to_numpy(dtype=float))
            if self.weight == "wmase":  # times the series' share of the total, as wMASE
                weight = weight * np.exp(train["share"].to_numpy(dtype=float))
            weight = np.clip(np.nan_to_num(weight, nan=1.0), None, np.nanquantile(weight, 0.99))
        pred = np.zeros(len(now))
        if self.learner == "gbm":
            from sklearn.ensemble import HistGradientBoostingRegressor  # heavy: when fitting

            model = HistGradientBoostingRegressor(**self.params)
            with threadpool_limits(limits=1, user_api="openmp"):  # one core: small fits
                model.fit(train[cols].to_numpy(dtype=float), train["target"].clip(-3, 3), weight)
                pred = model.predict(now[cols].to_numpy(dtype=float)) * self.shrink
        pred = pred + self._total_growth(now, train, origin)
        if self.target == "share" and self.total == "theta":
            total = known.groupby("ds")["y"].sum().sort_index()
            path = Theta().fit(total.to_numpy(dtype=float)).predict(h)["mean"]
            ratio = np.log(np.maximum(path, 1e-9) / float(total.iloc[-1]))
            pred = pred + ratio[now["k"].astype(int).to_numpy() - 1]
        fc = pd.DataFrame(
            {
                "unique_id": now["unique_id"].to_numpy(),
                "ds": (origin + now["k"]).astype("int64").to_numpy(),
                self.alias: now["y0"].to_numpy() * np.exp(pred),
            }
        )
        rest = naive.merge(fc[["unique_id", "ds"]], how="left", indicator=True)
        return pd.concat([fc, naive.loc[(rest["_merge"] == "left_only").to_numpy()]]).reset_index(
            drop=True
        )

    def _total_growth(self, now: pd.DataFrame, train: pd.DataFrame, origin: int) -> np.ndarray:
        """The total's log growth added to a predicted share change (0 for growth targets)."""
        if self.target == "growth" or self.total in ("flat", "theta"):
            return np.zeros(len(now))
        growth = now["wnom_h"].to_numpy(dtype=float)
        if self.total == "weo-real":
            growth = now["wgdp_h"].to_numpy(dtype=float)
        if self.total == "weo-bias":
            growth = growth - np.nan_to_num(now["wbias_h"].to_numpy(dtype=float))
        if self.total == "weo-learned":
            # the total's past k-step growth minus the WEO world demand forecast of its time,
            # over the last TOTAL_ORIGINS origins whose k-step outcome is known at the origin
            first = train.drop_duplicates(["origin", "k"])
            recent = first["origin"] >= origin - first["k"] - TOTAL_ORIGINS + 1
            gap = (first["tgrowth"] - first["wnom_h"]).loc[recent].groupby(first["k"]).median()
            growth = growth + np.nan_to_num(now["k"].map(gap).to_numpy(dtype=float))
        return np.nan_to_num(growth)

    def backtest(self, series: pd.DataFrame, origins: Sequence[int], h: int) -> pd.DataFrame:
        """Rolling-origin backtest: ``unique_id, ds, cutoff, y, <alias>`` for every origin."""
        self._cache = {}
        parts = []
        for origin in origins:
            fc = self._forecast_at(series, origin, h, None).assign(cutoff=origin)
            parts.append(fc)
        cv = pd.concat(parts, ignore_index=True)
        cv = cv.merge(series[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
        return cv[["unique_id", "ds", "cutoff", "y", self.alias]]

    def forecast(
        self, series: pd.DataFrame, h: int, asof: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Live forecast from the last year (``asof``: default the newest vintage in ``weo``)."""
        last = int(series["ds"].max())
        asof = self.weo["published"].max() if asof is None else asof
        return self.forecast_at(series, last, h, asof=asof)


def demand_candidate(
    series: pd.DataFrame, tables: Mapping[str, pd.DataFrame] | None, rule: str
) -> DemandModel:
    """The default :class:`DemandModel` for ``series`` from the snapshot ``tables``.

    Args:
        series: The engine's long frame (ids ``REPORTER|PARTNER``).
        tables: Snapshot tables, at least :data:`DEMAND_TABLES`.
        rule: The WEO as-of rule (``forecast.weo_as_of``, ``features.outlook.as_of_date``).

    Raises:
        ValueError: A needed table is missing.
    """
    missing = [t for t in DEMAND_TABLES if tables is None or t not in tables]
    if missing:
        raise ValueError(f"the demand model needs the snapshot table(s) {missing}")
    exog, static = demand_covariates(series, tables["indicators"], tables["pairs"], tables["fta"])
    return DemandModel(tables["weo_vintages"], exog, static, asof=partial(as_of_date, rule=rule))
