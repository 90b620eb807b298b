"""Removing stale bytecode: the cached files of a changed source, and nothing else."""

import importlib.util
import os
import py_compile

from devserver.bytecode import cached_files, forget_bytecode


def test_every_optimisation_level_of_a_changed_source_goes(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    written = [py_compile.compile(str(source), optimize=level) for level in (0, 1, 2)]
    other = tmp_path / "other.py"
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
