"""The training engine: many gradient-descent iterations per compiled call.

Python only runs once every ``record_every`` iterations (to record the cost,
report progress and guard against divergence); everything in between happens
inside ``fastdnn.kernels.training`` on the buffers of a ``Workspace``.
"""

import numpy as np

from .kernels.training import train_direct, train_gram
from .strategy import choose_strategy
from .workspace import Workspace


class TrainingDivergedError(FloatingPointError):
    """The cost or gradients became NaN/inf; the model keeps its last finite parameters."""

    def __init__(self, message, iteration, recorded):
        super().__init__(message)
        self.iteration = iteration  # the iteration whose parameters were kept
        self.recorded = recorded    # [(iteration, cost), ...] recorded before it diverged


class TrainingEngine:
    """Full-batch gradient descent on validated, C-contiguous X (n_x, m) and Y (n_L, m).

    ``parameters`` is a seed-format dict (W1 (n_1, n_x), b1 (n_1, 1), ...);
    ``strategy`` is "direct", "gram" or "auto" (``fastdnn.strategy``), and
    ``planned_iterations`` feeds the "auto" cost model.
    """

    def __init__(self, X, Y, parameters, layer_dims, activations, learning_rate,
                 strategy="auto", planned_iterations=1000):
        self.X, self.Y = X, Y
        m = X.shape[1]
        self.ws = Workspace(layer_dims, m, X.dtype, activations)
        self.ws.set_parameters(parameters)
        self.learning_rate = learning_rate
        self.step = X.dtype.type(learning_rate / m)
        if strategy == "auto":
            strategy = choose_strategy(list(layer_dims), m, planned_iterations)
        self.strategy = strategy
        if strategy == "gram":
            self.G = np.ascontiguousarray(X.T @ X)
            self.Z1 = self.ws.W(1) @ X + self.ws.b(1)
            self.S = np.zeros_like(self.Z1)
            mutable = [self.ws.params[self.ws.b_off[0]:], self.Z1, self.S]
        else:
            mutable = [self.ws.params]
        self._state = [(a, np.empty_like(a)) for a in mutable]

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
        return all(np.isfinite(a).all() for a, _ in self._state)

    def run(self, num_iterations, record_every, start_iteration=0, on_chunk=None):
        """Train num_iterations more iterations; return [(iteration, cost), ...] recorded.

        Iterations are numbered from ``start_iteration``; the cost is recorded
        (before that iteration's update) at every multiple of ``record_every``.
        ``on_chunk(iteration, record)`` is called after every compiled call with the
        iteration reached and the (iteration, cost) recorded by it, or None.
        Raises ``TrainingDivergedError`` (keeping the last finite state) when
        the output or the parameters stop being finite.
        """
        recorded = []
        it, stop = start_iteration, start_iteration + num_iterations
        while it < stop:
            n = min(record_every - it % record_every, stop - it)
            record = it % record_every == 0
            for live, saved in self._state:
                saved[...] = live
            cost, done = self._chunk(n, record)
            new = (it, float(cost)) if record and done > 0 else None
            if new:
                recorded.append(new)
            if done < n or not self._state_is_finite():
                self._diverged(it, done, recorded)
            it += done
            if on_chunk is not None:
                on_chunk(it, new)
        return recorded

    def _diverged(self, chunk_start, done, recorded):
        if self._state_is_finite():
            kept = chunk_start + done
        else:
            for live, saved in self._state:
                live[...] = saved
            kept = chunk_start
        raise TrainingDivergedError(
            "training diverged near iteration %d: the cost or gradients became NaN or "
            "infinite (learning_rate=%g may be too large); kept the parameters of "
            "iteration %d, the last finite ones" % (chunk_start + done, self.learning_rate, kept),
            iteration=kept, recorded=recorded)
