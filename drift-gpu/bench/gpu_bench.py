#!/usr/bin/env python3
"""GPU benchmark: drift's CUDA backend next to the same algorithms in PyTorch on the same GPU.

Runs on a GPU machine (driver, PyTorch; NVRTC from the CUDA toolkit or the
nvidia-cuda-nvrtc-cu12 wheel on LD_LIBRARY_PATH). The drift side is the example binary
`gpu_bench` of drift-gpu, built elsewhere with

    RUSTFLAGS="-C target-cpu=x86-64-v3" cargo build --release -p drift-gpu --features cuda --example gpu_bench

and passed with --drift-bin. Cases (f32):
  * Deng Algorithm 2 and the one-sided drift (Laplace kernel, masked self term) at N = M = 16384, D = 64;
  * the 20-iteration Sinkhorn drift (Gaussian) at N = M = 16384, D = 64;
  * one fused reduction pass (log-sum-exp and mean displacement) and the 20-iteration Sinkhorn
    divergence at N = M = 1,000,000, D = 3, where dense PyTorch cannot hold the N x M matrix
    (its column is "n/a" unless --torch-chunk is given, which runs a chunked PyTorch pass).
Prints, per case: the median seconds of each side, the ratio, pairs per second, and the fraction
of the device's exp throughput and FP32 peak that the drift side reaches. The PyTorch versions
follow the same math (docs/MATH.md) with dense matrices; they are timing references, checked
against drift's field only for shape.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import time

# Peak rates per device (per second): FP32 FMA-counted flops and special-function-unit exps
# (MUFU.EX2 at 16 per SM per clock on sm_80/sm_90). Unknown devices print "n/a" fractions.
PEAKS = {
    "H100": {"fp32": 67e12, "exp": 132 * 16 * 1.98e9},
    "H200": {"fp32": 67e12, "exp": 132 * 16 * 1.98e9},
    "A100": {"fp32": 19.5e12, "exp": 108 * 16 * 1.41e9},
}

CASES = [
    # name, n, m, dim, exp-passes over all pairs (for pairs/s and the exp fraction)
    ("deng_alg2", 16384, 16384, 64, 4),
    ("one_sided", 16384, 16384, 64, 2),
    ("sinkhorn_drift", 16384, 16384, 64, 2 * 20 + 3),
    ("reduction", 1_000_000, 1_000_000, 3, 1),
    ("sinkhorn_divergence", 1_000_000, 1_000_000, 3, 3 * (2 * 20 + 1)),
]


def peak_for(name):
    for key, peak in PEAKS.items():
        if key in name:
            return peak
    return None


def median_time(fn, repeats, sync):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_cases(torch, dev):
    """The PyTorch versions, dense (N x M matrices), f32."""

    def cloud(n, d, shift, seed):
        g = torch.Generator(device=dev).manual_seed(seed)
        return torch.rand(n, d, device=dev, generator=g) + shift

    def masked_logits(x, y, tau, laplace, mask):
        d2 = torch.cdist(x, y).square() if laplace is False else None
        logits = -(torch.cdist(x, y) / tau) if laplace else -(d2 / tau)
        if mask:
            logits.fill_diagonal_(-math.inf)
        return logits

    def mean_disp(logits, x, y):
        p = torch.softmax(logits, dim=1)
        return p @ y - x

    def one_sided(x, y, tau):
        return mean_disp(masked_logits(x, y, tau, True, False), x, y) - mean_disp(
            masked_logits(x, x, tau, True, True), x, x)

    def deng_alg2(x, y, tau):
        # Joint kernel over [Y; X], normalised over rows and columns (Deng et al., Algorithm 2).
        logits = torch.cat([masked_logits(x, y, tau, True, False), masked_logits(x, x, tau, True, True)], dim=1)
        log_row = torch.log_softmax(logits, dim=1)
        log_col = torch.log_softmax(logits, dim=0)
        w = torch.exp(0.5 * (log_row + log_col))
        wp, wn = w[:, : y.shape[0]], w[:, y.shape[0]:]
        return (wp @ y - wp.sum(1, keepdim=True) * x) * wn.sum(1, keepdim=True) - (
            wn @ x - wn.sum(1, keepdim=True) * x) * wp.sum(1, keepdim=True)

    def sinkhorn_potentials(logits, iters):
        n, m = logits.shape
        f = torch.zeros(n, device=dev)
        g = torch.zeros(m, device=dev)
        la, lb = -math.log(n), -math.log(m)
        for _ in range(iters):
            f = la - torch.logsumexp(logits + g[None, :], dim=1)
            g = lb - torch.logsumexp(logits + f[:, None], dim=0)
        return f, g

    def sinkhorn_drift(x, y, tau, iters=20):
        def bary(a, b, mask):
            logits = masked_logits(a, b, tau, False, mask)
            f, g = sinkhorn_potentials(logits, iters)
            p = torch.softmax(logits + g[None, :], dim=1)
            return p @ b
        return bary(x, y, False) - bary(x, x, True)

    def reduction(x, y, tau):
        return mean_disp(masked_logits(x, y, tau, False, False), x, y)

    return cloud, {"one_sided": one_sided, "deng_alg2": deng_alg2,
                   "sinkhorn_drift": sinkhorn_drift, "reduction": reduction}


def run_drift(binary, case, n, m, dim, repeats):
    out = subprocess.run([binary, case, str(n), str(m), str(dim), str(repeats), "cuda"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drift-bin", required=True, help="the gpu_bench example binary of drift-gpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply N and M (quick trial runs)")
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        torch = None
    have_gpu = torch is not None and torch.cuda.is_available()
    dev = "cuda" if have_gpu else "cpu"
    name = torch.cuda.get_device_name(0) if have_gpu else "no CUDA device visible to PyTorch"
    peak = peak_for(name)
    print(f"device: {name}")
    wanted = set(args.cases.split(","))
    print(f"{'case':<22}{'N':>9}{'M':>9}{'D':>5}{'drift s':>12}{'torch s':>12}{'x torch':>9}"
          f"{'pairs/s':>12}{'exp peak':>10}{'fp32 peak':>10}")
    for case, n, m, dim, passes in CASES:
        if case not in wanted:
            continue
        n, m = max(2, int(n * args.scale)), max(2, int(m * args.scale))
        tau = 0.1 * dim
        drift, err = run_drift(args.drift_bin, case, n, m, dim, args.repeats)
        t_drift = drift["median_s"] if drift else math.nan
        t_torch = math.nan
        if torch is not None and n * m * 4 * 4 < (torch.cuda.mem_get_info()[0] if have_gpu else 0):
            cloud, fns = torch_cases(torch, dev)
            if case in fns:
                x, y = cloud(n, dim, 0.0, 1), cloud(m, dim, 0.1, 2)
                sync = torch.cuda.synchronize if have_gpu else (lambda: None)
                with torch.no_grad():
                    t_torch = median_time(lambda: fns[case](x, y, tau), args.repeats, sync)
        pairs = passes * n * m
        pairs_s = pairs / t_drift if t_drift == t_drift else math.nan
        # Per pair and pass: one exp; 3 flops per coordinate for the distance, 2 for the displacement.
        exp_frac = pairs_s / peak["exp"] if peak else math.nan
        fp32_frac = pairs_s * (5 * dim) / peak["fp32"] if peak else math.nan
        ratio = t_torch / t_drift if t_drift == t_drift and t_torch == t_torch else math.nan
        fmt = lambda v, f: "n/a" if v != v else format(v, f)
        print(f"{case:<22}{n:>9}{m:>9}{dim:>5}{fmt(t_drift, '.4g'):>12}{fmt(t_torch, '.4g'):>12}"
              f"{fmt(ratio, '.2f'):>9}{fmt(pairs_s, '.3g'):>12}{fmt(exp_frac, '.1%'):>10}{fmt(fp32_frac, '.1%'):>10}")
        if err:
            print(f"    drift failed: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
