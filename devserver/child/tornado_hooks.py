"""Tornado, as seen from inside a reloading app process.

Applied right after the Tornado module in question is imported (Tornado is
never imported here on its own account):

* ``tornado.process.fork_processes`` refuses to fork: one server process only
  (``HTTPServer.start(n != 1)`` goes through it, before any fork);
* ``tornado.autoreload.start`` does nothing (tdev reloads), ``watch`` reports
  the file to tdev, reload hooks run when tdev stops the app;
* ``tornado.netutil.bind_sockets`` / ``bind_unix_socket`` tell tdev where the
  app listens.
"""

import functools
import os
import sys

from devserver.child import imports

_channel = None


class MultiProcessRefused(RuntimeError):
    """Tornado's multi-process mode cannot run under the reloader."""


def install(channel) -> None:
    global _channel
    _channel = channel
    imports.after_import("tornado.process", _patch_process)
    imports.after_import("tornado.autoreload", _patch_autoreload)
    imports.after_import("tornado.netutil", _patch_netutil)


def _call_site() -> str:
    """file:line of the first caller outside Tornado (and outside this file)."""
    tornado_dir = os.path.dirname(os.path.abspath(sys.modules["tornado"].__file__))
    frame = sys._getframe(2)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(tornado_dir + os.sep) and filename != os.path.abspath(__file__):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "unknown location"


def _patch_process(process) -> None:
    def fork_processes(num_processes=None, max_restarts=None):
        where = _call_site()
        raise MultiProcessRefused(
            f"Tornado multi-process mode (num_processes={num_processes!r}, called at {where}) "
            "cannot run while tdev reloads the app. Fix: start a single process with "
            "server.start(1) or app.listen(port), or run without reloading: tdev run --no-reload ..."
        )

    fork_processes.__wrapped__ = process.fork_processes
    process.fork_processes = fork_processes


def _patch_autoreload(autoreload) -> None:
    original_watch = autoreload.watch

    def start(check_time: int = 500) -> None:
        if _channel is not None:
            _channel.send(
                "info",
                msg="Tornado's autoreload (debug=True / autoreload=True) is handed over to tdev: "
                "tdev restarts the app, the other debug features stay on",
            )

    @functools.wraps(original_watch)
    def watch(filename: str) -> None:
        original_watch(filename)
        imports.report("watch", [filename])

    start.__wrapped__ = autoreload.start
    autoreload.start = start
    autoreload.watch = watch
    # Files watched before this patch (none in practice) still count.
    imports.report("watch", list(getattr(autoreload, "_watched_files", ())))


def _patch_netutil(netutil) -> None:
    original_bind = netutil.bind_sockets
    original_bind_unix = netutil.bind_unix_socket

    @functools.wraps(original_bind)
    def bind_sockets(*args, **kwargs):
        sockets = original_bind(*args, **kwargs)
        _report_listen([s.getsockname()[:2] for s in sockets])
        return sockets

    @functools.wraps(original_bind_unix)
    def bind_unix_socket(*args, **kwargs):
        sock = original_bind_unix(*args, **kwargs)
        _report_listen([["unix", sock.getsockname()]])
        return sock

    netutil.bind_sockets = bind_sockets
    netutil.bind_unix_socket = bind_unix_socket


def _report_listen(addrs) -> None:
    imports.end_batching()  # the app is up: the supervisor gets the files before the address
    if _channel is not None:
        _channel.send("listen", addrs=[list(a) for a in addrs])
