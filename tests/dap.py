"""A minimal Debug Adapter Protocol client: enough to attach to debugpy, set breakpoints, continue."""
import json
import os
import socket
import threading
import time


class DAPClient:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(None)
        self.seq = 0
        self.messages = []
        self.cond = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        f = self.sock.makefile("rb")
        try:
            while True:
                headers = {}
                while True:
                    line = f.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    k, _, v = line.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers["content-length"]))
                with self.cond:
                    self.messages.append(json.loads(body))
                    self.cond.notify_all()
        except OSError:
            return

    def send(self, command, **arguments):
        self.seq += 1
        data = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        return self.seq

    def wait(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.messages:
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.get("type"), m.get("command") or m.get("event")) for m in self.messages]
                    raise AssertionError(f"no such DAP message within {timeout}s; got {seen}")
                self.cond.wait(left)

    def request(self, command, timeout=10.0, **arguments):
        seq = self.send(command, **arguments)
        return self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq, timeout)

    def event(self, name, timeout=10.0):
        return self.wait(lambda m: m.get("type") == "event" and m.get("event") == name, timeout)

    def attach(self, breakpoints, **attach_arguments):
        """initialize, attach, breakpoints ({path: [line, ...]}), configurationDone: the app runs on."""
        assert self.request("initialize", adapterID="python", clientID="tdev-tests", linesStartAt1=True,
                            columnsStartAt1=True, pathFormat="path")["success"]
        self.send("attach", **attach_arguments)
        self.event("initialized")
        for path, lines in breakpoints.items():
            reply = self.request("setBreakpoints", source={"path": str(path)},
                                 breakpoints=[{"line": line} for line in lines])
            assert all(b["verified"] for b in reply["body"]["breakpoints"]), reply
        assert self.request("configurationDone")["success"]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class DebugSession:
    """A client attached the way VS Code attaches (``subProcess``: every Python process the debuggee
    starts is announced with a ``debugpyAttach`` event and attached to as well), with the same
    breakpoints in each process."""

    def __init__(self, port, breakpoints=None, timeout=20.0):
        self.breakpoints = breakpoints or {}
        self.root = DAPClient(port, timeout=timeout)
        self.root.attach(self.breakpoints, justMyCode=False, subProcess=True)
        self.children = {}  # subprocess pid -> DAPClient
        self._closed = threading.Event()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self):
        while not self._closed.is_set():
            for client in [self.root, *self.children.values()]:
                with client.cond:
                    events = [m for m in client.messages
                              if m.get("type") == "event" and m.get("event") == "debugpyAttach"]
                for event in events:
                    body = event["body"]
                    pid = body.get("subProcessId")
                    if pid in self.children or self._closed.is_set():
                        continue
                    child = DAPClient(body["connect"]["port"], host=body["connect"].get("host", "127.0.0.1"))
                    self.children[pid] = child
                    arguments = {k: v for k, v in body.items() if k not in ("request", "type", "name")}
                    threading.Thread(target=child.attach, args=(self.breakpoints,), kwargs=arguments,
                                     daemon=True).start()
            time.sleep(0.02)

    def close(self):
        self._closed.set()
        for client in [self.root, *self.children.values()]:
            client.close()


def listener_pid(port):
    """The pid of the process listening on TCP ``port`` (127.0.0.1), from /proc (Linux); None if none.
    debugpy's adapter leaves the debuggee's process tree (it daemonizes): the test kills it by this pid."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for row in f:
                    fields = row.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                        inodes.add(fields[9])
        except OSError:
            continue
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(entry)
        except OSError:
            continue
    return None
