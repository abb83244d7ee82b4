"""A run asked for a last year after the data stops with one clear error line (exit code 2)."""

from __future__ import annotations

from typer.testing import CliRunner

from exportcast.flows.cli import app
from tests.flows.helpers import FAST_ARGS


def test_a_years_end_after_the_data_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(
        app, ["run", *FAST_ARGS, "--set", "years.end=2030", "--set", f"output.dir={tmp_path}"],
        env={"COLUMNS": "300"},
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "error: key 'years.end': 2030 is after the last year of KOR's exports in" in text
    assert "data/snapshot/kor_exports.parquet of data vintage" in text
    assert "(2023); expected a year up to 2023, or 'latest'" in text
    assert not (tmp_path / "KOR" / "run.json").exists()
