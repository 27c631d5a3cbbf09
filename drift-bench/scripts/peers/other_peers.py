"""POT's `sinkhorn_log`, GeomLoss' `SamplesLoss("sinkhorn")` gradient and a KeOps online
log-sum-exp: each imported when called, so a peer that is not installed is skipped alone."""
import numpy as np


def pot_sinkhorn_drift(x, y, tau, iters):
    """The 20-iteration Sinkhorn drift with `ot.bregman.sinkhorn_log` on both terms (`reg = tau`,
    `stopThr = 0`). The cross term is warm-started at drift's starting potentials (u = f0, v = 0),
    so its iterations are drift's; POT has no symmetric update, so the self term runs POT's
    alternating iterations from zero (a different iteration: see the agreement column). Works on
    NumPy arrays or torch tensors (POT's backends)."""
    import ot

    nx = ot.backend.get_backend(x)
    n, m = x.shape[0], y.shape[0]
    a = nx.full((n,), 1.0 / n, type_as=x)
    b = nx.full((m,), 1.0 / m, type_as=x)
    c = ot.dist(x, y)
    f0 = nx.log(a) - nx.logsumexp(nx.log(b)[None, :] - c / tau, axis=1)
    p = ot.bregman.sinkhorn_log(a, b, c, tau, numItermax=iters, stopThr=0.0, warn=False,
                                warmstart=(f0, nx.zeros((m,), type_as=x)))
    cs = ot.dist(x, x)
    q = ot.bregman.sinkhorn_log(a, a, cs, tau, numItermax=iters, stopThr=0.0, warn=False)
    return (p @ y) / nx.sum(p, axis=1)[:, None] - (q @ x) / nx.sum(q, axis=1)[:, None]


def geomloss_drift(x, y, blur, scaling):
    """GeomLoss' debiased Sinkhorn divergence (p = 2, tensorized backend) and its gradient with
    respect to x, rescaled to the drift V_i = -(1/a_i) dS/dx_i = -N dS/dx_i (MATH.md). x and y are
    torch tensors."""
    import torch
    from geomloss import SamplesLoss

    loss = SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling, debias=True,
                       backend="tensorized")
    xt = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(xt, y), [xt])
    return -x.shape[0] * grad


def geomloss_schedule(x, y, blur, scaling):
    """GeomLoss' epsilon schedule for p = 2 (geomloss.sinkhorn_divergence.epsilon_schedule): the
    bounding-box diameter of both clouds, then [diam^2] + exp(arange(2 ln diam, 2 ln blur,
    2 ln scaling)) + [blur^2], one symmetrised update per entry (the list drift's
    `sinkhorn: (schedule: GeomLoss, epsilon_scaling: Some(scaling^2))` runs, in tau = 2 epsilon)."""
    lo = np.minimum(x.min(0), y.min(0))
    hi = np.maximum(x.max(0), y.max(0))
    diam = float(np.linalg.norm(hi - lo))
    eps = ([diam ** 2] + [float(np.exp(e)) for e in np.arange(2 * np.log(diam), 2 * np.log(blur),
                                                            2 * np.log(scaling))] + [blur ** 2])
    return diam, eps


def keops_lse(x, y, tau):
    """lse_i = LSE_j (log b_j - |x_i - y_j|^2 / tau) with a KeOps LazyTensor reduction (online
    log-sum-exp, no N x M buffer). x, y torch tensors on the CPU."""
    import torch
    from pykeops.torch import LazyTensor

    m = y.shape[0]
    g = torch.full((m, 1), -float(np.log(m)), dtype=x.dtype)
    x_i = LazyTensor(x[:, None, :].contiguous())
    y_j = LazyTensor(y[None, :, :].contiguous())
    g_j = LazyTensor(g[None, :, :].contiguous())
    s_ij = g_j - ((x_i - y_j) ** 2).sum(-1) / tau
    return s_ij.logsumexp(dim=1).view(-1)
