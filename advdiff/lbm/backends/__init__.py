"""LBM backends with one signature: ``numpy`` (reference), ``cpu`` (compiled), ``cupy`` (CUDA).

Backends are imported only when asked for, so the package imports and runs without
CuPy. Asking for a backend that cannot run here raises
:class:`~advdiff.errors.BackendUnavailableError` saying why; nothing falls back silently.
"""

from __future__ import annotations

import logging
from typing import Any

from advdiff.errors import BackendUnavailableError, bad_value

log = logging.getLogger(__name__)

NAMES = ("auto", "numpy", "cpu", "cupy")
"""Backend names accepted by :func:`get_backend`."""


_AUTO_SAID: set[str] = set()


def get_backend(name: str = "auto") -> Any:
    """Instantiate the backend ``name``.

    ``auto`` picks ``cupy`` where CuPy and a CUDA device are usable, else ``cpu``, and says so in the
    log (at INFO, with the reason); the corruption that ran it records the backend it got
    (``AdvectionDiffusion.backend_used``).
    """
    if name not in NAMES:
        raise bad_value("backend", name, f"one of {', '.join(NAMES)}")
    if name == "auto":
        try:
            backend = get_backend("cupy")
        except BackendUnavailableError as exc:
            reason = str(exc)
            if reason not in _AUTO_SAID:  # once per reason and process, not once per trajectory
                _AUTO_SAID.add(reason)
                log.info("LBM backend auto: running on the CPU (backend cpu), CuPy is not usable here: %s", reason)
            return get_backend("cpu")
        return backend
    cls = _backend_class(name)
    if name == "cpu":
        cls.check_available()
    return cls()


def _backend_class(name: str) -> Any:
    if name == "numpy":
        from advdiff.lbm.backends.numpy_ref import NumpyBackend

        return NumpyBackend
    if name == "cpu":
        from advdiff.lbm.backends.cpu import CpuBackend

        return CpuBackend
    from advdiff.lbm.backends.cupy_backend import CupyBackend

    return CupyBackend


def variants(name: str) -> tuple[str, ...]:
    """Solver variants that backend ``name`` offers, without starting it (``auto``: those cpu and cupy share)."""
    if name not in NAMES:
        raise bad_value("backend", name, f"one of {', '.join(NAMES)}")
    if name == "auto":
        return tuple(v for v in variants("cpu") if v in variants("cupy"))
    return tuple(getattr(_backend_class(name), "variants", ("default",)))


def available() -> dict[str, str]:
    """Every concrete backend with 'ok' or the reason it cannot run here."""
    out = {}
    for name in NAMES[1:]:
        try:
            get_backend(name)
            out[name] = "ok"
        except BackendUnavailableError as exc:
            out[name] = str(exc)
    return out
