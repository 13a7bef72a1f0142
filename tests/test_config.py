"""The configuration file: defaults, strict validation, clear errors with locations."""

import pytest

from device.config import Config, effective_toml, load_config, reference_markdown
from vocabulary.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("CRAMPWATCH_CONFIG", raising=False)
    config, path = load_config(None)
    assert config.bottle.rate_hz == 10
    assert config.dashboard.host == "127.0.0.1"
    assert path is None or path.name == "config.toml"


def test_a_valid_file_overrides_defaults(tmp_path):
    path = write(tmp_path, '[device]\nid = "bedroom"\ntimezone = "Europe/Berlin"\n[bottle]\nrate_hz = 80\n')
    config, used = load_config(path)
    assert used == path
    assert config.device.id == "bedroom"
    assert config.bottle.rate_hz == 80
    assert config.tz.key == "Europe/Berlin"


def test_unknown_keys_are_rejected_with_their_path_line_and_the_allowed_keys(tmp_path):
    path = write(tmp_path, "[bottle]\ndout_pin = 5\ncolour = 'blue'\n\n[extra]\nx = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    problems = err.value.problems
    assert any(f"{path}:3: bottle.colour: unknown key" in p and "dout_pin" in p for p in problems)
    assert any(f"{path}:5: extra: unknown key" in p for p in problems)


@pytest.mark.parametrize("text, key", [
    ("[bottle]\nrate_hz = 20\n", "bottle.rate_hz"),
    ("[bottle]\ngain = 100\n", "bottle.gain"),
    ("[bottle]\ndout_pin = 40\n", "bottle.dout_pin"),
    ('[device]\nid = "my device"\n', "device.id"),
    ('[device]\ntimezone = "Mars/Olympus"\n', "device.timezone"),
    ("[dashboard]\nport = 0\n", "dashboard.port"),
    ('[logging]\nlevel = "LOUD"\n', "logging.level"),
    ("[bottle]\ndout_pin = 5\npd_sck_pin = 5\n", "bottle"),
])
def test_each_bad_value_names_its_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(f": {key}: " in p for p in err.value.problems), err.value.problems


def test_invalid_toml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "[bottle]\nrate_hz = = 3\n")
    with pytest.raises(ConfigError, match=r"invalid TOML.*line 2"):
        load_config(path)


def test_an_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_search_path_uses_the_environment_variable(monkeypatch, tmp_path):
    path = write(tmp_path, '[device]\nid = "kitchen"\n')
    monkeypatch.setenv("CRAMPWATCH_CONFIG", str(path))
    config, used = load_config(None)
    assert (config.device.id, used) == ("kitchen", path)


def test_effective_toml_round_trips(tmp_path):
    config = Config.model_validate({"device": {"id": "x", "data_dir": "/tmp/x"}, "bottle": {"gain": 64}})
    again, _ = load_config(write(tmp_path, effective_toml(config)))
    assert again == config


def test_reference_lists_every_setting():
    text = reference_markdown()
    for section, field in Config.model_fields.items():
        for name in field.annotation.model_fields:
            assert f"`{section}.{name}`" in text


def test_readme_configuration_reference_is_current():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert reference_markdown() in readme, "regenerate README's reference: crampwatch check-config --reference"


def test_a_gpio_used_by_two_parts_is_an_error(tmp_path):
    path = write(tmp_path, "[bed]\nbutton_pin = 5\n")
    with pytest.raises(ConfigError, match=r"GPIO5 is used twice: bottle.dout_pin and bed.button_pin"):
        load_config(path)
