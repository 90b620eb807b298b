"""Breakpoints across reloads: a real debugpy holding the app (all threads suspended, as VS Code's
default), driven over the Debug Adapter Protocol; and pdb at its prompt on a pseudo-terminal."""

import os
import signal
import socket
import sys
import threading
import time

import pytest

from tests.conftest import free_port, http_get, pid_alive, wait_for_body, wait_until, write

debugpy = pytest.importorskip("debugpy")
from tests.dap import DAPClient, DebugSession, listener_pid  # noqa: E402

pytestmark = pytest.mark.e2e

# The app listens for a debugger and waits for it while version.DEBUG is on; the breakpoint is in the
# request handler.
DEBUGGED_APP = """
import asyncio
import os
import sys

import tornado.web

import version

if version.DEBUG:
    import debugpy
    debugpy.listen(("127.0.0.1", int(os.environ["DEBUG_PORT"])))
    debugpy.wait_for_client()


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write(version.VERSION)


async def main():
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main())
"""
BREAK_LINE = DEBUGGED_APP.lstrip("\n").splitlines().index("        self.write(version.VERSION)") + 1


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ")[:150].decode()
    except OSError:
        return "?"


def _debugged_app(tmp_path):
    write(tmp_path / "app.py", DEBUGGED_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\nDEBUG = True\n')
    return tmp_path


def _paused_request(tdev_process, client, app_port):
    """A request that hits the breakpoint: returns (thread, result dict) once the debugger reports the stop."""
    result = {}

    def get():
        try:
            result["response"] = http_get(app_port, timeout=30)
        except Exception as exc:  # noqa: BLE001 - the test looks at what happened
            result["error"] = exc

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    stopped = client.event("stopped", timeout=15)
    assert stopped["body"]["reason"] == "breakpoint" and stopped["body"]["allThreadsStopped"], stopped
    return thread, result


@pytest.fixture
def debugged(tdev, tmp_path):
    """tdev running the app, a DAP client attached with a breakpoint in the handler."""
    app_dir = _debugged_app(tmp_path)
    app_port, debug_port = free_port(), free_port()
    process = tdev(["run", "--grace", "1", "app.py", str(app_port)], cwd=app_dir,
                   env={"DEBUG_PORT": str(debug_port)})
    client = DAPClient(debug_port, timeout=20)
    client.attach({app_dir / "app.py": [BREAK_LINE]}, justMyCode=False)
    process.wait_for("app listening on")
    yield process, client, app_port, app_dir
    client.close()


@pytest.mark.timeout(45)
def test_killing_tdev_takes_a_paused_app_and_its_port_down(debugged):
    """The lifeline is one of tdev's own threads, which the debugger does not suspend."""
    process, client, app_port, _ = debugged
    _paused_request(process, client, app_port)
    app = {pid for pid in process.app_pids() if "debugpy" not in _cmdline(pid)}  # (not debugpy's adapter)
    assert app
    process.signal(signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(pid) for pid in app), timeout=1.0, message="the paused app to be gone")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", app_port), timeout=1).close()


@pytest.mark.timeout(45)
def test_a_save_while_paused_waits_for_continue_then_restarts(debugged):
    process, client, app_port, app_dir = debugged
    thread, result = _paused_request(process, client, app_port)
    process.wait_for_standby()  # (named: app_pids leaves it out; the next app runs in it)
    old = process.app_pids()
    write(app_dir / "version.py", 'VERSION = "v2"\nDEBUG = False\n')
    process.wait_for(r"paused in the debugger: the restart waits until it continues")
    time.sleep(1.5)  # longer than --grace 1: the grace kill must not fire on a paused app
    assert all(pid_alive(pid) for pid in old)
    assert process.count("killing it") == 0
    client.request("continue", threadId=1)
    thread.join(10)
    assert result.get("response") == (200, "v1"), result  # the request in flight is answered
    # (Polled only once the old app is gone: a request it accepted would stop at the breakpoint again.)
    old_app = {pid for pid in old if "debugpy" not in _cmdline(pid)}  # (not debugpy's adapter: it stays)
    wait_until(lambda: not any(pid_alive(pid) for pid in old_app), timeout=10,
               message="the old app to stop: " + repr({p: _cmdline(p)[:80] for p in old_app if pid_alive(p)}))
    wait_for_body(app_port, "v2")
    assert process.count("paused in the debugger") == 1
    # debugpy's once-per-process warning (Python 3.11+, frozen modules): the first app's, not every reload's.
    assert process.count("frozen modules are being used") <= 1, process.err


@pytest.mark.timeout(45)
def test_a_second_save_while_paused_forces_the_restart(debugged):
    process, client, app_port, app_dir = debugged
    _paused_request(process, client, app_port)
    write(app_dir / "version.py", 'VERSION = "v2"\nDEBUG = False\n')
    process.wait_for(r"restart waits until it continues")
    time.sleep(0.5)  # a second save: later than the first one's own events (debounce + 0.3 s)
    write(app_dir / "version.py", 'VERSION = "v3"\nDEBUG = False\n')
    process.wait_for(r"saved again while the app is paused — killing it")
    wait_for_body(app_port, "v3")


VSCODE_APP = """
import asyncio
import sys

import tornado.web

import version


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write(version.VERSION)


async def main():
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main())
"""


@pytest.mark.timeout(60)
def test_breakpoints_survive_reloads_under_debugpy_as_vscode_runs_tdev(tdev, tmp_path):
    """VS Code's launch of tdev under debugpy (``subProcess`` on, its default): each app process tdev
    starts, warm standbys included, is attached to, and the handler's breakpoint stops every version."""
    write(tmp_path / "app.py", VSCODE_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    line = VSCODE_APP.lstrip("\n").splitlines().index("        self.write(version.VERSION)") + 1
    app_port, debug_port = free_port(), free_port()
    process = tdev(["run", "-v", "app.py", str(app_port)], cwd=tmp_path, command=[
        sys.executable, "-m", "debugpy", "--listen", f"127.0.0.1:{debug_port}", "--wait-for-client",
        "-m", "devserver"])
    session = DebugSession(debug_port, {tmp_path / "app.py": [line]})
    adapter = listener_pid(debug_port)  # debugpy's adapter: it leaves tdev's process tree
    try:
        process.wait_for("app listening on")
        for version in ("v1", "v2", "v3"):
            if version != "v1":
                write(tmp_path / "version.py", f'VERSION = "{version}"\n')
                process.wait_for("serving again", count=int(version[1]) - 1)  # (-v) the new app serves
            result = {}
            thread = threading.Thread(target=lambda: result.update(r=http_get(app_port, timeout=20)), daemon=True)
            thread.start()
            stopped = wait_until(lambda: _stopped_child(session), timeout=20, message=f"{version} at the breakpoint")
            client, event = stopped
            client.messages.remove(event)
            assert client.request("continue", threadId=event["body"]["threadId"])["success"]
            thread.join(10)
            assert result.get("r") == (200, version), (result, process.err)
        assert len(session.children) >= 3  # every app process was announced and attached to
    finally:
        session.close()
        if adapter is not None:
            os.kill(adapter, signal.SIGKILL)


def _stopped_child(session):
    for client in list(session.children.values()):
        with client.cond:
            for message in client.messages:
                if message.get("type") == "event" and message.get("event") == "stopped":
                    return client, message
    return None


@pytest.mark.timeout(45)
def test_enter_while_paused_in_the_debugger_forces_the_restart(tmp_path):
    """On a terminal, Enter is the restart key: with the app paused at a breakpoint and its restart
    waiting, it restarts now (the terminal is tdev's: debugpy, unlike pdb, does not read it)."""
    from tests.e2e.test_pdb import Terminal

    app_dir = _debugged_app(tmp_path)
    app_port, debug_port = free_port(), free_port()
    terminal = Terminal(["run", "app.py", str(app_port)], app_dir, env={"DEBUG_PORT": str(debug_port)})
    client = None
    try:
        client = DAPClient(debug_port, timeout=20)
        client.attach({app_dir / "app.py": [BREAK_LINE]}, justMyCode=False)
        terminal.wait_for("app listening on")
        _paused_request(None, client, app_port)
        write(app_dir / "version.py", 'VERSION = "v2"\nDEBUG = False\n')
        terminal.wait_for(r"restart waits until it continues \(save again or press Enter to restart now\)")
        terminal.type("\n")
        terminal.wait_for("restart asked for while the app is paused — killing it")
        wait_for_body(app_port, "v2")
    finally:
        if client is not None:
            client.close()
        terminal.close()
