"""A U-Net conditioned on the corruption level ``k``, after Ho et al. 2020 / Dhariwal & Nichol 2021.

The layout is the ADM ``UNetModel`` that IHDM (Rissanen et al. 2023) and Beyond Blur reuse: a
sinusoidal level embedding added to (or, with ``scale_shift``, FiLM-modulating) every residual block,
residual blocks with self-attention at chosen feature-map sides, skip connections, nearest upsampling
to the exact skip size (so odd sizes work), and a zero-initialised output convolution (an untrained
network is the identity for residual prediction). Every constructor argument is kept in
:attr:`UNet.config` (plain JSON types); :meth:`UNet.from_config` rebuilds the same architecture. See
docs/models.md, section "The U-Net".
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from advdiff.errors import bad_value

__all__ = [
    "AttentionBlock",
    "Downsample",
    "ResBlock",
    "UNet",
    "Upsample",
    "feature_sizes",
    "group_count",
    "timestep_embedding",
]


# --------------------------------------------------------------------------- input checks


def _positive_int(key: str, value: Any, low: int = 1) -> int:
    """Return ``value`` as an int ``>= low``; bools, fractions and strings raise a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise bad_value(key, value, f"an integer >= {low}")
    return int(value)


def _int_tuple(key: str, value: Any, *, allow_empty: bool) -> tuple[int, ...]:
    """Return ``value`` as a tuple of positive ints; a ConfigError naming ``key`` otherwise."""
    allowed = "a " + ("" if allow_empty else "non-empty ") + "sequence of integers >= 1"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise bad_value(key, value, allowed)
    items = tuple(value)
    if not items and not allow_empty:
        raise bad_value(key, value, allowed)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral) or int(item) < 1:
            raise bad_value(key, value, allowed)
    return tuple(int(item) for item in items)


def _real(key: str, value: Any, low: float, high: float | None, *, open_low: bool, open_high: bool) -> float:
    """Return ``value`` as a finite float inside the given interval; a ConfigError naming ``key`` otherwise."""
    left, right = ("(" if open_low else "["), (")" if open_high else "]")
    allowed = f"a number in {left}{low:g}, {'inf' if high is None else f'{high:g}'}{right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise bad_value(key, value, allowed)
    v = float(value)
    if v < low or (open_low and v == low):
        raise bad_value(key, value, allowed)
    if high is not None and (v > high or (open_high and v == high)):
        raise bad_value(key, value, allowed)
    return v


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise bad_value(key, value, "true or false")
    return value


# --------------------------------------------------------------------------- building blocks


def group_count(channels: int, groups: int) -> int:
    """The largest divisor of ``channels`` that is ``<= groups`` (GroupNorm needs ``channels % groups == 0``)."""
    for g in range(min(groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


def feature_sizes(image_size: int, levels: int) -> tuple[int, ...]:
    """Feature-map side length in pixels at each of ``levels`` U-Net levels for a ``image_size`` input.

    Each stride-2 conv (kernel 3, padding 1) maps a side ``s`` to ``ceil(s / 2)``:
    ``feature_sizes(28, 3) == (28, 14, 7)``, ``feature_sizes(128, 5) == (128, 64, 32, 16, 8)``.
    """
    sizes = [int(image_size)]
    for _ in range(levels - 1):
        sizes.append((sizes[-1] + 1) // 2)
    return tuple(sizes)


def timestep_embedding(k: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of levels ``k`` (B,), float32 (B, dim): ``[cos(k w_i), sin(k w_i)]``.

    Frequencies ``w_i = max_period ** (-i / (dim // 2))`` for ``i = 0..dim//2 - 1``; an odd ``dim``
    gets one zero column. After Vaswani et al. 2017 as used by Ho et al. 2020 / Dhariwal & Nichol 2021.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=k.device) / max(half, 1))
    args = k.to(torch.float32)[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class ResBlock(nn.Module):
    """Residual block: GroupNorm, SiLU, 3x3 conv, + level embedding, GroupNorm, SiLU, dropout, 3x3 conv.

    After Ho et al. 2020 / Dhariwal & Nichol 2021. With ``scale_shift`` the embedding gives a
    scale and shift applied as ``norm(h) * (1 + scale) + shift`` instead of being added.
    """

    def __init__(
        self,
        in_channels: int,  # channels of the input feature map
        out_channels: int,  # channels of the output feature map
        emb_channels: int,  # width of the level embedding
        dropout: float,  # dropout probability before the second conv
        groups: int,  # upper bound on GroupNorm groups (clamped to a divisor of the channels)
        scale_shift: bool,  # FiLM-style conditioning instead of an added embedding
        skip_rescale: bool,  # multiply the residual sum by 1/sqrt(2)
    ) -> None:
        super().__init__()
        self.scale_shift = scale_shift
        self.skip_rescale = skip_rescale
        self.norm1 = nn.GroupNorm(group_count(in_channels, groups), in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb = nn.Linear(emb_channels, 2 * out_channels if scale_shift else out_channels)
        self.norm2 = nn.GroupNorm(group_count(out_channels, groups), out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        e = self.emb(F.silu(emb))[:, :, None, None].to(h.dtype)
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        else:
            h = self.norm2(h + e)
        h = self.conv2(self.dropout(F.silu(h)))
        out = self.skip(x) + h
        return out * (1 / math.sqrt(2)) if self.skip_rescale else out


class AttentionBlock(nn.Module):
    """Multi-head self-attention over all pixels, with a residual connection (after Dhariwal & Nichol 2021)."""

    def __init__(
        self,
        channels: int,  # channels of the feature map; divisible by num_heads
        num_heads: int,  # attention heads
        groups: int,  # upper bound on GroupNorm groups
        skip_rescale: bool,  # multiply the residual sum by 1/sqrt(2)
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.skip_rescale = skip_rescale
        self.norm = nn.GroupNorm(group_count(channels, groups), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.num_heads, C // self.num_heads, H * W)
        q, k, v = (t.transpose(-1, -2) for t in qkv.unbind(dim=1))  # each (B, heads, HW, C/heads)
        h = F.scaled_dot_product_attention(q, k, v)
        h = self.proj(h.transpose(-1, -2).reshape(B, C, H, W))
        out = x + h
        return out * (1 / math.sqrt(2)) if self.skip_rescale else out


class Downsample(nn.Module):
    """Stride-2 3x3 conv: side ``s`` -> ``ceil(s / 2)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest interpolation to an exact ``size`` (the matching skip's), then a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class _Stage(nn.Module):
    """One residual block, optionally followed by attention: a step of the down, middle or up path."""

    def __init__(self, res: ResBlock, attn: AttentionBlock | None) -> None:
        super().__init__()
        self.res = res
        self.attn = attn

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x = self.res(x, emb)
        return x if self.attn is None else self.attn(x)


# --------------------------------------------------------------------------- the network


class UNet(nn.Module):
    """U-Net ``f(x, k)`` conditioned on the corruption level, after Ho et al. 2020 / Dhariwal & Nichol 2021.

    ``forward(x, k)`` takes ``x`` (B, in_channels, H, W) float and levels ``k`` (B,) (int or float; a
    scalar is broadcast) and returns (B, out_channels, H, W); a fresh network returns zeros. The
    arguments are commented in the signature. ``attention_resolutions`` are feature-map sides in pixels
    for an ``image_size`` input (each must be reached); ``image_size`` only places attention, the network
    runs on any H x W. ``num_heads`` must divide the channels of every level with attention;
    ``norm_groups`` is clamped per layer to a divisor of its channels. See docs/models.md.
    """

    def __init__(
        self,
        in_channels: int,  # image channels of the input
        out_channels: int | None = None,  # output channels; None = in_channels
        model_channels: int = 32,  # base width (channels at level 0)
        channel_mult: Sequence[int] = (1, 2, 2),  # width multiplier per level; len = number of levels
        num_res_blocks: int = 2,  # residual blocks per level (down path; up path has one more)
        attention_resolutions: Sequence[int] = (7,),  # feature-map sides in px (for image_size inputs) with attention
        image_size: int = 28,  # training image side in px; used to place attention
        dropout: float = 0.1,  # dropout probability in residual blocks, [0, 1)
        num_heads: int = 1,  # attention heads
        norm_groups: int = 32,  # GroupNorm groups, clamped to a divisor of each layer's channels
        max_period: float = 10_000.0,  # longest period of the sinusoidal level embedding, in levels
        scale_shift: bool = False,  # FiLM scale/shift conditioning instead of an added embedding
        skip_rescale: bool = True,  # multiply residual sums by 1/sqrt(2)
    ) -> None:
        super().__init__()
        in_channels = _positive_int("in_channels", in_channels)
        out_channels = in_channels if out_channels is None else _positive_int("out_channels", out_channels)
        model_channels = _positive_int("model_channels", model_channels)
        channel_mult = _int_tuple("channel_mult", channel_mult, allow_empty=False)
        num_res_blocks = _positive_int("num_res_blocks", num_res_blocks)
        attention_resolutions = _int_tuple("attention_resolutions", attention_resolutions, allow_empty=True)
        image_size = _positive_int("image_size", image_size)
        dropout = _real("dropout", dropout, 0.0, 1.0, open_low=False, open_high=True)
        num_heads = _positive_int("num_heads", num_heads)
        norm_groups = _positive_int("norm_groups", norm_groups)
        max_period = _real("max_period", max_period, 0.0, None, open_low=True, open_high=False)
        scale_shift = _flag("scale_shift", scale_shift)
        skip_rescale = _flag("skip_rescale", skip_rescale)

        sizes = feature_sizes(image_size, len(channel_mult))
        missing = [r for r in attention_resolutions if r not in sizes]
        if missing:
            raise bad_value(
                "attention_resolutions",
                attention_resolutions,
                f"feature-map sides reached by a {image_size} px input with {len(channel_mult)} levels: {sizes}",
            )
        attention_levels = tuple(i for i, s in enumerate(sizes) if s in attention_resolutions)
        widths = [model_channels * m for m in channel_mult]
        for ch in [widths[i] for i in attention_levels] + [widths[-1]]:  # the middle always has attention
            if ch % num_heads:
                raise bad_value("num_heads", num_heads, f"a divisor of the channels of every attention layer ({ch})")

        self.config: dict[str, Any] = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "model_channels": model_channels,
            "channel_mult": channel_mult,
            "num_res_blocks": num_res_blocks,
            "attention_resolutions": attention_resolutions,
            "image_size": image_size,
            "dropout": dropout,
            "num_heads": num_heads,
            "norm_groups": norm_groups,
            "max_period": max_period,
            "scale_shift": scale_shift,
            "skip_rescale": skip_rescale,
        }
        """Every constructor argument, resolved, in JSON types (tuples become lists in JSON)."""
        self.attention_levels: tuple[int, ...] = attention_levels
        """Indices of the levels whose residual blocks are followed by attention."""
        self.preset: str | None = None
        """Name of the preset this model was built from, set by :func:`advdiff.models.build_model`."""

        emb_ch = 4 * model_channels
        self.max_period = max_period
        self.level_embed = nn.Sequential(
            nn.Linear(model_channels, emb_ch),
            nn.SiLU(),
            nn.Linear(emb_ch, emb_ch),
        )

        def stage(cin: int, cout: int, attn: bool) -> _Stage:
            res = ResBlock(cin, cout, emb_ch, dropout, norm_groups, scale_shift, skip_rescale)
            return _Stage(res, AttentionBlock(cout, num_heads, norm_groups, skip_rescale) if attn else None)

        self.input_conv = nn.Conv2d(in_channels, model_channels, 3, padding=1)
        self.down = nn.ModuleList()  # items: _Stage or Downsample, each output pushed as a skip
        skip_channels = [model_channels]
        ch = model_channels
        for level, width in enumerate(widths):
            for _ in range(num_res_blocks):
                self.down.append(stage(ch, width, level in attention_levels))
                ch = width
                skip_channels.append(ch)
            if level < len(widths) - 1:
                self.down.append(Downsample(ch))
                skip_channels.append(ch)

        self.middle = nn.ModuleList([stage(ch, ch, True), stage(ch, ch, False)])

        self.up = nn.ModuleList()  # items: _Stage (consumes one skip) or Upsample
        for level in reversed(range(len(widths))):
            width = widths[level]
            for _ in range(num_res_blocks + 1):
                self.up.append(stage(ch + skip_channels.pop(), width, level in attention_levels))
                ch = width
            if level > 0:
                self.up.append(Upsample(ch))

        self.out_norm = nn.GroupNorm(group_count(ch, norm_groups), ch)
        self.out_conv = nn.Conv2d(ch, out_channels, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UNet:
        """Build a network from :attr:`config` (or its JSON round-trip); unknown keys raise a ConfigError."""
        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise bad_value(unknown[0], config[unknown[0]], f"a UNet argument, one of {known}")
        return cls(**config)

    def _levels(self, k: torch.Tensor | float, batch: int, device: torch.device) -> torch.Tensor:
        if not isinstance(k, torch.Tensor):
            if isinstance(k, bool) or not isinstance(k, numbers.Real):
                raise bad_value("k", k, "a number or a (B,) tensor of levels")
            k = torch.tensor(float(k))
        if k.is_complex() or k.dtype == torch.bool:
            raise bad_value("k", k.dtype, "an integer or floating tensor of levels")
        if k.ndim == 0:
            k = k.expand(batch)
        if k.shape != (batch,):
            raise bad_value("k.shape", tuple(k.shape), f"({batch},), one level per image")
        return k.to(device)

    def forward(self, x: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
        """Return ``f(x, k)``, shape (B, out_channels, H, W), for ``x`` (B, in_channels, H, W) and levels ``k`` (B,)."""
        cin = self.config["in_channels"]
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != cin or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise bad_value("x.shape", shape, f"a float tensor (B, {cin}, H, W)")
        levels = self._levels(k, x.shape[0], x.device)
        emb = self.level_embed(timestep_embedding(levels, self.config["model_channels"], self.max_period).to(x.dtype))

        h = self.input_conv(x)
        skips = [h]
        for module in self.down:
            h = module(h, emb) if isinstance(module, _Stage) else module(h)
            skips.append(h)
        for module in self.middle:
            h = module(h, emb)
        for module in self.up:
            if isinstance(module, _Stage):
                h = module(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = module(h, tuple(skips[-1].shape[-2:]))
        return self.out_conv(F.silu(self.out_norm(h)))
