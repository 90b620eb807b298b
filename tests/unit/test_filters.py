import os

import pytest

from devserver.filters import PathFilter, is_ignored_file_name, matches_glob

ROOT = "/proj"


def make(include=(), ignore=(), files=()):
    f = PathFilter(ignore=tuple(ignore), system=("/usr/lib/python3.11",))
    f.add_tree(ROOT, ("*.py", *include))
    for path in files:
        f.add_file(path)
    return f


@pytest.mark.parametrize(
    "name",
    [
        ".app.py.swp", ".app.py.swx", ".app.py.swo", "4913", "app.py~", ".#app.py", "#app.py#",
        "app.py___jb_tmp___", "app.py___jb_old___", "app.py.kate-swp", "x.pyc", "x.pyo",
        ".DS_Store", "flycheck_app.py", "app.py.tmp", ".goutputstream-ABC123",
    ],
)
def test_editor_and_compiled_files_are_ignored(name):
    assert is_ignored_file_name(name)
    assert not make().matches(f"{ROOT}/{name}")


@pytest.mark.parametrize("name", ["app.py", "swp.py", "4913.py", "views.py", "a~b.py"])
def test_ordinary_sources_are_not_ignored(name):
    assert not is_ignored_file_name(name)
    assert make().matches(f"{ROOT}/{name}")


@pytest.mark.parametrize(
    "path",
    [
        ".git/config.py", ".hg/x.py", "__pycache__/app.cpython-311.py", ".venv/lib/x.py",
        "venv/bin/x.py", "node_modules/pkg/x.py", "lib/site-packages/x.py", ".tox/py/x.py",
        "pkg.egg-info/x.py", "sub/.mypy_cache/x.py",
    ],
)
def test_ignored_directories_anywhere_in_the_tree(path):
    assert not make().matches(f"{ROOT}/{path}")


def test_only_py_files_count_in_the_project_tree_unless_included():
    f = make()
    assert f.matches(f"{ROOT}/pkg/mod.py")
    assert not f.matches(f"{ROOT}/settings.toml")
    assert not f.matches(f"{ROOT}/.env")
    g = make(include=["*.toml", ".env"])
    assert g.matches(f"{ROOT}/settings.toml")
    assert g.matches(f"{ROOT}/deep/er/x.toml")
    assert g.matches(f"{ROOT}/.env")


def test_include_glob_with_a_slash_matches_the_relative_path():
    f = make(include=["config/*.yaml"])
    assert f.matches(f"{ROOT}/config/app.yaml")
    assert not f.matches(f"{ROOT}/other/app.yaml")


def test_ignore_globs_match_components_or_relative_paths():
    f = make(ignore=["build", "*_generated.py", "docs/*"])
    assert not f.matches(f"{ROOT}/build/x.py")
    assert not f.matches(f"{ROOT}/a/build/x.py")
    assert not f.matches(f"{ROOT}/models_generated.py")
    assert not f.matches(f"{ROOT}/docs/conf.py")
    assert f.matches(f"{ROOT}/builder.py")
    assert f.matches(f"{ROOT}/src/docs.py")


def test_paths_outside_every_tree_count_only_as_explicit_files():
    f = make(files=["/elsewhere/lib/mod.py", "/etc/app.conf"])
    assert f.matches("/elsewhere/lib/mod.py")
    assert f.matches("/etc/app.conf")
    assert not f.matches("/elsewhere/lib/other.py")


def test_explicit_files_win_over_ignores_but_not_the_interpreter_libraries():
    f = make()
    assert f.add_file(f"{ROOT}/node_modules/keep.py")
    assert f.matches(f"{ROOT}/node_modules/keep.py")
    assert not f.add_file("/usr/lib/python3.11/json/__init__.py")
    assert not f.matches("/usr/lib/python3.11/json/__init__.py")
    assert not f.add_file(f"{ROOT}/node_modules/keep.py"), "a known file is not new"


def test_directory_events():
    f = make()
    assert f.matches(f"{ROOT}/pkg", is_directory=True)
    assert not f.matches(f"{ROOT}/.git", is_directory=True)
    assert not f.matches(f"{ROOT}/a/__pycache__", is_directory=True)
    assert not f.matches(f"{ROOT}/node_modules", is_directory=True)


def test_nested_trees_use_the_most_specific_patterns():
    f = make()
    f.add_tree(f"{ROOT}/templates", ("*",))
    assert f.matches(f"{ROOT}/templates/index.html")
    assert not f.matches(f"{ROOT}/index.html")


def test_virtualenvs_found_by_marker_are_ignored():
    f = make()
    f.ignore_dir(f"{ROOT}/myenv")
    assert not f.matches(f"{ROOT}/myenv/lib/x.py")
    assert f.is_ignored_dir(f"{ROOT}/myenv")


def test_matches_glob_semantics():
    assert matches_glob(os.path.join("a", "b.log"), "*.log")
    assert matches_glob(os.path.join("build", "x.py"), "build")
    assert not matches_glob("xbuild.py", "build")
    assert matches_glob(os.path.join("a", "b", "c.txt"), "a/*")


# -- the project's code, and everything else (what warm restarts pre-import) ----------------------
def test_a_library_is_any_file_outside_the_project_trees_or_installed_inside_one():
    f = PathFilter(system=("/usr/lib/python3.11", "/proj/.venv/lib/python3.11/site-packages"),
                   project=("/proj", "/shared/config"))
    assert not f.is_library("/proj/app.py") and not f.is_library("/proj/pkg/mod.py")
    assert not f.is_library("/shared/config/settings.py")  # a --watch directory is the project's too
    for library in ("/usr/lib/python3.11/json/__init__.py",  # the standard library
                    "/proj/.venv/lib/python3.11/site-packages/tornado/web.py",  # a venv inside the project
                    "/proj/.tox/py311/lib/python3.11/site-packages/x.py",  # another interpreter's packages
                    "/home/me/libs/heavy/__init__.py",  # PYTHONPATH
                    "/monorepo/libs/common/util.py",  # a sibling project installed editable (.pth)
                    "/opt/deps.zip/pkg/mod.py"):  # a zip import
        assert f.is_library(library), library
    assert f.is_library("/proj2/app.py")  # a tree is a directory, not a prefix


def test_without_project_trees_only_installed_code_is_a_library():
    f = PathFilter(system=("/usr/lib/python3.11",))
    assert not f.is_library("/anywhere/app.py") and f.is_library("/usr/lib/python3.11/os.py")


def test_a_module_in_a_zip_archive_is_watched_as_the_archive(tmp_path):
    import zipfile

    from devserver.filters import file_on_disk

    archive = tmp_path / "deps.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/mod.py", "X = 1\n")
    assert file_on_disk(str(archive / "pkg" / "mod.py")) == str(archive)
    real = tmp_path / "real.py"
    real.write_text("")
    assert file_on_disk(str(real)) == str(real)
    assert file_on_disk(str(tmp_path / "gone" / "x.py")) == str(tmp_path / "gone" / "x.py")


def test_the_project_trees_are_the_targets_tree_and_the_watch_directories(tmp_path, monkeypatch):
    from devserver.config import RunConfig
    from devserver.target import Target

    (tmp_path / "web").mkdir()
    (tmp_path / "conf").mkdir()
    (tmp_path / "notes.txt").write_text("")
    script = RunConfig(Target("script", str(tmp_path / "web" / "app.py")),
                       watch=[str(tmp_path / "conf"), str(tmp_path / "notes.txt")])
    assert script.project_trees() == [str(tmp_path / "web"), str(tmp_path / "conf")]
    monkeypatch.chdir(tmp_path)
    assert RunConfig(Target("module", "web.app")).project_trees() == [str(tmp_path.resolve())]
    assert RunConfig(Target("app", "web.app:make_app")).project_trees() == [str(tmp_path.resolve())]
