"""Gravity-style PPML: FTA effects on export levels, with cluster-robust intervals.

Poisson pseudo-maximum likelihood (Santos Silva & Tenreyro 2006) is fitted with statsmodels
``GLM(family=Poisson())`` on a reporter-partner-year panel. The dependent variable is the
export level in USD, zeros included. Fixed effects enter as dummies. Standard errors are
clustered by partner (or by pair). The FTA effect is reported as a coefficient ``b`` and as
``fta_effect_pct = 100 * (exp(b) - 1)``, each with its 95 % interval.

With partner fixed effects, any regressor that is constant within every partner (log
distance, contiguity) is absorbed. It is dropped from the design and listed in ``absorbed``.
Groups whose dependent variable is zero in every row have no finite fixed effect, so they
are dropped and counted in ``n_dropped``, as ``ppmlhdfe`` does.

This is an ex post, descriptive estimate. Its FTA dummy uses realised entry dates, and on a
single reporter it identifies the effect only from partners whose FTA status changes. The
credible design is structural gravity on many reporters, with pair and exporter-year /
importer-year effects. That design needs far more dummies than a dense GLM can hold;
:func:`fit_ppml` takes them through ``effects`` when the panel is small enough.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["PPMLResult", "fit_ppml", "gravity_design"]


@dataclass(frozen=True)
class PPMLResult:
    """What a PPML fit tells about the FTA dummy (and the rest of the model).

    Attributes:
        fta_coef: Coefficient ``b`` of the FTA dummy (log points).
        fta_se: Its cluster-robust standard error.
        fta_ci: ``(low, high)`` confidence interval for ``b``.
        fta_effect_pct: ``100 * (exp(b) - 1)``, the percent change in exports with an FTA.
        fta_effect_ci: The interval for ``fta_effect_pct``, ``100 * (exp(ci) - 1)``.
        params: All coefficients (fixed effects included).
        bse: Their cluster-robust standard errors.
        n_obs: Rows used.
        n_clusters: Number of clusters.
        n_dropped: Rows dropped because their group's exports were all zero.
        absorbed: Regressors dropped because the fixed effects absorb them.
        level: Confidence level of the intervals.
        result: The statsmodels results object.
    """

    fta_coef: float
    fta_se: float
    fta_ci: tuple[float, float]
    fta_effect_pct: float
    fta_effect_ci: tuple[float, float]
    params: pd.Series
    bse: pd.Series
    n_obs: int
    n_clusters: int
    n_dropped: int
    absorbed: tuple[str, ...]
    level: float
    result: object = field(repr=False)


@contextlib.contextmanager
def _cycles_freed_early(threshold: int = 20) -> Iterator[None]:
    """Run the block with a low generation-0 threshold of Python's cycle collector.

    statsmodels' IRLS leaves one reference cycle per iteration (its ``Bunch`` result is its
    own ``__dict__`` and holds the step's model with its weighted design copy: 12 MB on
    Korea's partner panel). The collector counts objects, not bytes, so about 30 of them
    piled up before it ran: 420 MB at the peak of one scenario's fit (tracemalloc, Korea
    2021), 160 MB with this threshold, in the same time; the numbers are untouched (the
    same arithmetic). The threshold is process-wide: restored on the way out.
    """
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _effect_columns(frame: pd.DataFrame, effects: Sequence[Sequence[str]]) -> list[pd.Series]:
    """One label Series per fixed effect (several columns are joined, e.g. exporter-year)."""
    out = []
    for cols in effects:
        cols = [cols] if isinstance(cols, str) else list(cols)
        label = frame[cols[0]].astype(str)
        for c in cols[1:]:
            label = label + "|" + frame[c].astype(str)
        out.append(label.rename("*".join(cols)))
    return out


def _drop_all_zero(frame: pd.DataFrame, y: str, labels: list[pd.Series]) -> pd.Series:
    """Mask of rows to keep: repeatedly drop fixed-effect groups whose exports sum to zero."""
    keep = pd.Series(True, index=frame.index)
    while True:
        before = int(keep.sum())
        for label in labels:
            sums = frame.loc[keep, y].groupby(label[keep]).transform("sum")
            keep.loc[sums.index] &= sums > 0
        if int(keep.sum()) == before:
            return keep


def _independent_columns(X: pd.DataFrame, tol: float = 1e-9) -> set[str]:
    """Columns not spanned by the columns before them (QR without pivoting, in order)."""
    values = X.to_numpy(dtype="float64")
    r = np.linalg.qr(values, mode="r")
    norms = np.linalg.norm(values, axis=0)
    ok = np.abs(np.diag(r)) > tol * np.where(norms > 0, norms, 1.0)
    return {c for c, keep in zip(X.columns, ok, strict=True) if keep}


def gravity_design(
    frame: pd.DataFrame,
    *,
    dependent: str = "export_usd",
    regressors: Sequence[str] = ("log_partner_gdp", "fta_in_force"),
    effects: Sequence[str | Sequence[str]] = ("partner", "year"),
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, tuple[str, ...], int]:
    """Dependent variable and dense design matrix of a PPML gravity model.

    Args:
        frame: Panel with the dependent variable, regressors and fixed-effect columns.
        dependent: Column with the export level (zeros allowed, no negatives).
        regressors: Explanatory columns.
        effects: Fixed effects, each a column or a list of columns that are crossed (e.g.
            ``["reporter", "year"]`` for exporter-year effects).

    Returns:
        ``(y, X, rows, absorbed, n_dropped)``: the dependent variable, the design (constant,
        the regressors that survive, then the fixed-effect dummies with the first level of
        each dropped, and any dummy spanned by earlier effects dropped, as happens with
        crossed exporter-year and importer-year effects), the rows used, the regressors
        absorbed by the fixed effects, and the number of rows dropped for all-zero groups or
        missing values.

    Raises:
        ValueError: Missing columns or negative values of the dependent variable.
    """
    effect_cols = [c for e in effects for c in ([e] if isinstance(e, str) else e)]
    missing = [c for c in [dependent, *regressors, *effect_cols] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing}")
    data = frame[list(dict.fromkeys([dependent, *regressors, *effect_cols]))]
    complete = data.notna().all(axis=1) & np.isfinite(
        data[[dependent, *regressors]].astype("float64")
    ).all(axis=1)
    data = data.loc[complete]
    if (data[dependent] < 0).any():
        raise ValueError(f"{dependent} has negative values; PPML needs levels >= 0")
    labels = _effect_columns(data, effects)
    keep = _drop_all_zero(data, dependent, labels) if labels else data[dependent].notna()
    rows = data.loc[keep]
    labels = [lab.loc[keep] for lab in labels]
    n_dropped = len(frame) - len(rows)

    dummies = [
        pd.get_dummies(lab, prefix=lab.name, prefix_sep="=", drop_first=True, dtype="float64")
        for lab in labels
    ]
    X = pd.concat(
        [
            pd.DataFrame({"const": 1.0}, index=rows.index),
            rows[list(regressors)].astype("float64"),
            *dummies,
        ],
        axis=1,
    )
    # Fixed effects first: a regressor they span is "absorbed", never a dummy in its place.
    effect_names = [c for d in dummies for c in d.columns]
    independent = _independent_columns(X[["const", *effect_names, *regressors]])
    absorbed = tuple(r for r in regressors if r not in independent)
    X = X[[c for c in X.columns if c in independent]]
    return rows[dependent].astype("float64"), X, rows, absorbed, n_dropped


def fit_ppml(
    frame: pd.DataFrame,
    *,
    dependent: str = "export_usd",
    regressors: Sequence[str] = ("log_partner_gdp", "log_distance", "fta_in_force"),
    fta_column: str = "fta_in_force",
    partner_effects: bool = True,
    year_effects: bool = True,
    extra_effects: Sequence[str | Sequence[str]] = (),
    cluster: str | Sequence[str] = "partner",
    level: float = 0.95,
) -> PPMLResult:
    """Fit a PPML gravity model by statsmodels GLM Poisson, with cluster-robust SEs.

    Args:
        frame: Reporter-partner-year panel, e.g. ``features.build.build_gravity_frame``.
        dependent: Export level column (USD, zeros allowed).
        regressors: Explanatory columns; must include ``fta_column``. Columns the fixed
            effects absorb (log distance under partner effects) are dropped and listed.
        fta_column: The FTA dummy whose effect is reported.
        partner_effects: Add partner fixed effects.
        year_effects: Add year fixed effects.
        extra_effects: More fixed effects, each a column or crossed columns
            (``[["reporter", "year"], ["partner", "year"], ["reporter", "partner"]]`` for
            structural gravity on a multi-reporter panel).
        cluster: Column(s) whose combination defines the clusters of the robust SEs.
        level: Confidence level of the intervals.

    Returns:
        A :class:`PPMLResult`.

    Raises:
        ValueError: ``fta_column`` not among the regressors or absorbed by the fixed
            effects, missing columns, or negative exports.
    """
    if fta_column not in regressors:
        raise ValueError(f"fta_column {fta_column!r} must be one of the regressors")
    effects: list[str | Sequence[str]] = []
    if partner_effects:
        effects.append("partner")
    if year_effects:
        effects.append("year")
    effects.extend(extra_effects)
    cluster_cols = [cluster] if isinstance(cluster, str) else list(cluster)
    frame = frame.reset_index(drop=True)  # rows are matched back to it by index
    y, X, rows, absorbed, n_dropped = gravity_design(
        frame, dependent=dependent, regressors=regressors, effects=effects
    )
    if fta_column in absorbed:
        raise ValueError(f"{fta_column!r} is absorbed by the fixed effects; it cannot be estimated")
    groups = pd.factorize(_effect_columns(frame.loc[rows.index], [cluster_cols])[0])[0]
    import statsmodels.api as sm  # heavy: imported when fitting

    with _cycles_freed_early():
        result = sm.GLM(y, X, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": groups}
        )
    b = float(result.params[fta_column])
    se = float(result.bse[fta_column])
    from scipy import stats  # heavy (0.8 s): imported when fitting

    z = stats.norm.ppf(0.5 + level / 2)
    lo, hi = b - z * se, b + z * se
    return PPMLResult(
        fta_coef=b,
        fta_se=se,
        fta_ci=(lo, hi),
        fta_effect_pct=100 * float(np.expm1(b)),
        fta_effect_ci=(100 * float(np.expm1(lo)), 100 * float(np.expm1(hi))),
        params=result.params,
        bse=result.bse,
        n_obs=int(result.nobs),
        n_clusters=int(groups.max() + 1),
        n_dropped=n_dropped,
        absorbed=absorbed,
        level=level,
        result=result,
    )
