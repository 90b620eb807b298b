"""The error page's rules in isolation: who counts as this machine, what each client is shown."""

import asyncio
import html
import http.client
import re
import socket

import pytest

from devserver import errorpage
from devserver.errorpage import AppError, ErrorServer, is_loopback
from devserver.locality import is_local_request, origin_is_loopback

# -- is_loopback -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "127.255.255.254",
        "::1",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback (a dual-stack socket)
        "::ffff:127.9.9.9",
        "::ffff:7f00:1",  # the same, in hex
        "::1%lo",  # a scoped loopback address
    ],
)
def test_loopback_addresses(host):
    assert is_loopback(host) is True


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "8.8.8.8",
        "0.0.0.0",
        "::",
        "128.0.0.1",
        "126.255.255.255",
        "::ffff:10.0.0.1",  # IPv4-mapped, but not loopback
        "::ffff:192.168.1.1",
        "fe80::1%eth0",  # link-local with a scope
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1: another host
    ],
)
def test_other_hosts_are_not_loopback(host):
    assert is_loopback(host) is False


@pytest.mark.parametrize(
    "host",
    [
        "",
        "localhost",  # a name, not an address: never trusted
        "garbage",
        "127.0.0.1.evil.example",
        "127.0.0.1:8000",
        " 127.0.0.1",
        "127.0.0.1 ",
        "127.1",  # inet_aton shorthand: not an address here
        "0x7f000001",
        "2130706433",
        "127.0.0.256",
        "::1::",
        "[::1]",
        "%",
        "%lo",
        "127.0.0.1\x00",
        "１２７.0.0.1",  # full-width digits
    ],
)
def test_garbage_is_not_loopback(host):
    assert is_loopback(host) is False


# -- AppError: the text of the page ----------------------------------------------------------------

TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app.py", line 7, in <module>\n'
    "    raise ValueError('<b>bad</b> & \"quoted\"')\n"
    "ValueError: <b>bad</b> & \"quoted\"\n"
)


def test_html_escapes_everything_from_the_app():
    page = AppError("ValueError: <script>alert(1)</script>", TRACE).as_html()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bad</b>" not in page
    assert html.unescape(page).count('File "/srv/app.py", line 7') == 1
    assert page.count("<script>") == 1  # tdev's own reload script, and nothing else


def test_without_live_reload_the_page_polls_backing_off_to_5_seconds():
    page = AppError("ValueError: x", TRACE).as_html()
    script = page[page.index("<script>"):page.index("</script>")]
    assert '"X-Tdev-Poll": "1"' in script and "fetch(location.href" in script
    assert "wait = Math.min(wait * 2, 5000)" in script and "var wait = 500;" in script
    assert "location.reload()" not in script  # a GET of the URL: a POST is never re-sent
    with_script = AppError("ValueError: x", TRACE).as_html("<script>LIVE</script>")
    assert "fetch(" not in with_script and with_script.count("<script>LIVE</script>") == 1


def test_text_is_the_traceback_as_is_with_the_time():
    error = AppError("ValueError: <b>bad</b>", TRACE)
    text = error.as_text()
    assert "ValueError: <b>bad</b>" in text
    assert TRACE.rstrip() in text
    assert error.when.strftime("%Y-%m-%d %H:%M:%S") in text
    assert "<" not in text.replace("<b>", "").replace("</b>", "").replace("<module>", "")


def test_no_traceback_no_empty_block():
    page = AppError("The app exited with code 3.").as_html()
    assert "<pre>" not in page
    assert "The app exited with code 3." in page
    assert "Traceback" not in AppError("The app exited with code 3.").as_text()


# -- ErrorServer / its handler over real sockets ---------------------------------------------------


def _get(address, path="/", headers=None, family=socket.AF_INET):
    """Blocking GET over TCP (``address`` a (host, port)) or a unix socket (``address`` a path)."""
    if family == socket.AF_UNIX:
        conn = http.client.HTTPConnection("localhost", timeout=5)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(address)
        conn.sock = sock
    else:
        conn = http.client.HTTPConnection(*address, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def _listening(family=socket.AF_INET, path=None):
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        sock.bind(path)
    else:
        sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    return sock


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


ERROR = AppError("RuntimeError: secret-token-123 broke", "Traceback (most recent call last):\n"
                 '  File "/srv/app.py", line 3, in <module>\nRuntimeError: secret-token-123 broke\n')


def test_error_server_answers_loopback_with_the_error_and_leaves_the_socket_listening():
    held = _listening()
    address = held.getsockname()

    async def scenario():
        server = ErrorServer()
        server.start([held], ERROR)
        try:
            text = await asyncio.to_thread(_get, address, "/x", {"Accept": "*/*"})
            page = await asyncio.to_thread(_get, address, "/x", {"Accept": "text/html"})
        finally:
            server.stop()
        return text, page, server.running

    try:
        text, page, running = _run(scenario())
        assert text[0] == 500 and text[1]["x-tdev"] == "error" and "secret-token-123" in text[2]
        assert text[1]["content-type"].startswith("text/plain")
        assert page[0] == 500 and page[1]["content-type"].startswith("text/html")
        assert "secret-token-123" in page[2]
        assert not running
        # Stopping the error server closes its duplicates only: the held socket still listens,
        # so the next app takes over the connections that wait in its backlog.
        with socket.create_connection(address, timeout=2):
            pass
        assert held.fileno() != -1
    finally:
        held.close()


def test_error_server_treats_unix_socket_clients_as_local(tmp_path):
    path = str(tmp_path / "s.sock")
    held = _listening(socket.AF_UNIX, path)

    async def scenario():
        server = ErrorServer()
        server.start([held], ERROR)
        try:
            return await asyncio.to_thread(_get, path, "/", {"Accept": "*/*"}, socket.AF_UNIX)
        finally:
            server.stop()

    try:
        status, headers, body = _run(scenario())
        assert status == 500 and "secret-token-123" in body
    finally:
        held.close()


@pytest.mark.parametrize(
    "client, expected",
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        (None, True),  # a unix-socket client
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("2001:db8::1", False),
    ],
)
def test_the_peer_must_be_loopback(client, expected):
    assert is_local_request(client, {"Host": "localhost:8000"}) is expected


@pytest.mark.parametrize(
    "host, extra, bound, expected",
    [
        ("localhost:8000", {}, (), True),
        ("LocalHost", {}, (), True),
        ("localhost.:8000", {}, (), True),
        ("a.b.localhost:8000", {}, (), True),
        ("127.0.0.1:8000", {}, (), True),
        ("127.9.9.9", {}, (), True),
        ("[::1]:8000", {}, (), True),
        ("[::ffff:127.0.0.1]:8000", {}, (), True),
        ("10.0.0.5:8000", {}, ("10.0.0.5",), True),  # the address tdev bound
        ("[fd00::5]:8000", {}, ("fd00::5",), True),
        ("0.0.0.0:8000", {}, ("0.0.0.0",), True),
        ("10.0.0.5:8000", {}, ("127.0.0.1",), False),
        ("0.0.0.0:8000", {}, (), False),
        ("evil.example:8000", {}, (), False),
        ("127.0.0.1.evil.example", {}, (), False),
        ("localhost.evil.example", {}, (), False),
        ("evillocalhost:8000", {}, (), False),
        ("user@127.0.0.1:8000", {}, (), False),
        ("127.0.0.1/x", {}, (), False),
        ("127.0.0.1 evil", {}, (), False),
        ("[::1", {}, (), False),
        ("", {}, (), False),
        (None, {}, (), False),
        ("localhost:8000", {"X-Forwarded-For": "127.0.0.1"}, (), False),
        ("localhost:8000", {"x-forwarded-for": "203.0.113.5"}, (), False),
        ("localhost:8000", {"Forwarded": "for=127.0.0.1"}, (), False),
        ("localhost:8000", {"X-Forwarded-Host": "localhost"}, (), False),
        ("localhost:8000", {"X-Real-Ip": "127.0.0.1"}, (), False),
        ("localhost:8000", {"X-Forwarded-Proto": "https"}, (), True),  # says nothing about the client
    ],
)
def test_the_host_must_be_loopback_and_nothing_forwarded(host, extra, bound, expected):
    headers = {**({} if host is None else {"Host": host}), **extra}
    assert is_local_request("127.0.0.1", headers, bound) is expected


@pytest.mark.parametrize(
    "origin, expected",
    [
        ("http://localhost:8888", True),
        ("http://127.0.0.1:8000", True),
        ("https://app.localhost", True),
        ("http://[::1]", True),
        ("http://evil.com", False),
        ("http://127.0.0.1.evil.com", False),
        ("http://localhost@evil.com", False),
        ("http://evil.com@localhost", False),
        ("null", False),
        ("file://", False),
        ("", False),
        (None, False),
    ],
)
def test_origins(origin, expected):
    assert origin_is_loopback(origin) is expected


def test_handler_hides_the_error_from_forwarded_requests():
    """The handler applies the rule: the same loopback peer and Host, with and without X-Real-Ip."""
    owner = ErrorServer()
    held = _listening()
    address = held.getsockname()

    async def scenario():
        owner.start([held], ERROR)
        try:
            return [
                await asyncio.to_thread(_get, address, "/p", {"Accept": accept, **extra})
                for accept in ("text/html", "*/*") for extra in ({}, {"X-Real-Ip": "127.0.0.1"})
            ] + [await asyncio.to_thread(_get, address, "/p", {"X-Tdev-Poll": "1", **extra})
                 for extra in ({}, {"X-Real-Ip": "127.0.0.1"})]
        finally:
            owner.stop()

    try:
        answers = _run(scenario())
        assert [status for status, _, _ in answers] == [500, 503, 500, 503, 204, 503]
        assert answers[4][1]["x-tdev"] == "error" and answers[4][2] == ""
        answers = answers[:4]
        for status, headers, body in answers:
            if status == 503:
                assert "secret-token-123" not in body and "/srv/app.py" not in body and "Traceback" not in body
                assert "<script" not in body
            else:
                assert "secret-token-123" in body
    finally:
        held.close()


def test_stop_closes_connections_that_never_sent_a_request():
    """A browser's pre-connected socket must not get the error page again once the app is back."""
    held = _listening()
    address = held.getsockname()

    async def scenario():
        server = ErrorServer()
        server.start([held], ERROR)
        idle = socket.create_connection(address, timeout=5)
        try:
            await asyncio.sleep(errorpage.FRESH_SECONDS * 2)  # accepted, and no request on it
            server.stop()
            idle.settimeout(5)
            return await asyncio.to_thread(idle.recv, 100)
        finally:
            idle.close()

    try:
        assert _run(scenario()) == b""  # closed by tdev, unanswered: the browser opens a new one
    finally:
        held.close()


def test_the_users_own_frames_stand_out_from_library_frames():
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/p/app.py", line 3, in <module>\n'
        "    x = json.loads(s)\n"
        '  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads\n'
        "    return _default_decoder.decode(s)\n"
        '  File "/p/.venv/lib/python3.11/site-packages/x.py", line 1, in f\n'
        "    y\n"
        '  File "/p/web/views.py", line 9, in hook\n'
        "    raise ValueError('<b>')\n"
        "ValueError: <b>\n"
    )
    page = AppError("ValueError: <b>", trace).as_html("", ["/p"])
    own = re.findall(r'<span class="frame own">(.*?)</span>', page, re.S)
    lib = re.findall(r'<span class="frame lib">(.*?)</span>', page, re.S)
    assert [html.unescape(f).split('"')[1] for f in own] == ["/p/app.py", "/p/web/views.py"]
    assert [html.unescape(f).split('"')[1] for f in lib] == ["/usr/lib/python3.11/json/__init__.py",
                                                            "/p/.venv/lib/python3.11/site-packages/x.py"]
    assert "x = json.loads(s)" in own[0] and "raise ValueError(&#x27;&lt;b&gt;&#x27;)" in own[1]
    assert "ValueError: &lt;b&gt;" in page and "<b>" not in page
    assert '<html lang="en">' in page and 'name="viewport" content="width=device-width' in page
