"""The split strategy's vectorisable exp and softmax (``fastdnn.kernels.vexp``) against NumPy."""

import numpy as np
from numba import njit

from fastdnn.kernels.activations import softmax_columns
from fastdnn.kernels.config import JIT_OPTIONS
from fastdnn.kernels.vexp import LOWEST, exp_nonpositive, softmax_columns_vectorised


@njit(**JIT_OPTIONS)
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])


def test_exp_within_one_unit_in_the_last_place_of_numpy():
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.random(200_000) * 40, rng.random(20_000) * 708.39,
                         [0.0, 5e-324, 1e-300, 0.5 * np.log(2), np.log(2), 700.0, 708.39]])
    out = np.empty_like(x)
    _exp_all(x, out)
    want = np.exp(x)
    ulps = np.abs(out - want) / np.spacing(want)
    assert ulps.max() <= 1.0, x[np.argmax(ulps)]
    assert (ulps == 0).mean() > 0.85            # most values are the C library's exactly
    assert out[np.argmax(x)] == 1.0             # exp(0) exactly


def test_exp_below_the_normal_range_is_zero():
    x = np.array([LOWEST - 1e-9, -745.0, -1e4, -np.inf])
    out = np.empty_like(x)
    _exp_all(x, out)
    assert np.all(out == 0.0)
    assert np.all(np.exp(x) < np.finfo(np.float64).tiny)   # what it gives up: subnormals


def _softmax_exact(Z):
    """The softmax of Z's values (any dtype), computed in float64 by NumPy."""
    Z = Z.astype(np.float64)
    e = np.exp(Z - Z.max(axis=0))
    return e / e.sum(axis=0)


def test_vectorised_softmax_against_numpy_and_the_one_core_softmax():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((10, 37)) * 30
    Z[3, 5] = 800.0                              # one dominant class: the others underflow
    one_core, split = Z.copy(), Z.copy()
    softmax_columns(one_core)
    softmax_columns_vectorised(split, np.empty(37), np.empty(37))
    np.testing.assert_allclose(split, one_core, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(split.sum(axis=0), 1.0, rtol=1e-15)
    # float32: the column maximum is subtracted in float64, so the result is the exact
    # softmax of the float32 inputs to float32 rounding (the one-core kernel subtracts in
    # float32: up to 4e-6 off for logits ~100 apart)
    Z32 = Z.astype(np.float32)
    split32 = Z32.copy()
    softmax_columns_vectorised(split32, np.empty(37), np.empty(37))
    assert split32.dtype == np.float32
    exact = _softmax_exact(Z32)
    visible = exact > 1e-30
    assert np.max(np.abs(split32 - exact)[visible] / exact[visible]) < 3e-7
