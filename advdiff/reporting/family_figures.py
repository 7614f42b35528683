"""``advdiff corrupt``: pictures of corruption families on real images, for reports and papers.

For the chosen families and a few images it writes, into one folder:

* ``trajectory_strip.png``: images across levels, one block of rows per family;
* ``animation_<family>.gif``: one trajectory, level by level;
* ``velocity_field.png``: the ``advdiff`` family's velocity field (magnitude with arrows)
  at the middle of the trajectory (only with Pe > 0);
* ``power_spectra.png``: the radially averaged power spectrum per level, families side by side;
* ``heat_vs_advdiff.png``: when both ``heat`` and ``advdiff`` are drawn, their per-level
  relative difference (Pe = 0 makes ``advdiff`` the lattice version of ``heat``);
* ``corrupt.json``: the resolved parameters of every family and the dimensionless numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from advdiff.corruptions import Corruption
from advdiff.naming import number_label
from advdiff.reporting import figures

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

STRIP_LEVELS = (0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0)
"""Fractions of K shown in trajectory strips and spectra."""


def figure_files(families: Sequence[str], peclet: float | None = None) -> dict[str, str]:
    """The files :func:`corruption_figures` writes for these families (advdiff at this Pe), by role.

    Keys: ``strip``, ``spectra``, ``summary``, ``animation_<family>`` for each family, ``velocity``
    (advdiff with Pe > 0) and ``heat_vs_advdiff`` (heat and advdiff both drawn). The workflow declares
    exactly these files as the outputs of its figure rules.
    """
    files = {"strip": "trajectory_strip.png", "spectra": "power_spectra.png", "summary": "corrupt.json"}
    files.update({f"animation_{name}": f"animation_{name}.gif" for name in families})
    if "advdiff" in families and (peclet or 0.0) > 0:
        files["velocity"] = "velocity_field.png"
    if "heat" in families and "advdiff" in families:
        files["heat_vs_advdiff"] = "heat_vs_advdiff.png"
    return files


def corruption_figures(
    families: dict[str, Corruption], x0: torch.Tensor, out_dir: str | Path, *, seed: int = 0
) -> dict[str, Any]:
    """Run every family's trajectory on ``x0`` (B, C, H, W) and write the figures; returns the summary.

    The files written are those of :func:`figure_files`.
    """
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trajectories: dict[str, np.ndarray] = {}
    summary: dict[str, Any] = {"n_images": int(x0.shape[0]), "image_shape": list(x0.shape[1:]), "families": {}}
    for name, family in families.items():
        log.info("corrupt: %s trajectory of %d images", name, x0.shape[0])
        gen = torch.Generator().manual_seed(seed)
        traj = family.trajectory(x0, generator=gen).numpy()
        trajectories[name] = traj
        info = family.describe()
        sums = traj.astype(np.float64).sum(axis=(-1, -2))
        info["max_relative_channel_sum_change"] = float(np.max(np.abs(sums / sums[0] - 1)))
        if name == "advdiff":
            sched = family.schedule(*x0.shape[-2:])
            info["schedule"] = sched.summary()
            if family.params["reynolds"] is not None:
                info["schedule"]["pe_over_re"] = family.params["peclet"] / family.params["reynolds"]
        summary["families"][name] = info
        labels = [f"{name} k={k}/{family.K}" for k in range(family.K + 1)]
        figures.animation(traj[:, 0], out / f"animation_{name}.gif", labels=labels)

    figures.trajectory_strip(trajectories, STRIP_LEVELS, out / "trajectory_strip.png", title=_title(families))
    figures.power_spectra(trajectories, STRIP_LEVELS, out / "power_spectra.png")
    adv = families.get("advdiff")
    if adv is not None and adv.params["peclet"] > 0:
        H, W = x0.shape[-2:]
        sched = adv.schedule(H, W)
        step = sched.total_steps // 2
        field = adv.turbulence(H, W, adv.image_seeds(torch.Generator().manual_seed(seed), x0.shape[0]))
        v = field.field(step, sched.per_step_velocity_rms()[step])[0]
        p = adv.params
        re = number_label(p["reynolds"], "∞")
        title = f"advdiff velocity, image 0, step {step} of {sched.total_steps} (Pe = {p['peclet']:g}, Re = {re})"
        figures.velocity_field(np.asarray(v), out / "velocity_field.png", title=title)
    if (
        "heat" in trajectories
        and "advdiff" in trajectories
        and trajectories["heat"].shape == trajectories["advdiff"].shape
    ):
        summary["heat_vs_advdiff_relative_l2"] = _difference_figure(
            trajectories["heat"],
            trajectories["advdiff"],
            families["heat"],
            families["advdiff"].params["peclet"],
            out / "heat_vs_advdiff.png",
        )
    (out / "corrupt.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _title(families: dict[str, Corruption]) -> str:
    parts = []
    for name, fam in families.items():
        if name == "advdiff":
            p = fam.params
            re = number_label(p["reynolds"], "∞")
            parts.append(f"advdiff (Pe = {p['peclet']:g}, Re = {re}, {p['collision']})")
        else:
            parts.append(name)
    return "Corruption trajectories, level k of K: " + ", ".join(parts)


def _difference_figure(heat: np.ndarray, adv: np.ndarray, family: Corruption, pe: float, path: Path) -> list[float]:
    """Per-level relative L2 difference of two trajectories on the interior (2-pixel rim excluded)."""
    plt = figures.pyplot()
    inner = (slice(None), slice(None), slice(None), slice(2, -2), slice(2, -2))
    d = (adv - heat)[inner].reshape(adv.shape[0], -1)
    r = heat[inner].reshape(heat.shape[0], -1)
    rel = np.linalg.norm(d, axis=1) / np.maximum(np.linalg.norm(r, axis=1), 1e-30)
    sig = np.asarray(family.sigmas)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.semilogy(sig[1:], rel[1:], ".-")
    ax.axhline(2e-2, color="k", ls=":", label="2e-2 (bound of the Pe = 0 identity check)")
    ax.set_xscale("log")
    ax.set_xlabel("blur width σ_k (pixels)")
    ax.set_ylabel("relative L2 difference (interior)")
    ax.set_title(f"advdiff (Pe = {pe:g}) vs heat, per level", fontsize=10)
    ax.legend()
    fig.tight_layout()
    figures.save(fig, path)
    return [float(x) for x in rel]
