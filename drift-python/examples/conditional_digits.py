"""A class-conditional one-step generator on the vendored 8x8 digits, trained with the official
drifting loss taken over several feature maps, as the official training step does: a frozen
(random) convolutional encoder gives feature maps, and every (class, feature location) pair of
every feature key is one drift problem (`drift.torch.DriftLoss`, one batched call per key):

    raw      the 64 pixels                                   [10 problems, D 64]
    f1       every location of an 8x8x16 map                 [10 x 64 problems, D 16]
    f1_m2    2x2 patch means of f1, f1_s2 their stds         [10 x 16 problems, D 16] each
    f1_mean  its global mean, f1_std its global std          [10 problems, D 16] each
    f2       every location of a 4x4x32 map                  [10 x 16 problems, D 32]
    f2_mean  its global mean, f2_std its global std          [10 problems, D 32] each

The loss is the sum over keys of the per-problem losses' means. Prints the loss, then the accuracy
of a 1-NN classifier on 100 generated digits per class (their class = the conditioning class).

    python drift-python/examples/conditional_digits.py [--steps 300] [--out cond_digits.png]
    python drift-python/examples/conditional_digits.py --compile     # torch.compile(fullgraph=True)
    python drift-python/examples/conditional_digits.py --bench       # drift_loss vs a PyTorch port

--compile: the step's forward (generator, encoder, every key's loss) runs under
torch.compile(fullgraph=True, backend=--backend); before compiling, torch._dynamo.explain reports
the graphs and graph breaks (drift's field is one custom-op node: 1 graph, 0 breaks).

--bench: the median time of a training step (forward, backward, Adam step) over --steps steps
after --warmup steps, once with drift.torch's loss and once with the same step using
official_torch.py's pure-PyTorch port of the official loss (batched, no loop over problems), and
the ratio (with --compile, each step's forward compiled); also the median time of the loss calls
alone (every key, on fixed features, no gradient, eager), and how far the two losses' fields are
apart. The two runs alternate step by step in one process (a load that changes slows both). Threads: --threads (default 2) for
PyTorch (torch.set_num_threads) and drift (RAYON_NUM_THREADS, set before drift is imported);
subnormal floats flushed to zero (--keep-denormals: not). The load average printed with the ratio
says whether the machine was otherwise idle.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DIGITS = HERE.parents[1] / "drift-bench" / "data" / "digits.csv.gz"
CLASSES = 10
NOISE = 16


def load_digits():
    """Pixels in [0, 1] (64 per image) and labels, from the vendored UCI digits."""
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :64].astype(np.float32) / 16.0, table[:, 64].astype(int)


def build(torch, seed):
    """The generator (noise and one-hot class to 64 pixels) and the frozen random encoder."""
    nn = torch.nn
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(NOISE + CLASSES, 256), nn.SiLU(),
        nn.Linear(256, 256), nn.SiLU(),
        nn.Linear(256, 64),
    )
    g = torch.Generator().manual_seed(1234)
    conv1 = nn.Conv2d(1, 16, 3, padding=1)
    conv2 = nn.Conv2d(16, 32, 3, padding=1)
    with torch.no_grad():
        for conv in (conv1, conv2):
            fan_in = conv.weight[0].numel()
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / fan_in**0.5)
            conv.bias.zero_()
    encoder = nn.ModuleDict({"conv1": conv1, "conv2": conv2}).requires_grad_(False)
    return net, encoder


def features(torch, encoder, images):
    """Feature keys of `[C, N, 64]` images, each `[C * locations, N, D]`: one problem per
    (class, location)."""
    F = torch.nn.functional
    c, n, _ = images.shape

    def per_location(fmap):  # [C*N, ch, h, w] -> [C*h*w, N, ch]
        ch = fmap.shape[1]
        return fmap.reshape(c, n, ch, -1).permute(0, 3, 1, 2).reshape(-1, n, ch)

    def per_sample(v):  # [C*N, ch] -> [C, N, ch]
        return v.reshape(c, n, -1)

    x = images.reshape(c * n, 1, 8, 8)
    f1 = F.silu(encoder["conv1"](x))  # [C*N, 16, 8, 8]
    f2 = F.silu(encoder["conv2"](F.avg_pool2d(f1, 2)))  # [C*N, 32, 4, 4]
    mean2 = F.avg_pool2d(f1, 2)
    std2 = (F.avg_pool2d(f1 * f1, 2) - mean2 * mean2).clamp(min=1e-6).sqrt()
    return {
        "raw": images,
        "f1": per_location(f1),
        "f1_m2": per_location(mean2),
        "f1_s2": per_location(std2),
        "f1_mean": per_sample(f1.mean(dim=(2, 3))),
        "f1_std": per_sample(f1.std(dim=(2, 3))),
        "f2": per_location(f2),
        "f2_mean": per_sample(f2.mean(dim=(2, 3))),
        "f2_std": per_sample(f2.std(dim=(2, 3))),
    }


def make_forward(torch, net, encoder, loss_fn, per_class):
    """The step's forward: generated digits of every class, their features, the summed loss."""

    def forward(z, labels, pos_images):
        gen = net(torch.cat([z, labels], dim=-1)).reshape(CLASSES, per_class, 64)
        fg = features(torch, encoder, gen)
        with torch.no_grad():
            fp = features(torch, encoder, pos_images)
        total = gen.new_zeros(())
        for key in fg:
            loss, _ = loss_fn(fg[key], fp[key])
            total = total + loss.mean()
        return total

    return forward


class Sampler:
    """Noise, one-hot labels and per-class positives for each step, seeded."""

    def __init__(self, torch, pixels, labels, per_class, positives, seed):
        self.torch = torch
        self.pixels = torch.from_numpy(pixels)
        self.by_class = [np.flatnonzero(labels == k) for k in range(CLASSES)]
        self.per_class, self.positives = per_class, positives
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        eye = torch.eye(CLASSES)
        self.labels = eye[:, None, :].expand(CLASSES, per_class, CLASSES).reshape(-1, CLASSES)

    def __call__(self):
        idx = np.stack([self.rng.choice(ix, self.positives, replace=False)
                        for ix in self.by_class])
        z = self.torch.randn(CLASSES * self.per_class, NOISE, generator=self.gen)
        return z, self.labels, self.pixels[self.torch.from_numpy(idx)]


def explain(torch, forward, batch):
    """torch._dynamo.explain of the forward: graphs, graph breaks and their reasons."""
    torch._dynamo.reset()
    e = torch._dynamo.explain(forward)(*batch)
    print(f"torch._dynamo.explain: {e.graph_count} graph(s), {e.graph_break_count} graph "
          f"break(s), {len(e.ops_per_graph[0]) if e.ops_per_graph else 0} ops in the first graph",
          flush=True)
    for reason in e.break_reasons:
        print(f"  break: {reason.reason}", flush=True)
    torch._dynamo.reset()
    return e.graph_break_count


def train(torch, a, pixels, labels, loss_fn):
    net, encoder = build(torch, a.seed)
    forward = make_forward(torch, net, encoder, loss_fn, a.per_class)
    sample = Sampler(torch, pixels, labels, a.per_class, a.positives, a.seed)
    if a.compile:
        # On a batch of its own (the same seed): the training steps see the eager run's batches.
        breaks = explain(torch, forward,
                         Sampler(torch, pixels, labels, a.per_class, a.positives, a.seed)())
        forward = torch.compile(forward, fullgraph=True, backend=a.backend)
        t0 = time.perf_counter()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    for step in range(a.steps):
        loss = forward(*sample())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if a.compile and step == 0:
            print(f"compiled (backend {a.backend}, fullgraph=True) and ran the first step in "
                  f"{time.perf_counter() - t0:.1f} s; graph breaks before compiling: {breaks}",
                  flush=True)
        if step % a.log == 0 or step == a.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}", flush=True)
    return net


def evaluate(torch, net, pixels, labels, per_class=100, seed=7):
    """Accuracy of a 1-NN classifier on generated digits (true class: the conditioning one)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(CLASSES * per_class, NOISE, generator=g)
    onehot = torch.eye(CLASSES).repeat_interleave(per_class, dim=0)
    with torch.no_grad():
        samples = net(torch.cat([z, onehot], dim=-1)).numpy()
    d2 = ((samples**2).sum(1)[:, None] - 2 * samples @ pixels.T + (pixels**2).sum(1)[None, :])
    predicted = labels[d2.argmin(1)].reshape(CLASSES, per_class)
    per = (predicted == np.arange(CLASSES)[:, None]).mean(1)
    print(f"1-NN accuracy of {per_class} generated digits per class: {per.mean():.1%} "
          f"(per class {' '.join(f'{p:.0%}' for p in per)})", flush=True)
    return samples.reshape(CLASSES, per_class, 64)


def bench(torch, a, pixels, labels, loss_fns):
    """Median step times of each loss on the same steps (same seeds), and their ratio. The two
    runs are interleaved step by step (their order alternating), so that a machine whose load
    changes slows both alike."""
    runs = {}
    for name, loss_fn in loss_fns.items():
        net, encoder = build(torch, a.seed)
        forward = make_forward(torch, net, encoder, loss_fn, a.per_class)
        if a.compile:
            forward = torch.compile(forward, fullgraph=True, backend=a.backend)
        runs[name] = dict(net=net, encoder=encoder, forward=forward, loss_fn=loss_fn,
                          sample=Sampler(torch, pixels, labels, a.per_class, a.positives, a.seed),
                          opt=torch.optim.Adam(net.parameters(), lr=a.lr), steps=[], calls=[])
    names = list(runs)
    for step in range(a.warmup + a.steps):
        for name in names if step % 2 == 0 else names[::-1]:
            r = runs[name]
            batch = r["sample"]()
            t0 = time.perf_counter()
            loss = r["forward"](*batch)
            r["opt"].zero_grad()
            loss.backward()
            r["opt"].step()
            if step >= a.warmup:
                r["steps"].append(time.perf_counter() - t0)
            r["loss"] = loss.item()
    # The loss calls alone, on fixed features of the first run's generator (no gradient).
    first = runs[names[0]]
    z, lab, pos = first["sample"]()
    with torch.no_grad():
        fg = features(torch, first["encoder"],
                      first["net"](torch.cat([z, lab], -1)).reshape(CLASSES, a.per_class, 64))
        fp = features(torch, first["encoder"], pos)
        for k in range(max(3, a.steps)):
            for name in names if k % 2 == 0 else names[::-1]:
                t0 = time.perf_counter()
                for key in fg:
                    runs[name]["loss_fn"](fg[key], fp[key])
                runs[name]["calls"].append(time.perf_counter() - t0)
    for name, r in runs.items():
        r["step_s"], r["call_s"] = statistics.median(r["steps"]), statistics.median(r["calls"])
        print(f"{name:>22}: step median {r['step_s'] * 1e3:8.2f} ms over {len(r['steps'])} "
              f"steps, loss calls alone {r['call_s'] * 1e3:8.2f} ms, last loss {r['loss']:.4f}",
              flush=True)
    d, t = runs[names[0]], runs[names[1]]
    print(f"ratio PyTorch port / drift: step {t['step_s'] / d['step_s']:.2f}, loss calls "
          f"{t['call_s'] / d['call_s']:.2f} (load average {os.getloadavg()[0]:.2f})", flush=True)
    # The two losses' fields on the same features.
    worst = 0.0
    with torch.no_grad():
        for key in fg:
            v1 = d["loss_fn"](fg[key], fp[key])[1]["drift"]
            v2 = t["loss_fn"](fg[key], fp[key])[1]["drift"]
            worst = max(worst, ((v1 - v2).abs().max() / v2.abs().max()).item())
    print(f"fields of the two losses: max |V_drift - V_port| / max |V_port| = {worst:.1e} "
          f"(worst feature key)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--per-class", type=int, default=32, help="generated samples per class")
    p.add_argument("--positives", type=int, default=32, help="data samples per class")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", type=int, default=50, help="print the loss every LOG steps")
    p.add_argument("--threads", type=int, default=2, help="PyTorch and drift threads")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile(fullgraph=True) the step's forward (explain first)")
    p.add_argument("--backend", default="inductor", help="torch.compile backend")
    p.add_argument("--bench", action="store_true",
                   help="time steps with drift_loss against the pure-PyTorch port")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (--bench)")
    p.add_argument("--keep-denormals", action="store_true",
                   help="--bench: keep PyTorch's subnormal floats (default: flush them to zero, "
                        "as XLA's CPU runtime does; the port's softmax products underflow)")
    p.add_argument("--out", default=None, help="write generated digits to this PNG")
    a = p.parse_args()

    # Thread counts before drift's thread pool starts (it reads RAYON_NUM_THREADS once).
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    import torch

    import drift.torch as dt

    torch.set_num_threads(a.threads)
    pixels, labels = load_digits()
    loss_fn = dt.DriftLoss()  # the official loss, R = (0.02, 0.05, 0.2)
    print(f"{CLASSES} classes x {a.per_class} generated vs {a.positives} positives per problem, "
          f"{a.threads} threads, PyTorch {torch.__version__}", flush=True)
    if a.bench:
        sys.path.insert(0, str(HERE))
        from official_torch import official_loss

        torch.set_flush_denormal(not a.keep_denormals)
        print(f"subnormal floats: {'kept' if a.keep_denormals else 'flushed to zero'}; "
              f"RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}, torch threads "
              f"{torch.get_num_threads()}", flush=True)
        bench(torch, a, pixels, labels,
              {"drift.torch.DriftLoss": loss_fn, "PyTorch port": official_loss})
        return
    net = train(torch, a, pixels, labels, loss_fn)
    samples = evaluate(torch, net, pixels, labels)
    if a.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        grid = np.clip(samples[:, :10], 0, 1).reshape(10, 10, 8, 8)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.imshow(grid.transpose(0, 2, 1, 3).reshape(80, 80), cmap="gray_r")
        ax.set_title(f"conditional digits (rows: classes 0-9), {a.steps} steps")
        ax.axis("off")
        fig.savefig(a.out, dpi=100)
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
