"""The advdiff family's intensity map: the authors' affine map, and what it adds under compressible flow."""

import pytest
import torch

from advdiff.corruptions import build
from advdiff.errors import ConfigError

SMALL = {"K": 20, "sigma_max": 6.0, "backend": "cpu"}


def _gens(n, seed=7):
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 2, 20, 20, generator=torch.Generator().manual_seed(0))


def test_paper_map_is_the_plain_operator_plus_the_compressive_term(images):
    """By linearity, S_paper(x) = clip(S(x) + 9.5 (S(1) - 1), 0, 1), S the solver on x itself."""
    paper = build("advdiff", peclet=2.0, intensity_map="paper", **SMALL)
    plain = build("advdiff", peclet=2.0, intensity_map="none", **SMALL)
    got = paper.trajectory(images, _gens(3)).double()
    s_x = plain.trajectory(images, _gens(3)).double()
    s_1 = plain.trajectory(torch.ones_like(images), _gens(3)).double()
    compressive = 9.5 * (s_1 - 1)
    assert compressive.abs().max() > 1e-2  # the field is compressible: the term is not negligible
    torch.testing.assert_close(got, (s_x + compressive).clamp(0, 1), atol=3e-5, rtol=0)


def test_both_maps_agree_at_zero_peclet(images):
    paper = build("advdiff", peclet=0.0, intensity_map="paper", **SMALL).trajectory(images)
    plain = build("advdiff", peclet=0.0, intensity_map="none", **SMALL).trajectory(images)
    torch.testing.assert_close(paper, plain.clamp(0, 1), atol=3e-5, rtol=0)


def _uniform_response(divergence_free):
    """RMS of 9.5 (S(1) - 1) per level: the family's fields at Pe 0.06, 28 px, zero-flux walls."""
    import numpy as np

    plain = build("advdiff", peclet=0.06, intensity_map="none", divergence_free=divergence_free, backend="cpu")
    s_1 = plain.trajectory(torch.ones(3, 1, 28, 28), _gens(3)).double()
    return np.sqrt(((9.5 * (s_1 - 1)) ** 2).mean(dim=(1, 2, 3, 4)).numpy())


def test_divergence_free_fields_have_almost_no_compressive_term():
    """The divergence-free field (lattice curl of a stream function, still at the walls) leaves a uniform
    image nearly uniform: 9.5 (S(1) - 1) stays below 1e-3 (0.1 sigma) at every level, against up to 6e-2
    for the compressible field. The remainder (measured 3e-4 at most) is not round-off: the lattice's
    non-equilibrium moments, which persist at the levels where tau < 1, are not divergence-free."""
    import numpy as np

    solenoidal, compressible = _uniform_response(True), _uniform_response(False)
    assert solenoidal.max() < 1e-3
    assert compressible.max() > 3e-2
    assert np.all(solenoidal[10:] < 0.15 * compressible[10:])
    assert solenoidal[10:].mean() < 0.02 * compressible[10:].mean()


def test_plain_map_keeps_every_channel_sum_the_paper_map_does_not_have_to(images):
    plain = build("advdiff", peclet=2.0, intensity_map="none", **SMALL).trajectory(images, _gens(3)).double()
    sums = plain.sum(dim=(-1, -2))
    assert (sums / sums[0] - 1).abs().max() < 1e-5


def test_paper_map_is_the_default():
    assert build("advdiff").params["intensity_map"] == "paper"
    assert build("advdiff").params["variant"] == "default"


def test_authors_variant_runs_through_the_family(images):
    adv = build("advdiff", peclet=1.0, variant="authors", **SMALL)
    out = adv.trajectory(images, _gens(3))
    assert out.shape == (21, 3, 2, 20, 20)
    default = build("advdiff", peclet=1.0, **SMALL).trajectory(images, _gens(3))
    assert (out - default).abs().max() > 1e-3


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"intensity_map": "minmax"}, r"intensity_map='minmax'.*paper, none"),
        ({"intensity_map": None}, r"intensity_map=None.*paper, none"),
        ({"divergence_free": "yes"}, r"divergence_free='yes'.*true or false"),
        ({"divergence_free": 1}, r"divergence_free=1.*true or false"),
        ({"variant": "theirs"}, r"variant='theirs'.*default, authors"),
    ],
)
def test_bad_operator_settings_are_refused_at_construction(params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build("advdiff", **params)


def test_a_backend_without_the_authors_variant_refuses_it_at_construction(monkeypatch):
    from advdiff.lbm.backends.cpu import CpuBackend

    monkeypatch.setattr(CpuBackend, "variants", ("default",))
    with pytest.raises(ConfigError, match=r"variant='authors'.*default on the 'cpu' backend"):
        build("advdiff", variant="authors", backend="cpu")
