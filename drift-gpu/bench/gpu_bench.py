#!/usr/bin/env python3
"""GPU benchmark: drift's CUDA backend next to the same algorithms in PyTorch on the same GPU.

Runs on a GPU machine (driver, PyTorch; NVRTC from the CUDA toolkit or the
nvidia-cuda-nvrtc-cu12 wheel on LD_LIBRARY_PATH). The drift side is the example binary
`gpu_bench` of drift-gpu, built elsewhere with

    RUSTFLAGS="-C target-cpu=x86-64-v3" cargo build --release -p drift-gpu --features cuda --example gpu_bench

and passed with --drift-bin; --conformance-bin runs drift-gpu's conformance test binary (built
the same way with `cargo test --release -p drift-gpu --features cuda --no-run`) first, with
DRIFT_REQUIRE_GPU=1, and reports its result. Cases (f32):
  * Deng Algorithm 2 and the one-sided drift (Laplace kernel, masked self term) at N = M = 16384, D = 64;
  * the 20-iteration Sinkhorn drift (Gaussian) at N = M = 16384, D = 64;
  * one fused reduction pass (log-sum-exp and mean displacement) and the 20-iteration Sinkhorn
    divergence at N = M = 1,000,000, D = 3, where dense PyTorch cannot hold the N x M matrix (its
    column is "n/a") and KeOps can: with pykeops installed, its LazyTensor versions (online
    reductions, no N x M buffer) are timed too.
Prints, per case: the median seconds of each side, the ratios, pairs per second, the fraction of
the device's exp throughput and FP32 peak that the drift side reaches, and the peak device memory
the drift run took above the level before it (sampled; it includes the CUDA context) next to what
one dense f32 N x M matrix would take, and the point sets it uploaded per evaluation. The PyTorch and KeOps versions follow the same math
(docs/MATH.md); they are timing references, checked against drift's field only for shape.
"""

import argparse
import json
import math
import statistics
import os
import subprocess
import sys
import threading
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
    # The official loss on a batch (the training workload): N = B problems of 64 generated samples
    # against 16 negatives and M positives, one batched call; drift's side only (n/a elsewhere).
    ("official", 256, 128, 256, math.nan),
    ("official", 2048, 128, 16, math.nan),
    ("official", 32, 128, 2048, math.nan),
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


def keops_cases(torch, dev):
    """The million-point cases with KeOps LazyTensors (online reductions, no N x M buffer), f32;
    None when pykeops is not installed."""
    try:
        from pykeops.torch import LazyTensor
    except ImportError:
        return None

    def logits(x, y, tau):
        x_i = LazyTensor(x[:, None, :].contiguous())
        y_j = LazyTensor(y[None, :, :].contiguous())
        return -((x_i - y_j) ** 2).sum(-1) / tau, y_j

    def reduction(x, y, tau):
        # The fused pass's outputs: log-sum-exp and mean displacement.
        s, y_j = logits(x, y, tau)
        return s.logsumexp(dim=1), s.sumsoftmaxweight(y_j, axis=1) - x

    def barycentre(x, y, tau, iters):
        # The rows' barycentres under the Sinkhorn plan after `iters` alternating updates.
        s, y_j = logits(x, y, tau)
        n, m = x.shape[0], y.shape[0]
        g = torch.zeros(m, 1, device=dev)
        la, lb = -math.log(n), -math.log(m)
        for _ in range(iters):
            f = la - (s + LazyTensor(g[None, :, :])).logsumexp(dim=1)
            g = lb - (s + LazyTensor(f[:, None, :])).logsumexp(dim=0)
        return (s + LazyTensor(g[None, :, :])).sumsoftmaxweight(y_j, axis=1)

    def sinkhorn_divergence(x, y, tau, iters=20):
        # Attraction to Y minus repulsion from X, each through its Sinkhorn plan, and the (Y, Y)
        # problem the divergence also solves.
        barycentre(y, y, tau, iters)
        return barycentre(x, y, tau, iters) - barycentre(x, x, tau, iters)

    return {"reduction": reduction, "sinkhorn_divergence": sinkhorn_divergence}


class PeakDeviceMemory:
    """The peak of the device's used memory (cudaMemGetInfo through PyTorch, sampled every 5 ms)
    above its level when the block starts, in MiB; NaN without a device."""

    def __init__(self, torch, have_gpu):
        self.torch, self.have_gpu, self.mib = torch, have_gpu, math.nan

    def used(self):
        free, total = self.torch.cuda.mem_get_info()
        return total - free

    def __enter__(self):
        if self.have_gpu:
            self.base = self.peak = self.used()
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self.sample, daemon=True)
            self.thread.start()
        return self

    def sample(self):
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self.used())

    def __exit__(self, *exc):
        if self.have_gpu:
            self.stop.set()
            self.thread.join()
            self.mib = (max(self.peak, self.used()) - self.base) / 2**20
        return False


def run_conformance(binary):
    """Runs drift-gpu's conformance test binary on the device; returns whether it passed."""
    env = dict(os.environ, DRIFT_REQUIRE_GPU="1")
    out = subprocess.run([binary, "--nocapture"], capture_output=True, text=True, env=env)
    lines = (out.stdout + out.stderr).splitlines()
    for line in lines:
        if "running on" in line or "test result" in line or "FAILED" in line or "panicked" in line:
            print(f"conformance: {line.strip()}")
    print(f"conformance: {'passed' if out.returncode == 0 else 'FAILED'} ({binary})")
    return out.returncode == 0


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
    ap.add_argument("--conformance-bin", help="drift-gpu's conformance test binary, run first")
    args = ap.parse_args()
    conforms = run_conformance(args.conformance_bin) if args.conformance_bin else True

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
    keops = keops_cases(torch, dev) if torch is not None else None
    if keops is None:
        print("KeOps: pykeops not installed, its column is n/a")
    print(f"{'case':<22}{'N':>9}{'M':>9}{'D':>5}{'drift s':>12}{'torch s':>12}{'x torch':>9}"
          f"{'keops s':>12}{'x keops':>9}{'pairs/s':>12}{'exp peak':>10}{'fp32 peak':>10}"
          f"{'mem MiB':>10}{'dense MiB':>11}{'uploads':>9}")
    for case, n, m, dim, passes in CASES:
        if case not in wanted:
            continue
        n, m = max(2, int(n * args.scale)), max(2, int(m * args.scale))
        tau = 0.1 * dim
        with PeakDeviceMemory(torch, have_gpu) as memory:
            drift, err = run_drift(args.drift_bin, case, n, m, dim, args.repeats)
        t_drift = drift["median_s"] if drift else math.nan
        # Point sets the drift side copied to the device per evaluation (2 or 3 when resident).
        uploads = drift.get("uploads_per_run", math.nan) if drift else math.nan
        t_torch = t_keops = math.nan
        sync = torch.cuda.synchronize if have_gpu else (lambda: None)
        if keops is not None and case in keops:
            cloud = torch_cases(torch, dev)[0]
            x, y = cloud(n, dim, 0.0, 1), cloud(m, dim, 0.1, 2)
            t_keops = median_time(lambda: keops[case](x, y, tau), args.repeats, sync)
        if torch is not None and n * m * 4 * 4 < (torch.cuda.mem_get_info()[0] if have_gpu else 0):
            cloud, fns = torch_cases(torch, dev)
            if case in fns:
                x, y = cloud(n, dim, 0.0, 1), cloud(m, dim, 0.1, 2)
                with torch.no_grad():
                    t_torch = median_time(lambda: fns[case](x, y, tau), args.repeats, sync)
        pairs = passes * n * m
        pairs_s = pairs / t_drift if t_drift == t_drift else math.nan
        # Per pair and pass: one exp; 3 flops per coordinate for the distance, 2 for the displacement.
        exp_frac = pairs_s / peak["exp"] if peak else math.nan
        fp32_frac = pairs_s * (5 * dim) / peak["fp32"] if peak else math.nan
        ratio = t_torch / t_drift if t_drift == t_drift and t_torch == t_torch else math.nan
        vs_keops = t_keops / t_drift if t_drift == t_drift and t_keops == t_keops else math.nan
        dense_mib = n * m * 4 / 2**20
        fmt = lambda v, f: "n/a" if v != v else format(v, f)
        print(f"{case:<22}{n:>9}{m:>9}{dim:>5}{fmt(t_drift, '.4g'):>12}{fmt(t_torch, '.4g'):>12}"
              f"{fmt(ratio, '.2f'):>9}{fmt(t_keops, '.4g'):>12}{fmt(vs_keops, '.2f'):>9}"
              f"{fmt(pairs_s, '.3g'):>12}{fmt(exp_frac, '.1%'):>10}{fmt(fp32_frac, '.1%'):>10}"
              f"{fmt(memory.mib, '.0f'):>10}{fmt(dense_mib, '.0f'):>11}{fmt(uploads, '.0f'):>9}")
        if err:
            print(f"    drift failed: {err}")
    return 0 if conforms else 1


if __name__ == "__main__":
    sys.exit(main())
