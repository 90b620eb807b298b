"""tdev installed in an environment of its own runs the app with the project's interpreter: a real
virtualenv made here, without tdev in it, with Tornado and a module only it has."""

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tornado

from tests.conftest import TDEV, wait_for_body, write

pytestmark = pytest.mark.e2e

APP = """
    import asyncio
    import sys

    import tornado.web

    import onlyhere  # installed in the project's virtualenv only


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write({"exe": sys.executable, "prefix": sys.prefix, "where": onlyhere.WHERE,
                        "version": list(sys.version_info[:2]), "argv": sys.argv, "path0": sys.path[0]})


    async def main():
        tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def _other_python() -> str:
    """Another Python (3.9+) than the one running tdev if there is one, else this one's base interpreter.
    (Another version only with a Tornado that runs on every one of them: 6.3 and later.)"""
    mine = list(sys.version_info[:2])
    names = [f"python3.{minor}" for minor in (12, 13, 10, 9)] if tornado.version_info >= (6, 3) else []
    found = [path for name in names for path in (*glob.glob(f"/root/.pyenv/versions/3.*/bin/{name}"),
                                                  shutil.which(name)) if path]
    for path in found:
        asked = subprocess.run([path, "-c", "import sys, json, venv; print(json.dumps([sys.executable, "
                                "sys.version_info[:2]]))"], capture_output=True, text=True, timeout=30)
        if asked.returncode == 0:
            executable, version = json.loads(asked.stdout)
            if version != mine:
                return executable  # the real binary, not a version manager's shim
    base = Path(sys.base_prefix) / "bin" / f"python{mine[0]}.{mine[1]}"
    return str(base if base.exists() else sys.executable)


@pytest.fixture(scope="module")
def project_venv(tmp_path_factory):
    """A virtualenv (no pip, no tdev) with Tornado linked in and a module ``onlyhere``."""
    root = tmp_path_factory.mktemp("project-venv")
    venv = root / "env"
    subprocess.run([_other_python(), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    os.symlink(os.path.dirname(tornado.__file__), os.path.join(site, "tornado"))  # abi3 speed-ups, or pure Python
    Path(site, "onlyhere.py").write_text('WHERE = "the project\'s virtualenv"\n')
    probe = subprocess.run([str(python), "-c", "import tornado.web, onlyhere; import devserver"], capture_output=True,
                           cwd=root)
    assert b"No module named 'devserver'" in probe.stderr  # tdev is not installed there
    return venv


def check_with(options, cwd, port):
    """``tdev check app.py OPTIONS -- PORT`` to the end, no virtualenv active."""
    return subprocess.run([*TDEV, "check", "app.py", *options, "--", str(port)], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})


def _env(**extra):
    env = {"VIRTUAL_ENV": None}
    env.update(extra)
    return env


def test_the_apps_interpreter_is_the_projects(tdev, tmp_path, port, project_venv):
    write(tmp_path / "app.py", APP)
    write(tmp_path / "version.py", "")
    write(tmp_path / "pyproject.toml", '[project]\nname = "demo"\n')
    os.symlink(project_venv, tmp_path / ".venv")
    expected_version = json.loads(subprocess.run(
        [str(project_venv / "bin" / "python"), "-c", "import sys, json; print(json.dumps(sys.version_info[:2]))"],
        capture_output=True, text=True, check=True).stdout)

    # 1. the .venv beside pyproject.toml (no virtualenv active)
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path, env=_env())
    seen = json.loads(wait_for_body(port, "virtualenv"))
    assert seen["exe"] == str(tmp_path / ".venv" / "bin" / "python")  # as `.venv/bin/python app.py` shows it
    assert seen["version"] == expected_version and seen["argv"] == ["app.py", str(port)]
    assert seen["path0"] == str(tmp_path) and os.path.samefile(seen["prefix"], project_venv)
    banner = t.wait_for(r"running app\.py with python")
    assert ".venv/bin/python, .venv beside pyproject.toml)" in banner, banner
    write(tmp_path / "app.py", APP.replace('"where": onlyhere.WHERE', '"where": "edited " + onlyhere.WHERE'))
    wait_for_body(port, "edited")
    t.signal(2)
    assert t.wait() == 0

    # 2. the active virtualenv (VIRTUAL_ENV) comes first; 3. --python chooses one explicitly
    other = tmp_path / "elsewhere"
    write(other / "app.py", APP)
    write(other / "pyproject.toml", '[project]\nname = "other"\n')  # the nearest: no .venv beside it
    t = tdev(["run", "app.py", str(port)], cwd=other, env=_env(VIRTUAL_ENV=str(project_venv)))
    assert json.loads(wait_for_body(port, "virtualenv"))["exe"] == str(project_venv / "bin" / "python")
    assert f"({project_venv}/bin/python, VIRTUAL_ENV)" in t.wait_for(r"running app\.py with python")
    t.signal(2)
    assert t.wait() == 0
    check = check_with(["--python", str(project_venv / "bin" / "python")], other, port)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"the app runs with python {'.'.join(map(str, expected_version))}" in check.stdout
    assert "--python)" in check.stdout

    # tdev check compiles with the app's interpreter: syntax newer than tdev's own Python is fine
    newer = {(3, 12): "type Alias = int\n", (3, 10): "match 1:\n    case _:\n        pass\n"}
    syntax = [code for version, code in sorted(newer.items(), reverse=True)
              if tuple(expected_version) >= version > sys.version_info[:2]]
    if syntax:
        write(other / "newer.py", syntax[0])
        check = check_with(["--python", str(project_venv / "bin" / "python")], other, port)
        assert check.returncode == 0 and "no syntax errors" in check.stdout, check.stdout + check.stderr
        write(other / "newer.py", syntax[0] + "def broken(:\n")
        check = check_with(["--python", str(project_venv / "bin" / "python")], other, port)
        assert check.returncode == 1 and "newer.py:" in check.stdout, check.stdout + check.stderr
        (other / "newer.py").unlink()

    # tdev's own interpreter does not have the module: without the project's, the app fails as it would
    plain = check_with([], other, port)
    assert plain.returncode == 1 and "No module named 'onlyhere'" in plain.stderr + plain.stdout
