"""fastdnn.sklearn against scikit-learn itself: the same numbers, the same API.

The oracle is ``MLPClassifier`` / ``MLPRegressor`` run side by side on the same
data and hyper-parameters: parameters after training to 1e-9 relative
(float64), the same number of epochs, the same loss curve. Problems are small
(a few dozen samples, a few units) and epochs few, to keep the suite fast.
"""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastdnn  # noqa: E402
from fastdnn.sklearn import DNNClassifier, DNNRegressor, NotFittedError  # noqa: E402

RTOL = 1e-9


def data(n=60, features=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, features)
    w = rng.randn(features, 3)
    return X, X @ w + 0.1 * rng.randn(n, 3)


def labels(kind, n=60, seed=0):
    X, scores = data(n, seed=seed)
    if kind == "binary":
        return X, (scores[:, 0] > 0).astype(int)
    if kind == "strings":
        return X, np.array(["cat", "dog", "emu"])[np.argmax(scores, axis=1)]
    if kind == "multilabel":
        return X, (scores[:, :2] > 0).astype(int)
    if kind == "booleans":
        return X, scores[:, 1] > 0
    return X, np.argmax(scores, axis=1)


def max_rel(ours, theirs):
    """Largest relative difference over every coefficient and intercept array."""
    return max(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)
               for a, b in zip(ours.coefs_ + ours.intercepts_,
                               theirs.coefs_ + theirs.intercepts_))


def fit_both(ours, theirs, X, y, method="fit", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(ours, method)(X, y, **kwargs)
        getattr(theirs, method)(X, y, **kwargs)
    return ours, theirs


def assert_same(ours, theirs, rtol=RTOL):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert max_rel(ours, theirs) < rtol
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    assert ours.out_activation_ == theirs.out_activation_


CONFIGS = [
    dict(solver="adam"),
    dict(solver="adam", alpha=0.1, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
    dict(solver="sgd"),
    dict(solver="sgd", nesterovs_momentum=False, momentum=0.5),
    dict(solver="sgd", momentum=0.0),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.3, power_t=0.3),
    dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=2, tol=0.5),
    dict(solver="adam", shuffle=False, batch_size=7),
    dict(solver="adam", batch_size=1000),                        # clipped to n, with a warning
    dict(activation="logistic", solver="sgd", learning_rate_init=0.5),
    dict(activation="tanh", hidden_layer_sizes=(6, 5, 4)),
    dict(activation="identity"),
    dict(early_stopping=True, validation_fraction=0.25, n_iter_no_change=3),
    dict(tol=0.05, n_iter_no_change=2),                           # stops on the training loss
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join("%s=%s" % kv for kv in c.items()))
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_classifier_equals_mlpclassifier(kind, config):
    X, y = labels(kind)
    params = dict(dict(hidden_layer_sizes=(7, 4), max_iter=25, random_state=3), **config)
    ours, theirs = fit_both(DNNClassifier(**params), MLPClassifier(**params), X, y)
    assert_same(ours, theirs)
    if config.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=RTOL)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9,
                               atol=1e-12)


def test_stopping_rules_stop_early_in_step():
    """The tol / n_iter_no_change cases above do stop before max_iter (the test means it)."""
    X, y = labels("multiclass")
    for config in (dict(tol=0.05, n_iter_no_change=2),
                   dict(early_stopping=True, validation_fraction=0.25, n_iter_no_change=3)):
        ours, theirs = fit_both(DNNClassifier(max_iter=200, random_state=3, **config),
                                MLPClassifier(max_iter=200, random_state=3, **config), X, y)
        assert ours.n_iter_ == theirs.n_iter_ < 200


@pytest.mark.parametrize("estimator, kind", [(DNNClassifier, "binary"),
                                              (DNNClassifier, "multiclass"),
                                              (DNNRegressor, "regression")])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_lbfgs_equals_scikit_learns(estimator, kind, activation):
    """SciPy's L-BFGS-B over the compiled loss and gradient, as MLP*'s solver='lbfgs'."""
    if kind == "regression":
        X, Y = data()
        y, theirs = Y[:, 0], MLPRegressor
    else:
        (X, y), theirs = labels(kind), MLPClassifier
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", activation=activation, max_iter=40,
                  alpha=1e-3, random_state=0)
    ours, theirs = fit_both(estimator(**params), theirs(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=RTOL)
    assert max_rel(ours, theirs) < 1e-7
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        ours.partial_fit(X, y)


@pytest.mark.parametrize("kind", ["strings", "booleans", "multilabel"])
def test_label_types(kind):
    X, y = labels(kind)
    ours, theirs = fit_both(DNNClassifier((6,), max_iter=15, random_state=1),
                            MLPClassifier((6,), max_iter=15, random_state=1), X, y)
    assert_same(ours, theirs)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X),
                               rtol=1e-9)


@pytest.mark.parametrize("n_out", [1, 2])
@pytest.mark.parametrize("config", [dict(solver="adam", learning_rate_init=0.01),
                                    dict(solver="sgd", learning_rate_init=0.01, alpha=0.5),
                                    dict(early_stopping=True, learning_rate_init=0.01)])
def test_regressor_equals_mlpregressor(n_out, config):
    X, Y = data()
    y = Y[:, 0] if n_out == 1 else Y[:, :2]
    params = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=5, **config)
    ours, theirs = fit_both(DNNRegressor(**params), MLPRegressor(**params), X, y)
    assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-12)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-9)


def test_float32_follows_scikit_learn():
    """float32 data trains in float32 in both; agreement to float32 rounding (1e-6 after
    20 epochs, measured 2e-8: the two sum products in other orders)."""
    X, y = labels("multiclass")
    X = X.astype(np.float32)
    ours, theirs = fit_both(DNNClassifier((6,), max_iter=20, random_state=0),
                            MLPClassifier((6,), max_iter=20, random_state=0), X, y)
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype == np.float32
    assert max_rel(ours, theirs) < 1e-6
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)


def test_dtype_option_forces_float64_and_float32():
    X, y = labels("binary")
    assert DNNClassifier((4,), max_iter=2, dtype="float32").fit(X, y).coefs_[0].dtype == np.float32
    X32 = X.astype(np.float32)
    assert DNNClassifier((4,), max_iter=2, dtype="float64").fit(X32, y).coefs_[0].dtype == np.float64


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_and_warm_start_continue_as_scikit_learn(solver):
    X, y = labels("multiclass")
    ours = DNNClassifier((6,), solver=solver, random_state=2)
    theirs = MLPClassifier((6,), solver=solver, random_state=2)
    for start in (0, 20, 40):                 # the optimiser's state carries over
        fit_both(ours, theirs, X[start:start + 20], y[start:start + 20], "partial_fit",
                 classes=np.unique(y))
    assert_same(ours, theirs)
    params = dict(hidden_layer_sizes=(6,), solver=solver, random_state=2, max_iter=5,
                  warm_start=True)
    ours, theirs = DNNClassifier(**params), MLPClassifier(**params)
    fit_both(ours, theirs, X, y)
    fit_both(ours, theirs, X, y)              # a new optimiser, the same weights
    assert_same(ours, theirs)


def test_not_fitted_is_scikit_learns_error_and_fastdnns():
    X, _ = data()
    for est in (DNNClassifier(), DNNRegressor()):
        with pytest.raises(NotFittedError):
            est.predict(X)
    assert NotFittedError.__module__.startswith("sklearn")
    assert issubclass(fastdnn.NotFittedError, (ValueError, AttributeError))
    with pytest.raises(fastdnn.NotFittedError):
        fastdnn.DeepNeuralNetwork([5, 1]).predict(X.T)


@pytest.mark.parametrize("bad, message", [
    (dict(solver="newton"), "solver must be one of"),
    (dict(activation="softplus"), "activation must be one of"),
    (dict(alpha=-1.0), r"alpha must be in \[0"),
    (dict(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes must be > 0"),
    (dict(learning_rate_init=0.0), r"learning_rate_init must be in \(0"),
    (dict(momentum=1.5), r"momentum must be in \[0, 1\]"),
    (dict(batch_size=0), r"batch_size must be in \[1"),
    (dict(keep_prob=0.0), r"keep_prob must be in \(0"),
    (dict(dtype="int8"), "dtype must be one of"),
    (dict(early_stopping=True, validation_fraction=0.01), "test_size = 1"),  # as MLPClassifier
])
def test_bad_hyperparameters_raise_clear_errors(bad, message):
    X, y = labels("binary")
    with pytest.raises(ValueError, match=message):
        DNNClassifier(**bad).fit(X, y)


def test_poisson_loss_is_refused():
    X, Y = data()
    with pytest.raises(ValueError, match="poisson"):
        DNNRegressor(loss="poisson").fit(X, np.abs(Y[:, 0]))


def test_divergence_raises_scikit_learns_error():
    X, y = labels("binary")
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        DNNClassifier((4,), solver="sgd", learning_rate_init=1e300, max_iter=5).fit(X * 1e300, y)


def test_pipeline_gridsearch_cross_val_and_pickle():
    X, y = labels("multiclass", n=90)
    pipe = make_pipeline(StandardScaler(), DNNClassifier((8,), max_iter=40, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
        reference = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier(
            (8,), max_iter=40, random_state=0)), X, y, cv=3)
        np.testing.assert_allclose(scores, reference)
        search = GridSearchCV(pipe, {"dnnclassifier__alpha": [1e-4, 1e-1]}, cv=3, n_jobs=2)
        search.fit(X, y)
    assert set(search.cv_results_["param_dnnclassifier__alpha"]) == {1e-4, 1e-1}
    fitted = search.best_estimator_
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    copy = clone(fitted[-1])
    assert copy.get_params() == fitted[-1].get_params() and not hasattr(copy, "coefs_")


def test_pandas_in_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = labels("binary")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    est = DNNClassifier((4,), max_iter=5, random_state=0).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c", "d", "e"])
    np.testing.assert_array_equal(est.predict(frame), est.predict(X))
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(frame.to_numpy())  # fitted with names, given none: scikit-learn warns


def test_dropout_is_fastdnns_own_and_reproducible():
    X, y = labels("multiclass")
    a = DNNClassifier((16,), keep_prob=0.7, max_iter=10, random_state=4).fit(X, y)
    b = DNNClassifier((16,), keep_prob=0.7, max_iter=10, random_state=4).fit(X, y)
    plain = DNNClassifier((16,), max_iter=10, random_state=4).fit(X, y)
    assert max_rel(a, b) == 0.0
    assert max_rel(a, plain) > 1e-3


def test_importable_from_fastdnn():
    assert fastdnn.DNNClassifier is DNNClassifier and fastdnn.DNNRegressor is DNNRegressor


@pytest.mark.parametrize("kind", ["strings", "multilabel", "regression"])
def test_save_and_load_model_continue_exactly(tmp_path, kind):
    """A saved estimator predicts the same and partial_fit continues as the original."""
    if kind == "regression":
        X, Y = data()
        y, est = Y[:, 0], DNNRegressor(hidden_layer_sizes=(5,), solver="sgd", max_iter=5,
                                       random_state=0)
    else:
        (X, y), est = labels(kind), DNNClassifier((5,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    path = tmp_path / "est.h5"
    est.save(path)
    back = fastdnn.load_model(path)
    assert type(back) is type(est) and back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    for e in (est, back):
        e.partial_fit(X, y)
    assert max_rel(back, est) == 0.0 and back.loss_curve_ == est.loss_curve_


def test_loading_a_damaged_estimator_file_names_the_problem(tmp_path):
    X, y = labels("binary")
    path = tmp_path / "est.h5"
    DNNClassifier((3,), max_iter=2).fit(X, y).save(path)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(fastdnn.ModelFileError, match="checksum mismatch"):
        fastdnn.load_model(path)


def test_sparse_input_and_sample_weight_are_refused_clearly():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = labels("binary")
    with pytest.raises(TypeError, match="dense data is required"):
        DNNClassifier((3,), max_iter=2).fit(scipy_sparse.csr_matrix(X), y)
    with pytest.raises(TypeError, match="sample_weight"):
        DNNClassifier((3,), max_iter=2).fit(X, y, sample_weight=np.ones(len(y)))
