"""The app process, end to end: what the target sees, Tornado's multi-process mode and autoreload,
signals, and that no process of the app outlives tdev or a restart."""

import json
import os
import re
import signal
import socket
import subprocess
import textwrap
import time

import pytest

from tests.conftest import PYTHON, TDEV, http_get, pid_alive, wait_for_body, wait_until, write

# Interpreter flags that tdev must hand on to the app unchanged (checked through sys.flags,
# sys.warnoptions and sys._xoptions).
PYTHON_FLAGS = ["-O", "-B", "-s", "-W", "error::DeprecationWarning", "-X", "faulthandler", "-X", "utf8"]


def port_is_free(port: int) -> bool:
    """True when a server could listen on ``port`` now (SO_REUSEADDR, as Tornado binds)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def line_of(path, needle: str) -> int:
    """1-based number of the first line of ``path`` containing ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def served(port: int, path: str = "/") -> "dict[str, str]":
    """GET a ``key=value key=value`` body and parse it."""
    status, body = http_get(port, path)
    assert status == 200, (status, body)
    return dict(item.split("=", 1) for item in body.split())


def served_when_up(port: int) -> "dict[str, str]":
    wait_for_body(port, "pid=")
    return served(port)


# -- 1. the target sees what plain python sees ------------------------------------------------

REPORT = """
    import json
    import os
    import re
    import sys


    def _clean(text):
        return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


    report = {
        "argv": sys.argv,
        "name": __name__,
        "path0": sys.path[0],
        "path": sys.path,
        "file": globals().get("__file__"),
        "cached": globals().get("__cached__"),
        "package": __package__,
        "spec": _clean(repr(__spec__)),
        "spec_fields": None if __spec__ is None else [
            __spec__.name, __spec__.origin, __spec__.parent, type(__spec__.loader).__name__
        ],
        "loader": type(globals().get("__loader__")).__name__,
        "main_is_this_module": sys.modules["__main__"].__dict__ is globals(),
        "flags": repr(sys.flags),
        "optimize": sys.flags.optimize,
        "dont_write_bytecode": sys.flags.dont_write_bytecode,
        "debug": __debug__,
        "warnoptions": sys.warnoptions,
        "xoptions": sys._xoptions,
        "cwd": os.getcwd(),
    }
    out = os.environ["REPORT_PATH"]
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    os.replace(out + ".tmp", out)
"""


@pytest.mark.parametrize("kind", ["script", "module"])
def test_target_sees_what_plain_python_sees(tdev, tmp_path, kind):
    project = tmp_path / "project"
    write(project / "app.py", REPORT)
    write(project / "pkg" / "__init__.py", "")
    write(project / "pkg" / "mod.py", REPORT)
    target = ["app.py"] if kind == "script" else ["-m", "pkg.mod"]
    app_args = ["a", "b", "--c"]

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TDEV_POLL")}
    plain_report = tmp_path / "plain.json"
    plain = subprocess.run(
        [PYTHON, *PYTHON_FLAGS, *target, *app_args],
        cwd=project,
        env={**env, "REPORT_PATH": str(plain_report)},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert plain.returncode == 0, plain.stderr
    expected = json.loads(plain_report.read_text(encoding="utf-8"))
    # The flags really are in effect (so the comparison below is not between two defaults).
    assert expected["optimize"] == 1 and expected["dont_write_bytecode"] == 1 and expected["debug"] is False
    assert expected["warnoptions"] == ["error::DeprecationWarning"]
    assert expected["xoptions"] == {"faulthandler": True, "utf8": True}
    assert expected["argv"][1:] == app_args and expected["name"] == "__main__"

    tdev_report = tmp_path / "tdev.json"
    t = tdev(
        ["run", *target, *app_args],
        cwd=project,
        env={"REPORT_PATH": str(tdev_report)},
        command=[PYTHON, *PYTHON_FLAGS, "-m", "devserver"],
    )
    wait_until(tdev_report.exists, timeout=15, message=f"{tdev_report} (tdev stderr: {t.err})")
    actual = json.loads(tdev_report.read_text(encoding="utf-8"))
    assert actual == expected
    # The report script ends normally; tdev then waits for a change.
    t.wait_for(r"exited with code 0")


# -- 2. unbuffered output ---------------------------------------------------------------------

def test_app_output_is_unbuffered(tdev, tmp_path):
    write(
        tmp_path / "app.py",
        """
        import os

        from tornado.ioloop import IOLoop

        print("hello from the app, PYTHONUNBUFFERED=" + str(os.environ.get("PYTHONUNBUFFERED")))
        IOLoop.current().start()  # blocks for ever, never flushing stdout itself
        """,
    )
    # Not inherited from the test's own environment: tdev must set it.
    t = tdev(["run", "app.py"], cwd=tmp_path, env={"PYTHONUNBUFFERED": None})
    line = t.wait_for(r"hello from the app", stream="out", timeout=15)
    assert line == "hello from the app, PYTHONUNBUFFERED=1"
    # Seen while the app is still running: it was not the flush at exit.
    assert t.app_pids(), "the app should still be running"
    assert t.proc.poll() is None


# -- 3 / 4. Tornado multi-process mode ------------------------------------------------------------

MULTI_APP = """
    import os
    import sys

    import tornado.web
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(f"pid={os.getpid()} ppid={os.getppid()}")


    app = tornado.web.Application([(r"/", MainHandler)])
    server = HTTPServer(app)
    server.bind(int(sys.argv[1]), address="127.0.0.1")
    server.start(int(sys.argv[2]))
    IOLoop.current().start()
"""


def test_server_start_0_is_refused(tdev, tmp_path, port):
    app = write(tmp_path / "app.py", MULTI_APP)
    line = line_of(app, "server.start(")
    t = tdev(["run", "app.py", str(port), "0"], cwd=tmp_path)
    t.wait_for(r"waiting for changes")
    err = t.err
    assert "MultiProcessRefused" in err
    assert re.search(rf"app\.py:{line}\b", err), err
    assert "--no-reload" in err
    # Refused before forking: no worker was left behind; tdev answers on the port with the error.
    assert t.app_pids() == set()
    status, body = http_get(port, timeout=2.0)
    assert status == 500 and "MultiProcessRefused" in body, body
    assert t.proc.poll() is None, "tdev keeps waiting for a fix"


def test_fork_processes_is_refused(tdev, tmp_path):
    app = write(
        tmp_path / "app.py",
        """
        import tornado.process

        task_id = tornado.process.fork_processes(2)
        print("forked worker", task_id, flush=True)
        """,
    )
    line = line_of(app, "fork_processes(")
    t = tdev(["run", "app.py"], cwd=tmp_path)
    t.wait_for(r"waiting for changes")
    err = t.err
    assert "MultiProcessRefused" in err
    assert re.search(rf"app\.py:{line}\b", err), err
    assert "--no-reload" in err
    assert "forked worker" not in t.out
    assert t.app_pids() == set()


def test_no_reload_runs_multi_process_as_plain_python(tdev, tmp_path, port):
    write(tmp_path / "app.py", MULTI_APP)
    t = tdev(["run", "--no-reload", "app.py", str(port), "2"], cwd=tmp_path)
    body = served_when_up(port)
    # tdev exec'd python: its pid is now the Tornado parent process of the workers.
    assert int(body["ppid"]) == t.pid
    with open(f"/proc/{t.pid}/cmdline", "rb") as f:
        cmdline = [part.decode() for part in f.read().split(b"\0") if part]
    # python [interpreter flags tdev itself ran with, e.g. -B from PYTHONDONTWRITEBYTECODE] app.py ARGS
    assert cmdline[-3:] == ["app.py", str(port), "2"], cmdline
    assert all(part.startswith("-") for part in cmdline[1:-3]), cmdline
    assert not any("devserver" in part or "bootstrap" in part for part in cmdline), cmdline
    workers = wait_until(lambda: (lambda pids: len(pids) == 2 and pids)(t.app_pids()), timeout=10, message="2 workers")
    assert int(body["pid"]) in workers
    assert "[tdev]" not in t.err


def test_no_reload_exit_code_is_the_apps(tdev, tmp_path):
    write(tmp_path / "app.py", "import sys\nsys.exit(7)\n")
    t = tdev(["run", "--no-reload", "app.py"], cwd=tmp_path)
    assert t.wait(timeout=15) == 7


def test_no_reload_runs_a_script_whose_name_starts_with_a_dash(tdev, tmp_path):
    # python -- -dash.py works; so must tdev run --no-reload -- -dash.py (and tdev run -- -dash.py).
    write(tmp_path / "-dash.py", "import sys\nprint('ran', sys.argv[1:])\nsys.exit(3)\n")
    t = tdev(["run", "--no-reload", "--", "-dash.py", "x"], cwd=tmp_path)
    assert t.wait(timeout=15) == 3
    assert "ran ['x']" in t.out, t.err


# -- 5. debug=True -------------------------------------------------------------------------------

DEBUG_APP = """
    import asyncio
    import os
    import sys

    import tornado.web

    import version

    TOKEN = os.urandom(8).hex()  # new for every start of the program, even an exec in place


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(f"version={version.VERSION} pid={os.getpid()} token={TOKEN}")


    class BoomHandler(tornado.web.RequestHandler):
        def get(self):
            1 / 0


    async def main():
        app = tornado.web.Application([(r"/", MainHandler), (r"/boom", BoomHandler)], debug=True)
        app.listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_debug_true_autoreload_is_neutralised(tdev, tmp_path, port):
    write(tmp_path / "app.py", DEBUG_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "version=v1")
    first = served(port)
    pid1 = int(first["pid"])
    t.wait_for(r"autoreload")
    t.wait_for_standby()
    assert t.app_pids() == {pid1}

    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "version=v2")
    second = served(port)
    pid2 = int(second["pid"])
    assert pid2 != pid1
    wait_until(lambda: not pid_alive(pid1), timeout=5, message=f"old app {pid1} gone")

    # Stable for longer than Tornado's autoreload period (0.5 s): no second restart, no exec in place.
    deadline = time.monotonic() + 1.5
    t.wait_for_standby()
    while time.monotonic() < deadline:
        assert served(port) == second
        assert t.app_pids() == {pid2}
        time.sleep(0.1)
    assert t.count(r"restarting") == 1, t.err
    assert t.count(r"^\[tdev\].*autoreload") == 1, t.err

    # The other debug features stay on: tracebacks in 500 pages.
    status, body = http_get(port, "/boom")
    assert status == 500
    assert "Traceback" in body and "ZeroDivisionError" in body


# -- 6. reload hooks ------------------------------------------------------------------------------

HOOK_APP = """
    import asyncio
    import os
    import sys

    import tornado.autoreload
    import tornado.web

    import version

    MARKER = sys.argv[2]


    def hook():
        with open(MARKER, "a", encoding="utf-8") as f:
            f.write(f"hook {os.getpid()}\\n")


    tornado.autoreload.add_reload_hook(hook)


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(f"version={version.VERSION} pid={os.getpid()}")


    async def main():
        tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_reload_hooks_run_on_restart_and_on_exit(tdev, tmp_path, port):
    write(tmp_path / "app.py", HOOK_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    marker = tmp_path / "hooks.txt"
    t = tdev(["run", "app.py", str(port), str(marker)], cwd=tmp_path)
    wait_for_body(port, "version=v1")
    pid1 = int(served(port)["pid"])
    assert not marker.exists()

    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "version=v2")
    pid2 = int(served(port)["pid"])
    # The old app ran its hook before it exited, and the new app had to wait for that.
    assert marker.read_text(encoding="utf-8").splitlines() == [f"hook {pid1}"]

    t.signal(signal.SIGTERM)
    assert t.wait(timeout=10) == 0
    assert marker.read_text(encoding="utf-8").splitlines() == [f"hook {pid1}", f"hook {pid2}"]


# -- 7 / 8. signals to tdev ---------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_stops_tdev_and_the_app(tdev, hello_app, port, sig):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    pids = t.app_pids()
    assert pids
    started = time.monotonic()
    t.signal(sig)
    code = t.wait(timeout=10)
    elapsed = time.monotonic() - started
    assert code == 0, t.err
    assert elapsed < 5, f"tdev took {elapsed:.1f}s to exit on {sig.name}:\n{t.err}"
    assert not [pid for pid in pids if pid_alive(pid)]
    assert port_is_free(port)


GRANDCHILD_APP = """
    import asyncio
    import os
    import subprocess
    import sys

    import tornado.web

    import version

    GRANDCHILD = subprocess.Popen([sys.executable, "-c", {code!r}])


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(f"version={{version.VERSION}} pid={{os.getpid()}} grandchild={{GRANDCHILD.pid}}")


    async def main():
        tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""
SLEEPER = "import time; time.sleep(60)"
STUBBORN_SLEEPER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def ignores_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return bool(int(fields["SigIgn"], 16) & (1 << (signal.SIGTERM - 1)))


def grandchild_app(directory, code=SLEEPER):
    write(directory / "app.py", textwrap.dedent(GRANDCHILD_APP).format(code=code))
    write(directory / "version.py", 'VERSION = "v1"\n')
    return directory


def test_sigkill_to_tdev_takes_the_app_and_its_children_down(tdev, tmp_path, port):
    grandchild_app(tmp_path)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "version=v1")
    info = served(port)
    app_pid, grandchild = int(info["pid"]), int(info["grandchild"])
    pids = t.app_pids()
    assert {app_pid, grandchild} <= pids

    t.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + 2.0
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids):
        time.sleep(0.01)
    elapsed = time.monotonic() - killed_at
    left = [pid for pid in pids if pid_alive(pid)]
    assert not left, f"still alive {elapsed:.2f}s after tdev was killed: {left}"
    assert elapsed <= 1.5, f"the app outlived tdev by {elapsed:.2f}s"
    assert t.wait(timeout=5) == -signal.SIGKILL
    wait_until(lambda: port_is_free(port), timeout=1.0, message=f"port {port} free")


# -- 9 / 10. restarts leave nothing behind ------------------------------------------------------------

@pytest.mark.parametrize("code", [SLEEPER, STUBBORN_SLEEPER], ids=["sleeper", "ignores-sigterm"])
def test_grandchildren_are_gone_after_a_restart(tdev, tmp_path, port, code):
    grandchild_app(tmp_path, code)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "version=v1")
    old = int(served(port)["grandchild"])
    assert old in t.app_pids()  # (also: the fixture now knows it and kills it at teardown, whatever happens)
    if code == STUBBORN_SLEEPER:
        wait_until(lambda: ignores_sigterm(old), timeout=5, message=f"grandchild {old} ignoring SIGTERM")

    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "version=v2")
    info = served(port)
    wait_until(lambda: not pid_alive(old), timeout=3, message=f"old grandchild {old} gone")
    t.wait_for_standby()
    assert t.app_pids() == {int(info["pid"]), int(info["grandchild"])}


def test_app_ignoring_sigterm_is_killed_after_grace(tdev, tmp_path, port):
    write(
        tmp_path / "app.py",
        """
        import asyncio
        import os
        import signal
        import sys

        import tornado.web

        import version

        signal.signal(signal.SIGTERM, signal.SIG_IGN)


        class MainHandler(tornado.web.RequestHandler):
            def get(self):
                self.write(f"version={version.VERSION} pid={os.getpid()}")


        async def main():
            tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
            await asyncio.Event().wait()


        asyncio.run(main())
        """,
    )
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "--grace", "0.5", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "version=v1")
    old = int(served(port)["pid"])

    changed = time.monotonic()
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "version=v2")
    elapsed = time.monotonic() - changed
    line = t.wait_for(r"kill", timeout=5)
    assert line.startswith("[tdev]") and "0.5" in line, line
    assert elapsed >= 0.45, f"the new app came up {elapsed:.2f}s after the change, before the grace period ended"
    assert not pid_alive(old)


STUCK_AT_START = """
    import os
    import sys
    import time

    # The first app process tdev starts is stuck before any of tdev's code runs in it.
    if sys.argv and os.path.basename(sys.argv[0]) == "bootstrap.py":
        try:
            fd = os.open({marker!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            time.sleep(30)
"""


def test_app_stuck_before_tdev_runs_in_it_still_stops_at_once(tdev, hello_app, port, tmp_path_factory):
    # The stop is a message that the app's lifeline thread acts on. An app process that cannot read it
    # yet gets SIGTERM from tdev shortly after, as before: not the whole --grace and a SIGKILL.
    site = tmp_path_factory.mktemp("site")
    marker = site / "stuck.pid"
    write(site / "sitecustomize.py", STUCK_AT_START.format(marker=str(marker)))
    t = tdev(["run", "app.py", str(port)], cwd=hello_app, env={"PYTHONPATH": str(site)})
    wait_until(lambda: marker.exists() and marker.read_text(), timeout=10, message="the stuck app process")
    stuck = int(marker.read_text())
    changed = time.monotonic()
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    elapsed = time.monotonic() - changed
    assert not pid_alive(stuck)
    assert elapsed < 3, f"v2 served {elapsed:.2f}s after the change:\n{t.err}"
    assert "did not stop" not in t.err, t.err


# -- 11. the app dies at run time ---------------------------------------------------------------------

CRASHING_APP = """
    import asyncio
    import os
    import signal
    import sys

    import tornado.web
    from tornado.ioloop import IOLoop

    import version


    def boom():
        {crash}


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(f"version={{version.VERSION}}")


    async def main():
        tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
        if version.CRASH:
            IOLoop.current().call_later(0.3, boom)
        await asyncio.Event().wait()


    asyncio.run(main())
"""


@pytest.mark.parametrize(
    "crash, reported",
    [
        ("raise SystemExit(5)", "exited with code 5"),
        ("os._exit(5)", "exited with code 5"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "was killed by SIGKILL"),
    ],
    ids=["SystemExit-in-callback", "os._exit", "SIGKILL"],
)
def test_runtime_crash_is_reported_and_tdev_waits(tdev, tmp_path, port, crash, reported):
    write(tmp_path / "app.py", textwrap.dedent(CRASHING_APP).format(crash=crash))
    write(tmp_path / "version.py", 'VERSION = "v1"\nCRASH = True\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    line = t.wait_for(re.escape(reported))
    assert line.startswith("[tdev]") and "waiting for changes" in line, line
    assert t.proc.poll() is None, "tdev must keep running"
    assert t.app_pids() == set()
    # tdev keeps the port and answers with what happened until the app serves again.
    status, body = http_get(port, timeout=2.0)
    assert status == 500 and "not running" in body, body

    write(tmp_path / "version.py", 'VERSION = "v2"\nCRASH = False\n')
    wait_for_body(port, "version=v2")
    assert t.count(re.escape(reported)) == 1


# -- processes that leave the app's process group -----------------------------------------------------

ESCAPING_APP = """
    import asyncio, os, subprocess, sys
    import tornado.web
    import version

    SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


    def daemon():
        # The classic double fork: the daemon ends up in a session of its own, holding every
        # descriptor the app had at that point (the listening socket included).
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                os.write(w, str(os.getpid()).encode())
                os.close(w)
                os.execv(SLEEP[0], SLEEP)
            os._exit(0)
        os.close(w)
        pid = int(os.read(r, 32))
        os.close(r)
        return pid


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(f"version={version.VERSION} pids={ESCAPED}")


    async def main():
        global ESCAPED
        tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
        session = subprocess.Popen(SLEEP, start_new_session=True)
        ESCAPED = f"{session.pid},{daemon()}"
        with open("escaped.txt", "a") as f:
            f.write(ESCAPED + "\\n")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def escaped_pids(directory) -> "list[int]":
    path = directory / "escaped.txt"
    return [int(p) for line in path.read_text().split() for p in line.split(",")] if path.exists() else []


def kill_pids(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_processes_that_left_the_group_go_on_restart_and_on_exit(tdev, tmp_path, port):
    write(tmp_path / "app.py", ESCAPING_APP)
    write(tmp_path / "version.py", 'VERSION = "one-111"\n')
    try:
        t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
        wait_for_body(port, "version=one-111")
        first = escaped_pids(tmp_path)
        assert len(first) == 2 and all(pid_alive(pid) for pid in first)
        write(tmp_path / "version.py", 'VERSION = "two-222"\n')
        wait_for_body(port, "version=two-222")
        wait_until(lambda: not any(pid_alive(pid) for pid in first), timeout=5, message=f"escaped {first} gone")
        wait_until(lambda: len(escaped_pids(tmp_path)) == 4, timeout=5, message="the new app's helpers")
        second = escaped_pids(tmp_path)[2:]
        t.signal(signal.SIGTERM)
        assert t.wait(timeout=10) == 0
        wait_until(lambda: not any(pid_alive(pid) for pid in second), timeout=5, message=f"escaped {second} gone")
        # The daemon held the listening socket: with it gone, the port is free for the next tdev.
        wait_until(lambda: port_is_free(port), timeout=2.0, message=f"port {port} free")
    finally:
        kill_pids(escaped_pids(tmp_path))


def test_check_returns_while_a_process_the_app_left_holds_its_stdout(tmp_path, port):
    # `tdev check app.py | tail`: the daemon inherited the app's stdout (the pipe): the check must
    # still finish, and the pipe reach its end, when the app is done.
    write(tmp_path / "app.py", ESCAPING_APP)
    write(tmp_path / "version.py", 'VERSION = "one-111"\n')
    proc = subprocess.Popen([*TDEV, "check", "app.py", "--", str(port)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=30)  # reads until EOF: every writer of the pipe is gone
        assert proc.returncode == 0, out.decode()
        assert b"passed" in out
        assert not any(pid_alive(pid) for pid in escaped_pids(tmp_path))
    finally:
        kill_pids(escaped_pids(tmp_path))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _cmdline(pid: int) -> "list[str]":
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().split(b"\0") if part]


def test_ps_shows_the_app_as_the_users_command(tdev, hello_app, port):
    write(hello_app / "version.py", 'import os\nVERSION = "v1 " + str(sorted(k for k in os.environ if "TDEV" in k))\n')
    t = tdev(["run", "app.py", str(port), "--flag"], cwd=hello_app)
    assert wait_for_body(port, "v1") == "v1 []"  # tdev's message to the app process is not in its environment
    t.wait_for_standby()
    for pid in t.app_pids() | t.standby_pids():
        cmdline = _cmdline(pid)
        # python [interpreter flags tdev itself ran with] app.py ARGS: no bootstrap path, no JSON, no descriptor
        assert cmdline[-3:] == ["app.py", str(port), "--flag"], cmdline
        assert all(part.startswith("-") for part in cmdline[1:-3]), cmdline
        assert os.path.samefile(cmdline[0], PYTHON), cmdline
