"""drift: drift operators for one-step generative models trained by drifting.

A drift operator takes generated samples X and data samples Y and returns a vector field V(x_i)
saying where each generated sample should move. Load one from RON and call it on NumPy arrays or
PyTorch CPU tensors:

    import drift
    op = drift.load('{"sinkhorn_drift": (temperature: 0.05)}')   # or a .ron file
    op = drift.SinkhornDrift(temperature=0.05)                    # the same operator
    V = op(x, y)                   # shape and dtype of x; a tensor when x is one
    op.last_report.drift_norm      # diagnostics of the call, never printed

The drifting loss of a one-step generator is then `((f(z) - (f(z) + V).detach()) ** 2).mean()`.
`drift.operators()`, `drift.kernels()`, `drift.couplings()` and `drift.weightings()` list what can
be named. Errors raise ValueError (drift.SpecError, with file, line and column, for a bad
specification) with the messages of the `drift-bench` command line.

Batches of independent problems run in one call: `V, report = op.apply_batch(x, y)` with `x`
(B, N, D) and `y` (B, M, D). `drift.torch` (imported on its own, it needs PyTorch) gives the
official drifting loss with any operator swapped in: `loss, info = drift.torch.drift_loss(gen,
fixed_pos, fixed_neg)`, usable under `torch.compile`; `drift.jax` (it needs JAX) the same loss
inside `jax.jit`, `jax.grad` and `jax.vmap`.
"""

from __future__ import annotations

from . import _constructors
from ._drift import BatchReport, CouplingReport, PrecisionReport, Report, SpecError
from ._operator import Operator, load
from ._registry import Entry, Param, couplings, entries, kernels, operators, weightings
from ._ron import Ron

__all__ = [
    "load",
    "Operator",
    "Report",
    "BatchReport",
    "CouplingReport",
    "PrecisionReport",
    "SpecError",
    "Ron",
    "Entry",
    "Param",
    "entries",
    "operators",
    "kernels",
    "couplings",
    "weightings",
]

# One constructor per registered operator (`SinkhornDrift`, `OneSided`, ...).
for _name, _constructor in _constructors.all_constructors().items():
    globals()[_name] = _constructor
    __all__.append(_name)
del _name, _constructor
