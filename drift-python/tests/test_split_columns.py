"""One problem split by columns (`Operator.apply(split="columns")`): three threads stand for three
processes, each holding all of `x` and a contiguous shard of `y` (unequal sizes, weighted), and
summing through a barrier as the collective, with an `all_reduce_max` or without. Every thread
gets the field of one process holding all of `y` (f64, 1e-12 of the field against one process
taking the same fused passes, 1e-9 against the default call) for a tolerance-stopped Sinkhorn
drift, Algorithm 2 and guidance negatives; with the maxima a Sinkhorn iteration moves `2N + 1`
numbers, without them `ranks · N + 1`; an operator that needs all of `y` in one place raises a
ValueError naming it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import drift

SIZES = (3, 6, 2)
CASES = {
    "sinkhorn_tol": ('{"sinkhorn_drift": (temperature: 0.4, sinkhorn: (max_iters: 500, tol: 1e-9))}',
                     False),
    "deng_alg2": ('{"deng_alg2": (temperature: 0.5)}', False),
    "guidance": ('{"guidance": (alpha: 2.0, operator: {"sinkhorn_drift": (temperature: 0.4)})}',
                 True),
}


def problem():
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (13, 3))
    y = rng.uniform(-1, 1, (sum(SIZES), 3)) + 0.7
    w = rng.uniform(0.2, 1.0, sum(SIZES))
    u = rng.uniform(-1, 1, (5, 3)) + 0.4
    return x, y, w, u


class Group:
    """Threads adding float64 arrays through shared slots, in rank order on every member."""

    def __init__(self, size: int):
        self.barrier = threading.Barrier(size, timeout=60)
        self.slots = [None] * size

    def collective(self, rank: int, maxima: bool = False, moved=None):
        """Member `rank`'s sum, with an `all_reduce_max` when `maxima`; `moved[rank]` counts
        the values it reduced."""

        def reduce(values, fold, start):
            self.slots[rank] = np.array(values, dtype=np.float64)
            if moved is not None:
                moved[rank] += len(self.slots[rank])
            self.barrier.wait()
            total = np.full_like(self.slots[rank], start)
            for s in self.slots:
                total = fold(total, s)
            self.barrier.wait()
            return total

        def all_reduce(values):
            return reduce(values, np.add, 0.0)

        if maxima:
            all_reduce.all_reduce_max = lambda values: reduce(values, np.maximum, -np.inf)
        return all_reduce


def split_fields(op, x, y, w, negatives, maxima=False, moved=None):
    group, ranks = Group(len(SIZES)), len(SIZES)
    bounds = np.cumsum((0,) + SIZES)
    out = [None] * ranks

    def run(rank):
        rows = slice(bounds[rank], bounds[rank + 1])
        try:
            out[rank] = op.apply(x, y[rows], y_weights=w[rows], negatives=negatives,
                                 split="columns", collective=group.collective(rank, maxima, moved),
                                 rank=rank, ranks=ranks)[0]
        except Exception as e:  # noqa: BLE001 - handed to the test
            out[rank] = e

    threads = [threading.Thread(target=run, args=(r,)) for r in range(ranks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.mark.parametrize("maxima", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_shard_holder_gets_the_field_of_the_whole_problem(name, maxima):
    ron, with_negatives = CASES[name]
    op = drift.load(ron)
    x, y, w, u = problem()
    negatives = u if with_negatives else None
    # One process holding the only shard takes the same fused passes; the default call caches.
    fused, _ = op.apply(x, y, y_weights=w, negatives=negatives, split="columns",
                        collective=lambda s: s, rank=0, ranks=1)
    default, _ = op.apply(x, y, y_weights=w, negatives=negatives)
    for rank, got in enumerate(split_fields(op, x, y, w, negatives, maxima)):
        assert not isinstance(got, Exception), f"rank {rank}: {got}"
        np.testing.assert_allclose(got, fused, rtol=0, atol=1e-12 * np.abs(fused).max(),
                                   err_msg=f"{name}, rank {rank}")
        np.testing.assert_allclose(got, default, rtol=0, atol=1e-9 * np.abs(default).max(),
                                   err_msg=f"{name}, rank {rank}")


@pytest.mark.parametrize("maxima", [False, True])
def test_a_sinkhorn_iteration_moves_two_numbers_per_row_with_maxima(maxima):
    x, y, w, _ = problem()

    def moved(iterations):
        op = drift.load(f'{{"sinkhorn_drift": (temperature: 0.4, sinkhorn: (max_iters: '
                        f'{iterations}, tol: 0.0))}}')
        counts = [0] * len(SIZES)
        fields = split_fields(op, x, y, w, None, maxima, counts)
        assert not any(isinstance(f, Exception) for f in fields), fields
        return counts

    n = len(x)
    # The row maxima, the shifted sums and the marginal error; without maxima every rank's
    # log-sum-exps are gathered.
    per_iteration = 2 * n + 1 if maxima else len(SIZES) * n + 1
    for few, more in zip(moved(10), moved(30)):
        assert more - few == 20 * per_iteration, (few, more)


def test_operators_that_need_all_of_y_refuse_a_shard():
    x, y, w, _ = problem()
    for ron, name in [('{"sliced_wasserstein": (directions: 8)}', "sliced_wasserstein"),
                      ('{"deng_official": ()}', "deng_official")]:
        with pytest.raises(ValueError, match=name):
            drift.load(ron).apply(x, y, split="columns", collective=lambda s: s, rank=0, ranks=1)
