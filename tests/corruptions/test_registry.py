"""The registry: names, lazy families, and errors that list what is allowed."""

import importlib

import pytest
import torch

from advdiff.corruptions import (
    Corruption,
    FamilyUnavailableError,
    build,
    families,
    family_class,
    known_params,
    register,
    register_lazy,
    registry,
)
from advdiff.errors import ConfigError


class Toy(Corruption):
    """A minimal family for the registry tests (not registered at import)."""

    deterministic = True

    def __init__(self, K: int = 3, scale: float = 0.5) -> None:
        super().__init__(K=K, scale=scale)

    def _degrade(self, x0, k, generator):
        return x0 * (1 - self.params["scale"] * k.view(-1, 1, 1, 1) / self.K)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Let a test register families without leaking them to other tests."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_LAZY", dict(registry._LAZY))


def test_the_four_families_are_known():
    assert families()[:4] == ("ddpm", "heat", "blur", "advdiff")


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(ConfigError, match="family='nope'") as info:
        build("nope")
    assert "ddpm, heat, blur, advdiff" in str(info.value)


def test_names_are_case_insensitive_and_params_come_from_the_constructor():
    assert build("HEAT", K=3).name == "heat"
    assert known_params("ddpm") == ("K", "beta_min", "beta_max", "sigma_min", "sigma_max")
    assert known_params("blur") == ("K", "sigma_max", "d_min", "sigma_min", "logsnr_min")
    with pytest.raises(ConfigError, match="parameter='sigma_blur'.*K, beta_min, beta_max, sigma_min, sigma_max"):
        build("ddpm", sigma_blur=3)


def test_every_family_accepts_the_common_parameters():
    """K, sigma_min and sigma_max can be given to every family (the common parameters of every family)."""
    for name in ("ddpm", "heat", "blur", "advdiff"):
        assert {"K", "sigma_min", "sigma_max"} <= set(known_params(name)), name
    assert build("ddpm", K=10, sigma_min=0.5, sigma_max=20).describe()["sigma_max_used"] is False


def test_advdiff_is_declared_lazily():
    """Listed before its module is imported; without the module, building it is an ImportError."""
    assert "advdiff" in families()
    try:
        importlib.import_module("advdiff.corruptions.advection")
    except ImportError:
        with pytest.raises(ImportError, match=r"advdiff\.corruptions\.advection"):
            build("advdiff")
    else:
        cls = family_class("advdiff")
        assert issubclass(cls, Corruption) and cls.name == "advdiff"


def test_lazy_family_is_imported_and_registered_on_first_use(scratch_registry):
    register_lazy("toy", f"{__name__}:Toy")
    assert "toy" in families() and "toy" not in registry._REGISTRY
    toy = build("toy", scale=0.25)
    assert isinstance(toy, Toy) and toy.name == "toy" and registry._REGISTRY["toy"] is Toy
    x0 = torch.ones((2, 1, 4, 4))
    torch.testing.assert_close(toy.degrade(x0, 3), torch.full_like(x0, 0.75))
    torch.testing.assert_close(toy.prior(x0), toy.degrade(x0, 3))
    with pytest.raises(ConfigError, match="x0_or_n"):
        toy.prior(2, shape=(1, 4, 4))  # the default prior is level K of training images


def test_missing_module_is_a_family_unavailable_error(scratch_registry):
    register_lazy("ghost", "advdiff.corruptions._no_such_module:Ghost")
    assert "ghost" in families()
    with pytest.raises(FamilyUnavailableError, match="_no_such_module") as info:
        build("ghost")
    assert isinstance(info.value, ImportError)
    register_lazy("ghost2", f"{__name__}:NoSuchClass")
    with pytest.raises(FamilyUnavailableError, match="NoSuchClass"):
        build("ghost2")


def test_registration_errors(scratch_registry):
    with pytest.raises(ConfigError, match="name='heat'"):
        register("heat")(Toy)
    with pytest.raises(ConfigError, match="target"):
        register_lazy("toy", "no_colon")
    with pytest.raises(TypeError):
        register("thing")(dict)
    register("toy2")(Toy)
    assert families()[-1] == "toy2" and build("toy2").K == 3
