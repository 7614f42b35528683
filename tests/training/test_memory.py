"""The memory estimate of a training run, and config/paper.yaml sized for one 80 GB GPU with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from advdiff.training import TrainConfig
from advdiff.training.memory import TRAINING_STATE, estimate_memory, network_bytes

ROOT = Path(__file__).resolve().parents[2]
GPU_BYTES = 80 * 10**9  # an "80 GB" GPU, counted in 10^9 bytes (it holds a little more)
MARGIN = 0.15  # room left for the allocator's fragmentation and what the estimate does not count


def test_paper_config_fits_one_80_gb_gpu_with_a_margin():
    """Every point of config/paper.yaml: estimated peak below 85 % of 80 GB, host memory below the job's mem_mb."""
    from advdiff.sweep import build_sweep

    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    sweep = build_sweep(paper["sweep"])
    n_train = paper["prepare"]["ffhq"]["expect"] - paper["sweep"]["dataset"]["holdout"]  # 70 000 - 5 000
    assert len(sweep.points) == 14
    for point in sweep.points.values():
        estimate = estimate_memory(point.config, n_train)
        assert estimate.fits(GPU_BYTES, margin=MARGIN), estimate.as_dict()
        assert estimate.device_total <= (1 - MARGIN) * GPU_BYTES
        assert estimate.host_total <= paper["resources"]["mem_mb"]["train"] * 10**6, estimate.as_dict()
        assert estimate.host["images"] == n_train * 3 * 128 * 128  # uint8, in memory (below the budget)
        assert estimate.device["activations"] > 0.3 * estimate.device_total  # the batch is what fills the GPU


def test_the_parts_follow_the_documented_formula(tmp_path):
    cfg = TrainConfig(
        family="advdiff",
        family_params={"K": 10, "sigma_max": 4.0, "peclet": 0.1},
        dataset={"name": "folder", "root": str(tmp_path), "size": 16, "channels": 3},
        model={"preset": "tiny"},
        batch_size=8,
        amp=True,
        pool={"size": 20, "refresh_per_step": 2, "refresh_every": 3, "chunk": 5},
    )
    per_image, parameters = network_bytes(cfg)
    est = estimate_memory(cfg, 100)
    image = 3 * 16 * 16
    assert est.device["pool"] == 20 * 11 * image * 4  # P (K+1) C H W float32
    assert est.device["model"] == TRAINING_STATE * parameters == 20 * parameters
    assert est.device["activations"] == 8 * per_image
    assert est.device["lbm"] == 6 * image * 4 * (3 * 11 + 20)  # max(chunk 5, R x E 6) simulations
    assert est.host["images"] == 100 * image  # uint8
    assert est.host["checkpoint"] == 16 * parameters + 2 * est.device["pool"]  # pool.in_checkpoint: two copies
    assert any("upper bound" in note for note in est.notes)  # amp
    streamed = estimate_memory(cfg.replace(dataset={**cfg.dataset.__dict__, "memory_budget_mb": 0}), 100)
    assert streamed.host["images"] == 8 * image and any("streamed" in n for n in streamed.notes)
    heat = estimate_memory(TrainConfig(family="heat", model={"preset": "tiny"}, dataset={"size": 16}), 60_000)
    assert heat.device["pool"] == heat.device["lbm"] == 0  # on-the-fly pairs of a DCT: no pool, no LBM
    assert heat.host["images"] == 60_000 * 256 * 4  # resized Fashion-MNIST is not 8-bit exact: float32


def test_the_traced_activations_are_what_autograd_keeps_on_a_real_forward():
    """The meta-device trace counts the bytes a real CPU forward pass saves for backward (distinct storages)."""
    from advdiff.models import build_model

    cfg = TrainConfig(family="heat", model={"preset": "small"})
    traced, parameters = network_bytes(cfg)
    torch.manual_seed(0)
    model = build_model("small", in_channels=1).train()
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in weights:
            storages[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.rand(1, 1, 28, 28), torch.ones(1, dtype=torch.int64))
    assert parameters == sum(p.numel() for p in model.parameters())
    assert traced == pytest.approx(sum(storages.values()), rel=0.02)
