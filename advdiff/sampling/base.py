"""What every sampler shares: the signature, which families it fits, and the model-calling plumbing.

Every sampler is ``sampler(model, corruption, x_K, generator=None, *, progress=False, **options) -> x_0``
(after k-diffusion's interchangeable samplers). ``model(x, k)`` takes (B, C, H, W) states and (B,) int64
levels; for ``ddpm`` and ``blur`` it predicts the pixel-space noise ``eps`` of
:meth:`~advdiff.corruptions.gaussian.GaussianCorruption.degrade_with_noise` from the model-space state
``2 x - 1``, for ``heat`` and ``advdiff`` the residual ``f`` with ``u_{k-1} ≈ u_k + f(u_k, k)`` in data
units. ``x_K`` (a prior draw) and ``x_0`` are in data units, unclipped unless ``clip=True``; all randomness
comes from ``generator`` (see :mod:`advdiff.corruptions.base`). Sampling runs without gradients on the
model's device, in at least float32, and returns ``x_K``'s dtype. Details: docs/training.md, "Samplers".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from advdiff.corruptions.tensors import randn
from advdiff.corruptions.validate import check_generator, check_images, compute_dtype
from advdiff.errors import bad_value

if TYPE_CHECKING:  # torch is imported where sampling runs: the names of samplers and what they fit need none
    import torch

Model: TypeAlias = "Callable[[torch.Tensor, torch.Tensor], torch.Tensor]"
"""``model(x, k) -> tensor`` shaped like ``x``; ``k`` is a (B,) int64 tensor of levels."""


class Sampler(Protocol):
    """The one sampler signature (see the module docstring)."""

    def __call__(
        self,
        model: Model,
        corruption: Any,
        x_K: torch.Tensor,
        generator: torch.Generator | list[torch.Generator] | None = None,
        *,
        progress: bool = False,
        **options: Any,
    ) -> torch.Tensor: ...


FITS: dict[str, tuple[str, ...]] = {
    "ddpm": ("ddpm",),
    "ddim": ("ddpm",),
    "blur": ("blur",),
    "heat": ("heat", "advdiff"),
}
"""Sampler name -> the corruption families (registry names) it can sample."""


def samplers_for(family: str) -> tuple[str, ...]:
    """Names of the samplers that fit corruption family ``family`` (empty for an unknown family)."""
    return tuple(name for name, fams in FITS.items() if family in fams)


def check_fits(corruption: Any, sampler: str) -> str:
    """Return the family name of ``corruption`` after checking that sampler ``sampler`` fits it.

    Raises :class:`~advdiff.errors.ConfigError` saying which samplers fit the family instead.
    """
    family = getattr(corruption, "name", None)
    if not isinstance(family, str) or not family:
        raise bad_value("corruption", type(corruption).__name__, "a corruption family (advdiff.corruptions.build)")
    if family not in FITS[sampler]:
        fitting = samplers_for(family)
        hint = f"a sampler for family '{family}': {', '.join(fitting)}" if fitting else "a family with a sampler"
        raise bad_value(
            "sampler",
            sampler,
            f"{hint} (sampler '{sampler}' fits {', '.join(FITS[sampler])})",
        )
    return family


def check_flag(key: str, value: Any) -> bool:
    """``value`` as a bool; anything but True/False is a :class:`~advdiff.errors.ConfigError`."""
    if not isinstance(value, bool):
        raise bad_value(key, value, "true or false")
    return value


class Run:
    """The placement and plumbing of one sampling run: device, precisions, generators, model calls.

    ``model`` is any callable ``model(x, k)``; a ``torch.nn.Module`` sets the run's device and precision
    from its first floating-point parameter or buffer, anything else (or a module without one) from
    ``x_K``. ``x_K`` is checked to be a finite float tensor (B, C, H, W) and ``generator`` to be
    ``None``, one generator or a list of B.
    """

    def __init__(self, model: Model, x_K: torch.Tensor, generator: Any) -> None:
        import torch

        if not callable(model):
            raise bad_value("model", type(model).__name__, "a callable model(x, k) -> tensor")
        x_K = check_images(x_K, key="x_K")
        self.model = model
        self.batch, *_ = x_K.shape
        self.shape = tuple(x_K.shape)
        self.generator = check_generator(generator, self.batch)
        self.out_dtype = x_K.dtype
        device, model_dtype = x_K.device, x_K.dtype
        if isinstance(model, torch.nn.Module):
            for tensor in (*model.parameters(), *model.buffers()):
                if tensor.is_floating_point():
                    device, model_dtype = tensor.device, tensor.dtype
                    break
        self.device = device
        self.model_dtype = model_dtype
        self.dtype = compute_dtype(model_dtype)
        """Precision of the sampler's state: the model's, at least float32."""
        self.x_K = x_K.to(device=device, dtype=self.dtype)

    def levels(self, k: int) -> torch.Tensor:
        """Level ``k`` for every image: a (B,) int64 tensor on the run's device."""
        import torch

        return torch.full((self.batch,), int(k), dtype=torch.int64, device=self.device)

    def call(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``model(x, k)`` in the model's precision, checked for shape, returned in the state's precision."""
        import torch

        out = self.model(x.to(self.model_dtype), self.levels(k))
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != self.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RuntimeError(f"model(x, k) returned {got} at level k={k}; expected a tensor of shape {self.shape}")
        return out.to(self.dtype)

    def randn(self) -> torch.Tensor:
        """Standard normal noise like the state, image ``b`` from generator ``b`` when given a list."""
        return randn(self.shape, self.generator, self.device, self.dtype)

    def finish(self, x0: torch.Tensor, clip: bool) -> torch.Tensor:
        """Cast the final state (data units) to ``x_K``'s dtype, clipping it to [0, 1] if asked."""
        if clip:
            x0 = x0.clamp(0.0, 1.0)
        return x0.to(self.out_dtype)


def progress_bar(levels: Iterable[int], progress: Any, desc: str, total: int) -> Iterable[int]:
    """``levels`` wrapped in a tqdm bar, silent unless ``progress`` is True."""
    from tqdm.auto import tqdm

    return tqdm(levels, total=total, disable=not check_flag("progress", progress), desc=desc, unit="step", leave=False)
