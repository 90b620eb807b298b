"""Reload cases, end to end: real ``tdev`` processes, real Tornado apps in temp dirs, real HTTP.

Every app here records its starts in ``starts.log`` next to ``app.py`` (not ``.py``, so not
watched) and serves ``VERSION|starts=N|pid=P|EXTRA`` at ``/``: a restart is visible both in
the body and in the log, and a restart that should not happen can be disproved by counting.
"""

import os
import re
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import atomic_write, http_get, wait_for_body, wait_until, write

RESTARTING = r"changed — restarting"
WAITING = r"waiting for changes"

APP_TEMPLATE = '''\
import asyncio
import os
import sys

import tornado.web

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "starts.log"), "a", encoding="utf-8") as _log:
    _log.write(f"{os.getpid()}\\n")
with open(os.path.join(HERE, "starts.log"), encoding="utf-8") as _log:
    STARTS = len(_log.read().splitlines())

import version

@STARTUP@


def extra():
    return @EXTRA@


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        self.write(f"{version.VERSION}|starts={STARTS}|pid={os.getpid()}|{extra()}")


@HANDLERS@


async def main():
    app = tornado.web.Application([(r"/", MainHandler), @ROUTES@])
    app.listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
'''


def make_app(project: Path, *, version: str = "v1", startup: str = "", extra: str = '""',
             handlers: str = "", routes: str = "") -> Path:
    """Write ``project/app.py`` (from APP_TEMPLATE) and ``project/version.py``."""
    source = (
        APP_TEMPLATE.replace("@STARTUP@", textwrap.dedent(startup).strip("\n"))
        .replace("@EXTRA@", extra)
        .replace("@HANDLERS@", textwrap.dedent(handlers).strip("\n"))
        .replace("@ROUTES@", routes)
    )
    project.mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(source, encoding="utf-8")
    write(project / "version.py", f'VERSION = "{version}"\n')
    return project


def starts(project: Path) -> int:
    """How many times the app has started (lines in starts.log)."""
    try:
        return len((project / "starts.log").read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return 0


def served(port: int, version: str, timeout: float = 15.0, path: str = "/") -> str:
    """Wait until ``/`` serves ``version`` (exact token, so v1 never matches v10)."""
    return wait_for_body(port, f"{version}|", timeout=timeout, path=path)


def stays(predicate, seconds: float, message: str, interval: float = 0.05) -> None:
    """Assert that ``predicate()`` holds during the whole of the next ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while True:
        assert predicate(), f"{message} (stopped holding before {seconds}s were up)"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def alive(t) -> bool:
    return t.proc.poll() is None


@pytest.fixture
def project(tmp_path) -> Path:
    """The project directory (the watched tree), separate from other temp dirs of the test."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path) -> Path:
    """A directory outside the project tree (not watched unless tdev is told or learns about it)."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


# 1 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["outside_tree", "inside_tree"])
def test_module_imported_lazily_in_a_handler_is_watched(tdev, project, outside, port, where):
    lazy_dir = outside if where == "outside_tree" else project
    write(lazy_dir / "lazy_mod.py", 'VALUE = "lazy1"\n')
    make_app(
        project,
        handlers="""
            class LazyHandler(tornado.web.RequestHandler):
                def get(self):
                    import lazy_mod  # imported on the first request, long after start-up

                    self.write(f"{lazy_mod.VALUE}|")
        """,
        routes='(r"/lazy", LazyHandler)',
    )
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env={"PYTHONPATH": str(outside)})
    served(port, "v1")
    t.wait_for(r"app listening on")
    assert t.count(r"watching .*lazy_mod\.py") == 0, "lazy_mod was reported before it was imported"

    assert http_get(port, "/lazy") == (200, "lazy1|")
    t.wait_for(r"watching .*lazy_mod\.py")  # the import was reported and the file is now watched
    write(lazy_dir / "lazy_mod.py", 'VALUE = "lazy2"\n')

    wait_for_body(port, "lazy2|", path="/lazy")
    t.wait_for(r"lazy_mod\.py changed — restarting")
    assert starts(project) == 2
    assert t.count(RESTARTING) == 1


# 2 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("save", [write, atomic_write], ids=["in_place", "atomic"])
def test_watch_file_outside_the_project(tdev, project, outside, port, save):
    config = write(outside / "settings.ini", "greeting=hello\n")
    make_app(
        project,
        startup="""
            with open(sys.argv[2], encoding="utf-8") as _f:
                GREETING = _f.read().strip()
        """,
        extra="GREETING",
    )
    t = tdev(["run", "--watch", str(config), "app.py", str(port), str(config)], cwd=project)
    assert served(port, "v1").endswith("|greeting=hello")

    save(config, "greeting=bonjour\n")

    wait_for_body(port, "|greeting=bonjour")
    t.wait_for(r"settings\.ini changed — restarting")
    assert starts(project) == 2
    assert t.count(RESTARTING) == 1


# 3 ---------------------------------------------------------------------------------------------
def test_watch_directory_of_templates(tdev, project, outside, port):
    templates = outside / "templates"
    write(templates / "page.html", "<p>page one</p>\n")
    write(templates / "partials" / "footer.html", "<footer>f1</footer>\n")
    make_app(
        project,
        startup="""
            def _read(*parts):
                with open(os.path.join(sys.argv[2], *parts), encoding="utf-8") as _f:
                    return _f.read().strip()

            PAGE = _read("page.html") + _read("partials", "footer.html")
        """,
        extra="PAGE",
    )
    t = tdev(["run", "--watch", str(templates), "app.py", str(port), str(templates)], cwd=project)
    assert served(port, "v1").endswith("|<p>page one</p><footer>f1</footer>")

    write(templates / "page.html", "<p>page two</p>\n")
    wait_for_body(port, "|<p>page two</p><footer>f1</footer>")
    t.wait_for(r"page\.html changed — restarting")

    write(templates / "partials" / "footer.html", "<footer>f2</footer>\n")  # nested: recursive
    wait_for_body(port, "|<p>page two</p><footer>f2</footer>")
    t.wait_for(r"footer\.html changed — restarting")
    assert starts(project) == 3
    assert t.count(RESTARTING) == 2


# 4 ---------------------------------------------------------------------------------------------
def test_include_glob_makes_toml_files_count(tdev, project, port):
    make_app(project)
    write(project / "conf" / "app.toml", "debug = false\n")
    t = tdev(["run", "--include", "*.toml", "app.py", str(port)], cwd=project)
    assert "|starts=1|" in served(port, "v1")

    write(project / "conf" / "app.toml", "debug = true\n")

    wait_for_body(port, "|starts=2|")
    t.wait_for(r"app\.toml changed — restarting")
    assert t.count(RESTARTING) == 1


def test_toml_file_does_not_count_without_include(tdev, project, port):
    make_app(project)
    write(project / "conf" / "app.toml", "debug = false\n")
    t = tdev(["run", "app.py", str(port)], cwd=project)
    body = served(port, "v1")
    assert "|starts=1|" in body

    write(project / "conf" / "app.toml", "debug = true\n")
    write(project / "pyproject.toml", "[project]\nname = 'x'\n")

    stays(lambda: starts(project) == 1 and t.count(r"changed") == 0, 1.0, "a .toml change restarted the app")
    assert http_get(port) == (200, body)  # the very same process still serves

    # A real change afterwards: exactly one restart in total, so the .toml writes caused none.
    write(project / "version.py", 'VERSION = "v2"\n')
    served(port, "v2")
    stays(lambda: t.count(RESTARTING) == 1, 0.5, "more than one restart")
    assert starts(project) == 2
    assert t.count(r"^\[tdev\].*\.toml") == 0


# 5 ---------------------------------------------------------------------------------------------
def test_burst_of_200_files_restarts_once(tdev, project, port):
    make_app(project)
    write(project / "pkg" / "__init__.py", "")
    t = tdev(["run", "app.py", str(port)], cwd=project)
    served(port, "v1")

    for i in range(200):
        (project / "pkg" / f"mod_{i:03d}.py").write_text(f"VALUE = {i}\n", encoding="utf-8")
        if i == 100:
            (project / "version.py").write_text('VERSION = "v2"\n', encoding="utf-8")
    (project / "version.py").write_text('VERSION = "v3"\n', encoding="utf-8")

    served(port, "v3")
    stays(lambda: t.count(RESTARTING) == 1 and starts(project) == 2, 1.0, "the burst caused more than one restart")
    assert t.count(r"restarting") == 1  # also: no "exited ... before restarting"
    assert starts(project) == 2


# 6 ---------------------------------------------------------------------------------------------
def test_editor_junk_and_tool_directories_do_not_restart(tdev, project, port):
    make_app(project)
    # Tool directories that exist before tdev starts (they split the watch plan)...
    write(project / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(project / "node_modules" / "left-pad" / "index.py", "X = 1\n")
    t = tdev(["run", "app.py", str(port)], cwd=project)
    body = served(port, "v1")

    junk = [
        ".version.py.swp",  # vim swap
        "4913",  # vim's write probe
        "version.py~",  # backup
        "#version.py#",  # emacs auto-save
        "x___jb_old___",  # JetBrains safe write
        "app.py___jb_tmp___",
        "__pycache__/version.cpython-311.pyc",
        "__pycache__/stray.py",
        ".git/hooks/pre_commit.py",
        ".git/index.lock",
        "node_modules/left-pad/index.py",
        "node_modules/new-pkg/lib/main.py",
        ".venv/lib/python3/site-packages/thing.py",  # a directory created while running
        "pkg/.venv/bin/activate.py",
    ]
    for name in junk:  # create, modify, delete
        path = project / name
        write(path, "A = 1\n")
        write(path, "A = 2\n")
    for name in junk[:5]:
        (project / name).unlink()
    os.symlink("user@host.12345:1700000000", project / ".#version.py")  # emacs lock: dangling link
    (project / ".#version.py").unlink()
    os.symlink("user@host.12345:1700000001", project / ".#version.py")

    stays(lambda: starts(project) == 1 and t.count(r"changed") == 0, 1.0, "editor junk restarted the app")
    assert http_get(port) == (200, body)

    write(project / "version.py", 'VERSION = "v2"\n')
    served(port, "v2")
    stays(lambda: t.count(RESTARTING) == 1, 0.5, "more than one restart")
    assert starts(project) == 2
    restart_line = t.wait_for(RESTARTING)
    assert restart_line.endswith("version.py changed — restarting"), restart_line


# 7 ---------------------------------------------------------------------------------------------
def test_syntax_error_after_start_then_fixed(tdev, project, port):
    make_app(project)
    t = tdev(["run", "app.py", str(port)], cwd=project)
    served(port, "v1")

    write(project / "version.py", 'VERSION = "v2"\nif True\n    pass\n')

    t.wait_for(WAITING)
    t.wait_for(r'File ".*version\.py", line 2')
    t.wait_for(r"^SyntaxError: ")
    t.wait_for(r"app exited with code 1 — waiting for changes")
    assert alive(t)
    # The port stays open: tdev answers with the error until the app serves again.
    status, body = http_get(port, timeout=2)
    assert status == 500 and "SyntaxError" in body and "version.py" in body, body

    write(project / "version.py", 'VERSION = "v3"\n')
    served(port, "v3")
    assert alive(t)
    assert t.count(RESTARTING) == 2
    assert starts(project) == 3


# 8 ---------------------------------------------------------------------------------------------
def test_syntax_error_at_first_start_outside_the_tree_is_watched(tdev, project, outside, port):
    write(outside / "helpers.py", 'GREETING = "hi"\nif True\n    pass\n')
    make_app(project, startup="import helpers", extra="helpers.GREETING")
    t = tdev(["run", "app.py", str(port)], cwd=project, env={"PYTHONPATH": str(outside)})

    t.wait_for(r"app exited with code 1 — waiting for changes")
    assert re.search(r'File ".*outside[/\\]helpers\.py", line 2', t.err), t.err
    assert re.search(r"^SyntaxError: ", t.err, re.M), t.err
    assert alive(t)

    write(outside / "helpers.py", 'GREETING = "fixed"\n')

    assert served(port, "v1").endswith("|fixed")
    t.wait_for(r"helpers\.py changed — restarting")
    assert starts(project) == 2


# 9 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["script", "module"])
def test_startup_traceback_starts_at_the_users_code(tdev, project, port, mode):
    make_app(
        project,
        startup="""
            def configure():
                raise RuntimeError("bad configuration")

            configure()
        """,
    )
    args = ["run", "app.py", str(port)] if mode == "script" else ["run", "-m", "app", str(port)]
    t = tdev(args, cwd=project)
    t.wait_for(WAITING)
    t.wait_for(r"^RuntimeError: bad configuration")

    lines = t.err.splitlines()
    start = lines.index("Traceback (most recent call last):")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("RuntimeError"))
    traceback_text = "\n".join(lines[start:end + 1])
    assert re.match(r'  File ".*[/\\]project[/\\]app\.py", line \d+, in <module>$', lines[start + 1]), traceback_text
    for own in ("bootstrap.py", "runtime.py", "runpy", "devserver", "imports.py"):
        assert own not in traceback_text, traceback_text
    assert re.search(r'File ".*app\.py", line \d+, in configure', traceback_text), traceback_text
    assert alive(t)


# 10 --------------------------------------------------------------------------------------------
def test_runtime_error_at_startup_in_a_module_then_fixed(tdev, project, port):
    make_app(project)
    write(project / "version.py", 'VERSION = "v1"\nraise LookupError("no such setting: DATABASE_URL")\n')
    t = tdev(["run", "app.py", str(port)], cwd=project)

    t.wait_for(r"app exited with code 1 — waiting for changes")
    assert re.search(r'File ".*version\.py", line 2, in <module>', t.err), t.err
    assert "LookupError: no such setting: DATABASE_URL" in t.err
    assert alive(t)

    write(project / "version.py", 'VERSION = "v2"\n')

    served(port, "v2")
    assert t.count(RESTARTING) == 1
    assert starts(project) == 2


# 11 --------------------------------------------------------------------------------------------
def test_app_exiting_by_itself_waits_without_a_restart_loop(tdev, project, port):
    make_app(project, startup="if getattr(version, 'EXIT', 0):\n    sys.exit(version.EXIT)")
    write(project / "version.py", 'VERSION = "v1"\nEXIT = 3\n')
    t = tdev(["run", "app.py", str(port)], cwd=project)

    t.wait_for(r"app exited with code 3 — waiting for changes")
    stays(lambda: starts(project) == 1 and t.count(r"exited") == 1, 1.0, "the app was restarted without a change")
    assert t.count(RESTARTING) == 0
    assert alive(t)

    write(project / "version.py", 'VERSION = "v2"\nEXIT = 0\n')

    served(port, "v2")
    assert starts(project) == 2
    assert t.count(RESTARTING) == 1


# 12 --------------------------------------------------------------------------------------------
NOT_PYTHON = {
    "null_bytes": b"print('hello')\x00\x00\x00\n",
    "invalid_utf8": b"GREETING = '\xff\xfe\xfa'\n",
    "binary": b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)),
}


@pytest.mark.parametrize("kind", sorted(NOT_PYTHON))
def test_script_that_is_not_python_source(tdev, project, port, kind):
    make_app(project)
    good = (project / "app.py").read_text(encoding="utf-8")
    (project / "app.py").write_bytes(NOT_PYTHON[kind])
    t = tdev(["run", "app.py", str(port)], cwd=project)

    t.wait_for(r"app exited with code 1 — waiting for changes")
    assert re.search(r"^(SyntaxError|ValueError|UnicodeDecodeError)\b", t.err, re.M), t.err
    assert "internal error" not in t.err
    assert alive(t)

    (project / "app.py").write_text(good, encoding="utf-8")

    served(port, "v1")
    assert t.count(RESTARTING) == 1
    assert starts(project) == 1  # the broken script never ran a line


@pytest.mark.parametrize("kind", sorted(NOT_PYTHON))
def test_error_for_a_script_that_is_not_python_names_the_script(tdev, project, port, kind):
    """Like plain ``python app.py``: the error says which file cannot be read as Python."""
    (project / "app.py").write_bytes(NOT_PYTHON[kind])
    t = tdev(["run", "app.py", str(port)], cwd=project)
    t.wait_for(r"app exited with code 1 — waiting for changes")
    app_lines = [line for line in t.err.splitlines() if not line.startswith("[tdev]")]
    assert any(re.search(r"[/\\]project[/\\]app\.py\b", line) for line in app_lines), t.err


# 13 --------------------------------------------------------------------------------------------
def test_tornado_autoreload_watch_of_a_file_outside_the_tree(tdev, project, outside, port):
    settings = write(outside / "settings.json", '{"mode": "a"}\n')
    make_app(
        project,
        startup=f"""
            import json

            import tornado.autoreload

            tornado.autoreload.watch({str(settings)!r})
            with open({str(settings)!r}, encoding="utf-8") as _f:
                MODE = json.load(_f)["mode"]
        """,
        extra="MODE",
    )
    t = tdev(["run", "app.py", str(port)], cwd=project)
    assert served(port, "v1").endswith("|a")
    t.wait_for(r"app listening on")  # the watch message is sent before the listen message

    write(settings, '{"mode": "b"}\n')

    wait_for_body(port, "|b")
    t.wait_for(r"settings\.json changed — restarting")
    assert starts(project) == 2


# 14 --------------------------------------------------------------------------------------------
def test_change_saved_while_the_app_is_starting_is_not_lost(tdev, project, port):
    make_app(project, startup="import time\ntime.sleep(1.5)  # slow start-up, before listening")
    t = tdev(["run", "app.py", str(port)], cwd=project)

    wait_until(lambda: starts(project) >= 1, message="first start")
    write(project / "version.py", 'VERSION = "v2"\n')  # the first app is still asleep
    wait_until(lambda: starts(project) >= 2, message="second start")
    write(project / "version.py", 'VERSION = "v3"\n')  # the second app is still asleep

    served(port, "v3")
    stays(lambda: starts(project) == 3, 0.5, "unexpected extra restart")
    assert t.count(RESTARTING) == 2
    assert "v3|" in http_get(port)[1]


# 15 --------------------------------------------------------------------------------------------
def test_run_module_in_a_package_reloads(tdev, project, port):
    write(project / "webapp" / "__init__.py", "")
    write(project / "webapp" / "version.py", 'VERSION = "v1"\n')
    write(
        project / "webapp" / "server.py",
        """
        import asyncio
        import sys

        import tornado.web

        from webapp import version


        class MainHandler(tornado.web.RequestHandler):
            def get(self):
                self.write(f"{version.VERSION}|{__name__}|{__package__}|")


        async def main():
            app = tornado.web.Application([(r"/", MainHandler)])
            app.listen(int(sys.argv[1]), address="127.0.0.1")
            await asyncio.Event().wait()


        if __name__ == "__main__":
            asyncio.run(main())
        """,
    )
    t = tdev(["run", "-m", "webapp.server", str(port)], cwd=project)
    assert served(port, "v1") == "v1|__main__|webapp|"

    write(project / "webapp" / "version.py", 'VERSION = "v2"\n')

    assert served(port, "v2") == "v2|__main__|webapp|"
    t.wait_for(r"version\.py changed — restarting")
    assert t.count(RESTARTING) == 1


# 16 (extra) ------------------------------------------------------------------------------------
def test_restart_is_prompt_while_requests_are_in_flight(tdev, project, port):
    """SIGTERM must stop the app even when it lands inside a request handler (no grace-period kill)."""
    make_app(project)
    t = tdev(["run", "--grace", "6", "app.py", str(port)], cwd=project)
    served(port, "v1")

    stop = threading.Event()

    def hammer() -> None:  # keep requests in flight all the time
        while not stop.is_set():
            try:
                http_get(port, timeout=1.0)
            except Exception:
                pass

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for n in range(2, 14):
            write(project / "version.py", f'VERSION = "v{n}"\n')
            started = time.monotonic()
            served(port, f"v{n}", timeout=20)
            took = time.monotonic() - started
            assert t.count(r"did not stop within") == 0, t.err
            assert took < 4, f"restart {n - 1} took {took:.1f}s while requests were in flight"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert t.count(RESTARTING) == 12


def test_one_burst_adding_a_module_and_importing_it_restarts_once(tdev, hello_app, port):
    # A new module and the edit that imports it, saved together (a refactoring tool, a git checkout):
    # the new app imports the new module, saved before the app was told to go: no second restart.
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for_standby()
    for _ in range(3):
        n = t.count(r"changed — restarting")
        write(hello_app / f"helper{n}.py", f'NAME = "helper-{n}"\n')
        write(hello_app / "version.py", f'from helper{n} import NAME\nVERSION = "v-" + NAME\n')
        wait_for_body(port, f"v-helper-{n}")
        with pytest.raises(AssertionError):  # no second restart within a window well past the debounce
            wait_until(lambda n=n: t.count(r"changed — restarting") > n + 1, timeout=0.5, message="a 2nd restart")
        assert t.count(r"changed — restarting") == n + 1, t.err
        t.wait_for_standby()
