"""While the app is broken, tdev answers on its sockets: the error for this machine's clients
(HTML for browsers, plain text otherwise), a bare 503 for everyone else."""

import datetime
import html
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from tests.conftest import PYTHON, free_port, http_request, wait_for_body, wait_for_response, write

# -- helpers -------------------------------------------------------------------------------------

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
}
CURL = {"Accept": "*/*", "User-Agent": "curl/8.5.0"}


request = http_request


def is_error_page(status, headers, body) -> bool:
    return "x-tdev" in headers


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the source")


APP = """
    import asyncio
    import sys

    import tornado.web

    import version


    class Page(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "text/plain")
            self.write(version.VERSION)


    async def main():
        app = tornado.web.Application([(r"/.*", Page)])
        for address in sys.argv[2:] or ["127.0.0.1"]:
            app.listen(int(sys.argv[1]), address)
        await asyncio.Event().wait()


    asyncio.run(main())
"""

# The same app, broken at start-up by a function of app.py itself.
BROKEN_APP = APP.replace(
    "    async def main():",
    "\n".join([
        "    def load_settings():",
        '        raise RuntimeError("settings are broken: <COOKIE_SECRET> is missing")',
        "",
        "",
        "    SETTINGS = load_settings()",
        "",
        "",
        "    async def main():",
    ]),
)
BROKEN_LINE = 'raise RuntimeError("settings are broken: <COOKIE_SECRET> is missing")'
SUMMARY = "RuntimeError: settings are broken: <COOKIE_SECRET> is missing"
TIME = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\b")


def start_then_break(tdev, tmp_path, port):
    """Start the app, see it serve, then break app.py; returns (tdev, broken-at, line number of the raise)."""
    write(tmp_path / "app.py", APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    broken_at = datetime.datetime.now().replace(microsecond=0)
    write(tmp_path / "app.py", BROKEN_APP)
    t.wait_for(r"app exited with code 1")
    return t, broken_at, line_of((tmp_path / "app.py").read_text(), BROKEN_LINE)


# -- 6. the error page -----------------------------------------------------------------------------


def test_browser_gets_an_html_error_page_that_reloads_itself_and_then_the_app(tdev, tmp_path, port):
    t, broken_at, line = start_then_break(tdev, tmp_path, port)
    page = "/dashboard?tab=2"
    status, headers, body = wait_for_response(is_error_page, port, page, BROWSER, what="the error page")
    assert status == 500
    assert headers.get("x-tdev") == "error", headers
    assert headers.get("content-type", "").startswith("text/html"), headers
    assert "no-store" in headers.get("cache-control", ""), headers
    assert body.lstrip().lower().startswith("<!doctype html>"), body[:200]
    # The message is escaped: text from the exception is never markup.
    assert "<COOKIE_SECRET>" not in body, body
    assert "&lt;COOKIE_SECRET&gt;" in body, body
    text = html.unescape(body)
    assert SUMMARY in text, text
    app_py = os.path.join(str(tmp_path), "app.py")
    assert f'File "{app_py}", line {line}, in load_settings' in text, text
    caller = line_of((tmp_path / "app.py").read_text(), "SETTINGS = load_settings()")
    assert f'File "{app_py}", line {caller}, in <module>' in text, text
    assert BROKEN_LINE in text, text
    assert "SETTINGS = load_settings()" in text, text
    # When it broke, to the second.
    when = TIME.search(text)
    assert when, text
    shown = datetime.datetime.strptime(when.group(1), "%Y-%m-%d %H:%M:%S")
    assert broken_at <= shown <= datetime.datetime.now(), (broken_at, shown)
    # The page carries the live-reload script (tdev tells it to reload once the app serves), no poll.
    scripts = re.findall(r"<script>(.*?)</script>", body, re.S)
    assert len(scripts) == 1 and "window.__tdevLiveReload=1" in scripts[0], scripts
    assert "fetch(" not in body, body
    # Every path is answered the same way while broken.
    assert request(port, "/", BROWSER)[0] == 500
    # The fix: the same URL is the app again, not tdev.
    write(tmp_path / "app.py", APP.replace("version.VERSION", '"fixed " + version.VERSION'))
    status, headers, body = wait_for_response(
        lambda s, h, b: not is_error_page(s, h, b), port, page, BROWSER, what="the fixed app"
    )
    assert (status, body) == (200, "fixed v1"), (status, headers, body)
    assert "x-tdev" not in headers, headers
    assert "Address already in use" not in t.err


def test_curl_gets_the_error_as_plain_text(tdev, tmp_path, port):
    t, broken_at, line = start_then_break(tdev, tmp_path, port)
    status, headers, body = wait_for_response(is_error_page, port, "/api/items", CURL, what="the error page")
    assert status == 500
    assert headers.get("x-tdev") == "error", headers
    assert headers.get("content-type", "").startswith("text/plain"), headers
    for markup in ("<html", "<script", "<pre", "<h1", "&quot;", "&lt;"):
        assert markup not in body.lower(), body
    assert SUMMARY in body, body
    app_py = os.path.join(str(tmp_path), "app.py")
    assert f'File "{app_py}", line {line}, in load_settings' in body, body
    assert BROKEN_LINE in body, body
    when = TIME.search(body)
    assert when, body
    shown = datetime.datetime.strptime(when.group(1), "%Y-%m-%d %H:%M:%S")
    assert broken_at <= shown <= datetime.datetime.now(), (broken_at, shown)
    # No Accept header at all (a script, http.client) is not a browser either.
    status, headers, bare = request(port, "/api/items")
    assert status == 500 and "<html" not in bare.lower() and SUMMARY in bare, bare
    # A save that fails differently: the page shows the newest error, not the first one.
    write(tmp_path / "app.py", BROKEN_APP.replace("<COOKIE_SECRET> is missing", "DATABASE_URL is empty"))
    status, headers, body = wait_for_response(
        lambda s, h, b: "DATABASE_URL is empty" in b, port, "/api/items", CURL, what="the newest error"
    )
    assert status == 500 and "COOKIE_SECRET" not in body, body
    write(tmp_path / "app.py", APP)
    status, headers, body = wait_for_response(
        lambda s, h, b: not is_error_page(s, h, b), port, "/api/items", CURL, what="the fixed app"
    )
    assert (status, body) == (200, "v1")


def test_an_app_that_exits_without_a_traceback_is_reported_with_its_exit_code(tdev, tmp_path, port):
    write(tmp_path / "app.py", APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    write(tmp_path / "version.py", "import sys\nsys.exit(3)\n")
    t.wait_for(r"app exited with code 3")
    status, headers, body = wait_for_response(is_error_page, port, "/", CURL, what="the error page")
    assert status == 500
    assert "exited with code 3" in body, body
    assert "Traceback" not in body, body
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")


# -- 7. loopback only: a client from another network namespace gets a bare 503 ---------------------


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


class NetNamespace:
    """A network namespace joined to this one by a veth pair with private addresses, this machine only."""

    def __init__(self, family: str) -> None:
        tag = os.getpid() % 100000
        self.name = f"tdev-test-{os.getpid()}"
        self.host_link = f"tdvh{tag}"
        self.peer_link = f"tdvn{tag}"
        self.family = family
        octet = os.getpid() % 250 + 1
        if family == "ipv4":
            # 10.213.x.0/30: two addresses, on a link that exists only inside this machine.
            self.host_address, self.peer_address, prefix = f"10.213.{octet}.1", f"10.213.{octet}.2", 30
        else:
            # A unique-local /64 of our own (fd00::/8 is never routed off the machine here).
            self.host_address, self.peer_address, prefix = f"fd13:213:{octet:x}::1", f"fd13:213:{octet:x}::2", 64
        self._steps = [
            ("netns", "add", self.name),
            ("link", "add", self.host_link, "type", "veth", "peer", "name", self.peer_link),
            ("link", "set", self.peer_link, "netns", self.name),
            ("addr", "add", f"{self.host_address}/{prefix}", "dev", self.host_link, *(("nodad",) if family == "ipv6" else ())),
            ("link", "set", self.host_link, "up"),
            ("-n", self.name, "addr", "add", f"{self.peer_address}/{prefix}", "dev", self.peer_link,
             *(("nodad",) if family == "ipv6" else ())),
            ("-n", self.name, "link", "set", self.peer_link, "up"),
            ("-n", self.name, "link", "set", "lo", "up"),
        ]

    def create(self) -> "str | None":
        """Set it up; returns why not (and leaves nothing behind) when this machine does not allow it."""
        if os.name != "posix" or not hasattr(os, "geteuid") or os.geteuid() != 0:
            return "needs root to create a network namespace"
        if shutil.which("ip") is None:
            return "the ip command (iproute2) is not installed"
        for step in self._steps:
            try:
                result = _ip(*step, check=False)
            except (OSError, subprocess.SubprocessError) as exc:
                self.destroy()
                return f"ip {' '.join(step)}: {exc}"
            if result.returncode != 0:
                self.destroy()
                return f"ip {' '.join(step)}: {result.stderr.strip()}"
        return None

    def destroy(self) -> None:
        _ip("link", "del", self.host_link, check=False)  # takes the peer with it
        _ip("netns", "del", self.name, check=False)

    def get(self, host: str, port: int, headers: dict, timeout: float = 3.0) -> dict:
        """One HTTP GET from inside the namespace: {"status", "headers", "body"} or {"error"}."""
        code = (
            "import http.client, json, sys\n"
            "host, port, headers = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])\n"
            "try:\n"
            f"    c = http.client.HTTPConnection(host, port, timeout={timeout})\n"
            "    c.request('GET', '/settings?user=1', headers=headers)\n"
            "    r = c.getresponse()\n"
            "    out = {'status': r.status, 'headers': {k.lower(): v for k, v in r.getheaders()},\n"
            "           'body': r.read().decode('utf-8', 'replace')}\n"
            "except Exception as exc:\n"
            "    out = {'error': repr(exc)}\n"
            "print(json.dumps(out))\n"
        )
        result = subprocess.run(
            ["ip", "netns", "exec", self.name, PYTHON, "-I", "-c", code, host, str(port), json.dumps(headers)],
            capture_output=True, text=True, timeout=timeout + 10,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(params=["ipv4", "ipv6"])
def netns(request):
    ns = NetNamespace(request.param)
    reason = ns.create()
    if reason:
        pytest.skip(f"cannot make a network namespace with a veth pair here: {reason}")
    try:
        yield ns
    finally:
        ns.destroy()


def test_a_client_from_another_host_gets_a_bare_503_while_loopback_gets_the_error(tdev, tmp_path, netns):
    loopback = "127.0.0.1" if netns.family == "ipv4" else "::1"
    port = free_port()
    write(tmp_path / "app.py", APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    # The app listens on loopback and on the veth address: never on every interface.
    t = tdev(["run", "app.py", str(port), loopback, netns.host_address], cwd=tmp_path)
    wait_for_response(lambda s, h, b: b == "v1", port, host=loopback, timeout=15, what="v1 on loopback")
    # The other host reaches the app itself while it is healthy (so the 503 below is tdev's rule).
    deadline = time.monotonic() + 10
    while True:
        healthy = netns.get(netns.host_address, port, BROWSER)
        if healthy.get("status") == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert healthy.get("status") == 200 and healthy.get("body") == "v1", healthy

    secret = "db password is hunter2-in-settings"
    write(tmp_path / "version.py", f"VERSION = 'v2'\nraise RuntimeError({secret!r})\n")
    t.wait_for(r"app exited with code 1")
    status, headers, body = wait_for_response(is_error_page, port, "/", BROWSER, host=loopback, what="the error page")
    assert status == 500 and secret in html.unescape(body), body

    # Claiming to be loopback in headers changes nothing: the peer address decides.
    for headers in (BROWSER, CURL, {**BROWSER, "X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1"}):
        remote = netns.get(netns.host_address, port, headers)
        assert remote.get("status") == 503, remote
        leaked = remote["body"]
        for needle in (secret, "Traceback", "RuntimeError", "File ", "line ", "version.py", "app.py",
                       str(tmp_path), "raise ", "<script", "<pre"):
            assert needle not in leaked, (needle, leaked)
        assert "hunter2" not in json.dumps(remote["headers"]), remote["headers"]

    # The loopback client, meanwhile, still gets the whole error.
    status, headers, body = request(port, "/", CURL, host=loopback)
    assert status == 500 and secret in body and "Traceback" in body and "version.py" in body, body

    write(tmp_path / "version.py", "VERSION = 'v3'\n")
    wait_for_response(lambda s, h, b: b == "v3", port, host=loopback, what="v3 on loopback")
    fixed = netns.get(netns.host_address, port, BROWSER)
    assert fixed.get("status") == 200 and fixed.get("body") == "v3", fixed
