"""Warm restarts: a standby process with the app's libraries imported runs the next version.

What the app can observe must be the same as after a cold start; the fallbacks (a changed installed
package, gevent, ``--no-warm``) cold-start."""

import json
import os
import re
import sys

import pytest

from tests.conftest import http_get, wait_for_body, wait_until, write

pytestmark = pytest.mark.e2e

OBSERVER_APP = """
    import json
    import os
    import signal
    import sys

    import tornado.web
    from tornado.options import define, options, parse_command_line

    import counter
    import version

    define("name", default="unset")
    define("port", default=8888, type=int)
    parse_command_line()


    class Main(tornado.web.RequestHandler):
        def get(self):
            main = sys.modules["__main__"]
            self.write(json.dumps({
                "version": version.VERSION,
                "pid": os.getpid(),
                "argv": sys.argv,
                "main_name": main.__name__,
                "main_file": getattr(main, "__file__", None),
                "main_spec": getattr(getattr(main, "__spec__", None), "name", None),
                "main_globals": sorted(k for k in vars(main) if not k.startswith("__")),
                "sys_path": sys.path,
                "cwd": os.getcwd(),
                "version_is_fresh": sys.modules["version"] is version and version.__file__.endswith("version.py"),
                "counter_imports": counter.IMPORTED,
                "options": options.as_dict(),
                "environ": dict(os.environ),
                "modules": sorted(sys.modules),
                "sigterm": getattr(signal.getsignal(signal.SIGTERM), "__name__", None),
            }))


    def main():
        import asyncio

        async def serve():
            tornado.web.Application([(r"/", Main)]).listen(options.port, address="127.0.0.1")
            await asyncio.Event().wait()

        asyncio.run(serve())


    if __name__ == "__main__":
        main()
"""

COUNTER = """
    import os
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports.log"), "a") as log:
        log.write(f"{os.getpid()}\\n")
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports.log")) as log:
        IMPORTED = sum(1 for line in log if line.strip() == str(os.getpid()))
"""


def observe(port, version):
    wait_for_body(port, f'"version": "{version}"')
    return json.loads(http_get(port)[1])


def comparable(data):
    return {k: v for k, v in data.items() if k not in ("version", "pid")}


@pytest.mark.parametrize("forkserver", ["1", "0"])
@pytest.mark.parametrize("kind", ["script", "module"])
def test_warm_start_looks_exactly_like_a_cold_start(tdev, tmp_path, port, kind, forkserver):
    # "1": the standby is a copy forked from the fork server (the default on Linux); "0": a new process.
    project = tmp_path / "project"
    if kind == "script":
        write(project / "server.py", OBSERVER_APP)
        target = ["server.py"]
    else:
        write(project / "web" / "__init__.py", "")
        write(project / "web" / "server.py", OBSERVER_APP)
        target = ["-m", "web.server"]
    write(project / "version.py", 'VERSION = "v1"\n')
    write(project / "counter.py", COUNTER)
    t = tdev(["run", "-v", *target, f"--port={port}", "--name=warm"], cwd=project, env={"TDEV_FORKSERVER": forkserver})
    cold = observe(port, "v1")
    t.wait_for(r"standby \d+ ready")
    assert ("ready: forked from the fork server" in t.err) == (forkserver == "1"), t.err
    standby = t.wait_for_standby()
    assert cold["pid"] not in standby

    write(project / "version.py", 'VERSION = "v2"\n')
    warm = observe(port, "v2")
    t.wait_for(r"target code running [\d.]+ ms after the change \(warm\)")
    assert warm["pid"] in standby, "the standby did not run the new version"
    assert comparable(warm) == comparable(cold)
    assert warm["options"]["name"] == "warm" and warm["counter_imports"] == 1
    assert warm["main_name"] == "__main__" and warm["sigterm"] == "_on_sigterm"

    # Editing the script itself, once the next standby is ready: it reads the script when told to go,
    # so the restart is warm.
    t.wait_for(r"standby \d+ ready", count=2)
    app_file = project / ("server.py" if kind == "script" else "web/server.py")
    write(app_file, OBSERVER_APP.replace('"pid": os.getpid(),', '"pid": os.getpid(), "edited": True,'))
    wait_for_body(port, '"edited": true')
    t.wait_for(r"target code running [\d.]+ ms after the change \((warm|cold)\)", count=2)
    assert t.count(r"\(warm\)") == 2 and "cold start" not in t.err, t.err
    assert "Traceback" not in t.err


THIRD_PARTY_APP = """
    import asyncio
    import sys

    import tornado.web

    import thirdparty
    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(f"{version.VERSION} {thirdparty.VALUE}")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def user_site(tmp_path):
    """A site-packages directory of this test's own (PYTHONUSERBASE), put on sys.path with PYTHONPATH."""
    base = tmp_path / "userbase"
    site = base / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site.mkdir(parents=True)
    return {"PYTHONUSERBASE": str(base), "PYTHONPATH": str(site)}, site


def test_a_changed_installed_package_cold_starts_and_rebuilds_the_standby(tdev, tmp_path, port):
    env, site = user_site(tmp_path)
    write(site / "thirdparty" / "__init__.py", "from thirdparty.sub.deep import VALUE\n")
    write(site / "thirdparty" / "sub" / "__init__.py", "")
    write(site / "thirdparty" / "sub" / "deep.py", 'VALUE = "t1"\n')
    project = tmp_path / "project"
    write(project / "app.py", THIRD_PARTY_APP)
    write(project / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    wait_for_body(port, "v1 t1")
    t.wait_for(r"standby \d+ ready")

    write(site / "thirdparty" / "sub" / "deep.py", 'VALUE = "t2"\n')  # e.g. pip install -U, or a debugging edit
    wait_for_body(port, "v1 t2")
    t.wait_for(r"a library or a pre-imported module changed: cold start")
    t.wait_for(r"target code running [\d.]+ ms after the change \(cold\)")

    t.wait_for(r"standby \d+ ready", count=2)  # rebuilt with the new version of the package
    write(project / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2 t2")
    t.wait_for(r"\(warm\)")


def test_gevent_switches_warm_restarts_off(tdev, tmp_path, port):
    env, site = user_site(tmp_path)
    write(site / "gevent" / "__init__.py", "")
    write(site / "gevent" / "monkey.py", "def patch_all():\n    pass\n")
    write(site / "thirdparty" / "__init__.py", 'VALUE = "t1"\n')
    project = tmp_path / "project"
    write(project / "app.py", "from gevent import monkey\nmonkey.patch_all()\n" + THIRD_PARTY_APP.replace("\n    ", "\n"))
    write(project / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    wait_for_body(port, "v1 t1")
    t.wait_for(r"warm restarts off: the app imports gevent")
    write(project / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2 t1")
    t.wait_for(r"\(cold\)")
    assert t.standby_pids() == set() and t.count(r"standby \d+") == 0


def test_no_warm_never_starts_a_standby(tdev, hello_app, port):
    t = tdev(["run", "-v", "--no-warm", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    t.wait_for(r"\(cold\)")
    assert t.standby_pids() == set() and t.count(r"standby") == 0


@pytest.mark.parametrize("forkserver", ["1", "0"])
def test_standby_follows_the_apps_imports(tdev, hello_app, port, forkserver):
    # "1": standbys are copies forked from a fork server, which is what imports; "0" (TDEV_FORKSERVER=0,
    # as where fork is not available): each standby is a new process that imports.
    importing = r"(standby|fork server) \d+ importing \d+ modules"
    ready = r"standby \d+ ready"
    t = tdev(["run", "-v", "app.py", str(port)], cwd=hello_app, env={"TDEV_FORKSERVER": forkserver})
    wait_for_body(port, "v1")
    first = int(t.wait_for(importing).split("importing ")[1].split()[0])
    assert ("fork server" in t.err) == (forkserver == "1"), t.err
    t.wait_for(ready)  # (a save before that would take the one still importing: it would run the app)
    # The app now imports more from the standard library: the next standby imports that too.
    app = (hello_app / "app.py").read_text()
    write(hello_app / "app.py", app.replace("import asyncio\n", "import asyncio\nimport fractions\nimport decimal\n", 1))
    wait_until(lambda: t.count(importing) >= 2, timeout=15, message="a second standby")
    second = int(t.wait_for(importing, count=2).split("importing ")[1].split()[0])
    assert second > first, t.err
    t.wait_for(ready, count=2)  # (a fork server's copy is a standby too)
    # An unchanged set keeps what it has: a standby per restart (a new process, or a copy of the fork
    # server, which imports nothing again).
    forked = t.count(r"standby \d+ ready: forked")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    if forkserver == "1":
        wait_until(lambda: t.count(r"standby \d+ ready: forked") > forked, timeout=15, message="a forked standby")
        assert t.count(importing) == 2, t.err
    else:
        wait_until(lambda: t.count(importing) >= 3, timeout=15, message="a third standby")
        assert t.count(importing) == 3 and "fork" not in t.err, t.err


def test_standby_is_gone_with_tdev(tdev, hello_app, port):
    import signal

    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    standby = t.wait_for_standby()
    t.signal(signal.SIGKILL)
    from tests.conftest import pid_alive

    wait_until(lambda: not any(pid_alive(p) for p in standby), timeout=3, message="the standby gone with tdev")


def test_a_library_imported_after_the_app_sets_an_env_variable_is_not_preimported(tdev, tmp_path, port):
    # Cold: the app sets MODE, then imports a library that reads MODE at import time. A standby that
    # imported that library before the app's code ran would give it "unset".
    env, site = user_site(tmp_path)
    write(site / "envlib" / "__init__.py", 'import os\nMODE = os.environ.get("TDEV_TEST_MODE", "unset")\n')
    write(site / "thirdparty" / "__init__.py", 'VALUE = "t1"\n')
    project = tmp_path / "project"
    app = THIRD_PARTY_APP.replace("    import thirdparty\n",
                                  '    import thirdparty\n    import os\n    os.environ["TDEV_TEST_MODE"] = "set"\n'
                                  "    import envlib\n")
    write(project / "app.py", app.replace('f"{version.VERSION} {thirdparty.VALUE}"', 'f"{version.VERSION} {envlib.MODE}"'))
    write(project / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    wait_for_body(port, "v1 set")
    t.wait_for(r"standby \d+ ready")
    write(project / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2 set")
    t.wait_for(r"\(warm\)")  # still warm: tornado and what came before are pre-imported


def test_the_fix_after_a_failed_start_is_a_warm_restart(tdev, hello_app, port):
    # A standby from the last good module list waits while the app is broken: the fix is warm. Two
    # failures: a syntax error, then an app that exits by itself at start-up.
    t = tdev(["run", "-v", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"standby \d+ ready")
    failures = ['VERSION = "v2\n', 'import sys\nsys.exit(3)\n']
    for n, broken in enumerate(failures, start=1):
        write(hello_app / "version.py", broken)
        t.wait_for(r"app exited with code \d+ — waiting for changes", count=n)

        def prepared():  # a standby ready after the failure (not the one the failed start used)
            after = t.err.split("app exited with code")[n]
            return re.search(r"standby \d+ ready", after)

        wait_until(prepared, timeout=15, message="a standby prepared while the code is broken")
        write(hello_app / "version.py", f'VERSION = "fixed{n}"\n')
        wait_for_body(port, f"fixed{n}")
        # Each change logs a "target code running" line: the failed start, then the fix.
        line = t.wait_for(r"target code running [\d.]+ ms after the change \((warm|cold)\)", count=2 * n)
        assert line.endswith("(warm)"), t.err
    assert "cold" not in t.err, t.err


OUTSIDE_APP = """
    import asyncio
    import sys

    import tornado.web

    import heavylib
    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(f"{version.VERSION} {heavylib.VALUE} {heavylib.IMPORTED_IN}")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def heavylib_source(value):
    # The name of the process that imported it: "tdev-standby" when a standby imported it ahead of time.
    return f'VALUE = "{value}"\nwith open("/proc/self/comm") as f:\n    IMPORTED_IN = f.read().strip()\n'


def install_outside(tmp_path, kind, value):
    """heavylib, outside the project and outside site-packages: on PYTHONPATH, in a sibling project
    reached through a .pth file (how editable installs work), or in a zip archive on PYTHONPATH."""
    libs = tmp_path / "libs"
    if kind == "zip":
        import zipfile

        libs.mkdir(exist_ok=True)
        archive = libs / "deps.zip"
        with zipfile.ZipFile(archive.with_suffix(".tmp"), "w") as z:
            z.writestr("heavylib/__init__.py", heavylib_source(value))
        os.replace(archive.with_suffix(".tmp"), archive)
        return {"PYTHONPATH": str(archive)}
    write(libs / "heavylib" / "__init__.py", heavylib_source(value))
    if kind == "pythonpath":
        return {"PYTHONPATH": str(libs)}
    # .pth: site.addsitedir runs the .pth files of a directory, as Python's start-up does for site-packages.
    # (Written once: the change is the library's.)
    if not (tmp_path / "boot").exists():
        write(tmp_path / "sitedir" / "monorepo-libs.pth", f"{libs}\n")
        write(tmp_path / "boot" / "sitecustomize.py", f"import site\nsite.addsitedir({str(tmp_path / 'sitedir')!r})\n")
    return {"PYTHONPATH": str(tmp_path / "boot")}


@pytest.mark.parametrize("kind", ["pythonpath", "pth", "zip"])
def test_a_library_outside_site_packages_is_preimported_and_its_change_is_a_cold_start(tdev, tmp_path, port, kind):
    env = install_outside(tmp_path, kind, "h1")
    project = tmp_path / "project"
    write(project / "app.py", OUTSIDE_APP)
    write(project / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project, env=env)
    wait_for_body(port, "v1 h1")
    t.wait_for(r"standby \d+ ready")
    write(project / "version.py", 'VERSION = "v2"\n')
    body = wait_for_body(port, "v2 h1 tdev-")  # imported ahead of time, before the change
    assert body.split()[-1] == ("tdev-forkserver" if "fork server" in t.err else "tdev-standby"), t.err
    t.wait_for(r"target code running [\d.]+ ms after the change \(warm\)")

    install_outside(tmp_path, kind, "h2")  # a change to the library: the standby is stale
    body = wait_for_body(port, "v2 h2")
    assert "tdev-" not in body
    t.wait_for(r"target code running [\d.]+ ms after the change \(cold\)")
    t.wait_for(r"^\[tdev\] cold restart: .*(heavylib|deps\.zip).* is outside the project \(a library\), .*"
               r"~\d+ ms more than a warm restart \(said once\)$")

    def rebuilt():  # the standby is rebuilt with the new version of the library
        return re.search(r"\(cold\)\n(.*\n)*\[tdev\] standby \d+ ready", t.err)

    wait_until(rebuilt, timeout=15, message="a standby ready after the cold start")
    write(project / "version.py", 'VERSION = "v3"\n')
    wait_for_body(port, "v3 h2 tdev-")
    assert "Traceback" not in t.err, t.err


PLUGIN_APP = OUTSIDE_APP.replace("import heavylib\n", "import pluginhost\n").replace(
    'f"{version.VERSION} {heavylib.VALUE} {heavylib.IMPORTED_IN}"', 'f"{version.VERSION} {pluginhost.PLUGIN.VALUE}"')


def test_a_plugin_imported_by_a_library_says_once_without_v_why_its_restart_is_cold(tdev, tmp_path, port):
    # A library that loads the project's own module when imported (Celery loading flower's modules
    # through an entry point): the standby has it imported, so a change to it restarts cold.
    libs = tmp_path / "libs"
    write(libs / "pluginhost" / "__init__.py", 'import importlib\nPLUGIN = importlib.import_module("myplugin")\n')
    project = tmp_path / "project"
    write(project / "app.py", PLUGIN_APP)
    write(project / "version.py", 'VERSION = "v1"\n')
    write(project / "myplugin.py", 'VALUE = "p1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=project, env={"PYTHONPATH": str(libs)})
    wait_for_body(port, "v1 p1")
    t.wait_for_standby()
    write(project / "version.py", 'VERSION = "v2"\n')  # not imported ahead of time: warm, nothing said
    wait_for_body(port, "v2 p1")
    assert "cold restart" not in t.err, t.err
    for n in (2, 3):
        t.wait_for_standby()
        write(project / "myplugin.py", f'VALUE = "p{n}"\n')
        wait_for_body(port, f"v2 p{n}")
    line = t.wait_for(r"^\[tdev\] cold restart: myplugin\.py is the project's, but a library imports it before the "
                      r"app's code runs .*, ~\d+ ms more than a warm restart \(said once\)$")
    assert t.count(r"cold restart") == 1, t.err
    assert "importing the app's libraries again" in line


@pytest.mark.parametrize("forkserver", ["1", "0"])
def test_a_save_right_after_a_restart_served_is_fully_warm_on_a_heavy_app(tdev, tmp_path, port, forkserver):
    # A library that takes 0.5 s to import (a heavy app): the second of two quick saves must not wait
    # for a standby rebuilt after the first restart.  "1": a copy of the fork server is made in
    # milliseconds; "0" (no fork server): a second standby is kept.  All of them go with tdev.
    import signal

    from tests.conftest import pid_alive

    libs = tmp_path / "libs"
    write(libs / "heavylib" / "__init__.py", 'import time\ntime.sleep(0.5)\nVALUE = "h"\nIMPORTED_IN = ""\n')
    project = tmp_path / "project"
    write(project / "app.py", OUTSIDE_APP)
    write(project / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "-v", "app.py", str(port)], cwd=project,
             env={"PYTHONPATH": str(libs), "TDEV_FORKSERVER": forkserver})
    wait_for_body(port, "v1 h")
    # "0": the second is started once the first shows the imports are slow; "1": the fork server and its copy
    t.wait_for(r"standby \d+ ready", count=2 if forkserver == "0" else 1)
    wait_until(lambda: len(t.standby_pids()) == 2, timeout=5, message="two standbys (the fork's middle process gone)")
    write(project / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2 h")
    write(project / "version.py", 'VERSION = "v3"\n')  # right after the restart served
    wait_for_body(port, "v3 h")
    went = t.wait_for(r"standby \d+ told to go [\d.]+ ms after the change", count=2)
    running = t.wait_for(r"target code running [\d.]+ ms after the change", count=2)
    assert went.endswith("(ready; 1 more standby kept)") or went.endswith("(ready)"), t.err
    assert running.endswith("(warm)"), t.err
    gap = float(running.split("running ")[1].split()[0]) - float(went.split("go ")[1].split()[0])
    assert gap < 300, t.err  # not the ~0.5 s of importing heavylib
    standbys = t.wait_for_standby()
    t.signal(signal.SIGTERM)
    assert t.wait() == 0
    wait_until(lambda: not any(pid_alive(p) for p in standbys), timeout=3, message="the standbys gone with tdev")
