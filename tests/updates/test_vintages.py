"""The vintage store: default, pinned and active vintages; the config check; the CLI list."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from exportcast.configs import ConfigError, load_config
from exportcast.flows.cli import app
from exportcast.flows.snapshot import read_manifest
from exportcast.flows.update import run_update
from exportcast.flows.vintages import VintageError, activate, resolve_vintage, snapshot_folder
from tests.updates.conftest import SNAPSHOT, long_file

EMBEDDED = read_manifest(SNAPSHOT)["vintage"]


def test_without_a_store_the_embedded_snapshot_is_the_vintage(data_cfg):
    assert resolve_vintage(None, data_cfg.vintages_dir, SNAPSHOT) == (EMBEDDED, SNAPSHOT)
    assert snapshot_folder(data_cfg) == SNAPSHOT


def test_pinned_and_active_vintages(data_cfg, kor_2023):
    long_file(data_cfg.inbox_dir / "a.csv", kor_2023.assign(year=2024))
    new = run_update(data_cfg, log=lambda _: None).active
    assert snapshot_folder(data_cfg) == data_cfg.vintages_dir / new
    data_cfg.vintage = EMBEDDED  # pin the old one: a past run can be reproduced
    assert snapshot_folder(data_cfg) == SNAPSHOT
    activate(EMBEDDED, data_cfg.vintages_dir, SNAPSHOT)
    data_cfg.vintage = None
    assert snapshot_folder(data_cfg) == SNAPSHOT
    with pytest.raises(VintageError, match="unknown data vintage '0123456789ab'"):
        activate("0123456789ab", data_cfg.vintages_dir, SNAPSHOT)


def test_unknown_pinned_vintage_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(
            None, ["data.vintage=0123456789ab", f"data.vintages_dir={tmp_path}"], scenarios=False
        )
    text = str(err.value)
    assert "key 'data.vintage': unknown data vintage '0123456789ab'" in text
    assert EMBEDDED in text
    cfg = load_config(None, [f"data.vintage={EMBEDDED}"], scenarios=False)
    assert cfg.data.vintage == EMBEDDED


def test_vintages_command_lists_them(data_cfg, kor_2023):
    long_file(data_cfg.inbox_dir / "a.csv", kor_2023.assign(year=2024))
    new = run_update(data_cfg, log=lambda _: None).active
    result = CliRunner().invoke(
        app, ["vintages", "--set", f"data.vintages_dir={data_cfg.vintages_dir}"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{EMBEDDED} (embedded)" in result.output
    lines = result.output.splitlines()
    i = next(i for i, x in enumerate(lines) if new in x)
    assert "a.csv" in lines[i] and "active" in lines[i]
    assert "KOR 1990-2024" in lines[i + 1]


def test_update_command_says_how_to_use_the_new_year(data_cfg, kor_2023):
    long_file(data_cfg.inbox_dir / "a.csv", kor_2023.assign(year=2024))
    sets = [
        f"data.{k}={getattr(data_cfg, k)}" for k in ("vintages_dir", "inbox_dir", "quarantine_dir")
    ]
    result = CliRunner().invoke(
        app, ["update", *[a for s in sets for a in ("--set", s)]], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert f"is active (was {EMBEDDED})" in result.output
    assert "run with --set years.end=2024" in result.output
