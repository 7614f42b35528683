"""pyproject.toml, environment.yml and the workflow's conda file pin the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(specs):
    out = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^;\s]+)", spec.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def _conda_pip(path):
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return _pins(pip)


def test_conda_files_pin_what_pyproject_pins():
    """Every exact pin of pyproject (run + dev) appears with the same version in both conda files."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    assert len(expected) >= 12
    for path in (ROOT / "environment.yml", ROOT / "workflow" / "envs" / "advdiff.yaml"):
        assert _conda_pip(path) == expected, path
