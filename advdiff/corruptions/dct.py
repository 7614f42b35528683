"""Orthonormal 2-D DCT-II on torch tensors, and the heat operator it diagonalises.

The DCT is applied as two matrix products with a cached orthonormal DCT-II matrix per
(size, device, dtype): exact to round-off, fast for the image sizes of this project and
available on every device torch runs on. The orthonormal DCT-II basis is the eigenbasis
of the Laplacian with zero-flux (Neumann, half-sample symmetric) walls, with eigenvalues
``lambda_ij = (pi i / H)^2 + (pi j / W)^2``; so ``exp(-lambda t)`` in this basis is the
exact heat semigroup, and ``t = sigma^2 / 2`` a Gaussian blur of width ``sigma`` pixels
(after Rissanen et al. 2023).
"""

from __future__ import annotations

import functools
import math

import torch

from advdiff.errors import bad_value

_CACHE_SIZE = 64


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _dct_matrix(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    mat = torch.cos(math.pi * (2.0 * i + 1.0) * k / (2.0 * n)) * math.sqrt(2.0 / n)
    mat[0] /= math.sqrt(2.0)
    return mat.to(device=device, dtype=dtype)


def dct_matrix(n: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``C`` of size ``n`` (``C @ x`` transforms, ``C.T @ X`` inverts).

    ``C[k, i] = s_k cos(pi (2 i + 1) k / (2 n))`` with ``s_0 = sqrt(1/n)``, ``s_k = sqrt(2/n)``;
    the same transform as ``scipy.fft.dct(x, type=2, norm="ortho")``. Cached per (n, device, dtype).

    Parameters
    ----------
    n
        Transform length (>= 1).
    device, dtype
        Where and in which precision to return the matrix (built in float64, then cast).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise bad_value("n", n, "an integer >= 1 (transform length)")
    return _dct_matrix(n, torch.device(device if device is not None else "cpu"), dtype)


def _matrices(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.dim() < 2 or not x.is_floating_point():
        raise bad_value("x", f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}", "a float tensor (..., H, W)")
    return dct_matrix(x.shape[-2], x.device, x.dtype), dct_matrix(x.shape[-1], x.device, x.dtype)


def dct2(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II over the last two axes (``scipy.fft.dctn(..., type=2, norm="ortho")``)."""
    ch, cw = _matrices(x)
    return ch @ x @ cw.T


def idct2(coeff: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dct2` over the last two axes (the orthonormal DCT-III)."""
    ch, cw = _matrices(coeff)
    return ch.T @ coeff @ cw


def laplacian_eigenvalues(
    H: int, W: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``lambda_ij = (pi i / H)^2 + (pi j / W)^2``, shape (H, W): the heat rates of the DCT-II modes.

    After Rissanen et al. 2023 (their ``freqs = pi * linspace(0, N - 1, N) / N``).
    """
    for key, value in (("H", H), ("W", W)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_value(key, value, "an integer >= 1 (image side in pixels)")
    fh = (math.pi * torch.arange(H, dtype=torch.float64) / H) ** 2
    fw = (math.pi * torch.arange(W, dtype=torch.float64) / W) ** 2
    return (fh[:, None] + fw[None, :]).to(device=device, dtype=dtype)


def heat_blur(x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Exact heat-equation blur of width ``sigma`` pixels with zero-flux walls, per channel.

    ``IDCT(exp(-lambda sigma^2 / 2) * DCT(x))`` (after Rissanen et al. 2023) on a float tensor ``x``
    (B, C, H, W); ``sigma`` is one width >= 0 or a (B,) tensor, one per image. Returns the blurred images
    with the shape and dtype of ``x``; each channel's mean is kept exactly (``lambda_00 = 0``).
    """
    if x.dim() != 4 or not x.is_floating_point():
        raise bad_value("x", f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}", "a float tensor (B, C, H, W)")
    sig = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
    if sig.dim() == 0:
        sig = sig.expand(x.shape[0])
    if sig.shape != (x.shape[0],) or not bool(torch.all(torch.isfinite(sig) & (sig >= 0))):
        raise bad_value("sigma", sigma, f"a finite width >= 0 or a (B,) tensor of them with B={x.shape[0]}")
    lam = laplacian_eigenvalues(x.shape[-2], x.shape[-1], device=x.device)
    factor = torch.exp(-lam * (sig**2 / 2.0)[:, None, None])[:, None].to(x.dtype)
    return idct2(factor * dct2(x))
