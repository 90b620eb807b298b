"""The files the app reads and writes (not only what it imports): config and data files read at start-up
restart it, templates an engine re-reads while serving reload the browser, files it writes never count."""

import asyncio

import pytest

from tests.conftest import http_get, wait_for_body, wait_until, write
from tests.e2e.test_livereload import connect, get, socket_url

# GET / answers "<config's v> <version.VERSION> <pid>"; the config is read once, at start-up.
CONFIG_APP = """
    import asyncio
    import json
    import os
    import sys

    import tornado.web

    import version

    HERE = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(HERE, "config.json")) as f:
        CONFIG = json.load(f)
    OUTSIDE = {}
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            OUTSIDE = json.load(f)


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "text/plain")
            self.write(f"{CONFIG['v']} {OUTSIDE.get('v')} {version.VERSION} {os.getpid()}")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def config_app(root, outside=None):
    write(root / "app.py", CONFIG_APP)
    write(root / "version.py", 'VERSION = "v1"\n')
    write(root / "config.json", '{"v": "c1"}\n')


def pid_of(port) -> int:
    return int(http_get(port)[1].split()[-1])


def test_a_json_config_read_at_start_up_restarts_the_app_when_edited(tdev, tmp_path, port):
    config_app(tmp_path)
    t = tdev(["run", "-v", "app.py", str(port)], cwd=tmp_path)  # no --include: the app read it, that is enough
    wait_for_body(port, "c1 None v1")
    t.wait_for(r"watching config\.json \(read at start-up: a change restarts the app\)")
    write(tmp_path / "config.json", '{"v": "c2"}\n')
    t.wait_for(r"config\.json changed — restarting")
    wait_for_body(port, "c2 None v1")
    # A typo in it: the app fails at start-up, and the fix (to a file it never imported) restarts it.
    write(tmp_path / "config.json", '{"v": \n')
    t.wait_for(r"app exited with code 1 — waiting for changes")
    write(tmp_path / "config.json", '{"v": "c3"}\n')
    wait_for_body(port, "c3 None v1")


def test_a_file_outside_the_project_read_at_start_up_is_not_watched(tdev, tmp_path, port):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    config_app(project)
    write(elsewhere / "settings.json", '{"v": "o1"}\n')
    t = tdev(["run", "app.py", str(port), str(elsewhere / "settings.json")], cwd=project)
    wait_for_body(port, "c1 o1 v1")
    write(elsewhere / "settings.json", '{"v": "o2"}\n')
    write(project / "version.py", 'VERSION = "v2"\n')  # a change that counts, after the one that must not
    first = t.wait_for(r"changed — restarting")
    assert "version.py" in first and "settings.json" not in first, t.err
    wait_for_body(port, "c1 o2 v2")
    assert "settings.json" not in t.err


def test_no_watch_reads_turns_it_off(tdev, tmp_path, port):
    config_app(tmp_path)
    t = tdev(["run", "--no-watch-reads", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "c1 None v1")
    write(tmp_path / "config.json", '{"v": "c2"}\n')
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    first = t.wait_for(r"changed — restarting")
    assert "version.py" in first and "config.json" not in first, t.err
    wait_for_body(port, "c2 None v2")


LOG_APP = """
    import asyncio
    import logging
    import os
    import sys

    import tornado.ioloop
    import tornado.web

    import version

    HERE = os.path.dirname(os.path.abspath(__file__))
    LOG = os.path.join(HERE, "app.log")
    # Read at start-up (how far did the last run get?), then appended to every 10 ms for 5 s.
    if os.path.exists(LOG):
        with open(LOG) as f:
            previous = len(f.readlines())
    handler = logging.FileHandler(LOG)
    logger = logging.getLogger("ticks")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    ticks = 0


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "text/plain")
            self.write(f"{version.VERSION} {ticks} {os.getpid()}")


    def tick():
        global ticks
        if ticks < 500:
            ticks += 1
            logger.info("tick %d", ticks)


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
        tornado.ioloop.PeriodicCallback(tick, 10).start()
        await asyncio.Event().wait()


    asyncio.run(main())
"""


@pytest.mark.timeout(40)
def test_an_app_appending_to_a_log_every_10_ms_for_5_s_is_never_restarted(tdev, tmp_path, port):
    write(tmp_path / "app.py", LOG_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    write(tmp_path / "app.log", "from an earlier run\n")  # read at start-up: it would be watched
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    pid = pid_of(port)

    def ticked():
        _status, body = http_get(port)
        return int(body.split()[1]) >= 500

    wait_until(ticked, timeout=20, interval=0.2, message="500 log lines, 10 ms apart")
    assert pid_of(port) == pid
    assert "restarting" not in t.err, t.err
    assert len((tmp_path / "app.log").read_text().splitlines()) == 501
    t.wait_for(r"app\.log: the app writes it — its changes never restart the app")
    # The watcher is alive: a module edit restarts it, and says only that file.
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    first = t.wait_for(r"changed — restarting")
    assert "version.py" in first and "app.log" not in first, t.err
    wait_for_body(port, "v2")


SQLITE_APP = """
    import asyncio
    import os
    import sqlite3
    import sys

    import tornado.web

    import version

    HERE = os.path.dirname(os.path.abspath(__file__))
    DB = os.path.join(HERE, "app.db")
    # A check at start-up that reads the file: it would be watched.
    with open(DB, "rb") as f:
        assert f.read(16) == b"SQLite format 3\\x00"
    db = sqlite3.connect(DB)


    class Count(tornado.web.RequestHandler):
        def get(self):
            count = db.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
            self.set_header("Content-Type", "text/plain")
            self.write(f"{version.VERSION} {count} {os.getpid()}")


    class Add(Count):
        def get(self):
            db.execute("INSERT INTO notes VALUES (?)", (self.get_argument("text"),))
            db.commit()
            super().get()


    async def main():
        tornado.web.Application([(r"/", Count), (r"/add", Add)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_a_sqlite_database_written_by_a_request_does_not_restart_the_app(tdev, tmp_path, port):
    import sqlite3

    write(tmp_path / "app.py", SQLITE_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    with sqlite3.connect(tmp_path / "app.db") as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    pid = int(wait_for_body(port, "v1 0").split()[-1])
    for n in range(1, 11):
        status, body = http_get(port, f"/add?text=n{n}")
        assert status == 200 and body.split()[1:] == [str(n), str(pid)], body
    write(tmp_path / "version.py", 'VERSION = "v2"\n')  # a change that counts, after the database's
    first = t.wait_for(r"changed — restarting")
    assert "version.py" in first and "app.db" not in first, t.err
    assert wait_for_body(port, "v2").split()[1] == "10"
    assert t.count(r"changed — restarting") == 1, t.err


JINJA_APP = """
    import asyncio
    import os
    import sys

    import jinja2
    import tornado.web

    HERE = os.path.dirname(os.path.abspath(__file__))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "views")), AUTO_RELOAD)


    class Page(tornado.web.RequestHandler):
        def get(self):
            self.write(env.get_template("page.html").render(pid=os.getpid()))


    async def main():
        tornado.web.Application([(r"/", Page)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def jinja_app(root, auto_reload):
    pytest.importorskip("jinja2")
    setting = "" if auto_reload is None else f"auto_reload={auto_reload}"
    write(root / "app.py", JINJA_APP.replace("AUTO_RELOAD", setting).replace("), )", "))"))
    write(root / "views" / "page.html", "<html><body><p>one {{ pid }}</p></body></html>\n")


def test_a_jinja2_template_rendered_per_request_reloads_the_browser_without_a_restart(tdev, tmp_path, port):
    jinja_app(tmp_path, auto_reload=None)  # Jinja2's default: auto_reload=True
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    body = wait_for_body(port, "<p>one ")
    pid = body.split("<p>one ")[1].split("<")[0]
    url = socket_url(get(port, "/")[2])

    async def edit_and_listen():
        ws = await connect(url, f"http://127.0.0.1:{port}")
        write(tmp_path / "views" / "page.html", "<html><body><p>two {{ pid }}</p></body></html>\n")
        message = await asyncio.wait_for(ws.read_message(), 10)
        ws.close()
        return message

    assert asyncio.run(edit_and_listen()) == '{"type": "reload"}'
    wait_for_body(port, f"<p>two {pid}</p>")  # the new template, the same app process
    t.wait_for(r"page\.html changed — reloading the browser \(1 page\)")
    assert "restarting" not in t.err, t.err


def test_a_jinja2_template_with_auto_reload_off_restarts_the_app(tdev, tmp_path, port):
    jinja_app(tmp_path, auto_reload=False)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    body = wait_for_body(port, "<p>one ")
    pid = body.split("<p>one ")[1].split("<")[0]
    write(tmp_path / "views" / "page.html", "<html><body><p>two {{ pid }}</p></body></html>\n")
    t.wait_for(r"page\.html changed — restarting")
    body = wait_for_body(port, "<p>two ")
    assert body.split("<p>two ")[1].split("<")[0] != pid


MAKO_APP = """
    import asyncio
    import os
    import sys

    import tornado.web
    from mako.lookup import TemplateLookup

    HERE = os.path.dirname(os.path.abspath(__file__))
    lookup = TemplateLookup(directories=[os.path.join(HERE, "views")])


    class Page(tornado.web.RequestHandler):
        def get(self):
            self.write(lookup.get_template("page.html").render(pid=os.getpid()))


    async def main():
        tornado.web.Application([(r"/", Page)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_a_mako_template_rendered_per_request_restarts_the_app(tdev, tmp_path, port):
    # Mako's filesystem_checks compare whole seconds: an edit within a second of a render would be missed.
    pytest.importorskip("mako")
    write(tmp_path / "app.py", MAKO_APP)
    write(tmp_path / "views" / "page.html", "<html><body><p>one ${pid}</p></body></html>\n")
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    body = wait_for_body(port, "<p>one ")
    pid = body.split("<p>one ")[1].split("<")[0]
    write(tmp_path / "views" / "page.html", "<html><body><p>two ${pid}</p></body></html>\n")
    t.wait_for(r"page\.html changed — restarting")
    body = wait_for_body(port, "<p>two ")
    assert body.split("<p>two ")[1].split("<")[0] != pid


LIBRARY_APP = """
    import asyncio
    import os
    import sys

    import settingslib
    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "text/plain")
            self.write(f"{version.VERSION} {settingslib.SETTINGS}")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_a_project_file_a_library_reads_as_it_is_imported_is_not_left_stale_in_the_standby(tdev, tmp_path, port):
    # The standby imports the app's libraries ahead of time: one that reads the project's settings.ini
    # then holds the old settings; a change to it is a cold start.
    libs, project = tmp_path / "libs", tmp_path / "project"
    write(libs / "settingslib.py", 'SETTINGS = open("settings.ini").read().strip()\n')
    write(project / "app.py", LIBRARY_APP)
    write(project / "version.py", 'VERSION = "v1"\n')
    write(project / "settings.ini", "s1\n")
    t = tdev(["run", "app.py", str(port)], cwd=project, env={"PYTHONPATH": str(libs)})
    wait_for_body(port, "v1 s1")
    t.wait_for_standby()
    write(project / "settings.ini", "s2\n")
    wait_for_body(port, "v1 s2")
    t.wait_for(r"cold restart: settings\.ini is the project's")
