"""A pure-PyTorch port of the official drifting loss (Deng et al.'s JAX function), batched over the
B problems of one feature key, written from MATH.md's step by step description ("The training
workload") and drift-bench/scripts/peers/official_loss.py: the baseline that `drift.torch.drift_loss`
replaces. Same signature and results as `drift_loss` with the default operator (to float32
rounding): `loss` [B], `info` with "drift" (V in data units), "scale" and "loss_{R}".

    from official_torch import official_loss
    loss, info = official_loss(gen, fixed_pos, fixed_neg, weight_neg=w)

No loop over problems: every step is one batched tensor operation over [B, N, T] (a loop over the
temperatures only). The field is computed without autograd; the loss is
mean_{i,k}(gen/c - stopgrad(gen/c + V/c))^2 per problem, so its gradient flows to `gen` only.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch

MASK = 100.0  # the finite self mask added to d_hat on the generated block's diagonal
DIST_FLOOR = 1e-8  # floor of the squared distance
AFF_FLOOR = 1e-6  # floor of softmax_j * softmax_i before the square root
SCALE_FLOOR = 1e-3  # floor of s (for d_hat) and of s / sqrt(D) (for c)
LAMBDA_FLOOR = 1e-8  # floor of mean F^2


def official_loss(
    gen: torch.Tensor,
    fixed_pos: torch.Tensor,
    fixed_neg: Optional[torch.Tensor] = None,
    weight_gen: Optional[torch.Tensor] = None,
    weight_pos: Optional[torch.Tensor] = None,
    weight_neg: Optional[torch.Tensor] = None,
    R_list: Sequence[float] = (0.02, 0.05, 0.2),
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The official loss of `[B, C_g, S]` generated samples against `[B, C_p, S]` positives and
    optional `[B, C_n, S]` negatives (weights `[B, C]`, 1 when not given)."""
    b, n, d_dim = gen.shape
    with torch.no_grad():
        x = gen.detach()
        parts = [x] + ([fixed_neg] if fixed_neg is not None else []) + [fixed_pos]
        targets = torch.cat(parts, dim=1)  # t = [X; negatives; positives], [B, T, S]

        def ones(t, w):
            return torch.ones(t.shape[:2], dtype=x.dtype) if w is None else w.to(x.dtype)

        ws = [ones(x, weight_gen)]
        if fixed_neg is not None:
            ws.append(ones(fixed_neg, weight_neg))
        ws.append(ones(fixed_pos, weight_pos))
        w = torch.cat(ws, dim=1)  # [B, T]
        n_neg = n + (fixed_neg.shape[1] if fixed_neg is not None else 0)  # columns of [X; neg]
        # Gram-form distances, as the official code computes them.
        d2 = torch.baddbmm((x * x).sum(-1)[:, :, None] + (targets * targets).sum(-1)[:, None, :],
                           x, targets.transpose(1, 2), alpha=-2.0)
        dist = torch.sqrt(torch.clamp(d2, min=DIST_FLOOR))  # [B, N, T]
        # Batch-wide scale (over every problem), the coordinate scale c and d_hat.
        scale = (dist * w[:, None, :]).mean() / w.mean()
        c = torch.clamp(scale / float(d_dim) ** 0.5, min=SCALE_FLOOR)
        mask = torch.zeros(n, targets.shape[1], dtype=x.dtype)
        mask[:, :n] = torch.eye(n, dtype=x.dtype) * MASK
        dhat = dist / torch.clamp(scale, min=SCALE_FLOOR) + mask
        t_scaled, x_scaled = targets / c, x / c
        force = torch.zeros_like(x)
        info: Dict[str, torch.Tensor] = {}
        for r in R_list:
            logits = -dhat / r
            aff = torch.softmax(logits, dim=-1) * torch.softmax(logits, dim=-2)
            aff = torch.sqrt(torch.clamp(aff, min=AFF_FLOOR)) * w[:, None, :]
            a_neg, a_pos = aff[:, :, :n_neg], aff[:, :, n_neg:]
            coeff = torch.cat([-a_neg * a_pos.sum(-1, keepdim=True),
                               a_pos * a_neg.sum(-1, keepdim=True)], dim=-1)
            f = torch.bmm(coeff, t_scaled) - coeff.sum(-1)[:, :, None] * x_scaled
            mean_f2 = (f * f).mean()
            force += f / torch.sqrt(torch.clamp(mean_f2, min=LAMBDA_FLOOR))
            info[f"loss_{r}"] = mean_f2
        goal = x_scaled + force
    loss = ((gen / c - goal) ** 2).mean(dim=(1, 2))
    info["drift"] = c * force
    info["scale"] = scale
    return loss, info
