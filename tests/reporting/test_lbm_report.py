"""The LBM report (advdiff.reporting.lbm) from result files alone."""

import json


def test_report_from_result_files(tmp_path):
    """The report script builds its tables from result JSON files alone."""
    from advdiff.reporting.lbm import write_lbm_report

    val = {
        "backend": "cpu",
        "cases": {
            "bgk": {
                "gaussian_relative_l2": {"64": 2e-3, "128": 5e-4},
                "gaussian_steps_128": 400,
                "gaussian_observed_order": 2.0,
                "heat_sigmas": [0.5, 0.6, 3.0],
                "heat_relative_l2_interior": [5e-3, 3e-2, 1e-3],
                "heat_max": 3e-2,
                "heat_max_sigma": 0.6,
                "heat_max_sigma_ge_1px": 1e-3,
                "heat_sigma_above_tolerance": [0.6, 0.6],
                "heat_tolerance": 2e-2,
                "mass_max_relative_drift": 3e-8,
            }
        },
    }
    bench = {
        "backend": "cpu",
        "shape": [1, 1, 8, 8],
        "dtype": "float32",
        "collision": "bgk",
        "boundary": "neumann",
        "mlups": 100.0,
        "copy_gb_s": 20.0,
        "roofline_ratio": 0.4,
        "speedup_vs_numpy": 30.0,
        "machine": {"cpu": "test cpu", "cores": 2, "date": "2026-11-25"},
    }
    (tmp_path / "v.json").write_text(json.dumps(val))
    (tmp_path / "b.json").write_text(json.dumps(bench))
    fig = tmp_path / "fig.png"
    fig.write_bytes(b"png")
    write_lbm_report(str(tmp_path / "v.json"), [str(tmp_path / "b.json")], [str(fig)], str(tmp_path / "r" / "lbm.md"))
    text = (tmp_path / "r" / "lbm.md").read_text()
    assert "| `bgk` | 2.00e-03 | 5.00e-04 | 2.00 | 3.00e-02 (σ = 0.60 px) | 1.00e-03 | 3.00e-08 |" in text
    assert "`bgk`: σ from 0.60 to 0.60 px." in text
    assert (
        "| cpu | 1x1x8x8 float32 | bgk / neumann | 100.0 | 20.0 | 0.40 | 30x | test cpu, 2 cores | 2026-11-25 |" in text
    )
    assert (tmp_path / "r" / "figures" / "fig.png").exists()
