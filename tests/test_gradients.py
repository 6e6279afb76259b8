"""Gradients of the compiled paths against central finite differences of the reference cost."""

import numpy as np
import pytest

from fastdnn import functional as F
from fastdnn import reference as ref
from fastdnn.engine import TrainingEngine
from fastdnn.initializers import initialize

DIMS = [[4, 3, 1], [5, 4, 3, 1], [6, 5, 4, 3, 1]]


def problem(dims, m=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    return X, Y, initialize(dims, "he", seed)


def numerical_gradients(X, Y, params, eps=1e-6):
    """d cost / d p for every parameter entry, by central differences of the reference cost."""
    def cost(p):
        return ref.compute_cost(ref.L_model_forward(X, p)[0], Y)
    grads = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[key][idx] = value[idx] + eps
            up = cost(shifted)
            shifted[key][idx] = value[idx] - eps
            g[idx] = (up - cost(shifted)) / (2 * eps)
        grads["d" + key] = g
    return grads


def assert_matches(grads, numeric):
    for key, want in numeric.items():
        np.testing.assert_allclose(grads[key], want, rtol=1e-5, atol=1e-8, err_msg=key)


@pytest.mark.parametrize("dims", DIMS)
def test_functional_backward_matches_finite_differences(dims):
    X, Y, params = problem(dims)
    AL, caches = F.L_model_forward(X, params)
    assert_matches(F.L_model_backward(AL, Y, caches), numerical_gradients(X, Y, params))


@pytest.mark.parametrize("strategy", ["direct", "gram"])
@pytest.mark.parametrize("dims", DIMS)
def test_training_step_moves_by_minus_lr_times_gradient(dims, strategy):
    """One engine iteration changes every parameter by -lr * (its finite-difference gradient)."""
    X, Y, params = problem(dims)
    lr = 1e-3
    engine = TrainingEngine(X, Y, params, dims, ["relu"] * (len(dims) - 2) + ["sigmoid"], lr,
                            strategy=strategy)
    engine.run(1, record_every=1)
    after = engine.parameters()
    implied = {"d" + k: (params[k] - after[k]) / lr for k in params}
    assert_matches(implied, numerical_gradients(X, Y, params))
