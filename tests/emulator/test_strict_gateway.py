"""The gateway is as strict as the real one is likely to be, and never refuses what the official client sends."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
import websocket

from sercon_emulator.world import TAKEOVER_REASON, World
from tests.emulator.conftest import ECHO, RG, SUB, close_of, frames, read_until, world
from tests.support.waiting import wait_for


def test_text_input_reaches_the_vm_and_output_comes_back_binary(emu):
    env = emu()
    ws = env.session()
    ws.send("hello\n")
    assert b"got:hello" in read_until(ws, b"got:hello")
    ws.send("é")  # the official client: one TEXT frame per typed character, a multi-byte one included
    ws.send("\n")
    assert "got:é".encode() in read_until(ws, "got:é".encode())
    assert (env.gateway.text_frames, env.gateway.binary_frames) == (3, 0)
    assert env.gateway.sessions_opened == 1


def test_binary_input_closes_the_session_with_1003_by_default(emu):
    env = emu()
    ws = env.session()
    ws.send_binary(b"ls\n")
    code, reason, output = close_of(ws)
    assert (code, reason) == (1003, "Unsupported data")
    assert b"got:ls" not in output
    assert env.gateway.binary_frames == 1


def test_binary_input_is_dropped_and_counted_when_ignored(emu):
    env = emu(gateway={"binary_input": "ignore"})
    ws = env.session()
    ws.send_binary(b"lost\n")
    ws.send("kept\n")
    assert b"got:lost" not in read_until(ws, b"got:kept")
    assert env.gateway.binary_frames == 1 and env.gateway.text_frames == 1


def test_binary_input_is_input_when_a_vm_accepts_it(emu):
    """Per-VM options override the world's: this VM accepts binary input, the world rejects it."""
    env = emu(vms=[{"name": "box", "command": ECHO, "gateway": {"binary_input": "accept"}}])
    ws = env.session()
    ws.send_binary(b"bin\n")
    assert b"got:bin" in read_until(ws, b"got:bin")


def test_a_scale_sets_options_reach_its_instances(emu):
    env = emu(scale_sets=[{"name": "set1", "gateway": {"binary_input": "accept"},
                           "instances": [{"id": "0", "command": ECHO}]}])
    reply = env.arm("POST", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/"
                    "virtualMachineScaleSets/set1%2FvirtualMachines%2F0/providers/Microsoft.SerialConsole/"
                    "serialPorts/0/connect")
    ws = env.session(reply.json()["connectionString"])
    ws.send_binary(b"inst\n")
    assert b"got:inst" in read_until(ws, b"got:inst")


def test_an_oversize_input_frame_is_dropped_and_the_session_lives_on(emu):
    env = emu()
    ws = env.session()
    ws.send("x" * 3000 + "\n")
    ws.send("small\n")
    assert b"got:x" not in read_until(ws, b"got:small")
    assert env.gateway.oversize_frames == 1


@pytest.mark.parametrize("query", ["?authorization={token}", "?new=1&t={token}", "?Authorization=x"])
def test_a_token_in_the_url_is_not_trusted_and_not_logged(emu, query):
    env = emu()
    ws = env.socket(env.connect() + query.format(token=env.token))
    code, reason, output = close_of(ws)
    assert (code, reason, output) == (1011, "Connection not trusted", b"")  # not even the status frame
    gets = [r for r in env.emulator.arm.requests if r["method"] == "GET" and r["url"].endswith("/client")]
    assert gets and gets[-1]["query"] is True
    assert env.token not in repr(env.emulator.arm.requests)


@pytest.mark.parametrize("send", [lambda ws, token: ws.send("not-a-token"),
                                  lambda ws, token: ws.send_binary(token.encode()),
                                  lambda ws, token: ws.send("Bearer " + token)])
def test_the_token_must_be_the_raw_token_in_a_text_frame(emu, send):
    env = emu()
    ws = env.socket(env.connect())
    assert ws.recv_data()[0] == websocket.ABNF.OPCODE_TEXT
    send(ws, env.token)
    assert close_of(ws)[:2] == (1011, "Connection not trusted")
    assert env.gateway.sessions_opened == 0


@pytest.mark.parametrize("options, code, reason", [({}, 1000, TAKEOVER_REASON),
                                                   ({"takeover_code": 4001, "takeover_reason": "Session closed"},
                                                    4001, "Session closed")])
def test_the_console_is_taken_over_when_the_new_session_authenticates(emu, options, code, reason):
    env = emu(gateway=options)
    first = env.session()
    second_url = env.connect()  # the connect call alone takes nothing over
    first.send("still-mine\n")
    assert b"got:still-mine" in read_until(first, b"got:still-mine")
    second = env.session(second_url)
    assert close_of(first)[:2] == (code, reason)
    second.send("now-mine\n")
    assert b"got:now-mine" in read_until(second, b"got:now-mine")
    assert (env.gateway.connect_calls, env.gateway.sessions_opened) == (2, 2)


def test_a_connection_string_is_single_use(emu):
    env = emu()
    url = env.connect()
    ws = env.session(url)
    again = env.socket(url)
    assert close_of(again) == (1008, "Session not found or expired", b"")
    ws.send("alive\n")
    assert b"got:alive" in read_until(ws, b"got:alive")


def test_an_unopened_connection_string_expires(emu):
    env = emu(gateway={"connection_string_ttl": 0.5})
    fresh, stale = env.connect(), env.connect()  # several may be outstanding
    env.session(fresh).close()
    time.sleep(0.6)  # nothing to await: only time makes a connection string stale
    assert close_of(env.socket(stale)) == (1008, "Session not found or expired", b"")


def test_refuse_after_auth_always(emu):
    env = emu(gateway={"refuse_after_auth": "always"})
    ws = env.session()
    assert close_of(ws) == (1011, "InternalServerError", b"")
    assert (env.gateway.refused, env.gateway.sessions_opened) == (1, 0)


def test_refuse_after_auth_alternate_refuses_odd_sessions_without_taking_over(emu):
    env = emu(gateway={"refuse_after_auth": "alternate"})
    assert close_of(env.session())[:2] == (1011, "InternalServerError")  # 1st
    owner = env.session()  # 2nd
    assert close_of(env.session())[:2] == (1011, "InternalServerError")  # 3rd: the owner keeps the console
    owner.send("kept\n")
    assert b"got:kept" in read_until(owner, b"got:kept")
    fourth = env.session()  # takes over
    assert close_of(owner)[0] == 1000
    fourth.close()
    assert (env.gateway.refused, env.gateway.sessions_opened) == (2, 2)


def test_admin_commands_only_for_the_session_that_owns_the_console(emu):
    env = emu()
    held = []  # the sessions' sockets stay open: a collected one closes, and its session ends
    first_url = env.connect()
    assert env.admin(first_url).status_code == 404  # not opened yet
    held.append(env.session(first_url))
    assert env.admin(first_url).status_code == 200
    second_url = env.connect()
    assert env.admin(second_url).status_code == 404  # connected, not authenticated
    held.append(env.session(second_url))
    assert env.admin(first_url).status_code == 404  # taken over
    assert env.admin(second_url).status_code == 200


def test_an_admin_command_that_overtakes_its_token_frame_is_accepted(emu):
    """The official one-shot `send` posts right after sending its token, on another connection: the POST
    may reach the gateway first. Here it surely does (the token goes only once the POST has arrived)."""
    env = emu()
    url = env.connect()
    ws = env.socket(url)
    ws.recv_data()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reply = pool.submit(env.admin, url, "reset")
        wait_for(lambda: any("/adminCommand/" in r["url"] for r in env.emulator.arm.requests), what="the POST")
        ws.send(env.token)
        assert reply.result(10).status_code == 200


def test_the_server_pings_and_drops_a_client_that_does_not_answer(emu):
    env = emu(gateway={"ping_interval": 0.2})
    ws = env.session()
    assert next(op for op, _ in frames(ws) if op == websocket.ABNF.OPCODE_PING)  # websocket-client answers it
    ws.send("alive\n")
    assert b"got:alive" in read_until(ws, b"got:alive")
    silent = env.session()  # takes over, then never reads: no pong goes back
    wait_for(lambda: env.gateway.pong_timeouts == 1, what="the silent client to be dropped")
    silent.close()


def test_no_pings_by_default(emu):
    env = emu()
    ws = env.session()
    ws.settimeout(0.1)
    seen, quiet_until = [], time.monotonic() + 0.6
    while time.monotonic() < quiet_until:
        try:
            seen.append(ws.recv_data_frame(control_frame=True)[0])
        except websocket.WebSocketTimeoutException:
            continue
    assert websocket.ABNF.OPCODE_PING not in seen


def test_the_close_hook_closes_with_the_given_code_and_reason(emu):
    env = emu()
    ws = env.session()
    reply = env.hook("gateway/box/close", json={"code": 1000, "reason": "Session closed"})
    assert reply.json() == {"closed": 1}
    assert close_of(ws)[:2] == (1000, "Session closed")


def test_the_close_hook_answers_once_the_client_has_the_close(emu):
    """A test that acts right after the hook (closes the client's stdin, say) must not race the close frame."""
    env = emu()
    ws = env.session()
    reader = threading.Thread(target=lambda: list(frames(ws)), daemon=True)  # answers the close, as clients do
    reader.start()
    assert env.hook("gateway/box/close", json={"code": 4000, "reason": "bye"}).json() == {"closed": 1}
    owner = env.gateway.sessions[env.gateway.current[f"{SUB}/{RG}/box".lower()]]
    assert owner.ws.close_code is not None  # the close handshake is over: the client had the frame
    reader.join(5)


def test_the_cut_hook_drops_the_socket_without_a_close_frame(emu):
    env = emu()
    ws = env.session()
    assert env.hook("gateway/box/cut").status_code == 200
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        list(frames(ws))


@pytest.mark.parametrize("gateway", [{"binary_input": "drop"}, {"refuse_after_auth": "sometimes"},
                                     {"takeover_code": 1006}, {"ping_interval": 0}, {"no_such_option": 1}])
def test_a_bad_gateway_option_fails_at_load(gateway):
    with pytest.raises(ValueError):
        World(world(gateway=gateway))
    with pytest.raises(ValueError):
        World(world(vms=[{"name": "box", "gateway": gateway}]))
