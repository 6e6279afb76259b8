"""Tests for fastdnn.io.model_file: round trip, atomic writes, foreign/newer/truncated files,
the format-3 integrity header, guarded reads and the checkpoint slot."""
import hashlib
import os
import struct

import h5py
import numpy as np
import pytest

import fastdnn.io.model_file as mio
from fastdnn.io.model_file import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelFileError,
    load_model_file,
    save_model_file,
    seal_model_file,
)


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


def _edit(path, change):
    """Edit a saved file with h5py (which keeps the user block), then reseal it, so that
    loading reaches the contents instead of stopping at the checksum."""
    with h5py.File(path, "a") as f:
        change(f)
    seal_model_file(path)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_bit_identical(tmp_path, dtype):
    p = _payload(dtype=dtype)
    path = tmp_path / "model.h5"
    save_model_file(path, p)
    q = load_model_file(path)
    assert set(q) == set(p) | {"format_version", "checkpoint"}
    assert q["format_version"] == FORMAT_VERSION
    assert q["checkpoint"] is None
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
        assert int(f.attrs["format_version"]) == FORMAT_VERSION == 3
        assert f.userblock_size == 512


def test_empty_costs_and_special_floats_round_trip(tmp_path):
    p = _payload(dims=(2, 1))
    p["costs"] = np.array([np.nan, np.inf, -0.0])        # costs may be anything a run recorded
    p["cost_iterations"] = np.arange(3, dtype=np.int64)
    p["parameters"]["b1"][0, 0] = -0.0
    save_model_file(tmp_path / "m.h5", p)
    q = load_model_file(tmp_path / "m.h5")
    assert q["costs"].tobytes() == p["costs"].tobytes()
    assert q["parameters"]["W1"].tobytes() == p["parameters"]["W1"].tobytes()
    assert q["parameters"]["b1"].tobytes() == p["parameters"]["b1"].tobytes()
    p["costs"], p["cost_iterations"] = np.zeros(0), np.zeros(0, dtype=np.int64)
    save_model_file(tmp_path / "m.h5", p)
    q = load_model_file(tmp_path / "m.h5")
    assert q["costs"].shape == (0,) and q["cost_iterations"].shape == (0,)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused(tmp_path, bad):
    """A model whose parameters are NaN/inf predicts garbage: never written, never loaded."""
    p = _payload(dims=(2, 1))
    p["parameters"]["W1"][0, 0] = bad
    with pytest.raises(ModelFileError, match=r"m\.h5.*parameter W1 holds NaN or infinite"):
        save_model_file(tmp_path / "m.h5", p)
    assert _files(tmp_path) == []
    save_model_file(tmp_path / "m.h5", _payload(dims=(2, 1)))
    _edit(tmp_path / "m.h5", lambda f: f["parameters/W1"].__setitem__((0, 0), bad))
    with pytest.raises(ModelFileError, match=r"m\.h5.*/parameters/W1 holds NaN or infinite"):
        load_model_file(tmp_path / "m.h5")


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
    _edit(path, lambda f: f.attrs.__setitem__("format_version", FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError,
                       match=r"format version 4.*reads format version 3 or older.*upgrade"):
        load_model_file(path)


def test_missing_parameter_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    _edit(path, lambda f: f.__delitem__("parameters/b2"))
    with pytest.raises(ModelFileError, match=r"m\.h5.*\['b2'\] are missing"):
        load_model_file(path)


def test_wrong_shape_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())

    def change(f):
        del f["parameters/W3"]
        f["parameters/W3"] = np.zeros((2, 3))
    _edit(path, change)
    with pytest.raises(ModelFileError, match=r"W3 has shape \(2, 3\).*needs \(1, 3\)"):
        load_model_file(path)


def test_layer_dims_disagree_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    _edit(path, lambda f: f.attrs.__setitem__("layer_dims", np.array([12, 6, 3, 1], np.int64)))
    with pytest.raises(ModelFileError, match=r"W1 has shape \(5, 12\).*needs \(6, 12\)"):
        load_model_file(path)


def test_missing_attribute_in_file(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    _edit(path, lambda f: f.attrs.__delitem__("activations"))
    with pytest.raises(ModelFileError, match="damaged or incomplete.*activations"):
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


# ----------------------------------------------------------------------------- format 3: integrity

def test_integrity_header_layout(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _payload())
    data = path.read_bytes()
    magic, version, ublock, length, digest = struct.unpack("<12sIIQ32s", data[:60])
    assert magic == b"\x89fastdnn\r\n\x1a\n" and version == 1 and ublock == 512
    assert length == len(data)
    assert data[512:520] == b"\x89HDF\r\n\x1a\n"
    assert b"fastdnn model file" in data[64:512]
    zeroed = data[:28] + bytes(32) + data[60:]
    assert hashlib.sha256(zeroed).digest() == digest


def test_error_type_is_a_documented_value_error():
    import fastdnn.io

    assert issubclass(ModelFileError, ValueError)
    assert fastdnn.io.ModelFileError is ModelFileError
    assert issubclass(fastdnn.io.DataFileError, ValueError)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.h5"
    save_model_file(path, _adam_payload())
    return path


def _forbid_hdf5(monkeypatch):
    """Fail the test if libhdf5 is asked to open anything."""
    def refuse(*a, **k):
        raise AssertionError("h5py.File was called on a file that failed its integrity check")
    monkeypatch.setattr(mio.h5py, "File", refuse)


@pytest.mark.parametrize("offset", [100, 512, 513, 1000, -1, -200])
def test_flipped_byte_is_a_checksum_mismatch_and_never_parsed(saved, monkeypatch, offset):
    data = bytearray(saved.read_bytes())
    data[offset] ^= 0x10
    saved.write_bytes(bytes(data))
    _forbid_hdf5(monkeypatch)
    with pytest.raises(ModelFileError, match=r"m\.h5' is damaged: checksum mismatch"):
        load_model_file(saved)


def test_truncated_is_reported_with_both_lengths(saved, monkeypatch):
    data = saved.read_bytes()
    saved.write_bytes(data[:1500])
    _forbid_hdf5(monkeypatch)
    with pytest.raises(ModelFileError, match=rf"damaged: truncated: 1500 bytes, header says "
                                             rf"{len(data)}"):
        load_model_file(saved)
    saved.write_bytes(data[:40])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model_file(saved)


def test_appended_bytes_and_unsealed_edits_are_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data + b"\0" * 10)
    with pytest.raises(ModelFileError, match=rf"{len(data) + 10} bytes, header says {len(data)}"):
        load_model_file(saved)
    saved.write_bytes(data)
    with h5py.File(saved, "a") as f:                # an edit in place, not resealed
        f["parameters/W1"][0, 0] = 1.0
    with pytest.raises(ModelFileError, match="checksum mismatch|header says"):
        load_model_file(saved)
    seal_model_file(saved)
    assert load_model_file(saved)["parameters"]["W1"][0, 0] == 1.0


def test_damaged_or_newer_header(saved, monkeypatch):
    data = saved.read_bytes()
    _forbid_hdf5(monkeypatch)
    saved.write_bytes(b"X" + data[1:])
    with pytest.raises(ModelFileError, match="integrity header .* is corrupt"):
        load_model_file(saved)
    saved.write_bytes(data[:12] + struct.pack("<I", 2) + data[16:])
    with pytest.raises(ModelFileError, match="integrity header version 2.*upgrade fastdnn"):
        load_model_file(saved)
    saved.write_bytes(data[:16] + struct.pack("<I", 1024) + data[20:])
    with pytest.raises(ModelFileError, match="user block of 1024 bytes"):
        load_model_file(saved)


def test_empty_and_tiny_files(tmp_path):
    for content in (b"", b"\x89", b"\x89fastdnn\r\n\x1a\n"):
        (tmp_path / "e.h5").write_bytes(content)
        with pytest.raises(ModelFileError, match=r"e\.h5"):
            load_model_file(tmp_path / "e.h5")


def test_seal_refuses_a_file_without_user_block(tmp_path):
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ModelFileError, match="cannot seal"):
        seal_model_file(tmp_path / "plain.h5")


def _write_legacy(path, payload, version):
    with h5py.File(path, "w") as f:
        mio._write(f, payload, version=version)


@pytest.mark.parametrize("version", [1, 2])
def test_digestless_versions_still_load(tmp_path, version):
    p = _adam_payload() if version == 2 else _payload()
    if version == 1:
        p["optimizer_state"], p["validation"] = None, None
    _write_legacy(tmp_path / "old.h5", p, version)
    q = load_model_file(tmp_path / "old.h5")
    assert q["format_version"] == version and q["checkpoint"] is None
    for k, v in p["parameters"].items():
        assert q["parameters"][k].tobytes() == v.tobytes()
    assert (q["optimizer_state"] is None) == (version == 1)


def test_version_3_without_header_or_version_2_with_one(tmp_path):
    _write_legacy(tmp_path / "m.h5", _payload(), 3)
    with pytest.raises(ModelFileError, match="format version 3 file without its integrity "
                                             "header"):
        load_model_file(tmp_path / "m.h5")
    save_model_file(tmp_path / "s.h5", _payload())
    _edit(tmp_path / "s.h5", lambda f: f.attrs.__setitem__("format_version", 2))
    with pytest.raises(ModelFileError, match="format version 2 file cannot have an integrity"):
        load_model_file(tmp_path / "s.h5")


# ----------------------------------------------------------------------------- guarded reads

def _set_attr(name, value, group="/"):
    return lambda f: f[group].attrs.__setitem__(name, value)


def _replace(name, value=None, **kw):
    def change(f):
        del f[name]
        if value is None:
            f.create_dataset(name, **kw)
        else:
            f[name] = value
    return change


GUARDS = [
    ("absurd layer_dims", _set_attr("layer_dims", np.array([12, 10 ** 9, 3, 1], np.int64)),
     r"layer_dims \[12, 1000000000, 3, 1\] need \d+ bytes .* more than the whole file"),
    ("absurd declared shape, no storage",
     lambda f: (_replace("parameters/W1", shape=(10 ** 6, 10 ** 6), dtype="f8")(f),
                f.attrs.__setitem__("layer_dims", np.array([10 ** 6, 5, 3, 1], np.int64))),
     r"more than the whole file"),
    ("absurd compressed dataset", _replace("costs", shape=(10 ** 12,), dtype="f8",
                                           chunks=(10 ** 6,), compression="gzip"),
     r"costs \(/costs\) declares 8000000000000 bytes .* more than the whole file"),
    ("never written", _replace("parameters/W1", shape=(5, 12), dtype="f8"),
     r"/parameters/W1\) stores 0 of its 480 bytes"),
    ("string parameter", _replace("parameters/b1", np.array([b"a"] * 5).reshape(5, 1)),
     r"parameter \(/parameters/b1\) must be floating-point numbers, got strings"),
    ("integer parameter", _replace("parameters/b1", np.zeros((5, 1), np.int64)),
     r"/parameters/b1\) must be floating-point numbers, got dtype int64"),
    ("float32 parameter", _replace("parameters/b1", np.zeros((5, 1), np.float32)),
     r"parameter /parameters/b1 is float32, the model's dtype is float64"),
    ("inf parameter", lambda f: f["parameters/W2"].__setitem__((0, 0), np.inf),
     r"/parameters/W2 holds NaN or infinite values \(1 of 15\)"),
    ("parameter is a group", lambda f: (f.__delitem__("parameters/W2"),
                                        f.create_group("parameters/W2")),
     r"/parameters/W2 is a group, expected a dataset"),
    ("parameters is a dataset", _replace("parameters", np.zeros(3)),
     r"/parameters is a dataset, expected a group"),
    ("soft link", lambda f: (f.__delitem__("parameters/W2"),
                             f["parameters"].__setitem__("W2", h5py.SoftLink("/costs"))),
     r"/parameters/W2 is a SoftLink"),
    ("extra root dataset", lambda f: f.create_dataset("extra", data=[1]),
     r"unexpected entries \['extra'\] in /"),
    ("extra root attribute", _set_attr("comment", "hi"), r"unexpected attributes \['comment'\]"),
    ("missing costs", lambda f: f.__delitem__("costs"), r"/costs is missing"),
    ("string costs", _replace("costs", np.array([b"x"] * 5)),
     r"costs \(/costs\) must be floating-point numbers"),
    ("2-D costs", _replace("costs", np.zeros((5, 1))), r"costs \(/costs\) must be 1-D"),
    ("n_iter string", _set_attr("n_iter", "500"),
     r"number of iterations \(attribute 'n_iter'\) must be an integer, got a string"),
    ("n_iter float", _set_attr("n_iter", 500.0), r"'n_iter'\) must be an integer, got float64"),
    ("layer_dims string", _set_attr("layer_dims", "[12, 5, 3, 1]"),
     r"layer_dims must be a 1-D integer array, got a string"),
    ("layer_dims zero", _set_attr("layer_dims", np.array([12, 0, 3, 1])),
     r"layer_dims must be >= 2 positive ints"),
    ("format_version string", _set_attr("format_version", "3"),
     r"bad 'format_version' attribute"),
    ("dtype float16", _set_attr("dtype", "float16"),
     r"dtype'\) must be one of \['float32', 'float64'\], got 'float16'"),
    ("dtype number", _set_attr("dtype", 64), r"model dtype \(attribute 'dtype'\) must be a string"),
    ("hyperparameters not JSON", _set_attr("hyperparameters", "{learning_rate: 1"),
     r"hyper-parameters \(attribute 'hyperparameters'\) is not valid JSON"),
    ("hyperparameters a list", _set_attr("hyperparameters", "[1, 2]"),
     r"must be a JSON dict, got list"),
    ("activations not names", _set_attr("activations", "[1, 2, 3]"),
     r"activations .* must be a JSON list of names"),
    ("deep JSON", _set_attr("activations", "[" * 100000 + "]" * 100000),
     r"activations \(attribute 'activations'\) is not valid JSON"),
    ("t string", _set_attr("t", "5", "optimizer"),
     r"optimizer step count \(attribute 't'\) must be an integer, got a string"),
    ("moment string", _replace("optimizer/v/dW1", np.array([[b"a"] * 12] * 5)),
     r"optimizer moment \(/optimizer/v/dW1\) must be floating-point numbers"),
    ("extra validation entry", lambda f: f.create_dataset("validation/x", data=[1.0]),
     r"unexpected entries \['x'\] in /validation"),
]


@pytest.mark.parametrize("change, message", [(c, m) for _, c, m in GUARDS],
                         ids=[name for name, _, _ in GUARDS])
def test_guarded_reads(saved, change, message):
    _edit(saved, change)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model_file(saved)
    assert "m.h5" in str(info.value)


def test_guards_apply_to_digestless_files_too(tmp_path):
    path = tmp_path / "old.h5"
    _write_legacy(path, _adam_payload(), 2)
    with h5py.File(path, "a") as f:
        del f["costs"]
        f.create_dataset("costs", shape=(10 ** 12,), dtype="f8", chunks=(10 ** 6,),
                         compression="gzip")
    with pytest.raises(ModelFileError, match="more than the whole file"):
        load_model_file(path)


# ----------------------------------------------------------------------------- checkpoint

def _checkpoint():
    return {"weights_copy": np.arange(6, dtype=np.float32).reshape(2, 3),
            "order": np.array([3, 1, 2], dtype=np.int64), "mask": np.array([True, False]),
            "scalar_array": np.array(2.5), "epoch": 7, "rng_state": 2 ** 64 - 1,
            "negative": -(2 ** 63), "lr": 0.125, "best": float("inf"), "done": False,
            "note": "héllo wörld", "empty": np.zeros((0, 4))}


def test_checkpoint_round_trip(tmp_path):
    p = _adam_payload()
    p["checkpoint"] = _checkpoint()
    save_model_file(tmp_path / "m.h5", p)
    q = load_model_file(tmp_path / "m.h5")
    want = _checkpoint()
    assert set(q["checkpoint"]) == set(want)
    for k, v in want.items():
        got = q["checkpoint"][k]
        if isinstance(v, np.ndarray):
            assert isinstance(got, np.ndarray) and got.dtype == v.dtype and got.shape == v.shape
            assert got.tobytes() == v.tobytes(), k
        else:
            assert type(got) is type(v) and got == v, k
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert sorted(f["checkpoint"]) == ["empty", "mask", "order", "scalar_array",
                                           "weights_copy"]
        assert f["checkpoint"].attrs["rng_state"].dtype == np.uint64
    p["checkpoint"] = {}
    save_model_file(tmp_path / "m.h5", p)
    assert load_model_file(tmp_path / "m.h5")["checkpoint"] == {}


BAD_CHECKPOINTS = [
    ([1, 2], "checkpoint must be None or a dict"),
    ({"a b": 1}, "'a b' is not a simple identifier"),
    ({"1a": 1}, "'1a' is not a simple identifier"),
    ({"x" * 65: 1}, "is not a simple identifier"),
    ({"a": np.array([1.0, np.nan])}, "checkpoint entry 'a' holds NaN or infinite"),
    ({"a": np.array(["s"])}, "checkpoint entry 'a' must be a numeric array"),
    ({"a": np.array([object()])}, "must be a numeric array"),
    ({"a": [1, 2]}, "must be a numpy array, int, float, bool or str, got list"),
    ({"a": None}, "got NoneType"),
    ({"a": 2 ** 64}, "does not fit in 64 bits"),
]


@pytest.mark.parametrize("checkpoint, message", BAD_CHECKPOINTS)
def test_invalid_checkpoint_rejected_before_writing(tmp_path, checkpoint, message):
    p = _payload()
    p["checkpoint"] = checkpoint
    with pytest.raises(ModelFileError, match=message):
        save_model_file(tmp_path / "m.h5", p)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("change, message", [
    (lambda f: f.create_dataset("checkpoint/a", data=np.array([1.0, np.nan])),
     r"checkpoint entry 'a' /checkpoint/a holds NaN"),
    (lambda f: f.create_dataset("checkpoint/a", data=np.array([b"s"])),
     r"checkpoint entry 'a' \(/checkpoint/a\) must be numbers, got strings"),
    (lambda f: f.create_dataset("checkpoint/a b", data=np.zeros(2)), "not a simple identifier"),
    (lambda f: f.create_group("checkpoint/g"), r"/checkpoint/g is a group"),
    (lambda f: f.create_dataset("checkpoint/big", shape=(10 ** 7, 10 ** 5), dtype="f8",
                                chunks=True, compression="gzip"), "more than the whole file"),
    (lambda f: f["checkpoint"].attrs.__setitem__("arr", np.arange(3)),
     r"checkpoint entry 'arr' \(attribute of /checkpoint\) must be a scalar"),
    (lambda f: f["checkpoint"].attrs.__setitem__("z", 1), "both a dataset and an attribute"),
    (lambda f: (f.__delitem__("checkpoint"), f.create_dataset("checkpoint", data=[1])),
     r"/checkpoint is a dataset, expected a group"),
])
def test_malformed_checkpoint_in_file(tmp_path, change, message):
    p = _payload()
    p["checkpoint"] = {"z": np.zeros(2)}
    save_model_file(tmp_path / "m.h5", p)
    _edit(tmp_path / "m.h5", change)
    with pytest.raises(ModelFileError, match=message):
        load_model_file(tmp_path / "m.h5")
