"""Imports flow one way: the workflow's helpers and reports on top, then training, sampling and metrics
(independent of one another), then corruptions, data and models, then fields, the LBM and the utilities.

Every import statement of the package is read, those inside functions included, so a lazy import
cannot hide a dependency that points upwards.
"""

import ast
from pathlib import Path

import advdiff

PACKAGE = Path(advdiff.__file__).parent

LAYERS = [
    {"errors"},
    {"__init__", "files", "devices", "yaml_files", "data_settings", "mapping", "stats", "naming"},
    {"lbm"},
    {"fields"},
    {"corruptions", "data", "models"},
    {"training", "sampling", "metrics"},
    {"tracking", "analysis", "bench"},
    {"preflight"},
    {"sweep", "runs"},
    {"reporting", "gpucheck"},
    {"cli", "corrupt"},
    {"__main__"},
]
"""Layers from the bottom up: a module may import its own part of the package and the layers below."""


def _part(module: str) -> str:
    """The top-level part of ``advdiff.<part>[.more]`` (``__init__`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``advdiff`` import in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("advdiff"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("advdiff")]
    return found


def test_every_part_of_the_package_has_a_layer():
    parts = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    layered = set().union(*LAYERS)
    assert parts == layered, f"not layered: {sorted(parts - layered)}; gone: {sorted(layered - parts)}"


def test_imports_point_down_only():
    rank = {part: i for i, layer in enumerate(LAYERS) for part in layer}
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for line, module in _imports(path):
            there = _part(module)
            if there != here and rank[there] >= rank[here]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({here}) imports {module} ({there})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_layer_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from advdiff.runs import sample_run\n    import advdiff.sweep.points\n")
    assert _imports(source) == [(2, "advdiff.runs"), (3, "advdiff.sweep.points")]
