import pytest

from sercon.errors import UsageError
from sercon.sysrq import parse_keys


def test_names_keys_and_macros():
    assert parse_keys("h") == ["h"]
    assert parse_keys("help") == ["h"]
    assert parse_keys("sync,reboot") == ["s", "b"]
    assert parse_keys("reisub") == list("reisub")
    assert parse_keys("S,u,B") == ["s", "u", "b"]


def test_a_mistyped_name_is_never_sent_as_keys():
    with pytest.raises(UsageError) as info:
        parse_keys("reboto")
    assert "did you mean 'reboot'" in info.value.message


@pytest.mark.parametrize("bad", ["a", "hy", "", "reboot,nonsense", "!", "sub"])
def test_bad_keys_are_refused(bad):
    with pytest.raises(UsageError):
        parse_keys(bad)
