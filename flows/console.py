"""What every command prints through: the consoles, the one ``error:`` line, shared options.

Also the commands' shared start: loading the config (:func:`load_run_config`) and the
libraries' log levels (:func:`quiet_libraries`).

The consoles read no Rich markup: messages and data text (scenario titles, partner names,
error messages with "[a-z0-9]" patterns) are printed exactly as they are.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:  # configs (pydantic) is imported when a command runs, not by --help
    from exportcast.configs import RunConfig

__all__ = [
    "ConfigOpt",
    "SetOpt",
    "console",
    "err_console",
    "fail",
    "load_run_config",
    "quiet_libraries",
]

console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Run config YAML (default: the packaged configs/default.yaml)."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config key, e.g. --set horizon=3 (repeatable)."),
]


def fail(message: str) -> NoReturn:
    """One ``error:`` line on stderr (the message printed as it is), exit code 2."""
    # soft_wrap: no line breaks inserted into paths and keys (the terminal wraps, copy works)
    err_console.print(Text("error:", style="bold red"), message, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def load_run_config(
    config: Path | None, set_: list[str] | None, *, scenarios: bool = True
) -> RunConfig:
    """The run config from ``--config`` and ``--set``; a bad config is one ``error:`` line.

    ``scenarios=False``: a command that does not run the job need not validate scenario files.
    """
    from exportcast.configs import ConfigError, load_config

    try:
        return load_config(config, set_ or [], scenarios=scenarios)
    except ConfigError as exc:
        fail(str(exc))


def quiet_libraries(level: str, *, console_level: str | None = None) -> None:
    """Log levels for Prefect and MLflow, set before they are imported; the environment wins.

    Args:
        level: Level of Prefect's and MLflow's loggers (also what reaches the Prefect API).
        console_level: Level of Prefect's terminal handler, when it should differ.
    """
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", level)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", level)
    if console_level:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", console_level)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if "mlflow" in sys.modules:
        # imported before (a notebook, a test session): MLflow read its level at import, so
        # e.g. "Creating initial MLflow database tables" would print even with --quiet
        logging.getLogger("mlflow").setLevel(os.environ["MLFLOW_LOGGING_LEVEL"].upper())
    # The first run on a machine creates Prefect's database; give a slow disk time for that.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
