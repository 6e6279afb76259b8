"""Model files in HDF5: save/load a plain payload dict, atomically.

File layout, format version 2 (root attributes + groups and datasets)::

    attrs: format="fastdnn-model", format_version=2, fastdnn_version, dtype, n_iter,
           layer_dims (int64 (L+1,)), activations (JSON list of the L resolved names),
           hyperparameters (JSON object: every constructor argument of DeepNeuralNetwork
           except layer_dims and dtype, e.g. learning_rate, init, random_state, strategy,
           n_threads, activations, output, hidden_activation, optimizer, beta, beta1,
           beta2, epsilon, batch_size, lambd, keep_prob, decay, decay_rate,
           time_interval, shuffle_seed, dropout_seed; null for None)
    /parameters/W1 (n1, n0), /parameters/b1 (n1, 1), ... in order W1, b1, W2, b2, ...
    /costs (k,) float64, /cost_iterations (k,) int64
    /optimizer                  group, always present
        attrs: t   (int64 >= 0: update steps over the model's life, Adam's t)
               rng (uint64: the dropout generator's state, stored losslessly)
        /optimizer/v/dW1, /optimizer/v/db1, ...   first moments (momentum's and Adam's
                                                  v), shapes of W1, b1, ..., in the
                                                  model's dtype; required when
                                                  hyperparameters.optimizer is
                                                  "momentum" or "adam"
        /optimizer/s/dW1, /optimizer/s/db1, ...   Adam's second moments (>= 0); required
                                                  for "adam"
    /validation                 group, only when the model was fitted with validation data
        /validation/costs (k,) float64, /validation/scores (k,) float64: one value per
            recorded cost; NaN where no validation value was recorded (None in Python)
        attrs: best_iteration (int64; absent when there is none)

Every moment must be finite, with the shape of its parameter and the model's dtype.

Format version 1 (fastdnn 0.1: full-batch gradient descent only) has the same root
attributes (hyperparameters: learning_rate, init, random_state, strategy, n_threads),
/parameters, /costs and /cost_iterations, and no /optimizer or /validation group. It
loads with ``optimizer_state`` None and ``validation`` None. A file of a newer version
than ``FORMAT_VERSION`` is refused with an "upgrade fastdnn" error.

Payload dict (``save_model_file`` takes, ``load_model_file`` returns): layer_dims,
activations, dtype, hyperparameters, parameters, costs, cost_iterations, n_iter,
fastdnn_version, optimizer_state ({"v": {dW1: ...} or None, "s": ... or None, "t": int,
"rng": int}) and validation (None or {"costs", "scores", "best_iteration"}); loading
adds format_version.

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
FORMAT_VERSION = 2
PAYLOAD_KEYS = ("layer_dims", "activations", "dtype", "hyperparameters", "parameters",
                "costs", "cost_iterations", "n_iter", "fastdnn_version", "optimizer_state")
#: The moments each optimizer keeps, by name in /optimizer (course names: v, s).
MOMENTS = {"gd": (), "momentum": ("v",), "adam": ("v", "s")}
_MOMENT_NAMES = {"v": "first moments", "s": "second moments"}
_UINT64_END = 1 << 64


class _FileError(ValueError):
    """A malformed file or payload, with a message that already names the file."""


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _want_shapes(dims) -> dict:
    """{"W1": (n1, n0), "b1": (n1, 1), ...} in the file's order."""
    want = {}
    for l in range(1, len(dims)):
        want[f"W{l}"] = (int(dims[l]), int(dims[l - 1]))
        want[f"b{l}"] = (int(dims[l]), 1)
    return want


def _check_payload(p: dict, where: str, version: int = FORMAT_VERSION) -> None:
    """Check structure, shapes and the optimizer state; raise ValueError naming ``where``.

    ``optimizer_state`` may be None only in a version-1 file (which has none)."""
    missing = [k for k in PAYLOAD_KEYS if k not in p]
    if missing:
        raise _FileError(f"{where}: model payload is missing {missing}")
    dims = list(p["layer_dims"])
    if len(dims) < 2 or any(int(d) != d or d < 1 for d in dims):
        raise _FileError(f"{where}: layer_dims must be >= 2 positive ints, got {dims}")
    L = len(dims) - 1
    if not isinstance(p["hyperparameters"], dict):
        raise _FileError(f"{where}: hyperparameters must be a dict, got "
                         f"{type(p['hyperparameters']).__name__}")
    if len(p["activations"]) != L:
        raise _FileError(f"{where}: {len(p['activations'])} activations for {L} layers "
                         f"(layer_dims {dims})")
    params = p["parameters"]
    want = _want_shapes(dims)
    absent = [k for k in want if k not in params]
    if absent:
        raise _FileError(f"{where}: parameters {absent} are missing (layer_dims {dims})")
    extra = [k for k in params if k not in want]
    if extra:
        raise _FileError(f"{where}: unexpected parameters {extra} for layer_dims {dims}")
    for k, shape in want.items():
        got = np.shape(params[k])
        if got != shape:
            raise _FileError(f"{where}: parameter {k} has shape {got}, layer_dims {dims} "
                             f"needs {shape}")
    nc, ni = np.shape(p["costs"]), np.shape(p["cost_iterations"])
    if len(nc) != 1 or nc != ni:
        raise _FileError(f"{where}: costs {nc} and cost_iterations {ni} must be 1-D, same "
                         f"length")
    if not _is_int(p["n_iter"]) or p["n_iter"] < 0:
        raise _FileError(f"{where}: n_iter must be an integer >= 0, got {p['n_iter']!r}")
    if p["optimizer_state"] is not None or version >= 2:
        _check_state(p, where, want)
    if p.get("validation") is not None:
        _check_validation(p, where)


def _check_state(p: dict, where: str, want: dict) -> None:
    """The optimizer state: t, rng, and the moments the optimizer needs, finite, shaped."""
    state = p["optimizer_state"]
    if not isinstance(state, dict):
        raise _FileError(f"{where}: optimizer_state must be a dict {{v, s, t, rng}} (format "
                         f"version {FORMAT_VERSION} files carry the optimizer state), got "
                         f"{type(state).__name__}")
    t, rng = state.get("t"), state.get("rng")
    if not _is_int(t) or not 0 <= t < 2 ** 63:
        raise _FileError(f"{where}: optimizer step count t must be an integer >= 0, got {t!r}")
    if not _is_int(rng) or not 0 <= rng < _UINT64_END:
        raise _FileError(f"{where}: optimizer dropout generator state rng must be an unsigned "
                         f"64-bit integer, got {rng!r}")
    opt = p["hyperparameters"].get("optimizer", "gd")
    if not isinstance(opt, str) or opt not in MOMENTS:
        raise _FileError(f"{where}: hyperparameter optimizer must be one of {list(MOMENTS)}, "
                         f"got {opt!r}")
    dtype = np.dtype(str(p["dtype"]))
    for key in ("v", "s"):
        moments = state.get(key)
        if moments is None:
            if key in MOMENTS[opt]:
                raise _FileError(
                    f"{where}: optimizer {opt!r} needs its {_MOMENT_NAMES[key]} "
                    f"(/optimizer/{key}/dW1, ...) to continue training, but /optimizer/{key} "
                    f"is missing")
            continue
        if not isinstance(moments, dict):
            raise _FileError(f"{where}: optimizer moments {key} must be a dict of arrays, got "
                             f"{type(moments).__name__}")
        names = {"d" + k: shape for k, shape in want.items()}
        absent = [k for k in names if k not in moments]
        if absent:
            raise _FileError(f"{where}: optimizer moments /optimizer/{key}/{absent[0]} "
                             f"{'and others ' if len(absent) > 1 else ''}missing ({absent} "
                             f"for layer_dims {list(p['layer_dims'])})")
        extra = [k for k in moments if k not in names]
        if extra:
            raise _FileError(f"{where}: unexpected optimizer moments {extra} in /optimizer/{key} "
                             f"for layer_dims {list(p['layer_dims'])}")
        for k, shape in names.items():
            a = moments[k]
            got = np.shape(a)
            if got != shape:
                raise _FileError(f"{where}: optimizer moment /optimizer/{key}/{k} has shape "
                                 f"{got}, parameter {k[1:]} needs {shape}")
            a = np.asarray(a)
            if a.dtype != dtype:
                raise _FileError(f"{where}: optimizer moment /optimizer/{key}/{k} is "
                                 f"{a.dtype}, the model's dtype is {dtype}")
            if not np.isfinite(a).all():
                raise _FileError(f"{where}: optimizer moment /optimizer/{key}/{k} holds NaN or "
                                 f"infinite values")
            if key == "s" and (a < 0).any():
                raise _FileError(f"{where}: optimizer moment /optimizer/s/{k} holds negative "
                                 f"values (second moments are averages of squares)")


def _check_validation(p: dict, where: str) -> None:
    val = p["validation"]
    if not isinstance(val, dict):
        raise _FileError(f"{where}: validation must be a dict, got {type(val).__name__}")
    n = np.shape(p["costs"])
    for key in ("costs", "scores"):
        if key not in val:
            raise _FileError(f"{where}: validation {key} are missing")
        a = np.asarray(val[key])
        if a.shape != n:
            raise _FileError(f"{where}: validation {key} have shape {a.shape}, one per recorded "
                             f"cost needs {n}")
        if a.dtype.kind != "f":
            raise _FileError(f"{where}: validation {key} must be floats, got {a.dtype}")
    best = val.get("best_iteration")
    if best is not None and (not _is_int(best) or best < 0):
        raise _FileError(f"{where}: validation best_iteration must be an integer >= 0, got "
                         f"{best!r}")


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
    names = list(_want_shapes(p["layer_dims"]))
    for k in names:
        g.create_dataset(k, data=np.asarray(p["parameters"][k]))
    f.create_dataset("costs", data=np.asarray(p["costs"]))
    f.create_dataset("cost_iterations", data=np.asarray(p["cost_iterations"]))
    state = p["optimizer_state"]
    g = f.create_group("optimizer")
    g.attrs["t"] = np.int64(state["t"])
    g.attrs["rng"] = np.uint64(int(state["rng"]))
    for key in ("v", "s"):
        if state.get(key) is not None:
            m = g.create_group(key)
            for k in names:
                m.create_dataset("d" + k, data=np.asarray(state[key]["d" + k]))
    val = p.get("validation")
    if val is not None:
        g = f.create_group("validation")
        g.create_dataset("costs", data=np.asarray(val["costs"], dtype=np.float64))
        g.create_dataset("scores", data=np.asarray(val["scores"], dtype=np.float64))
        if val.get("best_iteration") is not None:
            g.attrs["best_iteration"] = np.int64(val["best_iteration"])


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


def _int_attr(attrs, name: str, where: str, what: str) -> int:
    """An integer attribute, exactly (uint64 values above 2**63 included)."""
    if name not in attrs:
        raise _FileError(f"{where}: {what} (attribute {name!r}) is missing")
    a = np.asarray(attrs[name])
    if a.shape != () or a.dtype.kind not in "iu":
        raise _FileError(f"{where}: {what} (attribute {name!r}) must be an integer, got "
                         f"{a.dtype} of shape {a.shape}")
    return int(a[()])


def _datasets(group, where: str, path: str, order) -> dict:
    """The datasets of ``group``: the names in ``order`` first, in that order, then others."""
    out = {}
    for k in sorted(group, key=lambda k: (order.index(k) if k in order else len(order), k)):
        obj = group[k]
        if not isinstance(obj, h5py.Dataset):
            raise _FileError(f"{where}: {path}/{k} is a group, expected a dataset")
        out[k] = obj[()]
    return out


def _read_optimizer(f: h5py.File, where: str, dims) -> dict:
    g = f.get("optimizer")
    if not isinstance(g, h5py.Group):
        raise _FileError(f"{where}: format version 2 file without its /optimizer group (the "
                         f"optimizer state that continues training)")
    state = {"v": None, "s": None,
             "t": _int_attr(g.attrs, "t", where, "optimizer step count"),
             "rng": _int_attr(g.attrs, "rng", where, "optimizer dropout generator state")}
    extra = [k for k in g if k not in ("v", "s")]
    if extra:
        raise _FileError(f"{where}: unexpected entries {extra} in /optimizer (expected v, s)")
    for key in ("v", "s"):
        if key in g:
            if not isinstance(g[key], h5py.Group):
                raise _FileError(f"{where}: /optimizer/{key} is a dataset, expected a group of "
                                 f"dW1, db1, ...")
            state[key] = _datasets(g[key], where, f"/optimizer/{key}",
                                   ["d" + k for k in _want_shapes(dims)])
    return state


def _read_validation(f: h5py.File, where: str):
    g = f.get("validation")
    if g is None:
        return None
    if not isinstance(g, h5py.Group):
        raise _FileError(f"{where}: /validation is a dataset, expected a group")
    val = {}
    for key in ("costs", "scores"):
        if not isinstance(g.get(key), h5py.Dataset):
            raise _FileError(f"{where}: validation {key} (/validation/{key}) are missing")
        val[key] = g[key][()]
    val["best_iteration"] = (_int_attr(g.attrs, "best_iteration", where, "best iteration")
                             if "best_iteration" in g.attrs else None)
    return val


def load_model_file(path) -> dict:
    """Read a model file back into the payload dict written by :func:`save_model_file`.

    Arrays come back bit-identical with their dtypes; parameters ordered W1, b1, W2, b2, ...
    Adds ``format_version``; a version-1 file gives ``optimizer_state`` and ``validation``
    None.
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
                "optimizer_state": None,
                "validation": None,
                "format_version": ver,
            }
            g = f["parameters"]
            names = list(_want_shapes(dims))
            extra = [k for k in g if k not in names]
            if extra:
                raise ValueError(f"unexpected parameters {extra} for layer_dims {dims}")
            for k in names:
                if k in g:                  # missing ones are reported by _check_payload
                    payload["parameters"][k] = g[k][()]
            if ver >= 2:
                payload["optimizer_state"] = _read_optimizer(f, where, dims)
                payload["validation"] = _read_validation(f, where)
        except _FileError:
            raise
        except (KeyError, OSError, TypeError, ValueError) as e:
            raise ValueError(f"{where}: damaged or incomplete fastdnn model file: "
                             f"{type(e).__name__}: {e}") from None
    try:
        np.dtype(payload["dtype"])
    except TypeError:
        raise _FileError(f"{where}: dtype {payload['dtype']!r} is not a NumPy dtype") from None
    _check_payload(payload, where, ver)
    return payload
