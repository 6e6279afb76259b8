"""Bad input gets a clear error from every public entry point.

The project standard: bad input raises ``ValueError`` / ``TypeError`` naming the
argument, the shape or value it got and what it expected -- never a crash deep
in a kernel, a silent wrong answer, or lost work. Every ``match=`` below checks
that the message names the argument *and* the offending value or shape.

Covered: ``DeepNeuralNetwork.fit / predict / predict_proba / score`` and the
drop-in ``fastdnn.functional`` (``linear_forward``, ``L_model_forward``,
``compute_cost``, ``linear_backward``, ``update_parameters``, ``L_layer_model``,
``predict``); divergence (``TrainingDivergedError``); inputs never modified.

"""

import copy
import re
import warnings

import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork, TrainingDivergedError
from fastdnn import functional as F
from fastdnn import reference as R

DIMS = [4, 3, 1]
M = 5
LR = 0.01


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(4, M)
    Y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    return X, Y


def _seed_params(dims=DIMS):
    return R.initialise_parameters_deep(dims)


def _with(a, index, value):
    out = np.array(a, dtype=np.float64, copy=True)
    out[index] = value
    return out


def _all_finite(params):
    return all(np.isfinite(v).all() for v in params.values())


def _max_rel(actual, expected):
    """max |a - e| / max |e|, over the arrays of two parameter dicts."""
    return max(np.max(np.abs(actual[k] - expected[k])) / np.max(np.abs(expected[k]))
               for k in expected)


# -- the two trainers share every data / hyper-parameter check ------------------

def _fit(X, Y, dims=DIMS, learning_rate=LR, num_iterations=3, strategy="auto", **kw):
    model = DeepNeuralNetwork(dims, learning_rate, init="seed", strategy=strategy)
    return model.fit(X, Y, num_iterations, **kw)


def _L_layer_model(X, Y, dims=DIMS, learning_rate=LR, num_iterations=3, **kw):
    return F.L_layer_model(X, Y, dims, learning_rate, num_iterations, **kw)


@pytest.fixture(params=["fit", "L_layer_model"])
def train(request):
    """A trainer: DeepNeuralNetwork(...).fit or functional.L_layer_model."""
    return {"fit": _fit, "L_layer_model": _L_layer_model}[request.param]


@pytest.fixture(scope="module")
def fitted():
    X, Y = _data()
    return DeepNeuralNetwork(DIMS, LR, init="seed").fit(X, Y, 5)


# == shapes of X and Y ========================================================

def test_X_rows_not_layer_dims0(train):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"X must have shape \(4, m\); got \(3, 5\)"):
        train(X[:3], Y)


def test_Y_columns_not_X_columns(train):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"X and Y .*X has 5, Y has 4"):
        train(X, Y[:, :4])


def test_Y_two_rows_for_one_output(train):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"Y must have shape \(1, m\); got \(2, 5\)"):
        train(X, np.vstack([Y, Y]))


@pytest.mark.parametrize("shape, ndim", [((M,), 1), ((1, 4, M), 3)])
def test_X_not_2d(train, shape, ndim):
    X, Y = _data()
    bad = X[0] if ndim == 1 else X[None]
    want = r"X must be a 2-D array.*got %d-D shape %s" % (ndim, re.escape(str(shape)))
    with pytest.raises(ValueError, match=want):
        train(bad, Y)


def test_empty_data(train):
    with pytest.raises(ValueError, match=r"X is empty \(shape \(4, 0\)\)"):
        train(np.zeros((4, 0)), np.zeros((1, 0)))


def test_empty_Y_for_nonempty_X(train):
    X, _ = _data()
    with pytest.raises(ValueError, match=r"Y is empty \(shape \(1, 0\)\)"):
        train(X, np.zeros((1, 0)))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_X(train, value):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index \(1, 2\)"):
        train(_with(X, (1, 2), value), Y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_Y(train, value):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"Y contains NaN or infinity \(first at index \(0, 3\)"):
        train(X, _with(Y, (0, 3), value))


def test_float64_X_overflowing_float32_is_caught():
    X, Y = _data()
    model = DeepNeuralNetwork(DIMS, LR, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy's "overflow in cast"
        with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index "
                                             r"\(2, 1\), after conversion to float32"):
            model.fit(_with(X, (2, 1), 1e300), Y, 3)


@pytest.mark.parametrize("label, shown", [(2, r"2\.0"), (-1, r"-1\.0"), (0.5, r"0\.5")])
def test_labels_outside_0_1(train, label, shown):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"Y must hold labels 0 or 1; got %s at index \(0, 3\)"
                       % shown):
        train(X, _with(Y, (0, 3), label))


@pytest.mark.parametrize("which", ["X", "Y"])
@pytest.mark.parametrize("kind, shown", [(str, r"<U"), (object, r"object"),
                                         (complex, r"complex128")])
def test_non_real_dtypes(train, which, kind, shown):
    X, Y = _data()
    args = {"X": X, "Y": Y}
    args[which] = args[which].astype(kind)
    want = r"%s must hold real numbers; got dtype %s" % (which, shown)
    with pytest.raises(TypeError, match=want):
        train(args["X"], args["Y"])


def test_bool_labels_are_0_1():
    X, Y = _data()
    as_float = _fit(X, Y, num_iterations=20, record_every=5)
    as_bool = _fit(X, Y.astype(bool), num_iterations=20, record_every=5)
    assert as_bool.costs_ == as_float.costs_
    for k in as_float.parameters_:
        np.testing.assert_array_equal(as_bool.parameters_[k], as_float.parameters_[k])
    params, costs = F.L_layer_model(X, Y.astype(bool), DIMS, LR, 20, record_every=5)
    ref_params, ref_costs = R.L_layer_model(X, Y, DIMS, LR, 20, record_every=5)
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-12)
    assert _max_rel(params, ref_params) < 1e-12


def test_one_dimensional_Y_is_one_row():
    X, Y = _data()
    a = _fit(X, Y[0], num_iterations=10, record_every=2)
    b = _fit(X, Y, num_iterations=10, record_every=2)
    assert a.costs_ == b.costs_


# == hyper-parameters ===========================================================

@pytest.mark.parametrize("lr, shown", [(0, "0"), (-1, "-1"), (-0.5, r"-0\.5"), (np.nan, "nan"),
                                       (np.inf, "inf")])
def test_bad_learning_rate_value(train, lr, shown):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"learning_rate must be > 0; got %s" % shown):
        train(X, Y, learning_rate=lr)


@pytest.mark.parametrize("lr, shown", [(True, r"True of type bool"), ("0.1", r"'0\.1' of type str"),
                                       (None, r"None of type NoneType")])
def test_bad_learning_rate_type(train, lr, shown):
    X, Y = _data()
    with pytest.raises(TypeError, match=r"learning_rate must be a real number; got %s" % shown):
        train(X, Y, learning_rate=lr)


@pytest.mark.parametrize("n", [0, -5])
def test_non_positive_num_iterations(train, n):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"num_iterations must be > 0; got %d" % n):
        train(X, Y, num_iterations=n)


@pytest.mark.parametrize("n, shown", [(10.0, r"10\.0 of type float"), (True, "True of type bool"),
                                      ("10", "'10' of type str")])
def test_non_integer_num_iterations(train, n, shown):
    X, Y = _data()
    want = r"num_iterations must be an integer number; got %s" % shown
    with pytest.raises(TypeError, match=want):
        train(X, Y, num_iterations=n)


def test_numpy_integer_num_iterations_accepted():
    X, Y = _data()
    model = _fit(X, Y, num_iterations=np.int64(7), record_every=3)
    assert model.n_iter_ == 7 and type(model.n_iter_) is int
    assert model.cost_iterations_ == [0, 3, 6]


def test_record_every_zero(train):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"record_every must be > 0; got 0"):
        train(X, Y, record_every=0)


@pytest.mark.parametrize("dims, error, want", [
    ([], ValueError, r"layer_dims needs at least an input and an output size.*got \[\]"),
    ([4], ValueError, r"layer_dims needs at least an input and an output size.*got \[4\]"),
    ([4, 0, 1], ValueError, r"layer_dims\[1\] must be a positive integer; got 0 "),
    ([4, -3, 1], ValueError, r"layer_dims\[1\] must be a positive integer; got -3 "),
    ([4, 3.0, 1], ValueError, r"layer_dims\[1\] must be a positive integer; got 3\.0 "),
    ([4, "3", 1], ValueError, r"layer_dims\[1\] must be a positive integer; got '3' "),
    ([4, True, 1], ValueError, r"layer_dims\[1\] must be a positive integer; got True "),
    ("431", ValueError, r"layer_dims\[0\] must be a positive integer; got '4' "),
    (5, TypeError, r"layer_dims must be a list of layer sizes .*got 5"),
])
def test_bad_layer_dims(train, dims, error, want):
    X, Y = _data()
    with pytest.raises(error, match=want):
        train(X, Y, dims=dims)


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex128", "no-such-dtype"])
def test_unsupported_dtype(dtype):
    X, Y = _data()
    with pytest.raises(TypeError, match=r"dtype must be one of float64, float32; got '%s'" % dtype):
        DeepNeuralNetwork(DIMS, LR, dtype=dtype).fit(X, Y, 3)


def test_unknown_init():
    X, Y = _data()
    with pytest.raises(ValueError, match=r"init must be one of \[.*'he'.*\]; got 'bogus'"):
        DeepNeuralNetwork(DIMS, LR, init="bogus").fit(X, Y, 3)


def test_unhashable_init_named_in_error():
    X, Y = _data()
    with pytest.raises((TypeError, ValueError), match=r"init must be one of .*got \['he'\]"):
        DeepNeuralNetwork(DIMS, LR, init=["he"]).fit(X, Y, 3)


def test_unknown_strategy_model():
    X, Y = _data()
    with pytest.raises(ValueError, match=r"strategy must be one of .*'gram'.*; got 'bogus'"):
        DeepNeuralNetwork(DIMS, LR, strategy="bogus").fit(X, Y, 3)


def test_unknown_strategy_L_layer_model():
    X, Y = _data()
    with pytest.raises(ValueError, match=r"strategy must be one of .*; got 'bogus'"):
        F.L_layer_model(X, Y, DIMS, LR, 3, strategy="bogus")


def test_gram_without_hidden_layer(train):
    X, Y = _data()
    with pytest.raises(ValueError) as info:
        train(X, Y, dims=[4, 1], record_every=1, strategy="gram")
    assert "gram" in str(info.value) and "[4, 1]" in str(info.value)


# == initial_parameters =========================================================

def _params_without(key):
    p = _seed_params()
    del p[key]
    return p


def _params_with(key, value):
    p = _seed_params()
    p[key] = value
    return p


@pytest.mark.parametrize("params, error, want", [
    (_params_without("b2"), ValueError, r"initial_parameters .*missing \['b2'\], unexpected \[\]"),
    (_params_with("W9", np.zeros((1, 1))), ValueError,
     r"initial_parameters .*missing \[\], unexpected \['W9'\]"),
    (_params_with("W1", np.zeros((3, 5))), ValueError,
     r"initial_parameters\['W1'\] must have shape \(3, 4\); got \(3, 5\)"),
    (_params_with("b1", np.zeros(3)), ValueError,
     r"initial_parameters\['b1'\] must be a 2-D array of shape \(3, 1\).*got 1-D shape \(3,\)"),
    (_params_with("b2", np.zeros((2, 1))), ValueError,
     r"initial_parameters\['b2'\] must have shape \(1, 1\); got \(2, 1\)"),
    (_params_with("W2", np.array([[0.1, np.nan, 0.2]])), ValueError,
     r"initial_parameters\['W2'\] contains NaN or infinity \(first at index \(0, 1\)"),
    (_params_with("b1", np.array([[0.0], [np.inf], [0.0]])), ValueError,
     r"initial_parameters\['b1'\] contains NaN or infinity \(first at index \(1, 0\)"),
    (_params_with("W2", np.array([["a", "b", "c"]])), TypeError,
     r"initial_parameters\['W2'\] must hold real numbers"),
    ([1, 2], TypeError, r"initial_parameters must be a dict .*got list"),
])
def test_bad_initial_parameters(train, params, error, want):
    X, Y = _data()
    with pytest.raises(error, match=want):
        train(X, Y, initial_parameters=params)


# == inference before / after fit ===============================================

@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_inference_before_fit(method):
    X, Y = _data()
    model = DeepNeuralNetwork(DIMS, LR)
    args = (X, Y) if method == "score" else (X,)
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(X, Y\) or "
                                           r"fastdnn\.load_model"):
        getattr(model, method)(*args)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
@pytest.mark.parametrize("bad, error, want", [
    (np.zeros((3, 5)), ValueError, r"X must have shape \(4, m\); got \(3, 5\)"),
    (np.zeros((5, 2)), ValueError, r"X must have shape \(4, m\); got \(5, 2\)"),
    (np.zeros(4), ValueError, r"X must be a 2-D array.*got 1-D shape \(4,\)"),
    (np.zeros((1, 4, 5)), ValueError, r"X must be a 2-D array.*got 3-D shape \(1, 4, 5\)"),
    (np.zeros((4, 0)), ValueError, r"X is empty \(shape \(4, 0\)\)"),
    (np.full((4, 5), np.nan), ValueError, r"X contains NaN or infinity"),
    (np.zeros((4, 5), dtype=complex), TypeError, r"X must hold real numbers; got dtype complex128"),
    (np.zeros((4, 5)).astype(str), TypeError, r"X must hold real numbers; got dtype <U"),
])
def test_inference_bad_X(fitted, method, bad, error, want):
    _, Y = _data()
    args = (bad, np.zeros((1, np.shape(bad)[-1]))) if method == "score" else (bad,)
    with pytest.raises(error, match=want):
        getattr(fitted, method)(*args)


@pytest.mark.parametrize("Y, want", [
    (np.array([[0, 1, 1, 0]]), r"X has 5, Y has 4"),
    (np.array([[0, 1, 2, 0, 1]]), r"Y must hold labels 0 or 1; got 2\.0 at index \(0, 2\)"),
    (np.array([[0, 1, 1, 0, 1]] * 2), r"Y must have shape \(1, m\); got \(2, 5\)"),
])
def test_score_bad_Y(fitted, Y, want):
    X, _ = _data()
    with pytest.raises(ValueError, match=want):
        fitted.score(X, Y)


# == functional: linear_forward ==================================================

def _lin():
    rng = np.random.RandomState(1)
    return rng.randn(4, M), rng.randn(3, 4), rng.randn(3, 1)


@pytest.mark.parametrize("case, error, want", [
    ("A inner", ValueError, r"A must have shape \(4, m\); got \(3, 5\)"),
    ("W inner", ValueError, r"A must have shape \(5, m\); got \(4, 5\)"),
    ("b rows", ValueError, r"b must have shape \(3, 1\); got \(2, 1\)"),
    ("b 1-D", ValueError, r"b must be a 2-D array of shape \(3, 1\).*got 1-D shape \(3,\)"),
    ("A 1-D", ValueError, r"A must be a 2-D array.*got 1-D shape \(4,\)"),
    ("A 3-D", ValueError, r"A must be a 2-D array.*got 3-D shape \(1, 4, 5\)"),
    ("W 1-D", ValueError, r"W must be a 2-D array.*got 1-D shape \(4,\)"),
    ("A empty", ValueError, r"A is empty \(shape \(4, 0\)\)"),
    ("A nan", ValueError, r"A contains NaN or infinity \(first at index \(2, 1\)"),
    ("W inf", ValueError, r"W contains NaN or infinity \(first at index \(0, 3\)"),
    ("b nan", ValueError, r"b contains NaN or infinity \(first at index \(1, 0\)"),
    ("A str", TypeError, r"A must hold real numbers; got dtype <U"),
    ("A object", TypeError, r"A must hold real numbers; got dtype object"),
    ("A complex", TypeError, r"A must hold real numbers; got dtype complex128"),
    ("W str", TypeError, r"W must hold real numbers; got dtype <U"),
])
def test_linear_forward_bad_input(case, error, want):
    A, W, b = _lin()
    A, W, b = {
        "A inner": (A[:3], W, b), "W inner": (A, np.zeros((3, 5)), b), "b rows": (A, W, b[:2]),
        "b 1-D": (A, W, b[:, 0]), "A 1-D": (A[:, 0], W, b), "A 3-D": (A[None], W, b),
        "W 1-D": (A, W[0], b), "A empty": (A[:, :0], W, b),
        "A nan": (_with(A, (2, 1), np.nan), W, b),
        "W inf": (A, _with(W, (0, 3), np.inf), b), "b nan": (A, W, _with(b, (1, 0), np.nan)),
        "A str": (A.astype(str), W, b), "A object": (A.astype(object), W, b),
        "A complex": (A.astype(complex), W, b), "W str": (A, W.astype(str), b),
    }[case]
    with pytest.raises(error, match=want):
        F.linear_forward(A, W, b)


# == functional: L_model_forward and predict ====================================

@pytest.fixture(params=["L_model_forward", "predict"])
def forward(request):
    return getattr(F, request.param)



@pytest.mark.parametrize("bad, error, want", [
    pytest.param(lambda X: X[:3], ValueError, r"X must have shape \(4, m\); got \(3, 5\)", id="X rows"),
    pytest.param(lambda X: X[None], ValueError, r"X must be a 2-D array.*got 3-D shape \(1, 4, 5\)", id="X 3-D"),
    pytest.param(lambda X: X[:, 0], ValueError, r"X must be a 2-D array.*got 1-D shape \(4,\)",
                 id="X 1-D"),
    pytest.param(lambda X: X[:, :0], ValueError, r"X is empty \(shape \(4, 0\)\)", id="X empty"),
    pytest.param(lambda X: _with(X, (3, 4), np.nan), ValueError,
                 r"X contains NaN or infinity \(first at index \(3, 4\)", id="X nan"),
    pytest.param(lambda X: _with(X, (0, 0), -np.inf), ValueError,
                 r"X contains NaN or infinity \(first at index \(0, 0\)", id="X inf"),
    pytest.param(lambda X: X.astype(str), TypeError, r"X must hold real numbers; got dtype <U",
                 id="X str"),
    pytest.param(lambda X: X.astype(object), TypeError,
                 r"X must hold real numbers; got dtype object", id="X object"),
    pytest.param(lambda X: X.astype(complex), TypeError,
                 r"X must hold real numbers; got dtype complex128", id="X complex"),
])
def test_forward_bad_X(forward, bad, error, want):
    X, _ = _data()
    with pytest.raises(error, match=want):
        forward(bad(X), _seed_params())


@pytest.mark.parametrize("params, error, want", [
    (_params_without("b2"), ValueError, r"parameters must be a dict .*got \['W1', 'W2', 'b1'\]"),
    (_params_with("W9", np.zeros((1, 1))), ValueError,
     r"parameters must be a dict .*got \['W1', 'W2', 'W9', 'b1', 'b2'\]"),
    (_params_with("W2", np.zeros((1, 2))), ValueError,
     r"parameters\['W2'\] must have shape \(1, 3\); got \(1, 2\)"),
    (_params_with("b1", np.zeros((2, 1))), ValueError,
     r"parameters\['b1'\] must have shape \(3, 1\); got \(2, 1\)"),
    (_params_with("W2", np.array([[0.5, np.nan, 0.5]])), ValueError,
     r"parameters\['W2'\] contains NaN or infinity \(first at index \(0, 1\)"),
    (_params_with("W1", np.zeros((3, 4), dtype=complex)), TypeError,
     r"parameters\['W1'\] must hold real numbers; got dtype complex128"),
    ({}, ValueError, r"parameters must be a dict .*got \[\]"),
    ([1, 2], ValueError, r"parameters must be a dict .*got 'list'"),
])
def test_forward_bad_parameters(forward, params, error, want):
    X, _ = _data()
    with pytest.raises(error, match=want):
        forward(X, params)


# == functional: compute_cost ====================================================

AL = np.array([[0.2, 0.7, 0.9, 0.1, 0.6]])


@pytest.mark.parametrize("al, y, error, want", [
    (AL, np.array([[0, 1, 1, 0]]), ValueError, r"Y must have shape \(1, 5\); got \(1, 4\)"),
    (AL, np.array([[0, 1, 1, 0, 1]] * 2), ValueError, r"Y must have shape \(1, 5\); got \(2, 5\)"),
    (AL[0], np.array([[0, 1, 1, 0, 1]]), ValueError,
     r"AL must be a 2-D array.*got 1-D shape \(5,\)"),
    (AL[None], np.array([[0, 1, 1, 0, 1]]), ValueError,
     r"AL must be a 2-D array.*got 3-D shape \(1, 1, 5\)"),
    (AL[:, :0], np.zeros((1, 0)), ValueError, r"AL is empty \(shape \(1, 0\)\)"),
    (_with(AL, (0, 2), np.nan), np.array([[0, 1, 1, 0, 1]]), ValueError,
     r"AL contains NaN or infinity \(first at index \(0, 2\)"),
    (AL * 1.5, np.array([[0, 1, 1, 0, 1]]), ValueError,
     r"AL must hold probabilities in \[0, 1\]; got values from 0\.15 to 1\.35"),
    (AL - 0.15, np.array([[0, 1, 1, 0, 1]]), ValueError,
     r"AL must hold probabilities in \[0, 1\]; got values from -0\.05"),
    (AL, np.array([[0, 1, np.nan, 0, 1]]), ValueError,
     r"Y contains NaN or infinity \(first at index \(0, 2\)"),
    (AL, np.array([[0, 1, np.inf, 0, 1]]), ValueError,
     r"Y contains NaN or infinity \(first at index \(0, 2\)"),
    (AL.astype(str), np.array([[0, 1, 1, 0, 1]]), TypeError,
     r"AL must hold real numbers; got dtype <U"),
    (AL.astype(complex), np.array([[0, 1, 1, 0, 1]]), TypeError,
     r"AL must hold real numbers; got dtype complex128"),
    (AL, np.array([[0, 1, 1, 0, 1]]).astype(str), TypeError,
     r"Y must hold real numbers; got dtype <U"),
    (AL, np.array([[0, 1, 1, 0, 1]], dtype=object), TypeError,
     r"Y must hold real numbers; got dtype object"),
])
def test_compute_cost_bad_input(al, y, error, want):
    with pytest.raises(error, match=want):
        F.compute_cost(al, y)


def test_compute_cost_bool_and_1d_labels_match_reference():
    Y = np.array([[0, 1, 1, 0, 1]])
    want = float(R.compute_cost(AL, Y))
    assert F.compute_cost(AL, Y.astype(bool)) == pytest.approx(want, rel=1e-14)
    assert F.compute_cost(AL, Y[0]) == pytest.approx(want, rel=1e-14)


def test_compute_cost_soft_label_matches_reference():
    # A label in (0, 1) is a legitimate soft target for the cross-entropy formula.
    Y = np.array([[0, 1, 0.5, 0, 1]])
    assert F.compute_cost(AL, Y) == pytest.approx(float(R.compute_cost(AL, Y)), rel=1e-14)


@pytest.mark.parametrize("label", [2, -1])
def test_compute_cost_rejects_labels_outside_0_1(label):
    Y = np.array([[0, 1, label, 0, 1]])
    with pytest.raises(ValueError, match=r"Y .*%s" % re.escape(str(float(label)))):
        F.compute_cost(AL, Y)


def test_compute_cost_rejects_two_row_Y_of_matching_size():
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 4\); got \(2, 2\)"):
        F.compute_cost(AL[:, :4], np.array([[0, 1], [1, 0]]))


# == functional: linear_backward =================================================

@pytest.mark.parametrize("case, error, want", [
    ("dZ rows", ValueError, r"dZ must have shape \(3, m\); got \(2, 5\)"),
    ("dZ cols", ValueError, r"A_prev must have shape \(4, 4\); got \(4, 5\)"),
    ("A_prev rows", ValueError, r"A_prev must have shape \(4, 5\); got \(3, 5\)"),
    ("W inner", ValueError, r"A_prev must have shape \(3, 5\); got \(4, 5\)"),
    ("dZ 1-D", ValueError, r"dZ must be a 2-D array.*got 1-D shape \(5,\)"),
    ("dZ 3-D", ValueError, r"dZ must be a 2-D array.*got 3-D shape \(1, 3, 5\)"),
    ("empty", ValueError, r"dZ is empty \(shape \(3, 0\)\)"),
    ("dZ nan", ValueError, r"dZ contains NaN or infinity \(first at index \(1, 1\)"),
    ("A_prev inf", ValueError, r"A_prev contains NaN or infinity \(first at index \(0, 4\)"),
    ("dZ str", TypeError, r"dZ must hold real numbers; got dtype <U"),
    ("dZ complex", TypeError, r"dZ must hold real numbers; got dtype complex128"),
    ("cache", ValueError, r"linear cache must be the tuple \(A_prev, W, b\)"),
])
def test_linear_backward_bad_input(case, error, want):
    A, W, b = _lin()
    dZ = np.random.RandomState(2).randn(3, M)
    dZ, cache = {
        "dZ rows": (dZ[:2], (A, W, b)), "dZ cols": (dZ[:, :4], (A, W, b)),
        "A_prev rows": (dZ, (A[:3], W, b)), "W inner": (dZ, (A, W[:, :3], b)),
        "dZ 1-D": (dZ[0], (A, W, b)), "dZ 3-D": (dZ[None], (A, W, b)),
        "empty": (dZ[:, :0], (A[:, :0], W, b)), "dZ nan": (_with(dZ, (1, 1), np.nan), (A, W, b)),
        "A_prev inf": (dZ, (_with(A, (0, 4), np.inf), W, b)),
        "dZ str": (dZ.astype(str), (A, W, b)), "dZ complex": (dZ.astype(complex), (A, W, b)),
        "cache": (dZ, (A, W)),
    }[case]
    with pytest.raises(error, match=want):
        F.linear_backward(dZ, cache)


# == functional: update_parameters ===============================================

def _grads():
    return {"dW1": np.full((3, 4), 0.5), "db1": np.full((3, 1), 0.25),
            "dW2": np.full((1, 3), -0.5), "db2": np.full((1, 1), 1.0)}


@pytest.mark.parametrize("lr, error, want", [
    (0, ValueError, r"learning_rate must be > 0; got 0"),
    (-1, ValueError, r"learning_rate must be > 0; got -1"),
    (np.nan, ValueError, r"learning_rate must be > 0; got nan"),
    (np.inf, ValueError, r"learning_rate must be > 0; got inf"),
    (True, TypeError, r"learning_rate must be a real number; got True of type bool"),
    ("0.1", TypeError, r"learning_rate must be a real number; got '0\.1' of type str"),
])
def test_update_parameters_bad_learning_rate(lr, error, want):
    with pytest.raises(error, match=want):
        F.update_parameters(_seed_params(), _grads(), lr)


def _grads_with(key, value):
    g = _grads()
    if value is None:
        del g[key]
    else:
        g[key] = value
    return g


@pytest.mark.parametrize("params, grads, error, want", [
    (_seed_params(), _grads_with("dW1", np.ones((3, 5))), ValueError,
     r"dW1 must have shape \(3, 4\); got \(3, 5\)"),
    (_seed_params(), _grads_with("db1", np.ones(3)), ValueError,
     r"db1 must be a 2-D array of shape \(3, 1\).*got 1-D shape \(3,\)"),
    (_seed_params(), _grads_with("db2", None), ValueError,
     r"grads is missing 'db2' for parameter 'b2'"),
    (_seed_params(), _grads_with("dW1", np.full((3, 4), np.nan)), ValueError,
     r"dW1 contains NaN or infinity \(first at index \(0, 0\)"),
    (_seed_params(), _grads_with("dW2", np.ones((1, 3)).astype(str)), TypeError,
     r"dW2 must hold real numbers; got dtype <U"),
    (_seed_params(), _grads_with("dW2", np.ones((1, 3), dtype=complex)), TypeError,
     r"dW2 must hold real numbers; got dtype complex128"),
    (_params_without("b2"), _grads(), ValueError,
     r"parameters must be a dict .*got \['W1', 'W2', 'b1'\]"),
    (_params_with("W9", np.zeros((1, 1))), _grads(), ValueError,
     r"parameters must be a dict .*'W9'"),
    (_params_with("W1", _with(np.zeros((3, 4)), (2, 3), np.inf)), _grads(), ValueError,
     r"W1 contains NaN or infinity \(first at index \(2, 3\)"),
])
def test_update_parameters_bad_input(params, grads, error, want):
    with pytest.raises(error, match=want):
        F.update_parameters(params, grads, 0.1)


def test_update_parameters_failure_leaves_dict_untouched():
    params = _seed_params()
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match=r"dW2 must have shape \(1, 3\); got \(1, 2\)"):
        F.update_parameters(params, _grads_with("dW2", np.ones((1, 2))), 0.1)
    for k in before:
        np.testing.assert_array_equal(params[k], before[k], err_msg=k)


# == divergence ==================================================================
#
# lr = 1e10 with the seed init on this 6-hidden-layer net: a few updates are
# finite, then a forward pass overflows. (A shallower net's ReLUs die at large
# rates and the run stays finite, which is why the net is deep.) The
# _ROLLBACK tests below use lr = 1e100, which overflows within a chunk.

DIV_DIMS = [4, 6, 6, 6, 6, 6, 6, 1]
DIV_LR = 1e10
ROLLBACK_LR = 1e100


def test_reference_really_diverges_at_that_learning_rate():
    # (The seed's dAL = -(Y/AL - (1-Y)/(1-AL)) also turns NaN once AL saturates to
    # exactly 0 or 1; the engine, which uses dZL = AL - Y, raises for the same run below.)
    X, Y = _data()
    with np.errstate(all="ignore"):
        params, costs = R.L_layer_model(X, Y, DIV_DIMS, DIV_LR, 3, record_every=1,
                                        initial_parameters=_seed_params(DIV_DIMS))
    assert not (_all_finite(params) and np.isfinite(costs).all())


@pytest.mark.parametrize("record_every", [1, 4, 100])
def test_divergence_raises_and_keeps_last_finite_state(record_every):
    X, Y = _data()
    model = DeepNeuralNetwork(DIV_DIMS, DIV_LR, init="seed")
    with pytest.raises(TrainingDivergedError, match=r"learning_rate=1e\+10\b") as info:
        model.fit(X, Y, 40, record_every=record_every)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert re.search(r"iteration %d\b" % err.iteration, str(err)), str(err)
    assert model.n_iter_ == err.iteration < 40
    assert _all_finite(model.parameters_)
    assert np.isfinite(model.costs_).all()
    # the costs on the way to the kept parameters, that of the kept ones included
    assert model.cost_iterations_ == list(range(0, err.iteration + 1, record_every))
    assert err.iteration > 0
    # the kept state is exactly that of a run stopped there (rewinding replays it)
    fresh = DeepNeuralNetwork(DIV_DIMS, DIV_LR, init="seed").fit(X, Y, err.iteration,
                                                                 record_every=record_every)
    for key in fresh.parameters_:
        np.testing.assert_array_equal(model.parameters_[key], fresh.parameters_[key])
    assert model.costs_[:-1] == fresh.costs_[:len(model.costs_) - 1]
    # and the reference agrees on the costs while its own (seed) formulas stay finite
    with np.errstate(all="ignore"):
        _, ref_costs = R.L_layer_model(X, Y, DIV_DIMS, DIV_LR, err.iteration + 1,
                                       record_every=record_every,
                                       initial_parameters=_seed_params(DIV_DIMS))
    finite = np.isfinite(ref_costs)
    assert finite[0]
    np.testing.assert_allclose(np.array(model.costs_)[finite], np.array(ref_costs)[finite],
                               rtol=1e-12)


def test_divergence_in_L_layer_model_raises():
    X, Y = _data()
    with pytest.raises(TrainingDivergedError, match=r"learning_rate=1e\+10\b") as info:
        F.L_layer_model(X, Y, DIV_DIMS, DIV_LR, 40, record_every=1,
                        initial_parameters=_seed_params(DIV_DIMS))
    assert info.value.recorded and all(np.isfinite(c) for _, c in info.value.recorded)


# Here the output overflows inside a chunk, so the engine rewinds to the
# iteration before and keeps only the costs recorded up to it.
_ROLLBACK_DIMS = [4, 5, 5, 5, 1]



@pytest.mark.parametrize("record_every", [1, 4])
def test_divergence_rollback_restores_parameters(record_every):
    X, Y = _data()
    P0 = _seed_params(_ROLLBACK_DIMS)
    model = DeepNeuralNetwork(_ROLLBACK_DIMS, ROLLBACK_LR, init="seed")
    with pytest.raises(TrainingDivergedError, match=r"learning_rate=1e\+100") as info:
        model.fit(X, Y, 40, record_every=record_every)
    assert model.n_iter_ == info.value.iteration
    assert _all_finite(model.parameters_)
    with np.errstate(all="ignore"):
        ref_params, _ = (R.L_layer_model(X, Y, _ROLLBACK_DIMS, ROLLBACK_LR, model.n_iter_,
                                         initial_parameters=P0)
                         if model.n_iter_ else (P0, []))
    assert _all_finite(ref_params)
    assert _max_rel(model.parameters_, ref_params) < 1e-12


@pytest.mark.parametrize("record_every", [1, 4])
def test_divergence_rollback_keeps_only_earlier_costs(record_every):
    X, Y = _data()
    model = DeepNeuralNetwork(_ROLLBACK_DIMS, ROLLBACK_LR, init="seed")
    with pytest.raises(TrainingDivergedError):
        model.fit(X, Y, 40, record_every=record_every)
    assert np.isfinite(model.costs_).all(), model.costs_
    assert model.cost_iterations_ == list(range(0, model.n_iter_ + 1, record_every))


def test_warm_start_after_divergence_continues_without_repeating():
    X, Y = _data()
    model = DeepNeuralNetwork(_ROLLBACK_DIMS, ROLLBACK_LR, init="seed")
    with pytest.raises(TrainingDivergedError):
        model.fit(X, Y, 40, record_every=1)
    kept = model.n_iter_
    model.learning_rate = 1e-3
    model.fit(X, Y, 3, record_every=1, warm_start=True)
    assert model.n_iter_ == kept + 3
    assert model.cost_iterations_ == list(range(kept + 3))
    assert np.isfinite(model.costs_).all()


def test_overflowing_logits_are_reported_as_divergence():
    rng = np.random.RandomState(1)
    X = rng.randn(4, M)
    Y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    model = DeepNeuralNetwork(DIMS, 1e6, init="seed")
    with pytest.raises(TrainingDivergedError):
        model.fit(X, Y, 40, record_every=1)
    assert np.isfinite(model.costs_).all(), model.costs_


# == inputs are never modified ====================================================

def _snapshot(*objs):
    return copy.deepcopy(objs)


def _assert_same(before, after):
    for b, a in zip(before, after):
        if isinstance(b, dict):
            assert list(a) == list(b)
            for k in b:
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)
                assert a[k].dtype == b[k].dtype
        else:
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype and a.shape == b.shape


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("strategy", ["direct", "gram"])
def test_fit_does_not_modify_inputs(dtype, strategy):
    rng = np.random.RandomState(3)
    dims = [8, 4, 3, 1]
    X = rng.randn(8, 6)
    Y = (rng.rand(1, 6) > 0.5).astype(np.float64)
    params = R.initialise_parameters_deep(dims)
    arrays = dict(params)
    before = _snapshot(X, Y, params)
    model = DeepNeuralNetwork(dims, 0.1, dtype=dtype, strategy=strategy)
    model.fit(X, Y, 30, initial_parameters=params, record_every=7)
    model.fit(X, Y, 5, warm_start=True)
    model.predict(X)
    model.predict_proba(X)
    model.score(X, Y)
    _assert_same(before, (X, Y, params))
    assert all(params[k] is arrays[k] for k in arrays)   # the dict's arrays were not replaced
    assert model.parameters_["W1"].dtype == np.dtype(dtype)
    # and the model's own state is not a view of the caller's arrays
    assert not any(np.shares_memory(model.parameters_[k], params[k]) for k in params)


def test_fit_does_not_modify_float32_inputs_or_1d_labels():
    rng = np.random.RandomState(4)
    X = rng.randn(4, M).astype(np.float32)
    Y = np.array([0, 1, 1, 0, 1], dtype=np.float32)
    params = {k: v.astype(np.float32) for k, v in _seed_params().items()}
    before = _snapshot(X, Y, params)
    DeepNeuralNetwork(DIMS, 0.1, dtype="float32").fit(X, Y, 20, initial_parameters=params)
    _assert_same(before, (X, Y, params))


def test_L_layer_model_does_not_modify_inputs():
    X, Y = _data()
    params = _seed_params()
    before = _snapshot(X, Y, params)
    F.L_layer_model(X, Y, DIMS, 0.1, 20, initial_parameters=params)
    _assert_same(before, (X, Y, params))


def test_divergence_does_not_modify_inputs():
    X, Y = _data()
    params = _seed_params(DIV_DIMS)
    before = _snapshot(X, Y, params)
    with pytest.raises(TrainingDivergedError):
        DeepNeuralNetwork(DIV_DIMS, ROLLBACK_LR).fit(X, Y, 40, initial_parameters=params)
    _assert_same(before, (X, Y, params))


def test_failed_validation_keeps_the_fitted_state():
    X, Y = _data()
    fitted = DeepNeuralNetwork(DIMS, LR, init="seed").fit(X, Y, 5)
    state = copy.deepcopy((fitted.parameters_, fitted.costs_, fitted.n_iter_))
    with pytest.raises(ValueError):
        fitted.fit(X, _with(Y, (0, 0), 2), 10, warm_start=True)
    with pytest.raises(ValueError):
        fitted.fit(X[:3], Y, 10)
    assert fitted.costs_ == state[1] and fitted.n_iter_ == state[2]
    _assert_same((state[0],), (fitted.parameters_,))
