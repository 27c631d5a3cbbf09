"""The overhead of the Python call over the Rust call, at N = 256 and N = 4096 (D = 2, M = N).

Rust: the same operator timed inside Rust, as a Rust program calls it (point sets built from the
caller's slices, an output buffer, `apply_drift`). Python: `op(x, y)` on NumPy float64 arrays.
Prints the medians of `--repeats` interleaved calls each, their difference and ratio.

    python drift-python/bench_overhead.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import drift
from drift import _drift

OPERATORS = {
    "one_sided": '{"one_sided": (temperature: 0.05)}',
    "sinkhorn_drift": '{"sinkhorn_drift": (temperature: 0.05, sinkhorn: (max_iters: 5, tol: 0.0))}',
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 4096])
    args = parser.parse_args()
    print(f"{'operator':<16}{'N':>6}{'rust median':>14}{'python median':>16}{'overhead':>12}{'ratio':>8}")
    for name, ron in OPERATORS.items():
        op = drift.load(ron)
        for n in args.sizes:
            rng = np.random.default_rng(0)
            x, y = rng.standard_normal((n, 2)), rng.standard_normal((n, 2)) + 1.0
            op(x, y)  # warm-up: thread pool, pages
            # Interleaved, so that a change in the machine's load hits both sides alike.
            rust, py = [], []
            for _ in range(args.repeats):
                rust += _drift.bench_rust_call(op._native, x, y, 1)
                t = time.perf_counter()
                op(x, y)
                py.append(time.perf_counter() - t)
            rust, py = statistics.median(rust), statistics.median(py)
            print(f"{name:<16}{n:>6}{rust * 1e6:>12.1f}us{py * 1e6:>14.1f}us"
                  f"{(py - rust) * 1e6:>10.1f}us{py / rust:>8.3f}")


if __name__ == "__main__":
    main()
