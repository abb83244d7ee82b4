"""Build and load the embedded data snapshot (``data/snapshot/``).

``build_snapshot`` reads the upstream raw files through the adapters in ``features/sources``
and writes compact, deterministic Parquet tables plus ``MANIFEST`` (per table: sources with
publisher, license, upstream repository and commit, row count, year coverage, sha256). The raw
files are never copied. ``load_snapshot`` verifies every table against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from exportcast.features.errors import ExportcastError
from exportcast.flows.io import atomic_write, read_parquet, sha256_file, write_parquet
from exportcast.flows.sources_meta import SOURCES

if TYPE_CHECKING:  # pandas and the adapters load on first use (`exportcast vintages` needs neither)
    import pandas as pd

    from exportcast.features.sources._common import Loaded

    # table name -> (frame, source folders, what was loaded)
    _Tables = dict[str, tuple[pd.DataFrame, list[str], list[Loaded]]]

__all__ = [
    "MANIFEST_NAME",
    "Snapshot",
    "SnapshotError",
    "build_snapshot",
    "compare_snapshots",
    "load_snapshot",
    "read_manifest",
]

MANIFEST_NAME = "MANIFEST"  # JSON
SCHEMA_VERSION = 1
KOR_YEARS = (1990, 2023)
DOTS_YEARS = (1990, 2020)
INDICATOR_YEARS = (1980, 2030)


class SnapshotError(ExportcastError, RuntimeError):
    """The snapshot is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True)
class Snapshot:
    """The loaded snapshot tables and their data vintage id."""

    tables: dict[str, pd.DataFrame]
    vintage: str
    manifest: dict = field(repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise SnapshotError(f"snapshot has no table {name!r}; it has {sorted(self.tables)}")
        return self.tables[name]


def _drop_row(frame: pd.DataFrame) -> pd.DataFrame:
    from exportcast.features.sources._common import ROW

    return frame.drop(columns=[ROW], errors="ignore").reset_index(drop=True)


def _years(frame: pd.DataFrame) -> list[int] | None:
    if "year" not in frame.columns or frame.empty:
        return None
    return [int(frame["year"].min()), int(frame["year"].max())]


def _build_tables(raw: Path, log: Callable[[str], None]) -> _Tables:
    # Each reader imports its adapters, so that loading a snapshot does not import every adapter.
    tables: _Tables = {}
    kor = _read_kosis(raw, tables, log)
    dots, wdi = _read_dots(raw, tables, log)
    _read_indicators(raw, tables, wdi, log)
    _read_geography(raw, tables, kor, dots, log)
    _read_weo_vintages(raw, tables, log)
    _read_rtas(raw, tables, log)
    return tables


def _step(log: Callable[[str], None], name: str) -> float:
    log(f"  reading {name} ...")
    return time.perf_counter()


def _read_kosis(raw: Path, tables: _Tables, log: Callable[[str], None]) -> Loaded:
    """Korea's exports by partner and totals (KOSIS)."""
    from exportcast.features.sources.kosis import load_kosis_exports

    t = _step(log, "KOSIS exports by partner")
    kor, kor_totals = load_kosis_exports(
        raw / "kdiplo_kosis" / "trade_data.csv", start=KOR_YEARS[0], end=KOR_YEARS[1]
    )
    tables["kor_exports"] = (_drop_row(kor.frame), ["kdiplo_kosis"], [kor])
    tables["kor_totals"] = (kor_totals, ["kdiplo_kosis"], [])
    log(f"    {kor.summary()} ({time.perf_counter() - t:.1f}s)")
    return kor


def _read_dots(raw: Path, tables: _Tables, log: Callable[[str], None]) -> tuple[Loaded, Loaded]:
    """WDI (its merchandise exports check the DOTS totals) and the all-reporter IMF DOTS panel."""
    from exportcast.features.sources.dots import load_dots_exports
    from exportcast.features.sources.wdi import load_wdi

    t = _step(log, "WDI indicators")
    wdi = load_wdi(raw / "wdi", start=INDICATOR_YEARS[0], end=INDICATOR_YEARS[1])
    log(f"    {wdi.summary()} ({time.perf_counter() - t:.1f}s)")
    reference = wdi.frame[["country", "year", "merch_exports_usd"]].dropna()
    reference = reference.rename(columns={"country": "reporter", "merch_exports_usd": "total_usd"})

    t = _step(log, "IMF DOTS, all reporters")
    dots = load_dots_exports(
        raw / "imf_dots" / "dots_exports_by_partner_all_reporters_1960_2020.csv.gz",
        start=DOTS_YEARS[0],
        end=DOTS_YEARS[1],
        reference_totals=reference,
    )
    tables["dots_exports"] = (_drop_row(dots.frame), ["imf_dots"], [dots])
    log(f"    {dots.summary()} ({time.perf_counter() - t:.1f}s)")
    return dots, wdi


def _read_indicators(raw: Path, tables: _Tables, wdi: Loaded, log: Callable[[str], None]) -> None:
    """Partner indicators: WDI, IMF WEO, Gapminder and UN WPP merged."""
    from exportcast.features.sources.demography import load_gapminder, load_wpp_population
    from exportcast.features.sources.weo import load_weo, weo_wide

    t = _step(log, "IMF WEO Oct-2025 and UN WPP 2024")
    weo = load_weo(
        raw / "imf_weo" / "weo_2025oct_values.csv", start=INDICATOR_YEARS[0], end=INDICATOR_YEARS[1]
    )
    gap = load_gapminder(raw / "gapminder_wpp", start=INDICATOR_YEARS[0], end=INDICATOR_YEARS[1])
    wpp = load_wpp_population(
        raw / "wpp2024" / "population_projections_2024_2100.csv", start=2024, end=INDICATOR_YEARS[1]
    )
    indicators = _merge_indicators(
        _drop_row(wdi.frame),
        weo_wide(_drop_row(weo.frame)),
        _drop_row(gap.frame),
        _drop_row(wpp.frame),
    )
    tables["indicators"] = (
        indicators,
        ["wdi", "imf_weo", "gapminder_wpp", "wpp2024"],
        [wdi, weo, gap, wpp],
    )
    log(f"    {weo.summary()}; {gap.summary()}; {wpp.summary()} ({time.perf_counter() - t:.1f}s)")


def _read_geography(
    raw: Path, tables: _Tables, kor: Loaded, dots: Loaded, log: Callable[[str], None]
) -> None:
    """Distances (CEPII, gaps filled from coordinates), countries, income groups, Korea's FTAs."""
    from exportcast.features.sources.cepii import (
        combine_points,
        fill_missing_pairs,
        load_cepii_distances,
        load_cepii_geo,
    )
    from exportcast.features.sources.countries import load_countries, load_income_history
    from exportcast.features.sources.demography import load_gapminder_geo
    from exportcast.features.sources.fta import load_korea_fta

    t = _step(log, "CEPII GeoDist, countries, income groups, Korea FTAs")
    dist = load_cepii_distances(raw / "cepii_geodist" / "dist_cepii.csv")
    geo = load_cepii_geo(raw / "cepii_geodist" / "geo_cepii.csv")
    countries = load_countries(raw / "country_ref" / "countries.csv")
    income = load_income_history(raw / "wb_class" / "class_historical_fy1988_2026.csv")
    fta = load_korea_fta(raw / "fta" / "korea_fta.csv")
    reporters = sorted(set(dots.frame["reporter"]) | {"KOR"})
    partners = sorted(set(dots.frame["partner"]) | set(kor.frame["partner"]))
    points = combine_points(_drop_row(geo.frame), load_gapminder_geo(raw / "gapminder_wpp").frame)
    pairs = fill_missing_pairs(
        _drop_row(dist.frame), points, reporters, partners, on_missing="skip"
    )
    pairs = pairs.loc[pairs["reporter"].isin(reporters) & pairs["partner"].isin(partners)]
    tables["pairs"] = (pairs.reset_index(drop=True), ["cepii_geodist"], [dist, geo])
    country_table = _drop_row(countries.frame).merge(
        _drop_row(geo.frame), on="country", how="left", suffixes=("", "_cepii")
    )
    tables["countries"] = (country_table, ["country_ref", "cepii_geodist"], [countries, geo])
    tables["income_groups"] = (_drop_row(income.frame), ["wb_class"], [income])
    tables["fta"] = (_drop_row(fta.frame), ["korea_fta"], [fta])
    log(f"    {dist.summary()}; {fta.summary()} ({time.perf_counter() - t:.1f}s)")


def _read_weo_vintages(raw: Path, tables: _Tables, log: Callable[[str], None]) -> None:
    """Every WEO vintage's forecasts (historical vintages and the October 2025 one)."""
    from exportcast.features.sources.weo_vintages import (
        load_weo_latest_vintage,
        load_weo_vintages,
        weo_vintages_table,
    )

    t = _step(log, "IMF WEO vintages (historical forecasts and October 2025)")
    hist = load_weo_vintages(raw / "imf_weo_vintages" / "weo_historical_forecasts.parquet")
    latest, outturns = load_weo_latest_vintage(raw / "imf_weo" / "weo_2025oct_values.csv")
    vintages = weo_vintages_table(_drop_row(hist.frame), _drop_row(latest.frame), outturns)
    tables["weo_vintages"] = (
        vintages,
        ["imf_weo_vintages", "imf_weo_latest_vintage"],
        [hist, latest],
    )
    log(f"    {hist.summary()}; {latest.summary()} ({time.perf_counter() - t:.1f}s)")


def _read_rtas(raw: Path, tables: _Tables, log: Callable[[str], None]) -> None:
    """The WTO RTA database (agreement pairs)."""
    from exportcast.features.sources.wto_rta import load_wto_rtas

    t = _step(log, "WTO RTA database (agreement pairs)")
    rtas = load_wto_rtas(raw / "wto_rta" / "all_rtas.csv")
    tables["rtas"] = (_drop_row(rtas.frame), ["wto_rta"], [rtas])
    log(f"    {rtas.summary()} ({time.perf_counter() - t:.1f}s)")


def _merge_indicators(
    wdi: pd.DataFrame, weo: pd.DataFrame, gap: pd.DataFrame, wpp: pd.DataFrame
) -> pd.DataFrame:
    # Keep every source's columns side by side under its own prefix: history (WDI) and
    # projections (WEO, WPP) are never silently spliced here; features/build.py chooses.
    weo = weo.rename(columns={c: f"weo_{c}" for c in weo.columns if c not in ("country", "year")})
    gap = gap.rename(columns={c: f"wpp_{c}" for c in gap.columns if c not in ("country", "year")})
    wpp = wpp.rename(columns={c: f"wpp_{c}" for c in wpp.columns if c not in ("country", "year")})
    out = wdi.merge(weo, on=["country", "year"], how="outer")
    out = out.merge(gap, on=["country", "year"], how="outer")
    out = out.merge(wpp, on=["country", "year"], how="outer")
    return out.sort_values(["country", "year"], ignore_index=True)


def table_entry(frame: pd.DataFrame, path: Path, sources: list, dropped: dict[str, int]) -> dict:
    """The MANIFEST entry of one written table (also used by ``exportcast update``)."""
    return {
        "file": path.name,
        "rows": len(frame),
        "columns": list(frame.columns),
        "years": _years(frame),
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "sources": sources,
        "dropped_rows": dropped,
    }


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [
        c for c in ("reporter", "partner", "country", "agreement", "year") if c in frame.columns
    ]
    return frame.sort_values(keys, ignore_index=True, kind="mergesort") if keys else frame


def build_snapshot(raw: str | Path, out: str | Path, *, log: Callable[[str], None] = print) -> dict:
    """Build the snapshot from the upstream raw folder.

    Args:
        raw: Folder with the upstream files (``shared/data/raw``; must hold ``SOURCES.md``).
        out: Destination folder (created; tables are replaced atomically one by one, the
            manifest last).
        log: Progress printer.

    Returns:
        The manifest written to ``out/MANIFEST``.

    Raises:
        SnapshotError: ``raw`` is not the upstream folder.
        SourceError: An upstream file does not match its adapter's expectations.
    """
    raw, out = Path(raw), Path(out)
    if not (raw / "SOURCES.md").is_file():
        raise SnapshotError(
            f"{raw}: not the raw data folder (no SOURCES.md); pass --raw shared/data/raw"
        )
    t0 = time.perf_counter()
    log(f"building snapshot from {raw}")
    tables = _build_tables(raw, log)
    entries = {}
    for name, (frame, source_keys, loaded) in sorted(tables.items()):
        frame = _canonical(frame)
        path = write_parquet(frame, out / f"{name}.parquet")
        dropped: dict[str, int] = {}
        for item in loaded:
            for k, v in item.dropped.items():
                dropped[f"{Path(item.path).name}: {k}"] = int(v)
        entries[name] = table_entry(frame, path, [SOURCES[k] for k in source_keys], dropped)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "description": "exportcast embedded snapshot, derived from the upstream files by "
        "'exportcast snapshot'; raw files are not included",
        "vintage": _vintage(entries),
        "tables": entries,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(out / MANIFEST_NAME, lambda p: p.write_text(text, encoding="utf-8"))
    size = sum(e["bytes"] for e in entries.values())
    log(
        f"wrote {len(entries)} tables, {size / 1e6:.2f} MB, vintage {manifest['vintage']} "
        f"to {out} in {time.perf_counter() - t0:.1f}s"
    )
    return manifest


def _vintage(entries: dict) -> str:
    blob = "\n".join(f"{name}:{e['sha256']}" for name, e in sorted(entries.items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def read_manifest(folder: str | Path) -> dict:
    """Read ``MANIFEST`` of a snapshot folder.

    Raises:
        SnapshotError: Missing or unreadable manifest.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise SnapshotError(
            f"{path}: snapshot manifest not found; build it with "
            "'exportcast snapshot --raw <shared/data/raw>'"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not valid JSON ({exc})") from exc


def load_snapshot(folder: str | Path, tables: list[str] | None = None) -> Snapshot:
    """Load (some of) the snapshot tables, verifying each file's sha256 against the manifest.

    Args:
        folder: The snapshot folder.
        tables: Table names to load; all when None.

    Returns:
        The tables and the data vintage id.

    Raises:
        SnapshotError: A table is missing, unknown, or its bytes differ from the manifest.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    entries = manifest["tables"]
    names = tables if tables is not None else sorted(entries)
    out = {}
    for name in names:
        if name not in entries:
            raise SnapshotError(
                f"{folder / MANIFEST_NAME}: no table {name!r}; has {sorted(entries)}"
            )
        path = folder / entries[name]["file"]
        if not path.is_file():
            raise SnapshotError(f"{path}: table file missing (listed in the manifest)")
        digest = sha256_file(path)
        if digest != entries[name]["sha256"]:
            raise SnapshotError(
                f"{path}: sha256 {digest[:12]}… does not match the manifest "
                f"({entries[name]['sha256'][:12]}…); the file was changed or is corrupt"
            )
        out[name] = read_parquet(path)
    return Snapshot(tables=out, vintage=manifest["vintage"], manifest=manifest)


def compare_snapshots(expected: dict, actual: dict) -> list[str]:
    """Differences between two manifests (table set, rows, sha256); empty when identical."""
    problems = []
    a, b = expected["tables"], actual["tables"]
    for name in sorted(set(a) | set(b)):
        if name not in b:
            problems.append(f"{name}: missing from the rebuild")
        elif name not in a:
            problems.append(f"{name}: new in the rebuild")
        else:
            for key in ("rows", "sha256", "columns"):
                if a[name][key] != b[name][key]:
                    problems.append(f"{name}: {key} differs ({a[name][key]} != {b[name][key]})")
    if expected.get("vintage") != actual.get("vintage"):
        problems.append(f"vintage differs ({expected.get('vintage')} != {actual.get('vintage')})")
    return problems
