"""Report charts: matplotlib figures (Agg, no pyplot) returned as base64 PNG data URIs.

Each chart function is memoised (:func:`memoised`, also the FTA track record's chart in
:mod:`reports.fta_content`): the key is the sha256 of the function's name, its exact arguments
(pickled: frames with their values, dtypes and index), this module's and the function's
module's source and matplotlib's version, so a hit is the PNG the same call would render again. The
memo lives in this process (a report rebuilt from the same bundle, the tests) and, when
:func:`use_cache_dir` names a folder (the run's cache, ``flows/report.py``), on disk: an
identical rerun's report then renders no chart (about 1.2 s of the warm run, issue 16).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "bar_chart", "fan_chart", "memoised", "new_figure", "partner_panels", "png_data_uri",
    "use_cache_dir",
]  # fmt: skip

_BLUE = "#1f4e79"
_ORANGE = "#c55a11"
_GREY = "#595959"
_DPI = 150
_MEMO: OrderedDict[str, str] = OrderedDict()
_MEMO_SIZE = 64  # charts kept in this process (a report has at most five)
_CACHE_DIR: list[Path] = []  # the disk folder of use_cache_dir, if any
_DISK_FILES = 100  # charts kept on disk (about 60 kB each): twenty reports' worth
F = TypeVar("F", bound=Callable[..., str])


@functools.cache
def _code_version(module: str) -> str:
    """This module's source, the chart function's own module's source and matplotlib's version."""
    import sys
    from importlib.metadata import version

    own = Path(__file__).read_bytes()
    theirs = Path(sys.modules[module].__file__ or __file__).read_bytes()
    # the installed version, without importing matplotlib (0.3 s) for a chart in the memo
    return hashlib.sha256(own + theirs + version("matplotlib").encode()).hexdigest()[:16]


@contextlib.contextmanager
def use_cache_dir(folder: Path | None) -> Iterator[None]:
    """Keep rendered charts in ``folder`` too (None: this process only) while inside."""
    if folder is None:
        yield
        return
    _CACHE_DIR.append(Path(folder))
    try:
        yield
    finally:
        _CACHE_DIR.pop()


def _disk_get(key: str) -> str | None:
    if not _CACHE_DIR:
        return None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = (_CACHE_DIR[-1] / f"{key}.txt").read_text("ascii")
        if text.startswith("data:image/png;base64,"):  # a whole file (written by rename)
            return text
    return None


def _disk_put(key: str, uri: str) -> None:
    if not _CACHE_DIR:
        return
    from exportcast.flows.io import atomic_write  # temp file, then rename

    with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
        folder = _CACHE_DIR[-1]
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{key}.txt", lambda p: p.write_text(uri, "ascii"))
        kept = sorted(folder.glob("*.txt"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in kept[_DISK_FILES:]:  # the oldest beyond the limit
            old.unlink(missing_ok=True)


def _canonical(arg: Any) -> Any:
    """A dict as its sorted items, for the memo's key.

    A mapping built in another order (from a set, whose order follows the process's
    string-hash seed) is the same argument.
    """
    return ("dict", sorted(arg.items())) if isinstance(arg, dict) else arg


def memoised(func: F) -> F:
    """Return the PNG of an earlier identical call (same arguments, code and matplotlib)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        try:
            canonical = [_canonical(a) for a in args], sorted(kwargs.items())
            blob = pickle.dumps((func.__name__, canonical), protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError):
            return func(*args, **kwargs)
        key = hashlib.sha256(blob + _code_version(func.__module__).encode()).hexdigest()
        uri = _MEMO.get(key) or _disk_get(key)
        if uri is None:
            uri = func(*args, **kwargs)
            _disk_put(key, uri)
        _MEMO[key] = uri
        _MEMO.move_to_end(key)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
        return uri

    return wrapper  # type: ignore[return-value]


def new_figure(**kwargs: Any) -> Figure:
    """A matplotlib ``Figure``, matplotlib imported only now that a chart is drawn.

    A report whose charts are all in the memo never imports matplotlib (0.4 s of an identical
    rerun).
    """
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def png_data_uri(fig: Figure) -> str:
    """Render a figure to a ``data:image/png;base64,...`` URI.

    Args:
        fig: The figure.

    Returns:
        The data URI.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(ax, title: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=10, color="#222222")
    ax.set_ylabel(ylabel, fontsize=8, color=_GREY)
    ax.tick_params(labelsize=8, colors=_GREY)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)


def _year_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))


@memoised
def fan_chart(
    conc: pd.DataFrame,
    column: str,
    *,
    levels: Sequence[int],
    title: str,
    ylabel: str,
    scale: float = 1.0,
    threshold: float | None = None,
) -> str:
    """History line with the central forecast and its interval bands.

    Args:
        conc: ``concentration.csv`` (``year, kind`` and the column with its bands).
        column: Index column, e.g. ``dependence_share``.
        levels: Interval levels, widest band drawn lightest.
        title: Chart title.
        ylabel: Axis label.
        scale: Multiplier for display (100 for percentages).
        threshold: Optional horizontal reference line (unscaled).

    Returns:
        The chart as a PNG data URI.
    """
    hist = conc[conc["kind"] == "history"].sort_values("year")
    fc = conc[conc["kind"] == "forecast"].sort_values("year")
    fig = new_figure(figsize=(7.2, 2.5))
    ax = fig.add_subplot()
    ax.plot(hist["year"], hist[column] * scale, color=_BLUE, linewidth=1.8, label="observed")
    # join the forecast to the last observed year so the fan starts where history ends
    last = hist.iloc[[-1]]
    for i, level in enumerate(sorted(levels, reverse=True)):
        lo = pd.concat([last[column], fc[f"{column}_lo_{level}"]]).to_numpy() * scale
        hi = pd.concat([last[column], fc[f"{column}_hi_{level}"]]).to_numpy() * scale
        years = np.concatenate([last["year"].to_numpy(), fc["year"].to_numpy()])
        ax.fill_between(
            years, lo, hi, color=_ORANGE, alpha=0.18 + 0.17 * i, linewidth=0, label=f"{level} %"
        )
    years = np.concatenate([last["year"].to_numpy(), fc["year"].to_numpy()])
    central = np.concatenate([last[column].to_numpy(), fc[column].to_numpy()]) * scale
    ax.plot(years, central, color=_ORANGE, linewidth=1.8, linestyle="--", label="forecast")
    if threshold is not None:
        ax.axhline(threshold * scale, color=_GREY, linewidth=0.8, linestyle=":")
    _style(ax, title, ylabel)
    _year_axis(ax)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return png_data_uri(fig)


@memoised
def partner_panels(
    history: pd.DataFrame,
    forecasts: pd.DataFrame,
    partners: Sequence[str],
    names: dict[str, str],
    *,
    levels: Sequence[int],
) -> str:
    """Small multiples: exports to each partner, observed and forecast with bands (USD bn).

    Args:
        history: ``partner, year, export_usd``.
        forecasts: ``partner, year, mean, lo_<level>, hi_<level>``.
        partners: Partner codes, one panel each.
        names: Display names by code.
        levels: Interval levels.

    Returns:
        The chart as a PNG data URI.
    """
    n = max(len(partners), 1)
    ncols = 3
    nrows = int(np.ceil(n / ncols))
    fig = new_figure(figsize=(7.2, 2.0 * nrows))
    for k, code in enumerate(partners):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        h = history[history["partner"] == code].sort_values("year")
        f = forecasts[forecasts["partner"] == code].sort_values("year")
        ax.plot(h["year"], h["export_usd"] / 1e9, color=_BLUE, linewidth=1.4)
        for i, level in enumerate(sorted(levels, reverse=True)):
            ax.fill_between(
                f["year"],
                f[f"lo_{level}"] / 1e9,
                f[f"hi_{level}"] / 1e9,
                color=_ORANGE,
                alpha=0.18 + 0.17 * i,
                linewidth=0,
            )
        ax.plot(f["year"], f["mean"] / 1e9, color=_ORANGE, linewidth=1.4, linestyle="--")
        _style(ax, names.get(code, code), "USD bn" if k % ncols == 0 else "")
        _year_axis(ax)
    fig.tight_layout()
    return png_data_uri(fig)


@memoised
def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str) -> str:
    """Horizontal bars, first label on top; negative bars blue, positive orange.

    Args:
        labels: Bar labels.
        values: Bar values.
        title: Chart title.
        xlabel: Axis label.

    Returns:
        The chart as a PNG data URI.
    """
    fig = new_figure(figsize=(7.2, 0.24 * max(len(labels), 3) + 0.7))
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    vals = np.asarray(values, dtype=float)
    ax.barh(y, vals, color=[_BLUE if v < 0 else _ORANGE for v in vals])
    ax.set_yticks(y, labels=list(labels))
    ax.axvline(0, color=_GREY, linewidth=0.8)
    _style(ax, title, "")
    ax.set_xlabel(xlabel, fontsize=8, color=_GREY)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.grid(axis="y", visible=False)
    return png_data_uri(fig)
