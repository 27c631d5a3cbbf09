"""The drifting loss inside PyTorch training steps: `drift_loss` with the official function's
signature and results, any drift operator swapped in, usable under `torch.compile(fullgraph=True)`.

    import drift.torch
    loss, info = drift.torch.drift_loss(gen, fixed_pos, fixed_neg, weight_neg=w)  # the official loss
    loss.mean().backward()                    # the gradient flows to gen only
    info["drift"], info["scale"], info["loss_0.02"]

`gen` holds `[B, C_g, S]` features of the generated samples (B independent problems, C_g samples
each, S features), `fixed_pos` `[B, C_p, S]` the positives, `fixed_neg` `[B, C_n, S]` optional
negatives, the weights `[B, C]`. The field is computed by the Rust library on the CPU, in one
batched call (`Operator.apply_batch`), registered as the PyTorch custom op `drift::batched_field`
with a fake implementation, so compiled graphs keep it as one node:
`torch.compile(step, fullgraph=True)` of a step calling `DriftLoss` (or `drift_loss` with the
default operator, or with an operator passed to `prepare` first) traces without a graph break.
CUDA tensors are refused with a message (the CUDA backend is not wired to Python yet).

Data parallelism: `drift_loss(..., process_group=group)` (any `torch.distributed` process group,
or `True` for the default one) all-reduces the batch-wide sums (the feature scale, each `lambda_R`
or `lambda_tau`, the drift norm) across the ranks of `group`, so that `P` ranks each holding a
slice of the batch's problems get, on their rows, the field of one process on the concatenated
batch (the official training code's semantics). Every rank must call the loss, with the same
operator, at the same point of its step (it is a collective). The custom op takes the group as an
integer handle (`group_handle`), so `torch.compile(fullgraph=True)` of a step calling
`DriftLoss(process_group=group)`, or `drift_loss` with `process_group=True` or with the handle
`group_handle(group)` taken before compiling, keeps one graph; a group object passed to
`drift_loss` inside a compiled function is registered outside the graph (`torch.compiler.disable`:
PyTorch 2.15 traces it without a break, others may break the graph there).
"""

from __future__ import annotations

import atexit
import math
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ._operator import Operator, from_ron

__all__ = [
    "drift_loss",
    "DriftLoss",
    "batched_field",
    "group_handle",
    "process_group_collective",
]

OperatorLike = Union[None, str, Operator]
# A torch.distributed process group, True for the default group, or None (one process).
GroupLike = Any

# Process groups by handle, the integer the custom op takes (NO_GROUP: one process; DEFAULT_GROUP:
# the default group, looked up when the op runs); registered groups from 1 on.
NO_GROUP = -1
DEFAULT_GROUP = 0
_GROUPS: Dict[int, Any] = {}
_GROUP_HANDLES: Dict[int, int] = {}
# The registry lets go of its groups when the interpreter starts to exit: a process group kept
# alive into the interpreter's teardown can abort the process there (gloo's worker threads).
atexit.register(_GROUPS.clear)

# Operators by key: RON text (loaded on first use) or the key of a registered Operator object.
_OPERATORS: Dict[str, Operator] = {}
# The temperatures each operator reports norms for, by key (found once by a small evaluation).
_TEMPERATURES: Dict[str, Tuple[float, ...]] = {}

# The official loss's floor of c = s / sqrt(S).
_SCALE_FLOOR = 1e-3


def official_ron(R_list: Sequence[float] = (0.02, 0.05, 0.2)) -> str:
    """The RON text of the official loss's drift at the temperatures `R_list`."""
    temps = ", ".join(repr(float(r)) for r in R_list)
    return f'{{"deng_official": (temperatures: [{temps}])}}'


def _operator(key: str) -> Operator:
    """The operator of `key`, loading RON text on first use."""
    op = _OPERATORS.get(key)
    if op is None:
        op = from_ron(key, "<drift.torch operator>")
        _OPERATORS[key] = op
    return op


def _probe_temperatures(op: Operator) -> Tuple[float, ...]:
    """The temperatures an operator reports batch norms for, from one evaluation of a tiny batch
    (an operator that cannot run on it reports none)."""
    x = torch.tensor([[[0.0], [0.3], [1.0]]], dtype=torch.float64)
    y = torch.tensor([[[0.5], [1.5], [2.0]]], dtype=torch.float64)
    try:
        _, report = op.apply_batch(x, y)
    except ValueError:
        return ()
    return tuple(t for t, _ in report.temperature_norms)


def prepare(operator: OperatorLike = None, R_list: Sequence[float] = (0.02, 0.05, 0.2)):
    """The custom op's operator key and the temperatures whose norms `info` reports, for an
    operator argument of `drift_loss` (None: the official loss at `R_list`). Runs eagerly; under
    `torch.compile` call it (or build a `DriftLoss`) before compiling with a custom operator."""
    if operator is None:
        key = official_ron(R_list)
        return key, tuple(float(r) for r in R_list)
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
        temps = _probe_temperatures(_operator(key))
        _TEMPERATURES[key] = temps
    return key, temps


def _not_traced(f):
    """`f` run eagerly under `torch.compile` (a graph break), where this PyTorch offers it."""
    disable = getattr(getattr(torch, "compiler", None), "disable", None)
    return f if disable is None else disable(f)


def group_handle(process_group: GroupLike) -> int:
    """The integer handle under which the custom op finds `process_group` (registered on first
    use; -1 for None, 0 for `True`, the default group, a handle as it is). `drift_loss` and
    `DriftLoss` take the handle in place of the group: under `torch.compile(fullgraph=True)`
    register the group before compiling and pass its handle (a group object passed inside the
    compiled function is registered outside the graph, which may break it there)."""
    if process_group is None or process_group is False:
        return NO_GROUP
    if process_group is True:
        return DEFAULT_GROUP
    if isinstance(process_group, int):
        if process_group != NO_GROUP and process_group != DEFAULT_GROUP:
            if process_group not in _GROUPS:
                raise ValueError(
                    f"`process_group` {process_group}: no process group is registered under "
                    "this handle (group_handle(group) gives one)"
                )
        return process_group
    return _register(process_group)


@_not_traced
def _register(process_group: Any) -> int:
    """The handle of a process group object, registered on first use."""
    dist = torch.distributed
    if not (dist.is_available() and isinstance(process_group, dist.ProcessGroup)):
        raise ValueError(
            "`process_group` must be a torch.distributed process group, True (the default "
            f"group), a handle of group_handle or None, got {type(process_group).__name__}"
        )
    _distributed()
    handle = _GROUP_HANDLES.get(id(process_group))
    if handle is None or _GROUPS.get(handle) is not process_group:
        handle = len(_GROUPS) + 1
        _GROUPS[handle] = process_group
        _GROUP_HANDLES[id(process_group)] = handle
    return handle


def _distributed():
    """`torch.distributed`, initialised (a clear error otherwise)."""
    dist = torch.distributed
    if not dist.is_available():
        raise ValueError(
            "`process_group` given but this PyTorch has no torch.distributed"
        )
    if not dist.is_initialized():
        raise ValueError(
            "`process_group` given but torch.distributed is not initialised: call "
            "torch.distributed.init_process_group first (torchrun sets up its environment)"
        )
    return dist


def _group(handle: int) -> Any:
    """The process group of a handle (None for the default group)."""
    if handle == DEFAULT_GROUP:
        _distributed()
        return None
    group = _GROUPS.get(handle)
    if group is None:
        raise ValueError(f"no process group registered under handle {handle} (group_handle)")
    return group


def process_group_collective(process_group: GroupLike) -> Callable[[np.ndarray], np.ndarray]:
    """The collective `Operator.apply_batch` takes for a process group (or `True`, the default
    group): `f(values)` all-reduces a float64 array with `torch.distributed.all_reduce(op=SUM)`
    over the group and returns the sums (on the GPU for an NCCL group, back on the CPU after)."""
    handle = group_handle(process_group)
    if handle == NO_GROUP:
        raise ValueError("process_group_collective needs a process group (or True)")
    return _collective(handle)


def _collective(handle: int) -> Callable[[np.ndarray], np.ndarray]:
    """The all-reduce of the group of `handle`."""
    group = _group(handle)
    dist = torch.distributed
    device = torch.device("cpu")
    if dist.get_backend(group) == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())

    def all_reduce_sum(values: np.ndarray) -> np.ndarray:
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
        return t.cpu().numpy()

    return all_reduce_sum


def _stats_like(gen: torch.Tensor, norms: int) -> torch.Tensor:
    return torch.empty(2 + norms, dtype=torch.float64, device=gen.device)


@torch.library.custom_op("drift::batched_field", mutates_args=())
def batched_field(
    gen: torch.Tensor,
    pos: torch.Tensor,
    neg: Optional[torch.Tensor],
    weight_gen: Optional[torch.Tensor],
    weight_pos: Optional[torch.Tensor],
    weight_neg: Optional[torch.Tensor],
    operator: str,
    norms: int,
    group: int = NO_GROUP,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The drift field of `B` problems and the loss's statistics, as a PyTorch custom op.

    `gen` `[B, N, D]`, `pos` `[B, M, D]`, `neg` `[B, K, D]` (optional), weights `[B, n]`
    (optional), `operator` an operator key of `prepare`, `norms` the number of temperature norms
    to return, `group` a process group's handle (`group_handle`; -1: one process) across which
    the batch-wide statistics are taken. Returns `V` (`gen`'s shape and dtype, data units) and a
    float64 tensor `[2 + norms]`: the reported feature scale (NaN when the operator reports
    none), the loss's coordinate scale `c` (`max(scale / sqrt(D), 1e-3)` for `deng_official` over
    the batch, else 1) and the first `norms` reported `lambda` (NaN where fewer are reported). No
    gradient.
    """
    op = _operator(operator)
    v, report = op.apply_batch(
        gen,
        pos,
        x_weights=weight_gen,
        y_weights=weight_pos,
        negatives=neg,
        negative_weights=weight_neg if neg is not None else None,
        collective=None if group == NO_GROUP else _collective(group),
    )
    stats = torch.full((2 + norms,), math.nan, dtype=torch.float64)
    scale = report.scale
    c = 1.0
    if scale is not None:
        stats[0] = scale
        if report.operator == "deng_official" and report.reduction == "Batch":
            c = max(scale / math.sqrt(gen.shape[-1]), _SCALE_FLOOR)
    stats[1] = c
    for k, (_, lam) in enumerate(report.temperature_norms[:norms]):
        stats[2 + k] = lam
    # V comes back as a tensor sharing the NumPy array's fresh memory (no alias of an input).
    return v, stats


@batched_field.register_fake
def _(gen, pos, neg, weight_gen, weight_pos, weight_neg, operator, norms, group=NO_GROUP):
    return torch.empty_like(gen), _stats_like(gen, norms)


def _check_inputs(gen, fixed_pos, fixed_neg, weights) -> None:
    """Shapes `[B, C, S]` and the CPU (with a message for CUDA tensors)."""
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


def _loss(
    gen: torch.Tensor,
    fixed_pos: torch.Tensor,
    fixed_neg: Optional[torch.Tensor],
    weight_gen: Optional[torch.Tensor],
    weight_pos: Optional[torch.Tensor],
    weight_neg: Optional[torch.Tensor],
    key: str,
    temps: Tuple[float, ...],
    group: int = NO_GROUP,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The loss once the operator is prepared (pure PyTorch around the custom op)."""
    _check_inputs(
        gen,
        fixed_pos,
        fixed_neg,
        {"weight_gen": weight_gen, "weight_pos": weight_pos, "weight_neg": weight_neg},
    )
    if weight_neg is not None and fixed_neg is None:
        raise ValueError("`weight_neg` given without `fixed_neg`")

    def d(t):
        return None if t is None else t.detach()

    v, stats = torch.ops.drift.batched_field(
        gen.detach(),
        fixed_pos.detach(),
        d(fixed_neg),
        d(weight_gen),
        d(weight_pos),
        d(weight_neg),
        key,
        len(temps),
        group,
    )
    info_dtype = gen.dtype if gen.dtype in (torch.float32, torch.float64) else torch.float32
    c = stats[1].to(gen.dtype)
    # The official loss: x~ = gen / c, goal = stopgrad(x~ + sum_R F / lambda_R) = x~ + V / c.
    scaled = gen / c
    goal = (gen.detach() / c + v / c).detach()
    loss = ((scaled - goal) ** 2).mean(dim=(1, 2))
    info: Dict[str, torch.Tensor] = {"drift": v, "scale": stats[0].to(info_dtype)}
    for k, r in enumerate(temps):
        info[f"loss_{r}"] = (stats[2 + k] ** 2).to(info_dtype)
    return loss, info


def drift_loss(
    gen: torch.Tensor,
    fixed_pos: torch.Tensor,
    fixed_neg: Optional[torch.Tensor] = None,
    weight_gen: Optional[torch.Tensor] = None,
    weight_pos: Optional[torch.Tensor] = None,
    weight_neg: Optional[torch.Tensor] = None,
    R_list: Sequence[float] = (0.02, 0.05, 0.2),
    operator: OperatorLike = None,
    process_group: GroupLike = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The drifting loss of `B` problems, with the official function's signature and results.

    Arguments:
        gen: `[B, C_g, S]` features of the generated samples (the gradient flows to it).
        fixed_pos: `[B, C_p, S]` positives (data), no gradient.
        fixed_neg: optional `[B, C_n, S]` negatives (unconditional samples), no gradient.
        weight_gen, weight_pos, weight_neg: optional `[B, C]` weights (1 when not given); a
            negative's weight is relative to one generated sample (the CFG weight).
        R_list: the temperatures of the official loss (used when `operator` is None).
        operator: None for the official loss's drift (`{"deng_official": (temperatures:
            R_list)}`), or any drift operator (a `drift.Operator` or RON text) to train with.
        process_group: None (one process), a `torch.distributed` process group, `True` (the
            default group) or a group's handle (`group_handle`): the batch-wide statistics
            (feature scale, `lambda_R`) are taken over the problems of every rank of the group,
            so each rank gets its rows of the field of one process on the concatenated batch.
            Every rank of the group must make the call, with the same operator.

    Returns `(loss, info)`: `loss` `[B]`, per problem the mean over `(C_g, S)` of
    `(gen/c - stopgrad(gen/c + V/c))**2`, with `c = max(scale / sqrt(S), 1e-3)` for
    `deng_official` over the batch (the reported feature scale) and `c = 1` otherwise (operators
    that report no scale, and `deng_official` with `over: Problem`, whose scale differs per
    problem); its gradient with respect to `gen` is `-2 V / (c**2 C_g S)`. `info` holds
    `"drift"` (`V`, `[B, C_g, S]`, data units, detached), `"scale"` (the feature scale, NaN when
    the operator reports none) and `f"loss_{R}"` per reported temperature `R` (`lambda_R**2`, the
    official info's mean squared force).

    bfloat16 and float16 inputs are computed in float32 (the field returned in their dtype). CUDA
    tensors raise a ValueError: move them to the CPU.
    """
    key, temps = prepare(operator, R_list)
    group = group_handle(process_group)
    return _loss(gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg, key, temps, group)


class DriftLoss(torch.nn.Module):
    """`drift_loss` as a module: the operator (None: the official loss at `R_list`, or a
    `drift.Operator` or RON text) is prepared once, here, so that `torch.compile(fullgraph=True)`
    of a training step calling the module traces no Python outside PyTorch. `process_group`
    (a `torch.distributed` group, or `True` for the default group) takes the batch-wide
    statistics over every rank of the group, as in `drift_loss`.

        loss_fn = drift.torch.DriftLoss()
        loss, info = loss_fn(gen, fixed_pos, fixed_neg, weight_neg=w)
    """

    def __init__(
        self,
        operator: OperatorLike = None,
        R_list: Sequence[float] = (0.02, 0.05, 0.2),
        process_group: GroupLike = None,
    ) -> None:
        super().__init__()
        self.key, self.temperatures = prepare(operator, R_list)
        self.group = group_handle(process_group)

    def forward(
        self,
        gen: torch.Tensor,
        fixed_pos: torch.Tensor,
        fixed_neg: Optional[torch.Tensor] = None,
        weight_gen: Optional[torch.Tensor] = None,
        weight_pos: Optional[torch.Tensor] = None,
        weight_neg: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """`(loss, info)` as `drift_loss` returns them."""
        return _loss(
            gen,
            fixed_pos,
            fixed_neg,
            weight_gen,
            weight_pos,
            weight_neg,
            self.key,
            self.temperatures,
            self.group,
        )

    def extra_repr(self) -> str:
        if self.group == NO_GROUP:
            return f"operator={self.key!r}"
        return f"operator={self.key!r}, group={self.group}"
