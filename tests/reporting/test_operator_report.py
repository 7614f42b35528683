"""The operator analysis: departures from Pe = 0, their split, and the report built from them."""

import json

import numpy as np
import pytest
import torch

from advdiff.analysis import first_peclet_where, measure_departure
from advdiff.corruptions import build
from advdiff.reporting.operator import analyze_operator, write_operator_report

SMALL = {"K": 12, "sigma_max": 5.0, "backend": "cpu"}


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(4))


def test_zero_peclet_departs_by_nothing(images):
    r = measure_departure(images, peclet=0.0, seeds=[0, 1], **SMALL)
    assert max(r["departure"]) < 1e-4 and max(r["transport"]) < 1e-4 and max(r["compressive"]) < 1e-4  # in sigma
    assert max(r["tracer_travel"]) == 0


def test_split_matches_the_operator_itself(images):
    """The paper-map departure computed through S(x) and S(1) equals the family's own trajectories."""
    r = measure_departure(images, peclet=2.0, seeds=[5], unit=1.0, **SMALL)
    from advdiff.analysis import _generators

    paper = build("advdiff", peclet=2.0, **SMALL).trajectory(images, _generators(5, 3))
    ref = build("advdiff", peclet=0.0, **SMALL).trajectory(images)
    direct = (paper - ref).double().flatten(1).pow(2).mean(1).sqrt().numpy()
    np.testing.assert_allclose(r["departure"], direct, atol=3e-5)
    assert r["compressive"][-1] > r["transport"][-1] > 0
    assert r["tracer_travel"][-1] > 0


def test_divergence_free_shrinks_the_compressive_part(images):
    compressible = measure_departure(images, peclet=2.0, seeds=[0], **SMALL)
    solenoidal = measure_departure(images, peclet=2.0, seeds=[0], divergence_free=True, **SMALL)
    assert max(solenoidal["compressive"]) < max(compressible["compressive"])


def test_first_peclet_where():
    rows = [{"peclet": p, "transport": [0, v], "group": "28"} for p, v in [(0.06, 0.2), (0.5, 1.5), (1.0, 4.0)]]
    assert first_peclet_where(rows, "transport", 1.0, group="28") == 0.5
    assert first_peclet_where(rows, "transport", 10.0, group="28") is None


@pytest.mark.slow
def test_report_from_a_small_grid(tmp_path, monkeypatch):
    """A tiny grid through analyze_operator and the Markdown report (figures written, numbers in tables)."""
    from advdiff.reporting import operator

    monkeypatch.setattr(operator, "_fashion_mnist", lambda n, root: torch.rand(n, 1, 16, 16))
    summary = analyze_operator(
        tmp_path,
        peclets=(0.06, 1.0),
        seeds=2,
        n_images=2,
        include_128=False,
        backend="cpu",
        progress=False,
        family_28={"K": 12, "sigma_max": 5.0},
    )
    assert json.loads((tmp_path / "operator.json").read_text())["results"]
    report = write_operator_report(summary, tmp_path / "operator.md", tmp_path / "figures")
    text = report.read_text()
    assert "## Answers" in text
    assert "pure transport first exceeds the training noise" in text
    for name in ("operator_departure_28px.png", "operator_transport_threshold.png", "operator_compressive_spectra.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000


class _Residual(torch.nn.Module):
    """A stand-in network that returns ``scale`` times the exact residual of its own forward run."""

    def __init__(self, traj, scale):
        super().__init__()
        self.traj, self.scale = traj, scale

    def forward(self, x, k):
        return self.scale * (self.traj[int(k[0]) - 1] - x)


@pytest.mark.parametrize("family", ["heat", "advdiff"])
def test_step_prediction_of_known_networks(images, family):
    """A network that returns nothing predicts 0 of each step, the exact residual 1, half of it 0.75;
    for advdiff at Pe > 0 the exact residual needs the same per-image fields as the measurement."""
    from advdiff.analysis import _generators, measure_step_prediction

    params = dict(SMALL, peclet=2.0) if family == "advdiff" else {"K": 12, "sigma_max": 5.0}
    corruption = build(family, **params)
    traj = corruption.trajectory(images, _generators(0, images.shape[0])).float()
    nets = [_Residual(traj, 0.0), _Residual(traj, 1.0), _Residual(traj, 0.5)]
    r = measure_step_prediction(nets, corruption, images, seed=0)
    assert r["levels"] == list(range(1, 13)) and r["n_images"] == 3 and r["sigma"] == corruption.training_noise
    assert np.allclose(r["share"][0], 0) and r["model"][0] == pytest.approx(r["unchanged"])
    assert np.allclose(r["share"][1], 1, atol=1e-5) and r["share_all"][1] == pytest.approx(1, abs=1e-5)
    assert np.allclose(r["share"][2], 0.75, atol=1e-5) and r["share_all"][2] == pytest.approx(0.75, abs=1e-5)
    # a different field (another seed's) is not the same forward run: the "exact" network no longer is
    if family == "advdiff":
        other = measure_step_prediction([nets[1]], corruption, images, seed=1)
        assert other["share_all"][0] < 0.999
