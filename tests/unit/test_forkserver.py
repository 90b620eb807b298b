"""The fork server's checks: what would make a forked copy differ from a new process."""

import asyncio
import threading

import pytest

from devserver import compat
from devserver.child import forkserver


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.setattr(forkserver, "_native_threads_from", [])


def test_a_native_thread_is_blamed_on_the_import_that_started_it_unless_numpy_or_scipy_was_loaded():
    forkserver.note_import("sklearn._config", 1, 3, ["sklearn._config", "numpy", "numpy.linalg"])
    forkserver.note_import("scipy.linalg", 3, 4, ["scipy.linalg._fblas"])
    forkserver.note_import("yaml", 4, 4, ["yaml"])
    assert forkserver.refusal() is None
    forkserver.note_import("grpc", 4, 6, ["grpc", "grpc._cython"])
    assert forkserver.refusal() == "importing grpc starts native threads"


def test_a_python_thread_alive_is_a_reason_not_to_fork():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="poller", daemon=True)
    thread.start()
    try:
        assert forkserver.refusal() == "the app's libraries start threads as they are imported (poller)"
    finally:
        stop.set()
        thread.join()
    assert forkserver.refusal() is None


def test_an_event_loop_made_at_import_time_is_seen():
    assert not compat.event_loop_made()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        assert compat.event_loop_made()
        assert forkserver.refusal() == "an asyncio event loop was made while the app's libraries were imported"
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert not compat.event_loop_made()


def test_a_debugger_attached_is_a_reason_not_to_fork(monkeypatch):
    import sys

    def trace(frame, event, arg):
        return None

    sys.settrace(trace)
    try:
        reason = forkserver.refusal()
    finally:
        sys.settrace(None)
    assert reason == "a debugger is attached"
    monkeypatch.setitem(sys.modules, "pydevd", object())  # debugpy / PyCharm loaded, not tracing this thread
    assert forkserver.refusal() == "a debugger is attached"
