"""The 20-iteration Sinkhorn drift with OTT-JAX's `Sinkhorn` solver.

Cross term: OTT's default alternating (Gauss-Seidel) updates, started from the potentials drift
starts from (g = log b, f computed from it), so that iteration k of both is the same update. Self
term: OTT's parallel dual updates with momentum 0.5 from f = g = log a, which is exactly the
symmetric averaged update f <- (f + log a - LSE(f + l)) / 2. OTT's potentials are in cost units:
f_ott = tau * f. Barycentres of the row-normalised plans."""
from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from ott.geometry import pointcloud
from ott.problems.linear import linear_problem
from ott.solvers.linear import acceleration, sinkhorn


@partial(jax.jit, static_argnums=(2, 3))
def sinkhorn_drift(x, y, tau, iters):
    n, m = x.shape[0], y.shape[0]
    a = jnp.full((n,), 1.0 / n, dtype=x.dtype)
    b = jnp.full((m,), 1.0 / m, dtype=x.dtype)
    geom = pointcloud.PointCloud(x, y, epsilon=tau)
    g0 = tau * jnp.log(b)
    f0 = tau * (jnp.log(a) - logsumexp(jnp.log(b)[None, :] - geom.cost_matrix / tau, axis=1))
    cross = sinkhorn.Sinkhorn(min_iterations=iters, max_iterations=iters, inner_iterations=1)
    out = cross(linear_problem.LinearProblem(geom, a, b), init=(f0, g0))
    p = out.matrix
    bar_pos = (p @ y) / p.sum(1, keepdims=True)

    geom_s = pointcloud.PointCloud(x, x, epsilon=tau)
    sym = sinkhorn.Sinkhorn(
        min_iterations=iters,
        max_iterations=iters,
        inner_iterations=1,
        momentum=acceleration.Momentum(start=0, value=0.5),
        parallel_dual_updates=True,
    )
    h0 = tau * jnp.log(a)
    out_s = sym(linear_problem.LinearProblem(geom_s, a, a), init=(h0, h0))
    q = out_s.matrix
    bar_neg = (q @ x) / q.sum(1, keepdims=True)
    return bar_pos - bar_neg
