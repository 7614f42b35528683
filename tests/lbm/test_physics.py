"""The LBM against exact solutions of the advection-diffusion equation.

Oracles are written here, independently of :mod:`advdiff.lbm.validation`:

* a Gaussian hill carried by a uniform velocity and spread by diffusion (periodic images summed);
* the orthonormal DCT-II heat operator for Pe = 0 with zero-flux walls;
* conservation of each channel's sum with zero-flux walls;
* centroid and variance of hills on a non-square batch (axis and batch-index mix-ups).
"""

import math

import numpy as np
import pytest
import scipy.fft

from advdiff.lbm import available_backends, solve, units

COLLISIONS = ["bgk", "central_moment"]
BACKENDS = [name for name, state in available_backends().items() if state == "ok"]


# ----------------------------------------------------------------------------- oracles and helpers


def gaussian_hill(shape, centre, s0, alpha=0.0, t=0.0, velocity=(0.0, 0.0), images=2):
    """Exact solution on a periodic grid for a hill exp(-|x - c|^2 / (2 s0^2)) at t = 0.

    At time t it is centred at c + v t with per-axis variance s0^2 + 2 alpha t and amplitude
    s0^2 / (s0^2 + 2 alpha t) (mass conserved); ``images`` periodic copies each side are summed.
    ``centre`` and ``velocity`` are (x, y): x along the width (last) axis, y along the height axis.
    """
    H, W = shape
    var = s0**2 + 2.0 * alpha * t
    cx, cy = centre[0] + velocity[0] * t, centre[1] + velocity[1] * t
    x, y = np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64)
    gx = sum(np.exp(-((x - cx + m * W) ** 2) / (2 * var)) for m in range(-images, images + 1))
    gy = sum(np.exp(-((y - cy + m * H) ** 2) / (2 * var)) for m in range(-images, images + 1))
    return (s0**2 / var) * gy[:, None] * gx[None, :]


def heat_dct(u0, sigma):
    """Exact heat flow with reflecting walls half a pixel outside the image: blur of width ``sigma`` px.

    u = IDCT(exp(-lambda sigma^2 / 2) DCT(u0)), orthonormal DCT-II over the last two axes,
    lambda_ij = (pi i / H)^2 + (pi j / W)^2.
    """
    H, W = u0.shape[-2:]
    lam = (np.pi * np.arange(H) / H)[:, None] ** 2 + (np.pi * np.arange(W) / W)[None, :] ** 2
    coeff = scipy.fft.dctn(np.asarray(u0, np.float64), type=2, norm="ortho", axes=(-2, -1))
    return scipy.fft.idctn(coeff * np.exp(-lam * sigma**2 / 2), type=2, norm="ortho", axes=(-2, -1))


def relative_l2(a, b):
    """||a - b|| / ||b|| in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def photo(height, width, channels=3):
    """Grace Hopper (matplotlib's sample photo), centre-cropped to the aspect ratio, resized, (1, C, H, W) in [0, 1]."""
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        w, h = im.size
        cw, ch = (w, round(w * height / width)) if w * height <= h * width else (round(h * width / height), h)
        left, top = (w - cw) // 2, (h - ch) // 2
        im = im.crop((left, top, left + cw, top + ch)).convert("RGB" if channels == 3 else "L")
        arr = np.asarray(im.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    return np.ascontiguousarray(arr.reshape(height, width, channels).transpose(2, 0, 1)[None])


def uniform_velocity(batch_velocities, height, width):
    """(B, 2, H, W) float32 field, image b moving with the constant (vx, vy) ``batch_velocities[b]``."""
    v = np.asarray(batch_velocities, np.float32)
    return np.ascontiguousarray(np.broadcast_to(v[:, :, None, None], (len(v), 2, height, width)))


def swirl(batch, height, width, speed=0.05):
    """Callable step -> (B, 2, H, W) smooth field that changes every step, |v| <= ``speed``.

    Both components are nonzero on the walls (flow into and out of the zero-flux boundary);
    image b's field is phase-shifted so that images differ.
    """
    y = (np.arange(height)[:, None] + 0.5) / height
    x = (np.arange(width)[None, :] + 0.5) / width
    amp = speed / math.sqrt(2.0)

    def field(n):
        v = np.empty((batch, 2, height, width), np.float32)
        for b in range(batch):
            t = 0.013 * n + 0.7 * b
            v[b, 0] = amp * np.cos(2 * np.pi * y + t) * np.cos(np.pi * x / 3 - 0.5 * t)
            v[b, 1] = amp * np.sin(2 * np.pi * x - 1.3 * t) * np.cos(np.pi * y / 3 + t)
        return v

    return field


def periodic_moments(u, expected_centre):
    """Mass, centroid (x, y) and per-axis variance (x, y) of a hill on a periodic (H, W) grid.

    Distances are measured from ``expected_centre`` wrapped into [-L/2, L/2), so a hill near
    the seam is not split; the tails beyond L/2 must be negligible.
    """
    H, W = u.shape
    u = np.asarray(u, np.float64)
    dx = (np.arange(W) - expected_centre[0] + W / 2) % W - W / 2
    dy = (np.arange(H) - expected_centre[1] + H / 2) % H - H / 2
    px, py = u.sum(axis=0), u.sum(axis=1)
    mass = u.sum()
    mx, my = (px * dx).sum() / mass, (py * dy).sum() / mass
    vx, vy = (px * (dx - mx) ** 2).sum() / mass, (py * (dy - my) ** 2).sum() / mass
    return mass, (expected_centre[0] + mx, expected_centre[1] + my), (vx, vy)


# ----------------------------------------------------------------------------- 1. moving Gaussian hill


@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_hill_advected_and_diffused(backend, collision):
    """A Gaussian hill under uniform velocity and diffusion (periodic) matches the exact solution to 1e-2."""
    n, s0, alpha, v, steps = 128, 8.0, 0.1, (0.05, 0.03), 400
    centre = (50.3, 60.7)
    u0 = gaussian_hill((n, n), centre, s0)[None, None].astype(np.float32)
    vel = uniform_velocity([v], n, n)
    out = solve(u0, alpha, steps, vel, backend=backend, collision=collision, boundary="periodic")
    assert out.dtype == np.float32 and out.shape == u0.shape
    exact = gaussian_hill((n, n), centre, s0, alpha, steps, v)
    assert relative_l2(out[0, 0], exact) < 1e-2


# ----------------------------------------------------------------------------- 2. second-order convergence


def _hill_error(n, collision):
    """Relative L2 error of the hill problem at resolution n (diffusive scaling from n = 64)."""
    r = n / 64
    s0, alpha, steps = 4.0 * r, 0.1, round(150 * r * r)
    v = (0.08 / r, 0.05 / r)
    centre = (0.4 * n - 0.5, 0.55 * n - 0.5)  # the same physical point on both grids (cell centres)
    u0 = gaussian_hill((n, n), centre, s0)[None, None].astype(np.float32)
    out = solve(u0, alpha, steps, uniform_velocity([v], n, n), backend="cpu", collision=collision, boundary="periodic")
    return relative_l2(out[0, 0], gaussian_hill((n, n), centre, s0, alpha, steps, v))


@pytest.mark.skipif("cpu" not in BACKENDS, reason="the compiled cpu backend is not built")
@pytest.mark.parametrize("collision", COLLISIONS)
def test_second_order_convergence_under_diffusive_scaling(collision):
    """Halving dx (lengths x2, steps x4, alpha fixed, velocity /2) divides the hill error by ~4 (order 2)."""
    coarse, fine = _hill_error(64, collision), _hill_error(128, collision)
    order = math.log2(coarse / fine)
    assert fine < coarse < 2e-2
    assert order > 1.8, f"observed order {order:.2f} (errors {coarse:.3e} -> {fine:.3e})"


# ----------------------------------------------------------------------------- 3. Pe = 0 vs the DCT heat operator


@pytest.mark.parametrize(
    "backend, collision, shape, channels, K, sigma_max, levels",
    [
        ("cpu", "bgk", (64, 80), 3, 50, 8.0, [1, 20, 30, 40, 50]),
        ("cpu", "central_moment", (64, 80), 3, 50, 8.0, [1, 20, 30, 40, 50]),
        ("numpy", "bgk", (32, 40), 1, 20, 4.0, [1, 13, 20]),
        ("numpy", "central_moment", (32, 40), 1, 20, 4.0, [1, 13, 20]),
    ],
)
def test_pure_diffusion_with_walls_matches_dct_heat_operator(backend, collision, shape, channels, K, sigma_max, levels):
    """Pe = 0 with zero-flux walls along the blur schedule equals the DCT-II heat operator (interior rel. L2 < 2e-2)."""
    if backend not in BACKENDS:
        pytest.skip(f"backend {backend} is not available")
    H, W = shape
    u0 = photo(H, W, channels)
    sched = units.build_schedule(K, sigma_max, sigma_min=0.5, peclet=0.0, length=H)
    ends = [int(sched.level_end[k]) for k in levels]
    out = solve(u0, sched.per_step_diffusivity(), sched.total_steps, backend=backend, collision=collision, record=ends)
    assert out.shape == (len(levels), *u0.shape)
    inner = (..., slice(2, H - 2), slice(2, W - 2))
    errors = {k: relative_l2(out[i][inner], heat_dct(u0, float(sched.sigmas[k]))[inner]) for i, k in enumerate(levels)}
    assert max(errors.values()) < 2e-2, {k: f"sigma={sched.sigmas[k]:.2f}: {e:.2e}" for k, e in errors.items()}


# ----------------------------------------------------------------------------- 4. mass conservation


def _relative_mass_change(backend, collision, velocity, diffusivity, shape, steps=1000, seed=0):
    """Largest |sum_after / sum_before - 1| over channels after ``steps`` steps with zero-flux walls."""
    B, C, H, W = shape
    rng = np.random.default_rng(seed)
    scale = np.arange(1, C + 1, dtype=np.float32)[None, :, None, None]  # channels of different magnitude
    u0 = rng.random(shape, dtype=np.float32) * scale
    alpha = 0.1 if diffusivity == "constant" else rng.uniform(0.01, 1.0 / 6.0, steps)
    vel = swirl(B, H, W) if velocity == "time-varying" else None
    out = solve(u0, alpha, steps, vel, backend=backend, collision=collision, boundary="neumann")
    s0 = u0.astype(np.float64).sum(axis=(-2, -1))
    return np.abs(out.astype(np.float64).sum(axis=(-2, -1)) / s0 - 1.0).max()


@pytest.mark.parametrize("diffusivity", ["constant", "per-step"])
@pytest.mark.parametrize("velocity", ["time-varying", "none"])
@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("backend, shape", [("cpu", (2, 3, 48, 64)), ("numpy", (2, 1, 24, 20))], ids=["cpu", "numpy"])
def test_zero_flux_walls_conserve_each_channel_sum(backend, shape, collision, velocity, diffusivity):
    """Each channel's sum stays within 1e-5 (float32) over 1000 steps with zero-flux walls."""
    if backend not in BACKENDS:
        pytest.skip(f"backend {backend} is not available")
    drift = _relative_mass_change(backend, collision, velocity, diffusivity, shape)
    assert drift < 1e-5, f"largest relative change of a channel sum: {drift:.3e}"


# ----------------------------------------------------------------------------- 5. axes and batch on non-square grids


@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("backend", [b for b in ("cpu", "numpy") if b in BACKENDS])
def test_hill_moments_on_non_square_batch(backend, collision):
    """Non-square B=2, C=2 batch: each hill's centroid moves by v t on the right axes, its variance grows 2 alpha t."""
    H, W = (72, 112) if backend == "cpu" else (56, 88)
    alpha, steps = 0.05, 300 if backend == "cpu" else 160
    velocities = [(0.05, -0.03), (-0.02, 0.045)]  # per image (vx, vy)
    s0 = [[4.0, 3.0], [3.5, 4.5]]  # per image and channel
    centres = [[(0.3 * W, 0.6 * H), (0.7 * W, 0.35 * H)], [(0.55 * W, 0.3 * H), (0.2 * W, 0.7 * H)]]
    u0 = np.stack(
        [np.stack([gaussian_hill((H, W), centres[b][c], s0[b][c]) for c in range(2)]) for b in range(2)]
    ).astype(np.float32)
    vel = uniform_velocity(velocities, H, W)
    out = solve(u0, alpha, steps, vel, backend=backend, collision=collision, boundary="periodic")
    assert out.shape == (2, 2, H, W)
    for b in range(2):
        vx, vy = velocities[b]
        for c in range(2):
            expected = (centres[b][c][0] + vx * steps, centres[b][c][1] + vy * steps)
            mass0, _, _ = periodic_moments(u0[b, c], centres[b][c])
            mass, centroid, var = periodic_moments(out[b, c], expected)
            assert mass == pytest.approx(mass0, rel=1e-5)
            np.testing.assert_allclose(centroid, expected, atol=1e-3, err_msg=f"centroid of image {b}, channel {c}")
            grown = np.array(var) - s0[b][c] ** 2
            np.testing.assert_allclose(grown, 2 * alpha * steps, rtol=1e-3, err_msg=f"variance, image {b} ch {c}")
