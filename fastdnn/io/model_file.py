"""Model files in HDF5: save/load a plain payload dict, atomically.

File layout (root attributes + datasets)::

    attrs: format="fastdnn-model", format_version=1, fastdnn_version, dtype, n_iter,
           layer_dims (int64 (L+1,)), activations (JSON list), hyperparameters (JSON object)
    /parameters/W1 (n1, n0), /parameters/b1 (n1, 1), ... in order W1, b1, W2, b2, ...
    /costs (k,), /cost_iterations (k,)

Pure numpy + h5py (no numba).
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import h5py
import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "save_model_file", "load_model_file"]

FORMAT_NAME = "fastdnn-model"
FORMAT_VERSION = 1
PAYLOAD_KEYS = ("layer_dims", "activations", "dtype", "hyperparameters", "parameters",
                "costs", "cost_iterations", "n_iter", "fastdnn_version")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def _check_payload(p: dict, where: str) -> None:
    """Check structure and shapes (W_l (n_l, n_{l-1}), b_l (n_l, 1)); raise ValueError."""
    missing = [k for k in PAYLOAD_KEYS if k not in p]
    if missing:
        raise ValueError(f"{where}: model payload is missing {missing}")
    dims = list(p["layer_dims"])
    if len(dims) < 2 or any(int(d) != d or d < 1 for d in dims):
        raise ValueError(f"{where}: layer_dims must be >= 2 positive ints, got {dims}")
    L = len(dims) - 1
    if not isinstance(p["hyperparameters"], dict):
        raise ValueError(f"{where}: hyperparameters must be a dict, got "
                         f"{type(p['hyperparameters']).__name__}")
    if len(p["activations"]) != L:
        raise ValueError(f"{where}: {len(p['activations'])} activations for {L} layers "
                         f"(layer_dims {dims})")
    params = p["parameters"]
    want = {}
    for l in range(1, L + 1):
        want[f"W{l}"] = (int(dims[l]), int(dims[l - 1]))
        want[f"b{l}"] = (int(dims[l]), 1)
    absent = [k for k in want if k not in params]
    if absent:
        raise ValueError(f"{where}: parameters {absent} are missing (layer_dims {dims})")
    extra = [k for k in params if k not in want]
    if extra:
        raise ValueError(f"{where}: unexpected parameters {extra} for layer_dims {dims}")
    for k, shape in want.items():
        got = np.shape(params[k])
        if got != shape:
            raise ValueError(f"{where}: parameter {k} has shape {got}, layer_dims {dims} "
                             f"needs {shape}")
    nc, ni = np.shape(p["costs"]), np.shape(p["cost_iterations"])
    if len(nc) != 1 or nc != ni:
        raise ValueError(f"{where}: costs {nc} and cost_iterations {ni} must be 1-D, same length")


def _write(f: h5py.File, p: dict) -> None:
    f.attrs["format"] = FORMAT_NAME
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["fastdnn_version"] = str(p["fastdnn_version"])
    f.attrs["dtype"] = str(p["dtype"])
    f.attrs["n_iter"] = int(p["n_iter"])
    f.attrs["layer_dims"] = np.asarray(p["layer_dims"], dtype=np.int64)
    f.attrs["activations"] = json.dumps([str(a) for a in p["activations"]])
    f.attrs["hyperparameters"] = json.dumps(p["hyperparameters"], default=_json_default)
    g = f.create_group("parameters")
    for l in range(1, len(p["layer_dims"])):
        for k in (f"W{l}", f"b{l}"):
            g.create_dataset(k, data=np.asarray(p["parameters"][k]))
    f.create_dataset("costs", data=np.asarray(p["costs"]))
    f.create_dataset("cost_iterations", data=np.asarray(p["cost_iterations"]))


def save_model_file(path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically (temp file in the same directory, fsync,
    os.replace). On any error the temp file is removed and an existing ``path`` is untouched."""
    path = Path(path)
    _check_payload(payload, str(path))
    try:
        json.dumps(payload["hyperparameters"], default=_json_default)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{str(path)!r}: hyperparameters must be JSON-serializable: {e}") from None
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # O_EXCL: never clobber; 0o666 & ~umask gives the same permissions a plain open() would.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        with h5py.File(tmp, "w") as f:
            _write(f, payload)
            f.flush()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                    # make the rename durable; not possible everywhere
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _str_attr(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _fastdnn_version() -> str:
    pkg = sys.modules.get("fastdnn")       # already imported as our parent package
    if getattr(pkg, "__version__", None):
        return str(pkg.__version__)
    try:
        from importlib.metadata import version
        return version("fastdnn")
    except Exception:
        return "unknown"


def load_model_file(path) -> dict:
    """Read a model file back into the payload dict written by :func:`save_model_file`.

    Arrays come back bit-identical with their dtypes; parameters ordered W1, b1, W2, b2, ...
    """
    path = Path(path)
    where = repr(str(path))
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {where}")
    if path.is_dir():
        raise ValueError(f"{where} is a directory, not a fastdnn model file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{where} is not a readable HDF5 file (truncated, corrupt or another "
                         f"format): {e}") from None
    with f:
        fmt = _str_attr(f.attrs.get("format"))
        if fmt != FORMAT_NAME:
            raise ValueError(f"{where} is an HDF5 file but not a fastdnn model "
                             f"(attribute 'format' is {fmt!r}, expected {FORMAT_NAME!r})")
        ver = f.attrs.get("format_version")
        try:
            ver = int(ver)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: bad 'format_version' attribute {ver!r}") from None
        if ver > FORMAT_VERSION:
            raise ValueError(f"{where} has model format version {ver}, but this fastdnn "
                             f"({_fastdnn_version()}) reads format version {FORMAT_VERSION} or "
                             f"older; upgrade fastdnn to load it")
        if ver < 1:
            raise ValueError(f"{where}: invalid model format version {ver}")
        try:
            a = f.attrs
            dims = [int(d) for d in np.asarray(a["layer_dims"]).ravel()]
            payload = {
                "layer_dims": dims,
                "activations": [str(s) for s in json.loads(_str_attr(a["activations"]))],
                "dtype": str(_str_attr(a["dtype"])),
                "hyperparameters": json.loads(_str_attr(a["hyperparameters"])),
                "parameters": {},
                "costs": f["costs"][()],
                "cost_iterations": f["cost_iterations"][()],
                "n_iter": int(a["n_iter"]),
                "fastdnn_version": str(_str_attr(a["fastdnn_version"])),
            }
            g = f["parameters"]
            names = [f"{w}{l}" for l in range(1, len(dims)) for w in ("W", "b")]
            extra = [k for k in g if k not in names]
            if extra:
                raise ValueError(f"unexpected parameters {extra} for layer_dims {dims}")
            for k in names:
                if k in g:                  # missing ones are reported by _check_payload
                    payload["parameters"][k] = g[k][()]
        except (KeyError, OSError, TypeError, ValueError) as e:
            raise ValueError(f"{where}: damaged or incomplete fastdnn model file: "
                             f"{type(e).__name__}: {e}") from None
    _check_payload(payload, where)
    return payload
