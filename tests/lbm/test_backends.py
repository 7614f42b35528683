"""Backends against the NumPy oracle, the shared CUDA node code on the CPU, and the solver's contract."""

import importlib.util

import numpy as np
import pytest
import torch

from advdiff.errors import BackendUnavailableError, ConfigError
from advdiff.lbm import available_backends, lattice, solve, units
from advdiff.lbm.backends import get_backend
from advdiff.lbm.backends.cpu import CpuBackend, lattice_constants
from advdiff.lbm.backends.numpy_ref import NumpyBackend

COLLISIONS = ["bgk", "central_moment"]
BOUNDARIES = ["neumann", "periodic"]


def _batch(shape=(2, 3, 20, 28), seed=0):
    rng = np.random.default_rng(seed)
    u = rng.random(shape, dtype=np.float32)
    vel = ((rng.random((shape[0], 2, *shape[2:])) - 0.5) * 0.12).astype(np.float32)
    return u, vel


def test_lattice_constants_are_consistent():
    """D2Q9 weights sum to 1, are isotropic to second order, and OPPOSITE reverses each velocity."""
    assert lattice.W.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(lattice.EX[lattice.OPPOSITE], -lattice.EX)
    np.testing.assert_array_equal(lattice.EY[lattice.OPPOSITE], -lattice.EY)
    assert np.sum(lattice.W * lattice.EX * lattice.EX) == pytest.approx(lattice.CS2)
    assert np.sum(lattice.W * lattice.EX * lattice.EY) == pytest.approx(0.0)
    assert np.sum(lattice.W * lattice.EX**2 * lattice.EY**2) == pytest.approx(lattice.CS2**2)


def test_compiled_kernels_use_the_same_lattice_constants():
    """The constants compiled from d2q9_node.h equal lattice.py, the one definition."""
    c = lattice_constants()
    np.testing.assert_array_equal(c["EX"], lattice.EX)
    np.testing.assert_array_equal(c["EY"], lattice.EY)
    np.testing.assert_array_equal(c["OPPOSITE"], lattice.OPPOSITE)
    np.testing.assert_allclose(c["W"], lattice.W, rtol=1e-7)


@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("velocity_kind", ["none", "constant", "callable"])
def test_cpu_matches_numpy(collision, boundary, velocity_kind):
    """The compiled CPU backend equals the NumPy reference to 1e-5 (odd step count, per-step diffusivity)."""
    u, vel = _batch()
    steps = 15
    alphas = np.linspace(0.02, 0.16, steps)
    velocity = {"none": None, "constant": vel, "callable": lambda n: vel * np.float32(np.cos(0.3 * n))}[velocity_kind]
    kw = dict(collision=collision, boundary=boundary, record=[0, 4, steps])
    ref = solve(u, alphas, steps, velocity, backend="numpy", **kw)
    out = solve(u, alphas, steps, velocity, backend="cpu", **kw)
    assert out.shape == (3, *u.shape)
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out[0], u, atol=1e-6)


def _run_backend(be, f0, vel, omegas, collision, boundary, channels):
    f = be.asarray(f0, f0.dtype).copy()
    f, _ = be.run(f, np.empty_like(f), vel, omegas, collision, boundary, channels)
    return f


@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("generic", [False, True], ids=["vectorised", "cuda-node-path"])
def test_kernels_on_arbitrary_populations(collision, boundary, generic):
    """From random (non-equilibrium) populations, the vectorised rows and the CUDA kernel's per-node
    function (adv_node_update, run on the CPU) both equal the NumPy operators."""
    rng = np.random.default_rng(1)
    B, C, H, W = 2, 2, 9, 13
    f0 = rng.random((9, B * C, H, W), dtype=np.float32)
    vel = ((rng.random((B, 2, H, W)) - 0.5) * 0.15).astype(np.float32)
    omegas = np.array([1.9, 1.3, 0.7])
    ref = _run_backend(NumpyBackend(), f0.astype(np.float64), vel.astype(np.float64), omegas, collision, boundary, C)
    out = _run_backend(CpuBackend(generic=generic), f0, vel, omegas, collision, boundary, C)
    np.testing.assert_allclose(out, ref, atol=2e-6, rtol=0)


def test_central_moment_collision_sets_the_moments_it_promises():
    """After one central-moment collision: kappa10, kappa01 scaled by (1 - omega), kappa20 = kappa02 = rho/3,
    kappa11 = 0, kappa22 = rho/9, mass kept."""
    from advdiff.lbm.backends.numpy_ref import central_moment_matrix, collide_central_moment

    rng = np.random.default_rng(2)
    f = rng.random((9, 1, 4, 5))
    ux = (rng.random((1, 4, 5)) - 0.5) * 0.1
    uy = (rng.random((1, 4, 5)) - 0.5) * 0.1
    omega = 1.4
    T = central_moment_matrix(ux, uy)
    before = np.einsum("nai,ni->na", T, f.reshape(9, -1).T)
    after = np.einsum("nai,ni->na", T, collide_central_moment(f, ux, uy, omega).reshape(9, -1).T)
    rho = before[:, 0]
    np.testing.assert_allclose(after[:, 0], rho)
    np.testing.assert_allclose(after[:, 1:3], (1 - omega) * before[:, 1:3], atol=1e-12)
    np.testing.assert_allclose(after[:, 3], rho / 3)
    np.testing.assert_allclose(after[:, 4], rho / 3)
    np.testing.assert_allclose(after[:, 5], 0, atol=1e-12)
    np.testing.assert_allclose(after[:, 8], rho / 9)


def test_cuda_kernel_compiles_with_nvrtc():
    """The CUDA source with its shared node header compiles to PTX (no GPU needed)."""
    from advdiff.lbm.backends import nvrtc

    try:
        nvrtc.library()
    except BackendUnavailableError as exc:
        pytest.skip(f"NVRTC not installed: {exc}")
    source, headers = nvrtc.kernel_source()
    ptx = nvrtc.compile_ptx(source, headers, ("--std=c++17",))
    assert ".entry adv_step" in ptx
    assert ".entry adv_equilibrium_kernel" in ptx
    with pytest.raises(RuntimeError, match="could not compile"):
        nvrtc.compile_ptx(source.replace("adv_node_update(", "adv_node_update_missing("), headers)


@pytest.mark.gpu
@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_cupy_matches_numpy(collision, boundary):
    """The CuPy RawModule kernel equals the NumPy reference to 1e-5."""
    if importlib.util.find_spec("cupy") is None:
        pytest.skip("CuPy is not installed")
    try:
        get_backend("cupy")
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    import cupy

    u, vel = _batch(seed=3)
    alphas = np.linspace(0.02, 0.16, 12)
    kw = dict(collision=collision, boundary=boundary, record=[5, 12])
    ref = solve(u, alphas, 12, lambda n: vel * np.float32(np.cos(0.3 * n)), backend="numpy", **kw)
    out = solve(
        cupy.asarray(u), alphas, 12, lambda n: cupy.asarray(vel) * np.float32(np.cos(0.3 * n)), backend="cupy", **kw
    )
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_allclose(out.get(), ref, atol=1e-5, rtol=0)


def test_torch_in_torch_out_and_dtypes():
    """torch in gives torch out (same dtype and device); float64 NumPy stays float64 on the numpy backend."""
    u, vel = _batch((1, 2, 12, 12))
    out = solve(torch.from_numpy(u).double(), 0.1, 5, torch.from_numpy(vel), backend="cpu")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == (1, 2, 12, 12)
    ref = solve(u.astype(np.float64), 0.1, 5, vel.astype(np.float64), backend="numpy")
    assert ref.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)
    assert solve(u, 0.1, 0, backend="cpu").dtype == np.float32


def test_zero_steps_returns_the_input():
    """Zero steps is the identity (initialisation from equilibrium keeps the density)."""
    u, vel = _batch((1, 1, 8, 8))
    np.testing.assert_allclose(solve(u, 0.1, 0, vel, backend="cpu"), u, atol=1e-7)


def test_record_matches_separate_runs():
    """States recorded on the way equal runs stopped at those steps (one continuous simulation)."""
    u, vel = _batch((1, 1, 10, 10))
    rec = solve(u, 0.1, 9, vel, backend="cpu", record=[3, 9])
    np.testing.assert_allclose(rec[0], solve(u, 0.1, 3, vel, backend="cpu"), atol=1e-6)
    np.testing.assert_allclose(rec[1], solve(u, 0.1, 9, vel, backend="cpu"), atol=1e-6)


def test_auto_backend_and_unavailable_backends():
    """auto picks a usable backend; an unavailable one raises saying why; nothing falls back silently."""
    status = available_backends()
    assert status["numpy"] == "ok" and status["cpu"] == "ok"
    assert get_backend("auto").name in ("cpu", "cupy")
    if status["cupy"] != "ok":
        with pytest.raises(BackendUnavailableError, match="cupy"):
            solve(np.zeros((1, 1, 4, 4), np.float32), 0.1, 1, backend="cupy")


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        (dict(collision="mrt"), "collision"),
        (dict(boundary="dirichlet"), "boundary"),
        (dict(backend="jax"), "backend"),
        (dict(steps=-1), "steps"),
        (dict(steps=2.5), "steps"),
        (dict(diffusivity=0.0), "diffusivity"),
        (dict(diffusivity=-0.1), "diffusivity"),
        (dict(diffusivity=[0.1, 0.1]), "diffusivity"),
        (dict(record=[3, 2]), "record"),
        (dict(record=[0, 9]), "record"),
        (dict(u0=np.zeros((3, 8, 8), np.float32)), "u0"),
        (dict(u0=np.full((1, 1, 8, 8), np.nan, np.float32)), "u0"),
        (dict(velocity=np.zeros((1, 3, 8, 8), np.float32)), "velocity"),
        (dict(velocity=np.full((1, 2, 8, 8), 0.2, np.float32)), "max |velocity|"),
        (dict(velocity=np.full((1, 2, 8, 8), np.nan, np.float32)), "velocity"),
        (dict(velocity=lambda n: np.full((1, 2, 8, 8), 0.03 * n, np.float32)), "max |velocity(3)|"),
        (dict(velocity=lambda n: np.zeros((2, 8, 8), np.float32)), "velocity(0)"),
    ],
)
def test_solver_rejects_bad_input_naming_the_key(kwargs, key):
    """Bad input raises ConfigError naming the key, before or at the step it becomes known."""
    args = dict(u0=np.ones((1, 1, 8, 8), np.float32), diffusivity=0.1, steps=5)
    args.update(kwargs)
    with pytest.raises(ConfigError) as err:
        solve(args.pop("u0"), args.pop("diffusivity"), args.pop("steps"), backend=args.pop("backend", "cpu"), **args)
    assert str(err.value).startswith(key), str(err.value)


def test_velocity_limit_is_the_stated_mach_limit():
    """A field just under MAX_SPEED runs; one just over is refused."""
    u = np.ones((1, 1, 6, 6), np.float32)
    ok = np.zeros((1, 2, 6, 6), np.float32)
    ok[:, 0] = 0.99 * units.MAX_SPEED
    solve(u, 0.1, 2, ok, backend="cpu")
    with pytest.raises(ConfigError):
        solve(u, 0.1, 2, ok * 1.02, backend="cpu")


def test_compiled_max_speed_matches_numpy_and_flags_non_finite():
    """The compiled Mach check finds the same largest |v| as NumPy and returns NaN for NaN or inf components."""
    rng = np.random.default_rng(5)
    vel = ((rng.random((3, 2, 17, 23)) - 0.5) * 0.2).astype(np.float32)
    assert CpuBackend().max_speed(vel) == pytest.approx(NumpyBackend().max_speed(vel), rel=1e-6)
    for bad in (np.nan, np.inf):
        v = vel.copy()
        v[2, 1, 16, 22] = bad
        assert np.isnan(CpuBackend().max_speed(v))
