"""FTA effects on the world panel and the ex ante track record of Korea's agreements since 2004.

Run: ``.venv/bin/python benchmarks/fta_track_record.py [--top-n 100] [--sizes 60,100,all]
[--out fta_track_record.csv]`` (about 2 minutes on 2 shared cores).

Part 1 fits the world structural gravity (``models.fta_effects.fit_world_gravity``: DOTS
1992-2020 at 4-year intervals, exporter-year, importer-year and pair effects, PPML by pyfixest,
clustered by pair) with four specifications: the total RTA effect, the phased effect (lags of
4 and 8 years), anticipation (a 4-year lead) and depth (a deepening on top of an existing
agreement), for several panel sizes, with fit time and the process's peak memory; and the
phased spec with ``rta_nonhigh`` (RTA x importer not high income that year, World Bank
historical classification): heterogeneity by partner income group.

Part 2 is ``models.fta_track_record.track_record``: for each agreement entry (agreement x
partner) the world gravity is refitted on data up to the year before entry, the phased effect
is compared with realised exports against a no-agreement Theta baseline made at the same origin,
1-5 years later. It prints the per-agreement table and ``summarize``: mean and median absolute
error of the ex ante effect vs assuming no effect, and the share of outcomes inside the 80 %
bands (coefficient band; predictive band = coefficient plus baseline uncertainty).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from exportcast.features.world_gravity import (
    add_income_interaction,
    interval_years,
    pair_agreements,
    select_countries,
    world_panel,
)
from exportcast.flows.io import write_csv
from exportcast.flows.snapshot import load_snapshot
from exportcast.models.fta_effects import ANTICIPATION, DEPTH, PHASED, fit_world_gravity
from exportcast.models.fta_track_record import summarize, track_record
from exportcast.models.structural_gravity import fit_structural_gravity

ROOT = Path(__file__).resolve().parents[1]
SPECS = {"total": ("rta",), "phased": PHASED, "anticipation": ANTICIPATION, "depth": DEPTH}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(size: int | None, spec: str, fit, total: float) -> dict:
    summary = fit.summary(levels=(95,))
    terms = "; ".join(
        f"{r.term} {r.coef:+.3f} [{r.lo_95:+.3f}, {r.hi_95:+.3f}]" for r in summary.itertuples()
    )
    return {
        "countries": size or "all", "spec": spec, "years": f"{fit.years[0]}-{fit.years[-1]}",
        "flows": fit.n_obs, "pairs": fit.n_clusters, "fit_s": round(fit.fit_seconds, 1),
        "total_s": round(total, 1), "peak_mb": round(_peak_mb()), "estimates (95 %)": terms,
    }  # fmt: skip


def income_fit(tables: dict[str, pd.DataFrame], size: int | None) -> dict:
    """The phased spec plus ``rta_nonhigh``: does a first FTA do more with a poorer importer?"""
    started = time.perf_counter()
    dots = tables["dots_exports"]
    years = interval_years(int(dots["year"].max()), 1990, 4)  # as fit_world_gravity
    countries = select_countries(dots, years, top_n=size, always=["KOR"])
    agreements = pair_agreements(tables["rtas"], tables["fta"])
    panel = world_panel(dots, agreements, years=years, countries=countries)
    panel = add_income_interaction(panel, tables["income_groups"])
    fit = fit_structural_gravity(panel, [*PHASED, "rta_nonhigh"])
    return _row(size, "income", fit, time.perf_counter() - started)


def world_fits(tables: dict[str, pd.DataFrame], sizes: list[int | None]) -> pd.DataFrame:
    """Every specification at every panel size, on DOTS years up to the last one."""
    last = int(tables["dots_exports"]["year"].max())
    rows = []
    for size in sizes:
        rows.append(income_fit(tables, size))
        for spec, regressors in SPECS.items():
            # leads need t + 4 inside the data: the anticipation fit ends 4 years earlier
            end = last - 4 if spec == "anticipation" else last
            started = time.perf_counter()
            fit, _panel = fit_world_gravity(
                tables["dots_exports"], tables["rtas"], tables["fta"], last_year=end, top_n=size,
                regressors=regressors,
            )  # fmt: skip
            rows.append(_row(size, spec, fit, time.perf_counter() - started))
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top-n", type=int, default=100, help="countries in the ex ante panels")
    parser.add_argument("--sizes", default="60,100,all", help="panel sizes of part 1 ('' skips)")
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="write the track record CSV here")
    args = parser.parse_args()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 200)
    names = ["dots_exports", "rtas", "fta", "kor_exports", "income_groups"]
    tables = load_snapshot(ROOT / "data" / "snapshot", names).tables
    with threadpool_limits(limits=1):
        sizes = [None if s == "all" else int(s) for s in args.sizes.split(",") if s]
        if sizes:
            print("World structural gravity (PPML, exporter-year, importer-year, pair FE)")
            print(world_fits(tables, sizes).to_string(index=False))
        started = time.perf_counter()
        rows, _ = track_record(
            tables["kor_exports"], tables["dots_exports"], tables["rtas"], tables["fta"],
            top_n=args.top_n, horizon=args.horizon, log=print,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    by = rows.groupby(["agreement", "kind", "entry_year"], as_index=False).agg(
        partners=("partner", "nunique"), rows=("year", "size"),
        effect_pct=("effect_pct", "mean"), lo_80=("effect_lo_80", "mean"),
        hi_80=("effect_hi_80", "mean"), outcome_median=("outcome_effect_pct", "median"),
        inside_80=("inside_80", "mean"), inside_pred_80=("inside_pred_80", "mean"),
    )  # fmt: skip
    print(f"\nTrack record ({len(rows)} partner-years, {seconds:.1f} s, peak {_peak_mb():.0f} MB)")
    print(by.round(2).to_string(index=False))
    print("\nSummary (errors in percentage points of the outcome effect)")
    print(summarize(rows).round(3).to_string(index=False))
    if args.out is not None:
        write_csv(rows, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
