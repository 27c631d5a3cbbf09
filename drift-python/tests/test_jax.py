"""`drift.jax.drift_loss`: equal to the official JAX loss (written here from MATH.md, "The training
workload", with the official release's semantics, and cross-checked against the peers benchmark's
`official_jax`) in the loss, the field, the info and the gradient with respect to `gen`; under
`jax.jit`, `jax.vmap` (each slice with its own statistics, equal to a loop) and
`jax.value_and_grad`; other operators swapped in, half precision, clear errors."""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="JAX is not installed")
jnp = pytest.importorskip("jax.numpy")

import drift  # noqa: E402
import drift.jax as djax  # noqa: E402

R_LIST = (0.02, 0.05, 0.2)
ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "drift-bench" / "scripts" / "peers" / "official_loss.py"


@functools.partial(jax.jit, static_argnames=("R_list", "dtype"))
def official_loss(gen, fixed_pos, fixed_neg=None, weight_gen=None, weight_pos=None,
                  weight_neg=None, R_list=R_LIST, dtype=jnp.float32):
    """The official JAX loss, step by step as MATH.md gives it, with the release's gradient
    semantics: the statistics and the goal are computed on `stop_gradient(gen)`, `c` is a
    constant, the loss is `mean((gen/c - stop_gradient(goal))**2)` per problem. Computed in
    `dtype` (float32 as released; float64 under `x64()`). Returns (loss [B], info) with info
    {"scale", f"loss_{R}"} and, for the comparison, "drift" (V in data units) and "c". Jitted
    (as the official training step runs it), `R_list` and `dtype` static."""
    b, n, s = gen.shape
    f32 = dtype
    fixed_neg = jnp.zeros((b, 0, s), f32) if fixed_neg is None else fixed_neg
    k = fixed_neg.shape[1]
    weight_gen = jnp.ones((b, n), f32) if weight_gen is None else weight_gen
    weight_pos = jnp.ones((b, fixed_pos.shape[1]), f32) if weight_pos is None else weight_pos
    weight_neg = jnp.ones((b, k), f32) if weight_neg is None else weight_neg
    gen = gen.astype(f32)
    x = jax.lax.stop_gradient(gen)
    t = jnp.concatenate([x, fixed_neg.astype(f32), fixed_pos.astype(f32)], axis=1)
    w = jnp.concatenate([weight_gen, weight_neg, weight_pos], axis=1).astype(f32)
    d2 = ((x * x).sum(-1)[:, :, None] + (t * t).sum(-1)[:, None, :]
          - 2.0 * jnp.einsum("bid,bjd->bij", x, t))
    d = jnp.sqrt(jnp.maximum(d2, 1e-8))
    scale = (d * w[:, None, :]).mean() / w.mean()                # over the whole batch
    c = jnp.maximum(scale / jnp.sqrt(jnp.asarray(s, f32)), 1e-3)
    mask = jnp.pad(jnp.eye(n, dtype=f32), ((0, 0), (0, t.shape[1] - n)))  # the finite self mask
    dhat = d / jnp.maximum(scale, 1e-3) + 100.0 * mask
    force = jnp.zeros_like(x)
    info = {"scale": scale}
    for r in R_list:
        logit = -dhat / r
        a = jax.nn.softmax(logit, axis=-1) * jax.nn.softmax(logit, axis=-2)
        a = jnp.sqrt(jnp.maximum(a, 1e-6)) * w[:, None, :]
        a_neg, a_pos = a[:, :, :n + k], a[:, :, n + k:]
        coeff = jnp.concatenate([-a_neg * a_pos.sum(-1, keepdims=True),
                                 a_pos * a_neg.sum(-1, keepdims=True)], axis=-1)
        f = jnp.einsum("bij,bjd->bid", coeff, t / c) - coeff.sum(-1)[:, :, None] * (x / c)
        mean_f2 = jnp.mean(f * f)
        info[f"loss_{r}"] = mean_f2
        force = force + f / jnp.sqrt(jnp.maximum(mean_f2, 1e-8))
    goal = jax.lax.stop_gradient(x / c + force)
    c = jax.lax.stop_gradient(c)
    loss = jnp.mean((gen / c - goal) ** 2, axis=(1, 2))
    info["drift"] = c * force
    info["c"] = c
    return loss, info


def x64():
    """A context manager: 64-bit JAX types inside the block (the config restored after it)."""
    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # pragma: no cover - older JAX: the experimental context manager
        from jax.experimental import enable_x64 as enable
    return enable(True)


def official64(fn, *args, **kwargs):
    """`fn` (a function of JAX arrays: the official loss, its gradient, a vmap of it) evaluated
    in float64: float32 array arguments widened, every floating result as a float64 NumPy array.
    The exact value the float32 computations are compared with."""
    with x64():
        wide = lambda a: (jnp.asarray(np.asarray(a, np.float64))  # noqa: E731
                          if isinstance(a, (jax.Array, np.ndarray)) else a)
        out = fn(*(wide(a) for a in args), **{k: wide(v) for k, v in kwargs.items()})
        return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), out)


def official_f64(*args, **kwargs):
    """The official loss in float64 (see `official64`)."""
    return official64(functools.partial(official_loss, dtype=jnp.float64), *args, **kwargs)


def problems(b=6, n=8, npos=12, nneg=4, s=5, seed=0, weighted="cfg"):
    """Clusters per problem, as the training step sees them (float32 arrays)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((b, 1, s)) * 3
    pos = centres + rng.standard_normal((b, npos, s)) * 0.5
    gen = centres + 0.8 + rng.standard_normal((b, n, s)) * 0.7
    neg = np.roll(centres, 1, axis=0) + rng.standard_normal((b, nneg, s))
    wn = np.full((b, nneg), 2.0) if weighted == "cfg" else rng.uniform(0.5, 3.0, (b, nneg))
    f = lambda a: jnp.asarray(a, dtype=jnp.float32)  # noqa: E731
    return f(gen), f(pos), f(neg), f(wn)


def close(a, b, rtol=1e-5):
    """Equal to `rtol` relative to the largest magnitude of `b`."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


def grad_of_sum(fn, gen, *args, **kwargs):
    """d sum_b loss_b / d gen."""
    return jax.grad(lambda g: fn(g, *args, **kwargs)[0].sum())(gen)


def assert_matches_official(got, ref, temps=R_LIST, rtol=1e-5):
    """The loss, the field, the scale and every loss_R of `got` equal to `ref`'s."""
    (loss, info), (ref_loss, ref_info) = got, ref
    close(loss, ref_loss, rtol)
    close(info["drift"], ref_info["drift"], rtol)
    close(info["scale"], ref_info["scale"], rtol)
    assert sorted(info) == sorted(["drift", "scale"] + [f"loss_{r}" for r in temps])
    for r in temps:
        close(info[f"loss_{r}"], ref_info[f"loss_{r}"], rtol)


# The official loss in float32 differs from its exact (float64) value by its own rounding, up to
# a few 1e-5 relative on small S (the Gram form of the distances); drift's float32 result stays
# within 1e-5 of the exact value.
F32_RTOL = 1e-4


@pytest.fixture(params=["buffer", "pure"])
def callback(request, monkeypatch):
    """Both host callbacks drift.jax can compute through (buffer_callback where this JAX has
    it, and jax.pure_callback)."""
    if request.param == "buffer" and djax._buffer_callback is None:
        pytest.skip("this JAX has no jax.experimental.buffer_callback")
    monkeypatch.setattr(djax, "CALLBACK", request.param)
    return request.param


def check_against_official(args, kwargs, temps=R_LIST):
    """drift.jax's loss, info and gradient of sum(loss) with respect to gen: within 1e-5 of the
    official loss evaluated exactly (float64) and within F32_RTOL of the official float32 run."""
    got = djax.drift_loss(*args, **kwargs)
    assert_matches_official(got, official_f64(*args, **kwargs), temps)
    assert_matches_official(got, official_loss(*args, **kwargs), temps, F32_RTOL)
    grad = grad_of_sum(djax.drift_loss, *args, **kwargs)
    close(grad, official64(functools.partial(grad_of_sum, official_loss), *args, dtype=jnp.float64,
                           **kwargs))
    close(grad, grad_of_sum(official_loss, *args, **kwargs), F32_RTOL)
    return got


@pytest.mark.parametrize("weighted", ["cfg", "random"])
def test_equals_the_official_loss_with_weighted_negatives(weighted, callback):
    gen, pos, neg, wn = problems(seed=1, weighted=weighted)
    loss, info = check_against_official((gen, pos, neg), {"weight_neg": wn})
    assert loss.shape == (gen.shape[0],) and loss.dtype == jnp.float32
    assert info["drift"].shape == gen.shape and info["drift"].dtype == jnp.float32


def test_equals_the_official_loss_on_training_sizes():
    """N = 64 generated samples, 16 weighted negatives, 128 positives, D = 32."""
    gen, pos, neg, wn = problems(b=8, n=64, npos=128, nneg=16, s=32, seed=13, weighted="random")
    check_against_official((gen, pos, neg), {"weight_neg": wn})


def test_equals_the_official_loss_without_negatives_and_with_weights():
    gen, pos, _, _ = problems(b=3, n=10, npos=7, s=3, seed=2)
    rng = np.random.default_rng(3)
    wg = jnp.asarray(rng.uniform(0.5, 2, (3, 10)), jnp.float32)
    wp = jnp.asarray(rng.uniform(0.5, 2, (3, 7)), jnp.float32)
    R = (0.05, 0.1)
    check_against_official((gen, pos), {"weight_gen": wg, "weight_pos": wp, "R_list": R}, R)
    # Without any weights or negatives.
    check_against_official((gen, pos), {})


def test_the_reference_here_equals_the_peers_benchmark_official_jax():
    """The reference of these tests against `official_jax` of drift-bench's peers comparison."""
    if not PEERS.exists():
        pytest.skip(f"{PEERS} is not in this checkout")
    spec = importlib.util.spec_from_file_location("drift_peers_official_loss", PEERS)
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    gen, pos, neg, wn = problems(b=5, n=16, npos=24, nneg=6, s=7, seed=11, weighted="random")
    ones = lambda a: jnp.ones(a.shape[:2], jnp.float32)  # noqa: E731
    (p_loss,), (p_v,), p_info = peers.official_jax([(gen, neg, pos, ones(gen), wn, ones(pos))])
    ref_loss, ref_info = official_loss(gen, pos, neg, weight_neg=wn)
    # The same float32 operations: equal up to the order of the reductions.
    close(ref_loss, p_loss, 1e-6)
    close(ref_info["drift"], p_v, 1e-6)
    close(ref_info["scale"], p_info["scale"], 1e-6)
    close(ref_info["c"], p_info["c"], 1e-6)
    loss, info = djax.drift_loss(gen, pos, neg, weight_neg=wn)
    close(loss, p_loss, F32_RTOL)
    close(info["drift"], p_v, F32_RTOL)
    for k, r in enumerate(peers.TEMPERATURES):
        close(info[f"loss_{r}"], p_info["loss_R"][k], F32_RTOL)


def test_the_gradient_flows_to_gen_only_and_is_the_scaled_drift(callback):
    gen, pos, neg, wn = problems(b=4, seed=4)

    def total(g, p, n, w):
        return djax.drift_loss(g, p, n, weight_neg=w)[0].sum()

    gg, gp, gn, gw = jax.grad(total, argnums=(0, 1, 2, 3))(gen, pos, neg, wn)
    loss, info = djax.drift_loss(gen, pos, neg, weight_neg=wn)
    c = float(official_f64(gen, pos, neg, weight_neg=wn)[1]["c"])
    b, n, s = gen.shape
    close(gg, -2.0 * np.asarray(info["drift"], np.float64) / (c**2 * n * s))
    for g in (gp, gn, gw):
        assert not np.any(np.asarray(g))
    # The loss value is the squared scaled drift.
    close(loss, np.mean((np.asarray(info["drift"], np.float64) / c) ** 2, axis=(1, 2)))
    # Forward mode: the directional derivative is <gradient, direction>.
    t = jnp.asarray(np.random.default_rng(5).standard_normal(gen.shape), jnp.float32)
    _, dot = jax.jvp(lambda g: total(g, pos, neg, wn), (gen,), (t,))
    close(dot, np.sum(np.asarray(gg, np.float64) * np.asarray(t, np.float64)))


def test_under_jit_equals_eager_and_the_official_loss(callback):
    gen, pos, neg, wn = problems(b=5, seed=12, weighted="random")
    eager = djax.drift_loss(gen, pos, neg, weight_neg=wn)
    jitted = jax.jit(djax.drift_loss)(gen, pos, neg, weight_neg=wn)
    assert_matches_official(jitted, official_f64(gen, pos, neg, weight_neg=wn))
    assert_matches_official(jitted, jax.jit(official_loss)(gen, pos, neg, weight_neg=wn),
                            rtol=F32_RTOL)
    assert_matches_official(jitted, eager, rtol=1e-6)
    # With the static arguments marked static: another R_list under jit.
    f = jax.jit(djax.drift_loss, static_argnames=("R_list", "operator"))
    R = (0.05, 0.2)
    got = f(gen, pos, neg, weight_neg=wn, R_list=R)
    assert_matches_official(got, official_f64(gen, pos, neg, weight_neg=wn, R_list=R), temps=R)
    # jit of the gradient.
    g = jax.jit(jax.grad(lambda x: djax.drift_loss(x, pos, neg, weight_neg=wn)[0].mean()))(gen)
    close(g, official64(jax.grad(lambda x, p, n, w: official_loss(
        x, p, n, weight_neg=w, dtype=jnp.float64)[0].mean()), gen, pos, neg, wn))


def test_vmap_gives_each_slice_its_own_statistics_as_a_loop(callback):
    """jax.vmap over an extra leading axis equals the loop over it (and vmap of the official
    loss): the scale and every lambda_R are per slice, not shared across slices."""
    slices = [problems(b=4, seed=20 + k, weighted="random") for k in range(3)]
    gens, poss, negs, wns = (jnp.stack(a) for a in zip(*slices))
    loss_fn = lambda g, p, n, w: djax.drift_loss(g, p, n, weight_neg=w)  # noqa: E731
    off_fn = lambda g, p, n, w: official_loss(g, p, n, weight_neg=w,  # noqa: E731
                                              dtype=g.dtype)
    v_loss, v_info = jax.vmap(loss_fn)(gens, poss, negs, wns)
    assert v_loss.shape == (3, 4) and v_info["drift"].shape == gens.shape
    assert v_info["scale"].shape == (3,)
    for k in range(3):
        loss, info = loss_fn(gens[k], poss[k], negs[k], wns[k])
        close(v_loss[k], loss, rtol=1e-6)
        for key in info:
            close(v_info[key][k], info[key], rtol=1e-6)
    # The slices' scales differ: folding them into one batch would not give this.
    assert len({round(float(s), 6) for s in v_info["scale"]}) == 3
    o_loss, o_info = official64(jax.vmap(off_fn), gens, poss, negs, wns)
    close(v_loss, o_loss)
    close(v_info["drift"], o_info["drift"])
    close(v_info["scale"], o_info["scale"])
    # Under jit, with its gradient.
    vg = jax.jit(jax.grad(lambda g: jax.vmap(loss_fn)(g, poss, negs, wns)[0].sum()))(gens)
    og = official64(jax.grad(lambda g, p, n, w: jax.vmap(off_fn)(g, p, n, w)[0].sum()),
                    gens, poss, negs, wns)
    close(vg, og)


def test_vmap_with_unbatched_and_nested_axes(callback):
    gen, pos, neg, wn = problems(b=3, seed=30)
    gens = jnp.stack([gen, gen + 0.5, gen * 1.5, gen - 1.0]).reshape(2, 2, *gen.shape)
    # Only gen vmapped: the positives and negatives shared by every slice.
    one = jax.vmap(lambda g: djax.drift_loss(g, pos, neg, weight_neg=wn)[0])(gens[0])
    for k in range(2):
        close(one[k], djax.drift_loss(gens[0, k], pos, neg, weight_neg=wn)[0], rtol=1e-6)
    # Nested vmap: every vmapped axis is looped over.
    nested = jax.vmap(jax.vmap(lambda g, w: djax.drift_loss(g, pos, neg, weight_neg=w)[0],
                               in_axes=(0, None)), in_axes=(0, None))(gens, wn)
    assert nested.shape == (2, 2, 3)
    for i in range(2):
        for j in range(2):
            close(nested[i, j], djax.drift_loss(gens[i, j], pos, neg, weight_neg=wn)[0],
                  rtol=1e-6)
    # vmap over the positives only (gen shared), the vmapped axis not the first.
    poss = jnp.stack([pos, pos + 0.3], axis=1)
    by_pos = jax.vmap(lambda p: djax.drift_loss(gen, p)[0], in_axes=1)(poss)
    for k in range(2):
        close(by_pos[k], djax.drift_loss(gen, poss[:, k])[0], rtol=1e-6)


def test_value_and_grad_of_a_training_step(callback):
    """jax.jit(jax.value_and_grad(step)) of a linear generator: the value and the parameters'
    gradient equal the official loss's."""
    gen0, pos, neg, wn = problems(b=4, n=8, s=6, seed=9)
    rng = np.random.default_rng(9)
    params = {"w": jnp.asarray(np.eye(6) + 0.1 * rng.standard_normal((6, 6)), jnp.float32),
              "b": jnp.zeros(6, jnp.float32)}

    def step(params, z, pos, neg, wn, loss_fn):
        gen = z @ params["w"] + params["b"]
        loss, info = loss_fn(gen, pos, neg, weight_neg=wn)
        return loss.mean(), info

    (value, info), grads = jax.jit(jax.value_and_grad(
        lambda p: step(p, gen0, pos, neg, wn, djax.drift_loss), has_aux=True))(params)
    off = functools.partial(official_loss, dtype=jnp.float64)
    (o_value, _), o_grads = official64(
        lambda p, z, y, n, w: jax.value_and_grad(step, has_aux=True)(p, z, y, n, w, off),
        params, gen0, pos, neg, wn)
    close(value, o_value)
    close(grads["w"], o_grads["w"])
    close(grads["b"], o_grads["b"])
    assert "loss_0.02" in info


def test_another_operator_swapped_in():
    gen, pos, neg, _ = problems(b=3, seed=5)
    ron = '{"one_sided": (temperature: 0.5)}'
    for operator in (ron, drift.load(ron)):
        loss, info = djax.drift_loss(gen, pos, operator=operator)
        v, _ = drift.load(ron).apply_batch(np.asarray(gen), np.asarray(pos))
        np.testing.assert_array_equal(np.asarray(info["drift"]), v)
        # No feature scale: c = 1, the loss is the mean squared drift, no per-temperature norms.
        assert math.isnan(float(info["scale"]))
        assert sorted(info) == ["drift", "scale"]
        close(loss, np.mean(v.astype(np.float64) ** 2, axis=(1, 2)))
    # An operator with its own temperatures reports them.
    _, info = djax.drift_loss(gen, pos, neg, operator='{"deng_official": (temperatures: [0.1])}')
    assert sorted(info) == ["drift", "loss_0.1", "scale"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_is_computed_in_float32(dtype):
    dtype = jnp.dtype(dtype)
    gen, pos, neg, wn = problems(b=3, seed=6)
    loss32, _ = djax.drift_loss(gen, pos, neg, weight_neg=wn)
    h = [a.astype(dtype) for a in (gen, pos, neg, wn)]
    loss, info = djax.drift_loss(h[0], h[1], h[2], weight_neg=h[3])
    assert loss.dtype == dtype and info["drift"].dtype == dtype
    assert info["scale"].dtype == jnp.float32
    g = grad_of_sum(djax.drift_loss, h[0], h[1], h[2], weight_neg=h[3])
    assert g.dtype == dtype
    # The field of the rounded inputs, computed in float32, rounded once.
    v, _ = drift.load(djax.official_ron()).apply_batch(
        *(np.asarray(a.astype(jnp.float32)) for a in h[:2]),
        negatives=np.asarray(h[2].astype(jnp.float32)),
        negative_weights=np.asarray(h[3].astype(jnp.float32)))
    np.testing.assert_array_equal(np.asarray(info["drift"]),
                                  np.asarray(jnp.asarray(v).astype(dtype)))
    np.testing.assert_allclose(np.asarray(loss, np.float32), np.asarray(loss32), rtol=0.1)


def test_float64_with_x64_and_numpy_inputs():
    """With jax_enable_x64, float64 inputs are computed in float64 (equal to the official loss in
    float64 to rounding); NumPy arrays are accepted as inputs."""
    gen, pos, neg, wn = (np.asarray(a, np.float64) for a in problems(b=3, seed=14))
    with x64():
        loss, info = djax.drift_loss(gen, pos, neg, weight_neg=wn)
        assert loss.dtype == jnp.float64 and info["drift"].dtype == jnp.float64
        assert info["scale"].dtype == jnp.float64
        g = grad_of_sum(djax.drift_loss, jnp.asarray(gen), pos, neg, weight_neg=wn)
        assert g.dtype == jnp.float64
    ref_loss, ref_info = official_f64(gen, pos, neg, weight_neg=wn)
    close(loss, ref_loss, 1e-10)
    close(info["drift"], ref_info["drift"], 1e-10)
    close(g, official64(functools.partial(grad_of_sum, official_loss), gen, pos, neg,
                        weight_neg=wn, dtype=jnp.float64), 1e-10)
    # Without x64 the same NumPy float64 inputs become float32 (JAX's default).
    loss32, info32 = djax.drift_loss(gen, pos, neg, weight_neg=wn)
    assert loss32.dtype == jnp.float32
    close(info32["drift"], ref_info["drift"])


def test_the_callback_choice():
    """On the CPU backend the buffer callback is taken where JAX has it; a forced kind is used
    as it is; an unknown one is refused."""
    expected = "buffer" if djax._buffer_callback is not None else "pure"
    assert jax.default_backend() != "cpu" or djax._callback_kind(None) == expected
    assert djax._callback_kind("pure") == "pure"
    with pytest.raises(ValueError, match="the callback must be 'buffer'"):
        djax._callback_kind("ffi")


def test_errors():
    gen, pos, neg, wn = problems(b=2, seed=7)
    with pytest.raises(ValueError, match=r"`gen` must have shape \[B, C, S\]"):
        djax.drift_loss(gen[0], pos[0])
    with pytest.raises(ValueError, match=r"`fixed_pos`: shape \(3, 12, 5\) does not match `gen`'s "
                                         r"2 problems of dimension 5: expected \(2, C, 5\)"):
        djax.drift_loss(gen, jnp.concatenate([pos, pos[:1]]))
    with pytest.raises(ValueError, match=r"`fixed_neg`: shape \(2, 4, 4\) does not match"):
        djax.drift_loss(gen, pos, neg[:, :, :4])
    with pytest.raises(ValueError, match=r"`weight_pos`: shape \(2, 11\) but `fixed_pos` holds 2 "
                                         r"problems of 12 points: expected \(2, 12\)"):
        djax.drift_loss(gen, pos, weight_pos=jnp.ones((2, 11)))
    with pytest.raises(ValueError, match="`weight_neg` given without `fixed_neg`"):
        djax.drift_loss(gen, pos, weight_neg=wn)
    with pytest.raises(ValueError, match="`gen` must hold floating-point values"):
        djax.drift_loss(jnp.ones((2, 8, 5), jnp.int32), pos)
    with pytest.raises(drift.SpecError):
        djax.drift_loss(gen, pos, operator='{"no_such_operator": ()}')
    with pytest.raises(ValueError, match="`operator` must be None, RON text or a drift.Operator"):
        djax.drift_loss(gen, pos, operator=3)
    # The same errors when the function is traced under jit, and a traced R_list.
    with pytest.raises(ValueError, match=r"`weight_pos`: shape \(2, 11\)"):
        jax.jit(djax.drift_loss)(gen, pos, weight_pos=jnp.ones((2, 11)))
    with pytest.raises(ValueError, match="`R_list` must be a sequence of Python numbers"):
        jax.jit(djax.drift_loss)(gen, pos, R_list=(0.1, 0.2))
    # A non-finite coordinate is found inside the program: JAX's runtime error carries drift's
    # message.
    with pytest.raises(Exception, match="non-finite coordinate"):
        jax.block_until_ready(djax.drift_loss(gen.at[1, 2, 3].set(jnp.nan), pos))
