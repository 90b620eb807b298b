"""The fork server: standbys are copies of a process that imported the app's libraries once.

A copy must be what a new process would be: its parent (tdev), its session and process group, its
random generators (Python's and a C library's global one), its threads.  Where a copy cannot be the
same (a thread started at import time), no copies are made and standbys are new processes again.
The exit of a copy (a code, a signal) is reported as any app's, and nothing is left when tdev dies."""

import json
import signal
import sys

import pytest

from tests.conftest import http_get, pid_alive, wait_for_body, wait_until, write

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server: Linux")]

PROBE_APP = """
    import asyncio
    import gc
    import json
    import os
    import random
    import sys
    import threading

    import tornado.web

    import numpy.random
    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(json.dumps({
                "version": version.VERSION,
                "pid": os.getpid(),
                "ppid": os.getppid(),
                "session_leader": os.getsid(0) == os.getpid(),
                "group_leader": os.getpgrp() == os.getpid(),
                "random": random.random(),
                "c_random": numpy.random.value(),
                "threads": sorted(t.name for t in threading.enumerate()),
                "argv": sys.argv,
                "path0": sys.path[0],
                "frozen": gc.get_freeze_count(),
            }))


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""

# A stand-in for numpy's global generator (numpy is not a test dependency): seeded from the OS at import,
# like numpy's; ``seed()`` with no argument seeds it afresh, as numpy.random.seed() does.
FAKE_NUMPY_RANDOM = """
    import os

    _state = os.urandom(8).hex()


    def seed(value=None):
        global _state
        _state = os.urandom(8).hex() if value is None else str(value)


    def value():
        return _state
"""


def probe(port, version):
    wait_for_body(port, f'"version": "{version}"')
    return json.loads(http_get(port)[1])


def probe_project(tmp_path, app=PROBE_APP):
    libs = tmp_path / "libs"
    write(libs / "numpy" / "__init__.py", "")
    write(libs / "numpy" / "random" / "__init__.py", FAKE_NUMPY_RANDOM)
    project = tmp_path / "project"
    write(project / "app.py", app)
    write(project / "version.py", 'VERSION = "v1"\n')
    return project, {"PYTHONPATH": str(libs)}


def test_a_forked_standby_is_what_a_new_process_would_be(tdev, tmp_path, port):
    project, env = probe_project(tmp_path)
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    cold = probe(port, "v1")
    seen = [cold]
    for n in (2, 3):
        t.wait_for(r"standby \d+ ready: forked from the fork server", count=n - 1)
        write(project / "version.py", f'VERSION = "v{n}"\n')
        seen.append(probe(port, f"v{n}"))
        went = t.wait_for(r"standby \d+ told to go", count=n - 1)
        assert int(went.split()[2]) == seen[-1]["pid"], t.err
    for warm in seen[1:]:
        assert warm["ppid"] == cold["ppid"] == t.pid  # tdev's child, not the fork server's
        assert warm["session_leader"] and warm["group_leader"] and cold["session_leader"]
        assert warm["threads"] == cold["threads"]
        assert (warm["argv"], warm["path0"]) == (cold["argv"], cold["path0"])
    # The one difference the README states and a test can see: what the fork server imported is frozen.
    assert cold["frozen"] == 0 and all(warm["frozen"] > 1000 for warm in seen[1:]), [s["frozen"] for s in seen]
    # Each process draws its own random numbers, from Python's generator and from a C library's.
    assert len({s["random"] for s in seen}) == 3
    assert len({s["c_random"] for s in seen}) == 3
    assert t.count(r"\(warm\)") == 2 and "Traceback" not in t.err, t.err


def test_a_thread_started_at_import_means_standbys_are_new_processes(tdev, tmp_path, port):
    project, env = probe_project(tmp_path, PROBE_APP.replace("import numpy.random\n", "import numpy.random\n    import poller\n"))
    write(tmp_path / "libs" / "poller.py", """
        import threading
        import time

        threading.Thread(target=lambda: time.sleep(3600), name="poller", daemon=True).start()
    """)
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    cold = probe(port, "v1")
    assert "poller" in cold["threads"]
    # (the fork server stays, as an ordinary standby)
    t.wait_for(r"fork server: no copies \(the app's libraries start threads as they are imported \(poller\)\)")
    write(project / "version.py", 'VERSION = "v2"\n')
    warm = probe(port, "v2")
    t.wait_for(r"target code running [\d.]+ ms after the change \(warm\)")
    assert warm["threads"] == cold["threads"]  # the thread is there: the standby imported poller itself
    assert "forked" not in t.err, t.err


def test_the_exit_of_a_forked_app_is_reported_as_any_apps(tdev, hello_app, port):
    t = tdev(["run", "-v", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"standby \d+ ready: forked")
    write(hello_app / "version.py", "import sys\nsys.exit(3)\n")
    t.wait_for(r"app exited with code 3 — waiting for changes")
    t.wait_for(r"standby \d+ ready: forked", count=2)
    write(hello_app / "version.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    t.wait_for(r"app was killed by SIGKILL")
    t.wait_for(r"standby \d+ ready: forked", count=3)
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    assert t.count(r"told to go") == 3, t.err


def test_nothing_is_left_when_tdev_is_killed(tdev, hello_app, port):
    t = tdev(["run", "-v", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"standby \d+ ready: forked")
    standbys = wait_until(lambda: (lambda p: p if len(p) == 2 else None)(t.standby_pids()), timeout=5,
                          message="the fork server and its copy")
    apps = t.app_pids()
    t.signal(signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(p) for p in standbys | apps), timeout=3,
               message="the fork server, its copy and the app gone with tdev")


def test_a_fork_server_killed_from_outside_is_replaced(tdev, hello_app, port):
    t = tdev(["run", "-v", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    server = int(t.wait_for(r"fork server \d+ ready").split()[3])
    t.wait_for(r"standby \d+ ready: forked")
    import os

    os.kill(server, signal.SIGKILL)
    t.wait_for(rf"fork server {server} was killed by SIGKILL")
    for n in (2, 3):
        write(hello_app / "version.py", f'VERSION = "v{n}"\n')
        wait_for_body(port, f"v{n}")
    t.wait_for(r"fork server \d+ importing", count=2)
    assert "Traceback" not in t.err, t.err


def test_a_file_a_library_opened_before_the_fork_is_flushed_when_a_copy_stops(tdev, tmp_path, port):
    # The fork server freezes what it imported (gc.freeze: a copy's exit must not walk, and so copy,
    # every page); a file a library opened at import time is still flushed at the copy's fast exit.
    project, env = probe_project(tmp_path, PROBE_APP.replace("import numpy.random\n", "import numpy.random\n    import sink\n")
                                 .replace('"version": version.VERSION,', '"version": version.VERSION, "w": sink.write(version.VERSION),'))
    log = tmp_path / "sink.log"
    write(tmp_path / "libs" / "sink.py", f"""
        LOG = open({str(log)!r}, "a", buffering=1 << 16)


        def write(text):
            return LOG.write(text + "\\n")
    """)
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    probe(port, "v1")
    for n in (2, 3):
        t.wait_for(r"standby \d+ ready: forked", count=n - 1)
        write(project / "version.py", f'VERSION = "v{n}"\n')
        probe(port, f"v{n}")
    t.signal(signal.SIGTERM)
    assert t.wait() == 0
    lines = log.read_text().split()
    assert {"v1", "v2", "v3"} <= set(lines), lines
