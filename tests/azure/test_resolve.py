"""Every target form against the emulator, and the errors for the wrong ones."""

from __future__ import annotations

import json

from tests.azure.conftest import SUB


def vm_row(result) -> str:
    checks = {r["name"]: r for r in json.loads(result.stdout)["checks"]}
    return checks["vm"]["found"]


def test_resource_group_and_name(azure):
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert vm_row(result).startswith("prod-rg/web1 in westeurope")


def test_name_option_and_case_insensitive_group(azure):
    result = azure.cli("doctor", "--json", "-g", "PROD-RG", "-n", "web1")
    assert result.returncode == 0, result.stderr


def test_bare_name_found_across_the_subscription_with_paging(azure):
    result = azure.cli("doctor", "--json", "lockedvm")  # listed on a later page (page size 2)
    assert "locked-rg/lockedvm" in vm_row(result)
    assert any("skiptoken" in r["url"] for r in azure.requests)


def test_ambiguous_name_lists_the_candidates(azure):
    result = azure.cli("doctor", "dup")
    assert result.returncode == 2
    assert b"2 VMs are named 'dup'" in result.stderr
    assert b"-g prod-rg dup" in result.stderr and b"-g other-rg dup" in result.stderr


def test_resource_id(azure):
    rid = f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/web1"
    result = azure.cli("doctor", "--json", rid, AZURE_SUBSCRIPTION_ID=None)
    assert result.returncode == 0, result.stderr
    assert "prod-rg/web1" in vm_row(result)


def test_scale_set_instance_forms(azure):
    for args in (["-g", "prod-rg", "set1/0"], ["-g", "prod-rg", "set1", "--instance-id", "0"], ["set1/0"],
                 [f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/"
                  "virtualMachineScaleSets/set1/virtualMachines/0"]):
        result = azure.cli("doctor", "--json", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "prod-rg/set1/0" in vm_row(result) and "scale-set instance" in vm_row(result)


def test_scale_set_without_an_instance_says_how_to_pick_one(azure):
    for args in (["-g", "prod-rg", "set1"], ["set1"]):
        result = azure.cli("doctor", *args)
        assert result.returncode == 2, result.stderr
        assert b"'set1' is a virtual machine scale set, not a VM" in result.stderr
        assert b"set1/ID" in result.stderr and b"instances: 0, 1" in result.stderr


def test_flexible_scale_set_instances_are_vms(azure):
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "flex1/a1b2")
    assert result.returncode == 0, result.stderr
    assert "prod-rg/flex1_a1b2" in vm_row(result)


def test_missing_vm_exits_4_with_the_arm_code(azure):
    result = azure.cli("connect", "-g", "prod-rg", "nosuchvm")
    assert result.returncode == 4
    assert b"ResourceNotFound" in result.stderr


def test_reader_without_the_connect_action_is_warned_then_refused_by_the_connect_call(azure):
    from tests.azure.conftest import READER

    result = azure.cli("connect", "-g", "prod-rg", "web1", AZURE_CLIENT_ID=READER,
                       AZURE_CLIENT_SECRET="reader-secret-value")
    # The permissions API is only a hint (PIM and conditions fool it): a warning, then ARM decides.
    assert result.returncode == 5
    assert b"warning: permission" in result.stderr and b"az role assignment create" in result.stderr
    assert b"AuthorizationFailed" in result.stderr


def test_missing_role_exits_5(azure_with):
    from tests.azure.conftest import WORLD

    world = {**WORLD, "role_assignments": [{"principal": "oid-admin", "scope": "/subscriptions/none",
                                            "actions": ["*"]}]}
    azure = azure_with(**world)
    result = azure.cli("connect", "-g", "prod-rg", "web1")
    assert result.returncode == 5
    assert b"AuthorizationFailed" in result.stderr and b"Virtual Machine Contributor" in result.stderr


def test_disabled_console_exits_6(azure):
    from tests.azure.conftest import SUB_DISABLED

    result = azure.cli("connect", "vm2", "--subscription", SUB_DISABLED)
    assert result.returncode == 6
    assert b"disabled for the subscription" in result.stderr and b"sercon enable" in result.stderr


def test_unknown_subscription_exits_4(azure):
    result = azure.cli("doctor", "web1", "--subscription", "00000000-0000-4000-8000-00000000dead")
    assert result.returncode == 4
    assert b"SubscriptionNotFound" in result.stderr


def test_subscription_from_the_azure_cli_profile(azure, tmp_path):
    azure_dir = tmp_path / "azcli"
    azure_dir.mkdir()
    (azure_dir / "azureProfile.json").write_text(json.dumps({"subscriptions": [
        {"id": "other", "isDefault": False}, {"id": SUB, "isDefault": True}]}), encoding="utf-8-sig")
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1", AZURE_SUBSCRIPTION_ID=None,
                       AZURE_CONFIG_DIR=str(azure_dir))
    assert result.returncode == 0, result.stderr


def test_no_subscription_at_all_is_a_usage_error(azure):
    result = azure.cli("doctor", "-g", "prod-rg", "web1", AZURE_SUBSCRIPTION_ID=None)
    assert result.returncode == 2
    assert b"no Azure subscription given" in result.stderr


def test_profile_names_an_azure_vm(azure, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[profiles.web]\nresource_group = "prod-rg"\nname = "web1"\n')
    result = azure.cli("doctor", "--json", "web", SERCON_CONFIG=str(config))
    assert result.returncode == 0, result.stderr
    assert "prod-rg/web1" in vm_row(result)


def test_connect_runs_the_blocking_checks_first(azure):
    blocked = azure.cli("connect", "-g", "prod-rg", "dealloc1")
    assert blocked.returncode == 6
    assert b"power: VM deallocated" in blocked.stderr and b"az vm start -g prod-rg -n dealloc1" in blocked.stderr
    healthy = azure.cli("connect", "-g", "prod-rg", "web1")  # no terminal: stdin's end ends the session
    assert healthy.returncode == 0, healthy.stderr


def test_names_that_would_change_the_arm_path_are_refused_before_any_call(azure):
    before = len(azure.requests)
    for args in (("-g", "prod-rg", "echo?x=1"), ("-g", "prod-rg", "web1/../../x"), ("-g", "rg#frag", "web1"),
                 ("-g", "prod rg", "web1"), ("--subscription", "sub/../x", "-g", "prod-rg", "web1")):
        result = azure.cli("doctor", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert b"not a" in result.stderr and b"fix:" in result.stderr
    assert len(azure.requests) == before
