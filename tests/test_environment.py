"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

import re

import tomllib
import yaml

from cnncourse.course import find_root

ROOT = find_root(__file__)
# pip name -> conda-forge name, where they differ
CONDA_NAMES = {"torch": "pytorch", "psycopg2-binary": "psycopg2"}


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", spec).groups()
        pins[CONDA_NAMES.get(name.lower(), name.lower())] = version
    return pins


def _conda_pins() -> tuple[dict[str, str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins, pip_section = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep.get("pip", [])
            continue
        name, _, version = dep.partition("=")
        pins[name.strip().lower()] = version.strip()
    for line in pip_section:  # packages only on PyPI, pinned in the pip section
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#")[0].strip())
        if found:
            pins[found.group(1).lower()] = found.group(2)
    return pins, pip_section


def test_every_pyproject_dependency_is_pinned_exactly():
    """Each dependency is pinned with == so that a whole class runs the same versions."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    loose = [d for d in project["dependencies"] + project["optional-dependencies"]["dev"]
             if "==" not in d]
    assert not loose, f"not pinned: {loose}"
    assert "torch==2.13.0" in project["dependencies"], "torch must stay at the CPU build 2.13.0"


def test_conda_and_pip_name_the_same_packages_and_versions():
    """environment.yml lists every pyproject package (conda names) at one version, no more."""
    pip_pins = _pyproject_pins()
    conda_pins, pip_section = _conda_pins()
    extra = set(conda_pins) - set(pip_pins) - {"python", "pip"}
    missing = set(pip_pins) - set(conda_pins)
    assert not missing, f"in pyproject.toml but not in environment.yml: {sorted(missing)}"
    assert not extra, f"in environment.yml but not in pyproject.toml: {sorted(extra)}"
    differ = {n: (pip_pins[n], conda_pins[n]) for n in pip_pins if pip_pins[n] != conda_pins[n]}
    assert not differ, f"versions differ (pyproject, environment.yml): {differ}"


def test_conda_environment_installs_the_package_itself():
    """The pip section installs this package, so `cnncourse` exists in the conda environment."""
    _, pip_section = _conda_pins()
    assert any(line.split()[-1] == "." for line in pip_section), pip_section
