"""The torch DCT-II and heat operator against SciPy."""

import numpy as np
import pytest
import scipy.fft
import torch

from advdiff.corruptions.dct import dct2, dct_matrix, heat_blur, idct2, laplacian_eigenvalues
from advdiff.errors import ConfigError


def test_dct2_is_scipys_orthonormal_dct_ii_and_inverts():
    x = torch.rand((2, 3, 7, 12), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = scipy.fft.dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1))
    np.testing.assert_allclose(dct2(x).numpy(), ref, atol=1e-13, rtol=0)
    torch.testing.assert_close(idct2(dct2(x)), x, atol=1e-13, rtol=0)
    c = dct_matrix(9)
    torch.testing.assert_close(c @ c.T, torch.eye(9, dtype=torch.float64))
    assert dct_matrix(5, dtype=torch.float32).dtype == torch.float32


def test_laplacian_eigenvalues_and_heat_blur_per_image():
    lam = laplacian_eigenvalues(4, 6)
    assert lam.shape == (4, 6) and lam[0, 0] == 0
    assert lam[1, 2].item() == pytest.approx((np.pi / 4) ** 2 + (2 * np.pi / 6) ** 2)
    x = torch.rand((2, 1, 8, 8), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    both = heat_blur(x, torch.tensor([0.0, 2.0]))
    torch.testing.assert_close(both[0], x[0])
    torch.testing.assert_close(both[1:], heat_blur(x[1:], 2.0))
    with pytest.raises(ConfigError, match="sigma"):
        heat_blur(x, -1.0)
    with pytest.raises(ConfigError, match="x"):
        heat_blur(x[0], 1.0)
