"""The level-conditioned U-Net shared by every corruption family (after Ho et al. 2020 / Dhariwal & Nichol 2021).

``build_model(preset, in_channels=..., **overrides)`` builds a :class:`UNet` from a named size in
:data:`PRESETS` (``tiny`` for tests, ``small`` for a CPU, ``ihdm_mnist``, ``ihdm_cifar10`` and
``ffhq128``, the authors' FFHQ-128 configuration, for GPUs); ``model(x, k)`` maps images (B, C, H, W) and levels (B,) to
(B, C_out, H, W), zero at initialisation. ``model.config`` holds every constructor argument
(JSON types) and ``UNet.from_config`` rebuilds from it; ``describe(model)`` is the run record.
"""

from advdiff.models.presets import PRESETS, build_model, count_parameters, describe
from advdiff.models.unet import UNet, feature_sizes, timestep_embedding

__all__ = ["PRESETS", "UNet", "build_model", "count_parameters", "describe", "feature_sizes", "timestep_embedding"]
