"""Sweep tables from point records: mean ± std over seeds, counts and extractor, the paper's numbers."""

import csv
import json

import torch

from advdiff.reporting.sweep import write_sweep_report
from tests.workflow.test_tracking import make_record


def _record(tmp_path, point, family, pe, re, seed, fid):
    rec = make_record(tmp_path / point, point=point, fid=fid)
    samples = tmp_path / point / "samples.pt"
    torch.save(torch.rand(4, 1, 8, 8), samples)
    rec.update(family=family, peclet=pe, reynolds=re, seed=seed, dataset="FFHQ-128")
    rec["sample"]["samples"] = str(samples)
    rec["scores"].update(recall=0.2, density=1.0, coverage=0.6, palette=0.01, n_fake=50000, n_real=50000,
                         feature_extractor="inception-v3-compat", fid_is_standard=True)  # fmt: skip
    rec["settings"] = {"name": "t", "sample": {"grid": 4}, "evaluate": {"n": 50000, "real_split": "train"}}
    rec["config"].update(batch_size=32)
    path = tmp_path / f"{point}.json"
    path.write_text(json.dumps(rec))
    return path


def test_tables_average_seeds_and_show_the_paper_beside_matching_rows(tmp_path):
    paths = [
        _record(tmp_path, "advdiff-pe0.06-reinf-s1-a", "advdiff", 0.06, None, 1, 30.0),
        _record(tmp_path, "advdiff-pe0.06-reinf-s2-b", "advdiff", 0.06, None, 2, 34.0),
        _record(tmp_path, "advdiff-pe0.06-re100-s1-c", "advdiff", 0.06, 100.0, 1, 40.0),
        _record(tmp_path, "heat-s1-d", "heat", None, None, 1, 50.0),
    ]
    out = write_sweep_report(paths, tmp_path / "reports" / "sweep_t.md", name="t", compare_paper=True)
    md = out["md_table"].read_text()
    row = next(line for line in md.splitlines() if "| advdiff | 0.06 | ∞ |" in line)
    assert "| 32.00 ± 2.83 |" in row and "| 2 | 50000 / 50000 | inception-v3-compat |" in row
    assert row.endswith("| 36.64 | 0.826 | 0.243 | 1.040 | 0.665 |")  # the paper's Pe = 0.06 row
    re100 = next(line for line in md.splitlines() if "| advdiff | 0.06 | 100 |" in line)
    assert "| 40.00 |" in re100 and re100.endswith("| – | – | – | – | – |")
    rows = {(r["family"], r["reynolds"]): r for r in csv.DictReader(out["csv"].open())}
    assert float(rows[("advdiff", "inf")]["fid"]) == 32.0 and rows[("advdiff", "inf")]["paper_fid"] == "36.64"
    assert rows[("heat", "")]["n_seeds"] == "1" and rows[("heat", "")]["fid_std"] == ""
    assert r"36.64" in out["tex"].read_text() and out["fid_vs_pe"].stat().st_size > 1000
    page = out["md"].read_text()
    assert "Paper columns: FFHQ-128" in page and "not FID" not in page


def test_figures_of_points_that_left_the_sweep_are_removed(tmp_path):
    """A point whose id changed leaves no old figure copy behind; other sweeps' files and other files stay."""
    figs = tmp_path / "reports" / "figures"
    figs.mkdir(parents=True)
    stale = [figs / "sweep_t_heat-s1-0123456789_trajectory_strip.png",
             figs / "sweep_t_advdiff-pe0.06-re10-s1-abcdef0123_velocity_field.png"]  # fmt: skip
    kept = [figs / "sweep_t_x_heat-s1-0123456789_trajectory_strip.png",  # sweep "t_x"
            figs / "sweep_tt_heat-s1-0123456789_trajectory_strip.png",  # sweep "tt"
            figs / "sweep_t_heat-s1-0123456789_notes.png", figs / "lbm.png"]  # fmt: skip
    for path in stale + kept:
        path.write_bytes(b"png")
    point = "heat-s1-9999999999"
    path = _record(tmp_path, point, "heat", None, None, 1, 50.0)
    rec = json.loads(path.read_text())
    strip = tmp_path / point / "trajectory_strip.png"
    strip.write_bytes(b"new strip")
    rec["files"] = {"trajectory_strip": str(strip)}
    path.write_text(json.dumps(rec))
    out = write_sweep_report([path], tmp_path / "reports" / "sweep_t.md", name="t")
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    copy = figs / f"sweep_t_{point}_trajectory_strip.png"
    assert copy.read_bytes() == b"new strip" and f"(figures/{copy.name})" in out["md"].read_text()
