"""What the ``advdiff`` operator does at a given Péclet number, measured without any training.

For a set of images and field seeds, :func:`measure_departure` runs the family at Pe and at
Pe = 0 and returns, per level k (in units of the training noise sigma = 0.01 by default):

* ``departure``: D_k = RMS(x_k(Pe) - x_k(0)) of the operator as configured;
* ``compressive``: RMS of 9.5 (S(1) - 1), the density pattern that the authors' intensity map
  adds under a compressible field (S(1) is the solver's response to a uniform image with the
  same field; zero for ``intensity_map="none"``);
* ``transport``: RMS(S(x)(Pe) - S(x)(0)) of the map-free solver: what moving the image itself
  changes;
* ``tracer_travel``: RMS net displacement in pixels of tracers carried by the same velocity
  fields (bilinear interpolation, walls clamp), the measured counterpart of the upper bound
  sum_n U_n = Pe sigma_max^2 / (2 L).

Means and standard deviations are over field seeds (one independent field per image and seed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from advdiff.corruptions import build
from advdiff.corruptions.advection import PAPER_MAP_OFFSET, PAPER_MAP_SCALE
from advdiff.fields import velocity_callable

log = logging.getLogger(__name__)

TRAINING_NOISE = 0.01
"""The unit of the departures: the noise sigma added to the network input in training."""

COMPRESSIVE_GAIN = PAPER_MAP_OFFSET / PAPER_MAP_SCALE
"""Gain of the compressive term under the paper map: (rho - 0.95) / 0.1 = S(x) + 9.5 (S(1) - 1)."""


def _generators(seed: int, n: int) -> list[torch.Generator]:
    """Per-image field generators of one seed: image i gets its own, independent of the batch size."""
    states = [int(np.random.SeedSequence([seed, i]).generate_state(1)[0]) for i in range(n)]
    return [torch.Generator().manual_seed(state) for state in states]


def _rms(a: torch.Tensor) -> np.ndarray:
    """RMS over everything but the leading (level) axis, float64."""
    return a.double().flatten(1).pow(2).mean(dim=1).sqrt().numpy()


def tracer_travel(adv: Any, shape: tuple[int, int], generators: Sequence[torch.Generator], tracers: int = 64,
                  seed: int = 0) -> np.ndarray:  # fmt: skip
    """RMS net displacement (pixels) at every level of tracers carried by the family's velocity fields.

    Tracers start at uniformly random positions; each LBM step moves one by the field of that
    step, interpolated bilinearly at its position; positions are clamped to the image (walls).
    Returns an array of length K + 1 (0 at level 0).
    """
    H, W = shape
    sched = adv.schedule(H, W)
    K = adv.K
    if adv.params["peclet"] == 0:
        return np.zeros(K + 1)
    field = adv.turbulence(H, W, adv.image_seeds(list(generators), len(generators)))
    velocity = velocity_callable(field, sched, delay=1)  # as the collisions see it (see AdvectionDiffusion)
    rng = np.random.default_rng(seed)
    B = len(generators)
    start = np.stack([rng.uniform(0, H - 1, (B, tracers)), rng.uniform(0, W - 1, (B, tracers))])  # (2, B, N)
    pos = start.copy()
    ends = {int(e): k for k, e in enumerate(sched.level_end)}
    out = np.zeros(K + 1)
    batch = np.arange(B)[:, None]
    for n in range(sched.total_steps):
        v = np.asarray(velocity(n), dtype=np.float64)  # (B, 2, H, W): component 0 along x (width)
        y, x = pos
        y0 = np.clip(np.floor(y).astype(int), 0, H - 2)
        x0 = np.clip(np.floor(x).astype(int), 0, W - 2)
        fy, fx = (y - y0)[:, :, None], (x - x0)[:, :, None]
        g = np.moveaxis(v, 1, -1)  # (B, H, W, 2)
        moved = ((1 - fy) * (1 - fx) * g[batch, y0, x0] + (1 - fy) * fx * g[batch, y0, x0 + 1]
                 + fy * (1 - fx) * g[batch, y0 + 1, x0] + fy * fx * g[batch, y0 + 1, x0 + 1])  # fmt: skip
        vx, vy = moved[..., 0], moved[..., 1]
        pos = np.stack([np.clip(y + vy, 0, H - 1), np.clip(x + vx, 0, W - 1)])
        if n + 1 in ends:
            d = pos - start
            out[ends[n + 1]] = math.sqrt(float(np.mean(d[0] ** 2 + d[1] ** 2)))
    return out


def measure_departure(
    images: torch.Tensor,
    *,
    peclet: float,
    reynolds: float | None = None,
    intensity_map: str = "paper",
    divergence_free: bool = False,
    seeds: Sequence[int] = (0, 1, 2),
    unit: float = TRAINING_NOISE,
    tracers: int = 64,
    progress: bool = False,
    **family: Any,
) -> dict[str, Any]:
    """Departure of the ``advdiff`` operator at ``peclet`` from Pe = 0, split into its parts, per level.

    ``images`` is a (B, C, H, W) batch in [0, 1]; ``family`` holds further ``advdiff`` parameters
    (K, sigma_max, collision, backend, variant, ...). Returns per-level arrays (length K + 1) of
    the mean and standard deviation over ``seeds`` of ``departure``, ``compressive`` and
    ``transport`` in units of ``unit``, and ``tracer_travel`` in pixels, plus the settings.
    """
    common = dict(family, reynolds=reynolds, divergence_free=divergence_free)
    operator = build("advdiff", peclet=peclet, intensity_map=intensity_map, **common)
    plain = build("advdiff", peclet=peclet, intensity_map="none", **common)
    ref_op = build("advdiff", peclet=0.0, intensity_map=intensity_map, **common).trajectory(images)
    ref_plain = build("advdiff", peclet=0.0, intensity_map="none", **common).trajectory(images)
    B, _, H, W = images.shape
    ones = torch.ones(B, 1, H, W, dtype=images.dtype)
    per_seed: dict[str, list[np.ndarray]] = {"departure": [], "compressive": [], "transport": [], "tracer_travel": []}
    for seed in tqdm(seeds, desc=f"Pe {peclet:g}", disable=not progress, leave=False):
        traj = operator.trajectory(images, _generators(seed, B))
        per_seed["departure"].append(_rms(traj - ref_op) / unit)
        transport = plain.trajectory(images, _generators(seed, B)) - ref_plain
        per_seed["transport"].append(_rms(transport) / unit)
        if intensity_map == "paper":
            uniform = plain.trajectory(ones, _generators(seed, B))
            per_seed["compressive"].append(_rms(COMPRESSIVE_GAIN * (uniform - 1)) / unit)
        else:
            per_seed["compressive"].append(np.zeros(operator.K + 1))
        per_seed["tracer_travel"].append(tracer_travel(plain, (H, W), _generators(seed, B), tracers, seed))
    out: dict[str, Any] = {
        "peclet": float(peclet),
        "reynolds": reynolds,
        "intensity_map": intensity_map,
        "divergence_free": divergence_free,
        "size": [int(H), int(W)],
        "n_images": int(B),
        "seeds": [int(s) for s in seeds],
        "unit": unit,
        "K": operator.K,
        "sigmas": operator.sigmas.numpy().tolist(),
        "params": operator.describe()["params"],
    }
    for key, rows in per_seed.items():
        stack = np.stack(rows)
        out[key] = stack.mean(axis=0).tolist()
        out[f"{key}_std"] = (stack.std(axis=0, ddof=1) if len(rows) > 1 else np.zeros(stack.shape[1])).tolist()
    return out


def compressive_pattern(images_shape: tuple[int, int, int, int], *, peclet: float, levels: Sequence[int],
                        seed: int = 0, **family: Any) -> torch.Tensor:  # fmt: skip
    """The compressive term 9.5 (S(1) - 1) of the paper map at the given levels: (len(levels), B, 1, H, W)."""
    B, _, H, W = images_shape
    plain = build("advdiff", peclet=peclet, intensity_map="none", **family)
    uniform = plain.trajectory(torch.ones(B, 1, H, W), _generators(seed, B))
    return COMPRESSIVE_GAIN * (uniform[list(levels)] - 1)


def first_peclet_where(results: Sequence[dict[str, Any]], key: str = "transport", threshold: float = 1.0,
                       **match: Any) -> float | None:  # fmt: skip
    """Smallest Pe among ``results`` (that match ``match``) whose ``key`` reaches ``threshold`` at some level."""
    hits = [
        r["peclet"]
        for r in results
        if all(r.get(k) == v for k, v in match.items()) and max(r[key]) >= threshold and r["peclet"] > 0
    ]
    return min(hits) if hits else None
