"""The "split" strategy: every mini-batch cut into one slice per core, gradient sums added.

Oracles: the NumPy reference's mini-batch loop (``fastdnn.reference.model``) and
scikit-learn's ``MLPClassifier`` / ``MLPRegressor``, run side by side; "direct"
(one core) for the cases the reference does not cover. The split sums a batch in
``parts`` partial sums, so it agrees to rounding (float64 1e-9 relative, as the
direct path must), not bit for bit. Batch sizes that leave uneven slices, a last
batch smaller than the number of slices (batch size 1) and more slices than cores
are included.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork
from fastdnn import reference as R

from test_minibatch_workloads import _problem, _rel

RTOL64 = 1e-9


def _reference(dims, m, output, optimizer, lr, batch, epochs, lambd=0.0, seed=5):
    X, Y, p0 = _problem(dims, m, output, np.float64, seed)
    zeros = {"d" + k: np.zeros_like(v) for k, v in p0.items()}
    state = {"v": zeros, "s": {k: v.copy() for k, v in zeros.items()}, "t": 0}
    params, costs = R.model(X, Y, dims, optimizer, learning_rate=lr, mini_batch_size=batch,
                            num_epochs=epochs, print_cost=False, initial_parameters=p0,
                            output=output, record_every=1, optimizer_state=state, lambd=lambd)
    return X, Y, p0, params, costs


@pytest.mark.parametrize("dims, m, output, optimizer, batch, n_threads, lambd", [
    ([12, 8, 6, 4], 70, "softmax", "adam", 16, None, 0.0),      # last batch of 6
    ([12, 8, 6, 4], 70, "softmax", "adam", 17, 3, 0.0),         # uneven slices, 3 parts
    ([8, 6, 4, 1], 50, "sigmoid", "momentum", 8, None, 0.3),    # L2
    ([8, 6, 4, 1], 50, "sigmoid", "gd", 1, None, 0.0),          # one example: one slice
    ([30, 6, 5, 4, 1], 21, "sigmoid", "adam", 8, 2, 0.0),
])
def test_split_equals_the_reference(dims, m, output, optimizer, batch, n_threads, lambd):
    lr, epochs = 5e-3, 4
    X, Y, p0, params, costs = _reference(dims, m, output, optimizer, lr, batch, epochs, lambd)
    model = DeepNeuralNetwork(dims, lr, output=output, optimizer=optimizer, batch_size=batch,
                              lambd=lambd, strategy="split", n_threads=n_threads)
    model.fit(X, Y, num_epochs=epochs, initial_parameters=p0, record_every=1)
    assert model.strategy_ == "split"
    assert _rel(np.array(model.costs_), np.array(costs)) < RTOL64
    for k, v in params.items():
        assert _rel(model.parameters_[k], v) < RTOL64, k


def _fit(strategy, epochs=3, dtype="float64", **kw):
    X, Y, p0 = _problem([12, 8, 6, 4], 70, "softmax", dtype)
    model = DeepNeuralNetwork([12, 8, 6, 4], 1e-2, output="softmax", optimizer="adam",
                              batch_size=16, dtype=dtype, strategy=strategy, **kw)
    return model.fit(X, Y, num_epochs=epochs, initial_parameters=p0, record_every=1), X, Y


def test_split_float32_close_to_direct():
    split, _, _ = _fit("split", dtype="float32")
    direct, _, _ = _fit("direct", dtype="float32")
    for k in direct.parameters_:
        assert split.parameters_[k].dtype == np.float32
        assert _rel(split.parameters_[k], direct.parameters_[k].astype(np.float64)) < 1e-5, k


def test_split_is_deterministic_and_warm_start_continues_it_exactly():
    a, X, Y = _fit("split", epochs=4)
    b, _, _ = _fit("split", epochs=4)
    c, _, _ = _fit("split", epochs=2)
    c.fit(X, Y, num_epochs=2, warm_start=True, record_every=1)
    for k in a.parameters_:
        assert np.array_equal(a.parameters_[k], b.parameters_[k])
        assert np.array_equal(a.parameters_[k], c.parameters_[k])
    assert a.costs_ == c.costs_


def test_direct_results_do_not_depend_on_split_existing():
    """'auto' and 'direct' stay the one-core path: bit for bit the same as each other."""
    auto, _, _ = _fit("auto")
    direct, _, _ = _fit("direct")
    assert auto.strategy_ == "direct"
    for k in direct.parameters_:
        assert np.array_equal(auto.parameters_[k], direct.parameters_[k])


@pytest.mark.parametrize("kw, message", [
    (dict(batch_size=None), r"strategy='split' splits mini-batches.*batch_size=None"),
    (dict(batch_size=8, keep_prob=0.8), r"strategy='split' does not support dropout"),
])
def test_split_refuses_what_it_cannot_split(kw, message):
    X, Y, _ = _problem([8, 6, 4, 1], 50, "sigmoid", np.float64)
    with pytest.raises(ValueError, match=message):
        DeepNeuralNetwork([8, 6, 4, 1], 0.01, strategy="split", **kw).fit(X, Y, num_epochs=1)


@pytest.mark.parametrize("options", [
    'strategy="split"',
    'strategy="split", dtype="float32", update_arithmetic="native"',
    'strategy="direct", dtype="float32", update_arithmetic="native"'])
def test_split_and_native_allocate_nothing_per_step(options):
    """Numba's allocation count (NRT statistics, on in a fresh process) grows with the
    compiled calls of a run, not with its steps: 2 epochs against 200 (10 steps each)."""
    code = """if True:
        import numpy as np
        from numba.core.runtime import rtsys
        from fastdnn import DeepNeuralNetwork
        rng = np.random.default_rng(0)
        X = rng.random((12, 300)); Y = (rng.random((1, 300)) < .5).astype(float)
        def allocations(epochs):
            m = DeepNeuralNetwork([12, 8, 4, 1], 0.01, optimizer="adam", batch_size=32,
                                  random_state=0, OPTIONS).fit(X, Y, num_epochs=1)
            before = rtsys.get_allocation_stats().alloc
            m.fit(X, Y, num_epochs=epochs, warm_start=True, record_every=10 ** 6)
            return rtsys.get_allocation_stats().alloc - before
        print(allocations(2), allocations(200))
    """
    env = dict(__import__("os").environ, NUMBA_NRT_STATS="1")
    code = code.replace("OPTIONS", options)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    short, long = int(out[0]), int(out[1])
    assert long - short < 200, (short, long)   # 1980 more steps: < 0.1 allocation each


# == the scikit-learn estimators ==========================================================

sklearn = pytest.importorskip("sklearn")
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

from fastdnn.sklearn import DNNClassifier, DNNRegressor  # noqa: E402
from test_sklearn import assert_same, data, fit_both, labels  # noqa: E402


@pytest.mark.parametrize("kw", [dict(solver="adam"), dict(solver="sgd"),
                                dict(solver="adam", batch_size=7, alpha=0.1)])
def test_split_classifier_equals_mlpclassifier(kw):
    X, y = labels("multiclass")
    kw = dict(hidden_layer_sizes=(6, 4), max_iter=15, random_state=0, **kw)
    ours, theirs = fit_both(DNNClassifier(strategy="split", **kw), MLPClassifier(**kw), X, y)
    assert_same(ours, theirs)


def test_split_regressor_equals_mlpregressor():
    X, y = data()
    kw = dict(hidden_layer_sizes=(5,), max_iter=20, random_state=0, batch_size=16)
    ours, theirs = fit_both(DNNRegressor(strategy="split", n_threads=3, **kw),
                            MLPRegressor(**kw), X, y)
    assert_same(ours, theirs)


@pytest.mark.parametrize("kw, message", [
    (dict(strategy="gram"), r"strategy must be one of"),
    (dict(strategy="split", solver="lbfgs"), r"strategy='split'.*solver='lbfgs'"),
    (dict(strategy="split", keep_prob=0.5), r"strategy='split' does not support dropout"),
])
def test_split_estimator_errors(kw, message):
    X, y = labels("binary")
    with warnings.catch_warnings(), pytest.raises(ValueError, match=message):
        warnings.simplefilter("ignore")
        DNNClassifier(hidden_layer_sizes=(4,), max_iter=2, **kw).fit(X, y)


def test_split_early_stopping_equals_mlpclassifier():
    X, y = labels("multiclass")
    kw = dict(hidden_layer_sizes=(7, 4), max_iter=25, random_state=3, early_stopping=True,
              validation_fraction=0.25, n_iter_no_change=3)
    ours, theirs = fit_both(DNNClassifier(strategy="split", **kw), MLPClassifier(**kw), X, y)
    assert_same(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_split_partial_fit_and_warm_start_continue_as_scikit_learn():
    X, y = labels("multiclass")
    ours = DNNClassifier((6,), random_state=2, strategy="split")
    theirs = MLPClassifier((6,), random_state=2)
    for start in (0, 20, 40):                 # the optimiser's state carries over
        fit_both(ours, theirs, X[start:start + 20], y[start:start + 20], "partial_fit",
                 classes=np.unique(y))
    assert_same(ours, theirs)
    kw = dict(hidden_layer_sizes=(6,), random_state=2, max_iter=5, warm_start=True)
    ours, theirs = DNNClassifier(strategy="split", **kw), MLPClassifier(**kw)
    fit_both(ours, theirs, X, y)
    fit_both(ours, theirs, X, y)
    assert_same(ours, theirs)
