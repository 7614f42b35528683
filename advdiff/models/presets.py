"""Named U-Net sizes, from a test-sized ``tiny`` to the paper's FFHQ-128 network.

:data:`PRESETS` holds ``tiny`` (tests), ``small`` (the CPU default for 28x28 Fashion-MNIST),
``medium`` (a wider CPU network), ``ihdm_mnist`` and ``ihdm_cifar10`` (the networks of IHDM, Rissanen
et al. 2023) and ``ffhq128`` (the FFHQ-128 network of the Beyond Blur code). :func:`build_model`
starts from a preset and replaces any :class:`~advdiff.models.unet.UNet` argument; :func:`describe`
gives what a run record needs. See docs/models.md, section "Presets", for their sizes and costs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from advdiff.errors import ConfigError, bad_value

if TYPE_CHECKING:  # the network needs torch, the presets do not
    from torch import nn

    from advdiff.models.unet import UNet

__all__ = ["PRESETS", "build_model", "count_parameters", "describe"]

PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "tiny": MappingProxyType(
            {
                "model_channels": 4,
                "channel_mult": (1, 2),
                "num_res_blocks": 1,
                "attention_resolutions": (8,),
                "image_size": 16,
                "dropout": 0.0,
                "num_heads": 1,
                "norm_groups": 2,
                "skip_rescale": True,
            }
        ),
        "small": MappingProxyType(
            {
                "model_channels": 16,
                "channel_mult": (1, 2, 2),
                "num_res_blocks": 1,
                "attention_resolutions": (7,),
                "image_size": 28,
                "dropout": 0.1,
                "num_heads": 1,
                "norm_groups": 8,
                "skip_rescale": True,
            }
        ),
        "medium": MappingProxyType(
            {
                "model_channels": 32,
                "channel_mult": (1, 2, 2),
                "num_res_blocks": 2,
                "attention_resolutions": (7,),
                "image_size": 28,
                "dropout": 0.1,
                "num_heads": 1,
                "norm_groups": 8,
                "skip_rescale": True,
            }
        ),
        "ihdm_mnist": MappingProxyType(
            {
                "model_channels": 128,
                "channel_mult": (1, 2, 2),
                "num_res_blocks": 4,
                "attention_resolutions": (7,),
                "image_size": 28,
                "dropout": 0.1,
                "num_heads": 1,
                "norm_groups": 32,
                "skip_rescale": True,
            }
        ),
        "ihdm_cifar10": MappingProxyType(
            {
                "model_channels": 128,
                "channel_mult": (1, 2, 2, 2),
                "num_res_blocks": 4,
                "attention_resolutions": (8, 4),
                "image_size": 32,
                "dropout": 0.1,
                "num_heads": 1,
                "norm_groups": 32,
                "skip_rescale": True,
            }
        ),
        "ffhq128": MappingProxyType(
            {
                "model_channels": 128,
                "channel_mult": (1, 2, 3, 4, 5),
                "num_res_blocks": 3,
                "attention_resolutions": (32, 16, 8),
                "image_size": 128,
                "dropout": 0.3,
                "num_heads": 1,
                "norm_groups": 32,
                "skip_rescale": True,
            }
        ),
    }
)
"""Constructor arguments of :class:`UNet` per preset name (``in_channels`` is always given by the caller)."""


@functools.cache
def _unet_args() -> tuple[str, ...]:
    """The constructor arguments of :class:`UNet`."""
    from advdiff.models.unet import UNet

    return tuple(p for p in inspect.signature(UNet.__init__).parameters if p != "self")


def _attention_at_new_size(preset: Mapping[str, Any], channel_mult: Any, image_size: Any) -> Any:
    """The preset's attention levels, re-expressed as feature-map sides for ``image_size`` inputs.

    Invalid ``channel_mult`` or ``image_size`` leave the preset's value, so that :class:`UNet` reports them.
    """
    from advdiff.models.unet import _int_tuple, _positive_int, feature_sizes

    try:
        mult = _int_tuple("channel_mult", channel_mult, allow_empty=False)
        size = _positive_int("image_size", image_size)
    except ConfigError:
        return preset["attention_resolutions"]
    old = feature_sizes(int(preset["image_size"]), len(preset["channel_mult"]))
    levels = [i for i, s in enumerate(old) if s in preset["attention_resolutions"]]
    new = feature_sizes(size, len(mult))
    return tuple(new[i] for i in levels if i < len(new))


def build_model(preset: str = "small", *, in_channels: int, **overrides: Any) -> UNet:
    """Build a :class:`UNet` from a preset, replacing any constructor argument with ``overrides``.

    ``preset`` is a key of :data:`PRESETS`; ``in_channels`` the image channels (1 for Fashion-MNIST, 3
    for RGB). When ``image_size`` is overridden and ``attention_resolutions`` is not, attention stays at
    the preset's levels (``small`` at ``image_size=32``: 8 px instead of 7 px). The returned model has
    ``model.preset = preset``; ``UNet.from_config(model.config)`` and ``build_model(**model.config)``
    rebuild the same architecture. Raises ``ConfigError`` for an unknown preset or argument (listing the
    known ones) or a bad value (naming the key).
    """
    from advdiff.models.unet import UNet

    if not isinstance(preset, str) or preset not in PRESETS:
        raise bad_value("preset", preset, f"one of {sorted(PRESETS)}")
    unknown = sorted(set(overrides) - set(_unet_args()))
    if unknown:
        raise bad_value(unknown[0], overrides[unknown[0]], f"a UNet argument, one of {list(_unet_args())}")
    base = PRESETS[preset]
    kwargs = dict(base)
    kwargs.update(overrides)
    if "image_size" in overrides and "attention_resolutions" not in overrides:
        kwargs["attention_resolutions"] = _attention_at_new_size(base, kwargs["channel_mult"], kwargs["image_size"])
    model = UNet(in_channels=in_channels, **kwargs)
    model.preset = preset
    return model


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def describe(model: UNet) -> dict[str, Any]:
    """A JSON-serialisable record of ``model``: ``{"preset", "parameters", "config"}``.

    ``config`` is :attr:`UNet.config`; ``UNet.from_config(record["config"])`` rebuilds the architecture.
    """
    return {
        "preset": getattr(model, "preset", None),
        "parameters": count_parameters(model),
        "config": {key: list(v) if isinstance(v, tuple) else v for key, v in model.config.items()},
    }
