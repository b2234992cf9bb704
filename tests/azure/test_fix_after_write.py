"""`sercon doctor --fix` once its write has gone out: answers sercon cannot read, an operation Azure
gives no way to follow, and a firewall another client changes between sercon's read and its write."""

from __future__ import annotations

import json

import pytest

from tests.azure.conftest import EUROPE_IPS
from tests.support.fix import fix, rows, spawn
from tests.support.waiting import wait_for


def test_an_unreadable_retry_after_on_a_poll_waits_the_default_and_the_fix_goes_on(azure_with):
    azure = azure_with(faults=[{"match": "/operations/", "method": "GET", "status": 503, "count": 1,
                                "retry_after": "soon"}])
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    assert [f["status"] for f in report["fixes"]] == ["applied"], report["fixes"]
    assert result.returncode == 0, result.stderr
    assert b"unexpected error" not in result.stderr


@pytest.mark.parametrize("body", ["[1]", "<html>gateway</html>"])
def test_a_status_that_is_no_json_object_is_accepted_and_says_what_was_sent(azure_with, body):
    azure = azure_with(faults=[{"match": "/operations/", "method": "GET", "status": 200, "count": -1,
                                "body": body}])
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    assert b"unexpected error" not in result.stderr, result.stderr
    [outcome] = report["fixes"]
    assert outcome["status"] == "accepted", outcome
    assert outcome["detail"].startswith("starting VM prod-rg/dealloc1: its status could not be read"), outcome
    assert "sent, and Azure has not confirmed it yet" in outcome["detail"]
    assert rows(report["checks"])["power"]["status"] != "ok"
    assert result.returncode == 3, result.stderr


def test_a_202_with_no_url_to_follow_is_accepted_not_done(azure_with):
    """The start is accepted (and, here, never carried out): not "started: running"."""
    azure = azure_with(faults=[{"match": "dealloc1/start$", "method": "POST", "status": 202, "body": ""}])
    report, result = fix(azure, "-g", "prod-rg", "dealloc1")
    [outcome] = report["fixes"]
    assert outcome["status"] == "accepted", outcome
    assert "accepted (HTTP 202) with no URL to follow" in outcome["detail"]
    assert rows(report["checks"])["power"]["status"] == "fail"
    assert result.returncode == 3, result.stderr


# -- the storage firewall: a rule another client adds while sercon writes -------------------------------

def patches(azure) -> list[dict]:
    return [r for r in azure.requests if r["method"] == "PATCH" and "storageAccounts/diagclosed" in r["url"]]


def test_a_rule_added_by_another_client_between_the_read_and_the_write_is_kept(azure_with):
    """sercon's write is held up on its way (a delay) while another client adds a rule: the write,
    made If-Match the ETag of sercon's read, is refused 412; sercon reads again and writes both."""
    azure = azure_with(faults=[{"match": "storageAccounts/diagclosed$", "method": "PATCH", "delay": 2, "count": 1}])
    account = azure.account("diagclosed")
    child = spawn(azure, "doctor", "--fix", "--yes", "--json", "-g", "prod-rg", "fw-closed")
    try:
        wait_for(lambda: patches(azure))
        account["ip_rules"] = [*account["ip_rules"], "198.51.100.7"]  # while sercon's write is held up
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    report = json.loads(out)
    assert report["fixes"][0]["status"] == "applied", report["fixes"]
    assert account["ip_rules"] == ["203.0.113.5", "198.51.100.7", *EUROPE_IPS]
    assert len(patches(azure)) == 2
    assert child.returncode == 0, err


def test_a_firewall_that_keeps_changing_is_reported_not_overwritten(azure_with):
    azure = azure_with(faults=[{"match": "storageAccounts/diagclosed$", "method": "PATCH", "status": 412,
                                "code": "PreconditionFailed", "message": "The condition specified using HTTP "
                                "conditional header(s) is not met.", "count": -1}])
    report, result = fix(azure, "-g", "prod-rg", "fw-closed")
    [outcome] = report["fixes"]
    assert outcome["status"] == "failed", outcome
    assert "changed while sercon wrote it" in outcome["detail"] and "sercon doctor --fix" in outcome["detail"]
    assert len(patches(azure)) == 2  # once, then once more after a fresh read
    assert azure.account("diagclosed")["ip_rules"] == ["203.0.113.5"]
    assert result.returncode == 6, result.stderr
