"""Training objectives: the loss *receives* the corruption (the seam of IHDM's code).

:class:`EpsLoss` (``ddpm``, ``blur``) predicts ``eps`` from the noisy state in model space (mean
squared error, Ho et al. 2020); :class:`ResidualLoss` (``heat``, ``advdiff``) predicts
``u_{k-1} - u_k`` from ``u_k + sigma eps`` in data units (Rissanen et al. 2023, eq. 4, which Beyond
Blur reuses with LBM states). A loss is called as ``loss(model, x0, generator) -> (scalar, info)``;
``generator`` is ``None``, one ``torch.Generator`` or one per image (image ``b``'s level, noise and
velocity field then come from generator ``b`` only); ``info`` holds plain floats for logging. Levels
are drawn from ``1..K`` inclusive. See docs/training.md, section "The two losses".
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import nn

from advdiff.corruptions.base import Corruption, GeneratorLike
from advdiff.corruptions.gaussian import GaussianCorruption, to_model
from advdiff.corruptions.tensors import randn
from advdiff.corruptions.validate import check_generator, check_images, check_K, check_level
from advdiff.errors import bad_value


def draw_levels(
    K: int, batch: int, generator: GeneratorLike = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Training levels ``k ~ U{1..K}`` (both ends included), one per image: (batch,) int64 on ``device``.

    ``generator`` is ``None`` (torch's global RNG), one generator, or a list of ``batch`` generators
    (level ``b`` from generator ``b``, one draw each); numbers are drawn on each generator's device.
    """
    K = check_K(K)
    gens = check_generator(generator, batch)
    if isinstance(gens, list):
        k = torch.cat([torch.randint(1, K + 1, (1,), generator=g, device=g.device).cpu() for g in gens])
    else:
        kwargs = {} if gens is None else {"generator": gens, "device": gens.device}
        k = torch.randint(1, K + 1, (batch,), **kwargs)
    return k.to(device=device, dtype=torch.int64)


class Loss(abc.ABC):
    """A training objective bound to one corruption family.

    Attributes
    ----------
    corruption
        The family whose forward process the loss uses.
    kind
        ``"eps"`` or ``"residual"``: what the network predicts.
    """

    kind: ClassVar[str] = ""

    def __init__(self, corruption: Corruption) -> None:
        if not isinstance(corruption, Corruption):
            raise bad_value("corruption", type(corruption).__name__, "an advdiff.corruptions.Corruption")
        self.corruption = corruption

    @abc.abstractmethod
    def __call__(
        self, model: nn.Module, x0: torch.Tensor, generator: GeneratorLike = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of ``model`` on clean images ``x0`` (B, C, H, W) in [0, 1], with a fresh level per image.

        Returns
        -------
        (torch.Tensor, dict)
            A scalar tensor to differentiate, and plain-float diagnostics (``loss``, ``mse``, ``k_mean``).
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.corruption!r})"


class EpsLoss(Loss):
    """Eps-prediction for Gaussian families (after Ho et al. 2020): ``|| eps - f(2 x_k - 1, k) ||^2``, mean."""

    kind = "eps"

    def __init__(self, corruption: Corruption) -> None:
        super().__init__(corruption)
        if not isinstance(corruption, GaussianCorruption):
            raise bad_value("corruption", corruption.name, "a GaussianCorruption (ddpm, blur) for eps-prediction")

    def __call__(self, model, x0, generator=None):
        x0 = check_images(x0)
        k = draw_levels(self.corruption.K, x0.shape[0], generator, x0.device)
        xk, eps = self.corruption.degrade_with_noise(x0, k, generator)
        pred = model(to_model(xk), k).float()
        loss = torch.mean((pred - eps.float()) ** 2)
        value = float(loss.detach())
        return loss, {"loss": value, "mse": value, "k_mean": float(k.double().mean())}


class ResidualLoss(Loss):
    """Residual prediction (IHDM, Beyond Blur): ``|| u_{k-1} - (u~_k + f(u~_k, k)) ||^2`` summed per image, batch mean.

    ``u~_k = u_k + sigma eps`` with ``sigma = corruption.training_noise`` (0.01 by default).
    Follows Rissanen et al. 2023, eq. 4.
    """

    kind = "residual"

    def __init__(self, corruption: Corruption) -> None:
        super().__init__(corruption)
        sigma = getattr(corruption, "training_noise", None)
        if sigma is None:
            raise bad_value("corruption", corruption.name, "a family with a training_noise (heat, advdiff)")
        self.sigma: float = float(sigma)
        """Standard deviation of the noise added to the network input, data units."""

    def __call__(self, model, x0, generator=None):
        x0 = check_images(x0)
        gens = check_generator(generator, x0.shape[0])
        k = draw_levels(self.corruption.K, x0.shape[0], gens, x0.device)
        prev, cur = self.corruption.degrade_pair(x0, k, gens)
        return self.on_pairs(model, prev, cur, k, gens)

    def on_pairs(
        self,
        model: nn.Module,
        prev: torch.Tensor,
        cur: torch.Tensor,
        k: torch.Tensor,
        generator: GeneratorLike = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss on ready-made pairs ``(u_{k-1}, u_k)`` at levels ``k`` (from a pair source or a pool).

        ``prev`` and ``cur`` are (B, C, H, W) in data units, ``k`` (B,) int64 in ``1..K``; ``generator``
        gives the input noise ``eps`` (one draw of C·H·W numbers per image). Returns the scalar loss and a
        dict with ``loss``, ``mse`` (per-pixel mean square) and ``k_mean``.
        """
        cur = check_images(cur, key="cur")
        prev = check_images(prev, key="prev")
        if prev.shape != cur.shape:
            raise bad_value("prev", f"tensor of shape {tuple(prev.shape)}", f"the shape of cur, {tuple(cur.shape)}")
        k = check_level(k, cur.shape[0], self.corruption.K, cur.device)
        noise = randn(cur.shape, check_generator(generator, cur.shape[0]), cur.device, torch.float32)
        noisy = cur.float() + self.sigma * noise
        pred = model(noisy, k).float()
        sq = (prev.float() - (noisy + pred)) ** 2
        loss = sq.flatten(1).sum(dim=1).mean()
        info = {"loss": float(loss.detach()), "mse": float(sq.detach().mean()), "k_mean": float(k.double().mean())}
        return loss, info


def loss_for(corruption: Corruption) -> Loss:
    """The training objective of a family: :class:`EpsLoss` for Gaussian families, :class:`ResidualLoss` for
    families with a ``training_noise``.

    Raises
    ------
    advdiff.errors.ConfigError
        The family has neither (the message names it and what is allowed).
    """
    if isinstance(corruption, GaussianCorruption):
        return EpsLoss(corruption)
    if isinstance(corruption, Corruption) and getattr(corruption, "training_noise", None) is not None:
        return ResidualLoss(corruption)
    name = getattr(corruption, "name", type(corruption).__name__)
    raise bad_value(
        "family",
        name,
        "a family with a training objective: a GaussianCorruption (eps-prediction: ddpm, blur) "
        "or one with a training_noise (residual prediction: heat, advdiff)",
    )


def describe_loss(loss: Loss) -> dict[str, Any]:
    """A JSON-friendly description of a loss for logs and summaries."""
    out: dict[str, Any] = {"kind": loss.kind, "family": loss.corruption.name, "K": loss.corruption.K}
    if isinstance(loss, ResidualLoss):
        out["training_noise"] = loss.sigma
    return out
