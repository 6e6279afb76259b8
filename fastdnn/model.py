"""``DeepNeuralNetwork``: the easy-to-use model class over the training engine."""

import signal
import threading

import numpy as np

from . import validation as v
from .checkpoint import RunPlan, parse_every
from .engine import TrainingDivergedError, TrainingEngine
from .engine.options import TrainingOptions
from .engine.strategy import check_split, check_strategy
from .engine.workspace import Workspace
from .exceptions import NotFittedError
from .initializers import INITIALIZERS, initialize
from .kernels.activations import HIDDEN, OUTPUTS
from .kernels.training import predict_forward
from .kernels.update import OPTIMIZERS

DECAYS = (None, "inverse", "scheduled")
UPDATE_ARITHMETICS = ("float64", "native")


class DeepNeuralNetwork:
    """[LINEAR->g]*(L-1) -> LINEAR->output network in the notebook's layout.

    Data layout is the seed's: X (n_x, m), one column per example; Y (n_L, m).
    The defaults are the notebook's model: ReLU hidden layers, one sigmoid
    output, full-batch gradient descent.

    layer_dims: [n_x, n_1, ..., n_L].
    learning_rate: step of every optimiser (lr0 when ``decay`` is set).
    output: "sigmoid" (binary cross-entropy; Y of 0/1, one or several
        independent outputs), "softmax" (categorical cross-entropy; Y one-hot
        (C, m) or integer labels (1, m)) or "identity" (squared error
        1/(2m) sum (A - Y)^2; any real Y).
    hidden_activation: one name for every hidden layer, or a list of L-1, from
        "relu", "leaky_relu" (slope 0.01), "tanh", "sigmoid", "identity";
        default "relu". ``activations`` (one name per layer, output included)
        is the longer form; give one or the other.
    optimizer: "gd", "momentum" (v = beta v + (1 - beta) dW, the course's) or
        "adam" (beta1, beta2, epsilon outside the square root; t counts update
        steps from 1 over the model's life).
    batch_size: None for full batch; else shuffled mini-batches, epoch e (from
        0 over the model's life) in the order of the course's
        ``random_mini_batches(X, Y, batch_size, seed=shuffle_seed + e + 1)``.
    lambd: L2 strength: cost + lambd/(2 m_b) sum ||W_l||^2, dW_l += lambd/m_b W_l.
    keep_prob: inverted dropout on the hidden layers (1: none), masks drawn in
        the kernels from ``dropout_seed``'s generator (``fastdnn.kernels.dropout``).
    decay: None, "inverse" (``update_lr``: lr0 / (1 + decay_rate e)) or
        "scheduled" (``schedule_lr_decay``: lr0 / (1 + decay_rate floor(e / time_interval)));
        the rate after epoch e is that of e.
    init: "scaled" (randn / sqrt(n_prev), zero biases: the cat-classifier
        follow-up's scheme), "seed" (the seed notebook's randn W and b), "he",
        "xavier"/"glorot" or "small" (randn * 0.01); see ``fastdnn.initializers``.
    random_state: seed of the initialisation (None: the scheme's historical seed).
    dtype: "float64" or "float32"; data and parameters are converted to it.
    strategy: "auto", "direct", "gram" or "split" (see ``fastdnn.engine.strategy``; the
        Gram strategy only for full-batch gd or momentum; "split", opt-in, cuts every
        mini-batch across the cores: 1.4-1.7x faster on idle cores, equal to "direct" to
        ~1e-15 but not bit for bit, no dropout).
    update_arithmetic: "float64" (default) or "native": how a float32 model's momentum and
        Adam steps are computed. "float64": in float64, rounded once to float32 (fastdnn's
        numbers since its first release); "native": in float32, as NumPy, PyTorch and JAX
        do (Adam's update 2-3x faster; within float32 rounding of the other). No effect on
        float64 models or plain gradient descent.
    n_threads: BLAS threads during fit; None lets fastdnn use 1 thread when every
        product is small and otherwise keeps the BLAS setting (``fastdnn.engine.threads``).
        With strategy "split": the slices each batch is cut into (None: one per core).

    Fitted attributes: ``parameters_`` (dict W1, b1, ...), ``costs_`` and
    ``cost_iterations_`` (full batch: cost before the update at iterations 0,
    record_every, ...; mini-batches: the cost of those epochs), ``n_iter_``
    (iterations, or epochs, trained), ``strategy_`` (the one used last),
    ``optimizer_state_`` (what warm_start continues from), and with validation
    data ``val_costs_`` / ``val_scores_`` (at ``cost_iterations_``) and
    ``best_iteration_``.
    """

    def __init__(self, layer_dims, learning_rate=0.0075, *, init="scaled", random_state=None,
                 dtype="float64", strategy="auto", n_threads=None, activations=None,
                 output="sigmoid", hidden_activation=None, optimizer="gd", beta=0.9, beta1=0.9,
                 beta2=0.999, epsilon=1e-8, batch_size=None, lambd=0.0, keep_prob=1.0,
                 decay=None, decay_rate=1.0, time_interval=1000, shuffle_seed=10,
                 dropout_seed=0, update_arithmetic="float64"):
        self.layer_dims = layer_dims
        self.learning_rate = learning_rate
        self.init = init
        self.random_state = random_state
        self.dtype = dtype
        self.strategy = strategy
        self.n_threads = n_threads
        self.activations = activations
        self.output = output
        self.hidden_activation = hidden_activation
        self.optimizer = optimizer
        self.beta = beta
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.lambd = lambd
        self.keep_prob = keep_prob
        self.decay = decay
        self.decay_rate = decay_rate
        self.time_interval = time_interval
        self.shuffle_seed = shuffle_seed
        self.dropout_seed = dropout_seed
        self.update_arithmetic = update_arithmetic

    # -- configuration -------------------------------------------------------
    def _checked_config(self):
        """(layer_dims, dtype, activations, TrainingOptions), every argument checked."""
        dims = v.check_layer_dims(self.layer_dims)
        v.check_positive("learning_rate", self.learning_rate)
        dtype = v.check_dtype(self.dtype)
        if not isinstance(self.init, str) or self.init not in INITIALIZERS:
            raise ValueError("init must be one of %s; got %r" % (sorted(INITIALIZERS), self.init))
        check_strategy(self.strategy, dims)
        if self.n_threads is not None:
            v.check_positive("n_threads", self.n_threads, integer=True)
        acts = self._layer_activations(dims)
        opts = TrainingOptions(
            optimizer=v.check_choice("optimizer", self.optimizer, tuple(OPTIMIZERS)),
            beta=v.check_fraction("beta", self.beta, low_open=False, high_closed=False),
            beta1=v.check_fraction("beta1", self.beta1, low_open=False, high_closed=False),
            beta2=v.check_fraction("beta2", self.beta2, low_open=False, high_closed=False),
            epsilon=v.check_positive("epsilon", self.epsilon),
            lambd=v.check_non_negative("lambd", self.lambd),
            keep_prob=v.check_fraction("keep_prob", self.keep_prob),
            batch_size=(None if self.batch_size is None
                        else v.check_positive("batch_size", self.batch_size, integer=True)),
            shuffle_seed=v.check_seed("shuffle_seed", self.shuffle_seed),
            dropout_seed=v.check_seed("dropout_seed", self.dropout_seed),
            decay=self._checked_decay(),
            decay_rate=v.check_non_negative("decay_rate", self.decay_rate),
            time_interval=v.check_positive("time_interval", self.time_interval, integer=True),
            update_arithmetic=v.check_choice("update_arithmetic", self.update_arithmetic,
                                             UPDATE_ARITHMETICS))
        if opts.keep_prob < 1 and len(dims) < 3:
            raise ValueError("keep_prob=%r drops hidden units, but layer_dims %s has no hidden "
                             "layer" % (self.keep_prob, dims))
        if self.strategy == "gram" and not opts.gram_exact:
            raise ValueError("strategy='gram' is exact only for full-batch gradient descent or "
                             "momentum (batch_size=None, optimizer 'gd' or 'momentum'); got "
                             "optimizer=%r, batch_size=%r. Use 'direct' or 'auto'"
                             % (opts.optimizer, opts.batch_size))
        check_split(self.strategy, opts.batch_size, opts.keep_prob)
        return dims, dtype, acts, opts

    def _checked_decay(self):
        if self.decay not in DECAYS:
            raise ValueError("decay must be None, 'inverse' or 'scheduled'; got %r" % (self.decay,))
        return self.decay

    def _layer_activations(self, dims):
        """The L activation names (output last) from activations / hidden_activation / output."""
        L = len(dims) - 1
        output = v.check_choice("output", self.output, OUTPUTS)
        if output == "softmax" and dims[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units (one per class); "
                             "layer_dims %s ends with %d" % (dims, dims[-1]))
        if self.activations is not None and self.hidden_activation is not None:
            raise ValueError("give either activations (one name per layer) or hidden_activation "
                             "(the hidden layers' names), not both")
        if self.activations is not None:
            acts = list(self.activations)
            if (len(acts) != L or acts[-1] != output
                    or any(a not in HIDDEN for a in acts[:-1])):
                raise ValueError("activations must name one activation per layer (%d): hidden ones "
                                 "from %s, ending with the output %r; got %r"
                                 % (L, list(HIDDEN), output, acts))
            return acts
        hidden = "relu" if self.hidden_activation is None else self.hidden_activation
        names = [hidden] * (L - 1) if isinstance(hidden, str) else list(hidden)
        if len(names) != L - 1 or any(not isinstance(a, str) or a not in HIDDEN for a in names):
            raise ValueError("hidden_activation must be one of %s or a list of %d of them (one per "
                             "hidden layer); got %r" % (list(HIDDEN), L - 1, hidden))
        return names + [output]

    # -- training ------------------------------------------------------------
    def fit(self, X, Y, num_iterations=None, *, num_epochs=None, initial_parameters=None,
            record_every=100, verbose=False, warm_start=False, callback=None,
            validation_data=None, early_stopping=False, patience=10, checkpoint=None,
            checkpoint_every=100, resume=None):
        """Train; returns self.

        num_iterations / num_epochs: how many iterations (full batch) or epochs
            (mini-batches) to train (one of them; default 2500). With full
            batches an epoch is one iteration.
        initial_parameters: seed-format dict that wins over ``init``.
        warm_start: continue from ``parameters_`` and ``optimizer_state_`` of an
            earlier fit (or a loaded model), numbering epochs on from
            ``n_iter_``, so that fit(n) then fit(k, warm_start=True) computes what
            fit(n + k) computes.
        verbose: progress bar with the current cost (quiet when not on a terminal).
        callback: ``callback(iteration, cost)`` called as each cost is recorded
            (from Python, between compiled calls of about a quarter second).
        validation_data: (X_val, Y_val): the validation cost (mean loss without
            dropout or the L2 term) and score are recorded with each cost, from
            the same parameters.
        early_stopping: stop when the validation cost has not improved for
            ``patience`` record points, and keep the best parameters
            (``best_iteration_``). Needs validation_data.
        checkpoint: a path; every ``checkpoint_every`` epochs (an int) or seconds
            (a string such as "30s") and at the end, the run is written there
            atomically (a model file plus what continues the run mid-way: see
            ``fastdnn.checkpoint``).
        resume: a checkpoint path: continue that run (its hyper-parameters, data
            order, optimiser, generator, position in the epoch, strategy and
            planned length) on the same X, Y (and validation data), to the same
            bits as if it had never stopped. Checkpoints go on to the same path.
        Ctrl-C (SIGINT) stops at the end of the current compiled call (well under
        a second), keeps the consistent state reached (and writes the checkpoint),
        then raises ``fastdnn.TrainingInterrupted``; a second Ctrl-C stops at once.
        If the run diverges (NaN/inf), the model keeps the last finite parameters
        and the costs recorded so far, then ``TrainingDivergedError`` is raised.

        Data that is not in memory: X an h5py dataset (m, ...) with labels Y (an
        h5py dataset or array, (m,), (1, m) or (m, n_L)), or a
        ``fastdnn.io.HDF5Source`` with Y=None, trains out of core, chunk by chunk
        (``fastdnn.outofcore``); X, Y dask arrays (n_x, m), (n_L, m) train
        data-parallel on the current Dask client (``fastdnn.distributed``).
        """
        if _out_of_core(X):
            return _elsewhere(X)[0](self, X, Y, num_iterations, num_epochs=num_epochs,
                                    initial_parameters=initial_parameters,
                                    record_every=record_every, verbose=verbose,
                                    warm_start=warm_start, callback=callback,
                                    validation_data=validation_data,
                                    early_stopping=early_stopping, patience=patience,
                                    checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                    resume=resume)
        if resume is not None:
            return self._resume(X, Y, resume, num_iterations, num_epochs, initial_parameters,
                                warm_start, verbose, callback, validation_data, checkpoint)
        dims, dtype, acts, opts = self._checked_config()
        n = self._checked_length(num_iterations, num_epochs)
        record_every = v.check_positive("record_every", record_every, integer=True)
        patience = v.check_positive("patience", patience, integer=True)
        every = None if checkpoint is None else parse_every(checkpoint_every)
        X, Y = v.check_targets(X, Y, dims, dtype, acts[-1])
        validation = self._checked_validation(validation_data, early_stopping, dims, dtype, acts)
        run = None if checkpoint is None else RunPlan(
            path=checkpoint, every=every, record_every=record_every,
            early_stopping=bool(early_stopping), patience=patience)
        if warm_start and initial_parameters is None and hasattr(self, "parameters_"):
            return self._train(X, Y, validation, n, record_every, early_stopping, patience,
                               verbose, callback, run, continuing=True)
        params = (initial_parameters if initial_parameters is not None
                  else initialize(dims, self.init, self.random_state))
        self.parameters_ = v.check_parameters(params, dims, dtype, "initial_parameters"
                                              if initial_parameters is not None else "parameters")
        for name in ("optimizer_state_", "val_costs_", "val_scores_", "best_iteration_"):
            self.__dict__.pop(name, None)
        self.n_iter_, self.costs_, self.cost_iterations_ = 0, [], []
        return self._train(X, Y, validation, n, record_every, early_stopping, patience, verbose,
                           callback, run, continuing=False)

    def _resume(self, X, Y, path, num_iterations, num_epochs, initial_parameters, warm_start,
                verbose, callback, validation_data, checkpoint):
        """fit(resume=path): the checkpointed run, continued on the same data."""
        from .checkpoint import read_checkpoint

        if num_iterations is not None or num_epochs is not None or initial_parameters is not None:
            raise ValueError("resume continues the checkpointed run to its planned end: give no "
                             "num_iterations, num_epochs or initial_parameters with it")
        saved, run = read_checkpoint(path)
        self.__dict__.clear()
        self.__dict__.update(saved.__dict__)      # its hyper-parameters and state
        dims, dtype, acts, _ = self._checked_config()
        X, Y = v.check_targets(X, Y, dims, dtype, acts[-1])
        validation = self._checked_validation(validation_data, run.early_stopping, dims, dtype,
                                              acts)
        run.check_data(path, X, Y, validation)
        if checkpoint is not None:
            run.path = checkpoint
        remaining = run.target - self.n_iter_
        if remaining <= 0:  # the run had ended: its final model is the file's
            self.strategy_ = run.strategy
            return self
        return self._train(X, Y, validation, remaining, run.record_every, run.early_stopping,
                           run.patience, verbose, callback, run, continuing=True)

    def _train(self, X, Y, validation, n, record_every, early_stopping, patience, verbose,
               callback, run, continuing):
        """Train n more epochs from the model's parameters_ (and state when continuing)."""
        dims, dtype, acts, opts = self._checked_config()
        start = self.n_iter_
        params = v.check_parameters(self.parameters_, dims, dtype, "parameters")
        # after a divergence the cost of iteration n_iter_ may be recorded already
        earlier = [k for k, i in enumerate(self.cost_iterations_) if i < start]
        history = {name: [_padded(getattr(self, name, []), len(self.cost_iterations_))[k]
                          for k in earlier]
                   for name in ("costs_", "cost_iterations_", "val_costs_", "val_scores_")}
        strategy = self.strategy if run is None or run.strategy is None else run.strategy
        if run is not None and run.gram is not None:
            params = dict(params, W1=run.gram["W1_start"])  # the Gram strategy's raw W1(0)
        engine = TrainingEngine(X, Y, params, dims, acts, self.learning_rate, strategy,
                                planned_iterations=n, n_threads=self.n_threads, options=opts,
                                state=getattr(self, "optimizer_state_", None) if continuing
                                else None)
        if run is not None and run.gram is not None:
            engine.set_gram_state(run.gram)
        self.layer_dims_, self.activations_, self.dtype_ = dims, acts, dtype
        monitor = _Monitor(self, engine, validation, record_every, early_stopping, patience,
                           history, start + n, None if run is None else run.best)
        progress = _progress_bar(n, start, verbose)
        recorded = []
        if run is not None:
            run.begin(engine, start + n, X, Y, validation)

        def absorb(iteration, restore_best=False):
            self._absorb(engine, history, recorded, monitor, iteration, validation, restore_best)

        def on_chunk(iteration, record):
            if record is not None:
                recorded.append(record)
            if progress is not None:
                progress(iteration, record)
            if callback is not None and record is not None:
                callback(*record)
            stop = monitor.after_chunk(iteration)
            if run is not None and run.due(iteration, engine):
                absorb(iteration)
                run.write(self, engine, monitor)
            return stop or interrupt.requested

        monitor.after_chunk(start)
        diverged = None
        with _InterruptRequest() as interrupt:
            try:
                engine.run(n, record_every, start, on_chunk)
            except TrainingDivergedError as err:
                diverged = err
                recorded[:] = err.recorded
            finally:
                if progress is not None:
                    progress.close()
        ended = diverged is None and (not interrupt.requested or monitor.stopped
                                      or monitor.reached >= start + n)
        absorb(diverged.iteration if diverged else monitor.reached, restore_best=ended)
        if run is not None and diverged is None:
            if ended:  # the final model (best parameters after early stopping), nothing left
                run.target = self.n_iter_
            run.write(self, engine, monitor)
        if diverged:
            raise diverged
        if interrupt.requested and monitor.reached < start + n and not monitor.stopped:
            position = self.optimizer_state_.get("position", 0)
            raise TrainingInterrupted(
                "training interrupted by Ctrl-C after %s %d%s of %d; the model keeps that "
                "state%s" % ("epoch" if opts.batch_size else "iteration", self.n_iter_,
                             " (and batch %d of the next)" % position if position else "",
                             start + n, "" if run is None else
                             " and the checkpoint %r has it" % str(run.path)),
                iteration=self.n_iter_)
        return self

    def _absorb(self, engine, history, recorded, monitor, iteration, validation, restore_best):
        """The fitted attributes from the engine's state after ``iteration`` epochs (and,
        when the run ended with early stopping, its best parameters)."""
        self.parameters_ = engine.parameters()
        self.optimizer_state_ = engine.optimizer_state()
        self.cost_iterations_ = history["cost_iterations_"] + [i for i, _ in recorded]
        self.costs_ = history["costs_"] + [c for _, c in recorded]
        self.n_iter_ = iteration
        self.strategy_ = engine.strategy
        if validation is not None:
            kept = len(recorded)
            self.val_costs_ = history["val_costs_"] + monitor.costs[:kept]
            self.val_scores_ = history["val_scores_"] + monitor.scores[:kept]
            monitor.finish(restore_best)

    @staticmethod
    def _checked_length(num_iterations, num_epochs):
        if num_iterations is not None and num_epochs is not None:
            raise ValueError("give num_iterations or num_epochs, not both (with full batches an "
                             "epoch is one iteration)")
        if num_epochs is not None:
            return v.check_positive("num_epochs", num_epochs, integer=True)
        if num_iterations is None:
            return 2500
        return v.check_positive("num_iterations", num_iterations, integer=True)

    def _checked_validation(self, validation_data, early_stopping, dims, dtype, acts):
        if not isinstance(early_stopping, (bool, np.bool_)):
            raise TypeError("early_stopping must be True or False; got %r" % (early_stopping,))
        if early_stopping and validation_data is None:
            raise ValueError("early_stopping=True needs validation_data=(X_val, Y_val)")
        if validation_data is None:
            return None
        try:
            X_val, Y_val = validation_data
        except (TypeError, ValueError):
            raise TypeError("validation_data must be a pair (X_val, Y_val); got %s"
                            % type(validation_data).__name__) from None
        try:
            return v.check_targets(X_val, Y_val, dims, dtype, acts[-1])
        except (TypeError, ValueError) as err:
            raise type(err)("validation_data: %s" % err) from None

    # -- inference -----------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "parameters_"):
            raise NotFittedError("this DeepNeuralNetwork is not fitted yet: call fit(X, Y) or "
                               "fastdnn.load_model(path) first")

    @property
    def output_(self):
        """The fitted output activation: "sigmoid", "softmax" or "identity"."""
        return self.activations_[-1]

    def predict_proba(self, X):
        """Outputs A_L (n_L, m) for X (n_x, m): probabilities (sigmoid, softmax) or values.

        X may be an h5py dataset / ``fastdnn.io.HDF5Source`` (m, ...), read chunk by
        chunk, or a dask array (n_x, m) (the result is then a dask array)."""
        self._check_fitted()
        if _out_of_core(X):
            return _elsewhere(X)[1](self, X)
        X = v.check_X(X, self.layer_dims_[0], self.dtype_)
        return _forward(self.parameters_, self.layer_dims_, self.activations_, X)

    def predict(self, X):
        """sigmoid: int64 0/1 (n_L, m), probability > 0.5 (the seed's rule); softmax: the
        class index (1, m) of the largest probability; identity: the outputs (n_L, m)."""
        A = self.predict_proba(X)
        if self.output_ == "sigmoid":
            return (A > 0.5).astype(np.int64)
        if self.output_ == "softmax":
            return np.argmax(A, axis=0).reshape(1, -1).astype(np.int64)
        return A

    def score(self, X, Y=None):
        """Accuracy (sigmoid, softmax) or R^2 (identity, averaged over the outputs) on X (n_x, m).

        X, Y may be an h5py dataset and its labels (or an ``HDF5Source``, Y=None),
        or dask arrays, as in ``fit``."""
        self._check_fitted()
        if _out_of_core(X):
            return _elsewhere(X)[2](self, X, Y)
        if Y is None:
            raise TypeError("score(X, Y) needs the targets Y (only an HDF5Source carries its own)")
        X, Y = v.check_targets(X, Y, self.layer_dims_, self.dtype_, self.output_)
        return _score(self.output_, self.predict_proba(X), Y)

    # -- persistence ---------------------------------------------------------
    def save(self, path):
        """Write the fitted model to an HDF5 file, atomically (see ``fastdnn.io.model_file``)."""
        from .persistence import save_model
        save_model(self, path)

    def to_onnx(self, path=None):
        """The fitted network as an ``onnx.ModelProto`` (written to ``path`` when given).

        Input "X" is batch-first (m, n_x), as serving stacks expect (the
        transpose of ``predict``'s layout); see ``fastdnn.onnx_export``. Needs the
        ``onnx`` extra (``pip install 'fastdnn[onnx]'``).
        """
        self._check_fitted()
        from .onnx_export import deep_network_to_onnx
        return deep_network_to_onnx(self, path)

    def __repr__(self):
        return "DeepNeuralNetwork(layer_dims=%r, learning_rate=%r, init=%r, dtype=%r)" % (
            self.layer_dims, self.learning_rate, self.init, str(self.dtype))


def _out_of_core(X):
    """Whether X is an h5py dataset, a ``fastdnn.io.HDF5Source`` or a dask array (checked
    without importing h5py or dask)."""
    module = type(X).__module__
    return module.partition(".")[0] in ("h5py", "dask") or module == "fastdnn.io.sources"


def _elsewhere(X):
    """(fit, predict_proba, score) for data X that is not in memory: dask arrays train
    data-parallel (``fastdnn.distributed``), HDF5 data out of core (``fastdnn.outofcore``)."""
    if type(X).__module__.partition(".")[0] == "dask":
        from . import distributed
        return distributed.fit_dask, distributed.predict_proba_dask, distributed.score_dask
    from . import outofcore
    return outofcore.fit_hdf5, outofcore.predict_proba_hdf5, outofcore.score_hdf5


def _padded(values, n):
    """values as a list of n entries, None standing for the record points it lacks."""
    return list(values) + [None] * (n - len(values))


def _forward(parameters, dims, activations, X):
    """A_L (n_L, m) of a seed-format parameter dict on validated X (n_x, m)."""
    ws = Workspace(dims, X.shape[1], X.dtype, activations, training=False)
    ws.set_parameters(parameters)
    predict_forward(X, ws.dims, ws.codes, ws.w_off, ws.b_off, ws.a_off, ws.params, ws.acts)
    return ws.A(ws.n_layers).copy()


def _mean_loss(output, A, Y):
    """Mean loss over the m columns of outputs A and targets Y (n_L, m), in float64."""
    A, Y = A.astype(np.float64), Y.astype(np.float64)
    m = A.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # diverged: inf
        if output == "identity":
            return float(0.5 * np.sum((A - Y) ** 2) / m)
        if output == "softmax":
            return float(-np.sum(np.where(Y > 0, Y * np.log(A), 0.0)) / m)
        terms = np.where(Y > 0, Y * np.log(A), 0.0) + np.where(Y < 1, (1 - Y) * np.log1p(-A), 0.0)
    return float(-np.sum(terms) / m)


def _score(output, A, Y):
    """Accuracy from outputs A and targets Y (n_L, m); R^2 for identity outputs."""
    if output == "sigmoid":
        return float(np.mean((A > 0.5) == (Y == 1)))
    if output == "softmax":
        return float(np.mean(np.argmax(A, axis=0) == np.argmax(Y, axis=0)))
    Y64, A64 = Y.astype(np.float64), A.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        residual = np.sum((Y64 - A64) ** 2, axis=1)
        total = np.sum((Y64 - Y64.mean(axis=1, keepdims=True)) ** 2, axis=1)
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(r2))


class _Monitor:
    """Validation scores at record points and early stopping, between compiled chunks."""

    def __init__(self, model, engine, validation, record_every, early_stopping, patience,
                 history, stop, best=None):
        self.model, self.engine, self.validation = model, engine, validation
        self.record_every, self.early_stopping, self.patience = record_every, early_stopping, patience
        self.costs, self.scores = [], []
        # the validation costs of earlier fits count for patience and the best too;
        # their parameters are kept only by a checkpoint (``best``), so without one
        # early stopping can only go back within this fit
        self.earlier = [c for c in history["val_costs_"] if c is not None]
        earlier = [(c, i) for c, i in zip(history["val_costs_"], history["cost_iterations_"])
                   if c is not None]
        self.best = best if best is not None else min(earlier, default=(np.inf, None)) + (None,)
        self.reached, self.stop, self.stopped = None, stop, False

    def after_chunk(self, iteration):
        """Record validation metrics at the record points that get a training cost too
        (not the end of the run); True asks the engine to stop."""
        fresh = iteration != self.reached and self.engine.cursor[0] == 0  # an epoch's end
        self.reached = iteration
        if (self.validation is None or not fresh or iteration % self.record_every
                or iteration >= self.stop):
            return False
        X_val, Y_val = self.validation
        params = self.engine.parameters()
        out = self.model.activations_[-1]
        A = _forward(params, self.model.layer_dims_, self.model.activations_, X_val)
        cost = _mean_loss(out, A, Y_val)
        self.costs.append(cost)
        self.scores.append(_score(out, A, Y_val))
        if cost < self.best[0]:
            self.best = (cost, iteration, params)
        seen = self.earlier + self.costs
        recent = len(seen) - 1 - seen.index(min(seen))
        self.stopped = self.early_stopping and recent >= self.patience
        return self.stopped

    def finish(self, restore):
        """``best_iteration_`` over the model's life; with early stopping and ``restore``
        (the run ended: not diverged, which keeps the last finite parameters as
        documented, nor interrupted half-way) the best parameters."""
        if self.best[1] is not None:
            self.model.best_iteration_ = self.best[1]
        if self.early_stopping and self.best[2] is not None and restore:
            self.model.parameters_ = self.best[2]


class TrainingInterrupted(KeyboardInterrupt):
    """fit stopped at a safe point after Ctrl-C; the model keeps the state it reached."""

    def __init__(self, message, iteration):
        super().__init__(message)
        self.iteration = iteration


class _InterruptRequest:
    """Within the block, a first Ctrl-C only sets ``requested`` (the training loop stops
    at its next safe point, between compiled calls); a second one interrupts at once.
    Outside the main thread signals cannot be caught, and nothing changes."""

    def __enter__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


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
