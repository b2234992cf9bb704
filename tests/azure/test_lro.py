"""sercon/azure/lro.py against the emulator's long-running operations: Azure-AsyncOperation first, else
Location, Retry-After honoured (and capped), an overall deadline, and Failed operations as errors.

The sleeps are recorded instead of slept (the emulator's operations end after a number of polls, not
after a time), so the delays sercon chose can be checked exactly.
"""

from __future__ import annotations

import pytest

from sercon.azure import lro
from sercon.azure.arm import ArmReply
from sercon.azure.client import arm_client
from sercon.errors import ExitStatus, ExpectTimeout, SerconError
from tests.azure.conftest import SUB

VM = f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines"


class Clock:
    """A clock that moves only when sercon sleeps: the deadline is checked without waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def start(azure, vm: str = "dealloc1"):
    arm = arm_client(dict(azure.env))
    return arm, arm.send("POST", f"{VM}/{vm}/start", "compute")


def test_the_async_operation_url_is_polled_until_it_succeeds(azure_with):
    azure = azure_with(operations={"polls": 2, "retry_after": 7})
    arm, reply = start(azure)
    assert reply.status == 202
    clock, seen = Clock(), []
    lro.wait(arm, reply, "starting", seen.append, sleep=clock.sleep, clock=clock.monotonic)
    assert clock.slept == [7, 7, 7]  # Retry-After of each answer, before each poll
    assert seen == ["starting: Accepted (0 s)", "starting: InProgress (7 s)", "starting: InProgress (14 s)",
                    "starting: Succeeded (21 s)"]
    polls = [r["url"] for r in azure.requests if "/operations/" in r["url"]]
    assert len(polls) == 3 and not any("monitor=true" in url for url in polls)
    assert azure.vm("dealloc1")["power"] == "running"


def test_location_is_followed_when_it_is_the_only_url(azure_with):
    azure = azure_with(operations={"polls": 1, "retry_after": 2, "headers": ["Location"]})
    arm, reply = start(azure)
    clock = Clock()
    lro.wait(arm, reply, "starting", None, sleep=clock.sleep, clock=clock.monotonic)
    assert clock.slept == [2, 2]
    assert all("monitor=true" in r["url"] for r in azure.requests if "/operations/" in r["url"])
    assert azure.vm("dealloc1")["power"] == "running"


def test_a_long_retry_after_is_capped(azure_with):
    azure = azure_with(operations={"polls": 1, "retry_after": 3600})
    arm, reply = start(azure)
    clock = Clock()
    lro.wait(arm, reply, "starting", None, sleep=clock.sleep, clock=clock.monotonic)
    assert clock.slept == [lro.MAX_RETRY_AFTER] * 2


def test_the_deadline_ends_the_wait_with_a_timeout(azure_with):
    azure = azure_with(operations={"polls": 1000, "retry_after": 10})
    arm, reply = start(azure)
    clock = Clock()
    with pytest.raises(ExpectTimeout) as caught:
        lro.wait(arm, reply, "starting VM prod-rg/dealloc1", None, deadline=35, sleep=clock.sleep,
                 clock=clock.monotonic)
    assert "starting VM prod-rg/dealloc1: still in progress after 35 s" in caught.value.message
    assert "sercon doctor" in caught.value.hint
    assert clock.now <= 35


def test_a_failed_operation_is_an_error_with_azures_code(azure):
    arm = arm_client(dict(azure.env))
    body = {"location": "westeurope", "properties": {
        "publisher": "Microsoft.OSTCExtensions", "type": "VMAccessForLinux", "typeHandlerVersion": "1.5",
        "settings": {}, "protectedSettings": {"username": "rescue"}}}
    reply = arm.send("PUT", f"{VM}/keysonly/extensions/enablevmaccess", "compute", body=body)
    with pytest.raises(SerconError) as caught:
        lro.wait(arm, reply, "setting the user", None, sleep=lambda s: None)
    assert "VMExtensionProvisioningError" in caught.value.message


def test_an_answer_without_urls_is_already_done(azure):
    arm = arm_client(dict(azure.env))
    done = ArmReply(200, {}, {"properties": {"provisioningState": "Succeeded"}})
    assert lro.wait(arm, done, "nothing", None, sleep=lambda s: pytest.fail("slept")) is done
    assert azure.requests == []


def test_an_operation_url_on_another_host_is_not_followed(azure):
    arm = arm_client(dict(azure.env))
    elsewhere = ArmReply(202, {"Azure-AsyncOperation": "https://attacker.example/op?api-version=1"}, {})
    with pytest.raises(SerconError) as caught:
        lro.wait(arm, elsewhere, "starting", None, sleep=lambda s: None)
    assert "attacker.example" in caught.value.message and azure.requests == []


@pytest.mark.parametrize("value", ["0", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_a_retry_after_of_zero_or_in_the_past_still_waits_a_second(value):
    """A tight loop of polls would hammer ARM (and count against its throttling): 1 s at least."""
    assert lro._delay(ArmReply(200, {"Retry-After": value}, {}), lro.DEFAULT_DELAY) == lro.MIN_RETRY_AFTER == 1.0


def test_operations_that_say_retry_after_0_are_polled_a_second_apart(azure):
    arm, reply = start(azure)  # the test world's operations answer Retry-After: 0
    clock = Clock()
    lro.wait(arm, reply, "starting", None, sleep=clock.sleep, clock=clock.monotonic)
    assert clock.slept == [1.0, 1.0, 1.0]


def test_the_deadline_also_bounds_the_clients_own_retries_of_a_poll(azure_with):
    """Every poll answers 500 with Retry-After: 3; ArmClient retries each call up to 5 times, sleeping
    as asked: those sleeps count against the operation's deadline too."""
    azure = azure_with(operations={"polls": 1000, "retry_after": 3},
                       faults=[{"match": "/operations/", "method": "GET", "status": 500, "count": -1,
                                "retry_after": 3}])
    arm, reply = start(azure)
    clock = Clock()
    with pytest.raises(lro.StillRunning) as caught:
        lro.wait(arm, reply, "starting VM prod-rg/dealloc1", None, deadline=8, sleep=clock.sleep,
                 clock=clock.monotonic)
    assert clock.now <= 8 and caught.value.exit_status == ExitStatus.TIMEOUT
    assert "still in progress after 8 s" in caught.value.message


def test_a_status_that_cannot_be_read_leaves_the_operation_unconfirmed(azure_with):
    azure = azure_with(faults=[{"match": "/operations/", "method": "GET", "status": 500, "count": -1,
                                "retry_after": 0}])
    arm, reply = start(azure)
    clock = Clock()
    with pytest.raises(lro.Unconfirmed) as caught:
        lro.wait(arm, reply, "starting VM prod-rg/dealloc1", None, sleep=clock.sleep, clock=clock.monotonic)
    assert "Azure has not confirmed it" in caught.value.message and "HTTP 500" in caught.value.message
    assert "sercon doctor" in caught.value.hint


def test_a_failure_the_location_url_answers_is_a_failure_not_an_unconfirmed_operation(azure_with):
    """Through Location, a failed operation answers with ARM's error (400 here): that is its end."""
    azure = azure_with(operations={"polls": 1, "retry_after": 0, "headers": ["Location"]})
    arm = arm_client(dict(azure.env))
    body = {"location": "westeurope", "properties": {
        "publisher": "Microsoft.OSTCExtensions", "type": "VMAccessForLinux", "typeHandlerVersion": "1.5",
        "settings": {}, "protectedSettings": {"username": "rescue"}}}
    reply = arm.send("PUT", f"{VM}/keysonly/extensions/enablevmaccess", "compute", body=body)
    clock = Clock()
    with pytest.raises(SerconError) as caught:
        lro.wait(arm, reply, "setting the user", None, sleep=clock.sleep, clock=clock.monotonic)
    assert not isinstance(caught.value, lro.Unconfirmed), caught.value.message
    assert "VMExtensionProvisioningError" in caught.value.message


@pytest.mark.parametrize("value", ["soon", "Wed, 99 Oct 2015 07:28:00 GMT", ""])
def test_a_retry_after_that_is_neither_a_number_nor_a_date_waits_the_default(azure_with, value):
    """A poll answered 503 with an unreadable Retry-After is retried after the usual backoff."""
    azure = azure_with(faults=[{"match": "/operations/", "method": "GET", "status": 503, "count": 1,
                                "retry_after": value}])
    arm, reply = start(azure)
    clock = Clock()
    lro.wait(arm, reply, "starting", None, sleep=clock.sleep, clock=clock.monotonic)
    assert azure.vm("dealloc1")["power"] == "running"
    assert 0.5 in clock.slept  # the client's first backoff, as for an answer without Retry-After


@pytest.mark.parametrize("body", ["[1, 2]", '"Succeeded"', "null", "<html>busy</html>"])
def test_a_status_that_is_not_a_json_object_leaves_the_operation_unconfirmed(azure_with, body):
    azure = azure_with(faults=[{"match": "/operations/", "method": "GET", "status": 200, "count": -1,
                                "body": body}])
    arm, reply = start(azure)
    clock = Clock()
    with pytest.raises(lro.Unconfirmed) as caught:
        lro.wait(arm, reply, "starting VM prod-rg/dealloc1", None, sleep=clock.sleep, clock=clock.monotonic)
    assert caught.value.message.startswith("starting VM prod-rg/dealloc1: its status could not be read")
    assert "Azure has not confirmed it" in caught.value.message
    assert caught.value.exit_status == ExitStatus.TIMEOUT


def test_a_202_without_an_operation_url_is_not_confirmed(azure_with):
    """Accepted, and nothing to follow: sercon cannot say it is done."""
    azure = azure_with(faults=[{"match": "dealloc1/start$", "method": "POST", "status": 202, "body": ""}])
    arm, reply = start(azure)
    assert reply.status == 202
    with pytest.raises(lro.Unconfirmed) as caught:
        lro.wait(arm, reply, "starting VM prod-rg/dealloc1", None, sleep=lambda s: pytest.fail("slept"))
    assert "accepted (HTTP 202) with no URL to follow" in caught.value.message
    assert caught.value.exit_status == ExitStatus.TIMEOUT


def test_an_answer_still_provisioning_without_urls_is_not_confirmed():
    """A 200 or 201 whose resource says Creating or Updating, and no URL: not done either."""
    reply = ArmReply(201, {}, {"properties": {"provisioningState": "Creating"}})
    with pytest.raises(lro.Unconfirmed) as caught:
        lro.wait(None, reply, "setting user rescue", None, sleep=lambda s: pytest.fail("slept"))
    assert "Creating" in caught.value.message
