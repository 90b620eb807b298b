"""The error page and the live-reload WebSocket stay private behind tunnels, proxies and DNS rebinding.

One table per server: each row is the headers a request carries (all from 127.0.0.1, as a tunnel, a
proxy or a rebinding page would) and what tdev reveals for them.  A real non-loopback peer is covered
by test_errorpage.py (a network namespace): it gets the bare 503 whatever headers it sends.
"""

import http.client
import re
import socket

from tests.conftest import wait_for_body, wait_for_response, write

APP = """
    import asyncio, sys
    import tornado.web
    import version

    class Page(tornado.web.RequestHandler):
        def get(self):
            self.write("<html><body>" + version.VERSION + "</body></html>")

    async def main():
        tornado.web.Application([(r"/.*", Page)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())
"""
SECRET = "hunter2-secret-in-settings"

# Host header (PORT: the app's port, W: the live-reload port), extra headers -> the error is shown?
ERROR_PAGE_ROWS = [
    ("127.0.0.1:PORT", {}, True),
    ("localhost:PORT", {}, True),
    ("app.localhost:PORT", {}, True),
    ("LOCALHOST.:PORT", {}, True),
    ("[::1]:PORT", {}, True),
    ("127.3.2.1:PORT", {}, True),
    ("evil.example:PORT", {}, False),  # DNS rebinding: the page's own name
    ("evil.example:PORT", {"X-Forwarded-For": "203.0.113.5"}, False),  # the curl
    ("127.0.0.1.evil.example:PORT", {}, False),
    ("localhost.evil.example:PORT", {}, False),
    ("abc.ngrok-free.app", {}, False),  # a tunnel passing its own Host
    ("127.0.0.1:PORT", {"X-Forwarded-For": "203.0.113.5"}, False),  # a tunnel rewriting Host
    ("127.0.0.1:PORT", {"X-Forwarded-For": "127.0.0.1"}, False),
    ("localhost:PORT", {"Forwarded": "for=203.0.113.5"}, False),
    ("localhost:PORT", {"X-Forwarded-Host": "example.com"}, False),
    ("localhost:PORT", {"X-Real-IP": "203.0.113.5"}, False),
]

# Host, Origin, other headers -> may the WebSocket connect?
WEBSOCKET_ROWS = [
    ("127.0.0.1:W", "http://127.0.0.1:PORT", {}, True),
    ("127.0.0.1:W", "http://localhost:PORT", {}, True),
    ("localhost:W", "http://app.localhost:PORT", {"Sec-Fetch-Site": "cross-site"}, True),
    ("127.0.0.1:W", "http://[::1]:PORT", {}, True),
    ("127.0.0.1:W", None, {}, True),  # not a browser: browsers always send Origin
    ("evil.com:W", "http://evil.com:W", {}, False),  # Tornado 6.6 alone: Origin == Host, accepted
    ("127.0.0.1:W", "http://evil.com", {"Sec-Fetch-Site": "same-origin"}, False),  # 6.6 alone: accepted
    ("127.0.0.1:W", "http://evil.com", {"Sec-Fetch-Site": "none"}, False),
    ("127.0.0.1:W", "http://127.0.0.1.evil.com:PORT", {}, False),
    ("127.0.0.1:W", "null", {}, False),
    ("evil.com:W", "http://127.0.0.1:PORT", {}, False),  # the socket's own URL must be loopback too
    ("evil.com:W", None, {}, False),
    ("127.0.0.1:W", "http://127.0.0.1:PORT", {"X-Forwarded-For": "203.0.113.5"}, False),
]


def raw_get(port, host, headers, path="/settings"):
    """A GET from 127.0.0.1 with exactly this Host header (or none): (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in {"Accept": "text/html", **headers}.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def handshake(port, path, host, origin, headers) -> int:
    """A WebSocket opening handshake with exactly these headers: the status code tdev answers."""
    lines = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    if host is not None:
        lines.append(f"Host: {host}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_what_each_host_origin_and_forwarding_header_reveals(tdev, tmp_path, port):
    write(tmp_path / "app.py", APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    page = wait_for_body(port, "v1")
    match = re.search(r'ws://127\.0\.0\.1:(\d+)(/[^"]+)"', page)
    assert match, page
    ws_port, ws_path = int(match.group(1)), match.group(2)

    write(tmp_path / "version.py", f"raise RuntimeError({SECRET!r})\n")
    t.wait_for(r"app exited with code 1")
    wait_for_response(lambda s, h, b: s == 500, port, "/", {"Accept": "text/html"}, what="the error page")

    def sub(text):
        return text if text is None else text.replace("PORT", str(port)).replace("W", str(ws_port))

    revealed = {}
    for host, headers, _ in ERROR_PAGE_ROWS:
        status, body = raw_get(port, sub(host), headers)
        shown = status == 500 and SECRET in body and "version.py" in body
        hidden = status == 503 and SECRET not in body and "Traceback" not in body and "<script" not in body
        assert shown or hidden, (host, headers, status, body)
        revealed[(host, tuple(headers.items()))] = shown
    assert revealed == {(h, tuple(x.items())): expected for h, x, expected in ERROR_PAGE_ROWS}

    connected = {}
    for host, origin, headers, _ in WEBSOCKET_ROWS:
        status = handshake(ws_port, ws_path, sub(host), sub(origin), headers)
        assert status in (101, 403), (host, origin, headers, status)
        connected[(host, origin, tuple(headers.items()))] = status == 101
    assert connected == {(h, o, tuple(x.items())): expected for h, o, x, expected in WEBSOCKET_ROWS}
