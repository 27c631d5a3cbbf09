"""A class-conditional one-step generator (a small MLP in plain JAX, Adam written out) trained on
the vendored 8x8 digits with the official drifting loss, `drift.jax.drift_loss`, inside
`jax.jit(jax.value_and_grad(...))`. Each step is one batch of 10 problems (one per digit class):
`--batch` generated samples of the class against `--pos` of its images. Reports the median step
time, the loss and the per-temperature norms, how many generated digits a nearest-neighbour
classifier assigns to their conditioning class, and writes the samples to `--out` (a PNG, when
matplotlib is installed).

    python drift-python/examples/train_jax.py [--steps 300] [--batch 64] [--out digits_jax.png]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import drift.jax

DIGITS = Path(__file__).resolve().parents[2] / "drift-bench" / "data" / "digits.csv.gz"
CLASSES = 10
LATENT = 16
HIDDEN = 256


def load_digits():
    """Pixels in [0, 1] (64 per image) and labels, from the vendored UCI digits."""
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :64] / 16.0, table[:, 64].astype(int)


def init_params(key):
    """An MLP [z; one-hot class] -> 256 -> 256 -> 64, He-initialised."""
    sizes = [LATENT + CLASSES, HIDDEN, HIDDEN, 64]
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": jax.random.normal(k, (m, n)) * np.sqrt(2.0 / m),
                       "b": jnp.zeros(n)})
    return params


def generate(params, z, labels):
    """Samples of the classes `labels` ([...]) from the latents `z` ([..., LATENT])."""
    h = jnp.concatenate([z, jax.nn.one_hot(labels, CLASSES)], axis=-1)
    for layer in params[:-1]:
        h = jax.nn.silu(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, z, pos):
    """The mean over the 10 class problems of the official drifting loss; `z` [10, N, LATENT],
    `pos` [10, M, 64]. Returns (loss, info)."""
    labels = jnp.broadcast_to(jnp.arange(CLASSES)[:, None], z.shape[:2])
    gen = generate(params, z, labels)                       # [10, N, 64]
    loss, info = drift.jax.drift_loss(gen, pos)
    return loss.mean(), info


def adam_init(params):
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {"m": zeros, "v": zeros, "t": jnp.zeros((), jnp.int32)}


@jax.jit
def adam_update(params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step (Kingma and Ba), written out so that the example needs JAX only."""
    t = state["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
    corr = jnp.sqrt(1 - b2**t) / (1 - b1**t)
    params = jax.tree_util.tree_map(lambda p, m, v: p - lr * corr * m / (jnp.sqrt(v) + eps),
                                    params, m, v)
    return params, {"m": m, "v": v, "t": t}


def nearest_labels(samples: np.ndarray, data: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The label of each sample's nearest data point (1-NN classifier)."""
    d2 = (samples**2).sum(1)[:, None] - 2 * samples @ data.T + (data**2).sum(1)[None, :]
    return labels[d2.argmin(1)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=64,
                   help="generated samples per class and step (default 64, the official N)")
    p.add_argument("--pos", type=int, default=128,
                   help="positives (images of the class) per class and step (default 128)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="digits_jax.png")
    a = p.parse_args()

    pixels, labels = load_digits()
    # Centred, unit mean distance between images (the loss normalises its scale itself; this
    # only keeps the MLP's outputs O(1)).
    mean = pixels.mean(0)
    rng = np.random.default_rng(a.seed)
    pairs = rng.integers(0, len(pixels), (2000, 2))
    scale = np.linalg.norm(pixels[pairs[:, 0]] - pixels[pairs[:, 1]], axis=1).mean()
    data = ((pixels - mean) / scale).astype(np.float32)
    by_class = [data[labels == c] for c in range(CLASSES)]

    key = jax.random.PRNGKey(a.seed)
    key, init_key = jax.random.split(key)
    params = init_params(init_key)
    state = adam_init(params)
    step_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))

    times = []
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}; 10 classes x {a.batch} "
          f"generated vs {a.pos} positives per class, D = 64, {a.steps} steps")
    for step in range(a.steps):
        key, zk = jax.random.split(key)
        z = jax.random.normal(zk, (CLASSES, a.batch, LATENT))
        pos = np.stack([c[rng.choice(len(c), a.pos, replace=len(c) < a.pos)] for c in by_class])
        t0 = time.perf_counter()
        (loss, info), grads = step_fn(params, z, pos)
        params, state = adam_update(params, grads, state, lr=a.lr)
        jax.block_until_ready(params)
        times.append(time.perf_counter() - t0)
        if step % max(1, a.steps // 10) == 0 or step == a.steps - 1:
            lams = " ".join(f"{np.sqrt(float(info[f'loss_{r}'])):.3f}" for r in (0.02, 0.05, 0.2))
            print(f"step {step:5d}  loss {float(loss):.4f}  scale {float(info['scale']):.3f}  "
                  f"lambda_R {lams}  |V| {float(jnp.abs(info['drift']).mean()):.4f}")
    # The first step includes the compilation.
    rest = times[1:] or times
    print(f"step time: first (compiles) {times[0] * 1e3:.1f} ms, median of the other "
          f"{len(rest)} {statistics.median(rest) * 1e3:.2f} ms")

    key, zk = jax.random.split(key)
    n_eval = 100
    z = jax.random.normal(zk, (CLASSES, n_eval, LATENT))
    cond = np.repeat(np.arange(CLASSES), n_eval)
    samples = np.asarray(generate(params, z, jnp.asarray(cond).reshape(CLASSES, n_eval)))
    samples = samples.reshape(-1, 64)
    predicted = nearest_labels(samples, data, labels)
    accuracy = float((predicted == cond).mean())
    hist = np.bincount(predicted, minlength=CLASSES)
    print(f"1-NN label = conditioning class for {accuracy:.1%} of {len(cond)} generated digits; "
          f"class histogram {hist.tolist()}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no image written")
        return
    images = np.clip(samples * scale + mean, 0, 1).reshape(CLASSES, n_eval, 8, 8)[:, :10]
    grid = images.transpose(0, 2, 1, 3).reshape(CLASSES * 8, 10 * 8)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid, cmap="gray_r")
    ax.set_title(f"drift.jax, {a.steps} steps (one row per class)")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
