"""The private channel between the supervisor and the app process.

One inherited ``socketpair`` end per side; nothing else (no TCP port, no file
on disk) that another process could connect to.  Messages are JSON objects,
one per line, with a ``t`` key naming the message:

child -> supervisor
    ``files``   ``paths``: source files the app imported (sent as imports happen)
    ``watch``   ``paths``: files registered with ``tornado.autoreload.watch``
    ``error``   ``paths``: files named by the failing traceback / SyntaxError
    ``listen``  ``addrs``: ``[host, port]`` pairs the app bound
    ``info``    ``msg``: a line the supervisor prints (once per session)

supervisor -> child
    ``stop``    the supervisor is stopping the app: run reload hooks on exit

This module is imported on both sides, so it uses the standard library only.
"""

import json
import socket
import threading

__all__ = ["Channel"]


class Channel:
    """Newline-delimited JSON over a stream socket, safe to send from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self._buffer = b""
        self.closed = False

    def send(self, t: str, **fields) -> bool:
        """Send one message; False when the other side is gone."""
        fields["t"] = t
        data = json.dumps(fields, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._send_lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
            except OSError:
                return False
        return True

    def receive(self) -> "list[dict] | None":
        """Read what is available (one ``recv``); the complete messages, or None at EOF."""
        try:
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
                messages.append(message)
        return messages

    def reset_lock(self) -> None:
        """After ``fork``: another thread may have held the lock in the parent."""
        self._send_lock = threading.Lock()

    def close(self) -> None:
        with self._send_lock:
            if not self.closed:
                self.closed = True
                self.sock.close()
