"""Rows that are not one in-memory array, for ``DNNClassifier`` / ``DNNRegressor``.

``fit``, ``partial_fit``, ``predict``, ``predict_proba``, ``predict_log_proba``
and ``score`` of the scikit-learn estimators take, besides arrays:

- an h5py dataset X (n_samples, ...) (each sample flattened; read as
  ``np.asarray`` would, no scaling) or a ``fastdnn.io.HDF5Source`` (its own
  ``scale`` rule; its labels, if it has a ``y_key``, serve as y). Each batch's
  rows are read by sorted fancy indexing on a background thread
  (``HDF5Source.chunks``, ``prefetch`` batches ahead); prediction and the
  full-batch passes of L-BFGS go chunk by chunk (``chunk_examples`` rows).
- a dask array X (n_samples, n_features), chunked along the rows. The blocks
  are checked and persisted on the workers (the current ``distributed`` client,
  else Dask's local scheduler); each batch is split among the blocks that hold
  its rows and its gradient summed over them (``fastdnn.distributed``).

y (labels or targets) is always read whole into memory (an array, an h5py
dataset or a dask array): the label encoding needs every label. The batches
are scikit-learn's (the estimator's own shuffle), so training equals the
in-memory estimator to rounding (``fastdnn.engine.epochs.PieceEpochRunner``).
"""

import numpy as np

from .engine.epochs import PieceEpochRunner, forward_rows
from .engine.pieces import piece_sums, sum_pieces

__all__ = ["is_source", "labels_of", "rows_of"]


def _is_dask(X):
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks")


def _is_hdf5(X):
    module = type(X).__module__
    return (module.startswith("h5py") and type(X).__name__ == "Dataset") \
        or (module == "fastdnn.io.sources" and type(X).__name__ == "HDF5Source")


def is_source(X):
    """Whether X is data these estimators stream (h5py dataset, HDF5Source, dask array)."""
    return _is_hdf5(X) or _is_dask(X)


def rows_of(X, dtype):
    """The ``HDF5Rows`` or ``DaskRows`` of X; ``dtype``: the estimator's (None: float32
    data stays float32, anything else becomes float64, as scikit-learn converts)."""
    return HDF5Rows(X, dtype) if _is_hdf5(X) else DaskRows(X, dtype)


def labels_of(X, y):
    """y read whole into memory (an array as given): from an h5py dataset (strings decoded),
    a dask array, or the labels of an ``HDF5Source`` X when y is None (a y given wins)."""
    if y is None:
        if type(X).__name__ == "HDF5Source" and X.has_labels:
            f, _, yo = X._open_pair()
            try:
                y = np.asarray(yo[()])
            finally:
                if f is not None:
                    f.close()
            return y.ravel() if X.y_layout == "row" else y
        raise ValueError("y is None: give the targets, or an HDF5Source with a y_key")
    if type(y).__module__.startswith("h5py"):
        import h5py

        return np.asarray(y.asstr()[()] if h5py.check_string_dtype(y.dtype) else y[()])
    if _is_dask(y):
        return np.asarray(y.compute())
    return y


def _float_dtype(data_dtype, forced):
    if forced is not None:
        return np.dtype(forced)
    return np.dtype(np.float32 if data_dtype == np.float32 else np.float64)


def _check_finite(X, where):
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity (%s)." % where)


# -- HDF5 ---------------------------------------------------------------------------------

class HDF5Rows:
    """Rows of an h5py dataset (n, ...) or an ``HDF5Source``, flattened to n_features."""

    def __init__(self, X, dtype):
        from .io.sources import HDF5Source

        # a bare dataset reads as np.asarray(dataset) would: no scaling
        self.source = X if isinstance(X, HDF5Source) else HDF5Source(X, scale=None)
        src = self.source
        if not src.example_shape:
            raise ValueError("Expected a 2D array, got a 1D h5py dataset %s of shape (%d,): "
                             "rows are samples, (n_samples, n_features) or (n_samples, ...)"
                             % (src._where, src.m))
        scaled = src._div is not None
        self.n_samples, self.n_features = src.m, src.n_x
        self.dtype = _float_dtype(np.float64 if scaled else src.x_dtype, dtype)

    def _rows(self, X, Y, lo):
        """A read piece X (n_x, k) float64 -> rows (k, n_x) C-contiguous of the dtype."""
        rows = np.ascontiguousarray(X.T, dtype=self.dtype)
        _check_finite(rows, "%s%s" % (self.source._where,
                                      "" if lo is None else ", rows from %d" % lo))
        return rows, None

    def chunks(self, plan=None):
        """(lo, rows (k, n_features)) of the plan (``HDF5Source.chunks``; default: every
        chunk in file order), read ahead on a background thread."""
        for lo, rows, _ in self.source.chunks(plan, labels=False, transform=self._rows):
            yield lo, rows

    def runner(self, Y, train_idx, val_idx, **kw):
        return PieceEpochRunner(feed=HDF5Feed(self, Y, train_idx, val_idx), **kw)

    def outputs(self, params, dims, acts, rows=None):
        """Outputs (n, n_L) of the rows (default: all; else the int64 positions ``rows``, in
        that order), chunk by chunk: only the outputs are whole in memory."""
        out = np.empty((self.n_samples if rows is None else len(rows), dims[-1]),
                       dtype=self.dtype)
        if rows is None:
            for lo, X in self.chunks():
                out[lo:lo + X.shape[0]] = forward_rows(params, dims, acts, X)
            return out
        perm = np.argsort(rows, kind="stable")
        srt, step = rows[perm], self.source.chunk_examples
        plan = [("rows", srt[i:i + step], None) for i in range(0, len(srt), step)]
        pos = 0
        for _, X in self.chunks(plan):
            out[perm[pos:pos + X.shape[0]]] = forward_rows(params, dims, acts, X)
            pos += X.shape[0]
        return out


class HDF5Feed:
    """The batches of an epoch read from HDF5 (``PieceEpochRunner``'s feed).

    Y (n, n_L): the targets of every row in file order (those of validation rows
    unused); train_idx / val_idx: the file rows of the training and validation
    sets (None: every row trains, no validation)."""

    def __init__(self, rows, Y, train_idx, val_idx):
        self.rows, self.Y, self.train_idx, self.val_idx = rows, Y, train_idx, val_idx
        self.n_samples = rows.n_samples if train_idx is None else len(train_idx)

    def batches(self, order, batch_size, meta):
        file_rows = order if self.train_idx is None else self.train_idx[order]
        starts = range(0, len(file_rows), batch_size)
        plan = []
        for lo in starts:
            idx = file_rows[lo:lo + batch_size]
            srt = np.sort(idx)
            plan.append(("rows", srt, np.searchsorted(srt, idx)))
        for lo, (_, X) in zip(starts, self.rows.chunks(plan)):
            Y = self.Y[file_rows[lo:lo + batch_size]]
            yield _batch(X, Y, meta)

    def full(self, params, meta):
        """(grads, loss) over every training row, summed chunk by chunk in file order."""
        if self.train_idx is not None:
            raise ValueError("full-batch passes train on every row (no validation split)")
        grads, loss = None, 0.0
        for lo, X in self.rows.chunks():
            Y = np.ascontiguousarray(self.Y[lo:lo + X.shape[0]])
            g, l = piece_sums(params, meta[0], meta[1], X.T, Y.T, meta[2])
            grads = g if grads is None else grads + g
            loss += l
        return grads, loss

    def validation_outputs(self, params, meta):
        return self.rows.outputs(params, meta[0], meta[1], self.val_idx)


def _batch(X, Y, meta):
    """compute(params) of one batch: rows X (m_b, n_0), Y (m_b, n_L) passed as transposed
    views, as the in-memory kernel uses its gathered rows."""
    Y = np.ascontiguousarray(Y, dtype=X.dtype)

    def compute(params):
        g, l = piece_sums(params, meta[0], meta[1], X.T, Y.T, meta[2])
        return g, l, X.shape[0]
    return compute


# -- Dask ---------------------------------------------------------------------------------

def _check_rows_block(block, dtype):
    rows = np.ascontiguousarray(block, dtype=dtype)
    _check_finite(rows, "a block of the dask array")
    return rows


def _forward_block(block, params, dims, acts, dtype):
    return forward_rows(params, dims, acts, _check_rows_block(block, dtype))


class DaskRows:
    """Rows of a dask array (n, n_features) chunked along the rows (features rechunked
    whole), validated block by block on the workers."""

    def __init__(self, X, dtype):
        if X.ndim != 2:
            raise ValueError("X must be a 2-D dask array (n_samples, n_features); got %d-D "
                             "shape %s" % (X.ndim, X.shape))
        if any(np.isnan(c) for c in X.shape):
            raise ValueError("X has unknown chunk sizes (shape %s); call "
                             "X.compute_chunk_sizes() first" % (X.shape,))
        if X.dtype.kind not in "biuf":
            raise ValueError("X must hold real numbers; got dtype %s" % X.dtype)
        if X.shape[0] < 1:
            raise ValueError("Found array with 0 sample(s) (shape=%s)" % (X.shape,))
        self.n_samples, self.n_features = int(X.shape[0]), int(X.shape[1])
        self.dtype = _float_dtype(X.dtype, dtype)
        self.X = X.rechunk({1: -1})

    def runner(self, Y, train_idx, val_idx, **kw):
        import dask.array as da

        from .distributed import ROUND_RETRIES, _Blocks, current_client

        X = self.X.map_blocks(_check_rows_block, self.dtype, dtype=self.dtype)
        Yd = da.from_array(np.ascontiguousarray(Y, dtype=self.dtype),
                           chunks=(X.chunks[0], (Y.shape[1],)))
        blocks = _Blocks(X, Yd, current_client(), ROUND_RETRIES, samples_axis=0)
        return PieceEpochRunner(feed=DaskFeed(blocks, train_idx, val_idx, self.n_samples),
                                **kw)

    def outputs(self, params, dims, acts):
        """Outputs as a lazy dask array (n, n_L), block by block on the workers."""
        return self.X.map_blocks(_forward_block, params, list(dims), list(acts), self.dtype,
                                 dtype=self.dtype, chunks=(self.X.chunks[0], (dims[-1],)))


class DaskFeed:
    """The batches of an epoch as rounds on the persisted blocks (``PieceEpochRunner``'s
    feed): each batch's rows split among the blocks that hold them, summed in block order."""

    def __init__(self, blocks, train_idx, val_idx, n):
        self.blocks, self.train_idx, self.val_idx = blocks, train_idx, val_idx
        self.n_samples = n if train_idx is None else len(train_idx)

    def _tasks(self, file_rows):
        off = self.blocks.offsets
        which = np.searchsorted(off, file_rows, side="right") - 1
        return [(b, (file_rows[which == b] - off[b]).astype(np.int64))
                for b in range(len(off) - 1) if np.any(which == b)]

    def batches(self, order, batch_size, meta):
        file_rows = order if self.train_idx is None else self.train_idx[order]
        for lo in range(0, len(file_rows), batch_size):
            idx = file_rows[lo:lo + batch_size]
            yield self._compute(self._tasks(idx), len(idx), meta)

    def _compute(self, tasks, m_b, meta):
        def compute(params):
            grads, loss = sum_pieces(self.blocks.run(params, tasks, meta))
            return grads, loss, m_b
        return compute

    def full(self, params, meta):
        if self.train_idx is not None:
            raise ValueError("full-batch passes train on every row (no validation split)")
        tasks = [(b, None) for b in range(len(self.blocks.offsets) - 1)]
        return sum_pieces(self.blocks.run(params, tasks, meta))

    def validation_outputs(self, params, meta):
        import dask

        perm = np.argsort(self.val_idx, kind="stable")
        X = self.blocks.X[self.val_idx[perm]]
        lazy = X.map_blocks(_forward_block, params, meta[0], meta[1], X.dtype,
                            dtype=X.dtype, chunks=(X.chunks[0], (meta[0][-1],)))
        client = self.blocks.client
        got = client.compute(lazy).result() if client is not None else dask.compute(lazy)[0]
        out = np.empty_like(got)
        out[perm] = got
        return out
