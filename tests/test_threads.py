"""fastdnn's BLAS thread policy: explicit counts apply during fit only; auto picks 1 for small products."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fastdnn
from fastdnn.engine.threads import SINGLE_THREAD_BELOW, largest_blas_product


def blas_threads_now():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})


def fit_and_watch(dims, m, **kwargs):
    """Fit a model, returning the BLAS thread counts seen from inside the run."""
    rng = np.random.default_rng(0)
    X, Y = rng.random((dims[0], m)), (rng.random((1, m)) > 0.5).astype(float)
    seen = []
    model = fastdnn.DeepNeuralNetwork(dims, 0.01, **kwargs)
    model.fit(X, Y, 4, record_every=2, callback=lambda it, cost: seen.append(blas_threads_now()))
    return seen


def test_explicit_thread_count_applies_during_fit_and_is_restored():
    with threadpool_limits(2, user_api="blas"):
        assert fit_and_watch([300, 32, 1], 500, n_threads=1) == [[1], [1]]
        assert blas_threads_now() == [2]


def test_auto_uses_one_thread_for_small_products_only():
    small, large = ([300, 32, 1], 500), ([600, 256, 1], 900)
    assert 0 < largest_blas_product(small[0], small[1], "direct") < SINGLE_THREAD_BELOW
    assert largest_blas_product(large[0], large[1], "direct") >= SINGLE_THREAD_BELOW
    with threadpool_limits(2, user_api="blas"):
        assert fit_and_watch(*small) == [[1], [1]]
        assert fit_and_watch(*large, strategy="direct") == [[2], [2]]
        assert blas_threads_now() == [2]


def test_products_that_never_reach_blas_leave_threads_alone():
    assert largest_blas_product([5, 4, 3, 1], 4, "direct") == 0
    with threadpool_limits(2, user_api="blas"):
        assert fit_and_watch([5, 4, 3, 1], 4) == [[2], [2]]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_thread_count(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        fit_and_watch([5, 4, 1], 4, n_threads=bad)
