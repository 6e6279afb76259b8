"""Compiled epochs driven one at a time from Python, with scikit-learn's loss and updates.

``fastdnn.sklearn`` runs scikit-learn's own epoch loop (shuffle, learning-rate
schedule, stopping rules) in Python and hands each epoch to an *epoch runner*:

- ``run_epoch(order, learning_rate) -> loss``: one epoch over the training rows
  in ``order`` (positions 0..n-1), scikit-learn's recorded loss (NaN when the
  outputs or the parameters turned non-finite);
- ``validation_outputs()``: outputs (n_val, n_L) for early stopping;
- ``loss_and_gradient_sums()``: full-batch loss and unscaled gradient sums (L-BFGS);
- the parameters and optimiser state (``RunnerState``).

Two runners share that interface. ``EpochRunner`` holds the rows in memory
and runs an epoch's batches in one compiled call (``batches.minibatch_epochs``,
on one core or, with strategy "split", each batch split across the cores):
examples are rows, as scikit-learn stores them, X (n, n_0) and Y (n, n_L)
C-contiguous. ``PieceEpochRunner`` takes its rows from a *feed* (HDF5 read
batch by batch, blocks of a dask array on Dask workers): each batch's gradient
sums come from ``engine.pieces.piece_sums`` over its pieces, and the update is
the same compiled ``update_step`` (``engine.pieces.apply_update``).
"""

import numpy as np

from ..kernels.training import (KEEP_PROB, LAMBD, LOSS_FORM, SKLEARN_LOSS, gradient_sums,
                                predict_forward)
from ..kernels.update import SK_ADAM, SK_NESTEROV, SK_SGD
from .batches import minibatch_epochs
from .pieces import apply_update, l2_term, without_l2_and_dropout
from .rng import new_state
from .strategy import check_split
from .threads import blas_threads, split_parts
from .workspace import PartBuffers, Workspace

#: scikit-learn solver -> (update rule, optimiser moments kept); L-BFGS only asks for
#: losses and gradients (SciPy updates), so it keeps no moments and its rule is unused.
SOLVERS = {"sgd": (SK_SGD, 1), "sgd_nesterov": (SK_NESTEROV, 1), "adam": (SK_ADAM, 2),
           "lbfgs": (SK_SGD, 0)}


class RunnerState:
    """One network's parameters and optimiser state, in a Workspace of ``ws_rows`` examples.

    layer_dims [n_0, ..., n_L]; activations: L names (the last is the output);
    solver: a key of ``SOLVERS``; hp: the kernels' hyper-parameter vector
    (``TrainingOptions.kernel_hyperparameters(SKLEARN_LOSS)``: beta is
    scikit-learn's ``momentum``, lambd its ``alpha``); batch_size: the largest
    batch (for the BLAS thread policy). ``dropout_seed`` starts the dropout
    masks when hp's keep_prob < 1. strategy: "direct" or "split"
    (``fastdnn.engine.strategy``; the thread policy follows it).
    """

    def __init__(self, layer_dims, activations, dtype, solver, hp, batch_size, n_threads,
                 dropout_seed, ws_rows, gather, strategy="direct"):
        if hp[LOSS_FORM] != SKLEARN_LOSS:
            raise ValueError("epoch runners record scikit-learn's loss: build hp with "
                             "SKLEARN_LOSS")
        self.rule, moments = SOLVERS[solver]
        self.activations = list(activations)
        self.hp = hp
        self.batch_size = int(batch_size)
        self.n_threads = n_threads
        self.strategy = strategy
        self.ws = Workspace(layer_dims, ws_rows, dtype, activations,
                            dropout=hp[KEEP_PROB] < 1, moments=moments, gather=gather)
        self.ws.rng[:] = new_state(dropout_seed)

    # -- state in scikit-learn's orientation ---------------------------------
    def set_parameters(self, coefs, intercepts):
        """Load coefs (n_{l-1}, n_l) and intercepts (n_l,) of every layer (scikit-learn's)."""
        for l, (coef, intercept) in enumerate(zip(coefs, intercepts), start=1):
            self.ws.W(l)[...] = coef.T
            self.ws.b(l)[...] = intercept.reshape(-1, 1)

    def parameters(self, buf=None):
        """(coefs, intercepts): new arrays in scikit-learn's orientation, from ``buf``
        (a flat copy of the parameters; default: the current ones)."""
        buf = self.ws.params if buf is None else buf
        L = self.ws.n_layers
        coefs = [np.array(self.ws.W(l, buf).T, order="C") for l in range(1, L + 1)]
        intercepts = [self.ws.b(l, buf).ravel().copy() for l in range(1, L + 1)]
        return coefs, intercepts

    def optimizer_state(self):
        """Copies of the moments (flat, like params) and Adam's step count t."""
        return {"vel": self.ws.vel.copy(), "sq": self.ws.sq.copy(),
                "t": int(self.ws.counters[0]), "rng": self.ws.rng.copy()}

    def set_optimizer_state(self, state):
        self.ws.vel[...] = state["vel"]
        self.ws.sq[...] = state["sq"]
        self.ws.counters[0] = state["t"]
        self.ws.rng[...] = state["rng"]

    def blas_threads(self):
        """Context in which to run epochs: fastdnn's BLAS thread policy for these sizes
        (``engine.threads``), set once around the loop, not per epoch."""
        return blas_threads(self.n_threads, list(self.ws.dims), self.batch_size, self.strategy)

    def weight_mask(self):
        """(P,) 1 where the flat buffer holds a weight, 0 at biases (L2 reaches weights only)."""
        mask = np.zeros(self.ws.params.size, dtype=self.ws.dtype)
        for l in range(1, self.ws.n_layers + 1):
            self.ws.W(l, mask)[...] = 1
        return mask

    def sklearn_packing(self):
        """Index (P,) such that params[index] is scikit-learn's ``_pack`` order: every coef
        (n_{l-1}, n_l) flattened, then every intercept."""
        index = np.arange(self.ws.params.size)
        L = self.ws.n_layers
        return np.concatenate([self.ws.W(l, index).T.ravel() for l in range(1, L + 1)]
                              + [self.ws.b(l, index).ravel() for l in range(1, L + 1)])

    def predict(self, X):
        """Outputs (m, n_L) of the current parameters for rows X (m, n_0)."""
        return forward_rows(self.ws.params, list(self.ws.dims), self.activations, X)


class EpochRunner(RunnerState):
    """The epoch runner of rows in memory: buffers for ``batch_size`` rows, each epoch's
    batches in one compiled call (strategy "split": each batch cut into ``n_threads``
    slices, default one per core, run in parallel). ``bind`` gives it its rows before
    training."""

    def __init__(self, layer_dims, activations, dtype, solver, hp, batch_size, n_threads=None,
                 dropout_seed=0, strategy="direct"):
        check_split(strategy, batch_size, hp[KEEP_PROB])
        super().__init__(layer_dims, activations, dtype, solver, hp, batch_size, n_threads,
                         dropout_seed, batch_size, gather=True, strategy=strategy)
        self.split = (PartBuffers(layer_dims, activations, batch_size, dtype,
                                  split_parts(n_threads)) if strategy == "split" else None)
        self.X = self.Y = self.X_val = None

    def bind(self, X, Y, X_val=None):
        """Train on rows X (n, n_0) and targets Y (n, n_L) (made C-contiguous in the
        runner's dtype); X_val (n_val, n_0): the validation rows, if any. Returns self."""
        self.X = np.ascontiguousarray(X)
        self.Y = np.ascontiguousarray(Y, dtype=self.X.dtype)
        self.X_val = X_val
        return self

    def run_epoch(self, order, learning_rate):
        """Train one epoch in place: batches of ``batch_size`` rows of X and Y taken in
        ``order`` (n,) int64, the last one smaller.

        Returns the epoch's loss as scikit-learn records it: the batches' mean
        losses (with the L2 term, before each batch's update) weighted by their
        sizes, over n. Run it inside ``blas_threads()``. NaN when an output or a
        parameter turned non-finite (the epoch stops there).
        """
        lrs = np.array([learning_rate], dtype=np.float64)
        cost, _, failed, _, _ = minibatch_epochs(
            self.ws, self.split, self.X, self.Y, order.reshape(1, -1), self.rule, self.hp, lrs,
            min(self.batch_size, self.X.shape[0]), True, 0, np.iinfo(np.int64).max, 0.0)
        return np.nan if failed else float(cost)

    def validation_outputs(self):
        """Outputs (n_val, n_L) of the current parameters for the validation rows."""
        return self.predict(self.X_val)

    def loss_and_gradient_sums(self):
        """(summed loss with its L2 term, unscaled gradient sums (P,)) of the current
        parameters over all the bound rows (at most ``batch_size``). For full-batch
        solvers (L-BFGS). The sums are the workspace's buffer: copy to keep."""
        ws = self.ws
        loss = gradient_sums(self.X.T, self.Y.T, ws.dims, ws.codes, ws.w_off, ws.b_off,
                             ws.a_off, ws.params, ws.grads, ws.acts, ws.delta, ws.pre, ws.mask,
                             self.hp, ws.rng)
        return loss, ws.grads


class PieceEpochRunner(RunnerState):
    """The epoch runner of rows that are not in memory: batches from a *feed*.

    feed: ``n_samples`` (training rows); ``batches(order, batch_size, meta)``
    yielding, batch by batch of the rows in ``order`` (consecutive slices of
    ``batch_size``, the last smaller), callables ``compute(params) -> (grads (P,)
    unscaled sums, summed loss without L2, m_b)``; ``full(params, meta) -> (grads,
    loss)`` over every training row; ``validation_outputs(params, meta) -> (n_val,
    n_L)``. meta = (layer_dims, activations, the pieces' hp) is what
    ``piece_sums`` needs. Dropout is refused (its masks cannot be split into pieces).
    """

    def __init__(self, layer_dims, activations, dtype, solver, hp, batch_size, feed,
                 n_threads=None):
        if hp[KEEP_PROB] < 1:
            raise ValueError("training on HDF5 or dask data does not support dropout "
                             "(keep_prob=%r): its masks are drawn from one stream across the "
                             "whole batch; use keep_prob=1" % hp[KEEP_PROB])
        super().__init__(layer_dims, activations, dtype, solver, hp, batch_size, n_threads,
                         0, 1, gather=False)
        self.feed = feed
        self.meta = ([int(d) for d in layer_dims], list(activations),
                     without_l2_and_dropout(hp))

    def run_epoch(self, order, learning_rate):
        """``EpochRunner.run_epoch`` over the feed's batches: per batch its summed loss
        plus the L2 term (before the update), then the compiled update; NaN when a loss,
        a gradient or a parameter turned non-finite (the epoch stops there)."""
        ws, lambd, total = self.ws, self.hp[LAMBD], 0.0
        for compute in self.feed.batches(order, self.batch_size, self.meta):
            grads, loss, m_b = compute(ws.params)
            if not (np.isfinite(loss) and np.isfinite(grads).all()):
                return np.nan
            total += loss + l2_term(ws, lambd)
            if not apply_update(ws, grads, self.rule, self.hp, learning_rate, m_b):
                return np.nan
        return total / self.feed.n_samples

    def validation_outputs(self):
        return self.feed.validation_outputs(self.ws.params, self.meta)

    def loss_and_gradient_sums(self):
        """(summed loss with its L2 term, unscaled gradient sums (P,)) over every row of
        the feed, summed over its pieces."""
        grads, loss = self.feed.full(self.ws.params, self.meta)
        return loss + l2_term(self.ws, self.hp[LAMBD]), grads


def flat_parameters(coefs, intercepts, dtype):
    """scikit-learn's coefs (n_{l-1}, n_l) and intercepts (n_l,) as one flat (P,) buffer
    in the kernels' layout (W1, b1, W2, b2, ...)."""
    return np.concatenate([a.ravel() for coef, intercept in zip(coefs, intercepts)
                           for a in (coef.T, intercept)]).astype(dtype, copy=False)


def forward_rows(params, layer_dims, activations, X):
    """Outputs (m, n_L) of the network with flat parameters ``params`` (P,) for rows X (m, n_0)."""
    out = Workspace(layer_dims, X.shape[0], params.dtype, activations, training=False)
    out.params[...] = params
    predict_forward(X.T, out.dims, out.codes, out.w_off, out.b_off, out.a_off, out.params,
                    out.acts)
    return out.A(out.n_layers).T.copy()
