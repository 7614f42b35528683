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

    def prefixed(self, prefix: str, note: str = "") -> ConfigError:
        """The same error one section further out: ``prefix.`` before the message and the key (``note`` after)."""
        return ConfigError(f"{prefix}.{self}{note}", None if self.key is None else f"{prefix}.{self.key}")

    def renamed(self, key: str, note: str = "") -> ConfigError:
        """The same error under another name for its key: the key at the start of the message replaced
        (e.g. a library's ``family_params.K`` as the sweep names it), ``note`` after the message."""
        text = str(self)
        if self.key is not None and text.startswith(self.key):
            text = key + text[len(self.key) :]
        else:
            text = f"{key}: {text}"
        return ConfigError(text + note, key)


class BackendUnavailableError(AdvdiffError, RuntimeError):
    """A requested compute backend cannot run here; the message says why."""


def bad_value(key: str, value: object, allowed: str) -> ConfigError:
    """Build a :class:`ConfigError` with the house format: key, value, what is allowed."""
    return ConfigError(f"{key}={value!r} is not allowed: expected {allowed}", key)
