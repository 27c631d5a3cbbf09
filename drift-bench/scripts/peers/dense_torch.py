"""Dense PyTorch versions of the operators, written the way the papers' reference code computes
them: full N x M matrices, softmax / logsumexp over axes. The same functions in float64 are the
references every output is checked against."""
import torch


def sqdist(x, y):
    """Squared distances in Gram form (what a dense implementation uses), clamped at 0."""
    return ((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T).clamp_min(0.0)


def deng_alg2(x, y, tau):
    """Deng et al. Algorithm 2 (paper form, Laplace kernel): joint logits over [Y; X], the self
    block masked with +1e6 on the distance, A = sqrt(softmax_row * softmax_col)."""
    n, m = x.shape[0], y.shape[0]
    d_pos = torch.cdist(x, y)
    d_neg = torch.cdist(x, x) + 1e6 * torch.eye(n, dtype=x.dtype)
    logit = torch.cat([-d_pos / tau, -d_neg / tau], dim=1)
    a = (logit.softmax(dim=-1) * logit.softmax(dim=-2)).sqrt()
    a_pos, a_neg = a[:, :m], a[:, m:]
    w_pos = a_pos * a_neg.sum(1, keepdim=True)
    w_neg = a_neg * a_pos.sum(1, keepdim=True)
    return w_pos @ y - w_neg @ x


def one_sided(x, y, tau):
    """One-sided drift (Laplace kernel): row-softmax barycentres, self pairs masked."""
    l_pos = -torch.cdist(x, y) / tau
    l_neg = -torch.cdist(x, x) / tau
    l_neg.fill_diagonal_(float("-inf"))
    return l_pos.softmax(1) @ y - l_neg.softmax(1) @ x


def sinkhorn_drift(x, y, tau, iters):
    """Sinkhorn drift, Gaussian kernel, exactly `iters` iterations on each term: the cross term
    alternates g and f from g = log b (f first computed from it), the self term runs the symmetric
    averaged update from h = log a; barycentres of the row-normalised plans. Same scheme as drift's
    `sinkhorn` coupling with tol 0."""
    n, m = x.shape[0], y.shape[0]
    la = torch.full((n,), -torch.log(torch.tensor(float(n))).item(), dtype=x.dtype)
    lb = torch.full((m,), -torch.log(torch.tensor(float(m))).item(), dtype=x.dtype)
    lxy = -sqdist(x, y) / tau
    lxx = -sqdist(x, x) / tau
    g = lb
    f = la - (lxy + g[None, :]).logsumexp(1)
    for _ in range(iters):
        g = lb - (lxy + f[:, None]).logsumexp(0)
        f = la - (lxy + g[None, :]).logsumexp(1)
    h = la
    for _ in range(iters):
        h = 0.5 * (h + la - (lxx + h[None, :]).logsumexp(1))
    return (lxy + g[None, :]).softmax(1) @ y - (lxx + h[None, :]).softmax(1) @ x


def sinkhorn_divergence_converged(x, y, tau, tol=1e-12, max_iters=100000):
    """The Sinkhorn-divergence drift with converged potentials (cost |x - y|^2 / 2, epsilon =
    tau / 2): bar+ of the balanced X x Y plan minus bar- of the symmetric X x X plan. Returns the
    field and the iterations each problem took."""
    n, m = x.shape[0], y.shape[0]
    la = torch.full((n,), -float(torch.log(torch.tensor(float(n)))), dtype=x.dtype)
    lb = torch.full((m,), -float(torch.log(torch.tensor(float(m)))), dtype=x.dtype)
    lxy = -sqdist(x, y) / tau
    lxx = -sqdist(x, x) / tau
    g = lb
    f = la - (lxy + g[None, :]).logsumexp(1)
    it_xy = 0
    for it_xy in range(1, max_iters + 1):
        lse = (lxy + f[:, None]).logsumexp(0)
        err = (torch.exp(g + lse) - torch.exp(lb)).abs().sum()
        if err <= tol:
            break
        g = lb - lse
        f = la - (lxy + g[None, :]).logsumexp(1)
    h = la
    it_xx = 0
    for it_xx in range(1, max_iters + 1):
        lse = (lxx + h[None, :]).logsumexp(1)
        err = (torch.exp(h + lse) - torch.exp(la)).abs().sum()
        if err <= tol:
            break
        h = 0.5 * (h + la - lse)
    v = (lxy + g[None, :]).softmax(1) @ y - (lxx + h[None, :]).softmax(1) @ x
    return v, (it_xy, it_xx)


def lse_pass(x, y, tau):
    """lse_i = LSE_j (log b_j - |x_i - y_j|^2 / tau), b uniform."""
    m = y.shape[0]
    return (-sqdist(x, y) / tau).logsumexp(1) - float(torch.log(torch.tensor(float(m))))
