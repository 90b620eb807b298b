"""The supervisor holds the app's listening sockets: no refused connection during a restart,
the same port across a broken app and its fix, every way Tornado binds, sockets the app gives
up are closed, a port taken by another process is reported once and the app starts by itself
once that process lets it go, and tdev itself listens on nothing but the app's sockets."""

import http.client
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import tornado

from tests.conftest import PYTHON, free_port, http_request, wait_for_body, wait_for_response, wait_until, write

# -- helpers -------------------------------------------------------------------------------------


request = http_request


def refused(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port6() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


NO_EADDRINUSE = "Address already in use"


def assert_no_eaddrinuse(t) -> None:
    assert NO_EADDRINUSE not in t.err and NO_EADDRINUSE not in t.out, t.err


# An app whose binding code is filled in per test; / serves version.VERSION.
APP_TEMPLATE = """
    import asyncio
    import sys

    import tornado.httpserver
    import tornado.netutil
    import tornado.web
    from tornado.ioloop import IOLoop

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    def make_app():
        return tornado.web.Application([(r"/.*", Main)])


    async def main():
        port = int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1]
    {bind}
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def app_source(bind: str) -> str:
    lines = [line.strip() for line in bind.strip().splitlines()]
    return APP_TEMPLATE.replace("    {bind}", "\n".join("        " + line for line in lines))


# -- 1. a continuous client through 20 reloads ----------------------------------------------------


class ContinuousClient(threading.Thread):
    """GET / on a new connection every ~2 ms until stopped (or ``max_seconds``, whichever first)."""

    def __init__(self, port: int, interval: float = 0.002, max_seconds: float = 30.0) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.max_seconds = max_seconds
        self.stopped = threading.Event()
        self.ok = 0
        self.failures: "list[str]" = []
        self.versions: "list[str]" = []  # each version served, in the order first seen
        self.answers: "dict[str, int]" = {}  # version -> how many requests it answered
        self.first_waits: "list[float]" = []  # how long the first request each version answered took
        self.latest = None

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self.stopped.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status, headers, body = request(self.port, timeout=5.0)
            except Exception as exc:  # refused, reset, RemoteDisconnected, timeout: all failures
                self.failures.append(f"{time.monotonic() - started:.3f}s {exc!r}")
            else:
                if status != 200 or "x-tdev" in headers:
                    self.failures.append(f"status {status} x-tdev={headers.get('x-tdev')!r} {body[:200]!r}")
                else:
                    self.ok += 1
                    if not self.versions or self.versions[-1] != body:
                        self.versions.append(body)
                        self.first_waits.append(time.monotonic() - started)
                    self.answers[body] = self.answers.get(body, 0) + 1
                    self.latest = body
            time.sleep(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def test_continuous_client_sees_no_failure_through_20_reloads(tdev, hello_app, port):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    client = ContinuousClient(port)
    client.start()
    started = time.monotonic()
    try:
        for n in range(1, 22):
            if n > 1:
                write(hello_app / "version.py", f'VERSION = "v{n}"\n')
            # A few answers from each version: the client is busy when the next restart begins.
            wait_until(
                lambda: client.answers.get(f"v{n}", 0) >= 3 or not client.is_alive(),
                timeout=10,
                message=f"v{n} served to the client",
            )
            assert client.answers.get(f"v{n}", 0) >= 3, f"the client stopped; failures: {client.failures[:5]}"
    finally:
        client.stop()
    elapsed = time.monotonic() - started
    assert client.failures == [], f"{len(client.failures)} failed requests of {client.ok + len(client.failures)}: {client.failures[:10]}"
    # Every version was served, in order: no request answered by an old app after a newer one.
    assert client.versions == [f"v{n}" for n in range(1, 22)], client.versions
    # Requests really did wait through restarts: the first answer of a new version mostly came to a
    # request sent before the new app served (the old app's exit, then the new one's start: over 5 ms
    # even from a ready standby; a request answered at once takes ~1 ms).
    waited = [w for w in client.first_waits[1:] if w > 0.005]
    assert len(waited) >= 10, f"only {len(waited)} of 20 restarts in {elapsed:.1f}s were waited through: {client.first_waits}"
    assert t.count(r"version\.py changed") >= 20, t.err
    assert_no_eaddrinuse(t)
    assert t.proc.poll() is None


# -- 2. the same port across a syntax error and its fix ------------------------------------------


def test_same_port_across_a_syntax_error_and_its_fix(tdev, hello_app, port):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    write(hello_app / "version.py", 'VERSION = "v2\n')  # unterminated string
    status, headers, body = wait_for_response(
        lambda s, h, b: s == 500, what="the error page", port=port
    )
    t.wait_for(r"app exited with code 1")
    assert headers.get("x-tdev") == "error", headers
    assert "SyntaxError" in body, body
    assert "version.py" in body, body
    # Still answered, on the same port, while broken: every request, not just the first.
    for _ in range(5):
        again = request(port)
        assert again[0] == 500 and "SyntaxError" in again[2], again
    write(hello_app / "version.py", 'VERSION = "v3"\n')
    status, headers, body = wait_for_response(
        lambda s, h, b: s == 200 and b == "v3", what="the fixed app", port=port
    )
    assert "x-tdev" not in headers, headers
    assert_no_eaddrinuse(t)
    listening = [line for line in t.err.splitlines() if "app listening on" in line]
    assert listening and all(line.endswith(f" http://127.0.0.1:{port}/") for line in listening), t.err


# -- 3. every way a Tornado app binds: each reloads on the same socket ---------------------------

TCP_VARIANTS = [
    pytest.param("make_app().listen(port)", "127.0.0.1", id="app.listen"),
    pytest.param(
        'tornado.httpserver.HTTPServer(make_app()).listen(port, "127.0.0.1")', "127.0.0.1", id="HTTPServer.listen"
    ),
    pytest.param(
        """
        server = tornado.httpserver.HTTPServer(make_app())
        server.bind(port)
        server.start(1)
        """,
        "127.0.0.1",
        id="bind+start(1)",
    ),
    pytest.param(
        """
        sockets = tornado.netutil.bind_sockets(port, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(make_app())
        server.add_sockets(sockets)
        """,
        "127.0.0.1",
        id="bind_sockets+add_sockets",
    ),
    pytest.param(
        'make_app().listen(port, "::1")',
        "::1",
        id="ipv6-loopback",
        marks=pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback"),
    ),
]


@pytest.mark.parametrize("bind, host", TCP_VARIANTS)
def test_binding_variant_reloads_on_the_same_port(tdev, tmp_path, bind, host):
    port = free_port6() if ":" in host else free_port()
    write(tmp_path / "app.py", app_source(bind))
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_response(lambda s, h, b: s == 200 and b == "v1", what="v1", port=port, host=host, timeout=15)
    t.wait_for(r"app listening on .*:%d/" % port, timeout=5)
    t.wait_for_standby()
    first = t.app_pids()
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    wait_for_response(lambda s, h, b: s == 200 and b == "v2", what="v2", port=port, host=host)
    assert t.app_pids().isdisjoint(first), "the app was not restarted"
    write(tmp_path / "version.py", 'VERSION = "v3"\n')
    wait_for_response(lambda s, h, b: s == 200 and b == "v3", what="v3", port=port, host=host)
    assert_no_eaddrinuse(t)
    assert "Traceback" not in t.err, t.err


def test_unix_socket_reloads_on_the_same_socket_file(tdev, tmp_path):
    # A short directory of its own: unix socket paths are limited to ~107 bytes.
    sock_dir = tempfile.mkdtemp(prefix="tdev-unix-")
    path = os.path.join(sock_dir, "app.sock")
    try:
        bind = """
            sock = tornado.netutil.bind_unix_socket(port)
            server = tornado.httpserver.HTTPServer(make_app())
            server.add_socket(sock)
        """
        write(tmp_path / "app.py", app_source(bind))
        write(tmp_path / "version.py", 'VERSION = "v1"\n')
        t = tdev(["run", "app.py", path], cwd=tmp_path)
        wait_for_response(lambda s, h, b: s == 200 and b == "v1", what="v1", unix=path, timeout=15)
        t.wait_for(r"app listening on unix:" + re.escape(path), timeout=5)
        inode = os.stat(path).st_ino
        t.wait_for_standby()
        first = t.app_pids()
        for n in (2, 3):
            write(tmp_path / "version.py", f'VERSION = "v{n}"\n')
            wait_for_response(lambda s, h, b: s == 200 and b == f"v{n}", what=f"v{n}", unix=path)
        assert t.app_pids().isdisjoint(first), "the app was not restarted"
        # The very same socket file: held, not unlinked and bound again by each app.
        assert os.stat(path).st_ino == inode
        assert_no_eaddrinuse(t)
        assert "Traceback" not in t.err, t.err
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.rmdir(sock_dir)


# -- 3b. the app moves to another address on the same port ------------------------------------------

ADDRESS_APP = """
    import asyncio
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), version.ADDRESS)
        await asyncio.Event().wait()


    asyncio.run(main())
"""


@pytest.mark.parametrize(
    "before, after",
    [
        pytest.param("127.0.0.1", "localhost", id="127.0.0.1-to-localhost"),
        pytest.param(None, "127.0.0.1", id="all-interfaces-to-127.0.0.1"),
    ],
)
def test_the_app_moves_to_another_address_on_the_same_port(tdev, tmp_path, port, before, after):
    """An edit of the listen address alone: the new app must get its socket, not a conflict with tdev's own."""
    write(tmp_path / "app.py", ADDRESS_APP)
    write(tmp_path / "version.py", f'VERSION = "v1"\nADDRESS = {before!r}\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    write(tmp_path / "version.py", f'VERSION = "v2"\nADDRESS = {after!r}\n')

    def settled():
        try:
            if request(port, timeout=1.0)[2] == "v2":
                return "served"
        except (OSError, http.client.HTTPException):
            pass
        return "failed" if t.count(r"already in use|app exited") else None

    outcome = wait_until(settled, timeout=10, message="v2 served or the app failed")
    assert t.count(r"already in use") == 0, t.err
    assert outcome == "served", t.err
    # The socket on the old address goes once the new app serves.
    t.wait_for(r"closed port %d\b" % port, timeout=5)
    assert request(port)[2] == "v2"


# -- 4. a port the app no longer listens on is closed ---------------------------------------------

TWO_PORTS_APP = """
    import asyncio
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    async def main():
        app = tornado.web.Application([(r"/", Main)])
        app.listen(int(sys.argv[1]), "127.0.0.1")
        if version.SECOND:
            app.listen(int(sys.argv[2]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_a_port_the_new_app_no_longer_listens_on_is_closed(tdev, tmp_path):
    main_port, second_port = free_port(), free_port()
    while second_port == main_port:
        second_port = free_port()
    write(tmp_path / "app.py", TWO_PORTS_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\nSECOND = True\n')
    t = tdev(["run", "app.py", str(main_port), str(second_port)], cwd=tmp_path)
    wait_for_body(main_port, "v1")
    wait_for_body(second_port, "v1")
    # Still held across a restart that keeps both.
    write(tmp_path / "version.py", 'VERSION = "v2"\nSECOND = True\n')
    wait_for_body(main_port, "v2")
    wait_for_body(second_port, "v2")
    assert t.count(r"closed port") == 0, t.err
    write(tmp_path / "version.py", 'VERSION = "v3"\nSECOND = False\n')
    wait_for_body(main_port, "v3")
    line = t.wait_for(r"closed port %d\b" % second_port, timeout=5)
    assert "no longer listens" in line, line
    wait_until(lambda: refused(second_port), timeout=5, message=f"port {second_port} refusing connections")
    assert t.count(r"closed port %d\b" % main_port) == 0, t.err
    assert request(main_port)[2] == "v3"
    assert_no_eaddrinuse(t)


# -- 5. a port held by another process, then let go -----------------------------------------------

HOLDER = """
import select, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
select.select([sys.stdin], [], [], 60)  # until the test closes stdin or kills it; never longer than 60 s
"""


class Holder:
    """A plain Python process holding 127.0.0.1:port (listening, never accepting) until it is killed by pid."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen([PYTHON, "-c", HOLDER, str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        assert self.proc.stdout.readline().strip() == b"listening"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()


def waiting_line(port: int) -> str:
    return r"^\[tdev\] app exited with code 1 — waiting for port %d on 127\.0\.0\.1 to be free" % port


def test_a_port_held_by_another_process_is_reported_once_and_tdev_waits_for_it(tdev, hello_app, port):
    holder = Holder(port)
    try:
        t = tdev(["run", "app.py", str(port)], cwd=hello_app)
        line = t.wait_for(r"^\[tdev\] .*already in use")
        assert re.search(r"\bport %d\b" % port, line), line
        assert re.search(r"\bpid %d\b" % holder.pid, line), line
        t.wait_for(waiting_line(port))
        time.sleep(2.5)  # two tries or more: each is silent
        assert t.count(r"^\[tdev\] .*already in use") == 1, t.err
        assert t.count(r"^\[tdev\] .*\bport %d\b" % port) == 2, t.err  # the holder, then the wait
        assert t.proc.poll() is None, "tdev exited"
        # A change meanwhile restarts as usual: the new app is refused too, and tdev waits again.
        write(hello_app / "version.py", 'VERSION = "v2"\n')
        t.wait_for(r"^\[tdev\] .*already in use", count=2)
        t.wait_for(waiting_line(port), count=2)
        holder.release()
        t.wait_for(r"^\[tdev\] port %d is free — starting the app" % port, timeout=5)
        wait_for_body(port, "v2")
        t.wait_for(r"app listening on http://127\.0\.0\.1:%d/" % port)
        assert t.count(r"^\[tdev\] .*already in use") == 2, t.err
        assert t.count(r"is free — starting the app") == 1, t.err
    finally:
        holder.release()


def test_a_port_another_process_lets_go_starts_the_app_by_itself(tdev, hello_app, port):
    holder = Holder(port)
    try:
        t = tdev(["run", "app.py", str(port)], cwd=hello_app)
        t.wait_for(r"^\[tdev\] app exited with code 1\b")
        time.sleep(1.5)  # at least one try while it is still held
        assert t.count(r"is free") == 0, t.err
        holder.release()  # killed by pid: the port is free, no file changed
        released = time.monotonic()
        assert wait_for_body(port, "v1", timeout=10) == "v1"
        line = t.wait_for(r"^\[tdev\] port %d is free — starting the app$" % port, timeout=5)
        listening = t.wait_for(r"app listening on http://127\.0\.0\.1:%d/" % port, timeout=5)
        assert t.err.index(line) < t.err.index(listening), t.err
        assert time.monotonic() - released < 5, "the app did not serve within ~2 s of the port being let go"
        assert t.count(r"restarting") == 0, t.err
        assert t.count(waiting_line(port)) == 1, t.err
        assert t.count(r"^\[tdev\] .*already in use") == 1, t.err
        assert_no_eaddrinuse(t)
    finally:
        holder.release()


UNIX_HOLDER = """
import select, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind("\\0" + sys.argv[1])
s.listen()
print("listening", flush=True)
select.select([sys.stdin], [], [], 60)
"""


@pytest.mark.skipif(tornado.version_info < (6, 5), reason="Tornado < 6.5 cannot bind abstract unix sockets itself")
def test_an_abstract_unix_socket_another_process_lets_go_starts_the_app_by_itself(tdev, tmp_path):
    # A socket file is replaced by bind_unix_socket (never in use); a Linux abstract name can be in use.
    name = f"tdev-test-{os.getpid()}-{time.monotonic_ns()}"
    write(tmp_path / "app.py", app_source("""
        sock = tornado.netutil.bind_unix_socket("\\0" + port)
        server = tornado.httpserver.HTTPServer(make_app())
        server.add_socket(sock)
    """))
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    holder = subprocess.Popen([PYTHON, "-c", UNIX_HOLDER, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == b"listening"
        t = tdev(["run", "app.py", name], cwd=tmp_path)
        t.wait_for(r"^\[tdev\] app exited with code 1 — waiting for unix socket @%s to be free" % name)
        holder.kill()
        holder.wait(timeout=10)
        wait_for_response(lambda s, h, b: s == 200 and b == "v1", what="v1", unix="\0" + name, timeout=10)
        t.wait_for(r"^\[tdev\] unix socket @%s is free — starting the app" % name, timeout=5)
        t.wait_for(r"app listening on unix:@%s$" % name, timeout=5)
        assert t.count(r"restarting") == 0, t.err
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=10)
        holder.stdin.close()
        holder.stdout.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_while_waiting_for_a_port_exits_at_once(tdev, hello_app, port, sig):
    holder = Holder(port)
    try:
        t = tdev(["run", "app.py", str(port)], cwd=hello_app)
        t.wait_for(waiting_line(port))
        time.sleep(1.2)  # a try has come and gone: the next is pending
        before = len(t.err.splitlines())
        t.signal(sig)
        sent = time.monotonic()
        assert t.wait(timeout=10) == 0, t.err
        assert time.monotonic() - sent < 2.0, t.err
        after = "\n".join(t.err.splitlines()[before:])
        assert "Traceback" not in after and "Error" not in after, after
        assert t.count(r"is free") == 0, t.err
        assert t.app_pids() == set()
    finally:
        holder.release()


# -- 8. tdev listens on nothing but the app's sockets ---------------------------------------------


def _ip_from_proc(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def proc_net_sockets():
    """inode -> description for every listening TCP socket, listening unix socket and UDP/raw socket."""
    found = {}
    for table in ("tcp", "tcp6"):
        with open(f"/proc/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                address, port = fields[1].rsplit(":", 1)
                if fields[3] == "0A":  # TCP_LISTEN
                    found[fields[9]] = ("tcp", _ip_from_proc(address), int(port, 16))
    for table in ("udp", "udp6", "raw", "raw6"):
        try:
            with open(f"/proc/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    address, port = fields[1].rsplit(":", 1)
                    found[fields[9]] = (table, _ip_from_proc(address), int(port, 16))
        except FileNotFoundError:
            pass
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            flags = int(fields[3], 16)
            if flags & 0x10000:  # __SO_ACCEPTCON: a listening unix socket
                found[fields[6]] = ("unix", fields[7] if len(fields) > 7 else "", None)
    return found


def socket_inodes(pid: int) -> "set[str]":
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            inodes.add(match.group(1))
    return inodes


def exposed_by(pid: int):
    table = proc_net_sockets()
    return sorted(table[inode] for inode in socket_inodes(pid) if inode in table)


def assert_only_the_app_port(pid: int, port: int, livereload: bool) -> None:
    exposed = exposed_by(pid)
    app = ("tcp", "127.0.0.1", port)
    assert app in exposed, f"tdev does not hold the app's socket: {exposed}"
    others = [entry for entry in exposed if entry != app]
    if livereload:
        # The browser live-reload WebSocket: one TCP socket, on loopback only.
        assert len(others) == 1 and others[0][0] == "tcp" and others[0][1] == "127.0.0.1", exposed
    else:
        assert others == [], exposed


@pytest.mark.parametrize("livereload", [False, True], ids=["no-livereload", "livereload"])
def test_tdev_listens_on_nothing_but_the_apps_port(tdev, hello_app, port, livereload):
    options = [] if livereload else ["--no-livereload"]
    t = tdev(["run", *options, "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"app listening on")
    # The console script is tdev's supervisor itself (the app is its child).
    assert t.app_pids(), "no app process below tdev"
    assert_only_the_app_port(t.pid, port, livereload)
    # While the app is broken tdev answers on the same socket, and still on nothing else.
    write(hello_app / "version.py", "raise RuntimeError('broken on purpose')\n")
    wait_for_response(lambda s, h, b: s == 500, what="the error page", port=port)
    assert_only_the_app_port(t.pid, port, livereload)
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    assert_only_the_app_port(t.pid, port, livereload)


def test_a_socket_name_tornado_refuses_is_one_line_not_a_traceback(tdev, tmp_path):
    # bind_unix_socket raises ValueError for a name with a NUL byte inside (and, before Tornado 6.5,
    # for an abstract name): tdev answers the app's request with that error, as one line.
    write(tmp_path / "app.py", app_source("""
        sock = tornado.netutil.bind_unix_socket("a\\0b.sock")
        server = tornado.httpserver.HTTPServer(make_app())
        server.add_socket(sock)
    """))
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", "unused"], cwd=tmp_path)
    t.wait_for(r"^\[tdev\] cannot listen on unix socket .*a\\x00b\.sock: .*embedded null")  # byte / character
    t.wait_for(r"^\[tdev\] app exited with code 1")
    assert "Exception in callback" not in t.err and "internal error" not in t.err, t.err
    assert t.proc.poll() is None


GREETING_APP = """
    import asyncio
    import sys

    import tornado.tcpserver


    class Greeter(tornado.tcpserver.TCPServer):
        async def handle_stream(self, stream, address):
            await stream.write(b"hello\\n")  # the server speaks first
            stream.close()


    async def main():
        Greeter().listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_a_server_that_speaks_first_gets_its_connections_at_once(tdev, tmp_path, port):
    # HTTP servers' sockets accept a connection only once its request arrives (Linux TCP_DEFER_ACCEPT,
    # so idle browser connections never hold up a restart); any other TCPServer accepts at once.
    write(tmp_path / "app.py", GREETING_APP)
    tdev(["run", "app.py", str(port)], cwd=tmp_path)

    def greeting():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
                return s.recv(100)
        except OSError:
            return None

    assert wait_until(greeting, timeout=15, message="the greeting") == b"hello\n"


INHERITABLE_APP = """
    import asyncio
    import os
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            # Every socket descriptor the app holds (its listening socket came from tdev over the channel).
            sockets = {}
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                        sockets[fd] = os.get_inheritable(int(fd))
                except OSError:
                    pass
            self.write(f"{version.VERSION} {sorted(sockets.values())}")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_the_apps_sockets_are_not_inherited_by_what_it_runs(tdev, tmp_path, port):
    """As under plain python (PEP 446): the listening socket tdev hands over is not inheritable, so a
    program the app execs (close_fds=False, os.system) cannot keep the port after the app is gone."""
    write(tmp_path / "app.py", INHERITABLE_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    tdev(["run", "app.py", str(port)], cwd=tmp_path)
    body = wait_for_body(port, "v1")
    assert body.startswith("v1 [False") and "True" not in body, body
    write(tmp_path / "version.py", 'VERSION = "v2"\n')  # a warm restart: the same, from the standby
    body = wait_for_body(port, "v2")
    assert "True" not in body, body
