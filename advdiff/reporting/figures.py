"""Figures of corruption processes: trajectory strips, animations, velocity fields, power spectra.

Inputs are NumPy arrays in data units ([0, 1] images, (C, H, W) per image); every
function writes one file and returns its path. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use: the package imports without it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def show_image(ax, img: np.ndarray) -> None:
    """Draw a (C, H, W) image in [0, 1] (grey or RGB) without ticks."""
    img = np.clip(img, 0.0, 1.0)
    if img.shape[0] == 1:
        ax.imshow(img[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(img.transpose(1, 2, 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def radial_power_spectrum(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of images (..., H, W), averaged over all leading axes.

    Returns (wavenumber in cycles per pixel, power); the mean (k = 0) is dropped.
    """
    H, W = images.shape[-2:]
    x = images.reshape(-1, H, W).astype(np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0) / (H * W)
    ky = np.fft.fftfreq(H)[:, None]
    kx = np.fft.fftfreq(W)[None, :]
    k = np.sqrt(kx**2 + ky**2)
    step = 1.0 / max(H, W)
    shells = np.rint(k / step).astype(int)
    n = min(H, W) // 2
    sums = np.bincount(shells.ravel(), weights=power.ravel(), minlength=n + 1)
    counts = np.bincount(shells.ravel(), minlength=n + 1)
    idx = np.arange(1, n + 1)
    return idx * step, sums[idx] / np.maximum(counts[idx], 1)


def trajectory_strip(
    trajectories: Mapping[str, np.ndarray], levels: Sequence[int], out: str | Path, title: str = ""
) -> Path:
    """Rows: family x image; columns: levels. ``trajectories[name]`` has shape (K+1, B, C, H, W).

    Families may have different K; ``levels`` are fractions of the way when given as floats in
    [0, 1], else level indices clipped to each family's K.
    """
    plt = pyplot()
    names = list(trajectories)
    n_img = min(t.shape[1] for t in trajectories.values())
    rows = len(names) * n_img
    fig, axes = plt.subplots(rows, len(levels), figsize=(1.3 * len(levels) + 1.2, 1.3 * rows + 0.6), squeeze=False)
    for r_name, name in enumerate(names):
        traj = trajectories[name]
        K = traj.shape[0] - 1
        ks = _levels(levels, K)
        for i in range(n_img):
            row = r_name * n_img + i
            for j, k in enumerate(ks):
                ax = axes[row, j]
                show_image(ax, traj[k, i])
                if row == 0 or (i == 0 and r_name > 0):
                    ax.set_title(f"k = {k}/{K}", fontsize=7)
            axes[row, 0].set_ylabel(name if i == 0 else "", fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle(title or "Corruption trajectories (level k of K)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (1.3 * rows + 0.6)))
    return save(fig, out)


def _levels(levels: Sequence[float | int], K: int) -> list[int]:
    if all(isinstance(k, float) for k in levels):
        return [int(round(f * K)) for f in levels]
    return [min(int(k), K) for k in levels]


def animation(trajectory: np.ndarray, out: str | Path, labels: Sequence[str] | None = None, scale: int = 4) -> Path:
    """Animated GIF of one trajectory (K+1, C, H, W), nearest-neighbour upscaled ``scale`` times."""
    from PIL import Image, ImageDraw

    frames = []
    for i, img in enumerate(trajectory):
        arr = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
        frame = Image.fromarray(arr).resize((arr.shape[1] * scale, arr.shape[0] * scale), Image.Resampling.NEAREST)
        frame = frame.convert("RGB")
        if labels is not None:
            ImageDraw.Draw(frame).text((2, 2), labels[i], fill=(255, 64, 64))
        frames.append(frame)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=60, loop=0)
    return path


def velocity_field(v: np.ndarray, out: str | Path, title: str = "", arrows: int = 16) -> Path:
    """Magnitude (colour, lattice units per step) with arrows of a (2, H, W) field (x then y component)."""
    plt = pyplot()
    H, W = v.shape[-2:]
    mag = np.sqrt(v[0] ** 2 + v[1] ** 2)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(mag, cmap="viridis", origin="upper")
    step = max(1, max(H, W) // arrows)
    ys, xs = np.mgrid[step // 2 : H : step, step // 2 : W : step]
    # image rows grow downwards, so a positive y component points down the screen
    ax.quiver(xs, ys, v[0][ys, xs], -v[1][ys, xs], color="white", angles="xy", pivot="mid")
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    fig.colorbar(im, ax=ax, label="|v| (lattice units per step)")
    ax.set_title(title or "Velocity field", fontsize=8)
    fig.tight_layout()
    return save(fig, out)


def _null_formatter():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def power_spectra(
    trajectories: Mapping[str, np.ndarray], levels: Sequence[float | int], out: str | Path, title: str = ""
) -> Path:
    """One panel per family: radially averaged power spectrum of the corrupted images at several levels."""
    plt = pyplot()
    names = list(trajectories)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), sharey=True, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes[0], names, strict=True):
        traj = trajectories[name]
        K = traj.shape[0] - 1
        ks = _levels(levels, K)
        for j, k in enumerate(ks):
            freq, power = radial_power_spectrum(traj[k])
            ax.loglog(freq, np.maximum(power, 1e-20), color=cmap(j / max(1, len(ks) - 1)), label=f"k = {k}")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("spatial frequency (cycles / pixel)")
        ax.xaxis.set_minor_formatter(_null_formatter())
        ax.grid(True, which="both", alpha=0.2)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("power (intensity² per mode)")
    fig.suptitle(title or "Radially averaged power spectrum per level", fontsize=10)
    fig.tight_layout()
    return save(fig, out)


def save(fig, out: str | Path) -> Path:
    """Write ``fig`` to ``out`` (folders made as needed), close it and return the path."""
    import matplotlib.pyplot as plt

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
