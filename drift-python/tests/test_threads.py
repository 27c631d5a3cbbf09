"""Several Python threads calling operators at once (the GIL is released while Rust computes) get
the same fields as one thread calling them in turn."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import drift
from conftest import blobs


def test_concurrent_calls_give_the_serial_results():
    ops = [
        drift.load('{"sinkhorn_drift": (temperature: 0.1, sinkhorn: (max_iters: 30))}'),
        drift.OneSided(temperature=0.05),
        drift.Mmd(temperature=0.5),
    ]
    jobs = []
    for k in range(24):
        dtype = np.float32 if k % 2 else np.float64
        x, y = blobs(100 + k, 90, 3, seed=k, dtype=dtype)
        jobs.append((ops[k % 3], x, y))
    serial = [op.apply(x, y) for op, x, y in jobs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda j: j[0].apply(j[1], j[2]), jobs))
    for (v, r), (pv, pr) in zip(serial, parallel):
        assert np.array_equal(v, pv)
        assert r.drift_norm == pr.drift_norm and r.total_iterations == pr.total_iterations
