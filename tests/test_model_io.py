"""Tests for fastdnn.io.model_file: round trip, atomic writes, foreign/newer/truncated files."""
import os

import h5py
import numpy as np
import pytest

import fastdnn.io.model_file as mio
from fastdnn.io.model_file import FORMAT_NAME, FORMAT_VERSION, load_model_file, save_model_file


def _payload(dims=(12, 5, 3, 1), dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])).astype(dtype)
        params[f"b{l}"] = rng.standard_normal((dims[l], 1)).astype(dtype)
    return {
        "layer_dims": list(dims),
        "activations": ["relu"] * (len(dims) - 2) + ["sigmoid"],
        "dtype": dtype,
        "hyperparameters": {"learning_rate": 0.0075, "num_iterations": 2500, "init": "he",
                            "print_cost": False, "seed": None, "lambd": np.float64(0.1)},
        "parameters": params,
        "costs": rng.random(5),
        "cost_iterations": np.arange(0, 500, 100, dtype=np.int64),
        "n_iter": 500,
        "fastdnn_version": "0.1.0",
        "optimizer_state": {"v": None, "s": None, "t": 500, "rng": 2 ** 64 - 3},
        "validation": None,
    }


def _files(d):
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_bit_identical(tmp_path, dtype):
    p = _payload(dtype=dtype)
    path = tmp_path / "model.h5"
    save_model_file(path, p)
    q = load_model_file(path)
    assert set(q) == set(p) | {"format_version"}
    assert q["format_version"] == FORMAT_VERSION
    assert q["optimizer_state"] == {"v": None, "s": None, "t": 500, "rng": 2 ** 64 - 3}
    assert q["validation"] is None
    assert q["layer_dims"] == [12, 5, 3, 1] and all(type(d) is int for d in q["layer_dims"])
    assert q["activations"] == ["relu", "relu", "sigmoid"]
    assert q["dtype"] == dtype
    assert q["hyperparameters"] == {"learning_rate": 0.0075, "num_iterations": 2500, "init": "he",
                                    "print_cost": False, "seed": None, "lambd": 0.1}
    assert list(q["parameters"]) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for k, v in p["parameters"].items():
        assert q["parameters"][k].dtype == np.dtype(dtype)
        assert q["parameters"][k].shape == v.shape
        assert q["parameters"][k].tobytes() == v.tobytes()
    assert q["costs"].dtype == np.float64 and q["costs"].tobytes() == p["costs"].tobytes()
    np.testing.assert_array_equal(q["cost_iterations"], p["cost_iterations"])
    assert q["cost_iterations"].dtype.kind == "i"
    assert q["n_iter"] == 500 and type(q["n_iter"]) is int
    assert q["fastdnn_version"] == "0.1.0"
    assert _files(tmp_path) == ["model.h5"]          # no temp file left behind


def test_file_attributes(tmp_path):
    save_model_file(tmp_path / "m.h5", _payload())
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f.attrs["format"] == FORMAT_NAME
        assert int(f.attrs["format_version"]) == FORMAT_VERSION == 2


def test_empty_costs_and_special_floats_round_trip(tmp_path):
    p = _payload(dims=(2, 1))
    p["costs"] = np.zeros(0)
    p["cost_iterations"] = np.zeros(0, dtype=np.int64)
    p["parameters"]["W1"][0, 0] = np.nan
    p["parameters"]["b1"][0, 0] = -0.0
    save_model_file(tmp_path / "m.h5", p)
    q = load_model_file(tmp_path / "m.h5")
    assert q["costs"].shape == (0,) and q["cost_iterations"].shape == (0,)
    assert q["parameters"]["W1"].tobytes() == p["parameters"]["W1"].tobytes()
    assert q["parameters"]["b1"].tobytes() == p["parameters"]["b1"].tobytes()


def test_overwrite_existing(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload(seed=0))
    save_model_file(path, _payload(seed=1))
    q = load_model_file(path)
    assert np.array_equal(q["parameters"]["W1"], _payload(seed=1)["parameters"]["W1"])
    assert _files(tmp_path) == ["m.h5"]


def test_accepts_str_path(tmp_path):
    save_model_file(str(tmp_path / "m.h5"), _payload())
    assert load_model_file(str(tmp_path / "m.h5"))["n_iter"] == 500


# ----------------------------------------------------------------------------- atomicity

def test_unstorable_object_leaves_existing_file_untouched(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    before = path.read_bytes()
    bad = _payload(seed=2)
    bad["costs"] = np.array([object(), object(), object(), object(), object()], dtype=object)
    with pytest.raises(TypeError):
        save_model_file(path, bad)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.h5"]


def test_failure_mid_write_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    before = path.read_bytes()
    real = h5py.Group.create_dataset
    calls = {"n": 0}

    def flaky(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real(self, *a, **k)

    monkeypatch.setattr(h5py.Group, "create_dataset", flaky)
    with pytest.raises(OSError, match="simulated"):
        save_model_file(path, _payload(seed=3))
    assert calls["n"] == 3
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.h5"]


def test_failure_at_fsync_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    before = path.read_bytes()

    def boom(fd):
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(mio.os, "fsync", boom)
    with pytest.raises(OSError, match="simulated"):
        save_model_file(path, _payload(seed=4))
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.h5"]


def test_failure_on_new_path_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(mio.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("simulated")))
    with pytest.raises(OSError):
        save_model_file(tmp_path / "new.h5", _payload())
    assert _files(tmp_path) == []


def test_invalid_payload_rejected_before_writing(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    before = path.read_bytes()
    p = _payload()
    p["parameters"]["W2"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match=r"W2 has shape \(5, 5\).*needs \(3, 5\)"):
        save_model_file(path, p)
    p = _payload()
    del p["parameters"]["b3"]
    with pytest.raises(ValueError, match="b3"):
        save_model_file(path, p)
    p = _payload()
    p["hyperparameters"]["cb"] = object()
    with pytest.raises(ValueError, match="JSON"):
        save_model_file(path, p)
    p = _payload()
    del p["n_iter"]
    with pytest.raises(ValueError, match="n_iter"):
        save_model_file(path, p)
    p = _payload()
    p["activations"] = ["relu"]
    with pytest.raises(ValueError, match="activations"):
        save_model_file(path, p)
    p = _payload()
    p["cost_iterations"] = np.arange(3)
    with pytest.raises(ValueError, match="cost_iterations"):
        save_model_file(path, p)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.h5"]


# ----------------------------------------------------------------------------- bad files

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load_model_file(tmp_path / "nope.h5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "junk.h5"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ValueError, match="junk.h5.*not a readable HDF5 file"):
        load_model_file(path)


def test_truncated_model_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload(dims=(200, 50, 1)))
    data = path.read_bytes()
    for n in (len(data) // 2, len(data) - 8, 100):
        path.write_bytes(data[:n])
        with pytest.raises(ValueError, match="m.h5"):
            load_model_file(path)


def test_foreign_hdf5(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train_set_x", data=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="foreign.h5.*not a fastdnn model"):
        load_model_file(path)
    with h5py.File(path, "a") as f:
        f.attrs["format"] = "keras-model"
    with pytest.raises(ValueError, match="keras-model"):
        load_model_file(path)


def test_newer_format_version(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ValueError, match=r"format version 3.*reads format version 2 or older.*upgrade"):
        load_model_file(path)


def test_missing_parameter_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    with h5py.File(path, "a") as f:
        del f["parameters/b2"]
    with pytest.raises(ValueError, match=r"m\.h5.*\['b2'\] are missing"):
        load_model_file(path)


def test_wrong_shape_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    with h5py.File(path, "a") as f:
        del f["parameters/W3"]
        f["parameters/W3"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"W3 has shape \(2, 3\).*needs \(1, 3\)"):
        load_model_file(path)


def test_layer_dims_disagree_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    with h5py.File(path, "a") as f:
        f.attrs["layer_dims"] = np.array([12, 6, 3, 1], dtype=np.int64)
    with pytest.raises(ValueError, match=r"W1 has shape \(5, 12\).*needs \(6, 12\)"):
        load_model_file(path)


def test_missing_attribute_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    with h5py.File(path, "a") as f:
        del f.attrs["activations"]
    with pytest.raises(ValueError, match="damaged or incomplete.*activations"):
        load_model_file(path)


# ----------------------------------------------------------------------------- version 2 state

def _adam_payload(dtype="float64"):
    p = _payload(dtype=dtype)
    p["hyperparameters"]["optimizer"] = "adam"
    rng = np.random.default_rng(7)
    moments = {key: {"d" + k: (rng.random(a.shape) * (1 if key == "s" else -1)).astype(dtype)
                     for k, a in p["parameters"].items()} for key in ("v", "s")}
    p["optimizer_state"] = dict(moments, t=1234, rng=2 ** 63 + 5)
    p["validation"] = {"costs": np.array([0.5, np.nan, 0.3, 0.2, np.inf]),
                       "scores": np.array([0.5, np.nan, 0.7, 0.8, 0.9]), "best_iteration": 300}
    return p


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optimizer_state_and_validation_round_trip(tmp_path, dtype):
    p = _adam_payload(dtype)
    save_model_file(tmp_path / "m.h5", p)
    q = load_model_file(tmp_path / "m.h5")
    assert q["optimizer_state"]["t"] == 1234 and q["optimizer_state"]["rng"] == 2 ** 63 + 5
    for key in ("v", "s"):
        got, want = q["optimizer_state"][key], p["optimizer_state"][key]
        assert list(got) == ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
        for k in want:
            assert got[k].dtype == np.dtype(dtype) and got[k].tobytes() == want[k].tobytes()
    for key in ("costs", "scores"):
        assert q["validation"][key].tobytes() == p["validation"][key].tobytes()
    assert q["validation"]["best_iteration"] == 300
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f["optimizer"].attrs["rng"].dtype == np.uint64
        assert f["optimizer"].attrs["t"].dtype == np.int64


def _bad_state(change):
    p = _adam_payload()
    change(p)
    return p


BAD_STATES = [
    (lambda p: p.update(optimizer_state=None), "optimizer_state must be a dict"),
    (lambda p: p["optimizer_state"].update(s=None), r"'adam' needs its second moments"),
    (lambda p: p["optimizer_state"]["v"].pop("db2"), r"/optimizer/v/db2 missing"),
    (lambda p: p["optimizer_state"]["v"].update(dW1=np.zeros((5, 5))),
     r"/optimizer/v/dW1 has shape \(5, 5\), parameter W1 needs \(5, 12\)"),
    (lambda p: p["optimizer_state"]["s"]["db1"].__setitem__((0, 0), np.nan), "NaN or infinite"),
    (lambda p: p["optimizer_state"]["s"]["db1"].__setitem__((0, 0), -1.0), "negative"),
    (lambda p: p["optimizer_state"].update(rng=2 ** 64), "unsigned 64-bit integer"),
    (lambda p: p["optimizer_state"].update(rng=1.0), "unsigned 64-bit integer"),
    (lambda p: p["optimizer_state"].update(t=-1), "t must be an integer >= 0"),
    (lambda p: p["hyperparameters"].update(optimizer="sgd"), "optimizer must be one of"),
    (lambda p: p["validation"].update(costs=np.zeros(4)), r"validation costs have shape \(4,\)"),
    (lambda p: p["validation"].update(best_iteration=-2), "best_iteration"),
]


@pytest.mark.parametrize("change, message", BAD_STATES)
def test_invalid_state_rejected_before_writing(tmp_path, change, message):
    path = tmp_path / "m.h5"
    save_model_file(path, _adam_payload())
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        save_model_file(path, _bad_state(change))
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.h5"]


def test_gd_needs_no_moments(tmp_path):
    p = _payload()
    p["hyperparameters"]["optimizer"] = "gd"
    save_model_file(tmp_path / "m.h5", p)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert list(f["optimizer"]) == [] and "validation" not in f
    assert load_model_file(tmp_path / "m.h5")["optimizer_state"]["v"] is None
