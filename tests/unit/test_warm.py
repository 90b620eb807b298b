from devserver.warm import must_cold_start, preimport_names

LIB = ("/usr/lib/python3.11", "/venv/site-packages")


def is_library(path):
    return any(path == d or path.startswith(d + "/") for d in LIB)


def identity(path):
    return path


def test_only_library_and_builtin_modules_in_import_order():
    snapshot = [
        ["sys", ""],
        ["__main__", "/project/app.py"],
        ["asyncio", "/usr/lib/python3.11/asyncio/__init__.py"],
        ["version", "/project/version.py"],
        ["tornado.web", "/venv/site-packages/tornado/web.py"],
        ["devserver.child.runtime", "/venv/site-packages/devserver/child/runtime.py"],
        ["six.moves", "?"],
        ["pkg", "/project/pkg"],  # a namespace package of the project
        ["tornado", "/venv/site-packages/tornado/__init__.py"],
    ]
    names, reason = preimport_names(snapshot, is_library, identity)
    assert reason is None
    assert names == ["sys", "asyncio", "tornado.web", "tornado"]


def test_gevent_or_eventlet_switch_warm_off():
    for top in ("gevent", "eventlet"):
        names, reason = preimport_names([["os", ""], [f"{top}.monkey", "/venv/site-packages/x.py"]], is_library, identity)
        assert names == [] and top in reason


def test_malformed_entries_are_skipped():
    names, reason = preimport_names([None, ["a"], [1, 2], ["os", ""]], is_library, identity)
    assert names == ["os"] and reason is None


def test_cold_start_when_a_library_or_preimported_file_changed():
    assert must_cold_start(["/venv/site-packages/tornado/web.py"], set(), is_library)
    assert must_cold_start(["/elsewhere/lib.py"], {"/elsewhere/lib.py"}, is_library)
    assert not must_cold_start(["/project/version.py"], {"/venv/site-packages/tornado/web.py"}, is_library)


def test_a_file_outside_the_project_that_is_no_module_is_no_reason_for_a_cold_start():
    # A config file given to tornado.autoreload.watch, or a --watch file, outside the project tree.
    def outside_project(path):
        return not path.startswith("/project/")

    assert not must_cold_start(["/etc/myapp/settings.yaml"], set(), outside_project)
    assert must_cold_start(["/home/me/libs/heavy/__init__.py"], set(), outside_project)
    assert must_cold_start(["/home/me/libs/deps.zip"], set(), outside_project)
    assert must_cold_start(["/etc/myapp/settings.yaml"], {"/etc/myapp/settings.yaml"}, outside_project)
