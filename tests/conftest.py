"""Shared problem builders and comparisons for the training tests.

Every builder makes a tiny problem (n_x = 4 inputs, m = 30 examples by default)
so that the whole set stays fast: Numba compiles each entry point once per
dtype and argument layout, whatever the sizes, so tests that use the same
dtypes reuse the compiled code.

Only plain functions live here (no fixtures), so existing tests are unaffected.
"""

import numpy as np

#: Inputs, examples and the default network of the training tests.
N_X = 4
M = 30
DIMS = [4, 3, 2, 1]


def binary_problem(n_x=N_X, m=M, n_out=1, seed=0):
    """X (n_x, m) standard normal and 0/1 labels Y (n_out, m), each row a linear rule of X
    (both classes present in every row)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    Y = (rng.randn(n_out, n_x) @ X > 0).astype(np.float64)
    assert all(0 < row.sum() < m for row in Y)
    return X, Y


def softmax_problem(n_x=N_X, m=M, classes=3, seed=0):
    """X (n_x, m), integer labels (1, m) in 0..classes-1 (the argmax of a linear map of X,
    every class present) and the same labels one-hot (classes, m)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    labels = np.argmax(rng.randn(classes, n_x) @ X, axis=0).reshape(1, m)
    assert set(labels.ravel()) == set(range(classes))
    onehot = np.zeros((classes, m))
    onehot[labels[0], np.arange(m)] = 1.0
    return X, labels, onehot


def regression_problem(n_x=N_X, m=M, n_out=1, seed=0):
    """X (n_x, m) and real targets Y (n_out, m): a smooth function of X plus a little noise."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    Y = np.tanh(rng.randn(n_out, n_x) @ X) + 0.1 * rng.randn(n_out, m)
    return X, Y


def start_parameters(dims, seed=2):
    """Seed-format parameters W_l ~ randn / sqrt(n_{l-1}) and *random* biases b_l ~ 0.1 randn.

    Non-zero biases keep relu pre-activations away from exact zeros (no kinks
    hit by rounding differences) and make bias updates observable.
    """
    rng = np.random.RandomState(seed)
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        params["b%d" % l] = 0.1 * rng.randn(dims[l], 1)
    return params


def max_rel_error(actual, expected):
    """max over the keys of max|a - e| / max|e| (each array against its own largest entry)."""
    return max(float(np.max(np.abs(np.asarray(actual[k], np.float64) - expected[k]))
                     / np.max(np.abs(expected[k]))) for k in expected)


def assert_params_close(actual, expected, rtol):
    """Same keys and shapes; each array within rtol of the expected one, relative to the
    array's largest entry."""
    assert sorted(actual) == sorted(expected)
    for k in expected:
        assert actual[k].shape == expected[k].shape, k
        err = np.max(np.abs(np.asarray(actual[k], np.float64) - expected[k]))
        assert err <= rtol * np.max(np.abs(expected[k])), (k, err)


def assert_params_equal(actual, expected):
    """Same keys, dtypes and values, bit for bit."""
    assert sorted(actual) == sorted(expected)
    for k in expected:
        assert actual[k].dtype == expected[k].dtype, k
        np.testing.assert_array_equal(actual[k], expected[k], err_msg=k)
