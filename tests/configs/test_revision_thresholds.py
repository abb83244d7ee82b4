"""The revision thresholds of 'What changed since the last run' are validated config keys."""

from __future__ import annotations

import pytest

from exportcast.configs import load_config
from exportcast.configs.loader import ConfigError


def test_defaults_are_five_percent_and_fifty_million():
    report = load_config().report
    assert (report.revision_pct, report.revision_usd) == (5.0, 50e6)
    tuned = load_config(overrides=["report.revision_pct=2.5", "report.revision_usd=1e7"]).report
    assert (tuned.revision_pct, tuned.revision_usd) == (2.5, 1e7)


@pytest.mark.parametrize(
    ("override", "key"),
    [("report.revision_pct=0", "revision_pct"), ("report.revision_pct=150", "revision_pct"),
     ("report.revision_usd=-1", "revision_usd"), ("report.revision_usd=lots", "revision_usd")],
)  # fmt: skip
def test_bad_thresholds_name_the_key(override, key):
    with pytest.raises(ConfigError, match=f"report.{key}"):
        load_config(overrides=[override])
