"""Inputs as NumPy arrays (PyTorch CPU tensors and other array-likes without copying where the
layout allows), and the field returned as the kind of object the caller passed."""

from __future__ import annotations

import sys
from typing import Any, Optional

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _torch():
    """The torch module if the program has imported it (drift never imports it itself)."""
    return sys.modules.get("torch")


def is_tensor(obj: Any) -> bool:
    """True for a PyTorch tensor."""
    torch = _torch()
    return torch is not None and isinstance(obj, torch.Tensor)


def as_array(name: str, obj: Any) -> np.ndarray:
    """`obj` as a NumPy array sharing its memory where it can: a CPU tensor through `Tensor.numpy()`
    (any strides), a NumPy array as it is, anything else through `np.asarray`."""
    if is_tensor(obj):
        if obj.device.type != "cpu":
            raise ValueError(
                f"`{name}` is a tensor on device {obj.device}; drift computes on the CPU only "
                f"from Python for now (its CUDA backend is reached from Rust and from "
                f"`drift-bench --backend cuda`, not yet from this package): pass `{name}.cpu()` "
                f"and move V back with `.to({name}.device)`"
            )
        try:
            # detach() shares the storage; numpy() then views it without a copy.
            return obj.detach().numpy()
        except (TypeError, RuntimeError) as e:
            raise ValueError(f"`{name}`: this tensor has no NumPy view ({e})") from None
    if isinstance(obj, np.ndarray):
        return obj
    try:
        array = np.asarray(obj)
    except Exception as e:  # whatever an array-like raises while converting
        raise ValueError(f"`{name}` cannot be read as an array: {e}") from None
    if array.dtype.kind not in "fiub":
        raise ValueError(
            f"`{name}` must be an array of numbers, found {type(obj).__name__} "
            f"(dtype {array.dtype})"
        )
    return array


def points(name: str, obj: Any) -> np.ndarray:
    """The generated samples: a float32 or float64 array, which sets the precision."""
    array = as_array(name, obj)
    if array.dtype not in _FLOATS:
        raise ValueError(
            f"`{name}` must hold float32 or float64 values, found {array.dtype} "
            f"(convert it, e.g. `{name}.astype(np.float32)`)"
        )
    return array


def widen(obj: Any) -> Any:
    """A bfloat16 or float16 tensor widened to float32 (a copy); anything else as it is."""
    torch = _torch()
    if is_tensor(obj) and obj.dtype in (torch.bfloat16, torch.float16):
        return obj.detach().float()
    return obj


def batch_points(name: str, obj: Any):
    """The generated samples of a batch: `(array, widened)`, a bfloat16 or float16 tensor widened
    to float32 (`widened` is then True and the field goes back to the tensor's dtype)."""
    wide = widen(obj)
    return points(name, wide), wide is not obj


def like(name: str, obj: Optional[Any], dtype: np.dtype) -> Optional[np.ndarray]:
    """Another input in the precision of the generated samples (narrowing rounds to nearest)."""
    if obj is None:
        return None
    array = as_array(name, obj)
    if array.dtype.kind not in "fiub":
        raise ValueError(f"`{name}` must hold numbers, found dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def result(v: np.ndarray, like_obj: Any) -> Any:
    """The field as the kind of object `x` was: a tensor for a tensor (sharing V's memory)."""
    if is_tensor(like_obj):
        return _torch().from_numpy(v)
    return v
