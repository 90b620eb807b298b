"""The fork server (Linux): a standby that forks ready copies of itself.

A warm standby imports the app's libraries (~0.75 s of CPU for scikit-learn)
and is used up by one restart.  Saves in a row faster than that outrun it.
So the standby that is asked to (``options["forkserver"]``) stays a template:
once its imports are done it waits for ``fork`` requests, and each one makes a
copy of it in a few milliseconds, which is a ready standby with its own
channel to the supervisor.  The template itself can still be told to go, as
any standby (a restart that comes before its imports are done).

A forked copy must be what a new process that imported the same modules
would be.  What differs is checked at each request and refused (the
supervisor then starts standbys as new processes):

* threads: a fork keeps only the calling thread.  A Python thread alive, or a
  native thread started by importing anything but a library whose thread pool
  is rebuilt in a forked child (OpenBLAS in numpy and scipy), is refused;
* a debugger attached (it traces threads and processes of its own);
* an asyncio event loop made at import time (its selector would be shared).

The rest is made the same: the copy becomes a session and process group of
its own (``setsid``), as ``start_new_session`` makes one; its parent is tdev,
not the template (double fork: tdev is a child subreaper, ``strays``), so
``os.getppid()`` and the exit status are as for a process tdev started;
Python's ``random`` reseeds itself in a forked child and numpy's global
generator is reseeded here.  One difference is left: the string hash seed
(``PYTHONHASHSEED``) is the template's, as it would be under any fork.
"""

import os
import sys
import threading
import warnings

from devserver import channel as msg
from devserver import compat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from devserver.channel import Channel

# Libraries whose native thread pools are rebuilt in a forked child (OpenBLAS registers fork handlers).
FORK_SAFE_POOLS = ("numpy", "scipy")

_native_threads_from: "list[str]" = []  # modules whose import started a native thread (not a safe pool)


def os_threads() -> "int | None":
    """How many threads this process has (Linux), or None."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def note_import(name: str, before: "int | None", after: "int | None", loaded: "list[str]") -> None:
    """The template imported ``name``, which loaded the modules ``loaded`` (``name``'s dependencies
    among them): did that start a native thread that a fork would not keep?  A thread that appears
    while numpy or scipy is loaded is taken to be their OpenBLAS pool."""
    if before is None or after is None or after <= before:
        return
    if not any(module.partition(".")[0] in FORK_SAFE_POOLS for module in loaded):
        _native_threads_from.append(name)


def refusal() -> "str | None":
    """Why this process must not be forked for a standby now (None: it may)."""
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        return f"the app's libraries start threads as they are imported ({', '.join(others[:3])})"
    if _native_threads_from:
        return f"importing {', '.join(_native_threads_from[:3])} starts native threads"
    if sys.gettrace() is not None or any(name == "pydevd" or name.startswith("_pydevd") for name in sys.modules):
        return "a debugger is attached"
    if compat.event_loop_made():
        return "an asyncio event loop was made while the app's libraries were imported"
    return None


def serve(channel: "Channel", pending: "list[dict[str, Any]]") -> "tuple[str, list[dict[str, Any]]]":
    """The template's loop (its main thread; no other thread runs): fork a standby per ``fork``
    request.  Returns ``("forked", [])`` in a new standby, or ``("go", rest)`` in the template once it
    is told to go (``rest``: the messages that came after "go", for the lifeline).  ``pending``:
    messages read already.  Leaves the process when tdev goes away."""
    while True:
        while pending:
            message = pending.pop(0)
            kind = message["t"]
            if kind == msg.GO:
                return "go", pending
            if kind == msg.FORK:
                fds = list(message.get("fds") or ())
                if _fork(channel, fds):
                    return "forked", []
            elif kind == msg.STOP:
                os._exit(0)  # a template has no app to stop
        messages = channel.receive()
        if messages is None:
            os._exit(0)  # tdev is gone: its standbys' lifelines take them down
        pending = messages


def _fork(channel: "Channel", fds: "list[int]") -> bool:
    """Fork one standby on the channel end ``fds[0]``.  True in the standby, False here."""
    reason = refusal() if fds else "no channel was passed"
    if reason is not None:
        for fd in fds:
            os.close(fd)
        channel.send(msg.FORK_REFUSED, reason=reason)
        return False
    fd = fds[0]
    for fd_extra in fds[1:]:
        os.close(fd_extra)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()  # nothing written before the fork is written twice
        except Exception:
            pass
    _freeze()
    ready_r, ready_w = os.pipe()
    middle = _quiet_fork()
    if middle == 0:  # the middle process: forks the standby, says its pid once it is set up, ends
        standby = -1
        try:
            standby = _quiet_fork()
            if standby == 0:
                os.close(ready_r)
                _become_standby(channel, fd)
                os.write(ready_w, b"!")  # its session exists: a kill by process group reaches it now
                os.close(ready_w)
                return True
            os.close(ready_w)
            if os.read(ready_r, 1):
                channel.send(msg.FORKED, pid=standby)
            else:
                channel.send(msg.FORK_REFUSED, reason="the forked copy ended as it started")
        except BaseException:
            pass
        os._exit(0 if standby > 0 else 1)  # (a standby that failed to set itself up ends here too)
    os.close(ready_r)
    os.close(ready_w)
    os.close(fd)
    os.waitpid(middle, 0)  # the standby is tdev's child now (tdev is a child subreaper)
    return False


_frozen_writers: "list[Any] | None" = None  # weak references to the writable files open at the first fork


def _freeze() -> None:
    """Before the first fork: every object so far goes to the garbage collector's permanent generation
    (``gc.freeze()``, as Python's documentation advises before forking without exec), so a copy's
    collections and exit never walk them: a walk writes to every object, and copy-on-write then
    copies each page (measured: a heavy app's copy stopped in ~32 ms instead of ~9).  The writable
    files among them are remembered: ``gc.get_objects()`` no longer lists them, and a fast exit
    flushes them too (``frozen_writers``)."""
    global _frozen_writers
    if _frozen_writers is not None:
        return
    loaded = set(sys.modules)
    import gc
    import io
    import weakref

    for name in set(sys.modules) - loaded:  # a copy's sys.modules is a new process's: nothing of tdev's added
        del sys.modules[name]
    kinds = (io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)
    writers = []
    for obj in gc.get_objects():
        if type(obj) in kinds:
            try:
                writers.append(weakref.ref(obj))
            except TypeError:
                pass
    _frozen_writers = writers
    gc.freeze()


def frozen_writers() -> "list[Any]":
    """The writable files from before the fork that are still open (a copy flushes them at a fast exit)."""
    return [f for f in (ref() for ref in _frozen_writers or ()) if f is not None]


def _quiet_fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "multi-threaded, use of fork()" (OpenBLAS)
        return os.fork()


def _become_standby(channel: "Channel", fd: int) -> None:
    """In the forked copy: its own session and channel; what the fork left shared, made its own."""
    os.setsid()
    os.dup2(fd, channel.sock.fileno(), inheritable=False)  # the same Channel object, a new socket under it
    os.close(fd)
    channel.reset()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        try:
            numpy_random.seed()  # the global generator, seeded afresh as in a new process
        except Exception:
            pass
