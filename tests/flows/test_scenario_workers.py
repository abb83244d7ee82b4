"""The scenarios' snapshot parts fitted in joblib's worker processes (issue 16).

The whole default run with them in the workers against everything in order in one process is
``tests/flows/test_default_run.py`` (every CSV byte for byte); here: the gravity fit is the same
number in a worker, and when the run keeps the parts in its own process.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from joblib import Parallel, delayed

from exportcast.configs.loader import load_config, load_scenario
from exportcast.flows import forecast_tasks
from exportcast.flows.scenarios import scenario_setup
from exportcast.flows.snapshot import load_snapshot
from exportcast.flows.workers import trimmed
from exportcast.flows.years import resolve_run_years
from exportcast.models.scenario_parts import SNAPSHOT_PART_TABLES, gravity_fits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tables():
    return load_snapshot(ROOT / "data" / "snapshot").tables


def _config(tables, *overrides: str):
    kor = tables["kor_exports"]
    config = load_config(overrides=list(overrides))
    return resolve_run_years(config, kor, vintage="v", name="kor_exports")[0]


def _cambodia():
    return load_scenario(ROOT / "configs" / "scenarios" / "cambodia_fta.yaml")


@pytest.mark.integration  # two worker processes
def test_a_gravity_fit_in_a_worker_is_the_fit_made_here(tables):
    setup = scenario_setup(_config(tables), _cambodia(), tables)
    sub = {k: tables[k] for k in SNAPSHOT_PART_TABLES}
    jobs = [(setup.panel, setup.origin)]
    ((here_fit, here_summary, here_line),) = gravity_fits(jobs, sub)
    # a worker of the pool the engine uses, as run_scenarios sends it
    (out,) = Parallel(n_jobs=2)([delayed(trimmed)(gravity_fits, jobs, sub)])
    ((fit, summary, line),) = out
    pd.testing.assert_series_equal(fit.coef, here_fit.coef, check_exact=True)
    pd.testing.assert_frame_equal(fit.cov, here_fit.cov, check_exact=True)
    assert summary == here_summary and line == here_line
    assert (fit.n_obs, fit.n_clusters) == (here_fit.n_obs, here_fit.n_clusters)
    # the scenario keeps coefficients, not statsmodels' results object (about 250 MB)
    assert fit.ppml.result is None and here_fit.ppml.result is None


@pytest.mark.parametrize(
    ("env", "overrides", "in_workers"),
    [
        ("1", [], True),
        ("auto", [], True),  # the joblib workers exist anyway: no machine check
        ("0", [], False),  # every stage in order in the run's process (the reference path)
        ("1", ["forecast.n_jobs=1"], False),  # no workers
    ],
)
def test_where_the_parts_are_fitted(monkeypatch, tables, env, overrides, in_workers):
    monkeypatch.setenv("EXPORTCAST_AHEAD", env)
    sent = []

    class Recording:  # stands in for joblib's Parallel: records what would go to the workers
        def __init__(self, n_jobs, return_as):
            assert return_as == "generator"

        def __call__(self, jobs):
            sent.extend(jobs)
            return self._outputs()

        def _outputs(self):
            yield from [[("gravity", {}, "g")], [("regression", "r")]]

    monkeypatch.setattr("joblib.Parallel", Recording)
    config = _config(tables, *overrides)
    setups = [scenario_setup(config, _cambodia(), tables)]
    with forecast_tasks._parts_in_workers(config, setups, tables) as parts:
        if not in_workers:
            assert parts is None
        else:
            got = parts(0)
            assert got.lines == ("g", "r") and got.regression == "regression"
    if in_workers:  # the gravity fits in one task, the regressions in the other
        assert [job[1][0].__name__ for job in sent] == ["gravity_fits", "regression_checks"]
    else:
        assert sent == []


def test_no_scenarios_no_workers(monkeypatch, tables):
    monkeypatch.setenv("EXPORTCAST_AHEAD", "1")
    with forecast_tasks._parts_in_workers(_config(tables), [], tables) as parts:
        assert parts is None
