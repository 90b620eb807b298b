"""Runs the target inside the app process exactly as plain ``python`` would.

Order matters: the lifeline and the import reporter are in place before the
first line of user code, so a crash at import time is still reported and a
dead supervisor still takes the app down with it.
"""

import builtins
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import types

from devserver import channel as msg
from devserver import compat
from devserver.channel import Channel
from devserver.child import forkserver, imports, paused, reads, tail, tornado_hooks

TYPE_CHECKING = False  # typing is imported for the type checker only: the app process does not pay for it
if TYPE_CHECKING:
    from typing import Any, Callable

# Frames of these files are ours, not the user's: hidden from tracebacks.
_RUNPY = sys.modules.get("runpy")
_HERE = os.path.dirname(os.path.realpath(__file__))
# app_target is imported only for a module:attr target: nothing the app did not ask for is imported.
_OWN_FILES = {
    os.path.join(_HERE, name)
    for name in ("bootstrap.py", "runtime.py", "imports.py", "tornado_hooks.py", "app_target.py", "tail.py",
                 "terminal.py", "paused.py", "streams.py", "reads.py", "template_engines.py", "forkserver.py")
} | {os.path.realpath(compat.__file__)}

_stop_requested = threading.Event()
_go = threading.Event()  # standby: the supervisor says "run the target now"
_preimport_names: "list[str] | None" = None
_names_received = threading.Event()
_forkserver = False  # this standby is a fork server's template: no lifeline until it is told to go (forkserver.py)


def main(spec: str) -> None:
    """``spec``: what tdev sent in ``TDEV_CHILD`` (JSON): the channel's fd, the options, the target."""
    given = json.loads(spec)
    mode, target, args, options = given["mode"], given["target"], list(given["args"]), given["options"]
    channel = Channel(socket.socket(fileno=int(given["fd"])))
    os.set_inheritable(channel.sock.fileno(), False)
    standby = bool(options.get("standby"))
    global _forkserver
    _forkserver = standby and bool(options.get("forkserver")) and hasattr(os, "fork")
    signal.signal(signal.SIGTERM, _on_sigterm)  # in place before the lifeline can act on a stop
    if not _forkserver:  # (a fork server's template reads its channel itself: no thread may run at a fork)
        _start_lifeline(channel, standby)
    tail.install(channel, _stop_requested.is_set)  # the last lines of output, for the error page
    if options.get("keyboard"):  # tdev reads the terminal too: keys go to the app while it reads
        from devserver.child import terminal

        terminal.install(channel)
    imports.install(channel)
    if options.get("reads"):  # the files the app reads and writes (an audit hook: for the process's life)
        reads.install(list(options.get("project") or ()))
    tornado_hooks.install(channel, options)
    code = _run(mode, target, args, channel, options, standby)
    if _stop_requested.is_set():
        _exit_now(code)
    raise SystemExit(code)


def _start_lifeline(channel: Channel, standby: bool) -> None:
    """Read the supervisor's messages; if it goes away, take the process group down."""
    # Signals are for the main thread: one delivered to this thread would not wake the app's
    # event loop. The thread inherits the mask that is in force while it is created.
    block = hasattr(signal, "pthread_sigmask")
    if block:
        saved = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    try:
        _own_thread(_lifeline, "tdev-lifeline", channel, standby)
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def _own_thread(target: "Callable[..., None]", name: str, *args: "Any") -> None:
    """Start one of tdev's own daemon threads, hidden from debuggers.

    A debugger that pauses the app (debugpy / PyCharm's pydevd suspend every thread they trace)
    must not pause these: the lifeline has to take the app down when tdev dies, and to tell tdev
    that the app is paused.  pydevd leaves alone threads marked as its own.
    """
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    thread.start()


def _lifeline(channel: Channel, standby: bool) -> None:
    """The lifeline thread: the supervisor's messages, start-up's import batches, repeated stops."""
    # Start-up's imported files go out in batches until the app listens, even if it never does
    # (a standby's batches start when it is told to go).
    batch_until = None if standby else time.monotonic() + imports.BATCH_SECONDS
    # Is the app paused in a debugger?  Looked at a few times a second once it runs (a standby's
    # starts at "go"); said to the supervisor when it changes.
    pause_check_at = None if standby else time.monotonic()
    resignals = 0
    resignal_at = None
    while True:
        now = time.monotonic()
        if _stop_requested.is_set() and resignals < 2 and resignal_at is None:
            resignal_at = now + RESIGNAL_SECONDS
        deadlines = [t for t in (batch_until, resignal_at, pause_check_at) if t is not None]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        readable = select.select([channel.sock], [], [], timeout)[0]
        now = time.monotonic()
        if batch_until is not None and now >= batch_until:
            imports.send_batch()
            batch_until = now + imports.BATCH_SECONDS if imports.batching() else None
        if pause_check_at is not None and now >= pause_check_at:
            _check_paused(channel)
            pause_check_at = now + (PAUSE_CHECK_SECONDS if paused.loaded() else DEBUGGER_CHECK_SECONDS)
        if resignal_at is not None and now >= resignal_at:
            resignal_at = None
            if _paused is None:  # (a paused app gets its stop when it continues: nothing was swallowed)
                resignals += 1
                _resignal()
        if not readable:
            continue
        messages = channel.receive()
        if messages is None:
            break
        for message in messages:
            if message["t"] == msg.GO:
                imports.start_batching()
                batch_until = time.monotonic() + imports.BATCH_SECONDS
                pause_check_at = time.monotonic()
                _go.set()
            else:
                _on_message(channel, message)
    # EOF: the supervisor is gone (killed, crashed). Leave no orphan behind.
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    except OSError:
        os._exit(1)


# How often the lifeline looks whether a debugger holds the app: while one is loaded, and whether one is.
PAUSE_CHECK_SECONDS = 0.1
DEBUGGER_CHECK_SECONDS = 0.5
_paused: "str | None" = None  # paused.PDB / paused.DEBUGGER while a debugger holds the app
_stop_deferred = False  # a stop came while the app was paused: it begins when the app continues


def _check_paused(channel: Channel) -> None:
    """Tell the supervisor when the app becomes paused in a debugger or continues; a stop that came
    while it was paused begins now that it continues."""
    global _paused, _stop_deferred
    now_paused = paused.paused()
    if now_paused == _paused:
        return
    _paused = now_paused
    channel.send(msg.PAUSED, how=now_paused)
    if now_paused is None and _stop_deferred:
        _stop_deferred = False
        _deliver_stop()


def _on_message(channel: Channel, message: "dict[str, Any]") -> None:
    """A message from the supervisor other than "go" (on the lifeline thread)."""
    global _preimport_names
    kind = message["t"]
    if kind == msg.STOP:
        _begin_stop(channel)
    elif kind == msg.PREIMPORT:
        _preimport_names = [n for n in message.get("names", ()) if isinstance(n, str)]
        _names_received.set()
    elif kind == msg.MODULES_WANTED:
        channel.send(msg.MODULES, modules=_module_snapshot(), environ_cut=_environ_cut)
    else:
        tornado_hooks.on_message(message)


def _begin_stop(channel: Channel) -> None:
    """The supervisor's stop (on the lifeline thread): answered, then SIGTERM to the process group.

    While the app's Tornado servers run, the signal is sent from their event loop: waking the loop
    to do it, it cannot slip in while the loop is about to block with no wakeup descriptor (the
    signal would then wait for the next event).  With tdev's SIGTERM handler in place it is sent at
    once: the handler drains Tornado's servers itself.  An app that installed its own handler (which
    may exit at once, resetting the connections it accepted) is drained first: its servers stop
    accepting and the requests they accepted are answered, then it gets the signal.
    """
    global _stop_begun
    if _stop_begun:
        return
    _stop_begun = True
    _stop_requested.set()
    channel.send(msg.STOPPING)
    _check_paused(channel)
    _deliver_stop()


def _deliver_stop() -> None:
    """The stop itself: queued on the servers' event loop (it runs when the loop does: at once, or
    when a debugger lets the app continue), else SIGTERM now, unless a debugger holds the app
    (a signal now would end a pdb prompt): then when it continues (``_check_paused``)."""
    global _stop_deferred
    drain = signal.getsignal(signal.SIGTERM) is not _on_sigterm
    if tornado_hooks.call_on_serving_loop(_signal_group, drain):
        if drain:
            # Bounded: the loop may stop before it gets there (the app ending by itself).
            _own_thread(_signal_unless_drained, "tdev-stop")
    elif _paused is not None:
        _stop_deferred = True
    else:
        _signal_group()  # no Tornado server runs: nothing accepted can be lost


_stop_begun = False  # the stop message was acted on (once)
_group_signalled = threading.Event()


def _signal_unless_drained() -> None:
    while not _group_signalled.wait(tornado_hooks.DRAIN_SECONDS + 1.0):
        if _paused is None:  # (the drain cannot go on while a debugger holds the app)
            _signal_group()
            return


def _signal_group() -> None:
    """SIGTERM to the app's process group: the app and every process it started, as ``kill`` would."""
    _group_signalled.set()
    try:
        if hasattr(os, "killpg"):
            os.killpg(os.getpgrp(), signal.SIGTERM)
        else:
            os.kill(os.getpid(), signal.SIGTERM)
    except OSError:
        pass


def _resignal() -> None:
    """Still alive a while after a stop: the SIGTERM may have been swallowed (raised inside a
    ``__del__`` or a weakref callback). Deliver it again, if tdev's handler is the one installed."""
    main_thread = threading.main_thread().ident
    if signal.getsignal(signal.SIGTERM) is _on_sigterm and hasattr(signal, "pthread_kill") and main_thread is not None:
        signal.pthread_kill(main_thread, signal.SIGTERM)


RESIGNAL_SECONDS = 1.5  # after a stop, SIGTERM is delivered again (twice at most) this often


def _on_sigterm(signum: int, frame: "types.FrameType | None") -> None:
    """Stop the app: unwind it with ``SystemExit`` from a point where nothing can swallow it.

    Raised right here, the exception would land in whatever code is running;
    inside a request Tornado logs it as "Uncaught exception" and keeps serving.
    With an event loop running, it is raised from a loop callback instead, at
    the top of the loop, and unwinds ``asyncio.run`` / ``IOLoop.start`` cleanly;
    Tornado servers first stop accepting and finish the requests in flight.
    """
    global _stop_scheduled
    _stop_requested.set()
    if _stop_scheduled:
        return  # already stopping on the event loop (the lifeline may repeat the signal)
    loop = compat.running_loop()  # asyncio may be half-imported right now: it looks, does not assume
    if loop is not None:
        _stop_scheduled = True
        if "tornado.tcpserver" in sys.modules:
            loop.call_soon_threadsafe(tornado_hooks.stop_serving, loop, _raise_system_exit)
        else:
            loop.call_soon_threadsafe(_raise_system_exit)
        return
    if _inside_import(frame) or _inside_loop_setup(frame):
        # Still starting up: an exception raised into the import machinery can be swallowed, one
        # raised into asyncio / Tornado while they build the event loop leaves a half-made loop
        # behind (noisy in its __del__), and nothing is served yet. Finish the way a normal exit
        # does, now.
        _run_reload_hooks()
        _exit_now(0)
    raise SystemExit(0)


_stop_scheduled = False


def _inside_import(frame: "types.FrameType | None") -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _inside_loop_setup(frame: "types.FrameType | None") -> bool:
    """asyncio or Tornado is on the stack while no loop runs yet: building or starting the event loop
    (the signal itself may land in whatever they call: selectors, socket, threading...)."""
    dirs = []
    for name in ("asyncio", "tornado"):
        where = getattr(sys.modules.get(name), "__file__", None)
        if where:
            dirs.append(os.path.dirname(where) + os.sep)
    if not dirs:
        return False
    prefixes = tuple(dirs)
    while frame is not None:
        if frame.f_code.co_filename.startswith(prefixes):
            return True
        frame = frame.f_back
    return False


def _raise_system_exit() -> None:
    raise SystemExit(0)


def _run(mode: str, target: str, args: "list[str]", channel: Channel, options: dict,
         standby: bool) -> "int | str | None":
    try:
        os.getcwd()
    except OSError:  # started in a directory removed meanwhile (a branch switch): tdev says so, once
        return "tdev: the app's working directory was removed" if not standby else 1
    try:
        run = _prepare(mode, target, args, options)
        if standby:
            _preimport_and_wait(channel)
        _notice_environ_writes(options.get("project") or ())
        channel.send(msg.STARTED, at=time.monotonic(), warm=bool(standby and _preimport_names))
        run()
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # the app's error: report, print like python, exit 1
        if _stop_requested.is_set() and isinstance(exc, KeyboardInterrupt):
            code = 0
        else:
            imports.end_batching()
            exc.with_traceback(_strip_own_frames(exc.__traceback__))
            summary, trace = _describe(exc)
            channel.send(msg.ERROR, paths=_error_files(exc), summary=summary, traceback=trace)
            _print_exception(exc)
            code = 1
    else:
        code = 0
    if _stop_requested.is_set():
        _run_reload_hooks()
    imports.flush_modules()
    imports.end_batching()
    return code


def _exit_now(code: object) -> None:
    """Finish a requested stop without the interpreter's slow teardown.

    The app has already unwound (its ``finally`` blocks and ``asyncio.run``
    clean-up ran) and the reload hooks ran.  What a normal exit does next is
    done here in the same order: wait for non-daemon threads, run ``atexit``
    handlers, flush open files.  Only the module-by-module teardown is
    skipped, which costs a Tornado app ~50 ms on every reload.
    """
    compat.end_debugger_session()  # under a debugger: its own teardown would hold up the next app
    try:
        compat.shutdown_threads()
    except BaseException:
        pass
    try:
        compat.run_exitfuncs()
    except BaseException:
        pass
    _flush_open_files()
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    elif code is None:
        code = 0
    elif not isinstance(code, int):
        code = 1
    os._exit(code & 0xFF if code >= 0 else 1)


def _flush_open_files() -> None:
    """Flush every open writable file, as the interpreter's teardown would when it frees them."""
    import gc
    import io
    import itertools

    kinds = {io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper}
    objects = gc.get_objects() + forkserver.frozen_writers()  # (a fork server's copy: its frozen objects too)
    # Filtered at C speed: a Python-level loop over every object costs milliseconds.
    for stream in itertools.compress(objects, map(kinds.__contains__, map(type, objects))):
        try:
            if not stream.closed and stream.writable():
                stream.flush()
        except Exception:
            pass


def _prepare(mode: str, target: str, args: "list[str]", options: dict) -> "Callable[[], None]":
    """Set up what the target sees (argv, sys.path, a fresh ``__main__``); returns what runs it."""
    if mode == "module":
        return _prepare_module(target, args)
    if mode == "app":
        from devserver.child import app_target

        app_target.prepare(target, args)
        _fresh_main()
        app = options.get("app", {})
        return lambda: app_target.serve(target, app.get("host", "127.0.0.1"), int(app.get("port", 8888)),
                                        bool(app.get("debug")), on_app=tornado_hooks.app_ready)
    return _prepare_script(target, args)


def _prepare_script(path: str, args: "list[str]") -> "Callable[[], None]":
    abspath = os.path.abspath(path)
    sys.argv[:] = [path, *args]
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        sys.path.insert(0, os.path.dirname(os.path.realpath(path)))
    main_module = _fresh_main()
    main_module.__file__ = abspath
    main_module.__cached__ = None  # type: ignore[attr-defined]
    import importlib.machinery

    main_module.__loader__ = importlib.machinery.SourceFileLoader("__main__", abspath)

    def run() -> None:
        with open(abspath, "rb") as f:  # read now: a standby runs the script as it is at "go"
            source = f.read()
        code = _compile_script(source, abspath)
        exec(code, main_module.__dict__)

    return run


def _compile_script(source: bytes, abspath: str) -> types.CodeType:
    """``compile`` that, like ``python script.py``, always names the script in the error."""
    try:
        return compile(source, abspath, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        if isinstance(exc, SyntaxError) and exc.filename:
            raise
        message = str(exc.msg if isinstance(exc, SyntaxError) else exc).replace("source code string", "source code")
        first_line = source.split(b"\n", 1)[0].decode("utf-8", "replace").replace("\x00", "")
        error = SyntaxError(message, (abspath, getattr(exc, "lineno", None) or 1, None, first_line))
    raise error


def _prepare_module(name: str, args: "list[str]") -> "Callable[[], None]":
    import runpy

    global _RUNPY
    _RUNPY = runpy
    _OWN_FILES.add(os.path.realpath(runpy.__file__))
    sys.argv[:] = ["-m", *args]
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        sys.path.insert(0, os.getcwd())
    _fresh_main()
    return lambda: compat.run_module_as_main(name)


# -- warm restarts: the standby ---------------------------------------------------------------
def _preimport_and_wait(channel: Channel) -> None:
    """Import what the last app imported from outside the project, then wait for "go".

    Everything the target sees is already set up (argv, sys.path, ``__main__``), so
    these modules are imported in the state they would be in a cold start.  A
    module that fails to import is left out: the app will import it itself.
    """
    import importlib

    own_name = _rename("tdev-forkserver" if _forkserver else "tdev-standby")  # as ps / top show it waiting
    pending: list[dict[str, Any]] = _read_names(channel) if _forkserver else []
    _names_received.wait()
    skipped = []
    for name in _preimport_names or ():
        if name in sys.modules:
            continue
        before = forkserver.os_threads() if _forkserver else None
        known = len(sys.modules)
        try:
            importlib.import_module(name)
        except Exception:
            skipped.append(name)
        if _forkserver:
            forkserver.note_import(name, before, forkserver.os_threads(), list(sys.modules)[known:])
    imports.end_batching()  # the files of what was imported: the supervisor watches installed packages
    # What it imported, not the target: the fresh ``__main__`` already names the script, which is read
    # at "go" (an edit to it is no reason for a cold start).
    main_module = sys.modules.get("__main__")
    files = [getattr(m, "__file__", None) for m in list(sys.modules.values()) if m is not main_module]
    # A project file one of those libraries read as it was imported is in the standby already, like a module.
    files += reads.read_at_start()
    files = [f for f in files if isinstance(f, str)]
    channel.send(msg.READY, files=files, skipped=skipped)
    if _forkserver:
        how, rest = forkserver.serve(channel, pending)
        if how == "forked":  # a copy: a standby of its own, ready at once
            _adopt(channel)
            _rename("tdev-standby")
            _start_lifeline(channel, True)
            channel.send(msg.READY, files=files, skipped=skipped)
        else:  # the template itself was told to go (a restart came before its imports were done)
            for message in rest:
                _on_message(channel, message)
            imports.start_batching()
            _start_lifeline(channel, False)
            _go.set()
    imports.start_batching()
    _go.wait()
    if own_name:
        _rename(own_name)


def _read_names(channel: Channel) -> "list[dict[str, Any]]":
    """A fork server's template, before its imports: read its channel until the names come.
    Returns what came after them (handled once the imports are done)."""
    global _preimport_names
    while True:
        messages = channel.receive()
        if messages is None:
            os._exit(0)  # tdev is gone
        for i, message in enumerate(messages):
            if message["t"] == msg.PREIMPORT:
                _preimport_names = [n for n in message.get("names", ()) if isinstance(n, str)]
                _names_received.set()
                return messages[i + 1:]
            if message["t"] == msg.STOP:
                os._exit(0)


def _adopt(channel: Channel) -> None:
    """In a standby forked from the template: what forgets the channel in a forked process (a helper
    the app forks is not the app) takes it back, and its exit reports are this process's."""
    imports.adopt(channel)
    tornado_hooks.adopt(channel)
    tail.adopt()


def _rename(name: str) -> "str | None":
    """Set this process's name as ``ps`` shows it (Linux); returns the old one."""
    try:
        with open("/proc/self/comm", "r+") as f:
            old = f.read().strip()
            f.seek(0)
            f.write(name)
        return old
    except OSError:
        return None


_environ_cut: "int | None" = None  # len(sys.modules) when the app's own code first set an env variable


def _notice_environ_writes(project_dirs: "Any") -> None:
    """Remember how many modules were imported when the app's own code first sets an environment
    variable: a library imported after that may read it at import time, so a standby (which imports
    libraries before any of the app's code runs) must not import it ahead of time."""
    environ = os.environ
    original = compat.environ_encoder(environ)  # called by every write (setitem, setdefault, update), not by reads
    roots = tuple(d.rstrip(os.sep) + os.sep for d in project_dirs if isinstance(d, str))
    if original is None:
        return

    def encodevalue(value: str) -> "Any":
        global _environ_cut
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None and (frame.f_code.co_filename.startswith("<frozen")
                                     or os.path.basename(frame.f_code.co_filename) in ("os.py", "_collections_abc.py")):
            frame = frame.f_back
        filename = frame.f_code.co_filename if frame is not None else ""
        if filename.startswith(roots) and "-packages" + os.sep not in filename:
            _environ_cut = len(sys.modules)
            compat.set_environ_encoder(environ, original)  # once is enough
        return original(value)

    if roots:
        compat.set_environ_encoder(environ, encodevalue)


def _module_snapshot() -> "list[list[str]]":
    """Every imported module, in import order, with its file or package directory ("" for built-in
    and frozen modules, "?" for modules made at run time)."""
    snapshot = []
    for name, module in list(sys.modules.items()):
        try:
            where = getattr(module, "__file__", None)
            if not isinstance(where, str):
                paths = list(getattr(module, "__path__", None) or ())
                origin = getattr(getattr(module, "__spec__", None), "origin", None)
                if paths and isinstance(paths[0], str):
                    where = paths[0]
                elif origin in ("built-in", "frozen"):
                    where = ""
                else:
                    where = "?"  # made up at run time (a lazy or fake module): not importable by name
        except Exception:
            continue
        snapshot.append([name, where])
    return snapshot


def _fresh_main() -> types.ModuleType:
    """A new, empty ``__main__`` (the bootstrap's own globals must not leak into the app)."""
    module = types.ModuleType("__main__")
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    return module


def _run_reload_hooks() -> None:
    for hook in compat.reload_hooks():
        try:
            hook()
        except Exception as exc:  # a failing hook must not keep the app alive
            print(f"[tdev] reload hook {hook!r} failed: {exc!r}", file=sys.stderr)


def _strip_own_frames(tb: "types.TracebackType | None") -> "types.TracebackType | None":
    """Drop tdev's frames (and runpy's leading ones): the traceback reads as under plain python."""
    leading = _OWN_FILES | {"<frozen runpy>"}
    if _RUNPY is not None and _RUNPY.__file__:
        leading.add(os.path.realpath(_RUNPY.__file__))

    def is_in(tb: types.TracebackType, files: "set[str]") -> bool:
        filename = tb.tb_frame.f_code.co_filename
        return filename in files or os.path.realpath(filename) in files

    while tb is not None and is_in(tb, leading):
        tb = tb.tb_next
    # tdev's wrappers inside the app's call stack (e.g. bind_sockets asking tdev for a socket).
    node = tb
    while node is not None:
        while node.tb_next is not None and is_in(node.tb_next, _OWN_FILES):
            node.tb_next = node.tb_next.tb_next
        node = node.tb_next
    return tb


def _describe(exc: BaseException) -> "tuple[str, str]":
    """One line, and the whole traceback, as text (for the supervisor's error page)."""
    import traceback

    try:
        summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        summary, trace = f"{type(exc).__name__}", ""
    return summary, trace


def _print_exception(exc: BaseException) -> None:
    tb = exc.__traceback__
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        import traceback

        traceback.print_exception(type(exc), exc, tb)
    try:
        sys.stderr.flush()
    except Exception:
        pass


def _error_files(exc: "BaseException | None") -> "list[str]":
    """Every file the failing traceback names, including a SyntaxError's file."""
    paths: list[str] = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        filename = getattr(exc, "filename", None) if isinstance(exc, SyntaxError) else None
        if isinstance(filename, str):
            paths.append(filename)
        tb = exc.__traceback__
        while tb is not None:
            paths.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
    return [os.path.abspath(p) for p in dict.fromkeys(paths) if os.path.isfile(p)]
