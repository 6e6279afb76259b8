"""A softmax network learns scikit-learn's bundled digits (set-up: scripts/digits_vs_sklearn.py)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "digits_vs_sklearn.py"


def _script():
    spec = importlib.util.spec_from_file_location("digits_vs_sklearn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_softmax_network_reaches_096_test_accuracy():
    digits = _script()
    X_tr, y_tr, X_te, y_te = digits.load_data()
    assert X_tr.shape == (64, 1347) and X_te.shape == (64, 450)
    assert y_tr.shape == (1, 1347)  # integer class labels, taken one-hot by the softmax output
    model = digits.make_fastdnn(hidden=(64,), learning_rate=1e-3, batch_size=32)
    digits.fit_fastdnn(model, X_tr, y_tr, 40)
    assert model.n_iter_ == 40
    accuracy = model.score(X_te, y_te)
    assert accuracy >= digits.MIN_ACCURACY, accuracy
    assert model.predict(X_te).shape == (1, 450)
