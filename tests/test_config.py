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


@pytest.mark.parametrize("line, allowed", [
    ("paste_chunk = 0", "16"),
    ("paste_chunk = -5", "16"),
    ('log_format = "xml"', "text, jsonl"),
    ('resize = "maybe"', "auto, off"),
    ('escape = ""', "none"),
    ('escape = "xyz"', "ctrl-]"),
    ('log = ""', "path"),
    ('log = "\\u0000"', "path"),
    ('device = "/dev/\\u0000"', "path"),
    ('qmp = "\\u0000"', "path"),
    ("baud = 0", "115200"),
    ("databits = 9", "5, 6, 7, 8"),
    ("stopbits = 3", "1, 1.5, 2"),
    ('parity = "q"', "none, even"),
    ('flow = "q"', "none, rtscts, xonxoff"),
    ('cloud = "Mars"', "AzureCloud"),
    ('name = "x y"', "letters"),
    ('logout_sequence = "\\\\x"', "\\x04"),
    ('journal_size = "lots"', "16MiB"),
    ("journal_size = 1000", "64KiB"),
    ('journal_size = "0"', "16MiB"),
    ("journal = 1", "bool"),
    ("replay = -1", "0 to 100000"),
    ('replay = "5"', "int"),
])
def test_a_bad_value_names_the_file_the_key_and_what_it_takes(tmp_path, line, allowed):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.board]\nurl = "loop://"\n{line}\n')
    with pytest.raises(UsageError) as info:
        load_config(path)
    key = line.split(" ")[0]
    message = info.value.message
    assert str(path) in message and "'board'" in message and key in message, message
    assert allowed in info.value.hint, info.value.hint


def test_good_values_load(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[profiles.board]\ndevice = "/dev/ttyUSB0"\npaste_chunk = 16\nlog_format = "jsonl"\n'
                    'resize = "auto"\nescape = "^T"\nlog = "board.log"\nstopbits = 1.5\nparity = "E"\n'
                    'cloud = "AzureChinaCloud"\nlogout_sequence = "\\\\x04exit\\\\r"\nname = "web1"\n'
                    'journal = false\njournal_size = "1MiB"\nreplay = 20\njournal_input = true\n'
                    '[profiles.quiet]\nurl = "telnet://h:23"\nescape = "none"\nflow = "rtscts"\njournal_size = 65536\n')
    profiles = load_config(path).profiles
    assert profiles["board"]["journal_size"] == "1MiB" and profiles["quiet"]["journal_size"] == 65536
    assert profiles["board"]["paste_chunk"] == 16 and profiles["quiet"]["escape"] == "none"
