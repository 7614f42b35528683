"""A figure of sample grids side by side, one panel per trained run (the README's samples).

Each run folder is one written by ``advdiff train`` and sampled by ``advdiff sample``: the panel
shows its newest ``samples/samples_step*_n*.pt`` and says which family, level count, training
step, sampler and number of samples produced it.

    python -m advdiff.reporting.samples --out reports/figures/samples.png results/runs/heat-* ...
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from advdiff.errors import bad_value
from advdiff.reporting.figures import pyplot, save, show_image

_SAMPLES = re.compile(r"samples_step(\d+)_n(\d+)\.pt$")


def newest_samples(run_dir: str | Path) -> Path:
    """The samples file of ``run_dir`` with the highest training step (then the most images)."""
    folder = Path(run_dir) / "samples"
    found = []
    for path in folder.glob("samples_step*_n*.pt") if folder.is_dir() else []:
        match = _SAMPLES.search(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    if not found:
        raise bad_value(
            "run_dir", str(run_dir), "a run folder sampled by `advdiff sample` (samples/samples_step*_n*.pt)"
        )
    return max(found)[2]


def panel_info(run_dir: str | Path) -> dict[str, Any]:
    """What a panel shows about a run: family, params, step, sampler, sample count, training seconds."""
    run = Path(run_dir)
    try:
        config = json.loads((run / "config.json").read_text())
    except FileNotFoundError:
        raise bad_value("run_dir", str(run), "a run folder with config.json (from `advdiff train`)") from None
    samples = newest_samples(run)
    meta_path = samples.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    step, n = (int(g) for g in _SAMPLES.search(samples.name).groups())
    return {
        "family": config["family"],
        "params": config.get("family_params", {}),
        "batch_size": config.get("batch_size"),
        "step": step,
        "n": n,
        "sampler": meta.get("sampler", "?"),
        "samples": samples,
    }


def grid_image(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into one (C, rows (H + pad), columns (W + pad)) array."""
    n, c, h, w = images.shape
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.zeros((c, rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for i, img in enumerate(np.clip(images, 0.0, 1.0)):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[:, y : y + h, x : x + w] = img
    return out


def sample_panel(run_dirs: Sequence[str | Path], out: str | Path, title: str = "") -> Path:
    """One panel per run (its newest samples, titled with what produced them); returns ``out``."""
    import torch

    if not run_dirs:
        raise bad_value("run_dirs", list(run_dirs), "at least one run folder")
    infos = [panel_info(r) for r in run_dirs]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(infos), figsize=(4.2 * len(infos), 4.9), squeeze=False)
    for ax, info in zip(axes[0], infos, strict=True):
        images = torch.load(info["samples"], map_location="cpu").float().numpy()
        show_image(ax, grid_image(images))
        p = info["params"]
        extra = f", Pe = {p.get('peclet', 0):g}" if info["family"] == "advdiff" else ""
        ax.set_title(
            f"{info['family']}{extra} (K = {p.get('K', '?')})\n{info['step']} training steps "
            f"(batch {info['batch_size']}); {info['sampler']} sampler, {info['n']} samples",
            fontsize=9,
        )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: one panel of samples per run folder, side by side, in one figure."""
    parser = argparse.ArgumentParser(prog="python -m advdiff.reporting.samples", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders, one panel each, in this order")
    parser.add_argument("--out", required=True, help="PNG file")
    parser.add_argument("--title", default="", help="figure title")
    args = parser.parse_args(argv)
    sample_panel(args.runs, args.out, args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
