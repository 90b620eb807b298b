"""Browser live reload: the injected script, the WebSocket, and what triggers a reload."""

import asyncio
import http.client
import json
import re

from tests.conftest import wait_for_body, write

APP = """
    import asyncio
    import os
    import sys

    import tornado.web

    import version

    HERE = os.path.dirname(os.path.abspath(__file__))


    class Page(tornado.web.RequestHandler):
        def get(self):
            self.render("index.html", version=version.VERSION)


    class Json(tornado.web.RequestHandler):
        def get(self):
            self.write({"version": version.VERSION, "html": "</body>"})


    class Streamed(tornado.web.RequestHandler):
        async def get(self):
            self.set_header("Content-Type", "text/html")
            self.write("<html><body>part one")
            await self.flush()
            self.write(" part two</body></html>")


    async def main():
        app = tornado.web.Application(
            [(r"/", Page), (r"/json", Json), (r"/streamed", Streamed)],
            debug=DEBUG,
            template_path=os.path.join(HERE, "templates"),
            static_path=os.path.join(HERE, "static"),
        )
        app.listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def make_app(root, debug=True):
    write(root / "app.py", APP.replace("DEBUG", str(debug)))
    write(root / "version.py", 'VERSION = "v1"\n')
    write(root / "templates" / "index.html", "<html><body><h1>{{ version }}</h1></body></html>\n")
    write(root / "static" / "site.css", "body { color: black; }\n")


def get(port, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def socket_url(body: bytes) -> str:
    match = re.search(rb'var url="(ws://[^"]+)"', body)
    assert match, body
    return match.group(1).decode()


async def connect(url, origin):
    import tornado.httpclient
    import tornado.websocket

    request = tornado.httpclient.HTTPRequest(url, headers={"Origin": origin})
    ws = await tornado.websocket.websocket_connect(request)
    hello = json.loads(await asyncio.wait_for(ws.read_message(), 10))  # the server's first word: its run
    assert hello["type"] == "hello" and re.fullmatch(r"[0-9a-f]{12}", hello["run"]), hello
    return ws


def test_script_is_injected_into_html_only_with_a_correct_length(tdev, tmp_path, port):
    make_app(tmp_path)
    tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    status, headers, body = get(port, "/")
    assert status == 200
    assert body.count(b"window.__tdevLiveReload=1") == 1
    assert body.index(b"<script>") < body.lower().rindex(b"</body>")
    assert int(headers["Content-Length"]) == len(body)
    assert socket_url(body).startswith("ws://127.0.0.1:")
    # Not into JSON, not into a streamed response.
    _, headers, body = get(port, "/json")
    assert b"__tdev" not in body and int(headers["Content-Length"]) == len(body)
    _, _, body = get(port, "/streamed")
    assert b"__tdev" not in body and body.endswith(b"part two</body></html>")


def test_no_livereload_injects_nothing(tdev, tmp_path, port):
    make_app(tmp_path)
    tdev(["run", "--no-livereload", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    _, headers, body = get(port, "/")
    assert b"__tdev" not in body and int(headers["Content-Length"]) == len(body)


def test_pages_are_told_to_reload_after_a_restart_and_on_template_and_css_changes(tdev, tmp_path, port):
    make_app(tmp_path, debug=True)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    url = socket_url(get(port, "/")[2])

    async def scenario():
        ws = await connect(url, f"http://127.0.0.1:{port}")
        messages = []
        write(tmp_path / "templates" / "index.html", "<html><body><h2>{{ version }}</h2></body></html>\n")
        messages.append(await asyncio.wait_for(ws.read_message(), 10))
        write(tmp_path / "static" / "site.css", "body { color: red; }\n")
        messages.append(await asyncio.wait_for(ws.read_message(), 10))
        write(tmp_path / "version.py", 'VERSION = "v2"\n')
        messages.append(await asyncio.wait_for(ws.read_message(), 10))
        ws.close()
        return messages

    messages = asyncio.run(scenario())
    assert messages == ['{"type": "reload"}', '{"type": "css"}', '{"type": "reload"}']
    # Templates and CSS did not restart the app (debug=True reads them live); version.py did, once.
    assert t.count(r"changed — restarting") == 1
    assert t.count(r"index\.html changed — reloading the browser") == 1
    body = get(port, "/")[2]
    assert b"<h2>v2</h2>" in body


def test_template_change_restarts_an_app_that_caches_templates(tdev, tmp_path, port):
    make_app(tmp_path, debug=False)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    write(tmp_path / "templates" / "index.html", "<html><body><h3>{{ version }}</h3></body></html>\n")
    t.wait_for(r"index\.html changed — restarting")
    wait_for_body(port, "<h3>v1</h3>")


def test_websocket_refuses_pages_from_other_origins(tdev, tmp_path, port):
    import tornado.httpclient

    make_app(tmp_path)
    tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    url = socket_url(get(port, "/")[2])

    async def try_origin(origin):
        try:
            ws = await connect(url, origin)
        except tornado.httpclient.HTTPClientError as exc:
            return exc.code
        ws.close()
        return 101

    assert asyncio.run(try_origin("http://evil.example.com")) == 403
    assert asyncio.run(try_origin(f"http://localhost:{port}")) == 101


def test_error_page_then_fix_tells_pages_to_reload(tdev, tmp_path, port):
    make_app(tmp_path)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    url = socket_url(get(port, "/")[2])

    async def scenario():
        ws = await connect(url, f"http://127.0.0.1:{port}")
        write(tmp_path / "version.py", "VERSION = (\n")
        deadline = asyncio.get_running_loop().time() + 10
        while not t.count(r"app exited with code 1") and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert get(port, "/")[0] == 500  # the error page, while broken
        write(tmp_path / "version.py", 'VERSION = "v3"\n')
        message = await asyncio.wait_for(ws.read_message(), 10)
        ws.close()
        return message

    assert asyncio.run(scenario()) == '{"type": "reload"}'
    wait_for_body(port, "v3")


def test_template_and_static_paths_given_as_pathlib_paths_are_watched(tdev, tmp_path, port):
    # jupyter/terminado's demos and many modern apps pass pathlib.Path values: they must count as
    # str paths do (debug=False: templates are cached, so a template edit restarts the app).
    make_app(tmp_path, debug=False)
    app = (tmp_path / "app.py").read_text()
    app = app.replace('os.path.join(HERE, "templates")', 'pathlib.Path(HERE) / "templates"')
    app = app.replace('os.path.join(HERE, "static")', 'pathlib.Path(HERE) / "static"')
    app = app.replace("import asyncio\n", "import asyncio\nimport pathlib\n", 1)
    app = app.replace("async def main():", "tornado.autoreload.watch(pathlib.Path(HERE) / 'settings.ini')\n\n\nasync def main():")
    assert "settings.ini" in app
    app = app.replace("import tornado.web\n", "import tornado.autoreload\nimport tornado.web\n", 1)
    write(tmp_path / "app.py", app)
    write(tmp_path / "settings.ini", "[a]\nx = 1\n")
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    write(tmp_path / "templates" / "index.html", "<html><body><h3>{{ version }} path-333</h3></body></html>\n")
    wait_for_body(port, "path-333")
    assert t.count(r"index\.html changed — restarting") == 1
    write(tmp_path / "settings.ini", "[a]\nx = 2\n")  # autoreload.watch(Path(...)) counts too
    t.wait_for(r"settings\.ini changed — restarting")


def test_the_live_reload_address_is_the_same_when_tdev_runs_again_on_the_same_port(tdev, tmp_path, port):
    import signal

    from devserver.livereload import port_for

    make_app(tmp_path)
    urls, runs = [], []
    for _ in range(2):
        t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
        wait_for_body(port, "v1")
        body = get(port, "/")[2]
        urls.append(socket_url(body))
        runs.append(re.search(rb'run="([0-9a-f]+)"', body).group(1))
        t.signal(signal.SIGINT)
        assert t.wait() == 0
    assert urls[0] == urls[1] == f"ws://127.0.0.1:{port_for(port)}/__tdev__/livereload"
    assert runs[0] != runs[1]  # so pages from the first run reload when they reconnect
