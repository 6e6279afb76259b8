"""The seed notebook's helper functions, copied faithfully in plain NumPy.

This module is the oracle that the compiled core is checked against. Every
function has the seed's name, signature, return structure and arithmetic
(the same operations in the same order), so its results are bit-identical to
the seed notebook's code. Quirks of the seed are kept on purpose and noted in
the docstrings. The seed's ``assert`` shape checks are left out: they vanish
under ``python -O`` anyway and change no result.

Notation: ``n_prev`` is the size of the previous layer, ``n`` the size of the
current layer and ``m`` the number of examples (columns).
"""

import numpy as np

__all__ = [
    "initialise_parameters",
    "initialise_parameters_deep",
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "sigmoid",
    "relu",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "relu_backward",
    "sigmoid_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
]


# --------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------

def initialise_parameters(n_x, n_h, n_y):
    """Parameters of a 2-layer network.

    Returns ``{"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}``.

    Seed quirks: calls ``np.random.seed(1)`` itself (so it resets NumPy's
    global random state and always returns the same values); weights are
    ``randn * 0.01`` but the biases are drawn with plain ``randn``, not zeros.
    """
    np.random.seed(1)

    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.random.randn(n_h, 1)
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.random.randn(n_y, 1)

    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}

    return parameters


def initialise_parameters_deep(layer_dims):
    """Parameters of an L-layer network, ``layer_dims = [n_0, n_1, ..., n_L]``.

    Returns ``{"Wl": (n_l, n_{l-1}), "bl": (n_l, 1)}`` for ``l = 1..L``.

    Seed quirks: calls ``np.random.seed(3)`` itself (resets NumPy's global
    random state); weights and biases are both plain ``randn`` (unscaled, and
    the biases are not zeros). Draw order: W1, b1, W2, b2, ...
    """
    np.random.seed(3)
    parameters = {}
    L = len(layer_dims)            # number of layers in the network, plus the input

    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1])
        parameters["b" + str(l)] = np.random.randn(layer_dims[l], 1)

    return parameters


# American spellings, the same function objects.
initialize_parameters = initialise_parameters
initialize_parameters_deep = initialise_parameters_deep


# --------------------------------------------------------------------------
# Forward propagation
# --------------------------------------------------------------------------

def linear_forward(A, W, b):
    """Linear part of a layer: ``Z = W @ A + b``.

    A: (n_prev, m), W: (n, n_prev), b: (n, 1).
    Returns ``(Z, cache)`` with Z: (n, m) and ``cache = (A, W, b)`` (a tuple;
    the arrays themselves, not copies).
    """
    Z = W @ A + b

    cache = (A, W, b)

    return Z, cache


def sigmoid(Z):
    """Sigmoid ``1/(1+exp(-Z))``, any shape.

    Returns ``(A, cache)`` with A the same shape as Z and ``cache = Z``.
    (No clipping: ``exp`` may overflow to inf for very negative Z, giving 0.)
    """
    A = 1 / (1 + np.exp(-Z))
    cache = Z

    return A, cache


def relu(Z):
    """ReLU ``np.maximum(0, Z)``, any shape.

    Returns ``(A, cache)`` with A the same shape as Z and ``cache = Z``.
    """
    A = np.maximum(0, Z)

    cache = Z
    return A, cache


def linear_activation_forward(A_prev, W, b, activation):
    """One LINEAR->ACTIVATION layer; ``activation`` is ``"sigmoid"`` or ``"relu"``.

    A_prev: (n_prev, m), W: (n, n_prev), b: (n, 1).
    Returns ``(A, cache)`` with A: (n, m) and
    ``cache = (linear_cache, activation_cache) = ((A_prev, W, b), Z)``.

    An unknown ``activation`` raises ``ValueError`` (the seed fails with an
    ``UnboundLocalError`` instead).
    """
    Z, linear_cache = linear_forward(A_prev, W, b)

    if activation == "sigmoid":
        A, activation_cache = sigmoid(Z)
    elif activation == "relu":
        A, activation_cache = relu(Z)
    else:
        raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")

    cache = (linear_cache, activation_cache)

    return A, cache


def L_model_forward(X, parameters):
    """Forward pass of [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID.

    X: (n_0, m); parameters: dict ``W1, b1, ..., WL, bL`` (L = len(parameters) // 2).
    Returns ``(AL, caches)`` with AL: (n_L, m) (the seed expects n_L == 1) and
    ``caches`` a list of L caches from :func:`linear_activation_forward`,
    ``caches[l-1]`` belonging to layer l.
    """
    caches = []
    # Initialise A as X as X is essentially A[0]
    A = X

    L = len(parameters) // 2  # Number of layers in the neural network

    # [LINEAR -> RELU]*(L-1)
    for i in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(A_prev, parameters["W" + str(i)], parameters["b" + str(i)], "relu")
        caches.append(cache)

    # LINEAR -> SIGMOID
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)

    return AL, caches


# --------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------

def compute_cost(AL, Y):
    """Cross-entropy cost ``-1/m * sum(Y*log(AL) + (1-Y)*log(1-AL))``.

    AL: (1, m) probabilities; Y: (1, m) labels in {0, 1}.
    Returns a 0-d result (``np.squeeze`` of the sum, as in the seed); use
    ``float(cost)`` for a Python float. No clipping: AL of exactly 0 or 1 gives
    inf/nan.
    """
    m = AL.shape[1]

    cost = -1 / m * np.sum((Y * np.log(AL)) + (1 - Y) * np.log(1 - AL))

    cost = np.squeeze(cost)  # e.g. turns [[17]] into 17

    return cost


# --------------------------------------------------------------------------
# Backward propagation
# --------------------------------------------------------------------------

def linear_backward(dZ, cache):
    """Linear part of a layer's backward pass.

    dZ: (n, m); cache = (A_prev (n_prev, m), W (n, n_prev), b (n, 1)).
    Returns ``(dA_prev, dW, db)`` with shapes (n_prev, m), (n, n_prev), (n, 1):
    ``dW = 1/m * dZ . A_prev.T``, ``db = 1/m * sum(dZ, axis=1)``, ``dA_prev = W.T . dZ``.
    """
    A_prev, W, b = cache
    m = A_prev.shape[1]

    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)

    return dA_prev, dW, db


def relu_backward(dA, cache):
    """Backward pass of ReLU: a copy of dA with entries where ``Z <= 0`` set to 0.

    dA and ``cache = Z`` have the same (any) shape; returns dZ of that shape.
    """
    Z = cache
    dZ = np.array(dA, copy=True)  # just converting dz to a correct object.

    # When z <= 0, set dz to 0 as well.
    dZ[Z <= 0] = 0

    return dZ


def sigmoid_backward(dA, cache):
    """Backward pass of sigmoid: ``dZ = dA * s * (1-s)`` with ``s = 1/(1+exp(-Z))``.

    dA and ``cache = Z`` have the same (any) shape; returns dZ of that shape.
    (The sigmoid is recomputed from Z, as in the seed.)
    """
    Z = cache

    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)

    return dZ


def linear_activation_backward(dA, cache, activation):
    """Backward pass of one LINEAR->ACTIVATION layer (``"relu"`` or ``"sigmoid"``).

    dA: (n, m); ``cache = ((A_prev, W, b), Z)`` from :func:`linear_activation_forward`.
    Returns ``(dA_prev, dW, db)`` with shapes (n_prev, m), (n, n_prev), (n, 1).

    An unknown ``activation`` raises ``ValueError`` (the seed fails with an
    ``UnboundLocalError`` instead).
    """
    linear_cache, activation_cache = cache

    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
        dA_prev, dW, db = linear_backward(dZ, linear_cache)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
        dA_prev, dW, db = linear_backward(dZ, linear_cache)
    else:
        raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")

    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    """Backward pass of [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID.

    AL: (1, m) output of :func:`L_model_forward`; Y: labels, reshaped to AL's
    shape; caches: the L caches from :func:`L_model_forward` (list or tuple).
    Starts from ``dAL = -(Y/AL - (1-Y)/(1-AL))``.
    Returns a dict with, for l = 1..L, ``"dWl"`` (shape of Wl), ``"dbl"``
    (shape of bl) and ``"dA{l-1}"`` (shape of A{l-1}); note ``"dA0"`` (the
    gradient w.r.t. X) is included and there is no ``"dAL"``.
    """
    grads = {}

    L = len(caches)  # number of layers
    Y = Y.reshape(AL.shape)

    # Initialise back propagation
    dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))

    # Lth layer (SIGMOID -> LINEAR) gradients.
    current_cache = caches[L - 1]
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(dAL, current_cache, "sigmoid")

    # Remaining layers (RELU -> LINEAR), from l = L-2 down to 0.
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = linear_activation_backward(grads["dA" + str(l + 1)], current_cache, "relu")

    return grads


# --------------------------------------------------------------------------
# Update
# --------------------------------------------------------------------------

def update_parameters(parameters, grads, learning_rate):
    """One gradient-descent step: ``Wl = Wl - learning_rate * dWl`` (same for bl).

    parameters: dict ``W1, b1, ..., WL, bL``; grads: dict with ``dWl, dbl``.

    Seed quirk: the updated arrays are *new* arrays, assigned into the same
    dict that was passed in, and that dict is returned. So the caller's dict is
    modified (its entries replaced), while the old arrays themselves are not
    changed in place.
    """
    L = len(parameters) // 2

    # Use l + 1 as there is no W0, b0, dW0, etc.
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]

    return parameters
