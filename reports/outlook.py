"""What the report says about the outlook: which markets stand out and what drives a forecast.

Pure functions on frames of the report bundle (no I/O); ``reports.sections_partners`` formats them.

Noise rule of "Fastest-growing markets" (issue 13, item 6): the bundle has no per-partner
backtest errors (``backtest_forecasts.csv`` is an output, not a bundle file), but it has each
partner's forecast interval at the horizon, and the intervals are calibrated on the backtest's
errors (``report.json`` ``interval_coverage_backtest``). With ``g`` the partner's forecast
growth (compound, % a year from the last observed year to the horizon), ``g_lo`` the growth to
the lower bound of its first interval level (80 % by default) and ``G`` the growth of total
exports (all partners, ``Other partners`` included), a partner *stands out* when

    g - G > g - g_lo,   that is   g_lo > G:

its forecast lead over the total is larger than the lower half-width of its own interval, the
forecasts' typical error at that horizon. Even the low end of its interval grows faster than
total exports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = [
    "driver_sentence",
    "forecast_method",
    "growth_vs_noise",
    "model_text",
    "none_stands_out_sentence",
    "rule_sentence",
    "total_growth_pct",
    "uses_demand_outlook",
]

# What each engine candidate does, in one phrase (model families, not countries).
_MODEL_TEXT = {
    "Naive": "no change: the last observed value carried forward",
    "Drift": "Drift: the average yearly change of the partner's history ({first}\u2013{last}) "
    "extended in a straight line",
    "Theta": "Theta: the long-run linear trend of its history blended with exponential smoothing "
    "of recent years",
    "DampedETS": "damped-trend exponential smoothing: the recent level and trend, the trend "
    "fading over the horizon",
    "AutoARIMA": "ARIMA: the series' own recent dynamics (order chosen automatically)",
    "Ensemble": "a weighted combination of the candidate models",
    "Demand": "the demand model: the partner's IMF WEO growth outlook, its share trend and "
    "momentum in a pooled regression",
    "Selected": "the model the backtest selected for it",
}


def _cagr_pct(end: pd.Series | float, now: pd.Series | float, years: int) -> pd.Series | float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (
            (np.asarray(end, dtype=float) / np.asarray(now, dtype=float)) ** (1.0 / years) - 1.0
        )


def total_growth_pct(frame: pd.DataFrame, years: int) -> float:
    """Compound growth of total exports, % a year (all rows of ``frame``, ``REST`` included).

    Args:
        frame: ``now`` (last observed year) and ``end`` (forecast mean at the horizon) per row.
        years: Years from the last observed year to the horizon.

    Returns:
        The growth rate; NaN when the total of ``now`` is not positive.
    """
    now, end = float(frame["now"].sum()), float(frame["end"].sum())
    if years < 1 or now <= 0 or end < 0:
        return math.nan
    return float(_cagr_pct(end, now, years))


def growth_vs_noise(frame: pd.DataFrame, total_pct: float, years: int) -> pd.DataFrame:
    """Each partner's forecast growth against the total's and its interval (the noise rule).

    Args:
        frame: Per partner ``now, end, lo`` (``lo``: lower interval bound at the horizon).
        total_pct: Growth of total exports, % a year (:func:`total_growth_pct`).
        years: Years from the last observed year to the horizon.

    Returns:
        ``frame`` with ``growth`` and ``growth_lo`` (% a year), ``excess`` (``growth`` minus
        the total's), ``noise`` (``growth - growth_lo``) and ``stands_out``
        (``excess > noise``; False where ``now`` is not positive or a value is missing).
    """
    now = frame["now"].astype(float)
    positive = now > 0
    growth = pd.Series(_cagr_pct(frame["end"], now, years), index=frame.index).where(positive)
    growth_lo = pd.Series(_cagr_pct(frame["lo"], now, years), index=frame.index).where(positive)
    excess = growth - total_pct
    noise = growth - growth_lo
    stands = (excess > noise) & excess.notna() & noise.notna()
    return frame.assign(
        growth=growth, growth_lo=growth_lo, excess=excess, noise=noise, stands_out=stands
    )


def rule_sentence(level: int, total_pct: float, coverage: float | None = None) -> str:
    """How a market qualifies for "Fastest-growing markets", in one sentence."""
    cov = ""
    if coverage is not None and not math.isnan(coverage):
        cov = (
            f" (the {level} % intervals covered {100 * coverage:.1f} % of outcomes in the backtest)"
        )
    return (
        f"A market is listed only where its forecast growth exceeds that of total exports "
        f"({_signed(total_pct)} % a year) by more than the forecasts' typical error: even the "
        f"lower end of its {level} % interval{cov} grows faster than total exports."
    )


def none_stands_out_sentence(level: int, total_pct: float, n_checked: int) -> str:
    """The plain sentence when no market qualifies."""
    return (
        f"No market's forecast growth stands out from the total's ({_signed(total_pct)} % a year) "
        f"by more than the forecasts' typical error: for each of the {n_checked} partners "
        f"checked, the lower end of its {level} % interval grows more slowly than total exports."
    )


def _signed(x: float, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{abs(x):,.{digits}f}"
    if float(text.replace(",", "")) == 0:
        return text
    return f"+{text}" if x > 0 else f"\u2212{text}"


def _family(model: str) -> tuple[str, bool]:
    log = model.startswith("Log") and len(model) > 3
    return (model[3:] if log else model), log


def model_text(model: str, first: int, last: int, texts: Mapping[str, str] = _MODEL_TEXT) -> str:
    """One phrase saying what a candidate model does (``LogDrift``: Drift on the log scale)."""
    family, log = _family(str(model))
    key = next((k for k in texts if family.startswith(k)), None)
    text = texts[key].format(first=first, last=last) if key else str(model)
    return f"{text} (on the log scale: growth rates rather than amounts)" if log else text


def uses_demand_outlook(model: str) -> bool:
    """Whether a candidate uses the partner's demand outlook (the IMF WEO growth forecasts)."""
    return _family(str(model))[0].startswith("Demand")


def _bn(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x / 1e9:,.1f}"


def _interval_vs(now: float, lo: float, hi: float) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return "has no interval"
    if lo > now:
        return "lies wholly above the no-change value"
    if hi < now:
        return "lies wholly below the no-change value"
    return "includes the no-change value: the forecast is not distinguishable from no change"


def driver_sentence(r: Mapping[str, float | str | int]) -> str:
    """What drives one partner's forecast and where it differs from no change, in plain text.

    Args:
        r: ``name, model, first, t0, t1, level, now, end, lo, hi, step`` (``step``: the
            forecast of the first year minus ``now``), ``momentum_from`` (a year before
            ``t0``), ``momentum_pct`` (growth a year from then to ``t0``), ``share_then``,
            ``share_now`` (shares of exports, fractions) and ``weo_pct`` (IMF WEO real GDP
            growth outlook, % a year over the forecast years; NaN when unknown).

    Returns:
        Two to four sentences, every number from ``r``.
    """
    model, t0, t1 = str(r["model"]), int(r["t0"]), int(r["t1"])
    now, end, lo, hi = (float(r[k]) for k in ("now", "end", "lo", "hi"))
    years = t1 - t0
    growth = float(_cagr_pct(end, now, years)) if now > 0 else math.nan
    diff = end - now
    where = "above" if diff > 0 else "below"
    step = ""
    if _family(model) == ("Drift", False) and not math.isnan(float(r["step"])):
        sign = "+" if float(r["step"]) >= 0 else "\u2212"
        step = f"; {sign}USD {_bn(abs(float(r['step'])))} bn a year"
    out = [
        f"{r['name']}: {model_text(model, int(r['first']), t0)}.",
        f"Forecast {t1}: USD {_bn(end)} bn against USD {_bn(now)} bn in {t0} "
        f"({_signed(growth)} % a year vs 0 for no change{step}), USD {_bn(abs(diff))} bn "
        f"{where} no change; the {r['level']} % interval (USD {_bn(lo)}\u2013{_bn(hi)} bn) "
        f"{_interval_vs(now, lo, hi)}.",
    ]
    m = float(r["momentum_pct"])
    if not math.isnan(m):
        out.append(
            f"Momentum: {_signed(m)} % a year in {r['momentum_from']}\u2013{t0}; share of "
            f"exports {100 * float(r['share_then']):.1f} % \u2192 "
            f"{100 * float(r['share_now']):.1f} %."
        )
    weo = float(r["weo_pct"])
    if not math.isnan(weo):
        use = (
            "an input of this model" if uses_demand_outlook(model) else "this model does not use it"
        )
        out.append(
            f"Demand outlook: the IMF WEO projects real GDP growth of {_signed(weo)} % a year "
            f"in {t0 + 1}\u2013{t1} ({use})."
        )
    return " ".join(out)


_AS_OF_TEXT = {
    "fall_of_origin": "the fall (October) WEO of the origin year",
    "spring_after_origin": "the spring (April) WEO of the year after the origin",
}


def forecast_method(meta: Mapping[str, object]) -> list[str]:
    """The appendix's method notes on the partner forecasts and their information set.

    Computed from the bundle's ``report.json`` (config, backtest period, selected model, live
    WEO vintage); keys an older bundle lacks are left out of the text.
    """
    config = meta.get("config") or {}
    forecast = config.get("forecast", {}) if isinstance(config, Mapping) else {}
    models = ", ".join(str(m) for m in forecast.get("models", [])) or "the configured models"
    first, last = (meta.get("backtest_period") or [None, None])[:2]
    when = f"at every origin {first}\u2013{last}" if first is not None else "at every origin"
    notes = [
        f"Candidates: {models}, and their equal-weight mean (Ensemble) when there are two or "
        f"more. A rolling-origin backtest scores them {when}: the model used at an origin is "
        "chosen, and its conformal intervals calibrated, from errors on years up to that origin "
        "only; the live forecast uses the same rule over the whole backtest "
        f"(this run: {meta.get('selected_model', 'see the accuracy section')}).",
        "Information set: a forecast made at origin T uses trade data up to T only, and the "
        "partners modelled on their own are chosen with data up to T (the others are summed "
        "as one series at T).",
    ]
    rule = str(forecast.get("weo_as_of", "fall_of_origin"))
    live = meta.get("weo_vintage_live")
    weo = (
        f"IMF World Economic Outlook forecasts enter only as published: at origin T the newest "
        f"vintage up to {_AS_OF_TEXT.get(rule, rule)}"
    )
    weo += f"; the live outlook uses {live}." if live else "."
    if forecast.get("demand_model"):
        weo += (
            " The demand model (a pooled regression of each partner's share on that outlook, "
            "momentum and market share, times a forecast of total exports) is one of the "
            "candidates."
        )
    else:
        weo += (
            " The default candidates are time-series models and use no WEO data; the outlook "
            "feeds the partner GDP growth column of the opportunities."
        )
    return [*notes, weo]
