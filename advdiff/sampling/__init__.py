"""Samplers for every corruption family, with one signature (k-diffusion's layout).

``sampler(model, corruption, x_K, generator=None, *, progress=False, **options) -> x_0``:
:func:`ddpm_ancestral` (``ddpm``, Ho et al. 2020) and :func:`ddim` (``ddim``, Song et al. 2021) for
the ``ddpm`` family, :func:`blur_ancestral` (``blur``, Hoogeboom & Salimans 2023) for ``blur``, and
:func:`heat_sampler` (``heat``, Rissanen et al. 2023; Beyond Blur) for ``heat`` and ``advdiff``.
:func:`sample` picks the family's default (:func:`default_sampler`) and checks the sampler and its
options; :func:`data_options` gives a sampler the training data's statistics it takes, and
:func:`preview` draws the trainer's sample grids. Conventions: :mod:`advdiff.sampling.base`.
"""

from advdiff.sampling.base import FITS, Sampler, samplers_for
from advdiff.sampling.gaussian import (
    VARIANCES,
    blur_ancestral,
    ddim,
    ddim_levels,
    ddpm_ancestral,
    frequency_moments,
)
from advdiff.sampling.heat import heat_sampler
from advdiff.sampling.registry import (
    DEFAULT_SAMPLERS,
    MOMENT_IMAGES,
    SAMPLERS,
    data_options,
    default_sampler,
    preview,
    sample,
    sampler_options,
)

__all__ = [
    "DEFAULT_SAMPLERS",
    "FITS",
    "MOMENT_IMAGES",
    "SAMPLERS",
    "VARIANCES",
    "Sampler",
    "blur_ancestral",
    "ddim",
    "ddim_levels",
    "data_options",
    "ddpm_ancestral",
    "default_sampler",
    "frequency_moments",
    "heat_sampler",
    "preview",
    "sample",
    "sampler_options",
    "samplers_for",
]
