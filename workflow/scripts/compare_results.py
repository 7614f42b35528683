"""Compare two sweeps' result trees bit for bit: scores, samples and EMA weights of every point.

Usage: ``python workflow/scripts/compare_results.py OLD/results/sweep NEW/results/sweep --sweep NAME``.
Prints one line per point and exits 0 only when every point's scores (timings and paths left out),
``samples.pt`` tensor and EMA weights are identical; 1 otherwise (a point found in one tree only counts
as a difference). See docs/workflow.md, "Checking that a change leaves every score alone".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

IGNORED = {"run_dir", "samples", "reference_from_cache"}
"""Score keys that name paths or cache hits, not results; keys starting with ``seconds`` are timings."""


def _scores(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in IGNORED and not k.startswith("seconds")}


def _tensor(path: Path) -> torch.Tensor:
    data = torch.load(path, map_location="cpu", weights_only=True)
    return data["images"] if isinstance(data, dict) else data


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def compare_point(old: Path, new: Path, sweep: str, point: str) -> list[str]:
    """What differs between the two trees for one point (empty when it is bit-identical)."""
    diffs = []
    a, b = _scores(old / sweep / point / "scores.json"), _scores(new / sweep / point / "scores.json")
    diffs += [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if not torch.equal(_tensor(old / sweep / point / "samples.pt"), _tensor(new / sweep / point / "samples.pt")):
        diffs.append("samples.pt differs")
    ckpt_a = torch.load(old / "runs" / point / "checkpoint.pt", map_location="cpu", weights_only=False)
    ckpt_b = torch.load(new / "runs" / point / "checkpoint.pt", map_location="cpu", weights_only=False)
    if not _same_state(ckpt_a["ema"], ckpt_b["ema"]):
        diffs.append("EMA weights differ")
    return diffs


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")  # a command's report, on stdout


def main(argv: list[str] | None = None) -> int:
    """Compare every point of ``--sweep`` in the two trees; 0 when all are bit-identical."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="results/sweep of the old checkout")
    parser.add_argument("new", type=Path, help="results/sweep of the new checkout")
    parser.add_argument("--sweep", default="bitcheck", help="the sweep's name (default: bitcheck)")
    args = parser.parse_args(argv)
    points = {}
    for side, root in (("old", args.old), ("new", args.new)):
        folder = root / args.sweep
        if not folder.is_dir():
            parser.error(f"{side}: {folder} is not a folder of sweep {args.sweep!r}")
        points[side] = {p.name for p in folder.iterdir() if (p / "scores.json").is_file()}
    bad = 0
    for point in sorted(points["old"] | points["new"]):
        if point not in points["old"] or point not in points["new"]:
            _say(f"{point}: only in the {'old' if point in points['old'] else 'new'} tree")
            bad += 1
            continue
        diffs = compare_point(args.old, args.new, args.sweep, point)
        fid = json.loads((args.new / args.sweep / point / "scores.json").read_text()).get("fid")
        _say(f"{point}: {'identical' if not diffs else '; '.join(diffs)} (fid {fid!r})")
        bad += bool(diffs)
    _say("all points bit-identical" if not bad else f"{bad} point(s) differ")
    return 1 if bad or not points["old"] else 0


if __name__ == "__main__":
    sys.exit(main())
