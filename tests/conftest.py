"""Shared fixtures: a temp app factory, a real ``tdev`` process, an HTTP poller with deadlines,
and process-tree cleanup (by pid and process group, never by name)."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

PYTHON = sys.executable
_TDEV_SCRIPT = Path(PYTHON).parent / ("tdev.exe" if os.name == "nt" else "tdev")
# The real console script when it is installed next to this interpreter, else the module form.
TDEV = [str(_TDEV_SCRIPT)] if _TDEV_SCRIPT.exists() else [PYTHON, "-m", "devserver"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path: Path, text: str) -> Path:
    """Write a file in place (dedented), creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def atomic_write(path: Path, text: str) -> None:
    """Save like vim / JetBrains safe write: write a temp file, then rename it over the target."""
    tmp = path.with_name(path.name + "___jb_tmp___")
    tmp.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    os.replace(tmp, path)


def http_get(port: int, path: str = "/", timeout: float = 2.0, host: str = "127.0.0.1"):
    """One GET; returns (status, body text). Raises OSError / http.client errors on failure."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the Host header still says ``localhost``)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def http_request(port=None, path="/", headers=None, host="127.0.0.1", timeout=3.0, unix=None):
    """One GET on a new connection (TCP, or a unix socket): (status, lower-cased headers, body)."""
    if unix is not None:
        conn = UnixHTTPConnection(unix, timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def wait_for_response(predicate, *args, timeout: float = 10.0, what: str = "a response", **kwargs):
    """Poll ``http_request(*args, **kwargs)`` until ``predicate(status, headers, body)``; returns the response."""
    last = None

    def matching():
        nonlocal last
        try:
            last = http_request(*args, timeout=1.0, **kwargs)
        except (OSError, http.client.HTTPException) as exc:
            last = exc
            return None
        return last if predicate(*last) else None

    try:
        return wait_until(matching, timeout=timeout, message=what)
    except AssertionError:
        raise AssertionError(f"never got {what} within {timeout}s from {args} {kwargs}; last: {last!r}") from None


def wait_for_body(port: int, expected: str, timeout: float = 15.0, path: str = "/") -> str:
    """Poll until GET returns a body containing ``expected``; returns the body."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = http_get(port, path, timeout=1.0)
            last = (status, body)
            if expected in body:
                return body
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        time.sleep(0.02)
    raise AssertionError(f"GET {path} on port {port} never returned {expected!r} within {timeout}s; last: {last!r}")


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        return False


def descendants(pid: int) -> "set[int]":
    """All live descendants of ``pid`` (Linux /proc walk by parent pid)."""
    children: "dict[int, list[int]]" = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = set(), [pid]
    while stack:
        for kid in children.get(stack.pop(), []):
            if kid not in found:
                found.add(kid)
                stack.append(kid)
    return found


def is_standby(pid: int) -> bool:
    """A warm-restart standby that has not been told to run the app yet, or the fork server that makes
    them (each names itself so)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() in ("tdev-standby", "tdev-forkserver")
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` itself has used so far, in seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_group_members(pgid: int) -> "set[int]":
    members = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != b"Z":
                members.add(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return members


def _take_terminal() -> None:
    """In the child, after setsid: standard input (a pty) becomes the controlling terminal."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Tdev:
    """A real ``tdev`` process with its stdout/stderr collected line by line."""

    def __init__(self, args, cwd, env=None, command=None, terminal=None) -> None:
        """``command`` replaces the ``tdev`` executable, e.g. ``[PYTHON, "-O", "-m", "devserver"]``.
        ``terminal``: a pseudo-terminal's slave descriptor, to be tdev's standard input and controlling
        terminal (tdev in its foreground), as when it is started from a shell."""
        full_env = dict(os.environ)
        full_env.pop("NO_COLOR", None)
        full_env.pop("FORCE_COLOR", None)
        full_env.pop("TDEV_POLL", None)
        # The app runs with this interpreter, not with a virtualenv that happens to be active here
        # (tests about choosing the project's interpreter set it themselves).
        full_env.pop("VIRTUAL_ENV", None)
        # Bytecode writing on, as users run (this machine's environment may turn it off): a test
        # about PYTHONDONTWRITEBYTECODE sets it itself.
        full_env.pop("PYTHONDONTWRITEBYTECODE", None)
        for key, value in (env or {}).items():
            if value is None:  # None: remove the variable
                full_env.pop(key, None)
            else:
                full_env[key] = value
        self.args = [*(TDEV if command is None else command), *args]
        self.proc = subprocess.Popen(
            self.args,
            cwd=str(cwd),
            env=full_env,
            stdin=subprocess.DEVNULL if terminal is None else terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=None if terminal is None else _take_terminal,
        )
        self.pid = self.proc.pid
        self._lines = {"out": [], "err": []}
        self._cond = threading.Condition()
        self._known_pids: "set[int]" = set()
        self._threads = [
            threading.Thread(target=self._reader, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._reader, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _reader(self, stream, name) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._lines[name].append(line)
                self._cond.notify_all()
        stream.close()

    @property
    def out(self) -> str:
        with self._cond:
            return "\n".join(self._lines["out"])

    @property
    def err(self) -> str:
        with self._cond:
            return "\n".join(self._lines["err"])

    def count(self, pattern: str, stream: str = "err") -> int:
        with self._cond:
            return sum(1 for line in self._lines[stream] if re.search(pattern, line))

    def wait_for(self, pattern: str, stream: str = "err", timeout: float = 15.0, count: int = 1) -> str:
        """Wait until ``count`` lines of ``stream`` match ``pattern`` (a regex); returns the last one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [line for line in self._lines[stream] if re.search(pattern, line)]
                if len(hits) >= count:
                    return hits[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {count}x {pattern!r} on {stream} within {timeout}s.\n"
                        f"--- stdout ---\n{chr(10).join(self._lines['out'])}\n"
                        f"--- stderr ---\n{chr(10).join(self._lines['err'])}"
                    )
                self._cond.wait(min(remaining, 0.1))

    def app_pids(self) -> "set[int]":
        """Live processes below tdev (the app and whatever it started), not counting a waiting standby."""
        pids = descendants(self.pid)
        self._known_pids |= pids
        return {pid for pid in pids if not is_standby(pid)}

    def standby_pids(self) -> "set[int]":
        """Standby processes (warm restarts) waiting to run the next version of the app."""
        pids = descendants(self.pid)
        self._known_pids |= pids
        return {pid for pid in pids if is_standby(pid)}

    def wait_for_standby(self, timeout: float = 10.0) -> "set[int]":
        """Wait until the warm-restart standby is up and has named itself; then ``app_pids`` is exact."""
        return wait_until(self.standby_pids, timeout=timeout, message="a warm-restart standby process")

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=2)
        return code

    def cleanup(self) -> None:
        """Kill tdev and everything it started, by process group."""
        pids = set(self._known_pids)
        if self.proc.poll() is None:
            pids |= self.app_pids()
        groups = {self.pid}
        for pid in pids:
            try:
                groups.add(os.getpgid(pid))
            except OSError:
                pass
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except Exception:
                pass


@pytest.fixture
def tdev():
    """Start ``tdev`` processes: ``tdev(args, cwd=..., env=..., command=...)``; all are killed at teardown.

    ``env`` entries are added to the environment (a value of None removes the variable)."""
    started = []

    def start(args, cwd, env=None, command=None, terminal=None) -> Tdev:
        process = Tdev(args, cwd, env, command, terminal)
        started.append(process)
        return process

    yield start
    for process in started:
        process.cleanup()


@pytest.fixture
def port() -> int:
    return free_port()


HELLO_APP = """
    import asyncio
    import os
    import sys

    import tornado.web

    import version


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    async def main():
        app = tornado.web.Application([(r"/", MainHandler)])
        app.listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    if __name__ == "__main__":
        asyncio.run(main())
"""


@pytest.fixture
def hello_app(tmp_path):
    """A small Tornado app in a temp dir: app.py PORT serves version.VERSION at /."""
    write(tmp_path / "app.py", HELLO_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    return tmp_path
