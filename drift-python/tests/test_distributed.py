"""`drift_loss(..., process_group=...)` under data parallelism: 4 ranks (gloo on the CPU, started
by `torchrun --standalone --nproc_per_node 4` in a subprocess) each take a quarter of a
fixed random batch of problems; their fields, losses and statistics together equal one process on
the whole batch (to 1e-6 in float32), for the official loss, a multi-temperature one-sided drift
and the Sinkhorn drift (a fixed number of iterations, no warm start). With `gather=True` the 4
ranks hold the same problems and a quarter of each problem's samples each: every rank's field,
loss and statistics equal those of its rows of one process on the gathered problems, for the same
three operators; unequal sample counts raise the same ValueError on every rank. One problem
split by rows (`Operator.apply(split="rows", process_group=...)`) gives every rank one process's
field (f64, 1e-12) for a tolerance-stopped Sinkhorn drift, Algorithm 2 and guidance; split by
columns (`split="columns"`, each rank giving its contiguous shard of the weighted data y, with the
process group or a collective of its own on `torch.distributed.all_reduce`), the same. Also: the
collective (and the gather) of a single process group (world size 1) under
`torch.compile(fullgraph=True)`, and the errors raised when the collective fails.

Run under torchrun (`torchrun --standalone --nproc_per_node 4 test_distributed.py OUT_DIR`), this
file is the 4-rank job itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

RANKS = 4
OFFICIAL = None  # drift_loss's default: the official loss at R_list (0.02, 0.05, 0.2)
MULTI = '{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)})}'
# Per-problem Sinkhorn plans, a fixed iteration count (tol 0: no early stop), no warm start.
SINKHORN = '{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 20, tol: 0.0))}'
CASES = {"official": OFFICIAL, "multi_temperature": MULTI, "sinkhorn": SINKHORN}
# One problem split by rows (`Operator.apply(split="rows")`): a Sinkhorn drift stopped by its
# tolerance, Algorithm 2, and guidance negatives.
SPLIT = {
    "sinkhorn_tol": ('{"sinkhorn_drift": (temperature: 0.4, sinkhorn: (max_iters: 500, tol: 1e-9))}',
                     False),
    "deng_alg2": ('{"deng_alg2": (temperature: 0.5)}', False),
    "guidance": ('{"guidance": (alpha: 2.0, operator: {"sinkhorn_drift": (temperature: 0.4)})}',
                 True),
}


def single_problem():
    """The one float64 problem every rank holds whole under the split by rows."""
    rng = np.random.default_rng(5)
    return rng.standard_normal((23, 3)), rng.standard_normal((17, 3)) + 0.5, \
        rng.standard_normal((6, 3))


def data_weights():
    """The weights of `single_problem`'s data y under the split by columns."""
    return np.random.default_rng(6).uniform(0.2, 1.0, 17)


def column_shard(rank, m=17):
    """Rank `rank`'s contiguous rows of the data y (4, 4, 4 and 5 of 17) under the split by
    columns."""
    return slice(rank * m // RANKS, (rank + 1) * m // RANKS)


def batch(seed=0, b=8, n=6, npos=7, nneg=3, s=5):
    """The fixed batch every rank builds (same seed): float32 `gen`, `pos`, `neg`, `weight_neg`."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((b, 1, s)) * 2
    gen = centres + 0.5 + rng.standard_normal((b, n, s)) * 0.7
    pos = centres + rng.standard_normal((b, npos, s)) * 0.5
    neg = np.roll(centres, 1, axis=0) + rng.standard_normal((b, nneg, s))
    wn = rng.uniform(0.5, 3.0, (b, nneg))
    return [a.astype(np.float32) for a in (gen, pos, neg, wn)]


def gather_batch():
    """The problems every rank holds under `gather=True` (same seed everywhere): 3 problems of 8
    generated samples, 12 positives and 4 weighted negatives, each rank taking a quarter of each
    problem's samples (`rank_samples`)."""
    return batch(seed=1, b=3, n=8, npos=12, nneg=4, s=4)


def rank_samples(arrays, rank):
    """Rank `rank`'s quarter of every problem's samples (axis 1), in rank order."""
    out = []
    for a in arrays:
        k = a.shape[1] // RANKS
        out.append(a[:, rank * k: (rank + 1) * k])
    return out


def results(loss, info):
    """What a call returns, as NumPy arrays by name."""
    out = {"loss": loss.detach().numpy(), "drift": info["drift"].numpy()}
    for k, v in info.items():
        if k != "drift":
            out[k] = np.asarray(v.item())
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, out_dir: str) -> None:
    """One rank, started by torchrun (its rendezvous in the environment): its quarter of the
    batch through drift_loss with the default process group, and the same through DriftLoss and
    Operator.apply_batch with an explicit group."""
    import torch
    import torch.distributed as dist

    import drift
    import drift.torch as dt

    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=RANKS)
    try:
        gen, pos, neg, wn = (torch.from_numpy(a) for a in batch())
        rows = slice(rank * len(gen) // RANKS, (rank + 1) * len(gen) // RANKS)
        gen, pos, neg, wn = gen[rows], pos[rows], neg[rows], wn[rows]
        group = dist.new_group(list(range(RANKS)))
        saved = {}
        for name, operator in CASES.items():
            loss, info = dt.drift_loss(gen, pos, neg, weight_neg=wn, operator=operator,
                                       process_group=True)
            for k, v in results(loss, info).items():
                saved[f"{name}/{k}"] = v
            # The module with an explicit group gives the same.
            loss_m, info_m = dt.DriftLoss(operator=operator, process_group=group)(
                gen, pos, neg, weight_neg=wn)
            saved[f"{name}/module_drift"] = info_m["drift"].numpy()
        # gather=True: the same problems on every rank, a quarter of each one's samples.
        mine = rank_samples([torch.from_numpy(a) for a in gather_batch()], rank)
        for name, operator in CASES.items():
            loss, info = dt.drift_loss(mine[0], mine[1], mine[2], weight_neg=mine[3],
                                       operator=operator, process_group=group, gather=True)
            for k, v in results(loss, info).items():
                saved[f"gather/{name}/{k}"] = v
            loss_m, info_m = dt.DriftLoss(operator=operator, process_group=True, gather=True)(
                mine[0], mine[1], mine[2], weight_neg=mine[3])
            saved[f"gather/{name}/module_drift"] = info_m["drift"].numpy()
        # Unequal sample counts: the same error on every rank (no rank left waiting).
        ragged = mine[0] if rank != 2 else mine[0][:, :1]
        try:
            dt.drift_loss(ragged, mine[1], process_group=True, gather=True)
            saved["gather/ragged_error"] = np.array("no error")
        except ValueError as e:
            saved["gather/ragged_error"] = np.array(str(e))
        # One problem split by rows: every rank gets the whole field.
        x, y, u = single_problem()
        for name, (ron, with_negatives) in SPLIT.items():
            negatives = u if with_negatives else None
            v, _ = drift.load(ron).apply(x, y, negatives=negatives, split="rows",
                                         process_group=group)
            saved[f"split/{name}"] = v
        # Split by columns: all of x and this rank's shard of the weighted data.
        mine, w = column_shard(rank), data_weights()
        for name, (ron, with_negatives) in SPLIT.items():
            negatives = u if with_negatives else None
            v, _ = drift.load(ron).apply(x, y[mine], y_weights=w[mine], negatives=negatives,
                                         split="columns", process_group=group)
            saved[f"columns/{name}"] = v

        def all_reduce(values):
            """The sum over the group, as a caller without drift.torch writes it."""
            total = torch.from_numpy(np.array(values, dtype=np.float64))
            dist.all_reduce(total, group=group)
            return total.numpy()

        v, _ = drift.load(SPLIT["sinkhorn_tol"][0]).apply(
            x, y[mine], y_weights=w[mine], split="columns", collective=all_reduce, rank=rank,
            ranks=RANKS)
        saved["columns/own_collective"] = v
        op = drift.load(MULTI)
        v, report = op.apply_batch(gen, pos, negatives=neg, negative_weights=wn,
                                   process_group=group)
        saved["apply_batch/drift"] = v.numpy()
        saved["apply_batch/lambda"] = np.array([lam for _, lam in report.temperature_norms])
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **saved)
        dist.barrier()  # every rank done before the group is torn down
    finally:
        dist.destroy_process_group()


def _main(out_dir: str) -> None:
    """The rank torchrun started this process as."""
    assert int(os.environ["WORLD_SIZE"]) == RANKS, "run under torchrun --nproc_per_node 4"
    _rank(int(os.environ["RANK"]), out_dir)


def _requirements():
    """torch with custom ops and torch.distributed with gloo, or a skip."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if not hasattr(torch, "library") or not hasattr(torch.library, "custom_op"):
        pytest.skip("drift.torch needs torch.library.custom_op (PyTorch >= 2.4)")
    dist = torch.distributed
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with the gloo backend is not available")
    return torch


def test_ranks_together_equal_one_process_on_the_whole_batch(tmp_path):
    torch = _requirements()
    import drift.torch as dt

    # torchrun --standalone --nproc_per_node 4, as a user runs a data-parallel job.
    job = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={RANKS}", os.path.abspath(__file__), str(tmp_path)],
        capture_output=True, text=True, timeout=240,
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(RANKS)]

    gen, pos, neg, wn = (torch.from_numpy(a) for a in batch())
    for name, operator in CASES.items():
        loss, info = dt.drift_loss(gen, pos, neg, weight_neg=wn, operator=operator)
        whole = results(loss, info)
        # Every batch-wide statistic is the same on every rank, and the whole batch's.
        scalars = [k for k in whole if k not in ("loss", "drift")]
        assert scalars, name
        for k in scalars:
            for r in ranks:
                np.testing.assert_allclose(r[f"{name}/{k}"], whole[k], rtol=1e-6, equal_nan=True,
                                           err_msg=f"{name}: {k}")
        # The rows of every rank, concatenated, are the field and loss of the whole batch.
        for k in ("drift", "loss"):
            joined = np.concatenate([r[f"{name}/{k}"] for r in ranks])
            np.testing.assert_allclose(joined, whole[k], rtol=1e-6,
                                       atol=1e-6 * np.abs(whole[k]).max(),
                                       err_msg=f"{name}: {k}")
        module = np.concatenate([r[f"{name}/module_drift"] for r in ranks])
        np.testing.assert_allclose(module, whole["drift"], rtol=1e-6,
                                   atol=1e-6 * np.abs(whole["drift"]).max())
        if name == "official":
            # Without the process group the ranks' fields differ (each its own scale).
            local, _ = dt.drift_loss(gen[:2], pos[:2], neg[:2], weight_neg=wn[:2])
            assert not np.allclose(local.numpy(), ranks[0]["official/loss"], rtol=1e-4)

    # gather=True: each rank's results are those of its rows of one process on the gathered
    # problems (rank_samples concatenated in rank order give gather_batch back).
    ggen, gpos, gneg, gwn = (torch.from_numpy(a) for a in gather_batch())
    per_rank = ggen.shape[1] // RANKS
    for name, operator in CASES.items():
        loss, info = dt.drift_loss(ggen, gpos, gneg, weight_neg=gwn, operator=operator)
        whole = results(loss, info)
        c = max(whole["scale"] / np.sqrt(ggen.shape[-1]), 1e-3) if operator is OFFICIAL else 1.0
        for rank, r in enumerate(ranks):
            rows = slice(rank * per_rank, (rank + 1) * per_rank)
            for k in whole:
                if k in ("loss", "drift"):
                    continue
                np.testing.assert_allclose(r[f"gather/{name}/{k}"], whole[k], rtol=1e-6,
                                           equal_nan=True, err_msg=f"gather {name}: {k}")
            v_rows = whole["drift"][:, rows]
            for k in ("drift", "module_drift"):
                np.testing.assert_allclose(r[f"gather/{name}/{k}"], v_rows, rtol=1e-6,
                                           atol=1e-6 * np.abs(v_rows).max(),
                                           err_msg=f"gather {name}: {k}, rank {rank}")
            # The loss of this rank's rows: the mean of (V / c)^2 over them.
            expected = ((v_rows / c) ** 2).mean(axis=(1, 2))
            np.testing.assert_allclose(r[f"gather/{name}/loss"], expected, rtol=1e-5,
                                       err_msg=f"gather {name}: loss, rank {rank}")
        mean_loss = np.mean([r[f"gather/{name}/loss"] for r in ranks], axis=0)
        np.testing.assert_allclose(mean_loss, whole["loss"], rtol=1e-5)
    # Without the gather, each rank's quarter alone gives another field.
    local, local_info = dt.drift_loss(*rank_samples([ggen, gpos, gneg], 0), weight_neg=gwn[:, :1])
    assert not np.allclose(local_info["drift"].numpy(), ranks[0]["gather/official/drift"],
                           rtol=1e-3)
    for rank, r in enumerate(ranks):
        message = str(r["gather/ragged_error"])
        assert "same problems on every rank" in message, message
        assert "rank 2 has gen (3, 1, 4)" in message and "rank 0 has gen (3, 2, 4)" in message

    import drift

    # One problem split by rows over 4 ranks: each rank's field is one process's, to 1e-12 of the
    # field against one process taking the same fused passes (its only share of the rows), and to
    # 1e-9 against the default call, whose pair cache rounds differently.
    x, y, u = single_problem()
    for name, (ron, with_negatives) in SPLIT.items():
        negatives = u if with_negatives else None
        op = drift.load(ron)
        fused, _ = op.apply(x, y, negatives=negatives, split="rows", collective=lambda s: s,
                            rank=0, ranks=1)
        default, _ = op.apply(x, y, negatives=negatives)
        for rank, r in enumerate(ranks):
            got = r[f"split/{name}"]
            np.testing.assert_allclose(got, fused, rtol=0, atol=1e-12 * np.abs(fused).max(),
                                       err_msg=f"split {name}, rank {rank}")
            np.testing.assert_allclose(got, default, rtol=0, atol=1e-9 * np.abs(default).max(),
                                       err_msg=f"split {name}, rank {rank}")

    # Split by columns over 4 ranks, each holding a shard of the weighted data: one process's
    # field holding all of it, to 1e-12 against the same fused passes, 1e-9 against the default.
    w = data_weights()
    for name, (ron, with_negatives) in SPLIT.items():
        negatives = u if with_negatives else None
        op = drift.load(ron)
        fused, _ = op.apply(x, y, y_weights=w, negatives=negatives, split="columns",
                            collective=lambda s: s, rank=0, ranks=1)
        default, _ = op.apply(x, y, y_weights=w, negatives=negatives)
        keys = [name] + (["own_collective"] if name == "sinkhorn_tol" else [])
        for key in keys:
            for rank, r in enumerate(ranks):
                got = r[f"columns/{key}"]
                np.testing.assert_allclose(got, fused, rtol=0, atol=1e-12 * np.abs(fused).max(),
                                           err_msg=f"columns {key}, rank {rank}")
                np.testing.assert_allclose(got, default, rtol=0,
                                           atol=1e-9 * np.abs(default).max(),
                                           err_msg=f"columns {key}, rank {rank}")
    # A rank's shard alone gives another field: the ranks did complete each other's.
    alone, _ = drift.load(SPLIT["sinkhorn_tol"][0]).apply(x, y[column_shard(0)],
                                                          y_weights=w[column_shard(0)])
    assert not np.allclose(alone, ranks[0]["columns/sinkhorn_tol"], rtol=1e-3)

    v, report = drift.load(MULTI).apply_batch(gen, pos, negatives=neg, negative_weights=wn)
    joined = np.concatenate([r["apply_batch/drift"] for r in ranks])
    np.testing.assert_allclose(joined, v.numpy(), rtol=1e-6, atol=1e-6 * np.abs(v.numpy()).max())
    lambdas = np.array([lam for _, lam in report.temperature_norms])
    for r in ranks:
        np.testing.assert_allclose(r["apply_batch/lambda"], lambdas, rtol=1e-6)


def test_collective_failures_raise():
    import drift

    op = drift.load('{"deng_official": (temperatures: [0.05])}')
    gen, pos, _, _ = batch(b=2)

    def boom(values):
        raise OSError("the network is down")

    with pytest.raises(RuntimeError, match="the network is down") as caught:
        op.apply_batch(gen, pos, collective=boom)
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(RuntimeError, match="returned 1 values for 2 sums"):
        op.apply_batch(gen, pos, collective=lambda v: v[:1])
    with pytest.raises(RuntimeError, match="non-finite"):
        op.apply_batch(gen, pos, collective=lambda v: v * np.inf)
    with pytest.raises(ValueError, match="must be a callable"):
        op.apply_batch(gen, pos, collective=3)
    # The identity (one process) and the sum of two identical processes leave the field as it is.
    v, _ = op.apply_batch(gen, pos)
    seen = []
    v1, _ = op.apply_batch(gen, pos, collective=lambda s: seen.append(len(s)) or s)
    v2, _ = op.apply_batch(gen, pos, collective=lambda s: 2 * s)
    np.testing.assert_array_equal(v1, v)
    np.testing.assert_allclose(v2, v, rtol=1e-6)
    assert seen == [2, 2, 2]  # scale, lambda_R (and the count), drift norm: a fixed sequence


def test_process_group_errors():
    torch = _requirements()
    import drift.torch as dt

    gen, pos, _, _ = (torch.from_numpy(a) for a in batch(b=2))
    with pytest.raises(ValueError, match="process group"):
        dt.drift_loss(gen, pos, process_group="world")
    with pytest.raises(ValueError, match="no process group is registered"):
        dt.drift_loss(gen, pos, process_group=12345)
    if not torch.distributed.is_initialized():
        with pytest.raises(ValueError, match="not initialised"):
            dt.drift_loss(gen, pos, process_group=True)
    with pytest.raises(ValueError, match="`gather=True` needs a process group"):
        dt.drift_loss(gen, pos, gather=True)
    with pytest.raises(ValueError, match="`gather=True` needs a process group"):
        dt.DriftLoss(gather=True)


def _single_rank_compile(port: int) -> None:
    """World size 1: DriftLoss(process_group=group), drift_loss with a group's handle and
    DriftLoss(gather=True) under torch.compile(fullgraph=True) keep one graph and give the eager
    result."""
    import torch
    import torch.distributed as dist

    import drift.torch as dt

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0,
                            world_size=1)
    try:
        gen, pos, neg, wn = (torch.from_numpy(a) for a in batch(b=2))
        model = torch.nn.Linear(gen.shape[-1], gen.shape[-1])
        loss_fn = dt.DriftLoss(process_group=dist.group.WORLD)

        def step(z):
            loss, info = loss_fn(model(z), pos, neg, weight_neg=wn)
            return loss.mean(), info["scale"]

        handle = dt.group_handle(dist.new_group([0]))

        def functional(z):
            loss, info = dt.drift_loss(model(z), pos, neg, weight_neg=wn, process_group=handle)
            return loss.mean(), info["scale"]

        gather_fn = dt.DriftLoss(process_group=handle, gather=True)

        def gathered(z):
            loss, info = gather_fn(model(z), pos, neg, weight_neg=wn)
            return loss.mean(), info["drift"]

        # One rank: the gathered problems are this rank's own, the field the one-process one.
        _, alone = dt.drift_loss(model(gen).detach(), pos, neg, weight_neg=wn)
        torch.testing.assert_close(gathered(gen)[1], alone["drift"])
        for f in (step, functional, gathered):
            eager = f(gen)
            torch._dynamo.reset()
            explained = torch._dynamo.explain(f)(gen)
            assert explained.graph_break_count == 0, explained.break_reasons
            torch._dynamo.reset()
            compiled = torch.compile(f, fullgraph=True, backend="aot_eager")(gen)
            torch.testing.assert_close(compiled, eager)
    finally:
        dist.destroy_process_group()


def test_compiled_step_with_a_process_group():
    _requirements()
    pytest.importorskip("torch._dynamo")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_distributed as t; "
        "t._single_rank_compile(int(sys.argv[2]))"
    )
    job = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)),
         str(_free_port())],
        capture_output=True, text=True, timeout=240,
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]


if __name__ == "__main__":
    _main(sys.argv[1])


def test_split_rows_arguments_are_checked():
    import drift

    op = drift.load('{"one_sided": (temperature: 0.5)}')
    x, y, _ = single_problem()
    with pytest.raises(ValueError, match="give split='rows'"):
        op.apply(x, y, collective=lambda v: v, rank=0, ranks=1)
    with pytest.raises(ValueError, match="give split='rows'"):
        op.apply(x, y, split="diagonal", collective=lambda v: v, rank=0, ranks=1)
    with pytest.raises(ValueError, match="needs a process_group, or a collective"):
        op.apply(x, y, split="rows", collective=lambda v: v)
    with pytest.raises(ValueError, match="rank 2: not one of the 2 processes"):
        op.apply(x, y, split="rows", collective=lambda v: v, rank=2, ranks=2)
    # One process holding the only share: the plain field, and a failing collective is the cause.
    v, _ = op.apply(x, y, split="rows", collective=lambda v: v, rank=0, ranks=1)
    np.testing.assert_allclose(v, op.apply(x, y)[0], rtol=0, atol=1e-9)

    def boom(values):
        raise OSError("the network is down")

    with pytest.raises(RuntimeError, match="the network is down") as caught:
        op.apply(x, y, split="rows", collective=boom, rank=0, ranks=1)
    assert isinstance(caught.value.__cause__, OSError)

