"""What the app's audit hook reports (``child/reads``, called directly: no hook is installed in the test
process), what template engines say (real Jinja2 and Tornado), and how the supervisor takes it in."""

import asyncio
import os
import sys

import pytest

from devserver import channel as msg
from devserver.child import imports, reads, template_engines, tornado_hooks
from devserver.filters import PathFilter
from devserver.readfiles import AppFiles
from devserver.session import AppSession

READ = os.O_RDONLY | os.O_CLOEXEC
WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


class FakeChannel:
    def __init__(self):
        self.sent = []

    def send(self, kind, **fields):
        self.sent.append((kind, fields))
        return True


@pytest.fixture
def hook(tmp_path, monkeypatch):
    """``reads`` set up for a project in tmp_path/project, the app not serving yet, nothing batched."""
    channel = FakeChannel()
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setattr(imports, "_channel", channel)
    monkeypatch.setattr(imports, "_batching", False)
    monkeypatch.setattr(imports, "_sent", set())
    monkeypatch.setattr(reads, "_known", {})
    monkeypatch.setattr(reads, "_written", set())
    monkeypatch.setattr(reads, "_roots", (str(project) + os.sep,))
    monkeypatch.setattr(tornado_hooks, "_announced", False)
    return channel, project


def opened(path, mode, flags):
    reads._audit("open", (path, mode, flags))


def test_a_file_read_at_start_up_is_reported_once_and_modules_and_outside_files_are_not(hook, tmp_path):
    channel, project = hook
    config = project / "config.json"
    config.write_text("{}")
    for _ in range(3):
        opened(str(config), "r", READ)
    opened(os.fsencode(project / "settings.yaml"), "rb", READ)  # bytes paths too
    opened(str(project / "mod.py"), "rb", READ)  # the import reporting's
    opened(str(project / "__pycache__" / "mod.cpython-311.pyc"), "rb", READ)
    opened(str(project / ".venv" / "lib" / "site-packages" / "x" / "data.json"), "r", READ)
    opened(str(tmp_path / "elsewhere.json"), "r", READ)
    opened(3, "r", READ)  # a descriptor
    assert channel.sent == [(msg.READS, {"paths": [str(config)]}),
                            (msg.READS, {"paths": [str(project / "settings.yaml")]})]


def test_relative_paths_follow_the_working_directory(hook, monkeypatch):
    channel, project = hook
    monkeypatch.chdir(project)
    reads._audit("os.chdir", (str(project),))
    opened("config.json", "r", READ)
    assert channel.sent == [(msg.READS, {"paths": [str(project / "config.json")]})]


def test_a_file_opened_for_writing_is_said_once_before_it_changes_and_is_never_reported_as_read(hook):
    channel, project = hook
    log = str(project / "app.log")
    opened(log, "a", APPEND)
    opened(log, "a", APPEND)
    opened(log, "r", READ)
    opened(str(project / "out.txt"), None, os.O_RDWR)  # os.open
    opened(str(project / "c.txt"), "w", 0)  # C code's fopen: a mode and no flags
    assert channel.sent == [(msg.WRITTEN, {"paths": [log]}),
                            (msg.WRITTEN, {"paths": [str(project / "out.txt")]}),
                            (msg.WRITTEN, {"paths": [str(project / "c.txt")]})]


def test_renames_removals_and_sqlite_databases_are_writes(hook):
    channel, project = hook
    reads._audit("os.rename", (str(project / "cache.tmp"), str(project / "cache.json"), -1, -1))
    reads._audit("os.remove", (str(project / "old.txt"), -1))
    reads._audit("sqlite3.connect", (str(project / "app.db"),))
    reads._audit("sqlite3.connect", (":memory:",))
    reads._audit("os.truncate", (5, 0))  # a descriptor
    reads._audit("os.rename", (str(project / "__pycache__" / "m.pyc.123"), str(project / "__pycache__" / "m.pyc"),
                               -1, -1))  # bytecode being written: not the app's files
    written = [fields["paths"][0] for kind, fields in channel.sent if kind == msg.WRITTEN]
    assert written == [str(project / name) for name in ("cache.tmp", "cache.json", "old.txt", "app.db",
                                                        "app.db-journal", "app.db-wal", "app.db-shm")]


def test_the_hook_never_fails_an_open(hook):
    channel, _project = hook
    reads._audit("open", ("only", "two"))  # an event shaped otherwise: nothing happens, nothing raised
    reads._audit("os.rename", ())
    reads._audit("socket.connect", (None, None))
    assert channel.sent == []


def test_once_the_app_serves_a_file_is_reported_with_its_mtime_and_again_when_read_again(hook, monkeypatch):
    channel, project = hook
    monkeypatch.setattr(tornado_hooks, "_announced", True)
    data = project / "data.json"
    data.write_text("[]")
    opened(str(data), "r", READ)
    opened(str(data), "r", READ)
    opened(str(data), "r", READ)
    assert channel.sent == [
        (msg.READS, {"paths": [str(data)], "serving": True, "live": None, "mtime": data.stat().st_mtime_ns}),
        (msg.READS, {"paths": [str(data)], "serving": True, "again": True}),
    ]


# -- template engines ---------------------------------------------------------------------------------------------
def jinja2_verdict(tmp_path, **settings):
    jinja2 = pytest.importorskip("jinja2")
    (tmp_path / "page.html").write_text("{{ x }}")
    seen = []

    class Loader(jinja2.FileSystemLoader):
        def get_source(self, environment, template):
            seen.append(template_engines.rereads_on_change(sys._getframe()))
            return super().get_source(environment, template)

    env = jinja2.Environment(loader=Loader(str(tmp_path)), **settings)
    assert env.get_template("page.html").render(x=1) == "1"
    return seen[0]


def test_jinja2_rereads_with_auto_reload_or_without_a_cache_and_caches_otherwise(tmp_path):
    assert jinja2_verdict(tmp_path) is True  # auto_reload is on by default
    assert jinja2_verdict(tmp_path, auto_reload=False) is False
    assert jinja2_verdict(tmp_path, auto_reload=False, cache_size=0) is True


@pytest.mark.parametrize("cached", [True, False])
def test_tornado_templates_follow_compiled_template_cache(tmp_path, cached):
    import tornado.httpclient
    import tornado.httpserver
    import tornado.template
    import tornado.testing
    import tornado.web

    (tmp_path / "page.html").write_text("{{ x }}")
    seen = []

    class Loader(tornado.template.Loader):
        def _create_template(self, name):
            seen.append(template_engines.rereads_on_change(sys._getframe()))
            return super()._create_template(name)

    class Page(tornado.web.RequestHandler):
        def get(self):
            self.render("page.html", x=2)

    async def main():
        app = tornado.web.Application([("/", Page)], template_loader=Loader(str(tmp_path)), template_path=str(tmp_path),
                                      compiled_template_cache=cached)
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        try:
            response = await tornado.httpclient.AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/")
        finally:
            server.stop()
        return response.body

    assert asyncio.run(main()) == b"2"
    assert seen == [not cached]


def test_an_open_outside_any_engine_has_no_verdict():
    assert template_engines.rereads_on_change(sys._getframe()) is None


# -- the supervisor's side ----------------------------------------------------------------------------------------
class FakeWatcher:
    def __init__(self, path_filter):
        self.filter = path_filter

    def add_files(self, paths):
        return [p for p in paths if self.filter.add_file(p)]


class FakeOutput:
    def __init__(self):
        self.lines = []

    def debug(self, line):
        self.lines.append(("debug", line))

    def info(self, line):
        self.lines.append(("info", line))


class Session:
    target_since_wall = 4e9  # the app started after the test wrote its files (a file saved since would be a change)
    saved_since_start = AppSession.saved_since_start


@pytest.fixture
def files(tmp_path):
    project = tmp_path / "project"
    (project / "views").mkdir(parents=True)
    path_filter = PathFilter(project=(str(project),))
    path_filter.add_tree(str(project), ("*.py",))
    changes = []
    app = Session()
    app_files = AppFiles(FakeWatcher(path_filter), path_filter, FakeOutput(), changes.append, lambda: app)
    return app_files, app, project, changes


def test_start_up_reads_are_watched_and_restart_written_files_never_count(files, tmp_path):
    app_files, app, project, changes = files
    config, log, outside = project / "config.json", project / "app.log", tmp_path / "outside.json"
    for path in (config, log, outside):
        path.write_text("x")
    handle = app_files.handlers()
    handle[msg.WRITTEN](app, {"paths": [str(log)]})
    handle[msg.READS](app, {"paths": [str(config), str(log), str(outside), str(project / "missing.json")]})
    f = app_files.filter
    assert f.files == {str(config)}
    assert f.matches(str(config)) and not f.is_live_asset(str(config))
    assert not f.matches(str(log)) and not f.matches(str(outside))
    said = [line for level, line in app_files.out.lines if level == "info"]
    assert len(said) == 1 and said[0].endswith("app.log: the app writes it — its changes never restart the app")
    # Written later: no longer counts, even though it was read.
    handle[msg.WRITTEN](app, {"paths": [str(config)]})
    assert not f.matches(str(config)) and str(config) not in f.files
    assert changes == []  # (the files are older than the app: nothing it may have missed)


def test_serving_reads_are_live_when_the_engine_rereads_or_the_app_reads_again(files):
    app_files, app, project, changes = files
    page, data, cached = (project / "views" / name for name in ("page.html", "data.json", "cached.html"))
    for path in (page, data, cached):
        path.write_text("x")
    handle = app_files.handlers()[msg.READS]
    mtime = page.stat().st_mtime_ns
    handle(app, {"paths": [str(page)], "serving": True, "live": True, "mtime": mtime})
    handle(app, {"paths": [str(data)], "serving": True, "live": None, "mtime": data.stat().st_mtime_ns})
    handle(app, {"paths": [str(cached)], "serving": True, "live": False, "mtime": cached.stat().st_mtime_ns})
    f = app_files.filter
    assert f.is_live_asset(str(page)) and not f.is_live_asset(str(data)) and not f.is_live_asset(str(cached))
    handle(app, {"paths": [str(data)], "serving": True, "again": True})
    assert f.is_live_asset(str(data))
    assert changes == []
    # Another app process's reads are watched, but say nothing about how the current app reads them.
    other = project / "views" / "other.html"
    other.write_text("x")
    handle(Session(), {"paths": [str(other)], "serving": True, "live": True, "mtime": other.stat().st_mtime_ns})
    assert f.matches(str(other)) and not f.is_live_asset(str(other))
    # A new app starts over: until it shows otherwise, a change restarts it.
    app_files.new_app()
    assert not f.is_live_asset(str(page)) and f.matches(str(page))


def test_a_file_saved_between_the_read_and_the_watch_is_a_change(files):
    app_files, app, project, changes = files
    page = project / "views" / "page.html"
    page.write_text("old")
    mtime = page.stat().st_mtime_ns
    os.utime(page, ns=(mtime + 10**9, mtime + 10**9))  # saved after the app read it
    app_files.handlers()[msg.READS](app, {"paths": [str(page)], "serving": True, "live": True, "mtime": mtime})
    assert changes == [[str(page)]]


def test_a_start_up_read_is_never_live_even_in_a_live_template_directory(files):
    app_files, app, project, _changes = files
    views = str(project / "views")
    page = project / "views" / "page.html"
    page.write_text("x")
    f = app_files.filter
    f.add_assets(views, live=True)
    assert f.is_live_asset(str(page))
    app_files.handlers()[msg.READS](app, {"paths": [str(page)]})
    assert not f.is_live_asset(str(page))


def test_a_cached_tornado_static_directory_keeps_restarting_even_if_files_are_read_on_each_request(files):
    app_files, app, project, _changes = files
    css = project / "views" / "site.css"
    css.write_text("x")
    app_files.filter.add_assets(str(project / "views"), live=False)  # static_hash_cache: the hash would go stale
    app_files.handlers()[msg.READS](app, {"paths": [str(css)], "serving": True, "again": True})
    assert not app_files.filter.is_live_asset(str(css))
