"""HDF5 files of fitted scikit-learn estimators (``DNNClassifier``, ``DNNRegressor``).

Sealed and written atomically like model files (``model_file.write_sealed`` /
``read_sealed``: SHA-256 integrity header, temp file + rename). Layout:

- root attributes: ``format`` = "fastdnn-sklearn-estimator", ``format_version``,
  ``fastdnn_version``, ``estimator`` (class name), ``params`` and ``fitted``
  (JSON: the constructor's arguments; the fitted scalars and lists);
- datasets ``coefs/0..L-1`` (n_in, n_out), ``intercepts/0..L-1`` (n_out,), and
  where present ``classes`` (labels: ints, floats, bools or UTF-8 strings),
  ``feature_names_in``, ``state/vel``, ``state/sq``, ``state/rng``, ``state/best``
  (the optimiser's moments, dropout generator and early stopping's best
  parameters, so that ``partial_fit`` continues exactly).

No pickle: nothing in the file is executed on loading.
"""

import json

import h5py
import numpy as np

from .model_file import ModelFileError, read_sealed, write_sealed

FORMAT_NAME = "fastdnn-sklearn-estimator"
FORMAT_VERSION = 1
ESTIMATORS = ("DNNClassifier", "DNNRegressor")


def save_estimator_file(path, payload):
    """Write ``payload`` (keys: estimator, params, fitted, coefs, intercepts and optional
    classes, feature_names_in, state) to ``path``."""
    from .. import __version__

    def write(f):
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["fastdnn_version"] = __version__
        f.attrs["estimator"] = payload["estimator"]
        f.attrs["params"] = json.dumps(payload["params"])
        f.attrs["fitted"] = json.dumps(payload["fitted"])
        for group in ("coefs", "intercepts"):
            g = f.create_group(group)
            for i, a in enumerate(payload[group]):
                g.create_dataset(str(i), data=a)
        for name in ("classes", "feature_names_in"):
            if payload.get(name) is not None:
                f.create_dataset(name, data=_storable(payload[name]))
        state = f.create_group("state")
        for name, a in (payload.get("state") or {}).items():
            state.create_dataset(name, data=a)

    write_sealed(path, write)


def load_estimator_file(path):
    """The payload written by ``save_estimator_file``; ModelFileError naming what is wrong."""
    return read_sealed(path, _read)


def is_estimator_file(path):
    """Whether ``path`` is a (sound) estimator file rather than a model file."""
    return read_sealed(path, lambda f, *_: _text(f.attrs.get("format")) == FORMAT_NAME)


def _read(f, where, size, sealed):
    def fail(msg):
        raise ModelFileError("%s: %s" % (where, msg))

    if _text(f.attrs.get("format")) != FORMAT_NAME:
        fail("not a fastdnn estimator file (format %r)" % _text(f.attrs.get("format")))
    version = int(f.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        fail("estimator file format version %d; this fastdnn reads version %d"
             % (version, FORMAT_VERSION))
    estimator = _text(f.attrs.get("estimator"))
    if estimator not in ESTIMATORS:
        fail("unknown estimator %r (expected one of %s)" % (estimator, ", ".join(ESTIMATORS)))
    try:
        params, fitted = json.loads(_text(f.attrs["params"])), json.loads(_text(f.attrs["fitted"]))
    except (KeyError, ValueError) as err:
        fail("damaged estimator file: unreadable params/fitted attributes (%s)" % err)
    payload = {"estimator": estimator, "params": params, "fitted": fitted}
    for group in ("coefs", "intercepts"):
        if group not in f:
            fail("damaged estimator file: no %r group" % group)
        payload[group] = [f[group][str(i)][()] for i in range(len(f[group]))]
    coefs, intercepts = payload["coefs"], payload["intercepts"]
    if not coefs or len(coefs) != len(intercepts):
        fail("damaged estimator file: %d coefficient and %d intercept arrays"
             % (len(coefs), len(intercepts)))
    for i, (c, b) in enumerate(zip(coefs, intercepts)):
        if c.ndim != 2 or b.shape != (c.shape[1],) or (i and c.shape[0] != coefs[i - 1].shape[1]):
            fail("damaged estimator file: layer %d has coefs %s and intercepts %s, which do "
                 "not chain" % (i, c.shape, b.shape))
        if c.dtype not in (np.float32, np.float64) or b.dtype != c.dtype:
            fail("damaged estimator file: layer %d has dtypes %s / %s" % (i, c.dtype, b.dtype))
    for name in ("classes", "feature_names_in"):
        payload[name] = _loaded(f[name][()]) if name in f else None
    payload["state"] = {name: f["state"][name][()] for name in f.get("state", {})}
    return payload


def _storable(a):
    a = np.asarray(a)
    if a.dtype.kind in "OU":
        return np.array([str(x).encode("utf-8") for x in a], dtype=h5py.string_dtype())
    return a


def _loaded(a):
    if a.dtype.kind in "OS":
        return np.array([x.decode("utf-8") if isinstance(x, bytes) else x for x in a], dtype=object)
    return a


def _text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v
