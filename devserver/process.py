"""Starting and stopping the app process (and everything it started).

The app runs in a session (process group) of its own, so one signal reaches
the app and every process it spawned.  Each platform-specific step is one
function here; the supervisor never asks which OS it is on.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from devserver import compat
from devserver.channel import STOP, Channel
from devserver.target import Target

BOOTSTRAP = os.path.join(os.path.dirname(os.path.realpath(__file__)), "child", "bootstrap.py")


def _launch_dir() -> "str | None":
    try:
        return os.getcwd()
    except OSError:  # started in a directory that is already gone
        return None


# The directory tdev was started in, by path: each app starts there. If it is removed and created
# again (a branch switch, a regenerated checkout), the app starts in the new one, not in the deleted
# directory that tdev's own process still sits in.
LAUNCH_DIR = _launch_dir()


def launch_dir_identity() -> "tuple[int, int] | None":
    """Which directory ``LAUNCH_DIR`` names now (device, inode); None when it is gone.  A process
    started earlier sits in the directory that was there then: if this changed, it is in a deleted one."""
    try:
        st = os.stat(LAUNCH_DIR or ".")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def interpreter_flags() -> "list[str]":
    """The flags this interpreter was started with (-X, -W, -O, -B, -I, ...)."""
    return compat.interpreter_flags()


def child_environment() -> "dict[str, str]":
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if _debugger_seen or "pydevd" in sys.modules:
        # debugpy / PyCharm's pydevd print a 4-line warning in every process that loads them (frozen
        # modules); it was shown once (by tdev's own process, or the first app): not on every reload.
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


_debugger_seen = False


def debugger_seen(module_names: "list[str]") -> None:
    """The app loaded these modules: if a debugger (pydevd) is among them, later app processes are
    started without its once-per-process warning."""
    global _debugger_seen
    if not _debugger_seen and any(name == "pydevd" or name.startswith("_pydevd") for name in module_names):
        _debugger_seen = True


class Child:
    """One running app process, its channel, and the thread that waits for its exit."""

    def __init__(self, popen: "subprocess.Popen | None", channel: Channel, started: float, started_wall: float,
                 pid: "int | None" = None) -> None:
        self.popen = popen
        self._pid = popen.pid if popen is not None else pid
        self.channel = channel
        self.started = started  # time.monotonic()
        self.started_wall = started_wall  # time.time(), to compare with file modification times
        self.stop_sent: float | None = None
        self.stop_answered = False  # the app's lifeline got the stop: it signals the app's group itself
        self.killed = False
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        assert self._pid is not None
        return self._pid

    def on_exit(self, callback) -> None:
        """Call ``callback(self)`` from a helper thread once the process has exited (and been reaped)."""

        def wait() -> None:
            self.returncode = self.popen.wait() if self.popen is not None else _wait_adopted(self.pid)
            _unreaped.discard(self.pid)
            callback(self)

        threading.Thread(target=wait, name=f"tdev-wait-{self.pid}", daemon=True).start()

    def terminate(self) -> None:
        """Ask the app to stop: a ``stop`` message.  The app's lifeline answers it and stops the app:
        it drains the app's servers first when the app's own SIGTERM handler replaced tdev's, then
        sends SIGTERM to the whole group itself.  SIGTERM goes to the group from here only when the
        message cannot be sent, or (``stop_unanswered``) when the app never answered it."""
        if self.stop_sent is None:
            self.stop_sent = time.monotonic()
            if self.channel.send(STOP):
                return
        self.stop_unanswered()

    def stop_unanswered(self) -> None:
        """SIGTERM to the whole group, unless the app answered the stop (its lifeline signals it then)."""
        if not self.stop_answered:
            _signal_group(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Kill the app and everything in its group, now."""
        self.killed = True
        _signal_group(self.pid, signal.SIGKILL)

    def reap_group(self) -> None:
        """After the app exited: whatever it left in its group goes too."""
        _signal_group(self.pid, signal.SIGKILL)

    def describe_exit(self) -> str:
        code = self.returncode
        if code is None:
            return "is still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with code {code}"


CHILD_ENV = "TDEV_CHILD"  # what the app process needs from tdev (JSON); the bootstrap takes it out of os.environ


def spawn(target: Target, options: "dict | None" = None, stdout=None) -> Child:
    """Start the app under the child bootstrap, with an inherited channel and ``options``.

    Its command line is ``python [flags] BOOTSTRAP`` and then the user's own (``app.py ARGS``,
    ``-m MODULE ARGS``), which the bootstrap shows in ``ps`` without its own path; what tdev tells it
    (the channel's descriptor, the options, the target) travels in the environment, not in argv.
    ``stdout``: where the app's standard output goes (default: tdev's own)."""
    started_wall = time.time()
    parent_sock, child_sock = socket.socketpair()
    parent_sock.set_inheritable(False)
    env = child_environment()
    env[CHILD_ENV] = json.dumps(
        {"fd": child_sock.fileno(), "options": options or {}, "mode": target.kind, "target": target.value,
         "args": target.args},
        separators=(",", ":"),
    )
    command = [target.python, *interpreter_flags(), BOOTSTRAP, *target.shown_argv()]
    try:
        popen = subprocess.Popen(
            command,
            env=env,
            pass_fds=(child_sock.fileno(),),
            start_new_session=True,
            stdout=stdout,
            cwd=LAUNCH_DIR,
        )
    except BaseException:
        parent_sock.close()
        raise
    finally:
        child_sock.close()
    parent_sock.setblocking(False)
    _unreaped.add(popen.pid)
    return Child(popen, Channel(parent_sock), time.monotonic(), started_wall)


_unreaped: "set[int]" = set()  # app processes started here whose exit was not collected yet


def adopt(pid: int, sock: socket.socket) -> Child:
    """A standby a fork server made (``sock``: this side of its channel).  It is this process's child
    (re-parented: tdev is a child subreaper), or about to be: its exit is waited for as any app's."""
    sock.setblocking(False)
    _unreaped.add(pid)
    return Child(None, Channel(sock), time.monotonic(), time.time(), pid=pid)


def _wait_adopted(pid: int) -> int:
    """``waitpid`` on a process re-parented to this one (it may not be yet: the fork server's middle
    process is still exiting); its return code as ``Popen.returncode`` has it."""
    started = time.monotonic()
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            if _alive(pid):
                time.sleep(0.001 if time.monotonic() - started < 5.0 else 0.05)
                continue
            return -signal.SIGKILL  # gone before it was ours (its parent reaped it): status unknown
        except InterruptedError:
            continue
        return os.waitstatus_to_exitcode(status)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def unreaped_pids() -> "set[int]":
    """The app processes (and standbys) this process started and has not reaped: never strays."""
    return set(_unreaped)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def raise_open_files_limit(wanted: int) -> "str | None":
    """Raise the soft ``RLIMIT_NOFILE`` (inherited by the app) towards ``wanted``, never lowering it
    and never above the hard limit.  Returns a line to show when the hard limit stopped it short."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # e.g. macOS caps below the hard limit
            return f"could not raise the open-files limit from {soft} to {target}: {exc}"
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        return f"open-files limit for the app: {soft} (the hard limit), not {wanted}"
    return None


# ``python -m devserver.child.app_target`` for an interpreter that does not have tdev installed: the
# package is imported from where this one lives, and that directory leaves sys.path again (as -m's would).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(BOOTSTRAP)))
_APP_TARGET = (
    f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); from devserver.child import app_target; "
    f"sys.path.remove({_PACKAGE_ROOT!r}); sys.path[:1] = [] if sys.path[:1] == [''] else sys.path[:1]; "
    "app_target._main(sys.argv[1:])"
)


def exec_plain(config) -> int:
    """``--no-reload``: become ``python [flags] TARGET ARGS`` (exit code and signals are the app's).

    A ``module:attr`` target has no plain command line: it runs under tdev's small ``main()``."""
    target = config.target
    python = target.python
    if target.kind == "app":
        options = [config.host, str(config.port), "1" if config.debug else "0"]
        runner = ["-m", "devserver.child.app_target"] if python == sys.executable else ["-c", _APP_TARGET]
        argv = [python, *interpreter_flags(), *runner, *options, target.value, *target.args]
    else:
        argv = [python, *interpreter_flags(), *target.python_argv()]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(python, argv)
    return subprocess.call(argv)
