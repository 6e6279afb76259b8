"""``DeepNeuralNetwork``: the easy-to-use model class over the training engine."""

import numpy as np

from . import validation as v
from .engine import TrainingDivergedError, TrainingEngine
from .initializers import INITIALIZERS, initialize
from .kernels.activations import CODES
from .kernels.training import predict_forward
from .engine.strategy import check_strategy
from .engine.workspace import Workspace


class DeepNeuralNetwork:
    """[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID binary classifier, trained by full-batch GD.

    Data layout is the seed's: X (n_x, m), one column per example; Y (1, m) of 0/1.

    layer_dims: [n_x, n_1, ..., n_L] (n_L = 1 for one binary output).
    learning_rate: gradient-descent step.
    init: "scaled" (randn / sqrt(n_prev), zero biases: the cat-classifier
        follow-up's scheme), "seed" (the seed notebook's randn W and b), "he",
        "xavier"/"glorot" or "small" (randn * 0.01); see ``fastdnn.initializers``.
    random_state: seed of the initialisation (None: the scheme's historical seed).
    dtype: "float64" or "float32"; data and parameters are converted to it.
    strategy: "auto", "direct" or "gram" (see ``fastdnn.engine.strategy``).
    n_threads: BLAS threads during fit; None lets fastdnn use 1 thread when every
        product is small and otherwise keeps the BLAS setting (``fastdnn.engine.threads``).

    Fitted attributes: ``parameters_`` (dict W1, b1, ...), ``costs_`` and
    ``cost_iterations_`` (cost before the update at iterations 0, record_every, ...),
    ``n_iter_`` (iterations trained), ``strategy_`` (the one used last).
    """

    def __init__(self, layer_dims, learning_rate=0.0075, *, init="scaled", random_state=None,
                 dtype="float64", strategy="auto", n_threads=None, activations=None):
        self.layer_dims = layer_dims
        self.learning_rate = learning_rate
        self.init = init
        self.random_state = random_state
        self.dtype = dtype
        self.strategy = strategy
        self.n_threads = n_threads
        self.activations = activations

    # -- configuration -------------------------------------------------------
    def _checked_config(self):
        dims = v.check_layer_dims(self.layer_dims)
        v.check_positive("learning_rate", self.learning_rate)
        dtype = v.check_dtype(self.dtype)
        if not isinstance(self.init, str) or self.init not in INITIALIZERS:
            raise ValueError("init must be one of %s; got %r" % (sorted(INITIALIZERS), self.init))
        check_strategy(self.strategy, dims)
        if self.n_threads is not None:
            v.check_positive("n_threads", self.n_threads, integer=True)
        acts = self.activations or ["relu"] * (len(dims) - 2) + ["sigmoid"]
        if len(acts) != len(dims) - 1 or acts[-1] != "sigmoid" or any(a not in CODES for a in acts):
            raise ValueError("activations must name one activation per layer (%d), from %s, ending "
                             "with 'sigmoid' (the cross-entropy output); got %r"
                             % (len(dims) - 1, sorted(CODES), acts))
        return dims, dtype, list(acts)

    # -- training ------------------------------------------------------------
    def fit(self, X, Y, num_iterations=2500, *, initial_parameters=None, record_every=100,
            verbose=False, warm_start=False, callback=None):
        """Train by full-batch gradient descent; returns self.

        initial_parameters: seed-format dict that wins over ``init``.
        warm_start: continue from ``parameters_`` of an earlier fit (or a loaded
            model), numbering iterations on from ``n_iter_``, so that fit(n) then
            fit(k, warm_start=True) records the same costs as fit(n + k).
        verbose: progress bar with the current cost (quiet when not on a terminal).
        callback: ``callback(iteration, cost)`` called as each cost is recorded
            (from Python, between compiled chunks of record_every iterations).
        If the run diverges (NaN/inf), the model keeps the last finite parameters
        and the costs recorded so far, then ``TrainingDivergedError`` is raised.
        """
        dims, dtype, acts = self._checked_config()
        num_iterations = v.check_positive("num_iterations", num_iterations, integer=True)
        record_every = v.check_positive("record_every", record_every, integer=True)
        X, Y = v.check_XY(X, Y, dims, dtype)
        if warm_start and initial_parameters is None and hasattr(self, "parameters_"):
            params, start = self.parameters_, self.n_iter_
            # after a divergence the cost of iteration n_iter_ may be recorded already
            earlier = [k for k, i in enumerate(self.cost_iterations_) if i < start]
            costs = [self.costs_[k] for k in earlier]
            cost_its = [self.cost_iterations_[k] for k in earlier]
        else:
            params = (initial_parameters if initial_parameters is not None
                      else initialize(dims, self.init, self.random_state))
            start, costs, cost_its = 0, [], []
        params = v.check_parameters(params, dims, dtype,
                                    "initial_parameters" if initial_parameters is not None
                                    else "parameters")
        engine = TrainingEngine(X, Y, params, dims, acts, self.learning_rate, self.strategy,
                                planned_iterations=num_iterations, n_threads=self.n_threads)
        progress = _progress_bar(num_iterations, start, verbose)

        def on_chunk(iteration, record):
            if progress is not None:
                progress(iteration, record)
            if callback is not None and record is not None:
                callback(*record)

        try:
            recorded = engine.run(num_iterations, record_every, start, on_chunk)
            diverged = None
        except TrainingDivergedError as err:
            recorded, diverged = err.recorded, err
        finally:
            if progress is not None:
                progress.close()
        self.parameters_ = engine.parameters()
        self.cost_iterations_ = cost_its + [i for i, _ in recorded]
        self.costs_ = costs + [c for _, c in recorded]
        self.n_iter_ = diverged.iteration if diverged else start + num_iterations
        self.strategy_ = engine.strategy
        self.layer_dims_, self.activations_, self.dtype_ = dims, acts, dtype
        if diverged:
            raise diverged
        return self

    # -- inference -----------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "parameters_"):
            raise RuntimeError("this DeepNeuralNetwork is not fitted yet: call fit(X, Y) or "
                               "fastdnn.load_model(path) first")

    def predict_proba(self, X):
        """Output probabilities A_L (n_L, m) for X (n_x, m)."""
        self._check_fitted()
        X = v.check_X(X, self.layer_dims_[0], self.dtype_)
        ws = Workspace(self.layer_dims_, X.shape[1], self.dtype_, self.activations_, training=False)
        ws.set_parameters(self.parameters_)
        predict_forward(X, ws.dims, ws.codes, ws.w_off, ws.b_off, ws.a_off, ws.params, ws.acts)
        return ws.A(ws.n_layers).copy()

    def predict(self, X):
        """Class labels (n_L, m) of int64 0/1: probability > 0.5 (the seed's rule)."""
        return (self.predict_proba(X) > 0.5).astype(np.int64)

    def score(self, X, Y):
        """Accuracy: the fraction of the m examples of X (n_x, m) predicted as Y (1, m)."""
        self._check_fitted()
        X, Y = v.check_XY(X, Y, self.layer_dims_, self.dtype_)
        return float(np.mean(self.predict(X) == Y))

    # -- persistence ---------------------------------------------------------
    def save(self, path):
        """Write the fitted model to an HDF5 file, atomically (see ``fastdnn.io.model_file``)."""
        from .persistence import save_model
        save_model(self, path)

    def __repr__(self):
        return "DeepNeuralNetwork(layer_dims=%r, learning_rate=%r, init=%r, dtype=%r)" % (
            self.layer_dims, self.learning_rate, self.init, str(self.dtype))


def _progress_bar(total, start, verbose):
    """A tqdm bar fed by the engine's per-chunk callback, or None when not verbose."""
    if not verbose:
        return None
    from tqdm.auto import tqdm  # imported here: keeps ``import fastdnn`` light

    bar = tqdm(total=total, desc="fit", unit="it", disable=None, leave=True)

    def on_chunk(iteration, record):
        bar.update(iteration - start - bar.n)
        if record is not None:
            bar.set_postfix(cost="%.6f" % record[1])

    on_chunk.close = bar.close
    return on_chunk
