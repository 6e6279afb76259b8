"""Examples streamed from HDF5 in chunks, for out-of-core training and prediction.

NumPy and h5py only (no numba, no engine). ``HDF5Source`` describes the data
(a file path plus dataset names, or h5py datasets), examples along the first
axis as in the course's files: X (m, ...) e.g. (m, 64, 64, 3) uint8, labels
(m,), (1, m) or (m, n_out). Each read converts one chunk to the model's layout,
X (n_x, k) float64 (every example flattened, units converted per chunk with
the rule of ``load_hdf5``: "auto" divides integer X by its dtype's maximum,
uint8 -> /255, exactly the CLI's preprocessing), Y (n_out, k) float64.

``chunks(...)`` reads in a background thread, ``prefetch`` chunks ahead, so
that reading (and converting) overlaps the caller's computing; the compiled
kernels release the GIL. Memory: about ``prefetch + 2`` converted chunks are
alive at once (the queue, the one being converted and the one in use), each
``chunk_examples * n_x * 8`` bytes, plus the raw chunk and its transpose in the
file's dtype; nothing scales with m (``scripts/out_of_core.py`` measures it: peak
RSS 46 MB above the interpreter's for 6 MB chunks, 105-180 MB for 24 MB chunks,
with the allocator's slack, whatever the file's size).
"""
from __future__ import annotations

import math
import os
import queue
import threading

import h5py
import numpy as np

from .data import DataFileError, _check_path, _check_x_meta, _dataset, _Guard, _is_string, _open

__all__ = ["HDF5Source", "DEFAULT_CHUNK_BYTES"]

#: Default bound of one converted X chunk (float64): chunk_examples = this // (n_x * 8).
DEFAULT_CHUNK_BYTES = 64 << 20
SHUFFLES = ("chunks", "exact")


class HDF5Source:
    """X and labels in HDF5, examples along the first axis, read chunk by chunk.

    ``HDF5Source(path, x_key, y_key=None)`` or ``HDF5Source(x_dataset, y=None)``
    with an open ``h5py.Dataset`` (and labels as a dataset or an array).

    x: (m, ...) numeric (e.g. (m, 64, 64, 3) uint8): example i is x[i] flattened
        in C order into a column of X (n_x, m), n_x = prod(x.shape[1:]).
    y: (m,) or (1, m) labels (one output, or softmax class indices) or (m, n_out)
        targets; None for prediction only.
    chunk_examples: examples per chunk (default: as many as fit DEFAULT_CHUNK_BYTES
        of float64 X). The memory bound of training and prediction.
    scale: "auto" (integer X / its dtype's maximum: uint8 -> /255; float X as is),
        None (never) or a positive number to divide by.
    shuffle: mini-batch order. "chunks" (default): per epoch the chunks in a
        shuffled order, the examples shuffled within each chunk, sequential reads
        (``fastdnn.engine.pieces.chunk_shuffled_order``); "exact": the in-memory
        order (``random_mini_batches``'s permutation of all m), each batch read by
        row indices (random reads: for files in page cache or on fast disks).
    prefetch: chunks read ahead by the background reader (>= 1).
    """

    def __init__(self, x, x_key=None, y_key=None, *, y=None, chunk_examples=None,
                 scale="auto", shuffle="chunks", prefetch=2):
        if isinstance(x, h5py.Dataset):
            if x_key is not None or y_key is not None:
                raise TypeError("HDF5Source(dataset, y=...) takes datasets, not keys; give "
                                "HDF5Source(path, x_key, y_key) for a file")
            self.path, self.x_key, self.y_key = None, x.name, None
            self._x = x
            self._y = y if y is None or isinstance(y, h5py.Dataset) else np.asarray(y)
            self._where = "%r in %r" % (x.name, x.file.filename)
        elif isinstance(x, (str, os.PathLike)):
            if not isinstance(x_key, str):
                raise TypeError("HDF5Source(path, x_key, y_key): x_key must name the dataset "
                                "of X; got %r" % (x_key,))
            if y_key is not None and not isinstance(y_key, str):
                raise TypeError("y_key must be a dataset name or None; got %r" % (y_key,))
            if y is not None:
                raise TypeError("give the labels of a file as y_key, not y")
            self.path = _check_path(x)
            self.x_key, self.y_key = x_key, y_key
            self._x = self._y = None
            self._where = "%r in %r" % (x_key, str(self.path))
        else:
            raise TypeError("HDF5Source needs a file path (with x_key) or an h5py.Dataset; got "
                            "%s" % type(x).__name__)
        self.scale = _check_scale(scale)
        if shuffle not in SHUFFLES:
            raise ValueError("shuffle must be one of %s; got %r" % (SHUFFLES, shuffle))
        self.shuffle = shuffle
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) \
                or prefetch < 1:
            raise ValueError("prefetch must be an integer >= 1; got %r" % (prefetch,))
        self.prefetch = int(prefetch)
        self._describe()
        if chunk_examples is None:
            chunk_examples = max(1, DEFAULT_CHUNK_BYTES // (self.n_x * 8))
        if isinstance(chunk_examples, bool) or not isinstance(chunk_examples, (int, np.integer)) \
                or chunk_examples < 1:
            raise ValueError("chunk_examples must be an integer >= 1; got %r" % (chunk_examples,))
        self.chunk_examples = int(min(chunk_examples, self.m))

    # -- metadata ------------------------------------------------------------
    def _open_pair(self):
        """(file or None, x dataset, y dataset/array or None); the file is to be closed."""
        if self.path is None:
            return None, self._x, self._y
        f = _open(self.path)
        try:
            xo = _dataset(f, self.path, self.x_key)
            yo = None if self.y_key is None else _dataset(f, self.path, self.y_key)
        except BaseException:
            f.close()
            raise
        return f, xo, yo

    def _describe(self):
        p = self.path if self.path is not None else self._where
        f, xo, yo = self._open_pair()
        try:
            with _Guard(p):
                shape = xo.shape
                if shape is None:
                    raise DataFileError("%s: X is empty (a null dataspace)" % self._where)
                _check_x_meta(xo.dtype, shape, p, self.x_key)
                self.x_dtype = xo.dtype
                self.m = int(shape[0])
                self.example_shape = tuple(int(s) for s in shape[1:])
                self.n_x = int(math.prod(self.example_shape))
                self.y_layout = None if yo is None else self._label_layout(yo)
        finally:
            if f is not None:
                f.close()
        if self.scale == "auto":
            self._div = (float(np.iinfo(self.x_dtype).max) if self.x_dtype.kind in "iu"
                         else None)
        else:
            self._div = self.scale

    def _label_layout(self, yo):
        shape = tuple(yo.shape) if yo.shape is not None else ()
        dtype = np.asarray(yo[:0]).dtype if not isinstance(yo, h5py.Dataset) else yo.dtype
        if _is_string(dtype) or dtype.kind not in "biuf":
            raise DataFileError("%s: labels must be numeric, got dtype %s" % (self._where, dtype))
        m = self.m
        if shape == (m,):
            return "flat"
        if len(shape) == 2 and shape[0] == m:
            return "rows"        # (m, n_out): examples first
        if len(shape) == 2 and shape[0] == 1 and shape[1] == m:
            return "row"         # (1, m)
        raise DataFileError("%s: labels must have shape (%d,), (1, %d) or (%d, n_out) to match "
                            "X's %d examples; got %s" % (self._where, m, m, m, m, shape))

    @property
    def has_labels(self):
        return self.y_layout is not None

    @property
    def n_chunks(self):
        return -(-self.m // self.chunk_examples)

    def chunk_bounds(self):
        """[(lo, hi), ...] of the chunks, in file order."""
        c = self.chunk_examples
        return [(lo, min(lo + c, self.m)) for lo in range(0, self.m, c)]

    def __repr__(self):
        return ("HDF5Source(%s, m=%d, example_shape=%s, dtype=%s, chunk_examples=%d, "
                "scale=%r, shuffle=%r)" % (self._where, self.m, self.example_shape,
                                           self.x_dtype, self.chunk_examples, self.scale,
                                           self.shuffle))

    # -- reading ---------------------------------------------------------------
    def _convert(self, x, y, lo):
        """Raw rows -> X (n_x, k) float64 C-contiguous (scaled), Y (n_out, k) float64 or None."""
        k = x.shape[0]
        t = np.ascontiguousarray(x.reshape(k, self.n_x).T)  # transposed in the file's dtype
        X = np.empty((self.n_x, k), dtype=np.float64)
        if self._div is not None:
            np.divide(t, np.float64(self._div), out=X)  # float64(x) / div, per element
        else:
            X[...] = t
        del t
        Y = None
        if y is not None:
            Y = np.ascontiguousarray(y.T if self.y_layout == "rows" else y.reshape(1, k),
                                     dtype=np.float64)
        return X, Y

    def _read_range(self, xo, yo, lo, hi):
        x = np.asarray(xo[lo:hi])
        y = None
        if yo is not None:
            y = np.asarray(yo[:, lo:hi] if self.y_layout == "row" else yo[lo:hi])
        return x, y

    def _read_rows(self, xo, yo, rows):
        """Rows at sorted unique indices ``rows`` (h5py needs increasing indices)."""
        x = np.asarray(xo[rows])
        y = None
        if yo is not None:
            y = np.asarray(yo[:, rows] if self.y_layout == "row" else yo[rows])
        return x, y

    def read(self, lo, hi):
        """Examples lo..hi-1 -> (X (n_x, k) float64, Y (n_out, k) float64 or None)."""
        f, xo, yo = self._open_pair()
        try:
            with _Guard(self.path or self._where):
                return self._convert(*self._read_range(xo, yo, lo, hi), lo)
        finally:
            if f is not None:
                f.close()

    def chunks(self, plan=None, *, labels=True, transform=None):
        """Iterate over (lo, X, Y) read by a background thread, ``prefetch`` ahead.

        plan: a list of items, each ("range", lo, hi, perm) -- examples lo..hi-1
        read contiguously, then taken in the order ``perm`` (positions 0..hi-lo-1,
        or None for file order) -- or ("rows", rows, order) -- the examples at the
        sorted unique indices ``rows`` (int64), taken in the order ``order``
        (positions in ``rows``); default: every chunk in file order. lo is the
        first example of a "range" item in file order (None for "rows" items).
        ``transform(X, Y, lo) -> (X, Y)`` runs on the reader thread (e.g.
        validation and dtype conversion). Errors on the reader thread are raised
        here; leaving the loop early stops the reader.
        """
        if plan is None:
            plan = [("range", lo, hi, None) for lo, hi in self.chunk_bounds()]
        out = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def put(item):
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    pass
            return False

        def reader():
            try:
                f, xo, yo = self._open_pair()
                if not labels:
                    yo = None
                try:
                    for kind, a, b, *rest in plan:
                        if stop.is_set():
                            return
                        with _Guard(self.path or self._where):  # read errors: DataFileError
                            if kind == "range":
                                x, y = self._read_range(xo, yo, a, b)
                                lo, order = a, rest[0]
                            else:
                                x, y = self._read_rows(xo, yo, a)
                                lo, order = None, b
                        if order is not None:
                            x = x[order]
                            if y is not None:
                                y = y[:, order] if self.y_layout == "row" else y[order]
                        X, Y = self._convert(x, y, lo)
                        del x, y
                        if transform is not None:
                            X, Y = transform(X, Y, lo)
                        if not put((lo, X, Y)):
                            return
                        del X, Y
                finally:
                    if f is not None:
                        f.close()
                put(done)
            except BaseException as err:  # handed to the consumer
                put(err)

        thread = threading.Thread(target=reader, name="fastdnn-hdf5-reader", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
                del item
        finally:
            stop.set()
            thread.join()


def _check_scale(scale):
    if isinstance(scale, str):
        if scale != "auto":
            raise ValueError("scale must be 'auto', None or a positive number; got %r" % (scale,))
        return scale
    if scale is None:
        return None
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError("scale must be 'auto', None or a positive number; got %r" % (scale,))
    div = float(scale)
    if not (np.isfinite(div) and div > 0):
        raise ValueError("scale must be a positive finite number; got %r" % (scale,))
    return div
