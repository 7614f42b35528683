"""The objectives: eps-prediction for Gaussian families, residual prediction for heat and advdiff, levels 1..K."""

import pytest
import torch

from advdiff.corruptions import Corruption, build
from advdiff.corruptions.gaussian import to_model
from advdiff.errors import ConfigError
from advdiff.training import EpsLoss, ResidualLoss, draw_levels, loss_for
from advdiff.training.pairs import OnTheFlyPairs
from advdiff.training.seeding import image_generators
from tests.training.helpers import FAMILY_PARAMS, clone, tiny_net


def images(n=6, size=8, seed=0):
    return torch.rand((n, 1, size, size), generator=torch.Generator().manual_seed(seed))


def test_levels_cover_one_to_K_inclusive():
    """Pitfall of the reference code: the reference code trains 1..K-1 but samples from K. Here K is drawn too."""
    K = 6
    k = draw_levels(K, 5000, torch.Generator().manual_seed(0))
    assert k.dtype == torch.int64
    assert int(k.min()) == 1 and int(k.max()) == K
    assert torch.bincount(k, minlength=K + 1)[1:].min() > 5000 / K * 0.8
    per_image = torch.cat([draw_levels(K, 50, image_generators(3, s, 50)) for s in range(40)])
    assert int(per_image.min()) == 1 and int(per_image.max()) == K


def test_levels_with_per_image_generators_do_not_depend_on_the_batch():
    gens = image_generators(1, 5, 8)
    k_all = draw_levels(10, 8, clone(gens))
    k_each = torch.cat([draw_levels(10, 1, [g]) for g in clone(gens)])
    assert torch.equal(k_all, k_each)


@pytest.mark.parametrize(
    ("family", "kind"), [("ddpm", EpsLoss), ("blur", EpsLoss), ("heat", ResidualLoss), ("advdiff", ResidualLoss)]
)
def test_loss_for_dispatches_by_family(family, kind):
    loss = loss_for(build(family, **FAMILY_PARAMS[family]))
    assert type(loss) is kind
    assert loss.kind == ("eps" if kind is EpsLoss else "residual")


def test_loss_for_refuses_a_family_without_an_objective():
    class Plain(Corruption):
        name = "plain"
        deterministic = True

        def __init__(self):
            super().__init__(K=3)

        def _degrade(self, x0, k, generator):
            return x0

    with pytest.raises(ConfigError, match="family='plain'.*training_noise"):
        loss_for(Plain())


class Zero(torch.nn.Module):
    def forward(self, x, k):
        return torch.zeros_like(x)


def test_residual_loss_is_the_summed_square_of_the_residual():
    """With f = 0: L = mean_b sum_pixels (u_{k-1} - u_k - sigma eps)^2, same k and eps as drawn by the loss."""
    heat = build("heat", **FAMILY_PARAMS["heat"])
    x0 = images()
    gens = image_generators(0, 1, x0.shape[0])
    loss, info = loss_for(heat)(Zero(), x0, clone(gens))
    replay = clone(gens)
    k = draw_levels(heat.K, x0.shape[0], replay)
    prev, cur = heat.degrade_pair(x0, k, replay)
    eps = torch.stack([torch.randn((1, 8, 8), generator=g) for g in replay])
    diff = prev - cur - heat.training_noise * eps
    torch.testing.assert_close(loss, diff.pow(2).flatten(1).sum(1).mean())
    assert info["mse"] == pytest.approx(float(diff.pow(2).mean()), rel=1e-5)
    assert info["k_mean"] == pytest.approx(float(k.double().mean()))


def test_eps_loss_feeds_model_space_and_targets_eps():
    ddpm = build("ddpm", **FAMILY_PARAMS["ddpm"])
    x0 = images()
    gens = image_generators(0, 2, x0.shape[0])
    seen = {}

    class Spy(torch.nn.Module):
        def forward(self, x, k):
            seen["x"], seen["k"] = x, k
            return torch.zeros_like(x)

    loss, _ = loss_for(ddpm)(Spy(), x0, clone(gens))
    replay = clone(gens)
    k = draw_levels(ddpm.K, x0.shape[0], replay)
    xk, eps = ddpm.degrade_with_noise(x0, k, replay)
    assert torch.equal(seen["k"], k)
    torch.testing.assert_close(seen["x"], to_model(xk))
    torch.testing.assert_close(loss, eps.pow(2).mean())


def test_on_the_fly_pairs_give_the_same_loss_as_the_loss_on_images():
    """OnTheFlyPairs.sample + on_pairs (as the trainer calls them, on the same generators) equals
    loss(model, x0, generators): k, the velocity field and the noise are drawn in the same order."""
    adv = build("advdiff", **FAMILY_PARAMS["advdiff"])
    source = OnTheFlyPairs(adv, images(4), generator=0)
    loss = loss_for(adv)
    net = tiny_net()
    gens = image_generators(0, 3, 4)
    running = clone(gens)
    pairs = source.sample(4, running)
    a, _ = loss.on_pairs(net, pairs.prev, pairs.cur, pairs.k, running)
    b, _ = loss(net, pairs.x0, clone(gens))
    assert torch.equal(a, b)
