"""``reports/lbm.md``: the solver's physical validation and its benchmark, from their JSON files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def _fmt(x: float) -> str:
    return f"{x:.2e}"


def write_lbm_report(validation_json: str, bench_jsons: list[str], figures: list[str], out_md: str) -> None:
    """Write the Markdown report and copy the figures next to it (``figures/``)."""
    out = Path(out_md)
    fig_dir = out.parent / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for fig in figures:
        shutil.copyfile(fig, fig_dir / Path(fig).name)
        names.append(Path(fig).name)
    val = json.loads(Path(validation_json).read_text())
    lines = [
        "# Lattice Boltzmann solver: validation and speed",
        "",
        f"Generated from `{validation_json}` and {', '.join(f'`{b}`' for b in bench_jsons)}.",
        "",
        f"## Validation against exact solutions (backend `{val['backend']}`)",
        "",
    ]
    cases = val["cases"]
    sizes = list(next(iter(cases.values()))["gaussian_relative_l2"])
    header = ["collision", *[f"hill rel. L2, N={n}" for n in sizes], "observed order", "max heat rel. L2", "mass drift"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for coll, c in cases.items():
        row = [f"`{coll}`", *[_fmt(c["gaussian_relative_l2"][n]) for n in sizes]]
        row += [
            f"{c['gaussian_observed_order']:.2f}",
            _fmt(max(c["heat_relative_l2_interior"])),
            _fmt(c["mass_max_relative_drift"]),
        ]
        lines.append("| " + " | ".join(row) + " |")
    first = next(iter(cases.values()))
    lines += [
        "",
        "- *hill*: Gaussian hill under uniform velocity and diffusion, periodic, diffusive scaling "
        f"({first['gaussian_steps_128']} steps at N = 128); relative L2 error against the exact solution.",
        "- *heat*: Pe = 0 with zero-flux walls along the blur schedule vs the DCT heat operator, interior "
        f"(2-pixel rim excluded), worst of levels {first['heat_levels']} (σ = "
        + ", ".join(f"{s:.2f}" for s in first["heat_sigmas"])
        + " px).",
        "- *mass drift*: largest relative change of a channel's sum over 1 000 steps of a time-varying "
        "velocity field with zero-flux walls, float32.",
        "",
    ]
    lines += [f"![{n}](figures/{n})" for n in names]
    lines += ["", "## Throughput", "", "| backend | shape | collision / walls | MLUPS | copy GB/s | roofline ratio | "
              "speed-up vs numpy | machine | date |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for path in bench_jsons:
        b = json.loads(Path(path).read_text())
        m = b["machine"]
        lines.append(
            f"| {b['backend']} | {'x'.join(map(str, b['shape']))} {b['dtype']} | {b['collision']} / {b['boundary']} "
            f"| {b['mlups']:.1f} | {b['copy_gb_s']:.1f} | {b['roofline_ratio']:.2f} | {b['speedup_vs_numpy']:.0f}x "
            f"| {b.get('device', m['cpu'])}, {m['cores']} cores | {m['date']} |"
        )
    lines.append("")
    out.write_text("\n".join(lines))
