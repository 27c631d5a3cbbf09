"""A tiny class-conditional generator trained data-parallel with the drifting loss: every rank holds
a slice of the classes (one drift problem per class), and `drift_loss(..., process_group=...)`
takes the loss's batch-wide statistics (the feature scale and each temperature's lambda_R) over the
classes of every rank, as the official training code does over its global batch; the model's
gradients are averaged by DistributedDataParallel. Random data: each class is a Gaussian blob.
Prints the loss per step on rank 0, with the mean distance between each class's generated mean
and its data mean (the official loss's value stays near the square of the number of temperatures,
its field being normalised per temperature: the distance shows the progress).

    torchrun --nproc_per_node 2 drift-python/examples/distributed_loss.py [--steps 50] [--gather]

With --gather every rank holds every class instead, with --per-class generated samples and
positives of its own, and `DriftLoss(process_group=..., gather=True)` all-gathers each class's
samples over the ranks: each problem then has ranks x --per-class samples of each kind (less
minibatch bias), every rank computes the field of the gathered problems and trains on its own
rows.

(CPU, gloo; `torchrun --standalone ...` picks a free port; run without torchrun it is one
process.)
"""

from __future__ import annotations

import argparse
import os
import socket

import torch
import torch.distributed as dist
import torch.nn.functional as F

import drift.torch as dt


def init() -> None:
    """The gloo process group: torchrun's environment, or one process on a free local port."""
    if "WORLD_SIZE" in os.environ:
        dist.init_process_group("gloo")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--classes", type=int, default=8, help="divisible by the number of ranks")
    p.add_argument("--per-class", type=int, default=32, help="generated samples and positives")
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gather", action="store_true",
                   help="every rank holds every class; each class's samples are all-gathered")
    args = p.parse_args()

    init()
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.gather:
        mine = torch.arange(args.classes)  # every class, samples of this rank's own
    else:
        if args.classes % world:
            raise SystemExit(f"--classes {args.classes} must be divisible by the {world} ranks")
        mine = torch.arange(rank, args.classes, world)  # this rank's classes (problems)

    # The same data on every rank (same seed): one Gaussian blob per class.
    g = torch.Generator().manual_seed(args.seed)
    means = torch.randn(args.classes, args.dim, generator=g) * 3
    spread = 0.5 + torch.rand(args.classes, 1, generator=g)

    torch.manual_seed(args.seed)  # DDP broadcasts rank 0's parameters anyway
    noise = 8
    net = torch.nn.Sequential(
        torch.nn.Linear(noise + args.classes, 128), torch.nn.SiLU(),
        torch.nn.Linear(128, 128), torch.nn.SiLU(),
        torch.nn.Linear(128, args.dim),
    )
    model = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # One module for the whole run: the operator prepared and the group registered once.
    loss_fn = dt.DriftLoss(process_group=dist.group.WORLD, gather=args.gather)

    step_rng = torch.Generator().manual_seed(args.seed * 1000 + rank + 1)
    b, n = len(mine), args.per_class
    for step in range(args.steps):
        z = torch.randn(b, n, noise, generator=step_rng)
        label = F.one_hot(mine, args.classes).float()[:, None, :].expand(b, n, args.classes)
        gen = model(torch.cat([z, label], dim=-1))  # [B_rank, n, dim]
        pos = means[mine][:, None, :] + spread[mine][:, :, None] * torch.randn(
            b, n, args.dim, generator=step_rng)
        loss, info = loss_fn(gen, pos)
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
        # The mean loss over every rank's classes (for the printout only; with --gather each
        # rank's loss is that of its rows, every class on every rank).
        total = loss.detach().sum().reshape(1)
        dist.all_reduce(total)
        with torch.no_grad():
            err = (gen.mean(1) - means[mine]).norm(dim=-1).sum().reshape(1)
        dist.all_reduce(err)
        count = args.classes * (world if args.gather else 1)
        if rank == 0:
            print(
                f"step {step:3d}  loss {total.item() / count:.5f}  "
                f"scale {info['scale'].item():.4f}  "
                f"mean distance of class means {err.item() / count:.3f}",
                flush=True,
            )
    dist.barrier()  # every rank done before the group is torn down
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
