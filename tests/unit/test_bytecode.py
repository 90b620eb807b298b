"""Removing stale bytecode: the cached files of a changed source, and nothing else."""

import importlib.util
import os
import py_compile

from devserver.bytecode import cached_files, forget_bytecode


def test_every_optimisation_level_of_a_changed_source_goes(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    written = [py_compile.compile(str(source), optimize=level) for level in (0, 1, 2)]
    other = tmp_path / "module.py"  # a name that starts like it
    other.write_text("Y = 1\n")
    kept = py_compile.compile(str(other))
    assert sorted(cached_files(str(source))) == sorted(written)
    assert forget_bytecode([str(source), str(tmp_path / "data.json")]) == 3
    assert not any(os.path.exists(p) for p in written)
    assert os.path.exists(kept)


def test_nothing_cached_is_not_an_error(tmp_path):
    source = tmp_path / "fresh.py"
    source.write_text("X = 1\n")
    assert cached_files(str(source)) == []
    assert forget_bytecode([str(source)]) == 0
    assert importlib.util.cache_from_source(str(source)).endswith(".pyc")


def test_a_big_burst_lists_each_cache_directory_once(tmp_path, monkeypatch):
    sources = []
    for i in range(50):
        source = tmp_path / f"m{i}.py"
        source.write_text("X = 1\n")
        py_compile.compile(str(source))
        sources.append(str(source))
    listed = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda d: listed.append(d) or real(d))
    assert forget_bytecode(sources) == 50
    assert len(listed) == 1
    assert not os.listdir(tmp_path / "__pycache__")
