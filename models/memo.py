"""In-process reuse of identical computations (same inputs, same code: the same result).

Two places of the default run computed the same thing twice:

* the backtest of an ex ante scenario's baseline (e.g. from 2021) refits every candidate at
  every backtest origin, although the histories known at an origin ``T <= 2018`` are the
  same as in the run's own backtest: :func:`forecasts_memo` keys each origin's forecasts by
  the exact bytes of the histories and the models' settings;
* the world structural gravity was fitted per scenario and again by the FTA track record on
  the same years: :func:`world_fit_memo` keys a fit by the identity of the snapshot tables
  (held weakly) and the fit's arguments. The track record runs in a second process
  (``flows/ahead.py``): :func:`world_fits` hands its fits over and :func:`prime_world_fits`
  puts them under the run's own (equal) tables.

A hit returns a copy of what the first computation returned, so the outputs are identical
to the last digit; ``tests/flows/test_default_run.py`` runs the default pipeline with and
without the memos and compares every CSV. ``EXPORTCAST_NO_MEMO=1`` (or :func:`disabled`)
turns them off: the reference path.

Under the in-process forecasts memo a pluggable store (:func:`use_store`, anything with
``get(key)`` and ``put(key, frame)``, :class:`ForecastStore`) can keep the per-origin forecasts
across processes: the pipeline installs the disk store of ``flows/memo_store.py`` in the run's
cache folder, so a later run with the same histories and models reuses them. This module does
no file I/O itself.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "ForecastStore",
    "disabled",
    "enabled",
    "forecasts_memo",
    "frame_digest",
    "model_spec",
    "prime_world_fits",
    "stats",
    "use_store",
    "world_fit_memo",
    "world_fits",
]

T = TypeVar("T")
_LOCK = threading.Lock()
_OFF = threading.local()
_MAX_FORECASTS = 64  # backtest origins of two engine runs, with room
_MAX_FITS = 32
_FORECASTS: OrderedDict[str, pd.DataFrame] = OrderedDict()
_FITS: OrderedDict[tuple, tuple[list[weakref.ref], Any]] = OrderedDict()
_STATS = {
    "forecast_hits": 0,  # from memory or from the store
    "forecast_store_hits": 0,  # of which from the store
    "forecast_misses": 0,
    "fit_hits": 0,
    "fit_misses": 0,
}
_LOG = logging.getLogger(__name__)


class ForecastStore(Protocol):
    """A persistent layer under the forecasts memo (keys are :func:`forecasts_memo`'s)."""

    def get(self, key: str) -> pd.DataFrame | None:
        """The frame stored under ``key``, None when there is none (or it cannot be read)."""

    def put(self, key: str, frame: pd.DataFrame) -> None:
        """Keep ``frame`` under ``key`` (best effort: a failure must not raise)."""


_STORE: list[ForecastStore | None] = [None]


@contextlib.contextmanager
def use_store(store: ForecastStore | None) -> Iterator[None]:
    """Use ``store`` under the forecasts memo inside the block (None: memory only).

    One store per process (the flow's tasks may run in other threads); the previous store is
    restored at the end.
    """
    with _LOCK:
        before, _STORE[0] = _STORE[0], store
    try:
        yield
    finally:
        with _LOCK:
            _STORE[0] = before


def enabled() -> bool:
    """False under ``EXPORTCAST_NO_MEMO=1`` or inside :func:`disabled`."""
    return os.environ.get("EXPORTCAST_NO_MEMO", "") not in ("1", "true") and not getattr(
        _OFF, "off", False
    )


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Compute everything afresh in this thread (the reference path)."""
    before = getattr(_OFF, "off", False)
    _OFF.off = True
    try:
        yield
    finally:
        _OFF.off = before


def stats() -> dict[str, int]:
    """Hits and misses so far in this process (for progress lines and tests)."""
    return dict(_STATS)


def clear() -> None:
    """Forget every memo (tests)."""
    with _LOCK:
        _FORECASTS.clear()
        _FITS.clear()
        for k in _STATS:
            _STATS[k] = 0


def model_spec(model: object) -> str:
    """The class and settings of an unfitted model, e.g. ``models.timeseries.Theta{...}``."""
    settings = sorted((k, repr(v)) for k, v in vars(model).items())
    return f"{type(model).__module__}.{type(model).__qualname__}{settings}"


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of the column names, dtypes (categories too) and exact values of a frame."""
    h = hashlib.sha256()
    for name in frame.columns:
        col = frame[name]
        h.update(f"{name}:{col.dtype}".encode())
        if isinstance(col.dtype, pd.CategoricalDtype):  # the categories carry to the result
            cats = col.dtype.categories
            h.update(f"{col.dtype.ordered}:{cats.dtype}:".encode())
            h.update("\x1f".join(map(str, cats)).encode())
        values = col.to_numpy()
        if values.dtype == object:
            h.update("\x1f".join(map(str, values)).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def forecasts_memo(
    history: pd.DataFrame,
    models: Sequence[object],
    fallback: object | None,
    h: int,
    compute: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    """``compute()`` (forecasts of ``models`` from ``history``), reused on identical input.

    Args:
        history: The exact input of the forecasts (``unique_id, ds, y`` as known at an origin).
        models: The candidate models (unfitted; their settings are part of the key).
        fallback: The fallback model (part of the key).
        h: Horizon.
        compute: Makes the forecasts on a miss.

    Returns:
        A copy of the forecasts. With a store installed (:func:`use_store`), an origin missing
        from memory is looked up there before computing, and a computed one is stored.
    """
    if not enabled():
        return compute()
    key = "|".join(
        [frame_digest(history), str(int(h)), *map(model_spec, models),
         "none" if fallback is None else model_spec(fallback)]
    )  # fmt: skip
    with _LOCK:
        hit = _FORECASTS.get(key)
        if hit is not None:
            _FORECASTS.move_to_end(key)
            _STATS["forecast_hits"] += 1
            return hit.copy()
        store = _STORE[0]
    out = _store_get(store, key)
    from_store = out is not None
    if out is None:
        out = compute()
        _store_put(store, key, out)
    with _LOCK:
        if from_store:
            _STATS["forecast_hits"] += 1
            _STATS["forecast_store_hits"] += 1
        else:
            _STATS["forecast_misses"] += 1
        _FORECASTS[key] = out.copy()
        while len(_FORECASTS) > _MAX_FORECASTS:
            _FORECASTS.popitem(last=False)
    return out


def _store_get(store: ForecastStore | None, key: str) -> pd.DataFrame | None:
    if store is None:
        return None
    try:
        return store.get(key)
    except Exception as exc:  # a store must not fail the computation: a miss
        _LOG.warning("forecasts memo store: read failed (%s); computing", exc)
        return None


def _store_put(store: ForecastStore | None, key: str, frame: pd.DataFrame) -> None:
    if store is None:
        return
    try:
        store.put(key, frame)
    except Exception as exc:  # a store must not fail the computation
        _LOG.warning("forecasts memo store: write failed (%s)", exc)


def _tables_key(tables: Sequence[pd.DataFrame]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The memo key's part for these very table objects: their identities and lengths."""
    return tuple(id(t) for t in tables), tuple(len(t) for t in tables)


def _same_tables(refs: Sequence[weakref.ref], tables: Sequence[pd.DataFrame]) -> bool:
    """The weakly held tables of an entry are still these objects (an id may be reused)."""
    return all(ref() is t for ref, t in zip(refs, tables, strict=True))


def _keep_fit(tables: Sequence[pd.DataFrame], args: tuple, fit: Any) -> None:
    """Store a copy of ``fit`` under these tables and arguments (caller holds ``_LOCK``)."""
    _FITS[(*_tables_key(tables), args)] = ([weakref.ref(t) for t in tables], copy.deepcopy(fit))
    while len(_FITS) > _MAX_FITS:
        _FITS.popitem(last=False)


def world_fit_memo(tables: Sequence[pd.DataFrame], args: tuple, compute: Callable[[], T]) -> T:
    """``compute()`` for these very table objects and arguments, computed once per process.

    The tables are keyed by identity and held weakly (a new snapshot is a new key); the
    result is deep-copied out, so a caller cannot change what the next one gets.
    """
    if not enabled():
        return compute()
    key = (*_tables_key(tables), args)
    with _LOCK:
        entry = _FITS.get(key)
        if entry is not None and _same_tables(entry[0], tables):
            _FITS.move_to_end(key)
            _STATS["fit_hits"] += 1
            return copy.deepcopy(entry[1])
    out = compute()
    with _LOCK:
        _STATS["fit_misses"] += 1
        _keep_fit(tables, args, out)
    return out


def world_fits(tables: Sequence[pd.DataFrame]) -> list[tuple[tuple, Any]]:
    """``(args, fit)`` of every fit memoised on these very tables (to send to another process)."""
    if not enabled():
        return []
    ids = _tables_key(tables)
    with _LOCK:
        return [
            (key[2], copy.deepcopy(fit))
            for key, (refs, fit) in _FITS.items()
            if key[:2] == ids and _same_tables(refs, tables)
        ]


def prime_world_fits(tables: Sequence[pd.DataFrame], fits: Sequence[tuple[tuple, Any]]) -> int:
    """Memoise fits made on equal tables elsewhere (:func:`world_fits`) under these tables.

    The caller vouches that the other process's tables equal these (the same snapshot sent
    to it). Returns how many were added; none when the memos are off.
    """
    if not enabled():
        return 0
    with _LOCK:
        for args, fit in fits:
            _keep_fit(tables, tuple(args), fit)
    return len(fits)
