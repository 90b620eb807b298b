"""Which interpreter runs the app, and the one-line errors for one tdev cannot drive."""

import os
import sys

import pytest

from devserver.cli import parse_run
from devserver.config import UsageError
from devserver.interpreter import choose


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("")
    return tmp_path


def fake(path, body):
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_tdevs_own_interpreter_without_a_project_environment(app):
    chosen = choose(None, "", {}, str(app))
    assert chosen.own and chosen.executable == sys.executable and "tdev's own" in chosen.describe()
    # the active virtualenv, or a .venv, that is tdev's own environment: tdev's own interpreter, not probed
    assert choose(None, "", {"VIRTUAL_ENV": sys.prefix}, str(app)).own
    (app / "pyproject.toml").write_text("")
    os.symlink(sys.prefix, app / ".venv")
    assert choose(None, "", {}, str(app)).own


def test_a_virtualenv_without_an_interpreter_is_passed_over(app):
    (app / "pyproject.toml").write_text("")
    (app / ".venv" / "bin").mkdir(parents=True)
    assert choose(None, "", {"VIRTUAL_ENV": str(app / "nowhere")}, str(app)).own


@pytest.mark.parametrize(
    "body, message",
    [
        ("exit 0", "is not a Python interpreter tdev can run the app with (Python 3.9 or newer)"),
        ("echo 'Python 2.7'; exit 1", "is not a Python interpreter tdev can run the app with"),
        ("""echo '{"version": [3, 8, 18]}'""", "is Python 3.8.18: tdev runs apps on Python 3.9 or newer"),
    ],
)
def test_an_interpreter_tdev_cannot_drive_is_one_line(app, body, message):
    python = fake(app / "python", body)
    with pytest.raises(UsageError) as info:
        parse_run(["--python", python, "app.py"], environ={})
    assert str(info.value).startswith(f"--python {python} {message}"), info.value
    (app / "env" / "bin").mkdir(parents=True)
    venv_python = fake(app / "env" / "bin" / "python", body)
    with pytest.raises(UsageError) as info:
        parse_run(["app.py"], environ={"VIRTUAL_ENV": str(app / "env")})
    assert str(info.value).startswith(f"{venv_python} (VIRTUAL_ENV) {message}"), info.value


def test_python_option_paths(app):
    with pytest.raises(UsageError, match=r"--python 'nope/python': no such file: .*nope/python"):
        parse_run(["--python", "nope/python", "app.py"], environ={})
    with pytest.raises(UsageError, match=r"--python 'no-such-python-xyz': no command 'no-such-python-xyz' on PATH"):
        parse_run(["--python", "no-such-python-xyz", "app.py"], environ={})
    (app / "pyproject.toml").write_text('[tool.tdev]\npython = "nope/python"\n')
    with pytest.raises(UsageError, match=r"pyproject.toml: \[tool.tdev\] python: no such file"):
        parse_run(["app.py"], environ={})
