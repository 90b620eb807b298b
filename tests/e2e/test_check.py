"""``tdev check``, end to end: the real command on real apps in temp dirs, real HTTP on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import PYTHON, TDEV, process_group_members, write

pytestmark = pytest.mark.e2e

HANDLERS = """
    import asyncio
    import sys

    import tornado.web


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write("ok")


    class Broken(tornado.web.RequestHandler):
        def get(self):
            raise RuntimeError("handler broke")


    def make_app():
        return tornado.web.Application([(r"/", Main), (r"/broken", Broken)])
"""

SCRIPT_MAIN = """

    async def main():
        make_app().listen(PORT, address="127.0.0.1")
        await asyncio.Event().wait()


    if __name__ == "__main__":
        asyncio.run(main())
"""


def make_app_dir(root, port, extra=""):
    write(root / "app.py", HANDLERS + extra + SCRIPT_MAIN.replace("PORT", str(port)))
    return root


def run_check(args, cwd, timeout=60, env=None):
    """Run ``tdev check`` to the end in its own session; returns the CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "VIRTUAL_ENV")}
    full_env.update(env or {})
    proc = subprocess.Popen([*TDEV, "check", *args], cwd=str(cwd), env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
    assert process_group_members(proc.pid) == set(), "tdev check left a process behind"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())


def test_healthy_app_passes(tmp_path, port):
    make_app_dir(tmp_path, port)
    write(tmp_path / "helpers" / "util.py", "X = 1\n")
    r = run_check(["app.py"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "compiled 2 Python files" in r.stdout
    assert f"app listening on http://127.0.0.1:{port}/" in r.stdout
    assert "GET /  200 OK" in r.stdout
    assert r.stdout.rstrip().endswith("passed")
    assert "Traceback" not in r.stderr


def test_every_syntax_error_is_reported(tmp_path, port):
    make_app_dir(tmp_path, port)
    write(tmp_path / "one.py", "def f(:\n    pass\n")
    write(tmp_path / "pkg" / "two.py", "x = 1\n  y = 2\n")
    write(tmp_path / ".venv" / "lib" / "ignored.py", "this is not python\n")  # default ignores apply
    r = run_check(["app.py"], tmp_path)
    assert r.returncode == 1, r.stdout
    lines = r.stdout.splitlines()
    assert any(line.startswith("one.py:1:7: ") for line in lines), r.stdout
    assert any(line.startswith(os.path.join("pkg", "two.py") + ":2:") and "indent" in line for line in lines), r.stdout
    assert "ignored.py" not in r.stdout
    assert "2 syntax errors" in r.stdout
    assert "app listening" not in r.stdout


def test_app_raising_at_startup_fails_with_its_traceback(tmp_path, port):
    write(tmp_path / "app.py", "import tornado.web\nimport settings\n")
    write(tmp_path / "settings.py", "DATABASE = undefined_name\n")
    r = run_check(["app.py"], tmp_path)
    assert r.returncode == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert 'settings.py", line 1' in r.stderr and "NameError" in r.stderr
    assert "the app failed: NameError" in r.stdout


def test_server_error_fails_and_expect_tightens(tmp_path, port):
    make_app_dir(tmp_path, port)
    r = run_check(["--path", "/", "--path", "/broken", "app.py"], tmp_path)
    assert r.returncode == 1
    assert "GET /broken  500 Internal Server Error" in r.stdout
    assert ("tdev check failed: GET /broken: 500 Internal Server Error — expected 2xx or 3xx; to accept it: "
            '--expect 2xx --expect 3xx --expect 500 (or expect = ["2xx", "3xx", "500"] in [tool.tdev.check])'
            in r.stdout)
    # A 404 fails by default (only 2xx and 3xx pass): a smoke test of a missing page tests nothing.
    missing = run_check(["--path", "/nope", "app.py"], tmp_path)
    assert missing.returncode == 1 and "GET /nope  404 Not Found" in missing.stdout
    assert ('tdev check failed: GET /nope: 404 Not Found — expected 2xx or 3xx; to accept it: --expect 404 '
            '(or expect = ["404"] in [tool.tdev.check])' in missing.stdout)
    strict = run_check(["--path", "/nope", "--expect", "2xx", "app.py"], tmp_path)
    assert strict.returncode == 1 and "404 Not Found — expected 2xx;" in strict.stdout
    assert run_check(["--path", "/nope", "--expect", "404", "app.py"], tmp_path).returncode == 0
    write(tmp_path / "pyproject.toml", '[tool.tdev.check]\nexpect = ["404"]\n')
    assert run_check(["app.py", "--path", "/nope"], tmp_path).returncode == 0


def test_app_that_never_listens_fails_after_the_timeout(tmp_path):
    write(tmp_path / "app.py", "import time\nprint('starting', flush=True)\ntime.sleep(60)\n")
    started = time.monotonic()
    r = run_check(["--timeout", "1", "app.py"], tmp_path)
    elapsed = time.monotonic() - started
    assert r.returncode == 1
    assert "the app did not listen within 1 s" in r.stdout
    assert elapsed < 10, elapsed


def test_app_exiting_before_it_listens_fails(tmp_path):
    write(tmp_path / "app.py", "print('nothing to serve')\n")
    r = run_check(["app.py"], tmp_path)
    assert r.returncode == 1 and "exited with code 0 before it listened" in r.stdout


def test_multi_process_mode_is_an_error(tmp_path, port):
    write(tmp_path / "app.py", HANDLERS + f"""
    import tornado.httpserver, tornado.ioloop
    server = tornado.httpserver.HTTPServer(make_app())
    server.bind({port}, address="127.0.0.1")
    server.start(0)
    tornado.ioloop.IOLoop.current().start()
    """)
    r = run_check(["app.py"], tmp_path)
    assert r.returncode == 1
    assert "multi-process" in r.stdout and "app.py:" in r.stdout


def test_json_output_parses_and_keeps_stdout_clean(tmp_path, port):
    make_app_dir(tmp_path, port, extra="\n    print('app says hello')\n")
    r = run_check(["--json", "--path", "/", "--path", "/broken", "app.py"], tmp_path)
    data = json.loads(r.stdout)  # nothing but the JSON object on stdout
    assert r.returncode == 1 and data["exit_code"] == 1 and data["ok"] is False
    assert data["files_compiled"] == 1 and data["syntax_errors"] == []
    assert data["startup_ms"] > 0 and data["listening"] == [f"http://127.0.0.1:{port}/"]
    assert [(p["path"], p["status"], p["ok"]) for p in data["paths"]] == [("/", 200, True), ("/broken", 500, False)]
    assert "app says hello" in r.stderr


def test_json_lists_syntax_errors(tmp_path, port):
    make_app_dir(tmp_path, port)
    write(tmp_path / "bad.py", "x = (\n")
    data = json.loads(run_check(["--json", "app.py"], tmp_path).stdout)
    assert data["ok"] is False and data["started"] is False
    assert [(e["path"], e["line"]) for e in data["syntax_errors"]] == [("bad.py", 1)]


def test_port_in_use_is_replaced_by_a_free_one(tmp_path, port):
    make_app_dir(tmp_path, port)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        r = run_check(["app.py"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"port {port} on 127.0.0.1 is in use" in r.stdout
    assert "GET /  200 OK" in r.stdout


def test_reload_hooks_run_on_the_clean_stop(tmp_path, port):
    make_app_dir(tmp_path, port, extra="""
    import tornado.autoreload
    tornado.autoreload.add_reload_hook(lambda: open("hook-ran", "w").close())
    """)
    r = run_check(["app.py"], tmp_path)
    assert r.returncode == 0, r.stdout
    assert (tmp_path / "hook-ran").exists()


def test_configured_target_and_paths(tmp_path, port):
    make_app_dir(tmp_path / "src", port)
    write(tmp_path / "pyproject.toml", """
        [tool.tdev]
        target = "src/app.py"
        [tool.tdev.check]
        paths = ["/", "/broken"]
        expect = ["2xx"]
    """)
    (tmp_path / "docs").mkdir()
    r = run_check([], tmp_path / "docs")  # found from a subdirectory, paths relative to the file
    assert r.returncode == 1
    assert "GET /broken  500" in r.stdout and "GET /        200 OK" in r.stdout


def test_python_m_devserver_check(tmp_path, port):
    make_app_dir(tmp_path, port)
    r = subprocess.run([PYTHON, "-m", "devserver", "check", "-q", "app.py"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr


def test_options_after_the_target_are_checks_and_the_apps_follow_double_dash(tmp_path, port):
    make_app_dir(tmp_path, port, extra="\n    print('app argv:', sys.argv[1:], flush=True)\n")
    r = run_check(["app.py", "--path", "/does-not-exist", "--expect", "200", "--", "--flag", "x"], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "GET /does-not-exist  404 Not Found" in r.stdout and "GET / " not in r.stdout
    assert "app argv: ['--flag', 'x']" in r.stdout
