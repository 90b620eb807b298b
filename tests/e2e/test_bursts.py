"""Bursts of changes: one restart, whatever wrote them."""

import shutil
import subprocess

import pytest

from tests.conftest import wait_for_body, wait_until, write

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd, *args):
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd, check=True, capture_output=True,
    )


@needs_git
def test_git_checkout_of_hundreds_of_files_restarts_once(tdev, hello_app, port):
    git(hello_app, "init", "-q", "-b", "main")
    for i in range(300):
        write(hello_app / "pkg" / f"mod_{i:03}.py", f"X = {i}\n")
    write(hello_app / "pkg" / "__init__.py", "")
    git(hello_app, "add", "-A")
    git(hello_app, "commit", "-qm", "one")
    git(hello_app, "checkout", "-qb", "other")
    for i in range(300):
        write(hello_app / "pkg" / f"mod_{i:03}.py", f"X = {i} + 1000\n")
    write(hello_app / "version.py", 'VERSION = "other"\n')
    git(hello_app, "commit", "-qam", "two")
    git(hello_app, "checkout", "-q", "main")

    t = tdev(["run", "app.py", str(port)], cwd=hello_app)
    wait_for_body(port, "v1")
    t.wait_for(r"watching")
    git(hello_app, "checkout", "-q", "other")
    wait_for_body(port, "other")
    # Quiet for a while after the new version is served: no second restart trails behind.
    deadline_restarts = t.count(r"changed — restarting")
    assert deadline_restarts == 1, t.err
    with pytest.raises(AssertionError):
        wait_until(lambda: t.count(r"changed — restarting") > 1, timeout=1.0, message="a second restart")
