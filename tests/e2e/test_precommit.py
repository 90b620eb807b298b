"""The ``tdev-check`` pre-commit hook, run for real with ``pre-commit try-repo`` on a throw-away repo."""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

APP = """
    import asyncio

    import tornado.web


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write("ok")


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(PORT, address="127.0.0.1")
        await asyncio.Event().wait()


    if __name__ == "__main__":
        asyncio.run(main())
"""


def git(*args, cwd, env):
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=30)


@pytest.mark.timeout(420)
def test_tdev_check_hook_with_pre_commit_try_repo(tmp_path, port):
    if importlib.util.find_spec("pre_commit") is None:
        pytest.skip("pre-commit is not installed here (it is part of the test extra: pip install -e '.[test]')")
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout: try-repo needs one")
    env = dict(os.environ)
    env.update({
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path),
    })
    project = tmp_path / "project"
    write(project / "server.py", APP.replace("PORT", str(port)))
    write(project / "pyproject.toml", '[tool.tdev]\ntarget = "server.py"\n[tool.tdev.check]\nexpect = ["200"]\n')
    git("init", "-q", cwd=project, env=env)
    git("add", ".", cwd=project, env=env)
    git("commit", "-q", "-m", "app", cwd=project, env=env)

    def hook():
        return subprocess.run(
            [PYTHON, "-m", "pre_commit", "try-repo", str(ROOT), "tdev-check", "--all-files", "--verbose"],
            cwd=project, env=env, capture_output=True, text=True, timeout=300,
        )

    passed = hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout and "GET /  200 OK" in passed.stdout, passed.stdout

    write(project / "broken.py", "def f(:\n    pass\n")
    git("add", ".", cwd=project, env=env)
    failed = hook()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "broken.py:1:7:" in failed.stdout, failed.stdout
