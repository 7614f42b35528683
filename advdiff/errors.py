"""Exception types shared across the package."""

from __future__ import annotations


class AdvdiffError(Exception):
    """Base class of the errors this package raises on purpose."""


class ConfigError(AdvdiffError, ValueError):
    """An input value is outside what is allowed; the message names the key, the value and the range.

    ``key`` is the dotted key the error is about when it is known (``bad_value`` sets it), so that
    callers can place or prefix it without parsing the message.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    def prefixed(self, prefix: str) -> ConfigError:
        """The same error one section further out: ``prefix.`` before the message and the key."""
        return ConfigError(f"{prefix}.{self}", None if self.key is None else f"{prefix}.{self.key}")


class BackendUnavailableError(AdvdiffError, RuntimeError):
    """A requested compute backend cannot run here; the message says why."""


def bad_value(key: str, value: object, allowed: str) -> ConfigError:
    """Build a :class:`ConfigError` with the house format: key, value, what is allowed."""
    return ConfigError(f"{key}={value!r} is not allowed: expected {allowed}", key)
