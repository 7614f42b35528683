"""Checks of run-time settings made before any work: sampler names, devices and tracking URIs.

These values are not part of a run's identity, so :class:`~advdiff.training.TrainConfig` and the
schema cannot judge them alone, yet each used to fail only after training (a sampler name when
sampling, a tracking URI when recording, ``device: cuda`` on a machine without a usable GPU as a
raw ``RuntimeError``). The workflow calls :func:`check_workflow` when it is parsed (after
:func:`advdiff.sweep.build_sweep`), and ``advdiff train/sample/evaluate`` call the single checks
when they start. Every error is a :class:`~advdiff.errors.ConfigError` naming the key, the value
and what is allowed. :func:`check_workflow` needs no torch (Snakemake may parse the workflow in an
environment without it); the jobs check their device again with torch when they start.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from advdiff.errors import ConfigError, bad_value

log = logging.getLogger(__name__)

TRACKING_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")
"""URI schemes of the MLflow stores the workflow can record into (``scheme+driver://`` allowed for databases)."""

BENCH_LBM_LIMITS: dict[str, tuple[int, int]] = {
    "batch": (1, 256),
    "channels": (1, 16),
    "size": (8, 4096),
    "steps": (1, 100_000),
}
"""Bounds of ``advdiff bench lbm``'s sizes (the same as ``bench.*`` in the workflow's schema)."""

_DATABASES = ("postgresql", "mysql", "mssql")


def check_sampler(sampler: Any, families: Iterable[str], key: str = "sampler") -> str | None:
    """``None`` (each family's own sampler) or a sampler name that fits every family in ``families``."""
    from advdiff.sampling import DEFAULT_SAMPLERS, SAMPLERS
    from advdiff.sampling.base import FITS

    if sampler is None:
        return None
    fams = list(families)
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise bad_value(key, sampler, f"null (each family's own sampler) or one of {', '.join(SAMPLERS)}")
    unfit = [fam for fam in fams if fam not in FITS[sampler]]
    if unfit:
        own = ", ".join(f"{fam}: {DEFAULT_SAMPLERS.get(fam, 'none')}" for fam in unfit)
        raise bad_value(
            key,
            sampler,
            f"a sampler that fits every family here, or null for each family's own "
            f"(sampler '{sampler}' fits {', '.join(FITS[sampler])}; the others' own: {own})",
        )
    return sampler


def _device_name(device: Any, key: str) -> str:
    from advdiff.devices import check_device

    try:
        return check_device(device)
    except ConfigError:
        raise bad_value(key, device, "auto, cpu, cuda or cuda:N") from None


def check_device(device: Any, key: str = "device") -> str:
    """Check ``device`` (auto, cpu, cuda, cuda:N) and, for CUDA, that torch can use a GPU here."""
    from advdiff.devices import resolve_device

    name = _device_name(device, key)
    resolve_device(name, key)
    return name


def cuda_device_count() -> int:
    """GPUs the CUDA driver shows this process (0 without a driver), asked without torch.

    Torch runs on the same driver: where this is 0, ``torch.cuda.is_available()`` is false too.
    """
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def check_planned_device(device: Any, key: str = "device", *, gpus_requested: int = 0) -> str:
    """Check ``device`` for jobs planned now, without torch: for CUDA, that the CUDA driver shows a GPU here.

    With ``gpus_requested`` > 0 the jobs ask a scheduler for GPUs (the workflow's ``resources.gpu``)
    and may run on other machines: a machine without a GPU is then only logged here. Either way the
    job checks again with torch when it starts (:func:`check_device`).
    """
    name = _device_name(device, key)
    if not name.startswith("cuda"):
        return name
    count = cuda_device_count()
    if count == 0 and gpus_requested > 0:
        log.info(
            "%s=%s: no CUDA GPU here; the jobs ask for %d GPU(s) each and check it where they run",
            key,
            name,
            gpus_requested,
        )
        return name
    if count == 0:
        raise bad_value(key, name, "auto or cpu: no CUDA GPU is usable here (the CUDA driver shows none)")
    index = int(name.partition(":")[2] or 0)
    if index >= count:
        raise bad_value(key, name, f"auto, cpu, cuda or cuda:0 to cuda:{count - 1} ({count} GPU(s) here)")
    return name


def check_tracking_uri(uri: Any, root: str | os.PathLike[str] = ".") -> str:
    """The MLflow tracking URI that will be used (see :func:`advdiff.tracking.tracking_uri`), checked.

    Refused: a scheme MLflow cannot record into here (listing :data:`TRACKING_SCHEMES`), file
    stores, ``sqlite://`` without an absolute or relative path, a server URI without a host or with
    a bad port, and white space or control characters anywhere.
    """
    from advdiff.tracking import ENV_URI, tracking_uri

    key = "tracking.uri" if uri else ENV_URI
    if uri is not None and not isinstance(uri, str):
        raise bad_value(key, uri, "null or a tracking URI string")
    resolved = tracking_uri(uri, root)
    if re.search(r"[\s\x00-\x1f\x7f]", resolved):
        raise bad_value(key, resolved, "a URI without spaces or control characters")
    scheme = resolved.split("://", 1)[0].lower()
    base = scheme.split("+", 1)[0]
    allowed = ", ".join(f"{s}://" for s in TRACKING_SCHEMES)
    if base not in TRACKING_SCHEMES or (base not in _DATABASES and base != scheme):
        raise bad_value(key, resolved, f"a URI with a supported scheme: {allowed}")
    if base == "sqlite":
        if not resolved.startswith("sqlite:///") or resolved.rstrip("/") == "sqlite:":
            raise bad_value(key, resolved, "sqlite:///ABSOLUTE/PATH.db or sqlite:///RELATIVE/PATH.db")
        return resolved
    parts = urlsplit(resolved)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port == -1 or (base != "databricks" and not parts.hostname):
        need = "a host (and an optional port 1-65535)" if base != "databricks" else "a profile name"
        raise bad_value(key, resolved, f"{scheme}://HOST[:PORT]... with {need}")
    if port is not None and not 0 < port < 65536:
        raise bad_value(key, resolved, f"{scheme}://HOST[:PORT]... with a port from 1 to 65535")
    return resolved


def check_workflow(config: Mapping[str, Any]) -> None:
    """The workflow's run-time settings, checked when it is parsed (after the schema and ``build_sweep``).

    ``sweep.sample.sampler`` against every family of the sweep, ``sweep.train.device`` and
    ``sweep.evaluate.device`` against this machine's CUDA driver (unless ``resources.gpu`` asks a
    scheduler for GPUs; :func:`check_planned_device`), and ``tracking.uri`` (or ``$MLFLOW_TRACKING_URI``).
    """
    sweep = config.get("sweep") or {}
    gpus = int((config.get("resources") or {}).get("gpu") or 0)
    check_sampler((sweep.get("sample") or {}).get("sampler"), sweep.get("families") or [], "sweep.sample.sampler")
    for section in ("train", "evaluate"):
        device = (sweep.get(section) or {}).get("device", "auto")
        check_planned_device(device, f"sweep.{section}.device", gpus_requested=gpus)
    check_tracking_uri((config.get("tracking") or {}).get("uri"))
