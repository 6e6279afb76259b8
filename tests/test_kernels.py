"""Compiled kernels against the plain-NumPy reference, over random shapes and both dtypes."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numba import njit

from fastdnn import reference as ref
from fastdnn.kernels.activations import RELU, SIGMOID, activation_backward, add_bias_activate
from fastdnn.kernels.cost import cross_entropy_from_logits, cross_entropy_from_probs
from fastdnn.kernels.linear import SMALL_MATMUL, linear_grads_into, matmul_into
from fastdnn.kernels.update import gradient_descent_update
from fastdnn.kernels.views import borrow

DTYPES = [np.float64, np.float32]
#: tolerance of a dtype against the float64 reference computed on the same values
RTOL = {np.float64: 1e-12, np.float32: 2e-5}

dims = st.integers(1, 9)
settings.register_profile("kernels", max_examples=25, deadline=None)
settings.load_profile("kernels")


def data(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def close(got, want, dtype, scale=None):
    """got equals want to the dtype's tolerance, relative to the size of the values."""
    scale = np.max(np.abs(want)) if scale is None else scale
    np.testing.assert_allclose(got, want, rtol=0, atol=RTOL[dtype] * max(scale, 1e-30) * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=dims, k=dims, m=dims, seed=st.integers(0, 2**31))
def test_matmul_loops_and_transposed_views(dtype, n, k, m, seed):
    rng = np.random.default_rng(seed)
    a, b = data(rng, n, k, dtype=dtype), data(rng, k, m, dtype=dtype)
    out = np.empty((n, m), dtype)
    matmul_into(a, b, out)
    want = a.astype(np.float64) @ b.astype(np.float64)
    close(out, want, dtype, np.abs(a).sum() * np.abs(b).max())
    scale = np.abs(a).sum() * np.abs(b).max()
    for bt, at in [(np.ascontiguousarray(b.T), np.ascontiguousarray(a.T)), (b.T, a.T)]:
        out_t = np.full((m, n), np.nan, dtype)  # C-contiguous inputs, then transposed views
        matmul_into(bt, at, out_t)
        close(out_t, want.T, dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k,m", [(40, 40, 41), (3, 200, 120), (64, 32, 32)])
def test_matmul_through_blas_matches_loops(dtype, n, k, m):
    """Shapes at or above SMALL_MATMUL go to BLAS; same values as the loops' side."""
    assert n * k * m >= SMALL_MATMUL
    rng = np.random.default_rng(n)
    a, b = data(rng, n, k, dtype=dtype), data(rng, m, k, dtype=dtype)
    out = np.empty((n, m), dtype)
    matmul_into(a, b.T, out)
    close(out, a.astype(np.float64) @ b.T.astype(np.float64), dtype, k * 4.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation,code", [("relu", RELU), ("sigmoid", SIGMOID)])
@given(n=dims, k=dims, m=dims, seed=st.integers(0, 2**31))
def test_fused_linear_activation_forward(dtype, activation, code, n, k, m, seed):
    rng = np.random.default_rng(seed)
    A, W, b = data(rng, k, m, dtype=dtype), data(rng, n, k, dtype=dtype), data(rng, n, 1, dtype=dtype)
    Z = np.empty((n, m), dtype)
    matmul_into(W, A, Z)
    add_bias_activate(Z, b.reshape(-1), code)
    want, _ = ref.linear_activation_forward(A.astype(np.float64), W.astype(np.float64),
                                            b.astype(np.float64), activation)
    close(Z, want, dtype, np.abs(A).max() * np.abs(W).sum(axis=1).max() + np.abs(b).max())
    assert Z.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_saturates_without_warnings(dtype):
    Z = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]], dtype)
    with np.errstate(all="raise"):
        add_bias_activate(Z, np.zeros(1, dtype), SIGMOID)
    assert np.all(np.isfinite(Z)) and Z[0, 0] == 0 and Z[0, -1] == 1 and Z[0, 3] == 0.5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation,code", [("relu", RELU), ("sigmoid", SIGMOID)])
@given(n=dims, m=dims, seed=st.integers(0, 2**31))
def test_activation_backward_through_output(dtype, activation, code, n, m, seed):
    """dZ computed from the activation output A equals the seed's, computed from Z."""
    rng = np.random.default_rng(seed)
    Z, dA = data(rng, n, m, dtype=dtype), data(rng, n, m, dtype=dtype)
    A = Z.copy()
    add_bias_activate(A, np.zeros(n, dtype), code)
    dZ = dA.copy()
    activation_backward(dZ, A, code)
    backward = ref.relu_backward if activation == "relu" else ref.sigmoid_backward
    close(dZ, backward(dA.astype(np.float64), Z.astype(np.float64)), dtype, np.abs(dA).max())


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=dims, k=dims, m=dims, seed=st.integers(0, 2**31))
def test_linear_backward(dtype, n, k, m, seed):
    rng = np.random.default_rng(seed)
    dZ, A, W = data(rng, n, m, dtype=dtype), data(rng, k, m, dtype=dtype), data(rng, n, k, dtype=dtype)
    dW, db = np.empty((n, k), dtype), np.empty(n, dtype)
    linear_grads_into(dZ, A, dW, db)
    dA_prev = np.empty((k, m), dtype)
    matmul_into(W.T, dZ, dA_prev)
    f64 = [x.astype(np.float64) for x in (A, W)]
    want_dA, want_dW, want_db = ref.linear_backward(dZ.astype(np.float64), (*f64, None))
    scale = np.abs(dZ).max() * max(np.abs(A).max(), np.abs(W).max()) * max(k, m)
    close(dW / m, want_dW, dtype, scale)
    close(db.reshape(n, 1) / m, want_db, dtype, scale)
    close(dA_prev, want_dA, dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
@given(m=dims, seed=st.integers(0, 2**31))
def test_costs(dtype, m, seed):
    rng = np.random.default_rng(seed)
    Z = (3 * rng.standard_normal((1, m))).astype(dtype)
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    AL, _ = ref.sigmoid(Z.astype(np.float64))
    want = ref.compute_cost(AL, Y.astype(np.float64))
    assert cross_entropy_from_logits(Z, Y) == pytest.approx(want, rel=RTOL[dtype] * 10)
    assert cross_entropy_from_probs(AL.astype(dtype), Y) == pytest.approx(want, rel=RTOL[dtype] * 10)


def test_logit_cost_stays_finite_where_probabilities_saturate():
    """At z = 40 the float64 sigmoid rounds to 1; a wrong label there still has a finite cost."""
    Z, Y = np.array([[40.0, -40.0]]), np.array([[0.0, 1.0]])
    assert cross_entropy_from_logits(Z, Y) == pytest.approx(40.0, rel=1e-12)  # (40 + 40) / 2


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=dims, k=dims, seed=st.integers(0, 2**31))
def test_fused_update_over_the_flat_buffer(dtype, n, k, seed):
    """One loop over [W1 | b1] equals the seed's per-array update_parameters."""
    rng = np.random.default_rng(seed)
    params, grads = data(rng, n * k + n, dtype=dtype), data(rng, n * k + n, dtype=dtype)
    as_dict = lambda flat, prefix: {prefix + "W1": flat[:n * k].reshape(n, k).astype(np.float64),
                                    prefix + "b1": flat[n * k:].reshape(n, 1).astype(np.float64)}
    want = ref.update_parameters(as_dict(params, ""), as_dict(grads, "d"), 0.1)
    gradient_descent_update(params, grads, dtype(0.1))
    got = as_dict(params, "")
    for key in want:
        close(got[key], want[key], dtype, np.abs(want[key]).max())


@njit
def _scale_borrowed(a, b, factor):
    """Borrows a (2-D, any layout) and b (1-D) with a scalar passing through, and writes
    through the borrowed arrays."""
    a, b, factor = borrow(a, b, factor)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] *= factor
    b[0] = a.strides[0] + a.strides[1]
    return a.shape[0] * 10 + a.shape[1]


def test_borrowed_arrays_are_the_callers_arrays():
    """``views.borrow`` keeps data, shape and strides (a transposed, strided view here):
    writes through it land in the caller's array; other values pass through unchanged."""
    base = np.arange(24.0).reshape(4, 6)
    view = base[::2, 1::2].T          # (3, 2), strides (16, 96)
    b = np.zeros(1)
    assert _scale_borrowed(view, b, 2.0) == 32
    expected = np.arange(24.0).reshape(4, 6)
    expected[::2, 1::2] *= 2.0
    np.testing.assert_array_equal(base, expected)
    assert b[0] == view.strides[0] + view.strides[1]
