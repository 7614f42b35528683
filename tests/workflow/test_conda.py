"""`snakemake --use-conda`: the rule environment and what the workflow needs before any job runs.

conda's channels cannot be reached where these tests run, so no environment is really built.
What is checked instead: the conda files pin what pyproject.toml pins, the rule environment
names no path, Snakemake parses and plans the workflow in a process where torch, MLflow, CuPy
(and SciPy, Matplotlib, tqdm) cannot be imported, and Snakemake's own environment creation,
run against a stand-in ``conda``, installs the workflow's checkout through the post-deploy script.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.workflow.helpers import ROOT, job_counts, snakemake

RULE_ENV = ROOT / "workflow" / "envs" / "advdiff.yaml"
POST_DEPLOY = ROOT / "workflow" / "envs" / "advdiff.post-deploy.sh"  # found by Snakemake next to RULE_ENV
USER_ENV = ROOT / "environment.yml"
CONFIG = ROOT / "config" / "config.yaml"
STUDY = ROOT / "config" / "study.yaml"

# Modules the workflow must not need while Snakemake parses it and plans the jobs (the jobs import them).
BLOCKED = ("torch", "torchvision", "torch_fidelity", "mlflow", "cupy", "cupyx", "scipy", "matplotlib", "tqdm")

# Installed as sitecustomize in the Snakemake process: imports of BLOCKED fail, and at exit the process
# writes whether `import torch` fails there, which blocked modules got loaded anyway (e.g. by a .pth
# file before this ran), and ADVDIFF_SOURCE (set by workflow/rules/common.smk for the post-deploy script).
SITECUSTOMIZE = """
import atexit
import importlib.abc
import json
import os
import sys

BLOCKED = frozenset(os.environ["ADVDIFF_TEST_BLOCKED"].split(","))


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked by the test")
        return None


sys.meta_path.insert(0, Blocker())


def report():
    try:
        import torch  # noqa: F401

        torch_import = "succeeded"
    except ImportError:
        torch_import = "failed"
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)
    with open(os.environ["ADVDIFF_TEST_REPORT"], "w") as fh:
        json.dump({"import_torch": torch_import, "loaded": loaded, "source": os.environ.get("ADVDIFF_SOURCE")}, fh)


atexit.register(report)
"""


def _pins(specs: list[str]) -> dict[str, str]:
    """``name==version`` entries as {normalised name: version}; other entries are left out."""
    out = {}
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", spec.strip())
        if match:
            out[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return out


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda_file(path: Path) -> tuple[list[str], list[str]]:
    """The conda dependencies (strings) and the pip section of a conda environment file."""
    deps = yaml.safe_load(path.read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = [entry for d in deps if isinstance(d, dict) for entry in d.get("pip", [])]
    return conda, pip


def _strings(node) -> list[str]:
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(k) + _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


@pytest.fixture
def blocked(tmp_path) -> tuple[dict[str, str], Path]:
    """Environment variables that make a Python process refuse BLOCKED, and the file of its exit report."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    report = tmp_path / "blocker_report.json"
    python_path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": python_path, "ADVDIFF_TEST_BLOCKED": ",".join(BLOCKED), "ADVDIFF_TEST_REPORT": str(report)}
    return env, report


def _check_blocked_run(report: Path) -> None:
    """The blocker was active in the Snakemake process, nothing blocked got in, and the checkout was exported."""
    seen = json.loads(report.read_text())
    assert seen["import_torch"] == "failed"  # control: the blocker did engage in that process
    assert seen["loaded"] == []
    assert seen["source"] == str(ROOT)


@pytest.mark.parametrize("path", [RULE_ENV, USER_ENV], ids=lambda p: p.name)
def test_conda_file_pins_what_pyproject_pins(path):
    """Every pip entry of the conda file is a pin equal to pyproject's (run and dev), none missing."""
    project = _project()
    expected = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    conda, pip = _conda_file(path)
    pinned = _pins(pip)
    assert pinned == expected
    others = [entry for entry in pip if not _pins([entry])]
    # environment.yml installs the repository it lives in; the rule environment installs nothing by path
    assert others == (["-e ."] if path == USER_ENV else [])
    python = next(d for d in conda if re.fullmatch(r"python(=.*)?", d))
    assert SpecifierSet(project["requires-python"]).contains(python.partition("=")[2])


def test_rule_environment_names_no_path():
    """No entry of the rule environment is a path (Snakemake creates it from a copy kept elsewhere)."""
    env = yaml.safe_load(RULE_ENV.read_text())
    conda, pip = _conda_file(RULE_ENV)
    assert conda and pip
    for text in _strings(env):
        assert not text.startswith(("-", ".", "/", "~", "file:")), text
        assert "/" not in text and "\\" not in text and ".." not in text, text
    for spec in conda:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(=[A-Za-z0-9_.*]+)?", spec), spec
    for spec in pip:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+!]+", spec), spec


def test_post_deploy_script_installs_the_named_checkout(tmp_path):
    """The post-deploy script installs ADVDIFF_SOURCE (editable, no dependencies) from any folder, and
    refuses to run without it."""
    fake = tmp_path / "bin"
    fake.mkdir()
    record = tmp_path / "python_args"
    (fake / "python").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    (fake / "python").chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": f"{fake}:/usr/bin:/bin", "ADVDIFF_SOURCE": str(ROOT)}
    res = subprocess.run(["sh", str(POST_DEPLOY)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert record.read_text().splitlines() == ["-m", "pip", "install", "--no-deps", "-e", str(ROOT)]
    record.unlink()
    res = subprocess.run(
        ["sh", str(POST_DEPLOY)], cwd=elsewhere, env={"PATH": env["PATH"]}, capture_output=True, text=True
    )
    assert res.returncode != 0 and "ADVDIFF_SOURCE" in res.stderr
    assert not record.exists()


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["-n", "--configfile", str(CONFIG)], "all"),
        # --configfile takes every word after it, so the target comes first
        (["-n", "study", "--configfile", str(CONFIG), str(STUDY)], "study"),
    ],
    ids=["default", "study"],
)
def test_workflow_is_parsed_and_planned_without_torch(tmp_path, blocked, args, target):
    """A dry run in a process where torch & co. cannot be imported plans the target's jobs."""
    env, report = blocked
    work = tmp_path / "work"
    work.mkdir()
    res = snakemake(*args, cwd=work, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs[target] == 1 and jobs["train"] >= 1 and jobs["track"] == jobs["train"], jobs
    _check_blocked_run(report)
    assert not (work / "results").exists()


def _stand_in_conda(folder: Path) -> tuple[Path, Path]:
    """A ``conda`` that answers what Snakemake asks and "creates" an environment whose ``python`` records
    its arguments; returns the folder to put on PATH and the file listing the environment files given."""
    bin_dir, base = folder / "bin", folder / "base"
    (base / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    created = folder / "created.txt"
    (base / "bin" / "activate").write_text('export PATH="$1/bin:$PATH"\n')  # sourced with the environment
    env_python = '#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/../python_args"\n'
    (bin_dir / "conda").write_text(
        f"#!{sys.executable} -I\n"
        + textwrap.dedent(f"""
        import json, os, sys
        args = sys.argv[1:]
        if args[:2] == ["info", "--json"]:
            print(json.dumps({{"conda_prefix": {str(base)!r}, "platform": "linux-64"}}))
        elif args == ["--version"]:
            print("conda 24.11.3")
        elif args[:2] == ["config", "--get"]:
            print(json.dumps({{"get": {{"channel_priority": "strict"}}}}))
        elif args[:2] == ["env", "create"]:
            prefix = args[args.index("--prefix") + 1]
            os.makedirs(os.path.join(prefix, "bin"))
            python = os.path.join(prefix, "bin", "python")
            with open(python, "w") as fh:
                fh.write({env_python!r})
            os.chmod(python, 0o755)
            with open({str(created)!r}, "a") as fh:
                fh.write(args[args.index("--file") + 1] + "\\n")
        elif args[:1] != ["clean"]:  # clean: nothing was downloaded
            sys.exit("stand-in conda: unexpected " + " ".join(args))
        """)
    )
    (bin_dir / "conda").chmod(0o755)
    return bin_dir, created


@pytest.mark.workflow
def test_use_conda_creates_the_rule_environment_from_its_copy(tmp_path, blocked):
    """With ``--use-conda`` (a stand-in conda, environments kept outside the working folder) Snakemake
    creates the rule environment from a copy of envs/advdiff.yaml and its post-deploy script installs
    this checkout: nothing depends on where the copy lies."""
    env, report = blocked
    bin_dir, created = _stand_in_conda(tmp_path / "conda")
    prefix = tmp_path / "envs"
    work = tmp_path / "work"
    work.mkdir()
    env = {**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    res = snakemake(
        "--use-conda",
        "--conda-create-envs-only",
        "--conda-prefix",
        str(prefix),
        "--configfile",
        str(CONFIG),
        cwd=work,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    files = [Path(line) for line in created.read_text().splitlines()]
    assert len(files) == 1 and files[0].parent == prefix  # one environment, made from a copy in --conda-prefix
    assert files[0].read_text() == RULE_ENV.read_text()
    python_args = files[0].with_suffix("") / "python_args"
    assert python_args.read_text().splitlines() == ["-m", "pip", "install", "--no-deps", "-e", str(ROOT)]
    _check_blocked_run(report)
    assert not (work / "results").exists()


@pytest.mark.parametrize("config", [CONFIG, STUDY, ROOT / "config" / "paper.yaml"], ids=lambda p: p.stem)
def test_the_sweep_is_expanded_without_torch(tmp_path, blocked, config):
    """What the workflow does when it is parsed, without Snakemake (fast): expand and check a sweep with
    torch & co. blocked, so a module-level import of torch on that path fails here first."""
    env, report = blocked
    code = (
        "import sys, yaml\n"
        "from advdiff.sweep import build_sweep\n"
        "sweep = build_sweep(yaml.safe_load(open(sys.argv[1]))['sweep'])\n"
        "print(len(sweep.points))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        cwd=tmp_path,
        env={**os.environ, **env, "ADVDIFF_SOURCE": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert int(res.stdout.strip()) >= 1
    _check_blocked_run(report)
