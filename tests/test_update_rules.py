"""Each update rule of the compiled core against its formula, for one hand-set step.

Parameters, gradients and optimiser state are set by hand; one step runs through
the compiled kernels (``fastdnn.kernels.update.rule_update`` /
``gradient_descent_update`` on flat arrays, and ``fastdnn.kernels.training.update_step``
over a network's flat buffers) and is compared with the formulas written out
here, with the gradient sums g over a batch of m examples scaled as
d = g / m (+ lambd / m * W on weights only):

- gd:        p <- p - lr d
- momentum:  v <- beta v + (1 - beta) d;  p <- p - lr v
- adam:      v <- beta1 v + (1 - beta1) d;  s <- beta2 s + (1 - beta2) d^2;
             p <- p - lr (v / (1 - beta1^t)) / (sqrt(s / (1 - beta2^t)) + eps)

and with the course's one-step functions in ``fastdnn.reference``.
"""

import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork
from fastdnn import reference as R
from fastdnn.engine.workspace import Workspace
from fastdnn.kernels.training import update_step
from fastdnn.kernels.update import (
    ADAM,
    GD,
    MOMENTUM,
    OPTIMIZERS,
    gradient_descent_update,
    rule_update,
)

DTYPES = [np.float64, np.float32]
#: float64: the formula to rounding (fast-math may fuse a multiply-add); float32: a few
#: float32 ulps against the float64 formula evaluated on the same float32 inputs.
RTOL = {np.float64: 1e-14, np.float32: 2e-6}

# hand-set values: p (parameters), g (gradient sums over M_B examples), v and s (state)
P = [1.0, -2.0, 0.5, 4.0]
G = [0.4, 0.8, -1.2, 2.0]
V = [0.1, 0.2, -0.3, 0.0]
S = [0.01, 0.04, 0.09, 0.0]
M_B = 4          # inv_m = 0.25, so d = g / 4 = [0.1, 0.2, -0.3, 0.5]
LR = 0.5


def _arrays(dtype, *lists):
    return [np.array(a, dtype=dtype) for a in lists]


def _rule(dtype, rule, p, g, v, s, lo=0, hi=None, lr=LR, inv_m=1 / M_B, decay=0.0, beta=0.9,
          beta1=0.9, beta2=0.999, eps=1e-8, t=1):
    """One rule_update step over p[lo:hi] in place, with scalars in ``dtype``; returns its flag."""
    dt = dtype
    hi = p.shape[0] if hi is None else hi
    return rule_update(p, g, v, s, lo, hi, rule, dt(lr), dt(inv_m), dt(decay), dt(beta),
                       dt(beta1), dt(beta2), dt(eps), dt(1 - beta1 ** t), dt(1 - beta2 ** t),
                       0)


# == hand-computed numbers ==========================================================

def test_gd_by_hand():
    p, g, v, s = _arrays(np.float64, P, G, [], [])
    assert _rule(np.float64, GD, p, g, v, s)
    # p - 0.5 * [0.1, 0.2, -0.3, 0.5]
    np.testing.assert_allclose(p, [0.95, -2.1, 0.65, 3.75], rtol=1e-15)


def test_gd_with_l2_by_hand():
    p, g, v, s = _arrays(np.float64, P, G, [], [])
    assert _rule(np.float64, GD, p, g, v, s, decay=0.1 / M_B)  # lambd = 0.1
    # d = g/4 + 0.025 p = [0.125, 0.15, -0.2875, 0.6]
    np.testing.assert_allclose(p, [0.9375, -2.075, 0.64375, 3.7], rtol=1e-15)


def test_momentum_by_hand():
    p, g, v, s = _arrays(np.float64, P, G, V, [])
    assert _rule(np.float64, MOMENTUM, p, g, v, s, beta=0.9)
    # v = 0.9 [0.1, 0.2, -0.3, 0] + 0.1 [0.1, 0.2, -0.3, 0.5] = [0.1, 0.2, -0.3, 0.05]
    np.testing.assert_allclose(v, [0.1, 0.2, -0.3, 0.05], rtol=1e-15)
    np.testing.assert_allclose(p, [0.95, -2.1, 0.65, 3.975], rtol=1e-15)


def test_adam_first_step_moves_by_lr_times_sign_by_hand():
    """From v = s = 0 at t = 1 the bias corrections give back d and d^2 exactly, so each
    parameter moves by lr * d / (|d| + eps), about lr against the sign of d."""
    p, g, v, s = _arrays(np.float64, P, G, [0] * 4, [0] * 4)
    assert _rule(np.float64, ADAM, p, g, v, s, t=1)
    d = np.array([0.1, 0.2, -0.3, 0.5])
    np.testing.assert_allclose(v, 0.1 * d, rtol=1e-15)
    np.testing.assert_allclose(s, 0.001 * d * d, rtol=1e-14)
    np.testing.assert_allclose(p, np.array(P) - LR * d / (np.abs(d) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(p, [0.5, -2.5, 1.0, 3.5], rtol=1e-7)


def test_adam_epsilon_is_outside_the_square_root():
    """With s = 0 (a zero gradient ever since) and v != 0, the step is lr (v/c1) / eps;
    inside the root it would be lr (v/c1) / sqrt(eps), 10^4 times smaller."""
    p, g, v, s = _arrays(np.float64, [0.0], [0.0], [1e-9], [0.0])
    assert _rule(np.float64, ADAM, p, g, v, s, lr=0.001, beta1=0.5, beta2=0.5, eps=1e-8, t=1)
    # v = 0.5e-9, v / c1 = 1e-9 (c1 = 0.5), s = 0: p = -0.001 * 1e-9 / 1e-8 = -1e-4
    np.testing.assert_allclose(p, [-1e-4], rtol=1e-12)


# == the formulas in both dtypes =====================================================

def _formula(rule, p, g, v, s, lr=LR, m=M_B, decay=0.0, beta=0.9, beta1=0.9, beta2=0.999,
             eps=1e-8, t=1):
    """(p, v, s) after one step, in float64 NumPy, the rules as the module docstring writes them."""
    p, g, v, s = (np.asarray(a, np.float64) for a in (p, g, v, s))
    d = g / m + decay * p
    if rule == GD:
        return p - lr * d, v, s
    if rule == MOMENTUM:
        v = beta * v + (1 - beta) * d
        return p - lr * v, v, s
    v = beta1 * v + (1 - beta1) * d
    s = beta2 * s + (1 - beta2) * d ** 2
    v_hat, s_hat = v / (1 - beta1 ** t), s / (1 - beta2 ** t)
    return p - lr * v_hat / (np.sqrt(s_hat) + eps), v, s


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_rule_update_matches_formula(dtype, rule, decay):
    code = OPTIMIZERS[rule]
    hyper = dict(beta=0.8, beta1=0.85, beta2=0.99, eps=1e-6, t=3)
    p, g, v, s = _arrays(dtype, P + [7.0], G + [9.0], V + [5.0], S + [3.0])
    want_p, want_v, want_s = _formula(code, P, G, V, S, decay=decay, **hyper)
    assert _rule(dtype, code, p, g, v, s, hi=4, decay=decay, **hyper)
    assert p.dtype == v.dtype == s.dtype == dtype
    np.testing.assert_allclose(p[:4], want_p, rtol=RTOL[dtype], atol=0)
    if code != GD:
        np.testing.assert_allclose(v[:4], want_v, rtol=RTOL[dtype], atol=0)
    if code == ADAM:
        np.testing.assert_allclose(s[:4], want_s, rtol=RTOL[dtype], atol=0)
    # outside [lo, hi) nothing is touched
    assert (p[4], g[4], v[4], s[4]) == (7.0, 9.0, 5.0, 3.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_descent_update_matches_formula(dtype):
    p, g = _arrays(dtype, P, G)
    step = dtype(LR / M_B)
    assert gradient_descent_update(p, g, step)
    assert p.dtype == dtype
    want = np.array(P) - (LR / M_B) * np.array(G)
    np.testing.assert_allclose(p, want, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
def test_non_finite_result_is_reported(rule):
    code = OPTIMIZERS[rule]
    big = np.finfo(np.float64).max
    # gd and momentum overflow to inf; Adam's step is bounded, so feed it a NaN gradient
    grad = [0.0, np.nan] if code == ADAM else [0.0, -big]
    p, g, v, s = _arrays(np.float64, [1.0, big], grad, [0, 0], [0, 0])
    assert not _rule(np.float64, code, p, g, v, s, inv_m=1.0, beta=0.0)
    p, g, v, s = _arrays(np.float64, P, G, V, S)
    assert _rule(np.float64, code, p, g, v, s)
    p, g = _arrays(np.float64, [1.0, big], [0.0, -big])
    assert not gradient_descent_update(p, g, 1.0)


# == update_step over a network's buffers =============================================

DIMS = [3, 2, 1]


def _network_step(dtype, rule, lambd, t=2, skip_w1=False, lr=0.3, m=5):
    """One update_step on hand-set buffers of a [3, 2, 1] network.

    Returns (workspace after, parameters / v / s / g before as seed-format dicts)."""
    ws = Workspace(DIMS, m, dtype, ["relu", "sigmoid"], moments={"gd": 0, "momentum": 1,
                                                                 "adam": 2}[rule])
    n = ws.params.size                                    # 6 + 2 + 2 + 1 = 11
    ws.params[:] = np.linspace(-1.5, 2.0, n)
    ws.grads[:] = np.linspace(0.9, -0.6, n) ** 3
    if ws.vel.size:
        ws.vel[:] = np.linspace(-0.2, 0.3, n)
    if ws.sq.size:
        ws.sq[:] = np.linspace(0.01, 0.05, n)
    before = (ws.parameters(), ws.parameters(ws.vel, "d") if ws.vel.size else None,
              ws.parameters(ws.sq, "d") if ws.sq.size else None, ws.parameters(ws.grads, "d"))
    hp = np.array([0.8, 0.85, 0.99, 1e-7, lambd, 1.0, 0.0])  # beta, beta1, beta2, eps, lambd, keep, loss
    counters = np.array([t - 1], dtype=np.int64)          # Adam counts its step first
    ok = update_step(ws.params, ws.grads, ws.vel, ws.sq, ws.dims, ws.w_off, ws.b_off,
                     OPTIMIZERS[rule], hp, lr, m, counters, skip_w1, np.empty(0, np.int64))
    assert ok
    assert counters[0] == (t if rule == "adam" else t - 1)  # only Adam keeps a step count
    return ws, before


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_update_step_matches_formula_l2_on_weights_only(dtype, rule, lambd):
    lr, m, t = 0.3, 5, 2
    ws, (p0, v0, s0, g) = _network_step(dtype, rule, lambd, t, lr=lr, m=m)
    code = OPTIMIZERS[rule]
    for l in (1, 2):
        for name in ("W", "b"):
            key = "%s%d" % (name, l)
            decay = lambd / m if name == "W" else 0.0          # L2 reaches the weights only
            zeros = np.zeros_like(p0[key])
            want_p, want_v, want_s = _formula(
                code, p0[key], g["d" + key], v0["d" + key] if v0 else zeros,
                s0["d" + key] if s0 else zeros, lr=lr, m=m, decay=decay, beta=0.8, beta1=0.85,
                beta2=0.99, eps=1e-7, t=t)
            got = ws.parameters()
            assert got[key].dtype == dtype
            np.testing.assert_allclose(got[key], want_p, rtol=RTOL[dtype], atol=0, err_msg=key)
            if code != GD:
                np.testing.assert_allclose(ws.parameters(ws.vel, "d")["d" + key], want_v,
                                           rtol=RTOL[dtype], atol=0, err_msg=key)
            if code == ADAM:
                np.testing.assert_allclose(ws.parameters(ws.sq, "d")["d" + key], want_s,
                                           rtol=RTOL[dtype], atol=0, err_msg=key)


@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
def test_update_step_l2_changes_weights_not_biases(rule):
    """The same step with and without L2: biases are bit-identical, weights differ."""
    plain, _ = _network_step(np.float64, rule, 0.0)
    l2, _ = _network_step(np.float64, rule, 0.7)
    a, b = plain.parameters(), l2.parameters()
    for l in (1, 2):
        np.testing.assert_array_equal(a["b%d" % l], b["b%d" % l])
        assert np.all(a["W%d" % l] != b["W%d" % l])


def test_update_step_adam_uses_the_step_number():
    early, _ = _network_step(np.float64, "adam", 0.0, t=1)
    late, _ = _network_step(np.float64, "adam", 0.0, t=50)
    assert np.all(early.params != late.params)


@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_update_step_can_leave_w1_out(rule, lambd):
    """skip_w1 (the Gram strategy trains W1 apart): W1 and its moments stay, the rest moves
    exactly as without skip_w1."""
    skipped, (p0, v0, s0, _) = _network_step(np.float64, rule, lambd, skip_w1=True)
    full, _ = _network_step(np.float64, rule, lambd)
    got, want = skipped.parameters(), full.parameters()
    np.testing.assert_array_equal(got["W1"], p0["W1"])
    assert np.all(want["W1"] != p0["W1"])
    for key in ("b1", "W2", "b2"):
        np.testing.assert_array_equal(got[key], want[key])
    if v0 is not None:
        np.testing.assert_array_equal(skipped.parameters(skipped.vel, "d")["dW1"], v0["dW1"])
    if s0 is not None:
        np.testing.assert_array_equal(skipped.parameters(skipped.sq, "d")["dW1"], s0["dW1"])


# == against the course's one-step functions ========================================

@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_update_step_agrees_with_reference_update_functions(rule, lambd):
    lr, m, t = 0.3, 5, 2
    ws, (p0, v0, s0, g) = _network_step(np.float64, rule, lambd, t, lr=lr, m=m)
    # the course's functions take the mean gradient, L2 term included (backward's dW)
    grads = {"d" + k: g["d" + k] / m + (lambd / m * p0[k] if k[0] == "W" else 0) for k in p0}
    params = {k: a.copy() for k, a in p0.items()}
    if rule == "gd":
        want = R.update_parameters_with_gd(params, grads, lr)
    elif rule == "momentum":
        want, v = R.update_parameters_with_momentum(params, grads, v0, 0.8, lr)
        for k in v:
            np.testing.assert_allclose(ws.parameters(ws.vel, "d")[k], v[k], rtol=1e-14, atol=0)
    else:
        want, v, s, _, _ = R.update_parameters_with_adam(params, grads, v0, s0, t, lr, 0.85, 0.99,
                                                         1e-7)
        for k in v:
            np.testing.assert_allclose(ws.parameters(ws.vel, "d")[k], v[k], rtol=1e-14, atol=0)
            np.testing.assert_allclose(ws.parameters(ws.sq, "d")[k], s[k], rtol=1e-14, atol=0)
    got = ws.parameters()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-14, atol=0, err_msg=k)


# == float32 stays float32 through training ============================================

@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_float32_training_keeps_float32_parameters_and_moments(optimizer):
    rng = np.random.RandomState(0)
    X = rng.randn(3, 12)
    Y = (X[0] > 0).astype(float).reshape(1, -1)
    model = DeepNeuralNetwork(DIMS, 0.01, dtype="float32", optimizer=optimizer, batch_size=5)
    model.fit(X, Y, num_epochs=3)
    assert all(a.dtype == np.float32 for a in model.parameters_.values())
    state = model.optimizer_state_
    assert all(a.dtype == np.float32 for a in state["v"].values())
    if optimizer == "adam":
        assert all(a.dtype == np.float32 for a in state["s"].values())
    assert model.predict_proba(X).dtype == np.float32
