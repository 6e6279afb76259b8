"""Data-parallel training on Dask: ``DeepNeuralNetwork.fit`` on dask arrays.

``model.fit(X, Y)`` with X a dask array (n_x, m) and Y a dask or NumPy array
(n_L, m) (or (m,) for one output or softmax class labels), chunked along the
examples, trains on the current Dask client, found the way dask-ml finds it
(``distributed.default_client()``: the last ``Client`` created, or the one set
with ``client.as_current()``); without a client, on Dask's default scheduler
(threads, in this process). Dask and distributed are imported only here,
only when such data arrives (``pip install 'fastdnn[dask]'``).

What happens:

1. X and Y are validated block by block on the workers (the checks of
   in-memory ``fit``: finite numbers, labels, one-hot conversion, the model's
   dtype), rechunked so that a block holds whole examples (all n_x rows), and
   persisted: the data stays on the workers.
2. Every round sends the flat parameters (P,) to the workers (inside each
   block's task, so that a round depends on nothing but the persisted data),
   each block's worker computes the
   unscaled gradient sums of its examples with the compiled kernels
   (``fastdnn.engine.pieces.piece_sums``), the driver gathers them, sums them
   in block order (the same sum whatever the timing) and applies the update
   (``PieceDriver``: the compiled ``update_step``).
3. Full batch: one round per iteration over every block. Mini-batches: one
   round per batch, in exactly the in-memory order (epoch e: the permutation
   ``RandomState(shuffle_seed + e + 1).permutation(m)``, batches consecutive
   slices of it); each block's worker sums the batch's examples it holds.

Both equal single-process training to rounding (the sums are split
differently). Faults: a round whose worker dies is redone (``retries`` times),
Dask recomputing lost blocks of X from their graph when it can; if it cannot,
``DistributedTrainingError`` is raised and the model keeps the parameters of
the start of the failing epoch (the last consistent ones).
"""

import numpy as np

from . import validation as v
from .engine.pieces import piece_sums, sum_pieces
from .outofcore import fit_with_feed, refuse_dropout, refuse_unsupported

#: How many times a round is redone after a worker failure before giving up.
ROUND_RETRIES = 3


class DistributedTrainingError(RuntimeError):
    """A round could not be completed on the Dask cluster (lost data that Dask cannot
    recompute, workers gone); the model keeps the parameters from before that epoch."""


def current_client():
    """The current ``distributed.Client`` (as dask-ml finds it), or None."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def piece_rows(params, dims, activations, X, Y, rows, hp):
    """``piece_sums`` of the examples ``rows`` (int64 positions in the block X (n_0, k),
    in batch order) of one block; runs on a worker."""
    return piece_sums(params, dims, activations, np.ascontiguousarray(X[:, rows]),
                      np.ascontiguousarray(Y[:, rows]), hp)


def piece_sample_rows(params, dims, activations, X, Y, rows, hp):
    """``piece_sums`` of the rows ``rows`` (int64 positions in batch order, or None: all) of
    one block of X (k, n_0) and Y (k, n_L) stored as rows (scikit-learn's layout); the
    piece is passed as the transposed view of its gathered rows, as in-memory training
    does. Runs on a worker."""
    if rows is not None:
        X, Y = X[rows], Y[rows]
    X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
    return piece_sums(params, dims, activations, X.T, Y.T, hp)


def _check_x_block(block, n_x, dtype):
    return v.check_X(block, n_x, dtype)


def _check_y_block(block, dims, dtype, output):
    k = block.shape[-1]
    # check_targets on the labels alone (a stand-in X of one row)
    return v.check_targets(np.zeros((1, k)), block, [1] + list(dims[1:]), dtype, output)[1]


def prepare(X, Y, dims, dtype, output):
    """Validated, block-aligned dask arrays X (n_x, m), Y (n_L, m) (lazy, not persisted)."""
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError("X must be a dask array (n_x, m); got %s" % type(X).__name__)
    if X.ndim != 2:
        raise ValueError("X must be a 2-D dask array (n_x, m), one column per example; got "
                         "%d-D shape %s" % (X.ndim, X.shape))
    if X.shape[0] != dims[0]:
        raise ValueError("X must have shape (%d, m) (layer_dims[0] = %d features); got %s"
                         % (dims[0], dims[0], X.shape))
    if any(np.isnan(c) for c in X.shape):
        raise ValueError("X has unknown chunk sizes (shape %s); call X.compute_chunk_sizes() "
                         "first" % (X.shape,))
    if X.dtype.kind not in "biuf":
        raise TypeError("X must hold real numbers; got dtype %s" % X.dtype)
    m = int(X.shape[1])
    if m == 0:
        raise ValueError("X is empty (shape %s); need at least one example" % (X.shape,))
    X = X.rechunk({0: -1})
    Y = da.asarray(Y) if not isinstance(Y, da.Array) else Y
    if Y.dtype.kind not in "biuf":
        raise TypeError("Y must hold real numbers; got dtype %s" % Y.dtype)
    if Y.ndim == 1:
        Y = Y.reshape(1, -1)
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError("Y must have shape (n_L, m) = (%d, %d) (or (%d,)); got %s"
                         % (dims[-1], m, m, Y.shape))
    Y = Y.rechunk({0: -1, 1: X.chunks[1]})
    Xc = X.map_blocks(_check_x_block, dims[0], dtype, dtype=dtype)
    Yc = Y.map_blocks(_check_y_block, dims, dtype, output, dtype=dtype,
                      chunks=((dims[-1],), X.chunks[1]))
    return Xc, Yc


class _Blocks:
    """The persisted blocks and how a round runs on them (a client, or the local scheduler).

    samples_axis: 1 for X (n_x, m), Y (n_L, m) (``DeepNeuralNetwork``), 0 for rows
    X (m, n_x), Y (m, n_L) (the scikit-learn estimators, ``piece_sample_rows``).
    """

    def __init__(self, X, Y, client, retries, samples_axis=1):
        import dask

        self.client, self.retries = client, retries
        self.samples_axis = samples_axis
        self.offsets = np.concatenate(([0], np.cumsum(X.chunks[samples_axis]))).astype(np.int64)
        if client is not None:
            from distributed import futures_of, wait

            X, Y = client.persist([X, Y])
            wait([X, Y])
            self.X, self.Y = X, Y   # keep the collections: they hold the data's futures
            by_key = {f.key: f for f in futures_of(X) + futures_of(Y)}
            self.xb = [by_key[k] for k in _flat_keys(X)]
            self.yb = [by_key[k] for k in _flat_keys(Y)]
            for fut in self.xb + self.yb:  # errors of the checks surface here
                if fut.status == "error":
                    fut.result()
        else:
            X, Y = dask.persist(X, Y)
            self.xb = list(X.to_delayed().ravel())
            self.yb = list(Y.to_delayed().ravel())
            self.X, self.Y = X, Y

    def run(self, params, tasks, meta):
        """[(grads, loss), ...] of tasks [(block, rows or None), ...], in the tasks' order;
        meta: (dims, activations, hp) of ``piece_sums``."""
        if self.client is None:
            import dask

            p = dask.delayed(params, traverse=False)
            calls = [dask.delayed(self._function(rows), pure=True)(
                p, *self._args(b, rows, meta)) for b, rows in tasks]
            return list(dask.compute(*calls))
        return self._run_client(params, tasks, meta)

    def _function(self, rows):
        if self.samples_axis == 0:
            return piece_sample_rows
        return piece_sums if rows is None else piece_rows

    def _args(self, b, rows, meta):
        dims, acts, hp = meta
        if self.samples_axis == 0:
            return dims, acts, self.xb[b], self.yb[b], rows, hp
        if rows is None:
            return dims, acts, self.xb[b], self.yb[b], hp
        return dims, acts, self.xb[b], self.yb[b], rows, hp

    def _run_client(self, params, tasks, meta):
        from distributed import CancelledError

        client = self.client
        errors = []
        for _ in range(self.retries + 1):
            try:
                # the parameters travel inside each task (no scattered copy whose holder
                # could die: a round only depends on the persisted blocks)
                futures = [client.submit(self._function(rows), params,
                                         *self._args(b, rows, meta), pure=False)
                           for b, rows in tasks]
                out = client.gather(futures, direct=True)  # from the workers, not via the
                # scheduler: ~15 ms less per round at P = 1e6 (2 local workers)
                del futures
                return out
            except (CancelledError, OSError, TimeoutError) as err:
                errors.append(err)
            except Exception as err:  # noqa: BLE001 - distributed's errors vary by version
                name = type(err).__name__
                if name not in ("KilledWorker", "FutureCancelledError", "CommClosedError",
                                "FutureLostError", "AllExit"):
                    raise
                errors.append(err)
            lost = [f.key for f in self.xb + self.yb if f.status in ("lost", "error",
                                                                     "cancelled")]
            if lost:
                break
        raise DistributedTrainingError(
            "a training round failed on the Dask cluster after %d attempt(s) (%s)%s; the model "
            "keeps the parameters from the start of the failing epoch"
            % (len(errors), "; ".join("%s: %s" % (type(e).__name__, e) for e in errors[-2:]),
               "" if not lost else "; %d data block(s) are lost and cannot be recomputed "
               "(create X with a recomputable graph, e.g. da.from_array or from files, "
               "rather than from scattered data)" % len(lost)))


def _flat_keys(arr):
    keys = arr.__dask_keys__()
    out = []

    def walk(k):
        if isinstance(k, list):
            for x in k:
                walk(x)
        else:
            out.append(k)

    walk(keys)
    return out


class DaskFeed:
    """Batches of an epoch as rounds on the Dask blocks (see the module docstring)."""

    def __init__(self, blocks, m, dims, acts, hp, batch_size, shuffle_seed):
        self.blocks, self.m = blocks, m
        self.meta = (list(dims), list(acts), hp)
        self.batch_size, self.shuffle_seed = batch_size, shuffle_seed

    def epoch(self, e):
        nb = len(self.blocks.xb)
        if self.batch_size is None:
            tasks = [(b, None) for b in range(nb)]
            yield self._compute(tasks, self.m)
            return
        order = np.random.RandomState(self.shuffle_seed + e + 1).permutation(self.m)
        off = self.blocks.offsets
        which = np.searchsorted(off, order, side="right") - 1   # the block of each example
        B = self.batch_size
        for lo in range(0, self.m, B):
            idx, blk = order[lo:lo + B], which[lo:lo + B]
            tasks = [(b, (idx[blk == b] - off[b]).astype(np.int64)) for b in range(nb)
                     if np.any(blk == b)]
            yield self._compute(tasks, len(idx))

    def _compute(self, tasks, mb):
        def compute(params):
            grads, loss = sum_pieces(self.blocks.run(params, tasks, self.meta))
            return grads, loss, mb
        return compute


def fit_dask(model, X, Y, num_iterations=None, *, num_epochs=None, initial_parameters=None,
             record_every=100, verbose=False, warm_start=False, callback=None,
             validation_data=None, early_stopping=False, patience=10, checkpoint=None,
             checkpoint_every=100, resume=None, client=None, retries=ROUND_RETRIES):
    """``fit`` on dask arrays (see the module docstring); returns the model.

    client: a ``distributed.Client`` (default: the current one, else Dask's local
    scheduler); retries: how often a round is redone after a worker failure.
    """
    refuse_unsupported("dask arrays", validation_data, early_stopping, checkpoint, resume)
    dims, dtype, acts, opts = model._checked_config()
    Xc, Yc = prepare(X, Y, dims, dtype, acts[-1])
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ValueError("retries must be an integer >= 0; got %r" % (retries,))
    client = client if client is not None else current_client()
    m = int(Xc.shape[1])

    refuse_dropout(opts)
    model._checked_length(num_iterations, num_epochs)
    blocks = _Blocks(Xc, Yc, client, int(retries))
    return fit_with_feed(model, lambda driver: DaskFeed(
        blocks, m, dims, acts, driver.piece_hp, opts.batch_size, opts.shuffle_seed), m,
        num_iterations, num_epochs, initial_parameters, record_every, verbose, warm_start,
        callback)


def hdf5_arrays(path, x_key, y_key, *, chunk_examples=None, scale="auto"):
    """(X, Y) for ``fit`` on Dask from an HDF5 file, examples along the first axis.

    X: a dask array (n_x, m) float64 whose blocks of ``chunk_examples`` examples each
    worker reads from the file itself (it must be at the same path on the workers),
    converted as ``fastdnn.io.HDF5Source`` converts chunks (``scale="auto"``: integer X
    divided by its dtype's maximum, uint8 -> /255). Y: the labels in memory (n_out, m)
    float64 ((m,) and (1, m) labels give one row; (m, n_out) targets are transposed).
    """
    import dask.array as da
    import h5py

    from .io.sources import HDF5Source

    source = HDF5Source(path, x_key, y_key, chunk_examples=chunk_examples, scale=scale)
    f = h5py.File(source.path, "r")
    x = da.from_array(f[x_key], chunks=(source.chunk_examples,) + source.example_shape)
    X = x.reshape(source.m, source.n_x).T.astype(np.float64)
    if source._div is not None:
        X = X / np.float64(source._div)
    y = np.asarray(f[y_key])
    Y = y.T if source.y_layout == "rows" else y.reshape(1, -1)
    return X, np.ascontiguousarray(Y, dtype=np.float64)


def _forward_block(block, params, dims, acts):
    from .model import _forward

    return _forward(params, dims, acts, np.ascontiguousarray(block))


def predict_proba_dask(model, X):
    """A_L as a lazy dask array (n_L, m) of X (n_x, m), block by block on the workers."""
    import dask.array as da

    dims, dtype = model.layer_dims_, model.dtype_
    if not isinstance(X, da.Array) or X.ndim != 2 or X.shape[0] != dims[0]:
        raise ValueError("X must be a dask array of shape (%d, m); got %r"
                         % (dims[0], getattr(X, "shape", None)))
    X = X.rechunk({0: -1}).map_blocks(_check_x_block, dims[0], dtype, dtype=dtype)
    return X.map_blocks(_forward_block, model.parameters_, dims, model.activations_,
                        dtype=dtype, chunks=((dims[-1],), X.chunks[1]))


def score_dask(model, X, Y):
    """Accuracy (R^2 for identity outputs) on dask arrays X (n_x, m), Y as in ``fit``; the
    outputs and targets (n_L x m) are gathered to compute it."""
    import dask

    from .model import _score

    if Y is None:
        raise TypeError("score(X, Y) needs the targets Y")
    dims = model.layer_dims_
    _, Yc = prepare(X, Y, dims, model.dtype_, model.output_)
    A, Yv = dask.compute(predict_proba_dask(model, X), Yc)
    return _score(model.output_, A, Yv)
