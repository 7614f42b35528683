"""Array-type bookkeeping: NumPy in, NumPy out; torch in, torch out; CuPy in, CuPy out."""

from __future__ import annotations

from typing import Any

import numpy as np


def kind(a: Any) -> str:
    """'numpy', 'torch' or 'cupy' for an array, by its type's module (imports nothing)."""
    module = type(a).__module__.split(".")[0]
    if module == "torch":
        return "torch"
    if module == "cupy":
        return "cupy"
    return "numpy"


def to_numpy(a: Any) -> np.ndarray:
    """A host NumPy view or copy of a NumPy, torch or CuPy array."""
    k = kind(a)
    if k == "torch":
        return a.detach().cpu().numpy()
    if k == "cupy":
        return a.get()
    return np.asarray(a)


def to_cupy(a: Any, dtype: Any) -> Any:
    """A C-contiguous CuPy array of ``a`` (device tensors shared through DLPack, host arrays uploaded)."""
    import cupy

    k = kind(a)
    if k == "torch" and a.is_cuda:
        a = cupy.from_dlpack(a.detach())
    elif k == "torch":
        a = a.detach().numpy()
    return cupy.ascontiguousarray(cupy.asarray(a, dtype=dtype))


def like(result: Any, template: Any) -> Any:
    """Convert a backend result (NumPy or CuPy) to the type, device and dtype of ``template``."""
    k = kind(template)
    if k == "torch":
        import torch

        if kind(result) == "cupy":
            out = torch.from_dlpack(result)
        else:
            out = torch.from_numpy(np.ascontiguousarray(result))
        return out.to(device=template.device, dtype=template.dtype)
    if k == "cupy":
        import cupy

        return cupy.asarray(result, dtype=template.dtype)
    out = to_numpy(result)
    dtype = template.dtype if np.issubdtype(template.dtype, np.floating) else np.float32
    return out.astype(dtype, copy=False)
