"""Image sets for the scores: folders or tensors, checked, as uint8 (N, C, H, W).

Every score works on 8-bit images, as written to PNG: float images in [0, 1] are rounded to the
256 levels (values outside [0, 1] are clipped, and how many were is logged); NaN or infinite values
are an error naming the set and the count. A folder must hold at least one image and all its images
must have one size (no silent resizing: FID depends on it). Grey folders stay one-channel (an RGB
image with R = G = B everywhere counts as grey).
"""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from advdiff.data.base import DataError
from advdiff.data.folder import IMAGE_EXTENSIONS, list_images, read_image
from advdiff.errors import ConfigError, bad_value

log = logging.getLogger(__name__)


def to_uint8(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Check an image batch and return it as uint8 (N, C, H, W), C = 1 or 3, on the CPU.

    uint8 passes through; floating images are taken as [0, 1] intensities, rounded to 8 bits.
    """
    if not isinstance(images, torch.Tensor):
        raise bad_value(name, type(images).__name__, "a tensor of images (N, C, H, W)")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise bad_value(f"{name}.shape", tuple(images.shape), "(N, C, H, W) with C = 1 (grey) or 3 (RGB)")
    if images.shape[0] == 0 or images.shape[2] == 0 or images.shape[3] == 0:
        raise bad_value(f"{name}.shape", tuple(images.shape), "at least one image of at least 1 x 1 pixels")
    images = images.detach().cpu()
    if images.dtype == torch.uint8:
        return images.contiguous()
    if not images.is_floating_point():
        raise bad_value(f"{name}.dtype", str(images.dtype), "uint8 (0-255) or a floating type ([0, 1])")
    bad = ~torch.isfinite(images)
    if bad.any():
        per_image = bad.flatten(1).any(dim=1)
        first = int(per_image.nonzero()[0, 0])
        raise ConfigError(
            f"{name} hold {int(bad.sum())} NaN or infinite values in {int(per_image.sum())} of "
            f"{images.shape[0]} images (first: image {first}); the sampler diverged or the model is broken: "
            "fix the samples (e.g. retrain or use another sampler) before scoring them"
        )
    outside = ((images < 0) | (images > 1)).sum()
    if outside:
        log.info("%s: %d of %d values outside [0, 1] clipped", name, int(outside), images.numel())
    return images.to(torch.float32).clamp(0, 1).mul(255).add(0.5).floor().to(torch.uint8).contiguous()


def read_folder(folder: str | PathLike[str], name: str = "folder", limit: int | None = None) -> torch.Tensor:
    """All images of a folder (recursive, sorted; the first ``limit``) as uint8 (N, C, H, W)."""
    path = Path(folder)
    if not path.is_dir():
        raise bad_value(name, str(path), "an existing folder of images")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise bad_value(f"{name} limit", limit, "None or an integer >= 1")
    files = list_images(path)
    if not files:
        raise DataError(
            f"{name} {path} holds no images (files ending in {', '.join(IMAGE_EXTENSIONS)}); "
            "write the images there first, or point to the right folder"
        )
    files = files[:limit]
    arrays = []
    sizes: dict[tuple[int, int], Path] = {}
    for file in files:
        image = read_image(file, channels=3)
        sizes.setdefault(image.size, file)
        if len(sizes) > 1:
            (w0, h0), first = next(iter(sizes.items()))
            w1, h1 = image.size
            raise DataError(
                f"{name} {path} mixes image sizes: {first.name} is {w0}x{h0} but {file.name} is {w1}x{h1}; "
                "scores need one size per set: resize the images to one size first"
            )
        arrays.append(np.asarray(image, dtype=np.uint8))
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    if torch.equal(batch[:, 0], batch[:, 1]) and torch.equal(batch[:, 0], batch[:, 2]):
        batch = batch[:, :1].contiguous()
    log.info("%s %s: %d images %dx%d, %d channel(s)", name, path, *batch.shape[:1], *batch.shape[2:], batch.shape[1])
    return batch
