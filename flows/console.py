"""What every command prints through: the consoles, the one ``error:`` line, shared options.

The consoles read no Rich markup: messages and data text (scenario titles, partner names,
error messages with "[a-z0-9]" patterns) are printed exactly as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

__all__ = ["ConfigOpt", "SetOpt", "console", "err_console", "fail"]

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
