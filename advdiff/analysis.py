"""What the ``advdiff`` operator does at a given Péclet number, measured without any training.

:func:`measure_departure` runs the family at Pe and at Pe = 0 on a set of images and field seeds and
returns, per level k and in units of the training noise (sigma = 0.01 by default), the departure
``D_k = RMS(x_k(Pe) - x_k(0))``, its ``compressive`` part (the density pattern the authors' intensity
map adds under a compressible field), its ``transport`` part (what moving the image itself changes)
and the ``tracer_travel`` in pixels; means and standard deviations are over field seeds. See
docs/scores.md, section "The operator's departure, without training".
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
from advdiff.lbm import solve

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


class _Tracers:
    """Tracers carried by the fields a solve uses: each step moves them by that step's field
    (bilinear interpolation, positions clamped to the image, as walls would)."""

    def __init__(self, batch: int, shape: tuple[int, int], level_end: np.ndarray, count: int, seed: int) -> None:
        H, W = shape
        rng = np.random.default_rng(seed)
        self.shape = shape
        self.start = np.stack([rng.uniform(0, H - 1, (batch, count)), rng.uniform(0, W - 1, (batch, count))])
        self.pos = self.start.copy()
        self.ends = {int(e): k for k, e in enumerate(level_end)}
        self.travel = np.zeros(len(level_end))
        self.batch = batch

    def step(self, n: int, v: Any) -> None:
        """Move by the field ``v`` (B', 2, H, W) of step n (only the first ``batch`` images carry tracers)."""
        H, W = self.shape
        g = np.moveaxis(np.asarray(v[: self.batch], dtype=np.float64), 1, -1)  # (B, H, W, 2): x, y components
        y, x = self.pos
        y0 = np.clip(np.floor(y).astype(int), 0, H - 2)
        x0 = np.clip(np.floor(x).astype(int), 0, W - 2)
        fy, fx = (y - y0)[..., None], (x - x0)[..., None]
        b = np.arange(self.batch)[:, None]
        moved = (
            (1 - fy) * (1 - fx) * g[b, y0, x0]
            + (1 - fy) * fx * g[b, y0, x0 + 1]
            + fy * (1 - fx) * g[b, y0 + 1, x0]
            + fy * fx * g[b, y0 + 1, x0 + 1]
        )
        self.pos = np.stack([np.clip(y + moved[..., 1], 0, H - 1), np.clip(x + moved[..., 0], 0, W - 1)])
        if n + 1 in self.ends:
            d = self.pos - self.start
            self.travel[self.ends[n + 1]] = math.sqrt(float(np.mean(d[0] ** 2 + d[1] ** 2)))


def _plain_pass(
    plain: Any, images: torch.Tensor, seed: int, tracers: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """One simulation of the map-free operator on [images; uniform images] with one field per image
    (the uniform copy of image i shares its field): returns S(x), S(1) (K+1, B, ...) and tracer travel."""
    B, C, H, W = images.shape
    batch = torch.cat([images, torch.ones(B, C, H, W, dtype=images.dtype)])
    gens = _generators(seed, B)
    seeds = plain.image_seeds(gens, B) * 2
    sched = plain.schedule(H, W)
    moving = _Tracers(B, (H, W), sched.level_end, tracers, seed)
    velocity = None
    if plain.params["peclet"] > 0:
        field = plain.turbulence(H, W, seeds)
        delay = 0 if plain.params["variant"] == "authors" else 1
        inner = velocity_callable(field, sched, delay=delay)

        def velocity(n: int) -> Any:
            v = inner(n)
            moving.step(n, v)
            return v

    traj = solve(
        batch,
        sched.per_step_diffusivity(),
        sched.total_steps,
        velocity,
        backend=plain.params["backend"],
        collision=plain.params["collision"],
        record=[int(e) for e in sched.level_end],
        variant=plain.params["variant"],
    )
    return traj[:, :B], traj[:, B:], moving.travel


def measure_departure(
    images: torch.Tensor,
    *,
    peclet: float,
    reynolds: float | None = None,
    divergence_free: bool = False,
    seeds: Sequence[int] = (0, 1, 2),
    unit: float = TRAINING_NOISE,
    tracers: int = 64,
    progress: bool = False,
    reference: torch.Tensor | None = None,
    **family: Any,
) -> dict[str, Any]:
    """Departure of the ``advdiff`` operator at ``peclet`` from Pe = 0, split into its parts, per level.

    ``images`` is a (B, C, H, W) batch in [0, 1]; ``family`` holds further ``advdiff`` parameters
    (K, sigma_max, collision, backend, variant, ...); ``reference`` optionally gives the Pe = 0
    trajectory of the map-free operator (it does not depend on the field). One simulation per seed
    gives S(x) and S(1) with the same fields; the paper map's trajectory is then
    clip(S(x) + 9.5 (S(1) - 1), 0, 1), the identity the family's tests check against the operator
    itself. Returns per-level arrays (length K + 1), mean and standard deviation over ``seeds``, of
    ``departure`` (paper map), ``compressive`` and ``transport`` (map-free operator) in units of
    ``unit``, and ``tracer_travel`` in pixels, plus the settings.
    """
    common = dict(family, reynolds=reynolds, divergence_free=divergence_free, intensity_map="none")
    plain = build("advdiff", peclet=peclet, **common)
    if reference is None:
        reference = build("advdiff", peclet=0.0, **common).trajectory(images)
    ref_paper = reference.clamp(0, 1)
    per_seed: dict[str, list[np.ndarray]] = {"departure": [], "compressive": [], "transport": [], "tracer_travel": []}
    for seed in tqdm(seeds, desc=f"Pe {peclet:g}", disable=not progress, leave=False):
        s_x, s_1, travel = _plain_pass(plain, images, seed, tracers)
        compressive = COMPRESSIVE_GAIN * (s_1 - 1)
        paper = (s_x + compressive).clamp(0, 1)
        per_seed["departure"].append(_rms(paper - ref_paper) / unit)
        per_seed["transport"].append(_rms(s_x - reference) / unit)
        per_seed["compressive"].append(_rms(compressive) / unit)
        per_seed["tracer_travel"].append(travel)
    B, _, H, W = images.shape
    out: dict[str, Any] = {
        "peclet": float(peclet),
        "reynolds": reynolds,
        "divergence_free": divergence_free,
        "size": [int(H), int(W)],
        "n_images": int(B),
        "seeds": [int(s) for s in seeds],
        "unit": unit,
        "K": plain.K,
        "sigmas": plain.sigmas.numpy().tolist(),
        "params": plain.describe()["params"],
    }
    for key, rows in per_seed.items():
        stack = np.stack(rows)
        out[key] = stack.mean(axis=0).tolist()
        out[f"{key}_std"] = (stack.std(axis=0, ddof=1) if len(rows) > 1 else np.zeros(stack.shape[1])).tolist()
    return out


def compressive_pattern(
    images_shape: tuple[int, int, int, int], *, peclet: float, levels: Sequence[int], seed: int = 0, **family: Any
) -> torch.Tensor:
    """The compressive term 9.5 (S(1) - 1) of the paper map at the given levels: (len(levels), B, 1, H, W)."""
    B, _, H, W = images_shape
    plain = build("advdiff", peclet=peclet, intensity_map="none", **family)
    uniform = plain.trajectory(torch.ones(B, 1, H, W), _generators(seed, B))
    return COMPRESSIVE_GAIN * (uniform[list(levels)] - 1)


def first_peclet_where(
    results: Sequence[dict[str, Any]], key: str = "transport", threshold: float = 1.0, **match: Any
) -> float | None:
    """Smallest Pe among ``results`` (that match ``match``) whose ``key`` reaches ``threshold`` at some level."""
    hits = [
        r["peclet"]
        for r in results
        if all(r.get(k) == v for k, v in match.items()) and max(r[key]) >= threshold and r["peclet"] > 0
    ]
    return min(hits) if hits else None


def measure_step_prediction(
    models: Sequence[torch.nn.Module], corruption: Any, images: torch.Tensor, *, seed: int = 0
) -> dict[str, Any]:
    """How much of each reverse step a trained network predicts, per level, on held-out images.

    The residual families train ``f`` so that ``u~_k + f(u~_k, k)`` matches ``u_{k-1}``, with
    ``u~_k = u_k + sigma eps``. One forward trajectory of ``images`` (per-image generators from ``seed``,
    so a stochastic family draws one field per image) gives the pairs, and one noise draw from ``seed``
    is shared by every model. Per level k (1..K) and averaged over images, ``unchanged`` is the training
    loss of predicting no change, ``||u_{k-1} - u~_k||^2``, and ``model[i]`` that of model i; ``share[i]``
    is ``1 - model/unchanged`` per level and ``share_all[i]`` the same over all levels at once (the levels
    weighted equally, as training draws them). A share near 1 means the step is predictable from
    ``u_k``; a share near 0 means the network learnt the mean and the rest of the step is noise to it.
    """
    sigma = float(corruption.training_noise)
    B = images.shape[0]
    traj = corruption.trajectory(images.float(), _generators(seed, B)).float()
    K = traj.shape[0] - 1
    eps = torch.randn(K, *images.shape, generator=torch.Generator().manual_seed(seed))
    noisy = traj[1:] + sigma * eps
    target = traj[:-1] - noisy  # the residual a perfect network returns
    unchanged = target.flatten(2).pow(2).sum(dim=2).mean(dim=1).double()
    out: dict[str, Any] = {
        "levels": list(range(1, K + 1)),
        "unchanged": unchanged.tolist(),
        "model": [],
        "share": [],
        "share_all": [],
        "n_images": int(B),
        "seed": int(seed),
        "sigma": sigma,
    }
    for model in models:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            err = torch.stack(
                [
                    (target[k - 1] - model(noisy[k - 1], torch.full((B,), k, dtype=torch.long)).float())
                    .flatten(1)
                    .pow(2)
                    .sum(dim=1)
                    .mean()
                    for k in range(1, K + 1)
                ]
            ).double()
        model.train(was_training)
        out["model"].append(err.tolist())
        out["share"].append((1 - err / unchanged).tolist())
        out["share_all"].append(float(1 - err.mean() / unchanged.mean()))
    return out
