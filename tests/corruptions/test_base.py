"""The contract's plumbing: level and argument checks, per-image generators, and dtype handling."""

import pytest
import torch

from advdiff.corruptions import Corruption, build
from advdiff.corruptions.tensors import draw_seeds, randn
from advdiff.corruptions.validate import check_int, check_level
from advdiff.errors import ConfigError


class NoisyToy(Corruption):
    """A stochastic family that draws from one generator only (``batched_generators`` is False)."""

    def __init__(self, K: int = 4) -> None:
        super().__init__(K=K)

    def _degrade(self, x0, k, generator):
        assert generator is None or isinstance(generator, torch.Generator)
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        return x0 + k.view(-1, 1, 1, 1) * noise


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_generator_lists_are_split_per_image_for_families_that_take_one_generator():
    toy = NoisyToy()
    x0 = torch.rand((3, 2, 5, 5), generator=gen(0))
    levels = torch.tensor([1, 2, 4])
    batched = toy.degrade(x0, levels, [gen(b) for b in range(3)])
    single = torch.cat([toy.degrade(x0[b : b + 1], int(levels[b]), gen(b)) for b in range(3)])
    assert torch.equal(batched, single)
    traj = toy.trajectory(x0, [gen(b) for b in range(3)])
    assert traj.shape == (5, 3, 2, 5, 5) and torch.equal(traj[:, 2:3], toy.trajectory(x0[2:3], gen(2)))
    assert torch.equal(toy.prior(x0, [gen(b) for b in range(3)])[1:2], toy.prior(x0[1:2], gen(1)))


def test_randn_and_seeds_per_image():
    one = randn((3, 2, 4), [gen(b) for b in range(3)], "cpu", torch.float32)
    assert torch.equal(one[1], torch.randn((2, 4), generator=gen(1)))
    assert torch.equal(
        randn((3, 2), gen(5), "cpu", torch.float64), torch.randn((3, 2), generator=gen(5), dtype=torch.float64)
    )
    seeds = draw_seeds([gen(b) for b in range(3)], 3)
    assert seeds[2] == draw_seeds([gen(2)], 1)[0] and len(set(seeds)) == 3
    assert draw_seeds(gen(7), 4) == draw_seeds(gen(7), 4) and all(0 <= s < 2**62 for s in draw_seeds(None, 2))


def test_check_level_and_check_int():
    assert check_level(2, 3, K=5).tolist() == [2, 2, 2]
    assert check_level(torch.tensor(1), 2, K=5).tolist() == [1, 1]
    assert check_level(torch.tensor([0, 5], dtype=torch.int32), 2, K=5).dtype == torch.int64
    for bad in (6, -1, 2.0, torch.tensor([1.0, 2.0]), torch.tensor([1, 2, 3])):
        with pytest.raises(ConfigError, match="k"):
            check_level(bad, 2, K=5)
    assert check_int("K", 1e3, low=1) == 1000
    for bad in (0, 2.5, "3", None, float("inf")):
        with pytest.raises(ConfigError, match="K="):
            check_int("K", bad, low=1)


@pytest.mark.parametrize("name", ["ddpm", "heat", "blur"])
def test_half_precision_is_computed_in_float32_and_cast_back(name):
    fam = build(name, K=4)
    x0 = torch.rand((2, 1, 6, 6), generator=gen(0))
    out = fam.degrade(x0.half(), 2, gen(1))
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), fam.degrade(x0, 2, gen(1)), atol=2e-3, rtol=0)


def test_prior_from_a_count():
    ddpm = build("ddpm", K=4)
    out = ddpm.prior(3, gen(0), shape=(1, 4, 4), dtype=torch.float64)
    assert out.shape == (3, 1, 4, 4) and out.dtype == torch.float64
    for kwargs, key in [({"shape": (4, 4)}, "shape"), ({"shape": (1, 4, 4), "dtype": torch.int64}, "dtype")]:
        with pytest.raises(ConfigError, match=key):
            ddpm.prior(3, **kwargs)
    with pytest.raises(ConfigError, match="x0_or_n"):
        ddpm.prior(0, shape=(1, 4, 4))
