"""`drift.torch.drift_loss`: equal to a float64 reference of the official JAX loss written here
from MATH.md ("The training workload"), the gradient flowing to `gen` only, other operators
swapped in, half-precision tensors, clear errors, and `torch.compile(fullgraph=True)` of a training
step that calls `DriftLoss`."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
if not hasattr(torch, "library") or not hasattr(torch.library, "custom_op"):
    pytest.skip("drift.torch needs torch.library.custom_op (PyTorch >= 2.4)",
                allow_module_level=True)

import drift  # noqa: E402
import drift.torch as dt  # noqa: E402

R_LIST = (0.02, 0.05, 0.2)


def official_reference(gen, pos, neg=None, wg=None, wp=None, wn=None, R_list=R_LIST):
    """The official loss in float64 NumPy, step by step as MATH.md gives it: returns
    (loss [B], V [B, N, S] in data units, scale, c, {R: mean F^2})."""
    gen, pos = np.asarray(gen, np.float64), np.asarray(pos, np.float64)
    b, n, s = gen.shape
    neg = np.zeros((b, 0, s)) if neg is None else np.asarray(neg, np.float64)
    k = neg.shape[1]
    wg = np.ones((b, n)) if wg is None else np.asarray(wg, np.float64)
    wp = np.ones((b, pos.shape[1])) if wp is None else np.asarray(wp, np.float64)
    wn = np.ones((b, k)) if wn is None else np.asarray(wn, np.float64)
    targets = np.concatenate([gen, neg, pos], axis=1)          # t = [X; negatives; positives]
    w = np.concatenate([wg, wn, wp], axis=1)                    # [B, T]
    d2 = ((gen[:, :, None, :] - targets[:, None, :, :]) ** 2).sum(-1)
    d = np.sqrt(np.maximum(d2, 1e-8))                           # [B, N, T]
    scale = (w[:, None, :] * d).mean() / w.mean()               # over the whole batch
    c = max(scale / math.sqrt(s), 1e-3)
    dhat = d / max(scale, 1e-3)
    dhat[:, np.arange(n), np.arange(n)] += 100.0                # the finite self mask
    t = targets / c
    total = np.zeros_like(gen)
    mean_f2 = {}
    for r in R_list:
        logit = -dhat / r
        row = np.exp(logit - logit.max(2, keepdims=True))
        row /= row.sum(2, keepdims=True)                        # softmax over targets j
        col = np.exp(logit - logit.max(1, keepdims=True))
        col /= col.sum(1, keepdims=True)                        # softmax over generated rows i
        a = np.sqrt(np.maximum(row * col, 1e-6)) * w[:, None, :]
        a_neg, a_pos = a[:, :, : n + k], a[:, :, n + k:]
        s_neg = a_neg.sum(-1, keepdims=True)
        s_pos = a_pos.sum(-1, keepdims=True)
        f = np.einsum("bij,bjk->bik", a_pos * s_neg, t[:, n + k:]) - np.einsum(
            "bij,bjk->bik", a_neg * s_pos, t[:, : n + k])
        mean_f2[r] = (f**2).mean()
        total += f / math.sqrt(max(mean_f2[r], 1e-8))
    x_scaled = gen / c
    goal = x_scaled + total
    loss = ((x_scaled - goal) ** 2).mean(axis=(1, 2))
    return loss, c * total, scale, c, mean_f2


def problems(b=6, n=8, npos=12, nneg=4, s=5, seed=0, weighted="cfg"):
    """Clusters per problem, as the training step sees them (float32 tensors)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((b, 1, s)) * 3
    pos = centres + rng.standard_normal((b, npos, s)) * 0.5
    gen = centres + 0.8 + rng.standard_normal((b, n, s)) * 0.7
    neg = np.roll(centres, 1, axis=0) + rng.standard_normal((b, nneg, s))
    wn = np.full((b, nneg), 2.0) if weighted == "cfg" else rng.uniform(0.5, 3.0, (b, nneg))
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return as_t(gen), as_t(pos), as_t(neg), as_t(wn)


def close(a, b, rtol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


@pytest.mark.parametrize("weighted", ["cfg", "random"])
def test_equals_the_official_loss_with_weighted_negatives(weighted):
    gen, pos, neg, wn = problems(seed=1, weighted=weighted)
    loss, info = dt.drift_loss(gen, pos, neg, weight_neg=wn)
    ref_loss, ref_v, ref_scale, _, ref_f2 = official_reference(
        gen.numpy(), pos.numpy(), neg.numpy(), wn=wn.numpy())
    assert loss.shape == (gen.shape[0],) and loss.dtype == torch.float32
    close(loss.detach().numpy(), ref_loss)
    close(info["drift"].numpy(), ref_v)
    assert info["drift"].shape == gen.shape and not info["drift"].requires_grad
    close(info["scale"].item(), ref_scale)
    assert sorted(info) == sorted(["drift", "scale"] + [f"loss_{r}" for r in R_LIST])
    for r in R_LIST:
        close(info[f"loss_{r}"].item(), ref_f2[r])


def test_equals_the_official_loss_without_negatives_and_with_weights():
    gen, pos, _, _ = problems(b=3, n=10, npos=7, s=3, seed=2)
    rng = np.random.default_rng(3)
    wg = torch.tensor(rng.uniform(0.5, 2, (3, 10)), dtype=torch.float32)
    wp = torch.tensor(rng.uniform(0.5, 2, (3, 7)), dtype=torch.float32)
    R = (0.05, 0.1)
    loss, info = dt.drift_loss(gen, pos, weight_gen=wg, weight_pos=wp, R_list=R)
    ref_loss, ref_v, ref_scale, _, ref_f2 = official_reference(
        gen.numpy(), pos.numpy(), wg=wg.numpy(), wp=wp.numpy(), R_list=R)
    close(loss.detach().numpy(), ref_loss)
    close(info["drift"].numpy(), ref_v)
    close(info["scale"].item(), ref_scale)
    assert sorted(k for k in info if k.startswith("loss_")) == ["loss_0.05", "loss_0.1"]
    for r in R:
        close(info[f"loss_{r}"].item(), ref_f2[r])


def test_the_gradient_flows_to_gen_only_and_is_the_scaled_drift():
    gen, pos, neg, wn = problems(b=4, seed=4)
    gen = gen.double().requires_grad_(True)
    pos, neg, wn = pos.double().requires_grad_(True), neg.double(), wn.double()
    loss, info = dt.drift_loss(gen, pos, neg, weight_neg=wn)
    loss.sum().backward()
    _, _, _, c, _ = official_reference(gen.detach().numpy(), pos.detach().numpy(), neg.numpy(),
                                       wn=wn.numpy())
    b, n, s = gen.shape
    expected = -2.0 * info["drift"] / (c**2 * n * s)
    torch.testing.assert_close(gen.grad, expected, rtol=1e-9, atol=1e-12)
    assert pos.grad is None
    # The loss value is the squared scaled drift.
    torch.testing.assert_close(loss.detach(), (info["drift"] / c).pow(2).mean(dim=(1, 2)))


def test_another_operator_swapped_in():
    gen, pos, neg, _ = problems(b=3, seed=5)
    ron = '{"one_sided": (temperature: 0.5)}'
    for operator in (ron, drift.load(ron)):
        loss, info = dt.drift_loss(gen, pos, operator=operator)
        v, _ = drift.load(ron).apply_batch(gen, pos)
        assert torch.equal(info["drift"], v)
        # No feature scale: c = 1, the loss is the mean squared drift, no per-temperature norms.
        assert math.isnan(info["scale"].item())
        assert sorted(info) == ["drift", "scale"]
        torch.testing.assert_close(loss, v.pow(2).mean(dim=(1, 2)))
    # An operator with its own temperatures reports them.
    _, info = dt.drift_loss(gen, pos, neg, operator='{"deng_official": (temperatures: [0.1])}')
    assert sorted(info) == ["drift", "loss_0.1", "scale"]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_is_computed_in_float32(dtype):
    gen, pos, neg, wn = problems(b=3, seed=6)
    loss32, info32 = dt.drift_loss(gen, pos, neg, weight_neg=wn)
    g = gen.to(dtype).requires_grad_(True)
    loss, info = dt.drift_loss(g, pos.to(dtype), neg.to(dtype), weight_neg=wn.to(dtype))
    assert loss.dtype == dtype and info["drift"].dtype == dtype
    assert info["scale"].dtype == torch.float32
    loss.sum().backward()
    assert g.grad.dtype == dtype
    # The field of the rounded inputs, computed in float32, rounded once.
    v, _ = drift.load(dt.official_ron()).apply_batch(
        g.detach().float(), pos.to(dtype).float(), negatives=neg.to(dtype).float(),
        negative_weights=wn.to(dtype).float())
    assert torch.equal(info["drift"], v.to(dtype))
    assert torch.allclose(loss.float(), loss32, rtol=0.1)
    # apply_batch itself widens and returns the input's dtype.
    vb, _ = drift.load(dt.official_ron()).apply_batch(gen.to(dtype), pos.to(dtype))
    assert vb.dtype == dtype


def test_errors():
    gen, pos, neg, wn = problems(b=2, seed=7)
    # The meta device stands in for CUDA on machines without a GPU.
    with pytest.raises(ValueError, match=r"`gen` is a tensor on device meta: drift's CUDA path is "
                                         r"not wired to Python yet.*move the tensors to the CPU"):
        dt.drift_loss(gen.to("meta"), pos)
    with pytest.raises(ValueError, match=r"`weight_neg` is a tensor on device meta"):
        dt.drift_loss(gen, pos, neg, weight_neg=wn.to("meta"))
    with pytest.raises(ValueError, match=r"`gen` must have shape \[B, C, S\]"):
        dt.drift_loss(gen[0], pos[0])
    with pytest.raises(ValueError, match=r"`fixed_pos`: shape \(3, 12, 5\) does not match "
                                         r"`gen`'s 2 problems of dimension 5: expected \(2, C, 5\)"):
        dt.drift_loss(gen, torch.cat([pos, pos[:1]]))
    with pytest.raises(ValueError, match=r"`weight_pos`: shape \(2, 11\) but `fixed_pos` holds 2 "
                                         r"problems of 12 points: expected \(2, 12\)"):
        dt.drift_loss(gen, pos, weight_pos=torch.ones(2, 11))
    with pytest.raises(ValueError, match="`weight_neg` given without `fixed_neg`"):
        dt.drift_loss(gen, pos, weight_neg=wn)
    with pytest.raises(drift.SpecError):
        dt.drift_loss(gen, pos, operator='{"no_such_operator": ()}')


def test_the_custom_op_passes_opcheck():
    gen, pos, neg, wn = problems(b=2, seed=8)
    key, temps = dt.prepare(None, R_LIST)
    torch.library.opcheck(torch.ops.drift.batched_field.default,
                          (gen, pos, neg, None, None, wn, key, len(temps)))


def _step_setup(seed=9):
    torch.manual_seed(seed)
    gen0, pos, neg, wn = problems(b=4, n=8, s=6, seed=seed)
    model = torch.nn.Linear(6, 6)
    z = gen0.clone()
    return model, z, pos, neg, wn


def _train_step(model, loss_fn, z, pos, neg, wn):
    gen = model(z)
    loss, info = loss_fn(gen, pos, neg, weight_neg=wn)
    return loss.mean(), info


def test_torch_compile_fullgraph_gives_the_eager_result():
    dynamo = pytest.importorskip("torch._dynamo")
    model, z, pos, neg, wn = _step_setup()
    loss_fn = dt.DriftLoss()

    def step(z, pos, neg, wn):
        return _train_step(model, loss_fn, z, pos, neg, wn)

    eager_loss, eager_info = step(z, pos, neg, wn)
    eager_grads = torch.autograd.grad(eager_loss, list(model.parameters()))

    explained = dynamo.explain(step)(z, pos, neg, wn)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1
    # The functional form with the default operator traces without a break too.
    dynamo.reset()
    functional = dynamo.explain(lambda g, p: dt.drift_loss(g, p)[0].mean())(model(z), pos)
    assert functional.graph_break_count == 0, functional.break_reasons
    dynamo.reset()
    try:
        compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
        loss, info = compiled(z, pos, neg, wn)
    except Exception as e:  # pragma: no cover - a machine where compilation is unavailable
        if "drift" in str(e):
            raise
        pytest.skip(f"torch.compile is unavailable here: {e}")
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.testing.assert_close(loss, eager_loss)
    assert sorted(info) == sorted(eager_info)
    for k in eager_info:
        torch.testing.assert_close(info[k], eager_info[k], equal_nan=True)
    for g, e in zip(grads, eager_grads):
        torch.testing.assert_close(g, e)


def test_torch_compile_with_inductor():
    """The default backend (code generation: slow the first time, skipped where no compiler)."""
    model, z, pos, neg, wn = _step_setup(seed=10)
    loss_fn = dt.DriftLoss(operator='{"deng_official": (temperatures: [0.05, 0.2])}')

    def step(z, pos, neg, wn):
        return _train_step(model, loss_fn, z, pos, neg, wn)

    eager_loss, eager_info = step(z, pos, neg, wn)
    torch._dynamo.reset()
    try:
        loss, info = torch.compile(step, fullgraph=True)(z, pos, neg, wn)
    except Exception as e:  # pragma: no cover - no C++ compiler, unsupported platform
        if "drift" in str(e) and "inductor" not in str(e).lower():
            raise
        pytest.skip(f"inductor is unavailable here: {type(e).__name__}: {e}")
    torch.testing.assert_close(loss, eager_loss)
    torch.testing.assert_close(info["drift"], eager_info["drift"])
    torch.testing.assert_close(info["loss_0.05"], eager_info["loss_0.05"])
