"""scikit-learn estimators over the compiled engine: ``DNNClassifier`` and ``DNNRegressor``.

Drop-ins for ``MLPClassifier`` / ``MLPRegressor``: the same hyper-parameters,
defaults, fitted attributes and numbers. Given the same data,
hyper-parameters and ``random_state`` they draw scikit-learn's Glorot-uniform
initial weights in its order, shuffle and batch as it does, record its loss
and apply its update rules (SGD with its momentum and Nesterov forms, Adam
with the bias correction folded into the rate), learning-rate schedules and
stopping rules, so the parameters agree to rounding (``README.md`` gives the
measured differences). The loop over epochs runs here, in Python, as in
scikit-learn; each epoch's batches run in one compiled call
(``fastdnn.engine.epochs``).

Rows are samples. Besides arrays, ``fit``, ``partial_fit``, ``predict``,
``predict_proba``, ``predict_log_proba`` and ``score`` take h5py datasets and
``fastdnn.io.HDF5Source`` (streamed from disk, batch by batch) and dask arrays
(each batch split among the Dask workers' blocks), with the same results
(``fastdnn.sklearn_sources``; the same epoch loop on another epoch runner).
Needs scikit-learn (``pip install 'fastdnn[sklearn]'``); ``import fastdnn``
does not import it.
"""

import warnings
from numbers import Integral, Real

import numpy as np

try:
    import sklearn  # noqa: F401
except ImportError as err:  # pragma: no cover - the extra is installed in the tests
    raise ImportError("fastdnn.sklearn needs scikit-learn: pip install 'fastdnn[sklearn]'") from err
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import _check_y, check_is_fitted, column_or_1d, validate_data

from .engine.epochs import EpochRunner, flat_parameters, forward_rows
from .engine.options import TrainingOptions
from .kernels.training import SKLEARN_LOSS
from .sklearn_sources import is_source, labels_of, rows_of

__all__ = ["DNNClassifier", "DNNRegressor", "NotFittedError", "load_estimator",
           "register_onnx_converters"]

#: scikit-learn's hidden activation names -> fastdnn's kernels ("leaky_relu" is fastdnn's own).
HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
          "leaky_relu": "leaky_relu"}
#: scikit-learn's output activation names -> fastdnn's.
OUTPUT = {"logistic": "sigmoid", "softmax": "softmax", "identity": "identity"}
SOLVERS = ("lbfgs", "sgd", "adam")
SCHEDULES = ("constant", "invscaling", "adaptive")
#: fastdnn's ``strategy`` -> the epoch runner's: "auto" is "direct" (one core, bit for bit
#: the results of earlier releases); "split" cuts each batch across the cores
#: (``fastdnn.engine.strategy``), opt-in because it is slower when the other cores are busy.
STRATEGY = {"auto": "direct", "direct": "direct", "split": "split"}
STRATEGIES = tuple(STRATEGY)


class _DNNBase(BaseEstimator):
    """What the two estimators share: parameter checks, initialisation, the epoch loop."""

    def _check_params(self):
        """Validate every hyper-parameter (ValueError / TypeError naming it and what it takes)."""
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError("hidden_layer_sizes must be integers, got %r" % (sizes,))
        if any(s <= 0 for s in sizes):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
        _choice("activation", self.activation, tuple(HIDDEN))
        _choice("solver", self.solver, SOLVERS)
        _choice("learning_rate", self.learning_rate, SCHEDULES)
        _number("alpha", self.alpha, low=0)
        _number("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        _number("power_t", self.power_t, low=0)
        _number("max_iter", self.max_iter, low=1, integer=True)
        _number("tol", self.tol, low=0)
        _number("momentum", self.momentum, low=0, high=1)
        _number("validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        _number("beta_1", self.beta_1, low=0, high=1, high_open=True)
        _number("beta_2", self.beta_2, low=0, high=1, high_open=True)
        _number("epsilon", self.epsilon, low=0, low_open=True)
        if self.n_iter_no_change != np.inf:
            _number("n_iter_no_change", self.n_iter_no_change, low=1, integer=True)
        _number("max_fun", self.max_fun, low=1, integer=True)
        if self.batch_size != "auto":
            _number("batch_size", self.batch_size, low=1, integer=True)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError("%s must be True or False, got %r" % (name, getattr(self, name)))
        _number("keep_prob", self.keep_prob, low=0, high=1, low_open=True)
        if self.dtype is not None:
            _choice("dtype", str(np.dtype(self.dtype)) if _is_dtype(self.dtype) else self.dtype,
                    ("float32", "float64"))
        if self.n_threads is not None:
            _number("n_threads", self.n_threads, low=1, integer=True)
        _choice("strategy", self.strategy, STRATEGIES)
        if self.strategy == "split" and self.solver == "lbfgs":
            raise ValueError("strategy='split' splits the mini-batches of the stochastic solvers "
                             "('sgd', 'adam') across cores; solver='lbfgs' takes full-batch "
                             "gradients. Use strategy 'auto' or 'direct' with lbfgs")
        return sizes

    def _data_dtype(self):
        """The dtype validate_data converts X to: scikit-learn's (float32 stays float32,
        anything else becomes float64), or the one ``dtype`` forces."""
        if self.dtype is None:
            return (np.float64, np.float32)
        return np.dtype(self.dtype).type

    # -- fit -----------------------------------------------------------------
    def _fit(self, X, y, incremental):
        """fit / partial_fit on rows X (an array, or a source of ``fastdnn.sklearn_sources``:
        then ``data`` streams them) and targets y."""
        sizes = self._check_params()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if is_source(X):
            data = self._check_source(X, reset=first_pass)
            y = self._validate_targets(labels_of(X, y), data.n_samples, incremental)
            n_features, dtype = data.n_features, data.dtype
        else:
            X, y = self._validate_input(X, y, incremental, reset=first_pass)
            data, n_features, dtype = X, X.shape[1], X.dtype
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [n_features] + sizes + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, dtype)
        elif [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]] != layer_units:
            raise ValueError("warm_start / partial_fit with a network of other layer sizes: "
                             "fitted %s, asked %s" % (
                                 [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]],
                                 layer_units))
        if self.solver == "lbfgs":
            finite = self._fit_lbfgs(data, y, layer_units, dtype)
        else:
            finite = self._fit_stochastic(data, y, layer_units, dtype, incremental)
        if not finite or not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        return self

    def _initialize(self, y, layer_units, dtype):
        """scikit-learn's ``_initialize``: Glorot-uniform weights and intercepts, drawn
        layer by layer (coef (n_in, n_out), then intercept) from ``self._random_state``."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(coef.astype(dtype, copy=False))
            self.intercepts_.append(intercept.astype(dtype, copy=False))
        self._optimizer_state = None
        self._best_params = flat_parameters(self.coefs_, self.intercepts_, dtype)
        if self.solver == "lbfgs":
            return
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _activations(self):
        return [HIDDEN[self.activation]] * (self.n_layers_ - 2) + [OUTPUT[self.out_activation_]]

    def _runner(self, data, Y, train_idx, val_idx, layer_units, dtype, batch_size):
        """The epoch runner (``fastdnn.engine.epochs``) of the training rows, loaded with the
        current parameters: ``EpochRunner`` for rows X (n, n_features) in memory, else the
        source's ``PieceEpochRunner``. Y (n, n_L): every row's targets; train_idx, val_idx:
        the rows of the early-stopping split (None: every row trains)."""
        solver = "sgd_nesterov" if self.solver == "sgd" and self.nesterovs_momentum else self.solver
        opts = TrainingOptions(beta=self.momentum, beta1=self.beta_1, beta2=self.beta_2,
                               epsilon=self.epsilon, lambd=self.alpha, keep_prob=self.keep_prob)
        kw = {"layer_dims": layer_units, "activations": self._activations(), "dtype": dtype,
              "solver": solver, "hp": opts.kernel_hyperparameters(SKLEARN_LOSS),
              "batch_size": batch_size, "n_threads": self.n_threads}
        if not isinstance(data, np.ndarray):
            if self.strategy == "split":
                raise ValueError("strategy='split' needs the training rows in memory (a NumPy "
                                 "array or DataFrame); HDF5 and dask sources stream their "
                                 "batches. Use strategy 'auto' or 'direct'")
            runner = data.runner(Y, train_idx, val_idx, **kw)
        else:
            seed = 0
            if self.keep_prob < 1:  # fastdnn's own option: its masks' seed from the same stream
                seed = int(self._random_state.randint(np.iinfo(np.int32).max))
            runner = EpochRunner(dropout_seed=seed, strategy=STRATEGY[self.strategy], **kw)
            if train_idx is None:
                runner.bind(data, Y)
            else:
                runner.bind(data[train_idx], Y[train_idx], data[val_idx])
        runner.set_parameters(self.coefs_, self.intercepts_)
        return runner

    def _fit_lbfgs(self, data, y, layer_units, dtype):
        """scikit-learn's ``_fit_lbfgs``: SciPy's L-BFGS-B over scikit-learn's packed
        parameters, its loss and gradient computed by the compiled full-batch pass
        (summed over the chunks or blocks of a source)."""
        import scipy.optimize
        n = y.shape[0]
        runner = self._runner(data, y, None, None, layer_units, dtype, n)
        pack = runner.sklearn_packing()
        decay = self.alpha * runner.weight_mask()

        def loss_and_gradient(packed):
            runner.ws.params[pack] = packed
            loss, sums = runner.loss_and_gradient_sums()
            grad = sums + decay * runner.ws.params   # scikit-learn's (sum + alpha W) / n
            grad /= n
            return loss / n, grad[pack]

        with runner.blas_threads():
            result = scipy.optimize.minimize(
                loss_and_gradient, runner.ws.params[pack], method="L-BFGS-B", jac=True,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        if result.status != 0:
            warnings.warn("lbfgs failed to converge after %d iteration(s) (status=%d): %s"
                          % (result.nit, result.status, result.message), ConvergenceWarning)
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = result.fun
        runner.ws.params[pack] = result.x
        self.coefs_, self.intercepts_ = runner.parameters()
        return bool(np.isfinite(self.loss_))

    def _fit_stochastic(self, data, y, layer_units, dtype, incremental):
        """scikit-learn's ``_fit_stochastic`` with each epoch's batches compiled.

        Returns False when the loss or the parameters turned non-finite: scikit-learn
        trains on with NaN weights and raises at the end; this stops at once (and
        ``_fit`` raises the same error).
        """
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        state = self._optimizer_state if incremental else None
        if state is None:
            state = {"learning_rate": float(self.learning_rate_init), "moments": None}
        early_stopping = self.early_stopping
        train_idx = val_idx = y_val = None
        n_samples = y.shape[0]
        if early_stopping:  # split the rows' indices as train_test_split(X, y) splits X
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            train_idx, val_idx, _, y_val = train_test_split(
                np.arange(n_samples), y, random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify)
            if val_idx.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            n_samples = train_idx.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        runner = self._runner(data, y, train_idx, val_idx, layer_units, dtype, batch_size)
        if state["moments"] is not None:
            runner.set_optimizer_state(state["moments"])
        sample_idx = np.arange(n_samples, dtype=np.int64)
        try:
            self.n_iter_ = 0
            with runner.blas_threads():
                self._epochs(runner, n_samples, y_val, sample_idx, state, incremental)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        state["moments"] = runner.optimizer_state()
        self._optimizer_state = state
        self.coefs_, self.intercepts_ = runner.parameters(
            self._best_params if early_stopping else None)  # early stopping: the best
        return bool(np.isfinite(self.loss_))

    def _epochs(self, runner, n_samples, y_val, sample_idx, state, incremental):
        """The loop over epochs of scikit-learn's ``_fit_stochastic``, on any epoch runner
        (``fastdnn.engine.epochs``); y_val: the validation labels (None: no early stopping)."""
        early_stopping = y_val is not None
        for _ in range(self.max_iter):
            if self.shuffle:
                sample_idx = _shuffled(sample_idx, self._random_state)
            self.loss_ = runner.run_epoch(sample_idx, state["learning_rate"])
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            if not np.isfinite(self.loss_):
                break
            if early_stopping:
                if self._record_validation(runner, y_val):
                    self._best_params = runner.ws.params.copy()
            else:
                self._record_loss()
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                state["learning_rate"] = (float(self.learning_rate_init)
                                          / (self.t_ + 1) ** self.power_t)
            if self._no_improvement_count > self.n_iter_no_change:
                if self._stop_or_slow_down(state, early_stopping):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and "
                              "the optimization hasn't converged yet." % self.max_iter,
                              ConvergenceWarning)

    def _record_validation(self, runner, y_val):
        """scikit-learn's early-stopping branch of ``_update_no_improvement_count``;
        returns whether this score is the best so far (the caller keeps the parameters)."""
        score = self._score_outputs(runner.validation_outputs(), y_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print("Validation score: %f" % score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _record_loss(self):
        """scikit-learn's training-loss branch of ``_update_no_improvement_count``."""
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    def _stop_or_slow_down(self, state, early_stopping):
        """scikit-learn's ``trigger_stopping``: stop, except for sgd with the 'adaptive'
        schedule, which divides the rate by 5 until it falls to 1e-6."""
        if early_stopping:
            msg = ("Validation score did not improve more than tol=%f for %d consecutive "
                   "epochs." % (self.tol, self.n_iter_no_change))
        else:
            msg = ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                   % (self.tol, self.n_iter_no_change))
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if state["learning_rate"] <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        state["learning_rate"] /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % state["learning_rate"])
        return False

    # -- prediction ----------------------------------------------------------
    def _forward(self, X):
        """Outputs (m, n_L) for rows X, validated against the fit: an array (HDF5 sources:
        computed chunk by chunk), or a lazy dask array for a dask X."""
        check_is_fitted(self)
        dtype = self.coefs_[0].dtype
        params = flat_parameters(self.coefs_, self.intercepts_, dtype)
        dims = [c.shape[0] for c in self.coefs_] + [self.n_outputs_]
        if is_source(X):
            return self._check_source(X, reset=False, dtype=dtype).outputs(
                params, dims, self._activations())
        X = validate_data(self, X, dtype=self._data_dtype(), reset=False)
        return forward_rows(params, dims, self._activations(),
                            np.ascontiguousarray(X, dtype=dtype))

    def _check_source(self, X, reset, dtype=None):
        """The ``sklearn_sources`` rows of X, its feature count checked against the fit
        (``reset``: recorded, as ``validate_data`` does)."""
        data = rows_of(X, self.dtype if dtype is None else dtype)
        if reset:
            self.n_features_in_ = data.n_features
            self.__dict__.pop("feature_names_in_", None)
        elif data.n_features != self.n_features_in_:
            raise ValueError("X has %d features, but %s is expecting %d features as input."
                             % (data.n_features, type(self).__name__, self.n_features_in_))
        return data

    def _validate_targets(self, y, n_samples, incremental):
        """Targets read from a source, checked as ``validate_data`` checks y, then encoded."""
        y = _check_y(y, multi_output=True, y_numeric=not is_classifier(self))
        if y.shape[0] != n_samples:
            raise ValueError("Found input variables with inconsistent numbers of samples: "
                             "[%d, %d]" % (n_samples, y.shape[0]))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return self._encode_targets(y, incremental)

    def _score_source(self, X, y, sample_weight):
        """``score`` on a source X: accuracy / R^2 of its predictions (computed, for a dask
        X) against y read whole (an ``HDF5Source``'s own labels when y is None)."""
        y = labels_of(X, y)
        y_pred = self.predict(X)
        if hasattr(y_pred, "compute"):
            y_pred = y_pred.compute()
        metric = accuracy_score if is_classifier(self) else r2_score
        return metric(y, y_pred, sample_weight=sample_weight)

    def fit(self, X, y):
        """Fit the network to rows X (n_samples, n_features) and targets y."""
        return self._fit(X, y, incremental=False)

    def save(self, path):
        """Write the fitted estimator to an HDF5 file (``fastdnn.io.estimator_file``); read it
        back with ``fastdnn.load_model``. ``partial_fit`` on the loaded one continues exactly."""
        check_is_fitted(self)
        from .io.estimator_file import save_estimator_file
        from .persistence import _plain
        params = self.get_params()
        if not isinstance(params["random_state"], (Integral, type(None))):
            params["random_state"] = None   # a RandomState object: its draws are spent anyway
        params["hidden_layer_sizes"] = np.atleast_1d(params["hidden_layer_sizes"]).tolist()
        if params["dtype"] is not None:
            params["dtype"] = np.dtype(params["dtype"]).name
        fitted = {name: _plain(getattr(self, name)) for name in FITTED if hasattr(self, name)}
        state = self._optimizer_state or {"learning_rate": float(self.learning_rate_init),
                                          "moments": None}
        fitted["learning_rate_"] = state["learning_rate"]
        arrays = dict(state["moments"] or {})
        fitted["adam_t_"] = int(arrays.pop("t", 0))
        arrays["best"] = self._best_params
        lb = getattr(self, "_label_binarizer", None)
        fitted["y_type_"] = lb.y_type_ if lb is not None else None
        save_estimator_file(path, {
            "estimator": type(self).__name__, "params": params, "fitted": fitted,
            "coefs": self.coefs_, "intercepts": self.intercepts_,
            "classes": getattr(self, "classes_", None),
            "feature_names_in": getattr(self, "feature_names_in_", None), "state": arrays})

    def to_onnx(self, path=None):
        """The fitted network as an ``onnx.ModelProto`` (see ``fastdnn.onnx_export``)."""
        check_is_fitted(self)
        from .onnx_export import mlp_to_onnx
        return mlp_to_onnx(self, path)

    def _check_stochastic(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 "%s is not stochastic." % self.solver)
        return True

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coefs_")


class DNNClassifier(ClassifierMixin, _DNNBase):
    """``MLPClassifier``'s numbers, fastdnn's speed.

    Same parameters and defaults as ``sklearn.neural_network.MLPClassifier``
    (``solver`` "adam", "sgd" or "lbfgs"), plus fastdnn's own:
    ``dtype`` (None: float32 data stays float32, else float64, as in
    scikit-learn; or "float32"/"float64"), ``keep_prob`` (dropout on the hidden
    layers, 1: none), ``n_threads`` (BLAS threads, None: fastdnn's policy) and
    ``strategy`` ("auto" = "direct": one core; "split": each batch split across the
    cores, 1.4-1.7x faster on idle cores, equal to "direct" to ~1e-15, not bit for bit,
    with ``n_threads`` slices, default one per core; no dropout, sgd/adam only).
    ``activation`` also takes "leaky_relu" (slope 0.01). Labels of any type;
    binary, multiclass (softmax) and multilabel (independent logistic outputs).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, keep_prob=1.0, n_threads=None, strategy="auto"):
        _store(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, dtype=self._data_dtype(),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, self._encode_targets(y, incremental)

    def _encode_targets(self, y, incremental):
        """Labels -> the binarizer's indicator columns (bool), fitting it on a first pass."""
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        "previous call to fit. Previously got %s, `y` has %s"
                        % (self.classes_, classes))
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has "
                                 "%s. 'y' has %s." % (self.classes_, classes))
        return self._label_binarizer.transform(y).astype(bool)

    def _score_outputs(self, outputs, y):
        return _finite_score(self._labels(outputs), y, accuracy_score)

    def _labels(self, outputs):
        if self.n_outputs_ == 1:
            outputs = outputs.ravel()
        return self._label_binarizer.inverse_transform(outputs)

    @available_if(lambda est: est._check_stochastic())
    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y; ``classes`` (every label) is needed on the first call."""
        if is_source(X):
            y = labels_of(X, y)   # in memory, for the label checks below
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Class labels (n_samples,) (multilabel: indicator matrix (n_samples, n_classes));
        a dask X gives a lazy dask array."""
        outputs = self._forward(X)
        if _is_lazy(outputs):
            one_column = self.n_outputs_ == 1 or self._label_binarizer.y_type_ == "multiclass"
            return outputs.map_blocks(self._labels, dtype=self.classes_.dtype,
                                      **({"drop_axis": 1} if one_column else {}))
        return self._labels(outputs)

    def predict_proba(self, X):
        """Probabilities (n_samples, n_classes), columns in the order of ``classes_``; a
        dask X gives a lazy dask array."""
        outputs = self._forward(X)
        if _is_lazy(outputs):
            return outputs.map_blocks(self._probabilities, dtype=outputs.dtype,
                                      chunks=(outputs.chunks[0], (max(2, self.n_outputs_),)))
        return self._probabilities(outputs)

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against y, as scikit-learn's; X and y may also be
        sources (h5py, ``HDF5Source`` -- whose own labels serve when y is None --, dask)."""
        if is_source(X):
            return self._score_source(X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def _probabilities(self, y_pred):
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """log of ``predict_proba`` (n_samples, n_classes)."""
        y_prob = self.predict_proba(X)
        if _is_lazy(y_prob):
            return np.log(y_prob)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class DNNRegressor(RegressorMixin, _DNNBase):
    """``MLPRegressor``'s numbers, fastdnn's speed: the squared-error loss (``loss``
    "squared_error"; "poisson" raises), identity output; parameters as ``DNNClassifier``."""

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, keep_prob=1.0, n_threads=None, strategy="auto"):
        _store(self, locals())

    def _check_params(self):
        if self.loss == "poisson":
            raise ValueError("loss='poisson' is not supported by fastdnn (its regressor fits "
                             "the squared error); use sklearn.neural_network.MLPRegressor")
        _choice("loss", self.loss, ("squared_error",))
        return super()._check_params()

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=self._data_dtype(), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _encode_targets(self, y, incremental):
        return y

    def score(self, X, y=None, sample_weight=None):
        """R^2 of ``predict(X)`` against y, as scikit-learn's; X and y may also be
        sources (h5py, ``HDF5Source`` -- whose own labels serve when y is None --, dask)."""
        if is_source(X):
            return self._score_source(X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def _score_outputs(self, outputs, y):
        return _finite_score(_ravel_single(outputs), y, r2_score)

    @available_if(lambda est: est._check_stochastic())
    def partial_fit(self, X, y):
        """One epoch over X, y."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted values (n_samples,) or (n_samples, n_outputs); a dask X gives a lazy
        dask array."""
        outputs = self._forward(X)
        if _is_lazy(outputs) and self.n_outputs_ == 1:
            return outputs[:, 0]
        return _ravel_single(outputs)


def _shuffled(indices, random_state):
    """``sklearn.utils.shuffle(indices, random_state=random_state)``, the same draw
    (``resample`` shuffles an arange in place and takes it), without the per-call
    parameter validation that costs more than a small epoch's training."""
    order = np.arange(indices.shape[0])
    random_state.shuffle(order)
    return indices[order]


def register_onnx_converters():
    """Teach skl2onnx to convert DNNClassifier / DNNRegressor, so that
    ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a whole ``Pipeline`` ending in one
    (``fastdnn.onnx_export.register_skl2onnx``; needs the ``onnx`` extra)."""
    from .onnx_export import register_skl2onnx
    register_skl2onnx([DNNClassifier, DNNRegressor])


#: Fitted attributes saved beside the parameters (scalars and lists).
FITTED = ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "validation_scores_",
          "best_validation_score_", "n_features_in_", "n_outputs_", "n_layers_",
          "out_activation_", "_no_improvement_count")


def load_estimator(path):
    """A fitted ``DNNClassifier`` / ``DNNRegressor`` from a file written by ``save``."""
    from .io.estimator_file import load_estimator_file
    p = load_estimator_file(path)
    params = dict(p["params"], hidden_layer_sizes=tuple(p["params"]["hidden_layer_sizes"]))
    est = {"DNNClassifier": DNNClassifier, "DNNRegressor": DNNRegressor}[p["estimator"]]()
    est.set_params(**params)
    fitted = dict(p["fitted"])
    est._optimizer_state = {"learning_rate": fitted.pop("learning_rate_"), "moments": None}
    t, y_type = fitted.pop("adam_t_"), fitted.pop("y_type_")
    for name, value in fitted.items():
        setattr(est, name, value)
    est.coefs_, est.intercepts_ = p["coefs"], p["intercepts"]
    state = p["state"]
    est._best_params = state.pop("best")
    if state:
        est._optimizer_state["moments"] = dict(state, t=t)
    if p["feature_names_in"] is not None:
        est.feature_names_in_ = p["feature_names_in"]
    if p["classes"] is not None:
        classes = p["classes"]
        if classes.dtype == object:
            classes = np.array(list(classes))
        est.classes_ = classes
        est._label_binarizer = LabelBinarizer()
        est._label_binarizer.classes_, est._label_binarizer.y_type_ = classes, y_type
        est._label_binarizer.sparse_input_ = False
    return est


def _is_lazy(outputs):
    """Whether outputs are a dask array (predictions on a dask X)."""
    return not isinstance(outputs, np.ndarray)


def _ravel_single(outputs):
    return outputs.ravel() if outputs.shape[1] == 1 else outputs


def _finite_score(y_pred, y, score_function):
    """scikit-learn's ``_score_with_function``: NaN when a prediction is not finite."""
    if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
        return np.nan
    return score_function(y, y_pred)


def _store(estimator, arguments):
    """__init__ only stores its arguments (scikit-learn's convention)."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _is_dtype(value):
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def _choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(map(repr, choices)),
                                                           value))


def _number(name, value, low=None, high=None, integer=False, low_open=False, high_open=False):
    """A real (or integer) in [low, high] (ends open when asked); else a clear error."""
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError("%s must be %s, got %r" % (name, "an integer" if integer else "a number",
                                                   value))
    if not np.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) \
            or (high is not None and (value > high or (high_open and value == high))):
        raise ValueError("%s must be in %s%s, %s%s, got %r" % (
            name, "(" if low_open else "[", low, "inf" if high is None else high,
            ")" if high_open or high is None else "]", value))
