"""Process groups of `drift.torch`: the integer handles the custom op takes in place of a
`torch.distributed` group, the all-reduce that completes a batch's sums across ranks, and the
all-gather of `gather=True`."""

from __future__ import annotations

import atexit
from typing import Any, Callable, Dict

import numpy as np
import torch

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
    over the group and returns the sums (on the GPU for an NCCL group, back on the CPU after);
    `f.all_reduce_max(values)` the same with `op=MAX`, for the split by columns."""
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

    def reduce(values: np.ndarray, op) -> np.ndarray:
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=op, group=group)
        return t.cpu().numpy()

    def all_reduce_sum(values: np.ndarray) -> np.ndarray:
        return reduce(values, dist.ReduceOp.SUM)

    # The maximum a problem split by columns merges its log-sum-exps with (2N numbers a pass
    # instead of gathering every rank's N).
    all_reduce_sum.all_reduce_max = lambda values: reduce(values, dist.ReduceOp.MAX)
    return all_reduce_sum


_GATHERED = ("gen", "fixed_pos", "fixed_neg", "weight_gen", "weight_pos", "weight_neg")


def _all_gather_samples(handle: int, tensors):
    """`tensors` (`[B, C, S]` points and `[B, C]` weights, or None) of every rank of the group of
    `handle` concatenated along their sample axis (dim 1) in rank order, and this rank's index
    in the group. Two collectives: the shapes and dtypes (checked equal on every rank, else a
    ValueError raised on every rank alike), then every tensor in one float64 buffer (exact for
    float64, float32, bfloat16 and float16; each comes back in its own dtype)."""
    group = _group(handle)
    dist = torch.distributed
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    device = torch.device("cpu")
    if dist.get_backend(group) == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    dtypes = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
    desc = []
    for t in tensors:
        if t is None:
            desc += [-1, -1, -1, -1]
        else:
            shape = list(t.shape) + [0] * (3 - t.dim())
            code = dtypes.index(t.dtype) if t.dtype in dtypes else len(dtypes)
            desc += shape + [code]
    mine = torch.tensor(desc, dtype=torch.int64, device=device)
    descs = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(descs, mine, group=group)
    descs = [d.cpu().tolist() for d in descs]
    if any(d != descs[0] for d in descs):
        def shapes(d):
            parts = []
            for k, name in enumerate(_GATHERED):
                dims = d[4 * k: 4 * k + 3]
                if dims[0] >= 0:
                    parts.append(f"{name} {tuple(dims[: 3 if k < 3 else 2])}")
                else:
                    parts.append(f"{name} None")
            return ", ".join(parts)

        other = next(r for r, d in enumerate(descs) if d != descs[0])
        raise ValueError(
            "`gather=True` needs the same problems on every rank, with equal numbers of samples "
            "(and the same dtypes and optional tensors): rank 0 has "
            f"{shapes(descs[0])}; rank {other} has {shapes(descs[other])}"
        )
    present = [t for t in tensors if t is not None]
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in present]).to(device)
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat, group=group)
    gathered = [g.cpu() for g in gathered]
    out, offset = [], 0
    for t in tensors:
        if t is None:
            out.append(None)
            continue
        size = t.numel()
        parts = [g[offset: offset + size].reshape(t.shape) for g in gathered]
        offset += size
        out.append(torch.cat(parts, dim=1).to(t.dtype))
    return out, rank
