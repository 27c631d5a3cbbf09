"""JAX `jit` versions of Deng et al.'s Algorithm 2 and the one-sided drift, written as in the
paper's pseudocode (dense joint logits, softmax over rows and columns; the paper's form, without the
official release's 1e-3 floor)."""
from functools import partial

import jax
import jax.numpy as jnp


def cdist(x, y):
    sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return jnp.sqrt(jnp.maximum(sq, 0.0))


@partial(jax.jit, static_argnums=2)
def deng_alg2(x, y, tau):
    n, m = x.shape[0], y.shape[0]
    d_pos = cdist(x, y)
    d_neg = cdist(x, x) + 1e6 * jnp.eye(n, dtype=x.dtype)
    logit = jnp.concatenate([-d_pos / tau, -d_neg / tau], axis=1)
    a = jnp.sqrt(jax.nn.softmax(logit, axis=-1) * jax.nn.softmax(logit, axis=-2))
    a_pos, a_neg = a[:, :m], a[:, m:]
    w_pos = a_pos * a_neg.sum(1, keepdims=True)
    w_neg = a_neg * a_pos.sum(1, keepdims=True)
    return w_pos @ y - w_neg @ x


@partial(jax.jit, static_argnums=2)
def one_sided(x, y, tau):
    n = x.shape[0]
    l_pos = -cdist(x, y) / tau
    l_neg = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, -cdist(x, x) / tau)
    return jax.nn.softmax(l_pos, axis=1) @ y - jax.nn.softmax(l_neg, axis=1) @ x
