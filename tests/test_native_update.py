"""``update_arithmetic="native"``: a float32 model's momentum and Adam steps in float32.

By default (``"float64"``) fastdnn forms a float32 step in float64 and rounds it once,
as it always has. "native" computes every operation in float32, as the NumPy reference,
PyTorch and JAX do. Oracles: NumPy's float32 and float64 arithmetic of the same formulas
(counted in units in the last place), the NumPy reference's mini-batch loop run in
float32, and the default path itself (float64 models must come out bit for bit equal).
"""

import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork, load_model
from fastdnn.kernels.update import ADAM, MOMENTUM, rule_update

from test_minibatch_workloads import (RTOL32_COSTS, RTOL32_PARAMS, WORKLOADS, _both, _problem,
                                      _rel)

LR, INV_M, B1, B2, EPS, T = 0.05, 1 / 32, 0.9, 0.999, 1e-8, 3


def _state(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return f(n), f(n), np.abs(f(n)) * 0.1, np.abs(f(n)) * 0.01   # p, g, v, s


def _kernel_adam(zero):
    p, g, v, s = _state()
    c1, c2 = np.float32(1 - B1 ** T), np.float32(1 - B2 ** T)
    f32 = np.float32
    assert rule_update(p, g, v, s, 0, p.size, ADAM, f32(LR), f32(INV_M), f32(0), 0.9, B1, B2,
                       f32(EPS), c1, c2, zero)
    return p, v, s


def _numpy_adam(dtype):
    """The step in NumPy: moments in float32 (both arithmetics form them so), the
    parameter step in ``dtype``, rounded to float32."""
    p, g, v, s = _state()
    f32 = np.float32
    d = f32(INV_M) * g
    v = f32(B1) * v + f32(1 - B1) * d
    s = f32(B2) * s + f32(1 - B2) * (d * d)
    c1, c2 = f32(1 - B1 ** T), f32(1 - B2 ** T)
    w = lambda a: a.astype(dtype)  # noqa: E731
    step = w(f32(LR)) * (w(v) / w(c1)) / (np.sqrt(w(s) / w(c2)) + w(f32(EPS)))
    return (w(p) - step).astype(np.float32), v, s


U32 = 2.0 ** -24   # float32's unit roundoff


def _within(a, b, scale, k):
    """|a - b| <= k float32 roundings of ``scale`` (the size of the terms summed) everywhere:
    the operations' rounding, counted against the terms (values near 0 come from
    cancellation, where a count of ulps of the result means nothing)."""
    return bool(np.all(np.abs(a.astype(np.float64) - b) <= k * U32 * scale))


def test_native_adam_step_is_float32_arithmetic_and_the_default_is_float64():
    native, v_n, s_n = _kernel_adam(np.float32(0))
    default, v_d, s_d = _kernel_adam(0)
    f32_p, f32_v, f32_s = _numpy_adam(np.float32)
    f64_p, _, _ = _numpy_adam(np.float64)
    p0, g, v0, s0 = (a.astype(np.float64) for a in _state())
    d = INV_M * g
    # moments: formed in float32 either way (fused multiply-adds may round once less)
    for got in (v_n, v_d):
        assert _within(got, f32_v, B1 * np.abs(v0) + (1 - B1) * np.abs(d), 3)
    for got in (s_n, s_d):
        assert _within(got, f32_s, B2 * s0 + (1 - B2) * d * d, 3)
    # the parameter step: each close to its own arithmetic (the step's relative error is a
    # few roundings: two divisions, a root, a product)...
    step = np.abs(f64_p.astype(np.float64) - p0)
    assert _within(native, f32_p, np.abs(p0) + 8 * step, 4)
    assert _within(default, f64_p, np.abs(p0) + 2 * step, 2)
    # ...and the two arithmetics really differ (float32 rounds each operation)
    assert np.count_nonzero(native != default) > 100
    assert np.count_nonzero(default != f64_p) < np.count_nonzero(native != f64_p)


def test_native_momentum_step_in_float32():
    p, g, v, _ = _state()
    p0, v0 = p.astype(np.float64), v.astype(np.float64)
    f32 = np.float32
    expect_v = f32(0.9) * v + f32(1 - 0.9) * (f32(INV_M) * g)
    expect_p = p - f32(LR) * expect_v
    assert rule_update(p, g, v, v[:0], 0, p.size, MOMENTUM, f32(LR), f32(INV_M), f32(0), 0.9,
                       B1, B2, f32(EPS), f32(1), f32(1), f32(0))
    assert _within(v, expect_v, 0.9 * np.abs(v0) + 0.1 * np.abs(INV_M * g), 3)
    assert _within(p, expect_p, np.abs(p0) + LR * np.abs(expect_v), 3)


@pytest.mark.parametrize("strategy", ["direct", "split"])
@pytest.mark.parametrize("name", ["W1", "W2", "W3"])
def test_native_float32_close_to_the_float32_reference(name, strategy):
    model, params, costs = _both(name, "float32", update_arithmetic="native", strategy=strategy)
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL32_COSTS, atol=0)
    for k in params:
        assert model.parameters_[k].dtype == np.float32
        assert _rel(model.parameters_[k], params[k]) <= RTOL32_PARAMS, k


@pytest.mark.parametrize("strategy", ["direct", "split"])
def test_native_changes_nothing_in_float64(strategy):
    native, _, _ = _both("W1", "float64", update_arithmetic="native", strategy=strategy)
    default, _, _ = _both("W1", "float64", strategy=strategy)
    assert native.costs_ == default.costs_
    for k in default.parameters_:
        assert np.array_equal(native.parameters_[k], default.parameters_[k]), k


def test_native_differs_from_the_default_in_float32():
    native, _, _ = _both("W1", "float32", update_arithmetic="native")
    default, _, _ = _both("W1", "float32")
    assert any(not np.array_equal(native.parameters_[k], default.parameters_[k])
               for k in default.parameters_)


def test_native_saved_loaded_and_continued_exactly(tmp_path):
    dims, m, output, optimizer, lr, batch, _ = WORKLOADS["W1"]
    X, Y, p0 = _problem(dims, m, output, "float32")
    kw = dict(output=output, optimizer=optimizer, batch_size=batch, dtype="float32",
              update_arithmetic="native")
    whole = DeepNeuralNetwork(dims, lr, **kw).fit(X, Y, num_epochs=4, initial_parameters=p0)
    part = DeepNeuralNetwork(dims, lr, **kw).fit(X, Y, num_epochs=2, initial_parameters=p0)
    part.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5")
    assert loaded.update_arithmetic == "native"
    loaded.fit(X, Y, num_epochs=2, warm_start=True)
    for k in whole.parameters_:
        assert np.array_equal(loaded.parameters_[k], whole.parameters_[k]), k


@pytest.mark.parametrize("bad", ["float32", "fast", None, 1])
def test_bad_update_arithmetic_is_refused(bad):
    X, Y, _ = _problem([4, 3, 1], 10, "sigmoid", "float32")
    with pytest.raises(ValueError, match="update_arithmetic must be one of 'float64', 'native'"):
        DeepNeuralNetwork([4, 3, 1], update_arithmetic=bad).fit(X, Y, 1)
