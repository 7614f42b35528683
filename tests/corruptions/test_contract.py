"""The contract every registered corruption family honours (shape, dtype, levels, determinism, range, errors).

Parametrised over :func:`advdiff.corruptions.families`, so a family is tested the moment it is registered.
"""

import json

import pytest
import torch

from advdiff.corruptions import build, families, known_params
from advdiff.errors import ConfigError

# Small, fast settings per family; a family not listed here is built with K=4 and its defaults.
SMALL = {
    "ddpm": {"K": 10},
    "heat": {"K": 6, "sigma_max": 3.0},
    "blur": {"K": 8, "sigma_max": 3.0},
    "advdiff": {"K": 6, "sigma_max": 3, "peclet": 0.05, "backend": "cpu"},
}
SHAPE = (3, 2, 12, 10)  # B, C, H, W; H != W catches swapped axes


def small_params(name):
    return dict(SMALL.get(name, {"K": 4}))


@pytest.fixture(scope="module", params=families())
def family(request):
    name = request.param
    if name == "advdiff":
        pytest.importorskip("advdiff.corruptions.advection")
    return build(name, **small_params(name))


def images(dtype=torch.float32, seed=0, shape=SHAPE):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_degrade_keeps_shape_dtype_and_device(family, dtype):
    """float32 in gives float32 out (float64 likewise), same shape, at the first, a middle and the last level."""
    x0 = images(dtype)
    for k in (0, 1, family.K // 2, family.K):
        out = family.degrade(x0, k, gen(1))
        assert out.shape == x0.shape and out.dtype == dtype and out.device == x0.device
        assert torch.isfinite(out).all()


def test_level_zero_is_the_clean_image(family):
    """Level 0 is x0, for deterministic and noisy families alike."""
    x0 = images()
    torch.testing.assert_close(family.degrade(x0, 0, gen(1)), x0, atol=1e-5, rtol=0)


def test_trajectory_shape_start_and_levels(family):
    """Shape (K+1, B, C, H, W), entry 0 is x0; for deterministic families entry k is degrade(x0, k)."""
    x0 = images()
    traj = family.trajectory(x0, gen(2))
    assert traj.shape == (family.K + 1, *x0.shape) and traj.dtype == x0.dtype
    torch.testing.assert_close(traj[0], x0, atol=1e-5, rtol=0)
    assert torch.isfinite(traj).all()
    if family.deterministic:
        for k in range(family.K + 1):
            torch.testing.assert_close(traj[k], family.degrade(x0, k), atol=1e-5, rtol=0)


def test_same_seed_same_output_different_seed_differs(family):
    """All randomness comes from the generator: a seed reproduces every output bit for bit."""
    x0 = images()
    K = family.K
    assert torch.equal(family.degrade(x0, K, gen(3)), family.degrade(x0, K, gen(3)))
    assert torch.equal(family.trajectory(x0, gen(3)), family.trajectory(x0, gen(3)))
    assert torch.equal(family.prior(x0, gen(3)), family.prior(x0, gen(3)))
    if not family.deterministic:
        assert not torch.equal(family.degrade(x0, K, gen(3)), family.degrade(x0, K, gen(4)))
        assert not torch.equal(family.trajectory(x0, gen(3)), family.trajectory(x0, gen(4)))


def test_level_tensor_equals_per_image_calls(family):
    """k as a (B,) tensor with one generator per image equals one call per image with an int level."""
    x0 = images()
    levels = [0, family.K // 2, family.K]
    batched = family.degrade(x0, torch.tensor(levels), [gen(10 + b) for b in range(3)])
    single = torch.cat([family.degrade(x0[b : b + 1], levels[b], gen(10 + b)) for b in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)
    # an all-equal level tensor is the int call, draw for draw
    k = family.K // 2
    assert torch.equal(family.degrade(x0, torch.full((3,), k), gen(5)), family.degrade(x0, k, gen(5)))


def test_per_image_generators_make_trajectory_and_prior_batch_independent(family):
    """With one generator per image, image b's trajectory and prior do not depend on the rest of the batch."""
    x0 = images()
    traj = family.trajectory(x0, [gen(20 + b) for b in range(3)])
    torch.testing.assert_close(traj[:, 1:2], family.trajectory(x0[1:2], [gen(21)]), atol=1e-5, rtol=0)
    prior = family.prior(x0, [gen(30 + b) for b in range(3)])
    torch.testing.assert_close(prior[2:3], family.prior(x0[2:3], [gen(32)]), atol=1e-5, rtol=0)


def test_prior_shape(family):
    """The prior has the batch's shape; a count works unless the prior is a corruption of training images."""
    x0 = images()
    assert family.prior(x0, gen(6)).shape == x0.shape
    if family.prior_needs_images:
        with pytest.raises(ConfigError, match="x0_or_n"):
            family.prior(4, gen(6), shape=SHAPE[1:])
    else:
        out = family.prior(4, gen(6), shape=SHAPE[1:])
        assert out.shape == (4, *SHAPE[1:]) and out.dtype == torch.float32 and torch.isfinite(out).all()
        with pytest.raises(ConfigError, match="shape"):
            family.prior(4, gen(6))


def test_range(family):
    """Deterministic families keep data in [0, 1] (to 1e-4); every family's outputs are finite."""
    x0 = images()
    outs = [family.degrade(x0, k, gen(7)) for k in range(family.K + 1)]
    outs += [family.trajectory(x0, gen(7)), family.prior(x0, gen(7))]
    for out in outs:
        assert torch.isfinite(out).all()
        if family.deterministic:
            assert out.min() >= -1e-4 and out.max() <= 1 + 1e-4


def test_unknown_parameter_lists_the_known_ones(family):
    params = small_params(family.name) | {"no_such_param": 1}
    with pytest.raises(ConfigError, match="no_such_param") as info:
        build(family.name, **params)
    for name in known_params(family.name):
        assert name in str(info.value)


@pytest.mark.parametrize("bad", [-1, "K+1", 1.5, True, "tensor"])
def test_level_out_of_range_names_k(family, bad):
    x0 = images()
    k = {"K+1": family.K + 1, "tensor": torch.tensor([0, family.K + 1, 1])}.get(bad, bad)
    with pytest.raises(ConfigError, match=r"k(\[1\])?="):
        family.degrade(x0, k)


def test_bad_inputs_are_config_errors(family):
    """Wrong image rank or dtype, non-finite data, and a generator list of the wrong length."""
    x0 = images()
    with pytest.raises(ConfigError, match="x0"):
        family.degrade(x0[0], 1)
    with pytest.raises(ConfigError, match="x0"):
        family.degrade((x0 * 255).to(torch.int32), 1)  # uint8 is converted (0..255 images); other ints refused
    nan = x0.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ConfigError, match="x0"):
        family.degrade(nan, 1)
    with pytest.raises(ConfigError, match="generator"):
        family.degrade(x0, 1, [gen(0), gen(1)])


def test_params_are_resolved_and_round_trip(family):
    """``params`` holds every constructor argument, rebuilds an identical family, and describe() is JSON."""
    assert set(family.params) == set(known_params(family.name))
    again = build(family.name, **family.params)
    assert again.describe() == family.describe()
    described = json.loads(json.dumps(family.describe()))
    assert described["family"] == family.name and described["K"] == family.K


def test_degrade_pair_matches_degrade(family):
    """degrade_pair gives (level k-1, level k): level k as degrade gives it under the same generator seed,
    level 0 = x0 for k = 1, and level k-1 as degrade gives it for deterministic families."""
    x = images()
    k = torch.tensor([1, family.K, max(1, family.K // 2)])
    prev, cur = family.degrade_pair(x, k, gen(3))
    assert prev.shape == cur.shape == x.shape
    torch.testing.assert_close(prev[0], x[0])
    torch.testing.assert_close(cur, family.degrade(x, k, gen(3)), atol=1e-6, rtol=0)
    if family.deterministic:
        torch.testing.assert_close(prev, family.degrade(x, k - 1), atol=1e-6, rtol=0)
    with pytest.raises(ConfigError, match="k"):
        family.degrade_pair(x, 0, gen(3))
