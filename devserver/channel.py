"""The private channel between the supervisor and the app process.

One inherited ``socketpair`` end per side; nothing else (no TCP port, no file
on disk) that another process could connect to.  Messages are JSON objects,
one per line, with a ``t`` key naming the message:

child -> supervisor
    ``files``   ``paths``: source files the app imported (sent as imports happen)
    ``watch``   ``paths``: files registered with ``tornado.autoreload.watch``
    ``reads``   ``paths``: files in the project trees the app opened for reading (not modules); batched
                with ``files`` during start-up; once it serves, one per message with ``serving``: true,
                ``live``: the template engine reading it reads it again after a change (true), caches it
                (false), or cannot tell (null), and its ``mtime`` (ns); or ``again``: true, read once more
    ``written`` ``paths``: files in the project trees the app opened for writing, renamed, removed,
                truncated or opened as a SQLite database: sent before the file changes
    ``error``   ``paths``: files named by the failing traceback / SyntaxError;
                ``summary``, ``traceback``: the error as text (for the error page)
    ``bind``    ``id``, ``kind`` ("tcp" or "unix") and ``bind_sockets`` /
                ``bind_unix_socket``'s arguments: asks for listening sockets
    ``serving`` the app's event loop runs with its servers accepting
    ``info``    ``msg``: a line the supervisor prints (once per session)
    ``started`` ``at`` (time.monotonic), ``warm``: the target's first line is about to run
    ``modules`` ``modules``: [name, file] of ``sys.modules`` in import order; ``environ_cut``:
                how many were imported when the app's code first set an environment variable
    ``ready``   a standby imported what it was asked to: ``files`` of its modules, ``skipped``
    ``assets``  ``paths``: the app's template/static directories; ``live``: read afresh on each request
    ``output``  ``lines``: the app's last lines of output (bounded), sent as it exits by itself
    ``stopping`` the app got ``stop``: its lifeline stops it and signals its process group itself
                (once the app continues, when a debugger holds it)
    ``reading`` ``on``: the app starts (true) or stops (false) reading the terminal (``input()``,
                ``pdb``, ``sys.stdin``); sent only when tdev reads the terminal for its own keys
    ``paused``  ``how``: "pdb" (at pdb's prompt) or "debugger" (stopped by debugpy / pydevd) when a
                debugger starts holding the app, null when it lets it go
    ``forked``  ``pid``: a fork server made a standby (its channel is the one passed with ``fork``)
    ``refused`` ``reason``: the fork server makes no copies (a thread alive, a debugger attached...)

supervisor -> child
    ``bound``   ``id``, and ``nfds`` descriptors passed along (SCM_RIGHTS),
                or ``errno`` + ``error``: the answer to ``bind``
    ``stop``    the supervisor is stopping the app: drain its servers if its own SIGTERM handler
                replaced tdev's, then SIGTERM the process group; run reload hooks on exit
    ``modules?`` send a ``modules`` message (asked once the app serves)
    ``preimport`` ``names``: a standby's modules to import before it waits
    ``go``      a standby runs the target now
    ``fork``    (a fork server) make a standby; one descriptor passed along: its end of a new channel

A message that carries descriptors says how many (``nfds``); the receiver
hands them out, in order, as ``message["fds"]``.

This module is imported on both sides, so it uses the standard library only.
"""

import json
import os
import socket
import threading

__all__ = ["Channel"]

# The message names (the ``t`` key), each spelled once.  child -> supervisor:
FILES = "files"
WATCH = "watch"
READS = "reads"
WRITTEN = "written"
ERROR = "error"
BIND = "bind"
SERVING = "serving"
INFO = "info"
STARTED = "started"
MODULES = "modules"
READY = "ready"
ASSETS = "assets"
OUTPUT = "output"
STOPPING = "stopping"
READING = "reading"
PAUSED = "paused"
PAUSED_PDB = "pdb"  # ``paused``'s ``how``: at pdb's prompt, reading the terminal
PAUSED_DEBUGGER = "debugger"  # ... stopped by debugpy / pydevd (an IDE's debugger)
FORKED = "forked"
FORK_REFUSED = "refused"
# supervisor -> child:
BOUND = "bound"
STOP = "stop"
MODULES_WANTED = "modules?"
PREIMPORT = "preimport"
GO = "go"
FORK = "fork"

TO_SUPERVISOR = (FILES, WATCH, READS, WRITTEN, ERROR, BIND, SERVING, INFO, STARTED, MODULES, READY, ASSETS, OUTPUT,
                 STOPPING, READING, PAUSED, FORKED, FORK_REFUSED)
TO_CHILD = (BOUND, STOP, MODULES_WANTED, PREIMPORT, GO, FORK)

_RECV_FDS = hasattr(socket, "recv_fds") and hasattr(socket, "AF_UNIX")


class Channel:
    """Newline-delimited JSON over a stream socket, safe to send from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self._buffer = b""
        self._fds: list[int] = []  # received descriptors not yet handed out
        self.closed = False

    def reset(self) -> None:
        """A forked copy of the process took a new socket under ``sock``: nothing read or held is its."""
        self._send_lock = threading.Lock()
        self._buffer = b""
        self._fds = []
        self.closed = False

    def send(self, t: str, fds: "list[int] | None" = None, **fields) -> bool:
        """Send one message (with descriptors, if given); False when the other side is gone."""
        fields["t"] = t
        if fds:
            fields["nfds"] = len(fds)
        data = json.dumps(fields, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._send_lock:
            if self.closed:
                return False
            try:
                if fds:
                    sent = socket.send_fds(self.sock, [data], list(fds))
                    data = data[sent:]
                if data:
                    self.sock.sendall(data)
            except OSError:
                return False
        return True

    def receive(self) -> "list[dict] | None":
        """Read what is available (one read); the complete messages, or None at EOF."""
        try:
            if _RECV_FDS:
                chunk, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 32)
                for fd in fds:  # as every descriptor Python makes (PEP 446); recvmsg leaves them inheritable
                    os.set_inheritable(fd, False)
                self._fds.extend(fds)
            else:
                chunk = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            chunk = b""
        if not chunk:
            return None
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and isinstance(message.get("t"), str):
                nfds = message.get("nfds")
                if isinstance(nfds, int) and nfds > 0:
                    message["fds"], self._fds = self._fds[:nfds], self._fds[nfds:]
                messages.append(message)
        return messages

    def close(self) -> None:
        with self._send_lock:
            if not self.closed:
                self.closed = True
                self.sock.close()
