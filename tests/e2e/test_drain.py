"""A restart lets the requests the old app already accepted finish, without noise, whether the app
stops on tdev's SIGTERM handler or on one of its own."""

import os
import re
import socket
import tempfile
import threading
import time

import pytest

from tests.conftest import http_get, http_request, wait_for_body, wait_until, write

SLOW_APP = """
    import asyncio
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    class Slow(tornado.web.RequestHandler):
        async def get(self):
            print("slow request started", flush=True)
            await asyncio.sleep(0.8)
            self.write("slow done by " + version.VERSION)


    async def main():
        tornado.web.Application([(r"/", Main), (r"/slow", Slow)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_request_in_flight_during_a_restart_is_answered_by_the_old_app(tdev, tmp_path, port):
    write(tmp_path / "app.py", SLOW_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    result = {}

    def slow():
        try:
            result["response"] = http_get(port, "/slow", timeout=10)
        except Exception as exc:  # recorded, asserted below
            result["error"] = exc

    client = threading.Thread(target=slow)
    client.start()
    t.wait_for(r"slow request started", stream="out")
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    client.join(timeout=15)
    assert result.get("response") == (200, "slow done by v1"), result
    wait_for_body(port, "v2")
    assert "Traceback" not in t.err and "Exception" not in t.err, t.err
    assert "did not stop" not in t.err


# -- idle connections (a browser's spare connection) ---------------------------------------------------

IDLE_APP = """
    import asyncio
    import sys

    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    class Slow(tornado.web.RequestHandler):
        async def get(self):
            print("slow request started", flush=True)
            await asyncio.sleep(0.8)
            self.write("slow done by " + version.VERSION)


    async def main():
        app = tornado.web.Application([(r"/", Main), (r"/slow", Slow)])
        app.listen(int(sys.argv[1]), "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_socket(tornado.netutil.bind_unix_socket(sys.argv[2]))
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def _stop_times(t) -> "list[float]":
    return [float(ms) for ms in re.findall(r"app process \d+ stopped ([0-9.]+) ms after it was told to", t.err)]


def _spare_connections(port: int, unix_path: str) -> "tuple[socket.socket, socket.socket]":
    """What a browser keeps open: connected, no request sent (over TCP, and over the unix socket)."""
    tcp = socket.create_connection(("127.0.0.1", port), timeout=5)
    unix = socket.socket(socket.AF_UNIX)
    unix.settimeout(5)
    unix.connect(unix_path)
    # A real spare connection was opened when the page loaded, long before the save.
    opened = time.monotonic()
    wait_until(lambda: time.monotonic() - opened > 0.4, timeout=2, message="the spare connections to age")
    return tcp, unix


def test_idle_connections_do_not_hold_up_a_restart_and_requests_in_flight_still_finish(tdev, tmp_path, port):
    sock_dir = tempfile.mkdtemp(prefix="tdev-idle-")  # unix socket paths are limited to ~107 bytes
    unix_path = os.path.join(sock_dir, "app.sock")
    try:
        write(tmp_path / "app.py", IDLE_APP)
        write(tmp_path / "version.py", 'VERSION = "v1"\n')
        t = tdev(["run", "-v", "app.py", str(port), unix_path], cwd=tmp_path)
        wait_for_body(port, "v1")
        t.wait_for_standby()
        tcp, unix = _spare_connections(port, unix_path)
        with tcp, unix:
            write(tmp_path / "version.py", 'VERSION = "v2"\n')
            wait_for_body(port, "v2", timeout=10)
            t.wait_for(r"serving again \d+ ms after the change", count=1)
            # The old app stopped as fast as without the idle connections (it took 0.5 s): it waits for
            # no request from them.
            assert _stop_times(t) and _stop_times(t)[0] < 300, t.err
            serving = [int(ms) for ms in re.findall(r"serving again (\d+) ms after the change", t.err)]
            assert serving[0] < 400, t.err
            if hasattr(socket, "TCP_DEFER_ACCEPT"):
                # Linux: the TCP spare was never accepted by the old app; its request goes to the new one.
                tcp.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b"".join(iter(lambda: tcp.recv(4096), b""))
                assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"v2"), answer
            # The unix spare was accepted by the old app, which closed it as it stopped.
            try:
                assert unix.recv(1) == b""
            except ConnectionResetError:
                pass

        # A request in flight still finishes, idle connections open or not.
        t.wait_for_standby()
        tcp, unix = _spare_connections(port, unix_path)
        with tcp, unix:
            result = {}

            def slow():
                try:
                    result["response"] = http_request(unix=unix_path, path="/slow", timeout=10)
                except Exception as exc:  # recorded, asserted below
                    result["error"] = exc

            client = threading.Thread(target=slow)
            client.start()
            t.wait_for(r"slow request started", stream="out")
            write(tmp_path / "version.py", 'VERSION = "v3"\n')
            client.join(timeout=15)
            status, _headers, body = result.get("response") or (None, None, result)
            assert (status, body) == (200, "slow done by v2"), result
            wait_for_body(port, "v3")
        assert "Traceback" not in t.err and "did not stop" not in t.err, t.err
    finally:
        try:
            os.unlink(unix_path)
        except OSError:
            pass
        os.rmdir(sock_dir)


# -- an app that handles SIGTERM itself ---------------------------------------------------------------

OWN_SIGTERM_APP = """
    import asyncio
    import signal
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        async def get(self):
            await asyncio.sleep(0.02)  # requests are in flight when a stop comes
            self.write(version.VERSION)


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
        {install}
        print("handler installed", flush=True)
        await asyncio.Event().wait()


    asyncio.run(main())
"""
# How the app stops on SIGTERM: tdev's handler (it drains), or the app's own that exits at once (as
# luigi's central scheduler does), installed with signal.signal or with the event loop.
SIGTERM_HANDLERS = {
    "tdev-handler": "pass",
    "signal-signal": "signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))",
    "loop-add-signal-handler": "asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sys.exit, 0)",
}


class Hammer:
    """A few client threads, each sending GET / on a new connection back to back, ``budget`` requests
    in all at most; failures (refused, reset, timeout, a status other than 200) are recorded."""

    def __init__(self, port: int, threads: int = 3, budget: int = 400) -> None:
        self.port = port
        self.budget = budget
        self.lock = threading.Lock()
        self.sent = 0
        self.answers: "dict[str, int]" = {}
        self.failures: "list[str]" = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _take(self) -> bool:
        with self.lock:
            if self.done.is_set() or self.sent >= self.budget:
                return False
            self.sent += 1
            return True

    def _run(self) -> None:
        while self._take():
            try:
                status, body = http_get(self.port, timeout=5.0)
            except Exception as exc:  # reset, RemoteDisconnected, refused, timeout: all failures
                with self.lock:
                    self.failures.append(repr(exc))
                continue
            with self.lock:
                if status == 200:
                    self.answers[body] = self.answers.get(body, 0) + 1
                else:
                    self.failures.append(f"status {status}: {body[:200]!r}")

    def count(self, body: str) -> int:
        with self.lock:
            return self.answers.get(body, 0)

    def __enter__(self) -> "Hammer":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.mark.parametrize("handler", list(SIGTERM_HANDLERS))
def test_app_with_its_own_sigterm_handler_loses_no_request_on_reload(tdev, tmp_path, port, handler):
    # The stop drains the old app (stop accepting, finish what it accepted) before its own handler can
    # make it exit: an app exiting at once on SIGTERM reset the connections it had just accepted.
    write(tmp_path / "app.py", OWN_SIGTERM_APP.replace("{install}", SIGTERM_HANDLERS[handler]))
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    t.wait_for(r"^handler installed$", stream="out")
    wait_for_body(port, "v1")
    reloads = 5
    with Hammer(port) as hammer:
        for n in range(1, reloads + 2):
            if n > 1:
                write(tmp_path / "version.py", f'VERSION = "v{n}"\n')
            # Requests answered by each version: the clients are busy when the next stop comes.
            wait_until(lambda: hammer.count(f"v{n}") >= 5 or hammer.sent >= hammer.budget, timeout=15,
                       message=f"v{n} answering the clients")
    assert hammer.failures == [], f"{len(hammer.failures)} failed of {hammer.sent}: {hammer.failures[:10]}\n{t.err}"
    assert all(hammer.count(f"v{n}") >= 5 for n in range(1, reloads + 2)), hammer.answers
    assert t.count(r"version\.py changed") == reloads, t.err
    assert t.count(r"handler installed", stream="out") == reloads + 1, t.out
    assert "Traceback" not in t.err and "did not stop" not in t.err, t.err
