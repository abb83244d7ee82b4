"""exportcast: export-diversification forecasting (one import name for the project's folders).

The repository keeps the brief's top-level folders (`flows/`, `models/`, `features/`,
`configs/`, `reports/`); they are installed as `exportcast.flows`, `exportcast.models`, ... by
the build backend's package-dir mapping (pyproject.toml), so a wheel puts only `exportcast` on
the import path and cannot collide with another project's `models` or `configs`.

In a source checkout this folder holds only this file: the line below adds the repository root
to the package's search path, so `exportcast.models` is the checkout's `models/` folder (the
editable install and `PYTHONPATH=<checkout>` both work). An installed wheel has the subpackages
inside this folder and the line adds nothing.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_here = _Path(__file__).resolve().parent
if not (_here / "flows").is_dir() and (_here.parent / "flows" / "__init__.py").is_file():
    __path__.append(str(_here.parent))  # source checkout: exportcast.flows -> <root>/flows
