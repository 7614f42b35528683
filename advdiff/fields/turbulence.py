"""Spectral stochastic "turbulence": the velocity field that advects images.

Follows the velocity generator of Beyond Blur (ICCV 2025): a frozen amplitude spectrum ``A(|k|)``
(zero at ``k = 0``), uniform random phases per image and component rotating linearly with the LBM
step, ``v = Re(IFFT2(v̂))``, each component rescaled to the per-step RMS ``U_n = Pe·α_n/L``, and a
soft limiter ``|v| → c·tanh(|v|/c)``. Added here: a Reynolds roll-off, the ``kolmogorov`` amplitude
law (a true k^(−5/3) energy spectrum) and a ``divergence_free`` mode (the lattice curl of a stream
function). ``U_n < 1e−14`` gives exactly ``v = 0``, so Pe = 0 is exactly heat dissipation. See
docs/solver.md, section "Velocity fields", for the construction and its cost per step.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import math
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from advdiff.errors import BackendUnavailableError, bad_value
from advdiff.fields.spectrum import check_shape, wavenumbers
from advdiff.lbm.units import Schedule

log = logging.getLogger(__name__)

LAWS = ("paper", "kolmogorov")
"""Amplitude laws: ``paper`` A = k^(−5/3) (shell energy ∝ k^(−7/3)); ``kolmogorov`` shell energy ∝ k^(−5/3)."""

DT_TURB_DEFAULT = 1e-3
"""Phase speed factor of the paper's code: ω(k) = dt_turb·|k| radians per LBM step."""

LIMITER_DEFAULT = 0.01
"""Soft limiter scale c of the paper's code, lattice units per step."""

ZERO_RMS = 1e-14
"""A requested RMS below this gives an exactly zero field (as in the paper's code)."""

_AMPLITUDE_EXPONENT = {"paper": -5.0 / 3.0, "kolmogorov": -4.0 / 3.0}
_DTYPES = {"float32": (np.float32, np.complex64), "float64": (np.float64, np.complex128)}


def _lattice_curl(xp: Any, psi: Any) -> Any:
    """Velocity (B, 2, H, W) = lattice curl of a stream function (B, H, W) that is zero on its two outer rings.

    v_x = S_x d_y psi, v_y = -S_y d_x psi, with d the central difference and S the (1/6, 2/3, 1/6)
    smoothing across the other axis. Streaming a D2Q9 equilibrium changes a uniform density by
    -(d_x S_y v_x + d_y S_x v_y) (the lattice's own divergence), which vanishes identically for
    this v; and v is zero on the outer ring, so the zero-flux walls see no flow through them. A
    uniform image therefore stays uniform to round-off, which a spectrally divergence-free,
    periodic field does not achieve on a walled lattice.
    """
    p = xp.pad(psi, ((0, 0), (1, 1), (1, 1)))
    dy = 0.5 * (p[:, 2:, :] - p[:, :-2, :])  # (B, H, W + 2)
    dx = 0.5 * (p[:, :, 2:] - p[:, :, :-2])  # (B, H + 2, W)
    vx = dy[:, :, :-2] / 6.0 + dy[:, :, 1:-1] * (2.0 / 3.0) + dy[:, :, 2:] / 6.0
    vy = -(dx[:, :-2, :] / 6.0 + dx[:, 1:-1, :] * (2.0 / 3.0) + dx[:, 2:, :] / 6.0)
    return xp.stack([vx, vy], axis=1)


def _curl_gain(shape: tuple[int, int]) -> np.ndarray:
    """|Fourier symbol| of :func:`_lattice_curl` on the periodic grid: a stream function of amplitude
    A / gain gives a velocity of amplitude A (before the outer rings are zeroed)."""
    H, W = shape
    ky = 2.0 * math.pi * np.fft.fftfreq(H)[:, None]
    kx = 2.0 * math.pi * np.fft.fftfreq(W)[None, :]
    sx = np.sin(kx) * (2.0 + np.cos(ky)) / 3.0
    sy = np.sin(ky) * (2.0 + np.cos(kx)) / 3.0
    return np.sqrt(sx**2 + sy**2)


@functools.cache
def _compiled_kernels() -> Any:
    """The compiled field passes (``advdiff.fields._fieldcpu``) through ctypes, or None if not built."""
    spec = importlib.util.find_spec("advdiff.fields._fieldcpu")
    if spec is None or spec.origin is None:
        log.info("advdiff.fields._fieldcpu is not built; velocity fields use the NumPy path")
        return None
    lib = ctypes.CDLL(spec.origin)
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.adv_field_rotate.restype = None
    lib.adv_field_rotate.argtypes = [p, p, p, p, p, i64, i64]
    lib.adv_field_finish.restype = ctypes.c_int
    lib.adv_field_finish.argtypes = [p, i64, i64, p, ctypes.c_double, ctypes.c_int, p, p]
    return lib


def _ptr(a: np.ndarray) -> int:
    if not a.flags.c_contiguous:
        raise ValueError("compiled field pass needs C-contiguous arrays")
    return a.ctypes.data


def _array_module(xp: Any) -> types.ModuleType:
    if xp is None or (isinstance(xp, str) and xp == "numpy"):
        return np
    if isinstance(xp, str) and xp == "cupy":
        try:
            import cupy
        except ImportError as exc:
            raise BackendUnavailableError(f"xp='cupy' needs CuPy, which cannot be imported here: {exc}") from None
        return cupy
    if isinstance(xp, types.ModuleType) and xp.__name__ in ("numpy", "cupy"):
        return xp
    raise bad_value("xp", xp, "the numpy or cupy module, or 'numpy' / 'cupy'")


def _real(key: str, value: Any, allowed: str) -> float:
    if isinstance(value, bool):
        raise bad_value(key, value, allowed)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_value(key, value, allowed) from None


def _int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise bad_value(key, value, f"an integer >= {low}")
    return int(value)


def _pairs(z: Any) -> Any:
    """A complex array (..., N) viewed as real (..., N, 2) pairs (real, imaginary), no copy."""
    return z.view(z.real.dtype).reshape(*z.shape, 2)


def amplitude(k: np.ndarray, law: str, k0: float, k_eta: float) -> np.ndarray:
    """Fourier amplitude A(|k|) of the turbulence, zero at k = 0, largest value 1.

    ``k``: scaled wavenumber magnitudes (:mod:`advdiff.fields.spectrum`), >= 0. ``law``: ``paper``
    (A = k^(−5/3)) or ``kolmogorov`` (A = k^(−4/3), shell energy ∝ k^(−5/3)). A is held at A(k0) below
    the energy-containing wavenumber ``k0`` and multiplied by exp(−(k/k_eta − 1)²) above the Kolmogorov
    wavenumber ``k_eta`` (``inf``: no roll-off).
    """
    k = np.asarray(k, dtype=np.float64)
    a = np.maximum(k, k0) ** _AMPLITUDE_EXPONENT[law]
    if math.isfinite(k_eta):
        excess = np.maximum(k / k_eta - 1.0, 0.0)
        a = a * np.exp(-(excess**2))
    a = np.where(k > 0, a, 0.0)
    top = a.max()
    return a / top if top > 0 else a


def reynolds_without_cutoff(shape: tuple[int, int], k0: float | None = None) -> float:
    """Smallest Reynolds number whose roll-off changes no mode of a grid.

    The roll-off acts on wavenumbers above ``k_eta = k0·Re^(3/4)``; once ``k_eta`` reaches the
    grid's largest wavenumber magnitude ``k_top`` every mode keeps its amplitude, so any
    ``Re >= (k_top/k0)^(4/3)`` gives exactly the field of ``Re = None``. At 28 × 28 with the
    default ``k0 = 2π`` this is about 53.6; at 128 × 128 about 406.
    """
    kx, ky = wavenumbers(shape)
    k_top = float(np.hypot(kx, ky).max())
    k0 = 2.0 * math.pi if k0 is None else float(k0)
    return (k_top / k0) ** (4.0 / 3.0)


def _check_reynolds(reynolds: Any) -> float:
    """Re as a float; ``inf`` for None, ``"none"`` or ``inf`` (every mode kept)."""
    if reynolds is None or (isinstance(reynolds, str) and reynolds.strip().lower() == "none"):
        return math.inf
    re = _real("reynolds", reynolds, "None or a number > 0 (inf keeps every mode)")
    if math.isnan(re) or re <= 0:
        raise bad_value("reynolds", reynolds, "None or a number > 0 (inf keeps every mode)")
    return re


def _check_k0(k0: Any, k_top: float) -> float:
    """The energy-containing wavenumber: 2π (one wave per image side) unless given, in (0, the grid's largest]."""
    if k0 is None:
        return 2.0 * math.pi
    value = _real("k0", k0, f"None or a wavenumber in (0, {k_top:.6g}]")
    if not (0 < value <= k_top):
        raise bad_value("k0", k0, f"None or a wavenumber in (0, {k_top:.6g}] (2π = one wave per image side)")
    return value


def _check_limiter(limiter: Any) -> float | None:
    """The largest speed in lattice units per step, or None for no limit."""
    if limiter is None:
        return None
    value = _real("limiter", limiter, "None or a number > 0 (lattice units per step)")
    if not (math.isfinite(value) and value > 0):
        raise bad_value("limiter", limiter, "None or a finite number > 0 (lattice units per step)")
    return value


def _check_dt_turb(dt_turb: Any) -> float:
    """The phase speed per step and unit wavenumber, finite and >= 0 (0 freezes the field)."""
    value = _real("dt_turb", dt_turb, "a finite number >= 0 (radians per step per unit wavenumber)")
    if not (math.isfinite(value) and value >= 0):
        raise bad_value("dt_turb", dt_turb, "a finite number >= 0 (radians per step per unit wavenumber)")
    return value


def _stream_amplitude(amp: np.ndarray, shape: tuple[int, int], given: Any) -> np.ndarray:
    """The amplitude of a stream function whose lattice curl has amplitude ``amp`` (see ``_lattice_curl``).

    The Nyquist row and column are dropped (there -k aliases onto k); ``given`` is the shape as the
    caller wrote it, for the error on images under 5 x 5.
    """
    H, W = shape
    if min(H, W) < 5:
        raise bad_value(
            "shape",
            given,
            "at least 5 x 5 pixels for a divergence-free field (it is zero on the two outer rings)",
        )
    if H % 2 == 0:
        amp[H // 2, :] = 0.0
    if W % 2 == 0:
        amp[:, W // 2] = 0.0
    gain = _curl_gain(shape)
    return np.where(gain > 1e-12, amp / np.where(gain > 1e-12, gain, 1.0), 0.0)


class SpectralTurbulence:
    """Batched spectral stochastic velocity field with rotating phases.

    One realisation per image (its channels share it), evaluated at any LBM step and RMS by :meth:`field`,
    which reuses internal buffers (not thread-safe) but returns a new array. ``shape`` is (H, W) in
    pixels; ``k0`` is in scaled units (2π = one wave per image side; ``None``: 2π); ``limiter`` is c in
    lattice units per step (``None``: none); ``reynolds=None``, ``inf`` or ``"none"`` keeps every mode;
    ``dt_turb = 0`` freezes the field. Image i draws its phases from
    ``SeedSequence(seed, spawn_key=(first_image + i,))``, so its field does not depend on its batch
    (``seed=None``: fresh OS entropy, kept in :attr:`seed`); ``image_seeds`` gives one seed per image
    instead. See docs/solver.md, section "Velocity fields", for every parameter and its range.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        batch: int = 1,
        *,
        law: str = "paper",
        reynolds: float | None = None,
        k0: float | None = None,
        divergence_free: bool = False,
        limiter: float | None = LIMITER_DEFAULT,
        dt_turb: float = DT_TURB_DEFAULT,
        seed: int | None = 0,
        first_image: int = 0,
        image_seeds: Sequence[int] | None = None,
        xp: Any = np,
        dtype: str = "float32",
    ) -> None:
        self.shape = check_shape(shape)
        self.batch = _int("batch", batch, 1)
        if law not in LAWS:
            raise bad_value("law", law, f"one of {', '.join(LAWS)}")
        self.law = law
        if not isinstance(divergence_free, bool | np.bool_):
            raise bad_value("divergence_free", divergence_free, "True or False")
        self.divergence_free = bool(divergence_free)
        if dtype not in _DTYPES:
            raise bad_value("dtype", dtype, f"one of {', '.join(_DTYPES)}")
        self.dtype = dtype
        self._real_dtype, self._complex_dtype = _DTYPES[dtype]
        self.xp = _array_module(xp)

        H, W = self.shape
        kx, ky = wavenumbers(self.shape)
        kmag = np.hypot(kx, ky)
        k_top = float(kmag.max())

        re = _check_reynolds(reynolds)
        self.reynolds = None if math.isinf(re) else re
        self.k0 = _check_k0(k0, k_top)
        self.k_eta = self.k0 * re**0.75 if math.isfinite(re) else math.inf
        self.limiter = _check_limiter(limiter)
        self.dt_turb = _check_dt_turb(dt_turb)

        amp = amplitude(kmag, law, self.k0, self.k_eta)
        if self.divergence_free:
            amp = _stream_amplitude(amp, self.shape, shape)
        if not np.any(amp > 0):
            raise bad_value(
                "reynolds",
                reynolds,
                f"a value that leaves at least one grid mode (k_eta = k0·Re^(3/4) = {self.k_eta:.3g} is too small)",
            )
        self._amp = amp
        interior = np.zeros((H, W))
        interior[2 : H - 2, 2 : W - 2] = 1.0
        self._interior = self.xp.asarray(interior, dtype=self._real_dtype)
        self._kx, self._ky, self._k2 = kx, ky, kmag**2
        self._neg_y = (-np.arange(H)) % H
        self._neg_x = (-np.arange(W)) % W
        # Phase speed, kept in float64 so that ω·n mod 2π stays accurate for n ~ 1e5.
        self._omega = self.xp.asarray(self.dt_turb * kmag, dtype=np.float64)
        self._ifft2 = self._fft_function()
        self.compiled = self.xp is np and self._real_dtype == np.float32 and not self.divergence_free
        """Use the compiled CPU passes (NumPy, float32, extension built); False forces the reference path."""
        self.reseed(seed, first_image, image_seeds=image_seeds)

    # ------------------------------------------------------------------ set-up
    def _fft_function(self) -> Callable[[Any], Any]:
        if self.xp is np:
            try:
                import scipy.fft
            except ImportError:  # NumPy alone (where the workflow is planned): the same pocketfft, one thread
                log.debug("scipy is not importable: velocity fields use numpy.fft")
                return _numpy_ifft2

            def ifft2(z: Any) -> Any:
                return scipy.fft.ifft2(z, axes=(-2, -1), overwrite_x=True, workers=-1)

        else:  # cupy
            import cupyx.scipy.fft

            def ifft2(z: Any) -> Any:
                return cupyx.scipy.fft.ifft2(z, axes=(-2, -1), overwrite_x=True)

        return ifft2

    def reseed(self, seed: int | None = 0, first_image: int = 0, *, image_seeds: Sequence[int] | None = None) -> None:
        """Draw new random phases for every image (same geometry and settings).

        Parameters
        ----------
        seed
            Integer >= 0, or ``None`` for fresh OS entropy (stored in :attr:`seed`).
        first_image
            Per-image seeding offset: image i uses ``SeedSequence(seed, spawn_key=(first_image + i,))``.
        image_seeds
            Instead of ``seed``/``first_image``: one integer seed >= 0 per image (length ``batch``);
            image i uses ``SeedSequence(image_seeds[i])`` (per-image seeds drawn by the caller).
        """
        if image_seeds is not None:
            seeds = [_int(f"image_seeds[{i}]", s, 0) for i, s in enumerate(image_seeds)]
            if len(seeds) != self.batch:
                raise bad_value("image_seeds", f"{len(seeds)} seeds", f"one per image, {self.batch}")
            sequences = [np.random.SeedSequence(s) for s in seeds]
            self.seed, self.first_image = None, 0
        else:
            if seed is None:
                seed = int(np.random.SeedSequence().entropy)
            seed = _int("seed", seed, 0)
            first_image = _int("first_image", first_image, 0)
            self.seed, self.first_image = seed, first_image
            sequences = [np.random.SeedSequence(seed, spawn_key=(first_image + i,)) for i in range(self.batch)]
        self.image_seeds = None if image_seeds is None else seeds
        H, W = self.shape
        P = np.empty((self.batch, H, W), dtype=self._complex_dtype)
        Q = np.empty_like(P)
        for i in range(self.batch):
            rng = np.random.default_rng(sequences[i])
            phases = rng.uniform(0.0, 2.0 * math.pi, size=(2, H, W))
            C = self._amp * np.exp(1j * phases)  # (2, H, W): X_c(k, n=0); divergence-free: C[0] is psi
            D = np.conj(C[:, self._neg_y][:, :, self._neg_x])  # conj X(-k)
            # Hermitian part at step n: ½(C e^{iωn} + D e^{-iωn}) = S cos(ωn) + T sin(ωn), whose
            # inverse FFT is real; packing x + i·y gives both components from one complex FFT.
            S = 0.5 * (C + D)
            T = 0.5j * (C - D)
            P[i] = S[0] + 1j * S[1]
            Q[i] = T[0] + 1j * T[1]
        self._P = self.xp.asarray(P)
        self._Q = self.xp.asarray(Q)
        self._Z = self.xp.empty_like(self._P)
        self._Z2 = self.xp.empty_like(self._P)
        self._cos = self.xp.empty((H, W, 2), dtype=self._real_dtype)
        self._sin = self.xp.empty_like(self._cos)
        log.debug(
            "SpectralTurbulence %s x %d: law=%s Re=%s k0=%.4g k_eta=%.4g div_free=%s seed=%s first_image=%d",
            self.shape,
            self.batch,
            self.law,
            self.reynolds,
            self.k0,
            self.k_eta,
            self.divergence_free,
            self.seed,
            self.first_image,
        )

    @property
    def config(self) -> dict[str, Any]:
        """The resolved settings (JSON-serialisable), enough to rebuild the same fields."""
        return {
            "shape": list(self.shape),
            "batch": self.batch,
            "law": self.law,
            "reynolds": self.reynolds,
            "k0": self.k0,
            "divergence_free": self.divergence_free,
            "limiter": self.limiter,
            "dt_turb": self.dt_turb,
            "seed": self.seed,
            "first_image": self.first_image,
            "image_seeds": self.image_seeds,
            "dtype": self.dtype,
        }

    # ------------------------------------------------------------------ per step
    def _check_rms(self, rms: Any) -> np.ndarray | float:
        if np.isscalar(rms) or np.ndim(rms) == 0:
            value = _real("rms", rms, "a finite number >= 0 (lattice units per step)")
            if not (math.isfinite(value) and value >= 0):
                raise bad_value("rms", rms, "a finite number >= 0 (lattice units per step)")
            return value
        arr = np.asarray(rms, dtype=np.float64)
        if arr.shape != (self.batch,):
            allowed = f"a scalar or one value per image, shape ({self.batch},)"
            raise bad_value("rms", f"array of shape {arr.shape}", allowed)
        if not np.all(np.isfinite(arr) & (arr >= 0)):
            bad = int(np.flatnonzero(~(np.isfinite(arr) & (arr >= 0)))[0])
            raise bad_value(f"rms[{bad}]", float(arr[bad]), "a finite number >= 0 (lattice units per step)")
        return arr

    def field(self, step: int, rms: float | Sequence[float] | np.ndarray) -> Any:
        """The velocity field of every image at LBM step ``step`` (>= 0; phases rotated by ω(k)·step).

        ``rms`` is the target RMS (= standard deviation) of each component before the limiter, in lattice
        units per step (``U_n = Pe·α_n/L``): a scalar or one value per image, shape (B,); below 1e−14 that
        image's field is exactly zero. Returns a new array of shape (B, 2, H, W) in the generator's ``xp``
        and dtype: component 0 along the width axis x, component 1 along the height axis y, lattice units
        per step.
        """
        n = _int("step", step, 0)
        U = self._check_rms(rms)
        xp = self.xp
        H, W = self.shape
        zero = U < ZERO_RMS
        if np.all(zero):
            return xp.zeros((self.batch, 2, H, W), dtype=self._real_dtype)
        if self.compiled and _compiled_kernels() is not None:
            return self._field_compiled(n, U, zero)
        return self._field_reference(n, U, zero)

    def _field_reference(self, n: int, U: np.ndarray | float, zero: Any) -> Any:
        """The array-module implementation (NumPy or CuPy): the reference of the compiled path."""
        xp = self.xp
        H, W = self.shape
        # cos, sin(ω n), each value twice (interleaved), to scale the complex spectra viewed as
        # real pairs: a real-by-real product, cheaper than NumPy's complex-by-real one.
        theta = xp.remainder(self._omega * n, 2.0 * math.pi).astype(self._real_dtype)
        cos, sin = self._cos, self._sin
        cos[..., 0] = xp.cos(theta)
        cos[..., 1] = cos[..., 0]
        sin[..., 0] = xp.sin(theta)
        sin[..., 1] = sin[..., 0]
        z = self._Z
        zf, z2f = _pairs(z), _pairs(self._Z2)
        xp.multiply(_pairs(self._P), cos, out=zf)
        zf += xp.multiply(_pairs(self._Q), sin, out=z2f)
        w = self._ifft2(z)  # real part: x component, imaginary part: y component
        if self.divergence_free:  # real part: the stream function
            v = _lattice_curl(xp, w.real * self._interior).astype(self._real_dtype, copy=False)
        else:
            v = xp.empty((self.batch, 2, H, W), dtype=self._real_dtype)
            v[:, 0] = w.real
            v[:, 1] = w.imag
        # Mean square per image and component; the mean is exactly 0 (A(0) = 0), so RMS = std.
        ms = xp.einsum("bchw,bchw->bc", v, v) / (H * W)
        if self.divergence_free:
            ms = xp.mean(ms, axis=1, keepdims=True)
        tiny = np.finfo(self._real_dtype).tiny
        scale = 1.0 / xp.sqrt(xp.maximum(ms, tiny))
        if isinstance(U, float):
            scale *= U
        else:
            scale *= xp.asarray(np.where(zero, 0.0, U)[:, None], dtype=self._real_dtype)
        v *= scale[:, :, None, None].astype(self._real_dtype, copy=False)
        if self.limiter is not None:
            self._limit(v)
        return v

    def _limit(self, v: Any) -> None:
        """Soft limiter |v| -> c tanh(|v|/c) in place, direction kept."""
        xp = self.xp
        c = self.limiter
        tiny = np.finfo(self._real_dtype).tiny
        mag = xp.multiply(v[:, 0], v[:, 0])
        mag += v[:, 1] * v[:, 1]
        xp.sqrt(mag, out=mag)
        factor = xp.multiply(mag, 1.0 / c)
        xp.tanh(factor, out=factor)
        factor *= c
        factor /= xp.maximum(mag, tiny, out=mag)
        v *= factor[:, None]

    def _field_compiled(self, n: int, U: np.ndarray | float, zero: Any) -> np.ndarray:
        """The same field from two compiled passes around the FFT (see ``kernels/field_cpu.c``)."""
        lib = _compiled_kernels()
        H, W = self.shape
        B = self.batch
        theta = np.remainder(self._omega * n, 2.0 * math.pi).astype(np.float32)
        cos, sin = np.cos(theta), np.sin(theta)
        lib.adv_field_rotate(_ptr(self._P), _ptr(self._Q), _ptr(cos), _ptr(sin), _ptr(self._Z), B, H * W)
        w = np.ascontiguousarray(self._ifft2(self._Z), dtype=np.complex64)
        targets = np.ascontiguousarray(np.where(zero, 0.0, np.broadcast_to(U, (B,))), dtype=np.float64)
        v = np.empty((B, 2, H, W), dtype=np.float32)
        unlimited = np.zeros(B, dtype=np.int32)
        count = lib.adv_field_finish(
            _ptr(w),
            B,
            H * W,
            _ptr(targets),
            float(self.limiter or 0.0),
            int(self.divergence_free),
            _ptr(v),
            _ptr(unlimited),
        )
        if count:  # images whose |v|/c may exceed the series' range: the array-module limiter
            idx = np.sort(unlimited[:count])
            part = v[idx]
            self._limit(part)
            v[idx] = part
        return v


def _numpy_ifft2(z: Any) -> Any:
    return np.fft.ifft2(z, axes=(-2, -1))


def realised_rms_ratio(
    shape: tuple[int, int],
    rms: float,
    *,
    law: str = "paper",
    reynolds: float | None = None,
    divergence_free: bool = False,
    limiter: float | None = LIMITER_DEFAULT,
    samples: int = 8,
    seed: int = 0,
) -> float:
    """Fraction of a requested velocity RMS that survives the soft limiter (1 without one).

    Averaged over ``samples`` independent fields at step 0. Near 1 the limiter is in its linear
    range (the paper's Pe at 28 px: U ~ 1e-4 against c = 0.01); well below 1 it saturates and
    raising Pe barely raises the realised velocity.
    """
    if limiter is None or rms <= 0:
        return 1.0
    gen = SpectralTurbulence(
        shape, batch=samples, law=law, reynolds=reynolds, divergence_free=divergence_free, limiter=limiter, seed=seed
    )
    v = np.asarray(gen.field(0, float(rms)), dtype=np.float64)
    return float(np.sqrt(np.mean(v * v)) / rms)


def velocity_callable(
    turbulence: SpectralTurbulence,
    rms: Schedule | Sequence[float] | np.ndarray | float,
    *,
    start: int = 0,
    delay: int = 0,
) -> Callable[[int], Any]:
    """The ``velocity`` argument of :func:`advdiff.lbm.solve` for a turbulence generator.

    Returns ``velocity(n) -> turbulence.field(m, rms[m])``, shape (B, 2, H, W), with
    ``m = start + n - delay``, and zeros for ``m < 0``. ``rms`` is a
    :class:`~advdiff.lbm.units.Schedule` (its per-step ``U_n = Pe·α_n/L``), a 1-D sequence of per-step
    values or one scalar, in lattice units per step. ``start`` (>= 0) is the trajectory step at which
    this ``solve`` call begins, so a trajectory solved in several calls keeps rotating its phases;
    ``delay`` (>= 0) lags the field behind the solver: the Beyond Blur code collides with the field
    drawn in the previous step (``delay=1``).
    """
    if not isinstance(turbulence, SpectralTurbulence):
        raise bad_value("turbulence", type(turbulence).__name__, "a SpectralTurbulence")
    start = _int("start", start, 0)
    delay = _int("delay", delay, 0)
    if isinstance(rms, Schedule):
        per_step = rms.per_step_velocity_rms()
        key = "schedule velocity_rms"
    elif np.isscalar(rms) or np.ndim(rms) == 0:
        turbulence._check_rms(rms)
        value = float(rms)
        return lambda n: turbulence.field(max(start + n - delay, 0), value if start + n >= delay else 0.0)
    else:
        per_step = np.asarray(rms, dtype=np.float64)
        key = "rms"
        if per_step.ndim != 1:
            raise bad_value(key, f"array of shape {per_step.shape}", "a scalar or a 1-D sequence, one value per step")
    ok = np.isfinite(per_step) & (per_step >= 0)
    if not np.all(ok):
        bad = int(np.flatnonzero(~ok)[0])
        raise bad_value(f"{key}[{bad}]", float(per_step[bad]), "a finite number >= 0 (lattice units per step)")

    def velocity(n: int) -> Any:
        index = start + n
        if not 0 <= index < per_step.shape[0]:
            raise bad_value("step", index, f"a trajectory step in [0, {per_step.shape[0]})")
        if index < delay:
            return turbulence.field(0, 0.0)
        return turbulence.field(index - delay, float(per_step[index - delay]))

    return velocity
