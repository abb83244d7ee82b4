from pathlib import Path

import pytest

from exportcast.configs.loader import ConfigError, load_config, load_scenario
from exportcast.configs.schema_scenario import ScenarioConfig

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "configs" / "scenarios").glob("*.yaml"))
BAD = ROOT / "tests" / "data" / "bad" / "scenarios"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    # with the snapshot: every partner must have a series of its own at the origin
    cfg = load_config()
    scenario = load_scenario(
        path,
        snapshot_dir=cfg.data.snapshot_dir,
        min_years=cfg.forecast.min_years,
        default_origin=cfg.years.end,
    )
    assert isinstance(scenario, ScenarioConfig)
    assert scenario.changes.fta or scenario.changes.gdp_shocks


def test_the_default_run_has_the_cambodia_and_uae_scenarios():
    cfg = load_config()
    assert {p.name for p in cfg.scenarios} == {"cambodia_fta.yaml", "uae_cepa.yaml"}
    khm = load_scenario(cfg.scenarios[0], default_origin=cfg.years.end)
    assert khm.origin == 2021
    assert khm.changes.fta[0].agreement == "KKFTA"


@pytest.mark.parametrize(
    ("file", "key", "words"),
    [
        ("unknown_key.yaml", "changes.fta.0.yaer", "unknown key"),
        ("bad_iso3.yaml", "changes.fta.0.partner", "ISO 3166-1 alpha-3"),
        ("action_typo.yaml", "changes.fta.0.action", "'enter' or 'leave'"),
        ("agreement_not_in_table.yaml", "changes.fta.0.agreement", "not in the FTA table"),
        ("origin_beyond_data.yaml", "origin", "after the last year of the trade data"),
        ("year_before_origin.yaml", "changes.fta.0.year", "must be after the origin"),
        ("partner_not_modelled.yaml", "changes.gdp_shocks.0.partner", "no series of its own"),
        ("shock_end_before_start.yaml", "changes.gdp_shocks.0", "must not be before start"),
    ],
)
def test_bad_scenario_error_names_file_and_key(file, key, words):
    path = BAD / file
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f"key '{key}'" in msg
    assert words in msg


def test_agreement_check_needs_the_partners_own_row(tmp_path):
    # KKFTA exists in the table, but for Cambodia only
    text = (BAD / "agreement_not_in_table.yaml").read_text().replace("KHM", "VNM")
    path = tmp_path / "vnm_kkfta.yaml"
    path.write_text(text.replace("KUAECEPA", "KKFTA"))
    with pytest.raises(ConfigError, match=r"key 'changes.fta.0.agreement'.*VNM"):
        load_scenario(path)


def test_run_config_validates_its_scenario_files(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"scenarios: [{BAD / 'action_typo.yaml'}]\n")
    with pytest.raises(ConfigError, match=r"action_typo.yaml: key 'changes.fta.0.action'"):
        load_config(cfg)
    cfg.write_text(f"scenarios: [{tmp_path / 'nope.yaml'}]\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(cfg) in str(err.value)
    assert "key 'scenarios.0'" in str(err.value)


def test_scenario_origin_defaults_to_the_runs_last_year():
    uae = load_scenario(ROOT / "configs" / "scenarios" / "uae_cepa.yaml", default_origin=2023)
    assert uae.origin is None
    assert uae.origin_or(2023) == 2023
    # the change year is checked against the run's last year when the file has no origin
    with pytest.raises(ConfigError, match=r"changes\.fta\.0\.year"):
        load_scenario(ROOT / "configs" / "scenarios" / "uae_cepa.yaml", default_origin=2026)


def test_scenarios_with_a_reporter_other_than_korea_are_a_config_error():
    with pytest.raises(ConfigError, match=r"key 'scenarios'.*KOR only.*'JPN'.*scenarios=\[\]"):
        load_config(overrides=["reporter=JPN"])
    assert load_config(overrides=["reporter=JPN", "scenarios=[]"]).reporter == "JPN"
