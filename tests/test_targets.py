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
