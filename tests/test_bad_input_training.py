"""Bad values of the training options get a clear error before anything trains.

The project standard (see ``test_bad_input.py``): ``ValueError`` / ``TypeError``
naming the argument, what it got and what was expected. Covered here: every
argument ``DeepNeuralNetwork`` and ``fit`` gained with the training options
(output, hidden_activation, optimizer and its constants, batch_size, lambd,
keep_prob, decay, seeds, num_epochs, softmax / identity targets,
validation_data, early_stopping, patience). Errors are raised by ``fit`` (the
constructor only stores its arguments), and a failed fit leaves a fitted model
as it was.
"""

import re

import numpy as np
import pytest
from conftest import DIMS, assert_params_equal, binary_problem, regression_problem, softmax_problem

from fastdnn import DeepNeuralNetwork

HIDDEN_NAMES = re.escape("['relu', 'leaky_relu', 'tanh', 'sigmoid', 'identity']")
SOFTMAX_DIMS = [4, 3, 2, 3]


def _fit(dims=DIMS, X=None, Y=None, n=2, fit_kw=None, **kw):
    """DeepNeuralNetwork(dims, 0.05, **kw).fit(X, Y, n, **fit_kw) on a small binary problem."""
    if X is None:
        X, Y = binary_problem(m=10)
    return DeepNeuralNetwork(dims, 0.05, **kw).fit(X, Y, n, **(fit_kw or {}))


def _softmax_fit(Y, **fit_kw):
    X, _, _ = softmax_problem(m=10)
    return _fit(SOFTMAX_DIMS, X, Y, output="softmax", fit_kw=fit_kw)


# == network ===========================================================================

@pytest.mark.parametrize("value, shown", [("tanh", "'tanh'"), ("relu", "'relu'"),
                                          (None, "None"), ("Sigmoid", "'Sigmoid'")])
def test_output_name(value, shown):
    with pytest.raises(ValueError, match=r"output must be one of 'sigmoid', 'softmax', "
                                         r"'identity'; got %s" % shown):
        _fit(output=value)


@pytest.mark.parametrize("value, shown", [
    ("softmax", "'softmax'"),                    # an output only
    ("ReLU", "'ReLU'"),
    (["relu"], r"\['relu'\]"),                   # 1 name for 2 hidden layers
    (["relu", "tanh", "tanh"], r"\['relu', 'tanh', 'tanh'\]"),
    (["relu", "bogus"], r"\['relu', 'bogus'\]"),
    ([1, "relu"], r"\[1, 'relu'\]"),
])
def test_hidden_activation(value, shown):
    want = r"hidden_activation must be one of %s or a list of 2 of them \(one per hidden " \
           r"layer\); got %s" % (HIDDEN_NAMES, shown)
    with pytest.raises(ValueError, match=want):
        _fit(hidden_activation=value)


def test_hidden_activation_and_activations_together():
    with pytest.raises(ValueError, match=r"give either activations .* or hidden_activation .*"
                                         r"not both"):
        _fit(hidden_activation="relu", activations=["relu", "relu", "sigmoid"])


@pytest.mark.parametrize("value", [["relu", "relu"], ["relu", "relu", "softmax"],
                                   ["relu", "softmax", "sigmoid"]])
def test_activations_list(value):
    with pytest.raises(ValueError, match=r"activations must name one activation per layer "
                                         r"\(3\).*ending with the output 'sigmoid'; got %s"
                                         % re.escape(repr(value))):
        _fit(activations=value)


def test_softmax_needs_two_output_units():
    with pytest.raises(ValueError, match=r"output='softmax' needs at least 2 output units .*"
                                         r"layer_dims \[4, 3, 2, 1\] ends with 1"):
        _fit(output="softmax")


# == optimizer ============================================================================

@pytest.mark.parametrize("value, shown", [("sgd", "'sgd'"), ("Adam", "'Adam'"), (None, "None")])
def test_optimizer_name(value, shown):
    with pytest.raises(ValueError, match=r"optimizer must be one of 'gd', 'momentum', 'adam'; "
                                         r"got %s" % shown):
        _fit(optimizer=value)


@pytest.mark.parametrize("name", ["beta", "beta1", "beta2"])
@pytest.mark.parametrize("value, shown", [(1.0, r"1\.0"), (1, "1"), (-0.1, r"-0\.1"),
                                          (1.5, r"1\.5"), (np.nan, "nan")])
def test_betas_outside_0_1(name, value, shown):
    with pytest.raises(ValueError, match=r"%s must be in \[0, 1\); got %s" % (name, shown)):
        _fit(optimizer="adam" if name != "beta" else "momentum", **{name: value})


@pytest.mark.parametrize("name", ["beta", "beta1", "beta2"])
def test_betas_not_numbers(name):
    with pytest.raises(TypeError, match=r"%s must be a real number; got '0\.9' of type str"
                                        % name):
        _fit(**{name: "0.9"})


def test_beta_zero_is_allowed():
    """[0, 1) includes 0: momentum with beta = 0 is plain gradient descent."""
    X, Y = binary_problem(m=10)
    a = _fit(X=X, Y=Y, n=5, optimizer="momentum", beta=0.0)
    b = _fit(X=X, Y=Y, n=5, optimizer="gd")
    for k in b.parameters_:
        np.testing.assert_allclose(a.parameters_[k], b.parameters_[k], rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("value, shown", [(0, "0"), (0.0, r"0\.0"), (-1e-8, r"-1e-08"),
                                          (np.nan, "nan"), (np.inf, "inf")])
def test_epsilon_not_positive(value, shown):
    with pytest.raises(ValueError, match=r"epsilon must be > 0; got %s" % shown):
        _fit(optimizer="adam", epsilon=value)


# == batches, regularisation, decay, seeds =====================================================

@pytest.mark.parametrize("value, shown", [(0, "0"), (-3, "-3")])
def test_batch_size_not_positive(value, shown):
    with pytest.raises(ValueError, match=r"batch_size must be > 0; got %s" % shown):
        _fit(batch_size=value)


@pytest.mark.parametrize("value, shown", [(8.0, r"8\.0 of type float"), (True, "True of type bool"),
                                          ("8", "'8' of type str")])
def test_batch_size_not_an_integer(value, shown):
    with pytest.raises(TypeError, match=r"batch_size must be an integer number; got %s" % shown):
        _fit(batch_size=value)


@pytest.mark.parametrize("value, shown", [(-0.1, r"-0\.1"), (np.nan, "nan"), (np.inf, "inf")])
def test_lambd_negative_or_not_finite(value, shown):
    with pytest.raises(ValueError, match=r"lambd must be >= 0; got %s" % shown):
        _fit(lambd=value)


@pytest.mark.parametrize("value, shown", [(0, "0"), (0.0, r"0\.0"), (1.5, r"1\.5"),
                                          (-0.5, r"-0\.5"), (np.nan, "nan")])
def test_keep_prob_outside_0_1(value, shown):
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\]; got %s" % shown):
        _fit(keep_prob=value)


def test_keep_prob_not_a_number():
    with pytest.raises(TypeError, match=r"keep_prob must be a real number; got True of type bool"):
        _fit(keep_prob=True)


def test_keep_prob_without_hidden_layer():
    with pytest.raises(ValueError, match=r"keep_prob=0\.5 drops hidden units, but layer_dims "
                                         r"\[4, 1\] has no hidden layer"):
        _fit([4, 1], keep_prob=0.5)


@pytest.mark.parametrize("value, shown", [("exponential", "'exponential'"),
                                          ("Inverse", "'Inverse'"),
                                          (len, "<built-in function len>")])
def test_decay_name(value, shown):
    with pytest.raises(ValueError, match=r"decay must be None, 'inverse' or 'scheduled'; got %s"
                                         % shown):
        _fit(decay=value)


@pytest.mark.parametrize("value, shown", [(-1, "-1"), (np.nan, "nan")])
def test_decay_rate_negative(value, shown):
    with pytest.raises(ValueError, match=r"decay_rate must be >= 0; got %s" % shown):
        _fit(decay="inverse", decay_rate=value)


@pytest.mark.parametrize("value, shown", [(0, "0"), (-2, "-2")])
def test_time_interval_not_positive(value, shown):
    with pytest.raises(ValueError, match=r"time_interval must be > 0; got %s" % shown):
        _fit(decay="scheduled", time_interval=value)


@pytest.mark.parametrize("value, shown", [(2.5, r"2\.5 of type float"),
                                          (True, "True of type bool")])
def test_time_interval_not_an_integer(value, shown):
    with pytest.raises(TypeError, match=r"time_interval must be an integer number; got %s" % shown):
        _fit(decay="scheduled", time_interval=value)


@pytest.mark.parametrize("name", ["shuffle_seed", "dropout_seed"])
@pytest.mark.parametrize("value, shown", [(-1, "-1"), (2 ** 32, "4294967296")])
def test_seed_out_of_range(name, value, shown):
    with pytest.raises(ValueError, match=r"%s must be in \[0, 2\*\*32\); got %s" % (name, shown)):
        _fit(batch_size=4, keep_prob=0.9, **{name: value})


@pytest.mark.parametrize("name", ["shuffle_seed", "dropout_seed"])
@pytest.mark.parametrize("value, shown", [(1.5, r"1\.5 of type float"), (True, "True of type bool"),
                                          (None, "None of type NoneType")])
def test_seed_not_an_integer(name, value, shown):
    with pytest.raises(TypeError, match=r"%s must be an integer; got %s" % (name, shown)):
        _fit(**{name: value})


# == fit's arguments ==========================================================================

def test_num_iterations_and_num_epochs_together():
    X, Y = binary_problem(m=10)
    with pytest.raises(ValueError, match=r"give num_iterations or num_epochs, not both"):
        DeepNeuralNetwork(DIMS, 0.05).fit(X, Y, num_iterations=2, num_epochs=2)


@pytest.mark.parametrize("value, error, want", [
    (0, ValueError, r"num_epochs must be > 0; got 0"),
    (-1, ValueError, r"num_epochs must be > 0; got -1"),
    (2.5, TypeError, r"num_epochs must be an integer number; got 2\.5 of type float"),
])
def test_num_epochs(value, error, want):
    X, Y = binary_problem(m=10)
    with pytest.raises(error, match=want):
        DeepNeuralNetwork(DIMS, 0.05).fit(X, Y, num_epochs=value)


# == targets of each output ======================================================================

@pytest.mark.parametrize("change, shown", [(3, r"3\.0"), (-1, r"-1\.0"), (1.5, r"1\.5")])
def test_softmax_labels_out_of_range_or_not_integer(change, shown):
    _, labels, _ = softmax_problem(m=10)
    bad = labels.astype(float)
    bad[0, 4] = change
    with pytest.raises(ValueError, match=r"Y as class labels must hold integers 0\.\.2 \(the 3 "
                                         r"softmax outputs\); got %s at index 4" % shown):
        _softmax_fit(bad)


def test_softmax_labels_count_differs_from_X():
    _, labels, _ = softmax_problem(m=10)
    with pytest.raises(ValueError, match=r"X has 10 columns, Y has 9 labels"):
        _softmax_fit(labels[:, :9])


@pytest.mark.parametrize("column, shown", [([1, 1, 0], r"\[1\.0, 1\.0, 0\.0\]"),
                                           ([0, 0, 0], r"\[0\.0, 0\.0, 0\.0\]"),
                                           ([0.5, 0.5, 0], r"\[0\.5, 0\.5, 0\.0\]"),
                                           ([2, -1, 0], r"\[2\.0, -1\.0, 0\.0\]")])
def test_softmax_columns_not_one_hot(column, shown):
    _, _, onehot = softmax_problem(m=10)
    bad = onehot.copy()
    bad[:, 4] = column
    with pytest.raises(ValueError, match=r"Y for a softmax output must be one-hot columns "
                                         r"\(C=3, m\) or integer labels \(1, m\); column 4 is %s"
                                         % shown):
        _softmax_fit(bad)


def test_softmax_one_hot_with_wrong_rows():
    _, _, onehot = softmax_problem(m=10)
    with pytest.raises(ValueError, match=r"Y must have shape \(3, m\); got \(2, 10\)"):
        _softmax_fit(onehot[:2])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_identity_targets_not_finite(value):
    X, Y = regression_problem(m=10)
    Y = Y.copy()
    Y[0, 3] = value
    with pytest.raises(ValueError, match=r"Y contains NaN or infinity \(first at index \(0, 3\)"):
        _fit(X=X, Y=Y, output="identity")


def test_identity_accepts_any_real_targets():
    X, Y = regression_problem(m=10)
    model = _fit(X=X, Y=100 * Y - 7, output="identity")       # no 0/1 check for regression
    assert model.n_iter_ == 2


def test_sigmoid_labels_outside_0_1_in_a_second_output():
    X, Y = binary_problem(m=10, n_out=2)
    bad = Y.copy()
    bad[1, 2] = 2
    with pytest.raises(ValueError, match=r"Y must hold labels 0 or 1; got 2\.0 at index \(1, 2\)"):
        _fit([4, 3, 2, 2], X, bad)


def test_score_checks_softmax_labels_too():
    X, labels, _ = softmax_problem(m=10)
    model = _fit(SOFTMAX_DIMS, X, labels, output="softmax")
    bad = labels.copy()
    bad[0, 1] = 7
    with pytest.raises(ValueError, match=r"Y as class labels must hold integers 0\.\.2 .*got 7"):
        model.score(X, bad)


# == validation data, early stopping, patience ==================================================

@pytest.mark.parametrize("value, shown", [
    (lambda X, Y: X, "ndarray"),                 # 4 rows: not a pair
    (lambda X, Y: (X,), "tuple"),
    (lambda X, Y: (X, Y, Y), "tuple"),
    (lambda X, Y: 5, "int"),
])
def test_validation_data_not_a_pair(value, shown):
    X, Y = binary_problem(m=10)
    with pytest.raises(TypeError, match=r"validation_data must be a pair \(X_val, Y_val\); got %s"
                                        % shown):
        _fit(X=X, Y=Y, fit_kw=dict(validation_data=value(X, Y)))


@pytest.mark.parametrize("value, want", [
    (lambda X, Y: (X[:3], Y), r"validation_data: X must have shape \(4, m\); got \(3, 10\)"),
    (lambda X, Y: (X, Y[:, :5]), r"validation_data: X and Y must hold the same number of "
                                 r"examples \(columns\); X has 10, Y has 5"),
    (lambda X, Y: (X, Y.T), r"validation_data: Y must have shape \(1, m\); got \(10, 1\)"),
    (lambda X, Y: (X, np.vstack([Y, Y])), r"validation_data: Y must have shape \(1, m\); "
                                          r"got \(2, 10\)"),
    (lambda X, Y: (X, 2 * Y + 1), r"validation_data: Y must hold labels 0 or 1; got [13]\.0"),
    (lambda X, Y: (np.where(X > 1, np.nan, X), Y), r"validation_data: X contains NaN"),
])
def test_validation_data_malformed(value, want):
    X, Y = binary_problem(m=10)
    with pytest.raises(ValueError, match=want):
        _fit(X=X, Y=Y, fit_kw=dict(validation_data=value(X, Y)))


def test_validation_softmax_labels_out_of_range():
    X, labels, _ = softmax_problem(m=10)
    bad = labels.copy()
    bad[0, 0] = 3
    with pytest.raises(ValueError, match=r"validation_data: Y as class labels must hold "
                                         r"integers 0\.\.2"):
        _fit(SOFTMAX_DIMS, X, labels, output="softmax", fit_kw=dict(validation_data=(X, bad)))


@pytest.mark.parametrize("which", ["X", "Y"])
def test_validation_data_of_non_real_dtype_names_validation_data(which):
    X, Y = binary_problem(m=10)
    pair = (X.astype(str), Y) if which == "X" else (X, Y.astype(str))
    with pytest.raises(TypeError, match=r"validation_data: %s must hold real numbers" % which):
        _fit(X=X, Y=Y, fit_kw=dict(validation_data=pair))


def test_early_stopping_must_be_a_bool():
    with pytest.raises(TypeError, match=r"early_stopping must be True or False; got 'yes'"):
        _fit(fit_kw=dict(early_stopping="yes"))


def test_early_stopping_needs_validation_data():
    with pytest.raises(ValueError, match=r"early_stopping=True needs validation_data=\(X_val, "
                                         r"Y_val\)"):
        _fit(fit_kw=dict(early_stopping=True))


@pytest.mark.parametrize("value, error, want", [
    (0, ValueError, r"patience must be > 0; got 0"),
    (-1, ValueError, r"patience must be > 0; got -1"),
    (1.5, TypeError, r"patience must be an integer number; got 1\.5 of type float"),
    (True, TypeError, r"patience must be an integer number; got True of type bool"),
])
def test_patience(value, error, want):
    X, Y = binary_problem(m=10)
    with pytest.raises(error, match=want):
        _fit(X=X, Y=Y, fit_kw=dict(validation_data=(X, Y), early_stopping=True, patience=value))


# == a failed fit loses nothing ===================================================================

@pytest.mark.parametrize("change", [dict(keep_prob=2.0), dict(optimizer="nadam"),
                                    dict(batch_size=0), dict(decay="cosine")])
def test_failed_warm_start_keeps_the_fitted_model(change):
    X, Y = binary_problem(m=10)
    model = DeepNeuralNetwork(DIMS, 0.05, optimizer="adam", batch_size=4).fit(X, Y, num_epochs=3)
    params = {k: v.copy() for k, v in model.parameters_.items()}
    costs, state = list(model.costs_), dict(model.optimizer_state_)
    for name, value in change.items():
        setattr(model, name, value)
    with pytest.raises(ValueError, match=list(change)[0]):
        model.fit(X, Y, num_epochs=3, warm_start=True)
    assert_params_equal(model.parameters_, params)
    assert model.costs_ == costs and model.n_iter_ == 3
    assert model.optimizer_state_["t"] == state["t"] == 9


def test_failed_fit_with_bad_validation_data_keeps_the_fitted_model():
    X, Y = binary_problem(m=10)
    model = DeepNeuralNetwork(DIMS, 0.05).fit(X, Y, 4)
    params = {k: v.copy() for k, v in model.parameters_.items()}
    with pytest.raises(ValueError, match=r"validation_data: X must have shape"):
        model.fit(X, Y, 4, warm_start=True, validation_data=(X[:2], Y))
    assert_params_equal(model.parameters_, params)
    assert model.n_iter_ == 4
