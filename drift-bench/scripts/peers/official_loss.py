#!/usr/bin/env python3
"""The official drifting loss side by side: Deng et al.'s JAX loss (jitted), a PyTorch port of it
and drift's batched `deng_official` operator (`drift-bench apply`), on identical float32 batches
with the same thread count, each field checked against a float64 NumPy reference.

The workload is the training step's (shared/docs/MATH.md, "The training workload"): B independent
problems of N = 64 generated samples against the targets [gen; negatives; positives] (16
unconditional negatives with a CFG weight, 128 positives), D from 16 to 2048, the temperatures
R = 0.02, 0.05, 0.2. The loss is written here from MATH.md's step by step description, with the
official semantics: Gram-form distances sqrt(max(|x|^2 + |t|^2 - 2 x.t, 1e-8)) in float32; the
scale s = mean_{b,i,j}(w_bj d_bij) / mean_{b,j}(w_bj), computed as the weighted mean
sum_{b,i,j} w_bj d_bij / sum_{b,i,j} w_bj (the same number on a batch of one size), and every
lambda_R = sqrt(max(mean F^2, 1e-8)) taken over the whole batch, not per problem; c = max(s / sqrt(D), 1e-3); d_hat = d / max(s, 1e-3)
plus 100 on the self diagonal of the generated block; A = sqrt(max(softmax_j * softmax_i, 1e-6))
times the target weight; the drift in data units is V = c sum_R F_R / lambda_R and the loss per
problem is mean_{i,k}(gen/c - stopgrad(gen/c + V/c))^2.

Inputs, per shape and seed: Gaussian clusters (the positives around a per-problem centre in a few
sub-clusters, the generated samples offset from it, the negatives drawn around other problems'
centres), weight_gen = weight_pos = 1 and weight_neg either the CFG weight for all (variant `cfg`)
or random positive weights (variant `random`). They are written as float32 .npy files ([B, n, D]
points, [B, n] weights; a ragged batch as below) into a temporary folder that drift reads.

The ragged batch ("ragged" in --shapes) is a list of size groups (problems of different N, numbers
of negatives and positives, one D). JAX, PyTorch and the reference compute it as one batch: each
group's arrays separately, but the scale s and every lambda_R over all groups together: s the
weighted mean of the distances over every (b, i, j) entry of every group (each distance weighted by
its target's weight), lambda_R the mean of F^2 over every (b, i, k) entry. On problems of different
sizes this is drift's definition; the ratio of two plain means, mean_{b,i,j}(w d) / mean_{b,j}(w),
weights the groups differently (by about 1 % on the default groups) and is the same number only
when every problem has one size.
drift reads it as a ragged batch: each side's points of every group back to back, [total, D], with
that side's offsets (`--x-offsets`, `--y-offsets`, `--negative-offsets`: B + 1 int64 values), the
negatives' weights [total]; its [total, D] field is cut back into the groups and compared with the
reference problem by problem, as the dense rows are. A drift binary without ragged input (no
offsets in `apply --help`) leaves the ragged column empty and says so.

Timing: JAX after one warm-up call (its compilation), with block_until_ready; PyTorch (under
torch.no_grad) after one warm-up call; drift as `apply --repeat K` (the batch evaluation alone, file
I/O excluded), its `timing: K evaluations, median X s` line. Each time is the median of the runs.
If the drift binary is missing or fails (an older build without batched input), its columns say
"not available" with the end of its error output, and the JAX and PyTorch rows are still measured.

Threads: the process is pinned to the first T CPUs (sched_setaffinity; every child inherits it),
RAYON_NUM_THREADS = OMP_NUM_THREADS = T, XLA_FLAGS gets --xla_cpu_multi_thread_eigen=true
intra_op_parallelism_threads=T, torch.set_num_threads(T). XLA's CPU runtime flushes subnormal floats
to zero; PyTorch is set to do the same (torch.set_flush_denormal; --torch-denormals keep measures it
without). The header and each row's notes give the 1-minute load average (this run's own share is
about T): timings taken while something else runs are not comparable.

The table goes to stdout and to OUT/official.md and OUT/official.csv (OUT defaults to
ROOT/target/peers-report). Usually started through run_official.sh next to this file, which
installs NumPy, JAX and PyTorch into target/peers-venv and builds drift.
"""
import argparse
import csv
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPERATURES = (0.02, 0.05, 0.2)
MASK = 100.0          # the finite self mask added to d_hat on the generated block's diagonal
DIST_FLOOR = 1e-8     # floor of the squared distance
AFF_FLOOR = 1e-6      # floor of softmax_j * softmax_i before the square root
SCALE_FLOOR = 1e-3    # floor of s (for d_hat) and of s / sqrt(D) (for c)
LAMBDA_FLOOR = 1e-8   # floor of mean F^2


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["256x256", "2048x16", "32x2048", "ragged"],
                    help="B x D of each batch, or `ragged` (default 256x256 2048x16 32x2048 "
                         "ragged)")
    ap.add_argument("--n", type=int, default=64, help="generated samples per problem (default 64)")
    ap.add_argument("--pos", type=int, default=128, help="positives per problem (default 128)")
    ap.add_argument("--neg", type=int, default=16,
                    help="unconditional negatives per problem (default 16)")
    ap.add_argument("--ragged", nargs="+", default=["128x64x16x128", "128x48x16x96",
                                                    "64x32x32x64"],
                    help="the ragged batch's groups as BxNxNEGxPOS (default 128x64x16x128 "
                         "128x48x16x96 64x32x32x64)")
    ap.add_argument("--ragged-d", type=int, default=64, help="the ragged batch's D (default 64)")
    ap.add_argument("--weights", nargs="+", default=["cfg", "random"], choices=["cfg", "random"],
                    help="negative weight variants: cfg (all --cfg-weight) and random (uniform in "
                         "[0.5, 3]) (default both)")
    ap.add_argument("--cfg-weight", type=float, default=2.0,
                    help="the negatives' weight of the cfg variant (default 2.0)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    ap.add_argument("--threads", type=int, default=2, help="threads on every side (default 2)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per side (default 5)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="seconds after which a side stops repeating (default 30)")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--torch-denormals", choices=["flush", "keep"], default="flush",
                    help="PyTorch's subnormal floats: flush to zero as XLA's CPU runtime does "
                         "(default), or keep them (PyTorch's default; its softmax products "
                         "underflow into them and run slower)")
    ap.add_argument("--skip-drift", default=None, metavar="REASON",
                    help="do not run drift; its columns say `not available (REASON)`")
    ap.add_argument("--drift-bin", default=None,
                    help="the drift-bench binary (default TARGET/release/drift-bench)")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(HERE, "..", "..", "..")),
                    help="the repository (where target/release/drift-bench is)")
    ap.add_argument("--target-dir", default=None,
                    help="cargo's target folder (default ROOT/target, or CARGO_TARGET_DIR)")
    ap.add_argument("--out", default=None, help="report folder (default ROOT/target/peers-report)")
    ap.add_argument("--keep-inputs", default=None, metavar="DIR",
                    help="write the .npy inputs to DIR and keep them (default: a temporary folder)")
    return ap.parse_args()


def pin_threads(t):
    """Before JAX or PyTorch is imported: the affinity and the pools' sizes."""
    cpus = sorted(os.sched_getaffinity(0))
    if t > len(cpus):
        print(f"note: --threads {t} but only {len(cpus)} CPUs are available", file=sys.stderr)
    os.sched_setaffinity(0, cpus[:t])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(t)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (flags + f" --xla_cpu_multi_thread_eigen=true "
                               f"intra_op_parallelism_threads={t}").strip()
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


# ------------------------------------------------------------------------------------------------
# Inputs

def make_group(rng, b, n, neg, pos, d):
    """One size group of a batch: b problems, each with its own centre.

    Positives: 4 sub-clusters (spread 0.35) around the problem's centre (spread 1 per coordinate
    between centres); generated samples: a Gaussian of spread 0.5 around the centre moved by 0.6 per
    coordinate; negatives: around other problems' centres (the unconditional distribution).
    Coordinates are O(1), so the Gram form's rounding stays at float32's level."""
    import numpy as np
    centre = rng.normal(size=(b, 1, d))
    sub = centre + 0.5 * rng.normal(size=(b, 4, d))
    which = rng.integers(0, 4, size=(b, pos))
    y = np.take_along_axis(sub, which[:, :, None], axis=1) + 0.35 * rng.normal(size=(b, pos, d))
    x = centre + 0.6 * rng.normal(size=(b, 1, d)) + 0.5 * rng.normal(size=(b, n, d))
    other = rng.integers(0, b, size=(b, neg))
    z = centre[other, 0, :] + 0.5 * rng.normal(size=(b, neg, d))
    f = np.float32
    return x.astype(f), z.astype(f), y.astype(f)


def make_weights(rng, variant, b, n, neg, pos, cfg):
    import numpy as np
    f = np.float32
    wn = np.full((b, neg), cfg, f) if variant == "cfg" else \
        rng.uniform(0.5, 3.0, size=(b, neg)).astype(f)
    return np.ones((b, n), f), wn, np.ones((b, pos), f)


def make_batch(shape, variant, a):
    """A list of groups (gen, neg, pos, w_gen, w_neg, w_pos), all float32."""
    import numpy as np
    rng = np.random.default_rng([a.seed, hash_shape(shape), 0 if variant == "cfg" else 1])
    if shape == "ragged":
        specs = [tuple(int(v) for v in g.split("x")) + (a.ragged_d,) for g in a.ragged]
    else:
        b, d = (int(v) for v in shape.split("x"))
        specs = [(b, a.n, a.neg, a.pos, d)]
    groups = []
    for b, n, neg, pos, d in specs:
        x, z, y = make_group(rng, b, n, neg, pos, d)
        groups.append((x, z, y) + make_weights(rng, variant, b, n, neg, pos, a.cfg_weight))
    return groups


def hash_shape(shape):
    return sum(ord(ch) * 31 ** k for k, ch in enumerate(shape)) % (2 ** 31)


# ------------------------------------------------------------------------------------------------
# The official loss: JAX (as released), a PyTorch port, a float64 NumPy reference. Each takes a
# list of size groups; with one group it is exactly the official loss on [B, N, D]. Returns
# (losses per group [B], fields V per group [B, N, D], info {"scale", "c", "loss_R"}).

def official_jax(groups, temperatures=TEMPERATURES):
    import jax
    import jax.numpy as jnp
    d_dim = groups[0][0].shape[-1]
    prep, wd_sum, w_sum = [], 0.0, 0.0
    for gen, neg, pos, w_gen, w_neg, w_pos in groups:
        targets = jnp.concatenate([gen, neg, pos], axis=1)
        w = jnp.concatenate([w_gen, w_neg, w_pos], axis=1)
        d2 = ((gen * gen).sum(-1)[:, :, None] + (targets * targets).sum(-1)[:, None, :]
              - 2.0 * jnp.einsum("bid,bjd->bij", gen, targets))
        dist = jnp.sqrt(jnp.maximum(d2, DIST_FLOOR))
        wd_sum = wd_sum + (dist * w[:, None, :]).sum()
        w_sum = w_sum + w.sum() * gen.shape[1]
        prep.append((gen, targets, w, dist, gen.shape[1], neg.shape[1]))
    scale = wd_sum / w_sum
    c = jnp.maximum(scale / jnp.sqrt(jnp.float32(d_dim)), SCALE_FLOOR)
    normed = []
    for gen, targets, w, dist, n, n_neg in prep:
        m = targets.shape[1]
        mask = jnp.pad(jnp.eye(n, dtype=dist.dtype), ((0, 0), (0, m - n))) * MASK
        normed.append(dist / jnp.maximum(scale, SCALE_FLOOR) + mask[None])
    forces = [jnp.zeros_like(p[0]) for p in prep]
    loss_r = []
    for r in temperatures:
        fields, f2_sum, f_count = [], 0.0, 0
        for (gen, targets, w, dist, n, n_neg), dn in zip(prep, normed):
            logits = -dn / r
            aff = jax.nn.softmax(logits, axis=-1) * jax.nn.softmax(logits, axis=-2)
            aff = jnp.sqrt(jnp.maximum(aff, AFF_FLOOR)) * w[:, None, :]
            a_neg, a_pos = aff[:, :, :n + n_neg], aff[:, :, n + n_neg:]
            coeff = jnp.concatenate([-a_neg * a_pos.sum(-1, keepdims=True),
                                     a_pos * a_neg.sum(-1, keepdims=True)], axis=-1)
            f = (jnp.einsum("bij,bjd->bid", coeff, targets / c)
                 - coeff.sum(-1)[:, :, None] * (gen / c))
            fields.append(f)
            f2_sum = f2_sum + (f * f).sum()
            f_count += f.size
        mean_f2 = f2_sum / f_count
        lam = jnp.sqrt(jnp.maximum(mean_f2, LAMBDA_FLOOR))
        forces = [acc + f / lam for acc, f in zip(forces, fields)]
        loss_r.append(mean_f2)
    losses, fields = [], []
    for (gen, *_), force in zip(prep, forces):
        scaled = gen / c
        goal = jax.lax.stop_gradient(scaled + force)
        losses.append(((scaled - goal) ** 2).mean(axis=(1, 2)))
        fields.append(c * force)
    return losses, fields, {"scale": scale, "c": c, "loss_R": jnp.stack(loss_r)}


def official_torch(groups, temperatures=TEMPERATURES):
    """The PyTorch port: the same steps, in torch's float32 (no autograd: the field only)."""
    import torch
    with torch.no_grad():
        d_dim = groups[0][0].shape[-1]
        prep, wd_sum, w_sum = [], 0.0, 0.0
        for gen, neg, pos, w_gen, w_neg, w_pos in groups:
            targets = torch.cat([gen, neg, pos], dim=1)
            w = torch.cat([w_gen, w_neg, w_pos], dim=1)
            d2 = torch.baddbmm((gen * gen).sum(-1)[:, :, None]
                               + (targets * targets).sum(-1)[:, None, :],
                               gen, targets.transpose(1, 2), alpha=-2.0)
            dist = torch.sqrt(torch.clamp(d2, min=DIST_FLOOR))
            wd_sum = wd_sum + (dist * w[:, None, :]).sum()
            w_sum = w_sum + w.sum() * gen.shape[1]
            prep.append((gen, targets, w, dist, gen.shape[1], neg.shape[1]))
        scale = wd_sum / w_sum
        c = torch.clamp(scale / float(d_dim) ** 0.5, min=SCALE_FLOOR)
        normed = []
        for gen, targets, w, dist, n, n_neg in prep:
            m = targets.shape[1]
            mask = torch.zeros(n, m, dtype=dist.dtype)
            mask[:, :n] = torch.eye(n, dtype=dist.dtype) * MASK
            normed.append(dist / torch.clamp(scale, min=SCALE_FLOOR) + mask[None])
        forces = [torch.zeros_like(p[0]) for p in prep]
        loss_r = []
        for r in temperatures:
            fields, f2_sum, f_count = [], 0.0, 0
            for (gen, targets, w, dist, n, n_neg), dn in zip(prep, normed):
                logits = -dn / r
                aff = torch.softmax(logits, dim=-1) * torch.softmax(logits, dim=-2)
                aff = torch.sqrt(torch.clamp(aff, min=AFF_FLOOR)) * w[:, None, :]
                a_neg, a_pos = aff[:, :, :n + n_neg], aff[:, :, n + n_neg:]
                coeff = torch.cat([-a_neg * a_pos.sum(-1, keepdim=True),
                                   a_pos * a_neg.sum(-1, keepdim=True)], dim=-1)
                f = torch.bmm(coeff, targets / c) - coeff.sum(-1)[:, :, None] * (gen / c)
                fields.append(f)
                f2_sum = f2_sum + (f * f).sum()
                f_count += f.numel()
            mean_f2 = f2_sum / f_count
            lam = torch.sqrt(torch.clamp(mean_f2, min=LAMBDA_FLOOR))
            forces = [acc + f / lam for acc, f in zip(forces, fields)]
            loss_r.append(mean_f2)
        losses, fields = [], []
        for (gen, *_), force in zip(prep, forces):
            scaled = gen / c
            goal = (scaled + force).detach()
            losses.append(((scaled - goal) ** 2).mean(dim=(1, 2)))
            fields.append(c * force)
        return losses, fields, {"scale": scale, "c": c, "loss_R": torch.stack(loss_r)}


def official_reference(groups, temperatures=TEMPERATURES):
    """float64 NumPy, the same formula (Gram-form distances included), from the float32 inputs."""
    import numpy as np
    groups = [tuple(np.asarray(a, np.float64) for a in g) for g in groups]
    d_dim = groups[0][0].shape[-1]
    prep, wd_sum, w_sum = [], 0.0, 0.0
    for gen, neg, pos, w_gen, w_neg, w_pos in groups:
        targets = np.concatenate([gen, neg, pos], axis=1)
        w = np.concatenate([w_gen, w_neg, w_pos], axis=1)
        d2 = ((gen * gen).sum(-1)[:, :, None] + (targets * targets).sum(-1)[:, None, :]
              - 2.0 * np.einsum("bid,bjd->bij", gen, targets, optimize=True))
        dist = np.sqrt(np.maximum(d2, DIST_FLOOR))
        wd_sum += (dist * w[:, None, :]).sum()
        w_sum += w.sum() * gen.shape[1]
        prep.append((gen, targets, w, dist, gen.shape[1], neg.shape[1]))
    scale = wd_sum / w_sum
    c = max(scale / np.sqrt(d_dim), SCALE_FLOOR)

    def softmax(v, axis):
        e = np.exp(v - v.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    forces = [np.zeros_like(p[0]) for p in prep]
    loss_r = []
    for r in temperatures:
        fields, f2_sum, f_count = [], 0.0, 0
        for gen, targets, w, dist, n, n_neg in prep:
            dn = dist / max(scale, SCALE_FLOOR)
            idx = np.arange(n)
            dn[:, idx, idx] += MASK
            logits = -dn / r
            aff = softmax(logits, -1) * softmax(logits, -2)
            aff = np.sqrt(np.maximum(aff, AFF_FLOOR)) * w[:, None, :]
            a_neg, a_pos = aff[:, :, :n + n_neg], aff[:, :, n + n_neg:]
            coeff = np.concatenate([-a_neg * a_pos.sum(-1, keepdims=True),
                                    a_pos * a_neg.sum(-1, keepdims=True)], axis=-1)
            f = np.matmul(coeff, targets / c) - coeff.sum(-1)[:, :, None] * (gen / c)
            fields.append(f)
            f2_sum += (f * f).sum()
            f_count += f.size
        mean_f2 = f2_sum / f_count
        lam = np.sqrt(max(mean_f2, LAMBDA_FLOOR))
        forces = [acc + f / lam for acc, f in zip(forces, fields)]
        loss_r.append(mean_f2)
    losses = [((force) ** 2).mean(axis=(1, 2)) for force in forces]
    fields = [c * force for force in forces]
    return losses, fields, {"scale": scale, "c": c, "loss_R": np.array(loss_r)}


# ------------------------------------------------------------------------------------------------
# drift

def drift_files(groups, work):
    """The batch as drift reads it, {name: path}: [B, n, D] points and [B, n] negative weights for
    one group; for several (a ragged batch), every side's points back to back, [total, D], with
    its offsets (`<side>_offsets`, int64, B + 1 values) and the negative weights [total].
    weight_gen and weight_pos are ones, drift's default: only w_neg goes to drift."""
    import numpy as np
    files = {}

    def save(name, arr):
        files[name] = os.path.join(work, f"{name}.npy")
        np.save(files[name], arr)

    if len(groups) == 1:
        gen, neg, pos, _, w_neg, _ = groups[0]
        for name, arr in (("gen", gen), ("neg", neg), ("pos", pos), ("w_neg", w_neg)):
            save(name, arr)
        return files
    d = groups[0][0].shape[-1]
    for name, k in (("gen", 0), ("neg", 1), ("pos", 2)):
        sides = [g[k] for g in groups]
        sizes = np.concatenate([np.full(p.shape[0], p.shape[1], np.int64) for p in sides])
        save(name, np.concatenate([p.reshape(-1, d) for p in sides]))
        save(name + "_offsets", np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    save("w_neg", np.concatenate([g[4].ravel() for g in groups]))
    return files


def split_field(v, groups):
    """drift's field as the reference's list of [B, n, D] groups (a ragged batch's [total, D] cut
    back into its groups, problem by problem); raises RuntimeError on a shape it did not ask for."""
    shapes = [g[0].shape for g in groups]
    if len(groups) == 1:
        if tuple(v.shape) != tuple(shapes[0]):
            raise RuntimeError(f"output of shape {tuple(v.shape)}, expected {tuple(shapes[0])}")
        return [v]
    total, d = sum(b * n for b, n, _ in shapes), shapes[0][2]
    if tuple(v.shape) != (total, d):
        raise RuntimeError(f"output of shape {tuple(v.shape)}, expected {(total, d)}")
    out, at = [], 0
    for b, n, _ in shapes:
        out.append(v[at:at + b * n].reshape(b, n, d))
        at += b * n
    return out


class Drift:
    """`drift-bench apply --op {"deng_official": ()}` on [B, n, D] files or a ragged batch
    ([total, D] files with offsets), `--repeat K`."""

    def __init__(self, binary, work, skip=None):
        self.work = work
        self.why = skip
        self.bin = None
        if skip:
            return
        if not os.path.exists(binary):
            self.why = f"missing {binary}; run_official.sh builds it"
            return
        # A private copy: a build that replaces the target folder's binary during the run cannot
        # change what is measured halfway.
        self.bin = os.path.join(work, "drift-bench")
        shutil.copy2(binary, self.bin)
        self.op = os.path.join(work, "deng_official.ron")
        with open(self.op, "w") as f:
            f.write('{"deng_official": ()}\n')

    def apply(self, files, repeats):
        """(V, median seconds, runs, output) or raises RuntimeError with the end of stderr."""
        import numpy as np
        if self.bin is None:
            raise RuntimeError(self.why)
        vp = os.path.join(self.work, "v_drift.npy")
        if os.path.exists(vp):
            os.remove(vp)
        args = [self.bin, "apply", "--op", self.op, "--x", files["gen"], "--y", files["pos"],
                "--negatives", files["neg"], "--negative-weights", files["w_neg"],
                "--out", vp, "--repeat", str(repeats)]
        if "gen_offsets" in files:
            args += ["--x-offsets", files["gen_offsets"], "--y-offsets", files["pos_offsets"],
                     "--negative-offsets", files["neg_offsets"]]
        done = subprocess.run(args, capture_output=True, text=True)
        out = done.stdout + "\n" + done.stderr
        if done.returncode != 0:
            raise RuntimeError(error_line(done.stderr or done.stdout))
        m = re.search(r"timing: (\d+) evaluations, median ([0-9.eE+-]+) s", out)
        if m:
            secs, runs = float(m.group(2)), int(m.group(1))
        else:
            # `--repeat 1` prints the one evaluation's time only.
            one = re.search(r"^elapsed ([0-9.eE+-]+) ms$", out, re.M)
            if not one or repeats != 1:
                raise RuntimeError("no `timing:` line in its output: " + tail(out))
            secs, runs = float(one.group(1)) / 1e3, 1
        v = np.load(vp)
        return v, secs, runs, out

    def has_ragged_input(self):
        if self.bin is None:
            return False
        done = subprocess.run([self.bin, "apply", "--help"], capture_output=True, text=True)
        return "offsets" in done.stdout


def error_line(text):
    """The last line that says `error`, or else the end of the output."""
    lines = [ln.strip() for ln in text.splitlines() if "error" in ln.lower()]
    return tail(lines[-1] if lines else text)


def tail(text, n=240):
    text = " ".join(text.strip().split())
    return text if len(text) <= n else "..." + text[-n:]


# ------------------------------------------------------------------------------------------------
# Comparison and report

def rel_diff(v, ref):
    """max |V - V_ref| / max |V_ref| over all coordinates of all groups."""
    import numpy as np
    v = np.concatenate([np.asarray(g, np.float64).ravel() for g in v])
    ref = np.concatenate([np.asarray(g, np.float64).ravel() for g in ref])
    if v.shape != ref.shape:
        raise ValueError(f"{v.size} values against {ref.size}")
    return float(np.abs(v - ref).max() / max(np.abs(ref).max(), 1e-300))


def rel_scalar(a, b):
    import numpy as np
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


COLUMNS = ["shape", "weights", "B", "N", "M", "D", "jax_s", "torch_s", "drift_s", "jax_over_drift",
           "torch_over_drift", "drift_vs_jax", "torch_vs_jax", "jax_vs_f64", "torch_vs_f64",
           "drift_vs_f64", "scale", "lambda_R", "notes"]
HEADINGS = ["shape", "w_neg", "B", "N", "M (targets)", "D", "official JAX s", "PyTorch s",
            "drift s", "JAX / drift", "torch / drift", "max|V_jax - V_drift| / max|V_jax|",
            "max|V_torch - V_jax| / max|V_jax|", "JAX vs f64", "torch vs f64", "drift vs f64",
            "scale s", "lambda_R (0.02, 0.05, 0.2)", "notes"]


def fmt_s(v):
    return "" if v is None else f"{v:.4f}"


def fmt_e(v):
    return "" if v is None else f"{v:.1e}"


def fmt_r(a, b):
    return "" if a is None or b is None else f"{a / b:.2f}"


def main():
    a = parse_args()
    cpus = pin_threads(a.threads)
    import numpy as np

    target = a.target_dir or os.environ.get("CARGO_TARGET_DIR") or os.path.join(a.root, "target")
    out_dir = a.out or os.path.join(a.root, "target", "peers-report")
    os.makedirs(out_dir, exist_ok=True)
    if a.keep_inputs:
        os.makedirs(a.keep_inputs, exist_ok=True)
        work, cleanup = os.path.abspath(a.keep_inputs), None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="drift-official-")
        work = cleanup.name

    import jax
    import jax.numpy as jnp
    jitted = jax.jit(official_jax)
    jsync = lambda r: jax.block_until_ready(r)
    torch = None
    torch_error = "--no-torch"
    if not a.no_torch:
        try:
            import torch
            torch.set_num_threads(a.threads)
            torch.set_num_interop_threads(1)
            torch.set_flush_denormal(a.torch_denormals == "flush")
        except Exception as e:  # reported in the rows, not fatal
            torch, torch_error = None, f"{type(e).__name__}: {e}"

    drift = Drift(a.drift_bin or os.path.join(target, "release", "drift-bench"), work,
                  a.skip_drift)
    header = (f"The official drifting loss (R = {', '.join(map(str, TEMPERATURES))}), float32, "
              f"{a.threads} threads (CPUs {cpus}); {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs; JAX {jax.__version__}"
              + (f", PyTorch {torch.__version__} (subnormals: {a.torch_denormals})"
                 if torch is not None else "")
              + f"; medians of up to {a.repeats} runs after a warm-up; seed {a.seed}; "
              f"targets = [gen; {a.neg} negatives; {a.pos} positives]; errors: max abs difference "
              f"/ max abs V of the second field (f64: the float64 NumPy reference); load average "
              f"at the start {os.getloadavg()[0]:.2f}")
    print(header, flush=True)
    if drift.bin is None:
        print(f"drift: not available ({drift.why})", flush=True)

    rows = []
    for shape in a.shapes:
        for variant in a.weights:
            groups = make_batch(shape, variant, a)
            b = sum(g[0].shape[0] for g in groups)
            ns = sorted({g[0].shape[1] for g in groups})
            ms = sorted({g[0].shape[1] + g[1].shape[1] + g[2].shape[1] for g in groups})
            d = groups[0][0].shape[2]
            span = lambda v: str(v[0]) if len(v) == 1 else f"{v[0]}..{v[-1]}"
            row = dict(shape=shape if shape != "ragged" else
                       "ragged " + "+".join(f"{g[0].shape[0]}x{g[0].shape[1]}" for g in groups),
                       weights=variant if variant == "random" else f"cfg {a.cfg_weight:g}",
                       B=b, N=span(ns), M=span(ms), D=d)
            notes = []
            print(f"{row['shape']} (B {b}, N {row['N']}, M {row['M']}, D {d}), "
                  f"w_neg {row['weights']}", flush=True)

            ref_loss, ref_v, ref_info = official_reference(groups)

            jgroups = [tuple(jnp.asarray(x) for x in g) for g in groups]
            (j_loss, j_v, j_info), j_secs, j_runs = timed(lambda: jitted(jgroups), a.repeats,
                                                          a.budget, jsync)
            j_v = [np.asarray(v) for v in j_v]
            row["jax_s"] = j_secs
            row["jax_vs_f64"] = rel_diff(j_v, ref_v)
            row["scale"] = f"{float(j_info['scale']):.5g}"
            row["lambda_R"] = " ".join(f"{np.sqrt(max(float(v), LAMBDA_FLOOR)):.4g}"
                                       for v in j_info["loss_R"])
            notes.append(f"JAX x{j_runs}; loss vs f64 "
                         f"{rel_diff([np.asarray(x) for x in j_loss], ref_loss):.1e}, "
                         f"scale vs f64 {rel_scalar(j_info['scale'], ref_info['scale']):.1e}")
            print(f"  official JAX  {j_secs:9.4f} s x{j_runs}  vs f64 {row['jax_vs_f64']:.1e}  "
                  f"scale {row['scale']}  lambda_R {row['lambda_R']}", flush=True)

            if torch is not None:
                try:
                    tgroups = [tuple(torch.from_numpy(x) for x in g) for g in groups]
                    (t_loss, t_v, t_info), t_secs, t_runs = timed(lambda: official_torch(tgroups),
                                                                  a.repeats, a.budget)
                    t_v = [v.numpy() for v in t_v]
                    row["torch_s"] = t_secs
                    row["torch_vs_jax"] = rel_diff(t_v, j_v)
                    row["torch_vs_f64"] = rel_diff(t_v, ref_v)
                    notes.append(f"torch x{t_runs}")
                    print(f"  PyTorch       {t_secs:9.4f} s x{t_runs}  vs JAX "
                          f"{row['torch_vs_jax']:.1e}  vs f64 {row['torch_vs_f64']:.1e}",
                          flush=True)
                except Exception as e:  # reported, not fatal
                    traceback.print_exc(limit=1)
                    notes.append(f"PyTorch failed: {type(e).__name__}: {tail(str(e), 120)}")
            else:
                notes.append(f"PyTorch not available ({torch_error})")

            if len(groups) > 1 and drift.bin is not None and not drift.has_ragged_input():
                why = "ragged: this drift CLI takes [B,n,D] arrays only (no offsets)"
                notes.append(why)
                print(f"  drift         {why}", flush=True)
            else:
                try:
                    v, secs, runs, out = drift.apply(drift_files(groups, work), a.repeats)
                    v = split_field(v, groups)
                    row["drift_s"] = secs
                    row["drift_vs_jax"] = rel_diff(v, j_v)
                    row["drift_vs_f64"] = rel_diff(v, ref_v)
                    notes.append(f"drift x{runs}")
                    # The scale drift reports, against the reference's: a field that differs from
                    # the reference more than rounding says why when its statistics differ.
                    m = re.search(r"^\s*scale ([0-9.eE+-]+)$", out, re.M)
                    if m and rel_scalar(float(m.group(1)), ref_info["scale"]) > 1e-5:
                        notes.append(f"drift's scale {float(m.group(1)):.6g} against the "
                                     f"reference's {float(ref_info['scale']):.6g}")
                    print(f"  drift         {secs:9.4f} s x{runs}  vs JAX "
                          f"{row['drift_vs_jax']:.1e}  vs f64 {row['drift_vs_f64']:.1e}  "
                          f"JAX/drift {j_secs / secs:.2f}", flush=True)
                except Exception as e:  # reported, not fatal
                    why = str(e) or type(e).__name__
                    notes.append(f"drift: not available ({why})")
                    print(f"  drift         not available ({why})", flush=True)
            notes.append(f"load average {os.getloadavg()[0]:.2f}")
            row["notes"] = "; ".join(notes)
            rows.append(row)

    text_rows = []
    for r in rows:
        text_rows.append({
            "shape": r["shape"], "weights": r["weights"], "B": r["B"], "N": r["N"], "M": r["M"],
            "D": r["D"], "jax_s": fmt_s(r.get("jax_s")), "torch_s": fmt_s(r.get("torch_s")),
            "drift_s": fmt_s(r.get("drift_s")),
            "jax_over_drift": fmt_r(r.get("jax_s"), r.get("drift_s")),
            "torch_over_drift": fmt_r(r.get("torch_s"), r.get("drift_s")),
            "drift_vs_jax": fmt_e(r.get("drift_vs_jax")),
            "torch_vs_jax": fmt_e(r.get("torch_vs_jax")),
            "jax_vs_f64": fmt_e(r.get("jax_vs_f64")), "torch_vs_f64": fmt_e(r.get("torch_vs_f64")),
            "drift_vs_f64": fmt_e(r.get("drift_vs_f64")), "scale": r.get("scale", ""),
            "lambda_R": r.get("lambda_R", ""), "notes": r.get("notes", "")})
    esc = lambda v: str(v).replace("|", "\\|")  # a pipe inside a cell would split it
    md = [header, "", "| " + " | ".join(map(esc, HEADINGS)) + " |", "|" + "---|" * len(HEADINGS)]
    md += ["| " + " | ".join(esc(r[c]) for c in COLUMNS) + " |" for r in text_rows]
    print("\n" + "\n".join(md), flush=True)
    with open(os.path.join(out_dir, "official.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out_dir, "official.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(text_rows)
    print(f"wrote {os.path.join(out_dir, 'official.md')} and official.csv (load average at the "
          f"end {os.getloadavg()[0]:.2f})", flush=True)
    if cleanup is not None:
        cleanup.cleanup()


if __name__ == "__main__":
    main()
