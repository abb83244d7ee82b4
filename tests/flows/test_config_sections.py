"""The config sections added for tracking, schedules and the cache."""

import pytest

from exportcast.configs import ConfigError, load_config


def test_defaults_schedule_monthly_in_seoul_cache_on_tracking_from_environment():
    cfg = load_config()
    assert (cfg.schedule.cron, cfg.schedule.timezone) == ("0 6 1 * *", "Asia/Seoul")
    assert cfg.cache.enabled is True
    assert str(cfg.cache.dir) == ".exportcast-cache"
    assert cfg.tracking.uri is None
    assert cfg.tracking.experiment.format(reporter=cfg.reporter) == "exportcast-KOR"


@pytest.mark.parametrize(
    "cron",
    ["0 6 1 * *", "*/15 0-6 1,15 jan-mar mon-fri", "30 23 28 2 0", "0 0 * * 7"],
)
def test_valid_cron_expressions_are_accepted(cron):
    assert load_config(overrides=[f"schedule.cron='{cron}'"]).schedule.cron == cron


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 6 1 *", "5 fields"),
        ("0 6 1 * * *", "5 fields"),
        ("60 6 1 * *", "minute '60'"),
        ("0 24 1 * *", "hour '24'"),
        ("0 6 0 * *", "day of month '0'"),
        ("0 6 1 13 *", "month '13'"),
        ("0 6 1 * funday", "day of week 'funday'"),
        ("*/0 6 1 * *", "minute '*/0'"),
        ("@monthly", "5 fields"),
    ],
)
def test_bad_cron_is_named_with_the_field(cron, words):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[f"schedule.cron='{cron}'"])
    assert "key 'schedule.cron'" in str(err.value)
    assert words in str(err.value)


def test_unknown_timezone_is_refused():
    with pytest.raises(ConfigError, match=r"key 'schedule.timezone': expected an IANA time zone"):
        load_config(overrides=["schedule.timezone=Asia/Busan"])
    assert load_config(overrides=["schedule.timezone=UTC"]).schedule.timezone == "UTC"


def test_tracking_uri_with_password_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["tracking.uri=https://alice:hunter2@mlflow.example.org"])
    message = str(err.value).split(": key ", 1)[1]  # what follows the file and --set echo
    assert "MLFLOW_TRACKING_PASSWORD" in message
    assert "hunter2" not in message


def test_experiment_name_may_only_use_the_reporter_field():
    # accepted as written: no field, or the reporter field (filled in when the run is named)
    assert load_config(overrides=["tracking.experiment=kor-trade"]).tracking.experiment == (
        "kor-trade"
    )
    named = load_config(overrides=["tracking.experiment=trade-{reporter}"])
    assert named.tracking.experiment == "trade-{reporter}"
    for bad in ("exportcast-{country}", "exportcast-{reporter", "exportcast-{}", "' '"):
        with pytest.raises(ConfigError, match="at most the field"):
            load_config(overrides=[f"tracking.experiment={bad}"])


def test_unknown_keys_in_new_sections_are_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(overrides=["schedule.crn=0 6 1 * *"])
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(overrides=["cache.path=/tmp"])
