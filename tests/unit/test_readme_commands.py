"""Every ``tdev run`` / ``tdev check`` command the README shows parses, and its options land where
the README says: tdev's own options in tdev's settings, the app's arguments in the app's ``sys.argv``."""

import json
import re
import shlex
from pathlib import Path

import pytest

from devserver.cli import _spellings, parse_check, parse_run
from devserver.config import UsageError
from devserver.options import CHECK, RUN

README = Path(__file__).resolve().parents[2] / "README.md"

# Inline code that starts with a command, lines of console and usage blocks, and IDE argument lists.
_SPAN = re.compile(r"`((?:tdev|python -m devserver) (?:run|check)\b[^`]*)`")
_LINE = re.compile(r"^(?:\$ )?((?:tdev|python -m devserver) (?:run|check)\b.*)$")
_JSON_ARGS = re.compile(r'"args": (\[[^\]]*\])')


def readme_commands() -> "list[list[str]]":
    text = README.read_text(encoding="utf-8")
    commands = []
    for line in text.splitlines():
        found = [m.group(1) for m in _SPAN.finditer(line)]
        whole = _LINE.match(line)
        if whole and not found:
            found = [re.split(r"\s{2,}", whole.group(1))[0]]  # usage lines: the command, not its description
        commands += [shlex.split(command.split(" | ")[0]) for command in found]
        commands += [["tdev", *json.loads(m.group(1))] for m in _JSON_ARGS.finditer(line)]
    # "python -m devserver run" is "tdev run"; usage lines with placeholders are not commands
    commands = [c[3:] if c[0] == "python" else c[1:] for c in commands]
    return [c for c in commands if not any(w.startswith("[") or w.isupper() or w == "..." for w in c[1:])]


COMMANDS = readme_commands()

# Commands the README shows as mistakes, and the hint it promises for each.
MISTAKES = {
    "run helloworld": "no such file: helloworld (did you mean helloworld.py?)",
    "run thumbor/server.py:main": "(e.g. thumbor.server:main)",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The files the README's examples name, and a [tool.tdev] target for the commands without one."""
    monkeypatch.chdir(tmp_path)
    for name in ("app.py", "server.py", "web/__init__.py", "web/app.py", "examples/hello/app.py", "helloworld.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "config").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.tdev]\ntarget = "app.py"\n')
    return tmp_path


def test_the_readme_shows_commands_of_each_kind():
    shown = {" ".join(c) for c in COMMANDS}
    assert len(COMMANDS) >= 15, shown
    assert "check server.py --path / --path /health" in shown
    assert "run web.app:make_app --port 8000 -- --logging=debug" in shown
    assert "run --no-reload app.py" in shown


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_readme_command_puts_options_where_they_work(project, argv):
    command, rest = argv[0], argv[1:]
    if " ".join(argv) in MISTAKES:
        with pytest.raises(UsageError, match=re.escape(MISTAKES[" ".join(argv)])):
            (parse_run if command == RUN else parse_check)(rest, environ={})
        return
    config = (parse_run if command == RUN else parse_check)(rest, environ={})
    assert config is not None
    target = config.target
    app_args = rest[rest.index("--") + 1 :] if "--" in rest else None
    tdev_names = set(_spellings(command))
    if command == CHECK or target.kind == "app":
        # tdev's options anywhere, the app's after "--" only
        assert target.args == (app_args or []), argv
    else:
        # python's rule: what follows the target is the app's, and none of it is an option only tdev has
        assert config.hints == [], argv
    assert not any(word in tdev_names and word not in ("-v", "--port") for word in target.args), argv
    # what the app gets is written as tornado.options reads it: --name=value (a bare --name is a switch)
    args = target.args
    for word, following in zip(args, [*args[1:], "-"]):
        assert not (word.startswith("--") and "=" not in word and not following.startswith("-")), argv


def _parsed(line: str):
    argv = shlex.split(line)
    return (parse_run if argv[0] == RUN else parse_check)(argv[1:], environ={})


def test_the_readmes_mistakes_get_the_hints_it_promises(project):
    text = " ".join(README.read_text(encoding="utf-8").split())
    for command, hint in MISTAKES.items():
        assert f"`tdev {command}`" in text
        with pytest.raises(UsageError, match=re.escape(hint)):
            _parsed(command)


def test_readme_examples_mean_what_the_readme_says(project):
    c = _parsed("check server.py --path / --path /health")
    assert (c.target.value, c.check.paths, c.target.args) == ("server.py", ["/", "/health"], [])
    c = _parsed("check server.py --path /health -- --port=8000")
    assert (c.check.paths, c.target.args) == (["/health"], ["--port=8000"])
    c = _parsed("run web.app:make_app --port 8000 --debug")
    assert (c.port, c.debug, c.target.args) == (8000, True, [])
    c = _parsed("run web.app:make_app --port 8000 -- --logging=debug")
    assert (c.port, c.target.args) == (8000, ["--logging=debug"])
    c = _parsed("run --watch config app.py --port=8000")  # tornado.options reads --port=8000
    assert c.watch == [str(project / "config")] and c.target.args == ["--port=8000"] and c.hints == []


def test_the_readmes_hint_line_is_the_one_tdev_prints(project):
    hint = _parsed("run app.py --watch config").hints
    assert len(hint) == 1
    text = " ".join(README.read_text(encoding="utf-8").split())  # the README wraps it
    assert f"`[tdev] {hint[0]}`" in text
