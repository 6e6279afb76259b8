"""The seed notebook's test cells, run against ``fastdnn.reference``.

Every seed test cell is rebuilt from the seed's own ``*_test_case()`` inputs
(in ``seed_cases.py``) and checked against the values the seed PRINTED
(8 decimals, hence ``atol=5e-9``), and, for modules in ``STR_EXACT_MODULES``,
against the printed strings themselves.

The tests take the module under test from the ``dnn`` fixture, so the same
tests can run on the compiled drop-in ``fastdnn.functional`` by adding
``"functional"`` to its params.
"""

import copy
import importlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seed_cases as sc
from seed_cases import EXPECTED, seed_str

REPO_ROOT = Path(__file__).resolve().parents[1]

# Modules whose str(value) must reproduce the seed's printed strings exactly.
STR_EXACT_MODULES = {"fastdnn.reference", "fastdnn.functional"}

SEED_FUNCTIONS = [
    "initialise_parameters",
    "initialise_parameters_deep",
    "linear_forward",
    "sigmoid",
    "relu",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "relu_backward",
    "sigmoid_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
]


@pytest.fixture(params=["reference", "functional"])
def dnn(request):
    """The module under test: ``fastdnn.<param>``."""
    return importlib.import_module("fastdnn." + request.param)


def need(dnn, name):
    """The attribute ``name`` of the module, or skip if it has none."""
    if not hasattr(dnn, name):
        pytest.skip(f"{dnn.__name__} has no {name}")
    return getattr(dnn, name)


def _without_negative_zeros(a):
    return np.asarray(a, dtype=float) + 0.0  # -0.0 + 0.0 == +0.0; nothing else changes


def check_printed(dnn, value, expected):
    """Compare ``value`` with a seed print: ``expected = (printed str, literal)``.

    The string check ignores the sign of zeros: whether ``np.dot`` returns
    ``-0.0`` or ``0.0`` for a product with a zero factor depends on the BLAS
    (see ``test_relu_backward_signed_zeros``); everything else must match.
    """
    printed, literal = expected
    np.testing.assert_allclose(np.asarray(value, dtype=float), literal, rtol=0, atol=5e-9)
    assert np.shape(value) == np.shape(literal)
    if dnn.__name__ in STR_EXACT_MODULES:
        assert seed_str(literal) == printed  # the EXPECTED table is self-consistent
        assert seed_str(_without_negative_zeros(value)) == seed_str(_without_negative_zeros(literal))


# --------------------------------------------------------------------------
# One test per seed test cell
# --------------------------------------------------------------------------

def test_initialise_parameters(dnn):
    # In [105]
    parameters = dnn.initialise_parameters(3, 2, 1)
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"]
    for key, expected in EXPECTED["initialise_parameters"].items():
        check_printed(dnn, parameters[key], expected)


def test_initialise_parameters_deep(dnn):
    # In [107]
    parameters = dnn.initialise_parameters_deep([5, 4, 3])
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"]
    for key, expected in EXPECTED["initialise_parameters_deep"].items():
        check_printed(dnn, parameters[key], expected)


def test_linear_forward(dnn):
    # In [109]
    A, W, b = sc.linear_forward_test_case()
    Z, linear_cache = dnn.linear_forward(A, W, b)
    check_printed(dnn, Z, EXPECTED["linear_forward"]["Z"])
    assert isinstance(linear_cache, tuple) and len(linear_cache) == 3
    for got, want in zip(linear_cache, (A, W, b)):
        np.testing.assert_array_equal(got, want)


def test_linear_activation_forward(dnn):
    # In [113]
    A_prev, W, b = sc.linear_activation_forward_test_case()

    A, cache = dnn.linear_activation_forward(A_prev, W, b, activation="sigmoid")
    check_printed(dnn, A, EXPECTED["linear_activation_forward"]["sigmoid"])
    (cA, cW, cb), cZ = cache
    np.testing.assert_array_equal(cA, A_prev)
    np.testing.assert_array_equal(cZ, W @ A_prev + b)

    A, cache = dnn.linear_activation_forward(A_prev, W, b, activation="relu")
    check_printed(dnn, A, EXPECTED["linear_activation_forward"]["relu"])


def test_L_model_forward(dnn):
    # In [115]
    X, parameters = sc.L_model_forward_test_case_2hidden()
    AL, caches = dnn.L_model_forward(X, parameters)
    check_printed(dnn, AL, EXPECTED["L_model_forward"]["AL"])
    printed_len, literal_len = EXPECTED["L_model_forward"]["len_caches"]
    assert len(caches) == literal_len
    assert str(len(caches)) == printed_len


def test_compute_cost(dnn):
    # In [117]
    Y, AL = sc.compute_cost_test_case()
    cost = dnn.compute_cost(AL, Y)
    printed, literal = EXPECTED["compute_cost"]["cost"]
    assert np.shape(cost) == ()
    np.testing.assert_allclose(float(cost), literal, rtol=0, atol=5e-9)
    if dnn.__name__ in STR_EXACT_MODULES:
        # the seed printed the full repr, so this is a bit-exact check
        assert seed_str(cost) == printed
        assert float(cost) == literal


def test_linear_backward(dnn):
    # In [119]
    dZ, linear_cache = sc.linear_backward_test_case()
    dA_prev, dW, db = dnn.linear_backward(dZ, linear_cache)
    check_printed(dnn, dA_prev, EXPECTED["linear_backward"]["dA_prev"])
    check_printed(dnn, dW, EXPECTED["linear_backward"]["dW"])
    check_printed(dnn, db, EXPECTED["linear_backward"]["db"])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_linear_activation_backward(dnn, activation):
    # In [123]
    dAL, linear_activation_cache = sc.linear_activation_backward_test_case()
    dA_prev, dW, db = dnn.linear_activation_backward(dAL, linear_activation_cache, activation=activation)
    expected = EXPECTED["linear_activation_backward"][activation]
    check_printed(dnn, dA_prev, expected["dA_prev"])
    check_printed(dnn, dW, expected["dW"])
    check_printed(dnn, db, expected["db"])


def test_relu_backward_signed_zeros(dnn):
    """The seed printed ``-0.`` in the relu ``dA_prev``; that sign is the BLAS's.

    ``dA_prev = np.dot(W.T, dZ)`` with ``dZ[0, 1] == +0.0`` (zeroed by
    ``relu_backward``) and W = [[-1.06 -0.91 0.55]]. The exact products
    ``W.T * dZ`` are ``-0, -0, +0`` in column 1, which is what the seed printed;
    a gemm that accumulates from +0.0 (OpenBLAS 0.3.31 here) returns ``+0``
    everywhere. Both are the seed's arithmetic; the values compare equal.
    """
    dAL, linear_activation_cache = sc.linear_activation_backward_test_case()
    (A, W, b), Z = linear_activation_cache
    dA_prev, _, _ = dnn.linear_activation_backward(dAL, linear_activation_cache, activation="relu")
    printed, literal = EXPECTED["linear_activation_backward"]["relu"]["dA_prev"]
    dZ = np.where(Z > 0, dAL, 0.0)  # as relu_backward: a +0.0 where Z <= 0
    assert dZ[0, 1] == 0 and not np.signbit(dZ[0, 1])
    # the seed's printed zero signs are those of the exact elementwise products
    np.testing.assert_array_equal(np.signbit(literal[:, 1]), np.signbit((W.T * dZ)[:, 1]))
    # the values match the print, -0.0 == 0.0
    assert np.all(dA_prev[:, 1] == 0)
    np.testing.assert_allclose(dA_prev, literal, rtol=0, atol=5e-9)
    if dnn.__name__ in STR_EXACT_MODULES:
        # bit-identical (zero signs included) to np.dot on this machine's BLAS
        ref = np.dot(W.T, dZ)
        np.testing.assert_array_equal(np.signbit(dA_prev), np.signbit(ref))
        np.testing.assert_array_equal(dA_prev, ref)


def test_L_model_backward(dnn):
    # In [125]
    AL, Y_assess, caches = sc.L_model_backward_test_case()
    grads = dnn.L_model_backward(AL, Y_assess, caches)
    for key, expected in EXPECTED["L_model_backward"].items():
        check_printed(dnn, grads[key], expected)
    assert sorted(grads) == ["dA0", "dA1", "dW1", "dW2", "db1", "db2"]


def test_update_parameters(dnn):
    # In [127]
    parameters, grads = sc.update_parameters_test_case()
    parameters = dnn.update_parameters(parameters, grads, 0.1)
    for key, expected in EXPECTED["update_parameters"].items():
        check_printed(dnn, parameters[key], expected)


# --------------------------------------------------------------------------
# Seed quirks and aliases
# --------------------------------------------------------------------------

def test_aliases_are_the_same_functions(dnn):
    assert dnn.initialize_parameters is dnn.initialise_parameters
    assert dnn.initialize_parameters_deep is dnn.initialise_parameters_deep


def test_all_seed_functions_present(dnn):
    for name in SEED_FUNCTIONS:
        assert callable(getattr(dnn, name)), name


def test_init_reseeds_global_rng(dnn):
    # Quirk: the init functions call np.random.seed(1) / np.random.seed(3) themselves.
    np.random.seed(12345)
    p1 = dnn.initialise_parameters(3, 2, 1)
    after1 = np.random.rand()
    np.random.seed(1)
    for shape in [(2, 3), (2, 1), (1, 2), (1, 1)]:
        np.random.randn(*shape)
    assert after1 == np.random.rand()
    assert p1["b1"].shape == (2, 1) and np.all(p1["b1"] != 0)  # biases are randn, not zeros

    np.random.seed(999)
    p2 = dnn.initialise_parameters_deep([5, 4, 3])
    after2 = np.random.rand()
    np.random.seed(3)
    for shape in [(4, 5), (4, 1), (3, 4), (3, 1)]:
        np.random.randn(*shape)
    assert after2 == np.random.rand()
    assert np.all(p2["b2"] != 0)


def test_update_parameters_same_dict_new_arrays(dnn):
    # Quirk: the dict passed in is updated (new arrays assigned) and returned.
    parameters, grads = sc.update_parameters_test_case()
    old = {k: v for k, v in parameters.items()}
    old_copy = copy.deepcopy(parameters)
    result = dnn.update_parameters(parameters, grads, 0.1)
    assert result is parameters
    for key in old:
        assert parameters[key] is not old[key]
        np.testing.assert_array_equal(old[key], old_copy[key])  # old arrays untouched


def test_unknown_activation_raises(dnn):
    A_prev, W, b = sc.linear_activation_forward_test_case()
    with pytest.raises(ValueError):
        dnn.linear_activation_forward(A_prev, W, b, "tanh")
    dAL, cache = sc.linear_activation_backward_test_case()
    with pytest.raises(ValueError):
        dnn.linear_activation_backward(dAL, cache, "tanh")


# --------------------------------------------------------------------------
# L_layer_model and predict
# --------------------------------------------------------------------------

def _toy_problem(m=40):
    """A tiny learnable problem: X (2, m), Y (1, m), a linear rule with 4 labels
    flipped (so the optimum is finite and AL never saturates to exactly 0 or 1)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, m))
    Y = (X[0:1] + 0.5 * X[1:2] > 0).astype(np.float64)
    flip = rng.choice(m, 4, replace=False)
    Y[0, flip] = 1 - Y[0, flip]
    return X, Y


def _toy_parameters():
    rng = np.random.default_rng(1)
    return {
        "W1": rng.standard_normal((4, 2)) * 0.5, "b1": np.zeros((4, 1)),
        "W2": rng.standard_normal((3, 4)) * 0.5, "b2": np.zeros((3, 1)),
        "W3": rng.standard_normal((1, 3)) * 0.5, "b3": np.zeros((1, 1)),
    }


@pytest.mark.parametrize("num_iterations,record_every", [(1, 100), (100, 100), (101, 100), (250, 100), (7, 1), (10, 3)])
def test_L_layer_model_number_of_costs(dnn, num_iterations, record_every):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    _, costs = L_layer_model(X, Y, [2, 4, 3, 1], learning_rate=0.05, num_iterations=num_iterations,
                             initial_parameters=_toy_parameters(), record_every=record_every)
    assert len(costs) == math.ceil(num_iterations / record_every)
    assert all(type(c) is float for c in costs)


def assert_same_training(dnn, got, want):
    """Bit-identical for the reference; to 1e-13 relative for the compiled drop-in.

    fastdnn.functional's L_layer_model runs on the training engine, which takes
    the cost from the output logits and starts backprop from dZL = AL - Y: the
    same values as the seed's formulas up to rounding.
    """
    if dnn.__name__ == "fastdnn.reference":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_L_layer_model_first_cost_is_initial_cost(dnn):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    params0 = _toy_parameters()
    AL, _ = dnn.L_model_forward(X, params0)
    _, costs = L_layer_model(X, Y, [2, 4, 3, 1], num_iterations=5, initial_parameters=params0)
    assert_same_training(dnn, costs[0], float(dnn.compute_cost(AL, Y)))


def test_L_layer_model_default_init_is_seed_init(dnn):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    layers_dims = [2, 3, 1]
    params0 = dnn.initialise_parameters_deep(layers_dims)
    AL, _ = dnn.L_model_forward(X, params0)
    p_default, c_default = L_layer_model(X, Y, layers_dims, learning_rate=0.01, num_iterations=3, record_every=1)
    p_given, c_given = L_layer_model(X, Y, layers_dims, learning_rate=0.01, num_iterations=3, record_every=1,
                                     initial_parameters=params0)
    assert_same_training(dnn, c_default[0], float(dnn.compute_cost(AL, Y)))
    assert c_default == c_given
    for key in p_given:
        np.testing.assert_array_equal(p_default[key], p_given[key])


def test_L_layer_model_costs_decrease(dnn):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    parameters, costs = L_layer_model(X, Y, [2, 4, 3, 1], learning_rate=0.1, num_iterations=1000,
                                      initial_parameters=_toy_parameters(), record_every=50)
    assert len(costs) == 20
    assert np.all(np.diff(costs) < 0)
    assert costs[-1] < 0.5 * costs[0]
    accuracy = np.mean(need(dnn, "predict")(X, parameters) == Y)
    assert accuracy >= 0.8


def test_L_layer_model_matches_hand_written_loop(dnn):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    params0 = _toy_parameters()
    learning_rate = 0.3

    parameters = copy.deepcopy(params0)
    hand_costs = []
    for i in range(2):
        AL, caches = dnn.L_model_forward(X, parameters)
        cost = dnn.compute_cost(AL, Y)
        grads = dnn.L_model_backward(AL, Y, caches)
        parameters = dnn.update_parameters(parameters, grads, learning_rate)
        hand_costs.append(float(cost))

    trained, costs = L_layer_model(X, Y, [2, 4, 3, 1], learning_rate=learning_rate, num_iterations=2,
                                   initial_parameters=params0, record_every=1)
    assert_same_training(dnn, costs, hand_costs)
    assert sorted(trained) == sorted(parameters)
    for key in parameters:
        assert_same_training(dnn, trained[key], parameters[key])


def test_L_layer_model_does_not_mutate_initial_parameters(dnn):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    params0 = _toy_parameters()
    snapshot = copy.deepcopy(params0)
    ids = {k: id(v) for k, v in params0.items()}
    trained, _ = L_layer_model(X, Y, [2, 4, 3, 1], learning_rate=0.1, num_iterations=3, initial_parameters=params0)
    assert sorted(params0) == sorted(snapshot)
    for key in snapshot:
        assert id(params0[key]) == ids[key]
        np.testing.assert_array_equal(params0[key], snapshot[key])
        assert trained[key] is not params0[key]


def test_L_layer_model_print_cost(dnn, capsys):
    L_layer_model = need(dnn, "L_layer_model")
    X, Y = _toy_problem()
    _, costs = L_layer_model(X, Y, [2, 4, 3, 1], learning_rate=0.1, num_iterations=5,
                             print_cost=True, initial_parameters=_toy_parameters(), record_every=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Cost after iteration %i: %f" % (i, c) for i, c in zip([0, 2, 4], costs)]

    _, costs_quiet = L_layer_model(X, Y, [2, 4, 3, 1], learning_rate=0.1, num_iterations=5,
                                   initial_parameters=_toy_parameters(), record_every=2)
    assert capsys.readouterr().out == ""
    assert costs_quiet == costs


def test_predict(dnn):
    predict = need(dnn, "predict")
    X, parameters = sc.L_model_forward_test_case_2hidden()
    p = predict(X, parameters)
    AL, _ = dnn.L_model_forward(X, parameters)
    assert p.shape == (1, X.shape[1])
    assert np.issubdtype(p.dtype, np.floating)
    assert set(np.unique(p)) <= {0.0, 1.0}
    np.testing.assert_array_equal(p, (AL > 0.5).astype(float))
    # the seed's printed AL = [[0.039 0.705 0.197 0.047]]
    np.testing.assert_array_equal(p, [[0.0, 1.0, 0.0, 0.0]])


# --------------------------------------------------------------------------
# Import hygiene
# --------------------------------------------------------------------------

def test_reference_does_not_import_numba():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", "import fastdnn.reference, sys; assert 'numba' not in sys.modules"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
