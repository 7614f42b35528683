"""The sweep section's keys and defaults, read from the workflow's schema, where they are written once.

``workflow/schemas/config.schema.yaml`` is what Snakemake validates the configuration against
(filling in its defaults); :func:`~advdiff.sweep.build_sweep` fills in the same defaults for a
section given from Python, so the workflow and Python callers resolve a sweep alike. The
defaults of :class:`~advdiff.training.TrainConfig` are the library's and ``advdiff train``'s
(paper scale); a sweep's ``train`` section takes the schema's (CPU scale) instead.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from advdiff.errors import AdvdiffError

SCHEMA_FILE = Path(__file__).with_name("config.schema.yaml")
"""The workflow's configuration schema: a link to ``workflow/schemas/config.schema.yaml`` in a checkout,
a copy of it in a built wheel (package data)."""


@functools.cache
def _schema() -> dict[str, Any]:
    if not SCHEMA_FILE.is_file():
        raise AdvdiffError(
            f"the workflow's configuration schema is not at {SCHEMA_FILE}: reinstall advdiff "
            "from its repository checkout"
        )
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def schema_node(*path: str) -> dict[str, Any]:
    """The schema of one configuration key, e.g. ``schema_node("sweep", "train")``."""
    node = _schema()
    for name in path:
        node = node["properties"][name]
    return node


def _default(node: dict[str, Any]) -> Any:
    """A key's default as Snakemake fills it in: the ``default``, then its properties' defaults inside it."""
    value = copy.deepcopy(node.get("default"))
    if isinstance(value, dict):
        for name, child in (node.get("properties") or {}).items():
            if name not in value and "default" in child:
                value[name] = _default(child)
    return value


def schema_defaults(*path: str) -> Any:
    """The default of a configuration key (a fresh copy), e.g. ``schema_defaults("sweep", "sample")``."""
    return _default(schema_node(*path))


def schema_keys(*path: str) -> tuple[str, ...]:
    """The keys a configuration section allows, in the schema's order."""
    return tuple(schema_node(*path)["properties"])


SECTION_KEYS = schema_keys("sweep")
TRAIN_KEYS = schema_keys("sweep", "train")
SAMPLE_KEYS = schema_keys("sweep", "sample")
EVALUATE_KEYS = schema_keys("sweep", "evaluate")
FIGURE_KEYS = schema_keys("sweep", "figures")
