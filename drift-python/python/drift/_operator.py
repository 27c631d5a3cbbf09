"""The operator object: load a RON specification once, call it on arrays or tensors many times."""

from __future__ import annotations

import operator as _op
import os
from typing import Any, Callable, Optional, Tuple, Union

from . import _arrays, _drift

PathLike = Union[str, "os.PathLike[str]"]


class Operator:
    """A loaded, validated drift operator (from `drift.load` or a constructor such as
    `drift.SinkhornDrift`).

    Call it as `V = op(x, y)`: `x` holds the N generated samples, `y` the M data samples, each an
    (N, D) / (M, D) array (or (N,) for points of dimension 1) of float32 or float64, as a NumPy
    array, a PyTorch CPU tensor or any array-like. `V` has the shape and dtype of `x`, and is a
    tensor when `x` is one. The computation runs in `x`'s precision, releases the GIL, and leaves
    its diagnostics in `op.last_report` (or use `op.apply`, which returns them).
    """

    __slots__ = ("_native", "last_report", "__weakref__")

    def __init__(self, native: "_drift.NativeOperator") -> None:
        self._native = native
        self.last_report: Optional[_drift.Report] = None

    @property
    def ron(self) -> str:
        """The RON text the operator was loaded from."""
        return self._native.ron

    @property
    def origin(self) -> str:
        """The file it was loaded from, `<string>` for RON text, or the constructor call."""
        return self._native.origin

    def __repr__(self) -> str:
        return repr(self._native)

    def apply(
        self,
        x: Any,
        y: Any,
        *,
        x_weights: Any = None,
        y_weights: Any = None,
        negatives: Any = None,
        negative_weight: float = 1.0,
        step: int = 0,
        time: float = 0.0,
        split: Optional[str] = None,
        process_group: Any = None,
        collective: Optional[Callable[[Any], Any]] = None,
        rank: Optional[int] = None,
        ranks: Optional[int] = None,
    ) -> Tuple[Any, "_drift.Report"]:
        """Computes the drift field and returns `(V, report)`; see `Operator.__call__`.

        One problem over several processes: with `split="rows"` and a `torch.distributed`
        `process_group` (or `True`, the default group), every process of the group makes the call
        with the whole problem; each computes its share of the rows of every pass over pairs and
        the shares are gathered with `all_reduce`, so that every process returns the whole field,
        equal to one process's to rounding (a Sinkhorn iteration moves `N + M` numbers). Without
        torch, give `collective` (a callable summing a float64 NumPy array over the processes, as
        for `apply_batch`) with this process's `rank` and the number of processes `ranks`.
        With `split="columns"`, each process holds all of `x` but only its shard of the data:
        `y` (and `y_weights`) are this process's rows of the data set (at least one), the totals
        of the whole are completed through the collective, and every process returns the field
        of `x` against all of the data, equal to one process's to rounding (a Sinkhorn iteration
        moves `2N + 1` numbers through a process group, whose collective also takes maxima, or a
        `collective` carrying an `all_reduce_max` attribute; `ranks · N + 1` through sums only). Operators that need all of `y` in one place
        (`sliced_wasserstein`, `deng_official`) raise a ValueError naming them.
        """
        *shards, columns = _split(split, process_group, collective, rank, ranks)
        xa = _arrays.points("x", x)
        dtype = xa.dtype
        ya = _arrays.like("y", y, dtype)
        xw = _arrays.like("x_weights", x_weights, dtype)
        yw = _arrays.like("y_weights", y_weights, dtype)
        neg = _arrays.like("negatives", negatives, dtype)
        step = _check_step(step)
        try:
            time = float(time)
            negative_weight = float(negative_weight)
        except (TypeError, ValueError) as e:
            raise ValueError(f"time and negative_weight must be numbers: {e}") from None
        v, report = self._native.apply(
            xa, ya, xw, yw, neg, negative_weight, step, time, *shards, columns
        )
        return _arrays.result(v, x), report

    def apply_batch(
        self,
        x: Any,
        y: Any,
        *,
        x_weights: Any = None,
        y_weights: Any = None,
        negatives: Any = None,
        negative_weights: Any = None,
        step: int = 0,
        time: float = 0.0,
        collective: Optional[Callable[[Any], Any]] = None,
        process_group: Any = None,
    ) -> Tuple[Any, "_drift.BatchReport"]:
        """Computes the drift of `B` independent problems in one call; returns `(V, report)`.

        Arguments:
            x: generated samples, (B, N, D), float32 or float64 (sets the precision; a bfloat16
                or float16 tensor is computed in float32 and V returned in its dtype).
            y: data samples, (B, M, D), converted to x's precision.
            x_weights, y_weights: optional (B, N) / (B, M) relative masses per problem.
            negatives: optional (B, K, D) unconditional samples per problem (guidance).
            negative_weights: optional (B, K): each negative's weight relative to one generated
                sample (1 when not given).
            step, time: where in a flow or training run the call is (shared by every problem).
            collective: optional data parallelism: a callable `f(values)` taking a float64 NumPy
                array of this process's sums and returning their element-wise sum over every
                process (same length, finite). Batch-wide statistics are then taken over the
                problems of every process, so `P` processes each holding a slice of a batch get
                their rows of the field of one process on the whole batch. Every process must make
                the call: each calls `f` the same number of times, in the same order (the
                statistics are computed one after the other, in the operator tree's order, a
                number that depends on the operator only). An exception in `f` makes this call
                raise `RuntimeError` with it as the cause.
            process_group: a `torch.distributed` process group (or `True`, the default group):
                the collective of `drift.torch.process_group_collective(process_group)`.

        Returns V with the shape (B, N, D) and dtype of x (a tensor when x is one) and a
        `drift.BatchReport` (batch-wide drift norm, the operator's feature scale and per-temperature
        norms where it computes them, per-problem reports where the problems ran one by one).
        Operators with batch-wide statistics (`deng_official`) take them over the whole batch.

        Raises ValueError naming the argument and both shapes when a shape does not match x's.
        """
        xa, widened = _arrays.batch_points("x", x)
        dtype = xa.dtype
        ya = _arrays.like("y", _arrays.widen(y), dtype)
        xw = _arrays.like("x_weights", _arrays.widen(x_weights), dtype)
        yw = _arrays.like("y_weights", _arrays.widen(y_weights), dtype)
        neg = _arrays.like("negatives", _arrays.widen(negatives), dtype)
        negw = _arrays.like("negative_weights", _arrays.widen(negative_weights), dtype)
        step = _check_step(step)
        try:
            time = float(time)
        except (TypeError, ValueError) as e:
            raise ValueError(f"time must be a number: {e}") from None
        if process_group is not None and process_group is not False:
            if collective is not None:
                raise ValueError("give `collective` or `process_group`, not both")
            from .torch import process_group_collective

            collective = process_group_collective(process_group)
        v, report = self._native.apply_batch(xa, ya, xw, yw, neg, negw, step, time, collective)
        v = _arrays.result(v, x)
        if widened:
            v = v.to(x.dtype)
        return v, report

    def __call__(
        self,
        x: Any,
        y: Any,
        *,
        x_weights: Any = None,
        y_weights: Any = None,
        negatives: Any = None,
        negative_weight: float = 1.0,
        step: int = 0,
        time: float = 0.0,
    ) -> Any:
        """Returns the drift field V(x_i) of the generated samples `x` toward the data `y`.

        Arguments:
            x: generated samples, (N, D) or (N,), float32 or float64 (sets the precision).
            y: data samples, (M, D) or (M,), converted to x's precision.
            x_weights, y_weights: optional (N,) / (M,) relative masses (finite, >= 0, not all 0).
            negatives: optional (K, D) unconditional samples joining the repulsion (guidance).
            negative_weight: relative weight of each negative (the `guidance` operator sets its own).
            step, time: where in a flow or training run the call is (schedules read them).

        Returns V with the shape and dtype of x (a torch tensor when x is one). The report of the
        call is left in `self.last_report`.

        Raises ValueError (with the command line's message) for bad input, MemoryError when a
        buffer cannot be allocated.
        """
        v, report = self.apply(
            x,
            y,
            x_weights=x_weights,
            y_weights=y_weights,
            negatives=negatives,
            negative_weight=negative_weight,
            step=step,
            time=time,
        )
        self.last_report = report
        return v


def _check_step(step: Any) -> int:
    """The step as an integer in [0, 2**64)."""
    try:
        step = _op.index(step)
    except TypeError:
        raise ValueError(f"step {step!r}: must be an integer >= 0") from None
    if not 0 <= step < 2**64:
        raise ValueError(f"step {step}: must be an integer >= 0 (and below 2**64)")
    return step


def _looks_like_ron(text: str) -> bool:
    """RON text (a value, a comment or an extension line) rather than a file name."""
    head = text.lstrip("\ufeff").lstrip()
    return head.startswith(("{", "(", "#", "//", "/*")) or "\n" in text


def load(spec: Union[str, "os.PathLike[str]"]) -> Operator:
    """Loads a drift operator from a RON file or from RON text.

    `spec` is a path (a `str` or `os.PathLike`), or the RON text itself when it is a `str` that
    starts like RON (`{`, a comment, or several lines), e.g.
    `drift.load('{"sinkhorn_drift": (temperature: 0.05)}')`.

    The whole tree is validated at once. A problem raises `drift.SpecError` (a `ValueError`) with
    `file`, `line`, `column` and `message`, as the command line prints it
    (`op.ron:3:14: temperature ... must be finite and > 0, got -1`); unknown names list the known
    ones. `drift.operators()` lists what can be named.
    """
    if isinstance(spec, os.PathLike):
        return Operator(_drift.load_file(os.fspath(spec)))
    if not isinstance(spec, str):
        raise ValueError(
            f"drift.load takes a path or RON text, got {type(spec).__name__}"
        )
    if _looks_like_ron(spec):
        return Operator(_drift.load_str(spec, "<string>"))
    return Operator(_drift.load_file(spec))


def from_ron(text: str, origin: str) -> Operator:
    """An operator from RON text, `origin` naming it in errors."""
    return Operator(_drift.load_str(text, origin))


def _split(
    split: Optional[str],
    process_group: Any,
    collective: Optional[Callable[[Any], Any]],
    rank: Optional[int],
    ranks: Optional[int],
) -> Tuple[Any, int, int, bool]:
    """`(collective, rank, ranks, columns)` of `Operator.apply`'s split by rows or columns
    (`(None, 0, 1, False)` without)."""
    grouped = process_group is not None and process_group is not False
    if split is None:
        if grouped or collective is not None or rank is not None or ranks is not None:
            raise ValueError(
                "process_group, collective, rank and ranks split one problem over processes: "
                "give split='rows' or split='columns' with them"
            )
        return None, 0, 1, False
    if split not in ("rows", "columns"):
        raise ValueError(
            f"split={split!r}: give split='rows' (every process holds all of y) or "
            "split='columns' (every process holds its shard of y)"
        )
    columns = split == "columns"
    if grouped:
        if collective is not None or rank is not None or ranks is not None:
            raise ValueError("give process_group, or collective with rank and ranks, not both")
        from ._torch_groups import group_handle, _group, process_group_collective
        import torch.distributed as dist

        group = _group(group_handle(process_group))
        return (
            process_group_collective(process_group),
            dist.get_rank(group),
            dist.get_world_size(group),
            columns,
        )
    if collective is None or rank is None or ranks is None:
        raise ValueError(
            f"split={split!r} needs a process_group, or a collective with this process's rank "
            "and the number of processes ranks"
        )
    try:
        rank, ranks = _op.index(rank), _op.index(ranks)
    except TypeError:
        raise ValueError(f"rank and ranks must be integers, got {rank!r} and {ranks!r}") from None
    if not 0 <= rank < ranks:
        raise ValueError(f"rank {rank}: not one of the {ranks} processes of the split")
    return collective, rank, ranks, columns

