"""One naming scheme: a configuration's run folder is the sweep point's id, whoever trains it."""

import copy

from advdiff.naming import point_id, run_name
from advdiff.runs import run_dir_for
from advdiff.sweep import build_sweep
from advdiff.training import TrainConfig

SECTION = {
    "name": "t",
    "dataset": {"name": "fashion_mnist"},
    "families": ["ddpm", "heat", "blur", "advdiff"],
    "peclet": [0.0, 0.06, 1.0],
    "reynolds": [10, None],
    "intensity_map": ["paper", "none"],
    "divergence_free": [False, True],
    "seeds": [1, 2],
    "family_params": {"advdiff": {"K": 20, "sigma_max": 10}},
    "model": {"preset": "tiny"},
    "train": {"steps": 3, "batch_size": 4},
    "sample": {"n": 8},
    "evaluate": {"n": 8, "feature_extractor": "tiny-test"},
}


def test_sweep_ids_are_the_run_names_of_their_configs(tmp_path):
    sweep = build_sweep(copy.deepcopy(SECTION))
    assert len(sweep.points) == 2 * (3 + 2 + 2 * 2 * 2 * 2)  # 3 families, Pe 0 per map, Pe>0 x Re x map x projection
    for pid, point in sweep.points.items():
        # the id from the point's coordinates, the name from its configuration alone, and the CLI's folder agree
        coords = point_id(
            point.family,
            point.peclet,
            point.reynolds,
            point.seed,
            point.config.hash(),
            intensity_map=point.intensity_map or "paper",
            divergence_free=bool(point.divergence_free),
        )
        assert pid == coords == run_name(point.config)
        again = TrainConfig.from_dict(point.config.to_dict())  # as `advdiff train --config` reads it back
        assert run_dir_for(again, tmp_path) == tmp_path / pid


def test_run_name_reads_the_resolved_family_parameters():
    config = TrainConfig.from_dict({"family": "advdiff", "seed": 3, "family_params": {"peclet": 0.06}})
    name = run_name(config)
    assert name.startswith("advdiff-pe0.06-reinf-mappaper-s3-")  # map "paper" and Re none are the defaults
    assert name.endswith(config.hash()[:10])
    divfree = config.replace(family_params={**config.family_params, "divergence_free": True, "reynolds": 10})
    assert run_name(divfree).startswith("advdiff-pe0.06-re10-mappaper-divfree-s3-")
    heat = TrainConfig.from_dict({"family": "heat"})
    assert run_name(heat) == f"heat-s42-{heat.hash()[:10]}"


def test_a_folder_of_the_earlier_scheme_is_resumed(tmp_path):
    config = TrainConfig.from_dict({"family": "heat", "seed": 5})
    assert run_dir_for(config, tmp_path) == tmp_path / run_name(config)
    legacy = tmp_path / f"heat-{config.hash()[:12]}"
    legacy.mkdir()
    assert run_dir_for(config, tmp_path) == legacy  # an interrupted run of an earlier version continues
    (tmp_path / run_name(config)).mkdir()
    assert run_dir_for(config, tmp_path) == tmp_path / run_name(config)  # the current name wins once it exists
