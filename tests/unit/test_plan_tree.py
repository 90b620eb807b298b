import os

from devserver.filters import PathFilter
from devserver.watcher import plan_tree


def tree(root, *dirs):
    for d in dirs:
        os.makedirs(os.path.join(root, d), exist_ok=True)


def plan(root):
    f = PathFilter()
    f.add_tree(str(root), ("*.py",))
    problems = []
    result, virtualenvs = plan_tree(str(root), f, problems.append)
    return {os.path.relpath(p, root): r for p, r in result}, virtualenvs, problems


def test_a_clean_tree_is_one_recursive_watch(tmp_path):
    tree(tmp_path, "pkg/sub", "pkg/__pycache__", "templates")
    result, _, _ = plan(tmp_path)
    assert result == {".": True}


def test_big_ignored_directories_split_the_tree(tmp_path):
    tree(tmp_path, ".git/objects/aa", "node_modules/x/y", "src/app", "static/css", "frontend/node_modules/z")
    result, _, _ = plan(tmp_path)
    assert result == {".": False, "src": True, "static": True, "frontend": False}
    assert not any(p.startswith((".git", "node_modules")) for p in result)


def test_virtualenvs_are_found_by_their_marker(tmp_path):
    tree(tmp_path, "myenv/lib/python3/site-packages/pkg", "app")
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    result, virtualenvs, _ = plan(tmp_path)
    assert result == {".": False, "app": True}
    assert virtualenvs == [str(tmp_path / "myenv")]


def test_symlink_loops_are_not_followed(tmp_path):
    tree(tmp_path, "a/b")
    os.symlink(tmp_path, tmp_path / "a" / "b" / "loop")
    result, _, _ = plan(tmp_path)
    assert result == {".": True}


def test_unreadable_directories_are_reported_not_fatal(tmp_path):
    tree(tmp_path, "ok", "secret/inner")
    os.chmod(tmp_path / "secret", 0)
    try:
        result, _, problems = plan(tmp_path)
    finally:
        os.chmod(tmp_path / "secret", 0o755)
    if os.geteuid() == 0:
        assert result == {".": True}  # root reads everything
    else:
        assert result["ok"] is True and result["."] is False
        assert any("secret" in p for p in problems)
