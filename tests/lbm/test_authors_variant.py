"""The ``authors`` solver variant against a direct NumPy oracle of the Beyond Blur code's loop.

The oracle below follows that code's order of operations for one grey image: equilibrium start
at zero velocity; per step pull-streaming, a central-moment collision of the interior nodes only
(plain rate 1 - omega_n, kappa22 -> omega c_s^4 rho) with the velocity drawn in the previous step,
then the new velocity, then non-equilibrium extrapolation of the edge nodes (rows first, then
columns). It is written per image, independently of the batched solver front end.
"""

import numpy as np
import pytest

from advdiff.errors import ConfigError
from advdiff.lbm import solve

EX = np.array([0, 1, 0, -1, 0, 1, -1, -1, 1])
EY = np.array([0, 0, 1, 0, -1, 1, 1, -1, -1])
WEIGHTS = np.array([4 / 9] + [1 / 9] * 4 + [1 / 36] * 4)
EXPONENTS = [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (2, 1), (1, 2), (2, 2)]


def feq(rho, ux, uy):
    eu = EX[:, None, None] * ux + EY[:, None, None] * uy
    return WEIGHTS[:, None, None] * rho * (1 + 3 * eu + 4.5 * eu**2 - 1.5 * (ux**2 + uy**2))


def collide_node(f, ux, uy, omega):
    T = np.array([(EX - ux) ** p * (EY - uy) ** q for p, q in EXPONENTS])
    k = T @ f
    rho = k[0]
    post = np.array(
        [
            rho,
            (1 - omega) * k[1],
            (1 - omega) * k[2],
            rho / 3,
            rho / 3,
            0.0,
            (1 - omega) * k[6],
            (1 - omega) * k[7],
            omega * rho / 9,
        ]
    )
    return np.linalg.solve(T, post)


def oracle(image, alphas, fields):
    """The authors' loop for one (H, W) image; ``fields[n]`` is the (2, H, W) field drawn at step n."""
    H, W = image.shape
    zero = np.zeros((H, W))
    f = feq(image.astype(np.float64), zero, zero)
    vel = np.zeros((2, H, W))
    for n, alpha in enumerate(alphas):
        omega = 1.0 / (3.0 * alpha + 0.5)
        g = f.copy()
        for i in range(9):
            g[i, 1:-1, 1:-1] = f[i, 1 - EY[i] : H - 1 - EY[i], 1 - EX[i] : W - 1 - EX[i]]
        for y in range(1, H - 1):
            for x in range(1, W - 1):
                g[:, y, x] = collide_node(g[:, y, x], vel[0, y, x], vel[1, y, x], omega)
        vel = fields[n]

        def nee(dy, dx, sy, sx, g=g, vel=vel):
            rho = g[:, sy, sx].sum()
            corr = feq(rho, vel[0, dy, dx], vel[1, dy, dx]) - feq(rho, vel[0, sy, sx], vel[1, sy, sx])
            g[:, dy, dx] = corr.ravel() + g[:, sy, sx]

        for x in range(1, W - 1):
            nee(0, x, 1, x)
            nee(H - 1, x, H - 2, x)
        for y in range(H):
            nee(y, 0, y, 1)
            nee(y, W - 1, y, W - 2)
        f = g
    return f.sum(axis=0)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    image = rng.random((9, 11))
    alphas = np.array([0.02, 0.02, 0.15, 0.15, 0.15, 0.08, 0.08, 0.16])  # tau jumps between levels
    fields = [rng.normal(0, 0.02, (2, 9, 11)) for _ in alphas]
    return image, alphas, fields


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_authors_variant_equals_the_oracle(case, backend):
    image, alphas, fields = case
    expected = oracle(image, alphas, fields)
    u0 = np.repeat(image[None, None], 2, axis=1).astype(np.float32)  # two channels share the field
    out = solve(
        u0,
        alphas,
        len(alphas),
        lambda n: fields[n][None].astype(np.float32),
        backend=backend,
        collision="central_moment",
        variant="authors",
    )
    np.testing.assert_allclose(out[0, 0], expected, atol=2e-6)
    np.testing.assert_allclose(out[0, 1], expected, atol=2e-6)


def test_each_authors_choice_changes_the_result(case):
    """The variant is not the default operator: walls, rates, start and kappa22 each differ."""
    image, alphas, fields = case
    u0 = image[None, None].astype(np.float32)
    velocity = lambda n: fields[n][None].astype(np.float32)  # noqa: E731
    base = solve(u0, alphas, len(alphas), velocity, backend="cpu", collision="central_moment")
    authors = solve(u0, alphas, len(alphas), velocity, backend="cpu", collision="central_moment", variant="authors")
    walls_only = solve(
        u0,
        alphas,
        len(alphas),
        velocity,
        backend="cpu",
        collision="central_moment",
        variant="authors",
        boundary="neumann",
    )
    assert np.abs(base - authors).max() > 1e-3
    assert np.abs(walls_only - authors).max() > 1e-3
    # with zero-flux walls the variant still conserves mass; the extrapolation walls do not
    assert abs(walls_only.sum() - u0.sum()) < 1e-4
    assert abs(authors.sum() - u0.sum()) > 1e-3


def test_unknown_variant_and_small_grids_are_refused():
    u0 = np.ones((1, 1, 8, 8), np.float32)
    with pytest.raises(ConfigError, match=r"variant='theirs'.*default, authors"):
        solve(u0, 0.1, 2, variant="theirs")
    with pytest.raises(ConfigError, match=r"boundary='extrapolation'.*2 x 8"):
        solve(np.ones((1, 1, 2, 8), np.float32), 0.1, 2, boundary="extrapolation")


def test_a_backend_without_the_variant_refuses_it_before_any_work(monkeypatch):
    from advdiff.lbm.backends.numpy_ref import NumpyBackend

    monkeypatch.setattr(NumpyBackend, "variants", ("default",))
    with pytest.raises(ConfigError, match=r"variant='authors'.*default on the 'numpy' backend"):
        solve(np.ones((1, 1, 8, 8), np.float32), 0.1, 2, backend="numpy", variant="authors")
