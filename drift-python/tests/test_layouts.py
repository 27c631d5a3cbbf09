"""Any memory layout gives the same field: non-contiguous, Fortran-order, strided and 1-D inputs;
V keeps the shape and dtype of x."""

from __future__ import annotations

import numpy as np
import pytest

import drift
from conftest import blobs

OP = '{"sinkhorn_drift": (temperature: 0.1, sinkhorn: (max_iters: 20))}'


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fortran_order_and_strided_views(dtype):
    op = drift.load(OP)
    x, y = blobs(40, 30, 3, seed=1, dtype=dtype)
    expected = op(x, y)
    assert expected.dtype == dtype and expected.flags.c_contiguous
    assert np.array_equal(op(np.asfortranarray(x), np.asfortranarray(y)), expected)
    # Every other row of a bigger array, and a transposed view.
    big = np.zeros((80, 3), dtype=dtype)
    big[::2] = x
    assert not big[::2].flags.c_contiguous
    assert np.array_equal(op(big[::2], y), expected)
    xt = np.ascontiguousarray(x.T).T
    assert not xt.flags.c_contiguous
    assert np.array_equal(op(xt, y), expected)
    # Columns taken with a step.
    wide = np.zeros((40, 6), dtype=dtype)
    wide[:, ::2] = x
    assert np.array_equal(op(wide[:, ::2], y), expected)


def test_one_dimensional_points_keep_their_shape():
    op = drift.load('{"one_sided": (temperature: 0.2)}')
    x, y = blobs(25, 20, 1, seed=2)
    v = op(x[:, 0], y[:, 0])
    assert v.shape == (25,)
    assert np.array_equal(v, op(x, y)[:, 0])


def test_lists_and_other_dtypes_for_the_data():
    op = drift.load('{"one_sided": (temperature: 0.2)}')
    x, y = blobs(10, 12, 2, seed=3)
    # y in float32 is widened to x's float64 exactly; lists work too.
    y32 = y.astype(np.float32)
    assert np.array_equal(op(x, y32), op(x, y32.astype(np.float64)))
    assert np.array_equal(op(x, y.tolist()), op(x, y))
    # x in float32 sets the precision: y is rounded to float32.
    v = op(x.astype(np.float32), y)
    assert v.dtype == np.float32
    assert np.array_equal(v, op(x.astype(np.float32), y.astype(np.float32)))


def test_the_inputs_are_not_modified():
    op = drift.load(OP)
    x, y = blobs(16, 16, 2, seed=4)
    x0, y0 = x.copy(), y.copy()
    op(x, y)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)
