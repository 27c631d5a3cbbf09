"""The overhead of the Python call over the Rust call, at N = 256 and N = 4096 (D = 2, M = N).

Rust: the same operator timed inside Rust, as a Rust program calls it (point sets built from the
caller's slices, an output buffer, `apply_drift`). Python: `op(x, y)` on NumPy float64 arrays.
Prints the medians of `--repeats` interleaved calls each, their difference and ratio.

The batched table (`--batch B N M K D`, default 64 64 128 16 32, float32, the official loss's
`deng_official` with weighted negatives): the Rust batched call (arrays copied, batch sets built,
`apply_drift_batch`) against `Operator.apply_batch` on NumPy arrays and, where PyTorch is
installed, `drift.torch.drift_loss` (forward only, the loss and its info from CPU tensors).

    python drift-python/bench_overhead.py [--repeats 50] [--batch 64 64 128 16 32]
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
    parser.add_argument("--batch", type=int, nargs=5, default=[64, 64, 128, 16, 32],
                        metavar=("B", "N", "M", "K", "D"))
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
    batched(args.batch, args.repeats)


def batched(shape, repeats: int) -> None:
    """The batched call: Rust, `apply_batch` and `drift_loss`, interleaved, medians."""
    b, n, m, k, d = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, n, d)).astype(np.float32)
    y = (rng.standard_normal((b, m, d)) + 1.0).astype(np.float32)
    neg = rng.standard_normal((b, k, d)).astype(np.float32)
    wn = rng.uniform(0.5, 3.0, (b, k)).astype(np.float32)
    op = drift.load('{"deng_official": ()}')
    try:
        import torch

        import drift.torch as dt
    except ImportError:
        torch = None
    calls = {
        "rust": lambda: _drift.bench_rust_batch(op._native, x, y, neg, wn, 1)[0],
        "apply_batch": lambda: _timed(lambda: op.apply_batch(x, y, negatives=neg,
                                                             negative_weights=wn)),
    }
    if torch is not None:
        # The loss's own tensor operations are small: one thread, so that PyTorch's OpenMP pool
        # does not spin on the cores the next (Rust) call needs.
        torch.set_num_threads(1)
        tensors = [torch.from_numpy(a) for a in (x, y, neg, wn)]
        tensors[0].requires_grad_(True)
        gen, pos, negt, wnt = tensors
        calls["drift_loss"] = lambda: _timed(lambda: dt.drift_loss(gen, pos, negt,
                                                                   weight_neg=wnt))
    for call in calls.values():
        call()  # warm-up
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(call())
    rust = statistics.median(times["rust"])
    print(f"\nbatched deng_official, B={b} N={n} M={m} K={k} D={d}, float32")
    print(f"{'call':<16}{'median':>14}{'overhead':>12}{'ratio':>8}")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"{name:<16}{med * 1e6:>12.1f}us{(med - rust) * 1e6:>10.1f}us{med / rust:>8.3f}")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
