"""What the browsers are told, over the live-reload WebSocket (``livereload``).

After a restart, once the new app serves: reload.  When the app fails and
tdev answers on its sockets with the error: reload too, so open pages show
the error at once (and reload again once it serves).  When only templates or
static files that the app reads afresh on each request changed, there is no
restart at all: pages refresh their stylesheets (only CSS changed) or reload,
once the burst of changes is over.

The WebSocket server starts when the app first listens on a TCP port, on a
port derived from it (``livereload.port_for``): pages left open from an
earlier run of tdev for the same app port reconnect, see another ``run`` in
the server's ``hello`` and reload.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Callable

from devserver.burst import describe_changes
from devserver.livereload import PATH, LiveReloadServer, port_for, script
from devserver.output import Output


class Browsers:
    def __init__(self, debounce_seconds: float, call_later: Callable[..., asyncio.TimerHandle], output: Output) -> None:
        self.server: LiveReloadServer | None = None
        self.run = secrets.token_hex(6)  # this run of tdev, in each page's script and in the server's hello
        self.debounce_seconds = debounce_seconds
        self.call_later = call_later
        self.out = output
        self._restarted = False  # the next "serving" is after a restart: browsers reload
        self._changes: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    @property
    def on(self) -> bool:
        return self.server is not None

    def start(self, app_port: int | None) -> dict[str, str]:
        """Start the WebSocket server (once; on the port derived from ``app_port``): the scripts pages get."""
        if self.server is None:
            self.server = LiveReloadServer(self.run)
            url = self.server.start(port_for(app_port))
            wanted = port_for(app_port)
            taken = f" (port {wanted} is taken)" if wanted and not url.endswith(f":{wanted}{PATH}") else ""
            self.out.debug(f"browser live reload on {url}{taken}")
        return self.scripts()

    def scripts(self) -> dict[str, str]:
        """The injected script for a page from a GET (``get``) and from a form POST (``post``); the
        WebSocket's ``url`` (a page's Content-Security-Policy gets it in ``connect-src``)."""
        if self.server is None:
            return {}
        url = self.server.url
        return {"get": script(url, self.run), "post": script(url, self.run, post=True), "url": url}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def restarting(self) -> None:
        self._restarted = True

    def app_failed(self) -> None:
        """tdev answers on the app's sockets with its error: open pages reload to show it."""
        self._restarted = True
        if self.server is not None and self.server.broadcast("reload"):
            self.out.debug("browsers told to show the error")

    def app_serving(self) -> None:
        """The app serves: if it is a new one, the pages reload."""
        if self._restarted:
            self._restarted = False
            if self.server is not None and self.server.broadcast("reload"):
                self.out.debug("browsers told to reload")

    def assets_changed(self, paths: list[str]) -> None:
        """Templates / static files the app reads live changed: reload the browsers, not the app."""
        self._changes.extend(p for p in paths if p not in self._changes)
        if self._timer is None:
            self._timer = self.call_later(self.debounce_seconds, self._reload)

    def _reload(self) -> None:
        self._timer = None
        changed, self._changes = self._changes, []
        kind = "css" if all(p.endswith(".css") for p in changed) else "reload"
        count = self.server.broadcast(kind) if self.server is not None else 0
        what = "refreshing stylesheets" if kind == "css" else "reloading the browser"
        self.out.change(f"{describe_changes(changed)} — {what} ({count} page{'s' * (count != 1)})")
