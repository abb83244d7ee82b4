"""Packaging: one import name (`exportcast.*`), paths from the project directory, a real wheel.

Issue 15 point 6: the brief's top-level folders install as ``exportcast.<folder>``; a
non-editable install (`pip install` of the wheel into a fresh venv, then `exportcast run` in an
empty folder) works.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from exportcast.flows.io import CODE_ROOT, PROJECT_ENV, packaged_path, project_path, project_root

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("configs", "features", "flows", "models", "reports")
OLD_STYLE = set(FOLDERS)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_installed_under_exportcast():
    tool = _pyproject()["tool"]["setuptools"]
    on_disk = {"exportcast", "exportcast.snapshot"}
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).as_posix()
            on_disk.add("exportcast." + rel.replace("/", "."))
    assert set(tool["packages"]) == on_disk
    for name in tool["packages"]:
        if name == "exportcast":
            continue
        folder = tool["package-dir"][name]
        assert (ROOT / folder).is_dir(), f"{name} -> {folder}: no such folder"
        expected = "data/snapshot" if name == "exportcast.snapshot" else name[11:].replace(".", "/")
        assert folder == expected
    assert _pyproject()["project"]["scripts"]["exportcast"] == "exportcast.flows.entry:main"


def _old_style_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            top = next(
                (a.name.split(".")[0] for a in node.names if a.name.split(".")[0] in OLD_STYLE), ""
            )
        else:
            continue
        if top in OLD_STYLE:
            bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return bad


def test_no_code_imports_the_folders_by_their_bare_names():
    # `from models.x import y` would load a second copy of the module beside exportcast.models.x
    bad = []
    for folder in (*FOLDERS, "tests", "benchmarks", "research", "docs", "exportcast"):
        for path in (ROOT / folder).rglob("*.py"):
            bad += _old_style_imports(path)
    assert bad == []


def test_no_code_string_imports_the_folders_by_their_bare_names():
    # code run through `python -c` or exec (tests, benchmarks) must use the package name too
    pkgs = "(?:configs|features|flows|models|reports)"
    bare = re.compile(rf"(?<![\w.])(?:from {pkgs}(?:\.\w+)* import |import {pkgs}\.\w)")
    hits = []
    for folder in (*FOLDERS, "tests", "benchmarks", "exportcast"):
        for path in (ROOT / folder).rglob("*.py"):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if bare.search(line) and not line.lstrip().startswith("#"):
                    hits.append(f"{path.relative_to(ROOT)}:{i}")
    hits = [h for h in hits if not h.startswith("tests/test_packaging.py")]
    assert hits == []


def test_paths_resolve_against_the_project_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert project_root() == tmp_path.resolve()
    # what the project lacks comes from the package: the embedded snapshot, the scenario files
    snap = project_path("data/snapshot")
    assert (snap / "MANIFEST").is_file() and not snap.is_relative_to(tmp_path.resolve())
    assert project_path("configs/scenarios/cambodia_fta.yaml").is_file()
    # outputs and stores go under the project; a project's own copy wins over the package's
    assert project_path("outputs") == tmp_path.resolve() / "outputs"
    (tmp_path / "data" / "snapshot").mkdir(parents=True)
    assert project_path("data/snapshot") == tmp_path.resolve() / "data" / "snapshot"
    # an explicit project directory wins over the working directory
    other = tmp_path / "elsewhere"
    monkeypatch.setenv(PROJECT_ENV, str(other))
    assert project_path("outputs") == other.resolve() / "outputs"
    assert packaged_path("outputs") is None
    assert packaged_path("data/snapshot") == CODE_ROOT / "data" / "snapshot"


def _fresh_venv(tmp_path: Path) -> Path:
    """A new venv holding the built wheel; its dependencies come from this environment's
    site-packages through a .pth line (no download), never the checkout."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300, env=_clean_env(),
    )  # fmt: skip
    (wheel,) = wheels.glob("exportcast-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    (site / "deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
         "--no-deps", "--ignore-installed", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300, env=_clean_env(),
    )  # fmt: skip
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONPATH", "PREFECT_API", "PREFECT_HOME", "MLFLOW_", PROJECT_ENV, "COVERAGE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", MPLBACKEND="Agg", **extra)
    return env


@pytest.mark.e2e
@pytest.mark.slow
def test_the_wheel_installs_and_runs_in_an_empty_folder(tmp_path, prefect_api_url):
    venv = _fresh_venv(tmp_path)
    work = tmp_path / "empty"
    work.mkdir()
    # the session's Prefect test server: the run starts no temporary server of its own (that
    # start is tested in tests/flows/test_prefect_server.py)
    env = _clean_env(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=prefect_api_url)
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import exportcast.flows, importlib.util as u, sys;"
         "from exportcast.configs import load_config;"
         "load_config(overrides=['scenarios=[configs/scenarios/cambodia_fta.yaml]']);"
         "print(exportcast.flows.__file__);"
         "print([m for m in ('models', 'flows', 'configs') if u.find_spec(m)])"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    where, bare = probe.stdout.strip().splitlines()
    assert Path(where).is_relative_to(venv), where  # the installed copy, not the checkout
    assert bare == "[]"  # no generic top-level `models`, `flows`, `configs`
    run = subprocess.run(
        [str(venv / "bin" / "exportcast"), "run",
         "--set", "forecast.models=[Naive, Drift]", "--set", "forecast.n_paths=100",
         "--set", "scenarios=[]", "--set", "report.enabled=false"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    forecasts = pd.read_csv(work / "outputs" / "KOR" / "forecasts.csv")
    assert forecasts["year"].min() == 2024 and len(forecasts) > 100
    assert (work / "mlruns" / "mlflow.db").is_file()  # the store lives in the project folder
