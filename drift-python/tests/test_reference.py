"""Results equal the Rust library's bit for bit: every registered operator (its registry example),
in float32 and float64, against `drift-bench apply --out V.npy` on the same .npy inputs."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

import drift
from conftest import blobs

OPERATORS = [e for e in drift.operators()]


def run_cli(drift_bench, tmp_path, ron, x, y, *, x_weights=None, y_weights=None, negatives=None,
            step=0, time=0.0):
    """V and the printed report from `drift-bench apply`."""
    files = {"op.ron": ron}
    args = [drift_bench, "apply", "--op", str(tmp_path / "op.ron"), "--x", str(tmp_path / "x.npy"),
            "--y", str(tmp_path / "y.npy"), "--out", str(tmp_path / "v.npy"),
            "--step", str(step), "--time", repr(time)]
    (tmp_path / "op.ron").write_text(files["op.ron"])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for flag, name, arr in (("--x-weights", "xw.npy", x_weights), ("--y-weights", "yw.npy", y_weights),
                            ("--negatives", "neg.npy", negatives)):
        if arr is not None:
            np.save(tmp_path / name, arr)
            args += [flag, str(tmp_path / name)]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return np.load(tmp_path / "v.npy"), done.stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("entry", OPERATORS, ids=[e.name for e in OPERATORS])
def test_every_operator_matches_the_cli_bit_for_bit(drift_bench, tmp_path, entry, dtype):
    x, y = blobs(48, 40, 3, seed=1, dtype=dtype)
    # guidance needs its negatives; the step and time reach schedules such as `annealed`.
    negatives = blobs(16, 1, 3, seed=2, dtype=dtype)[0] if entry.name == "guidance" else None
    expected, _ = run_cli(drift_bench, tmp_path, entry.example, x, y, negatives=negatives,
                          step=3, time=0.25)
    op = drift.load(entry.example)
    v = op(x, y, negatives=negatives, step=3, time=0.25)
    assert v.dtype == dtype and v.shape == x.shape
    assert expected.dtype == dtype
    assert np.array_equal(v, expected), np.abs(v - expected).max()


def test_weights_match_the_cli(drift_bench, tmp_path):
    x, y = blobs(30, 50, 2, seed=3)
    rng = np.random.default_rng(4)
    xw, yw = rng.uniform(0, 2, 30), rng.uniform(0, 2, 50)
    yw[7] = 0.0
    ron = '{"sinkhorn_drift": (temperature: 0.1, sinkhorn: (max_iters: 40, tol: 1e-6))}'
    expected, _ = run_cli(drift_bench, tmp_path, ron, x, y, x_weights=xw, y_weights=yw)
    v = drift.load(ron)(x, y, x_weights=xw, y_weights=yw)
    assert np.array_equal(v, expected)


def test_the_report_matches_the_cli(drift_bench, tmp_path):
    x, y = blobs(64, 64, 2, seed=5)
    ron = '{"sinkhorn_drift": (temperature: 0.02, sinkhorn: (max_iters: 30, tol: 1e-9))}'
    _, printed = run_cli(drift_bench, tmp_path, ron, x, y)
    op = drift.load(ron)
    op(x, y)
    r = op.last_report
    norm = float(re.search(r"drift norm λ = (\S+)", printed).group(1))
    assert f"{r.drift_norm:.6e}" == f"{norm:.6e}"
    lines = re.findall(r"(\w+) coupling (\w+): (\d+) iterations, marginal error (\S+), (NOT converged|converged)", printed)
    assert len(lines) == len(r.couplings) == 2
    for c, (term, name, its, err, conv) in zip(r.couplings, lines):
        assert (c.term, c.coupling, c.iterations) == (term, name, int(its))
        assert float(f"{c.marginal_error:.3e}") == float(err)
        assert c.converged == (conv == "converged")
    # 30 iterations at a tolerance of 1e-9 and a low temperature do not converge.
    assert not r.converged and r.total_iterations == sum(c.iterations for c in r.couplings)
    assert r.precision.requested == "float64" and r.trusted
