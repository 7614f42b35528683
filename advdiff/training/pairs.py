"""Where the training pairs ``(u_{k-1}, u_k)`` of the residual families come from.

Two sources with one interface (:class:`PairSource`), so the trainer treats every residual family
alike: :class:`OnTheFlyPairs` runs ``corruption.degrade_pair`` for every pair (right for ``heat``, a
DCT of microseconds, and small ``advdiff`` runs); :class:`TrajectoryPool` keeps whole ``advdiff``
trajectories in memory and reuses them, since one LBM run gives all K + 1 levels for the cost of one
simulation. Both are pure functions of their seed and counters, so a restored run continues
bit-identically. See docs/training.md, section "The trajectory pool", for the trade-off between pool
size, refresh rate, freshness and memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch

from advdiff.corruptions.base import Corruption, GeneratorLike
from advdiff.corruptions.validate import check_generator, check_images, check_int
from advdiff.data.base import unit_float
from advdiff.data.folder import StreamedImages
from advdiff.errors import bad_value
from advdiff.training.losses import draw_levels
from advdiff.training.seeding import derive_seed, make_generator, seed_from

log = logging.getLogger(__name__)


class Pairs(NamedTuple):
    """A batch of training pairs: ``prev`` = u_{k-1}, ``cur`` = u_k, levels ``k`` (B,), and the clean ``x0``."""

    prev: torch.Tensor
    cur: torch.Tensor
    k: torch.Tensor
    x0: torch.Tensor


# --------------------------------------------------------------------------- data order


class DataOrder:
    """Epoch-wise shuffled order over ``n`` images: position ``p`` is image ``perm_e[p mod n]``, ``e = p // n``.

    ``perm_e`` is ``torch.randperm(n)`` from a generator seeded by ``(seed, e)`` (``seed`` an integer
    >= 0), so the image at any position is a pure function of (seed, position) and the only state is
    ``position`` (0: the first image of epoch 0).
    """

    def __init__(self, n: int, seed: int, position: int = 0) -> None:
        self.n = check_int("n", n, low=1)
        self.seed = check_int("seed", seed, low=0)
        self.position = check_int("position", position, low=0)
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.int64)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The image order of ``epoch``, an int64 permutation of ``0..n-1``."""
        if epoch != self._epoch:
            gen = make_generator(derive_seed(self.seed, check_int("epoch", epoch, low=0)))
            self._perm = torch.randperm(self.n, generator=gen)
            self._epoch = epoch
        return self._perm

    def at(self, positions: Iterable[int]) -> torch.Tensor:
        """Image indices at the given positions, int64."""
        return torch.tensor([int(self.permutation(p // self.n)[p % self.n]) for p in positions], dtype=torch.int64)

    def take(self, count: int) -> torch.Tensor:
        """The next ``count`` image indices (int64), advancing the position."""
        count = check_int("count", count, low=0)
        out = self.at(range(self.position, self.position + count))
        self.position += count
        return out

    @property
    def epoch(self) -> float:
        """Epochs done so far, fractional."""
        return self.position / self.n

    def state_dict(self) -> dict[str, int]:
        """``n``, ``seed`` and ``position``: all there is to the order."""
        return {"n": self.n, "seed": self.seed, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore the position; ``n`` and ``seed`` must match this order's."""
        for key in ("n", "seed"):
            if int(state[key]) != getattr(self, key):
                raise bad_value(f"data_order.{key}", state[key], f"{getattr(self, key)} (this run's value)")
        self.position = check_int("position", state["position"], low=0)


# --------------------------------------------------------------------------- the interface


@runtime_checkable
class PairSource(Protocol):
    """What the trainer needs from a source of training pairs."""

    corruption: Corruption

    def refresh(self) -> None:
        """Once per training step, before :meth:`sample` (a pool recomputes some trajectories)."""

    def sample(self, batch: int, generator: GeneratorLike = None) -> Pairs:
        """``batch`` pairs with fresh levels ``k ~ U{1..K}`` (from ``generator``, one draw per image first)."""

    def stats(self) -> dict[str, Any]:
        """Counters: ``trajectories_computed``, ``pairs_served``, ``mean_reuse``, ..."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""


def _check_source_images(images: Any) -> torch.Tensor:
    """Training images: a float tensor (N, C, H, W) in [0, 1], or uint8 (N, C, H, W) read through ``unit_float``
    (in memory, or :class:`~advdiff.data.folder.StreamedImages` read from disk per batch)."""
    if isinstance(images, StreamedImages):
        return images
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
        if images.dim() != 4 or images.numel() == 0:
            raise bad_value("images", f"uint8 tensor of shape {tuple(images.shape)}", "a non-empty (N, C, H, W) tensor")
        return images
    return check_images(images, key="images")


# --------------------------------------------------------------------------- on the fly


class OnTheFlyPairs:
    """Pairs computed when asked: ``corruption.degrade_pair`` on the next images of a :class:`DataOrder`.

    ``images`` (N, C, H, W) are float in [0, 1] or uint8 (k/255) and stay where they are; batches move
    to ``device`` (default: the images'). ``generator`` seeds the data order: an int, or a
    ``torch.Generator`` to draw one from (None: torch's global RNG). ``sample(batch, generator)`` draws
    the levels, then ``degrade_pair`` draws from the same generator(s) in the order of
    :class:`~advdiff.training.losses.ResidualLoss`, so ``loss.on_pairs(model, *source.sample(B, g)[:3], g)``
    equals ``loss(model, x0, g)`` for the same images.
    """

    def __init__(
        self,
        corruption: Corruption,
        images: torch.Tensor,
        generator: torch.Generator | int | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> None:
        self.corruption = corruption
        self.images = _check_source_images(images)
        self.device = torch.device(device) if device is not None else self.images.device
        self.order = DataOrder(self.images.shape[0], seed_from(generator))
        self.pairs_served = 0
        self.seconds = 0.0

    def refresh(self) -> None:
        """Nothing to do: every pair is fresh."""

    def sample(self, batch: int, generator: GeneratorLike = None) -> Pairs:
        """The next ``batch`` images of the data order, each at a fresh level ``k ~ U{1..K}`` with its own run."""
        batch = check_int("batch", batch, low=1)
        gens = check_generator(generator, batch)
        t0 = time.perf_counter()
        x0 = unit_float(self.images[self.order.take(batch)].to(self.device))
        k = draw_levels(self.corruption.K, batch, gens, self.device)
        prev, cur = self.corruption.degrade_pair(x0, k, gens)
        self.pairs_served += batch
        self.seconds += time.perf_counter() - t0
        return Pairs(prev, cur, k, x0)

    def stats(self) -> dict[str, Any]:
        """``trajectories_computed`` (one forward run per pair), ``pairs_served``, ``mean_reuse`` (1), ``seconds``."""
        return {
            "source": "on_the_fly",
            "trajectories_computed": self.pairs_served,
            "pairs_served": self.pairs_served,
            "mean_reuse": 1.0 if self.pairs_served else 0.0,
            "epoch": self.order.epoch,
            "seconds": self.seconds,
        }

    def state_dict(self) -> dict[str, Any]:
        """The data order and the counter."""
        return {"kind": "on_the_fly", "order": self.order.state_dict(), "pairs_served": self.pairs_served}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the data order and the counter."""
        if state.get("kind") != "on_the_fly":
            raise bad_value("pairs.kind", state.get("kind"), "'on_the_fly' (the checkpoint holds another source)")
        self.order.load_state_dict(state["order"])
        self.pairs_served = int(state["pairs_served"])


# --------------------------------------------------------------------------- the pool


class TrajectoryPool:
    """A refreshed pool of full forward trajectories; pairs are two consecutive levels of one trajectory.

    Holds ``pool_size`` (P) trajectories, fills itself on first use and recomputes ``refresh_per_step``
    (R, 0 <= R <= P; 0 freezes it) per :meth:`refresh` on average, ``R * refresh_every`` at once on every
    ``refresh_every``-th call (the same rate in larger, cheaper batches). ``images`` (N, C, H, W) are float
    in [0, 1] or uint8 (k/255); ``generator`` seeds image choice and velocity fields (an int, a
    ``torch.Generator`` to draw one from, or None: torch's global RNG); ``device`` is where trajectories
    live and are computed (default: the images'); ``chunk`` caps one batch when filling. State:
    ``trajectories`` (P, K+1, C, H, W) float32 and the (P,) int64 ``slot_ids`` (-1 while empty),
    ``slot_images`` and ``slot_served``. See docs/training.md, section "The trajectory pool".
    """

    def __init__(
        self,
        corruption: Corruption,
        images: torch.Tensor,
        pool_size: int,
        refresh_per_step: int,
        generator: torch.Generator | int | None = None,
        *,
        device: torch.device | str | None = None,
        chunk: int = 64,
        refresh_every: int = 1,
    ) -> None:
        self.corruption = corruption
        self.images = _check_source_images(images)
        self.pool_size = check_int("pool_size", pool_size, low=1)
        self.refresh_per_step = check_int("refresh_per_step", refresh_per_step, low=0, high=self.pool_size)
        self.refresh_every = check_int("refresh_every", refresh_every, low=1)
        if self.refresh_per_step * self.refresh_every > self.pool_size:
            most = self.pool_size // max(1, self.refresh_per_step)
            raise bad_value("refresh_every", refresh_every, f"at most pool_size / refresh_per_step = {most}")
        self.refresh_calls = 0
        self.chunk = check_int("chunk", chunk, low=1)
        self.device = torch.device(device) if device is not None else self.images.device
        self.seed = seed_from(generator)
        self.order = DataOrder(self.images.shape[0], derive_seed(self.seed, 0))
        self.shape = (self.pool_size, corruption.K + 1, *self.images.shape[1:])
        self.trajectories: torch.Tensor | None = None
        self.slot_ids = torch.full((self.pool_size,), -1, dtype=torch.int64)
        self.slot_images = torch.full((self.pool_size,), -1, dtype=torch.int64)
        self.slot_served = torch.zeros(self.pool_size, dtype=torch.int64)
        self.trajectories_computed = 0
        self.pairs_served = 0
        self.retired = 0
        self.retired_pairs = 0
        self.seconds = 0.0

    # -- properties --------------------------------------------------------------------

    @property
    def memory_bytes(self) -> int:
        """Bytes of the trajectory tensor: P (K+1) C H W x 4."""
        n = 1
        for s in self.shape:
            n *= s
        return 4 * n

    @property
    def filled(self) -> bool:
        """Whether every slot holds a trajectory."""
        return self.trajectories is not None and bool((self.slot_ids >= 0).all())

    # -- computing trajectories ----------------------------------------------------------

    def _compute(self, ids: list[int]) -> None:
        """Simulate trajectories ``ids`` (one batch) and store them in slots ``id mod P``."""
        if not ids:
            return
        if self.trajectories is None:
            self.trajectories = torch.empty(self.shape, dtype=torch.float32, device=self.device)
        t0 = time.perf_counter()
        index = self.order.at(ids)
        x0 = unit_float(self.images[index].to(self.device)).to(torch.float32)
        gens = [make_generator(derive_seed(self.seed, 1, t)) for t in ids]
        traj = self.corruption.trajectory(x0, gens)  # (K+1, b, C, H, W)
        slots = torch.tensor([t % self.pool_size for t in ids], dtype=torch.int64)
        old = self.slot_ids[slots] >= 0
        self.retired += int(old.sum())
        self.retired_pairs += int(self.slot_served[slots][old].sum())
        self.trajectories[slots.to(self.device)] = traj.transpose(0, 1).to(self.device, torch.float32)
        self.slot_ids[slots] = torch.tensor(ids, dtype=torch.int64)
        self.slot_images[slots] = index
        self.slot_served[slots] = 0
        self.seconds += time.perf_counter() - t0

    def fill(self) -> None:
        """Compute the first ``P`` trajectories (ids ``0..P-1``), in batches of ``chunk``; no-op once filled."""
        if self.filled:
            return
        log.info(
            "trajectory pool: computing %d trajectories of %d levels (%.1f MB)",
            self.pool_size,
            self.shape[1],
            self.memory_bytes / 1e6,
        )
        start = self.trajectories_computed
        while self.trajectories_computed < self.pool_size:
            count = min(self.chunk, self.pool_size - self.trajectories_computed)
            ids = list(range(self.trajectories_computed, self.trajectories_computed + count))
            self._compute(ids)
            self.trajectories_computed += count
        self.order.position = self.trajectories_computed
        log.debug("trajectory pool: %d trajectories filled", self.trajectories_computed - start)

    def refresh(self) -> None:
        """Replace the ``R`` oldest trajectories with new ones (new images, fresh velocity fields), on average:
        every ``E``-th call replaces ``R * E`` of them.

        Fills the pool first if it is empty (the first call then computes ``P + R`` trajectories).
        """
        self.fill()
        if self.refresh_per_step == 0:
            return
        self.refresh_calls += 1
        if self.refresh_calls % self.refresh_every:
            return
        count = self.refresh_per_step * self.refresh_every
        ids = list(range(self.trajectories_computed, self.trajectories_computed + count))
        self._compute(ids)
        self.trajectories_computed += count
        self.order.position = self.trajectories_computed

    # -- serving pairs ---------------------------------------------------------------------

    def sample(self, batch: int, generator: GeneratorLike = None) -> Pairs:
        """``batch`` pairs: per image a level ``k ~ U{1..K}`` then a slot ``~ U{0..P-1}``, both from its generator.

        Returns
        -------
        Pairs
            ``(u_{k-1}, u_k, k, x0)`` with ``u_{k-1} = traj[slot, k-1]``, ``u_k = traj[slot, k]`` and
            ``x0 = traj[slot, 0]``, on the pool's device.
        """
        batch = check_int("batch", batch, low=1)
        gens = check_generator(generator, batch)
        self.fill()
        k = draw_levels(self.corruption.K, batch, gens, "cpu")
        if isinstance(gens, list):
            slots = torch.cat([torch.randint(self.pool_size, (1,), generator=g, device=g.device).cpu() for g in gens])
        else:
            kwargs = {} if gens is None else {"generator": gens, "device": gens.device}
            slots = torch.randint(self.pool_size, (batch,), **kwargs).cpu()
        self.slot_served.index_add_(0, slots, torch.ones(batch, dtype=torch.int64))
        self.pairs_served += batch
        slots_d, k_d = slots.to(self.device), k.to(self.device)
        traj = self.trajectories
        return Pairs(traj[slots_d, k_d - 1], traj[slots_d, k_d], k_d, traj[slots_d, 0])

    # -- bookkeeping -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters of the pool.

        Returns
        -------
        dict
            ``trajectories_computed``, ``pairs_served``, ``mean_reuse`` (pairs served per trajectory
            computed), ``mean_reuse_retired`` (pairs served per trajectory already replaced; the
            steady-state reuse, about B / R), ``pool_size``, ``refresh_per_step``, ``memory_bytes``,
            ``epoch`` (image passes so far) and ``seconds`` (simulation time).
        """
        return {
            "source": "pool",
            "pool_size": self.pool_size,
            "refresh_per_step": self.refresh_per_step,
            "trajectories_computed": self.trajectories_computed,
            "pairs_served": self.pairs_served,
            "mean_reuse": self.pairs_served / self.trajectories_computed if self.trajectories_computed else 0.0,
            "mean_reuse_retired": self.retired_pairs / self.retired if self.retired else None,
            "memory_bytes": self.memory_bytes,
            "epoch": self.order.epoch,
            "seconds": self.seconds,
        }

    def state_dict(self, tensors: bool = True) -> dict[str, Any]:
        """The pool's state; with ``tensors=False`` the trajectories are left out and recomputed on load."""
        return {
            "kind": "pool",
            "seed": self.seed,
            "pool_size": self.pool_size,
            "refresh_per_step": self.refresh_per_step,
            "refresh_every": self.refresh_every,
            "refresh_calls": self.refresh_calls,
            "shape": list(self.shape),
            "trajectories_computed": self.trajectories_computed,
            "pairs_served": self.pairs_served,
            "retired": self.retired,
            "retired_pairs": self.retired_pairs,
            "slot_ids": self.slot_ids.clone(),
            "slot_images": self.slot_images.clone(),
            "slot_served": self.slot_served.clone(),
            "order": self.order.state_dict(),
            "trajectories": None if not tensors or self.trajectories is None else self.trajectories.cpu().clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a pool saved by :meth:`state_dict` (recomputing the live trajectories if they were left out)."""
        if state.get("kind") != "pool":
            raise bad_value("pairs.kind", state.get("kind"), "'pool' (the checkpoint holds another source)")
        for key, mine in (
            ("seed", self.seed),
            ("pool_size", self.pool_size),
            ("refresh_per_step", self.refresh_per_step),
            ("shape", list(self.shape)),
            ("refresh_every", self.refresh_every),
        ):
            if state.get(key, 1 if key == "refresh_every" else None) != mine:
                raise bad_value(f"pool.{key}", state[key], f"{mine} (this pool's value)")
        self.order.load_state_dict(state["order"])
        for key in ("trajectories_computed", "pairs_served", "retired", "retired_pairs"):
            setattr(self, key, int(state[key]))
        self.refresh_calls = int(state.get("refresh_calls", 0))
        self.slot_ids = state["slot_ids"].to(torch.int64).clone()
        self.slot_images = state["slot_images"].to(torch.int64).clone()
        self.slot_served = state["slot_served"].to(torch.int64).clone()
        saved = state.get("trajectories")
        if saved is not None:
            self.trajectories = saved.to(self.device, torch.float32).clone()
        elif bool((self.slot_ids >= 0).any()):
            self._rebuild()
        else:
            self.trajectories = None

    def _rebuild(self) -> None:
        """Recompute the live trajectories from their ids (exact when the family is batch-invariant)."""
        ids = [int(t) for t in self.slot_ids.tolist() if t >= 0]
        log.info("trajectory pool: recomputing %d live trajectories from their ids", len(ids))
        counters = (self.retired, self.retired_pairs, self.slot_served.clone())
        position = self.order.position
        for start in range(0, len(ids), self.chunk):
            self._compute(ids[start : start + self.chunk])
        self.retired, self.retired_pairs, self.slot_served = counters
        self.order.position = position
