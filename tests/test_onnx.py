"""ONNX export (``fastdnn.onnx_export``): every exported model is run with onnxruntime
and compared with the Python model's predict_proba / predict.

Tolerance: |onnx - python| <= tol * max(1, |python|) elementwise (absolute for values
up to 1, such as probabilities; relative above), tol = 1e-6 in float32 and 1e-12 in
float64. Labels must be equal.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
neural_network = pytest.importorskip("sklearn.neural_network")

import fastdnn  # noqa: E402
from conftest import binary_problem, regression_problem, softmax_problem  # noqa: E402
from fastdnn.onnx_export import (TARGET_OPSET, mlp_to_onnx, network_to_onnx,  # noqa: E402
                                 register_skl2onnx)

TOL = {np.float32: 1e-6, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
HIDDEN = ["relu", "leaky_relu", "tanh", "sigmoid", "identity"]


# -- helpers ------------------------------------------------------------------------
def run_onnx(model, X):
    """{output name: array} of the model on X (m, n_x), run by onnxruntime."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(None, {session.get_inputs()[0].name: X})
    return {out.name: value for out, value in zip(session.get_outputs(), values)}


def assert_close(got, expected, dtype):
    """got == expected to TOL[dtype] (absolute up to magnitude 1, relative above), same dtype."""
    assert got.dtype == dtype and got.shape == expected.shape
    error = np.abs(got.astype(np.float64) - expected) / np.maximum(1.0, np.abs(expected))
    assert error.max() <= TOL[dtype], error.max()


def fitted_network(output, hidden, dtype, n_out=2):
    """A DeepNeuralNetwork [4, 5, 3, n_L] trained 5 iterations, and its X (4, 30)."""
    if output == "sigmoid":
        X, Y = binary_problem(n_out=n_out)
    elif output == "softmax":
        X, Y, _ = softmax_problem(classes=3)
    else:
        X, Y = regression_problem(n_out=n_out)
    n_L = 3 if output == "softmax" else n_out
    model = fastdnn.DeepNeuralNetwork([4, 5, 3, n_L], 0.1, output=output, hidden_activation=hidden,
                                      dtype=np.dtype(dtype).name, random_state=0)
    return model.fit(X, Y, 5), X.astype(dtype)


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the few iterations
        return estimator.fit(X, y)


def features(dtype, m=40, seed=0):
    return np.random.RandomState(seed).randn(m, 4).astype(dtype)


# -- DeepNeuralNetwork --------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
def test_deep_network_matches_predict(output, hidden, dtype):
    model, X = fitted_network(output, hidden, dtype)
    onnx_model = model.to_onnx()
    onnx.checker.check_model(onnx_model, full_check=True)
    got = run_onnx(onnx_model, np.ascontiguousarray(X.T))
    proba = model.predict_proba(X).T
    if output == "identity":
        assert list(got) == ["predictions"]
        assert_close(got["predictions"], proba, dtype)
        return
    assert list(got) == ["label", "probabilities"]
    assert_close(got["probabilities"], proba, dtype)
    expected = model.predict(X)
    expected = expected.T if output == "sigmoid" else expected.ravel()
    assert got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixed_hidden_activations_and_one_output(dtype):
    X, Y = binary_problem(n_out=1)
    model = fastdnn.DeepNeuralNetwork([4, 3, 3, 3, 3, 1], 0.1, dtype=np.dtype(dtype).name,
                                      hidden_activation=["leaky_relu", "tanh", "sigmoid", "relu"])
    model.fit(X, Y, 5)
    got = run_onnx(model.to_onnx(), np.ascontiguousarray(X.T.astype(dtype)))
    assert_close(got["probabilities"], model.predict_proba(X).T, dtype)
    np.testing.assert_array_equal(got["label"], model.predict(X).T)


def test_graph_interface():
    """Input "X" (batch, n_x) with a symbolic batch; opset; only standard operators, and
    no LeakyRelu in float64 (its float32 alpha attribute would not be the float64 slope)."""
    types = ((np.float64, onnx.TensorProto.DOUBLE), (np.float32, onnx.TensorProto.FLOAT))
    for dtype, elem in types:
        model, _ = fitted_network("softmax", "leaky_relu", dtype)
        onnx_model = model.to_onnx()
        (x,) = onnx_model.graph.input
        dims = x.type.tensor_type.shape.dim
        assert x.name == "X" and x.type.tensor_type.elem_type == elem
        assert dims[0].dim_param == "batch" and dims[1].dim_value == 4
        assert onnx_model.opset_import[0].version == TARGET_OPSET
        ops = {node.op_type for node in onnx_model.graph.node}
        assert ("LeakyRelu" in ops) == (dtype == np.float32)
        assert ops <= {"MatMul", "Add", "LeakyRelu", "Mul", "Max", "Softmax", "ArgMax",
                       "Identity"}
        assert all(t.data_type == elem for t in onnx_model.graph.initializer)


def test_writes_the_file(tmp_path):
    model, X = fitted_network("sigmoid", "relu", np.float64)
    path = tmp_path / "model.onnx"
    returned = model.to_onnx(path)
    assert path.read_bytes() == returned.SerializeToString()
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded)
    assert_close(run_onnx(loaded, np.ascontiguousarray(X.T))["probabilities"],
                 model.predict_proba(X).T, np.float64)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask   # a plain open()'s, not 0600


def test_a_failed_export_keeps_the_old_file(tmp_path, monkeypatch):
    model, _ = fitted_network("sigmoid", "relu", np.float64)
    path = tmp_path / "model.onnx"
    model.to_onnx(path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(
        OSError("fsync failed (simulated)")))
    with pytest.raises(OSError, match="simulated"):
        model.to_onnx(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_loaded_model_exports(tmp_path):
    model, X = fitted_network("softmax", "tanh", np.float32)
    model.save(tmp_path / "m.h5")
    same = fastdnn.load_model(tmp_path / "m.h5")
    got = run_onnx(same.to_onnx(), np.ascontiguousarray(X.T))
    assert_close(got["probabilities"], model.predict_proba(X).T, np.float32)


def test_unfitted_raises_not_fitted():
    with pytest.raises(fastdnn.NotFittedError):
        fastdnn.DeepNeuralNetwork([4, 3, 1]).to_onnx()
    with pytest.raises(fastdnn.NotFittedError, match="not fitted"):
        mlp_to_onnx(neural_network.MLPClassifier())


def test_unsupported_activation_and_bad_arrays():
    W = [np.ones((3, 4)), np.ones((1, 3))]
    b = [np.zeros(3), np.zeros((1, 1))]
    with pytest.raises(ValueError, match="unsupported hidden activation 'softplus'"):
        network_to_onnx(W, b, ["softplus"], "sigmoid", np.float64)
    with pytest.raises(ValueError, match="unsupported output activation 'relu'"):
        network_to_onnx(W, b, ["relu"], "relu", np.float64)
    with pytest.raises(TypeError, match="dtype"):
        network_to_onnx(W, b, ["relu"], "sigmoid", np.float16)
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        network_to_onnx([np.ones((3, 4)), np.ones((1, 2))], b, ["relu"], "sigmoid", np.float64)
    with pytest.raises(ValueError, match="classes must be 2 labels"):
        network_to_onnx(W, b, ["relu"], "sigmoid", np.float64, task="classifier", classes=[1])
    with pytest.raises(ValueError, match="task='regressor' must be one of"):
        network_to_onnx(W, b, ["relu"], "sigmoid", np.float64, task="regressor")


def test_missing_onnx_says_how_to_install(monkeypatch):
    model, _ = fitted_network("sigmoid", "relu", np.float64)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'fastdnn\[onnx\]'"):
        model.to_onnx()


def test_import_fastdnn_does_not_import_onnx():
    code = ("import sys, fastdnn, fastdnn.onnx_export; fastdnn.DeepNeuralNetwork; "
            "assert not {'onnx', 'onnxruntime', 'skl2onnx'} & set(sys.modules), 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- scikit-learn-style estimators ----------------------------------------------------
TARGETS = {
    "binary_strings": lambda X: np.where(X[:, 0] > 0, "yes", "no"),
    "binary_ints": lambda X: np.where(X[:, 1] > 0, 5, -1),
    "binary_bools": lambda X: X[:, 2] > 0,
    "binary_floats": lambda X: (X[:, 3] > 0).astype(float),  # integral floats: int64 labels
    "multiclass_strings": lambda X: np.array(["ant", "bee", "cat"])[np.argmax(X[:, :3], axis=1)],
    "multiclass_ints": lambda X: np.argmax(X[:, 1:], axis=1) + 10,
    "multilabel": lambda X: (X[:, :3] > 0).astype(int),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_mlp_classifier(target, activation, dtype):
    X = features(dtype)
    y = TARGETS[target](X)
    clf = fit_quietly(neural_network.MLPClassifier((5, 3), activation=activation, max_iter=10,
                                                   random_state=0), X, y)
    assert clf.coefs_[0].dtype == dtype  # scikit-learn keeps float32 data in float32
    got = run_onnx(mlp_to_onnx(clf), X)
    assert list(got) == ["label", "probabilities"]
    assert_close(got["probabilities"], clf.predict_proba(X), dtype)
    expected = clf.predict(X)
    assert got["label"].shape == expected.shape
    np.testing.assert_array_equal(got["label"].astype(expected.dtype), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_mlp_regressor(loss, n_outputs, dtype):
    if loss == "poisson" and "loss" not in neural_network.MLPRegressor().get_params():
        pytest.skip("this scikit-learn's MLPRegressor has no Poisson loss")
    X = features(dtype)
    y = np.exp(0.5 * X[:, :n_outputs]) if n_outputs > 1 else np.exp(0.5 * X[:, 0])
    options = {"loss": loss} if loss == "poisson" else {}
    reg = fit_quietly(neural_network.MLPRegressor(hidden_layer_sizes=(5,), activation="tanh",
                                                  max_iter=10, random_state=0, **options), X, y)
    got = run_onnx(mlp_to_onnx(reg), X)
    assert list(got) == ["variable"]
    assert_close(got["variable"], reg.predict(X).reshape(len(X), n_outputs), dtype)


def test_mlp_writes_the_file(tmp_path):
    X = features(np.float64)
    reg = fit_quietly(neural_network.MLPRegressor(hidden_layer_sizes=(3,), max_iter=5), X, X[:, 0])
    returned = mlp_to_onnx(reg, str(tmp_path / "reg.onnx"))
    assert (tmp_path / "reg.onnx").read_bytes() == returned.SerializeToString()


class _DuckClassifier:
    """A fastdnn-estimator-like object: sklearn's attributes plus ``dtype``, leaky relu."""

    def __init__(self, dtype):
        rng = np.random.RandomState(3)
        self.coefs_ = [rng.randn(4, 6), rng.randn(6, 3)]
        self.intercepts_ = [rng.randn(6), rng.randn(3)]
        self.activation, self.out_activation_ = "leaky_relu", "softmax"
        self.classes_, self.dtype = np.array(["x", "y", "z"]), dtype

    def predict_proba(self, X):
        Z = X @ self.coefs_[0] + self.intercepts_[0]
        A = np.where(Z > 0, Z, 0.01 * Z) @ self.coefs_[1] + self.intercepts_[1]
        E = np.exp(A - A.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)


def test_estimator_dtype_attribute_wins():
    """The ``dtype`` attribute of fastdnn's estimators sets the graph's dtype."""
    X = features(np.float64)
    duck = _DuckClassifier("float32")
    got = run_onnx(mlp_to_onnx(duck), X.astype(np.float32))
    assert got["probabilities"].dtype == np.float32
    assert np.abs(got["probabilities"] - duck.predict_proba(X)).max() < 1e-5
    duck = _DuckClassifier("float64")
    got = run_onnx(mlp_to_onnx(duck), X)
    assert_close(got["probabilities"], duck.predict_proba(X), np.float64)
    np.testing.assert_array_equal(got["label"], duck.classes_[duck.predict_proba(X).argmax(1)])
    duck.activation = "softsign"
    with pytest.raises(ValueError, match="softsign"):
        mlp_to_onnx(duck)


# -- skl2onnx pipelines --------------------------------------------------------------
class _PipelineClassifier(neural_network.MLPClassifier):
    """Stands in for fastdnn's estimators: a class skl2onnx does not know by itself."""


class _PipelineRegressor(neural_network.MLPRegressor):
    pass


@pytest.fixture(scope="module")
def skl2onnx():
    module = pytest.importorskip("skl2onnx")
    register_skl2onnx([_PipelineClassifier, _PipelineRegressor])
    return module


def _pipeline(estimator, X, y):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return fit_quietly(make_pipeline(StandardScaler(), estimator), X, y)


@pytest.mark.parametrize("target", ["binary_strings", "multiclass_ints", "multilabel"])
def test_skl2onnx_pipeline_classifier(skl2onnx, target):
    X = features(np.float64) * 3 + 1
    pipe = _pipeline(_PipelineClassifier((5,), max_iter=10, random_state=0), X, TARGETS[target](X))
    model = skl2onnx.to_onnx(pipe, X[:1], options={_PipelineClassifier: {"zipmap": False}})
    onnx.checker.check_model(model)
    got = run_onnx(model, X)
    assert_close(got["probabilities"], pipe.predict_proba(X), np.float64)
    np.testing.assert_array_equal(got["label"], pipe.predict(X))


def test_skl2onnx_pipeline_zipmap_and_float32(skl2onnx):
    """Default zipmap: a list of {class: float32 probability}; float32 model and input."""
    X = features(np.float32) * 3 + 1
    y = TARGETS["multiclass_strings"](X)
    pipe = _pipeline(_PipelineClassifier((5,), max_iter=10, random_state=0), X, y)
    got = run_onnx(skl2onnx.to_onnx(pipe, X[:1]), X)
    np.testing.assert_array_equal(got["output_label"], pipe.predict(X))
    proba = np.array([[row[c] for c in pipe.classes_] for row in got["output_probability"]])
    assert np.abs(proba - pipe.predict_proba(X)).max() <= 1e-6


def test_skl2onnx_nocl_gives_class_indices(skl2onnx):
    X = features(np.float64)
    y = TARGETS["multiclass_strings"](X)
    pipe = _pipeline(_PipelineClassifier((4,), max_iter=10, random_state=0), X, y)
    options = {_PipelineClassifier: {"zipmap": False, "nocl": True}}
    got = run_onnx(skl2onnx.to_onnx(pipe, X[:1], options=options), X)
    np.testing.assert_array_equal(pipe.classes_[got["label"]], pipe.predict(X))


def test_skl2onnx_pipeline_regressor_casts_input(skl2onnx):
    """A float64 regressor behind a float32 input: the converter casts to the model's dtype."""
    X = features(np.float64) * 3 + 1
    pipe = _pipeline(_PipelineRegressor(hidden_layer_sizes=(5,), max_iter=10, random_state=0),
                     X, X[:, :2])
    got = run_onnx(skl2onnx.to_onnx(pipe, X[:1]), X)["variable"]
    assert_close(got, pipe.predict(X), np.float64)
    got32 = run_onnx(skl2onnx.to_onnx(pipe, X[:1].astype(np.float32)), X.astype(np.float32))
    assert np.abs(got32["variable"] - pipe.predict(X)).max() < 1e-5
