"""The registry listings, the constructors (the same object as the RON text), the report and the
documentation."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import drift
from conftest import blobs


def test_listings_have_summaries_parameters_and_valid_examples():
    ops = drift.operators()
    names = [e.name for e in ops]
    for expected in ("one_sided", "sinkhorn_drift", "mmd", "guidance", "weighted"):
        assert expected in names
    assert {e.name for e in drift.kernels()} >= {"gaussian", "laplace"}
    assert {e.name for e in drift.couplings()} >= {"row", "sinkhorn", "proxy"}
    assert {e.name for e in drift.weightings()} >= {"unit", "mass_product"}
    for e in drift.entries():
        assert e.summary and e.example
        assert all(p.name for p in e.params)
    for e in ops:
        drift.load(e.example)
    sd = next(e for e in ops if e.name == "sinkhorn_drift")
    temperature = next(p for p in sd.params if p.name == "temperature")
    assert temperature.type == "f64" and temperature.default is None
    kernel = next(p for p in sd.params if p.name == "kernel")
    assert (kernel.type, kernel.default) == ("Kernel", "gaussian")


def test_the_listing_is_the_cli_listing(drift_bench):
    printed = subprocess.run([drift_bench, "list"], capture_output=True, text=True, check=True).stdout
    for e in drift.entries():
        assert f"  {e.name} " in printed and e.summary in printed


def same_field(a, b):
    x, y = blobs(30, 40, 2, seed=9)
    return np.array_equal(a(x, y), b(x, y))


def test_constructors_build_the_operator_a_ron_file_gives():
    assert same_field(
        drift.SinkhornDrift(temperature=0.05, kernel="laplace", sinkhorn=dict(max_iters=20, tol=1e-7, epsilon_scaling=0.5)),
        drift.load('{"sinkhorn_drift": (temperature: 0.05, kernel: {"laplace": ()}, sinkhorn: (max_iters: 20, tol: 1e-7, epsilon_scaling: Some(0.5)))}'),
    )
    assert same_field(
        drift.Weighted(terms=[dict(weight=1.0, operator=drift.OneSided(temperature=0.05)),
                              dict(weight=0.5, operator=drift.Mmd(temperature=0.5, kernel="laplace"))]),
        drift.load('{"weighted": (terms: [(weight: 1.0, operator: {"one_sided": (temperature: 0.05)}), (weight: 0.5, operator: {"mmd": (temperature: 0.5, kernel: laplace)})])}'),
    )
    assert same_field(
        drift.CrossMinusSelf(
            attraction=dict(kernel="gaussian", coupling={"sinkhorn": {"max_iters": 10}}, temperature=0.1),
            repulsion=dict(kernel={"inverse_multiquadric": {"beta": 1.0}}, coupling="proxy", temperature=0.1),
            weighting="unit"),
        drift.load('{"cross_minus_self": (attraction: (kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 10)}, temperature: 0.1), repulsion: (kernel: {"inverse_multiquadric": (beta: 1.0)}, coupling: {"proxy": ()}, temperature: 0.1), weighting: {"unit": ()})}'),
    )
    assert same_field(
        drift.FDivergence(divergence="jensen_shannon", temperature=0.1, kernel=drift.Ron('{"gaussian": ()}')),
        drift.load('{"f_divergence": (divergence: jensen_shannon, temperature: 0.1)}'),
    )
    # Every operator has one, named in CamelCase.
    for e in drift.operators():
        assert callable(getattr(drift, "".join(p.capitalize() for p in e.name.split("_"))))


def test_the_report_says_what_the_call_did():
    op = drift.SinkhornDrift(temperature=0.5, sinkhorn=dict(max_iters=500, tol=1e-5))
    x, y = blobs(50, 60, 2, seed=3, dtype=np.float32)
    v, r = op.apply(x, y)
    assert op.last_report is None
    op(x, y)
    assert op.last_report.drift_norm == r.drift_norm
    assert r.operator == "sinkhorn_drift"
    # drift norm as the library defines it: sqrt(mean |V|^2 / D).
    assert r.drift_norm == pytest.approx(float(np.sqrt((v.astype(np.float64) ** 2).sum(1).mean() / 2)), rel=1e-5)
    assert [c.term for c in r.couplings] == ["attraction", "repulsion"]
    for c in r.couplings:
        assert c.coupling == "sinkhorn" and c.iterations > 0 and c.converged
        assert 0 <= c.marginal_error <= 1e-5
    assert r.converged and r.max_marginal_error == max(c.marginal_error for c in r.couplings)
    # The pairs are cached within the default budget, at any dimension.
    assert {c.path for c in r.couplings} == {"cached"}
    x16, y16 = blobs(50, 60, 16, seed=3, dtype=np.float32)
    assert {c.path for c in op.apply(x16, y16)[1].couplings} == {"cached"}
    assert op.apply(x16, y16)[1].parts == [] and drift.OneSided(temperature=0.5).apply(x, y)[1].couplings[0].path is None
    assert r.precision.requested == "float32" and r.trusted
    composed = drift.Sum(operators=[drift.OneSided(temperature=0.05), drift.SlicedWasserstein(directions=8)])
    composed(x, y)
    assert [p.operator for p in composed.last_report.parts] == ["one_sided", "sliced_wasserstein"]


def test_docstrings():
    assert "RON" in drift.load.__doc__ and "SpecError" in drift.load.__doc__
    assert "returns" in drift.Operator.__call__.__doc__.lower()
    assert "Balanced Sinkhorn" in drift.SinkhornDrift.__doc__ or "Sinkhorn" in drift.SinkhornDrift.__doc__
    assert "file" in drift.SpecError.__doc__ and "line" in drift.SpecError.__doc__
