"""A particle flow on a 2-D mixture of eight Gaussians with two drift operators, plotted.

Particles start in a blob at the origin and move by Euler steps x <- x + eta * V(x), V from a
one-sided (Deng et al.) and a Sinkhorn operator. Writes flow.png (Agg backend).

    python drift-python/examples/flow.py [--steps 200] [--n 512] [--out flow.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import drift  # noqa: E402


def eight_gaussians(m: int, rng: np.random.Generator) -> np.ndarray:
    angles = 2 * np.pi * rng.integers(0, 8, m) / 8
    centres = 4.0 * np.stack([np.cos(angles), np.sin(angles)], 1)
    return centres + 0.3 * rng.standard_normal((m, 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--eta", type=float, default=0.5)
    p.add_argument("--out", default="flow.png")
    a = p.parse_args()

    rng = np.random.default_rng(0)
    y = eight_gaussians(a.n, rng)
    start = 0.5 * rng.standard_normal((a.n, 2))
    operators = {
        "one-sided (Laplace, tau 0.5)": drift.OneSided(temperature=0.5),
        "Sinkhorn drift (Gaussian, tau 1)": drift.SinkhornDrift(
            temperature=1.0, sinkhorn=dict(max_iters=50, tol=1e-4)
        ),
    }
    fig, axes = plt.subplots(1, len(operators), figsize=(5 * len(operators), 5))
    for ax, (label, op) in zip(axes, operators.items()):
        x = start.copy()
        for step in range(a.steps):
            x += a.eta * op(x, y, step=step, time=step * a.eta)
        r = op.last_report
        print(f"{label}: {a.steps} steps, final drift norm {r.drift_norm:.3e}, "
              f"Sinkhorn iterations {r.total_iterations}, converged {r.converged}")
        ax.scatter(y[:, 0], y[:, 1], s=3, c="lightgray", label="data")
        ax.scatter(x[:, 0], x[:, 1], s=3, c="tab:blue", label="particles")
        ax.set_title(label)
        ax.set_aspect("equal")
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
