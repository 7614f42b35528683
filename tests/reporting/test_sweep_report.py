"""Sweep tables from point records: mean ± std over seeds, counts and extractor, the paper's numbers."""

import csv
import json

import torch

from advdiff.reporting.sweep import write_sweep_report
from tests.test_tracking import make_record


def _record(tmp_path, point, family, pe, re, seed, fid, intensity_map="paper", divergence_free=False):
    rec = make_record(tmp_path / point, point=point, fid=fid)
    samples = tmp_path / point / "samples.pt"
    torch.save(torch.rand(4, 1, 8, 8), samples)
    if family != "advdiff":
        intensity_map = divergence_free = None
    rec.update(
        family=family,
        peclet=pe,
        reynolds=re,
        seed=seed,
        dataset="FFHQ-128",
        intensity_map=intensity_map,
        divergence_free=divergence_free,
    )
    rec["sample"]["samples"] = str(samples)
    rec["scores"].update(
        recall=0.2,
        density=1.0,
        coverage=0.6,
        palette=0.01,
        n_fake=50000,
        n_real=50000,
        feature_extractor="inception-v3-compat",
        fid_is_standard=True,
    )
    rec["settings"] = {"name": "t", "sample": {"grid": 4}, "evaluate": {"n": 50000, "real_split": "train"}}
    rec["config"].update(batch_size=32)
    path = tmp_path / f"{point}.json"
    path.write_text(json.dumps(rec))
    return path


def test_tables_average_seeds_and_show_the_paper_beside_matching_rows(tmp_path):
    paths = [
        _record(tmp_path, "advdiff-pe0.06-reinf-mappaper-s1-a", "advdiff", 0.06, None, 1, 30.0),
        _record(tmp_path, "advdiff-pe0.06-reinf-mappaper-s2-b", "advdiff", 0.06, None, 2, 34.0),
        _record(tmp_path, "advdiff-pe0.06-re100-mappaper-s1-c", "advdiff", 0.06, 100.0, 1, 40.0),
        _record(tmp_path, "heat-s1-d", "heat", None, None, 1, 50.0),
    ]
    out = write_sweep_report(paths, tmp_path / "reports" / "sweep_t.md", name="t", compare_paper=True)
    md = out["md_table"].read_text()
    row = next(line for line in md.splitlines() if "| advdiff | 0.06 | ∞ | paper | no |" in line)
    assert "| 32.00 ± 2.83 |" in row and "| 2 | 50000 / 50000 | inception-v3-compat |" in row
    assert row.endswith("| 36.64 | 0.826 | 0.243 | 1.040 | 0.665 |")  # the paper's Pe = 0.06 row
    re100 = next(line for line in md.splitlines() if "| advdiff | 0.06 | 100 | paper | no |" in line)
    assert "| 40.00 |" in re100 and re100.endswith("| – | – | – | – | – |")
    rows = {(r["family"], r["reynolds"]): r for r in csv.DictReader(out["csv"].open())}
    assert float(rows[("advdiff", "inf")]["fid"]) == 32.0 and rows[("advdiff", "inf")]["paper_fid"] == "36.64"
    assert rows[("heat", "")]["n_seeds"] == "1" and rows[("heat", "")]["fid_std"] == ""
    assert r"36.64" in out["tex"].read_text() and out["fid_vs_pe"].stat().st_size > 1000
    page = out["md"].read_text()
    assert "Paper columns: FFHQ-128" in page and "not FID" not in page
    caption = "; mean ± std over seeds; measured departures from Pe = 0: reports/operator.md."
    assert caption in page and caption in md and "departures from Pe = 0: reports/operator.md" in out["tex"].read_text()
    for text in (md, page, out["csv"].read_text(), out["tex"].read_text()):
        assert "disp" not in text.lower()


def test_rows_are_keyed_by_intensity_map_and_projection(tmp_path):
    """Each (Pe, Re, map, div-free) is its own row, Pe = 0 one per map; the paper's numbers stand by its operator."""
    paths = [
        _record(tmp_path, "advdiff-pe0-reinf-mappaper-s1-a", "advdiff", 0.0, None, 1, 60.0),
        _record(tmp_path, "advdiff-pe0-reinf-mapnone-s1-b", "advdiff", 0.0, None, 1, 61.0, "none"),
        _record(tmp_path, "advdiff-pe0.06-reinf-mappaper-s1-c", "advdiff", 0.06, None, 1, 30.0),
        _record(tmp_path, "advdiff-pe0.06-reinf-mappaper-divfree-s1-d", "advdiff", 0.06, None, 1, 31.0, "paper", True),
        _record(tmp_path, "advdiff-pe0.06-reinf-mapnone-s1-e", "advdiff", 0.06, None, 1, 32.0, "none"),
        _record(tmp_path, "advdiff-pe0.06-reinf-mapnone-divfree-s1-f", "advdiff", 0.06, None, 1, 33.0, "none", True),
        _record(tmp_path, "heat-s1-g", "heat", None, None, 1, 50.0),
    ]
    out = write_sweep_report(paths, tmp_path / "reports" / "sweep_t.md", name="t", compare_paper=True)
    md = out["md_table"].read_text().splitlines()
    assert "| data | family | Pe | Re | map | div-free | Fo_max |" in md[2]
    found = {}
    for line in md:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 7 and cells[1] in ("advdiff", "heat"):
            found[tuple(cells[1:6])] = cells
    assert set(found) == {
        ("advdiff", "0", "∞", "paper", "no"),
        ("advdiff", "0", "∞", "none", "no"),
        ("advdiff", "0.06", "∞", "paper", "no"),
        ("advdiff", "0.06", "∞", "paper", "yes"),
        ("advdiff", "0.06", "∞", "none", "no"),
        ("advdiff", "0.06", "∞", "none", "yes"),
        ("heat", "–", "–", "–", "–"),
    }
    assert found[("advdiff", "0.06", "∞", "paper", "no")][-5] == "36.64"  # the paper's operator only
    for key in (("advdiff", "0.06", "∞", "paper", "yes"), ("advdiff", "0.06", "∞", "none", "no")):
        assert found[key][-5] == "–"
    rows = list(csv.DictReader(out["csv"].open()))
    keys = {(r["family"], r["peclet"], r["intensity_map"], r["divergence_free"]) for r in rows}
    assert ("advdiff", "0.06", "none", "true") in keys and ("heat", "", "", "") in keys
    points = {r["point"]: r for r in csv.DictReader(out["points_csv"].open())}
    assert points["advdiff-pe0.06-reinf-mapnone-divfree-s1-f"]["divergence_free"] == "true"
    assert points["advdiff-pe0.06-reinf-mapnone-divfree-s1-f"]["intensity_map"] == "none"
    tex = out["tex"].read_text()
    assert "map & div-free" in tex and "none & yes" in tex
    assert out["fid_vs_pe"].stat().st_size > 1000


def test_fid_vs_pe_figure_has_one_series_per_operator(tmp_path, monkeypatch):
    """The figure draws a line per (Re, map, div-free), each starting at its map's Pe = 0 point, with a legend."""
    import matplotlib.axes

    from advdiff.reporting import sweep as report

    drawn = []
    original = matplotlib.axes.Axes.errorbar

    def spy(self, x, y, *args, **kwargs):
        drawn.append((list(x), list(y), kwargs.get("label"), kwargs.get("linestyle")))
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", spy)
    paths = [
        _record(tmp_path, "advdiff-pe0-reinf-mappaper-s1-a", "advdiff", 0.0, None, 1, 60.0),
        _record(tmp_path, "advdiff-pe0-reinf-mapnone-s1-b", "advdiff", 0.0, None, 1, 61.0, "none"),
        _record(tmp_path, "advdiff-pe1-reinf-mappaper-s1-c", "advdiff", 1.0, None, 1, 30.0),
        _record(tmp_path, "advdiff-pe1-reinf-mappaper-divfree-s1-d", "advdiff", 1.0, None, 1, 31.0, "paper", True),
        _record(tmp_path, "advdiff-pe1-reinf-mapnone-s1-e", "advdiff", 1.0, None, 1, 32.0, "none"),
    ]
    rows = report.aggregate(report.load_records(paths))
    report.fid_vs_pe_figure(rows, tmp_path / "f.png", "t")
    series = {label: (x, y, style) for x, y, label, style in drawn}
    assert series == {
        "advdiff, Re = ∞, map paper": ([0.0, 1.0], [60.0, 30.0], "-"),
        "advdiff, Re = ∞, map paper, div-free": ([0.0, 1.0], [60.0, 31.0], "--"),
        "advdiff, Re = ∞, map none": ([0.0, 1.0], [61.0, 32.0], ":"),
    }


def test_figures_of_points_that_left_the_sweep_are_removed(tmp_path):
    """A point whose id changed leaves no old figure copy behind; other sweeps' files and other files stay."""
    figs = tmp_path / "reports" / "figures"
    figs.mkdir(parents=True)
    stale = [
        figs / "sweep_t_heat-s1-0123456789_trajectory_strip.png",
        figs / "sweep_t_advdiff-pe0.06-re10-s1-abcdef0123_velocity_field.png",  # an id without the map
        figs / "sweep_t_advdiff-pe0.06-re10-mapnone-divfree-s1-abcdef0123_velocity_field.png",
    ]
    kept = [
        figs / "sweep_t_x_heat-s1-0123456789_trajectory_strip.png",  # sweep "t_x"
        figs / "sweep_tt_heat-s1-0123456789_trajectory_strip.png",  # sweep "tt"
        figs / "sweep_t_heat-s1-0123456789_notes.png",
        figs / "lbm.png",
    ]
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


def test_fid_clean_gets_its_own_column_only_when_the_points_have_it(tmp_path):
    import json as _json

    paths = [
        _record(tmp_path, f"advdiff-pe0.06-reinf-mappaper-s{s}-a", "advdiff", 0.06, None, s, 30.0 + s) for s in (1, 2)
    ]
    plain = write_sweep_report(paths, tmp_path / "a" / "sweep_t.md", name="t", compare_paper=True)
    assert "FID clean" not in plain["md_table"].read_text()
    for i, path in enumerate(paths):
        rec = _json.loads(path.read_text())
        rec["scores"]["fid_clean"] = 36.0 + 2 * i
        path.write_text(_json.dumps(rec))
    out = write_sweep_report(paths, tmp_path / "b" / "sweep_t.md", name="t", compare_paper=True)
    md = out["md_table"].read_text()
    assert "| FID clean |" in md and "| 37.00 ± 1.41 |" in md and "paper FID (clean-fid)" in md
    assert next(csv.DictReader(out["csv"].open()))["fid_clean"] == "37.0"
    assert {r["fid_clean"] for r in csv.DictReader(out["points_csv"].open())} == {"36.0", "38.0"}


def test_the_runs_table_names_each_run_s_cpu_and_training_arithmetic(tmp_path):
    """amp: auto resolves per machine, so the page says which runs trained in bf16 and on which CPU."""
    cpu = {"model": "AMD EPYC", "kind": "AVX-512", "family_model": "25/17"}
    paths = []
    for i, (amp, versions) in enumerate([(True, {"cpu": cpu}), (False, {"cpu": cpu}), (None, {})]):
        path = _record(tmp_path, f"heat-s{i + 1}-{i}", "heat", None, None, i + 1, 50.0)
        rec = json.loads(path.read_text())
        rec["train"]["amp"] = amp
        rec["compute"]["versions"] = versions
        path.write_text(json.dumps(rec))
        paths.append(path)
    md = write_sweep_report(paths, tmp_path / "reports" / "sweep_t.md", name="t")["md"].read_text()
    runs = {line.split(" | ")[0][2:]: line for line in md.splitlines() if line.startswith("| heat-s")}
    assert "| cpu (AMD EPYC, AVX-512 25/17) | bfloat16 autocast |" in runs["heat-s1-0"]
    assert "| cpu (AMD EPYC, AVX-512 25/17) | float32 |" in runs["heat-s2-1"]
    assert "| cpu | not recorded |" in runs["heat-s3-2"]
