"""Loading data sets in the course layout: X (n_x, m), one column per example; Y (1, m) in {0, 1}.

Pure numpy + h5py (no numba). Every problem with a data file raises
:class:`DataFileError` (a ``ValueError``) naming the file, the key and what was expected;
a missing path raises ``FileNotFoundError``; bad arguments raise ``ValueError``.

Data files are not fastdnn's and carry no checksum, so the loaders guard what can be
guarded before reading anything: each dataset's kind (a group, a link), dtype (numbers,
integers for course pixels, no strings), shape (X at least 2-D, labels (m,) or (1, m)
matching X's examples, 2 class names) and declared size (no more than
``MAX_DATASET_BYTES`` once converted to float64; a contiguous dataset must be stored in
full inside the file) are checked from the metadata; then label values (0/1), pixel range
and NaN/inf. What is left to libhdf5 is parsing the file's structure: a corrupt file is
reported as not readable when libhdf5 says so, but libhdf5 has no checksums by default
and may, on some corrupt files, return wrong values or (rarely) crash or hang; see
``scripts/fuzz_loader.py``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

__all__ = [
    "DataFileError",
    "Dataset",
    "load_dataset",
    "load_hdf5",
    "make_synthetic_images",
    "load_builtin",
    "write_course_file",
    "BUILTIN_DATASETS",
]

BUILTIN_DATASETS = ("shapes",)
_DEFAULT_CLASSES = ("0", "1")


def _default_limit() -> int:
    """Half the machine's memory (8 GiB when it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):
        return 8 << 30


#: The largest dataset a loader reads, in bytes of its float64 conversion (X is
#: converted to float64): a file declaring more is refused before anything is allocated.
MAX_DATASET_BYTES = _default_limit()


class DataFileError(ValueError):
    """A data file fastdnn cannot use: not readable HDF5, a dataset missing, or one of the
    wrong type, dtype, shape, size or values. The message names the file and the dataset.
    A ``ValueError``, so code that catches ``ValueError`` keeps working."""


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A binary-classification data set.

    X: float64 (n_x, m), C-contiguous; Y: float64 (1, m) of 0.0/1.0;
    classes: names of label 0 and label 1; image_shape: e.g. (64, 64, 3) or None.
    """

    X: np.ndarray
    Y: np.ndarray
    classes: tuple = _DEFAULT_CLASSES
    image_shape: tuple | None = None
    name: str = ""

    def __post_init__(self):
        X = np.ascontiguousarray(self.X, dtype=np.float64)
        Y = np.ascontiguousarray(self.Y, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"Dataset {self.name!r}: X must be 2-D (n_x, m), got shape {X.shape}")
        if Y.shape != (1, X.shape[1]):
            raise ValueError(f"Dataset {self.name!r}: Y must have shape (1, {X.shape[1]}) to match "
                             f"X {X.shape}, got {Y.shape}")
        if not np.all((Y == 0.0) | (Y == 1.0)):
            raise ValueError(f"Dataset {self.name!r}: Y must hold only 0 and 1")
        classes = tuple(str(c) for c in self.classes)
        if len(classes) != 2:
            raise ValueError(f"Dataset {self.name!r}: need 2 class names, got {classes}")
        shape = None if self.image_shape is None else tuple(int(s) for s in self.image_shape)
        if shape is not None and int(np.prod(shape)) != X.shape[0]:
            raise ValueError(f"Dataset {self.name!r}: image_shape {shape} does not hold "
                             f"n_x = {X.shape[0]} values")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "image_shape", shape)
        object.__setattr__(self, "name", str(self.name))

    @property
    def m(self) -> int:
        """Number of examples."""
        return self.X.shape[1]

    @property
    def n_x(self) -> int:
        """Number of input features."""
        return self.X.shape[0]

    def images(self, as_uint8: bool = False) -> np.ndarray:
        """Examples as images (m, *image_shape): float in X's scale, or uint8 (round(X*255))."""
        if self.image_shape is None:
            raise ValueError(f"Dataset {self.name!r} has no image_shape; it is not an image data set")
        imgs = self.X.T.reshape((self.m, *self.image_shape))
        if as_uint8:
            return np.clip(np.rint(imgs * 255.0), 0, 255).astype(np.uint8)
        return imgs

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, X={self.X.shape}, Y={self.Y.shape}, "
                f"classes={self.classes}, image_shape={self.image_shape}, "
                f"positives={int(self.Y.sum())})")


# --------------------------------------------------------------------------- HDF5 helpers

def _check_path(path) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"data file not found: {str(p)!r}")
    if p.is_dir():
        raise DataFileError(f"{str(p)!r} is a directory, not an HDF5 file")
    return p


def _open(p: Path) -> h5py.File:
    try:
        return h5py.File(p, "r")
    except Exception as e:
        raise DataFileError(f"{str(p)!r} is not a readable HDF5 file (truncated, corrupt or "
                            f"another format): {e}") from None


class _Guard:
    """Turn what h5py/libhdf5 raise on a damaged file into DataFileError (ours pass)."""

    def __init__(self, p: Path):
        self.p = p

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if err is None or isinstance(err, DataFileError) or not isinstance(err, Exception):
            return False
        if isinstance(err, MemoryError):
            raise DataFileError(f"{str(self.p)!r}: reading the file needs more memory than there "
                                f"is (a corrupt or absurd size)") from None
        raise DataFileError(f"{str(self.p)!r} is not a readable HDF5 file (damaged): "
                            f"{type(err).__name__}: {err}") from None


def _dataset_keys(f: h5py.File) -> list:
    keys = []
    try:
        f.visititems(lambda name, obj: keys.append(name) if isinstance(obj, h5py.Dataset)
                     else None)
    except Exception:               # a damaged file: list what could be listed
        pass
    return keys[:50]


def _dataset(f: h5py.File, p: Path, key: str) -> h5py.Dataset:
    """The dataset ``key`` (a hard-linked dataset, not a group or a link elsewhere)."""
    try:
        link = f.get(key, getlink=True)
    except (KeyError, ValueError):
        link = None
    if isinstance(link, h5py.ExternalLink):
        raise DataFileError(f"{str(p)!r}: {key!r} is an external link to another file "
                            f"({link.filename!r}); not followed")
    obj = f.get(key) if link is not None else None
    if not isinstance(obj, h5py.Dataset):
        what = ("is a group, not a dataset" if isinstance(obj, h5py.Group) else
                "is not a dataset" if obj is not None else "not found")
        raise DataFileError(f"{str(p)!r}: dataset {key!r} {what}; the file has datasets "
                            f"{_dataset_keys(f)}")
    return obj


def _check_declared(obj: h5py.Dataset, p: Path, key: str) -> tuple:
    """The dataset's shape, after checking its declared size against MAX_DATASET_BYTES and,
    for contiguous storage, that all of it is stored inside the file."""
    shape = obj.shape
    if shape is None:
        raise DataFileError(f"{str(p)!r}: dataset {key!r} is empty (a null dataspace)")
    n = math.prod(shape)
    itemsize = obj.dtype.itemsize
    nbytes = n * itemsize
    if max(nbytes, n * 8) > MAX_DATASET_BYTES:
        raise DataFileError(f"{str(p)!r}: dataset {key!r} declares shape {shape} of "
                            f"{obj.dtype} ({max(nbytes, n * 8)} bytes as float64), more than "
                            f"the limit fastdnn.io.data.MAX_DATASET_BYTES = {MAX_DATASET_BYTES}"
                            f": absurd size or damaged file")
    if obj.chunks is None and nbytes:
        stored = obj.id.get_storage_size()
        if stored < nbytes:
            raise DataFileError(f"{str(p)!r}: dataset {key!r} declares {nbytes} bytes (shape "
                                f"{shape}, {obj.dtype}) but stores {stored} (never written, "
                                f"truncated or damaged)")
        offset = obj.id.get_offset()
        size = p.stat().st_size
        if offset is not None and offset + nbytes > size:
            raise DataFileError(f"{str(p)!r}: dataset {key!r} is truncated: its data ends at "
                                f"byte {offset + nbytes}, the file has {size} bytes")
    return shape


def _read_checked(obj: h5py.Dataset, p: Path, key: str) -> np.ndarray:
    _check_declared(obj, p, key)
    try:
        a = obj[()]
    except MemoryError:
        raise DataFileError(f"{str(p)!r}: dataset {key!r} (shape {obj.shape}) does not fit in "
                            f"memory") from None
    except Exception as e:
        raise DataFileError(f"{str(p)!r} is not a readable HDF5 file: cannot read dataset "
                            f"{key!r} (corrupt data or unsupported type): {e}") from None
    a = np.asarray(a)
    if a.shape != obj.shape:
        raise DataFileError(f"{str(p)!r}: dataset {key!r} read back with shape {a.shape}, "
                            f"declared {obj.shape}")
    return a


def _read(f: h5py.File, p: Path, key: str) -> np.ndarray:
    """The array in dataset ``key``, after the size guard (any dtype)."""
    with _Guard(p):
        return _read_checked(_dataset(f, p, key), p, key)


def _is_string(dtype) -> bool:
    return h5py.check_string_dtype(dtype) is not None or dtype.kind in "SUO"


def _classes(raw, p: Path, key: str) -> tuple:
    arr = np.asarray(raw).ravel()
    if arr.dtype.kind not in "SUOiuf" or arr.dtype.kind == "O" and not all(
            isinstance(c, (bytes, str)) for c in arr):
        raise DataFileError(f"{str(p)!r}: {key!r} must list 2 class names, got dtype "
                            f"{arr.dtype}")
    out = tuple(c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in arr)
    if len(out) != 2:
        raise DataFileError(f"{str(p)!r}: {key!r} must list 2 class names, got {len(out)}: "
                            f"{out[:5]}")
    return out


def _read_classes(f, p: Path, key: str) -> tuple:
    obj = _dataset(f, p, key)
    if obj.shape is not None and math.prod(obj.shape) != 2:
        raise DataFileError(f"{str(p)!r}: {key!r} must list 2 class names, got "
                            f"{math.prod(obj.shape)} (shape {obj.shape})")
    return _classes(_read_checked(obj, p, key), p, key)


def _check_label_meta(obj: h5py.Dataset, m: int, p: Path, key: str) -> None:
    """Labels' dtype and shape from the metadata, before reading them."""
    shape = _check_declared(obj, p, key)
    if _is_string(obj.dtype) or obj.dtype.kind not in "biuf":
        raise DataFileError(f"{str(p)!r}: labels {key!r} must be numeric, got dtype {obj.dtype}")
    if not (len(shape) == 1 or (len(shape) == 2 and shape[0] == 1)):
        raise DataFileError(f"{str(p)!r}: labels {key!r} must have shape (m,) or (1, m), got "
                            f"{shape}")
    if shape[-1] != m:
        raise DataFileError(f"{str(p)!r}: X has {m} examples but labels {key!r} have "
                            f"{shape[-1]} (shape {shape})")


def _labels(y: np.ndarray, m: int, p: Path, key: str) -> np.ndarray:
    """Labels (m,) or (1, m) of 0/1 -> float64 (1, m)."""
    if y.dtype.kind not in "biuf":
        raise DataFileError(f"{str(p)!r}: labels {key!r} must be numeric, got dtype {y.dtype}")
    if not (y.ndim == 1 or (y.ndim == 2 and y.shape[0] == 1)):
        raise DataFileError(f"{str(p)!r}: labels {key!r} must have shape (m,) or (1, m), got "
                            f"{y.shape}")
    y = y.reshape(1, -1)
    if y.shape[1] != m:
        raise DataFileError(f"{str(p)!r}: X has {m} examples but labels {key!r} have "
                            f"{y.shape[1]} (shape {y.shape})")
    yf = y.astype(np.float64)
    bad = ~((yf == 0.0) | (yf == 1.0))
    if bad.any():
        vals = np.unique(yf[bad])[:5]
        raise DataFileError(f"{str(p)!r}: labels {key!r} must be 0 or 1, found {vals.tolist()}")
    return yf


def _check_x_meta(dtype, shape, p: Path, key: str) -> None:
    if _is_string(dtype) or dtype.kind not in "biuf":
        raise DataFileError(f"{str(p)!r}: X {key!r} must be numeric, got dtype {dtype}")
    if len(shape) < 2:
        raise DataFileError(f"{str(p)!r}: X {key!r} must have at least 2 dimensions, got shape "
                            f"{shape}")
    if math.prod(shape) == 0:
        raise DataFileError(f"{str(p)!r}: X {key!r} is empty (shape {shape})")


def _check_x(x: np.ndarray, p: Path, key: str) -> None:
    _check_x_meta(x.dtype, x.shape, p, key)


def _finite(X: np.ndarray, p: Path, key: str) -> None:
    if not np.isfinite(X).all():
        raise DataFileError(f"{str(p)!r}: X {key!r} contains NaN or inf "
                            f"({int((~np.isfinite(X)).sum())} values)")


# --------------------------------------------------------------------------- loaders

def _load_course(path, split=None) -> Dataset:
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
    p = _check_path(path)
    with _Guard(p), _open(p) as f:
        if split is None:
            found = [s for s in ("train", "test") if f"{s}_set_x" in f]
            if len(found) != 1:
                raise DataFileError(f"{str(p)!r}: expected exactly one of 'train_set_x' / "
                                    f"'test_set_x' (course layout), the file has datasets "
                                    f"{_dataset_keys(f)}")
            split = found[0]
        xk, yk = f"{split}_set_x", f"{split}_set_y"
        xo = _dataset(f, p, xk)
        shape = _check_declared(xo, p, xk)
        _check_x_meta(xo.dtype, shape, p, xk)
        if xo.dtype.kind not in "biu":
            raise DataFileError(f"{str(p)!r}: course layout needs integer pixels 0..255 in "
                                f"{xk!r}, got dtype {xo.dtype}; use load_hdf5(..., scale=None) "
                                f"for float data")
        m = shape[0]
        yo = _dataset(f, p, yk)
        _check_label_meta(yo, m, p, yk)
        classes = _read_classes(f, p, "list_classes") if "list_classes" in f \
            else _DEFAULT_CLASSES
        x = _read_checked(xo, p, xk)
        y = _read_checked(yo, p, yk)
    if x.min() < 0 or x.max() > 255:
        raise DataFileError(f"{str(p)!r}: pixels in {xk!r} must be 0..255, got "
                            f"{x.min()}..{x.max()}")
    X = x.reshape(m, -1).T / 255.          # exactly the course's preprocessing
    Y = _labels(y, m, p, yk)
    image_shape = x.shape[1:] if x.ndim > 2 else None
    return Dataset(X, Y, classes, image_shape, p.stem)


def load_dataset(path_or_paths, split=None):
    """Load course-layout file(s) (``train_set_x``/``test_set_x`` (m, h, w, c) uint8 + ``*_set_y``
    (m,) + ``list_classes``).

    One path -> a Dataset; a list/tuple of paths -> a tuple of Datasets in the same order.
    X = x.reshape(m, -1).T / 255. (n_x, m); Y (1, m). ``split`` ("train"/"test") picks the keys
    when a file holds both; by default it is detected. A bad file raises
    :class:`DataFileError`.
    """
    if isinstance(path_or_paths, (list, tuple)):
        return tuple(_load_course(p, split) for p in path_or_paths)
    return _load_course(path_or_paths, split)


def load_hdf5(path, x_key, y_key, *, classes_key=None, examples_axis=0, scale="auto", name=None):
    """Load any HDF5 file given dataset names.

    X: (m, ...) with ``examples_axis=0`` (flattened to (n_x, m)), or (..., m) with
    ``examples_axis=-1`` (e.g. already (n_x, m)). Y: (m,) or (1, m) of 0/1.
    scale: "auto" divides integer X by its dtype's max (uint8 -> /255) and leaves float X;
    None never scales; a number divides by it. A bad file raises :class:`DataFileError`.
    """
    bad_axis = ValueError(f"examples_axis must be 0 (first) or -1 (last), got "
                          f"{examples_axis!r}")
    if isinstance(examples_axis, (bool, np.bool_)) or not isinstance(examples_axis,
                                                                      (int, np.integer)):
        raise bad_axis
    if isinstance(scale, str) and scale != "auto":
        raise ValueError(f"scale must be 'auto', None or a positive number, got {scale!r}")
    if scale is not None and not isinstance(scale, str):
        div = float(scale)
        if not (np.isfinite(div) and div > 0):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    p = _check_path(path)
    with _Guard(p), _open(p) as f:
        xo = _dataset(f, p, x_key)
        shape = _check_declared(xo, p, x_key)
        _check_x_meta(xo.dtype, shape, p, x_key)
        ndim = len(shape)
        if examples_axis in (0, -ndim, -1, ndim - 1):
            m = shape[0] if examples_axis in (0, -ndim) else shape[-1]
            yo = _dataset(f, p, y_key)
            _check_label_meta(yo, m, p, y_key)
            classes = _read_classes(f, p, classes_key) if classes_key is not None \
                else _DEFAULT_CLASSES
            x = _read_checked(xo, p, x_key)
            y = _read_checked(yo, p, y_key)
        else:
            x = None
    if x is None:                   # an argument error, raised outside the file guard
        raise bad_axis
    if examples_axis in (0, -ndim):
        X = x.reshape(m, -1).T
        image_shape = x.shape[1:] if x.ndim > 2 else None
    else:
        X = x.reshape(-1, m)
        image_shape = x.shape[:-1] if x.ndim > 2 else None
    Y = _labels(y, m, p, y_key)
    if scale == "auto":
        div = float(np.iinfo(x.dtype).max) if x.dtype.kind in "iu" else None
    elif scale is None:
        div = None
    else:
        div = float(scale)
    X = np.ascontiguousarray(X, dtype=np.float64)
    _finite(X, p, x_key)
    if div is not None:
        X = X / div
    return Dataset(X, Y, classes, image_shape, p.stem if name is None else name)


def write_course_file(path, X_images_uint8, y, classes=("non-cat", "cat"), split="train") -> None:
    """Write a course-layout file: ``{split}_set_x`` (m, ...) uint8, ``{split}_set_y`` (m,) int64,
    ``list_classes`` (2,) fixed-length bytes."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    x = np.asarray(X_images_uint8)
    if x.dtype.kind not in "iu" or x.ndim < 2 or x.size == 0:
        raise ValueError(f"images must be a non-empty integer array (m, ...) of 0..255, "
                         f"got dtype {x.dtype} shape {x.shape}")
    if x.min() < 0 or x.max() > 255:
        raise ValueError(f"images must hold values 0..255, got {x.min()}..{x.max()}")
    yv = np.asarray(y).reshape(-1)
    if yv.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} images but {yv.shape[0]} labels")
    if not np.all((yv == 0) | (yv == 1)):
        raise ValueError("labels must be 0 or 1")
    if len(classes) != 2:
        raise ValueError(f"need 2 class names, got {classes!r}")
    with h5py.File(os.fspath(path), "w") as f:
        f.create_dataset(f"{split}_set_x", data=x.astype(np.uint8))
        f.create_dataset(f"{split}_set_y", data=yv.astype(np.int64))
        f.create_dataset("list_classes", data=np.array([str(c).encode() for c in classes]))


# --------------------------------------------------------------------------- synthetic data

def make_synthetic_images(m=320, image_size=16, seed=0, *, positive_fraction=0.5,
                          noise=0.08, name="shapes") -> Dataset:
    """Deterministic RGB images (m examples, image_size x image_size x 3, pixels k/255).

    Class 1 ("shape"): a bright filled square or disk at a random place on a noisy background;
    class 0 ("no-shape"): the noisy background only. Same seed -> identical arrays.
    X: (image_size*image_size*3, m); Y: (1, m) with round(m*positive_fraction) ones.
    """
    if m <= 0 or image_size < 4:
        raise ValueError(f"need m > 0 and image_size >= 4, got m={m}, image_size={image_size}")
    rng = np.random.default_rng(seed)
    s = image_size
    n_pos = int(round(m * positive_fraction))
    y = rng.permutation(np.r_[np.ones(n_pos), np.zeros(m - n_pos)]).astype(np.int64)
    base = rng.uniform(0.10, 0.40, size=(m, 1, 1, 3))       # background colour
    imgs = base + noise * rng.standard_normal((m, s, s, 3))
    rr, cc = np.mgrid[0:s, 0:s]
    for i in np.flatnonzero(y):
        k = int(rng.integers(max(2, 3 * s // 8), max(3, 5 * s // 8) + 1))   # side, pixels
        r0, c0 = rng.integers(0, s - k + 1, size=2)
        if rng.random() < 0.5:                              # square
            mask = (rr >= r0) & (rr < r0 + k) & (cc >= c0) & (cc < c0 + k)
        else:                                               # disk
            rad = k / 2.0
            mask = (rr + 0.5 - r0 - rad) ** 2 + (cc + 0.5 - c0 - rad) ** 2 <= rad * rad
        colour = rng.uniform(0.75, 1.0, size=3)
        imgs[i][mask] = colour + noise * rng.standard_normal((int(mask.sum()), 3))
    u8 = np.clip(np.rint(imgs * 255.0), 0, 255).astype(np.uint8)
    X = u8.reshape(m, -1).T / 255.
    return Dataset(X, y.reshape(1, m), ("no-shape", "shape"), (s, s, 3), name)


def load_builtin(name="shapes", *, seed=0, m_train=240, m_test=80, image_size=16):
    """A generated (no download) built-in data set -> (train, test) Datasets.

    "shapes": make_synthetic_images with m_train + m_test examples split in order.
    """
    if name not in BUILTIN_DATASETS:
        raise ValueError(f"unknown built-in data set {name!r}; available: {list(BUILTIN_DATASETS)}")
    full = make_synthetic_images(m_train + m_test, image_size, seed, name=name)
    X, Y = full.X, full.Y
    train = Dataset(X[:, :m_train], Y[:, :m_train], full.classes, full.image_shape, f"{name}-train")
    test = Dataset(X[:, m_train:], Y[:, m_train:], full.classes, full.image_shape, f"{name}-test")
    return train, test
