"""The inputs both sides read: seeded Gaussian mixtures in float32, scaled to a mean X-Y distance
of 1 (so one temperature means the same at every dimension)."""
import numpy as np


def mixtures(n, m, d, seed=0, clusters=8):
    """X: `clusters` Gaussian blobs around random centres; Y: the same number of blobs around
    displaced centres, with other proportions. Both divided by the mean distance between 2048
    random (x, y) pairs."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, d))
    moved = centres + 0.5 * rng.normal(size=(clusters, d))
    p = rng.dirichlet(np.full(clusters, 2.0))
    y = moved[rng.choice(clusters, m, p=p)] + 0.6 * rng.normal(size=(m, d))
    i, j = rng.integers(0, n, 2048), rng.integers(0, m, 2048)
    scale = np.linalg.norm(x[i] - y[j], axis=1).mean()
    return (x / scale).astype(np.float32), (y / scale).astype(np.float32)
