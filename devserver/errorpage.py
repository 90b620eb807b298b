"""What the held sockets answer while no app is serving: the app's error.

Local requests (``locality.is_local_request``: a loopback or unix-socket peer,
a ``Host`` naming a loopback host or the address tdev bound, no forwarding
header) get status 500 with the error, the traceback (file:line and source
lines) and the time: HTML for browsers, plain text for everything else.  Any
other request (another host, a tunnel, a proxy, a DNS-rebinding page) gets a
bare 503: no code, no paths, no traceback.  The HTML page polls its own
URL and reloads itself once the answer no longer comes from tdev.
"""

import datetime
import html
import os
import re
import socket
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from devserver.locality import is_local_request, is_loopback

if TYPE_CHECKING:
    from tornado.httpserver import HTTPServer

__all__ = ["AppError", "ErrorServer", "HEADER", "is_loopback"]

HEADER = "X-Tdev"
POLL_HEADER = "X-Tdev-Poll"


class AppError:
    """The latest failure of the app, as shown on the error page: its traceback, or else (an app that
    exited without one) its last lines of output."""

    def __init__(self, summary: str, traceback: str = "", output: Sequence[str] = ()) -> None:
        self.summary = summary
        self.traceback = traceback
        self.output = list(output)
        self.when = datetime.datetime.now()

    def as_text(self) -> str:
        when = self.when.strftime("%Y-%m-%d %H:%M:%S")
        parts = [f"tdev: the app is not running ({when})", "", self.summary]
        if self.traceback:
            parts += ["", self.traceback.rstrip()]
        if self.output:
            parts += ["", "Its last output:", *("    " + line for line in self.output)]
        parts += ["", "Save a fix: tdev restarts the app."]
        return "\n".join(parts) + "\n"

    def as_html(self, script: str = "", project: Sequence[str] = ()) -> str:
        """The page; ``script``: the live-reload script (else the page polls, backing off); frames of files
        under ``project`` (not in site-packages) stand out, the others (libraries, stdlib) are grey."""
        when = self.when.strftime("%Y-%m-%d %H:%M:%S")
        trace = f"<pre>{traceback_html(self.traceback.rstrip(), project)}</pre>" if self.traceback else ""
        if self.output:
            trace += f"<p>Its last output:</p><pre>{html.escape(chr(10).join(self.output))}</pre>"
        reload = script or _POLL.format(header=HEADER, poll=POLL_HEADER)
        return _PAGE.format(summary=html.escape(self.summary), when=when, trace=trace, reload=reload)


_FRAME = re.compile(r'^  File "(?P<path>[^"]+)", line \d+')
_LIBRARY_PARTS = {"site-packages", "dist-packages", "__pypackages__"}


def is_own_file(path: str, project: Sequence[str]) -> bool:
    """A file of the user's project: under one of its directories, not in an installed package there."""
    path = os.path.abspath(path)
    for root in project:
        root = os.path.abspath(root)
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return not _LIBRARY_PARTS.intersection(path[len(root):].split(os.sep))
    return False


def traceback_html(text: str, project: Sequence[str]) -> str:
    """The traceback, escaped, each frame (its ``File`` line and the source lines under it) in a span:
    ``own`` for the project's files, ``lib`` for the others."""
    out: list[str] = []
    frame: list[str] | None = None
    kind = ""

    def close() -> None:
        if frame is not None:
            out.append(f'<span class="frame {kind}">' + "\n".join(frame) + "</span>")

    for line in text.splitlines():
        match = _FRAME.match(line)
        if match:
            close()
            frame, kind = [html.escape(line)], "own" if is_own_file(match.group("path"), project) else "lib"
        elif frame is not None and line.startswith("    "):
            frame.append(html.escape(line))
        else:
            close()
            frame = None
            out.append(html.escape(line))
    close()
    return "\n".join(out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tdev: app error</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #fff; color: #222; }}
header {{ background: #b3261e; color: #fff; padding: 1em 1.5em; }}
h1 {{ font-size: 1.2em; margin: 0 0 .3em 0; overflow-wrap: anywhere; }}
main {{ padding: 1em 1.5em; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 13px; line-height: 1.4; }}
.frame.lib {{ color: #767676; }}
.frame.own {{ color: #000; font-weight: bold; background: #fff4c2; }}
small {{ color: #ddd; }}
@media (max-width: 600px) {{ header, main {{ padding: .8em; }} pre {{ padding: .6em; font-size: 12px; }} }}
</style></head>
<body><header><h1>{summary}</h1><small>{when} · tdev reloads this page when the app serves again</small></header>
<main>{trace}<p>Save a fix: tdev restarts the app.</p></main>
{reload}</body></html>
"""

_POLL = """<script>
(function () {{
  var wait = 500;
  function poll() {{
    fetch(location.href, {{cache: "no-store", headers: {{"{poll}": "1"}}}}).then(function (r) {{
      if (!r.headers.get("{header}")) {{ location.replace(location.href.split("#")[0]); }} else {{ again(); }}
    }}, again);
  }}
  function again() {{ setTimeout(poll, wait); wait = Math.min(wait * 2, 5000); }}
  again();
}})();
</script>
"""


class ErrorServer:
    """A Tornado HTTP server on duplicates of the held sockets, on the supervisor's loop."""

    def __init__(self) -> None:
        self.error: AppError | None = None
        self.bound: set[str] = set()  # the addresses of the held sockets (a Host naming one is local)
        self.scripts: dict[str, str] = {}  # the live-reload scripts ("get", "post"); none: the page polls
        self.project: list[str] = []  # the project's directories: their frames stand out on the page
        self._idle: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> accepted, until a request
        self._server: HTTPServer | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, sockets, error: AppError) -> None:
        self.error = error
        self.bound = {str(s.getsockname()[0]) for s in sockets if s.family in (socket.AF_INET, socket.AF_INET6)}
        if self._server is not None or not sockets:
            return
        server = _server_class(self._idle)(_application(self), no_keep_alive=True)
        server.add_sockets([_duplicate(sock) for sock in sockets])
        self._server = server

    def stop(self) -> None:
        """Stop accepting (what it accepted is still answered); the app takes over the backlog.  Connections
        accepted without a request for ``FRESH_SECONDS`` are closed: a browser's pre-connected socket would
        otherwise get the error page again when the page reloads for the app."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            self._close_idle()

    def _close_idle(self) -> None:
        from tornado.ioloop import IOLoop

        for stream, accepted in list(self._idle.items()):
            wait = accepted + FRESH_SECONDS - time.monotonic()
            if wait > 0:
                IOLoop.current().call_later(wait, self._close_idle)
            elif self._idle.pop(stream, None) is not None:
                stream.close()


FRESH_SECONDS = 0.1  # a request on its way over loopback arrives well within this after the connect


def _server_class(idle: "weakref.WeakKeyDictionary"):
    """An ``HTTPServer`` that notes when each connection arrives (``handle_stream``, its public hook) in
    ``idle``; the handler removes it once a request came on it."""
    from tornado.httpserver import HTTPServer

    class Server(HTTPServer):
        def handle_stream(self, stream, address) -> None:
            idle[stream] = time.monotonic()
            super().handle_stream(stream, address)

    return Server


def _duplicate(sock: socket.socket) -> socket.socket:
    dup = sock.dup()
    dup.setblocking(False)
    return dup


def _application(owner: ErrorServer):
    import tornado.web

    class ErrorHandler(tornado.web.RequestHandler):
        def prepare(self) -> None:
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                owner._idle.pop(stream, None)  # a request came on it: not idle
            self.set_header("Cache-Control", "no-store")
            context = getattr(self.request.connection, "context", None)
            unix = getattr(context, "address_family", None) == getattr(socket, "AF_UNIX", None)
            peer = None if unix else (self.request.remote_ip or "")
            if not is_local_request(peer, self.request.headers, owner.bound):
                self.clear_header("Server")  # nothing about what runs here
                self.set_status(503)
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish("Service temporarily unavailable\n")
                return
            error = owner.error or AppError("The app is not running.")
            self.set_header(HEADER, "error")
            if self.request.headers.get(POLL_HEADER):  # the page asking whether the error still stands
                self.set_status(204)
                self.finish()
                return
            self.set_status(500)
            if "text/html" in self.request.headers.get("Accept", ""):
                self.set_header("Content-Type", "text/html; charset=utf-8")
                script = owner.scripts.get("get" if self.request.method in ("GET", "HEAD") else "post", "")
                self.finish(error.as_html(script, owner.project))
            else:
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish(error.as_text())

    return tornado.web.Application([(r".*", ErrorHandler)], log_function=lambda handler: None)
