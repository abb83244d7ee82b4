"""What the CLI prints: fits an 80-column terminal, data text is never read as markup."""

from datetime import datetime

from rich.console import Console

from exportcast.flows import cli
from exportcast.flows.cli_tracking import runs_table


def _runs(n=3):
    return [
        {
            "run_id": f"{i}ee0116b638042d49c91b094a86a6a00",
            "start": datetime(2026, 12, 3, 16, 40 + i),
            "status": status,
            "data_vintage": "cfdbe6d207db",
            "config_hash": "f9f022ccca3f",
            "last_year": "2023",
            "dependence_share": 0.38,
            "dependence_forecast": None if status == "FAILED" else 0.381,
            "forecast_year": 2028,
        }
        for i, status in zip(range(n), ["FINISHED", "RUNNING", "FAILED"], strict=False)
    ]


def test_runs_table_fits_80_columns_one_line_per_run():
    console = Console(width=80, record=True, markup=False)
    console.print(runs_table(_runs(), "MLflow runs of exportcast-KOR", "sqlite:///x/mlflow.db"))
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in "\n".join(lines)
    rows = [line for line in lines if line.startswith(("0ee0116b", "1ee0116b", "2ee0116b"))]
    assert len(rows) == 3  # one line each, short ids as the MLflow UI shows them
    assert "38.0 % 2023" in rows[0] and "38.1 % 2028" in rows[0]
    assert rows[2].rstrip().endswith("38.0 % 2023")  # a failed run has no forecast


def test_consoles_print_brackets_as_text(capsys):
    cli.console.print("scenario [b]GCC[/b] title [a-z0-9_]+", highlight=False)
    assert "[b]GCC[/b] title [a-z0-9_]+" in capsys.readouterr().out


def test_quiet_libraries_also_quiets_an_mlflow_imported_before(monkeypatch):
    # MLflow sets its logger's level when it is imported: in a notebook or a test session it
    # may be imported before the command runs, and "-q" must still print nothing of its INFO
    # lines (the store creation's "Creating initial MLflow database tables...")
    import logging

    import mlflow  # noqa: F401 - imported before, as in a notebook

    from exportcast.flows.console import quiet_libraries

    logger = logging.getLogger("mlflow")
    monkeypatch.setattr(logger, "level", logging.INFO)
    for key in ("MLFLOW_LOGGING_LEVEL", "PREFECT_LOGGING_LEVEL",
                "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "PREFECT_SERVER_ANALYTICS_ENABLED",
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)  # what quiet_libraries sets is undone after
    quiet_libraries("WARNING", console_level="CRITICAL")
    assert logger.getEffectiveLevel() == logging.WARNING
    assert not logging.getLogger("mlflow.store.db.utils").isEnabledFor(logging.INFO)
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "DEBUG")  # the environment wins
    quiet_libraries("WARNING")
    assert logger.getEffectiveLevel() == logging.DEBUG
