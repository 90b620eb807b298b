"""Browser live reload: a WebSocket on loopback that tells open pages to reload.

The app process injects a small script into its HTML pages (see
``child/tornado_hooks.py``); the script connects here, on a port derived from
the app's (``port_for``), and is first told which run of tdev this is
(``{"type": "hello", "run": ...}``): a page from another run reloads.  After
each successful restart, and when a failed one left the error page answering,
the supervisor sends ``{"type": "reload"}``; when only stylesheets
changed and the app reads its assets live (``debug=True``), it sends
``{"type": "css"}`` and pages swap their stylesheets without a reload.
Only local requests (``locality.is_local_request``: ``Host`` names a loopback
host, no forwarding header) from pages with a loopback ``Origin`` may connect,
whatever ``Sec-Fetch-Site`` says.  The check runs in ``prepare``, before
Tornado's own origin checks: Tornado 6.6 accepts an ``Origin`` equal to
``Host`` (``evil.example:PORT`` after DNS rebinding) or a request that says
``Sec-Fetch-Site: same-origin`` without asking ``check_origin``.
"""

import json
from typing import TYPE_CHECKING

from devserver.locality import is_local_request, origin_is_loopback

if TYPE_CHECKING:
    from tornado.httpserver import HTTPServer

PATH = "/__tdev__/livereload"


PORT_BASE, PORT_SLOTS = 61000, 4536  # 61000-65535: above Linux's ephemeral range (32768-60999)


def port_for(app_port: "int | None") -> int:
    """The live-reload port for an app port: the same in every run, so pages left open reconnect to a
    restarted tdev (8888 -> 65352).  0 (any free port) for an app without a TCP port."""
    return PORT_BASE + app_port % PORT_SLOTS if app_port else 0


def script(url: str, run: str, post: bool = False) -> str:
    """The snippet injected before ``</body>``.

    It connects to ``url``; the server's first message (``hello``) names its run: another run than
    the one that served the page (tdev was restarted) reloads it.  ``reload`` reloads, ``css`` swaps
    the stylesheets.  A page that is the result of a form POST (``post``) is reloaded with a GET of
    its URL, never by re-sending the form.  Reconnects wait 1 s, doubling up to 5 s.
    """
    return (
        "<script>(function(){if(window.__tdevLiveReload)return;window.__tdevLiveReload=1;"
        f"var url={json.dumps(url)},run={json.dumps(run)},post={int(post)},wait=1000;"
        "function go(){if(post){location.replace(location.href.split('#')[0]);}else{location.reload();}}"
        "function css(){var l=document.querySelectorAll('link[rel=\"stylesheet\"]');"
        "for(var i=0;i<l.length;i++){var h=l[i].href.replace(/([?&])tdev=\\d+/,'$1').replace(/[?&]$/,'');"
        "l[i].href=h+(h.indexOf('?')<0?'?':'&')+'tdev='+Date.now();}}"
        "function connect(){var ws;try{ws=new WebSocket(url);}catch(e){return;}"
        "ws.onmessage=function(e){var m={};try{m=JSON.parse(e.data);}catch(x){}"
        "if(m.type==='hello'){wait=1000;if(m.run!==run)go();}"
        "else if(m.type==='css'){css();}else if(m.type==='reload'){go();}};"
        "ws.onclose=function(){setTimeout(connect,wait);wait=Math.min(wait*2,5000);};}"
        "connect();})();</script>"
    )


def may_connect(peer: str, headers) -> bool:
    """A local request (as for the error page) from a page with a loopback origin, or from a client
    that sends no ``Origin`` at all (not a browser: every browser sends one with a WebSocket)."""
    origin = headers.get("Origin", headers.get("Sec-Websocket-Origin"))
    return is_local_request(peer, headers) and (origin is None or origin_is_loopback(origin))


class LiveReloadServer:
    """Tornado's WebSocketHandler on 127.0.0.1 (``port``, or any free port when that one is taken),
    on the supervisor's loop; ``run`` names this run of tdev in its ``hello``."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.clients: set = set()
        self._server: HTTPServer | None = None
        self.url = ""

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        import tornado.web
        import tornado.websocket
        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_sockets

        owner = self

        class Socket(tornado.websocket.WebSocketHandler):
            def prepare(self) -> None:
                if not may_connect(self.request.remote_ip or "", self.request.headers):
                    raise tornado.web.HTTPError(403)

            def check_origin(self, origin: str) -> bool:
                return origin_is_loopback(origin)  # prepare decided; Tornado < 6.6 asks again

            def open(self) -> None:
                owner.clients.add(self)
                self.write_message(json.dumps({"type": "hello", "run": owner.run}))

            def on_close(self) -> None:
                owner.clients.discard(self)

            def on_message(self, message) -> None:
                pass

        app = tornado.web.Application([(PATH, Socket)], log_function=lambda handler: None)
        try:
            sockets = bind_sockets(port, host)
        except OSError:  # taken (another tdev whose app port maps here, or any other program)
            sockets = bind_sockets(0, host)
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        self.url = f"ws://{host}:{port}{PATH}"
        return self.url

    def broadcast(self, kind: str) -> int:
        """Send ``{"type": kind}`` to every connected page; returns how many."""
        message = json.dumps({"type": kind})
        sent = 0
        for client in list(self.clients):
            try:
                client.write_message(message)
                sent += 1
            except Exception:  # a page that went away
                self.clients.discard(client)
        return sent

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        for client in list(self.clients):
            try:
                client.close()
            except Exception:
                pass
        self.clients.clear()
