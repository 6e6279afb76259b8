"""``fit`` / ``predict`` / ``score`` on data that is not one in-memory array.

``DeepNeuralNetwork.fit`` hands these sources here:

- h5py datasets and ``fastdnn.io.HDF5Source`` (examples along the first axis):
  out-of-core training, chunk by chunk, a background thread reading ahead;
- dask arrays (``fastdnn.distributed``): data-parallel training on Dask.

Both compute the same gradients as in-memory training, summed over pieces
(``fastdnn.engine.pieces``): full-batch gradient descent equals in-memory
training up to rounding; mini-batches follow the order their source documents.

What in-memory ``fit`` does besides and these do not (yet): validation data,
early stopping, checkpoints and resume, dropout (keep_prob < 1), the Gram
strategy (the direct one is used; results equal to rounding). Each is refused
with a clear error.
"""

from contextlib import nullcontext

import numpy as np

from . import validation as v
from .engine.pieces import PieceDriver, StopRequested, piece_sums
from .engine.threads import blas_threads
from .engine.trainer import TrainingDivergedError
from .initializers import initialize


def refuse_unsupported(what, validation_data=None, early_stopping=False, checkpoint=None,
                       resume=None):
    """Clear errors for the fit options sources do not support."""
    for name, value, default in (("validation_data", validation_data, None),
                                 ("early_stopping", early_stopping, False),
                                 ("checkpoint", checkpoint, None), ("resume", resume, None)):
        if value is not default and value != default:
            raise ValueError("fit on %s does not support %s yet; train without it (or load the "
                             "data into memory)" % (what, name))


def refuse_dropout(opts):
    if opts.keep_prob < 1:
        raise ValueError("fit on out-of-core or distributed data does not support dropout "
                         "(keep_prob=%r): its masks are drawn from one stream across the whole "
                         "batch, which a split into pieces cannot reproduce; use keep_prob=1"
                         % opts.keep_prob)


# -- training -------------------------------------------------------------------------

def fit_with_feed(model, make_feed, m, num_iterations=None, num_epochs=None,
                  initial_parameters=None, record_every=100, verbose=False, warm_start=False,
                  callback=None, piece_examples=None):
    """Train ``model`` from the feed ``make_feed(driver)`` makes (``PieceDriver.run_epochs``)
    over m examples; returns the model.

    Sets the fitted attributes exactly as in-memory ``fit`` does (parameters_,
    optimizer_state_, costs_, cost_iterations_, n_iter_, strategy_,
    layer_dims_, activations_, dtype_). ``piece_examples``: the examples of one gradient
    pass in this process (chunk or batch), for the BLAS thread policy of
    ``fastdnn.engine.threads`` (with ``model.n_threads``); None when the passes run
    elsewhere (Dask workers). On divergence, interrupt or a failure
    of the feed (a read error, lost workers), the model keeps the parameters
    of the last consistent point (the start of the failing epoch, or the last
    finite ones) before the error propagates.
    """
    dims, dtype, acts, opts = model._checked_config()
    refuse_dropout(opts)
    n = model._checked_length(num_iterations, num_epochs)
    record_every = v.check_positive("record_every", record_every, integer=True)
    state = None
    if warm_start and initial_parameters is None and hasattr(model, "parameters_"):
        params = v.check_parameters(model.parameters_, dims, dtype, "parameters")
        state = getattr(model, "optimizer_state_", None)
        if state is not None and state.get("position", 0):
            raise ValueError("warm_start from a model stopped inside an epoch (batch %d) cannot "
                             "continue on an out-of-core source, which trains whole epochs"
                             % state["position"])
        start = int(getattr(model, "n_iter_", 0))
        kept = [(i, c) for i, c in zip(model.cost_iterations_, model.costs_) if i < start]
    else:
        params = (initial_parameters if initial_parameters is not None
                  else initialize(dims, model.init, model.random_state))
        params = v.check_parameters(params, dims, dtype, "initial_parameters"
                                    if initial_parameters is not None else "parameters")
        for name in ("optimizer_state_", "val_costs_", "val_scores_", "best_iteration_"):
            model.__dict__.pop(name, None)
        start, kept = 0, []
    driver = PieceDriver(params, dims, acts, dtype, model.learning_rate, opts, state)
    feed = make_feed(driver)
    model.layer_dims_, model.activations_, model.dtype_ = dims, acts, dtype
    progress = _progress(n, start, verbose)
    recorded = []

    def on_epoch(done, record):
        if record is not None:
            recorded.append(record)
            if callback is not None:
                callback(*record)
        if progress is not None:
            progress.update(1)
        return interrupt.requested

    def absorb(done, records):
        model.parameters_ = driver.parameters()
        model.optimizer_state_ = driver.optimizer_state()
        model.cost_iterations_ = [i for i, _ in kept] + [i for i, _ in records]
        model.costs_ = [c for _, c in kept] + [c for _, c in records]
        model.n_iter_ = done
        model.strategy_ = "direct"

    from .model import TrainingInterrupted, _InterruptRequest

    threads = (blas_threads(model.n_threads, dims, piece_examples, "direct")
               if piece_examples is not None else nullcontext())
    interrupt = None
    try:
        with threads, _InterruptRequest() as interrupt:
            driver.run_epochs(feed, m, start, n, record_every, on_epoch,
                              should_stop=lambda: interrupt.requested)
    except TrainingDivergedError as err:
        absorb(err.iteration, err.recorded)
        raise
    except StopRequested:
        pass                      # the state of the start of the epoch, as below
    except BaseException:
        absorb(driver.epochs_done, [r for r in recorded if r[0] < driver.epochs_done])
        raise
    finally:
        if progress is not None:
            progress.close()
    done = driver.epochs_done
    absorb(done, [r for r in recorded if r[0] < done])
    if interrupt is not None and interrupt.requested and done < start + n:
        raise TrainingInterrupted(
            "training interrupted by Ctrl-C after %s %d of %d; the model keeps that state"
            % ("epoch" if opts.batch_size else "iteration", done, start + n), iteration=done)
    return model


def _progress(total, start, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="fit", unit="it", disable=None, leave=True)


class BatchCutter:
    """Cuts a stream of example pieces (X (n_x, k), Y (n_L, k)) into consecutive batches of
    ``batch_size`` columns (the last one smaller), as C-contiguous arrays."""

    def __init__(self, batch_size):
        self.batch_size = batch_size
        self.xs, self.ys, self.have = [], [], 0

    def feed(self, X, Y):
        """Yield the (Xb, Yb) batches completed by this piece."""
        pos, k = 0, X.shape[1]
        while pos < k:
            take = min(self.batch_size - self.have, k - pos)
            self.xs.append(X[:, pos:pos + take])
            self.ys.append(Y[:, pos:pos + take])
            self.have += take
            pos += take
            if self.have == self.batch_size:
                yield self._cut()

    def rest(self):
        """The last, smaller batch, if any."""
        if self.have:
            yield self._cut()

    def _cut(self):
        Xb = np.ascontiguousarray(np.concatenate(self.xs, axis=1) if len(self.xs) > 1
                                  else self.xs[0])
        Yb = np.ascontiguousarray(np.concatenate(self.ys, axis=1) if len(self.ys) > 1
                                  else self.ys[0])
        self.xs, self.ys, self.have = [], [], 0
        return Xb, Yb


class HDF5Feed:
    """The batches of each epoch from an ``HDF5Source``, gradients computed here.

    Full batch: one batch per epoch, its gradient summed over the chunks in file
    order. Mini-batches: the source's order (``shuffle="chunks"``:
    ``chunk_shuffled_order``; ``"exact"``: the in-memory ``epoch_orders``).
    """

    def __init__(self, source, dims, acts, dtype, batch_size, shuffle_seed, hp):
        self.source, self.dims, self.acts, self.dtype, self.hp = source, dims, acts, dtype, hp
        self.batch_size, self.shuffle_seed = batch_size, shuffle_seed
        where = source._where
        output = acts[-1]
        # integer X (pixels) converts to finite floats: only the labels need checking then
        x_is_integer = source.x_dtype.kind in "biu"
        label_dims = [1] + list(dims[1:])

        def transform(X, Y, lo):
            try:
                if x_is_integer:
                    Y = v.check_targets(np.zeros((1, Y.shape[1])), Y, label_dims, dtype,
                                        output)[1]
                    return (X if X.dtype == dtype else np.ascontiguousarray(X, dtype=dtype)), Y
                return v.check_targets(X, Y, dims, dtype, output)
            except (TypeError, ValueError) as err:
                raise type(err)("%s%s: %s" % (where, "" if lo is None else
                                              ", chunk from example %d" % lo, err)) from None

        self.transform = transform

    def epoch(self, e):
        if self.batch_size is None:
            yield self._full
            return
        yield from self._batches(e)

    def _full(self, params):
        grads, loss = None, 0.0
        for _, X, Y in self.source.chunks(transform=self.transform):
            g, l = piece_sums(params, self.dims, self.acts, X, Y, self.hp)
            grads = g if grads is None else grads + g
            loss += l
        return grads, loss, self.source.m

    def _plan(self, e):
        src, B = self.source, self.batch_size
        m = src.m
        if src.shuffle == "exact":
            order = np.random.RandomState(self.shuffle_seed + e + 1).permutation(m)
            plan = []
            for lo in range(0, m, B):
                idx = order[lo:lo + B]
                rows = np.sort(idx)
                plan.append(("rows", rows, np.searchsorted(rows, idx)))
            return plan
        rs = np.random.RandomState(self.shuffle_seed + e + 1)
        bounds = src.chunk_bounds()
        plan = []
        for c in rs.permutation(len(bounds)):
            lo, hi = bounds[c]
            plan.append(("range", lo, hi, rs.permutation(hi - lo)))
        return plan

    def _batches(self, e):
        cutter = BatchCutter(self.batch_size)
        for _, X, Y in self.source.chunks(self._plan(e), transform=self.transform):
            for Xb, Yb in cutter.feed(X, Y):
                yield self._compute(Xb, Yb)
        for Xb, Yb in cutter.rest():
            yield self._compute(Xb, Yb)

    def _compute(self, Xb, Yb):
        def compute(params):
            g, l = piece_sums(params, self.dims, self.acts, Xb, Yb, self.hp)
            return g, l, Xb.shape[1]
        return compute


def as_hdf5_source(X, Y):
    """An ``HDF5Source`` from fit/score's (X, Y): an HDF5Source with Y None (its labels are
    its y_key), or an h5py dataset X with labels Y (a dataset or an array, or None)."""
    from .io.sources import HDF5Source

    if isinstance(X, HDF5Source):
        if Y is not None:
            raise ValueError("an HDF5Source carries its own labels (HDF5Source(path, x_key, "
                             "y_key) or HDF5Source(dataset, y=...)): call with Y=None")
        return X
    if type(X).__name__ != "Dataset":
        raise TypeError("X from h5py must be an h5py.Dataset (examples along the first axis); "
                        "got %s" % type(X).__name__)
    return HDF5Source(X, y=Y)


def fit_hdf5(model, X, Y, num_iterations=None, *, num_epochs=None, initial_parameters=None,
             record_every=100, verbose=False, warm_start=False, callback=None,
             validation_data=None, early_stopping=False, patience=10, checkpoint=None,
             checkpoint_every=100, resume=None):
    """``fit`` on an h5py dataset or ``HDF5Source`` (see ``DeepNeuralNetwork.fit``)."""
    refuse_unsupported("HDF5 data", validation_data, early_stopping, checkpoint, resume)
    source = as_hdf5_source(X, Y)
    if not source.has_labels:
        raise ValueError("fit needs labels: give y_key to HDF5Source, or Y with the h5py dataset")
    dims, dtype, acts, opts = model._checked_config()
    if source.n_x != dims[0]:
        raise ValueError("X must have n_x = layer_dims[0] = %d features per example; %s has "
                         "examples of shape %s (%d values)" % (dims[0], source._where,
                                                               source.example_shape, source.n_x))
    return fit_with_feed(model, lambda driver: HDF5Feed(
        source, dims, acts, dtype, opts.batch_size, opts.shuffle_seed, driver.piece_hp),
        source.m, num_iterations, num_epochs, initial_parameters, record_every, verbose,
        warm_start, callback,
        piece_examples=min(opts.batch_size or source.chunk_examples, source.chunk_examples))


# -- inference ------------------------------------------------------------------------

def _outputs_hdf5(model, source, labels):
    """A_L (n_L, m) of a source, chunk by chunk, and its validated targets (n_L, m) when
    ``labels`` (the chunks' inputs are never all in memory; A and Y are n_L x m)."""
    from .model import _forward

    dims, dtype, acts = model.layer_dims_, model.dtype_, model.activations_
    if source.n_x != dims[0]:
        raise ValueError("X must have n_x = %d features per example; %s has examples of shape "
                         "%s (%d values)" % (dims[0], source._where, source.example_shape,
                                             source.n_x))
    A = np.empty((dims[-1], source.m), dtype=dtype)
    Y = np.empty((dims[-1], source.m), dtype=dtype) if labels else None

    def transform(Xc, Yc, lo):
        try:
            if labels:
                return v.check_targets(Xc, Yc, dims, dtype, acts[-1])
            return v.check_X(Xc, dims[0], dtype), None
        except (TypeError, ValueError) as err:
            raise type(err)("%s, chunk from example %d: %s" % (source._where, lo, err)) from None

    for lo, Xc, Yc in source.chunks(labels=labels, transform=transform):
        k = Xc.shape[1]
        A[:, lo:lo + k] = _forward(model.parameters_, dims, acts, Xc)
        if labels:
            Y[:, lo:lo + k] = Yc
    return A, Y


def predict_proba_hdf5(model, X):
    """A_L (n_L, m) of an h5py dataset / HDF5Source X (m, ...), chunk by chunk."""
    source = X if type(X).__module__ == "fastdnn.io.sources" else as_hdf5_source(X, None)
    return _outputs_hdf5(model, source, labels=False)[0]


def score_hdf5(model, X, Y):
    """Accuracy (R^2 for identity outputs) on an h5py dataset / HDF5Source with labels, in one
    pass over the chunks."""
    from .model import _score

    source = as_hdf5_source(X, Y)
    if not source.has_labels:
        raise ValueError("score needs labels: give y_key to HDF5Source, or Y with the h5py "
                         "dataset")
    A, Yv = _outputs_hdf5(model, source, labels=True)
    return _score(model.output_, A, Yv)
