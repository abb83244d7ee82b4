"""``runner.kind: dask`` (prefect-dask on a real 2-worker LocalCluster) equals the default."""

import pandas as pd
from pandas.testing import assert_frame_equal

from exportcast.configs import load_config
from exportcast.flows import parallel
from exportcast.flows.pipeline import run_pipeline
from tests.flows.helpers import FAST


def _run(tmp_path, name, *sets):
    config = load_config(
        overrides=[f"output.dir={tmp_path / name}", "cache.enabled=false", *FAST, *sets]
    )
    result = run_pipeline(config, log=lambda _: None)
    return result.output_dir


def test_dask_runner_gives_the_default_runners_outputs(fast_run, tmp_path, monkeypatch):
    submitted = []
    real_submit = parallel.DaskTaskRunner.submit

    def submit(self, task, parameters, *args, **kwargs):
        submitted.append((task.name, len(self.client.scheduler_info()["workers"])))
        return real_submit(self, task, parameters, *args, **kwargs)

    monkeypatch.setattr(parallel.DaskTaskRunner, "submit", submit)
    # the default runner's outputs: the session's FAST run (same config but for the runner; its
    # cache key leaves the runner out, so the Dask run has the cache off to really compute)
    default = fast_run.folder
    dask = _run(tmp_path, "dask", "runner.kind=dask", "runner.n_workers=2")

    # the work really went to a 2-worker cluster, in several chunks
    assert len(submitted) >= 4
    assert {name for name, _ in submitted} == {"backtest_chunk"}
    assert all(workers == 2 for _, workers in submitted)
    for name in (
        "forecasts.csv",
        "concentration.csv",
        "backtest_accuracy.csv",
        "backtest_forecasts.csv",
    ):
        assert_frame_equal(pd.read_csv(dask / name), pd.read_csv(default / name), check_exact=True)


def test_chunks_cover_every_series_once_in_engine_order():
    series = pd.DataFrame(
        {"unique_id": [f"KOR|{c}" for c in "DCBAE" for _ in range(3)], "ds": [1, 2, 3] * 5}
    ).assign(y=1.0)
    chunks = parallel.chunk_series(series.sample(frac=1, random_state=0), n_workers=2)
    assert len(chunks) == 4
    ids = [uid for chunk in chunks for uid in chunk["unique_id"].unique()]
    assert ids == sorted(series["unique_id"].unique())
    assert all(chunk["ds"].tolist() == [1, 2, 3] * chunk["unique_id"].nunique() for chunk in chunks)
