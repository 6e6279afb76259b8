"""The training engine: many gradient-descent iterations per compiled call.

Python only runs once every ``record_every`` iterations (to record the cost,
report progress and guard against divergence); everything in between happens
inside ``fastdnn.kernels.training`` on the buffers of a ``Workspace``.
"""

import numpy as np

from ..kernels.training import train_direct, train_gram
from .strategy import check_strategy, choose_strategy
from .threads import blas_threads
from .workspace import Workspace


class TrainingDivergedError(FloatingPointError):
    """The output or the parameters became NaN/inf; the last finite state is kept."""

    def __init__(self, message, iteration, recorded, parameters):
        super().__init__(message)
        self.iteration = iteration    # iterations done before the kept parameters
        self.recorded = recorded      # [(iteration, cost), ...] recorded before that
        self.parameters = parameters  # the kept (last finite) parameters, seed format


class TrainingEngine:
    """Full-batch gradient descent on validated, C-contiguous X (n_x, m) and Y (n_L, m).

    ``parameters`` is a seed-format dict (W1 (n_1, n_x), b1 (n_1, 1), ...);
    ``strategy`` is "direct", "gram" or "auto" (``fastdnn.engine.strategy``), and
    ``planned_iterations`` feeds the "auto" cost model; ``n_threads`` is the
    BLAS thread policy (``fastdnn.engine.threads``).
    """

    def __init__(self, X, Y, parameters, layer_dims, activations, learning_rate,
                 strategy="auto", planned_iterations=1000, n_threads=None):
        self.X, self.Y = X, Y
        m = X.shape[1]
        self.ws = Workspace(layer_dims, m, X.dtype, activations)
        self.ws.set_parameters(parameters)
        self.learning_rate = learning_rate
        self.step = X.dtype.type(learning_rate / m)
        if check_strategy(strategy, layer_dims) == "auto":
            strategy = choose_strategy(list(layer_dims), m, planned_iterations)
        self.strategy = strategy
        self.n_threads = n_threads
        if strategy == "gram":
            self.G = np.ascontiguousarray(X.T @ X)
            self.Z1 = self.ws.W(1) @ X  # W1 X; the bias is added as it is activated
            self.S = np.zeros_like(self.Z1)
            mutable = [self.ws.params[self.ws.b_off[0]:], self.Z1, self.S]
        else:
            mutable = [self.ws.params]
        self._live = mutable
        self._saved = [[np.empty_like(a) for a in mutable] for _ in range(2)]

    def parameters(self):
        """Current parameters as a seed-format dict of copies (W1 recovered for 'gram')."""
        params = self.ws.parameters()
        if self.strategy == "gram":
            params["W1"] -= self.step * (self.S @ self.X.T)
        return params

    def _chunk(self, n_steps, record):
        ws = self.ws
        if self.strategy == "gram":
            return train_gram(self.X, self.Y, self.G, self.Z1, self.S, *ws.kernel_args(),
                              self.step, n_steps, record)
        return train_direct(self.X, self.Y, *ws.kernel_args(), self.step, n_steps, record)

    def _state_is_finite(self):
        return all(np.isfinite(a).all() for a in self._live)

    def _save(self, slot):
        for live, saved in zip(self._live, self._saved[slot]):
            saved[...] = live

    def _restore(self, slot, replay):
        """Go back to a saved state, then redo ``replay`` iterations (bit-identical)."""
        for live, saved in zip(self._live, self._saved[slot]):
            live[...] = saved
        if replay > 0:
            self._chunk(replay, False)  # reruns updates that were finite before

    def run(self, num_iterations, record_every, start_iteration=0, on_chunk=None):
        """Train num_iterations more iterations; return [(iteration, cost), ...] recorded.

        Iterations are numbered from ``start_iteration``; the cost is recorded
        (before that iteration's update) at every multiple of ``record_every``.
        ``on_chunk(iteration, record)`` is called after every compiled call with the
        iteration reached and the (iteration, cost) recorded by it, or None.
        Raises ``TrainingDivergedError`` when the output logits or the parameters
        stop being finite, after rewinding to the last state known good (see
        ``_rewind``).
        """
        with blas_threads(self.n_threads, list(self.ws.dims), self.ws.m, self.strategy):
            return self._run(num_iterations, record_every, start_iteration, on_chunk)

    def _run(self, num_iterations, record_every, start_iteration, on_chunk):
        recorded = []
        it, stop = start_iteration, start_iteration + num_iterations
        slot, previous = 0, None
        while it < stop:
            n = min(record_every - it % record_every, stop - it)
            record = it % record_every == 0
            self._save(slot)
            cost, done, in_update = self._chunk(n, record)
            new = (it, float(cost)) if record and (done > 0 or in_update) else None
            if new:
                recorded.append(new)
            if done < n or not self._state_is_finite():
                kept = self._rewind(it, done, n, in_update, slot, previous)
                raise TrainingDivergedError(
                    "training diverged at iteration %d: the output or the parameters became NaN "
                    "or infinite (learning_rate=%g may be too large); kept the parameters after "
                    "iteration %d, the last ones known to be finite with a finite output"
                    % (it + done, self.learning_rate, kept),
                    iteration=kept, recorded=[r for r in recorded if r[0] <= kept],
                    parameters=self.parameters())
            previous, slot = (it, slot), 1 - slot
            it += done
            if on_chunk is not None:
                on_chunk(it, new)
        return recorded

    def _rewind(self, chunk_start, done, n, in_update, slot, previous):
        """Restore the last good state after a failed chunk; return its iteration number.

        The state after k = chunk_start + done iterations is replayed from the
        chunk's snapshot (bit-identical). An update that made a parameter
        non-finite -> keep k (its output was finite). An output that became
        non-finite at k -> keep k - 1 (from the previous chunk's snapshot if k is
        the chunk's start). Anything else non-finite at the end of a chunk (only
        the Gram strategy's Z1 or sum of dZ1 can be) -> the chunk's start.
        """
        if in_update:
            self._restore(slot, done)
            return chunk_start + done
        if done == n:
            self._restore(slot, 0)
            return chunk_start
        if done > 0:
            self._restore(slot, done - 1)
            return chunk_start + done - 1
        if previous is not None:
            self._restore(previous[1], chunk_start - previous[0] - 1)
            return chunk_start - 1
        return chunk_start  # the starting parameters themselves overflow
