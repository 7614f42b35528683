"""The study report from synthetic point records with known differences: intervals, verdicts, files."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from advdiff.errors import ConfigError
from advdiff.reporting.study import compare, conclusion, job_costs, write_study_report
from tests.test_tracking import make_record

SEEDS = (1, 2, 3)


def _record(tmp_path, family, pe, seed, fid, recall, intensity_map="paper"):
    point = (
        f"advdiff-pe{pe:g}-reinf-map{intensity_map}-s{seed}-0123456789"
        if family == "advdiff"
        else f"{family}-s{seed}-0123456789"
    )
    rec = make_record(tmp_path / point, point=point, fid=fid)
    samples = tmp_path / point / "samples.pt"
    torch.save(torch.rand(4, 1, 8, 8), samples)
    rec.update(
        family=family,
        peclet=pe if family == "advdiff" else None,
        reynolds=None,
        seed=seed,
        intensity_map=intensity_map if family == "advdiff" else None,
        divergence_free=False if family == "advdiff" else None,
        sweep="study_t",
    )
    rec["sample"]["samples"] = str(samples)
    rec["scores"].update(
        recall=recall,
        density=1.0 + 0.01 * seed,
        coverage=0.6,
        palette=0.01 * seed,
        n_fake=1000,
        n_real=5000,
        feature_extractor="inception-v3-compat",
        fid_is_standard=True,
    )
    rec["settings"] = {"name": "study_t", "sample": {"grid": 4}, "evaluate": {"n": 1000, "real_split": "test"}}
    rec["config"].update(
        batch_size=64, lr=1e-3, ema_decay=0.99, model={"preset": "small"}, family_params={"K": 10, "sigma_max": 20.0}
    )
    rec["compute"]["seconds"] = {"train": 10.0, "sample": 5.0, "evaluate": 2.0}
    path = tmp_path / f"{point}.json"
    path.write_text(json.dumps(rec))
    return path


def _outputs(tmp_path):
    r = tmp_path / "reports"
    return {
        "md": r / "study_t.md",
        "tex": r / "tables/study_t.tex",
        "csv": r / "tables/study_t.csv",
        "json": r / "tables/study_t.json",
        "fid_vs_pe": r / "figures/study_t_scores_vs_pe.png",
        "fid_vs_pe_pdf": r / "figures/study_t_scores_vs_pe.pdf",
        "samples": r / "figures/study_t_samples.png",
        "loss": r / "figures/study_t_loss.png",
    }


def _study(tmp_path):
    """Pe 0 at FID 50 ± seed noise; Pe 0.06 10 lower on every seed (separable); heat equal to Pe 0 up to ±0.5."""
    noise = {1: -1.0, 2: 0.0, 3: 1.5}
    paths = []
    for s in SEEDS:
        paths.append(_record(tmp_path, "advdiff", 0.0, s, 50 + noise[s], 0.30))
        paths.append(_record(tmp_path, "advdiff", 0.06, s, 40 + noise[s] + 0.1 * s, 0.30 + 0.05 + 0.001 * s))
        paths.append(_record(tmp_path, "heat", None, s, 50 + noise[s] + (0.5, -0.5, 0.2)[s - 1], 0.30))
    return paths


def test_report_states_what_exceeds_the_seed_noise(tmp_path):
    out = _outputs(tmp_path)
    data = write_study_report(_study(tmp_path), out, departure=False, benchmarks=tmp_path / "none")
    for path in out.values():
        assert path.is_file() and path.stat().st_size > 0, path
    comps = {c["name"]: c for c in data["comparisons"]}
    adv = comps["advdiff Pe 0.06 (map paper) vs Pe 0"]
    assert adv["fid"]["mean"] == pytest.approx(-10 + 0.2) and adv["fid"]["separable_t"]
    assert "lower (better)" in adv["fid"]["sentence"] and "exceeds the seed noise" in adv["fid"]["sentence"]
    assert adv["recall"]["separable_t"] and "higher (better)" in adv["recall"]["sentence"]
    assert data["core_hours"]["heat"] == pytest.approx(3 * 0.001)  # the records' hours, all seeds
    heat = comps["heat vs advdiff Pe 0"]
    assert not heat["fid"]["separable_t"] and "not separable" in heat["fid"]["sentence"]
    assert heat["fid"]["seeds"] == [1, 2, 3]
    md = out["md"].read_text()
    assert adv["fid"]["sentence"] in md and heat["fid"]["sentence"] in md
    assert "1000 generated" in md and "5000" in md and "inception-v3-compat" in md
    assert "not comparable" in md and "36.64" in md  # the paper only as labelled context
    rows = list(csv.DictReader(out["csv"].open()))
    assert len(rows) == 3 and {r["seeds"] for r in rows} == {"1 2 3"}
    pe0 = next(r for r in rows if r["family"] == "advdiff" and float(r["peclet"]) == 0)
    assert float(pe0["fid"]) == pytest.approx(50 + 0.5 / 3)
    assert float(pe0["fid_t_low"]) < float(pe0["fid_boot_low"]) <= float(pe0["fid"])  # t is the wider one
    assert "\\toprule" in out["tex"].read_text()
    lines = conclusion(data["comparisons"])
    assert any("Pe 0.06" in line and "separable from the seed noise" in line for line in lines)
    assert any(line.startswith("- heat") and "within the seed noise" in line for line in lines)


def test_identical_points_differ_by_zero_with_an_interval_around_zero(tmp_path):
    a = [json.loads(_record(tmp_path / "a", "advdiff", 0.0, s, 50 + s, 0.3).read_text()) for s in SEEDS]
    b = [json.loads(_record(tmp_path / "b", "heat", None, s, 50 + s, 0.3).read_text()) for s in SEEDS]
    records = {r["point"]: r for r in a + b}
    row = {"family": "heat", "points": [r["point"] for r in b]}
    base = {
        "family": "advdiff",
        "pe": "0",
        "re": "∞",
        "map": "paper",
        "divergence_free": False,
        "points": [r["point"] for r in a],
    }
    c = compare(row, base, records, "same")
    assert c["fid"]["mean"] == 0 and c["fid"]["t_low"] <= 0 <= c["fid"]["t_high"] and not c["fid"]["separable_t"]


def test_a_point_without_a_finite_score_is_named(tmp_path):
    paths = _study(tmp_path)
    rec = json.loads(paths[0].read_text())
    rec["scores"]["fid"] = None
    paths[0].write_text(json.dumps(rec))
    with pytest.raises(ConfigError, match=rf"{rec['point']}: scores.fid"):
        write_study_report(paths, _outputs(tmp_path), departure=False)


def test_costs_come_from_the_benchmark_files(tmp_path):
    rec = json.loads(_record(tmp_path, "heat", None, 1, 50, 0.3).read_text())
    bench = tmp_path / "benchmarks"
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rule, job, cpu in (
        ("train", rec["point"], 100.0),
        ("sample", f"study_t/{rec['point']}", 20.0),
        ("evaluate", f"study_t/{rec['point']}", 5.0),
    ):
        f = bench / rule / f"{job}.tsv"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(header + f"{cpu * 1.1}\t0:00:01\t1\t1\t1\t1\t0\t0\t90\t{cpu}\n")
    cost = job_costs([rec], bench, "study_t")[rec["point"]]
    assert cost["cpu_s"] == pytest.approx(125.0) and cost["wall_s"] == pytest.approx(137.5)
    missing = job_costs([rec], tmp_path / "nowhere", "study_t")[rec["point"]]
    assert missing["wall_s"] == pytest.approx(17.0) and missing["cpu_s"] != missing["cpu_s"]  # NaN: not measured


@pytest.mark.slow
def test_departure_is_measured_with_each_rows_own_operator(tmp_path, monkeypatch):
    from advdiff.data import find_fashion_mnist
    from advdiff.reporting import study
    from advdiff.reporting.study import departures

    try:
        find_fashion_mnist()
    except Exception as exc:  # noqa: BLE001 - any reason the data is missing skips
        pytest.skip(f"Fashion-MNIST is not installed ({exc}); run `make data`")
    monkeypatch.setattr(study, "DEPARTURE_IMAGES", 4)  # the report takes 16 images and 3 seeds: same logic, less work
    monkeypatch.setattr(study, "DEPARTURE_SEEDS", (0, 1))
    recs = {}
    rows = []
    for pe, imap in ((0.0, "paper"), (0.06, "paper"), (0.06, "none")):
        rec = json.loads(_record(tmp_path, "advdiff", pe, 1, 50.0, 0.3, imap).read_text())
        rec["config"]["dataset"] = {"name": "fashion_mnist", "split": "train"}
        rec["config"]["family_params"] = {"K": 10, "sigma_max": 20.0, "peclet": pe, "intensity_map": imap}
        recs[rec["point"]] = rec
        rows.append(
            {
                "family": "advdiff",
                "peclet": pe,
                "reynolds": None,
                "intensity_map": imap,
                "divergence_free": False,
                "points": [rec["point"]],
            }
        )
    deps = departures(rows, recs)
    assert set(deps) == {rows[1]["points"][0], rows[2]["points"][0]}  # Pe = 0 departs from nothing
    paper, plain = deps[rows[1]["points"][0]], deps[rows[2]["points"][0]]
    assert paper["part"] == "departure" and plain["part"] == "transport" and paper["levels"] == [2, 5, 10]
    assert paper["images"] == 4 and paper["seeds"] == [0, 1]
    # the paper map's compressive pattern dominates transport at Pe 0.06 (reports/operator.md)
    assert paper["mean"][-1] > 3 * plain["mean"][-1] > 0


def test_machine_line_names_the_cpus_of_the_records_and_flags_a_mix():
    from advdiff.reporting.study import _machine

    def rec(model, kind, fm):
        return {"compute": {"versions": {"cpu": {"model": model, "kind": kind, "family_model": fm}}}}

    one = _machine([rec("AMD EPYC", "AVX2", "25/1")] * 3)
    assert one.startswith("AMD EPYC (AVX2, family/model 25/1), ") and "MIXED" not in one
    mixed = _machine([rec("AMD EPYC", "AVX2", "25/1"), rec("AMD EPYC", "AVX-512", "25/17")])
    assert "AVX-512, family/model 25/17" in mixed and "AVX2, family/model 25/1" in mixed and "MIXED" in mixed
    assert _machine([{"compute": {"versions": {}}}]).startswith("not in the records")
    capped = rec("AMD EPYC", "AVX2", "25/1")
    capped["compute"]["versions"]["cpu"]["isa_cap"] = "AVX"
    both = _machine([rec("AMD EPYC", "AVX2", "25/1"), capped])
    assert "(AVX2, family/model 25/1, oneDNN capped at AVX)" in both and "MIXED" in both


def test_the_cpu_identity_names_a_onednn_instruction_set_cap(monkeypatch):
    """A capped oneDNN takes other kernels (other float results), so a run's record says so."""
    from advdiff.devices import KERNEL_CAP_VARIABLES, cpu_identity

    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", *KERNEL_CAP_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    plain = cpu_identity()
    assert "isa_cap" not in plain and set(plain) == {"model", "family_model", "kind"}
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", " avx ")
    assert cpu_identity() == dict(plain, isa_cap="AVX")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "sse41")
    assert cpu_identity()["isa_cap"] == "SSE41"
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", " avx2")
    assert cpu_identity()["kernel_caps"] == "ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell"


def test_the_avx2_float_path_script_holds_every_library_to_avx2():
    """workflow/scripts/avx2_float_path.sh: PyTorch, NumPy and OpenBLAS report AVX2 kernels in the command
    it runs, and the run record's CPU identity names the caps."""
    from advdiff.devices import cpu_flags

    if "avx2" not in cpu_flags():
        pytest.skip("the CPU has no AVX2: there is no AVX2 float path to select")
    script = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "avx2_float_path.sh"
    probe = (
        "import json, numpy, torch\n"
        "from advdiff.devices import cpu_identity\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f\n"
        "print(json.dumps({'torch': torch.backends.cpu.get_cpu_capability(), 'avx512': f['X86_V4'],"
        " 'identity': cpu_identity()}))"
    )
    out = subprocess.run([str(script), sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["torch"] == "AVX2" and got["avx512"] is False  # NumPy dispatches its AVX-512 loops on X86_V4
    assert got["identity"]["isa_cap"] == "AVX2"
    assert "ATEN_CPU_CAPABILITY=avx2" in got["identity"]["kernel_caps"]
    assert "MKL_ENABLE_INSTRUCTIONS=AVX2" in got["identity"]["kernel_caps"]
    usage = subprocess.run([str(script)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_cross_machine_spread_and_which_differences_lie_beyond_it(tmp_path):
    """A second machine's table whose FIDs differ by known amounts: the spread is the largest of them,
    the Pe 0.06 gain (-9.8, t interval about -11 to -8.5) lies beyond a spread of 2 but not of 20."""
    first = write_study_report(_study(tmp_path / "a"), _outputs(tmp_path / "a"), departure=False, benchmarks=tmp_path)
    for shift, beyond in ((2.0, True), (20.0, False)):
        other = json.loads(json.dumps(first, default=str))
        other["machine"] = "AMD EPYC (AVX-512, family/model 25/17), 2 cores"
        for i, row in enumerate(other["rows"]):
            row["seed_values"]["fid"] = [
                v + shift * (i == 1) * (s == 2) for v, s in zip(row["seed_values"]["fid"], row["seeds"], strict=True)
            ]
        del other["rows"][2]["seeds"][2]  # a seed the other machine did not run is left out
        del other["rows"][2]["seed_values"]["fid"][2]
        path = tmp_path / f"other_{shift:g}.json"
        path.write_text(json.dumps(other))
        out = _outputs(tmp_path / f"b{shift:g}")
        data = write_study_report(
            _study(tmp_path / f"b{shift:g}"), out, departure=False, benchmarks=tmp_path, cross_machine_table=path
        )
        cm = data["cross_machine"]
        assert cm["spread"]["fid"]["spread"] == pytest.approx(shift)
        assert cm["spread"]["recall"]["spread"] == pytest.approx(0.0)
        assert cm["unmatched"] == ["heat seed 3 (this run only)"]
        fid = {v["name"]: v for v in cm["comparisons"] if v["score"] == "fid"}
        assert fid["advdiff Pe 0.06 (map paper) vs Pe 0"]["exceeds"] is beyond
        assert fid["heat vs advdiff Pe 0"]["exceeds"] is False
        md = out["md"].read_text()
        line = next(x for x in md.splitlines() if x.startswith("- advdiff Pe 0.06 (map paper) vs Pe 0: FID difference"))
        assert "AVX-512, family/model 25/17" in md and ("is beyond the cross-machine" in line) is beyond
        assert "measure it below" in md and "one CPU kind only" not in md
    alone = _outputs(tmp_path / "a")["md"].read_text()  # the first report, without a second machine
    assert "one CPU kind only" in alone and "measure it below" not in alone


def test_cross_machine_table_that_is_not_a_study_table_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match=r"sweep.cross_machine=.*bad.json.*not a study table JSON"):
        write_study_report(
            _study(tmp_path), _outputs(tmp_path), departure=False, benchmarks=tmp_path, cross_machine_table=bad
        )


def test_step_learning_section_reads_each_seeds_network(tmp_path, monkeypatch):
    """Untrained networks (zero output) predict none of a step: the page's table, its conclusion line and
    the figure say so, from the checkpoints under runs_dir."""
    import advdiff.reporting.study as study
    from advdiff.models import build_model
    from advdiff.training import TrainConfig
    from advdiff.training.trainer import CHECKPOINT_FILE, CHECKPOINT_FORMAT

    reads = []
    monkeypatch.setattr(study, "_test_images", lambda dataset: reads.append(dataset) or torch.rand(4, 1, 8, 8))
    config = TrainConfig.from_dict({"family": "heat", "family_params": {"K": 6, "sigma_max": 3.0}}).to_dict()
    paths = _study(tmp_path)
    net = build_model("tiny", in_channels=1, image_size=8)
    for path in paths:
        rec = json.loads(path.read_text())
        rec["config"] = dict(config, batch_size=64, lr=1e-3, ema_decay=0.99, model={"preset": "tiny"})
        path.write_text(json.dumps(rec))
        folder = tmp_path / "runs" / rec["point"]
        folder.mkdir(parents=True)
        state = {"format": CHECKPOINT_FORMAT, "ema": net.state_dict(), "model_info": {"config": net.config}}
        torch.save(state, folder / CHECKPOINT_FILE)
    out = dict(_outputs(tmp_path), learnt=tmp_path / "reports/figures/study_t_step_learning.png")
    data = write_study_report(paths, out, runs_dir=tmp_path / "runs", departure=False, benchmarks=tmp_path)
    assert out["learnt"].stat().st_size > 0
    assert len(reads) == 1  # the held-out images are read once for the departure and step-learning sections
    learnt = data["step_learning"]
    assert len(learnt) == 3 and all(m["share_all"] == [0.0, 0.0, 0.0] for m in learnt.values())
    assert all(m["seeds"] == [1, 2, 3] and len(m["levels"]) == 6 for m in learnt.values())
    md = out["md"].read_text()
    assert "## What the networks learnt of each step" in md and "| heat | 0.00 ± 0.00 |" in md
    assert "\n- Code: this page was built at commit " in md and data["provenance"]["report_commit"]
    assert "- heat: its networks predict 0% of a reverse step on held-out images;" in md
    assert "velocity field" in md.split("- advdiff Pe 0.06 Re ∞, map paper: its networks")[1].splitlines()[0]
    # a missing network is named with the job to re-run
    (tmp_path / "runs" / json.loads(paths[0].read_text())["point"] / CHECKPOINT_FILE).unlink()
    with pytest.raises(ConfigError, match="re-run its train job"):
        write_study_report(paths, out, runs_dir=tmp_path / "runs", departure=False, benchmarks=tmp_path)


def test_seed_summary_of_one_seed_has_no_spread_and_of_three_an_interval_around_the_mean():
    from advdiff.reporting.study import seed_summary

    assert seed_summary([0.25]) == {"n": 1, "mean": 0.25, "std": None}
    s = seed_summary([1.0, 2.0, 3.0])
    assert (s["n"], s["mean"], s["std"]) == (3, 2.0, 1.0)
    # Student-t with 2 degrees of freedom: 2 +- 4.303 / sqrt(3)
    assert s["t_low"] == pytest.approx(2 - 4.302653 / 3**0.5, rel=1e-5)
    assert s["t_high"] == pytest.approx(2 + 4.302653 / 3**0.5, rel=1e-5)
    assert s["ci_low"] < 2.0 < s["ci_high"]


def test_the_committed_avx2_table_is_a_study_table_the_overlay_names():
    """config/study_cross_cpu.yaml names reports/tables/study_fashion_mnist_avx2.json: a study table of the
    advdiff Pe 0 point's three seeds, made on the AVX2 float path (its machine line says so)."""
    import yaml

    from advdiff.reporting.study import cross_machine

    root = Path(__file__).resolve().parents[2]
    overlay = yaml.safe_load((root / "config" / "study_cross_cpu.yaml").read_text())
    path = root / overlay["sweep"]["cross_machine"]
    table = json.loads(path.read_text())
    assert "capped at AVX2" in table["machine"]
    (row,) = table["rows"]
    assert (row["family"], row["peclet"], row["seeds"]) == ("advdiff", 0.0, [1, 2, 3])
    same = cross_machine(table["rows"], [], path)  # against itself: every score matched, no spread
    assert same["unmatched"] == [] and {v["spread"] for v in same["spread"].values()} == {0.0}
