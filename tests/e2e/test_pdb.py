"""pdb at its prompt, on a real pseudo-terminal: Ctrl-C is pdb's, a save waits for ``c``, and the
terminal's modes come back when tdev kills an app that changed them."""

import fcntl
import os
import pty
import re
import select
import subprocess
import termios
import threading
import time

import pytest

from tests.conftest import TDEV, free_port, http_get, is_standby, pid_alive, wait_for_body, wait_until, write

pytestmark = pytest.mark.e2e

PDB_APP = """
    import sys

    import tornado.ioloop
    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            if version.BREAK:
                breakpoint()
            self.write(version.VERSION)


    # Tornado's classic start (asyncio.run would take the first Ctrl-C for itself, under plain python too:
    # it cancels the main task instead of interrupting).
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
"""


_TDEV_LINE = r"(?:\x1b\[[0-9;]*m)*\[tdev\][^\n]*\n"  # one of tdev's lines, coloured or not


class Terminal:
    """tdev on a pseudo-terminal that is its controlling terminal (tdev in its foreground), as in a shell."""

    def __init__(self, args, cwd, env=None):
        self.master, slave = pty.openpty()
        self.slave_path = os.ttyname(slave)
        env = dict(os.environ, **(env or {}))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONBREAKPOINT", None)
        env["TERM"] = "xterm"

        def controlling_terminal():  # after setsid (start_new_session): the pty becomes ours
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([*TDEV, *args], cwd=str(cwd), env=env, stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True, preexec_fn=controlling_terminal)
        os.close(slave)
        self.modes = termios.tcgetattr(self.master)
        self.text = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                ready = select.select([self.master], [], [], 0.5)[0]
                if ready:
                    data = os.read(self.master, 65536)
                    if not data:
                        return
                    with self.lock:
                        self.text += data.decode("utf-8", "replace")
                elif self.proc.poll() is not None:
                    return
            except OSError:
                return

    def count(self, pattern):
        """Matches of ``pattern`` in the app's output and tdev's lines, each taken apart: a line of tdev
        can land in the middle of the app's unfinished one ("(Pd[tdev] ...\nb) ") on the shared terminal."""
        with self.lock:
            text = self.text
        tdev_lines = re.findall(_TDEV_LINE, text)
        app_text = re.sub(_TDEV_LINE, "", text)
        return len(re.findall(pattern, app_text)) + sum(len(re.findall(pattern, line)) for line in tdev_lines)

    def wait_for(self, pattern, count=1, timeout=15.0):
        deadline = time.monotonic() + timeout
        while self.count(pattern) < count:
            if time.monotonic() > deadline:
                with self.lock:
                    raise AssertionError(f"no {count}x {pattern!r} on the terminal within {timeout}s:\n{self.text}")
            time.sleep(0.02)

    def type(self, keys: str):
        os.write(self.master, keys.encode())

    def close(self):
        for pid in {self.proc.pid} | _descendants(self.proc.pid):
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, 9)
                except OSError:
                    pass
        self.proc.wait(timeout=5)
        os.close(self.master)


def _descendants(pid):
    from tests.conftest import descendants

    return descendants(pid)


@pytest.fixture
def terminal(tmp_path):
    started = []

    def start(args):
        t = Terminal(args, tmp_path)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()


def _request_in_thread(port):
    result = {}

    def get():
        try:
            result["response"] = http_get(port, timeout=30)
        except Exception as exc:  # noqa: BLE001
            result["error"] = exc

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.timeout(60)
def test_ctrl_c_at_the_pdb_prompt_is_pdbs_and_a_save_waits_for_continue(terminal, tmp_path):
    write(tmp_path / "app.py", PDB_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\nBREAK = True\n')
    port = free_port()
    t = terminal(["run", "-v", "--grace", "1", "app.py", str(port)])
    t.wait_for("app listening on")
    thread, result = _request_in_thread(port)
    t.wait_for(r"\(Pdb\) ")
    t.wait_for(r"app \d+ paused at a pdb prompt")  # (-v: tdev knows)
    wait_until(lambda: any(is_standby(pid) for pid in _descendants(t.proc.pid)), message="a named standby")
    app = {pid for pid in _descendants(t.proc.pid)}
    standbys = {pid for pid in app if is_standby(pid)}  # (the next app runs in one)
    t.type("\x03")  # Ctrl-C: the terminal signals tdev's foreground group
    t.wait_for("KeyboardInterrupt")
    t.wait_for(r"\(Pdb\) ", count=2)
    assert t.proc.poll() is None and all(pid_alive(pid) for pid in app), t.text
    t.type("p 6 * 7\n")  # the prompt still works
    t.wait_for(r"\b42\b")
    write(tmp_path / "version.py", 'VERSION = "v2"\nBREAK = False\n')
    t.wait_for(r"paused at a pdb prompt: the restart waits until it continues")
    time.sleep(1.5)  # longer than --grace 1: no grace kill while pdb waits
    assert t.count("killing it") == 0, t.text
    t.type("c\n")
    thread.join(10)
    assert result.get("response") == (200, "v1"), (result, t.text)
    # (Polled only once the old app is gone: a request it accepted would stop at breakpoint() again.)
    wait_until(lambda: not any(pid_alive(pid) for pid in app if pid not in standbys), timeout=10,
               message="the old app to stop")
    wait_for_body(port, "v2")
    assert t.proc.poll() is None


@pytest.mark.timeout(60)
def test_killing_an_app_at_the_pdb_prompt_gives_the_terminal_its_modes_back(terminal, tmp_path):
    write(tmp_path / "app.py", PDB_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\nBREAK = True\n')
    port = free_port()
    t = terminal(["run", "app.py", str(port)])
    t.wait_for("app listening on")
    before = termios.tcgetattr(t.master)
    _request_in_thread(port)
    t.wait_for(r"\(Pdb\) ")
    # readline sets its modes as the prompt is shown (no readline: they never change, and the test skips)
    deadline = time.monotonic() + 2.0
    while (during := termios.tcgetattr(t.master)) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    write(tmp_path / "version.py", 'VERSION = "v2"\nBREAK = False\n')
    t.wait_for(r"the restart waits until it continues")
    time.sleep(0.6)  # a second save, not the first one's last event
    write(tmp_path / "version.py", 'VERSION = "v3"\nBREAK = False\n')
    t.wait_for("killing it to restart now")
    wait_for_body(port, "v3")
    after = termios.tcgetattr(t.master)
    assert after == before, (before, during, after)
    if during == before:
        pytest.skip("pdb's prompt did not change the terminal's modes here (no readline)")
