"""The index backtest of a reporter whose China series exists live but not at any origin.

With the partner split decided at each backtest origin, a dependence partner with a gap in
the 20 years before every scored origin is inside REST there (Chad: exports to China in
every year only lately). The run must not crash on it (the reporter sweep found 11 such
reporters): the index backtest has nothing to score, and the progress line says why.
"""

from __future__ import annotations

from exportcast.configs import load_config
from exportcast.features.series import check_dependence_modelled
from exportcast.flows import forecast_tasks, pipeline, years
from exportcast.flows.progress import describe_index_backtest
from exportcast.flows.snapshot import load_snapshot
from exportcast.flows.years import resolve_run_years
from exportcast.models.index_backtest import INDEX_BACKTEST_COLUMNS
from tests.flows.helpers import FAST


def test_dependence_partner_in_rest_at_every_origin_leaves_the_index_backtest_empty():
    tables = load_snapshot(pipeline.project_path("data/snapshot"), pipeline.SNAPSHOT_TABLES)
    cfg = load_config(overrides=["reporter=TCD", *FAST])
    exports, name = years.reporter_exports(tables.tables, "TCD")
    cfg, _ = resolve_run_years(cfg, exports, vintage="embedded", name=name)
    panel = pipeline.build_panel.fn(
        exports, "TCD", cfg.years.start, cfg.years.end, cache_key=None, name=name
    )
    fs = pipeline.build_series.fn(panel, cfg.forecast.min_years, cache_key=None)
    dep = tuple(cfg.dependence_set)
    check_dependence_modelled(fs, dep, reporter="TCD", min_years=cfg.forecast.min_years)
    settings = {**cfg.forecast.model_dump(mode="json"), "n_jobs": 1}
    engine = pipeline.forecast_partners.fn(fs, cfg.horizon, settings, cache_key=None, panel=panel)
    backtested = set(engine.backtest["unique_id"].str.rpartition("|")[2])
    assert "CHN" not in backtested and "CHN" in set(fs.series["unique_id"].str.rpartition("|")[2])
    frame = forecast_tasks.backtest_index.fn(engine, fs, dep)
    assert frame.empty and list(frame.columns) == INDEX_BACKTEST_COLUMNS
    assert "no backtest origin at which every dependence partner" in describe_index_backtest(frame)
