#!/usr/bin/env python3
"""Side-by-side CPU timings: drift (`drift-bench apply`, the `lse_pass` example) against JAX,
PyTorch, OTT-JAX, GeomLoss, KeOps and POT on identical float32 inputs with the same thread count.

For every workload both sides run in one go; the peers are timed after a warm-up run (JAX's
compilation, KeOps' build), drift as the evaluation alone (`apply --repeat K`, file I/O excluded);
each time is the median of several runs. Every output is checked against a float64 dense reference
(PyTorch, float64). The table goes to stdout and to OUT/peers.md and OUT/peers.csv.

Threads: the process is pinned to the first T CPUs (sched_setaffinity, as `taskset` does; every
child inherits it), RAYON_NUM_THREADS=T for drift, OMP_NUM_THREADS=T (KeOps, PyTorch's OpenMP),
torch.set_num_threads(T), and XLA sizes its pool from the CPUs it may use (the affinity).

Usually started through run.sh next to this file, which builds drift and installs the peers.
"""
import argparse
import csv
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096, help="points in X (default 4096)")
    ap.add_argument("--m", type=int, default=None, help="points in Y (default: N)")
    ap.add_argument("--d", type=int, default=64, help="dimension (default 64)")
    ap.add_argument("--lse-dims", type=int, nargs="+", default=[64, 2],
                    help="dimensions of the log-sum-exp pass (default 64 2)")
    ap.add_argument("--lse-sizes", type=int, nargs="+", default=[],
                    help="extra N = M sizes for the log-sum-exp pass (e.g. 16384)")
    ap.add_argument("--threads", type=int, default=2, help="threads on both sides (default 2)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per side (default 5)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="seconds after which a slow peer stops repeating (default 30)")
    ap.add_argument("--tau-laplace", type=float, default=0.05,
                    help="temperature of deng_alg2 and one_sided (default 0.05)")
    ap.add_argument("--tau-gaussian", type=float, default=0.1,
                    help="temperature of the Sinkhorn drift and the lse pass (default 0.1)")
    ap.add_argument("--iters", type=int, default=20, help="Sinkhorn iterations (default 20)")
    ap.add_argument("--blur", type=float, default=0.5, help="GeomLoss blur (default 0.5)")
    ap.add_argument("--scaling", type=float, default=0.9, help="GeomLoss scaling (default 0.9)")
    ap.add_argument("--only", nargs="+", default=None,
                    help="workloads to run: deng_alg2 one_sided sinkhorn_drift "
                         "sinkhorn_divergence lse_pass")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(HERE, "..", "..", "..")),
                    help="the repository (where target/release/drift-bench is)")
    ap.add_argument("--target-dir", default=None,
                    help="cargo's target folder (default ROOT/target, or CARGO_TARGET_DIR)")
    ap.add_argument("--out", default=None, help="report folder (default ROOT/target/peers-report)")
    return ap.parse_args()


def pin_threads(t):
    cpus = sorted(os.sched_getaffinity(0))
    if t > len(cpus):
        print(f"note: --threads {t} but only {len(cpus)} CPUs are available", file=sys.stderr)
    os.sched_setaffinity(0, cpus[:t])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(t)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return cpus[:t]


def median(v):
    s = sorted(v)
    k = len(s)
    return s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])


def timed(fn, repeats, budget, sync=lambda r: r):
    """One warm-up call (compilation), then up to `repeats` timed calls (fewer once `budget`
    seconds are spent, at least one); returns the last result, the median and the count."""
    out = sync(fn())
    times = []
    spent = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = sync(fn())
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if spent > budget:
            break
    return out, median(times), len(times)


class Drift:
    """The drift side: `drift-bench apply --repeat K` and the `lse_pass` example."""

    def __init__(self, target_dir, work):
        self.bin = os.path.join(target_dir, "release", "drift-bench")
        self.lse = os.path.join(target_dir, "release", "examples", "lse_pass")
        for b in (self.bin, self.lse):
            if not os.path.exists(b):
                raise SystemExit(f"missing {b}: run `cargo build --release -p drift-bench "
                                 f"--bin drift-bench --example lse_pass` first (run.sh does)")
        # Private copies: a build that replaces the target folder's binaries during the run (another
        # checkout sharing the folder) cannot change what is measured halfway.
        for name in ("bin", "lse"):
            copy = os.path.join(work, os.path.basename(getattr(self, name)))
            shutil.copy2(getattr(self, name), copy)
            setattr(self, name, copy)
        self.work = work

    @staticmethod
    def run(args):
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()[:300]}")
        return done.stdout

    def apply(self, name, ron, xp, yp, repeats):
        import numpy as np
        op = os.path.join(self.work, f"{name}.ron")
        with open(op, "w") as f:
            f.write(ron + "\n")
        vp = os.path.join(self.work, f"v_{name}.npy")
        out = self.run([self.bin, "apply", "--op", op, "--x", xp, "--y", yp, "--out", vp,
                        "--repeat", str(repeats)])
        m = re.search(r"timing: (\d+) evaluations, median ([0-9.e+-]+) s", out)
        if m:
            secs, count = float(m.group(2)), int(m.group(1))
        else:  # one evaluation: the `elapsed` line
            secs, count = float(re.search(r"elapsed ([0-9.]+) ms", out).group(1)) / 1e3, 1
        notes = []
        its = re.findall(r"coupling sinkhorn: (\d+) iterations", out)
        if its:
            notes.append("drift Sinkhorn iterations " + "/".join(its))
        if "computed in f64" in out:
            notes.append("drift promoted to f64")
        if "WARNING" in out:
            notes.append("drift precision warning")
        return np.load(vp), secs, count, notes

    def lse_pass(self, xp, yp, tau, repeats):
        import numpy as np
        op = os.path.join(self.work, "lse.npy")
        out = self.run([self.lse, xp, yp, repr(tau), str(repeats), op])
        secs = float(re.search(r"median ([0-9.e+-]+) s", out).group(1))
        return np.load(op), secs, repeats, [out.strip().split(", ")[-1]]


def rel_err(v, ref):
    """max |V - V_ref| / max |V_ref| over all coordinates."""
    import numpy as np
    v = np.asarray(v, dtype=np.float64)
    return float(np.abs(v - ref).max() / max(np.abs(ref).max(), 1e-300))


def abs_err(v, ref):
    import numpy as np
    return float(np.abs(np.asarray(v, dtype=np.float64) - ref).max())


class Table:
    def __init__(self):
        self.rows = []

    def add(self, workload, side, secs, runs, err, drift_secs, notes=""):
        ratio = "" if secs is None or drift_secs is None or side == "drift" else \
            f"{secs / drift_secs:.2f}"
        row = dict(workload=workload, side=side,
                   seconds="" if secs is None else f"{secs:.4f}", runs=runs, ratio=ratio,
                   agreement="" if err is None else f"{err:.1e}", notes=notes)
        self.rows.append(row)
        print(f"  {side:<24} {row['seconds']:>9} s  x{runs:<2} ratio {ratio:>6}  "
              f"err {row['agreement']:>8}  {notes}", flush=True)

    def skip(self, workload, side, why):
        self.rows.append(dict(workload=workload, side=side, seconds="", runs="", ratio="",
                              agreement="", notes="skipped: " + why))
        print(f"  {side:<24} skipped: {why}", flush=True)

    def write(self, folder, header):
        cols = ["workload", "side", "seconds", "runs", "ratio", "agreement", "notes"]
        with open(os.path.join(folder, "peers.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(self.rows)
        with open(os.path.join(folder, "peers.md"), "w") as f:
            f.write(header + "\n\n")
            f.write("| workload | side | median s | runs | peer / drift | max rel. error | notes |\n")
            f.write("|---|---|---|---|---|---|---|\n")
            for r in self.rows:
                f.write("| " + " | ".join(str(r[c]) for c in cols) + " |\n")


def attempt(table, workload, side, drift_secs, fn, check, repeats, budget, sync=lambda r: r):
    """Times one peer; any failure (missing package, build error) skips it with its reason."""
    try:
        out, secs, runs = timed(fn, repeats, budget, sync)
    except Exception as e:  # a peer that cannot run is reported, not fatal
        traceback.print_exc(limit=1)
        table.skip(workload, side, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}")
        return None
    err, notes = check(out)
    table.add(workload, side, secs, runs, err, drift_secs, notes)
    return out


def main():
    a = parse_args()
    cpus = pin_threads(a.threads)
    import numpy as np
    sys.path.insert(0, HERE)
    import inputs

    m = a.m or a.n
    target = a.target_dir or os.environ.get("CARGO_TARGET_DIR") or os.path.join(a.root, "target")
    out_dir = a.out or os.path.join(a.root, "target", "peers-report")
    work = os.path.join(out_dir, "inputs")
    os.makedirs(work, exist_ok=True)
    drift = Drift(target, work)
    only = set(a.only or ["deng_alg2", "one_sided", "sinkhorn_drift", "sinkhorn_divergence",
                          "lse_pass"])
    x, y = inputs.mixtures(a.n, m, a.d, seed=0)
    xp, yp = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    table = Table()
    R, B = a.repeats, a.budget

    try:
        import torch
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        X64, Y64 = tx.double(), ty.double()
        import dense_torch as dt
    except Exception as e:
        raise SystemExit(f"PyTorch is needed for the float64 references: {e}")
    try:
        import jax
        import jax.numpy as jnp
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        jsync = lambda r: r.block_until_ready()
    except Exception as e:
        jax = None
        jax_error = f"{type(e).__name__}: {e}"

    def jax_peer(workload, name, make, check, drift_secs):
        if jax is None:
            table.skip(workload, name, jax_error)
            return
        attempt(table, workload, name, drift_secs, make, check, R, B, jsync)

    header = (f"X {a.n} x {a.d}, Y {m} x {a.d}, float32, {a.threads} threads (CPUs {cpus}); "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; medians of "
              f"up to {R} runs after a warm-up; errors against float64 dense references")
    print(header, flush=True)

    def check_against(ref):
        return lambda v: (rel_err(v, ref), "")

    # Deng et al. Algorithm 2 and the one-sided drift (Laplace, masked self pairs).
    for name, ron, torch_fn, jax_name in [
        ("deng_alg2", '{"deng_alg2": (temperature: %r, kernel: {"laplace": ()}, mask_self: true)}',
         dt.deng_alg2, "deng_alg2"),
        ("one_sided", '{"one_sided": (temperature: %r, kernel: {"laplace": ()}, mask_self: true)}',
         dt.one_sided, "one_sided"),
    ]:
        if name not in only:
            continue
        tau = a.tau_laplace
        print(f"{name} (Laplace, tau = {tau}, masked)", flush=True)
        ref = torch_fn(X64, Y64, tau).numpy()
        v, secs, runs, notes = drift.apply(name, ron % tau, xp, yp, R)
        table.add(name, "drift", secs, runs, rel_err(v, ref), secs, "; ".join(notes))
        if jax is not None:
            import dense_jax
            fn = getattr(dense_jax, jax_name)
            jax_peer(name, "JAX jit", lambda: fn(jx, jy, tau), check_against(ref), secs)
        else:
            table.skip(name, "JAX jit", jax_error)
        attempt(table, name, "PyTorch dense", secs, lambda: torch_fn(tx, ty, tau),
                check_against(ref), R, B)

    if "sinkhorn_drift" in only:
        tau, it = a.tau_gaussian, a.iters
        print(f"sinkhorn_drift (Gaussian, tau = {tau}, exactly {it} iterations per term)",
              flush=True)
        ref = dt.sinkhorn_drift(X64, Y64, tau, it).numpy()
        ron = ('{"sinkhorn_drift": (temperature: %r, kernel: {"gaussian": ()}, '
               'sinkhorn: (max_iters: %d, tol: 0.0))}' % (tau, it))
        v, secs, runs, notes = drift.apply("sinkhorn_drift", ron, xp, yp, R)
        table.add("sinkhorn_drift", "drift", secs, runs, rel_err(v, ref), secs, "; ".join(notes))
        attempt(table, "sinkhorn_drift", "PyTorch dense", secs,
                lambda: dt.sinkhorn_drift(tx, ty, tau, it), check_against(ref), R, B)
        try:
            import ott_peer
            jax_peer("sinkhorn_drift", "OTT-JAX Sinkhorn",
                     lambda: ott_peer.sinkhorn_drift(jx, jy, tau, it), check_against(ref), secs)
        except Exception as e:
            table.skip("sinkhorn_drift", "OTT-JAX Sinkhorn", f"{type(e).__name__}: {e}")
        import other_peers as op
        pot_note = lambda v: (rel_err(v, ref),
                              "self term: POT's alternating iterations (no symmetric update)")
        attempt(table, "sinkhorn_drift", "POT sinkhorn_log (NumPy)", secs,
                lambda: op.pot_sinkhorn_drift(x, y, tau, it), pot_note, R, B)
        attempt(table, "sinkhorn_drift", "POT sinkhorn_log (torch)", secs,
                lambda: op.pot_sinkhorn_drift(tx, ty, tau, it).numpy(), pot_note, R, B)

    if "sinkhorn_divergence" in only:
        import other_peers as op
        blur, scaling = a.blur, a.scaling
        tau = 2.0 * blur ** 2
        diam, eps = op.geomloss_schedule(x, y, blur, scaling)
        print(f"sinkhorn_divergence (GeomLoss p = 2, blur {blur}, scaling {scaling}: epsilon "
              f"{blur ** 2} = tau / 2, tau = {tau}; GeomLoss runs {len(eps)} updates from "
              f"diameter {diam:.3f})", flush=True)
        ref, its = dt.sinkhorn_divergence_converged(X64, Y64, tau, tol=1e-9, max_iters=20000)
        ref = ref.numpy()
        g64 = op.geomloss_drift(X64, Y64, blur, scaling).numpy()
        # drift runs GeomLoss' loop itself (`schedule: GeomLoss`): the same diameter, temperatures
        # (ratio scaling^2 per stage in tau = 2 epsilon), averaged updates and unconverged stop, so
        # both sides compute the same field. The error column is against the converged divergence
        # drift; the notes give the agreement with GeomLoss' own loop run in float64.
        ron = ('{"sinkhorn_divergence": (temperature: %r, sinkhorn: (schedule: GeomLoss, '
               'epsilon_scaling: Some(%r)))}' % (tau, scaling ** 2))
        v_drift, secs, runs, notes = drift.apply("sinkhorn_divergence", ron, xp, yp, R)
        v_drift = np.asarray(v_drift, dtype=np.float64)
        table.add("sinkhorn_divergence", "drift", secs, runs, rel_err(v_drift, ref), secs,
                  "; ".join(notes + [f"GeomLoss' loop; vs GeomLoss in f64 {rel_err(v_drift, g64):.1e}",
                                     f"reference converged in {its[0]}/{its[1]} iterations"]))
        attempt(table, "sinkhorn_divergence", "GeomLoss tensorized", secs,
                lambda: op.geomloss_drift(tx, ty, blur, scaling).numpy(),
                lambda v: (rel_err(v, ref),
                           f"vs GeomLoss' own schedule in f64 {rel_err(v, g64):.1e}; vs drift "
                           f"{rel_err(v, v_drift):.1e}"), R, B)

    if "lse_pass" in only:
        tau = a.tau_gaussian
        import other_peers as op
        for n_l in [a.n] + a.lse_sizes:
            for d in a.lse_dims:
                wl = f"lse_pass N=M={n_l} D={d}"
                print(f"{wl} (Gaussian, tau = {tau}, log b uniform; error: max |d lse|)",
                      flush=True)
                lx, ly = inputs.mixtures(n_l, n_l, d, seed=1)
                lxp, lyp = os.path.join(work, f"lse_x_{n_l}_{d}.npy"), \
                    os.path.join(work, f"lse_y_{n_l}_{d}.npy")
                np.save(lxp, lx)
                np.save(lyp, ly)
                ref = dt.lse_pass(torch.from_numpy(lx).double(), torch.from_numpy(ly).double(),
                                  tau).numpy()
                lse, secs, runs, notes = drift.lse_pass(lxp, lyp, tau, R)
                table.add(wl, "drift", secs, runs, abs_err(lse, ref), secs, "; ".join(notes))
                ltx, lty = torch.from_numpy(lx), torch.from_numpy(ly)
                attempt(table, wl, "KeOps LazyTensor (CPU)", secs,
                        lambda: op.keops_lse(ltx, lty, tau).numpy(),
                        lambda v: (abs_err(v, ref), ""), R, B)
                attempt(table, wl, "PyTorch dense", secs,
                        lambda: dt.lse_pass(ltx, lty, tau).numpy(),
                        lambda v: (abs_err(v, ref), ""), R, B)

    table.write(out_dir, header)
    print(f"wrote {os.path.join(out_dir, 'peers.md')} and peers.csv", flush=True)


if __name__ == "__main__":
    main()
