"""A one-step generator (a small PyTorch MLP) trained on the vendored 8x8 digits with the drifting
loss || f(z) - (f(z) + V).detach() ||^2, V from drift, comparing a one-sided and a Sinkhorn operator
at a low temperature. Reports the class histogram of generated digits by a nearest-neighbour
classifier and writes digits.png (samples and histograms, Agg backend).

    python drift-python/examples/train_generator.py [--steps 400] [--out digits.png]
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import drift  # noqa: E402

DIGITS = Path(__file__).resolve().parents[2] / "drift-bench" / "data" / "digits.csv.gz"


def load_digits():
    """Pixels in [0, 1] (64 per image) and labels, from the vendored UCI digits."""
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :64] / 16.0, table[:, 64].astype(int)


def nearest_labels(samples: np.ndarray, data: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The label of each sample's nearest data point (1-NN classifier)."""
    d2 = (samples**2).sum(1)[:, None] - 2 * samples @ data.T + (data**2).sum(1)[None, :]
    return labels[d2.argmin(1)]


def train(op, data, steps, batch, seed):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(16, 256), torch.nn.SiLU(),
        torch.nn.Linear(256, 256), torch.nn.SiLU(),
        torch.nn.Linear(256, 64),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    y_all = torch.from_numpy(data.astype(np.float32))
    rng = np.random.default_rng(seed)
    for step in range(steps):
        z = torch.randn(batch, 16)
        out = net(z)
        y = y_all[rng.choice(len(y_all), batch, replace=False)]
        # V is a constant of the loss: computed on detached samples, in their dtype.
        v = op(out.detach(), y, step=step)
        loss = ((out - (out + v).detach()) ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return net(torch.randn(1000, 16)).numpy(), op.last_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.02)
    p.add_argument("--out", default="digits.png")
    a = p.parse_args()

    pixels, labels = load_digits()
    # Normalised coordinates: centred, unit mean distance between data points, so that one
    # temperature means the same for both operators.
    mean = pixels.mean(0)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(pixels), (2000, 2))
    scale = np.linalg.norm(pixels[pairs[:, 0]] - pixels[pairs[:, 1]], axis=1).mean()
    data = (pixels - mean) / scale
    operators = {
        "one-sided": drift.OneSided(temperature=a.temperature),
        "Sinkhorn": drift.SinkhornDrift(temperature=a.temperature, kernel="laplace",
                                        sinkhorn=dict(max_iters=50, tol=1e-4)),
    }
    fig, axes = plt.subplots(2, len(operators), figsize=(6 * len(operators), 9))
    for col, (name, op) in enumerate(operators.items()):
        samples, report = train(op, data, a.steps, a.batch, seed=1)
        classes = nearest_labels(samples, data, labels)
        hist = np.bincount(classes, minlength=10)
        print(f"{name:>10}: class histogram of 1000 generated digits {hist.tolist()}, "
              f"classes present {int((hist > 0).sum())}/10, last drift norm {report.drift_norm:.3e}")
        images = np.clip(samples[:64] * scale + mean, 0, 1).reshape(8, 8, 8, 8)
        axes[0, col].imshow(images.transpose(0, 2, 1, 3).reshape(64, 64), cmap="gray_r")
        axes[0, col].set_title(f"{name}, tau {a.temperature}, {a.steps} steps")
        axes[0, col].axis("off")
        axes[1, col].bar(range(10), hist)
        axes[1, col].set_xticks(range(10))
        axes[1, col].set_title("class histogram (1-NN)")
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
