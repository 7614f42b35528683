"""Image sets for the scores: folders or tensors, checked, as uint8 (N, C, H, W).

Every score works on 8-bit images, as written to PNG: float images in [0, 1] are rounded to the
256 levels. Values outside [0, 1] are clipped with a logged warning, but when more than
:data:`MAX_OUTSIDE_FRACTION` of them lie beyond [-:data:`RANGE_TOLERANCE`, 1 + :data:`RANGE_TOLERANCE`]
the images are refused: scores of mostly clipped samples describe the clipping, not the model. NaN
or infinite values are an error naming the set and the count. A folder must hold at least one image
and all its images must have one size, and real and generated images must have the same size (no
silent resizing: FID depends on it; :func:`check_same_size`). Grey folders stay one-channel (an RGB
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

RANGE_TOLERANCE = 0.05
"""Float images may reach this far beyond [0, 1] (sampler overshoot) and are then clipped without refusal."""
MAX_OUTSIDE_FRACTION = 0.5
"""Largest fraction of values beyond [-RANGE_TOLERANCE, 1 + RANGE_TOLERANCE] that is clipped (with a
warning), not refused: beyond it the set is mostly clipping (a red-team sample set had 99.6 %), while
briefly trained models overshoot on part of their pixels and are still scored, with the warning."""


def check_same_size(real: tuple[int, int], fake: tuple[int, int]) -> None:
    """Refuse real and generated images of different sizes (H, W): the scores would compare unlike images."""
    (hr, wr), (hf, wf) = (int(v) for v in real), (int(v) for v in fake)
    if (hr, wr) != (hf, wf):
        raise ConfigError(
            f"image size: the real images are {wr}x{hr} px but the generated images are {wf}x{hf} px; "
            "scores compare one size with itself: draw the samples at the real images' size (the run's "
            "dataset.size), or score against real images of the generated size (resize one set first)"
        )


def _check_range(images: torch.Tensor, name: str) -> None:
    """Log clipping of values outside [0, 1]; refuse sets with too many values far outside it."""
    low, high = -RANGE_TOLERANCE, 1.0 + RANGE_TOLERANCE
    count = images.numel()
    far = int(((images < low) | (images > high)).sum())
    if far > MAX_OUTSIDE_FRACTION * count:
        raise ConfigError(
            f"{name}: {far / count:.1%} of the values ({far} of {count}) lie outside [{low:g}, {high:g}] "
            f"(allowed: at most {MAX_OUTSIDE_FRACTION:.0%}); images are [0, 1] intensities, and scores of "
            "mostly clipped samples would describe the clipping: check the sampler and the model (or the "
            "samples' value range, e.g. [-1, 1] data must be mapped to [0, 1]) before scoring them"
        )
    outside = int(((images < 0) | (images > 1)).sum())
    if outside:
        log.warning(
            "%s: %d of %d values (%.2g%%) outside [0, 1] clipped", name, outside, count, 100.0 * outside / count
        )


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
    _check_range(images, name)
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
