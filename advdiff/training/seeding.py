"""Derived seeds: every random draw of a training run is a pure function of (seed, stream, ...).

Each consumer of randomness (:data:`STREAMS`: ``init``, ``data``, ``image``, ``pool``, ``sample``)
gets its own stream, and inside it its own key, through the ``spawn_key`` of
:class:`numpy.random.SeedSequence`, so the numbers one part draws never depend on how much another
drew and a resumed run draws exactly what an uninterrupted one would. See docs/training.md, section
"Seeding", for what each stream seeds.
"""

from __future__ import annotations

import numpy as np
import torch

from advdiff.corruptions.validate import check_int
from advdiff.errors import bad_value

STREAMS: dict[str, int] = {"init": 0, "data": 1, "image": 2, "pool": 3, "sample": 4}
"""Stream name -> the first element of the spawn key."""


def derive_seed(seed: int, *key: int) -> int:
    """A 63-bit seed from ``seed`` and a path of non-negative integers ``key`` (``SeedSequence`` spawn key).

    ``seed`` is the run's seed (an integer >= 0) and ``key`` names the consumer (stream, step, position,
    ...). Returns an integer in ``[0, 2**63)``, usable with ``torch.Generator.manual_seed``.
    """
    seed = check_int("seed", seed, low=0)
    parts = tuple(check_int("key", part, low=0) for part in key)
    return int(np.random.SeedSequence(seed, spawn_key=parts).generate_state(1, np.uint64)[0] >> np.uint64(1))


def stream_seed(seed: int, stream: str, *key: int) -> int:
    """:func:`derive_seed` for a named stream (one of :data:`STREAMS`)."""
    if stream not in STREAMS:
        raise bad_value("stream", stream, f"one of {', '.join(STREAMS)}")
    return derive_seed(seed, STREAMS[stream], *key)


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(int(seed))


def image_generators(seed: int, step: int, batch: int, stream: str = "image", start: int = 0) -> list[torch.Generator]:
    """One CPU generator per image of training step ``step`` (an integer >= 0; 1-based in the trainer).

    Generator ``b`` comes from (seed, ``stream``, step, ``start + b``), so a chunk from ``start`` gets the
    generators of those images in one long batch; the sample grids use ``stream="sample"``. Returns
    ``batch`` independent CPU generators: the families draw on them and move the numbers to the images'
    device, so the numbers do not depend on the device.
    """
    batch = check_int("batch", batch, low=1)
    start = check_int("start", start, low=0)
    return [make_generator(stream_seed(seed, stream, step, b)) for b in range(start, start + batch)]


def seed_from(generator: torch.Generator | int | None) -> int:
    """A base seed: ``generator`` itself if it is an int, else one 62-bit draw from it (or torch's global RNG)."""
    if generator is None or isinstance(generator, torch.Generator):
        kwargs = {} if generator is None else {"generator": generator, "device": generator.device}
        return int(torch.randint(2**62, (1,), **kwargs))
    return check_int("generator", generator, low=0)
