"""Watch backends and the shape of the watched tree: polling, fallback when inotify is out of
resources (for real, in a user namespace with lowered limits), new and recreated directories."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import TDEV, http_get, wait_for_body, wait_until, write


def test_poll_flag_reloads(tdev, hello_app, port):
    t = tdev(["run", "--poll", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"watching .*polling")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")


def test_tdev_poll_environment_variable_forces_polling(tdev, hello_app, port):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app, env={"TDEV_POLL": "1"})
    wait_for_body(port, "v1")
    t.wait_for(r"watching .*polling")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")


def _can_lower_inotify_limits() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-Ur", "sh", "-c", "echo 0 > /proc/sys/user/max_inotify_instances"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_userns = pytest.mark.skipif(
    not _can_lower_inotify_limits(),
    reason="needs Linux user namespaces (unshare -Ur) to lower the inotify limits for tdev alone",
)


@needs_userns
@pytest.mark.parametrize(
    "sysctl, value, hint",
    [
        ("max_inotify_instances", 0, "fs.inotify.max_user_instances"),
        ("max_inotify_watches", 1, "fs.inotify.max_user_watches"),
    ],
)
def test_inotify_limits_fall_back_to_polling(tdev, hello_app, port, sysctl, value, hint):
    # Limits lowered for a new user namespace only: the rest of the machine is untouched.
    (hello_app / "pkg" / "sub").mkdir(parents=True)  # more than one directory to watch
    script = f'echo {value} > /proc/sys/user/{sysctl} && exec "$@"'
    t = tdev(
        ["run", "app.py", str(port)],
        cwd=hello_app,
        command=["unshare", "-Ur", "sh", "-c", script, "sh", *TDEV],
    )
    wait_for_body(port, "v1")
    warning = t.wait_for(r"falling back to polling")
    assert hint in warning and "sysctl" in warning
    assert t.count(r"falling back to polling") == 1
    t.wait_for(r"watching .*polling")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")


def test_new_package_beside_an_ignored_tree_is_watched(tdev, hello_app, port):
    # node_modules at the top makes the project root a one-level watch: a directory created
    # later must get its own watch, and modules written into it at once must count.
    (hello_app / "node_modules" / "left-pad").mkdir(parents=True)
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    write(hello_app / "pkg" / "__init__.py", "")
    write(hello_app / "pkg" / "mod.py", 'X = "new"\n')
    t.wait_for(r"changed — restarting")
    write(hello_app / "version.py", 'from pkg.mod import X\nVERSION = "v2-" + X\n')
    wait_for_body(port, "v2-new")
    write(hello_app / "pkg" / "mod.py", 'X = "newer"\n')
    wait_for_body(port, "v2-newer")


def test_directory_deleted_and_recreated_is_watched_again(tdev, hello_app, port):
    (hello_app / ".git").mkdir()  # splits the tree: pkg/ is a watch of its own
    write(hello_app / "pkg" / "__init__.py", "")
    write(hello_app / "pkg" / "mod.py", 'X = "a"\n')
    write(hello_app / "version.py", 'from pkg.mod import X\nVERSION = "v-" + X\n')
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v-a")
    shutil.rmtree(hello_app / "pkg")  # like a branch switch that removes the package
    t.wait_for(r"app exited with code 1")
    write(hello_app / "pkg" / "__init__.py", "")
    write(hello_app / "pkg" / "mod.py", 'X = "b"\n')
    wait_for_body(port, "v-b")
    write(hello_app / "pkg" / "mod.py", 'X = "c"\n')
    wait_for_body(port, "v-c")


def test_file_that_vanishes_right_after_an_event_is_not_an_error(tdev, hello_app, port):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    for i in range(20):
        path = hello_app / f"flash_{i}.py"
        path.write_text("x = 1\n")
        os.unlink(path)
    t.wait_for(r"changed — restarting")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    assert "Traceback" not in t.err


def test_module_saved_while_its_import_is_still_being_reported_is_not_lost(tdev, tmp_path, port):
    # A module from outside the project is imported at start-up; it is saved again before the app
    # has even finished starting (and before tdev may know about it): the app must end up on it.
    project, outside = tmp_path / "project", tmp_path / "outside"
    write(outside / "extlib.py", 'VALUE = "old"\n')
    write(
        project / "app.py",
        """
        import asyncio, sys, time
        import tornado.web
        import extlib
        print("imported", flush=True)
        time.sleep(1.0)

        class H(tornado.web.RequestHandler):
            def get(self):
                self.write(extlib.VALUE)

        async def main():
            tornado.web.Application([(r"/", H)]).listen(int(sys.argv[1]), "127.0.0.1")
            await asyncio.Event().wait()

        asyncio.run(main())
        """,
    )
    t = tdev(["run", "app.py", str(port)], cwd=project, env={"PYTHONPATH": str(outside)})
    t.wait_for(r"^imported$", stream="out")
    write(outside / "extlib.py", 'VALUE = "new"\n')
    wait_for_body(port, "new", timeout=20)


def test_vim_style_save_with_the_module_briefly_missing_restarts_once_without_an_error(tdev, hello_app, port):
    # vim (backupcopy=no/auto): rename the original to a backup, then write the new file.
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"watching")
    os.rename(hello_app / "version.py", hello_app / "version.py~")
    time.sleep(0.06)  # the editor's gap, longer than the debounce window (the scenario, not a wait)
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    os.unlink(hello_app / "version.py~")
    wait_for_body(port, "v2")
    assert "exited with code" not in t.err
    assert t.count(r"changed — restarting") == 1, t.err


def test_reading_a_watched_file_is_not_a_change(tdev, hello_app, port):
    # Editors, linters and the app itself open and read sources all the time: only writes count.
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"watching")
    for _ in range(50):
        (hello_app / "version.py").read_text()
        (hello_app / "app.py").read_bytes()
        os.stat(hello_app / "version.py")
    with pytest.raises(AssertionError):  # no restart within a window well past the debounce
        wait_until(lambda: t.count(r"restarting"), timeout=0.4, message="a restart")
    write(hello_app / "version.py", 'VERSION = "v2"\n')  # then one real change
    wait_for_body(port, "v2")
    assert t.count(r"changed — restarting") == 1
    assert "version.py changed" in t.err and "app.py changed" not in t.err


EXTERNAL_APP = """
    import asyncio, sys
    import tornado.web
    import extpkg.mod

    class H(tornado.web.RequestHandler):
        def get(self):
            self.write(extpkg.mod.X)

    async def main():
        tornado.web.Application([(r"/", H)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())
"""


@pytest.mark.parametrize("how", ["copytree", "mkdir-then-files", "polling"])
def test_package_outside_the_project_deleted_and_recreated_is_watched_again(tdev, tmp_path, port, how):
    # A sibling package on PYTHONPATH (a monorepo library, a regenerated client) is replaced as a
    # whole: `rm -rf lib/extpkg && cp -r ...`. Its directory watch dies with it; it must come back.
    project, lib = tmp_path / "project", tmp_path / "lib"
    write(project / "app.py", EXTERNAL_APP)
    write(lib / "extpkg" / "__init__.py", "")
    write(lib / "extpkg" / "mod.py", 'X = "alpha-111"\n')
    options = ["--poll"] if how == "polling" else []
    t = tdev(["run", *options, "app.py", str(port)], cwd=project, env={"PYTHONPATH": str(lib)})
    wait_for_body(port, "alpha-111")
    shutil.rmtree(lib / "extpkg")
    t.wait_for(r"app exited with code 1")  # the import fails while the package is gone
    if how in ("copytree", "polling"):
        write(tmp_path / "staging" / "extpkg" / "__init__.py", "")
        write(tmp_path / "staging" / "extpkg" / "mod.py", 'X = "bravo-222"\n')
        shutil.copytree(tmp_path / "staging" / "extpkg", lib / "extpkg")
    else:
        (lib / "extpkg").mkdir()
        time.sleep(0.3)  # a slow tool: the directory exists a while before its files (the scenario, not a wait)
        write(lib / "extpkg" / "__init__.py", "")
        write(lib / "extpkg" / "mod.py", 'X = "bravo-222"\n')
    wait_for_body(port, "bravo-222")
    write(lib / "extpkg" / "mod.py", 'X = "charlie-333"\n')  # and the save after it restarts the app
    wait_for_body(port, "charlie-333")
    assert "Traceback" not in t.err.split("app exited with code 1")[-1]


@needs_userns
def test_inotify_watch_limit_reached_while_running_falls_back_to_polling(tdev, hello_app, port, tmp_path):
    # Start with room for every watch tdev needs; then the limit is lowered to what it uses (in its
    # own user namespace): a package directory created afterwards cannot get a watch. watchdog drops
    # that silently; tdev must notice, say so once, and poll, so the new module's edits count.
    trigger = tmp_path / "lower-the-limit"
    script = (
        '"$@" & pid=$!; '
        f'while [ ! -e {trigger} ]; do sleep 0.02; done; '
        'n=$(cat /proc/$pid/fdinfo/* 2>/dev/null | grep -c "^inotify wd"); '
        'echo $n > /proc/sys/user/max_inotify_watches; '
        f'echo $n > {trigger}.done; wait $pid'
    )
    t = tdev(["run", "app.py", str(port)], cwd=hello_app, command=["unshare", "-Ur", "sh", "-c", script, "sh", *TDEV])
    wait_for_body(port, "v1")
    t.wait_for(r"watching .*inotify")
    trigger.write_text("")
    wait_until(lambda: (tmp_path / "lower-the-limit.done").exists(), message="the limit lowered")
    assert int((tmp_path / "lower-the-limit.done").read_text()) > 0
    write(hello_app / "newpkg" / "__init__.py", "")
    write(hello_app / "newpkg" / "mod.py", 'X = "first-111"\n')
    warning = t.wait_for(r"inotify watch limit reached")
    assert "sysctl fs.inotify.max_user_watches" in warning
    write(hello_app / "version.py", "from newpkg.mod import X\nVERSION = X\n")
    wait_for_body(port, "first-111")
    write(hello_app / "newpkg" / "mod.py", 'X = "second-222"\n')  # an edit in the unwatchable directory
    wait_for_body(port, "second-222")
    assert t.count(r"inotify watch limit reached") == 1


def test_working_directory_removed_and_recreated(tdev, hello_app, port):
    # The project is tdev's working directory (the usual case) and is removed as a whole, then
    # checked out again: inotify says nothing about a directory that is a process's cwd, and the app
    # must start in the new directory, not in the deleted one tdev still sits in.
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    shutil.copytree(hello_app, hello_app.parent / "backup")
    shutil.rmtree(hello_app)
    t.wait_for(r"the working directory .* is gone — waiting for it to come back")
    status, body = http_get(port)  # the port answers, with why nothing runs
    assert status == 503 or status == 500, (status, body)
    assert "working directory" in body and "is gone" in body
    shutil.copytree(hello_app.parent / "backup", hello_app)
    write(hello_app / "version.py", 'VERSION = "back-222"\n')
    wait_for_body(port, "back-222")
    assert "Traceback" not in t.err and "internal error" not in t.err, t.err
    assert t.proc.poll() is None
