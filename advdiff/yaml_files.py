"""Reading YAML (and JSON) configuration files strictly: a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys without a word, so a configuration edited by hand can
silently lose a setting. :func:`load_yaml` refuses such a file with
:class:`~advdiff.errors.ConfigError` naming the key, its lines and the file; every configuration
file the package and the workflow read goes through it. Merge keys (``<<: *anchor``) may still be
overridden by the mapping's own keys, as YAML intends.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from advdiff.errors import ConfigError, bad_value

__all__ = ["check_yaml_files", "load_yaml"]


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, second: int) -> None:
        super().__init__(key, first, second)
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose mappings refuse a key that their own entries give twice."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise _DuplicateKey(key, first, line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | os.PathLike[str], key: str = "config") -> Any:
    """Parse the YAML (or JSON) file ``path``; a key given twice in one mapping is an error.

    Raises
    ------
    advdiff.errors.ConfigError
        The file does not exist, is not valid YAML, or repeats a key (the message names the key,
        both lines and the file). ``key`` names the setting that gave the path.
    """
    p = Path(path)
    if not p.is_file():
        raise bad_value(key, str(p), "an existing YAML or JSON file")
    try:
        return yaml.load(p.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except _DuplicateKey as dup:
        raise ConfigError(
            f"{key}={str(p)!r}: key {dup.key!r} is given twice (lines {dup.first} and {dup.second}); "
            "duplicate keys are not allowed (YAML would keep the last one silently): keep one of them",
            key,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{key}={str(p)!r} is not valid YAML/JSON: {exc}", key) from None


def check_yaml_files(paths: Iterable[str | os.PathLike[str]], key: str = "configfile") -> None:
    """Read every file of ``paths`` with :func:`load_yaml` (e.g. the workflow's ``--configfile`` files)."""
    for path in paths:
        load_yaml(path, key=key)
