"""``years.end`` follows the data: ``latest`` resolves per vintage, a given year is checked."""

from __future__ import annotations

import pandas as pd
import pytest

from exportcast.configs import ConfigError, config_hash, load_config
from exportcast.flows.update import run_update
from exportcast.flows.years import (
    last_year_in_folder,
    resolve_last_year,
    resolve_run_years,
    years_params,
)
from tests.updates.conftest import SNAPSHOT, long_file


def _kor() -> pd.DataFrame:
    return pd.read_parquet(SNAPSHOT / "kor_exports.parquet")


def test_latest_is_the_data_last_year_and_a_given_year_wins():
    assert resolve_last_year("latest", 2024, reporter="KOR", start=1990, where="t") == 2024
    assert resolve_last_year(2020, 2024, reporter="KOR", start=1990, where="t") == 2020


def test_a_year_after_the_data_names_key_table_vintage_and_expectation():
    with pytest.raises(ConfigError) as err:
        resolve_last_year(2025, 2024, reporter="KOR", start=1990, where="kor_exports of v1")
    text = str(err.value)
    assert "key 'years.end': 2025 is after the last year of KOR's exports" in text
    assert "kor_exports of v1 (2024)" in text and "or 'latest'" in text
    with pytest.raises(ConfigError, match=r"not after years\.start = 2024"):
        resolve_last_year("latest", 2024, reporter="KOR", start=2024, where="t")


def test_default_run_on_the_embedded_snapshot_resolves_to_2023_with_the_same_hash():
    latest = load_config(scenarios=False)
    given = load_config(overrides=["years.end=2023"], scenarios=False)
    resolved, years = resolve_run_years(latest, _kor(), vintage="v", name="kor_exports")
    assert resolved.years.end == 2023 and years.configured == "latest"
    assert years.as_dict() == {
        "configured": "latest", "resolved": 2023, "data_last_year": 2023, "vintage": "v"
    }  # fmt: skip
    # the same computation as asking for 2023: same config hash, so the same cache key
    assert config_hash(resolved) == config_hash(given) != config_hash(latest)
    assert years_params(years.as_dict()) == {"years.end_configured": "latest"}


def test_a_dots_reporter_resolves_to_its_own_last_year():
    assert last_year_in_folder(SNAPSHOT, "KOR") == 2023
    assert last_year_in_folder(SNAPSHOT, "USA") == 2020
    assert last_year_in_folder(SNAPSHOT, "ZZZ") is None
    usa = pd.read_parquet(SNAPSHOT / "dots_exports.parquet")
    usa = usa.loc[usa["reporter"] == "USA"]
    cfg = load_config(overrides=["reporter=USA", "dependence_set=[CHN]"], scenarios=False)
    assert resolve_run_years(cfg, usa, vintage="v", name="dots_exports")[0].years.end == 2020
    pinned = cfg.model_copy(update={"years": cfg.years.model_copy(update={"end": 2023})})
    with pytest.raises(ConfigError, match="2023 is after the last year of USA's exports"):
        resolve_run_years(pinned, usa, vintage="v", name="dots_exports")


def test_after_an_update_latest_is_the_new_year_for_the_scenarios_too(data_cfg, kor_2023):
    rows = kor_2023.assign(year=2024, export_usd=kor_2023["export_usd"] * 1.05)  # test data
    long_file(data_cfg.inbox_dir / "kor_2024_synthetic_test_release.csv", rows)
    new = run_update(data_cfg, log=lambda _: None).active
    folder = data_cfg.vintages_dir / new
    assert last_year_in_folder(folder, "KOR") == 2024
    store = [f"data.vintages_dir={data_cfg.vintages_dir}"]
    # scenarios are checked at load against the vintage, with origin = the resolved year:
    # the UAE entry in 2025 is after 2024 (valid), an entry in 2024 is not
    load_config(overrides=store)
    bad = data_cfg.inbox_dir / "uae_2024.yaml"
    bad.write_text(
        "name: uae_2024\ntitle: t\nchanges:\n  fta:\n    - {partner: ARE, agreement: KUAECEPA, "
        "action: enter, year: 2024}\n"
    )
    with pytest.raises(ConfigError, match="2024 must be after the origin 2024"):
        load_config(overrides=[*store, f"scenarios=[{bad}]"])
    # on the embedded snapshot (empty store) the origin is 2023 and the same file is valid
    empty = f"data.vintages_dir={data_cfg.inbox_dir / 'no-store'}"
    assert load_config(overrides=[empty, f"scenarios=[{bad}]"]).years.end == "latest"
