"""Spectral stochastic turbulence: construction, spectra, seeding, limiter, validation, solver use."""

import importlib.util
import math

import numpy as np
import pytest

from advdiff.errors import BackendUnavailableError, ConfigError
from advdiff.fields import SpectralTurbulence, amplitude, energy_spectrum, velocity_callable, wavenumbers
from advdiff.lbm import solve
from advdiff.lbm.units import build_schedule

HAS_CUPY = importlib.util.find_spec("cupy") is not None
SLOPES = {"paper": -7.0 / 3.0, "kolmogorov": -5.0 / 3.0}


def _rms(v):
    """RMS of each component, float64, shape (B, 2)."""
    return np.sqrt(np.mean(np.asarray(v, dtype=np.float64) ** 2, axis=(-2, -1)))


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _divergence_ratio(v):
    """Spectral divergence |k·v̂| over |v̂| per image, with lattice wavenumbers 2π·fftfreq (radians per pixel)."""
    H, W = v.shape[-2:]
    kx = 2 * np.pi * np.fft.fftfreq(W)[None, :]
    ky = 2 * np.pi * np.fft.fftfreq(H)[:, None]
    vh = np.fft.fft2(np.asarray(v, dtype=np.float64), axes=(-2, -1))
    div = kx * vh[:, 0] + ky * vh[:, 1]
    return np.sqrt(np.sum(np.abs(div) ** 2, axis=(-2, -1)) / np.sum(np.abs(vh) ** 2, axis=(-3, -2, -1)))


def _slope(k, E, lo, hi):
    sel = (k >= lo) & (k <= hi)
    return float(np.polyfit(np.log(k[sel]), np.log(E[sel]), 1)[0])


def _paper_reference(shape, batch, step, rms, *, law="paper", seed=0, reynolds=None, divergence_free=False, c=None):
    """The authors' recipe written out directly: Re(IFFT2) of a non-Hermitian spectrum, per image and component."""
    H, W = shape
    kx, ky = wavenumbers(shape)
    k = np.hypot(kx, ky)
    re = math.inf if reynolds is None else reynolds
    amp = amplitude(k, law, 2 * np.pi, 2 * np.pi * re**0.75)
    if divergence_free:
        if H % 2 == 0:
            amp[H // 2] = 0
        if W % 2 == 0:
            amp[:, W // 2] = 0
    out = np.empty((batch, 2, H, W))
    for i in range(batch):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        phases = rng.uniform(0, 2 * np.pi, size=(2, H, W))
        X = amp * np.exp(1j * (phases + 1e-3 * k * step))
        if divergence_free:
            dot = (kx * X[0] + ky * X[1]) / np.where(k > 0, k**2, 1)
            X = X - np.stack([kx, ky]) * dot
        u = np.fft.ifft2(X).real
        if divergence_free:
            u *= rms / np.sqrt(np.mean(u**2))
        else:
            u *= rms / u.std(axis=(-2, -1), keepdims=True)
        out[i] = u
    if c is not None:
        mag = np.sqrt(np.sum(out**2, axis=1, keepdims=True))
        out = out * c * np.tanh(mag / c) / np.maximum(mag, 1e-300)
    return out


# ---------------------------------------------------------------- the construction itself


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((32, 32), {}),
        ((24, 40), {"law": "kolmogorov", "reynolds": 30.0}),
    ],
)
@pytest.mark.parametrize("step", [0, 7, 45_000])
def test_matches_the_papers_recipe(shape, kwargs, step):
    """The half-cost Hermitian/packed evaluation equals Re(IFFT2) of the paper's non-Hermitian spectrum."""
    rms = 2e-3
    turb = SpectralTurbulence(shape, 3, limiter=0.01, seed=0, **kwargs)
    ref = _paper_reference(shape, 3, step, rms, c=0.01, **kwargs)
    np.testing.assert_allclose(turb.field(step, rms), ref, rtol=0, atol=2e-5 * rms)


def test_output_type_shape_and_dtype():
    """(B, 2, H, W), float32 by default and float64 on request, equal to each other to float32 precision."""
    v32 = SpectralTurbulence((20, 30), 2, seed=3).field(5, 1e-3)
    v64 = SpectralTurbulence((20, 30), 2, seed=3, dtype="float64").field(5, 1e-3)
    assert isinstance(v32, np.ndarray) and v32.shape == (2, 2, 20, 30) and v32.dtype == np.float32
    assert v64.dtype == np.float64
    np.testing.assert_allclose(v32, v64, rtol=0, atol=1e-5 * 1e-3)


def test_amplitude_law_inertial_range_and_rolloff():
    """A = k^p on [k0, k_eta], flat below k0, zero at k = 0, smoothly and strictly below the power law above k_eta."""
    k = np.linspace(0, 400, 4001)
    k0, k_eta = 10.0, 100.0
    for law, p in (("paper", -5 / 3), ("kolmogorov", -4 / 3)):
        a = amplitude(k, law, k0, k_eta)
        assert a[0] == 0 and a.max() == pytest.approx(1.0)
        inertial = (k >= k0) & (k <= k_eta)
        np.testing.assert_allclose(a[inertial] / a[inertial][0], (k[inertial] / k0) ** p, rtol=1e-12)
        np.testing.assert_allclose(a[(k > 0) & (k < k0)], a[k == k0][0], rtol=1e-12)
        above = k > k_eta
        power = a[inertial][0] * (k[above] / k0) ** p
        assert np.all(a[above] < power)
        np.testing.assert_allclose(a[above] / power, np.exp(-((k[above] / k_eta - 1) ** 2)), rtol=1e-12)
        below, above_eta = amplitude(np.array([k_eta - 1e-6, k_eta + 1e-6]), law, k0, k_eta)
        assert above_eta == pytest.approx(below, rel=1e-6)  # continuous (and flat-tangent) at k_eta
        np.testing.assert_array_equal(amplitude(k, law, k0, math.inf)[k > k_eta] > 0, True)


# ---------------------------------------------------------------- divergence, spectra, Reynolds


def _lattice_divergence(v):
    """The D2Q9 lattice's divergence d_x S_y v_x + d_y S_x v_y of a (B, 2, H, W) field, zero outside it."""
    v = np.asarray(v, dtype=np.float64)
    p = np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)))
    sy = p[:, 0, :-2] / 6 + 2 * p[:, 0, 1:-1] / 3 + p[:, 0, 2:] / 6  # S_y v_x, (B, H, W + 2)
    sx = p[:, 1, :, :-2] / 6 + 2 * p[:, 1, :, 1:-1] / 3 + p[:, 1, :, 2:] / 6  # S_x v_y, (B, H + 2, W)
    return 0.5 * (sy[:, :, 2:] - sy[:, :, :-2]) + 0.5 * (sx[:, 2:] - sx[:, :-2])


@pytest.mark.parametrize("law", ["paper", "kolmogorov"])
@pytest.mark.parametrize("shape", [(64, 64), (48, 80), (33, 47)])
def test_divergence_free_field_has_no_lattice_divergence_and_no_flow_at_the_walls(law, shape):
    """The lattice divergence vanishes to round-off (1e-6 of |v|) everywhere, the outer ring is still;
    the plain field is far from divergence free."""
    proj = SpectralTurbulence(shape, 3, law=law, divergence_free=True, limiter=None, seed=1)
    plain = SpectralTurbulence(shape, 3, law=law, divergence_free=False, limiter=None, seed=1)
    for step in (0, 123):
        v = proj.field(step, 1e-4)
        assert np.abs(_lattice_divergence(v)).max() < 1e-6 * np.abs(v).max()
        assert v[..., 0, :].max() == v[..., -1, :].max() == v[..., :, 0].max() == v[..., :, -1].max() == 0
        w = plain.field(step, 1e-4)
        assert np.abs(_lattice_divergence(w)).max() > 1e-2 * np.abs(w).max()
    # one common factor keeps it divergence free: the joint RMS of the two components is the target
    v = proj.field(5, 3e-4)
    np.testing.assert_allclose(np.sqrt(np.mean(_rms(v) ** 2, axis=1)), 3e-4, rtol=1e-5)


def test_divergence_free_field_needs_room_for_its_still_rings():
    with pytest.raises(ConfigError, match=r"shape=\(4, 9\).*at least 5 x 5"):
        SpectralTurbulence((4, 9), divergence_free=True)


@pytest.mark.parametrize("law", ["paper", "kolmogorov"])
def test_shell_energy_spectrum_follows_its_law(law):
    """Fit of log E vs log k over the inertial range: k^(-7/3) for `paper`, k^(-5/3) for `kolmogorov`, ±0.15."""
    turb = SpectralTurbulence((256, 256), 6, law=law, limiter=None, seed=11)
    k, E = energy_spectrum(turb.field(0, 1e-3))
    slope = _slope(k, E.mean(axis=0), 2 * np.pi * 4, 2 * np.pi * 100)
    assert slope == pytest.approx(SLOPES[law], abs=0.15)
    other = SLOPES["kolmogorov" if law == "paper" else "paper"]
    assert abs(slope - other) > 0.3  # the two laws are told apart


@pytest.mark.parametrize("law", ["paper", "kolmogorov"])
def test_inertial_range_slope_with_finite_reynolds(law):
    """Re = 100 (k_eta ≈ 32·k0; shells complete to 64·k0): the slope on [3·k0, k_eta] keeps its law, steeper beyond."""
    turb = SpectralTurbulence((128, 128), 8, law=law, reynolds=100.0, limiter=None, seed=5)
    k, E = energy_spectrum(turb.field(0, 1e-3))
    E = E.mean(axis=0)
    assert _slope(k, E, 2 * np.pi * 3, turb.k_eta) == pytest.approx(SLOPES[law], abs=0.15)
    assert _slope(k, E, turb.k_eta, 2 * turb.k_eta) < SLOPES[law] - 2.0


def test_higher_reynolds_puts_more_energy_at_small_scales():
    """The energy fraction above 10·k0 grows with Re and saturates at Re = None (every mode)."""

    def fraction(re):
        turb = SpectralTurbulence((128, 128), 8, reynolds=re, limiter=None, seed=2)
        k, E = energy_spectrum(turb.field(0, 1e-3))
        E = E.mean(axis=0)
        return E[k > 10 * turb.k0].sum() / E.sum()

    f10, f100, f1000, f_inf = fraction(10.0), fraction(100.0), fraction(1000.0), fraction(None)
    assert f100 > 5 * f10
    assert f1000 > f100
    assert f_inf == pytest.approx(fraction(math.inf)) and f_inf == pytest.approx(fraction("none"))
    assert f_inf >= f1000 * (1 - 1e-6)
    assert fraction(1.0) < 1e-6


def test_energy_spectrum_parseval_and_single_mode():
    """Σ E = ½ mean|v|² for a zero-mean field; a single Fourier mode lands in its own shell."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal((3, 2, 24, 40))
    v -= v.mean(axis=(-2, -1), keepdims=True)
    k, E = energy_spectrum(v)
    assert E.shape == (3, k.size)
    np.testing.assert_allclose(E.sum(axis=-1), 0.5 * np.mean(np.sum(v**2, axis=1), axis=(-2, -1)), rtol=1e-10)
    y, x = np.mgrid[0:32, 0:32]
    wave = np.stack([np.cos(2 * np.pi * 5 * x / 32), np.zeros((32, 32))])
    k, E = energy_spectrum(wave)
    assert E.shape == k.shape
    assert k[np.argmax(E)] == pytest.approx(2 * np.pi * 5)
    assert E.sum() == pytest.approx(0.25) and E.max() == pytest.approx(0.25)
    with pytest.raises(ConfigError, match="v="):
        energy_spectrum(np.zeros((3, 8, 8)))


# ---------------------------------------------------------------- seeding


def test_same_seed_same_field_different_seed_differs():
    """Reproducible from the seed alone; a different seed gives a different realisation."""
    a = SpectralTurbulence((32, 32), 2, seed=7).field(10, 1e-3)
    b = SpectralTurbulence((32, 32), 2, seed=7).field(10, 1e-3)
    c = SpectralTurbulence((32, 32), 2, seed=8).field(10, 1e-3)
    np.testing.assert_array_equal(a, b)
    assert _rel(c, a) > 0.5
    assert _rel(a[1], a[0]) > 0.5  # images of one batch are independent realisations


def test_per_image_seeds_do_not_depend_on_the_batch():
    """Image i of a batch of 4 equals image 0 of a batch of 1 started at first_image = i."""
    batch = SpectralTurbulence((24, 24), 4, seed=3).field(17, 1e-3)
    for i in range(4):
        single = SpectralTurbulence((24, 24), 1, seed=3, first_image=i).field(17, 1e-3)
        np.testing.assert_allclose(single[0], batch[i], rtol=0, atol=1e-6 * 1e-3)
    shifted = SpectralTurbulence((24, 24), 2, seed=3, first_image=2).field(17, 1e-3)
    np.testing.assert_allclose(shifted, batch[2:], rtol=0, atol=1e-6 * 1e-3)


def test_reseed_and_config_rebuild_the_same_field():
    """seed=None records its entropy; the resolved config rebuilds an identical generator; reseed redraws."""
    turb = SpectralTurbulence((16, 20), 2, seed=None, reynolds=50.0, law="kolmogorov", limiter=None)
    assert isinstance(turb.seed, int) and turb.seed >= 0
    again = SpectralTurbulence(**turb.config)
    np.testing.assert_array_equal(again.field(3, 1e-3), turb.field(3, 1e-3))
    before = turb.field(3, 1e-3)
    turb.reseed(123)
    assert _rel(turb.field(3, 1e-3), before) > 0.5
    np.testing.assert_array_equal(turb.field(3, 1e-3), SpectralTurbulence(**turb.config).field(3, 1e-3))


# ---------------------------------------------------------------- RMS, Pe = 0, limiter


def test_zero_rms_gives_exactly_zero_velocity():
    """Pe = 0 (U_n = 0, or below 1e-14) gives v = 0 exactly, also per image in a batch."""
    turb = SpectralTurbulence((16, 16), 3, limiter=None, seed=0)
    for rms in (0.0, 1e-15):
        v = turb.field(4, rms)
        assert v.shape == (3, 2, 16, 16) and not np.any(v)
    v = turb.field(4, np.array([1e-3, 0.0, 2e-3]))
    assert not np.any(v[1])
    np.testing.assert_allclose(_rms(v[[0, 2]]), [[1e-3, 1e-3], [2e-3, 2e-3]], rtol=1e-5)


@pytest.mark.parametrize("law", ["paper", "kolmogorov"])
def test_component_rms_equals_the_requested_value(law):
    """Each component's RMS (= std, zero mean) is U_n without the limiter, and ~U_n with a large limiter scale."""
    for step in (0, 1, 999):
        for rms in (1e-6, 1e-4, 0.05):
            v = SpectralTurbulence((40, 40), 3, law=law, limiter=None, seed=step).field(step, rms)
            np.testing.assert_allclose(_rms(v), rms, rtol=1e-5)
            np.testing.assert_allclose(v.mean(axis=(-2, -1)), 0.0, atol=1e-6 * rms)
            v = SpectralTurbulence((40, 40), 3, law=law, limiter=1e3 * rms, seed=step).field(step, rms)
            np.testing.assert_allclose(_rms(v), rms, rtol=1e-4)


def test_limiter_bounds_magnitude_and_keeps_direction():
    """|v| = c·tanh(|v_raw|/c) <= c with the direction of the unlimited field."""
    c = 0.01
    raw = SpectralTurbulence((48, 48), 2, limiter=None, seed=4).field(9, 0.03)
    lim = SpectralTurbulence((48, 48), 2, limiter=c, seed=4).field(9, 0.03)
    raw64, lim64 = raw.astype(np.float64), lim.astype(np.float64)
    mag_raw = np.linalg.norm(raw64, axis=1)
    mag_lim = np.linalg.norm(lim64, axis=1)
    assert mag_raw.max() > 3 * c  # the limiter is actually exercised
    assert mag_lim.max() <= c * (1 + 1e-6)
    np.testing.assert_allclose(mag_lim, c * np.tanh(mag_raw / c), rtol=1e-5, atol=1e-12)
    cross = raw64[:, 0] * lim64[:, 1] - raw64[:, 1] * lim64[:, 0]
    dot = np.sum(raw64 * lim64, axis=1)
    assert np.all(np.abs(cross) <= 1e-5 * mag_raw * mag_lim + 1e-20)
    assert np.all(dot >= 0)


# ---------------------------------------------------------------- time dependence


def test_phases_rotate_smoothly_with_the_step():
    """field(n+1) is near field(n), the change grows linearly for small Δn, far steps differ, dt_turb = 0 freezes."""
    turb = SpectralTurbulence((64, 64), 2, limiter=None, seed=6)
    f0, f1, f2 = (turb.field(100 + d, 1e-3) for d in range(3))
    step1 = _rel(f1, f0)
    assert 1e-4 < step1 < 0.05
    assert _rel(f2, f0) == pytest.approx(2 * step1, rel=0.1)
    assert _rel(turb.field(3000, 1e-3), turb.field(0, 1e-3)) > 0.5
    frozen = SpectralTurbulence((64, 64), 2, limiter=None, seed=6, dt_turb=0.0)
    np.testing.assert_array_equal(frozen.field(0, 1e-3), frozen.field(5000, 1e-3))


def test_velocity_callable_follows_the_schedule():
    """velocity(n) = field(start + n, U_{start+n}) with the schedule's per-step RMS; past the end is an error."""
    schedule = build_schedule(6, 3.0, peclet=2.0, length=16)
    rms = schedule.per_step_velocity_rms()
    turb = SpectralTurbulence((16, 16), 2, limiter=None, seed=0)
    velocity = velocity_callable(turb, schedule, start=2)
    for n in (0, 3):
        np.testing.assert_array_equal(velocity(n), turb.field(2 + n, rms[2 + n]))
        np.testing.assert_allclose(_rms(velocity(n)), rms[2 + n], rtol=1e-5)
    with pytest.raises(ConfigError, match="step="):
        velocity(schedule.total_steps - 2)
    np.testing.assert_array_equal(velocity_callable(turb, 1e-3)(4), turb.field(4, 1e-3))
    np.testing.assert_array_equal(velocity_callable(turb, [0.0, 1e-3])(1), turb.field(1, 1e-3))


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"law": "gauss"}, "law="),
        ({"reynolds": -1.0}, "reynolds="),
        ({"reynolds": 0}, "reynolds="),
        ({"reynolds": float("nan")}, "reynolds="),
        ({"reynolds": "high"}, "reynolds="),
        ({"reynolds": 1e-9}, "reynolds="),  # rolls every mode off
        ({"shape": (1, 8)}, "shape="),
        ({"shape": (8,)}, "shape="),
        ({"shape": (8.0, 8)}, "shape="),
        ({"shape": 8}, "shape="),
        ({"batch": 0}, "batch="),
        ({"batch": True}, "batch="),
        ({"k0": -1.0}, "k0="),
        ({"k0": 1e9}, "k0="),
        ({"k0": float("inf")}, "k0="),
        ({"limiter": 0.0}, "limiter="),
        ({"limiter": -0.01}, "limiter="),
        ({"limiter": float("inf")}, "limiter="),
        ({"dt_turb": -1e-3}, "dt_turb="),
        ({"dt_turb": float("nan")}, "dt_turb="),
        ({"seed": -1}, "seed="),
        ({"seed": 1.5}, "seed="),
        ({"first_image": -2}, "first_image="),
        ({"divergence_free": "yes"}, "divergence_free="),
        ({"dtype": "float16"}, "dtype="),
        ({"xp": "jax"}, "xp="),
    ],
)
def test_constructor_validation_names_the_key(kwargs, key):
    """Every bad constructor argument raises ConfigError naming key, value and what is allowed."""
    args = {"shape": (8, 8), **kwargs}
    with pytest.raises(ConfigError, match=key) as info:
        SpectralTurbulence(**args)
    assert "expected" in str(info.value)


@pytest.mark.parametrize(
    "step, rms, key",
    [
        (-1, 1e-3, "step="),
        (1.5, 1e-3, "step="),
        (0, -1e-3, "rms="),
        (0, float("nan"), "rms="),
        (0, float("inf"), "rms="),
        (0, "fast", "rms="),
        (0, [1e-3, 1e-3, 1e-3], "rms="),
        (0, [1e-3, float("nan")], r"rms\[1\]="),
        (0, [-1.0, 1e-3], r"rms\[0\]="),
    ],
)
def test_field_validation_names_the_key(step, rms, key):
    """Bad step or RMS raise ConfigError naming the key."""
    turb = SpectralTurbulence((8, 8), 2)
    with pytest.raises(ConfigError, match=key):
        turb.field(step, rms)


def test_velocity_callable_validation():
    """Negative or non-finite per-step RMS, a 2-D RMS array, a bad start or generator are rejected."""
    turb = SpectralTurbulence((8, 8), 1)
    with pytest.raises(ConfigError, match=r"rms\[1\]="):
        velocity_callable(turb, [0.0, -1.0])
    with pytest.raises(ConfigError, match=r"rms\[0\]="):
        velocity_callable(turb, [float("inf")])
    with pytest.raises(ConfigError, match="rms="):
        velocity_callable(turb, np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="rms="):
        velocity_callable(turb, -1.0)
    with pytest.raises(ConfigError, match="start="):
        velocity_callable(turb, [0.0], start=-1)
    with pytest.raises(ConfigError, match="turbulence="):
        velocity_callable(object(), [0.0])


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed here")
def test_cupy_request_without_cupy_says_why():
    """Asking for the cupy array module where CuPy is missing raises BackendUnavailableError."""
    with pytest.raises(BackendUnavailableError, match="CuPy"):
        SpectralTurbulence((8, 8), xp="cupy")


# ---------------------------------------------------------------- with the solver


def test_solver_with_turbulence_conserves_and_advects():
    """solve(..., velocity=callable) at Pe > 0 conserves channel sums to 1e-5 and differs from Pe = 0."""
    rng = np.random.default_rng(0)
    u0 = rng.random((2, 3, 32, 32), dtype=np.float32) + 0.5
    moving = build_schedule(12, 4.0, peclet=4.0, length=32)
    still = build_schedule(12, 4.0, peclet=0.0, length=32)
    steps, alphas = moving.total_steps, moving.per_step_diffusivity()
    np.testing.assert_array_equal(alphas, still.per_step_diffusivity())
    turb = SpectralTurbulence((32, 32), 2, seed=0)
    out = solve(u0, alphas, steps, velocity=velocity_callable(turb, moving), backend="cpu")
    ref = solve(u0, alphas, steps, velocity=velocity_callable(turb, still), backend="cpu")
    plain = solve(u0, alphas, steps, backend="cpu")
    sums0 = u0.astype(np.float64).sum(axis=(-2, -1))
    np.testing.assert_allclose(out.astype(np.float64).sum(axis=(-2, -1)), sums0, rtol=1e-5)
    np.testing.assert_array_equal(ref, plain)  # Pe = 0 is exactly the velocity-free solve
    assert np.abs(out - ref).max() > 1e-3
    assert _rel(out - ref, ref) > 1e-4


# ---------------------------------------------------------------- large grid and GPU checks


@pytest.mark.parametrize("law", ["paper", "kolmogorov"])
def test_spectrum_slope_on_a_large_grid(law):
    """512² grid, 4 realisations at several steps: the slope over s = 4..200 is within ±0.05 of the law."""
    turb = SpectralTurbulence((512, 512), 4, law=law, limiter=None, seed=21)
    spectra = [energy_spectrum(turb.field(step, 1e-3)) for step in (0, 5000)]
    k = spectra[0][0]
    E = np.mean([e.mean(axis=0) for _, e in spectra], axis=0)
    assert _slope(k, E, 2 * np.pi * 4, 2 * np.pi * 200) == pytest.approx(SLOPES[law], abs=0.05)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUPY, reason="needs CuPy and a CUDA device")
def test_cupy_matches_numpy():
    """The same seed gives the same field on the GPU, in a CuPy array."""
    import cupy

    for kwargs in ({}, {"divergence_free": True, "law": "kolmogorov", "reynolds": 100.0}):
        host = SpectralTurbulence((64, 48), 3, seed=9, **kwargs)
        dev = SpectralTurbulence((64, 48), 3, seed=9, xp=cupy, **kwargs)
        out = dev.field(321, 2e-3)
        assert isinstance(out, cupy.ndarray) and out.dtype == cupy.float32
        np.testing.assert_allclose(cupy.asnumpy(out), host.field(321, 2e-3), rtol=0, atol=1e-5 * 2e-3)


def test_image_seeds_make_each_field_independent_of_the_batch():
    """With explicit per-image seeds, image i's field depends only on its own seed."""
    both = SpectralTurbulence((16, 16), batch=2, image_seeds=[11, 22]).field(3, 1e-3)
    alone = SpectralTurbulence((16, 16), batch=1, image_seeds=[22]).field(3, 1e-3)
    np.testing.assert_array_equal(both[1], alone[0])
    assert not np.allclose(both[0], both[1])
    rebuilt = SpectralTurbulence(**SpectralTurbulence((16, 16), batch=2, image_seeds=[11, 22]).config)
    np.testing.assert_array_equal(rebuilt.field(3, 1e-3), both)
    with pytest.raises(ConfigError, match="image_seeds"):
        SpectralTurbulence((16, 16), batch=2, image_seeds=[1])


@pytest.mark.parametrize(
    ("kwargs", "rms"),
    [
        ({}, 7e-5),
        ({}, 5e-3),  # |v|/c beyond the series' range for some images: NumPy limiter fallback
        ({"limiter": None}, 1e-3),
        ({}, np.array([0.0, 1e-4, 2e-2, 3e-5])),
    ],
)
def test_compiled_field_passes_match_the_numpy_reference(kwargs, rms):
    """The compiled rotate/finish passes give the NumPy path's field to float32 round-off (the
    divergence-free field, a lattice curl, always takes the array-module path)."""
    from advdiff.fields.turbulence import _compiled_kernels

    if _compiled_kernels() is None:
        pytest.skip("advdiff.fields._fieldcpu is not built")
    fast = SpectralTurbulence((40, 56), batch=4, seed=3, **kwargs)
    ref = SpectralTurbulence((40, 56), batch=4, seed=3, **kwargs)
    ref.compiled = False
    assert fast.compiled
    for n in (0, 17, 999):
        a, b = fast.field(n, rms), ref.field(n, rms)
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * float(np.abs(b).max()))


@pytest.mark.parametrize("shape", [(28, 28), (32, 24)])
def test_reynolds_without_cutoff_is_where_the_roll_off_stops_acting(shape):
    """At and above the returned Re the field equals Re = None's; just below it a corner mode changes."""
    from advdiff.fields import reynolds_without_cutoff

    limit = reynolds_without_cutoff(shape)

    def field(re):
        return SpectralTurbulence(shape, 2, reynolds=re, limiter=None, seed=3).field(4, 1e-3)

    every_mode = field(None)
    np.testing.assert_array_equal(field(limit * 1.0001), every_mode)
    assert np.abs(field(limit * 0.98) - every_mode).max() > 0
    assert reynolds_without_cutoff((28, 28)) == pytest.approx((14 * math.sqrt(2)) ** (4 / 3))
