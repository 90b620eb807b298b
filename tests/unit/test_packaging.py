"""The package metadata, LICENSE, CHANGELOG and README's first screen agree with each other."""

import re
import sys
from pathlib import Path

import devserver

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - depends on the interpreter
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def lower_bound(name: str) -> str:
    for requirement in PROJECT["dependencies"]:
        match = re.fullmatch(rf"{name}\s*>=\s*([0-9.]+)\s*(?:,.*)?", requirement.split(";")[0].strip())
        if match:
            return match.group(1)
    raise AssertionError(f"no lower bound for {name} in pyproject.toml")


def test_license_file_matches_the_metadata():
    assert PROJECT["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_classifiers_name_status_platform_and_pythons():
    classifiers = PROJECT["classifiers"]
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert "Operating System :: POSIX" in classifiers
    minor = PROJECT["requires-python"].removeprefix(">=3.")
    assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Programming Language :: Python :: 3.13" in classifiers


def test_changelog_has_unreleased_then_a_dated_current_version():
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings[0] == ("Unreleased", "")
    versions = dict(headings[1:])
    assert devserver.__version__ in versions
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", versions[devserver.__version__])


def test_readme_first_screen_says_how_to_install_and_where_it_runs():
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:15])
    assert "pip install" in first_screen and "Platforms:" in first_screen
    assert f"Tornado ≥ {lower_bound('tornado')}" in first_screen
    assert f"watchdog ≥ {lower_bound('watchdog')}" in first_screen
