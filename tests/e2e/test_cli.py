"""The ``tdev`` command line, end to end: user errors, --version / --help, colour, verbosity,
and awkward script paths."""

import os
import re
import time

import pytest

from devserver import __version__
from tests.conftest import PYTHON, TDEV, process_group_members, wait_for_body, write

# -- 12. user errors: one line, exit 2, nothing left running ----------------------------------------

BAD_INPUT = [
    pytest.param(["run"], "SCRIPT", id="missing-script"),
    pytest.param(["check"], "SCRIPT", id="check-missing-target"),
    pytest.param(["check", "nosuch_app.py"], "nosuch_app.py", id="check-no-such-script"),
    pytest.param(["check", "--path", "health", "app.py"], "--path 'health'", id="check-bad-path"),
    pytest.param(["check", "--expect", "ok", "app.py"], "--expect 'ok'", id="check-bad-expect"),
    pytest.param(["check", "--poll", "app.py"], "--poll", id="check-run-only-option"),
    pytest.param(["run", "app.py:make_app"], "app:make_app", id="file-before-colon"),
    pytest.param(["run", "nosuch_mod_xyz:app"], "nosuch_mod_xyz", id="app-target-unknown-module"),
    pytest.param(["run", "--port", "8000", "app.py"], "MODULE:ATTR", id="port-with-a-script"),
    pytest.param(["run", "nosuch_app.py", "8000"], "nosuch_app.py", id="no-such-script"),
    pytest.param(["run", "--no-reload", "nosuch_app.py"], "nosuch_app.py", id="no-such-script-no-reload"),
    pytest.param(["run", "somedir"], "somedir", id="directory"),
    pytest.param(["run", "app"], "no such file: app (did you mean app.py?)", id="bare-name-beside-a-script"),
    pytest.param(["run", "somedir/server.py:main"], "(e.g. somedir.server:main)", id="file-path-before-colon"),
    pytest.param(["run", "-m", "nosuch_module_xyz"], "nosuch_module_xyz", id="unknown-module"),
    pytest.param(["run", "-m", "somedir.nosuch_sub"], "somedir.nosuch_sub", id="unknown-submodule"),
    pytest.param(["run", "-m"], "-m", id="empty-m"),
    pytest.param(["run", "--frobnicate", "app.py"], "--frobnicate", id="unknown-option"),
    pytest.param(["run", "--grace", "-1", "app.py"], "--grace '-1'", id="negative-grace"),
    pytest.param(["run", "--debounce", "abc", "app.py"], "--debounce 'abc'", id="debounce-not-a-number"),
    pytest.param(["run", "--watch", "/does/not/exist", "app.py"], "/does/not/exist", id="watch-missing-path"),
    pytest.param(["frobnicate"], "frobnicate", id="unknown-command"),
    pytest.param(["run", "--python", "/bin/true", "app.py"], "/bin/true is not a Python interpreter", id="not-python"),
    pytest.param(["check", "app.py", "8000"], "tdev check app.py -- 8000", id="check-app-argument-without-dashes"),
    pytest.param(["run", "somedir:app", "8000"], "after '--'", id="app-target-argument-without-dashes"),
]


@pytest.mark.parametrize("args, named", BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2(tdev, tmp_path, args, named):
    write(tmp_path / "app.py", "raise SystemExit('the app must not run')\n")
    write(tmp_path / "somedir" / "__init__.py", "raise SystemExit('package code must not run')\n")
    started = time.monotonic()
    t = tdev(args, cwd=tmp_path)
    code = t.wait(timeout=10)
    elapsed = time.monotonic() - started
    lines = t.err.splitlines()
    assert code == 2, t.err
    assert len(lines) == 1, t.err
    assert lines[0].startswith("tdev: error: "), lines[0]
    assert named in lines[0], lines[0]
    assert "Traceback" not in t.err + t.out
    assert "must not run" not in t.err + t.out
    assert elapsed < 5, f"tdev took {elapsed:.1f}s to refuse"
    assert process_group_members(t.pid) == set(), "a process of tdev's group outlived it"


# -- 13. --version / --help -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "command, args, expected",
    [
        (None, ["--version"], f"tdev {__version__}"),
        ([PYTHON, "-m", "devserver"], ["--version"], f"tdev {__version__}"),
        (None, ["run", "--help"], "usage: tdev run"),
        (None, ["run", "-h"], "--no-reload"),
        (None, ["--help"], "commands:"),
    ],
    ids=["tdev-version", "python-m-devserver-version", "run-help", "run-h", "main-help"],
)
def test_version_and_help(tdev, tmp_path, command, args, expected):
    t = tdev(args, cwd=tmp_path, command=command)
    assert t.wait(timeout=10) == 0, t.err
    assert expected in t.out
    assert t.err == ""


# -- 14. colour ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "env, coloured",
    [({}, False), ({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False)],
    ids=["pipe", "FORCE_COLOR", "NO_COLOR-beats-FORCE_COLOR"],
)
def test_colour(tdev, hello_app, port, env, coloured):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app, env=env)
    wait_for_body(port, "v1")
    t.wait_for(r"app listening")
    assert ("\x1b[" in t.err) is coloured, repr(t.err)
    # Coloured or not, the prefix is there.
    assert t.count(r"\[tdev\]") >= 2


# -- 15. verbosity ----------------------------------------------------------------------------------

EXITING_APP = """
    import asyncio
    import sys

    import tornado.web
    from tornado.ioloop import IOLoop


    class MainHandler(tornado.web.RequestHandler):
        def get(self):
            self.write("up")
            IOLoop.current().call_later(0.2, sys.exit, 3)


    async def main():
        tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


@pytest.mark.parametrize("quiet", [False, True], ids=["normal", "quiet"])
def test_quiet_hides_info_but_not_errors(tdev, tmp_path, port, quiet):
    write(tmp_path / "app.py", EXITING_APP)
    t = tdev(["run", *(["-q"] if quiet else []), "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "up")  # the app was listening for a while; it now exits with code 3
    t.wait_for(r"^\[tdev\] .*exited with code 3")
    if quiet:
        assert t.count(r"app listening") == 0, t.err
        assert t.count(r"running app\.py") == 0, t.err
    else:
        assert t.count(r"app listening") == 1, t.err
        assert t.count(r"running app\.py") == 1, t.err


def test_verbose_shows_the_watch_set(tdev, hello_app, port):
    t = tdev(["run", "-v", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    project = re.escape(os.path.realpath(hello_app))
    t.wait_for(rf"^\[tdev\] .*recursive.*{project}$")
    # the files the app imported, summed up per installed package and per directory: not one line each
    t.wait_for(r"^\[tdev\] the watch set holds \d+ files: .*\btornado \d+.*\./ 2\b")
    assert t.count(r"^\[tdev\] watching \d+ files: .*\btornado \d+") >= 1, t.err
    assert t.count(r"\.py$") <= 3, t.err


def test_normal_output_does_not_show_the_watch_set(tdev, hello_app, port):
    # "--poll" after the script is the app's (python's rule): tdev says so in one line and does not poll
    t = tdev(["run", "app.py", str(port), "--poll"], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"app listening")
    summary = t.wait_for(r"watching \d+ files? and")  # the one-line summary, shown about 1 s after start
    assert "polling" not in summary, summary
    assert t.count(r"^\[tdev\] hint: --poll after app\.py goes to the app.*tdev run --poll app\.py \.\.\.$") == 1
    assert "open-files" not in t.err  # quiet by default: nobody asked for a limit


def test_the_restart_line_comes_before_what_the_old_app_says_while_stopping(tdev, hello_app, port):
    app = (hello_app / "app.py").read_text()
    (hello_app / "app.py").write_text(
        "import atexit, sys\natexit.register(lambda: print('old app: shutting down', file=sys.stderr, flush=True))\n"
        + app)
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)  # the app's stderr is tdev's: one stream, in order
    wait_for_body(port, "v1")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    t.wait_for(r"old app: shutting down")
    lines = t.err.splitlines()
    restart = next(i for i, line in enumerate(lines) if line.endswith("version.py changed — restarting"))
    assert restart < lines.index("old app: shutting down"), t.err
    project = re.escape(os.path.realpath(hello_app))
    assert t.count(rf"recursive.*{project}$") == 0, t.err


# -- 16. awkward script paths -------------------------------------------------------------------------

def test_script_path_with_spaces_and_non_ascii(tdev, tmp_path, port):
    directory = tmp_path / "my app"
    script = write(
        directory / "ünïcode app.py",
        """
        import asyncio
        import sys

        import tornado.web

        import version

        GREETING = "hello"


        class MainHandler(tornado.web.RequestHandler):
            def get(self):
                self.write(f"{GREETING} {version.VERSION} {__file__}")


        async def main():
            tornado.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), address="127.0.0.1")
            await asyncio.Event().wait()


        asyncio.run(main())
        """,
    )
    write(directory / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "my app/ünïcode app.py", str(port)], cwd=tmp_path)
    body = wait_for_body(port, "hello v1")
    assert body.endswith(str(script)), body

    write(directory / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "hello v2")

    script.write_text(script.read_text(encoding="utf-8").replace('"hello"', '"bonjour"'), encoding="utf-8")
    wait_for_body(port, "bonjour v2")
    t.wait_for(r"ünïcode app\.py changed")
    assert "Traceback" not in t.err


# -- IDE run configurations -----------------------------------------------------------------------------
def test_ide_console_plain_in_order_and_stop_button(tmp_path):
    """``python -m devserver run`` with stdout and stderr on one pipe, as an IDE console shows them."""
    import signal
    import subprocess

    write(tmp_path / "app.py", 'print("step 1")\nraise RuntimeError("boom")\n')
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "PYTHONUNBUFFERED")}
    proc = subprocess.Popen([PYTHON, "-m", "devserver", "run", "app.py"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "waiting for changes" in line:
                break
        proc.send_signal(signal.SIGTERM)  # the IDE's stop button
        assert proc.wait(timeout=10) == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    text = "\n".join(lines)
    assert "\x1b[" not in text, "colour codes in a non-terminal console"
    order = ["[tdev] tdev ", "step 1", "Traceback (most recent call last):", f'File "{tmp_path / "app.py"}", line 2',
             "RuntimeError: boom", "[tdev] app exited with code 1"]
    positions = [next((i for i, line in enumerate(lines) if needle in line), -1) for needle in order]
    assert -1 not in positions and positions == sorted(positions), text
    assert process_group_members(proc.pid) == set(), "the stop button left a process running"


def test_bad_pyproject_setting_is_one_line_and_exit_2(tdev, tmp_path):
    write(tmp_path / "app.py", "raise SystemExit('the app must not run')\n")
    write(tmp_path / "pyproject.toml", '[tool.tdev]\ntarget = "app.py"\nport = "eighty"\n')
    for command in ("run", "check"):
        t = tdev([command], cwd=tmp_path)
        assert t.wait(timeout=10) == 2
        lines = t.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("tdev: error: "), t.err
        assert "pyproject.toml" in lines[0] and "port" in lines[0], lines[0]


@pytest.mark.parametrize("closed", ["2>&-", "1>&- 2>&-", "<&- 1>&- 2>&-"])
def test_runs_with_standard_streams_closed(tdev, hello_app, port, closed):
    # `tdev run app.py 2>&-` (a service manager, a cron line): tdev runs and reloads; what it cannot
    # write is dropped, and the app gets no stray descriptor as its stderr.
    t = tdev(["run", "app.py", str(port)], cwd=hello_app, command=["sh", "-c", f'exec "$@" {closed}', "sh", *TDEV])
    wait_for_body(port, "v1")
    write(hello_app / "version.py", 'VERSION = "closed-222"\n')
    wait_for_body(port, "closed-222")
    assert t.proc.poll() is None
