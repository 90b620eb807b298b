import os

import pytest

from devserver.cli import parse_run
from devserver.config import UsageError
from devserver.output import QUIET, VERBOSE


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("raise RuntimeError('package code must not run')\n")
    (tmp_path / "pkg" / "server.py").write_text("")
    return tmp_path


def test_script_and_its_arguments(app):
    c = parse_run(["app.py", "--port", "8000", "-v"], environ={})
    assert (c.target.kind, c.target.value, c.target.args) == ("script", "app.py", ["--port", "8000", "-v"])
    assert c.reload and not c.poll and c.debounce_ms == 10 and c.grace == 5.0


def test_options_before_the_target(app):
    c = parse_run(
        ["--watch", "pkg", "--include=*.toml", "--ignore", "data", "--debounce", "50", "--grace=1.5", "-q", "app.py"],
        environ={},
    )
    assert c.watch == [os.path.realpath("pkg")]
    assert c.include == ["*.toml"] and c.ignore == ["data"]
    assert c.debounce_ms == 50 and c.grace == 1.5 and c.verbosity == QUIET


def test_module_target_without_running_package_code(app):
    c = parse_run(["-v", "-m", "pkg.server", "x", "--y"], environ={})
    assert (c.target.kind, c.target.value, c.target.args) == ("module", "pkg.server", ["x", "--y"])
    assert c.verbosity == VERBOSE
    assert parse_run(["-mpkg.server"], environ={}).target.value == "pkg.server"
    assert parse_run(["-m", "json.tool"], environ={}).target.value == "json.tool"


def test_double_dash_ends_options(app):
    (app / "-weird.py").write_text("")
    c = parse_run(["--", "-weird.py", "a"], environ={})
    assert c.target.value == "-weird.py" and c.target.args == ["a"]


def test_poll_from_flag_or_environment(app):
    assert parse_run(["--poll", "app.py"], environ={}).poll
    assert parse_run(["app.py"], environ={"TDEV_POLL": "1"}).poll
    assert not parse_run(["app.py"], environ={"TDEV_POLL": "0"}).poll


def test_no_reload(app):
    assert not parse_run(["--no-reload", "app.py"], environ={}).reload


def test_help_returns_none(app, capsys):
    assert parse_run(["--help"], environ={}) is None
    assert "usage: tdev run" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "missing SCRIPT"),
        (["missing.py"], "missing.py"),
        (["pkg"], "is a directory"),
        (["-m"], "-m needs a module name"),
        (["-m", "nosuchmodule_xyz"], "nosuchmodule_xyz"),
        (["-m", "pkg.nosuch"], "pkg.nosuch"),
        (["-m", "app.sub"], "app.sub"),
        (["-m", "not-valid"], "not-valid"),
        (["--frobnicate", "app.py"], "--frobnicate"),
        (["--grace", "-1", "app.py"], "-1"),
        (["--grace", "nan", "app.py"], "nan"),
        (["--debounce", "abc", "app.py"], "abc"),
        (["--debounce", "1.5", "app.py"], "1.5"),
        (["--watch", "/does/not/exist", "app.py"], "/does/not/exist"),
        (["--watch"], "--watch needs a value"),
        (["-v", "-q", "app.py"], "--quiet"),
        (["--poll=yes", "app.py"], "--poll=yes"),
    ],
)
def test_usage_errors_name_the_culprit(app, argv, fragment):
    with pytest.raises(UsageError) as info:
        parse_run(argv, environ={})
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
