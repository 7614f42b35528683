"""Pair sources: the data order, on-the-fly pairs, and the refreshed advdiff trajectory pool."""

import pytest
import torch

from advdiff.corruptions import build
from advdiff.errors import ConfigError
from advdiff.training import DataOrder, OnTheFlyPairs, TrajectoryPool, draw_levels
from advdiff.training.seeding import derive_seed, image_generators, make_generator
from tests.training.helpers import FAMILY_PARAMS, clone

P, R, B = 5, 2, 6


def images(n=10, size=8):
    return torch.rand((n, 1, size, size), generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def advdiff():
    return build("advdiff", **FAMILY_PARAMS["advdiff"])


def test_data_order_visits_every_image_once_per_epoch():
    order = DataOrder(7, seed=3)
    first, second = order.take(7), order.take(7)
    assert sorted(first.tolist()) == list(range(7)) and sorted(second.tolist()) == list(range(7))
    assert not torch.equal(first, second)
    again = DataOrder(7, seed=3, position=5)
    assert torch.equal(again.take(4), torch.cat([first, second])[5:9])
    assert order.state_dict() == {"n": 7, "seed": 3, "position": 14}


def test_pool_pairs_are_consecutive_levels_of_one_trajectory(advdiff):
    """u_{k-1}, u_k and x0 are levels k-1, k and 0 of the slot the image's generator picked (k first, then slot)."""
    pool = TrajectoryPool(advdiff, images(), P, R, generator=0)
    gens = image_generators(0, 1, B)
    prev, cur, k, x0 = pool.sample(B, clone(gens))
    replay = clone(gens)
    k_expected = draw_levels(advdiff.K, B, replay)
    slots = torch.cat([torch.randint(P, (1,), generator=g) for g in replay])
    assert torch.equal(k, k_expected)
    assert int(k.min()) >= 1 and int(k.max()) <= advdiff.K
    traj = pool.trajectories
    assert torch.equal(prev, traj[slots, k - 1])
    assert torch.equal(cur, traj[slots, k])
    assert torch.equal(x0, traj[slots, 0])
    assert torch.equal(x0, images()[pool.slot_images[slots]])


def test_pool_trajectories_are_full_runs_with_their_own_velocity_field(advdiff):
    """Slot j holds corruption.trajectory of its image with the generator seeded by (pool seed, trajectory id)."""
    x = images()
    pool = TrajectoryPool(advdiff, x, P, R, generator=4)
    pool.fill()
    assert pool.trajectories.shape == (P, advdiff.K + 1, 1, 8, 8)
    for j in (0, P - 1):
        t, i = int(pool.slot_ids[j]), int(pool.slot_images[j])
        alone = advdiff.trajectory(x[i : i + 1], [make_generator(derive_seed(pool.seed, 1, t))])[:, 0]
        assert torch.equal(pool.trajectories[j], alone)
    # distinct velocity fields: two slots holding the same image do not hold the same trajectory
    assert not torch.equal(pool.trajectories[0, -1], pool.trajectories[1, -1])


def test_refresh_replaces_the_oldest_trajectories(advdiff):
    pool = TrajectoryPool(advdiff, images(), P, R, generator=0)
    pool.fill()
    before = pool.trajectories.clone()
    ids_before = pool.slot_ids.clone()
    pool.refresh()
    replaced = torch.tensor([P % P, (P + 1) % P])  # trajectories P and P+1 go to slots 0 and 1
    kept = torch.tensor([j for j in range(P) if j not in replaced.tolist()])
    assert pool.slot_ids[replaced].tolist() == [P, P + 1]
    assert torch.equal(pool.slot_ids[kept], ids_before[kept])
    assert torch.equal(pool.trajectories[kept], before[kept])
    for j in replaced:
        assert not torch.equal(pool.trajectories[j], before[j])
    pool.refresh()
    pool.refresh()  # wraps around: trajectories P+4, P+5 land in slots 4, 0
    assert sorted(pool.slot_ids.tolist()) == list(range(P + 1, 2 * P + 1))


def test_pool_counters_add_up(advdiff):
    pool = TrajectoryPool(advdiff, images(), P, R, generator=0)
    steps = 7
    for step in range(steps):
        pool.refresh()
        pool.sample(B, image_generators(0, step, B))
    s = pool.stats()
    assert s["trajectories_computed"] == P + R * steps
    assert s["pairs_served"] == B * steps
    assert s["mean_reuse"] == pytest.approx(B * steps / (P + R * steps))
    assert pool.retired == R * steps
    assert pool.retired_pairs + int(pool.slot_served.sum()) == s["pairs_served"]
    assert s["mean_reuse_retired"] == pytest.approx(pool.retired_pairs / pool.retired)
    assert s["memory_bytes"] == P * (advdiff.K + 1) * 64 * 4
    assert s["epoch"] == pytest.approx((P + R * steps) / 10)


@pytest.mark.parametrize("tensors", [True, False])
def test_pool_state_round_trip_continues_identically(advdiff, tensors):
    """From a saved state (with the tensors, or rebuilt from the trajectory ids) the pool serves the same pairs."""
    x = images()
    pool = TrajectoryPool(advdiff, x, P, R, generator=0, chunk=2)
    for step in range(3):
        pool.refresh()
        pool.sample(B, image_generators(0, step, B))
    state = pool.state_dict(tensors=tensors)
    assert (state["trajectories"] is None) == (not tensors)
    restored = TrajectoryPool(advdiff, x, P, R, generator=0, chunk=3)
    restored.load_state_dict(state)
    assert torch.equal(restored.trajectories, pool.trajectories)
    assert restored.stats() == {**pool.stats(), "seconds": restored.stats()["seconds"]}
    for step in range(3, 6):
        pool.refresh()
        restored.refresh()
        a, b = pool.sample(B, image_generators(0, step, B)), restored.sample(B, image_generators(0, step, B))
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_pool_refuses_a_state_of_another_pool(advdiff):
    pool = TrajectoryPool(advdiff, images(), P, R, generator=0)
    other = TrajectoryPool(advdiff, images(), P + 1, R, generator=0)
    with pytest.raises(ConfigError, match="pool_size"):
        pool.load_state_dict(other.state_dict())
    with pytest.raises(ConfigError, match="refresh_per_step"):
        TrajectoryPool(advdiff, images(), P, P + 1)


def test_on_the_fly_pairs_follow_the_data_order():
    heat = build("heat", **FAMILY_PARAMS["heat"])
    x = images()
    source = OnTheFlyPairs(heat, x, generator=5)
    order = DataOrder(10, seed=5)
    for _ in range(3):
        prev, cur, k, x0 = source.sample(4, image_generators(0, 0, 4))
        expect = x[order.take(4)]
        assert torch.equal(x0, expect)
        assert torch.equal(cur, heat.degrade(expect, k))
        assert torch.equal(prev, heat.degrade(expect, k - 1))
    assert source.stats()["pairs_served"] == 12 and source.stats()["mean_reuse"] == 1.0


def test_batched_refresh_keeps_the_rate_and_resumes_exactly(advdiff):
    """With refresh_every=E, every E-th refresh computes R*E trajectories (the same rate in bigger LBM batches),
    and a pool restored mid-cycle continues exactly like the original."""
    pool = TrajectoryPool(advdiff, images(), pool_size=6, refresh_per_step=1, generator=3, refresh_every=3)
    pool.fill()
    counts = []
    for _ in range(6):
        pool.refresh()
        counts.append(pool.trajectories_computed)
    assert counts == [6, 6, 9, 9, 9, 12]
    copy = TrajectoryPool(advdiff, images(), pool_size=6, refresh_per_step=1, generator=3, refresh_every=3)
    pool.refresh()  # call 7: mid-cycle
    copy.load_state_dict(pool.state_dict())
    for _ in range(3):
        pool.refresh()
        copy.refresh()
    assert copy.trajectories_computed == pool.trajectories_computed == 15
    assert torch.equal(copy.trajectories, pool.trajectories)
    with pytest.raises(ConfigError, match="refresh_every"):
        TrajectoryPool(advdiff, images(), pool_size=6, refresh_per_step=2, generator=3, refresh_every=4)


def test_uint8_images_give_the_same_pairs_as_their_float_images(advdiff):
    """Training images held as uint8 (load_images on 8-bit data) feed both pair sources bit for bit like floats."""
    from advdiff.data import unit_float

    packed = torch.randint(0, 256, (10, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    x = unit_float(packed)
    heat = build("heat", **FAMILY_PARAMS["heat"])
    sources = [
        lambda imgs: OnTheFlyPairs(heat, imgs, generator=5),
        lambda imgs: TrajectoryPool(advdiff, imgs, P, R, generator=0),
    ]
    for make in sources:
        a, b = make(packed), make(x)
        for _ in range(2):
            gens = image_generators(0, 1, 4)
            for got, want in zip(a.sample(4, clone(gens)), b.sample(4, clone(gens)), strict=True):
                assert got.dtype == want.dtype and torch.equal(got, want)
    with pytest.raises(ConfigError, match="images"):
        OnTheFlyPairs(heat, packed[0], generator=5)
