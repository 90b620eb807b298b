"""One app process on the supervisor's asyncio loop, for ``tdev run`` and ``tdev check`` alike.

The plumbing both commands need around a spawned app: its channel read as
messages arrive and routed through the owner's dispatch table, its bind
requests answered from the held sockets, and its exit.  After the exit the
channel is read to the end first: the app's last messages (the files named by
the traceback it died of, say) arrive before its exit is reported.

What the messages *mean* is the owner's business: the session only routes them.
"""

from __future__ import annotations

import asyncio
import os
import select
import time
from collections.abc import Mapping
from typing import Callable

from devserver import channel as msg
from devserver.process import Child, spawn
from devserver.sockets import HeldSockets
from devserver.target import Target

Handler = Callable[["AppSession", dict], None]
BindReport = Callable[[dict, "list[tuple]"], None]

# How long an app may take to answer a stop (its lifeline does, within milliseconds) before the
# supervisor sends SIGTERM to its process group itself: an app stuck before its lifeline runs still stops.
STOP_ANSWER_SECONDS = 0.5


class AppSession:
    """A started app process: its channel read on ``loop``, its messages routed by ``handlers``.

    ``on_exit(session)`` runs on the loop once the process exited and its last messages were handled.
    ``on_bind(reply, released)`` (optional) sees each answer to a bind request before it is sent (and may
    add to it: the live-reload scripts).
    """

    def __init__(self, child: Child, loop: asyncio.AbstractEventLoop, sockets: HeldSockets,
                 handlers: Mapping[str, Handler], on_exit: Callable[[AppSession], None],
                 on_bind: BindReport | None = None) -> None:
        self.child = child
        self.loop = loop
        self.sockets = sockets
        self.handlers = handlers
        self.on_exit = on_exit
        self.on_bind = on_bind
        self.exited = False
        # When it began on the target (time.time()): its start, or for a standby the "go".  A file it
        # reports that was saved later is a change it may not have seen.
        self.target_since_wall = child.started_wall
        self._stop_timer: asyncio.TimerHandle | None = None
        self.paused: str | None = None  # msg.PAUSED_PDB / PAUSED_DEBUGGER while a debugger holds it
        loop.add_reader(child.channel.sock.fileno(), self._on_readable)
        child.on_exit(lambda _child: loop.call_soon_threadsafe(self._on_process_exit))

    @classmethod
    def start(cls, target: Target, options: dict, loop: asyncio.AbstractEventLoop, sockets: HeldSockets,
              handlers: Mapping[str, Handler], on_exit: Callable[[AppSession], None],
              on_bind: BindReport | None = None, stdout=None) -> AppSession:
        """Spawn the app (raises OSError) and start reading its channel."""
        return cls(spawn(target, options, stdout=stdout), loop, sockets, handlers, on_exit, on_bind)

    def saved_since_start(self, paths: list[str]) -> list[str]:
        """Those of ``paths`` saved after this app began on the target (``target_since_wall``): it may
        have read their old version, so they count as changes once they are watched."""
        saved = []
        for path in paths:
            try:
                if os.stat(path).st_mtime > self.target_since_wall:
                    saved.append(path)
            except OSError:
                pass
        return saved

    # -- what the owner asks of the process ----------------------------------------------------
    @property
    def pid(self) -> int:
        return self.child.pid

    def send(self, kind: str, **fields) -> bool:
        """Send a message to the app; False when it is gone."""
        return self.child.channel.send(kind, **fields)

    def go(self) -> bool:
        """A standby runs the target now (files saved before this moment are the ones it reads)."""
        self.target_since_wall = time.time()
        return self.send(msg.GO)

    def terminate(self) -> None:
        """Ask the app to stop (see ``Child.terminate``).  An app that has not answered the stop within
        ``STOP_ANSWER_SECONDS`` (stuck before its lifeline runs) gets SIGTERM to its group from here."""
        first = self.child.stop_sent is None
        self.child.terminate()
        if first and self._stop_timer is None:
            self._stop_timer = self.loop.call_later(STOP_ANSWER_SECONDS, self._stop_unanswered)

    def _stop_unanswered(self) -> None:
        self._stop_timer = None
        if not self.exited:
            self.child.stop_unanswered()

    def kill(self) -> None:
        self.child.kill()

    @property
    def returncode(self) -> int | None:
        return self.child.returncode

    def describe_exit(self) -> str:
        """``exited with code N`` / ``was killed by SIGNAME`` / ``is still running``."""
        return self.child.describe_exit()

    def close(self) -> None:
        """Kill the process if it still runs and close the channel (the end of ``tdev check``)."""
        if not self.exited:
            self.child.kill()
        self.child.channel.close()

    # -- reading -------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        messages = self.child.channel.receive()
        if messages is None:
            self._stop_reading()
            return
        self.dispatch(messages)

    def read_pending(self) -> None:
        """Handle now what the app has sent so far (a file event is about to be acted on: a file the
        app writes is said to be written before it changes)."""
        while not self.exited:
            messages = self.child.channel.receive()
            if not messages:
                return
            self.dispatch(messages)

    def wait_for(self, kinds: tuple[str, ...], timeout: float) -> dict | None:
        """Read the channel now (blocking up to ``timeout``) until a message of one of ``kinds`` comes;
        the others are handled as usual.  None: none came in time, or the process is gone."""
        deadline = time.monotonic() + timeout
        sock = self.child.channel.sock
        while not self.exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
                return None
            messages = self.child.channel.receive()
            if messages is None:
                return None
            for i, message in enumerate(messages):
                if message["t"] in kinds:
                    self.dispatch(messages[:i])
                    self.dispatch(messages[i + 1:])
                    return message
            self.dispatch(messages)
        return None

    def dispatch(self, messages: list[dict]) -> None:
        """Route each message to its handler (bind requests are answered here)."""
        for message in messages:
            kind = message["t"]
            if kind == msg.BIND:
                self._answer_bind(message)
                continue
            if kind == msg.STOPPING:
                self.child.stop_answered = True
                continue
            if kind == msg.PAUSED:
                how = message.get("how")
                self.paused = how if how in (msg.PAUSED_PDB, msg.PAUSED_DEBUGGER) else None
            handler = self.handlers.get(kind)
            if handler is not None:
                handler(self, message)

    def _answer_bind(self, request: dict) -> None:
        """The app wants listening sockets: hand out the held ones (bound the first time)."""
        reply, released = self.sockets.answer(request)
        if self.on_bind is not None:
            self.on_bind(reply, released)
        self.child.channel.send(msg.BOUND, id=request.get("id"), **reply)

    def _stop_reading(self) -> None:
        try:
            self.loop.remove_reader(self.child.channel.sock.fileno())
        except (ValueError, OSError):
            pass

    def _on_process_exit(self) -> None:
        """The process is gone: what it left in its group goes too, its last messages are handled."""
        self.child.reap_group()
        self._stop_reading()
        while True:
            messages = self.child.channel.receive()
            if not messages:
                break
            self.dispatch(messages)
        self.child.channel.close()
        self.exited = True
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None
        self.on_exit(self)
