"""``module:attr`` targets (an Application or a factory: no main() needed), and the open-files limit."""

import re
import resource

import pytest

from tests.conftest import PYTHON, TDEV, atomic_write, wait_for_body, write

pytestmark = pytest.mark.e2e

FACTORY_APP = """
    import json
    import resource
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            settings = self.application.settings
            self.write(json.dumps({
                "version": version.VERSION,
                "argv": sys.argv,
                "debug": settings.get("debug", False),
                "serve_traceback": settings.get("serve_traceback", False),
                "compiled_template_cache": settings.get("compiled_template_cache", True),
                "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
                "main": sys.modules["__main__"].__dict__.get("__file__"),
            }))


    def make_app():
        return tornado.web.Application([(r"/", Main)])


    application = make_app()
    not_an_app = 42


    def wrong_factory():
        return "a string"
"""


@pytest.fixture
def factory_app(tmp_path):
    write(tmp_path / "web" / "__init__.py", "")
    write(tmp_path / "web" / "server.py", FACTORY_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    return tmp_path


def served(port, expected="v"):
    import json

    return json.loads(wait_for_body(port, expected))


@pytest.mark.parametrize("attr", ["make_app", "application"])
def test_factory_and_instance_serve_and_reload(tdev, factory_app, port, attr):
    # tdev's options after a MODULE:ATTR target are tdev's; the app's own arguments follow "--"
    t = tdev(["run", f"web.server:{attr}", "--port", str(port), "--", "extra-arg"], cwd=factory_app)
    data = served(port, '"v1"')
    assert data["argv"] == [f"web.server:{attr}", "extra-arg"]
    assert data["debug"] is False and data["main"] is None
    t.wait_for(rf"app listening on http://127\.0\.0\.1:{port}/")
    atomic_write(factory_app / "version.py", 'VERSION = "v2"\n')
    served(port, '"v2"')
    write(factory_app / "web" / "server.py", FACTORY_APP.replace("json.dumps({", 'json.dumps({"edited": 1, '))
    assert served(port, '"edited"')["version"] == "v2"


def test_debug_gives_tornados_debug_settings(tdev, factory_app, port):
    t = tdev(["run", "--port", str(port), "--debug", "web.server:make_app"], cwd=factory_app)
    data = served(port)
    assert data["debug"] is True and data["serve_traceback"] is True and data["compiled_template_cache"] is False
    # Tornado's own autoreload stays off: tdev does the reloading.
    assert "handed over to tdev" not in t.err


def test_default_host_and_port(tdev, factory_app):
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8888)) == 0:
            pytest.skip("port 8888 is busy on this machine")
    t = tdev(["run", "web.server:make_app"], cwd=factory_app)
    served(8888)
    t.wait_for(r"app listening on http://127\.0\.0\.1:8888/")


@pytest.mark.parametrize(
    "attr, message",
    [
        ("nosuch", "has no attribute 'nosuch'"),
        ("not_an_app", "is a int, not a tornado.web.Application"),
        ("wrong_factory", "wrong_factory() returned str, expected a tornado.web.Application"),
    ],
)
def test_wrong_attribute_is_the_apps_error_and_tdev_waits(tdev, factory_app, port, attr, message):
    t = tdev(["run", "--port", str(port), f"web.server:{attr}"], cwd=factory_app)
    t.wait_for(r"waiting for changes")
    assert message in t.err
    assert "devserver" not in t.err.split("Traceback", 1)[-1], "tdev's own frames in the app's traceback"
    # Fixing the module restarts it.
    write(factory_app / "web" / "server.py", FACTORY_APP + f"\n    {attr} = make_app\n")
    served(port)


def test_no_reload_runs_the_app_target(tdev, factory_app, port):
    t = tdev(["run", "--no-reload", "--port", str(port), "web.server:make_app"], cwd=factory_app)
    served(port, '"v1"')
    assert t.app_pids() == set(), "--no-reload must not start a child process"


# -- the open-files limit -----------------------------------------------------------------------------
LOW_LIMIT = [PYTHON, "-c",
             "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096)); "
             "os.execv(sys.argv[1], sys.argv[1:])"]


def _launcher():
    # Run tdev (console script or python -m devserver) under a soft/hard limit of 256/4096.
    head = TDEV if TDEV[0] != PYTHON else [PYTHON, *TDEV[1:]]
    return [*LOW_LIMIT, *head]


@pytest.mark.skipif(resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 4096, reason="hard open-files limit below 4096")
@pytest.mark.parametrize(
    "option, expected, note",
    [
        ([], [4096, 4096], None),  # the default is raised as far as it goes, without a word
        (["-v"], [4096, 4096], "open-files limit for the app: 4096 (the hard limit), not 50000"),
        (["--max-open-files", "10000"], [4096, 4096], "open-files limit for the app: 4096 (the hard limit), not 10000"),
        (["--max-open-files", "1000"], [1000, 4096], None),
        (["--max-open-files", "100"], [256, 4096], None),  # never lowered
    ],
)
def test_open_files_limit_seen_by_the_app(tdev, factory_app, port, option, expected, note):
    t = tdev(["run", *option, "--port", str(port), "web.server:make_app"], cwd=factory_app, command=_launcher())
    assert served(port)["nofile"] == expected
    if note:
        t.wait_for(r"\[tdev\] " + re.escape(note))
    else:
        assert "open-files limit" not in t.err
