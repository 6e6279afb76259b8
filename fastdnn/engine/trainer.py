"""The training engine: many steps per compiled call.

Python only runs once every ``record_every`` epochs (to record the cost,
report progress and guard against divergence); everything in between happens
inside ``fastdnn.kernels.training`` on the buffers of a ``Workspace``. With
full batches an epoch is one iteration; with mini-batches it is one shuffled
pass over the examples, all of it compiled.
"""

import time

import numpy as np

from ..kernels.training import train_full, train_gram
from ..kernels.update import OPTIMIZERS
from .batches import minibatch_epochs
from .options import TrainingOptions
from .rng import new_state
from .schedule import epoch_orders, learning_rates
from .strategy import check_split, check_strategy, choose_strategy
from .threads import blas_threads, split_parts
from .workspace import PartBuffers, Workspace

#: At most this many epoch orders (int64 each) are drawn ahead per compiled call.
ORDER_ENTRIES_PER_CALL = 1 << 22
#: Target duration of one compiled call: Python (interrupts, checkpoints, progress)
#: gets control back at least this often, mini-batch epochs split if need be.
CHUNK_SECONDS = 0.25


class TrainingDivergedError(FloatingPointError):
    """The output or the parameters became NaN/inf; the last finite state is kept."""

    def __init__(self, message, iteration, recorded, parameters):
        super().__init__(message)
        self.iteration = iteration    # iterations (epochs) done before the kept parameters
        self.recorded = recorded      # [(iteration, cost), ...] recorded before that
        self.parameters = parameters  # the kept (last finite) parameters, seed format


class TrainingEngine:
    """Training on validated X (n_x, m) and Y (n_L, m) of one float dtype.

    ``parameters`` is a seed-format dict (W1 (n_1, n_x), b1 (n_1, 1), ...);
    ``activations`` names the L layers' activations (the last is the output:
    sigmoid, softmax or identity, with its loss); ``options`` a
    ``TrainingOptions`` (default: full-batch gradient descent). ``strategy`` is
    "direct", "gram", "split" or "auto" (``fastdnn.engine.strategy``; "gram" only
    where it is exact, see ``TrainingOptions.gram_exact``; "split" only for
    mini-batches without dropout), and
    ``planned_iterations`` feeds the "auto" cost model; ``n_threads`` is the
    BLAS thread policy (``fastdnn.engine.threads``). ``state`` (from
    ``optimizer_state()`` of an earlier run) continues the optimiser's moments,
    step count and dropout generator exactly.
    """

    def __init__(self, X, Y, parameters, layer_dims, activations, learning_rate,
                 strategy="auto", planned_iterations=1000, n_threads=None, options=None,
                 state=None):
        opts = options or TrainingOptions()
        self.options = opts
        self.X, self.Y = X, Y
        m = X.shape[1]
        self.m = m
        if check_strategy(strategy, layer_dims) == "auto":
            strategy = (choose_strategy(list(layer_dims), m, planned_iterations)
                        if opts.gram_exact else "direct")
        elif strategy == "gram" and not opts.gram_exact:
            raise ValueError("strategy='gram' is exact only for full-batch gradient descent or "
                             "momentum (batch_size=None, optimizer 'gd' or 'momentum'); use "
                             "'direct' or 'auto'")
        check_split(strategy, opts.batch_size, opts.keep_prob)
        self.strategy = strategy
        self.n_threads = n_threads
        self.learning_rate = learning_rate
        self.rule = OPTIMIZERS[opts.optimizer]
        self.hp = opts.kernel_hyperparameters()
        batch = m if opts.batch_size is None else min(opts.batch_size, m)
        self.ws = Workspace(layer_dims, batch, X.dtype, activations, dropout=opts.keep_prob < 1,
                            moments={"gd": 0, "momentum": 1, "adam": 2}[opts.optimizer],
                            gather=opts.batch_size is not None,
                            native_update=opts.update_arithmetic == "native")
        self.ws.set_parameters(parameters)
        self.split = (PartBuffers(layer_dims, activations, batch, X.dtype, split_parts(n_threads))
                      if strategy == "split" else None)
        self.ws.rng[:] = new_state(opts.dropout_seed)
        if state is not None:
            self._set_state(state)
        if opts.batch_size is not None:
            # examples as contiguous rows, so a batch is gathered by whole rows
            self.XT, self.YT = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
        ws = self.ws
        # where a mini-batch run stands inside epoch n: [next batch, running loss total]
        self.cursor = np.zeros(2)
        if state is not None:
            self.cursor[:] = state.get("position", 0), state.get("partial", 0.0)
        self._steps_per_second = None
        self._track(self._gram_setup() if strategy == "gram" else [ws.params])

    # -- the Gram strategy's own state ----------------------------------------
    def _gram_setup(self):
        """Buffers of ``train_gram``; returns the parameter state that changes while training.

        W1 and its velocity stay in the workspace at their starting values
        W1(0), V(0) (the kernel skips them); Z0 = W1(0) X, P0 = V(0) X.
        """
        ws, X = self.ws, self.X
        o = self.options
        self.plain = o.optimizer == "gd" and o.lambd == 0 and o.decay is None
        self.G = np.ascontiguousarray(X.T @ X)
        self.Z1 = ws.W(1) @ X  # W1 X; the bias is added as it is activated
        self.S = np.zeros_like(self.Z1)
        V0 = ws.W(1, ws.vel) if ws.vel.size else None
        moving = V0 is not None and np.any(V0)
        self.Z0 = self.Z1.copy() if not self.plain else np.zeros((0, 0), X.dtype)
        self.P0 = V0 @ X if moving else np.zeros((self.Z1.shape[0], 0), X.dtype)
        self.C = np.zeros_like(self.Z1) if o.optimizer == "momentum" else np.zeros((0, 0), X.dtype)
        self.coef = np.array([1.0, 0.0, 0.0, 1.0 if moving else 0.0])  # [a, e, c, f]
        return [ws.params[ws.b_off[0]:], self.Z1, self.S, self.C, self.coef]

    def _gram_layer1(self, buf):
        """W1 (buf=params) or its velocity (buf=vel) formed from the Gram strategy's state."""
        ws, X = self.ws, self.X
        start = ws.W(1, buf)
        if self.plain:
            return start - X.dtype.type(self.learning_rate / self.m) * (self.S @ X.T)
        a, e, c, f = self.coef
        W0, V0 = ws.W(1), ws.W(1, ws.vel) if ws.vel.size else 0
        if buf is ws.params:
            return (X.dtype.type(a) * W0 + X.dtype.type(e) * V0 + self.S @ X.T).astype(X.dtype)
        return (X.dtype.type(c) * W0 + X.dtype.type(f) * V0 + self.C @ X.T).astype(X.dtype)

    # -- state in and out ------------------------------------------------------
    def parameters(self):
        """Current parameters as a seed-format dict of copies (W1 formed for 'gram')."""
        params = self.ws.parameters()
        if self.strategy == "gram":
            params["W1"] = self._gram_layer1(self.ws.params)
        return params

    def optimizer_state(self):
        """What continues this run exactly: {"v": {dW1, db1, ...} or None, "s": ..., "t":
        Adam's update steps so far, "rng": dropout generator state}. v and s follow the course's
        names (``initialize_velocity`` / ``initialize_adam``)."""
        ws = self.ws
        v = ws.parameters(ws.vel, "d") if ws.vel.size else None
        if v is not None and self.strategy == "gram":
            v["dW1"] = self._gram_layer1(ws.vel)
        return {"v": v, "s": ws.parameters(ws.sq, "d") if ws.sq.size else None,
                "t": int(ws.counters[0]), "rng": int(ws.rng[0]),
                "position": int(self.cursor[0]), "partial": float(self.cursor[1])}

    def gram_state(self):
        """The Gram strategy's own state, raw (None for other strategies): what a checkpoint
        needs to continue bit for bit. W1(0) and V(0) are the workspace's untouched slots."""
        if self.strategy != "gram":
            return None
        ws = self.ws
        out = {"W1_start": ws.W(1).copy(), "Z1": self.Z1.copy(), "S": self.S.copy(),
               "coef": self.coef.copy()}
        if ws.vel.size:
            out["V1_start"] = ws.W(1, ws.vel).copy()
        if self.C.size:
            out["C"] = self.C.copy()
        return out

    def set_gram_state(self, saved):
        """Continue a Gram run from ``gram_state()`` of a checkpoint (same data, same options)."""
        ws = self.ws
        ws.W(1)[...] = saved["W1_start"]
        if ws.vel.size and "V1_start" in saved:
            ws.W(1, ws.vel)[...] = saved["V1_start"]
        # G, Z0, P0 from W1(0) and V(0), exactly as the first run made them
        self._track(self._gram_setup())
        for name in ("Z1", "S", "C", "coef"):
            if name in saved:
                getattr(self, name)[...] = saved[name]

    def _track(self, parameter_state):
        """The arrays a divergence rewind saves and restores: the parameter state (the
        flat parameters, or the Gram strategy's) and everything else that moves."""
        ws = self.ws
        self._live = parameter_state + [ws.vel, ws.sq, ws.counters, ws.rng, self.cursor]
        self._saved = [[np.empty_like(a) for a in self._live] for _ in range(2)]

    def _set_state(self, state):
        self.ws.set_optimizer_state(state)

    # -- compiled calls ----------------------------------------------------------
    def _chunk(self, first, n, record, budget):
        """Run at most ``budget`` steps of epochs first .. first + n - 1, from where the
        run stands; returns (cost, epochs completed, stopped in a failure)."""
        ws, o = self.ws, self.options
        lrs = learning_rates(self.learning_rate, o.decay, o.decay_rate, o.time_interval, first, n)
        common = ws.kernel_args() + (self.rule, self.hp, ws.counters, ws.rng, lrs)
        if o.batch_size is not None:
            order = epoch_orders(self.m, o.shuffle_seed, first, n)
            cost, done, failed, position, partial = minibatch_epochs(
                ws, self.split, self.XT, self.YT, order, self.rule, self.hp, lrs, ws.m, record,
                int(self.cursor[0]), budget, self.cursor[1])
            self.cursor[:] = position, partial
            return cost, done, failed
        if self.strategy == "gram":
            return train_gram(self.X, self.Y, self.G, self.Z0, self.P0, self.Z1, self.S, self.C,
                              self.coef, *common[:-1], lrs[:n], n, record, self.plain, ws.arith)
        return train_full(self.X, self.Y, *common[:-1], lrs[:n], n, record, ws.arith)

    def _budget(self):
        """Steps for the next compiled call: about CHUNK_SECONDS at the measured speed."""
        if self._steps_per_second is None:
            return 1
        return max(1, int(self._steps_per_second * CHUNK_SECONDS))

    def _steps_between(self, done, position_before):
        """Update steps a mini-batch call made, from the epochs it completed and the cursor."""
        per_epoch = -(-self.m // self.ws.m)
        if done == 0:
            return int(self.cursor[0]) - position_before
        return per_epoch - position_before + (done - 1) * per_epoch + int(self.cursor[0])

    def _state_is_finite(self):
        return all(np.isfinite(a).all() for a in self._live)

    def _save(self, slot):
        for live, saved in zip(self._live, self._saved[slot]):
            saved[...] = live

    def _restore(self, slot, first, replay):
        """Go back to the state saved before epoch ``first``, then redo ``replay`` epochs
        (bit-identical: the same orders, rates and dropout masks)."""
        for live, saved in zip(self._live, self._saved[slot]):
            live[...] = saved
        if replay > 0:  # reruns updates that were finite before
            self._chunk(first, replay, False, np.iinfo(np.int64).max)

    # -- the loop ------------------------------------------------------------------
    def run(self, num_iterations, record_every, start_iteration=0, on_chunk=None):
        """Train num_iterations more epochs; return [(epoch, cost), ...] recorded.

        Epochs (iterations, with full batches) are numbered from
        ``start_iteration``; the cost is recorded at every multiple of
        ``record_every`` (full batch: before that iteration's update;
        mini-batches: the epoch's cost, see ``train_minibatch``).
        ``on_chunk(epoch, record)`` is called after every compiled call with the
        epoch reached and the (epoch, cost) recorded by it, or None; when it
        returns True, training stops there (early stopping).
        Raises ``TrainingDivergedError`` when the output or the parameters stop
        being finite, after rewinding to the last state known good (``_rewind``).
        """
        with blas_threads(self.n_threads, list(self.ws.dims), self.ws.m, self.strategy):
            return self._run(num_iterations, record_every, start_iteration, on_chunk)

    def _run(self, num_iterations, record_every, start_iteration, on_chunk):
        recorded = []
        it, stop = start_iteration, start_iteration + num_iterations
        slot, previous = 0, None
        per_call = max(1, ORDER_ENTRIES_PER_CALL // self.m) if self.options.batch_size else stop
        while it < stop:
            n = min(record_every - it % record_every, stop - it, per_call)
            record = it % record_every == 0
            self._save(slot)
            budget = self._budget()
            if self.options.batch_size is None:
                n = min(n, budget)  # full batch: an epoch is one step
            else:  # draw the orders of the epochs the budget reaches, no more
                per_epoch = -(-self.m // self.ws.m)
                n = min(n, -(-(int(self.cursor[0]) + budget) // per_epoch))
            position, clock = int(self.cursor[0]), time.perf_counter()
            cost, done, failed = self._chunk(it, n, record, budget)
            steps = done if self.options.batch_size is None else self._steps_between(done,
                                                                                    position)
            elapsed = time.perf_counter() - clock
            if steps > 0 and elapsed > 0:
                self._steps_per_second = steps / elapsed
            if self.options.batch_size is not None:
                new = (it, float(cost)) if record and done > 0 else None
                in_update, diverged = failed, failed
            else:
                new = (it, float(cost)) if record and (done > 0 or failed) else None
                in_update, diverged = failed, done < n
            if new:
                recorded.append(new)
            if diverged or not self._state_is_finite():
                kept = self._rewind(it, done, n, in_update, slot, previous)
                raise TrainingDivergedError(
                    "training diverged at %s %d: the output or the parameters became NaN "
                    "or infinite (learning_rate=%g may be too large); kept the parameters after "
                    "%s %d, the last ones known to be finite with a finite output"
                    % (self._unit, it + done, self.learning_rate, self._unit, kept),
                    iteration=kept, recorded=[r for r in recorded if r[0] <= kept
                                              and (r[0] < kept or not self.options.batch_size)],
                    parameters=self.parameters())
            previous, slot = (it, slot), 1 - slot
            it += done
            if on_chunk is not None and on_chunk(it, new):
                break
        return recorded

    @property
    def _unit(self):
        return "iteration" if self.options.batch_size is None else "epoch"

    def _rewind(self, chunk_start, done, n, in_update, slot, previous):
        """Restore the last good state after a failed chunk; return its epoch number.

        Mini-batches: the state at the start of the failing epoch (every step
        before it had finite outputs and parameters), replayed from the chunk's
        snapshot. Full batch, with k = chunk_start + done: an update that made a
        parameter non-finite -> keep k (its output was finite). An output that
        became non-finite at k -> keep k - 1 (from the previous chunk's snapshot
        if k is the chunk's start). Anything else non-finite at the end of a
        chunk (only the Gram strategy's Z1 or sum of dZ1 can be) -> the chunk's start.
        """
        if self.options.batch_size is not None:
            replay = done if in_update else 0
            self._restore(slot, chunk_start, replay)
            return chunk_start + replay
        if in_update:
            self._restore(slot, chunk_start, done)
            return chunk_start + done
        if done == n:
            self._restore(slot, chunk_start, 0)
            return chunk_start
        if done > 0:
            self._restore(slot, chunk_start, done - 1)
            return chunk_start + done - 1
        if previous is not None:
            self._restore(previous[1], previous[0], chunk_start - previous[0] - 1)
            return chunk_start - 1
        return chunk_start  # the starting parameters themselves overflow
