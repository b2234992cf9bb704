from pathlib import Path

import pytest

from sercon.config import config_path, load_config
from sercon.errors import UsageError


def test_config_path_order(tmp_path):
    assert config_path({"SERCON_CONFIG": "/x.toml", "XDG_CONFIG_HOME": "/y"}) == Path("/x.toml")
    assert config_path({"XDG_CONFIG_HOME": "/y"}) == Path("/y/sercon/config.toml")
    assert config_path({"HOME": "/h"}) == Path("/h/.config/sercon/config.toml")


def test_missing_file_is_empty(tmp_path):
    config = load_config(tmp_path / "none.toml")
    assert config.default is None and config.profiles == {}


def test_profiles_load(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('default = "board"\n[profiles.board]\ndevice = "/dev/ttyUSB0"\nbaud = 9600\n')
    config = load_config(path)
    assert config.default == "board"
    assert config.profiles["board"] == {"device": "/dev/ttyUSB0", "baud": 9600}


@pytest.mark.parametrize("text, words", [
    ("[profiles.b]\nbaud = 'fast'\n", "wrong type"),
    ("[profiles.b]\nspeed = 1\n", "unknown key"),
    ("colour = 1\n", "unknown key"),
    ("default = [\n", "cannot read"),
])
def test_bad_config_is_a_usage_error(tmp_path, text, words):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert words in info.value.message and str(path) in info.value.message
