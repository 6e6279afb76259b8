"""Model files in HDF5: save/load a plain payload dict, atomically, with an integrity check.

File layout, format version 3: an HDF5 file with a 512-byte user block that holds an
integrity header; the HDF5 data starts at byte 512 (h5py opens such a file as usual)::

    bytes 0..11    magic b"\\x89fastdnn\\r\\n\\x1a\\n"
    bytes 12..15   header version (uint32 little-endian, 1)
    bytes 16..19   user block size (uint32, 512)
    bytes 20..27   length of the whole file in bytes (uint64)
    bytes 28..59   SHA-256 of the whole file with these 32 bytes set to zero (so it covers
                   the header, the rest of the user block and every byte of the HDF5 data)
    bytes 64..     a line of text saying what the file is; zeros up to byte 512

``load_model_file`` checks the header, the length and the digest BEFORE libhdf5 sees a
byte of the file (libhdf5 stores no checksum of its own and can crash or hang on some
corrupt files): a damaged, truncated, extended or edited file is refused with
:class:`ModelFileError` ("damaged: checksum mismatch", "damaged: truncated: N bytes,
header says M") and never parsed. It then parses the very bytes it checked (one open
file, never reopened by name), so a file replaced while it is being read gives either
the old or the new model. :func:`seal_model_file` recomputes the header of a file that
was deliberately edited in place (h5py in "a" mode keeps the user block), for tools and
tests.

The HDF5 part (root attributes + groups and datasets)::

    attrs: format="fastdnn-model", format_version=3, fastdnn_version, dtype ("float32" or
           "float64"), n_iter, layer_dims (int64 (L+1,)), activations (JSON list of the L
           resolved names), hyperparameters (JSON object: every constructor argument of
           DeepNeuralNetwork except layer_dims and dtype, e.g. learning_rate, init,
           random_state, strategy, n_threads, activations, output, hidden_activation,
           optimizer, beta, beta1, beta2, epsilon, batch_size, lambd, keep_prob, decay,
           decay_rate, time_interval, shuffle_seed, dropout_seed; null for None)
    /parameters/W1 (n1, n0), /parameters/b1 (n1, 1), ... in order W1, b1, W2, b2, ...,
        in the model's dtype, finite
    /costs (k,) float64, /cost_iterations (k,) int64
    /optimizer                  group, always present
        attrs: t   (int64 >= 0: Adam's update steps over the model's life; 0 for gd and
                    momentum, which keep no step count)
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
    /checkpoint                 group, only when the payload has a "checkpoint" dict
        /checkpoint/<name>      one dataset per numpy array (numeric, finite)
        attrs: <name>           one attribute per scalar (int: int64, or uint64 at and
                                above 2**63; float: float64; bool; str: UTF-8)

Every moment must be finite, with the shape of its parameter and the model's dtype. Nothing
else may be in the file: an unknown attribute, group or dataset is refused.

Format version 2 (fastdnn 0.2) is the same HDF5 content without the user block (no
integrity header, no digest) and without /checkpoint. Format version 1 (fastdnn 0.1:
full-batch gradient descent only) has the same root attributes (hyperparameters:
learning_rate, init, random_state, strategy, n_threads), /parameters, /costs and
/cost_iterations, and no /optimizer or /validation group; it loads with
``optimizer_state`` None and ``validation`` None. Versions 1 and 2 still load, but they
carry NO DIGEST: their contents get every check below, yet a damaged byte inside a
parameter goes unnoticed, and a corrupt file is parsed by libhdf5 as it is (which may
in rare cases crash or hang the process; ``scripts/fuzz_loader.py`` measures it). Save
them again to get a version-3 file. A file of a newer version than ``FORMAT_VERSION`` is
refused with an "upgrade fastdnn" error.

Before anything big is read, every attribute and dataset is checked from its metadata:
type (a string where a number belongs is refused), dtype, shape against layer_dims, and
size (no dataset may declare more bytes than the whole file holds, so an absurd declared
size is refused instead of allocated); then parameters and moments must be finite.

Errors: every problem with a file (or with a payload given to ``save_model_file``) raises
:class:`ModelFileError`, a ``ValueError`` whose message names the file and what is wrong;
a missing path raises ``FileNotFoundError``.

Payload dict (``save_model_file`` takes, ``load_model_file`` returns): layer_dims,
activations, dtype, hyperparameters, parameters, costs, cost_iterations, n_iter,
fastdnn_version, optimizer_state ({"v": {dW1: ...} or None, "s": ... or None, "t": int,
"rng": int}), validation (None or {"costs", "scores", "best_iteration"}) and, optional
on saving, checkpoint (None or {name: numpy array, int, float, bool or str}; names are
ASCII identifiers of at most 64 characters; arrays numeric and finite; a generic slot
for mid-run training state, returned as the same dict); loading adds format_version and
always returns checkpoint (None when the file has none).

Pure numpy + h5py + hashlib (no numba).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import sys
from pathlib import Path

import h5py
import numpy as np

from .atomic import replace_atomically

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "save_model_file",
           "load_model_file", "seal_model_file"]

FORMAT_NAME = "fastdnn-model"
FORMAT_VERSION = 3
#: The first format version with the integrity header (every earlier one has none).
SEALED_SINCE = 3
PAYLOAD_KEYS = ("layer_dims", "activations", "dtype", "hyperparameters", "parameters",
                "costs", "cost_iterations", "n_iter", "fastdnn_version", "optimizer_state")
#: The moments each optimizer keeps, by name in /optimizer (course names: v, s).
MOMENTS = {"gd": (), "momentum": ("v",), "adam": ("v", "s")}
_MOMENT_NAMES = {"v": "first moments", "s": "second moments"}
_UINT64_END = 1 << 64
DTYPES = ("float32", "float64")

# ---------------------------------------------------------------------- integrity header
USERBLOCK_SIZE = 512
HEADER_MAGIC = b"\x89fastdnn\r\n\x1a\n"
HEADER_VERSION = 1
_HEADER = struct.Struct("<12sIIQ32s")            # magic, version, user block, length, digest
_DIGEST_AT = 28                                 # the digest's offset in the header
_NOTE_AT = 64
_NOTE = (b"fastdnn model file, format 3: an HDF5 file starting at byte 512; bytes 0-59 are "
         b"an integrity header (bytes 28-59: SHA-256 of the file with them zeroed)\n")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CHUNK = 1 << 20

# ---------------------------------------------------------------------- limits on metadata
#: Elements of an array attribute (layer_dims) and bytes of a text attribute.
_MAX_ATTR_ELEMENTS = 1 << 16
_MAX_TEXT_BYTES = 1 << 20
_MAX_CHECKPOINT_ENTRIES = 1 << 12
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")

_ROOT_ATTRS = ("format", "format_version", "fastdnn_version", "dtype", "n_iter", "layer_dims",
               "activations", "hyperparameters")
_ROOT_MEMBERS = {1: ("parameters", "costs", "cost_iterations"),
                 2: ("parameters", "costs", "cost_iterations", "optimizer", "validation"),
                 3: ("parameters", "costs", "cost_iterations", "optimizer", "validation",
                     "checkpoint")}


class ModelFileError(ValueError):
    """A model file fastdnn cannot use (damaged, truncated, edited after saving, foreign,
    of a newer format, or with contents of the wrong type, dtype, shape or size), or a
    payload ``save_model_file`` refuses to write. The message names the file and what is
    wrong. A ``ValueError``, so code that catches ``ValueError`` keeps working."""


_FileError = ModelFileError             # the name used before the class was public


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _short(seq, n=8) -> str:
    """A list for a message, cut after ``n`` items."""
    seq = list(seq)
    if len(seq) <= n:
        return str(seq)
    return f"[{', '.join(map(str, seq[:n]))}, ... ({len(seq)} values)]"


def _want_shapes(dims) -> dict:
    """{"W1": (n1, n0), "b1": (n1, 1), ...} in the file's order."""
    want = {}
    for l in range(1, len(dims)):
        want[f"W{l}"] = (int(dims[l]), int(dims[l - 1]))
        want[f"b{l}"] = (int(dims[l]), 1)
    return want


# ---------------------------------------------------------------------- payload checks

def _check_array(a, shape, dtype, where, what, needs):
    """``a`` as an array of ``shape`` and ``dtype`` with finite values, else _FileError
    naming the file, ``what`` it is and what it ``needs``."""
    got = np.shape(a)
    if got != shape:
        raise _FileError(f"{where}: {what} has shape {got}, {needs}")
    a = np.asarray(a)
    if a.dtype != dtype:
        raise _FileError(f"{where}: {what} is {a.dtype}, the model's dtype is {dtype}")
    if not np.isfinite(a).all():
        raise _FileError(f"{where}: {what} holds NaN or infinite values "
                         f"({int(a.size - np.isfinite(a).sum())} of {a.size})")
    return a


def _check_payload(p: dict, where: str, version: int = FORMAT_VERSION) -> None:
    """Check structure, shapes, dtypes and the optimizer state; raise ModelFileError naming
    ``where``. ``optimizer_state`` may be None only in a version-1 file (which has none)."""
    if not isinstance(p, dict):
        raise _FileError(f"{where}: the model payload must be a dict, got {type(p).__name__}")
    missing = [k for k in PAYLOAD_KEYS if k not in p]
    if missing:
        raise _FileError(f"{where}: model payload is missing {missing}")
    try:
        dims = list(p["layer_dims"])
    except TypeError:
        raise _FileError(f"{where}: layer_dims must be a list of ints, got "
                         f"{p['layer_dims']!r}") from None
    try:
        bad = len(dims) < 2 or any(isinstance(d, (bool, np.bool_)) or int(d) != d or d < 1
                                   for d in dims)
    except (TypeError, ValueError, OverflowError):
        bad = True
    if bad:
        raise _FileError(f"{where}: layer_dims must be >= 2 positive ints, got {_short(dims)}")
    L = len(dims) - 1
    try:
        dtype = np.dtype(str(p["dtype"]))
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise _FileError(f"{where}: dtype must be one of {list(DTYPES)}, got {p['dtype']!r}")
    if not isinstance(p["hyperparameters"], dict):
        raise _FileError(f"{where}: hyperparameters must be a dict, got "
                         f"{type(p['hyperparameters']).__name__}")
    acts = p["activations"]
    if not isinstance(acts, (list, tuple)) or not all(isinstance(a, str) for a in acts):
        raise _FileError(f"{where}: activations must be a list of names, got {acts!r}")
    if len(acts) != L:
        raise _FileError(f"{where}: {len(acts)} activations for {L} layers "
                         f"(layer_dims {_short(dims)})")
    params = p["parameters"]
    if not isinstance(params, dict):
        raise _FileError(f"{where}: parameters must be a dict of arrays, got "
                         f"{type(params).__name__}")
    want = _want_shapes(dims)
    absent = [k for k in want if k not in params]
    if absent:
        raise _FileError(f"{where}: parameters {absent} are missing (layer_dims {dims})")
    extra = [k for k in params if k not in want]
    if extra:
        raise _FileError(f"{where}: unexpected parameters {extra} for layer_dims {dims}")
    for k, shape in want.items():
        _check_array(params[k], shape, dtype, where, f"parameter {k}",
                     f"layer_dims {dims} needs {shape}")
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
    if p.get("checkpoint") is not None:
        _check_checkpoint(p["checkpoint"], where)


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
            a = _check_array(moments[k], shape, dtype, where,
                             f"optimizer moment /optimizer/{key}/{k}",
                             f"parameter {k[1:]} needs {shape}")
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


def _check_checkpoint(cp, where: str) -> None:
    """{name: numpy array (numeric, finite) | int | float | bool | str}, simple names."""
    if not isinstance(cp, dict):
        raise _FileError(f"{where}: checkpoint must be None or a dict {{name: array or "
                         f"scalar}}, got {type(cp).__name__}")
    if len(cp) > _MAX_CHECKPOINT_ENTRIES:
        raise _FileError(f"{where}: checkpoint has {len(cp)} entries, at most "
                         f"{_MAX_CHECKPOINT_ENTRIES} are allowed")
    for name, value in cp.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise _FileError(f"{where}: checkpoint name {name!r} is not a simple identifier "
                             f"(ASCII letters, digits and _, not starting with a digit, at most "
                             f"64 characters)")
        what = f"checkpoint entry {name!r}"
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise _FileError(f"{where}: {what} must be a numeric array, got dtype "
                                 f"{value.dtype}")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise _FileError(f"{where}: {what} holds NaN or infinite values")
        elif isinstance(value, (bool, np.bool_)):
            pass
        elif _is_int(value):
            if not -(1 << 63) <= int(value) < _UINT64_END:
                raise _FileError(f"{where}: {what} = {value} does not fit in 64 bits")
        elif isinstance(value, (float, np.floating)):
            pass
        elif isinstance(value, str):
            if len(value.encode("utf-8", "surrogatepass")) > _MAX_TEXT_BYTES:
                raise _FileError(f"{where}: {what} is a string longer than {_MAX_TEXT_BYTES} "
                                 f"bytes")
        else:
            raise _FileError(f"{where}: {what} must be a numpy array, int, float, bool or str, "
                             f"got {type(value).__name__}")


# ---------------------------------------------------------------------- writing

def _write(f: h5py.File, p: dict, version: int = FORMAT_VERSION) -> None:
    """The HDF5 part of a model file. ``version`` < 3 writes the older layouts (tests)."""
    f.attrs["format"] = FORMAT_NAME
    f.attrs["format_version"] = version
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
    if version < 2:
        return
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
    cp = p.get("checkpoint")
    if cp is not None and version >= 3:
        g = f.create_group("checkpoint")
        for name, value in cp.items():
            if isinstance(value, np.ndarray):
                g.create_dataset(name, data=value)
            elif isinstance(value, (bool, np.bool_)):
                g.attrs[name] = np.bool_(value)
            elif _is_int(value):
                g.attrs[name] = np.int64(value) if int(value) < 1 << 63 else np.uint64(value)
            elif isinstance(value, (float, np.floating)):
                g.attrs[name] = np.float64(value)
            else:
                g.attrs[name] = str(value)


def _digest(fh, length: int) -> bytes:
    """SHA-256 of the first ``length`` bytes of ``fh`` with the digest field zeroed; b""
    if the file ends before ``length``."""
    h = hashlib.sha256()
    fh.seek(0)
    head = bytearray(fh.read(min(length, USERBLOCK_SIZE)))
    head[_DIGEST_AT:_DIGEST_AT + 32] = bytes(len(head[_DIGEST_AT:_DIGEST_AT + 32]))
    h.update(head)
    remaining = length - len(head)
    if len(head) < min(length, USERBLOCK_SIZE):
        return b""
    while remaining > 0:
        chunk = fh.read(min(_CHUNK, remaining))
        if not chunk:
            return b""
        h.update(chunk)
        remaining -= len(chunk)
    return h.digest()


def _write_header(fh) -> None:
    """Write the integrity header of the file open (r+b) as ``fh``: length, then digest."""
    length = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    fh.write(_HEADER.pack(HEADER_MAGIC, HEADER_VERSION, USERBLOCK_SIZE, length, bytes(32)))
    fh.seek(_NOTE_AT)
    fh.write(_NOTE)
    fh.flush()
    digest = _digest(fh, length)
    fh.seek(_DIGEST_AT)
    fh.write(digest)
    fh.flush()


def save_model_file(path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically as a format-3 file (temp file in the same
    directory, integrity header, fsync, os.replace). On any error the temp file is removed
    and an existing ``path`` is untouched; concurrent savers leave one complete file.
    An invalid payload raises :class:`ModelFileError` before anything is written."""
    path = Path(path)
    _check_payload(payload, str(path))
    try:
        json.dumps(payload["hyperparameters"], default=_json_default)
    except (TypeError, ValueError) as e:
        raise _FileError(f"{str(path)!r}: hyperparameters must be JSON-serializable: "
                         f"{e}") from None
    write_sealed(path, lambda f: _write(f, payload))


def write_sealed(path, write) -> None:
    """Create ``path`` atomically as a sealed HDF5 file whose contents ``write(f)`` (an
    open ``h5py.File``) fills, with the integrity header (length, SHA-256) in its 512-byte
    user block (``atomic.replace_atomically``: temp file beside it, fsync, os.replace; on
    any error the temp file is removed and an existing ``path`` is untouched)."""
    def fill(tmp):
        with h5py.File(tmp, "w", userblock_size=USERBLOCK_SIZE) as f:
            write(f)
            f.flush()
        with open(tmp, "r+b") as fh:
            _write_header(fh)
            os.fsync(fh.fileno())

    replace_atomically(path, fill)


def seal_model_file(path) -> None:
    """Recompute the integrity header (length and SHA-256) of a format-3 model file in place.

    For tools and tests that deliberately edit a saved file with h5py (mode "a" keeps the
    512-byte user block): afterwards the file passes the integrity check, whatever it now
    holds (its contents are still checked on loading). Not atomic; a file without the
    user block (format 1 or 2) raises :class:`ModelFileError`."""
    path = Path(path)
    with open(path, "r+b") as fh:
        head = fh.read(USERBLOCK_SIZE + len(_HDF5_SIGNATURE))
        if head[USERBLOCK_SIZE:] != _HDF5_SIGNATURE:
            raise _FileError(f"{str(path)!r}: cannot seal: not an HDF5 file with a "
                             f"{USERBLOCK_SIZE}-byte user block (format 3 model file)")
        _write_header(fh)


# ---------------------------------------------------------------------- reading

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


def _check_integrity(fh, size: int, where: str) -> bool:
    """Check the file open as ``fh`` before libhdf5 sees it: True for a sealed (format 3+)
    file whose length and digest match, False for a digest-less HDF5 file (format 1 or 2
    or a foreign file); anything else raises ModelFileError."""
    fh.seek(0)
    head = fh.read(USERBLOCK_SIZE)
    if head[:len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE:
        return False
    if head[:len(HEADER_MAGIC)] != HEADER_MAGIC:
        fh.seek(USERBLOCK_SIZE)
        if size >= USERBLOCK_SIZE + 8 and fh.read(8) == _HDF5_SIGNATURE:
            raise _FileError(f"{where} is damaged: its integrity header (the first bytes of the "
                             f"file) is corrupt; the file cannot be trusted")
        raise _FileError(f"{where} is not a readable HDF5 file (truncated, corrupt or another "
                         f"format): it starts with neither the HDF5 signature nor a fastdnn "
                         f"model header ({size} bytes)")
    if len(head) < _HEADER.size:
        raise _FileError(f"{where} is damaged: truncated: {size} bytes, shorter than the "
                         f"integrity header")
    _, version, ublock, length, digest = _HEADER.unpack(head[:_HEADER.size])
    if version != HEADER_VERSION:
        if version > HEADER_VERSION:
            raise _FileError(f"{where} has integrity header version {version}, but this "
                             f"fastdnn ({_fastdnn_version()}) reads version {HEADER_VERSION}; "
                             f"upgrade fastdnn to load it (or the header is damaged)")
        raise _FileError(f"{where} is damaged: invalid integrity header version {version}")
    if ublock != USERBLOCK_SIZE:
        raise _FileError(f"{where} is damaged: its header gives a user block of {ublock} "
                         f"bytes, expected {USERBLOCK_SIZE}")
    if size < length:
        raise _FileError(f"{where} is damaged: truncated: {size} bytes, header says {length}")
    if size > length:
        raise _FileError(f"{where} is damaged: {size} bytes, header says {length} (data "
                         f"appended, or the file edited after it was saved)")
    if _digest(fh, length) != digest:
        raise _FileError(f"{where} is damaged: checksum mismatch (the SHA-256 of its contents "
                         f"differs from the one recorded when it was saved: corrupted, or "
                         f"edited after saving)")
    return True


class _Reader:
    """Guarded reads from an open model file: metadata first, data only when it is sane."""

    def __init__(self, f: h5py.File, where: str, size: int):
        self.f, self.where, self.size = f, where, size

    def fail(self, msg):
        raise _FileError(f"{self.where}: {msg}")

    # -- attributes
    def _attr_id(self, attrs, name, what, loc):
        if name not in attrs:
            self.fail(f"damaged or incomplete fastdnn model file: {what} (attribute {name!r})"
                      f"{loc} is missing")
        aid = attrs.get_id(name)
        shape = aid.shape
        if shape is None:
            self.fail(f"{what} (attribute {name!r}){loc} is empty (a null dataspace)")
        return aid, shape

    def int_attr(self, attrs, name, what, loc=""):
        """An integer attribute, exactly (uint64 values above 2**63 included)."""
        aid, shape = self._attr_id(attrs, name, what, loc)
        if shape != () or aid.dtype.kind not in "iu":
            kind = "a string" if h5py.check_string_dtype(aid.dtype) else f"{aid.dtype}"
            self.fail(f"{what} (attribute {name!r}){loc} must be an integer, got {kind} of "
                      f"shape {shape}")
        return int(np.asarray(attrs[name])[()])

    def text_attr(self, attrs, name, what, loc=""):
        aid, shape = self._attr_id(attrs, name, what, loc)
        info = h5py.check_string_dtype(aid.dtype)
        if info is None or shape != ():
            self.fail(f"{what} (attribute {name!r}){loc} must be a string, got "
                      f"{aid.dtype} of shape {shape}")
        if info.length is not None and info.length > _MAX_TEXT_BYTES:
            self.fail(f"{what} (attribute {name!r}){loc} declares a {info.length}-byte string "
                      f"(at most {_MAX_TEXT_BYTES})")
        value = attrs[name]
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(f"{what} (attribute {name!r}){loc} is not valid UTF-8 text")
        if not isinstance(value, str):
            self.fail(f"{what} (attribute {name!r}){loc} must be a string, got "
                      f"{type(value).__name__}")
        if len(value) > _MAX_TEXT_BYTES:
            self.fail(f"{what} (attribute {name!r}){loc} is longer than {_MAX_TEXT_BYTES} "
                      f"characters")
        return value

    def json_attr(self, attrs, name, what, kind):
        text = self.text_attr(attrs, name, what)
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as e:
            self.fail(f"{what} (attribute {name!r}) is not valid JSON: {e}")
        if not isinstance(value, kind):
            self.fail(f"{what} (attribute {name!r}) must be a JSON {kind.__name__}, got "
                      f"{type(value).__name__} {_short([value], 1)}")
        return value

    def dims_attr(self, attrs):
        aid, shape = self._attr_id(attrs, "layer_dims", "layer sizes", "")
        if len(shape) != 1 or aid.dtype.kind not in "iu":
            kind = "a string" if h5py.check_string_dtype(aid.dtype) else f"{aid.dtype}"
            self.fail(f"layer_dims must be a 1-D integer array, got {kind} of shape {shape}")
        if not 2 <= shape[0] <= _MAX_ATTR_ELEMENTS:
            self.fail(f"layer_dims has {shape[0]} entries; a model needs 2 to "
                      f"{_MAX_ATTR_ELEMENTS}")
        dims = [int(d) for d in np.asarray(attrs["layer_dims"]).ravel()]
        if any(d < 1 for d in dims):
            self.fail(f"layer_dims must be >= 2 positive ints, got {_short(dims)}")
        return dims

    # -- datasets
    def member(self, group, name, loc, want_group=False):
        link = group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            self.fail(f"{loc} is a {type(link).__name__} (fastdnn model files hold no links)")
        obj = group[name]
        if want_group and not isinstance(obj, h5py.Group):
            self.fail(f"{loc} is a {'dataset' if isinstance(obj, h5py.Dataset) else 'named type'}"
                      f", expected a group")
        if not want_group and not isinstance(obj, h5py.Dataset):
            self.fail(f"{loc} is a {'group' if isinstance(obj, h5py.Group) else 'named type'}, "
                      f"expected a dataset")
        return obj

    def data(self, obj, loc, what, *, kinds, dtype=None, shape=None, ndim=None,
             finite=False):
        """The array in dataset ``obj`` after checking its metadata: dtype kind (and exact
        dtype), shape (or ndim), declared size against the file size, stored size."""
        dt = obj.dtype
        if h5py.check_string_dtype(dt) is not None or dt.kind not in kinds:
            got = "strings" if h5py.check_string_dtype(dt) is not None else f"dtype {dt}"
            self.fail(f"{what} ({loc}) must be {_KIND_NAMES[kinds]}, got {got}")
        if dtype is not None and (dt.kind != dtype.kind or dt.itemsize != dtype.itemsize):
            self.fail(f"{what} {loc} is {dt}, the model's dtype is {dtype}")
        got = obj.shape
        if got is None:
            self.fail(f"{what} ({loc}) is empty (a null dataspace)")
        if shape is not None and got != shape:
            self.fail(f"{what} {loc} has shape {got}, expected {shape}")
        if ndim is not None and len(got) != ndim:
            self.fail(f"{what} ({loc}) must be {ndim}-D, got shape {got}")
        nbytes = math.prod(got) * dt.itemsize
        if nbytes > self.size:
            self.fail(f"{what} ({loc}) declares {nbytes} bytes of data (shape {got}, {dt}), "
                      f"more than the whole file ({self.size} bytes): absurd size or damaged "
                      f"file")
        if obj.chunks is None and nbytes:
            stored = obj.id.get_storage_size()
            if stored < nbytes:
                self.fail(f"{what} ({loc}) stores {stored} of its {nbytes} bytes (never "
                          f"written, truncated or damaged)")
        a = np.asarray(obj[()])
        if a.shape != got or a.dtype.kind != dt.kind:
            self.fail(f"{what} ({loc}) read back as {a.dtype} {a.shape}, declared {dt} {got}")
        if dtype is not None and a.dtype != dtype:
            a = a.astype(dtype)
        if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
            self.fail(f"{what} {loc} holds NaN or infinite values "
                      f"({int(a.size - np.isfinite(a).sum())} of {a.size})")
        return a

    def only(self, names, allowed, loc, what):
        extra = [k for k in names if k not in allowed]
        if extra:
            self.fail(f"unexpected {what} {_short(extra)} in {loc} (expected "
                      f"{', '.join(allowed) if allowed else 'none'})")


_KIND_NAMES = {"f": "floating-point numbers", "iu": "integers", "biuf": "numbers"}


def _read_payload(r: _Reader, ver: int) -> dict:
    f, a = r.f, r.f.attrs
    r.only(list(a), _ROOT_ATTRS, "the file's root attributes", "attributes")
    r.only(list(f), _ROOT_MEMBERS[min(ver, FORMAT_VERSION)], "/", "entries")
    dtype_name = r.text_attr(a, "dtype", "model dtype")
    if dtype_name not in DTYPES:
        r.fail(f"model dtype (attribute 'dtype') must be one of {list(DTYPES)}, got "
               f"{dtype_name!r}")
    dtype = np.dtype(dtype_name)
    dims = r.dims_attr(a)
    need = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims))) * dtype.itemsize
    if need > r.size:
        r.fail(f"layer_dims {_short(dims)} need {need} bytes of {dtype_name} parameters, more "
               f"than the whole file ({r.size} bytes): absurd or damaged layer_dims")
    payload = {
        "layer_dims": dims,
        "activations": r.json_attr(a, "activations", "activations", list),
        "dtype": dtype_name,
        "hyperparameters": r.json_attr(a, "hyperparameters", "hyper-parameters", dict),
        "parameters": {},
        "costs": None,
        "cost_iterations": None,
        "n_iter": r.int_attr(a, "n_iter", "number of iterations"),
        "fastdnn_version": r.text_attr(a, "fastdnn_version", "fastdnn version"),
        "optimizer_state": None,
        "validation": None,
        "checkpoint": None,
        "format_version": ver,
    }
    if not all(isinstance(s, str) for s in payload["activations"]):
        r.fail(f"activations (attribute 'activations') must be a JSON list of names, got "
               f"{_short(payload['activations'])}")
    L = len(dims) - 1
    if len(payload["activations"]) != L:
        r.fail(f"{len(payload['activations'])} activations for {L} layers "
               f"(layer_dims {_short(dims)})")
    want = _want_shapes(dims)
    g = r.member(f, "parameters", "/parameters", want_group=True)
    if g is None:
        r.fail("damaged or incomplete fastdnn model file: the /parameters group is missing")
    names = list(g)
    for k in names:
        r.member(g, k, f"/parameters/{k}")
    if len(names) > len(want) or any(k not in want for k in names):
        r.fail(f"unexpected parameters {_short([k for k in names if k not in want])} for "
               f"layer_dims {_short(dims)}")
    absent = [k for k in want if k not in names]
    if absent:
        r.fail(f"parameters {_short(absent)} are missing (layer_dims {_short(dims)})")
    for k, shape in want.items():
        obj = g[k]
        if obj.shape != shape:
            r.fail(f"parameter {k} has shape {obj.shape}, layer_dims {_short(dims)} needs "
                   f"{shape}")
        payload["parameters"][k] = r.data(obj, f"/parameters/{k}", "parameter",
                                          kinds="f", dtype=dtype, shape=shape, finite=True)
    for key, kinds in (("costs", "f"), ("cost_iterations", "iu")):
        obj = r.member(f, key, f"/{key}")
        if obj is None:
            r.fail(f"damaged or incomplete fastdnn model file: /{key} is missing")
        payload[key] = r.data(obj, f"/{key}", key.replace("_", " "), kinds=kinds, ndim=1)
    if ver >= 2:
        payload["optimizer_state"] = _read_optimizer(r, dims, dtype, ver)
        payload["validation"] = _read_validation(r)
    if ver >= 3:
        payload["checkpoint"] = _read_checkpoint(r)
    return payload


def _read_optimizer(r: _Reader, dims, dtype, ver) -> dict:
    g = r.member(r.f, "optimizer", "/optimizer", want_group=True)
    if g is None:
        r.fail(f"format version {ver} file without its /optimizer group (the optimizer state "
               f"that continues training)")
    r.only(list(g.attrs), ("t", "rng"), "/optimizer's attributes", "attributes")
    state = {"v": None, "s": None,
             "t": r.int_attr(g.attrs, "t", "optimizer step count"),
             "rng": r.int_attr(g.attrs, "rng", "optimizer dropout generator state")}
    r.only(list(g), ("v", "s"), "/optimizer", "entries")
    want = {"d" + k: shape for k, shape in _want_shapes(dims).items()}
    for key in ("v", "s"):
        m = r.member(g, key, f"/optimizer/{key}", want_group=True)
        if m is None:
            continue
        names = list(m)
        for k in names:
            r.member(m, k, f"/optimizer/{key}/{k}")
        extra = [k for k in names if k not in want]
        if extra:
            r.fail(f"unexpected optimizer moments {_short(extra)} in /optimizer/{key} for "
                   f"layer_dims {_short(dims)}")
        state[key] = {}
        for k, shape in want.items():
            if k in names:              # missing ones are reported by _check_state
                loc = f"/optimizer/{key}/{k}"
                obj = m[k]
                if obj.shape != shape:
                    r.fail(f"optimizer moment {loc} has shape {obj.shape}, parameter {k[1:]} "
                           f"needs {shape}")
                state[key][k] = r.data(obj, loc, "optimizer moment", kinds="f",
                                       dtype=dtype, shape=shape, finite=True)
    return state


def _read_validation(r: _Reader):
    g = r.member(r.f, "validation", "/validation", want_group=True)
    if g is None:
        return None
    r.only(list(g), ("costs", "scores"), "/validation", "entries")
    r.only(list(g.attrs), ("best_iteration",), "/validation's attributes", "attributes")
    val = {}
    for key in ("costs", "scores"):
        obj = r.member(g, key, f"/validation/{key}")
        if obj is None:
            r.fail(f"validation {key} (/validation/{key}) are missing")
        val[key] = r.data(obj, f"/validation/{key}", f"validation {key}", kinds="f", ndim=1)
    val["best_iteration"] = (r.int_attr(g.attrs, "best_iteration", "validation best iteration")
                             if "best_iteration" in g.attrs else None)
    return val


def _read_checkpoint(r: _Reader):
    g = r.member(r.f, "checkpoint", "/checkpoint", want_group=True)
    if g is None:
        return None
    names, attrs = list(g), list(g.attrs)
    if len(names) + len(attrs) > _MAX_CHECKPOINT_ENTRIES:
        r.fail(f"/checkpoint has {len(names) + len(attrs)} entries, at most "
               f"{_MAX_CHECKPOINT_ENTRIES} are allowed")
    cp = {}
    for name in names:
        loc = f"/checkpoint/{name}"
        if not _NAME.match(name):
            r.fail(f"checkpoint name {name!r} ({loc}) is not a simple identifier")
        obj = r.member(g, name, loc)
        cp[name] = r.data(obj, loc, f"checkpoint entry {name!r}", kinds="biuf", finite=True)
    for name in attrs:
        loc = " of /checkpoint"
        if not _NAME.match(name):
            r.fail(f"checkpoint name {name!r} (attribute of /checkpoint) is not a simple "
                   f"identifier")
        if name in cp:
            r.fail(f"checkpoint entry {name!r} is both a dataset and an attribute of "
                   f"/checkpoint")
        aid, shape = r._attr_id(g.attrs, name, f"checkpoint entry {name!r}", loc)
        dt = aid.dtype
        if h5py.check_string_dtype(dt) is not None:
            cp[name] = r.text_attr(g.attrs, name, f"checkpoint entry {name!r}", loc)
            continue
        if shape != () or dt.kind not in "biuf":
            r.fail(f"checkpoint entry {name!r} (attribute{loc}) must be a scalar int, float, "
                   f"bool or string, got {dt} of shape {shape}")
        value = np.asarray(g.attrs[name])[()]
        cp[name] = (bool(value) if dt.kind == "b" else int(value) if dt.kind in "iu"
                    else float(value))
    return cp


def read_sealed(path, read):
    """``read(f, where, size, sealed)`` on the HDF5 file at ``path`` once its integrity
    header has been checked (``sealed``: False for an older file without one). Every
    problem raises :class:`ModelFileError` naming the file; a missing path raises
    ``FileNotFoundError``."""
    path = Path(path)
    where = repr(str(path))
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {where}")
    if path.is_dir():
        raise _FileError(f"{where} is a directory, not a fastdnn model file")
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {where}") from None
    except OSError as e:
        raise _FileError(f"{where} cannot be opened: {e}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        sealed = _check_integrity(fh, size, where)
        fh.seek(0)
        try:
            # h5py reads the very bytes just checked (this open file, not the path again)
            f = h5py.File(fh, "r")
        except Exception as e:
            raise _FileError(f"{where} is not a readable HDF5 file (truncated, corrupt or "
                             f"another format): {type(e).__name__}: {e}") from None
        try:
            with f:
                return read(f, where, size, sealed)
        except _FileError:
            raise
        except MemoryError:
            raise _FileError(f"{where}: damaged fastdnn model file: reading it needs more "
                             f"memory than there is (a corrupt size)") from None
        except Exception as e:      # anything h5py/libhdf5 raise on a damaged file
            raise _FileError(f"{where}: damaged or incomplete fastdnn model file: "
                             f"{type(e).__name__}: {e}") from None


def load_model_file(path) -> dict:
    """Read a model file back into the payload dict written by :func:`save_model_file`.

    Arrays come back bit-identical with their dtypes; parameters ordered W1, b1, W2, b2, ...
    Adds ``format_version``; a version-1 file gives ``optimizer_state`` and ``validation``
    None; files before version 3 give ``checkpoint`` None.

    A format-3 file's integrity header (length, SHA-256) is checked before libhdf5 parses
    anything; files of format 1 and 2 have no digest (see the module docstring). Every
    problem raises :class:`ModelFileError` naming the file; a missing path raises
    ``FileNotFoundError``.
    """
    path = Path(path)
    payload = read_sealed(path, _read_file)
    where = repr(str(path))
    _check_payload(payload, where, payload["format_version"])
    return payload


def _read_file(f: h5py.File, where: str, size: int, sealed: bool) -> dict:
    r = _Reader(f, where, size)
    fmt = None
    if "format" in f.attrs:
        aid = f.attrs.get_id("format")
        if h5py.check_string_dtype(aid.dtype) is not None and aid.shape == ():
            fmt = r.text_attr(f.attrs, "format", "file format")
        else:
            fmt = f"<{aid.dtype} of shape {aid.shape}>"
    if fmt != FORMAT_NAME:
        raise _FileError(f"{where} is an HDF5 file but not a fastdnn model "
                         f"(attribute 'format' is {fmt!r}, expected {FORMAT_NAME!r})")
    if "format_version" not in f.attrs:
        r.fail("damaged or incomplete fastdnn model file: attribute 'format_version' is "
               "missing")
    aid = f.attrs.get_id("format_version")
    if aid.shape != () or aid.dtype.kind not in "iu":
        r.fail(f"bad 'format_version' attribute: must be an integer, got {aid.dtype} of "
               f"shape {aid.shape}")
    ver = int(np.asarray(f.attrs["format_version"])[()])
    if ver > FORMAT_VERSION:
        raise _FileError(f"{where} has model format version {ver}, but this fastdnn "
                         f"({_fastdnn_version()}) reads format version {FORMAT_VERSION} or "
                         f"older; upgrade fastdnn to load it")
    if ver < 1:
        r.fail(f"invalid model format version {ver}")
    if sealed and ver < SEALED_SINCE:
        r.fail(f"damaged: a format version {ver} file cannot have an integrity header")
    if not sealed and ver >= SEALED_SINCE:
        raise _FileError(f"{where} is damaged: a format version {ver} file without its "
                         f"integrity header (the first {USERBLOCK_SIZE} bytes); rewritten by "
                         f"another tool or corrupt")
    return _read_payload(r, ver)
