"""The private internals tdev uses (devserver/compat.py) all exist on the installed Tornado and Python."""

import ast
import asyncio
import atexit
import os
import pathlib
import re
import subprocess
import sys
import types

import pytest

from devserver import compat

DEVSERVER = pathlib.Path(compat.__file__).parent


def test_no_internal_is_missing_on_the_installed_versions():
    assert compat.missing() == []


def test_a_missing_module_attribute_is_detected(monkeypatch):
    monkeypatch.delattr(atexit, "_run_exitfuncs")
    assert [m.split(":")[0] for m in compat.missing()] == ["atexit._run_exitfuncs"]


def test_a_missing_instance_attribute_is_detected(monkeypatch):
    from tornado import httpserver

    original = httpserver.HTTPServer.initialize

    def initialize(self, *args, **kwargs):
        original(self, *args, **kwargs)
        del self._connections

    monkeypatch.setattr(httpserver.HTTPServer, "initialize", initialize)
    assert [m.split(":")[0] for m in compat.missing()] == ["tornado.httpserver._connections"]


def test_a_fake_internal_is_reported_missing():
    fake = [
        compat.Internal("json", "no_such_internal", "nothing", "nowhere"),
        compat.Internal("os", "environ.no_such_method", "nothing", "nowhere"),
        compat.Internal("no_such_module_for_tdev", "x", "nothing", "nowhere"),
        compat.Internal("json", "dumps", "present", "anywhere"),
    ]
    assert [m.split(":")[0] for m in compat.missing(fake)] == [
        "json.no_such_internal", "os.environ.no_such_method", "no_such_module_for_tdev.x",
    ]


def test_every_internal_documents_its_use_and_versions():
    for internal in compat.INTERNALS:
        assert internal.used_by and re.search(r"\d\.\d", internal.checked), internal


def _private_uses(path: pathlib.Path, root: pathlib.Path = DEVSERVER.parent) -> "list[str]":
    """``x._name`` and ``getattr(x, "_name")`` where x is a module or object of another library: every
    private attribute not on ``self`` / ``cls`` and not one of tdev's own (``_tdev_...``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = None
        if isinstance(node, ast.Attribute):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                name = node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            name = node.args[1].value
        if isinstance(name, str) and name.startswith("_") and not name.startswith(("__", "_tdev_")):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return found


# Documented, though spelled with an underscore: not internals.
_DOCUMENTED = {
    "_exit",  # os._exit
    "_getframe",  # sys._getframe (a CPython implementation detail), see compat's docstring
    "_current_frames",  # sys._current_frames (documented in sys, like _getframe)
}


def _defined_names(path: pathlib.Path) -> "set[str]":
    """Names tdev defines itself: functions, classes, and assigned names and attributes."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def test_private_internals_are_used_in_compat_only():
    """Outside compat.py, tdev touches no private attribute it does not define itself."""
    files = [path for path in sorted(DEVSERVER.rglob("*.py")) if path.name != "compat.py"]
    own = set().union(*map(_defined_names, files))
    uses = [use for path in files for use in _private_uses(path)
            if use.rsplit(": ", 1)[1] not in _DOCUMENTED | own]
    assert uses == []


def test_the_private_use_finder_finds_them(tmp_path):
    source = tmp_path / "devserver" / "example.py"
    source.parent.mkdir()
    source.write_text("import atexit\natexit._run_exitfuncs()\ngetattr(x, '_shutdown', None)\nself._mine = 1\n")
    assert sorted(use.rsplit(": ", 1)[1] for use in _private_uses(source, tmp_path)) == ["_run_exitfuncs", "_shutdown"]


def test_running_loop():
    assert compat.running_loop() is None

    async def inside():
        return compat.running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(inside()) is loop
    finally:
        loop.close()


def test_interpreter_flags_are_the_ones_python_was_started_with():
    out = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "ignore::DeprecationWarning", "-c",
         "from devserver import compat; print(compat.interpreter_flags())"],
        capture_output=True, text=True, check=True, cwd=str(DEVSERVER.parent),
    ).stdout
    assert "'-X', 'dev'" in out and "ignore::DeprecationWarning" in out


def test_environ_encoder_sees_writes(monkeypatch):
    seen = []
    original = compat.environ_encoder(os.environ)
    assert original is not None

    def encode(value):
        seen.append(value)
        return original(value)

    compat.set_environ_encoder(os.environ, encode)
    try:
        os.environ["TDEV_COMPAT_TEST"] = "1"
        os.environ.get("TDEV_COMPAT_TEST")
    finally:
        compat.set_environ_encoder(os.environ, original)
        os.environ.pop("TDEV_COMPAT_TEST", None)
    assert seen == ["1"]


def test_tornado_helpers():
    from tornado import autoreload, httpserver, netutil

    assert compat.default_backlog(netutil) == netutil._DEFAULT_BACKLOG
    assert compat.default_backlog(object()) == compat.DEFAULT_BACKLOG
    server = httpserver.HTTPServer(lambda request: None)
    assert compat.server_connections(server) == []
    compat.refuse_keep_alive(server)
    assert server.conn_params.no_keep_alive
    assert compat.watched_files(autoreload) == list(autoreload._watched_files)
    assert compat.reload_hooks() == list(autoreload._reload_hooks)


def test_on_request_finished_wraps_the_connection():
    from tornado.http1connection import HTTP1Connection

    calls = []

    class Connection(HTTP1Connection):
        def __init__(self):  # no stream: only _finish_request is exercised
            pass

        def _finish_request(self, future):
            calls.append(("tornado", future))

    conn = Connection()
    assert compat.on_request_finished(conn, lambda: calls.append(("tdev", None)))
    conn._finish_request(None)
    assert calls == [("tdev", None), ("tornado", None)]
    assert not compat.on_request_finished(object(), lambda: None)


@pytest.mark.parametrize("present", [True, False], ids=["runpy", "fallback"])
def test_run_module_as_main(tmp_path, monkeypatch, present):
    (tmp_path / "tdev_compat_target.py").write_text("import sys\nsys.tdev_compat_ran = (__name__, sys.argv[0])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["-m", "arg"])
    monkeypatch.setattr(sys, "tdev_compat_ran", None, raising=False)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # not pytest's own
    monkeypatch.delitem(sys.modules, "tdev_compat_target", raising=False)
    import runpy

    if not present:
        monkeypatch.delattr(runpy, "_run_module_as_main")
    compat.run_module_as_main("tdev_compat_target")
    assert sys.tdev_compat_ran == ("__main__", str(tmp_path / "tdev_compat_target.py"))
