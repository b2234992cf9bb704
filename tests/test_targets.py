import pytest

from sercon.config import Config
from sercon.errors import UsageError
from sercon.targets import AzureTarget, LineSettings, SerialTarget, resolve_target

PROFILES = Config(default="board", profiles={
    "board": {"device": "/dev/ttyUSB0", "baud": 9600, "escape": "ctrl-t"},
    "web1": {"resource_group": "prod-rg", "name": "web1"},
})


def resolve(spec, environ=None, config=PROFILES, **options):
    return resolve_target(spec, options, environ or {}, config)


def test_device_and_urls_are_local():
    for spec in ("/dev/ttyS0", "COM3", "socket://h:1", "loop://", "spy:///dev/x"):
        target, _ = resolve(spec)
        assert target == SerialTarget(spec, LineSettings())


def test_line_options_apply():
    target, _ = resolve("/dev/ttyS0", baud=9600, parity="even", databits=7, stopbits=2.0, flow="rtscts")
    assert target.line == LineSettings(9600, 7, "E", 2.0, "rtscts")
    assert target.line.describe() == "9600 7E2 rtscts"


def test_order_argument_env_config_default():
    assert resolve("/dev/a", {"SERCON_TARGET": "/dev/b"})[0].url == "/dev/a"
    assert resolve(None, {"SERCON_TARGET": "/dev/b"})[0].url == "/dev/b"
    target, prefs = resolve(None)
    assert target.url == "/dev/ttyUSB0" and target.profile == "board" and target.line.baud == 9600
    assert prefs == {"escape": "ctrl-t"}


def test_command_line_beats_profile():
    target, prefs = resolve("board", baud=115200, escape="^A")
    assert target.line.baud == 115200 and prefs["escape"] == "^A"


def test_no_target_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        resolve(None, config=Config())
    assert "SERCON_TARGET" in (info.value.hint or "")


def test_azure_forms():
    assert resolve("web1")[0] == AzureTarget("web1", "prod-rg", profile="web1")
    assert resolve("vm2", resource_group="rg")[0] == AzureTarget("vm2", "rg")
    assert resolve("set/3", resource_group="rg")[0] == AzureTarget("set", "rg", instance_id="3")
    rid = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/4"
    assert resolve(rid)[0] == AzureTarget("ss", "RG", "S", "4")


def test_bad_line_settings():
    with pytest.raises(UsageError):
        resolve("/dev/x", parity="sideways")
    with pytest.raises(UsageError):
        resolve("/dev/x", databits=9)


def test_environment_may_name_an_azure_vm_when_profiles_exist():
    target, _ = resolve(None, {"SERCON_TARGET": "db7"})
    assert target == AzureTarget("db7")


def test_a_typo_of_a_profile_is_not_taken_for_an_azure_vm():
    from sercon.errors import TargetNotFound

    with pytest.raises(TargetNotFound) as info:
        resolve("boardd")
    assert info.value.message == "no profile or device named 'boardd'; did you mean 'board'?"
    assert "-n boardd" in (info.value.hint or "")
    assert info.value.exit_status == 4
    with pytest.raises(TargetNotFound):
        resolve(None, {"SERCON_TARGET": "Board"})


def test_an_azure_vm_may_still_be_named_like_a_profile():
    assert resolve(None, name="boardd")[0] == AzureTarget("boardd")
    assert resolve("boardd", resource_group="rg")[0] == AzureTarget("boardd", "rg")
    assert resolve("web2")[0] == AzureTarget("web2")  # close to web1, but VM names often differ by a digit
    assert resolve("set/3")[0] == AzureTarget("set", instance_id="3")


def test_a_name_with_spaces_is_no_vm_name():
    with pytest.raises(UsageError) as info:
        resolve("uname -a", config=Config())
    assert "is not a device, URL, profile, VM name or resource ID" in info.value.message


SEND_CASES = [
    # (positionals, options, SERCON_TARGET, expected (target spec, text))
    (("/dev/ttyS0", "ls"), {}, None, ("/dev/ttyS0", ("ls",))),
    (("board", "ls"), {}, "/dev/x", ("board", ("ls",))),
    (("uname -a",), {}, "/dev/x", (None, ("uname -a",))),  # not a target: all TEXT, to the default
    (("uname -a", "echo"), {}, "/dev/x", (None, ("uname -a", "echo"))),
    (("-",), {}, "/dev/x", (None, ("-",))),
    (("web2", "uname -a"), {}, "/dev/x", ("web2", ("uname -a",))),  # a VM name: still the target
    (("echo hi",), {"name": "web1"}, None, (None, ("echo hi",))),  # -n names the target
    (("web1", "x"), {"name": "web1"}, None, (None, ("web1", "x"))),
    (("ls",), {"target": "/dev/y"}, "/dev/x", ("/dev/y", ("ls",))),  # -t: every positional is TEXT
    ((), {}, "/dev/x", (None, ())),
]


@pytest.mark.parametrize("args, options, default, expected", SEND_CASES)
def test_send_splits_target_and_text(args, options, default, expected):
    from sercon.targets import split_send_args

    environ = {"SERCON_TARGET": default} if default else {}
    assert split_send_args(args, options, environ, Config(profiles=PROFILES.profiles)) == expected


def test_send_text_without_any_target_is_a_usage_error():
    from sercon.targets import split_send_args

    with pytest.raises(UsageError) as info:
        split_send_args(("uname -a",), {}, {}, Config())
    assert "no target given" in info.value.message and "-t TARGET" in (info.value.hint or "")


def test_config_default_counts_as_a_default_target():
    from sercon.targets import split_send_args

    assert split_send_args(("uname -a",), {}, {}, PROFILES) == (None, ("uname -a",))


def _cli_env_without_azure(tmp_path, **extra):
    from tests.conftest import cli_env

    env = cli_env(AZURE_CONFIG_DIR=str(tmp_path / "no-azure-cli"), **extra)
    env.pop("AZURE_SUBSCRIPTION_ID", None)
    return env


def test_connect_to_a_mistyped_profile_exits_4(tmp_path):
    from tests.conftest import call_cli

    config = tmp_path / "config.toml"
    config.write_text('[profiles.board]\ndevice = "/dev/ttyUSB0"\n')
    result = call_cli("connect", "boardd", env=_cli_env_without_azure(tmp_path, SERCON_CONFIG=str(config)))
    assert result.returncode == 4, result.stderr
    assert b"no profile or device named 'boardd'; did you mean 'board'?" in result.stderr
    assert b"subscription" not in result.stderr


def test_a_bare_name_without_any_subscription_says_how_it_was_taken(tmp_path):
    from tests.conftest import call_cli

    result = call_cli("connect", "myboard", env=_cli_env_without_azure(tmp_path))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "'myboard' is not a device, URL or profile, so it was taken as an Azure VM name" in err
    assert "no Azure subscription given" in err
    assert "/dev/" in err and "[profiles.myboard]" in err and "--subscription" in err


def test_a_bare_name_of_a_terminal_in_dev_is_the_device_mistyped(device):
    """`pts/3` for /dev/pts/3 (as `ttyUSB0` for /dev/ttyUSB0): the device, not an Azure scale-set instance."""
    from sercon.errors import TargetNotFound

    bare = device.path.removeprefix("/dev/")
    with pytest.raises(TargetNotFound) as info:
        resolve(bare, config=Config())
    assert f"did you mean '{device.path}'?" in info.value.message and "-n " in info.value.hint
    assert resolve(bare, resource_group="rg", config=Config())[0] == AzureTarget("pts", "rg", instance_id=bare[4:])


def test_a_serial_device_s_usual_name_is_the_device_even_when_unplugged():
    from sercon.errors import TargetNotFound

    with pytest.raises(TargetNotFound) as info:
        resolve("ttyUSB9", config=Config())
    assert "did you mean '/dev/ttyUSB9'?" in info.value.message and "sercon list" in info.value.hint
    assert resolve("ttyUSB9", resource_group="rg")[0] == AzureTarget("ttyUSB9", "rg")  # said to be a VM
    assert resolve("null", config=Config())[0] == AzureTarget("null")  # /dev/null is no terminal


@pytest.mark.parametrize("spec, url", [("127.0.0.1:4555", "telnet://127.0.0.1:4555"),
                                       ("console-server:7001", "telnet://console-server:7001"),
                                       ("[::1]:4555", "telnet://[::1]:4555")])
def test_host_and_port_are_a_url_without_its_scheme(spec, url):
    from sercon.targets import split_send_args

    for call in (lambda: resolve(spec, config=Config()), lambda: split_send_args((spec, "ls"), {}, {}, Config()),
                 lambda: split_send_args((spec, "ls"), {}, {"SERCON_TARGET": "/dev/x"}, Config())):
        with pytest.raises(UsageError) as info:
            call()
        assert f"did you mean {url}?" in info.value.message and "socket://" in info.value.hint, info.value.message


@pytest.mark.parametrize("baud, nearest", [(11520, 115200), (9601, 9600), (96000, 9600), (112500, 115200), (1152, 1200),
                                           (3, 50), (10**9, 4000000)])
def test_a_rate_that_is_no_standard_one_names_the_nearest(baud, nearest):
    from sercon.targets import baud_warning

    assert f"did you mean {nearest}?" in baud_warning(baud)


@pytest.mark.parametrize("baud", [9600, 115200, 1500000, 74880, 250000])
def test_standard_and_well_known_rates_pass_without_a_word(baud):
    from sercon.targets import baud_warning

    assert baud_warning(baud) is None


def test_an_odd_rate_is_warned_about_and_still_used_unless_exact(tmp_path):
    from tests.conftest import call_cli, cli_env

    warned = call_cli("send", "loop://", "hi", "--expect", "hi", "-b", "11520")
    assert warned.returncode == 0, warned.stderr  # a warning, never a refusal
    assert b"warning: 11520 baud is not a standard rate; did you mean 115200?" in warned.stderr
    assert b"--baud-exact" in warned.stderr
    exact = call_cli("send", "loop://", "hi", "--expect", "hi", "-b", "11520", "--baud-exact")
    assert exact.returncode == 0 and b"warning" not in exact.stderr, exact.stderr
    config = tmp_path / "config.toml"
    config.write_text('[profiles.odd]\nurl = "loop://"\nbaud = 11520\nbaud_exact = true\n')
    profile = call_cli("send", "odd", "hi", "--expect", "hi", env=cli_env(SERCON_CONFIG=str(config)))
    assert profile.returncode == 0 and b"warning" not in profile.stderr, profile.stderr
