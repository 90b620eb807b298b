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
    for name in ("demo/demo.py", "tool/__init__.py", "tool/__main__.py"):  # directories named as targets
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
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
        ([], "missing TARGET"),
        (["missing.py"], "missing.py"),
        (["pkg"], "is a directory"),
        (["demo"], "demo is a directory, not a script (did you mean demo/demo.py?)"),
        (["tool"], "tool is a directory, not a script (did you mean -m tool?)"),
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


# -- targets by their form ------------------------------------------------------------------------
def test_module_attr_target(app):
    c = parse_run(["--port", "9000", "--host", "0.0.0.0", "--debug", "pkg.server:make_app", "--", "x"], environ={})
    assert (c.target.kind, c.target.value, c.target.args) == ("app", "pkg.server:make_app", ["x"])
    assert (c.host, c.port, c.debug) == ("0.0.0.0", 9000, True)
    assert c.child_options() == {"app": {"host": "0.0.0.0", "port": 9000, "debug": True}}


def test_app_target_defaults(app):
    c = parse_run(["pkg.server:app"], environ={})
    assert (c.host, c.port, c.debug) == ("127.0.0.1", 8888, False)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["app.py:make_app"], "app:make_app"),  # a file before ':' -> suggests the module form
        (["pkg.server:"], "module:attr"),
        (["a b:c"], "module:attr"),
        (["nosuch_mod_xyz:app"], "no module named 'nosuch_mod_xyz'"),
        (["app"], "no such file: app (did you mean app.py?)"),  # a bare name with a .py file beside it
        (["pkg.server"], "-m pkg.server"),  # a module typed as a script
        (["pkg/server.py:make_app"], "(e.g. pkg.server:make_app)"),  # the dotted path from the cwd
        (["./pkg/server.py:make_app"], "(e.g. pkg.server:make_app)"),
        (["--port", "80", "app.py"], "MODULE:ATTR"),
        (["--debug", "-m", "pkg.server"], "MODULE:ATTR"),
        (["--port", "70000", "pkg.server:app"], "70000"),
        (["--port", "x", "pkg.server:app"], "'x'"),
        (["--host", "", "pkg.server:app"], "--host"),
        (["--max-open-files", "0", "app.py"], "--max-open-files"),
        (["--path", "/", "app.py"], "tdev check"),  # a check option given to run
    ],
)
def test_target_and_app_option_errors(app, argv, fragment):
    with pytest.raises(UsageError) as info:
        parse_run(argv, environ={})
    assert fragment in str(info.value)


# -- tdev check options ----------------------------------------------------------------------------
def test_check_options(app):
    from devserver.cli import parse_check

    c = parse_check(["--path", "/", "--path=/health", "--expect", "2XX", "--expect", "301", "--timeout", "3",
                     "--json", "app.py"], environ={})
    assert c.check.paths == ["/", "/health"] and c.check.expect == ["2xx", "301"]
    assert c.check.timeout == 3.0 and c.check.json
    d = parse_check(["app.py"], environ={})
    assert d.check.paths == ["/"] and d.check.expect == [] and d.check.timeout == 20.0 and not d.check.json


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--path", "health", "app.py"], "starting with '/'"),  # the wording of [tool.tdev.check] paths
        (["--expect", "abc", "app.py"], "'abc'"),
        (["--expect", "600", "app.py"], "'600'"),
        (["--timeout", "0", "app.py"], "--timeout"),
        (["--poll", "app.py"], "tdev run"),  # a run option given to check
    ],
)
def test_check_usage_errors(app, argv, fragment):
    from devserver.cli import parse_check

    with pytest.raises(UsageError) as info:
        parse_check(argv, environ={})
    assert fragment in str(info.value)


# -- [tool.tdev] and the command line -------------------------------------------------------------
def _pyproject(root, text):
    (root / "pyproject.toml").write_text(text)


def test_configured_target_and_settings(app):
    (app / "data").mkdir()
    _pyproject(app, """
[tool.tdev]
target = "pkg.server:make_app"
args = ["--flag"]
port = 9001
debounce = 40
watch = ["data"]
ignore = ["*.log"]
livereload = false
max-open-files = 4096
[tool.tdev.check]
paths = ["/", "/health"]
expect = ["2xx"]
timeout = 7
""")
    c = parse_run([], environ={})
    assert (c.target.kind, c.target.value, c.target.args) == ("app", "pkg.server:make_app", ["--flag"])
    assert c.port == 9001 and c.debounce_ms == 40 and c.watch == [os.path.realpath("data")]
    assert c.ignore == ["*.log"] and c.livereload is False and c.max_open_files == 4096
    assert c.config_file == os.path.realpath("pyproject.toml")
    from devserver.cli import parse_check

    k = parse_check([], environ={})
    assert k.check.paths == ["/", "/health"] and k.check.expect == ["2xx"] and k.check.timeout == 7.0


def test_command_line_overrides_the_file(app):
    _pyproject(app, '[tool.tdev]\ntarget = "pkg.server:make_app"\nport = 9001\ndebounce = 40\nignore = ["a"]\n'
                    'livereload = false\n[tool.tdev.check]\npaths = ["/x"]\n')
    c = parse_run(["--port", "9002", "--debounce", "5", "--ignore", "b", "--livereload"], environ={})
    assert c.port == 9002 and c.debounce_ms == 5 and c.ignore == ["b"] and c.livereload is True
    d = parse_run(["app.py", "arg"], environ={})  # a target on the command line replaces target and args
    assert (d.target.kind, d.target.value, d.target.args) == ("script", "app.py", ["arg"])
    from devserver.cli import parse_check

    assert parse_check(["--path", "/y"], environ={}).check.paths == ["/y"]


def test_configured_script_is_relative_to_the_file(app, monkeypatch):
    _pyproject(app, '[tool.tdev]\ntarget = "app.py"\n')
    (app / "sub").mkdir()
    monkeypatch.chdir(app / "sub")
    c = parse_run([], environ={})
    assert c.target.kind == "script" and os.path.samefile(c.target.value, app / "app.py")


def test_file_errors_name_the_key_and_the_file(app):
    _pyproject(app, "[tool.tdev]\ndebounse = 3\n")
    with pytest.raises(UsageError) as info:
        parse_run(["app.py"], environ={})
    assert "debounse" in str(info.value) and "pyproject.toml" in str(info.value)


def test_no_target_anywhere(app):
    _pyproject(app, "[tool.tdev]\nport = 9000\n")
    with pytest.raises(UsageError) as info:
        parse_run([], environ={})
    assert "sets no target" in str(info.value)


@pytest.mark.parametrize("setting", ["port = 8000", "host = '0.0.0.0'", "debug = true"])
def test_app_only_settings_in_pyproject_with_a_script_are_refused_like_the_options(app, setting):
    (app / "pyproject.toml").write_text(f"[tool.tdev]\n{setting}\n")
    key = setting.split(" ")[0]
    with pytest.raises(UsageError, match=rf"pyproject.toml: \[tool.tdev\] {key} only applies to a MODULE:ATTR target"):
        parse_run(["app.py"], environ={})
    with pytest.raises(UsageError, match=rf"\[tool.tdev\] {key} only applies"):
        parse_run(["-m", "pkg.server"], environ={})


def test_a_script_with_a_file_target_script_and_a_port_is_refused(app):
    (app / "pyproject.toml").write_text("[tool.tdev]\ntarget = 'app.py'\nport = 8000\n")
    with pytest.raises(UsageError, match=r"\[tool.tdev\] port only applies to a MODULE:ATTR target"):
        parse_run([], environ={})


# -- where options go (issue 14) --------------------------------------------------------------------
def test_check_takes_its_options_after_the_target_and_the_apps_after_double_dash(app):
    from devserver.cli import parse_check

    c = parse_check(["app.py", "--path", "/does-not-exist", "--expect", "200", "-v", "--", "--port", "8000"],
                    environ={})
    assert (c.target.value, c.target.args) == ("app.py", ["--port", "8000"])
    assert c.check.paths == ["/does-not-exist"] and c.check.expect == ["200"] and c.verbosity == VERBOSE
    c = parse_check(["-m", "pkg.server", "--path=/x", "--", "a"], environ={})
    assert (c.target.kind, c.target.args, c.check.paths) == ("module", ["a"], ["/x"])
    c = parse_check(["--path", "/a", "pkg.server:app", "--path", "/b", "--port", "9001"], environ={})
    assert (c.check.paths, c.port, c.target.args) == (["/a", "/b"], 9001, [])


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["app.py", "foo"], "arguments for the app go after '--' (tdev check app.py -- foo)"),
        (["app.py", "--frob"], "tdev check app.py -- --frob"),
        (["app.py", "--port", "8000"], "to pass it to the app: tdev check app.py -- --port=8000"),
        (["app.py", "--include", "x"], "it is an option of 'tdev run'"),
    ],
)
def test_check_arguments_for_the_app_must_follow_double_dash(app, argv, fragment):
    from devserver.cli import parse_check

    with pytest.raises(UsageError) as info:
        parse_check(argv, environ={})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_module_attr_target_takes_tdev_options_after_it(app):
    c = parse_run(["pkg.server:make_app", "--port", "8001", "--no-warm", "-q", "--", "--port", "1"], environ={})
    assert (c.port, c.warm, c.verbosity) == (8001, False, QUIET)
    assert c.target.args == ["--port", "1"] and c.hints == []
    with pytest.raises(UsageError, match=r"unexpected argument 'x' after pkg.server:make_app.*-- x"):
        parse_run(["pkg.server:make_app", "x"], environ={})


def test_script_and_module_targets_keep_pythons_rule_with_one_hint(app):
    c = parse_run(["app.py", "--port", "8000", "-v"], environ={})
    assert c.target.args == ["--port", "8000", "-v"] and c.hints == []  # an app may define these
    c = parse_run(["app.py", "--watch", "pkg", "--poll", "--debounce=5", "--no-reload", "x"], environ={})
    assert c.target.args == ["--watch", "pkg", "--poll", "--debounce=5", "--no-reload", "x"]
    assert not c.poll and c.watch == [] and c.reload
    assert c.hints == [
        "hint: --watch, --poll, --debounce and --no-reload after app.py go to the app, as with python; "
        "tdev's own options go before the target: tdev run --watch pkg --poll --debounce=5 --no-reload app.py ..."
    ]
    c = parse_run(["-m", "pkg.server", "--grace", "1"], environ={})
    assert c.hints == ["hint: --grace after -m pkg.server goes to the app, as with python; "
                       "tdev's own options go before the target: tdev run --grace 1 -m pkg.server ..."]


def test_requested_settings_are_the_typed_and_the_configured_ones(app):
    assert "max_open_files" not in parse_run(["app.py"], environ={}).requested
    c = parse_run(["--max-open-files", "100", "app.py"], environ={})
    assert "max_open_files" in c.requested and c.open_files_note_wanted()
    assert parse_run(["-v", "app.py"], environ={}).open_files_note_wanted()
    assert not parse_run(["app.py"], environ={}).open_files_note_wanted()
    _pyproject(app, "[tool.tdev]\nmax-open-files = 4096\n")
    assert parse_run(["app.py"], environ={}).open_files_note_wanted()


def test_what_ps_shows_after_python_and_its_flags(app):
    from devserver.target import Target

    assert Target("script", "app.py", ["--port", "1"]).shown_argv() == ["app.py", "--port", "1"]
    assert Target("script", "-x.py", []).shown_argv() == ["--", "-x.py"]
    assert Target("module", "pkg.server", ["a"]).shown_argv() == ["-m", "pkg.server", "a"]
    assert Target("app", "web.app:make_app", ["--x"]).shown_argv() == ["web.app:make_app", "--x"]
