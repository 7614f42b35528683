"""``advdiff``: the advection-diffusion corruption of "Beyond Blur" (Gruszczynski et al., ICCV 2025).

Each channel evolves by du/dt + div(v u) = div(alpha grad u), solved by the D2Q9 lattice Boltzmann
solver (:mod:`advdiff.lbm`) along the heat-dissipation blur schedule, under a spectral stochastic
velocity (:mod:`advdiff.fields`) of per-step RMS ``U_n = Pe alpha_n / L``, one realisation per image
shared by its channels; one trajectory costs one simulation. ``intensity_map="paper"`` (default) solves
on the authors' rho = 0.95 + 0.1 x and reads out clip((rho - 0.95) / 0.1, 0, 1); ``"none"`` solves on
x itself (transport and diffusion, no clip). ``peclet = 0`` gives the LBM counterpart of ``heat``;
``variant="authors"`` takes the solver choices of the authors' code (:func:`advdiff.lbm.solve`). What
each map adds and conserves: docs/families.md, "The advdiff operator".
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from advdiff.corruptions.base import Corruption
from advdiff.corruptions.registry import register
from advdiff.corruptions.tensors import draw_seeds
from advdiff.corruptions.validate import check_int, check_real
from advdiff.errors import bad_value
from advdiff.fields import SpectralTurbulence, velocity_callable
from advdiff.lbm import solve, units
from advdiff.lbm.backends import NAMES as BACKENDS
from advdiff.lbm.backends import get_backend
from advdiff.lbm.backends import variants as backend_variants
from advdiff.lbm.backends.base import COLLISIONS, VARIANTS

if TYPE_CHECKING:
    import torch

INTENSITY_MAPS = ("paper", "none")
"""Intensity maps of the ``advdiff`` family (see the module docstring)."""

PAPER_MAP_OFFSET = 0.95
"""The authors' map sends x in [0, 1] to rho = PAPER_MAP_OFFSET + PAPER_MAP_SCALE x."""
PAPER_MAP_SCALE = 0.1


def map_in(x: torch.Tensor) -> torch.Tensor:
    """The authors' map into the solver: rho = 0.95 + 0.1 x."""
    return x * PAPER_MAP_SCALE + PAPER_MAP_OFFSET


def map_out(rho: torch.Tensor) -> torch.Tensor:
    """The authors' read-out: clip((rho - 0.95) / 0.1, 0, 1)."""
    return ((rho - PAPER_MAP_OFFSET) / PAPER_MAP_SCALE).clamp_(0.0, 1.0)


@register("advdiff")
class AdvectionDiffusion(Corruption):
    """Advection-diffusion forward process by lattice Boltzmann (after Gruszczynski et al. 2025).

    ``K`` levels after the clean one along the ``heat`` blur schedule from ``sigma_min`` to ``sigma_max``
    pixels; ``peclet`` (Pe = U L / alpha >= 0; 0 switches the velocity off) sets the velocity's strength
    and ``reynolds`` its range of scales (``None`` keeps every grid mode). ``seed`` fixes the velocity
    fields when no ``generator`` is passed (image i of a call gets ``SeedSequence(seed, spawn_key=(i,))``;
    ``None`` draws from torch's global generator); a ``generator`` always takes precedence. ``length`` is
    the reference length of Pe in pixels (``None``: the image side max(H, W)). ``intensity_map`` and
    ``variant``: see the module docstring. Every parameter: docs/families.md, "Parameters of `advdiff`".
    """

    deterministic = False  # the velocity field is random (Pe = 0 is deterministic in practice)
    prior_needs_images = True
    batched_generators = True  # per-image generators become per-image field seeds

    def __init__(
        self,
        K: int = 100,  # levels after the clean one
        sigma_min: float = 0.5,  # blur width of level 1, pixels
        sigma_max: float = 20.0,  # blur width of level K, pixels
        peclet: float = 0.0,  # Pe = U L / alpha
        reynolds: float | None = None,  # turbulence scale range; None keeps every mode
        collision: str = "central_moment",  # LBM collision operator (the authors' code's)
        divergence_free: bool = False,  # lattice-divergence-free velocity, still at the walls
        seed: int | None = None,  # field seed when no generator is given
        backend: str = "auto",  # LBM backend
        law: str = "paper",  # amplitude law of the velocity spectrum
        limiter: float | None = 0.01,  # soft velocity limit, lattice units per step
        dt_turb: float = 1e-3,  # phase rotation per step per unit |k|
        length: float | None = None,  # reference length of Pe and Fo, pixels (None: image side)
        alpha_max: float = units.ALPHA_MAX_DEFAULT,  # largest alpha per LBM step
        noise_sigma: float = 0.01,  # training noise on the network input, data units
        delta_factor: float = 1.25,  # sampling noise delta = delta_factor * noise_sigma
        intensity_map: str = "paper",  # the authors' affine map around rho = 1, or none
        variant: str = "default",  # LBM solver choices: ours, or the authors' (ablation)
    ) -> None:
        K = check_int("K", K, low=1)
        if collision not in COLLISIONS:
            raise bad_value("collision", collision, f"one of {', '.join(COLLISIONS)}")
        if backend not in BACKENDS:
            raise bad_value("backend", backend, f"one of {', '.join(BACKENDS)}")
        if not isinstance(divergence_free, bool):
            raise bad_value("divergence_free", divergence_free, "true or false")
        if intensity_map not in INTENSITY_MAPS:
            raise bad_value("intensity_map", intensity_map, f"one of {', '.join(INTENSITY_MAPS)}")
        if variant not in VARIANTS:
            raise bad_value("variant", variant, f"one of {', '.join(VARIANTS)}")
        offered = backend_variants(backend)
        if variant not in offered:
            raise bad_value("variant", variant, f"one of {', '.join(offered)} on the {backend!r} backend")
        if seed is not None:
            seed = check_int("seed", seed, low=0)
        if length is not None:
            length = check_real("length", length, low=0.0, open_low=True)
        noise = check_real("noise_sigma", noise_sigma, low=0.0)
        factor = check_real("delta_factor", delta_factor, low=0.0)
        if isinstance(reynolds, str) and reynolds.lower() == "none":
            reynolds = None
        # Validate the schedule (sigma range, Pe, alpha_max) and the field settings now, before any work;
        # with length=None the Mach check needs the image size: check_shape (and every run) makes it.
        units.build_schedule(
            K,
            sigma_max,
            sigma_min=sigma_min,
            peclet=peclet,
            length=length or 1.0,
            alpha_max=alpha_max,
            mach_check=length is not None,
        )
        SpectralTurbulence(
            (8, 8),
            law=law,
            reynolds=reynolds,
            divergence_free=divergence_free,
            limiter=limiter,
            dt_turb=dt_turb,
            seed=0,
        )
        super().__init__(
            K=K,
            sigma_min=float(sigma_min),
            sigma_max=float(sigma_max),
            peclet=float(peclet),
            reynolds=None if reynolds is None else float(reynolds),
            collision=collision,
            divergence_free=divergence_free,
            seed=seed,
            backend=backend,
            law=law,
            limiter=None if limiter is None else float(limiter),
            dt_turb=float(dt_turb),
            length=length,
            alpha_max=float(alpha_max),
            noise_sigma=noise,
            delta_factor=factor,
            intensity_map=intensity_map,
            variant=variant,
        )
        self.training_noise: float = noise
        """Standard deviation of the noise the trainer adds to the network input."""
        self.sampling_delta: float = factor * noise
        """Standard deviation of the noise the sampler adds per step."""
        self._schedules: dict[float, units.Schedule] = {}
        self.progress = False
        self.backend_used: str | None = None  # the LBM backend the last trajectory ran on (``auto`` resolved)
        """Show a progress bar over the LBM steps of each simulation (not part of the parameters)."""

    @cached_property
    def sigmas(self) -> torch.Tensor:
        """Blur widths sigma_0..sigma_K in pixels, float64 (K+1,), sigma_0 = 0 (made on first use: needs torch)."""
        import torch

        return torch.from_numpy(units.sigma_schedule(self.K, self.params["sigma_min"], self.params["sigma_max"]))

    # -- schedule and fields -------------------------------------------------------------

    def schedule(self, height: int, width: int) -> units.Schedule:
        """The LBM schedule (steps, alpha and velocity RMS per level) for images of this size."""
        L = self.params["length"] or float(max(height, width))
        if L not in self._schedules:
            p = self.params
            self._schedules[L] = units.build_schedule(
                self.K,
                p["sigma_max"],
                sigma_min=p["sigma_min"],
                peclet=p["peclet"],
                length=L,
                alpha_max=p["alpha_max"],
            )
        return self._schedules[L]

    def check_shape(self, height: int, width: int) -> None:
        """Build the LBM schedule at this size: a Pe whose velocity would pass the Mach limit fails here."""
        self.schedule(height, width)

    def shape_summary(self, height: int, width: int) -> dict[str, Any]:
        """The schedule's numbers at this size (:meth:`~advdiff.lbm.units.Schedule.summary`), Pe/Re when Re is
        set, the Re from which the velocity's roll-off keeps every mode here, and the velocity RMS requested
        and realised by the soft limiter (:meth:`velocity_rms`)."""
        from advdiff.fields import reynolds_without_cutoff

        p = self.params
        summary: dict[str, Any] = self.schedule(height, width).summary()
        if p["reynolds"] is not None:
            summary["pe_over_re"] = p["peclet"] / p["reynolds"]
        summary["reynolds_without_cutoff"] = reynolds_without_cutoff((height, width))
        rms = self.velocity_rms(height, width)
        summary.update(
            velocity_rms_requested=rms["requested"],
            velocity_rms_realised=rms["realised"],
            limiter_ratio=rms["limiter_ratio"],
        )
        return summary

    def velocity_rms(self, height: int, width: int) -> dict[str, float]:
        """Largest per-step velocity RMS of a trajectory at this size: requested (Pe alpha / L) and realised.

        The soft limiter (c tanh(|v| / c)) keeps only part of a large RMS: ``limiter_ratio`` is the
        realised fraction (1 in the limiter's linear range), measured on sample fields.
        """
        from advdiff.fields import realised_rms_ratio

        p = self.params
        requested = float(self.schedule(height, width).velocity_rms.max())
        ratio = realised_rms_ratio(
            (height, width),
            requested,
            law=p["law"],
            reynolds=p["reynolds"],
            divergence_free=p["divergence_free"],
            limiter=p["limiter"],
        )
        return {"requested": requested, "realised": requested * ratio, "limiter_ratio": ratio}

    def turbulence(self, height: int, width: int, seeds: list[int], xp: Any = np) -> SpectralTurbulence:
        """The velocity-field generator of a batch: one realisation per image, from per-image seeds."""
        p = self.params
        return SpectralTurbulence(
            (height, width),
            batch=len(seeds),
            law=p["law"],
            reynolds=p["reynolds"],
            divergence_free=p["divergence_free"],
            limiter=p["limiter"],
            dt_turb=p["dt_turb"],
            image_seeds=seeds,
            xp=xp,
        )

    def image_seeds(self, generator: torch.Generator | list[torch.Generator] | None, batch: int) -> list[int]:
        """Per-image field seeds: from ``generator`` if given, else from the ``seed`` parameter, else torch's RNG."""
        if generator is None and self.params["seed"] is not None:
            return [
                int(np.random.SeedSequence(self.params["seed"], spawn_key=(i,)).generate_state(1, np.uint64)[0] >> 2)
                for i in range(batch)
            ]
        return draw_seeds(generator, batch)

    def simulate(
        self,
        x0: torch.Tensor,
        levels: list[int],
        generator: torch.Generator | list[torch.Generator] | None = None,
        *,
        progress: bool | None = None,
    ) -> torch.Tensor:
        """One LBM run from ``x0`` recording the given levels (sorted, >= 0): shape (len(levels), B, C, H, W)."""
        B, _, H, W = x0.shape
        sched = self.schedule(H, W)
        be = get_backend(self.params["backend"])
        self.backend_used = be.name
        velocity = None
        if self.params["peclet"] > 0:
            field = self.turbulence(H, W, self.image_seeds(generator, B), xp=be.xp)
            # Each collision uses the field drawn in the previous step, zero in the first, as the
            # authors' code does (the ``authors`` solver variant applies that delay itself).
            delay = 0 if self.params["variant"] == "authors" else 1
            velocity = velocity_callable(field, sched, delay=delay)
        ends = sched.level_end
        paper = self.params["intensity_map"] == "paper"
        out = solve(
            map_in(x0) if paper else x0,
            sched.per_step_diffusivity(),
            sched.total_steps,
            velocity,
            backend=be.name,
            collision=self.params["collision"],
            record=[int(ends[k]) for k in levels],
            progress=self.progress if progress is None else progress,
            variant=self.params["variant"],
        )
        return map_out(out) if paper else out

    # -- the contract ----------------------------------------------------------------------

    def _levels(self, x0, levels, generator):
        """One simulation recording every level in ``levels`` (ints >= 0); returns ``level(b, k)`` -> image b at k."""
        wanted = sorted(set(levels) - {0})
        rec = self.simulate(x0, wanted, generator) if wanted else None
        index = {level: i for i, level in enumerate(wanted)}
        return lambda b, k: x0[b] if k == 0 else rec[index[k], b]

    def _degrade(self, x0, k, generator):
        import torch

        ks = [int(v) for v in k.tolist()]
        level = self._levels(x0, ks, generator)
        return torch.stack([level(b, kb) for b, kb in enumerate(ks)])

    def _degrade_pair(self, x0, k, generator):
        """Levels k-1 and k of every image from one simulation with one velocity field per image."""
        import torch

        ks = [int(v) for v in k.tolist()]
        level = self._levels(x0, ks + [kb - 1 for kb in ks], generator)
        prev = torch.stack([level(b, kb - 1) for b, kb in enumerate(ks)])
        cur = torch.stack([level(b, kb) for b, kb in enumerate(ks)])
        return prev, cur

    def _trajectory(self, x0, generator):
        return self.simulate(x0, list(range(self.K + 1)), generator)

    def _describe_extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reference_length": self.params["length"] or "image side"}
        if self.params["length"]:
            s = self.schedule(int(self.params["length"]), int(self.params["length"]))
            out.update(
                fourier_max=float(s.fourier[-1]),
                total_lbm_steps=s.total_steps,
                schmidt_like_pe_over_re=None
                if self.params["reynolds"] is None
                else self.params["peclet"] / self.params["reynolds"],
            )
        return out
