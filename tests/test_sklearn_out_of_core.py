"""``DNNClassifier`` / ``DNNRegressor`` on HDF5 and dask data (``fastdnn.sklearn_sources``).

Expected results are those of the same estimator on the same rows in memory:
the same scikit-learn batches (the estimator's shuffle), the same compiled
updates, so the parameters agree to 1e-12 (max relative difference, float64;
1e-10 on Dask, where a batch's gradient is summed over the workers' blocks),
with the same n_iter_ and loss_curve_. Problems are tiny; one LocalCluster
serves the Dask tests.
"""

import warnings

import h5py
import numpy as np
import pytest

from fastdnn.io import HDF5Source
from fastdnn.sklearn import DNNClassifier, DNNRegressor

pytest.importorskip("sklearn")

TOL = 1e-12
DASK_TOL = 1e-10
M, N_X = 97, 6
LABELS = np.array(["cat", "dog", "emu"])

SOLVERS = [
    {"solver": "adam"},
    {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 1e-5,
     "n_iter_no_change": 2, "tol": 0.05},
    {"solver": "sgd", "nesterovs_momentum": False, "learning_rate": "invscaling",
     "alpha": 0.1, "batch_size": 10},
    {"solver": "adam", "early_stopping": True, "n_iter_no_change": 3},
    {"solver": "lbfgs"},
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Rows X (97, 6), string labels of 3 classes, two regression targets; the same in an
    HDF5 file as X (97, 2, 3) (flattened per sample), labels and targets."""
    rng = np.random.RandomState(0)
    X = rng.randn(M, N_X)
    labels = LABELS[(X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)]
    targets = np.column_stack([X[:, :2] @ [1.0, -2.0], np.tanh(X[:, 3])])
    path = tmp_path_factory.mktemp("skooc") / "rows.h5"
    with h5py.File(path, "w") as f:
        f["x"] = X.reshape(M, 2, 3)
        f["x32"] = X.astype(np.float32)
        f["labels"] = labels.astype("S")
        f["class"] = (X[:, 0] > 0).astype(np.int64)
        f["targets"] = targets
        f["x3"] = np.zeros((4, 3))
    f = h5py.File(path, "r")
    yield X, labels, targets, f, path
    f.close()


def rel(got, want):
    """Max relative difference of the parameters (over every layer's coefs and intercepts)."""
    return max(np.max(np.abs(g - w)) / np.max(np.abs(w))
               for g, w in zip(got.coefs_ + got.intercepts_, want.coefs_ + want.intercepts_))


def assert_same_fit(got, want, tol):
    assert got.n_iter_ == want.n_iter_
    assert rel(got, want) <= tol
    if hasattr(want, "loss_curve_"):
        np.testing.assert_allclose(got.loss_curve_, want.loss_curve_, rtol=tol)
        if want.validation_scores_ is not None:
            np.testing.assert_allclose(got.validation_scores_, want.validation_scores_,
                                       rtol=tol)
    else:
        np.testing.assert_allclose(got.loss_, want.loss_, rtol=tol)


def classifier(**kw):
    return DNNClassifier((5, 4), **{"random_state": 3, "max_iter": 15, **kw})


def regressor(**kw):
    return DNNRegressor(hidden_layer_sizes=(5,), **{"random_state": 3, "max_iter": 15, **kw})


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- HDF5 ----------------------------------------------------------------------------

@pytest.mark.parametrize("options", SOLVERS)
def test_hdf5_classifier_equals_in_memory(data, options):
    X, labels, _, f, _ = data
    want = classifier(**options).fit(X, labels)
    if options.get("early_stopping") or options.get("learning_rate") == "adaptive":
        assert want.n_iter_ < want.max_iter     # the stopping rules are exercised
    got = classifier(**options).fit(f["x"], f["labels"])   # strings stored as bytes
    assert list(got.classes_) == list(LABELS)   # decoded to str
    assert_same_fit(got, want, TOL)
    got = classifier(**options).fit(f["x"], labels)
    assert_same_fit(got, want, TOL)
    assert (got.predict(f["x"]) == want.predict(X)).all()
    np.testing.assert_allclose(got.predict_proba(f["x"]), want.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(got.predict_log_proba(f["x"]), want.predict_log_proba(X),
                               rtol=1e-12)
    assert got.score(f["x"], labels) == want.score(X, labels)


@pytest.mark.parametrize("options", SOLVERS)
def test_hdf5_regressor_equals_in_memory(data, options):
    X, _, targets, f, _ = data
    want = regressor(**options).fit(X, targets)
    got = regressor(**options).fit(f["x"], f["targets"])
    assert_same_fit(got, want, TOL)
    np.testing.assert_allclose(got.predict(f["x"]), want.predict(X), rtol=1e-12, atol=1e-14)
    assert got.score(f["x"], f["targets"]) == pytest.approx(want.score(X, targets), rel=1e-12)


def test_hdf5_source_with_labels_small_chunks(data):
    """An HDF5Source (its labels as y, chunks of 10 rows for prediction), binary labels."""
    X, _, _, _, path = data
    y = (X[:, 0] > 0).astype(np.int64)
    want = classifier(batch_size=16).fit(X, y)
    source = HDF5Source(path, "x", "class", chunk_examples=10, scale=None)
    got = classifier(batch_size=16).fit(source, None)
    assert_same_fit(got, want, TOL)
    np.testing.assert_allclose(got.predict_proba(source), want.predict_proba(X), rtol=1e-12)
    assert got.score(source) == want.score(X, y)


def test_hdf5_partial_fit_and_warm_start(data):
    X, labels, _, f, _ = data
    want, got = classifier(), classifier()
    for _ in range(3):
        want.partial_fit(X, labels, classes=LABELS)
        got.partial_fit(f["x"], labels, classes=LABELS)
    assert_same_fit(got, want, TOL)
    want = regressor(warm_start=True, max_iter=4).fit(X, X[:, 0])
    got = regressor(warm_start=True, max_iter=4).fit(f["x"], X[:, 0])
    want.fit(X, X[:, 0])
    got.fit(f["x"], X[:, 0])
    assert_same_fit(got, want, TOL)


def test_hdf5_float32_stays_float32(data):
    X, labels, _, f, _ = data
    want = classifier().fit(X.astype(np.float32), labels)
    got = classifier().fit(f["x32"], labels)
    assert got.coefs_[0].dtype == np.float32
    assert rel(got, want) <= 1e-5
    assert got.predict(f["x32"]).shape == (M,)


def test_hdf5_bad_input(data):
    X, labels, _, f, _ = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        classifier().fit(f["x"], labels[:-1])
    with pytest.raises(ValueError, match="y is None"):
        classifier().fit(f["x"], None)
    est = classifier().fit(X, labels)
    with pytest.raises(ValueError, match="has 3 features"):
        est.predict(f["x3"])
    with pytest.raises(ValueError, match="dropout"):
        classifier(keep_prob=0.5).fit(f["x"], labels)
    with pytest.raises(ValueError, match="strategy='split' needs the training rows in memory"):
        classifier(strategy="split").fit(f["x"], labels)


def test_hdf5_nan_is_refused(tmp_path, data):
    X, labels, _, _, _ = data
    bad = X.copy()
    bad[50, 2] = np.nan
    with h5py.File(tmp_path / "nan.h5", "w") as g:
        g["x"] = bad
    with h5py.File(tmp_path / "nan.h5", "r") as g, pytest.raises(ValueError, match="NaN"):
        classifier(solver="lbfgs").fit(g["x"], labels)


# -- Dask ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.array")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as c, distributed.Client(c) as cl:
        yield cl


@pytest.mark.parametrize("options", [SOLVERS[0], SOLVERS[2], SOLVERS[3], SOLVERS[4]])
def test_dask_classifier_equals_in_memory(client, data, options):
    import dask.array as da

    X, labels, _, _, _ = data
    want = classifier(**options).fit(X, labels)
    Xd = da.from_array(X, chunks=(30, 4))     # uneven row blocks, features split too
    got = classifier(**options).fit(Xd, labels)
    assert_same_fit(got, want, DASK_TOL)
    pred = got.predict(Xd)
    assert isinstance(pred, da.Array)
    assert (pred.compute() == want.predict(X)).all()
    proba = got.predict_proba(Xd)
    assert isinstance(proba, da.Array) and proba.shape == (M, 3)
    np.testing.assert_allclose(proba.compute(), want.predict_proba(X), rtol=1e-10)
    np.testing.assert_allclose(got.predict_log_proba(Xd).compute(),
                               want.predict_log_proba(X), rtol=1e-10)
    assert got.score(Xd, da.from_array(labels, chunks=40)) == want.score(X, labels)


@pytest.mark.parametrize("options", [SOLVERS[1], SOLVERS[4]])
def test_dask_regressor_equals_in_memory(client, data, options):
    import dask.array as da

    X, _, targets, _, _ = data
    want = regressor(**options).fit(X, targets[:, 0])
    got = regressor(**options).fit(da.from_array(X, chunks=(50, 6)),
                                   da.from_array(targets[:, 0], chunks=20))
    assert_same_fit(got, want, DASK_TOL)
    pred = got.predict(da.from_array(X, chunks=(40, 6)))
    assert pred.shape == (M,)
    np.testing.assert_allclose(pred.compute(), want.predict(X), rtol=1e-10, atol=1e-13)


def test_dask_partial_fit(client, data):
    import dask.array as da

    X, labels, _, _, _ = data
    Xd = da.from_array(X, chunks=(25, 6))
    want, got = classifier(solver="sgd"), classifier(solver="sgd")
    for _ in range(2):
        want.partial_fit(X, labels, classes=LABELS)
        got.partial_fit(Xd, labels, classes=LABELS)
    assert_same_fit(got, want, DASK_TOL)
