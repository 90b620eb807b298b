import os

import pytest

from devserver import projectfile
from devserver.config import UsageError
from devserver.projectfile import ProjectSettings, find_pyproject, load


def write(directory, text):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pyproject.toml"
    path.write_text(text)
    return str(path)


def tdev(tmp_path, body, header="[tool.tdev]\n"):
    """Write a pyproject.toml with ``body`` under [tool.tdev] and return (its real path, its real dir)."""
    write(tmp_path, header + body)
    real = os.path.realpath(str(tmp_path))
    return os.path.join(real, "pyproject.toml"), real


def error(tmp_path, body, header="[tool.tdev]\n") -> str:
    path, _ = tdev(tmp_path, body, header)
    with pytest.raises(UsageError) as info:
        load(str(tmp_path))
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


# -- finding the file ---------------------------------------------------------------


def test_nearest_file_in_a_parent(tmp_path):
    write(tmp_path, "[tool.tdev]\nport = 1\n")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    expected = os.path.join(os.path.realpath(str(tmp_path)), "pyproject.toml")
    assert find_pyproject(str(deep)) == expected
    assert find_pyproject(str(tmp_path)) == expected
    settings = load(str(deep))
    assert settings == ProjectSettings(path=expected, values={"port": 1}, check={}, keys={"port": "port"})


def test_nearer_file_wins(tmp_path):
    write(tmp_path, "[tool.tdev]\nport = 1\n")
    inner = tmp_path / "sub"
    write(inner, "[tool.tdev]\nport = 2\n")
    assert load(str(inner)).values == {"port": 2}
    assert load(str(tmp_path)).values == {"port": 1}


def test_nearest_file_is_the_boundary_even_without_tool_tdev(tmp_path):
    write(tmp_path, "[tool.tdev]\nport = 1\n")
    inner = tmp_path / "sub"
    write(inner, "[project]\nname = 'x'\n")
    assert find_pyproject(str(inner)) == os.path.join(os.path.realpath(str(inner)), "pyproject.toml")
    assert load(str(inner)) is None
    write(inner, "[tool.other]\nx = 1\n")
    assert load(str(inner)) is None
    write(inner, "tool = 3\n")
    assert load(str(inner)) is None


def test_no_file(tmp_path, monkeypatch):
    # a parent of tmp_path might hold a real pyproject.toml: look for a name nobody uses
    monkeypatch.setattr(projectfile, "FILENAME", "tdev-test-no-such-pyproject.toml")
    (tmp_path / "a").mkdir()
    assert find_pyproject(str(tmp_path / "a")) is None
    assert load(str(tmp_path / "a")) is None
    (tmp_path / "tdev-test-no-such-pyproject.toml").mkdir()  # a directory of that name is not the file
    assert find_pyproject(str(tmp_path / "a")) is None


def test_search_starts_from_the_real_directory(tmp_path):
    real = tmp_path / "real" / "project"
    write(real, "[tool.tdev]\ntarget = 'app.py'\n")
    (real / "src").mkdir()
    link = tmp_path / "link"
    link.symlink_to(real / "src")
    settings = load(str(link))
    root = os.path.realpath(str(real))
    assert settings.path == os.path.join(root, "pyproject.toml")
    assert settings.values["target"] == ("script", os.path.join(root, "app.py"))


def test_empty_table(tmp_path):
    path, _ = tdev(tmp_path, "")
    assert load(str(tmp_path)) == ProjectSettings(path=path, values={}, check={})


# -- every key, normalised ----------------------------------------------------------


def test_every_key(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "settings.ini").write_text("")
    path, root = tdev(
        tmp_path,
        """
target = "app.py"
args = ["--port", "8000", ""]
watch = ["templates", "settings.ini"]
include = ["*.toml", "static/*.css"]
ignore = ["data", "*.log"]
debounce = 50
grace = 2
poll = true
debug = false
livereload = false
warm = true
host = "127.0.0.1"
port = 8888
max-open-files = 4096

[tool.tdev.check]
paths = ["/", "/health"]
expect = [200, "204", "3xx"]
timeout = 3
""",
    )
    settings = load(str(tmp_path))
    assert settings.path == path
    assert settings.values == {
        "target": ("script", os.path.join(root, "app.py")),
        "args": ["--port", "8000", ""],
        "watch": [os.path.join(root, "templates"), os.path.join(root, "settings.ini")],
        "include": ["*.toml", "static/*.css"],
        "ignore": ["data", "*.log"],
        "debounce_ms": 50,
        "grace": 2.0,
        "poll": True,
        "debug": False,
        "livereload": False,
        "warm": True,
        "host": "127.0.0.1",
        "port": 8888,
        "max_open_files": 4096,
    }
    assert isinstance(settings.values["grace"], float)
    assert settings.check == {"paths": ["/", "/health"], "expect": ["200", "204", "3xx"], "timeout": 3.0}
    assert isinstance(settings.check["timeout"], float)


def test_only_present_keys(tmp_path):
    tdev(tmp_path, "poll = false\n")
    settings = load(str(tmp_path))
    assert settings.values == {"poll": False} and settings.check == {}


def test_underscore_spelling(tmp_path):
    tdev(tmp_path, "max_open_files = 10\n")
    assert load(str(tmp_path)).values == {"max_open_files": 10}


def test_edge_values(tmp_path):
    tdev(tmp_path, "debounce = 0\ngrace = 0.25\nport = 0\nmax-open-files = 1\n")
    assert load(str(tmp_path)).values == {"debounce_ms": 0, "grace": 0.25, "port": 0, "max_open_files": 1}
    tdev(tmp_path, "port = 65535\ngrace = 0\n[tool.tdev.check]\ntimeout = 0.5\nexpect = [599, '100', '5xx']\n")
    settings = load(str(tmp_path))
    assert settings.values == {"port": 65535, "grace": 0.0}
    assert settings.check == {"timeout": 0.5, "expect": ["599", "100", "5xx"]}


def test_status_text_as_on_the_command_line(tmp_path):
    # the converter of --expect: case and surrounding spaces do not matter ('2XX' was refused here before)
    tdev(tmp_path, "[tool.tdev.check]\nexpect = ['2XX', ' 404 ']\n", header="")
    assert load(str(tmp_path)).check == {"expect": ["2xx", "404"]}


def test_inline_check_table(tmp_path):
    tdev(tmp_path, "check = { paths = ['/'] }\n")
    assert load(str(tmp_path)).check == {"paths": ["/"]}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("myapp.server:app", ("app", "myapp.server:app")),
        ("server:make_app", ("app", "server:make_app")),
        ("pkg.mod:App.instance", ("app", "pkg.mod:App.instance")),
    ],
)
def test_app_target(tmp_path, value, expected):
    tdev(tmp_path, f"target = {value!r}\n")
    assert load(str(tmp_path)).values["target"] == expected


def test_module_target(tmp_path):
    tdev(tmp_path, "module = 'myapp.server'\nargs = ['x']\n")
    assert load(str(tmp_path)).values == {"target": ("module", "myapp.server"), "args": ["x"]}


# -- relative paths -----------------------------------------------------------------


def test_relative_paths_are_joined_with_the_pyproject_directory(tmp_path, monkeypatch):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "templates").mkdir()
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)  # the working directory does not matter, only the file's directory
    _, root = tdev(tmp_path, "target = 'web/../web/app.py'\nwatch = ['./web/templates/']\n")
    values = load(str(sub)).values
    assert values["target"] == ("script", os.path.join(root, "web", "app.py"))  # need not exist yet
    assert values["watch"] == [os.path.join(root, "web", "templates")]


def test_absolute_paths_are_kept(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    project = tmp_path / "project"
    tdev(project, f"target = {str(other / 'a:b.py')!r}\nwatch = [{str(other)!r}]\n")
    values = load(str(project)).values
    assert values["target"] == ("script", str(other / "a:b.py"))
    assert values["watch"] == [os.path.realpath(str(other))]


def test_script_target_is_not_resolved_through_symlinks(tmp_path):
    (tmp_path / "real.py").write_text("")
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    _, root = tdev(tmp_path, "target = 'link.py'\n")
    assert load(str(tmp_path)).values["target"] == ("script", os.path.join(root, "link.py"))


# -- errors -------------------------------------------------------------------------


def test_unknown_key(tmp_path):
    message = error(tmp_path, "debounse = 5\n")
    assert "[tool.tdev] unknown key 'debounse' (known: args, check, debounce," in message


def test_same_key_in_both_spellings(tmp_path):
    message = error(tmp_path, "max-open-files = 5\nmax_open_files = 6\n")
    assert "[tool.tdev] max_open_files: given twice, as 'max-open-files' and 'max_open_files'" in message


def test_unknown_check_key(tmp_path):
    message = error(tmp_path, "[tool.tdev.check]\npath = ['/']\n")
    assert "[tool.tdev.check] unknown key 'path' (known: expect, paths, timeout)" in message


def test_tool_tdev_not_a_table(tmp_path):
    message = error(tmp_path, "[tool]\ntdev = 'app.py'\n", header="")
    assert message.endswith("[tool.tdev] must be a table, got 'app.py'")
    message = error(tmp_path, "[[tool.tdev]]\nport = 1\n", header="")
    assert message.endswith("[tool.tdev] must be a table, got an array")


def test_check_not_a_table(tmp_path):
    message = error(tmp_path, "check = ['/']\n")
    assert message.endswith("[tool.tdev] check: expected a table, got an array")


def test_toml_syntax_error(tmp_path):
    message = error(tmp_path, "port = \n", header="[tool.tdev]\n")
    assert ": invalid TOML: " in message and "line 2" in message


def test_file_not_utf8(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.tdev]\nhost = '\xff'\n")
    with pytest.raises(UsageError, match="invalid TOML: the file is not UTF-8"):
        load(str(tmp_path))


def test_tomli_missing(tmp_path, monkeypatch):
    path, _ = tdev(tmp_path, "port = 1\n")
    monkeypatch.setattr(projectfile, "_toml", None)
    with pytest.raises(UsageError) as info:
        load(str(tmp_path))
    assert str(info.value).startswith(f"{path}: ") and "pip install tomli" in str(info.value)


def test_target_and_module(tmp_path):
    message = error(tmp_path, "target = 'app.py'\nmodule = 'app'\n")
    assert "[tool.tdev] target and module cannot be used together" in message


@pytest.mark.parametrize("value", ["src/app.py:main", "pkg-x:app", "pkg.mod:", ":app", "pkg:app:x", "pkg..mod:app"])
def test_bad_target_form(tmp_path, value):
    message = error(tmp_path, f"target = {value!r}\n")
    assert f"[tool.tdev] target: {value!r} is neither a script path nor module:attr" in message
    assert "'app.py' or 'myapp.server:app'" in message


@pytest.mark.parametrize("value", ["my-app", "pkg.", "1pkg"])
def test_bad_module_name(tmp_path, value):
    message = error(tmp_path, f"module = {value!r}\n")
    assert f"[tool.tdev] module: {value!r} is not a module name" in message


def test_missing_watch_path(tmp_path):
    (tmp_path / "here").mkdir()
    _, root = tdev(tmp_path, "watch = ['here', 'data']\n")
    message = error(tmp_path, "watch = ['here', 'data']\n")
    assert message.endswith(f"[tool.tdev] watch: no such file or directory: {os.path.join(root, 'data')}")


@pytest.mark.parametrize(
    "body, expected",
    [
        # wrong scalar types, bool is not a number
        ("target = 5", "[tool.tdev] target: expected a script path or module:attr, got 5"),
        ("target = ''", "[tool.tdev] target: expected a script path or module:attr, got an empty string"),
        ("module = ['a']", "[tool.tdev] module: expected a module name, got an array"),
        ("debounce = 'fast'", "[tool.tdev] debounce: expected a whole number of milliseconds from 0 to 10000, got 'fast'"),
        ("debounce = true", "[tool.tdev] debounce: expected a whole number of milliseconds from 0 to 10000, got true"),
        ("debounce = 10.5", "[tool.tdev] debounce: expected a whole number of milliseconds from 0 to 10000, got 10.5"),
        ("debounce = -1", "[tool.tdev] debounce: expected a whole number of milliseconds from 0 to 10000, got -1"),
        ("grace = '5'", "[tool.tdev] grace: expected a number of seconds from 0 to 3600, got '5'"),
        ("grace = false", "[tool.tdev] grace: expected a number of seconds from 0 to 3600, got false"),
        ("grace = -0.5", "[tool.tdev] grace: expected a number of seconds from 0 to 3600, got -0.5"),
        ("grace = inf", "[tool.tdev] grace: expected a number of seconds from 0 to 3600, got inf"),
        ("grace = nan", "[tool.tdev] grace: expected a number of seconds from 0 to 3600, got nan"),
        ("poll = 1", "[tool.tdev] poll: expected true or false, got 1"),
        ("debug = 'yes'", "[tool.tdev] debug: expected true or false, got 'yes'"),
        ("livereload = {}", "[tool.tdev] livereload: expected true or false, got a table"),
        ("warm = 0", "[tool.tdev] warm: expected true or false, got 0"),
        ("host = ''", "[tool.tdev] host: expected a host name or address, got an empty string"),
        ("host = 127", "[tool.tdev] host: expected a host name or address, got 127"),
        ("port = 65536", "[tool.tdev] port: expected a port number 0-65535, got 65536"),
        ("port = -1", "[tool.tdev] port: expected a port number 0-65535, got -1"),
        ("port = '8000'", "[tool.tdev] port: expected a port number 0-65535, got '8000'"),
        ("port = true", "[tool.tdev] port: expected a port number 0-65535, got true"),
        ("port = 80.0", "[tool.tdev] port: expected a port number 0-65535, got 80.0"),
        ("max-open-files = 0", "[tool.tdev] max-open-files: expected a whole number from 1 to 1073741824, got 0"),
        ("max_open_files = true", "[tool.tdev] max_open_files: expected a whole number from 1 to 1073741824, got true"),
        ("started = 2024-01-01", "[tool.tdev] unknown key 'started'"),
        # lists: the key, and the bad item
        ("args = '--port 1'", "[tool.tdev] args: expected an array of strings, got '--port 1'"),
        ("args = ['--port', 8000]", "[tool.tdev] args[1]: expected a string, got 8000"),
        ("watch = 'src'", "[tool.tdev] watch: expected an array of paths, got 'src'"),
        ("watch = [true]", "[tool.tdev] watch[0]: expected a path, got true"),
        ("watch = ['']", "[tool.tdev] watch[0]: expected a path, got ''"),
        ("include = '*.toml'", "[tool.tdev] include: expected an array of globs, got '*.toml'"),
        ("include = ['*.toml', 1.5]", "[tool.tdev] include[1]: expected a glob, got 1.5"),
        ("ignore = [['data']]", "[tool.tdev] ignore[0]: expected a glob, got an array"),
        ("ignore = [2024-01-01]", "[tool.tdev] ignore[0]: expected a glob, got 2024-01-01"),
    ],
)
def test_wrong_values(tmp_path, body, expected):
    assert expected in error(tmp_path, body + "\n")


@pytest.mark.parametrize(
    "body, expected",
    [
        ("paths = '/'", "[tool.tdev.check] paths: expected an array of URL paths, got '/'"),
        ("paths = ['/', 'health']", "[tool.tdev.check] paths[1]: expected a URL path starting with '/', got 'health'"),
        ("paths = [1]", "[tool.tdev.check] paths[0]: expected a URL path starting with '/', got 1"),
        ("expect = 200", "[tool.tdev.check] expect: expected an array of status codes, got 200"),
        ("expect = []", "[tool.tdev.check] expect: expected at least one status code, got an empty array"),
        ("expect = [200, 600]", "[tool.tdev.check] expect[1]: expected a status code 100-599"),
        ("expect = [99]", "[tool.tdev.check] expect[0]: expected a status code 100-599"),
        (
            "expect = [true]",
            "[tool.tdev.check] expect[0]: expected a status code 100-599 (200 or '200') or a class like '2xx', "
            "got true",
        ),
        ("expect = ['2xy']", "[tool.tdev.check] expect[0]: expected a status code 100-599"),
        ("expect = ['20x']", "[tool.tdev.check] expect[0]: expected a status code 100-599"),
        ("expect = ['2000']", "[tool.tdev.check] expect[0]: expected a status code 100-599"),
        ("expect = ['ok']", "got 'ok'"),
        ("expect = ['6xx']", "[tool.tdev.check] expect[0]: expected a status code 100-599"),
        ("expect = [200.0]", "[tool.tdev.check] expect[0]: expected a status code 100-599"),
        ("timeout = 0", "[tool.tdev.check] timeout: expected a number of seconds above 0, up to 3600, got 0"),
        ("timeout = -1.5", "[tool.tdev.check] timeout: expected a number of seconds above 0, up to 3600, got -1.5"),
        ("timeout = inf", "[tool.tdev.check] timeout: expected a number of seconds above 0, up to 3600, got inf"),
        ("timeout = true", "[tool.tdev.check] timeout: expected a number of seconds above 0, up to 3600, got true"),
        ("timeout = '3'", "[tool.tdev.check] timeout: expected a number of seconds above 0, up to 3600, got '3'"),
    ],
)
def test_wrong_check_values(tmp_path, body, expected):
    assert expected in error(tmp_path, body + "\n", header="[tool.tdev.check]\n")
