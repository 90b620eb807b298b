"""The option table walked: every accepted option is in --help with its default, every [tool.tdev] key
maps to an option and back, and file and command line go through the same converters."""

import dataclasses
import os
import re
import sys

import pytest

from devserver import cli, options
from devserver.config import CheckOptions, RunConfig, UsageError
from devserver.options import CHECK, CHECK_OPTIONS, CONFIG, MAIN, META, OPTIONS, RUN, TARGET, Where
from devserver.output import QUIET, VERBOSE
from devserver.projectfile import load
from devserver.target import Target

HELP = {RUN: cli.RUN_HELP, CHECK: cli.CHECK_HELP, MAIN: cli.MAIN_HELP}

# Options with a value: (TOML literal, the same value typed, what both become; another value typed, what it becomes)
SAMPLES = {
    "watch": ("['pkg']", "pkg", "realpath:pkg", "data", "realpath:data"),
    "include": ("['*.toml']", "*.toml", ["*.toml"], "*.ini", ["*.ini"]),
    "ignore": ("['data']", "data", ["data"], "*.log", ["*.log"]),
    "debounce_ms": ("50", "50", 50, "7", 7),
    "grace": ("1.5", "1.5", 1.5, "0", 0.0),
    "host": ("'0.0.0.0'", "0.0.0.0", "0.0.0.0", "::1", "::1"),
    "port": ("9000", "9000", 9000, "0", 0),
    "max_open_files": ("4096", "4096", 4096, "1", 1),
    "paths": ("['/health']", "/health", ["/health"], "/x", ["/x"]),
    "expect": ("['2xx']", "2xx", ["2xx"], "404", ["404"]),
    "timeout": ("3", "3", 3.0, "0.5", 0.5),
    # tdev's own interpreter: asked for explicitly, it is not probed in a subprocess
    "python": (repr(sys.executable), sys.executable, sys.executable, sys.executable, sys.executable),
}
# Keys without a command-line option of their own, and how they are set otherwise.
FILE_ONLY = {
    "target": "the first argument that is not an option (a SCRIPT or MODULE:ATTR)",
    "module": "-m MODULE on the command line",
    "args": "the arguments after the target",
}
# [tool.tdev] keys whose command-line spellings are not --KEY
RENAMED = {"warm": ("--no-warm",), "paths": ("--path",), "livereload": ("--livereload", "--no-livereload"),
           "watch-reads": ("--watch-reads", "--no-watch-reads")}
# Command-line options with no [tool.tdev] key
COMMAND_LINE_ONLY = {
    "reload": "--no-reload is for one plain run",
    "json": "--json is how one caller wants the result",
    "verbosity": "-v/-q are for one run",
    "help": "",
    "version": "",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "server.py").write_text("")
    (tmp_path / "data").mkdir()
    return tmp_path


def expected(value):
    if isinstance(value, str) and value.startswith("realpath:"):
        return [os.path.realpath(value.partition(":")[2])]
    return value


def listed(command):
    """{spelling: its help line} for the options section of the command's --help."""
    section = HELP[command].split("\noptions:\n", 1)[1].split("\n\n", 1)[0]
    lines = {}
    for line in section.splitlines():
        match = re.match(r"  ((?:-\w|--[\w-]+)(?:, (?:-\w|--[\w-]+))*)(?: [A-Z]+)? ", line)
        assert match, f"not an option line in 'tdev {command} --help': {line!r}"
        for spelling in match.group(1).split(", "):
            lines[spelling] = line
    return lines


def accepted(command):
    return {spelling for option in options.for_command(command) for spelling in option.spellings()}


def parse(command, argv):
    return (cli.parse_run if command == RUN else cli.parse_check)(argv, environ={})


# -- --help ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [RUN, CHECK, MAIN])
def test_help_lists_exactly_the_accepted_options(command):
    assert set(listed(command)) == accepted(command)


def test_livereload_and_version_are_listed():  # missing from --help before the table
    assert "--livereload" in listed(RUN) and "--no-livereload" in listed(RUN)
    assert "-V" in listed(MAIN) and "--version" in listed(MAIN)


@pytest.mark.parametrize("command", [RUN, CHECK])
def test_help_shows_the_defaults_in_effect(project, command):
    config = parse(command, ["app.py"])
    lines = listed(command)
    for option in options.for_command(command):
        if option.group not in (CONFIG, CHECK_OPTIONS):
            continue
        actual = getattr(config.check if option.group == CHECK_OPTIONS else config, option.dest)
        assert actual == option.initial(), option.dest
        if option.names:
            shown = option.shown_default()
            line = lines[option.names[0]]
            if shown:
                assert f"default {shown}" in line, line
            else:
                assert actual in ([], False), option.dest  # nothing to show: empty, or off
        for switch in option.switches:
            line = lines[switch.names[0]]
            assert ("(default" in line) == (switch.value == actual), line


def test_default_shown_is_the_value():
    shown = {option.dest: option.shown_default() for option in OPTIONS}
    assert shown["port"] == "8888" and shown["grace"] == "5" and shown["paths"] == "/"
    assert shown["host"] == "127.0.0.1" and shown["timeout"] == "20" and shown["debounce_ms"] == "10"


@pytest.mark.parametrize("command", [RUN, CHECK])
def test_every_listed_option_is_accepted_and_sets_its_field(project, command):
    for spelling, line in listed(command).items():
        option = next(option for option in options.for_command(command) if spelling in option.spellings())
        if option.group == META:
            continue
        target = "pkg.server:app" if option.app_only else "app.py"
        if option.names:
            _, text, _, other_text, other = SAMPLES[option.dest]
            config = parse(command, [spelling, other_text, target])
        else:
            switch = next(switch for switch in option.switches if spelling in switch.names)
            other = switch.value
            config = parse(command, [spelling, target])
        holder = config.check if option.group == CHECK_OPTIONS else config
        assert getattr(holder, option.dest) == expected(other), (spelling, line)


def test_poll_from_the_environment_is_in_the_help(project):
    assert "TDEV_POLL=1" in listed(RUN)["--poll"]
    assert cli.parse_run(["app.py"], environ={"TDEV_POLL": "yes"}).poll


def test_main_help_and_version(capsys):
    for spelling in ("-h", "--help", "help"):
        assert cli.main([spelling]) == 0
        assert "commands:" in capsys.readouterr().out
    for spelling in ("-V", "--version"):
        assert cli.main([spelling]) == 0
        assert capsys.readouterr().out.startswith("tdev ")


# -- [tool.tdev] keys ------------------------------------------------------------------------------------------------
def known_keys(tmp_path, header):
    (tmp_path / "pyproject.toml").write_text(f"{header}\nnosuchkey = 1\n")
    with pytest.raises(UsageError) as info:
        load(str(tmp_path))
    return re.search(r"\(known: (.*)\)$", str(info.value)).group(1).split(", ")


def test_every_key_maps_to_an_option_and_back(tmp_path):
    tdev = known_keys(tmp_path, "[tool.tdev]")
    check = known_keys(tmp_path, "[tool.tdev.check]")
    keyed = {option.key: option for option in OPTIONS if option.key}
    assert set(tdev) == {key for key, option in keyed.items() if option.group in (CONFIG, TARGET)} | {"check"}
    assert set(check) == {key for key, option in keyed.items() if option.group == CHECK_OPTIONS}
    for key, option in keyed.items():
        spellings = option.spellings()
        if not spellings:
            assert key in FILE_ONLY, key
        else:
            assert spellings == RENAMED.get(key, (f"--{key}",)), key
    for option in OPTIONS:
        if not option.key:
            assert option.dest in COMMAND_LINE_ONLY, option.dest


def test_every_field_is_set_by_one_option():
    def dests(group):
        return sorted(option.dest for option in OPTIONS if option.group == group)

    run_fields = {f.name for f in dataclasses.fields(RunConfig)} - {"target", "config_file", "check", "hints", "requested", "interpreter"}
    assert dests(CONFIG) == sorted(run_fields)
    assert dests(CHECK_OPTIONS) == sorted(f.name for f in dataclasses.fields(CheckOptions))
    assert dests(TARGET) == ["args", "target", "target"]  # target and module both set the target


def test_run_config_defaults_come_from_the_table():
    config = RunConfig(target=Target("script", "app.py"))
    for option in OPTIONS:
        if option.group in (CONFIG, CHECK_OPTIONS):
            holder = config.check if option.group == CHECK_OPTIONS else config
            assert getattr(holder, option.dest) == option.initial(), option.dest


@pytest.mark.parametrize("dest", sorted(SAMPLES))
def test_file_and_command_line_use_one_converter(project, dest):
    option = next(option for option in OPTIONS if option.dest == dest)
    literal, text, value, other_text, other = SAMPLES[dest]
    section = "[tool.tdev.check]" if option.group == CHECK_OPTIONS else "[tool.tdev]"
    (project / "pyproject.toml").write_text(f"{section}\n{option.key} = {literal}\n")
    settings = load(str(project))
    from_file = (settings.check if option.group == CHECK_OPTIONS else settings.values)[dest]
    typed = option.from_command_line([(option.names[0], text)], str(project))
    assert from_file == typed == expected(value)
    # and the command line overrides the file
    command = CHECK if option.group == CHECK_OPTIONS else RUN
    target = "pkg.server:app" if option.app_only else "app.py"
    config = parse(command, [option.names[0], other_text, target])
    holder = config.check if option.group == CHECK_OPTIONS else config
    assert getattr(holder, dest) == expected(other)
    config = parse(command, [target])
    assert getattr(config.check if option.group == CHECK_OPTIONS else config, dest) == expected(value)


def test_switch_keys_from_the_file(project):
    (project / "pyproject.toml").write_text("[tool.tdev]\npoll = true\ndebug = true\nlivereload = false\nwarm = false\n"
                                            "watch-reads = false")
    config = cli.parse_run(["pkg.server:app"], environ={})
    assert (config.poll, config.debug, config.livereload, config.warm, config.watch_reads) == \
        (True, True, False, False, False)
    config = cli.parse_run(["--livereload", "--watch-reads", "pkg.server:app"], environ={})
    assert config.livereload is True and config.watch_reads is True


def test_contradicting_switches():
    with pytest.raises(UsageError, match="--livereload and --no-livereload cannot be used together"):
        cli.parse_run(["--no-livereload", "--livereload", "app.py"], environ={})
    with pytest.raises(UsageError, match="--verbose and --quiet cannot be used together"):
        cli.parse_run(["-q", "-v", "app.py"], environ={})


def test_verbosity_switches(project):
    assert cli.parse_run(["--verbose", "app.py"], environ={}).verbosity == VERBOSE
    assert cli.parse_run(["-q", "-q", "app.py"], environ={}).verbosity == QUIET


# -- one converter, two ways to word its errors -----------------------------------------------------------------------
PORT = next(option for option in OPTIONS if option.dest == "port")


def test_command_line_errors_name_the_option():
    with pytest.raises(UsageError) as info:
        PORT.from_command_line([("--port", "x")], "/")
    assert str(info.value) == "--port 'x': expected a port number 0-65535"


def test_file_errors_name_the_file_and_key():
    with pytest.raises(UsageError) as info:
        PORT.from_file("8000", Where.key("/p/pyproject.toml", "[tool.tdev]", "port"))
    assert str(info.value) == "/p/pyproject.toml: [tool.tdev] port: expected a port number 0-65535, got '8000'"


@pytest.mark.parametrize(
    "convert, text, value",
    [
        (options.Number(int, "", 0, 100), "12", 12),
        (options.Number(float, "seconds", 0, 5000), "1e3", 1000.0),
        (options.status, " 2XX ", "2xx"),
        (options.url_path, "/a", "/a"),
    ],
)
def test_text_is_parsed_only_on_the_command_line(convert, text, value):
    assert convert(text, Where.arg("--x", text, "/")) == value
    if convert in (options.url_path, options.status):
        return  # strings either way
    with pytest.raises(UsageError):
        convert(text, Where.key("/p/pyproject.toml", "[tool.tdev]", "x"))


def test_bool_is_not_a_number():
    for convert in (options.Number(int, "", 0, 100), options.Number(float, "seconds", 0, 5000), options.status):
        with pytest.raises(UsageError, match="got true"):
            convert(True, Where.key("/p/pyproject.toml", "[tool.tdev]", "x"))


def test_every_number_has_a_range_shown_in_help_and_enforced():
    numbers = [option for option in options.OPTIONS if isinstance(option.convert, options.Number)]
    assert {option.dest for option in numbers} == {"timeout", "debounce_ms", "grace", "port", "max_open_files"}
    for option in numbers:
        convert = option.convert
        for command in option.commands:
            line = next(line for line in options.options_help(command).splitlines() if option.names[0] + " " in line)
            assert convert.short_range() in line, line
        too_big = convert.kind(convert.high) + 1
        with pytest.raises(UsageError):
            convert(str(too_big), Where.arg(option.names[0], str(too_big), "/"))
        with pytest.raises(UsageError):
            convert(too_big, Where.key("/p/pyproject.toml", "[tool.tdev]", option.key))
        assert convert(str(convert.kind(convert.high)), Where.arg(option.names[0], "x", "/")) == convert.high


@pytest.mark.parametrize("text", ["99999999999999999999999999", "1e400", "inf", "nan"])
def test_absurd_debounce_is_refused(text):
    option = next(option for option in options.OPTIONS if option.dest == "debounce_ms")
    with pytest.raises(UsageError, match="from 0 to 10000"):
        option.convert(text, Where.arg("--debounce", text, "/"))
