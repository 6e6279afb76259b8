"""Tests for saving and loading DeepNeuralNetwork (fastdnn.persistence, model.save)."""
import h5py
import numpy as np
import pytest

import fastdnn
from fastdnn import DeepNeuralNetwork, load_model
from fastdnn.io.data import load_builtin

DIMS_HIDDEN = [12, 6, 1]


@pytest.fixture(scope="module")
def data():
    train, test = load_builtin()
    return train, test


def _model(train, dtype="float64", strategy="direct", lr=0.05):
    return DeepNeuralNetwork([train.n_x, *DIMS_HIDDEN], lr, init="scaled", random_state=3,
                             dtype=dtype, strategy=strategy)


def _assert_params_identical(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("strategy", ["direct", "gram"])
def test_round_trip_bit_identical(tmp_path, data, dtype, strategy):
    train, test = data
    model = _model(train, dtype, strategy).fit(train.X, train.Y, 45, record_every=10)
    path = tmp_path / "m.h5"
    model.save(path)
    loaded = load_model(path)
    _assert_params_identical(model.parameters_, loaded.parameters_)
    assert loaded.parameters_["W1"].dtype == np.dtype(dtype)
    assert loaded.dtype_ == model.dtype_ == np.dtype(dtype)
    assert loaded.costs_ == model.costs_
    assert loaded.cost_iterations_ == model.cost_iterations_ == [0, 10, 20, 30, 40]
    assert loaded.n_iter_ == model.n_iter_ == 45
    assert loaded.layer_dims_ == model.layer_dims_
    assert loaded.activations_ == model.activations_
    for name in ("learning_rate", "init", "random_state", "strategy"):
        assert getattr(loaded, name) == getattr(model, name), name
    np.testing.assert_array_equal(loaded.predict_proba(test.X), model.predict_proba(test.X))
    np.testing.assert_array_equal(loaded.predict(test.X), model.predict(test.X))
    assert loaded.score(test.X, test.Y) == model.score(test.X, test.Y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n, k", [(30, 20), (25, 15)])
def test_warm_start_after_load_equals_uninterrupted_direct(tmp_path, data, dtype, n, k):
    """Direct strategy: save after n, load, fit k more == fit(n + k), bit for bit.

    The direct engine carries nothing but the parameters between iterations, and they
    round-trip bit-identically, so the continued run repeats exactly the same arithmetic.
    (n = 25 also checks that recording continues at multiples of record_every.)
    """
    train, _ = data
    full = _model(train, dtype).fit(train.X, train.Y, n + k, record_every=10)
    part = _model(train, dtype).fit(train.X, train.Y, n, record_every=10)
    part.save(tmp_path / "m.h5")
    resumed = load_model(tmp_path / "m.h5").fit(train.X, train.Y, k, record_every=10,
                                                warm_start=True)
    _assert_params_identical(resumed.parameters_, full.parameters_)
    assert resumed.costs_ == full.costs_
    assert resumed.cost_iterations_ == full.cost_iterations_
    assert resumed.n_iter_ == full.n_iter_ == n + k
    assert resumed.dtype_ == np.dtype(dtype)


def test_warm_start_after_load_equals_uninterrupted_gram(tmp_path, data):
    """Gram strategy: save after n, load, fit k more == fit(n + k) to 1e-12 relative.

    Not bit-identical by design: the Gram engine never updates W1 while training; it moves
    Z1 = W1 X + b1 incrementally (Z1 -= step * dZ1 G - lr * db1, with G = X^T X) and only
    recovers W1 = W1_0 - step * S X^T at the end. A new fit (after a load) re-forms
    Z1 = W1 X + b1 from the recovered W1, which rounds differently from the incrementally
    updated Z1 the uninterrupted run carries on with. Both are exact in real arithmetic, so
    the runs differ only by rounding (~1e-15 relative), far below 1e-12.
    """
    train, _ = data
    n, k = 30, 20
    full = _model(train, strategy="gram").fit(train.X, train.Y, n + k, record_every=10)
    part = _model(train, strategy="gram").fit(train.X, train.Y, n, record_every=10)
    part.save(tmp_path / "m.h5")
    resumed = load_model(tmp_path / "m.h5").fit(train.X, train.Y, k, record_every=10,
                                                warm_start=True)
    assert full.strategy_ == resumed.strategy_ == "gram"
    for key, ref in full.parameters_.items():
        np.testing.assert_allclose(resumed.parameters_[key], ref, rtol=1e-12,
                                   atol=1e-12 * np.max(np.abs(ref)), err_msg=key)
    np.testing.assert_allclose(resumed.costs_, full.costs_, rtol=1e-12)
    assert resumed.cost_iterations_ == full.cost_iterations_
    assert resumed.n_iter_ == full.n_iter_


def test_loaded_model_continues_in_its_dtype(tmp_path, data):
    train, _ = data
    _model(train, "float32").fit(train.X, train.Y, 10).save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5").fit(train.X, train.Y, 5, warm_start=True)
    assert loaded.dtype_ == np.float32
    assert all(a.dtype == np.float32 for a in loaded.parameters_.values())
    assert loaded.n_iter_ == 15


def test_save_overwrites_atomically(tmp_path, data):
    train, _ = data
    path = tmp_path / "m.h5"
    _model(train).fit(train.X, train.Y, 5).save(path)
    second = _model(train).fit(train.X, train.Y, 8)
    second.save(path)
    assert load_model(path).n_iter_ == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]     # no temp files left


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "nope.h5")


def test_load_foreign_hdf5(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train_set_x", data=np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="not a fastdnn model"):
        load_model(path)


def test_load_corrupt_file(tmp_path, data):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"\x00garbage, not HDF5" * 50)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_model(path)
    train, _ = data
    good = tmp_path / "good.h5"
    _model(train).fit(train.X, train.Y, 5).save(good)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError):
        load_model(truncated)


def test_load_damaged_model(tmp_path, data):
    train, _ = data
    path = tmp_path / "m.h5"
    _model(train).fit(train.X, train.Y, 5).save(path)
    with h5py.File(path, "a") as f:
        del f["parameters/W2"]
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(path)
    from fastdnn.io.model_file import seal_model_file
    seal_model_file(path)
    with pytest.raises(ValueError, match="W2"):
        load_model(path)


def test_load_directory(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path)


def test_save_unfitted_model_raises(tmp_path):
    model = DeepNeuralNetwork([4, 3, 1])
    with pytest.raises(RuntimeError, match="not fitted"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


def test_top_level_load_model_is_persistence_load_model():
    from fastdnn.persistence import load_model as lm

    assert fastdnn.load_model is lm
