"""HeldSockets.answer: the reply, and the held sockets let go to make room (returned, not left for the caller)."""

import socket

from devserver.sockets import HeldSockets


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_answer_returns_what_it_released_once():
    held = HeldSockets()
    port = free_port()
    try:
        reply, released = held.answer({"kind": "tcp", "port": port, "address": "127.0.0.1"})
        assert len(reply["fds"]) == 1 and released == []
        held.new_generation()  # the next app asks for the same port on every address
        reply, released = held.answer({"kind": "tcp", "port": port, "address": "0.0.0.0"})
        assert "fds" in reply, reply
        assert released == [("tcp", port, "127.0.0.1", None, None, None, None)]
        assert held.answer({"kind": "tcp", "port": port, "address": "0.0.0.0"})[1] == []
    finally:
        held.close_all()


def test_a_failed_bind_is_an_error_reply():
    held = HeldSockets()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        reply, released = held.answer({"kind": "tcp", "port": busy.getsockname()[1], "address": "127.0.0.1"})
    assert "already in use" in reply["error"] and reply["errno"] and released == []


def test_a_bind_refused_for_an_address_in_use_is_remembered_until_the_next_app():
    held = HeldSockets()
    try:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            request = {"kind": "tcp", "port": busy.getsockname()[1], "address": "127.0.0.1"}
            held.answer(request)
            assert held.refused == [request]
        # Let go: the supervisor's retry binds it (and holds it for the next app).
        assert len(held.get(request)) == 1
        held.new_generation()
        assert held.refused == []
        assert "fds" in held.answer(request)[0]
    finally:
        held.close_all()
