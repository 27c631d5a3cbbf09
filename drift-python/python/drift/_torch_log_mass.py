"""The positives' log softmax mass under the official loss's kernel, in PyTorch: the quantity
through which `drift.torch` trains a learned temperature."""

from __future__ import annotations

from typing import Optional, Union

import torch

from ._loss_operators import SCALE_FLOOR
from ._torch_inputs import _check_inputs


def positive_log_mass(
    gen: torch.Tensor,
    fixed_pos: torch.Tensor,
    fixed_neg: Optional[torch.Tensor] = None,
    weight_gen: Optional[torch.Tensor] = None,
    weight_pos: Optional[torch.Tensor] = None,
    weight_neg: Optional[torch.Tensor] = None,
    temperature: Union[torch.Tensor, float] = 0.05,
    scale: Union[None, torch.Tensor, float] = None,
) -> torch.Tensor:
    """The positives' log softmax mass of every generated sample under the official loss's
    kernel, differentiable in PyTorch (autograd gives its gradient with respect to the
    temperature, and to `gen` when it requires grad): the quantity through which a learned
    temperature is trained.

    With the official loss's targets `t = [gen; fixed_neg; fixed_pos]` of each problem, their
    weights `w = [weight_gen; weight_neg; weight_pos]` (1 when not given), the distances
    `d_ij = sqrt(max(|x_i - t_j|^2, 1e-8))` (not squared), `d^_ij = d_ij / max(scale, 1e-3)`
    plus 100 on the self diagonal (`j = i`, the official finite mask) and the logits
    `l_ij = -d^_ij / tau + log w_j` (the weights as multiplicities),

        log_mass_i = logsumexp_{j in positives} l_ij - logsumexp_{all j} l_ij
                   = log(sum_{j in pos} w_j exp(-d^_ij / tau) / sum_j w_j exp(-d^_ij / tau)),

    the log of the share of the row softmax (the official loss's softmax over the targets of
    `x_i`) that falls on the positives. It is at most 0, tends to `log(sum_pos w / sum_all w)`
    as `tau` grows and, as `tau -> 0`, to 0 where `x_i`'s nearest target is a positive and to
    minus infinity otherwise. Its derivative is `d log_mass_i / d tau = (sum_{j in pos} q_ij
    d^_ij - sum_j p_ij d^_ij) / tau**2`, `p_i` the softmax of `l_i` over all targets and `q_i`
    over the positives alone: positive while the positives are farther from `x_i`, on average,
    than its targets as a whole.
    Maximising the mean log mass in `tau` (the objective this module suggests) widens the
    kernel while the generated samples' nearest targets are other generated samples or
    negatives (early in training: far positives then still attract) and sharpens it as the
    generated samples come to lie among the positives: a bounded objective with a well-defined
    gradient. (The unnormalised `log sum_pos w_j exp(-d^_ij / tau)` alone only grows with
    `tau`.)

    Arguments as `drift_loss`'s (`[B, C, S]` points, `[B, C]` weights); `temperature` a float
    or a tensor, scalar or `[K]`; `scale` the feature scale `s` (a float or a scalar tensor,
    e.g. `info["scale"]` of `drift_loss`, which is all-reduced over a process group), or None
    for the official batch-wide scale of these tensors, `mean_{b,i,j}(w_bj d_bij) /
    mean_{b,j}(w_bj)` (computed without gradient). Returns `[B, C_g]` (`[K, B, C_g]` for `[K]`
    temperatures) in the promoted dtype of `gen` and `temperature` (at least float32).
    """
    _check_inputs(
        gen,
        fixed_pos,
        fixed_neg,
        {"weight_gen": weight_gen, "weight_pos": weight_pos, "weight_neg": weight_neg},
    )
    tau = torch.as_tensor(temperature)
    if tau.dim() > 1:
        raise ValueError("`temperature` must be a scalar or 1-d")
    dtype = torch.promote_types(gen.dtype, tau.dtype)
    if dtype not in (torch.float32, torch.float64):
        dtype = torch.float32
    b, n, s = gen.shape
    x = gen.to(dtype)
    parts = [x] + ([fixed_neg.to(dtype)] if fixed_neg is not None else []) + [fixed_pos.to(dtype)]
    targets = torch.cat(parts, dim=1)  # [B, T, S]

    def ones(t, w):
        return torch.ones(t.shape[:2], dtype=dtype) if w is None else w.to(dtype)

    ws = [ones(gen, weight_gen)]
    if fixed_neg is not None:
        ws.append(ones(fixed_neg, weight_neg))
    ws.append(ones(fixed_pos, weight_pos))
    w = torch.cat(ws, dim=1).detach()  # [B, T]
    m = fixed_pos.shape[1]
    d2 = ((x * x).sum(-1)[:, :, None] + (targets * targets).sum(-1)[:, None, :]
          - 2.0 * torch.bmm(x, targets.transpose(1, 2)))
    d = torch.sqrt(torch.clamp(d2, min=1e-8))  # [B, N, T]
    if scale is None:
        with torch.no_grad():
            s_val = (d * w[:, None, :]).mean() / w.mean()
    else:
        s_val = torch.as_tensor(scale, dtype=dtype).detach()
    dhat = d / torch.clamp(s_val, min=SCALE_FLOOR)
    mask = torch.zeros(n, targets.shape[1], dtype=dtype)
    mask[:, :n] = torch.eye(n, dtype=dtype) * 100.0
    dhat = dhat + mask
    tau = tau.to(dtype)
    scalar = tau.dim() == 0
    tau = tau.reshape(-1, 1, 1, 1)  # [K, 1, 1, 1]
    logits = -dhat[None] / tau + torch.log(w)[None, :, None, :]  # [K, B, N, T]
    out = torch.logsumexp(logits[..., -m:], dim=-1) - torch.logsumexp(logits, dim=-1)
    return out[0] if scalar else out
