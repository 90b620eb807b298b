"""Listening sockets held by the supervisor across restarts.

The app's ``bind_sockets`` / ``bind_unix_socket`` calls arrive here (over the
channel).  The first time, the supervisor binds with Tornado's own functions
(same address, family, backlog and reuse semantics); afterwards it hands out
the sockets it already holds.  Connections that arrive while the app restarts
wait in the listen backlog and are accepted by the next app.  A socket the
new app no longer asks for is closed once it serves.
"""

import errno
import os
import socket

KEY_FIELDS = ("kind", "port", "address", "family", "flags", "reuse_port", "file")


def request_key(request: dict) -> tuple:
    """What identifies one bind request: the same key gets the same sockets."""
    return tuple(request.get(field) for field in KEY_FIELDS)


class HeldSockets:
    def __init__(self, free_port_fallback: bool = False) -> None:
        self._held: dict[tuple, list[socket.socket]] = {}
        self._asked: set[tuple] = set()  # keys the current app asked for
        self._released: list[tuple] = []  # keys let go to make room for a new bind, until answer() returns them
        # ``tdev check``: a TCP port in use (by ``tdev run``, say) is replaced by a free one.
        self.free_port_fallback = free_port_fallback
        self.moved: list[str] = []  # one line per port replaced that way
        # The bind requests refused because the address is in use (by another process), since new_generation().
        self.refused: list[dict] = []

    def __len__(self) -> int:
        return len(self._held)

    def sockets(self) -> "list[socket.socket]":
        return [sock for socks in self._held.values() for sock in socks]

    def new_generation(self) -> None:
        """A new app is starting: nothing asked for yet."""
        self._asked = set()
        self.refused = []

    def get(self, request: dict) -> "list[socket.socket]":
        """The sockets for a bind request, binding them the first time (raises OSError)."""
        key = request_key(request)
        self._asked.add(key)
        held = self._held.get(key)
        if held is None:
            try:
                held = _bind(request)
            except OSError as exc:
                # The app moved to another address or flags on the same port: what tdev still holds
                # for the old app is in the way. Let it go and bind again.
                if exc.errno != errno.EADDRINUSE:
                    raise
                if self._release_same_port(request.get("port")):
                    held = _bind(request)
                elif self.free_port_fallback and request.get("kind") == "tcp" and request.get("port"):
                    held = _bind(dict(request, port=0))
                    where = describe_key(key)
                    holder = port_holder(request["port"])
                    self.moved.append(f"{where} is in use{f' by {holder}' if holder else ''}: "
                                      f"the app listens on port {held[0].getsockname()[1]} instead")
                else:
                    raise
            self._held[key] = held
        return held

    def answer(self, request: dict) -> "tuple[dict, list[tuple]]":
        """The reply to the app's bind request (``{"fds": [...]}``, or ``{"errno": N, "error": one line}``),
        and the keys of held sockets closed to make room for it (for the caller to report)."""
        try:
            socks = self.get(request)
        except ValueError as exc:  # a name Tornado refuses (a NUL byte; an abstract name before Tornado 6.5)
            where = describe_key(request_key(request))
            reply: dict = {"errno": errno.EINVAL, "error": f"cannot listen on {where}: {exc}"}
        except OSError as exc:
            where = describe_key(request_key(request))
            if exc.errno == errno.EADDRINUSE:
                holder = port_holder(request["port"]) if request.get("kind") == "tcp" and request.get("port") else None
                detail = f"{where} is already in use" + (f" by {holder}" if holder else "")
                self.refused.append(request)
            else:
                detail = f"cannot listen on {where}: {exc.strerror or exc}"
            reply = {"errno": exc.errno, "error": detail}
        else:
            reply = {"fds": [sock.fileno() for sock in socks]}
        released, self._released = self._released, []
        return reply, released

    def _release_same_port(self, port) -> bool:
        stale = [key for key in self._held if key[0] == "tcp" and port and key[1] == port and key not in self._asked]
        for key in stale:
            for sock in self._held.pop(key):
                sock.close()
        self._released.extend(stale)
        return bool(stale)

    def release_unused(self) -> "list[tuple]":
        """Close the sockets the current app did not ask for; returns their keys."""
        unused = [key for key in self._held if key not in self._asked]
        for key in unused:
            for sock in self._held.pop(key):
                sock.close()
        return unused

    def close_all(self) -> None:
        for socks in self._held.values():
            for sock in socks:
                sock.close()
        self._held.clear()


def _bind(request: dict) -> "list[socket.socket]":
    from tornado import netutil

    from devserver import compat

    backlog = request.get("backlog") or compat.default_backlog(netutil)
    if request.get("kind") == "unix":
        return [netutil.bind_unix_socket(request["file"], mode=request.get("mode", 0o600), backlog=backlog)]
    return netutil.bind_sockets(
        int(request.get("port") or 0),  # the app's own bind_sockets(port) call: an int, 0 for any
        address=request.get("address"),
        family=socket.AddressFamily(request.get("family") or 0),
        backlog=backlog,
        flags=request.get("flags"),
        reuse_port=bool(request.get("reuse_port")),
    )


def describe_key(key: tuple) -> str:
    kind, port, address, _family, _flags, _reuse, file = key
    if kind == "unix":
        return f"unix socket {_unix_name(file)}"
    return f"port {port}" + (f" on {address}" if address else "")


def describe_address(request: dict) -> str:
    """``port 8000`` / ``unix socket /tmp/app.sock``: the address of a bind request, short."""
    if request.get("kind") == "unix":
        return f"unix socket {_unix_name(request.get('file'))}"
    return f"port {request.get('port')}"


def _unix_name(file) -> str:
    """A Linux abstract name ("\\0name") shown as ``@name``, as ``ss`` does."""
    return "@" + file[1:] if isinstance(file, str) and file.startswith("\0") else str(file)


def socket_urls(socks) -> "list[str]":
    urls = []
    for sock in socks:
        try:
            name = sock.getsockname()
        except OSError:
            continue
        if sock.family == socket.AF_UNIX:
            urls.append(f"unix:{_unix_name(name.decode('utf-8', 'replace') if isinstance(name, bytes) else name)}")
        else:
            host, port = name[0], name[1]
            host = f"[{host}]" if ":" in host else host
            urls.append(f"http://{host}:{port}/")
    return urls


def port_holder(port: int) -> "str | None":
    """Which process listens on a TCP port (Linux, best effort): 'pid 123 (python app.py)'."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        command = " ".join(f.read().replace(b"\0", b" ").decode("utf-8", "replace").split())
                    return f"pid {pid} ({command[:80]})"
        except OSError:
            continue
    return None
