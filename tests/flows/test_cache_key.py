"""Cache keys cover every input a cached stage reads: config, scenario file contents, code."""

from pathlib import Path

import pytest

from exportcast.configs import load_config
from exportcast.flows import cache_keys
from exportcast.flows.cache_keys import cache_key, scenario_digest, scenarios_key

ROOT = Path(__file__).resolve().parents[2]
UAE = ROOT / "configs" / "scenarios" / "uae_cepa.yaml"


def _with_scenario(path: Path):
    return load_config(overrides=[f"scenarios=[{path}]"])


def _scenarios_key(path: Path) -> str | None:
    cfg = _with_scenario(path)
    return scenarios_key(cache_key("v1", cfg), cfg)


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_editing_a_scenario_file_changes_the_scenarios_key_each_time(tmp_path, where):
    # a scenario file outside the project, or one in a folder of the project's working tree
    folder = tmp_path if where == "outside" else ROOT / "configs" / "scenarios"
    path = folder / f"test-cache-key-{tmp_path.name}.yaml"
    text = UAE.read_text(encoding="utf-8")
    try:
        path.write_text(text, encoding="utf-8")
        first, stages = _scenarios_key(path), cache_key("v1", _with_scenario(path))
        path.write_text(text.replace("year: 2025", "year: 2026"), encoding="utf-8")
        second = _scenarios_key(path)
        path.write_text(text.replace("year: 2025", "year: 2027"), encoding="utf-8")
        third = _scenarios_key(path)
        assert len({first, second, third}) == 3
        # the other stages (panel, series, forecasts) read no scenario: their key stays
        assert cache_key("v1", _with_scenario(path)) == stages
        path.write_text(text, encoding="utf-8")  # back to the first content: the first key
        assert _scenarios_key(path) == first
    finally:
        path.unlink(missing_ok=True)


def test_the_scenario_list_keys_the_scenarios_stage_only():
    with_two, without = load_config(), load_config(overrides=["scenarios=[]"])
    assert cache_key("v1", with_two) == cache_key("v1", without)
    assert scenarios_key(cache_key("v1", with_two), with_two) != scenarios_key(
        cache_key("v1", without), without
    )
    assert scenarios_key(None, with_two) is None  # no cache, no key
    # another forecast setting changes both
    other = load_config(overrides=["horizon=3"])
    assert cache_key("v1", other) != cache_key("v1", with_two)
    assert scenarios_key(cache_key("v1", other), other) != scenarios_key(
        cache_key("v1", with_two), with_two
    )


def test_scenario_digest_follows_content_not_modification_time(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(UAE.read_text(encoding="utf-8"), encoding="utf-8")
    cfg = _with_scenario(path)
    before = scenario_digest(cfg)
    path.touch()
    assert scenario_digest(cfg) == before
    assert scenario_digest(load_config(overrides=["scenarios=[]"])) != before


def test_source_hash_covers_yaml_and_templates(tmp_path, monkeypatch):
    # a project tree with one module, one YAML and one template
    for rel, text in {
        "configs/default.yaml": "horizon: 5\n",
        "flows/a.py": "X = 1\n",
        "reports/templates/report.html.j2": "<p>{{ x }}</p>\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    monkeypatch.setattr(cache_keys, "CODE_ROOT", tmp_path)
    base = cache_keys.source_hash()
    (tmp_path / "configs/default.yaml").write_text("horizon: 3\n")
    after_yaml = cache_keys.source_hash()
    (tmp_path / "reports/templates/report.html.j2").write_text("<p>{{ y }}</p>\n")
    after_template = cache_keys.source_hash()
    assert len({base, after_yaml, after_template}) == 3
    # bytecode caches do not count
    (tmp_path / "flows/__pycache__").mkdir()
    (tmp_path / "flows/__pycache__/a.cpython-311.pyc").write_bytes(b"\0")
    assert cache_keys.source_hash() == after_template
    # nor do scenario files (inputs: their contents key the scenarios stage, scenarios_key)
    (tmp_path / "configs/scenarios").mkdir()
    (tmp_path / "configs/scenarios/x.yaml").write_text("name: x\n")
    assert cache_keys.source_hash() == after_template


def test_data_logic_key_follows_features_and_models_only(tmp_path, monkeypatch):
    for rel in ("features/a.py", "models/b.py", "flows/c.py", "configs/d.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("X = 1\n")
    monkeypatch.setattr(cache_keys, "CODE_ROOT", tmp_path)
    key = cache_keys.data_logic_key("v1")
    (tmp_path / "flows/c.py").write_text("X = 2\n")
    (tmp_path / "configs/d.yaml").write_text("X: 2\n")
    assert cache_keys.data_logic_key("v1") == key  # config and orchestration: same key
    (tmp_path / "models/b.py").write_text("X = 2\n")
    assert cache_keys.data_logic_key("v1") != key
    assert cache_keys.data_logic_key("v2") != cache_keys.data_logic_key("v1")


def test_code_version_ignores_scenario_files_but_not_code(tmp_path, monkeypatch):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                        "user.email=t@t", *args], check=True, capture_output=True)  # fmt: skip

    for rel in ("flows/a.py", "configs/scenarios/s.yaml", "configs/default.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x: 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    monkeypatch.setattr(cache_keys, "CODE_ROOT", tmp_path.resolve())
    monkeypatch.setattr(cache_keys, "code_version", cache_keys.code_version.__wrapped__)
    clean = cache_keys.code_version()
    assert "+" not in clean
    (tmp_path / "configs/scenarios/s.yaml").write_text("x: 2\n")  # an edited scenario
    (tmp_path / "configs/scenarios/new.yaml").write_text("x: 3\n")  # and a new one
    assert cache_keys.code_version() == clean
    (tmp_path / "configs/default.yaml").write_text("x: 2\n")  # a config default is code
    assert cache_keys.code_version().startswith(clean + "+dirty.")


def test_a_moved_cache_folder_is_computed_again_not_misread(tmp_path, prefect_harness):
    """A record names its result by absolute path; a moved folder's records are not used."""
    import shutil

    from prefect import flow, task
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

    calls: list[int] = []

    @task(cache_policy=cache_keys.RUN_CACHE)
    def double(x: int, *, cache_key: str | None) -> int:
        calls.append(x)
        return 2 * x

    @flow
    def twice(x: int) -> int:
        return double(x, cache_key="k")

    first, moved = tmp_path / "cache", tmp_path / "renamed"
    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: first}):
        assert twice(3) == 6
        assert twice(3) == 6  # from the cache
    assert calls == [3]
    assert (cache_keys.records_dir(first) / "double-k").is_file()
    shutil.move(first, moved)
    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: moved}):
        assert twice(3) == 6  # computed again: the old records point into the old folder
        assert twice(3) == 6
    assert calls == [3, 3]
    assert cache_keys.records_dir(moved).name != cache_keys.records_dir(first).name
