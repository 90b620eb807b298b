"""Tornado, as seen from inside a reloading app process.

Applied right after the Tornado module in question is imported (Tornado is
never imported here on its own account):

* ``tornado.process.fork_processes`` refuses to fork: one server process only
  (``HTTPServer.start(n != 1)`` goes through it, before any fork);
* ``tornado.autoreload.start`` does nothing (tdev reloads), ``watch`` reports
  the file to tdev, reload hooks run when tdev stops the app;
* ``tornado.netutil.bind_sockets`` / ``bind_unix_socket`` get the listening
  sockets from the supervisor, which holds them across restarts;
* ``tornado.web.Application`` reports its template and static directories
  and, with live reload on, injects the browser live-reload script into its
  HTML pages (an output transform, before any compression);
* ``tornado.tcpserver`` / ``tornado.httpserver`` keep track of the app's
  servers and of the requests in flight, so a stop can *drain*: stop
  accepting, let the requests already accepted finish (answered with
  ``Connection: close``), close idle connections, then exit.  Idle
  connections (a browser's spare connection: connected, never a request)
  never hold a stop up: an HTTP server's TCP sockets accept a connection only
  once its first bytes arrive (Linux ``TCP_DEFER_ACCEPT``), and a connection
  accepted without a request is waited for only while it is young
  (``IDLE_SECONDS``) or has bytes waiting.
"""

import errno
import functools
import itertools
import os
import socket
import sys
import threading
import time
import weakref

from devserver import channel as msg
from devserver import compat
from devserver.child import imports, inject

TYPE_CHECKING = False  # for the type checker only: Tornado is imported when the app imports it
if TYPE_CHECKING:
    import asyncio
    import types
    from typing import Any, Callable

    from devserver.channel import Channel

DRAIN_SECONDS = 3.0  # longest wait for in-flight requests when the app is stopped
FRESH_SECONDS = 0.5  # longest wait for the first request of a connection accepted just before the stop
# A connection accepted this long ago that has sent nothing is idle (a browser's spare connection): a stop
# closes it at once.  A younger one may be a client between its connect() and its send(): waited for.
IDLE_SECONDS = 0.2
# An HTTP server's TCP listening sockets hand a connection to accept() only once its first bytes came (or
# after about this many seconds: Linux rounds up to its SYN-ACK retransmission schedule).
DEFER_ACCEPT_SECONDS = 30

_channel: "Channel | None" = None


class MultiProcessRefused(RuntimeError):
    """Tornado's multi-process mode cannot run under the reloader."""


_CAN_RECEIVE_FDS = hasattr(socket, "recv_fds")


def install(channel: "Channel", options: "dict | None" = None) -> None:
    global _channel, _livereload_on, _livereload_scripts
    _channel = channel
    _livereload_on = bool((options or {}).get("livereload"))
    _livereload_scripts = dict((options or {}).get("livereload_scripts") or {})
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_channel_in_fork)
    imports.after_import("tornado.process", _patch_process)
    imports.after_import("tornado.autoreload", _patch_autoreload)
    imports.after_import("tornado.netutil", _patch_netutil)
    imports.after_import("tornado.tcpserver", _patch_tcpserver)
    imports.after_import("tornado.httpserver", _patch_httpserver)
    imports.after_import("tornado.web", _patch_web)


def adopt(channel: "Channel") -> None:
    """A standby forked from a fork server talks to tdev on this channel (the fork made it forget it)."""
    global _channel
    _channel = channel


def _forget_channel_in_fork() -> None:
    # A forked helper binds its own sockets and is not the app the supervisor talks to.
    global _channel
    _channel = None


def _call_site() -> str:
    """file:line of the first caller outside Tornado (and outside this file)."""
    tornado_dir = os.path.dirname(os.path.abspath(sys.modules["tornado"].__file__ or ""))
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(tornado_dir + os.sep) and filename != os.path.abspath(__file__):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "unknown location"


def _patch_process(process: "Any") -> None:
    def fork_processes(num_processes: "int | None" = None, max_restarts: "int | None" = None) -> int:
        where = _call_site()
        raise MultiProcessRefused(
            f"Tornado multi-process mode (num_processes={num_processes!r}, called at {where}) "
            "cannot run while tdev reloads the app. Fix: start a single process with "
            "server.start(1) or app.listen(port), or run without reloading: tdev run --no-reload ..."
        )

    fork_processes.__wrapped__ = process.fork_processes  # type: ignore[attr-defined]
    process.fork_processes = fork_processes


def _patch_autoreload(autoreload: "Any") -> None:
    original_watch = autoreload.watch

    def start(check_time: int = 500) -> None:
        if _channel is not None:
            _channel.send(
                msg.INFO,
                msg="Tornado's autoreload (debug=True / autoreload=True) is handed over to tdev: "
                "tdev restarts the app, the other debug features stay on",
            )

    @functools.wraps(original_watch)
    def watch(filename: str) -> None:
        original_watch(filename)
        imports.report(msg.WATCH, [filename])

    start.__wrapped__ = autoreload.start  # type: ignore[attr-defined]
    autoreload.start = start
    autoreload.watch = watch
    # Files watched before this patch (none in practice) still count.
    imports.report(msg.WATCH, compat.watched_files(autoreload))


def _patch_netutil(netutil: "Any") -> None:
    """Listening sockets come from the supervisor, which keeps them open across restarts."""
    original_bind = netutil.bind_sockets
    original_bind_unix = netutil.bind_unix_socket
    default_backlog = compat.default_backlog(netutil)

    @functools.wraps(original_bind)
    def bind_sockets(port: int, address: "str | None" = None, family: socket.AddressFamily = socket.AF_UNSPEC,
                     backlog: int = default_backlog, flags: "int | None" = None,
                     reuse_port: bool = False) -> "list[socket.socket]":
        if _channel is None or not _CAN_RECEIVE_FDS:
            return original_bind(port, address, family, backlog, flags, reuse_port)
        request = {"kind": "tcp", "port": port, "address": address, "family": int(family),
                   "backlog": backlog, "flags": flags, "reuse_port": bool(reuse_port)}
        return [_listening_socket(fd) for fd in _ask_supervisor(request)]

    @functools.wraps(original_bind_unix)
    def bind_unix_socket(file: str, mode: int = 0o600, backlog: int = default_backlog) -> socket.socket:
        if _channel is None or not _CAN_RECEIVE_FDS:
            return original_bind_unix(file, mode, backlog)
        # A Linux abstract name ("\0name") is no path: as it is.
        path = file if file.startswith("\0") else os.path.abspath(file)
        request = {"kind": "unix", "file": path, "mode": mode, "backlog": backlog}
        return _listening_socket(_ask_supervisor(request)[0])

    netutil.bind_sockets = bind_sockets
    netutil.bind_unix_socket = bind_unix_socket


def _listening_socket(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)  # Tornado accepts until EAGAIN: a blocking socket would hang the loop
    return sock


_replies: "dict[object, dict[str, Any]]" = {}  # by request id
_reply_ready = threading.Condition()
_request_ids = itertools.count(1)


def on_message(message: "dict[str, Any]") -> None:
    """A message from the supervisor (called on the lifeline thread)."""
    if message.get("t") == msg.BOUND:
        global _livereload_scripts
        if isinstance(message.get("livereload"), dict):  # the scripts, once the live-reload server runs
            _livereload_scripts = message["livereload"]
        with _reply_ready:
            _replies[message.get("id")] = message
            _reply_ready.notify_all()


def _ask_supervisor(request: "dict[str, Any]") -> "list[int]":
    """Send a bind request and wait for the descriptors (or the error) in reply."""
    imports.end_batching()  # the app is nearly up: the supervisor gets the files first
    request_id = next(_request_ids)
    if _channel is None or not _channel.send(msg.BIND, id=request_id, **request):
        raise OSError(errno.EPIPE, "tdev is gone")
    deadline = time.monotonic() + 30
    with _reply_ready:
        while request_id not in _replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OSError(errno.ETIMEDOUT, "tdev did not answer a bind request")
            _reply_ready.wait(remaining)
        reply = _replies.pop(request_id)
    if "error" in reply:
        raise OSError(reply.get("errno") or errno.EADDRINUSE, reply["error"])
    return reply.get("fds", [])


def _announce_serving() -> None:
    """On the app's event loop, once its servers accept: remember the loop, tell the supervisor."""
    global _announced, _serving_loop
    _serving_loop = compat.running_loop()
    if not _announced and _channel is not None:
        _announced = True
        _channel.send(msg.SERVING)


_announced = False


def has_served() -> bool:
    """Has the app served (its servers accepting on a running loop)?  Files it reads from then on are
    read while serving requests."""
    return _announced


_serving_loop: "asyncio.AbstractEventLoop | None" = None  # the event loop the app's servers run on


# -- draining on stop ---------------------------------------------------------------------
_servers: "weakref.WeakSet" = weakref.WeakSet()
_in_flight = [0]


def _patch_tcpserver(tcpserver: "Any") -> None:
    original = tcpserver.TCPServer.add_sockets

    @functools.wraps(original)
    def add_sockets(self: "Any", sockets: "list[socket.socket]") -> None:
        _servers.add(self)
        _defer_accept(sockets, _is_http_server(self))
        result = original(self, sockets)
        # Once the event loop runs, the app accepts: tell the supervisor.
        from tornado.ioloop import IOLoop

        IOLoop.current().add_callback(_announce_serving)
        return result

    tcpserver.TCPServer.add_sockets = add_sockets


def _is_http_server(server: "Any") -> bool:
    httpserver = sys.modules.get("tornado.httpserver")
    return httpserver is not None and isinstance(server, httpserver.HTTPServer)


def _defer_accept(sockets: "list[socket.socket]", http: bool) -> None:
    """HTTP: the client speaks first, so a TCP connection is accepted once its request starts to arrive
    (Linux): a connection that never sends anything (a browser's spare one) stays with the kernel, across
    restarts, and never holds a stop up.  Other protocols (the server may speak first): accepted at once.
    The listening socket is tdev's, shared by every app process: set (or cleared) on each use."""
    option = getattr(socket, "TCP_DEFER_ACCEPT", None)
    if option is None:
        return
    for sock in sockets:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, option, DEFER_ACCEPT_SECONDS if http else 0)
            except OSError:
                pass


def _patch_httpserver(httpserver: "Any") -> None:
    original = httpserver.HTTPServer.start_request

    @functools.wraps(original)
    def start_request(self: "Any", server_conn: "Any", request_conn: "Any") -> "_TrackedRequest":
        if not hasattr(server_conn, "_tdev_accepted"):  # its first request: the connection is new
            try:
                server_conn._tdev_accepted = time.monotonic()
            except AttributeError:
                pass
        return _TrackedRequest(original(self, server_conn, request_conn), server_conn, request_conn)

    httpserver.HTTPServer.start_request = start_request


class _TrackedRequest:
    """An ``HTTPMessageDelegate`` that counts a request from its headers until its response is sent."""

    def __init__(self, delegate: "Any", server_conn: "Any", request_conn: "Any") -> None:
        self._delegate = delegate
        self._server_conn = server_conn
        self._active = False
        compat.on_request_finished(request_conn, self._end)

    def _end(self) -> None:
        if self._active:
            self._active = False
            _in_flight[0] -= 1

    def headers_received(self, start_line: "Any", headers: "Any") -> "Any":
        if not self._active:
            self._active = True
            _in_flight[0] += 1
            try:
                self._server_conn._tdev_had_request = True
            except AttributeError:
                pass
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> "Any":
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        return self._delegate.finish()

    def on_connection_close(self) -> None:
        self._end()
        return self._delegate.on_connection_close()


def stop_serving(loop: "asyncio.AbstractEventLoop", then: "Callable[[], None]") -> None:
    """On the app's event loop: stop accepting, drain in-flight requests, close idle connections, ``then()``."""
    servers = list(_servers)
    for server in servers:
        try:
            server.stop()
            compat.refuse_keep_alive(server)  # responses still to come say Connection: close
        except Exception:
            pass
    started = time.monotonic()

    def requests_on_their_way() -> bool:
        """Connections accepted whose first request has not been read yet but may be on its way: just
        accepted, or bytes waiting.  Idle ones (a browser's spare connection) are not waited for."""
        now = time.monotonic()
        return any(
            not getattr(conn, "_tdev_had_request", False)
            and (now - getattr(conn, "_tdev_accepted", 0.0) < IDLE_SECONDS or _bytes_waiting(conn))
            for server in servers
            for conn in compat.server_connections(server)
        )

    def wait_for_requests() -> None:
        elapsed = time.monotonic() - started
        if elapsed < DRAIN_SECONDS and (_in_flight[0] > 0 or (elapsed < FRESH_SECONDS and requests_on_their_way())):
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


def _bytes_waiting(conn: "Any") -> bool:
    """The client has sent bytes the server has not read yet (a request starting to arrive); a peek
    at the connection's socket (the raw one under TLS).  False at EOF or when it cannot tell."""
    sock = getattr(getattr(conn, "stream", None), "socket", None)
    if sock is None:
        return False
    try:
        return bool(socket.socket.recv(sock, 1, socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)))
    except (OSError, ValueError, TypeError):
        return False


def call_on_serving_loop(then: "Callable[[], None]", drain: bool) -> bool:
    """From another thread: ``then()`` on the event loop of the app's servers, after ``stop_serving``
    when ``drain``.  False when no such loop runs: ``then`` is not called."""
    loop = _serving_loop
    if loop is None or not _servers or loop.is_closed() or not loop.is_running():
        return False
    try:
        if drain:
            loop.call_soon_threadsafe(stop_serving, loop, then)
        else:
            loop.call_soon_threadsafe(then)
    except RuntimeError:  # closed meanwhile
        return False
    return True


# -- templates, static files, live reload ----------------------------------------------------
_livereload_on = False  # inject the live-reload script (tdev run without --no-livereload)
_livereload_scripts: "dict[str, str]" = {}  # "get" / "post": the <script> (made by the supervisor) for a page
STATIC_HTML_LIMIT = 4 * 1024 * 1024  # larger static .html files are streamed as they are, without the script


def _snippet(method: str = "GET") -> bytes:
    """The script for a page from a GET, or from a form POST (reloaded with a GET, never re-sent)."""
    return _livereload_scripts.get("get" if method in ("GET", "HEAD") else "post", "").encode("utf-8")


def _patch_web(web: "Any") -> None:
    original_init = web.Application.__init__

    @functools.wraps(original_init)
    def __init__(self: "Any", *args: "Any", **kwargs: "Any") -> None:
        original_init(self, *args, **kwargs)
        _report_assets(self.settings)
        if _livereload_on:
            self.transforms.insert(0, _live_reload_transform(web))

    web.Application.__init__ = __init__
    if _livereload_on:
        _patch_etags(web)
        _patch_static_files(web)


def _patch_etags(web: "Any") -> None:
    """Every ETag also depends on the script (``inject.derive_etag``): set before the 304 check, so a
    browser's ``If-None-Match`` for a page with another script, or none, is answered in full."""

    def set_etag_header(self: "Any") -> None:  # Tornado's own, plus derive_etag
        etag = self.compute_etag()
        if etag is not None:
            self.set_header("Etag", inject.derive_etag(etag, _snippet(self.request.method)))

    set_etag_header.__doc__ = web.RequestHandler.set_etag_header.__doc__
    web.RequestHandler.set_etag_header = set_etag_header


def _static_html_whole(handler: "Any") -> bool:
    """Is this StaticFileHandler response a whole, small HTML file (so it can get the script)?"""
    path = getattr(handler, "absolute_path", None)
    if not path or handler.request.headers.get("Range") or handler.get_status() != 200:
        return False
    try:
        if not handler.get_content_type().lower().startswith("text/html"):
            return False
        return os.path.getsize(path) <= STATIC_HTML_LIMIT
    except (OSError, TypeError, ValueError):
        return False


def _patch_static_files(web: "Any") -> None:
    """Static ``.html`` files: written whole (not flushed chunk by chunk), so the transform sees the
    complete page; a HEAD answers the length GET sends."""
    handler_class = web.StaticFileHandler
    original_flush = handler_class.flush
    original_get = handler_class.get

    @functools.wraps(original_flush)
    def flush(self: "Any", include_footers: bool = False) -> "Any":
        if not include_footers and _static_html_whole(self):
            import asyncio

            done = asyncio.get_event_loop().create_future()
            done.set_result(None)
            return done  # finish() sends it all at once
        return original_flush(self, include_footers)

    @functools.wraps(original_get)
    async def get(self: "Any", path: str, include_body: bool = True) -> None:
        await original_get(self, path, include_body)
        if not include_body and _static_html_whole(self):
            try:
                content = self.get_content(self.absolute_path)
                body = content if isinstance(content, bytes) else b"".join(content)
            except OSError:
                return
            injected = inject.inject(body, _snippet(self.request.method), inject.is_navigation(self.request.headers))
            if injected is not None:
                self.set_header("Content-Length", len(injected))

    handler_class.flush = flush
    handler_class.get = get


def app_ready(app: "Any") -> None:
    """A ``module:attr`` app is built (and maybe given debug settings): report its directories again."""
    _report_assets(app.settings)


def _report_assets(settings: "dict[str, Any]") -> None:
    """Template and static directories; ``live`` when Tornado re-reads them on each request."""
    given = [imports.path_text(settings.get(key)) for key in ("template_path", "static_path")]
    paths = [os.path.abspath(p) for p in given if p and os.path.isdir(p)]  # pathlib.Path values too
    if paths and _channel is not None:
        live = not settings.get("compiled_template_cache", True) and not settings.get("static_hash_cache", True)
        _channel.send(msg.ASSETS, paths=paths, live=live)


_transform_class: "Any" = None
NO_BODY = (204, 304)
CSP = "Content-Security-Policy"
_meta_csp_said = False


def _allow_script(headers: "Any", snippet: bytes, body: bytes, path: str) -> None:
    """The page's Content-Security-Policy headers let tdev's script run and connect (``inject.extend_csp``);
    a policy in a ``<meta>`` tag is said once, with the page it is on."""
    global _meta_csp_said
    policies = headers.get_list(CSP)
    if policies:
        script, url = snippet.decode("utf-8"), _livereload_scripts.get("url", "")
        del headers[CSP]
        for policy in policies:
            headers.add(CSP, inject.extend_csp(policy, script, url))
    if not _meta_csp_said and _channel is not None and inject.meta_csp(body):
        _meta_csp_said = True
        path = "".join(c if c.isprintable() else "?" for c in path[:200])
        _channel.send(msg.INFO, msg=f"live reload may not work on {path}: its Content-Security-Policy is in a <meta> "
                                    "tag, which tdev does not change (sent as a header, tdev adds its script's hash)")


def _live_reload_transform(web: "Any") -> "Any":
    global _transform_class
    if _transform_class is not None:
        return _transform_class

    class LiveReloadTransform(web.OutputTransform):
        """Puts the live-reload script into complete, uncompressed HTML responses of any status (a HEAD
        gets the same Content-Length); a plain-text error (``debug=True``'s traceback) becomes an HTML
        page with the script when a browser navigates to it."""

        def __init__(self, request: "Any") -> None:
            self._request = request

        def transform_first_chunk(self, status_code: int, headers: "Any", chunk: bytes,
                                  finishing: bool) -> "tuple[int, Any, bytes]":
            if not finishing or status_code in NO_BODY or status_code < 200 or headers.get("Content-Encoding"):
                return status_code, headers, chunk
            content_type = headers.get("Content-Type", "").lower()
            navigation = inject.is_navigation(self._request.headers)
            snippet = _snippet(self._request.method)
            body: bytes | None = None
            if content_type.startswith("text/html"):
                body = inject.inject(chunk, snippet, navigation)
            elif status_code >= 400 and navigation and content_type.startswith("text/plain") and chunk and snippet:
                body = inject.error_as_html(status_code, chunk, snippet)
                headers["Content-Type"] = "text/html; charset=UTF-8"
            if body is not None:
                chunk = body
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(chunk))
                _allow_script(headers, snippet, chunk, self._request.path)
            return status_code, headers, chunk

        def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
            return chunk

    _transform_class = LiveReloadTransform
    return _transform_class
