"""The sweep section: expansion into points, identity by config hash, and errors that name the key."""

import copy

import pytest

from advdiff.errors import ConfigError
from advdiff.sweep import build_sweep

BASE = {
    "name": "t",
    "dataset": {"name": "fashion_mnist"},
    "families": ["ddpm", "heat", "blur", "advdiff"],
    "peclet": [0.0, 0.06, 1.0],
    "reynolds": [10, None],
    "seeds": [1],
    "family_params": {"advdiff": {"K": 20, "sigma_max": 10}},
    "model": {"preset": "tiny"},
    "train": {"steps": 3, "batch_size": 4},
    "sample": {"n": 8},
    "evaluate": {"n": 8, "feature_extractor": "tiny-test"},
}


def _sweep(**changes):
    section = copy.deepcopy(BASE)
    section.update(changes)
    return build_sweep(section)


def test_points_cover_families_and_pe_re_pairs_with_pe0_once():
    sweep = _sweep()
    adv = [p for p in sweep.points.values() if p.family == "advdiff"]
    assert sorted((p.peclet, p.reynolds or 0) for p in adv) == [(0.0, 0), (0.06, 0), (0.06, 10), (1.0, 0), (1.0, 10)]
    assert {p.family for p in sweep.points.values()} == {"ddpm", "heat", "blur", "advdiff"}
    assert len(sweep.points) == 8
    assert sweep.image_size == 28
    for pid, point in sweep.points.items():
        assert pid.endswith(point.config.hash()[:10])
        assert point.config.family_params.get("peclet", point.peclet) == point.peclet


def test_identity_follows_the_resolved_config():
    """Same values -> same ids; a changed identity parameter changes exactly the points it touches."""
    a = _sweep()
    assert list(a.points) == list(_sweep().points)
    b = _sweep(family_params={"advdiff": {"K": 20, "sigma_max": 12}})
    changed = set(a.points) ^ set(b.points)
    assert changed and all(pid.startswith("advdiff") for pid in changed)
    # steps are run control, not identity: the folders stay (the workflow reruns them through params)
    assert list(_sweep(train={"steps": 5, "batch_size": 4}).points) == list(a.points)
    assert len(_sweep(seeds=[1, 2]).points) == 16
    # the trajectory pool feeds advdiff only: its settings rerun exactly the advdiff points
    c = _sweep(train={"steps": 3, "batch_size": 4, "pool": {"size": 32}})
    changed = set(a.points) ^ set(c.points)
    assert len(changed) == 2 * 5 and all(pid.startswith("advdiff") for pid in changed)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"families": ["heat", "smoke"]}, "sweep.families[1]"),
        ({"peclet": [0.0, -0.1]}, "sweep.peclet[1]"),
        ({"reynolds": [0]}, "sweep.reynolds[0]"),
        ({"family_params": {"advdiff": {"alpha_max": 0.0}}}, "alpha_max"),  # tau_max = 1/2
        ({"family_params": {"advdiff": {"sigma_min": 5.0, "sigma_max": 2.0}}}, "sweep.family_params.advdiff"),
        ({"peclet": [0.0, 50.0]}, "peclet"),  # beyond the Mach limit at 28 px
        ({"family_params": {"advdiff": {"peclet": 1.0}}}, "sweep.family_params.advdiff.peclet"),
        ({"family_params": {"heat": {"Kay": 3}}}, "sweep.family_params.heat"),
        ({"train": {"stepz": 3}}, "sweep.train.stepz"),
        ({"train": {"batch_size": 0}}, "sweep.train.batch_size"),
        ({"model": {"preset": "huge"}}, "sweep.model.preset"),
        ({"evaluate": {"n": 9}}, "sweep.evaluate.n"),
        ({"evaluate": {"n": 8, "feature_extractor": "clip"}}, "sweep.evaluate.feature_extractor"),
        ({"dataset": {"name": "folder", "root": "/nowhere"}}, "sweep.dataset.size"),
        ({"colour": 1}, "sweep.colour"),
    ],
)
def test_invalid_values_name_their_key(changes, key):
    with pytest.raises(ConfigError) as err:
        _sweep(**changes)
    assert key in str(err.value)


def test_tau_at_most_one_half_is_refused_with_its_reason():
    with pytest.raises(ConfigError, match=r"alpha_max.*tau_max = 3\*alpha_max \+ 1/2 > 1/2"):
        _sweep(family_params={"advdiff": {"alpha_max": -0.01}})


def test_reynolds_values_that_remove_no_mode_at_this_size_are_not_swept_twice(caplog):
    """At 28 px the roll-off acts only below Re ~ 53.6: Re 100 and null would be the same runs."""
    with pytest.raises(ConfigError) as err:
        _sweep(reynolds=[100, None])
    message = str(err.value)
    assert message.startswith("sweep.reynolds") and "sweep.reynolds[0] = 100" in message and "53.6" in message
    with pytest.raises(ConfigError, match="identical runs"):
        _sweep(reynolds=[60, 1000])
    with caplog.at_level("WARNING", logger="advdiff.sweep"):
        alone = _sweep(reynolds=[100])
    assert "sweep.reynolds[0] = 100 keeps every velocity mode at 28 x 28 px" in caplog.text
    assert len(alone.points) == 6
    caplog.clear()
    with caplog.at_level("WARNING", logger="advdiff.sweep"):
        _sweep(reynolds=[10, 50, None])
    assert "keeps every velocity mode" not in caplog.text
    # without a moving advdiff point Re plays no part
    assert len(_sweep(peclet=[0.0], reynolds=[100, None]).points) == 4


def test_point_id_pattern_matches_the_ids_the_sweep_makes():
    """Reports find point ids in file names with POINT_ID_PATTERN: it must match every id build_sweep makes."""
    import re

    from advdiff.sweep import POINT_ID_PATTERN

    ids = list(_sweep(seeds=[1, 12]).points)
    assert len(ids) == 16 and all(re.fullmatch(POINT_ID_PATTERN, pid) for pid in ids)
    assert not re.fullmatch(POINT_ID_PATTERN, "x_heat-s1-0123456789")
