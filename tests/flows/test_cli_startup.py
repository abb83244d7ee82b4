"""Quick commands start without the heavy libraries (issue 16: `exportcast --help` <= 1.5 s).

The timings are in ``benchmarks/cli_startup.py``; these tests pin the behaviour that makes them
possible: importing the CLI, ``--help`` and ``vintages`` load no pandas, MLflow, Prefect,
scikit-learn, statsmodels or matplotlib. Each check runs in a fresh interpreter, since this
test session has imported all of them already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.flows.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "mlflow", "prefect", "sklearn", "statsmodels", "matplotlib")
# after the code under test: which heavy modules the interpreter holds
REPORT = f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"


def _heavy_after(code: str) -> tuple[list[str], str]:
    """The heavy modules loaded by running ``code`` in a new interpreter, and its output."""
    script = f"import json, sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n{REPORT}"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    *output, last = proc.stdout.splitlines()
    return json.loads(last), "\n".join(output)


def _command(*args: str) -> str:
    return (
        f"sys.argv = ['exportcast', *{list(args)!r}]; from exportcast.flows.cli import app; app()"
    )


def test_importing_the_cli_loads_no_heavy_library():
    heavy, _ = _heavy_after("import exportcast.flows.cli")
    assert heavy == []


def test_help_and_vintages_load_no_heavy_library(tmp_path):
    for args in (
        ["--help"],
        ["runs", "--help"],
        ["vintages", "--set", f"data.vintages_dir={tmp_path}"],
    ):
        heavy, output = _heavy_after(_command(*args))
        assert heavy == [], args
        assert ("Usage" if "--help" in args else "(embedded)") in output, output


def test_the_check_sees_a_heavy_import():
    # the probe itself works: a command that needs pandas is reported
    heavy, _ = _heavy_after("import exportcast.flows.cli as c; c.pd")
    assert heavy == ["pandas"]


def test_names_imported_lazily_are_still_importable_from_the_cli():
    import pandas

    from exportcast.configs import ConfigError, RunConfig, load_config
    from exportcast.flows import cli
    from exportcast.flows.io import project_path

    assert cli.ConfigError is ConfigError and cli.RunConfig is RunConfig
    assert cli.load_config is load_config and cli.project_path is project_path
    assert cli.pd is pandas


def test_importing_models_is_light_until_a_name_is_used():
    heavy, _ = _heavy_after("import exportcast.models")
    assert heavy == []
    heavy, _ = _heavy_after("from exportcast.models import forecast")
    assert "pandas" in heavy  # the lazy name loads its module


def test_the_pipeline_imports_the_model_libraries_only_to_fit():
    # a run whose fits all come from the cache (an identical rerun) needs neither statsmodels
    # nor scikit-learn: they are imported where a model is fitted (about 2 s of CPU). One
    # child, three snapshots: after the pipeline's import, after a Theta fit, after a GBM.
    snap = f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    code = "; ".join([
        "import json, sys", "import numpy as np", "import exportcast.flows.pipeline", snap,
        "from exportcast.models.timeseries import Theta",
        "Theta().fit(np.arange(1.0, 12.0) ** 1.5)", snap,
        "from exportcast.models.regression import make_estimator", "make_estimator('gbm')", snap,
    ])  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    piped, fitted, boosted = map(json.loads, proc.stdout.splitlines()[-3:])
    assert "statsmodels" not in piped and "sklearn" not in piped
    assert "matplotlib" not in piped  # the report's stack: only when a report is built
    assert "pandas" in piped and "prefect" in piped  # the probe sees what is loaded
    assert "statsmodels" in fitted and "sklearn" not in fitted
    assert "sklearn" in boosted
