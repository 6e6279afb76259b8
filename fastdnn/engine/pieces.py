"""Training from gradient sums over pieces of the examples (out-of-core and data-parallel).

The compiled kernels keep *unscaled* gradient sums (the 1/m is fused into the
update), so the gradient of a batch is the sum of the gradient sums of any
split of its examples into pieces. Two halves, used by ``fastdnn.outofcore``
(chunks read from HDF5 in a background thread) and ``fastdnn.distributed``
(blocks of a dask array on Dask workers):

- worker side, ``piece_sums(params, dims, activations, X, Y)``: one forward
  and backward pass (the compiled ``gradient_sums`` kernel) over a piece X
  (n_0, k), Y (n_L, k) -> (unscaled gradient sums (P,), summed loss without
  the L2 term). Pure: flat parameters and plain arrays in, arrays out
  (picklable, so Dask can ship it).
- driver side, ``PieceDriver``: the parameters and optimiser state (momentum's
  v, Adam's v, s and t, the learning-rate schedule); ``update`` applies one
  step of the optimiser from the summed gradients over m_b examples through
  the compiled ``update_step`` kernel (the very update in-memory training
  uses), and ``run_epochs`` is the training loop over a *feed*.

The scikit-learn estimators on such data use ``piece_sums`` and the same update
(``apply_update``, ``l2_term``) through ``engine.epochs.PieceEpochRunner``, with
scikit-learn's epoch loop instead of ``run_epochs``.

A feed (see ``run_epochs``) hands out, for each epoch, the batches as callables
``compute(params) -> (grads, loss, m_b)``. Full batch: one per epoch, summed
over every piece; mini-batches: one per batch, in the feed's order.

Dropout is not supported here (the masks are drawn from one generator stream
across the whole batch, layer by layer, which a split into pieces cannot
reproduce); the API layer refuses it with a clear error.
"""

import dataclasses
import threading

import numpy as np

from ..kernels.training import KEEP_PROB, LAMBD, gradient_sums, update_step
from ..kernels.update import OPTIMIZERS
from .rng import new_state
from .schedule import learning_rates
from .trainer import TrainingDivergedError
from .workspace import Workspace

def kernel_hyperparameters(options, **changes):
    """The kernels' ``hp`` vector (float64, ``TrainingOptions.kernel_hyperparameters``) of
    ``options`` with some fields changed (e.g. lambd=0.0, keep_prob=1.0)."""
    return dataclasses.replace(options, **changes).kernel_hyperparameters()


_local = threading.local()


def _piece_workspace(dims, activations, dtype, k):
    """A per-thread Workspace for pieces of k examples (the last few shapes are kept)."""
    cache = getattr(_local, "workspaces", None)
    if cache is None:
        cache = _local.workspaces = {}
    key = (tuple(int(d) for d in dims), tuple(activations), np.dtype(dtype).str, int(k))
    ws = cache.get(key)
    if ws is None:
        if len(cache) >= 4:
            cache.pop(next(iter(cache)))
        ws = cache[key] = Workspace(key[0], k, dtype, activations)
    return ws


def piece_sums(params, dims, activations, X, Y, hp):
    """Unscaled gradient sums and summed loss of one piece of examples.

    params: flat parameters (P,) in the Workspace layout (W1, b1, W2, ...) of
    X's dtype; dims: [n_0, ..., n_L]; activations: the L names (output last);
    X (n_0, k) and Y (n_L, k), C-contiguous, float64 or float32, validated;
    hp: the kernels' hyper-parameter vector without L2 and dropout
    (``PieceDriver.piece_hp``).
    Returns (grads (P,) new array of X's dtype, loss: float, the summed loss
    over the k examples without the L2 term). k = 0 gives zeros.
    """
    k = X.shape[1]
    if k == 0:
        return np.zeros(params.shape[0], dtype=X.dtype), 0.0
    ws = _piece_workspace(dims, activations, X.dtype, k)
    ws.params[...] = params
    loss = gradient_sums(X, Y, ws.dims, ws.codes, ws.w_off, ws.b_off, ws.a_off, ws.params,
                         ws.grads, ws.acts, ws.delta, ws.pre, ws.mask, hp, ws.rng)
    return ws.grads.copy(), float(loss)


def sum_pieces(results):
    """(grads, loss) summed over an ordered list of ``piece_sums`` results (fixed order:
    the same sum whatever the pieces' timing)."""
    grads = results[0][0].copy()
    loss = results[0][1]
    for g, l in results[1:]:
        grads += g
        loss += l
    return grads, loss


def without_l2_and_dropout(hp):
    """A copy of the kernels' ``hp`` vector with lambd = 0 and keep_prob = 1: what
    ``piece_sums`` takes (the driver adds the L2 term once per batch, see ``l2_term``)."""
    out = np.array(hp, dtype=np.float64)
    out[LAMBD] = 0.0
    out[KEEP_PROB] = 1.0
    return out


def l2_term(ws, lambd):
    """lambd/2 * sum_l ||W_l||^2 (float64) of the parameters in Workspace ``ws``: the L2
    part of a batch's summed cost (m_b times its mean cost's L2 term)."""
    if lambd == 0.0:
        return 0.0
    return 0.5 * lambd * sum(float(np.sum(ws.W(l).astype(np.float64) ** 2))
                             for l in range(1, ws.n_layers + 1))


def apply_update(ws, grads, rule, hp, lr, m):
    """One step of update rule ``rule`` (``kernels.update``'s codes) on Workspace ``ws``'s
    parameters and moments from unscaled gradient sums grads (P,) over m examples, with
    learning rate lr and L2 hp[LAMBD] (the compiled ``update_step`` in-memory training
    uses); returns whether every parameter is finite."""
    grads = np.ascontiguousarray(grads, dtype=ws.dtype)
    return bool(update_step(ws.params, grads, ws.vel, ws.sq, ws.dims, ws.w_off, ws.b_off,
                            rule, hp, float(lr), int(m), ws.counters, False, ws.arith))


def chunk_shuffled_order(m, chunk_examples, shuffle_seed, epoch):
    """(m,) int64: the example order of mini-batch epoch ``epoch`` over sequential chunks.

    The examples are cut into chunks of ``chunk_examples`` (the last one
    smaller); with ``rs = np.random.RandomState(shuffle_seed + epoch + 1)`` the
    chunks are taken in the order ``rs.permutation(n_chunks)`` and the examples
    of each chunk, as it comes, in the order ``rs.permutation(its length)``
    (the same generator, drawn on). Batches are consecutive slices of this
    order (full ones, then the smaller rest), so a batch may span two chunks.
    """
    rs = np.random.RandomState(shuffle_seed + epoch + 1)
    starts = np.arange(0, m, chunk_examples)
    out = []
    for c in rs.permutation(len(starts)):
        lo = int(starts[c])
        hi = min(lo + chunk_examples, m)
        out.append(lo + rs.permutation(hi - lo))
    return np.concatenate(out).astype(np.int64)


class StopRequested(Exception):
    """``run_epochs`` stopped inside an epoch on request; the state is that of its start."""


class PieceDriver:
    """Parameters and optimiser state of a run trained from summed gradients.

    parameters: seed-format dict (W1 (n_1, n_0), b1 (n_1, 1), ...); dims,
    activations (L names), dtype; learning_rate (lr0) and options (a
    ``TrainingOptions``; keep_prob must be 1); state: ``optimizer_state()`` of
    an earlier run (in-memory or not) to continue its moments and Adam's t.
    """

    def __init__(self, parameters, dims, activations, dtype, learning_rate, options,
                 state=None):
        if options.keep_prob < 1:
            raise ValueError("training from pieces (out-of-core or distributed) does not "
                             "support dropout (keep_prob=%r): its masks are drawn from one "
                             "stream across the whole batch; use keep_prob=1" % options.keep_prob)
        self.options = options
        self.learning_rate = learning_rate
        self.dims = [int(d) for d in dims]
        self.activations = list(activations)
        self.dtype = np.dtype(dtype)
        self.rule = OPTIMIZERS[options.optimizer]
        self.hp = kernel_hyperparameters(options)
        #: what workers' ``piece_sums`` take: no L2 (the driver adds the L2 term of the
        #: cost once per batch and the update adds its gradient), no dropout
        self.piece_hp = kernel_hyperparameters(options, lambd=0.0, keep_prob=1.0)
        self.ws = ws = Workspace(self.dims, 1, dtype, activations,
                                 moments={"gd": 0, "momentum": 1, "adam": 2}[options.optimizer],
                                 native_update=options.update_arithmetic == "native")
        ws.set_parameters(parameters)
        ws.rng[:] = new_state(options.dropout_seed)
        if state is not None:
            ws.set_optimizer_state(state)
        self._live = [ws.params, ws.vel, ws.sq, ws.counters]
        # snapshots: [0] the start of the current epoch, [1] the start of the previous one
        self._saved = [[a.copy() for a in self._live] for _ in range(2)]

    @property
    def n_parameters(self):
        return self.ws.params.size

    def flat_parameters(self):
        """A copy of the flat parameters (P,) (what workers receive)."""
        return self.ws.params.copy()

    def parameters(self):
        """Seed-format dict of copies (W1, b1, ...)."""
        return self.ws.parameters()

    def optimizer_state(self):
        """The same dict as ``TrainingEngine.optimizer_state()`` (whole epochs: position 0)."""
        ws = self.ws
        return {"v": ws.parameters(ws.vel, "d") if ws.vel.size else None,
                "s": ws.parameters(ws.sq, "d") if ws.sq.size else None,
                "t": int(ws.counters[0]), "rng": int(ws.rng[0]), "position": 0, "partial": 0.0}

    def l2_term(self):
        """lambd/2 * sum_l ||W_l||^2 (float64), the L2 part of a batch's summed cost."""
        return l2_term(self.ws, self.hp[LAMBD])

    def update(self, grads, lr, m):
        """One optimiser step from unscaled gradient sums grads (P,) over m examples with
        learning rate lr (the compiled ``update_step``); returns whether every parameter
        is finite."""
        return apply_update(self.ws, grads, self.rule, self.hp, lr, m)

    def _save_epoch_start(self):
        self._saved.reverse()
        for live, saved in zip(self._live, self._saved[0]):
            saved[...] = live

    def _restore(self, slot):
        for live, saved in zip(self._live, self._saved[slot]):
            live[...] = saved

    def restore_epoch_start(self):
        """Back to the state at the start of the current epoch (after a failure)."""
        self._restore(0)

    def run_epochs(self, feed, m, start, n, record_every, on_epoch=None, should_stop=None):
        """Train epochs start .. start + n - 1; returns [(epoch, cost), ...] recorded.

        feed.epoch(e) yields the epoch's batches as callables
        ``compute(flat_params) -> (grads (P,), summed loss, m_b)``; m is the number
        of examples (the cost is the epoch's summed regularised loss over m, as
        in-memory). ``on_epoch(epochs_done, record or None)`` after each epoch; True
        stops. ``should_stop()`` is asked before every batch; when it is true inside an
        epoch, the state goes back to the epoch's start and ``StopRequested`` is raised
        (``self.epochs_done`` says where it stands). On divergence raises
        ``TrainingDivergedError`` with the last finite state restored (full batch:
        the parameters with the last finite output; mini-batches: the start of the
        failing epoch); on any other exception (interrupt, lost worker, read error)
        the state at the start of the failing epoch is restored and
        ``self.epochs_done`` tells which it is.
        """
        o = self.options
        lrs = learning_rates(self.learning_rate, o.decay, o.decay_rate, o.time_interval, start, n)
        recorded = []
        self.epochs_done = self._first_epoch = start
        for e in range(start, start + n):
            self._save_epoch_start()
            total = 0.0
            try:
                for compute in feed.epoch(e):
                    if should_stop is not None and should_stop():
                        raise StopRequested("stopped inside epoch %d" % e)
                    grads, loss, mb = compute(self.flat_parameters())
                    if not np.isfinite(loss) or not np.isfinite(grads).all():
                        self._diverged(e, recorded, in_update=False)
                    total += loss + self.l2_term()
                    if not self.update(grads, lrs[e - start], mb):
                        self._diverged(e, recorded, in_update=True)
            except TrainingDivergedError:
                raise
            except BaseException:
                self.restore_epoch_start()
                raise
            self.epochs_done = e + 1
            record = (e, total / m) if e % record_every == 0 else None
            if record is not None:
                recorded.append(record)
            if on_epoch is not None and on_epoch(e + 1, record):
                break
        return recorded

    def _diverged(self, e, recorded, in_update):
        """Restore the last finite state and raise ``TrainingDivergedError`` (the in-memory
        engine's rule: full batch, an update that made a parameter non-finite -> keep the
        parameters before it (iteration e); an output that is not finite at iteration e ->
        keep e - 1 when this run has it; mini-batches -> the start of the failing epoch)."""
        full = self.options.batch_size is None
        if full and not in_update and e > self._first_epoch:
            self._restore(1)
            kept = e - 1
        else:
            self._restore(0)
            kept = e
        unit = "iteration" if full else "epoch"
        self.epochs_done = kept
        raise TrainingDivergedError(
            "training diverged at %s %d: the output or the parameters became NaN or infinite "
            "(learning_rate=%g may be too large); kept the parameters after %s %d, the last "
            "ones known to be finite" % (unit, e, self.learning_rate, unit, kept),
            iteration=kept,
            recorded=[r for r in recorded if r[0] < kept or (full and r[0] == kept)],
            parameters=self.parameters())
