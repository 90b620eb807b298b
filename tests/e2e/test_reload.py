"""Restart on change: the core loop, end to end."""

from tests.conftest import atomic_write, wait_for_body, write


def test_restarts_when_an_imported_module_changes(tdev, hello_app, port):
    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
    t.wait_for(r"version\.py changed")


def test_atomic_save_is_a_change(tdev, hello_app, port):
    tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    atomic_write(hello_app / "version.py", 'VERSION = "v2"\n')
    wait_for_body(port, "v2")
