"""Concentration and dependence indices over partner shares.

All indices use partners with positive exports only: a zero partner changes nothing (so a
partner with no trade does not make a reporter look more diversified).

- ``hhi``: Herfindahl-Hirschman index, sum of squared shares, in [1/n, 1].
- ``hhi_norm``: UNCTAD's normalized form, ``(sqrt(HHI) - sqrt(1/n)) / (1 - sqrt(1/n))``, in
  [0, 1] (0 = equal shares; defined as 1 when there is a single partner). UNCTADstat uses this
  form for its concentration index of exports.
- ``n_effective``: ``1 / HHI``, the number of equal-sized partners with the same HHI.
- ``cr1``, ``cr3``, ``cr5``: shares of the largest 1, 3, 5 partners.
- ``theil``: Theil entropy index ``sum(s * ln(n * s))`` = ``ln(n) - entropy``, in [0, ln n].
- ``share_<ISO3>``: each dependence-set partner's share; ``dependence_share``: their sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "concentration_from_paths",
    "concentration_index",
    "cr_k",
    "hhi",
    "hhi_normalized",
    "partner_shares",
    "theil",
]


def _positive_shares(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    if v.ndim != 1:
        raise ValueError(f"expected a 1-D array of partner values, got shape {v.shape}")
    if np.any(~np.isfinite(v)) or np.any(v < 0):
        raise ValueError("partner values must be finite and non-negative")
    v = v[v > 0]
    if v.size == 0:
        raise ValueError("no partner with positive exports")
    return v / v.sum()


def hhi(values: np.ndarray) -> float:
    """Herfindahl-Hirschman index of partner values (levels or shares; scale-free)."""
    s = _positive_shares(values)
    return float(np.sum(s * s))


def hhi_normalized(values: np.ndarray) -> float:
    """UNCTAD normalized HHI: ``(sqrt(HHI) - sqrt(1/n)) / (1 - sqrt(1/n))``; 1 for one partner."""
    s = _positive_shares(values)
    n = s.size
    if n == 1:
        return 1.0
    root = np.sqrt(np.sum(s * s))
    floor = np.sqrt(1.0 / n)
    return float(np.clip((root - floor) / (1.0 - floor), 0.0, 1.0))


def theil(values: np.ndarray) -> float:
    """Theil entropy index ``sum(s * ln(n s))`` over positive partners, in [0, ln n]."""
    s = _positive_shares(values)
    return float(max(np.sum(s * np.log(s.size * s)), 0.0))


def cr_k(values: np.ndarray, k: int) -> float:
    """Concentration ratio: combined share of the ``k`` largest partners."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    s = np.sort(_positive_shares(values))[::-1]
    return float(s[:k].sum())


def partner_shares(
    panel: pd.DataFrame, *, by: Sequence[str] = ("reporter", "year"), value: str = "export_usd"
) -> pd.DataFrame:
    """Add ``share``: each partner's fraction of the group's total (groups ``by``)."""
    keys = list(by)
    total = panel.groupby(keys, sort=False)[value].transform("sum")
    return panel.assign(share=panel[value] / total)


def _indices_of_group(
    values: np.ndarray, partners: np.ndarray, dependence_set: Sequence[str]
) -> dict[str, float]:
    s = _positive_shares(values)
    positive = np.asarray(values, dtype="float64") > 0
    names = partners[positive]
    h = float(np.sum(s * s))
    n = s.size
    out: dict[str, float] = {
        "n_partners": float(n),
        "hhi": h,
        "hhi_norm": hhi_normalized(s),
        "n_effective": 1.0 / h,
        "cr1": cr_k(s, 1),
        "cr3": cr_k(s, 3),
        "cr5": cr_k(s, 5),
        "theil": float(max(np.sum(s * np.log(n * s)), 0.0)),
    }
    dep = 0.0
    for code in dependence_set:
        share = float(s[names == code].sum())
        out[f"share_{code}"] = share
        dep += share
    out["dependence_share"] = dep
    return out


def concentration_index(
    panel: pd.DataFrame,
    *,
    dependence_set: Sequence[str] = ("CHN", "USA"),
    by: Sequence[str] = ("reporter", "year"),
    value: str = "export_usd",
    partner: str = "partner",
) -> pd.DataFrame:
    """Concentration and dependence indices per group (by default per reporter-year).

    Args:
        panel: Long frame with the ``by`` keys, a partner column and a value column. Partner
            rows must be countries only (no World/aggregate rows).
        dependence_set: Partners whose shares are reported separately and summed.
        by: Grouping keys; add ``path`` to compute indices per sample path.
        value: Value column (levels; shares are computed within each group).
        partner: Partner code column.

    Returns:
        One row per group: the keys, ``n_partners, hhi, hhi_norm, n_effective, cr1, cr3, cr5,
        theil, share_<ISO3>... , dependence_share`` (shares as fractions 0-1).

    Raises:
        ValueError: Missing columns, negative or non-finite values, or a group with no
            positive exports.
    """
    keys = list(by)
    missing = [c for c in [*keys, partner, value] if c not in panel.columns]
    if missing:
        raise ValueError(f"concentration_index: missing column(s) {missing}")
    rows = []
    for key, group in panel.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        try:
            idx = _indices_of_group(
                group[value].to_numpy(), group[partner].to_numpy(), dependence_set
            )
        except ValueError as exc:
            raise ValueError(
                f"concentration_index: group {dict(zip(keys, key, strict=True))}: {exc}"
            ) from None
        rows.append({**dict(zip(keys, key, strict=True)), **idx})
    return pd.DataFrame(rows)


def concentration_from_paths(
    paths: pd.DataFrame,
    *,
    dependence_set: Sequence[str] = ("CHN", "USA"),
    rest: str | None = None,
    rest_shares: Sequence[float] = (),
    n_partners: int | None = None,
) -> pd.DataFrame:
    """Concentration indices for every sample path and year (vectorised).

    Args:
        paths: ``path, year, partner, export_usd`` (one row per partner, path and year).
        dependence_set: Partners reported separately and summed.
        rest: Name of an aggregate partner standing for many small partners, if any. Its
            members keep their relative sizes ``rest_shares``, so with ``S`` the aggregate's
            share a member ``j`` has share ``S * r_j``: the HHI counts ``S**2 * sum(r**2)``,
            the Theil index ``S * (ln(n S) + sum(r ln r))`` and the CR-k ratios rank the
            members with the other partners.
        rest_shares: The members' shares within ``rest`` (summing to 1); empty = ``rest`` is
            one partner.
        n_partners: Partner count for ``hhi_norm`` and ``theil`` (members of ``rest``
            included); the number of columns when None.

    Returns:
        ``path, year, hhi, hhi_norm, n_effective, cr1, cr3, cr5, theil, share_<ISO3>...,
        dependence_share``.

    Raises:
        ValueError: Negative or non-finite path values, or ``rest_shares`` that are not
            positive shares summing to 1.
    """
    wide = paths.pivot_table(
        index=["path", "year"], columns="partner", values="export_usd", aggfunc="sum"
    ).fillna(0.0)
    values = wide.to_numpy(dtype="float64")
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError("concentration_from_paths: path values must be finite and non-negative")
    members = np.asarray(rest_shares, dtype="float64")
    if members.size and (np.any(members <= 0) or not np.isclose(members.sum(), 1.0)):
        raise ValueError("concentration_from_paths: rest_shares must be positive and sum to 1")
    total = values.sum(axis=1, keepdims=True)
    shares = values / total
    cols = list(wide.columns)
    n = n_partners if n_partners is not None else len(cols)
    if rest is not None and rest in cols and members.size:
        j = cols.index(rest)
        agg = shares[:, j : j + 1]
        named = np.delete(shares, j, axis=1)
        # the members' individual shares (S * r_j) stand in for the aggregate's column
        top = agg * np.sort(members)[::-1][None, :5]
        ranked = np.concatenate([named, top], axis=1)
        hhi = (named**2).sum(axis=1) + agg[:, 0] ** 2 * np.sum(members**2)
        with np.errstate(divide="ignore", invalid="ignore"):
            rest_theil = agg[:, 0] * (np.log(n * agg[:, 0]) + np.sum(members * np.log(members)))
        theil_rest = np.where(agg[:, 0] > 0, rest_theil, 0.0)
    else:
        named, ranked, theil_rest = shares, shares, 0.0
        hhi = (shares**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(named > 0, named * np.log(n * named), 0.0)
    theil_ = np.maximum(terms.sum(axis=1) + theil_rest, 0.0)
    ordered = -np.sort(-ranked, axis=1)
    floor = np.sqrt(1.0 / n) if n > 1 else 1.0
    norm = np.clip((np.sqrt(hhi) - floor) / (1 - floor), 0, 1) if n > 1 else np.ones_like(hhi)
    out = wide.index.to_frame(index=False).assign(
        hhi=hhi,
        hhi_norm=norm,
        n_effective=1.0 / hhi,
        cr1=ordered[:, :1].sum(axis=1),
        cr3=ordered[:, :3].sum(axis=1),
        cr5=ordered[:, :5].sum(axis=1),
        theil=theil_,
    )
    dep = np.zeros(len(out))
    for code in dependence_set:
        s = shares[:, cols.index(code)] if code in cols else np.zeros(len(out))
        out[f"share_{code}"] = s
        dep = dep + s
    out["dependence_share"] = dep
    return out
