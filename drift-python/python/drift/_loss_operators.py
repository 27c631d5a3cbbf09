"""What `drift.torch` and `drift.jax` share: the operators their losses run, by key (RON text,
loaded once, or the key of an `Operator` object handed in), and the temperatures each reports
norms for."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from ._operator import Operator, from_ron

OperatorLike = Union[None, str, Operator]

# Operators by key: RON text (loaded on first use) or the key of a registered Operator object.
_OPERATORS: Dict[str, Operator] = {}
# The temperatures each operator reports norms for, by key (found once by a small evaluation).
_TEMPERATURES: Dict[str, Tuple[float, ...]] = {}


def official_ron(R_list: Sequence[float] = (0.02, 0.05, 0.2)) -> str:
    """The RON text of the official loss's drift at the temperatures `R_list`."""
    temps = ", ".join(repr(float(r)) for r in R_list)
    return f'{{"deng_official": (temperatures: [{temps}])}}'


def operator_of(key: str) -> Operator:
    """The operator of `key`, loading RON text on first use."""
    op = _OPERATORS.get(key)
    if op is None:
        op = from_ron(key, "<drift loss operator>")
        _OPERATORS[key] = op
    return op


def is_loaded(key: str) -> bool:
    """Whether the operator of `key` is loaded."""
    return key in _OPERATORS


def forget(key: str) -> None:
    """Lets go of the operator of `key` (a key used once, such as a learned temperature's)."""
    _OPERATORS.pop(key, None)


def probe_temperatures(op: Operator) -> Tuple[float, ...]:
    """The temperatures an operator reports batch norms for, from one evaluation of a tiny batch
    (an operator that cannot run on it reports none)."""
    x = np.array([[[0.0], [0.3], [1.0]]], dtype=np.float64)
    y = np.array([[[0.5], [1.5], [2.0]]], dtype=np.float64)
    try:
        _, report = op.apply_batch(x, y)
    except ValueError:
        return ()
    return tuple(t for t, _ in report.temperature_norms)


def key_and_temperatures(operator: OperatorLike) -> Tuple[str, Tuple[float, ...]]:
    """The key of an operator given as RON text or a `drift.Operator` (registered under it), and
    the temperatures whose norms it reports (cached per key)."""
    if isinstance(operator, Operator):
        key = operator.ron.strip() or f"<{operator.origin} at {id(operator):#x}>"
        _OPERATORS.setdefault(key, operator)
    elif isinstance(operator, str):
        key = operator
    else:
        raise ValueError(
            f"`operator` must be None, RON text or a drift.Operator, got {type(operator).__name__}"
        )
    temps = _TEMPERATURES.get(key)
    if temps is None:
        temps = probe_temperatures(operator_of(key))
        _TEMPERATURES[key] = temps
    return key, temps


# The official loss's floor of c = s / sqrt(S).
SCALE_FLOOR = 1e-3


def loss_stats(report: Any, dim: int, norms: int) -> List[float]:
    """What a loss needs from a batch report: `[s, c, λ_1², …, λ_norms²]` (the official info's
    `loss_R`),
    NaN where the operator reports no scale or fewer norms. `c = max(s/√S, 1e-3)` is the official
    loss's divisor when the operator is the official loss with its scale over the batch, else 1."""
    stats = [math.nan] * (2 + norms)
    c = 1.0
    if report.scale is not None:
        stats[0] = report.scale
        if report.operator == "deng_official" and report.reduction == "Batch":
            c = max(report.scale / math.sqrt(dim), SCALE_FLOOR)
    stats[1] = c
    for k, (_, lam) in enumerate(report.temperature_norms[:norms]):
        stats[2 + k] = lam * lam
    return stats
