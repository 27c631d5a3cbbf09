"""The checks `drift.torch` makes of its tensors before any computation."""

from __future__ import annotations

import torch


def _check_inputs(gen, fixed_pos, fixed_neg, weights) -> None:
    """Shapes `[B, C, S]` and the CPU (with a message for CUDA tensors), and no negative weights
    without negatives."""
    if weights.get("weight_neg") is not None and fixed_neg is None:
        raise ValueError("`weight_neg` given without `fixed_neg`")
    named = [("gen", gen), ("fixed_pos", fixed_pos), ("fixed_neg", fixed_neg)]
    named += list(weights.items())
    for name, t in named:
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"`{name}` must be a torch.Tensor, got {type(t).__name__}")
        if t.device.type != "cpu":
            raise ValueError(
                f"`{name}` is a tensor on device {t.device}: drift's CUDA path is not wired to "
                f"Python yet, so drift.torch computes on the CPU only; move the tensors to the "
                f"CPU (`{name}.cpu()`) and the loss back with `.to(device)`"
            )
    for name, t in named[:3]:
        if t is not None and t.dim() != 3:
            raise ValueError(f"`{name}` must have shape [B, C, S], found {tuple(t.shape)}")
    b, _, s = gen.shape
    for name, t in named[1:3]:
        if t is not None and (t.shape[0] != b or t.shape[2] != s):
            raise ValueError(
                f"`{name}`: shape {tuple(t.shape)} does not match `gen`'s {b} problems of "
                f"dimension {s}: expected ({b}, C, {s})"
            )
    for (name, t), points in zip(named[3:], ("gen", "fixed_pos", "fixed_neg")):
        p = dict(named[:3])[points]
        if t is not None and p is not None and tuple(t.shape) != tuple(p.shape[:2]):
            raise ValueError(
                f"`{name}`: shape {tuple(t.shape)} but `{points}` holds {p.shape[0]} problems "
                f"of {p.shape[1]} points: expected {tuple(p.shape[:2])}"
            )
