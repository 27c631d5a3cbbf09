"""Batches of problems in one call (`Operator.apply_batch`): the same field as a loop of `apply`
for an operator without batch-wide statistics, a batch of one equal to `apply`, the batch report,
and shape errors that name the argument and both shapes."""

from __future__ import annotations

import numpy as np
import pytest

import drift

ONE_SIDED = '{"one_sided": (temperature: 0.2)}'
# An operator without a fused batched path: its batches run problem by problem.
PER_PROBLEM = '{"f_divergence": (divergence: jensen_shannon, temperature: 0.2)}'
OFFICIAL = '{"deng_official": ()}'


def batch(b, n, m, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, n, d))
    y = rng.standard_normal((b, m, d)) * 0.7 + 1.0
    return x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_batch_equals_a_loop_of_apply_for_a_per_problem_operator(dtype):
    op = drift.load(PER_PROBLEM)
    x, y = batch(5, 7, 9, 3, seed=1, dtype=dtype)
    rng = np.random.default_rng(2)
    xw = rng.uniform(0.5, 2.0, (5, 7)).astype(dtype)
    yw = rng.uniform(0.5, 2.0, (5, 9)).astype(dtype)
    v, report = op.apply_batch(x, y, x_weights=xw, y_weights=yw)
    assert v.shape == x.shape and v.dtype == x.dtype
    assert report.operator == "f_divergence" and report.problems == 5
    assert not report.fused
    assert report.reduction is None and report.scale is None
    assert report.temperature_norms == [] and report.parts == []
    assert len(report.per_problem) == 5
    for b in range(5):
        vb, rb = op.apply(x[b], y[b], x_weights=xw[b], y_weights=yw[b])
        assert np.array_equal(v[b], vb), f"problem {b}"
        assert report.per_problem[b].drift_norm == rb.drift_norm
    norms = np.array([r.drift_norm for r in report.per_problem])
    assert report.drift_norm == pytest.approx(np.sqrt(np.mean(norms**2)), rel=1e-12)


@pytest.mark.parametrize("dtype,tolerance", [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_a_fused_batch_equals_a_loop_of_apply_to_rounding(dtype, tolerance):
    op = drift.load(ONE_SIDED)
    x, y = batch(5, 7, 9, 3, seed=1, dtype=dtype)
    v, report = op.apply_batch(x, y)
    assert report.operator == "one_sided" and report.fused and report.per_problem == []
    loop = np.stack([op.apply(x[b], y[b])[0] for b in range(5)])
    assert np.max(np.abs(v - loop)) <= tolerance * np.max(np.abs(loop))


def test_a_batch_equals_a_loop_of_apply_with_negatives():
    op = drift.load(
        '{"guidance": (operator: {"f_divergence": (divergence: jensen_shannon, temperature: 0.2)}, alpha: 2.0)}'
    )
    x, y = batch(3, 6, 8, 2, seed=3)
    neg = np.random.default_rng(4).standard_normal((3, 5, 2))
    v, report = op.apply_batch(x, y, negatives=neg)
    for b in range(3):
        assert np.array_equal(v[b], op.apply(x[b], y[b], negatives=neg[b])[0])
    # Guidance runs its own batched path and reports the inner operator's batch as a part.
    assert report.operator == "guidance" and report.problems == 3
    assert [p.operator for p in report.parts] == ["f_divergence"]


@pytest.mark.parametrize("spec", [ONE_SIDED, OFFICIAL])
def test_a_batch_of_one_equals_apply(spec):
    op = drift.load(spec)
    x, y = batch(1, 12, 15, 4, seed=5, dtype=np.float32)
    v, report = op.apply_batch(x, y)
    v1, r1 = op.apply(x[0], y[0])
    assert np.array_equal(v[0], v1)
    assert report.drift_norm == r1.drift_norm


def test_the_official_operator_reports_its_batch_statistics():
    op = drift.load(OFFICIAL)
    x, y = batch(4, 8, 10, 3, seed=6)
    _, report = op.apply_batch(x, y)
    assert report.operator == "deng_official"
    assert report.reduction == "Batch"
    assert report.scale is not None and report.scale > 0
    assert [t for t, _ in report.temperature_norms] == [0.02, 0.05, 0.2]
    assert all(lam > 0 for _, lam in report.temperature_norms)
    assert report.per_problem == []
    assert "deng_official" in repr(report)
    _, per = drift.load('{"deng_official": (over: Problem)}').apply_batch(x, y)
    assert per.reduction == "Problem"


def test_array_likes_and_layouts():
    op = drift.load(ONE_SIDED)
    x, y = batch(2, 5, 6, 3, seed=7)
    expected, _ = op.apply_batch(x, y)
    # Nested lists, Fortran order, a strided view: the same field.
    assert np.array_equal(op.apply_batch(x.tolist(), y.tolist())[0], expected)
    assert np.array_equal(op.apply_batch(np.asfortranarray(x), y)[0], expected)
    big = np.zeros((2, 10, 3))
    big[:, ::2] = x
    assert np.array_equal(op.apply_batch(big[:, ::2], y)[0], expected)
    # y in another precision is converted to x's.
    v32, _ = op.apply_batch(x.astype(np.float32), y)
    assert v32.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(y=np.zeros((3, 9, 3))),
         r"`y`: shape \(3, 9, 3\) does not match `x`'s 4 problems of dimension 3: expected \(4, n, 3\)"),
        (dict(y=np.zeros((4, 9, 2))),
         r"`y`: shape \(4, 9, 2\) does not match `x`'s 4 problems of dimension 3"),
        (dict(y=np.zeros((9, 3))),
         r"`y`: shape \(9, 3\) but `x` is a batch of problems: give `y` as \(B, n, D\)"),
        (dict(negatives=np.zeros((4, 2, 5))),
         r"`negatives`: shape \(4, 2, 5\) does not match `x`'s 4 problems of dimension 3"),
        (dict(x_weights=np.ones((4, 5))),
         r"`x_weights`: shape \(4, 5\) but `x` holds 4 problems of 6 points: expected \(4, 6\)"),
        (dict(y_weights=np.ones(9)),
         r"`y_weights`: shape \(9,\) but `y` holds 4 problems of 9 points: expected \(4, 9\)"),
        (dict(negatives=np.zeros((4, 2, 3)), negative_weights=np.ones((4, 3))),
         r"`negative_weights`: shape \(4, 3\) but `negatives` holds 4 problems of 2 points"),
        (dict(negative_weights=np.ones((4, 3))), r"`negative_weights` given without `negatives`"),
        (dict(y=np.zeros((4, 0, 3))), r"`y` is empty \(shape \(4, 0, 3\)\)"),
    ],
)
def test_bad_shapes_name_the_argument_and_both_shapes(kwargs, message):
    op = drift.load(ONE_SIDED)
    args = dict(x=np.zeros((4, 6, 3)), y=np.ones((4, 9, 3)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        op.apply_batch(args.pop("x"), args.pop("y"), **args)


def test_x_must_be_a_batch_and_of_one_float_dtype():
    op = drift.load(ONE_SIDED)
    with pytest.raises(ValueError, match=r"`x` must have shape \(B, N, D\).*found shape \(6, 3\)"):
        op.apply_batch(np.zeros((6, 3)), np.ones((6, 3)))
    with pytest.raises(ValueError, match=r"`x` must hold float32 or float64"):
        op.apply_batch(np.zeros((1, 6, 3), dtype=np.int64), np.ones((1, 6, 3)))
    # The native call takes one dtype only (the wrapper converts): mixed dtypes are refused.
    with pytest.raises(ValueError, match=r"`y` must be a NumPy array of f32"):
        op._native.apply_batch(np.zeros((1, 6, 3), np.float32), np.ones((1, 6, 3)), None, None,
                               None, None, 0, 0.0)
    with pytest.raises(ValueError, match=r"non-finite|finite"):
        x = np.zeros((1, 6, 3))
        x[0, 2, 1] = np.nan
        op.apply_batch(x, np.ones((1, 6, 3)))
    with pytest.raises(ValueError, match="time"):
        op.apply_batch(np.zeros((1, 6, 3)), np.ones((1, 6, 3)), time=float("inf"))
