import pytest
import yaml

from exportcast.configs import DEFAULT_CONFIG, ConfigError, RunConfig, config_hash, load_config


def test_default_config_is_korea_with_china_us_dependence():
    cfg = load_config()
    assert cfg.reporter == "KOR"
    assert cfg.dependence_set == ("CHN", "USA")
    assert cfg.data.source == "snapshot"
    assert (cfg.years.start, cfg.years.end) == (1990, 2023)


def test_override_changes_nested_value_and_parses_yaml():
    cfg = load_config(overrides=["years.start=2000", "dependence_set=[CHN]", "horizon=3"])
    assert cfg.years.start == 2000
    assert cfg.dependence_set == ("CHN",)
    assert cfg.horizon == 3


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("reportr: KOR\n", "reportr", "unknown key"),
        ("reporter: KORR\n", "reporter", "ISO 3166-1 alpha-3"),
        ("reporter: kor\n", "reporter", "upper case"),
        ("years: {start: 2020, end: 2010}\n", "years", "must be after start"),
        ("years: {start: 1800, end: 2010}\n", "years.start", "greater than or equal to 1950"),
        ("horizon: 0\n", "horizon", "greater than or equal to 1"),
        ("dependence_set: [CHN, XXX]\n", "dependence_set.1", "ISO 3166-1"),
        ("dependence_set: [KOR]\n", "dependence_set", "reporter"),
        ("data: {source: raw}\n", "data", "raw_dir"),
        ("data: {source: ftp}\n", "data.source", "'snapshot' or 'raw'"),
        ("output: {dri: x}\n", "output.dri", "unknown key"),
    ],
)
def test_bad_config_error_names_file_key_and_expectation(tmp_path, text, key, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f"key '{key}'" in msg
    assert words in msg


def test_missing_and_non_yaml_files_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("reporter: [KOR\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(lst)


def test_bad_override_is_named():
    with pytest.raises(ConfigError, match=r"--set horizon=abc.*key 'horizon'"):
        load_config(overrides=["horizon=abc"])
    with pytest.raises(ConfigError, match=r"expected key\.sub=value"):
        load_config(overrides=["horizon"])


def test_config_is_frozen_and_hash_tracks_content(tmp_path):
    cfg = load_config()
    with pytest.raises(ValueError):
        cfg.horizon = 3  # type: ignore[misc]
    # the same content written differently (another file, keys in reverse order, no comments;
    # an override that sets a value to what it is) hashes the same; another value does not
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False))
    assert config_hash(load_config(same)) == config_hash(cfg)
    assert config_hash(load_config(overrides=["horizon=5"])) == config_hash(cfg)
    assert config_hash(cfg) != config_hash(load_config(overrides=["horizon=3"]))
    assert isinstance(cfg, RunConfig)


def test_open_registries_are_excluded_by_default_and_the_key_is_validated():
    assert load_config().report.exclude_open_registries is True
    off = load_config(overrides=["report.exclude_open_registries=false"])
    assert off.report.exclude_open_registries is False
    with pytest.raises(ConfigError, match="exclude_open_registries"):
        load_config(overrides=["report.exclude_open_registries=sometimes"])
