"""New SQLite stores from the migrated template (flows/store_template.py): same store, no migrations."""

import sqlite3

import pandas as pd
from mlflow import MlflowClient

from exportcast.flows import store_template
from exportcast.flows.tracking import tracked_run
from exportcast.flows.tracking_store import resolve_store, store_lock


def _schema(db) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {
            sql for (sql,) in con.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
        }
    finally:
        con.close()


def _rows(db, table) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        con.close()


def _record(store, experiment="exp") -> MlflowClient:
    with tracked_run(store, experiment, run_name="r", params={"a": {"b": 1}}) as run:
        run.log_metrics({"m": 1.5})
        run.log_series(pd.DataFrame({"year": [2000, 2001], "x": [1.0, 2.0]}), ["x"], step="year")
    return MlflowClient(store.uri)


def test_a_store_from_the_template_is_the_store_mlflow_migrates(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = store_template.template_path()
    assert template is not None and not template.exists()
    first = resolve_store(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}")
    _record(first)  # MLflow migrates a new store; it becomes the template (no experiment in it)
    assert template.is_file()
    assert _rows(template, "experiments") == [] and _rows(template, "runs") == []
    second = resolve_store(f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}")
    with store_lock(second):
        assert second.db_path.is_file()  # seeded from the template before MLflow opened it
    client = _record(second)
    # the same schema, schema version and seeded rows as the store MLflow migrated ...
    assert _schema(second.db_path) == _schema(first.db_path)
    for table in ("alembic_version", "workspaces"):
        assert _rows(second.db_path, table) == _rows(first.db_path, table)
    # ... and a Default experiment, which MLflow creates on opening the copy as it does on
    # migrating a store (its location is MLflow's default root, as in the migrated store)
    default, migrated = client.get_experiment("0"), MlflowClient(first.uri).get_experiment("0")
    assert (default.name, default.lifecycle_stage) == ("Default", "active")
    assert default.artifact_location == migrated.artifact_location
    run = client.search_runs([client.get_experiment_by_name("exp").experiment_id])[0]
    assert run.data.metrics["m"] == 1.5 and run.info.status == "FINISHED"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "x")] == [1.0, 2.0]


def test_a_broken_template_is_replaced_and_the_store_is_migrated(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = store_template.template_path()
    template.parent.mkdir(parents=True)
    template.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)  # a torn copy
    store = resolve_store(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}")
    client = _record(store)
    assert client.get_experiment_by_name("exp") is not None
    assert _rows(template, "experiments") == []  # a good template took its place
    assert len(_rows(template, "alembic_version")) == 1


def _sqlite(path, *statements: str) -> None:
    con = sqlite3.connect(path)
    with con:
        for statement in statements:
            con.execute(statement)
    con.close()


def test_a_used_store_is_not_kept_and_the_switch_turns_it_off(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = store_template.template_path()
    template.parent.mkdir(parents=True)
    used = tmp_path / "used.db"  # a store with a run in it is not a template
    _sqlite(used, "CREATE TABLE runs (run_uuid TEXT)", "CREATE TABLE registered_models (n TEXT)",
            "INSERT INTO runs VALUES ('r1')")  # fmt: skip
    store_template.save_template(used)
    assert not template.exists()
    # a usable template (schema version, no experiment) seeds a new store ...
    _sqlite(template, "CREATE TABLE alembic_version (version_num TEXT)",
            "INSERT INTO alembic_version VALUES ('head')", "CREATE TABLE experiments (id INT)")  # fmt: skip
    assert store_template.seed_store(tmp_path / "a" / "mlflow.db")
    # ... unless EXPORTCAST_NO_STORE_TEMPLATE=1: then MLflow migrates every new store
    monkeypatch.setenv("EXPORTCAST_NO_STORE_TEMPLATE", "1")
    assert store_template.template_path() is None
    new = tmp_path / "b" / "mlflow.db"
    assert not store_template.seed_store(new) and not new.exists()


def test_install_prepares_the_template_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = store_template.prepare()  # what `make install` runs
    assert made == store_template.template_path() and made.is_file()
    assert _rows(made, "experiments") == [] and len(_rows(made, "alembic_version")) == 1
    stamp = made.stat().st_mtime_ns
    assert store_template.prepare() == made and made.stat().st_mtime_ns == stamp  # kept
    store = resolve_store(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}")
    with store_lock(store):
        assert store.db_path.is_file()  # a new store is a copy of it
    monkeypatch.setenv("EXPORTCAST_NO_STORE_TEMPLATE", "1")
    assert store_template.prepare() is None
