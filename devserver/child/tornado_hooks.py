"""Tornado, as seen from inside a reloading app process.

Applied right after the Tornado module in question is imported (Tornado is
never imported here on its own account):

* ``tornado.process.fork_processes`` refuses to fork: one server process only
  (``HTTPServer.start(n != 1)`` goes through it, before any fork);
* ``tornado.autoreload.start`` does nothing (tdev reloads), ``watch`` reports
  the file to tdev, reload hooks run when tdev stops the app;
* ``tornado.netutil.bind_sockets`` / ``bind_unix_socket`` tell tdev where the
  app listens;
* ``tornado.tcpserver`` / ``tornado.httpserver`` keep track of the app's
  servers and of the requests in flight, so a stop can *drain*: stop
  accepting, let the requests already accepted finish (answered with
  ``Connection: close``), close idle connections, then exit.
"""

import functools
import os
import sys
import time
import weakref

DRAIN_SECONDS = 3.0  # longest wait for in-flight requests when the app is stopped

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
    imports.after_import("tornado.tcpserver", _patch_tcpserver)
    imports.after_import("tornado.httpserver", _patch_httpserver)


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


# -- draining on stop ---------------------------------------------------------------------
_servers: "weakref.WeakSet" = weakref.WeakSet()
_in_flight = [0]


def _patch_tcpserver(tcpserver) -> None:
    original = tcpserver.TCPServer.add_sockets

    @functools.wraps(original)
    def add_sockets(self, sockets):
        _servers.add(self)
        return original(self, sockets)

    tcpserver.TCPServer.add_sockets = add_sockets


def _patch_httpserver(httpserver) -> None:
    original = httpserver.HTTPServer.start_request

    @functools.wraps(original)
    def start_request(self, server_conn, request_conn):
        return _TrackedRequest(original(self, server_conn, request_conn), request_conn)

    httpserver.HTTPServer.start_request = start_request


class _TrackedRequest:
    """An ``HTTPMessageDelegate`` that counts a request from its headers until its response is sent."""

    def __init__(self, delegate, request_conn) -> None:
        self._delegate = delegate
        self._active = False
        finish_request = getattr(request_conn, "_finish_request", None)
        if finish_request is not None:

            def finished(*args, **kwargs):
                self._end()
                return finish_request(*args, **kwargs)

            request_conn._finish_request = finished

    def _end(self) -> None:
        if self._active:
            self._active = False
            _in_flight[0] -= 1

    def headers_received(self, start_line, headers):
        if not self._active:
            self._active = True
            _in_flight[0] += 1
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        return self._delegate.finish()

    def on_connection_close(self) -> None:
        self._end()
        return self._delegate.on_connection_close()


def stop_serving(loop, then) -> None:
    """On the app's event loop: stop accepting, drain in-flight requests, close idle connections, ``then()``."""
    servers = list(_servers)
    for server in servers:
        try:
            server.stop()
            params = getattr(server, "conn_params", None)
            if params is not None:
                params.no_keep_alive = True  # responses still to come say Connection: close
        except Exception:
            pass
    deadline = time.monotonic() + DRAIN_SECONDS

    def wait_for_requests() -> None:
        if _in_flight[0] > 0 and time.monotonic() < deadline:
            loop.call_later(0.005, wait_for_requests)
            return
        closers = [s.close_all_connections() for s in servers if hasattr(s, "close_all_connections")]
        if not closers:
            then()
            return

        async def close_connections() -> None:
            for closer in closers:
                try:
                    await closer
                except Exception:
                    pass

        loop.create_task(close_connections()).add_done_callback(lambda task: then())

    wait_for_requests()
