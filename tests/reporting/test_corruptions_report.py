"""The corruption report (advdiff.reporting.corruptions) from result files alone."""

import json


def test_corruption_report_from_result_files(tmp_path):
    """The corruption report lists each family with its numbers and copies the setting's figures."""
    from advdiff.reporting.corruptions import write_corruption_report

    folder = tmp_path / "results" / "pe2_re100"
    folder.mkdir(parents=True)
    summary = {
        "n_images": 2,
        "image_shape": [1, 28, 28],
        "families": {
            "heat": {"K": 100, "max_relative_channel_sum_change": 2.7e-7},
            "advdiff": {
                "K": 100,
                "params": {"peclet": 2.0, "reynolds": 100.0},
                "max_relative_channel_sum_change": 4e-8,
                "schedule": {"fourier_max": 0.255, "total_steps": 1258, "transport_bound_px": 14.3},
            },
        },
    }
    (folder / "corrupt.json").write_text(json.dumps(summary))
    (folder / "trajectory_strip.png").write_bytes(b"png")
    bench = {
        "backend": "cpu",
        "batch": {"28": 64, "128_rgb": 16},
        "s_per_image_28": 0.0156,
        "s_per_image_128_rgb": 1.118,
        "speedup_vs_paper_28": 64.1,
        "speedup_vs_paper_128_rgb": 22.4,
        "machine": {"cpu": "test cpu", "cores": 2, "date": "2026-11-25"},
    }
    (tmp_path / "b.json").write_text(json.dumps(bench))
    out = tmp_path / "reports" / "corruptions.md"
    write_corruption_report([str(folder / "corrupt.json")], [str(tmp_path / "b.json")], str(out))
    text = out.read_text()
    assert "## advdiff Pe = 2.0, Re = 100.0" in text
    assert "| advdiff | 100 | 0.255 | 1258 | 14.3 | 4.0e-08 |" in text
    assert "transport bound Σ U_n (px)" in text and "upper bound" in text and "reports/operator.md" in text
    assert "displacement (px)" not in text and "mean displacement" not in text
    assert "| cpu | 128 × 128 RGB, K 200, σ_max 32 | 16 | 1.118 | 22× | test cpu, 2 cores | 2026-11-25 |" in text
    assert (out.parent / "figures" / "corrupt_pe2_re100_trajectory_strip.png").exists()
