"""Drop-in replacement for ``fastdnn.reference``, backed by the compiled kernels.

Same names, signatures and return structures as the seed's helpers (parameter
dicts ``W1, b1, ...``, caches ``((A_prev, W, b), Z)``, grads ``dA{l}, dW{l},
db{l}``), so ``from fastdnn import functional as dnn`` replaces the reference in
existing code. ``L_layer_model`` runs on the training engine (many iterations
per compiled call), so existing training code gets the full speed.

Results agree with the reference to rounding (float64: relative differences of
order 1e-15); they are not bit-identical because BLAS and the compiled loops may
sum in another order, and the sigmoid is computed as exp(z) / (1 + exp(z)) for
z < 0 (no overflow warning). Arrays keep their floating dtype (float32 stays
float32); integer inputs become float64.
"""

import functools

import numpy as np

from . import validation as v
from .engine import TrainingEngine
from .engine.strategy import check_strategy
from .kernels.activations import (CODES, IDENTITY, RELU, SIGMOID, activate, activation_backward,
                                  add_bias_activate)
from .kernels.cost import cross_entropy_from_probs
from .kernels.linear import linear_grads_into, matmul_into
from .kernels.update import gradient_descent_update
from .reference.gradient_check import (dictionary_to_vector, gradient_check_n,
                                       gradients_to_vector, vector_to_dictionary)
from .reference.initialization import (initialize_parameters_he, initialize_parameters_random,
                                       initialize_parameters_zeros)
from .reference.optimization import (initialize_adam, initialize_velocity, random_mini_batches,
                                     schedule_lr_decay, update_lr, update_parameters_with_adam,
                                     update_parameters_with_gd, update_parameters_with_momentum)
from .reference.seed import (initialise_parameters, initialise_parameters_deep,
                             initialize_parameters, initialize_parameters_deep)

__all__ = [
    "initialise_parameters", "initialise_parameters_deep", "initialize_parameters",
    "initialize_parameters_deep", "linear_forward", "sigmoid", "relu",
    "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
    "relu_backward", "sigmoid_backward", "linear_activation_backward", "L_model_backward",
    "update_parameters", "L_layer_model", "predict",
    # Course 2: the training loop compiled, the helpers the reference's own
    "model", "initialize_parameters_zeros", "initialize_parameters_random",
    "initialize_parameters_he", "update_parameters_with_gd", "random_mini_batches",
    "initialize_velocity", "update_parameters_with_momentum", "initialize_adam",
    "update_parameters_with_adam", "update_lr", "schedule_lr_decay", "dictionary_to_vector",
    "vector_to_dictionary", "gradients_to_vector", "gradient_check_n",
]


def _dtype(*arrays):
    """The common floating dtype of the inputs (float64 for integers)."""
    dt = np.result_type(*[np.asarray(a).dtype for a in arrays], np.float32)
    return v.check_dtype(dt if dt.kind == "f" else np.float64)


def _arr(name, a, dtype, shape=None):
    """Validated C-contiguous 2-D array (see ``validation.check_array``)."""
    return v.check_array(name, a, dtype, shape)


def _check_activation(activation):
    if activation not in ("sigmoid", "relu"):
        raise ValueError("activation must be 'sigmoid' or 'relu'; got %r" % (activation,))


# -- forward ------------------------------------------------------------------

def linear_forward(A, W, b):
    """Z (n, m) = W (n, n_prev) @ A (n_prev, m) + b (n, 1); returns (Z, (A, W, b))."""
    dt = _dtype(A, W, b)
    W = _arr("W", W, dt)
    A = _arr("A", A, dt, (W.shape[1], None))
    b = _arr("b", b, dt, (W.shape[0], 1))
    Z = np.empty((W.shape[0], A.shape[1]), dtype=dt)
    matmul_into(W, A, Z)
    add_bias_activate(Z, b.reshape(-1), IDENTITY)
    return Z, (A, W, b)


def _activation(Z, code):
    """(g(Z), Z) for an array Z of any shape; elementwise, so NaN propagates as in NumPy."""
    dt = _dtype(Z)
    Z = np.asarray(Z, dtype=dt)
    A = np.array(Z, dtype=dt, order="C", copy=True)
    activate(A.reshape(1, -1), code)
    return A, Z


def sigmoid(Z):
    """A = 1 / (1 + exp(-Z)) of any shape, without overflow; returns (A, Z)."""
    return _activation(Z, SIGMOID)


def relu(Z):
    """A = max(0, Z) of any shape; returns (A, Z)."""
    return _activation(Z, RELU)


def linear_activation_forward(A_prev, W, b, activation):
    """A (n, m) = g(W A_prev + b) for g in {"sigmoid", "relu"}; returns (A, ((A_prev, W, b), Z))."""
    _check_activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = _activation(Z, CODES[activation])
    return A, (linear_cache, activation_cache)


def _layer_count(parameters):
    if not isinstance(parameters, dict) or len(parameters) < 2 or len(parameters) % 2:
        raise ValueError("parameters must be a dict {'W1': ..., 'b1': ..., ...} with a W and a b "
                         "per layer; got %r" % (sorted(parameters) if isinstance(parameters, dict)
                                                else type(parameters).__name__))
    return len(parameters) // 2


def _layer_dims(parameters):
    """[n_0, n_1, ..., n_L] read off the weight shapes (n_0 from W1's columns)."""
    L = _layer_count(parameters)
    try:
        shapes = [np.shape(parameters["W%d" % l]) for l in range(1, L + 1)]
    except KeyError as err:
        raise ValueError("parameters is missing %s; expected keys W1, b1, ..., W%d, b%d"
                         % (err, L, L)) from None
    if len(shapes[0]) != 2:
        raise ValueError("parameters['W1'] must be 2-D (n_1, n_x); got shape %s" % (shapes[0],))
    return [shapes[0][1]] + [s[0] if s else 0 for s in shapes]


def L_model_forward(X, parameters):
    """[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID; returns (AL (n_L, m), caches (L entries))."""
    dims = _layer_dims(parameters)
    dt = _dtype(X, *parameters.values())
    A = v.check_X(X, dims[0], dt)
    parameters = v.check_parameters(parameters, dims, dt)
    caches = []
    L = len(dims) - 1
    for l in range(1, L + 1):
        A, cache = linear_activation_forward(A, parameters["W%d" % l], parameters["b%d" % l],
                                             "relu" if l < L else "sigmoid")
        caches.append(cache)
    return A, caches


def compute_cost(AL, Y):
    """Cross-entropy -1/m sum(Y log AL + (1 - Y) log(1 - AL)) of AL (1, m), Y (1, m); a float."""
    dt = _dtype(AL)
    AL = _arr("AL", AL, dt)
    Y = _labels(Y, AL, dt)
    if ((AL < 0) | (AL > 1)).any():
        raise ValueError("AL must hold probabilities in [0, 1]; got values from %g to %g"
                         % (AL.min(), AL.max()))
    bad = (Y < 0) | (Y > 1)
    if bad.any():
        raise ValueError("Y must hold labels in [0, 1]; got %r at index %s"
                         % (Y[bad][0].item(), tuple(int(i) for i in np.argwhere(bad)[0])))
    return float(cross_entropy_from_probs(AL, Y))


def _labels(Y, AL, dt):
    """Y as a validated array of AL's shape; a 1-D Y of length m is taken as (1, m)."""
    Y = np.asarray(Y)
    if Y.ndim == 1 and AL.shape[0] == 1:
        Y = Y.reshape(1, -1)
    return _arr("Y", Y, dt, AL.shape)


# -- backward -----------------------------------------------------------------

def _linear_cache(cache):
    try:
        A_prev, W, b = cache
    except (TypeError, ValueError):
        raise ValueError("linear cache must be the tuple (A_prev, W, b) from linear_forward") from None
    return A_prev, W, b


def linear_backward(dZ, cache):
    """From dZ (n, m) and cache (A_prev, W, b): (dA_prev (n_prev, m), dW (n, n_prev), db (n, 1))."""
    A_prev, W, b = _linear_cache(cache)
    dt = _dtype(dZ, A_prev, W)
    W = _arr("W", W, dt)
    dZ = _arr("dZ", dZ, dt, (W.shape[0], None))
    A_prev = _arr("A_prev", A_prev, dt, (W.shape[1], dZ.shape[1]))
    n, m = dZ.shape
    dW = np.empty(W.shape, dtype=dt)
    db = np.empty((n, 1), dtype=dt)
    linear_grads_into(dZ, A_prev, dW, db.reshape(-1))
    inv_m = dt.type(1.0 / m)
    dW *= inv_m
    db *= inv_m
    dA_prev = np.empty(A_prev.shape, dtype=dt)
    matmul_into(W.T, dZ, dA_prev)
    return dA_prev, dW, db


def _activation_backward(dA, Z, code):
    """dZ = dA * g'(Z) for dA and Z of the same (any) shape."""
    dt = _dtype(dA, Z)
    Z = np.asarray(Z, dtype=dt)
    dZ = np.array(dA, dtype=dt, order="C", copy=True)
    if dZ.shape != Z.shape:
        raise ValueError("dA and the activation cache Z must have the same shape; got %s and %s"
                         % (dZ.shape, Z.shape))
    through = np.ascontiguousarray(Z) if code == RELU else _activation(Z, SIGMOID)[0]
    activation_backward(dZ.reshape(1, -1), through.reshape(1, -1), code)
    return dZ


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0 (cache is Z); same shape as dA."""
    return _activation_backward(dA, cache, RELU)


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s) with s = sigmoid(Z) (cache is Z); same shape as dA."""
    return _activation_backward(dA, cache, SIGMOID)


def linear_activation_backward(dA, cache, activation):
    """Backward through LINEAR->g; returns (dA_prev, dW, db) like ``linear_backward``."""
    _check_activation(activation)
    linear_cache, activation_cache = cache
    dZ = (relu_backward if activation == "relu" else sigmoid_backward)(dA, activation_cache)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    """Gradients {dA{l-1}, dW{l}, db{l}} of the cross-entropy cost through every cached layer.

    Starts, like the seed, from dAL = -(Y / AL - (1 - Y) / (1 - AL)) and the sigmoid
    cache Z, so it also accepts caches whose AL and Z are not consistent (as the
    seed's test case does). The training engine instead uses dZL = AL - Y.
    """
    dt = _dtype(AL)
    AL = _arr("AL", AL, dt)
    Y = _labels(Y, AL, dt)
    L = len(caches)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads = {}
    dA = dAL
    for l in range(L, 0, -1):
        dA, grads["dW%d" % l], grads["db%d" % l] = linear_activation_backward(
            dA, caches[l - 1], "sigmoid" if l == L else "relu")
        grads["dA%d" % (l - 1)] = dA
    return grads


def update_parameters(parameters, grads, learning_rate):
    """Gradient-descent step W -= lr dW, b -= lr db for every layer.

    Like the seed, stores new arrays into the dict it was given and returns it;
    every input is checked before the dict is touched.
    """
    learning_rate = v.check_positive("learning_rate", learning_rate)
    L = _layer_count(parameters)
    updated = {}
    for key in ("%s%d" % (p, l) for l in range(1, L + 1) for p in "Wb"):
        if key not in parameters:
            raise ValueError("parameters is missing %r; expected W1, b1, ..., W%d, b%d"
                             % (key, L, L))
        if "d" + key not in grads:
            raise ValueError("grads is missing %r for parameter %r" % ("d" + key, key))
        dt = _dtype(parameters[key], grads["d" + key])
        new = _arr(key, parameters[key], dt).copy()
        updated[key] = (new, _arr("d" + key, grads["d" + key], dt, new.shape))
    for key, (new, grad) in updated.items():
        gradient_descent_update(new.reshape(-1), grad.reshape(-1), new.dtype.type(learning_rate))
        parameters[key] = new
    return parameters


# -- the model ------------------------------------------------------------------

def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, *, initial_parameters=None, record_every=100,
                  strategy="auto"):
    """Train like ``fastdnn.reference.L_layer_model``, on the compiled engine.

    Starts from the seed's ``initialise_parameters_deep(layers_dims)`` unless
    ``initial_parameters`` is given. Returns (parameters, costs) with the cost
    before the update at iterations 0, record_every, ...; dtype follows X.
    A diverging run raises ``TrainingDivergedError`` carrying ``.parameters``
    (the last finite ones) and ``.recorded`` costs.
    """
    dims = v.check_layer_dims(layers_dims)
    check_strategy(strategy, dims)
    learning_rate = v.check_positive("learning_rate", learning_rate)
    num_iterations = v.check_positive("num_iterations", num_iterations, integer=True)
    record_every = v.check_positive("record_every", record_every, integer=True)
    dt = _dtype(X)
    X, Y = v.check_XY(X, Y, dims, dt)
    params = initial_parameters if initial_parameters is not None \
        else initialise_parameters_deep(dims)
    params = v.check_parameters(params, dims, dt, "initial_parameters")
    engine = TrainingEngine(X, Y, params, dims, ["relu"] * (len(dims) - 2) + ["sigmoid"],
                            learning_rate, strategy, planned_iterations=num_iterations)
    report = None
    if print_cost:
        def report(iteration, record):
            if record is not None:
                print("Cost after iteration %i: %f" % record)
    costs = [c for _, c in engine.run(num_iterations, record_every, 0, report)]
    return engine.parameters(), costs


def predict(X, parameters):
    """Labels (1, m) of floats 0.0/1.0: AL > 0.5."""
    AL, _ = L_model_forward(X, parameters)
    return (AL > 0.5).astype(np.float64)


# -- Course 2 -------------------------------------------------------------------
# The training loop runs on the compiled engine; the small helpers (initialisers,
# mini-batch shuffling, one-step updates on dicts, decay formulas, gradient
# checking) are the reference's own NumPy functions, re-exported so that course
# code runs unchanged with ``from fastdnn import functional as dnn``: compiling a
# single dict update would not make it faster.

def _decay_name(decay):
    """(name, time_interval) of a course decay function, for the engine."""
    if decay is None:
        return None, 1000
    if decay is update_lr:
        return "inverse", 1000
    if decay is schedule_lr_decay:
        return "scheduled", 1000
    if (isinstance(decay, functools.partial) and decay.func is schedule_lr_decay
            and not decay.args and set(decay.keywords) == {"time_interval"}):
        return "scheduled", decay.keywords["time_interval"]
    raise ValueError("decay must be None, update_lr, schedule_lr_decay or "
                     "functools.partial(schedule_lr_decay, time_interval=k); got %r" % (decay,))


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9,
          beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True, decay=None,
          decay_rate=1, *, initial_parameters=None, hidden_activation="relu", output="sigmoid",
          lambd=0.0, keep_prob=1.0, masks=None, seed=10, record_every=100, start_epoch=0,
          optimizer_state=None, return_state=False, dropout_seed=0):
    """``fastdnn.reference.model`` (the course's training loop) on the compiled engine.

    Same arguments, same results (to rounding; ``scripts/check_equivalence.py``)
    and the same return values, with one difference: dropout masks come from
    the compiled generator seeded by ``dropout_seed`` (``masks`` cannot be
    injected into compiled code; ``fastdnn.engine.rng.mask_source(dropout_seed,
    keep_prob)`` hands the same masks to the reference). The returned state
    also carries "rng", the generator's state. dtype follows X.
    """
    from .model import DeepNeuralNetwork

    if masks is not None:
        raise ValueError("masks cannot be injected into the compiled loop; its masks come from "
                         "dropout_seed (fastdnn.engine.rng.mask_source gives the same ones)")
    decay_name, interval = _decay_name(decay)
    dims = v.check_layer_dims(layers_dims)
    net = DeepNeuralNetwork(dims, learning_rate, dtype=_dtype(X), output=output,
                            hidden_activation=hidden_activation, optimizer=optimizer, beta=beta,
                            beta1=beta1, beta2=beta2, epsilon=epsilon,
                            batch_size=mini_batch_size, lambd=lambd, keep_prob=keep_prob,
                            decay=decay_name, decay_rate=decay_rate, time_interval=interval,
                            shuffle_seed=seed, dropout_seed=dropout_seed)
    start = v.check_non_negative("start_epoch", start_epoch)
    net.parameters_ = (initial_parameters if initial_parameters is not None
                       else initialize_parameters_he(dims))
    net.n_iter_, net.costs_, net.cost_iterations_ = int(start), [], []
    net.optimizer_state_ = optimizer_state
    report = None
    if print_cost:
        def report(epoch, cost):
            print("Cost after epoch %i: %f" % (epoch, cost))
    net.fit(X, Y, num_epochs=num_epochs, record_every=record_every, warm_start=True,
            callback=report)
    if not return_state:
        return net.parameters_, list(net.costs_)
    state = dict(net.optimizer_state_, epoch=net.n_iter_)
    if decay_name is None:
        state["learning_rate"] = learning_rate
    else:
        state["learning_rate"] = float(decay(learning_rate, net.n_iter_ - 1, decay_rate))
    return net.parameters_, list(net.costs_), state
