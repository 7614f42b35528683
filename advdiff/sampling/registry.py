"""Samplers by short name, the default sampler of each family, and :func:`sample`, which dispatches with checks."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from advdiff.errors import bad_value
from advdiff.sampling.base import Model, Sampler, check_fits
from advdiff.sampling.gaussian import blur_ancestral, ddim, ddpm_ancestral, frequency_moments
from advdiff.sampling.heat import heat_sampler

if TYPE_CHECKING:
    import torch

SAMPLERS: dict[str, Sampler] = {
    "ddpm": ddpm_ancestral,
    "ddim": ddim,
    "blur": blur_ancestral,
    "heat": heat_sampler,
}
"""Sampler name -> sampler; all share one signature (see :mod:`advdiff.sampling.base`)."""

DEFAULT_SAMPLERS: dict[str, str] = {"ddpm": "ddpm", "blur": "blur", "heat": "heat", "advdiff": "heat"}
"""Corruption family -> the sampler its paper uses."""


def default_sampler(family: str) -> str:
    """The sampler of corruption family ``family``: ddpm -> ddpm, blur -> blur, heat and advdiff -> heat.

    Raises :class:`~advdiff.errors.ConfigError` for a family without a sampler (listing those with one).
    """
    if not isinstance(family, str) or family not in DEFAULT_SAMPLERS:
        raise bad_value("family", family, f"a family with a sampler: one of {', '.join(DEFAULT_SAMPLERS)}")
    return DEFAULT_SAMPLERS[family]


def sampler_options(name: str) -> tuple[str, ...]:
    """The keyword options sampler ``name`` accepts (``progress`` included)."""
    if not isinstance(name, str) or name not in SAMPLERS:
        raise bad_value("sampler", name, f"one of {', '.join(SAMPLERS)}")
    params = inspect.signature(SAMPLERS[name]).parameters.values()
    return tuple(p.name for p in params if p.kind == inspect.Parameter.KEYWORD_ONLY)


def sample(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    sampler: str | None = None,
    generator: torch.Generator | list[torch.Generator] | None = None,
    **options: Any,
) -> torch.Tensor:
    """Run sampler ``sampler`` (default: the family's, :func:`default_sampler`) from ``x_K``.

    ``model(x, k)`` is what the sampler expects (eps-prediction for ``ddpm``/``blur``, residual for
    ``heat``/``advdiff``), ``corruption`` the family it was trained with, ``x_K`` a draw of
    ``corruption.prior(...)`` in data units (B, C, H, W), ``sampler`` a name in :data:`SAMPLERS`, and
    ``options`` the sampler's keyword options (:func:`sampler_options`). Returns ``x_0`` in data units.
    Raises :class:`~advdiff.errors.ConfigError` for an unknown sampler, one that does not fit the
    family, an unknown option or a bad option value, listing what is allowed.
    """
    name = default_sampler(getattr(corruption, "name", None)) if sampler is None else sampler
    if not isinstance(name, str) or name not in SAMPLERS:
        raise bad_value("sampler", name, f"one of {', '.join(SAMPLERS)}")
    check_fits(corruption, name)
    allowed = sampler_options(name)
    for key in options:
        if key not in allowed:
            raise bad_value("option", key, f"an option of sampler '{name}': one of {', '.join(allowed)}")
    return SAMPLERS[name](model, corruption, x_K, generator, **options)


MOMENT_IMAGES = 10_000
"""Training images (the first ones) that estimate the data moments of a sampler that takes them."""


def data_options(name: str, corruption: Any, images: torch.Tensor) -> dict[str, Any]:
    """The options of sampler ``name`` that come from the training images (``images``, uint8 or float).

    A sampler with a ``data_moments`` option (``blur``, see :func:`~advdiff.sampling.blur_ancestral`)
    gets the per-frequency moments of the first :data:`MOMENT_IMAGES` images; the others get none.
    """
    if "data_moments" not in sampler_options(name):
        return {}
    from advdiff.data.base import unit_float  # torch: the workflow plans without it

    return {"data_moments": frequency_moments(corruption, unit_float(images[:MOMENT_IMAGES]))}


def preview(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    generator: torch.Generator | list[torch.Generator] | None,
    images: torch.Tensor,
) -> torch.Tensor:
    """Samples of the family's default sampler with the data's options: the trainer's sample grids."""
    name = default_sampler(corruption.name)
    options = data_options(name, corruption, images)
    return sample(model, corruption, x_K, sampler=name, generator=generator, progress=False, **options)
