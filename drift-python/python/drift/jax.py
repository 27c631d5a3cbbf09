"""The drifting loss inside JAX training steps: `drift_loss` with the official JAX function's
signature and results, any drift operator swapped in, usable under `jax.jit`, `jax.vmap` and
`jax.grad` / `jax.value_and_grad`.

    import drift.jax
    loss, info = drift.jax.drift_loss(gen, fixed_pos, fixed_neg, weight_neg=w)  # the official loss
    grads = jax.grad(lambda p: drift.jax.drift_loss(f(p, z), pos)[0].mean())(params)
    info["drift"], info["scale"], info["loss_0.02"]

`gen` holds `[B, C_g, S]` features of the generated samples (B independent problems, C_g samples
each, S features), `fixed_pos` `[B, C_p, S]` the positives, `fixed_neg` `[B, C_n, S]` optional
negatives, the weights `[B, C]`. The field is computed by the Rust library on the CPU, in one
batched call (`Operator.apply_batch`), as one host callback in the compiled program (the rest of
the loss is ordinary JAX): `jax.experimental.buffer_callback` where this JAX has it (JAX >= 0.7;
the Rust call reads XLA's input buffers in place and the field is written into XLA's output
buffer) when JAX's default backend is the CPU, else `jax.pure_callback` (JAX copies the inputs
and the outputs on the way, tens of milliseconds on batches of tens of MB, and moves them between
a GPU and the host). `drift.jax.CALLBACK = "pure"` (or "buffer") before tracing forces one.

The gradient: the loss of problem b is `mean_{i,k}((gen/c - stop_gradient(goal))**2)` with
`goal = gen/c + V/c` and `c = max(scale / sqrt(S), 1e-3)` a constant of the step (the official
code computes the scale on `stop_gradient(gen)` and stops the gradient of `c`). The callback's
inputs are wrapped in `jax.lax.stop_gradient`, so JAX never differentiates the callback; autodiff
of the JAX expression around it gives `d loss_b / d gen_b = -2 V_b / (c**2 C_g S)`, the official
loss's gradient, and nothing flows to `fixed_pos`, `fixed_neg` or the weights.

`jax.vmap`: the official loss computes its batch-wide statistics (the feature scale, every
`lambda_R`) as means over the whole `[B, ...]` arrays it is given, so under `jax.vmap` over an
extra leading axis each vmapped slice gets its own statistics (`jnp.mean` inside a vmapped function
reduces within the slice). `drift_loss` does the same: the callback is registered with
`vmap_method="expand_dims"`, receives the stacked slices (an unbatched argument with a size-1
axis, broadcast without a copy) and runs one `apply_batch` per slice, one after the other inside
one host call. So `jax.vmap(drift_loss)(gens, poss)` equals the loop
`[drift_loss(g, p) for g, p in zip(gens, poss)]`, not one call on the slices folded into `B`
(which would share one scale and one `lambda_R` across all slices). Nested `vmap` works the same
way (every vmapped axis is looped over).

Not covered: `pmap` / `shard_map` / sharded `jit` over several devices evaluate the callback per
device, so the statistics would be per device (the official code takes them over the global array):
use one process and one device per loss call, or `drift.torch` with a process group for data
parallelism. Forward-mode differentiation (`jax.jvp`, `jax.jacfwd`) works for the same reason as
the reverse mode (the callback's inputs carry no tangent).

bfloat16 and float16 inputs are computed in float32 (the field, the loss and its gradient returned
in their dtype). float64 inputs (with `jax_enable_x64`) are computed in float64. Operators are
loaded and checked when `drift_loss` is traced (a bad specification raises `drift.SpecError`
there, not inside the compiled program), and shapes are checked then too (a ValueError naming the
argument and both shapes). What only the values can show (a NaN or infinite coordinate) is found
by the Rust call inside the program: JAX raises its runtime error (`JaxRuntimeError`) carrying
drift's ValueError message. Needs JAX >= 0.4.34 (the callbacks' `vmap_method`).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from ._loss_operators import key_and_temperatures, loss_stats, official_ron
from ._loss_operators import operator_of as _operator
from ._operator import Operator

__all__ = ["drift_loss", "prepare", "batched_field", "official_ron"]

OperatorLike = Union[None, str, Operator]

if "vmap_method" not in inspect.signature(jax.pure_callback).parameters:  # pragma: no cover
    raise ImportError(
        f"drift.jax needs JAX >= 0.4.34 (jax.pure_callback with `vmap_method`), found JAX "
        f"{jax.__version__}: pip install -U 'jax[cpu]'"
    )


try:  # JAX >= 0.7: host callbacks that read and write XLA's buffers in place
    from jax.experimental.buffer_callback import buffer_callback as _buffer_callback
except ImportError:  # pragma: no cover - older JAX: jax.pure_callback only
    _buffer_callback = None

# The host callback the loss is computed through, read when `drift_loss` is traced: "buffer"
# (`buffer_callback`, no copies of the inputs), "pure" (`jax.pure_callback`), or None: "buffer"
# where this JAX has it and its default backend is the CPU (on a GPU backend buffer_callback hands
# over device buffers, which the CPU library cannot read), else "pure".
CALLBACK: Optional[str] = None


def _callback_kind(kind: Optional[str]) -> str:
    """The callback kind to trace with (`kind`, or the automatic choice for None)."""
    if kind is None:
        kind = CALLBACK
    if kind is None:
        cpu = jax.default_backend() == "cpu"
        return "buffer" if _buffer_callback is not None and cpu else "pure"
    if kind not in ("buffer", "pure") or (kind == "buffer" and _buffer_callback is None):
        raise ValueError(
            f"the callback must be 'buffer' (a JAX with buffer_callback), 'pure' or None, "
            f"got {kind!r}"
        )
    return kind


# The loss's array arguments in the callback's order, and the rank of one (unvmapped) argument.
_NAMES = ("gen", "fixed_pos", "fixed_neg", "weight_gen", "weight_pos", "weight_neg")
_RANKS = (3, 3, 3, 2, 2, 2)


def _concrete_temperatures(R_list: Sequence[float]) -> Tuple[float, ...]:
    """`R_list` as Python floats (a clear error for traced values)."""
    try:
        return tuple(float(r) for r in R_list)
    except (TypeError, jax.errors.ConcretizationTypeError) as e:
        raise ValueError(
            "`R_list` must be a sequence of Python numbers known when the loss is traced; under "
            "jax.jit(drift_loss) mark it static: jax.jit(drift.jax.drift_loss, "
            f"static_argnames=('R_list', 'operator')) ({type(e).__name__})"
        ) from None


def prepare(
    operator: OperatorLike = None, R_list: Sequence[float] = (0.02, 0.05, 0.2)
) -> Tuple[str, Tuple[float, ...]]:
    """The callback's operator key and the temperatures whose norms `info` reports, for an
    operator argument of `drift_loss` (None: the official loss at `R_list`; a `drift.Operator`;
    RON text, loaded and checked here, raising `drift.SpecError` when it is not valid). Runs in
    Python when `drift_loss` is traced; the result is cached per operator."""
    if operator is None:
        temps = _concrete_temperatures(R_list)
        key = official_ron(temps)
        _operator(key)
        return key, temps
    return key_and_temperatures(operator)


def _evaluate(key: str, norms: int, args: Dict[str, np.ndarray], dtype: np.dtype):
    """One `apply_batch` call on NumPy arrays: `(V, stats)` as `batched_field` describes them."""
    op = _operator(key)
    gen = args["gen"]
    neg = args.get("fixed_neg")
    v, report = op.apply_batch(
        gen,
        args["fixed_pos"],
        x_weights=args.get("weight_gen"),
        y_weights=args.get("weight_pos"),
        negatives=neg,
        negative_weights=args.get("weight_neg") if neg is not None else None,
    )
    stats = np.asarray(loss_stats(report, gen.shape[-1], norms), dtype=np.float64)
    return np.asarray(v, dtype=dtype), stats.astype(dtype)


def _host_field(
    arrays: Sequence[Any],
    key: str,
    norms: int,
    names: Tuple[str, ...],
    dtype: np.dtype,
    out: Optional[Tuple[np.ndarray, np.ndarray]] = None,
):
    """The host side of `batched_field`: the arrays present (named by `names`), each with any
    number of leading vmapped axes (size 1 where that argument is not vmapped); one
    `apply_batch` call per vmapped slice, each with its own batch-wide statistics. Returns
    `(V, stats)`, written into `out` when it is given."""
    arrays = [np.asarray(a) for a in arrays]
    ranks = [_RANKS[_NAMES.index(n)] for n in names]
    leads = [a.shape[: a.ndim - r] for a, r in zip(arrays, ranks)]
    lead = np.broadcast_shapes(*leads)
    if not lead and out is None:
        return _evaluate(key, norms, dict(zip(names, arrays)), dtype)
    full = [np.broadcast_to(a, lead + a.shape[a.ndim - r:]) for a, r in zip(arrays, ranks)]
    if out is None:
        b, n, s = full[0].shape[-3:]
        out = (np.empty(lead + (b, n, s), dtype), np.empty(lead + (2 + norms,), dtype))
    v, stats = out
    for idx in np.ndindex(*lead):
        v[idx], stats[idx] = _evaluate(key, norms, {k: a[idx] for k, a in zip(names, full)}, dtype)
    return v, stats


@functools.lru_cache(maxsize=None)
def _host_callable(key: str, norms: int, names: Tuple[str, ...], dtype: np.dtype, kind: str):
    """The host function of one (operator, norms, arguments present, dtype, callback kind): one
    object per combination, so that JAX's caches (keyed on the callback) hit on every later
    call. `kind` "pure": `f(*arrays) -> (V, stats)` for `jax.pure_callback`; "buffer":
    `f(ctx, out, *buffers)` for `buffer_callback`, writing into XLA's output buffers."""
    if kind == "pure":

        def pure(*arrays):
            return _host_field(arrays, key, norms, names, dtype)

        return pure

    def fill(ctx, out, *buffers):
        _host_field(buffers, key, norms, names, dtype, out=tuple(np.asarray(o) for o in out))

    return fill


def batched_field(
    gen: Any,
    fixed_pos: Any,
    fixed_neg: Optional[Any] = None,
    weight_gen: Optional[Any] = None,
    weight_pos: Optional[Any] = None,
    weight_neg: Optional[Any] = None,
    *,
    operator: str,
    norms: int,
    callback: Optional[str] = None,
) -> Tuple[jax.Array, jax.Array]:
    """The drift field of `B` problems and the loss's statistics, as a JAX host callback.

    `gen` `[B, N, D]` (float32 or float64; it sets the precision), `fixed_pos` `[B, M, D]`,
    `fixed_neg` `[B, K, D]` (optional), weights `[B, n]` (optional), `operator` an operator key
    of `prepare`, `norms` the number of temperature norms to return. Returns `V` (`gen`'s shape
    and dtype, data units) and `stats` `[2 + norms]` in `gen`'s dtype: the reported feature
    scale (NaN when the operator reports none), the loss's coordinate scale `c`
    (`max(scale / sqrt(D), 1e-3)` for `deng_official` over the batch, else 1) and the first
    `norms` reported `lambda**2` (NaN where fewer are reported). Not differentiable: pass values
    without a gradient (`drift_loss` wraps them in `stop_gradient`). Under `jax.vmap` each
    vmapped slice is evaluated on its own (its own batch-wide statistics).

    `callback`: "buffer" (`jax.experimental.buffer_callback`: the Rust call reads XLA's input
    buffers in place and V is written into the output buffer, one copy of V in all), "pure"
    (`jax.pure_callback`: JAX copies the inputs and the outputs on the way; any backend), or
    None for `CALLBACK` (None: buffer where this JAX has it and its default backend is the CPU).
    """
    kind = _callback_kind(callback)
    present = [
        (name, a)
        for name, a in zip(_NAMES, (gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg))
        if a is not None
    ]
    names = tuple(n for n, _ in present)
    dtype = np.dtype(gen.dtype)
    host = _host_callable(operator, norms, names, dtype, kind)
    out = (
        jax.ShapeDtypeStruct(gen.shape, dtype),
        jax.ShapeDtypeStruct((2 + norms,), dtype),
    )
    args = [a for _, a in present]
    if kind == "buffer":
        return _buffer_callback(host, out, vmap_method="expand_dims")(*args)
    return jax.pure_callback(host, out, *args, vmap_method="expand_dims")


def _as_array(name: str, a: Any) -> Optional[jax.Array]:
    """`a` as a JAX array of numbers (None stays None), with a clear error otherwise."""
    if a is None:
        return None
    try:
        arr = jnp.asarray(a)
    except TypeError as e:
        raise ValueError(f"`{name}` cannot be read as an array: {e}") from None
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise ValueError(f"`{name}` must hold numbers, found dtype {arr.dtype}")
    return arr


def _check_inputs(arrays: Dict[str, Optional[jax.Array]]) -> None:
    """Shapes `[B, C, S]` for the points, `[B, C]` for the weights, all consistent with `gen`."""
    gen = arrays["gen"]
    if not jnp.issubdtype(gen.dtype, jnp.floating):
        raise ValueError(
            f"`gen` must hold floating-point values, found {gen.dtype} "
            "(convert it, e.g. `gen.astype(jnp.float32)`)"
        )
    for name in _NAMES[:3]:
        t = arrays[name]
        if t is not None and t.ndim != 3:
            raise ValueError(f"`{name}` must have shape [B, C, S], found {tuple(t.shape)}")
    b, _, s = gen.shape
    for name in _NAMES[1:3]:
        t = arrays[name]
        if t is not None and (t.shape[0] != b or t.shape[2] != s):
            raise ValueError(
                f"`{name}`: shape {tuple(t.shape)} does not match `gen`'s {b} problems of "
                f"dimension {s}: expected ({b}, C, {s})"
            )
    for name, points in zip(_NAMES[3:], _NAMES[:3]):
        t, p = arrays[name], arrays[points]
        if t is not None and p is not None and tuple(t.shape) != tuple(p.shape[:2]):
            raise ValueError(
                f"`{name}`: shape {tuple(t.shape)} but `{points}` holds {p.shape[0]} problems "
                f"of {p.shape[1]} points: expected {tuple(p.shape[:2])}"
            )


def drift_loss(
    gen: Any,
    fixed_pos: Any,
    fixed_neg: Optional[Any] = None,
    weight_gen: Optional[Any] = None,
    weight_pos: Optional[Any] = None,
    weight_neg: Optional[Any] = None,
    R_list: Sequence[float] = (0.02, 0.05, 0.2),
    operator: OperatorLike = None,
) -> Tuple[jax.Array, Dict[str, jax.Array]]:
    """The drifting loss of `B` problems, with the official JAX function's signature and results.

    Arguments:
        gen: `[B, C_g, S]` features of the generated samples (the gradient flows to it).
        fixed_pos: `[B, C_p, S]` positives (data), no gradient.
        fixed_neg: optional `[B, C_n, S]` negatives (unconditional samples), no gradient.
        weight_gen, weight_pos, weight_neg: optional `[B, C]` weights (1 when not given); a
            negative's weight is relative to one generated sample (the CFG weight).
        R_list: the temperatures of the official loss (used when `operator` is None); Python
            numbers (static under `jax.jit`).
        operator: None for the official loss's drift (`{"deng_official": (temperatures:
            R_list)}`), or any drift operator (a `drift.Operator` or RON text) to train with.

    Returns `(loss, info)`: `loss` `[B]`, per problem the mean over `(C_g, S)` of
    `(gen/c - stop_gradient(gen/c + V/c))**2`, with `c = max(scale / sqrt(S), 1e-3)` for
    `deng_official` over the batch (the reported feature scale, a constant of the step) and
    `c = 1` otherwise (operators that report no scale, and `deng_official` with `over: Problem`,
    whose scale differs per problem); its gradient with respect to `gen` is
    `-2 V / (c**2 C_g S)`. `info` holds `"drift"` (`V`, `[B, C_g, S]`, data units, no gradient),
    `"scale"` (the feature scale, NaN when the operator reports none) and `f"loss_{R}"` per
    reported temperature `R` (`lambda_R**2`, the official info's mean squared force).

    Works under `jax.jit`, `jax.grad` / `jax.value_and_grad` and `jax.vmap` (each vmapped slice
    with its own batch-wide statistics, as the official loss under `vmap`); see the module's
    documentation. bfloat16 and float16 inputs are computed in float32 (the loss and the field
    returned in their dtype, `info`'s scalars in float32). Bad shapes raise a ValueError when the
    function is traced.
    """
    key, temps = prepare(operator, R_list)
    arrays = {
        name: _as_array(name, a)
        for name, a in zip(_NAMES, (gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg))
    }
    if arrays["gen"] is None or arrays["fixed_pos"] is None:
        raise ValueError("`gen` and `fixed_pos` are required")
    _check_inputs(arrays)
    if arrays["weight_neg"] is not None and arrays["fixed_neg"] is None:
        raise ValueError("`weight_neg` given without `fixed_neg`")
    return _loss(*(arrays[name] for name in _NAMES), key=key, temps=temps,
                 callback=_callback_kind(None))


@functools.partial(jax.jit, static_argnames=("key", "temps", "callback"))
def _loss(gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg, *, key, temps, callback):
    """The loss once the inputs are checked and the operator prepared: one compiled function
    (called eagerly it runs as one dispatch; inside a caller's jit it is inlined)."""
    compute = jnp.float64 if gen.dtype == jnp.float64 else jnp.float32
    # The callback sees values without tangents: JAX never differentiates it.
    inputs = [
        None if a is None else jax.lax.stop_gradient(a).astype(compute)
        for a in (gen, fixed_pos, fixed_neg, weight_gen, weight_pos, weight_neg)
    ]
    v, stats = batched_field(*inputs, operator=key, norms=len(temps), callback=callback)
    v = v.astype(gen.dtype)
    c = stats[1].astype(gen.dtype)
    # The official loss: x~ = gen / c, goal = stop_gradient(x~ + sum_R F / lambda_R) = x~ + V / c.
    scaled = gen / c
    goal = jax.lax.stop_gradient(gen / c + v / c)
    loss = jnp.mean((scaled - goal) ** 2, axis=(1, 2))
    info_dtype = gen.dtype if gen.dtype in (jnp.float32, jnp.float64) else jnp.float32
    info: Dict[str, jax.Array] = {"drift": v, "scale": stats[0].astype(info_dtype)}
    for k, r in enumerate(temps):
        info[f"loss_{r}"] = stats[2 + k].astype(info_dtype)
    return loss, info
