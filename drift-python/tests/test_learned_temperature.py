"""A learned temperature: `drift.torch.positive_log_mass` (the positives' log softmax mass under the
official loss's kernel) against a float64 NumPy reference written here, its gradient with respect
to the temperature against the closed form `(E_q[d^] - E_p[d^]) / tau^2` and against central finite
differences, `drift_loss(..., temperature=tau)` (the field at tau's current value and
`info["log_mass"]`), and 20 steps of training tau, which widen the kernel when the generated
samples lie far from the positives and sharpen it when they lie among them."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
if not hasattr(torch, "library") or not hasattr(torch.library, "custom_op"):
    pytest.skip("drift.torch needs torch.library.custom_op (PyTorch >= 2.4)",
                allow_module_level=True)

import drift.torch as dt  # noqa: E402


def reference(gen, pos, neg=None, wg=None, wp=None, wn=None, tau=0.1, scale=None):
    """float64 NumPy, from the formula: (log_mass [B, N], d/dtau log_mass [B, N], scale)."""
    gen, pos = np.asarray(gen, np.float64), np.asarray(pos, np.float64)
    b, n, s = gen.shape
    neg = np.zeros((b, 0, s)) if neg is None else np.asarray(neg, np.float64)
    wg = np.ones((b, n)) if wg is None else np.asarray(wg, np.float64)
    wp = np.ones(pos.shape[:2]) if wp is None else np.asarray(wp, np.float64)
    wn = np.ones(neg.shape[:2]) if wn is None else np.asarray(wn, np.float64)
    t = np.concatenate([gen, neg, pos], axis=1)
    w = np.concatenate([wg, wn, wp], axis=1)
    d = np.sqrt(np.maximum(((gen[:, :, None] - t[:, None]) ** 2).sum(-1), 1e-8))
    if scale is None:
        scale = (w[:, None, :] * d).mean() / w.mean()
    dhat = d / max(scale, 1e-3)
    dhat[:, np.arange(n), np.arange(n)] += 100.0
    m = pos.shape[1]
    e = w[:, None, :] * np.exp(-(dhat - dhat.min(-1, keepdims=True)) / tau)
    p = e / e.sum(-1, keepdims=True)                       # softmax over every target
    q = e[..., -m:] / e[..., -m:].sum(-1, keepdims=True)   # over the positives alone
    log_mass = np.log(e[..., -m:].sum(-1) / e.sum(-1))
    grad = ((q * dhat[..., -m:]).sum(-1) - (p * dhat).sum(-1)) / tau**2
    return log_mass, grad, scale


def problems(b=3, n=6, npos=7, nneg=3, s=4, seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((b, 1, s)) * 2
    gen = centres + 0.6 + rng.standard_normal((b, n, s)) * 0.7
    pos = centres + rng.standard_normal((b, npos, s)) * 0.5
    neg = np.roll(centres, 1, axis=0) + rng.standard_normal((b, nneg, s))
    wn = rng.uniform(0.5, 3.0, (b, nneg))
    wp = rng.uniform(0.5, 2.0, (b, npos))
    return [torch.tensor(a, dtype=dtype) for a in (gen, pos, neg, wn, wp)]


@pytest.mark.parametrize("tau", [0.05, 0.3, 2.0])
def test_log_mass_and_its_temperature_gradient_equal_the_reference(tau):
    gen, pos, neg, wn, wp = problems(seed=1)
    t = torch.tensor(tau, dtype=torch.float64, requires_grad=True)
    out = dt.positive_log_mass(gen, pos, neg, weight_pos=wp, weight_neg=wn, temperature=t)
    ref, ref_grad, _ = reference(gen, pos, neg, wp=wp, wn=wn, tau=tau)
    assert out.shape == gen.shape[:2] and out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    assert (out <= 1e-12).all()
    # d/dtau of the sum, by autograd, by the closed form and by central finite differences.
    (grad,) = torch.autograd.grad(out.sum(), t)
    np.testing.assert_allclose(grad.item(), ref_grad.sum(), rtol=1e-9)
    h = 1e-6 * tau

    def f(v):
        return dt.positive_log_mass(gen, pos, neg, weight_pos=wp, weight_neg=wn,
                                    temperature=torch.tensor(v, dtype=torch.float64)).sum().item()

    np.testing.assert_allclose(grad.item(), (f(tau + h) - f(tau - h)) / (2 * h), rtol=1e-6)


def test_several_temperatures_a_given_scale_and_no_negatives():
    gen, pos, _, _, _ = problems(b=2, seed=2)
    taus = torch.tensor([0.02, 0.05, 0.2], dtype=torch.float64, requires_grad=True)
    out = dt.positive_log_mass(gen, pos, temperature=taus, scale=1.7)
    assert out.shape == (3,) + gen.shape[:2]
    grads = torch.autograd.grad(out.sum(), taus)[0]
    for k, tau in enumerate(taus.tolist()):
        ref, ref_grad, _ = reference(gen, pos, tau=tau, scale=1.7)
        np.testing.assert_allclose(out[k].detach().numpy(), ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads[k].item(), ref_grad.sum(), rtol=1e-9)
    # float32 points and a float tau: float32 out, close to the float64 values.
    out32 = dt.positive_log_mass(gen.float(), pos.float(), temperature=0.05, scale=1.7)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out[1].detach().numpy(), rtol=1e-4, atol=1e-5)


def test_drift_loss_with_a_learned_temperature():
    gen, pos, neg, wn, _ = problems(b=4, seed=3, dtype=torch.float32)
    tau = torch.tensor(0.07, requires_grad=True)
    g = gen.clone().requires_grad_(True)
    loss, info = dt.drift_loss(g, pos, neg, weight_neg=wn, temperature=tau)
    # The field at tau's current value: the official loss with R_list (0.07,).
    r = float(tau.detach())
    loss_r, info_r = dt.drift_loss(gen, pos, neg, weight_neg=wn, R_list=(r,))
    torch.testing.assert_close(loss.detach(), loss_r)
    torch.testing.assert_close(info["drift"], info_r["drift"])
    assert sorted(info) == ["drift", "log_mass", "loss_tau", "scale"]
    torch.testing.assert_close(info["loss_tau"], info_r[f"loss_{r}"])
    # The log mass at the loss's (batch-wide) feature scale, the one positive_log_mass computes.
    expected = dt.positive_log_mass(gen, pos, neg, weight_neg=wn, temperature=0.07)
    torch.testing.assert_close(info["log_mass"].detach(), expected)
    assert info["log_mass"].shape == gen.shape[:2]
    # Training signals separate: the loss reaches gen only, the log mass tau only.
    assert loss.grad_fn is not None and info["log_mass"].requires_grad
    (gtau,) = torch.autograd.grad(loss.sum(), tau, allow_unused=True)
    assert gtau is None
    (-info["log_mass"].mean()).backward()
    assert g.grad is None and tau.grad is not None and math.isfinite(tau.grad.item())
    ref, ref_grad, _ = reference(gen, pos, neg, wn=wn, tau=0.07,
                                 scale=info["scale"].item())
    np.testing.assert_allclose(tau.grad.item(), -ref_grad.mean(), rtol=1e-3)
    # One temperature per entry of a [K] tensor; no operator kept per value seen.
    taus = torch.tensor([0.03, 0.3], requires_grad=True)
    from drift import _loss_operators

    cached = len(_loss_operators._OPERATORS)
    _, info2 = dt.drift_loss(gen, pos, temperature=taus)
    assert info2["log_mass"].shape == (2,) + gen.shape[:2]
    assert sorted(k for k in info2 if k.startswith("loss_")) == ["loss_tau0", "loss_tau1"]
    assert len(_loss_operators._OPERATORS) == cached


def test_learned_temperature_errors():
    gen, pos, _, _, _ = problems(b=2, seed=4, dtype=torch.float32)
    with pytest.raises(ValueError, match="positive finite"):
        dt.drift_loss(gen, pos, temperature=torch.tensor(-0.1))
    with pytest.raises(ValueError, match="scalar or 1-d"):
        dt.drift_loss(gen, pos, temperature=torch.ones(2, 2))
    with pytest.raises(ValueError, match="pass `operator=None`"):
        dt.drift_loss(gen, pos, temperature=torch.tensor(0.1),
                      operator='{"one_sided": (temperature: 0.1)}')


def _train_tau(gen, pos, steps=20, tau0=0.2):
    """Adam on log tau, maximising the mean log mass given by drift_loss; returns tau's values."""
    log_tau = torch.tensor(math.log(tau0), requires_grad=True)
    opt = torch.optim.Adam([log_tau], lr=0.05)
    seen = [tau0]
    for _ in range(steps):
        _, info = dt.drift_loss(gen, pos, temperature=log_tau.exp())
        opt.zero_grad()
        (-info["log_mass"].mean()).backward()
        opt.step()
        seen.append(log_tau.exp().item())
    return seen


def test_training_the_temperature_moves_it_the_expected_way():
    rng = np.random.default_rng(5)
    b, n, s = 2, 8, 3
    centres = rng.standard_normal((b, 1, s)) * 3
    pos = centres + rng.standard_normal((b, n, s))
    # Far from the positives, close together: the generated samples' nearest targets are each
    # other, the positives' mass grows with tau, and tau grows.
    far = torch.tensor(centres + 6.0 + 0.2 * rng.standard_normal((b, n, s)), dtype=torch.float32)
    # On top of the positives (each one next to its own): the mass is largest for a sharp kernel.
    near = torch.tensor(pos + 0.01 * rng.standard_normal((b, n, s)), dtype=torch.float32)
    pos = torch.tensor(pos, dtype=torch.float32)
    up = _train_tau(far, pos)
    down = _train_tau(near, pos)
    assert up[-1] > 1.5 * up[0] and all(a < b for a, b in zip(up, up[1:])), up
    assert down[-1] < up[0] / 1.5 and all(a > b for a, b in zip(down, down[1:])), down
