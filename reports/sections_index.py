"""The report on the dependence index: its table by year and the index forecast's track record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exportcast.models.index_backtest import ALL, summarize_index_backtest
from exportcast.reports.bundle import ReportBundle
from exportcast.reports.formatting import (
    DASH,
    Table,
    dependence_label,
    fmt_pct,
    fmt_pct_range,
    fmt_range,
    num,
    partner_names,
    report_years,
    signed,
)

__all__ = ["INDEX_TIE", "index_backtest_section", "index_summary", "index_table"]


@dataclass(frozen=True)
class _IndexTrack:
    """The index backtest in numbers: what the sentences and the table say."""

    summary: pd.DataFrame  # summarize_index_backtest output
    first: int  # first and last origin scored
    last: int
    steps: str  # the horizons scored: "1–5" (or "1")
    horizons: str  # "1–5 years ahead"
    mae: float  # share points, over every horizon
    mae_no_change: float
    bias: float
    n: int


def _index_track(bundle: ReportBundle) -> _IndexTrack | None:
    """The index backtest of the bundle, or None (older bundle, nothing scored)."""
    frame = bundle.index_backtest
    if frame.empty:
        return None
    summary = summarize_index_backtest(frame)
    if summary.empty:
        return None
    values = frame[["forecast", "actual", "no_change"]].apply(pd.to_numeric, errors="coerce")
    scored = frame[np.isfinite(values.to_numpy(dtype=float)).all(axis=1)]
    cutoffs = pd.to_numeric(scored["cutoff"]).astype(int)
    steps = [int(h) for h in summary["h"] if h != ALL]
    h0, h1 = min(steps), max(steps)
    steps_text = f"{h0}{DASH}{h1}" if h0 != h1 else str(h0)
    ahead = f"{steps_text} year{'s' * (h0 != 1 or h1 != 1)} ahead"
    overall = summary.set_index("h").loc[ALL]
    return _IndexTrack(
        summary=summary,
        first=int(cutoffs.min()),
        last=int(cutoffs.max()),
        steps=steps_text,
        horizons=ahead,
        mae=float(overall["mae"]),
        mae_no_change=float(overall["mae_no_change"]),
        bias=float(overall["bias"]),
        n=int(overall["n"]),
    )


def _origins(track: _IndexTrack) -> str:
    if track.first == track.last:
        return f"origin {track.first}"
    return f"origins {track.first}{DASH}{track.last}"


def _points(x: float) -> str:
    # index errors are small: two decimals keep forecast and no change apart
    return num(x, 2)


# Index errors closer than this (relative to no change) are a tie: the origins overlap, so
# about ten independent windows cannot tell 2-3 % apart (BENCHMARKS.md: ~0.03 relMASE).
INDEX_TIE = 0.05


def _versus(x: float, y: float) -> str:
    """``better``, ``worse`` or ``tie`` (within :data:`INDEX_TIE`) of error x against y."""
    if y <= 0:
        return "tie" if x <= 0 else "worse"
    rel = (y - x) / y
    return "better" if rel >= INDEX_TIE else "worse" if rel <= -INDEX_TIE else "tie"


def index_summary(bundle: ReportBundle, dep: str) -> list[str]:
    """One summary sentence on the index forecast's track record (none in older bundles)."""
    track = _index_track(bundle)
    if track is None:
        return []
    x, y = round(track.mae, 2), round(track.mae_no_change, 2)
    versus = {
        "better": f"better than assuming no change ({_points(track.mae_no_change)} points)",
        "worse": f"worse than assuming no change ({_points(track.mae_no_change)} points)",
        "tie": f"no better than assuming no change ({_points(track.mae_no_change)} points"
        + ("; too close to tell apart)" if x != y else ")"),
    }[_versus(x, y)]
    return [
        f"Track record of the {dep} share forecast: tested on {_origins(track)}, it missed "
        f"the actual share by {_points(track.mae)} percentage points on average "
        f"({track.horizons}), {versus}."
    ]


def index_backtest_section(bundle: ReportBundle) -> tuple[list[str], Table | None]:
    """The track record of the dependence share forecast: sentences and a table by horizon.

    The share is computed from each backtest origin's partner forecasts (the model chosen
    then from past errors only) and compared with the actual share and with "no change" (the
    share at the origin), in percentage points.

    Args:
        bundle: The report bundle.

    Returns:
        Sentences and the table by years ahead; no sentences and None when the bundle has no
        index backtest (bundles of older runs).
    """
    track = _index_track(bundle)
    if track is None:
        return [], None
    dep = dependence_label(bundle, partner_names(bundle))
    return _track_sentences(track, dep), _track_table(track)


def _track_sentences(track: _IndexTrack, dep: str) -> list[str]:
    """The index backtest in words: the errors, against no change, and the bias."""
    x, y = round(track.mae, 2), round(track.mae_no_change, 2)
    sentences = [
        f"Tested on {_origins(track)}, the {dep} share computed from the forecasts missed the "
        f"actual share by {_points(track.mae)} percentage points on average "
        f"({track.horizons}, {track.n} forecasts); assuming the share stays at its last value "
        f"missed by {_points(track.mae_no_change)} points."
    ]
    if x == y or y <= 0:
        sentences.append("The forecast of the share did not beat simply assuming no change.")
    else:
        rel = 100.0 * abs(x - y) / y
        rel_text = f"{num(rel, 0 if rel >= 1 else 1)} %"
        if _versus(x, y) == "tie":
            n_origins = track.last - track.first + 1
            sentences.append(
                "The forecast of the share did not beat simply assuming no change: the "
                f"difference ({_points(abs(y - x))} points, {rel_text}) is too small to tell "
                f"apart on {n_origins} overlapping origins."
            )
        elif x < y:
            sentences.append(
                f"The forecast of the share beat this no-change benchmark: it missed by "
                f"{_points(y - x)} points ({rel_text}) less."
            )
        else:
            sentences.append(
                "The forecast of the share did not beat simply assuming no change: it missed "
                f"by {_points(x - y)} points ({rel_text}) more."
            )
    bias = round(track.bias, 2)
    if bias == 0:
        sentences.append(
            f"On average the forecast share was neither too high nor too low (forecast minus "
            f"actual {signed(track.bias, 2)} points)."
        )
    else:
        sentences.append(
            f"On average the forecast share was {_points(abs(track.bias))} points too "
            f"{'low' if bias < 0 else 'high'}."
        )
    return sentences


def _track_table(track: _IndexTrack) -> Table:
    """The index backtest by years ahead: errors of the forecast and of no change, bias."""
    rows = [
        [
            track.steps if r["h"] == ALL else str(int(r["h"])),
            _points(r["mae"]),
            _points(r["mae_no_change"]),
            signed(r["bias"], 2),
            str(int(r["n"])),
        ]
        for _, r in track.summary.iterrows()
    ]
    table = Table(
        columns=[
            "Years ahead",
            "Forecast error, points",
            "No-change error, points",
            "Bias, points",
            "Forecasts",
        ],
        rows=rows,
        numeric=[1, 2, 3, 4],
        note="Error: mean absolute difference from the actual share, in percentage points, "
        f"over the origins {track.first}{DASH}{track.last}. Forecast: the share computed from "
        "the partner forecasts of the model chosen at each origin using only the data "
        "available then (\u201cSelected\u201d). No change: the share in the origin year. Bias: "
        "mean of forecast minus actual (negative: too low). All three shares are computed over "
        "the same partners.",
    )
    return table


def index_table(bundle: ReportBundle) -> Table:
    """Dependence share, HHI and effective partners by year (history tail and forecasts).

    Args:
        bundle: The report bundle.

    Returns:
        One row per year from five years before the last history year to the horizon.
    """
    names = partner_names(bundle)
    lv = bundle.levels[0]
    t0, _ = report_years(bundle)
    conc = bundle.concentration[bundle.concentration["year"] > t0 - 5]
    dep = dependence_label(bundle, names)
    rows = []
    for _, r in conc.iterrows():
        fc = r["kind"] == "forecast"

        def band(name: str, r: pd.Series = r, fc: bool = fc) -> str:
            if not fc:
                return ""
            lo, hi = r[f"{name}_lo_{lv}"], r[f"{name}_hi_{lv}"]
            if name == "dependence_share":
                return fmt_pct_range(lo, hi)
            return fmt_range(lo, hi, 3 if name == "hhi" else 1)

        rows.append(
            [
                f"{int(r['year'])}{' forecast' if fc else ''}",
                fmt_pct(r["dependence_share"]),
                band("dependence_share"),
                num(r["hhi"], 3),
                band("hhi"),
                num(r["n_effective"], 1),
                band("n_effective"),
                fmt_pct(r["p_dependence_below"], 0) if fc else "",
            ]
        )
    threshold = fmt_pct(float(bundle.meta["dependence_threshold"]), 0)
    return Table(
        columns=[
            "Year",
            f"{dep} share",
            f"{lv} % interval",
            "HHI",
            f"{lv} % interval",
            "Effective partners",
            f"{lv} % interval",
            f"P(share < {threshold})",
        ],
        rows=rows,
        numeric=[1, 2, 3, 4, 5, 6, 7],
        note=(
            "Forecast years: the index of the partner forecasts; intervals and probabilities "
            "over the joint sample paths of all partners."
        ),
    )
