"""The level-conditioned U-Net: shapes, conditioning, initialisation, presets, config round-trip and input checks."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from advdiff.errors import ConfigError
from advdiff.models import PRESETS, UNet, build_model, count_parameters, describe, feature_sizes, timestep_embedding


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (tests/conftest.py)."""


def tiny(**overrides):
    """A ``tiny`` model with a non-zero output conv, so that its output is informative."""
    torch.manual_seed(0)
    model = build_model("tiny", **{"in_channels": 1, **overrides})
    torch.nn.init.normal_(model.out_conv.weight, std=0.1)
    torch.nn.init.normal_(model.out_conv.bias, std=0.1)
    return model


def batch(B=4, C=1, H=16, W=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, C, H, W, generator=g), torch.randint(1, 100, (B,), generator=g)


@pytest.mark.parametrize(
    ("C", "H", "W", "image_size"),
    [(1, 28, 28, 28), (3, 28, 28, 28), (1, 32, 32, 32), (3, 32, 32, 32), (1, 16, 20, 16), (3, 16, 20, 16)],
)
def test_output_shape(C, H, W, image_size):
    """28 -> 14 -> 7 -> 4 and back; non-square inputs; one and three channels."""
    model = build_model("tiny", in_channels=C, channel_mult=(1, 2, 2, 2), image_size=image_size)
    x, k = batch(3, C, H, W)
    assert model(x, k).shape == (3, C, H, W)


def test_out_channels_and_scalar_level():
    model = build_model("tiny", in_channels=3, out_channels=2)
    x, _ = batch(2, 3)
    assert model(x, 5).shape == (2, 2, 16, 16)
    assert model(x, torch.tensor(5.0)).shape == (2, 2, 16, 16)


def test_zero_initial_output():
    """The output conv starts at zero, so residual prediction starts at the identity."""
    model = build_model("small", in_channels=1)
    x, k = batch(2, 1, 28, 28)
    assert torch.count_nonzero(model(x, k)) == 0


def test_output_depends_on_the_level():
    model = tiny().eval()
    x, _ = batch(2)
    a, b = model(x, torch.tensor([1, 1])), model(x, torch.tensor([50, 50]))
    assert (a - b).abs().max() > 1e-4
    # float and integer levels give the same embedding
    torch.testing.assert_close(model(x, torch.tensor([50.0, 50.0])), b)


def test_output_depends_on_the_level_after_one_step_from_zero_init():
    torch.manual_seed(0)
    model = build_model("tiny", in_channels=1)
    x, k = batch(4)
    loss = F.mse_loss(model(x, k), torch.randn_like(x))
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    with torch.no_grad():
        assert (model(x[:1], torch.tensor([1])) - model(x[:1], torch.tensor([90]))).abs().max() > 0


@pytest.mark.parametrize("scale_shift", [False, True])
def test_gradients_reach_every_parameter(scale_shift):
    model = tiny(scale_shift=scale_shift)
    x, k = batch(2)
    model(x, k).square().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or torch.count_nonzero(p.grad) == 0]
    assert not dead


def test_deterministic_given_the_seed():
    x, k = batch(2)
    out = [tiny()(x, k) for _ in range(2)]
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=0)


def test_config_round_trip_gives_identical_outputs():
    model = tiny(scale_shift=True, skip_rescale=False, max_period=1000.0).eval()
    config = json.loads(json.dumps(model.config))
    for clone in (UNet.from_config(config), build_model(**config)):
        assert clone.config == model.config
        clone.load_state_dict(model.state_dict())
        clone.eval()
        x, k = batch(2)
        torch.testing.assert_close(clone(x, k), model(x, k), rtol=0, atol=0)


def test_describe_is_a_json_record():
    model = build_model("small", in_channels=1)
    record = json.loads(json.dumps(describe(model)))
    assert record["preset"] == "small"
    assert record["parameters"] == count_parameters(model) > 0
    assert UNet.from_config(record["config"]).config == model.config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build(name):
    """Every preset builds; the big ones are only instantiated and counted."""
    model = build_model(name, in_channels=3)
    n = count_parameters(model)
    assert n > 0
    if name == "tiny":
        assert n < 20_000
    if name == "ffhq128":
        assert model.config["channel_mult"] == (1, 2, 3, 4, 5) and model.config["num_res_blocks"] == 3
        assert model.attention_levels == (2, 3, 4) and model.config["dropout"] == 0.3
        assert n > 100_000_000
    if name in ("tiny", "small"):
        x, k = batch(2, 3, model.config["image_size"], model.config["image_size"])
        assert model(x, k).shape == x.shape


def test_image_size_override_keeps_attention_levels():
    model = build_model("small", in_channels=3, image_size=32)
    assert model.config["attention_resolutions"] == (8,) and model.attention_levels == (2,)


def test_feature_sizes_and_embedding():
    assert feature_sizes(28, 3) == (28, 14, 7)
    assert feature_sizes(128, 5) == (128, 64, 32, 16, 8)
    emb = timestep_embedding(torch.tensor([0, 3]), 7)
    assert emb.shape == (2, 7)
    torch.testing.assert_close(emb[0], torch.tensor([1.0, 1, 1, 0, 0, 0, 0]))
    assert emb[1, 0] == pytest.approx(math.cos(3.0))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model_channels", 0),
        ("model_channels", 8.5),
        ("out_channels", -1),
        ("num_res_blocks", 0),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("channel_mult", ()),
        ("channel_mult", (1, 0)),
        ("attention_resolutions", (5,)),
        ("num_heads", 3),
        ("norm_groups", 0),
        ("max_period", 0.0),
        ("image_size", True),
        ("scale_shift", 1),
        ("widht", 3),
    ],
)
def test_bad_config_names_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        build_model("tiny", in_channels=1, **{key: value})


def test_bad_preset_and_channels():
    with pytest.raises(ConfigError, match="preset.*tiny"):
        build_model("huge", in_channels=1)
    with pytest.raises(ConfigError, match="in_channels"):
        build_model("tiny", in_channels=0)
    with pytest.raises(ConfigError, match="widht"):
        UNet.from_config({**build_model("tiny", in_channels=1).config, "widht": 3})


def test_bad_inputs_name_the_argument():
    model = build_model("tiny", in_channels=1)
    x, k = batch(2)
    with pytest.raises(ConfigError, match="x.shape"):
        model(torch.rand(2, 3, 16, 16), k)
    with pytest.raises(ConfigError, match="k.shape"):
        model(x, torch.tensor([1, 2, 3]))


def test_tiny_model_overfits_one_batch():
    """Residual-style targets (a 3x3 blur minus the image): the loss falls more than 10x in 50 Adam steps."""
    torch.manual_seed(0)
    model = build_model("tiny", in_channels=1)
    x, k = batch(8)
    target = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False) - x
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(50):
        loss = F.mse_loss(model(x, k), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
