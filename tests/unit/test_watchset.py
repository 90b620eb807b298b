import os

from devserver.watchset import describe, group_of, grouped


def test_files_are_grouped_by_installed_package_or_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = "/venv/lib/python3.12/site-packages"
    assert group_of(f"{site}/tornado/web.py") == "tornado"
    assert group_of(f"{site}/six.py") == "six"
    assert group_of("/usr/lib/python3/dist-packages/celery/app/base.py") == "celery"
    assert group_of(str(tmp_path / "web" / "app.py")) == f"web{os.sep}"
    assert group_of(str(tmp_path / "app.py")) == "./"


def test_one_line_for_many_files_biggest_groups_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = "/venv/lib/python3.12/site-packages"
    paths = [f"{site}/celery/m{i}.py" for i in range(150)] + [f"{site}/tornado/m{i}.py" for i in range(98)]
    paths += [str(tmp_path / "web" / "a.py"), str(tmp_path / "web" / "b.py")]
    paths += [f"{site}/pkg{i}/x.py" for i in range(20)]
    line = describe(paths)
    assert line.startswith("watching 270 files: celery 150, tornado 98, web/ 2, pkg0 1, ")
    assert line.endswith("11 more (11 files)") and "\n" not in line
    assert grouped([]) == ""
    assert describe([str(tmp_path / "b.py"), str(tmp_path / "a.py")]) == "watching a.py, b.py"
