#!/usr/bin/env python3
"""Side-by-side: the Sinkhorn drift in drift (`drift-bench apply`) and in a dense NumPy
implementation written the way the papers' reference code computes it (full N x M log-kernel
matrices, log-sum-exp over axes). Both run on the same inputs in one go; the script checks that they
agree and reports the median times and their ratio.

    python3 drift-bench/scripts/compare_numpy.py [--sizes 1024 2048 4096] [--dims 2 64] [--iters 20]

Needs numpy, and `cargo build --release -p drift-bench` (the script calls target/release/drift-bench).
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

import numpy as np


def logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def sinkhorn_drift_numpy(x, y, tau, iters):
    """Dense reference: Gaussian kernel, K Sinkhorn iterations on X x Y and symmetric ones on X x X,
    row-normalised barycentres, V = bar+ - bar-. Same iteration scheme as drift's `sinkhorn`."""
    n, m = len(x), len(y)
    la = np.full(n, -np.log(n), dtype=x.dtype)
    lb = np.full(m, -np.log(m), dtype=x.dtype)
    sq = lambda a, b: np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None, :] - 2 * a @ b.T
    lxy = -np.maximum(sq(x, y), 0) / tau
    lxx = -np.maximum(sq(x, x), 0) / tau
    g = lb.copy()
    f = la - logsumexp(lxy + g[None, :], 1)
    for _ in range(iters):
        g = lb - logsumexp(lxy + f[:, None], 0)
        f = la - logsumexp(lxy + g[None, :], 1)
    h = la.copy()
    for _ in range(iters):
        h = 0.5 * (h + la - logsumexp(lxx + h[None, :], 1))

    def bar(l, pot, pts):
        s = l + pot[None, :]
        p = np.exp(s - np.max(s, 1, keepdims=True))
        return (p @ pts) / np.sum(p, 1, keepdims=True)

    return bar(lxy, g, y) - bar(lxx, h, x)


def run_drift(binary, op, xp, yp, outp):
    out = subprocess.run(
        [binary, "apply", "--op", op, "--x", xp, "--y", yp, "--out", outp],
        check=True, capture_output=True, text=True,
    ).stdout
    ms = float(re.search(r"elapsed ([0-9.]+) ms", out).group(1))
    return ms / 1e3, np.load(outp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 64])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--tau", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    binary = os.path.join(root, "target", "release", "drift-bench")
    if not os.path.exists(binary):
        raise SystemExit("build first: cargo build --release -p drift-bench")
    rng = np.random.default_rng(0)
    print(f"Sinkhorn drift, Gaussian kernel, tau = {args.tau}, {args.iters} iterations per problem, "
          f"{args.dtype}; medians of {args.repeats} runs; drift time excludes process start and file I/O")
    print(f"{'N = M':>6} {'D':>4} {'numpy s':>9} {'drift s':>9} {'speed-up':>9} {'max |dV|/max|V|':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        op = os.path.join(tmp, "op.ron")
        with open(op, "w") as f:
            f.write('{"sinkhorn_drift": (temperature: %r, kernel: {"gaussian": ()}, '
                    'sinkhorn: (max_iters: %d, tol: 0.0))}' % (args.tau, args.iters))
        for n in args.sizes:
            for d in args.dims:
                x = rng.normal(size=(n, d)).astype(args.dtype)
                y = (rng.normal(size=(n, d)) * 0.8 + 0.5).astype(args.dtype)
                xp, yp, vp = (os.path.join(tmp, f) for f in ("x.npy", "y.npy", "v.npy"))
                np.save(xp, x)
                np.save(yp, y)
                t_np, t_rs = [], []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    v_np = sinkhorn_drift_numpy(x, y, args.tau, args.iters)
                    t_np.append(time.perf_counter() - t0)
                    t, v_rs = run_drift(binary, op, xp, yp, vp)
                    t_rs.append(t)
                a, b = np.median(t_np), np.median(t_rs)
                err = np.max(np.abs(v_rs.astype(np.float64) - v_np)) / np.max(np.abs(v_np))
                print(f"{n:>6} {d:>4} {a:>9.3f} {b:>9.3f} {a / b:>8.1f}x {err:>16.1e}")


if __name__ == "__main__":
    main()
