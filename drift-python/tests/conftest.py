"""Shared fixtures: the repository root, the drift-bench binary the results are compared with, and
seeded point sets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def drift_bench_path():
    """The drift-bench binary: $DRIFT_BENCH, or the workspace's release build, or on PATH."""
    candidates = [os.environ.get("DRIFT_BENCH")]
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        candidates.append(os.path.join(target, "release", "drift-bench"))
    candidates.append(str(ROOT / "target" / "release" / "drift-bench"))
    candidates.append(shutil.which("drift-bench"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="session")
def drift_bench():
    path = drift_bench_path()
    if path is None:
        pytest.skip(
            "the drift-bench binary is not built (cargo build --release -p drift-bench, or set "
            "DRIFT_BENCH): the bit-for-bit comparison with the Rust library needs it"
        )
    return path


def blobs(n, m, d, seed=0, dtype=np.float64):
    """Generated samples around 0 and data around 1, seeded."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rng.standard_normal((m, d)) * 0.7 + 1.0
    return x.astype(dtype), y.astype(dtype)
