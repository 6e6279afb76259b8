"""Loading data sets in the course layout: X (n_x, m), one column per example; Y (1, m) in {0, 1}.

Pure numpy + h5py (no numba). Every malformed input raises a ``ValueError`` (or
``FileNotFoundError``) that names the file, the key and what was expected.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

__all__ = [
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
        raise ValueError(f"{str(p)!r} is a directory, not an HDF5 file")
    return p


def _open(p: Path) -> h5py.File:
    try:
        return h5py.File(p, "r")
    except OSError as e:
        raise ValueError(f"{str(p)!r} is not a readable HDF5 file (truncated, corrupt or another "
                         f"format): {e}") from None


def _dataset_keys(f: h5py.File) -> list:
    keys = []
    f.visititems(lambda name, obj: keys.append(name) if isinstance(obj, h5py.Dataset) else None)
    return keys


def _read(f: h5py.File, p: Path, key: str) -> np.ndarray:
    obj = f.get(key)
    if not isinstance(obj, h5py.Dataset):
        what = "is a group, not a dataset" if obj is not None else "not found"
        raise ValueError(f"{str(p)!r}: dataset {key!r} {what}; the file has datasets "
                         f"{_dataset_keys(f)}")
    try:
        return obj[()]
    except (OSError, TypeError) as e:
        raise ValueError(f"{str(p)!r} is not a readable HDF5 file: cannot read dataset {key!r} "
                         f"(corrupt data or unsupported type): {e}") from None


def _classes(raw, p: Path, key: str) -> tuple:
    arr = np.asarray(raw).ravel()
    out = tuple(c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in arr)
    if len(out) != 2:
        raise ValueError(f"{str(p)!r}: {key!r} must list 2 class names, got {len(out)}: {out}")
    return out


def _labels(y: np.ndarray, m: int, p: Path, key: str) -> np.ndarray:
    """Labels (m,) or (1, m) of 0/1 -> float64 (1, m)."""
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{str(p)!r}: labels {key!r} must be numeric, got dtype {y.dtype}")
    if not (y.ndim == 1 or (y.ndim == 2 and y.shape[0] == 1)):
        raise ValueError(f"{str(p)!r}: labels {key!r} must have shape (m,) or (1, m), got {y.shape}")
    y = y.reshape(1, -1)
    if y.shape[1] != m:
        raise ValueError(f"{str(p)!r}: X has {m} examples but labels {key!r} have {y.shape[1]} "
                         f"(shape {y.shape})")
    yf = y.astype(np.float64)
    bad = ~((yf == 0.0) | (yf == 1.0))
    if bad.any():
        vals = np.unique(yf[bad])[:5]
        raise ValueError(f"{str(p)!r}: labels {key!r} must be 0 or 1, found {vals.tolist()}")
    return yf


def _check_x(x: np.ndarray, p: Path, key: str) -> None:
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{str(p)!r}: X {key!r} must be numeric, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{str(p)!r}: X {key!r} must have at least 2 dimensions, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{str(p)!r}: X {key!r} is empty (shape {x.shape})")


def _finite(X: np.ndarray, p: Path, key: str) -> None:
    if not np.isfinite(X).all():
        raise ValueError(f"{str(p)!r}: X {key!r} contains NaN or inf "
                         f"({int((~np.isfinite(X)).sum())} values)")


# --------------------------------------------------------------------------- loaders

def _load_course(path, split=None) -> Dataset:
    p = _check_path(path)
    with _open(p) as f:
        if split is None:
            found = [s for s in ("train", "test") if f"{s}_set_x" in f]
            if len(found) != 1:
                raise ValueError(f"{str(p)!r}: expected exactly one of 'train_set_x' / 'test_set_x' "
                                 f"(course layout), the file has datasets {_dataset_keys(f)}")
            split = found[0]
        elif split not in ("train", "test"):
            raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
        xk, yk = f"{split}_set_x", f"{split}_set_y"
        x = _read(f, p, xk)
        y = _read(f, p, yk)
        classes = _classes(_read(f, p, "list_classes"), p, "list_classes") \
            if "list_classes" in f else _DEFAULT_CLASSES
    _check_x(x, p, xk)
    if x.dtype.kind not in "biu":
        raise ValueError(f"{str(p)!r}: course layout needs integer pixels 0..255 in {xk!r}, got "
                         f"dtype {x.dtype}; use load_hdf5(..., scale=None) for float data")
    if x.min() < 0 or x.max() > 255:
        raise ValueError(f"{str(p)!r}: pixels in {xk!r} must be 0..255, got {x.min()}..{x.max()}")
    m = x.shape[0]
    X = x.reshape(m, -1).T / 255.          # exactly the course's preprocessing
    Y = _labels(y, m, p, yk)
    shape = x.shape[1:] if x.ndim > 2 else None
    return Dataset(X, Y, classes, shape, p.stem)


def load_dataset(path_or_paths, split=None):
    """Load course-layout file(s) (``train_set_x``/``test_set_x`` (m, h, w, c) uint8 + ``*_set_y``
    (m,) + ``list_classes``).

    One path -> a Dataset; a list/tuple of paths -> a tuple of Datasets in the same order.
    X = x.reshape(m, -1).T / 255. (n_x, m); Y (1, m). ``split`` ("train"/"test") picks the keys
    when a file holds both; by default it is detected.
    """
    if isinstance(path_or_paths, (list, tuple)):
        return tuple(_load_course(p, split) for p in path_or_paths)
    return _load_course(path_or_paths, split)


def load_hdf5(path, x_key, y_key, *, classes_key=None, examples_axis=0, scale="auto", name=None):
    """Load any HDF5 file given dataset names.

    X: (m, ...) with ``examples_axis=0`` (flattened to (n_x, m)), or (..., m) with
    ``examples_axis=-1`` (e.g. already (n_x, m)). Y: (m,) or (1, m) of 0/1.
    scale: "auto" divides integer X by its dtype's max (uint8 -> /255) and leaves float X;
    None never scales; a number divides by it.
    """
    p = _check_path(path)
    with _open(p) as f:
        x = _read(f, p, x_key)
        y = _read(f, p, y_key)
        classes = _classes(_read(f, p, classes_key), p, classes_key) \
            if classes_key is not None else _DEFAULT_CLASSES
    _check_x(x, p, x_key)
    if examples_axis in (0, -x.ndim):
        m = x.shape[0]
        X = x.reshape(m, -1).T
        shape = x.shape[1:] if x.ndim > 2 else None
    elif examples_axis in (-1, x.ndim - 1):
        m = x.shape[-1]
        X = x.reshape(-1, m)
        shape = x.shape[:-1] if x.ndim > 2 else None
    else:
        raise ValueError(f"examples_axis must be 0 (first) or -1 (last), got {examples_axis!r}")
    Y = _labels(y, m, p, y_key)
    if scale == "auto":
        div = float(np.iinfo(x.dtype).max) if x.dtype.kind in "iu" else None
    elif scale is None:
        div = None
    elif isinstance(scale, str):
        raise ValueError(f"scale must be 'auto', None or a positive number, got {scale!r}")
    else:
        div = float(scale)
        if not (np.isfinite(div) and div > 0):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    _finite(X, p, x_key)
    if div is not None:
        X = X / div
    return Dataset(X, Y, classes, shape, p.stem if name is None else name)


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
