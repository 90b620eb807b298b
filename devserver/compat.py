"""Every private (or undocumented) internal of Tornado, CPython or watchdog that tdev uses, in one place.

Each one is behind a small function here, which says what it uses, why, what happens
without it (the fallback: tdev keeps working, with the loss described) and the versions it
was checked on.  ``INTERNALS`` lists them as ``(module, attribute path)``; ``missing()``
returns those absent from the installed versions, and the unit tests fail on any, so a
new Tornado or Python that drops one is noticed by the test suite, not by a user.

Both processes import this module: the app process (``devserver.child``) on every reload's
critical path, so it imports nothing but ``sys`` up front; Tornado, asyncio, runpy and
subprocess are looked up when a function needs them, never imported on their account.

``sys._getframe`` and ``sys._current_frames`` are not listed: they are documented in the ``sys``
reference (CPython implementation details that PyPy also provides) and used where they are.  watchdog: tdev uses
its public API only (``Observer``, ``PollingObserverVFS``, ``schedule(..., event_filter=)``,
the event classes); the one thing it reads that is not API is the "watchdog" logger's
inotify overflow warning (watcher.py: a log message, not an attribute).  watchdog 7.1.0
logs one; 4.0.0-7.0.0 do not (checked: 4.0.0, 4.0.2, 5.0.3, 6.0.0, 7.0.0), so with them an
overflow goes unnoticed and the events lost are not rescanned.
"""

import sys

TYPE_CHECKING = False  # typing costs the app process ~2-9 ms per start: imported for the type checker only
if TYPE_CHECKING:
    from typing import Any, Callable

TORNADO_CHECKED = "Tornado 6.1-6.6.1"
CPYTHON_CHECKED = "CPython 3.9-3.13"


class Internal:
    """One internal: ``module`` imported, then ``path`` (dotted attributes) looked up on it, or on
    ``probe(module)`` when the attribute belongs to an instance."""

    __slots__ = ("module", "path", "used_by", "checked", "probe")

    def __init__(self, module: str, path: str, used_by: str, checked: str,
                 probe: "Callable[[Any], Any] | None" = None) -> None:
        self.module = module
        self.path = path
        self.used_by = used_by  # where tdev uses it, and why
        self.checked = checked  # the versions it was checked on
        self.probe = probe

    @property
    def name(self) -> str:
        return f"{self.module}.{self.path}"

    def __repr__(self) -> str:
        return f"Internal({self.name!r})"


def _http_server(httpserver: "Any") -> "Any":
    """An ``HTTPServer`` that is never started: its per-instance attributes."""
    return httpserver.HTTPServer(lambda request: None)


INTERNALS: list[Internal] = [
    # -- Tornado (the app process, and the supervisor's sockets) --
    Internal("tornado.http1connection", "HTTP1Connection._finish_request",
             "tornado_hooks: a request in flight ends when its response is written (drain on stop)", TORNADO_CHECKED),
    Internal("tornado.httpserver", "_connections", "tornado_hooks: connections whose first request is on its way",
             TORNADO_CHECKED, _http_server),
    Internal("tornado.httpserver", "conn_params.no_keep_alive",
             "tornado_hooks: responses sent while draining say Connection: close", TORNADO_CHECKED, _http_server),
    Internal("tornado.netutil", "_DEFAULT_BACKLOG", "tornado_hooks, sockets: the backlog bind_sockets defaults to",
             TORNADO_CHECKED),
    Internal("tornado.autoreload", "_watched_files", "tornado_hooks: files watched before tdev's patch",
             TORNADO_CHECKED),
    Internal("tornado.autoreload", "_reload_hooks", "runtime: add_reload_hook functions run when tdev stops the app",
             TORNADO_CHECKED),
    # -- CPython --
    Internal("asyncio", "_get_running_loop", "runtime: the SIGTERM handler finds the running event loop",
             CPYTHON_CHECKED),
    Internal("threading", "_shutdown", "runtime: a fast stop waits for non-daemon threads", CPYTHON_CHECKED),
    Internal("atexit", "_run_exitfuncs", "runtime: a fast stop runs the atexit handlers", CPYTHON_CHECKED),
    Internal("runpy", "_run_module_as_main", "runtime: runs a -m target exactly as python -m does", CPYTHON_CHECKED),
    Internal("os", "environ.encodevalue", "runtime: notices the app's first environment write (warm restarts)",
             CPYTHON_CHECKED),
    Internal("asyncio.events", "_event_loop_policy", "forkserver: was an event loop made at import time?",
             CPYTHON_CHECKED),
    Internal("asyncio.events", "_local._loop", "forkserver: was an event loop made at import time?",
             CPYTHON_CHECKED, lambda events: events.BaseDefaultEventLoopPolicy()),
    Internal("subprocess", "_args_from_interpreter_flags",
             "process: the app runs with the supervisor's -X/-W/... flags", CPYTHON_CHECKED),
]


def missing(internals: "list[Internal] | None" = None) -> list[str]:
    """The internals (all of ``INTERNALS`` by default) absent from the installed versions, each as
    ``"module.path: why"``; importing the modules they live in."""
    import importlib

    absent = []
    for internal in INTERNALS if internals is None else internals:
        try:
            obj = importlib.import_module(internal.module)
            if internal.probe is not None:
                obj = internal.probe(obj)
            for part in internal.path.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            absent.append(f"{internal.name}: {type(exc).__name__}: {exc}")
    return absent


# -- Tornado ----------------------------------------------------------------------------------
DEFAULT_BACKLOG = 128  # tornado.netutil._DEFAULT_BACKLOG in every Tornado 6


def default_backlog(netutil: "Any") -> int:
    """``tornado.netutil._DEFAULT_BACKLOG``: the backlog ``bind_sockets`` uses when not given one, so
    sockets tdev binds for the app are the ones the app would have bound.  Fallback: 128."""
    return getattr(netutil, "_DEFAULT_BACKLOG", DEFAULT_BACKLOG)


def on_request_finished(request_conn: "Any", callback: "Callable[[], None]") -> bool:
    """Call ``callback()`` when the response on this ``HTTP1Connection`` is written: wraps its
    ``_finish_request`` (called once the response is sent, or on a connection close while writing).
    False if it has none (fallback: the request counts as in flight until its connection closes,
    so a drain on stop may wait its whole time)."""
    finish_request = getattr(request_conn, "_finish_request", None)
    if finish_request is None:
        return False

    def finished(*args: "Any", **kwargs: "Any") -> "Any":
        callback()
        return finish_request(*args, **kwargs)

    request_conn._finish_request = finished
    return True


def server_connections(server: "Any") -> "list[Any]":
    """The open connections of an ``HTTPServer`` (its ``_connections`` set), to tell the ones still
    waiting for their first request.  Fallback: none (a drain does not wait for them)."""
    return list(getattr(server, "_connections", ()))


def refuse_keep_alive(server: "Any") -> None:
    """Responses an ``HTTPServer`` still sends say ``Connection: close``: ``server.conn_params``
    (set in ``HTTPServer.initialize``, not documented) ``.no_keep_alive``.  Fallback: nothing
    (keep-alive clients learn of the stop when their connection is closed)."""
    params = getattr(server, "conn_params", None)
    if params is not None:
        params.no_keep_alive = True


def watched_files(autoreload: "Any") -> list[str]:
    """The files ``tornado.autoreload.watch`` was given so far (``_watched_files``).  Fallback: none."""
    return list(getattr(autoreload, "_watched_files", ()))


def reload_hooks() -> "list[Callable[[], None]]":
    """The functions given to ``tornado.autoreload.add_reload_hook`` (``_reload_hooks``), if Tornado's
    autoreload is imported.  Fallback: none (an app's reload hooks do not run when tdev stops it)."""
    return list(getattr(sys.modules.get("tornado.autoreload"), "_reload_hooks", ()))


# -- CPython ----------------------------------------------------------------------------------
def running_loop() -> "Any":
    """The event loop running in this thread, or None: ``asyncio._get_running_loop()``, which does
    not raise (called from a signal handler).  asyncio may be half-imported at that moment: it is
    looked up, not imported.  Fallback: None (the stop is raised where the signal lands)."""
    get_running_loop = getattr(sys.modules.get("asyncio"), "_get_running_loop", None)
    return get_running_loop() if get_running_loop is not None else None


def event_loop_made() -> bool:
    """Was an event loop set for this thread (``asyncio.get_event_loop()`` at import time, say)?  Read
    from the default policy (``asyncio.events._event_loop_policy._local._loop``), never made: a fork
    server's copy would share its selector.  asyncio not imported, or no policy yet: False.
    Fallback (the attributes gone): True, so the fork server makes no copies."""
    events = sys.modules.get("asyncio.events")
    if events is None:
        return False
    try:
        policy = events._event_loop_policy
        return policy is not None and policy._local._loop is not None
    except AttributeError:
        return True


def shutdown_threads() -> None:
    """``threading._shutdown()``: wait for the non-daemon threads, as the interpreter does on exit
    (before ``os._exit``).  Fallback: nothing (non-daemon threads are cut short)."""
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()


def run_exitfuncs() -> None:
    """``atexit._run_exitfuncs()``: run the atexit handlers, as the interpreter does on exit (before
    ``os._exit``).  Fallback: nothing (atexit handlers do not run on a stop)."""
    import atexit

    run = getattr(atexit, "_run_exitfuncs", None)
    if run is not None:
        run()


def end_debugger_session() -> None:
    """An app stopped for a reload under debugpy or PyCharm (pydevd): end the debugger's session now,
    without the waits of its own teardown, which would hold up the next app (it waits for this
    one's exit): pydevd's non-daemon ``CheckAliveThread`` ends the session with a 0.5 s wait for
    its threads once the main thread is gone (``threading._shutdown`` waits for it), and its atexit
    hook (``pydevd.stoptrace``) waits again.  Here ``PyDB.dispose_and_kill_all_pydevd_threads(
    wait=False)`` sends what its writer still holds and tells its threads to end, the check-alive
    thread is joined while the main thread still runs (so it ends without a session to close), and
    the atexit hook is unregistered.  Called before the app's non-daemon threads are waited for.
    pydevd is debugpy's (vendored) and PyCharm's, not Tornado's or CPython's: looked up, never
    imported.  Checked: debugpy 1.8.22.  Fallback: nothing (reloads wait ~0.5 s for the debugger)."""
    pydevd = sys.modules.get("pydevd")
    get_debugger = getattr(pydevd, "get_global_debugger", None)
    if get_debugger is None:
        return
    try:
        py_db = get_debugger()
        dispose = getattr(py_db, "dispose_and_kill_all_pydevd_threads", None)
        if dispose is None:
            return
        dispose(wait=False)
        check_alive = getattr(py_db, "check_alive_thread", None)
        if check_alive is not None and check_alive.is_alive():
            check_alive.join(0.5)  # pydevd's join: told to end, it ends at once (the main thread runs)
        stoptrace = getattr(pydevd, "stoptrace", None)
        if stoptrace is not None:
            import atexit

            atexit.unregister(stoptrace)
    except Exception:
        pass


def run_module_as_main(name: str) -> None:
    """Run module ``name`` exactly as ``python -m name`` does: ``runpy._run_module_as_main``.
    Fallback: ``runpy.run_module(name, run_name="__main__", alter_sys=True)`` (the same, except that
    ``__main__`` is a temporary module while it runs)."""
    import runpy

    run = getattr(runpy, "_run_module_as_main", None)
    if run is not None:
        run(name, alter_argv=True)
    else:
        runpy.run_module(name, run_name="__main__", alter_sys=True)


def environ_encoder(environ: "Any") -> "Callable[[str], Any] | None":
    """``os.environ.encodevalue``: called by every write to ``os.environ`` (``[]=``, ``setdefault``,
    ``update``), never by a read, so wrapping it notices writes.  None if absent (fallback: writes
    are not noticed)."""
    return getattr(environ, "encodevalue", None)


def set_environ_encoder(environ: "Any", encode: "Callable[[str], Any]") -> None:
    """Replace ``os.environ.encodevalue`` (see ``environ_encoder``)."""
    environ.encodevalue = encode


def interpreter_flags() -> list[str]:
    """The flags this interpreter was started with (-X, -W, -O, -B, -I, ...):
    ``subprocess._args_from_interpreter_flags()``.  Fallback: none."""
    import subprocess

    try:
        flags: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
        return flags
    except Exception:  # private helper; absent on some interpreters
        return []
