"""The sweep section: expansion into points, identity by config hash, and errors that name the key."""

import copy
import re

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
        ({"intensity_map": ["paper", "affine"]}, "sweep.intensity_map[1]"),
        ({"intensity_map": []}, "sweep.intensity_map"),
        ({"intensity_map": "paper"}, "sweep.intensity_map"),
        ({"divergence_free": [False, 1]}, "sweep.divergence_free[1]"),
        ({"divergence_free": ["yes"]}, "sweep.divergence_free[0]"),
        ({"divergence_free": [None]}, "sweep.divergence_free[0]"),
        ({"divergence_free": True}, "sweep.divergence_free"),
        ({"family_params": {"advdiff": {"intensity_map": "none"}}}, "sweep.family_params.advdiff.intensity_map"),
        ({"family_params": {"advdiff": {"divergence_free": True}}}, "sweep.family_params.advdiff.divergence_free"),
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
    ids = list(_sweep(seeds=[1, 12], intensity_map=["paper", "none"], divergence_free=[False, True]).points)
    assert len(ids) == 2 * (3 + 2 * (1 + 2 * 2 * 2)) and all(re.fullmatch(POINT_ID_PATTERN, pid) for pid in ids)
    assert any("-divfree-" in pid for pid in ids) and any("-mapnone-" in pid for pid in ids)
    assert not re.fullmatch(POINT_ID_PATTERN, "x_heat-s1-0123456789")
    # ids of earlier versions (no map) still match, so reports recognise their figures as stale
    assert re.fullmatch(POINT_ID_PATTERN, "advdiff-pe0.06-re10-s1-abcdef0123")


def test_intensity_map_and_divergence_free_are_axes_with_pe0_once_per_map():
    """Every moving point gets each (map, div-free); Pe = 0 (no velocity) is one point per map, not projected."""
    sweep = _sweep(intensity_map=["paper", "none"], divergence_free=[False, True])
    adv = [p for p in sweep.points.values() if p.family == "advdiff"]
    coords = sorted((p.peclet, p.reynolds or 0, p.intensity_map, p.divergence_free) for p in adv)
    assert coords == sorted(
        [(0.0, 0, m, False) for m in ("paper", "none")]
        + [(pe, re, m, d) for pe in (0.06, 1.0) for re in (0, 10) for m in ("paper", "none") for d in (False, True)]
    )
    for pid, point in sweep.points.items():
        params = point.config.family_params
        if point.family == "advdiff":
            assert params["intensity_map"] == point.intensity_map
            assert params["divergence_free"] is point.divergence_free
            assert point.labels()["intensity_map"] == point.intensity_map
            assert point.labels()["divergence_free"] is point.divergence_free
            re_ = "inf" if point.reynolds is None else f"{point.reynolds:g}"
            div = "-divfree" if point.divergence_free else ""
            head = f"advdiff-pe{point.peclet:g}-re{re_}-map{point.intensity_map}{div}-s1-"
            assert pid == head + point.config.hash()[:10]
        else:
            assert point.intensity_map is None and point.divergence_free is None
            assert point.labels()["intensity_map"] is None and pid == f"{point.family}-s1-{point.config.hash()[:10]}"
    assert len({p.config.hash() for p in adv}) == len(adv)  # every combination is its own training run
    # only projected points: Pe = 0 still runs once per map, with the plain (zero) field
    only = _sweep(peclet=[0.0, 1.0], reynolds=[10], intensity_map=["none"], divergence_free=[True])
    adv = sorted((p.peclet, p.intensity_map, p.divergence_free) for p in only.points.values() if p.family == "advdiff")
    assert adv == [(0.0, "none", False), (1.0, "none", True)]


def test_default_axes_are_the_papers_operator():
    """Without the keys every advdiff point uses the paper map and an unprojected field."""
    sweep = _sweep()
    adv = [p for p in sweep.points.values() if p.family == "advdiff"]
    assert {(p.intensity_map, p.divergence_free) for p in adv} == {("paper", False)}
    assert all("-mappaper-s1-" in p.point_id for p in adv)
    # stating the defaults changes no point
    assert list(_sweep(intensity_map=["paper"], divergence_free=[False]).points) == list(sweep.points)


def test_bad_axis_values_say_what_is_allowed():
    with pytest.raises(ConfigError) as err:
        _sweep(intensity_map=["paper", "none", "paper"])
    assert str(err.value).startswith("sweep.intensity_map=") and "without repeated values" in str(err.value)
    with pytest.raises(ConfigError) as err:
        _sweep(intensity_map=["clip"])
    assert str(err.value).startswith("sweep.intensity_map[0]='clip'") and '"paper" or "none"' in str(err.value)
    with pytest.raises(ConfigError) as err:
        _sweep(divergence_free=[1])
    assert str(err.value).startswith("sweep.divergence_free[0]=1") and "false or true" in str(err.value)
    with pytest.raises(ConfigError, match="without repeated values"):
        _sweep(divergence_free=[True, True])


def test_exclude_drops_matching_advdiff_combinations():
    exclude = [{"peclet": 0, "intensity_map": "none"}, {"peclet": 1.0, "intensity_map": "none"}]
    sweep = _sweep(families=["advdiff"], reynolds=[None], intensity_map=["paper", "none"], exclude=exclude)
    got = sorted((p.peclet, p.intensity_map) for p in sweep.points.values())
    assert got == [(0.0, "paper"), (0.06, "none"), (0.06, "paper"), (1.0, "paper")]


@pytest.mark.parametrize(
    ("exclude", "key"),
    [
        ([{"peclet": 0.5}], "sweep.exclude[0].peclet"),  # not on the axis: a typo would exclude nothing
        ([{"intensity_map": "nope"}], "sweep.exclude[0].intensity_map"),
        ([{"divergence_free": 1}], "sweep.exclude[0].divergence_free"),  # 1 is not a boolean
        ([{"speed": 1}], "sweep.exclude[0].speed"),
        ([{}], "sweep.exclude[0]"),
        ({"peclet": 0}, "sweep.exclude"),
        ([{"reynolds": None}], "sweep.exclude"),  # nothing left
    ],
)
def test_exclude_rules_that_cannot_be_meant_are_refused(exclude, key):
    with pytest.raises(ConfigError, match="^" + re.escape(key) + "="):
        _sweep(families=["advdiff"], reynolds=[None], exclude=exclude)


def test_the_schemas_defaults_make_a_valid_sweep():
    """An empty sweep section, filled in by the schema as the workflow does, passes build_sweep's checks."""
    from pathlib import Path

    from snakemake.utils import validate

    config = {"sweep": {}}
    validate(config, schema=str(Path(__file__).parents[2] / "workflow" / "schemas" / "config.schema.yaml"))
    sweep = build_sweep(config["sweep"])
    assert sweep.image_size == 28 and {p.family for p in sweep.points.values()} == {"ddpm", "heat", "blur", "advdiff"}


def test_errors_carry_their_key_as_an_attribute():
    with pytest.raises(ConfigError) as err:
        _sweep(train={"steps": 0, "batch_size": 4})
    assert err.value.key == "sweep.train.steps" and str(err.value).startswith("sweep.train.steps=0")
    with pytest.raises(ConfigError) as err:
        _sweep(family_params={"advdiff": {"K": 20, "sigma_max": -1}})
    assert err.value.key == "sweep.family_params.advdiff.sigma_max"
    with pytest.raises(ConfigError) as err:
        _sweep(exclude=[{"peclet": 0.5}])
    assert err.value.key == "sweep.exclude[0].peclet"
