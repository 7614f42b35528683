"""Exception types shared across the package."""

from __future__ import annotations


class AdvdiffError(Exception):
    """Base class of the errors this package raises on purpose."""


class ConfigError(AdvdiffError, ValueError):
    """An input value is outside what is allowed; the message names the key, the value and the range."""


class BackendUnavailableError(AdvdiffError, RuntimeError):
    """A requested compute backend cannot run here; the message says why."""


def bad_value(key: str, value: object, allowed: str) -> ConfigError:
    """Build a :class:`ConfigError` with the house format: key, value, what is allowed."""
    return ConfigError(f"{key}={value!r} is not allowed: expected {allowed}")
