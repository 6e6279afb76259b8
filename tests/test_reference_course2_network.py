"""The general network of ``fastdnn.reference.network`` and the Course 2 wrappers over it.

- ``backward`` against centred differences of ``cost`` for every hidden
  activation, every output, with L2 and with dropout (fixed injected masks);
- the cache patterns, the masks protocol and the random-number use of dropout;
- the 3-layer wrappers (``regularization.py``) against a literal transcription
  of the course's 3-layer code (``reg_utils.py`` and the Regularization
  notebook's exercises), value for value;
- the gradient-check helpers for other depths, and that importing the
  reference still pulls in neither numba nor other ``fastdnn`` modules.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdnn.reference as ref

REPO_ROOT = Path(__file__).resolve().parents[1]

HIDDEN = ["relu", "leaky_relu", "tanh", "sigmoid", "identity"]
OUTPUTS = ["sigmoid", "softmax", "identity"]


def make_problem(dims, m, output, seed):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = rng.standard_normal((dims[l], dims[l - 1])) * 0.7
        params["b%d" % l] = rng.standard_normal((dims[l], 1)) * 0.3
    X = rng.standard_normal((dims[0], m))
    n_out = dims[-1]
    if output == "sigmoid":
        Y = (rng.random((n_out, m)) < 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, m)]
    else:
        Y = rng.standard_normal((n_out, m))
    return params, X, Y


def fixed_masks(dims, m, keep_prob, seed):
    """A masks callable returning the same fixed arrays on every forward pass."""
    rng = np.random.default_rng(seed)
    arrays = [rng.random((n, m)) < keep_prob for n in dims[1:-1]]
    for a in arrays:
        a[0, 0] = True  # keep at least one unit per layer
    state = {"i": 0}

    def masks(shape):
        D = arrays[state["i"] % len(arrays)]
        state["i"] += 1
        assert D.shape == shape
        return D

    return masks, arrays


def numerical_grads(X, Y, params, hidden, output, lambd, keep_prob, masks, eps=1e-6):
    def J(p):
        AL, _ = ref.forward(X, p, hidden, output, keep_prob, masks)
        return ref.cost(AL, Y, p, output, lambd)

    grads = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][idx] += eps
            minus[key][idx] -= eps
            g[idx] = (J(plus) - J(minus)) / (2 * eps)
        grads["d" + key] = g
    return grads


def assert_grads_match(analytic, numeric, tol=1e-6):
    for key, num in numeric.items():
        ana = analytic[key]
        assert ana.shape == num.shape, key
        scale = max(1.0, np.max(np.abs(num)))
        np.testing.assert_allclose(ana, num, rtol=0, atol=tol * scale, err_msg=key)


# --------------------------------------------------------------------------
# Finite differences
# --------------------------------------------------------------------------

@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_backward_matches_finite_differences(hidden, output, lambd):
    dims = [3, 4, 3, 3]
    m = 5
    params, X, Y = make_problem(dims, m, output, seed=10 * HIDDEN.index(hidden) + OUTPUTS.index(output))
    AL, cache = ref.forward(X, params, hidden, output)
    grads = ref.backward(X, Y, cache, hidden, output, lambd=lambd)
    assert_grads_match(grads, numerical_grads(X, Y, params, hidden, output, lambd, 1.0, None))


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", [["relu", "tanh", "leaky_relu"], ["sigmoid", "identity", "relu"]])
def test_backward_matches_finite_differences_dropout_mixed(hidden, output):
    dims = [3, 5, 4, 3, 2]
    m = 6
    keep_prob = 0.7
    params, X, Y = make_problem(dims, m, output, seed=7)
    masks, arrays = fixed_masks(dims, m, keep_prob, seed=3)
    AL, cache = ref.forward(X, params, hidden, output, keep_prob, masks)
    grads = ref.backward(X, Y, cache, hidden, output, lambd=0.3, keep_prob=keep_prob)
    assert_grads_match(grads, numerical_grads(X, Y, params, hidden, output, 0.3, keep_prob, masks))


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", ["tanh", "leaky_relu"])
def test_gradient_check_n_general_networks(hidden, output):
    dims = [3, 4, 2, 3]
    params, X, Y = make_problem(dims, 4, output, seed=11)
    AL, cache = ref.forward(X, params, hidden, output)
    grads = ref.backward(X, Y, cache, hidden, output)
    difference = ref.gradient_check_n(params, grads, X, Y, hidden_activation=hidden, output=output)
    assert difference < 2e-7
    wrong = dict(grads, dW2=grads["dW2"] * 1.5)
    assert ref.gradient_check_n(params, wrong, X, Y, hidden_activation=hidden, output=output) > 1e-2


# --------------------------------------------------------------------------
# Outputs, losses, costs
# --------------------------------------------------------------------------

def test_loss_sum_definitions():
    AL = np.array([[0.2, 0.9, 0.6], [0.7, 0.4, 0.5]])
    Y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    expected = -sum(y * math.log(a) + (1 - y) * math.log(1 - a) for a, y in zip(AL.ravel(), Y.ravel()))
    assert np.isclose(ref.loss_sum(AL, Y, "sigmoid"), expected, rtol=1e-15)
    P = np.array([[0.2, 0.5], [0.3, 0.25], [0.5, 0.25]])
    T = np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    assert np.isclose(ref.loss_sum(P, T, "softmax"), -(math.log(0.5) + math.log(0.5)), rtol=1e-15)
    assert ref.loss_sum(np.array([[1.0, 3.0]]), np.array([[0.0, 1.0]]), "identity") == 0.5 * (1 + 4)
    # 1-D labels are reshaped to AL's shape (the course's gradient-check test case uses one)
    assert ref.loss_sum(AL[:1], Y[0], "sigmoid") == ref.loss_sum(AL[:1], Y[:1], "sigmoid")
    with pytest.raises(ValueError):
        ref.loss_sum(AL, Y, "tanh")


def test_cost_adds_course_l2_term():
    params, X, Y = make_problem([2, 3, 2, 1], 4, "sigmoid", seed=5)
    AL, _ = ref.forward(X, params)
    m = 4
    l2 = np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"])) + np.sum(np.square(params["W3"]))
    assert ref.cost(AL, Y, params) == 1. / m * ref.loss_sum(AL, Y, "sigmoid")
    assert ref.cost(AL, Y, params, lambd=0.4) == 1. / m * ref.loss_sum(AL, Y, "sigmoid") + (1. / m * 0.4 / 2) * l2


def test_softmax_output_is_stable_and_normalised():
    W = np.array([[1000.0], [999.0], [-5.0]])
    params = {"W1": W, "b1": np.zeros((3, 1))}
    AL, _ = ref.forward(np.array([[1.0, -1.0]]), params, output="softmax")
    assert np.all(np.isfinite(AL))
    np.testing.assert_allclose(AL.sum(axis=0), 1.0, rtol=1e-15)
    e = np.exp(np.array([0.0, -1.0, -1005.0]))
    np.testing.assert_allclose(AL[:, 0], e / e.sum(), rtol=1e-15)


def test_hidden_activation_values():
    Z = np.array([[-2.0, -0.0, 0.5, 3.0]])
    expected = {
        "relu": np.maximum(0, Z),
        "leaky_relu": np.array([[-0.02, 0.0, 0.5, 3.0]]),
        "tanh": np.tanh(Z),
        "sigmoid": 1 / (1 + np.exp(-Z)),
        "identity": Z,
    }
    for name, value in expected.items():
        params = {"W1": np.eye(1), "b1": np.zeros((1, 1)), "W2": np.eye(1), "b2": np.zeros((1, 1))}
        AL, cache = ref.forward(Z, params, name, "identity")
        np.testing.assert_array_equal(cache[1], value)  # (Z1, A1, W1, b1, ...)
        np.testing.assert_array_equal(AL, value)


def test_bad_names_raise():
    params, X, Y = make_problem([2, 3, 1], 3, "sigmoid", seed=1)
    with pytest.raises(ValueError):
        ref.forward(X, params, "softplus")
    with pytest.raises(ValueError):
        ref.forward(X, params, output="tanh")
    with pytest.raises(ValueError):
        ref.forward(X, params, ["relu", "relu"])  # needs L - 1 = 1 name
    with pytest.raises(ValueError):
        ref.forward(X, params, keep_prob=0.0)


# --------------------------------------------------------------------------
# Cache patterns, masks protocol, random numbers
# --------------------------------------------------------------------------

def test_cache_patterns():
    dims = [2, 4, 3, 1]
    params, X, Y = make_problem(dims, 5, "sigmoid", seed=2)
    AL, cache = ref.forward(X, params)
    assert isinstance(cache, tuple) and len(cache) == 12
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    assert W1 is params["W1"] and b3 is params["b3"] and A3 is AL
    np.testing.assert_array_equal(Z1, np.dot(params["W1"], X) + params["b1"])
    np.testing.assert_array_equal(A2, np.maximum(0, Z2))

    masks, arrays = fixed_masks(dims, 5, 0.5, seed=4)
    AL, cache = ref.forward(X, params, keep_prob=0.5, masks=masks)
    assert len(cache) == 14
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
    assert D1 is arrays[0] and D2 is arrays[1]
    np.testing.assert_array_equal(A1, np.maximum(0, Z1) * D1 / 0.5)

    deeper, X4, _ = make_problem([2, 3, 3, 3, 2], 4, "softmax", seed=3)
    assert len(ref.forward(X4, deeper)[1]) == 16
    assert len(ref.forward(X4, deeper, keep_prob=0.9)[1]) == 3 * 5 + 4


def test_backward_reads_pattern_from_keep_prob():
    dims = [2, 4, 3, 1]
    params, X, Y = make_problem(dims, 5, "sigmoid", seed=2)
    _, plain = ref.forward(X, params)
    _, drop = ref.forward(X, params, keep_prob=0.5)
    with pytest.raises(ValueError):
        ref.backward(X, Y, plain, keep_prob=0.5)
    with pytest.raises(ValueError):
        ref.backward(X, Y, drop)
    grads = ref.backward(X, Y, drop, keep_prob=0.5)
    assert sorted(grads) == sorted(["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"])


def test_masks_called_once_per_hidden_layer_in_order():
    dims = [2, 4, 3, 5, 1]
    params, X, Y = make_problem(dims, 6, "sigmoid", seed=8)
    calls = []

    def masks(shape):
        calls.append(shape)
        return np.ones(shape, dtype=bool)

    state = np.random.get_state()
    AL, cache = ref.forward(X, params, keep_prob=0.8, masks=masks)
    assert calls == [(4, 6), (3, 6), (5, 6)]
    # an injected mask consumes no random number
    assert np.array_equal(np.random.get_state()[1], state[1]) and np.random.get_state()[2] == state[2]
    # all-ones masks: only the 1/keep_prob scaling remains
    plain = {k: v for k, v in params.items()}
    plain["W2"] = params["W2"] / 0.8
    plain["W3"] = params["W3"] / 0.8
    plain["W4"] = params["W4"] / 0.8
    np.testing.assert_allclose(AL, ref.forward(X, plain)[0], rtol=1e-13)

    calls.clear()
    ref.forward(X, params, keep_prob=1.0, masks=masks)
    assert calls == []

    with pytest.raises(ValueError):
        ref.forward(X, params, keep_prob=0.8, masks=lambda shape: np.ones((1, 1), dtype=bool))


def test_random_masks_from_global_state_in_forward_order():
    dims = [2, 4, 3, 1]
    params, X, Y = make_problem(dims, 5, "sigmoid", seed=6)
    np.random.seed(42)
    AL, cache = ref.forward(X, params, keep_prob=0.6)
    after = np.random.rand()
    np.random.seed(42)
    D1 = np.random.rand(4, 5) < 0.6
    D2 = np.random.rand(3, 5) < 0.6
    np.testing.assert_array_equal(cache[1], D1)
    np.testing.assert_array_equal(cache[6], D2)
    assert np.random.rand() == after
    # keep_prob == 1: no random number consumed
    np.random.seed(42)
    ref.forward(X, params)
    np.random.seed(42)
    expected_next = np.random.rand()
    np.random.seed(42)
    ref.forward(X, params, keep_prob=1.0)
    assert np.random.rand() == expected_next


# --------------------------------------------------------------------------
# The 3-layer wrappers against a transcription of the course's code
# --------------------------------------------------------------------------

def course_forward(X, parameters):
    # reg_utils.forward_propagation
    W1 = parameters["W1"]; b1 = parameters["b1"]
    W2 = parameters["W2"]; b2 = parameters["b2"]
    W3 = parameters["W3"]; b3 = parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = np.maximum(0, Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = 1 / (1 + np.exp(-Z3))
    return A3, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


def course_compute_cost(a3, Y):
    # reg_utils.compute_cost
    m = Y.shape[1]
    logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1. / m * np.nansum(logprobs)


def course_backward_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T) + (lambd * W3) / m
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T) + (lambd * W2) / m
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T) + (lambd * W1) / m
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def course_forward_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    W1 = parameters["W1"]; b1 = parameters["b1"]
    W2 = parameters["W2"]; b2 = parameters["b2"]
    W3 = parameters["W3"]; b3 = parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1)
    D1 = np.random.rand(A1.shape[0], A1.shape[1])
    D1 = D1 < keep_prob
    A1 = A1 * D1
    A1 = A1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = np.maximum(0, Z2)
    D2 = np.random.rand(A2.shape[0], A2.shape[1])
    D2 = D2 < keep_prob
    A2 = A2 * D2
    A2 = A2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = 1 / (1 + np.exp(-Z3))
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def course_backward_with_dropout(X, Y, cache, keep_prob):
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dA2 = dA2 * D2
    dA2 = dA2 / keep_prob
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dA1 = dA1 * D1
    dA1 = dA1 / keep_prob
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def assert_same(a, b):
    """Equal values (``-0.0 == 0.0``), same shapes."""
    assert np.shape(a) == np.shape(b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(3))
def test_regularization_wrappers_equal_course_code(seed):
    params, X, Y = make_problem([2, 20, 3, 1], 7, "sigmoid", seed=seed)
    A3, cache = course_forward(X, params)
    AL, cache2 = ref.forward(X, params)
    for a, b in zip(cache, cache2):
        assert_same(a, b)
    L2 = (1. / 7 * 0.7 / 2) * (np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"])) + np.sum(np.square(params["W3"])))
    assert ref.compute_cost_with_regularization(A3, Y, params, 0.7) == course_compute_cost(A3, Y) + L2
    expected = course_backward_with_regularization(X, Y, cache, 0.7)
    got = ref.backward_propagation_with_regularization(X, Y, cache, 0.7)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert_same(got[key], expected[key])

    for keep_prob in (0.6, 0.86, 1.0):
        A3d, cached = course_forward_with_dropout(X, params, keep_prob)
        A3g, cacheg = ref.forward_propagation_with_dropout(X, params, keep_prob)
        assert len(cacheg) == 14
        for a, b in zip(cached, cacheg):
            assert_same(a, b)
        expected = course_backward_with_dropout(X, Y, cached, keep_prob)
        got = ref.backward_propagation_with_dropout(X, Y, cacheg, keep_prob)
        for key in expected:
            assert_same(got[key], expected[key])


def test_compute_cost_with_regularization_uses_nansum():
    # reg_utils.compute_cost drops the nan of 0 * log(0) at a saturated output
    params, X, Y = make_problem([2, 3, 2, 1], 3, "sigmoid", seed=1)
    A3 = np.array([[1.0, 0.3, 0.6]])
    Y = np.array([[1.0, 0.0, 1.0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        got = ref.compute_cost_with_regularization(A3, Y, params, 0.0)
    assert np.isfinite(got)
    assert got == 1. / 3 * (-np.log(0.7) - np.log(0.6)) + 0.0


# --------------------------------------------------------------------------
# Gradient-check helpers beyond the course's 4-5-3-1 layout
# --------------------------------------------------------------------------

def test_vector_round_trip_other_dims():
    dims = [3, 2, 4, 1, 2]
    params, X, Y = make_problem(dims, 2, "softmax", seed=9)
    theta, keys = ref.dictionary_to_vector(params)
    n = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))
    assert theta.shape == (n, 1) and len(keys) == n
    assert keys[:6] == ["W1"] * 6 and keys[-2:] == ["b4", "b4"]
    back = ref.vector_to_dictionary(theta, dims)
    assert sorted(back) == sorted(params)
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
    with pytest.raises(ValueError):
        ref.vector_to_dictionary(theta, (4, 5, 3, 1))


# --------------------------------------------------------------------------
# Import hygiene
# --------------------------------------------------------------------------

def test_reference_imports_only_numpy_and_itself():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    code = (
        "import sys, fastdnn.reference\n"
        "import fastdnn.reference.network, fastdnn.reference.training, fastdnn.reference.gradient_check\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
        "bad = [n for n in sys.modules if n.startswith('fastdnn') and n != 'fastdnn'"
        " and not n.startswith('fastdnn.reference')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_exports_and_model_name():
    import fastdnn.reference.training as training
    from fastdnn.reference.seed_model import L_layer_model
    assert ref.model is training.model  # the Course 2 training loop, not a submodule
    assert L_layer_model is ref.L_layer_model
    assert len(ref.__all__) == len(set(ref.__all__))
    for name in ref.__all__:
        assert hasattr(ref, name), name
    for name in ["initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he",
                 "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
                 "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
                 "update_lr", "schedule_lr_decay", "forward", "backward", "loss_sum", "cost",
                 "compute_cost_with_regularization", "backward_propagation_with_regularization",
                 "forward_propagation_with_dropout", "backward_propagation_with_dropout",
                 "dictionary_to_vector", "vector_to_dictionary", "gradients_to_vector",
                 "gradient_check_n", "model"]:
        assert name in ref.__all__, name
    # the seed's names keep the seed's meaning
    from fastdnn.reference import seed
    assert ref.initialize_parameters is seed.initialize_parameters
    assert ref.compute_cost is seed.compute_cost
    assert ref.update_parameters is seed.update_parameters
