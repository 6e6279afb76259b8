"""ONNX export of the scikit-learn estimators, run with onnxruntime, and of whole pipelines."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
ort = pytest.importorskip("onnxruntime")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastdnn.sklearn import DNNClassifier, DNNRegressor  # noqa: E402

TOL = {np.float32: 1e-6, np.float64: 1e-12}


def run(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def problem(kind, dtype, n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4).astype(dtype)
    s = X @ rng.randn(4, 3)
    y = {"binary": np.where(s[:, 0] > 0, "yes", "no"),
         "multiclass": np.array([3, 7, 11])[np.argmax(s, axis=1)],
         "multilabel": (s[:, :2] > 0).astype(int),
         "regression": s[:, 0], "regression2": s[:, :2]}[kind]
    return X, y


def fitted(kind, dtype, **kw):
    X, y = problem(kind, dtype)
    est = (DNNRegressor if kind.startswith("regression") else DNNClassifier)(
        hidden_layer_sizes=(6, 5), max_iter=20, random_state=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y), X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "leaky_relu"])
def test_classifier_onnx_equals_predict_proba(kind, dtype, activation, tmp_path):
    est, X = fitted(kind, dtype, activation=activation)
    path = tmp_path / "est.onnx"
    out = run(est.to_onnx(path), X)
    assert path.stat().st_size > 0
    np.testing.assert_allclose(out["probabilities"], est.predict_proba(X), rtol=TOL[dtype],
                               atol=TOL[dtype])
    np.testing.assert_array_equal(out["label"], est.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["regression", "regression2"])
def test_regressor_onnx_equals_predict(kind, dtype):
    est, X = fitted(kind, dtype)
    out = run(est.to_onnx(), X)["variable"]
    np.testing.assert_allclose(out, est.predict(X).reshape(out.shape), rtol=TOL[dtype],
                               atol=TOL[dtype])


def test_whole_pipeline_through_skl2onnx():
    skl2onnx = pytest.importorskip("skl2onnx")
    from fastdnn.sklearn import register_onnx_converters
    register_onnx_converters()
    X, y = problem("multiclass", np.float32)
    pipe = make_pipeline(StandardScaler(), DNNClassifier((6,), max_iter=10, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    model = skl2onnx.to_onnx(pipe, X[:1], options={DNNClassifier: {"zipmap": False}})
    out = run(model, X)
    np.testing.assert_array_equal(out["label"], pipe.predict(X))
    np.testing.assert_allclose(out["probabilities"], pipe.predict_proba(X), atol=1e-6)
