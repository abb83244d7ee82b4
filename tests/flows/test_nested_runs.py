"""One nested MLflow run per candidate model, with backtest scores overall and per horizon."""

import pandas as pd
import pytest
from mlflow import MlflowClient

from exportcast.flows import tracking, tracking_store
from exportcast.models.metrics import evaluate_table


def test_one_nested_run_per_candidate_with_scores_per_horizon(fast_run, mlflow_uri):
    cfg, result = fast_run.config, fast_run.result

    client = MlflowClient(mlflow_uri)
    parent = client.get_run(result.mlflow_run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    accuracy = pd.read_csv(fast_run.folder / "backtest_accuracy.csv")
    by_name = {c.info.run_name: c for c in children}
    assert set(by_name) == set(accuracy["model"]) == {"Naive", "Drift", "Ensemble", "Selected"}
    horizon = int(cfg.horizon)
    for name, child in by_name.items():
        assert child.info.status == "FINISHED"
        assert child.data.tags["model"] == name
        assert child.data.tags["selected"] == parent.data.tags["selected_model"]
        row = accuracy.set_index("model").loc[name]
        for metric in ("MASE", "sMAPE", "RMSSE", "relMASE"):
            assert child.data.metrics[f"overall_{metric}"] == pytest.approx(row[metric], rel=1e-5)
            steps = client.get_metric_history(child.info.run_id, metric)
            assert sorted(m.step for m in steps) == list(range(1, horizon + 1))
    naive = client.get_metric_history(by_name["Naive"].info.run_id, "relMASE")
    assert all(m.value == pytest.approx(1.0) for m in naive)
    # error grows with the horizon for the naive forecast of trending exports
    mase = sorted(
        client.get_metric_history(by_name["Naive"].info.run_id, "MASE"), key=lambda m: m.step
    )
    assert mase[-1].value > mase[0].value

    # backtest_forecasts.csv: every backtest forecast, in the output folder and in MLflow; the
    # published accuracy is recomputed from it with the product's metric functions
    table = pd.read_csv(
        fast_run.folder / "backtest_forecasts.csv", keep_default_na=False, na_values=[""]
    )
    assert "backtest_forecasts.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert (table["weo_vintage"] == "F" + table["origin"].astype(str)).all()  # fall_of_origin
    assert parent.data.tags["weo_vintages_backtest"] == ",".join(f"F{t}" for t in range(2008, 2019))
    assert {"CHN", "USA", "REST"} <= set(table["partner"])
    models = list(accuracy["model"])
    again = evaluate_table(table, models).set_index("model")
    for name in models:
        for metric in ("relMASE", "wrelMASE", "MASE", "n_units"):
            want = accuracy.set_index("model").loc[name, metric]
            assert again.loc[name, metric] == pytest.approx(want, rel=1e-5)


def test_nested_run_fails_alone_and_parent_ends_by_its_own_outcome(mlflow_uri):
    store = tracking_store.resolve_store(mlflow_uri)
    with tracking.tracked_run(store, "nested-test") as parent:
        with pytest.raises(ValueError), parent.nested_run("child") as child:
            child.log_metrics({"x": 1.0})
            raise ValueError("boom")
        with parent.nested_run("ok") as ok:
            ok.log_metrics({"x": 2.0})
    client = MlflowClient(store.uri)
    assert client.get_run(parent.run_id).info.status == "FINISHED"
    failed = client.get_run(child.run_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["mlflow.parentRunId"] == parent.run_id
    assert failed.data.tags["error"] == "ValueError: boom"
    assert client.get_run(ok.run_id).info.status == "FINISHED"
