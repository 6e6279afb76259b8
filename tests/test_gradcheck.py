"""``fastdnn.gradient_check``: every configuration's compiled gradients, two ways.

1. Against finite differences of the compiled cost (what ``gradient_check``
   reports): the course's threshold 2e-7 for the relative difference.
2. Against the plain-NumPy reference's ``backward`` with the same dropout
   masks (``mask_source``), gradient by gradient: an oracle that does not share
   the compiled cost, so a cost and a gradient wrong in the same way still fail.
"""

import numpy as np
import pytest

import fastdnn
from fastdnn import DeepNeuralNetwork
from fastdnn import reference as R
from fastdnn.engine.rng import mask_source

from conftest import binary_problem, regression_problem, softmax_problem, start_parameters

HIDDEN = ["relu", "leaky_relu", "tanh", "sigmoid", "identity"]


def _problem(output):
    if output == "sigmoid":
        X, Y = binary_problem(n_out=2, m=12)
        return X, Y, Y, [4, 5, 3, 2]
    if output == "softmax":
        X, labels, onehot = softmax_problem(m=12)
        return X, labels, onehot, [4, 5, 3, 3]
    X, Y = regression_problem(n_out=2, m=12)
    return X, Y, Y, [4, 5, 3, 2]


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.4, 1.0), (0.0, 0.7), (0.4, 0.7)])
def test_compiled_gradients_of_every_configuration(output, hidden, lambd, keep_prob):
    X, Y_fit, Y_onehot, dims = _problem(output)
    P = start_parameters(dims)
    model = DeepNeuralNetwork(dims, output=output, hidden_activation=hidden, lambd=lambd,
                              keep_prob=keep_prob, dropout_seed=7)
    result = fastdnn.gradient_check(model, X, Y_fit, parameters=P)
    assert result.ok and result.difference < 2e-7, result.difference

    masks = mask_source(7, keep_prob) if keep_prob < 1 else None
    _, cache = R.forward(X, P, hidden, output, keep_prob, masks)
    want = R.backward(X, Y_onehot, cache, hidden, output, lambd, keep_prob)
    for key, got in result.gradients.items():
        np.testing.assert_allclose(got, want[key], rtol=1e-10, atol=1e-13, err_msg=key)


def test_the_check_reports_a_mismatch_at_a_kink():
    """The check itself can fail: at a kink of relu (zero biases behind a layer whose
    units are all dead for some examples) the one-sided derivatives differ, and the
    finite differences disagree with any gradient."""
    X, Y = binary_problem(m=12)
    dims = [4, 5, 3, 1]
    P = start_parameters(dims)
    P["W1"][:] = -np.abs(P["W1"]) * np.sign(X.sum(axis=1))  # many relu units dead
    P["b1"][:] = 0.0
    P["b2"][:] = 0.0
    model = DeepNeuralNetwork(dims)
    result = fastdnn.gradient_check(model, X, Y, parameters=P)
    assert not result.ok and result.difference > 1e-3


def test_gradient_check_validates_its_input():
    X, Y = binary_problem(m=12)
    model = DeepNeuralNetwork([4, 3, 1])
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        fastdnn.gradient_check(model, X, Y, epsilon=0.0)
    with pytest.raises(ValueError, match="X must have shape"):
        fastdnn.gradient_check(model, X[:3], Y)
