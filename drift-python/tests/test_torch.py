"""PyTorch CPU tensors: the same result as NumPy, V comes back as a tensor, inputs are viewed
without copying, and a tensor on another device gets a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import drift
from drift import _arrays
from conftest import blobs

torch = pytest.importorskip("torch", reason="PyTorch is not installed")

OP = '{"sinkhorn_drift": (temperature: 0.1, sinkhorn: (max_iters: 20))}'


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_and_torch_give_the_same_field(dtype):
    op = drift.load(OP)
    x, y = blobs(40, 50, 3, seed=1, dtype=dtype)
    expected = op(x, y)
    v = op(torch.from_numpy(x), torch.from_numpy(y))
    assert isinstance(v, torch.Tensor) and v.dtype == torch.from_numpy(x).dtype
    assert v.shape == x.shape
    assert np.array_equal(v.numpy(), expected)
    # Mixed: a tensor x with NumPy data, and the other way round (V follows x).
    assert np.array_equal(op(torch.from_numpy(x), y).numpy(), expected)
    assert isinstance(op(x, torch.from_numpy(y)), np.ndarray)


def test_tensors_that_require_grad_and_strided_tensors():
    op = drift.load(OP)
    x, y = blobs(30, 30, 2, seed=2)
    expected = op(x, y)
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    v = op(xt, torch.from_numpy(y))
    assert not v.requires_grad
    assert np.array_equal(v.numpy(), expected)
    # A transposed (column-major) tensor and a strided slice.
    xT = torch.from_numpy(np.ascontiguousarray(x.T)).T
    assert not xT.is_contiguous()
    assert np.array_equal(op(xT, torch.from_numpy(y)).numpy(), expected)
    big = torch.zeros(60, 2, dtype=torch.float64)
    big[::2] = torch.from_numpy(x)
    assert np.array_equal(op(big[::2], y).numpy(), expected)


def test_cpu_tensors_are_viewed_without_a_copy():
    t = torch.randn(10, 3)
    a = _arrays.points("x", t)
    assert np.shares_memory(a, t.numpy())
    tT = torch.randn(3, 10).T
    assert np.shares_memory(_arrays.points("x", tT), tT.numpy())


def test_a_tensor_on_another_device_gets_a_clear_error():
    op = drift.load(OP)
    # The meta device stands in for CUDA on machines without a GPU: any non-CPU device is refused.
    x = torch.empty(10, 2, device="meta")
    with pytest.raises(ValueError, match=r"`x` is a tensor on device meta; drift computes on the CPU only"):
        op(x, torch.zeros(10, 2))
    with pytest.raises(ValueError, match=r"`y` is a tensor on device meta"):
        op(torch.zeros(10, 2), x)


def test_half_precision_tensors_are_refused():
    op = drift.load(OP)
    with pytest.raises(ValueError, match="float32 or float64"):
        op(torch.zeros(4, 2, dtype=torch.float16), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="no NumPy view"):
        op(torch.zeros(4, 2, dtype=torch.bfloat16), torch.zeros(4, 2))
