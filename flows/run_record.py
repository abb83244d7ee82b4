"""Recording a run in MLflow: the job's open run, index paths, forecasts, nested runs, champion.

:func:`open_run` opens the job's MLflow run (it spans the whole job); :func:`log_run` records
the results in it: index paths by year, forecasts and backtest scores, one nested run per
candidate model and per scenario, the registered champion forecaster and the plot.
"""

import base64
import contextlib
import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from exportcast.features.series import ForecastSeries
from exportcast.flows import tracking, tracking_store
from exportcast.flows.cache_keys import is_transient
from exportcast.flows.outputs import forecast_table
from exportcast.flows.progress import describe_record, report_stage, stage_line
from exportcast.flows.run_info import RunInfo
from exportcast.flows.years import years_params
from exportcast.models.engine import EngineResult
from exportcast.models.fta_track_record import track_metrics
from exportcast.models.index_backtest import ALL, summarize_index_backtest
from exportcast.models.scenarios import ScenarioResult
from exportcast.reports.charts import memoised

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Logged to MLflow with step = year (plus share_<ISO3> of each dependence-set partner).
INDEX_METRICS = ["hhi", "hhi_norm", "n_effective", "cr1", "cr3", "cr5", "theil", "n_partners"]


@task(
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=is_transient,
    cache_policy=NO_CACHE,
    on_completion=report_stage(describe_record),
)
def log_run(
    mlrun: tracking.TrackedRun,
    concentration: pd.DataFrame,
    run: RunInfo,
    engine: EngineResult | None,
    series: ForecastSeries | None = None,
    scenarios: list[ScenarioResult] | None = None,
    index_track: pd.DataFrame | None = None,
    backtest_table: pd.DataFrame | None = None,
    fta_track: pd.DataFrame | None = None,
) -> tracking_store.RunRecord:
    """Record the results in the job's open MLflow run: index paths by year, forecasts, plot.

    The run itself (opened by :func:`open_run`, with the config as parameters and the run's
    identity as tags) spans the whole job and ends after the outputs and the report are
    written. With an engine result this also records one nested run per candidate model
    (backtest scores overall and per horizon step) and registers the chosen forecaster as the
    pyfunc model ``exportcast-<reporter>-forecaster`` with alias ``champion``; both need
    ``series``, the partner series the engine ran on. ``index_track`` (the
    :func:`flows.forecast_tasks.backtest_index` frame) adds the dependence share's backtest errors in percentage
    points: overall ``dependence_backtest_mae``, ``_mae_no_change`` and ``_bias``, and the
    same with the suffix ``_by_h`` per horizon (step = years ahead). ``fta_track`` (the FTA
    track record) adds ``fta_track_*`` metrics and ``fta_track_record.csv``.
    """
    with mlrun.batched():  # its metrics in one log_batch call or few (flows/tracking.py)
        _log_results(mlrun, concentration, run, engine, series, scenarios, index_track,
                     backtest_table, fta_track)  # fmt: skip
    return mlrun.record


def _log_results(
    mlrun: tracking.TrackedRun,
    concentration: pd.DataFrame,
    run: RunInfo,
    engine: EngineResult | None,
    series: ForecastSeries | None,
    scenarios: list[ScenarioResult] | None,
    index_track: pd.DataFrame | None,
    backtest_table: pd.DataFrame | None,
    fta_track: pd.DataFrame | None,
) -> None:
    history = concentration[concentration["kind"] == "history"]
    shares = [f"share_{c}" for c in run.dependence_set]
    mlrun.log_series(history, [*INDEX_METRICS, *shares, "dependence_share"], step="year")
    mlrun.log_table(concentration.assign(data_vintage=run.vintage), "concentration.csv")
    mlrun.log_dataset(run.vintage, f"exportcast data vintage {run.vintage}")
    if engine is not None:
        _log_forecast(mlrun, concentration, engine, [*shares, "dependence_share"])
        mlrun.log_table(forecast_table(engine, run.weo_vintage_live), "forecasts.csv")
        if series is None:
            raise ValueError("log_run: an engine result needs the series it ran on")
        train = series.series
        _log_model_runs(mlrun, engine, train if engine.history is None else engine.history)
        _log_champion(mlrun, run, engine, train)
        mlrun.set_tags({"mlflow.runName": run_title(run, int(history["year"].max()), engine.model)})
    if index_track is not None:
        _log_index_backtest(mlrun, index_track)
    if backtest_table is not None:  # every backtest forecast: the accuracy can be rescored
        mlrun.log_table(backtest_table, "backtest_forecasts.csv")
        used = sorted(set(backtest_table["weo_vintage"]) - {""})
        mlrun.set_tags({"weo_vintages_backtest": ",".join(used)})
    if fta_track is not None and not fta_track.empty:  # docs/fta-gravity.md
        mlrun.log_metrics(track_metrics(fta_track))
        mlrun.log_table(fta_track, "fta_track_record.csv")
    for result in scenarios or []:
        _log_scenario(mlrun, result)
    # rendered once per content (the chart memo, on disk in the run's cache folder when the
    # pipeline names it): an identical rerun imports no matplotlib (0.4 s)
    png = dependence_png(history, reporter=run.reporter, partners=tuple(run.dependence_set))
    mlrun.log_bytes(base64.b64decode(png.removeprefix(PNG_PREFIX)), "dependence_share.png")


def run_title(run: RunInfo, last_year: int, model: str | None = None) -> str:
    """The MLflow run name: ``<reporter> <last year> · data <vintage> · config <hash> [· <model>]``.

    Runs of the same data and config share a name (they are the same computation); any other
    difference shows in the name, e.g. ``KOR 2023 · data 530a1176 · config f9f022cc · Drift``.
    """
    parts = [
        f"{run.reporter} {last_year}",
        f"data {run.vintage[:8]}",
        f"config {run.config_hash[:8]}",
        *([model] if model else []),
    ]
    return " · ".join(parts)


@contextlib.contextmanager
def open_run(run: RunInfo, last_year: int) -> Iterator[tracking.TrackedRun]:
    """The job's MLflow run, open for the whole job (config as parameters, identity as tags).

    It ends FINISHED when the body returns (after outputs and report), FAILED with the error
    as the ``error`` tag when it raises, KILLED on Ctrl-C, SIGTERM (the CLI turns it into
    Ctrl-C) or a Prefect cancellation (:func:`flows.tracking.tracked_run`).
    """
    tags = {**run.tags, "last_year": str(last_year)}
    with tracking.tracked_run(
        run.store,
        run.experiment,
        run_name=run_title(run, last_year),
        tags=tags,
        params={**run.config, **years_params(run.years_end)},
    ) as mlrun:
        stage_line("open MLflow run", f"{mlrun.run_id} ({run.store.display})")
        yield mlrun


def _log_forecast(
    mlrun: tracking.TrackedRun, conc: pd.DataFrame, engine: EngineResult, shares: list[str]
) -> None:
    fc = conc[conc["kind"] == "forecast"]
    names = ["hhi", "n_effective", "cr1", "cr3", "cr5", "theil", *shares]
    # <index>_forecast: the index of the partner forecasts (the headline); _forecast_p50 and
    # the bands: over the sample paths
    rename = {n: f"{n}_forecast" for n in names}
    for n in names:
        rename[f"{n}_p50"] = f"{n}_forecast_p50"
        for c in fc.columns:
            if c.startswith((f"{n}_lo_", f"{n}_hi_")):
                rename[c] = c.replace("_lo_", "_forecast_lo_").replace("_hi_", "_forecast_hi_")
    logged = [c for c in rename if c in fc.columns]
    mlrun.log_series(
        fc.rename(columns=rename),
        [rename[c] for c in logged] + ["p_dependence_below"],
        step="year",
    )
    acc = engine.accuracy.set_index("model")
    metrics = {
        f"backtest_{m}_{k}": acc.loc[m, k]
        for m in acc.index
        for k in ("MASE", "relMASE", "sMAPE")
        if k in acc.columns
    }
    if "wrelMASE" in acc.columns:
        metrics.update({f"backtest_{m}_wrelMASE": acc.loc[m, "wrelMASE"] for m in acc.index})
    metrics.update({f"backtest_{k.replace('-', '_')}": v for k, v in engine.coverage.items()})
    # fits the fallback (Naive) replaced, per model: backtest and live forecast together
    metrics.update({f"fallback_fits_{m}": n for m, n in engine.n_fallbacks.items()})
    mlrun.log_metrics(metrics)
    mlrun.set_tags({"selected_model": engine.model})
    mlrun.log_table(engine.accuracy, "backtest_accuracy.csv")


def _log_index_backtest(mlrun: tracking.TrackedRun, frame: pd.DataFrame) -> None:
    # overall errors at step 0 and per horizon (step = h), in percentage points
    summary = summarize_index_backtest(frame)
    if summary.empty:
        return
    names = {k: f"dependence_backtest_{k}" for k in ("mae", "mae_no_change", "bias")}
    overall = summary.set_index("h").loc[ALL]
    mlrun.log_metrics({name: overall[k] for k, name in names.items()})
    by_h = summary[summary["h"] != ALL].astype({"h": "int64"})
    by_h = by_h.rename(columns={k: f"{name}_by_h" for k, name in names.items()})
    mlrun.log_series(by_h, [f"{name}_by_h" for name in names.values()], step="h")


def _log_model_runs(mlrun: tracking.TrackedRun, engine: EngineResult, train: pd.DataFrame) -> None:
    # One nested run per candidate (and Selected): scores per horizon step (step = h) and
    # overall (overall_<metric>, as in backtest_accuracy.csv).
    from exportcast.flows import champion  # imports mlflow: only when a run is recorded

    acc = engine.accuracy.set_index("model")
    by_h = champion.horizon_scores(engine.backtest, train, list(acc.index))
    for model in acc.index:
        with mlrun.nested_run(model, tags={"model": model, "selected": engine.model}) as child:
            overall = acc.loc[model].drop("n_units", errors="ignore")
            child.log_metrics({f"overall_{k}": v for k, v in overall.items()})
            rows = by_h[by_h["model"] == model]
            child.log_series(rows, [c for c in champion.HORIZON_METRICS if c in rows], step="h")


def _log_scenario(mlrun: tracking.TrackedRun, result: ScenarioResult) -> None:
    # One nested run per scenario: its changes as params, the effect on each index by year
    # (index of the point forecasts, path median and bands of scenario - baseline), its tables.
    meta = result.meta
    tags = {"scenario": meta["name"], "origin": str(meta["origin"]), "kind": "scenario"}
    with mlrun.nested_run(f"scenario: {meta['name']}", tags=tags) as child:
        child.log_params(
            {
                "title": meta.get("title", ""),
                "origin": meta["origin"],
                **{f"change_{i + 1}": c for i, c in enumerate(meta.get("changes", []))},
            }
        )
        idx = result.indices
        for index, rows in idx.groupby("index"):
            cols = [
                c
                for c in rows.columns
                if c.startswith(("diff_", "scenario_p50", "baseline_point", "scenario_point"))
            ]
            renamed = rows.rename(columns={c: f"{index}_{c}" for c in cols})
            child.log_series(renamed, [f"{index}_{c}" for c in cols], step="year")
        child.log_table(result.partners, "scenario_partners.csv")
        child.log_table(idx, "scenario_indices.csv")
        child.log_dict(meta, "scenario.json")


def _log_champion(
    mlrun: tracking.TrackedRun, run: RunInfo, engine: EngineResult, train: pd.DataFrame
) -> None:
    # Registration is an extra: a failure is reported (tag, warning), the run still finishes.
    from exportcast.flows import champion

    name = f"exportcast-{run.reporter}-forecaster"
    try:
        version = champion.log_champion(
            mlrun,
            engine,
            train,
            candidates=run.config["forecast"]["models"],
            registered_model=name,
            tags={"data_vintage": run.vintage},
        )
        mlrun.set_tags({"champion_model": f"models:/{name}/{version}"})
    except Exception as exc:
        get_run_logger().warning("could not register %s: %s", name, exc)
        mlrun.set_tags({"champion_error": f"{type(exc).__name__}: {exc}"})


PNG_PREFIX = "data:image/png;base64,"


@memoised
def dependence_png(frame: pd.DataFrame, *, reporter: str, partners: tuple[str, ...]) -> str:
    """:func:`dependence_figure` as a PNG data URI, memoised like the report's charts.

    Saved at the figure's own size and dpi, as MLflow's ``log_figure`` saved it; the memo is
    ``reports.charts.memoised`` (in this process, and on disk inside ``use_cache_dir``).
    """
    figure = dependence_figure(frame, reporter=reporter, partners=partners)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def dependence_figure(
    frame: pd.DataFrame, *, reporter: str, partners: Sequence[str], title: str | None = None
) -> "Figure":
    """A line chart of the dependence share and each partner's share by year (in %).

    Args:
        frame: Concentration rows with ``year``, ``share_<ISO3>`` and ``dependence_share``.
        reporter: ISO3 of the reporter (for the title).
        partners: The dependence set, in order.
        title: Overrides the default title.

    Returns:
        A matplotlib figure (Agg canvas; no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    years = frame["year"].astype(int)
    if len(partners) > 1:
        label = " + ".join(partners)
        ax.plot(years, 100 * frame["dependence_share"], lw=2.5, color="black", label=label)
    for code in partners:
        ax.plot(years, 100 * frame[f"share_{code}"], lw=1.5, label=code)
    ax.set_ylabel("share of exports (%)")
    ax.set_xlabel("year")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title(title or f"{reporter}: export dependence on {', '.join(partners)}")
    fig.tight_layout()
    return fig
