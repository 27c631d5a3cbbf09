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

`drift_loss(..., process_group=group, gather=True)` is the other data-parallel semantics: every
rank holds the same problems with samples of its own; each problem's samples are all-gathered
over the ranks (inside the custom op, so compiled steps keep one graph), the field computed on
the gathered problems, and each rank gets the loss and field of its own rows.

A learned temperature: `drift_loss(..., temperature=tau)` (a tensor with `requires_grad`) takes
the official loss's temperatures from `tau` and returns `info["log_mass"]`, the positives' log
softmax mass (`positive_log_mass`), differentiable in `tau`: maximise its mean to train `tau`.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from ._loss_operators import (
    forget,
    is_loaded,
    key_and_temperatures,
    loss_stats,
    official_ron,
)
from ._loss_operators import operator_of as _operator
from ._operator import Operator
# The process groups live in their own module; their names stay importable from here.
from ._torch_groups import (  # noqa: F401
    DEFAULT_GROUP,
    NO_GROUP,
    GroupLike,
    _all_gather_samples,
    _collective,
    _group,
    _not_traced,
    group_handle,
    process_group_collective,
)
from ._torch_inputs import _check_inputs
from ._torch_log_mass import positive_log_mass

__all__ = [
    "drift_loss",
    "DriftLoss",
    "batched_field",
    "group_handle",
    "positive_log_mass",
    "process_group_collective",
]

OperatorLike = Union[None, str, Operator]


def prepare(operator: OperatorLike = None, R_list: Sequence[float] = (0.02, 0.05, 0.2)):
    """The custom op's operator key and the temperatures whose norms `info` reports, for an
    operator argument of `drift_loss` (None: the official loss at `R_list`). Runs eagerly; under
    `torch.compile` call it (or build a `DriftLoss`) before compiling with a custom operator."""
    if operator is None:
        key = official_ron(R_list)
        return key, tuple(float(r) for r in R_list)
    return key_and_temperatures(operator)


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
    gather: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The drift field of `B` problems and the loss's statistics, as a PyTorch custom op.

    `gen` `[B, N, D]`, `pos` `[B, M, D]`, `neg` `[B, K, D]` (optional), weights `[B, n]`
    (optional), `operator` an operator key of `prepare`, `norms` the number of temperature norms
    to return, `group` a process group's handle (`group_handle`; -1: one process) across which
    the batch-wide statistics are taken. With `gather` (and a group), every tensor is first
    all-gathered along its sample axis over the ranks of `group` (rank order; equal shapes on
    every rank, else a ValueError on every rank), the field is computed on the gathered problems
    without any further collective, and this rank's `N` rows are returned. Returns `V` (`gen`'s
    shape and dtype, data units) and a float64 tensor `[2 + norms]`: the reported feature scale
    (NaN when the operator reports none), the loss's coordinate scale `c` (`max(scale / sqrt(D),
    1e-3)` for `deng_official` over the batch, else 1) and the first `norms` reported `lambda**2`
    (NaN where fewer are reported). No gradient.
    """
    op = _operator(operator)
    collective = None if group == NO_GROUP else _collective(group)
    rows = None
    if gather:
        if group == NO_GROUP:
            raise ValueError("`gather=True` needs a process group (`process_group=`)")
        (gen, pos, neg, weight_gen, weight_pos, weight_neg), rank = _all_gather_samples(
            group, [gen, pos, neg, weight_gen, weight_pos, weight_neg]
        )
        n = gen.shape[1] // torch.distributed.get_world_size(_group(group))
        rows = slice(rank * n, (rank + 1) * n)
        # Every rank now holds the same gathered problems: their batch-wide statistics are
        # already over every rank's samples, so nothing more is all-reduced.
        collective = None
    v, report = op.apply_batch(
        gen,
        pos,
        x_weights=weight_gen,
        y_weights=weight_pos,
        negatives=neg,
        negative_weights=weight_neg if neg is not None else None,
        collective=collective,
    )
    if rows is not None:
        v = v[:, rows].clone()  # this rank's rows, in memory of their own
    stats = torch.tensor(loss_stats(report, gen.shape[-1], norms), dtype=torch.float64)
    # V comes back as a tensor sharing the NumPy array's fresh memory (no alias of an input).
    return v, stats


@batched_field.register_fake
def _(gen, pos, neg, weight_gen, weight_pos, weight_neg, operator, norms, group=NO_GROUP,
      gather=False):
    return torch.empty_like(gen), _stats_like(gen, norms)


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
    gather: bool = False,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The loss once the operator is prepared (pure PyTorch around the custom op)."""
    _check_inputs(
        gen,
        fixed_pos,
        fixed_neg,
        {"weight_gen": weight_gen, "weight_pos": weight_pos, "weight_neg": weight_neg},
    )

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
        gather,
    )
    info_dtype = gen.dtype if gen.dtype in (torch.float32, torch.float64) else torch.float32
    c = stats[1].to(gen.dtype)
    # The official loss: x~ = gen / c, goal = stopgrad(x~ + sum_R F / lambda_R) = x~ + V / c.
    scaled = gen / c
    goal = (gen.detach() / c + v / c).detach()
    loss = ((scaled - goal) ** 2).mean(dim=(1, 2))
    info: Dict[str, torch.Tensor] = {"drift": v, "scale": stats[0].to(info_dtype)}
    for k, r in enumerate(temps):
        info[f"loss_{r}"] = stats[2 + k].to(info_dtype)
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
    gather: bool = False,
    temperature: Optional[torch.Tensor] = None,
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
        gather: with a `process_group`: every rank holds the SAME `B` problems (same classes and
            feature locations, in the same order) with samples of its own; each problem's
            samples (`gen`, `fixed_pos`, `fixed_neg` and their weights) are all-gathered along
            the sample axis in rank order, so that it has `P * C_g` generated samples, `P * C_p`
            positives and `P * C_n` negatives on `P` ranks, the field is computed on these
            gathered problems (larger problems, less minibatch bias), and the loss and field of
            this rank's `C_g` rows are returned: those of one process on the gathered batch. The
            batch-wide statistics are then not all-reduced: every rank computes the same
            gathered problems, whose statistics are already over every rank's samples (every
            rank computes the whole gathered batch). Every rank must pass tensors of the same
            shapes and dtypes and the same optional ones, else every rank raises a ValueError.
            The gradient flows to this rank's `gen` only (the other ranks' samples are
            constants of the field).
        temperature: a learned temperature of the official loss (only with `operator` None): a
            float tensor, a scalar or `[K]` positive values, usually a parameter with
            `requires_grad`. Its current values replace `R_list` for the field (detached: the
            field is a constant of the loss), `info` names their `lambda**2` `"loss_tau"` (or
            `"loss_tau0"`, `"loss_tau1"`, ... for `[K]`), and `info["log_mass"]` holds
            `positive_log_mass(gen.detach(), ..., temperature, scale=info["scale"])` (`[B, C_g]`,
            or `[K, B, C_g]` for `[K]` temperatures), the positives' log softmax mass, through
            which the temperature gets its gradient (maximise its mean to train it; see
            `positive_log_mass`). Eager only (the field's temperatures are read with `.item()`,
            a graph break under `torch.compile`), and not with `gather`.

    Returns `(loss, info)`: `loss` `[B]`, per problem the mean over `(C_g, S)` of
    `(gen/c - stopgrad(gen/c + V/c))**2`, with `c = max(scale / sqrt(S), 1e-3)` for
    `deng_official` over the batch (the reported feature scale) and `c = 1` otherwise (operators
    that report no scale, and `deng_official` with `over: Problem`, whose scale differs per
    problem); its gradient with respect to `gen` is `-2 V / (c**2 C_g S)`. `info` holds
    `"drift"` (`V`, `[B, C_g, S]`, data units, detached), `"scale"` (the feature scale, NaN when
    the operator reports none), `f"loss_{R}"` per reported temperature `R` (`lambda_R**2`, the
    official info's mean squared force; `"loss_tau..."` with `temperature`) and, with
    `temperature`, `"log_mass"`.

    bfloat16 and float16 inputs are computed in float32 (the field returned in their dtype). CUDA
    tensors raise a ValueError: move them to the CPU.
    """
    group = group_handle(process_group)
    if gather and group == NO_GROUP:
        raise ValueError("`gather=True` needs a process group (`process_group=`)")
    if temperature is None:
        key, temps = prepare(operator, R_list)
        return _loss(gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg, key, temps,
                     group, bool(gather))
    return _learned_temperature_loss(gen, fixed_pos, fixed_neg, weight_gen, weight_pos,
                                     weight_neg, operator, group, bool(gather), temperature)


@_not_traced
def _learned_temperature_loss(gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg,
                              operator, group, gather, temperature):
    """`drift_loss` with a learned `temperature` (eager)."""
    if operator is not None:
        raise ValueError(
            "`temperature` sets the official loss's temperatures: pass `operator=None` (a learned "
            "temperature of another operator is not supported)"
        )
    if gather:
        raise ValueError(
            "`temperature` with `gather=True` is not supported: call positive_log_mass on the "
            "gathered samples"
        )
    if not isinstance(temperature, torch.Tensor) or temperature.dim() > 1:
        raise ValueError("`temperature` must be a scalar or 1-d torch.Tensor of temperatures")
    values = tuple(float(v) for v in temperature.detach().reshape(-1).tolist())
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"`temperature` must hold positive finite values, got {values}")
    key, temps = prepare(None, values)
    cached = is_loaded(key)
    try:
        loss, info = _loss(gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg, key,
                           temps, group)
    finally:
        if not cached:  # a new key every step: do not keep one operator per value seen
            forget(key)
    # Names that stay the same from step to step: "loss_tau" (or "loss_tau{k}" for [K]).
    names = ["loss_tau"] if temperature.dim() == 0 else [f"loss_tau{k}" for k in range(len(temps))]
    for r, name in zip(temps, names):
        info[name] = info.pop(f"loss_{r}")
    info["log_mass"] = positive_log_mass(
        gen.detach(), fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg,
        temperature=temperature, scale=info["scale"],
    )
    return loss, info


class DriftLoss(torch.nn.Module):
    """`drift_loss` as a module: the operator (None: the official loss at `R_list`, or a
    `drift.Operator` or RON text) is prepared once, here, so that `torch.compile(fullgraph=True)`
    of a training step calling the module traces no Python outside PyTorch. `process_group`
    (a `torch.distributed` group, or `True` for the default group) takes the batch-wide
    statistics over every rank of the group, as in `drift_loss`; with `gather=True` each
    problem's samples are all-gathered over the group's ranks instead, the field computed on the
    gathered problems and this rank's rows returned (as `drift_loss(..., gather=True)`; under
    `torch.compile(fullgraph=True)` too, the gather running inside the custom op).

        loss_fn = drift.torch.DriftLoss()
        loss, info = loss_fn(gen, fixed_pos, fixed_neg, weight_neg=w)
    """

    def __init__(
        self,
        operator: OperatorLike = None,
        R_list: Sequence[float] = (0.02, 0.05, 0.2),
        process_group: GroupLike = None,
        gather: bool = False,
    ) -> None:
        super().__init__()
        self.key, self.temperatures = prepare(operator, R_list)
        self.group = group_handle(process_group)
        if gather and self.group == NO_GROUP:
            raise ValueError("`gather=True` needs a process group (`process_group=`)")
        self.gather = bool(gather)

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
            self.gather,
        )

    def extra_repr(self) -> str:
        if self.group == NO_GROUP:
            return f"operator={self.key!r}"
        if self.gather:
            return f"operator={self.key!r}, group={self.group}, gather=True"
        return f"operator={self.key!r}, group={self.group}"
