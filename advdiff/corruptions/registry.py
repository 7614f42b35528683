"""The registry of corruption families by short name: ``register``, ``register_lazy``, ``build``.

``register(name)`` decorates a class, ``register_lazy(name, "module:Class")`` declares one whose
module is imported on first use (the ``advdiff`` family, so that importing the package does not
import the LBM), and ``build(name, **params)`` constructs one, rejecting unknown names and
parameters with the list of known ones.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from advdiff.corruptions.base import Corruption
from advdiff.errors import AdvdiffError, bad_value

C = TypeVar("C", bound=Corruption)


class FamilyUnavailableError(AdvdiffError, ImportError):
    """A registered corruption family's module cannot be imported here; the message says which and why."""


_REGISTRY: dict[str, type[Corruption]] = {}
_LAZY: dict[str, str] = {"advdiff": "advdiff.corruptions.advection:AdvectionDiffusion"}
_ORDER = ("ddpm", "heat", "blur", "advdiff")  # how families() lists the built-in families; others follow


def register(name: str) -> Callable[[type[C]], type[C]]:
    """Class decorator: register a :class:`Corruption` subclass under the short ``name``.

    Registering a name that is declared lazily (:func:`register_lazy`) replaces the
    declaration; registering a name already taken by another class is an error.
    """
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise bad_value("name", name, "a non-empty lower-case family name")

    def decorate(cls: type[C]) -> type[C]:
        if not (isinstance(cls, type) and issubclass(cls, Corruption)):
            raise TypeError(f"register({name!r}) expects a Corruption subclass, got {cls!r}")
        old = _REGISTRY.get(name)
        if old is not None and _qualname(old) != _qualname(cls):
            raise bad_value("name", name, f"a family name not yet taken (it is {_qualname(old)})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def register_lazy(name: str, target: str) -> None:
    """Declare family ``name`` as ``"package.module:Class"``, imported on first use by :func:`build`."""
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise bad_value("name", name, "a non-empty lower-case family name")
    module, sep, attr = target.partition(":") if isinstance(target, str) else ("", "", "")
    if not (module and sep and attr):
        raise bad_value("target", target, "'package.module:Class'")
    if name in _REGISTRY:
        raise bad_value("name", name, f"a family name not yet taken (it is {_qualname(_REGISTRY[name])})")
    _LAZY[name] = target


def families() -> tuple[str, ...]:
    """Names :func:`build` accepts: ``ddpm, heat, blur, advdiff``, then any other family in
    the order it was registered or declared (lazily declared families are listed before they are imported)."""
    names = list(_REGISTRY) + [name for name in _LAZY if name not in _REGISTRY]
    return tuple(sorted(names, key=lambda name: _ORDER.index(name) if name in _ORDER else len(_ORDER)))


def family_class(name: str) -> type[Corruption]:
    """The class of family ``name``, importing its module first if it is declared lazily.

    Raises
    ------
    advdiff.errors.ConfigError
        ``name`` is not a known family (the message lists them).
    FamilyUnavailableError
        The family's module cannot be imported here (an ``ImportError``; the cause is chained).
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key not in _LAZY:
        raise bad_value("family", name, f"one of {', '.join(families())}")
    target = _LAZY[key]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FamilyUnavailableError(
            f"corruption family '{key}' lives in {module_name} (class {attr}), which cannot be imported here: {exc}"
        ) from exc
    if key in _REGISTRY:  # the module registered itself
        return _REGISTRY[key]
    cls = getattr(module, attr, None)
    if cls is None:
        raise FamilyUnavailableError(f"corruption family '{key}': module {module_name} has no class {attr}")
    return register(key)(cls)


def known_params(name: str) -> tuple[str, ...]:
    """The parameters family ``name`` accepts: the keyword arguments of its constructor."""
    return _constructor_params(family_class(name))[0]


def build(name: str, **params: Any) -> Corruption:
    """Construct corruption family ``name`` (one of :func:`families`) with ``params``.

    Raises
    ------
    advdiff.errors.ConfigError
        Unknown family (the message lists the known ones), unknown parameter (it lists the
        family's parameters), or a parameter value outside what the family allows.
    FamilyUnavailableError
        The family's module cannot be imported here.
    """
    cls = family_class(name)
    names, open_ended = _constructor_params(cls)
    if not open_ended:
        for key in params:
            if key not in names:
                raise bad_value(
                    "parameter", key, f"a parameter of family '{cls.name}': one of {', '.join(names) or '(none)'}"
                )
    return cls(**params)


def _constructor_params(cls: type) -> tuple[tuple[str, ...], bool]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    sig = inspect.signature(cls)
    names = tuple(p.name for p in sig.parameters.values() if p.kind in kinds)
    open_ended = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return names, open_ended


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
