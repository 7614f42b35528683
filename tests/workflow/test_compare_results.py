"""workflow/scripts/compare_results.py: the bit-identity check of two sweeps' result trees."""

import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "compare_results.py"


def _compare():
    spec = importlib.util.spec_from_file_location("compare_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _tree(root: Path, fid: float = 1.5, sample: float = 0.25, weight: float = 2.0, seconds: float = 3.0) -> Path:
    point = "heat-s1-0123456789"
    (root / "t" / point).mkdir(parents=True)
    (root / "runs" / point).mkdir(parents=True)
    scores = {"fid": fid, "kid": 0.1, "seconds": seconds, "seconds_per_image": seconds / 8, "run_dir": str(root)}
    (root / "t" / point / "scores.json").write_text(json.dumps(scores))
    torch.save(torch.full((2, 1, 4, 4), sample), root / "t" / point / "samples.pt")
    torch.save({"ema": {"w": torch.full((3,), weight)}}, root / "runs" / point / "checkpoint.pt")
    return root


def test_identical_trees_pass_whatever_their_timings_and_paths(tmp_path, capsys):
    main = _compare()
    old, new = _tree(tmp_path / "a"), _tree(tmp_path / "b", seconds=9.0)
    assert main([str(old), str(new), "--sweep", "t"]) == 0
    assert "all points bit-identical" in capsys.readouterr().out


def test_a_score_a_sample_or_a_weight_that_moves_fails(tmp_path, capsys):
    main = _compare()
    old = _tree(tmp_path / "a")
    for i, change in enumerate(({"fid": 1.5000001}, {"sample": 0.2500001}, {"weight": 2.0000002})):
        new = _tree(tmp_path / f"b{i}", **change)
        assert main([str(old), str(new), "--sweep", "t"]) == 1
    out = capsys.readouterr().out
    assert "fid: 1.5 != 1.5000001" in out and "samples.pt differs" in out and "EMA weights differ" in out


def test_a_point_missing_from_one_tree_fails(tmp_path, capsys):
    main = _compare()
    old, new = _tree(tmp_path / "a"), tmp_path / "b"
    (new / "t").mkdir(parents=True)
    assert main([str(old), str(new), "--sweep", "t"]) == 1
    assert "only in the old tree" in capsys.readouterr().out
