"""The live-reload script is right for every response: ETags, HEAD, error statuses, static .html files."""

import http.client
import signal

from tests.conftest import free_port, wait_for_body, write

APP = """
    import asyncio, os, sys
    import tornado.web
    import version

    HERE = os.path.dirname(os.path.abspath(__file__))

    class Page(tornado.web.RequestHandler):
        def get(self):
            self.render("index.html", version=version.VERSION)

        def head(self):
            self.get()

    class Boom(tornado.web.RequestHandler):
        def get(self):
            raise RuntimeError("boom-in-handler")

    class BrokenTemplate(tornado.web.RequestHandler):
        def get(self):
            self.render("broken.html")

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    class Csp(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Security-Policy", "default-src 'self'; img-src *")
            self.write("<html><body>csp</body></html>")

    class MetaCsp(tornado.web.RequestHandler):
        def get(self):
            self.write('<html><head><meta http-equiv="Content-Security-Policy" content="script-src none">'
                       '</head><body>meta</body></html>')

    def make(debug):
        return tornado.web.Application(
            [(r"/", Page), (r"/boom", Boom), (r"/broken", BrokenTemplate), (r"/hello", Hello), (r"/csp", Csp),
             (r"/meta", MetaCsp)],
            debug=debug, template_path=os.path.join(HERE, "templates"), static_path=os.path.join(HERE, "static"))

    async def main():
        make(False).listen(int(sys.argv[1]), "127.0.0.1")
        make(True).listen(int(sys.argv[2]), "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())
"""
SCRIPT = b"window.__tdevLiveReload=1"
BIG = 4 * 1024 * 1024 + 1  # a static .html file just over the 4 MiB tdev buffers to inject into
NAVIGATE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Sec-Fetch-Dest": "document"}
FETCH = {"Accept": "*/*", "Sec-Fetch-Dest": "empty"}


def make_app(root):
    write(root / "app.py", APP)
    write(root / "version.py", 'VERSION = "v1"\n')
    write(root / "templates" / "index.html", "<html><body><h1>{{ version }}</h1></body></html>\n")
    write(root / "templates" / "broken.html", "<html><body>{% if %}</body></html>\n")
    write(root / "static" / "page.html", "<!DOCTYPE html><html><body><p>static page</p></body></html>\n")
    write(root / "static" / "data.txt", "plain </body> text\n")
    write(root / "static" / "big.html", "<html><body>" + "x" * (BIG - 27) + "</body></html>\n")


def call(port, method="GET", path="/", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def start(tdev, root, port, debug_port, *flags):
    t = tdev(["run", *flags, "app.py", str(port), str(debug_port)], cwd=root)
    wait_for_body(port, "v1")
    return t


def stop(t):
    t.signal(signal.SIGINT)
    assert t.wait() == 0


def test_the_etag_describes_the_body_sent_and_head_agrees_with_get(tdev, tmp_path, port):
    make_app(tmp_path)
    debug_port = free_port()
    t = start(tdev, tmp_path, port, debug_port)
    for path in ("/", "/static/page.html"):
        status, headers, body = call(port, "GET", path, NAVIGATE)
        assert status == 200 and body.count(SCRIPT) == 1, (path, body)
        assert int(headers["content-length"]) == len(body)
        etag = headers["etag"]
        # The same page again: 304, as before.
        assert call(port, "GET", path, {**NAVIGATE, "If-None-Match": etag})[0] == 304
        # HEAD: the headers of the GET, the same length.
        status, head, head_body = call(port, "HEAD", path, NAVIGATE)
        assert status == 200 and head_body == b"", path
        assert int(head["content-length"]) == len(body), (path, head["content-length"], len(body))
        assert head["etag"] == etag
    # Static .html files over 4 MiB are streamed as they are.
    status, headers, body = call(port, "GET", "/static/big.html", NAVIGATE)
    assert status == 200 and SCRIPT not in body and len(body) == int(headers["content-length"]) == BIG
    # Static files that are not HTML are sent as they are.
    status, headers, body = call(port, "GET", "/static/data.txt", NAVIGATE)
    assert body == b"plain </body> text\n" and int(headers["content-length"]) == len(body)
    injected_etags = {path: call(port, "GET", path, NAVIGATE)[1]["etag"] for path in ("/", "/static/page.html")}
    stop(t)

    # Without live reload, the bodies differ (no script): so do the ETags, and the old one gets the page.
    start(tdev, tmp_path, port, debug_port, "--no-livereload")
    for path, old_etag in injected_etags.items():
        status, headers, body = call(port, "GET", path, {**NAVIGATE, "If-None-Match": old_etag})
        assert status == 200 and SCRIPT not in body and body, (path, status)
        assert headers["etag"] != old_etag
        assert int(call(port, "HEAD", path, NAVIGATE)[1]["content-length"]) == len(body)


def test_every_html_response_gets_the_script_whatever_its_status(tdev, tmp_path, port):
    make_app(tmp_path)
    debug_port = free_port()
    start(tdev, tmp_path, port, debug_port)
    for p in (port, debug_port):
        for path, expected in (("/boom", 500), ("/broken", 500), ("/missing", 404), ("/hello", 200)):
            status, headers, body = call(p, "GET", path, NAVIGATE)
            assert status == expected, (p, path, status)
            assert headers["content-type"].startswith("text/html"), (p, path, headers)
            assert body.count(SCRIPT) == 1, (p, path, body)
            assert int(headers["content-length"]) == len(body)
    # debug=True's traceback, shown to a browser as HTML (escaped), to curl as the plain text it was.
    status, headers, body = call(debug_port, "GET", "/boom", NAVIGATE)
    assert b"RuntimeError: boom-in-handler" in body and b"<pre" in body
    status, headers, body = call(debug_port, "GET", "/boom", {"Accept": "*/*"})
    assert status == 500 and headers["content-type"].startswith("text/plain") and SCRIPT not in body
    assert b"RuntimeError: boom-in-handler" in body
    # A fetch() of a fragment without </body> is left alone; a page with one gets the script.
    assert call(port, "GET", "/hello", FETCH)[2] == b"Hello, world"
    assert call(port, "GET", "/missing", FETCH)[2].count(SCRIPT) == 1


def test_a_content_security_policy_lets_tdevs_script_run_and_nothing_else(tdev, tmp_path, port):
    import base64
    import hashlib
    import re

    make_app(tmp_path)
    t = start(tdev, tmp_path, port, free_port())
    status, headers, body = call(port, "GET", "/csp", NAVIGATE)
    script = re.search(rb"<script>(.*?)</script>", body, re.S).group(1)
    ws = re.search(rb'var url="(ws://127\.0\.0\.1:\d+)/', body).group(1).decode()
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    assert headers["content-security-policy"] == (
        f"default-src 'self'; img-src *; script-src 'self' 'sha256-{digest}'; connect-src 'self' {ws}")
    # A policy in a <meta> tag is not changed: tdev says so, once, naming the page.
    for _ in range(2):
        assert call(port, "GET", "/meta", NAVIGATE)[2].count(SCRIPT) == 1
    t.wait_for(r"live reload may not work on /meta: its Content-Security-Policy is in a <meta> tag")
    assert t.count(r"Content-Security-Policy is in a <meta> tag", "err") + t.count(r"<meta> tag", "out") == 1
