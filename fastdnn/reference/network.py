"""A general L-layer network in the Course 2 style (plain NumPy): the oracle for the compiled core.

[LINEAR -> hidden activation (-> dropout)] * (L-1) -> LINEAR -> output, with
the arithmetic of the course's 3-layer ``reg_utils`` / ``Regularization``
code generalised to any depth, any hidden activations and three outputs.
For a ReLU/ReLU/sigmoid network it computes what the course computes (see
:mod:`fastdnn.reference.regularization`).

Shapes: X (n_0, m); ``parameters`` holds ``Wl`` (n_l, n_{l-1}) and ``bl``
(n_l, 1) for ``l = 1..L`` with ``L = len(parameters) // 2``; Y and AL
(n_L, m). Y is reshaped to AL's shape (the course's gradient-check test case
passes a 1-D Y).

Hidden activations (by name): ``"relu"`` ``np.maximum(0, Z)``;
``"leaky_relu"`` ``np.where(Z > 0, Z, 0.01 * Z)``; ``"tanh"``; ``"sigmoid"``
``1/(1+np.exp(-Z))``; ``"identity"``. ``hidden_activation`` is one name
(all hidden layers) or a list of L-1 names (layer 1 first).

Outputs (by name) and their summed loss:
- ``"sigmoid"``: binary cross-entropy on every output row (one or several
  independent labels), ``sum(-log(AL)*Y + -log(1-AL)*(1-Y))``;
- ``"softmax"``: softmax over the rows (axis 0), stable (the column max is
  subtracted before ``exp``), categorical cross-entropy ``-sum(Y*log(AL))``;
- ``"identity"``: squared error ``1/2 * sum((AL-Y)**2)``.
For all three the output delta is ``dZL = AL - Y`` (then scaled by 1/m like
every gradient). No clipping: an AL of exactly 0 or 1 gives inf/nan in the loss.

Dropout (inverted, hidden layers only, never the input or the output layer)
is on when ``keep_prob < 1``: see :func:`forward`. The cache is the course's
flat tuple, see :func:`forward`.
"""

import numpy as np

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUTS",
    "forward",
    "loss_sum",
    "cost",
    "backward",
]

HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity")

LEAKY_SLOPE = 0.01


# --------------------------------------------------------------------------
# Activations and their derivatives
# --------------------------------------------------------------------------

def _activate(Z, name):
    """Hidden activation ``g(Z)``, any shape."""
    if name == "relu":
        return np.maximum(0, Z)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, LEAKY_SLOPE * Z)
    if name == "tanh":
        return np.tanh(Z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "identity":
        return Z
    raise ValueError(f"hidden activation must be one of {HIDDEN_ACTIVATIONS}, got {name!r}")


def _activation_backward(dA, Z, name):
    """``dZ = dA * g'(Z)``, recomputed from Z (the cached A may carry dropout).

    relu: the seed's ``relu_backward`` (a copy of dA, zero where ``Z <= 0``).
    The course's 3-layer code writes ``np.multiply(dA, np.int64(A > 0))``; the
    values are equal (``A > 0`` iff ``Z > 0``, and where dropout zeroed A the
    incoming dA is already zero), only the sign of some zeros can differ.
    leaky_relu: ``dA * np.where(Z > 0, 1.0, 0.01)``; tanh: ``dA * (1 - tanh(Z)**2)``;
    sigmoid: ``dA * s * (1 - s)`` (the seed's); identity: a copy of dA.
    """
    if name == "relu":
        dZ = np.array(dA, copy=True)
        dZ[Z <= 0] = 0
        return dZ
    if name == "leaky_relu":
        return dA * np.where(Z > 0, 1.0, LEAKY_SLOPE)
    if name == "tanh":
        return dA * (1 - np.power(np.tanh(Z), 2))
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-Z))
        return dA * s * (1 - s)
    if name == "identity":
        return np.array(dA, copy=True)
    raise ValueError(f"hidden activation must be one of {HIDDEN_ACTIVATIONS}, got {name!r}")


def _output_activate(Z, output):
    """Output layer: sigmoid, softmax over axis 0 (column max subtracted first) or identity."""
    if output == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if output == "softmax":
        e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
        return e / np.sum(e, axis=0, keepdims=True)
    if output == "identity":
        return Z
    raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def _check_output(output):
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def _hidden_names(hidden_activation, L):
    """The L-1 hidden activation names, layer 1 first (checked)."""
    if isinstance(hidden_activation, str):
        names = [hidden_activation] * (L - 1)
    else:
        names = list(hidden_activation)
        if len(names) != L - 1:
            raise ValueError(f"need {L - 1} hidden activations for {L} layers, got {len(names)}")
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden activation must be one of {HIDDEN_ACTIVATIONS}, got {name!r}")
    return names


def _check_keep_prob(keep_prob):
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")


def _l2_sum(parameters):
    """``np.sum(np.square(W1)) + np.sum(np.square(W2)) + ...`` (left to right, as the course)."""
    L = len(parameters) // 2
    total = np.sum(np.square(parameters["W1"]))
    for l in range(2, L + 1):
        total = total + np.sum(np.square(parameters["W" + str(l)]))
    return total


# --------------------------------------------------------------------------
# Forward propagation
# --------------------------------------------------------------------------

def _forward(X, parameters, names, output, keep_prob, dropout, masks):
    """Forward pass; ``dropout`` chooses the cache pattern (and mask drawing)."""
    L = len(parameters) // 2
    m = X.shape[1]
    cache = []
    A = X

    # [LINEAR -> ACTIVATION (-> DROPOUT)] * (L-1)
    for l in range(1, L):
        W = parameters["W" + str(l)]
        b = parameters["b" + str(l)]
        Z = np.dot(W, A) + b
        A = _activate(Z, names[l - 1])
        if dropout:
            shape = (W.shape[0], m)
            if masks is not None:
                D = np.asarray(masks(shape))
                if D.shape != shape:
                    raise ValueError(f"masks returned shape {D.shape} for layer {l}, expected {shape}")
            else:
                D = np.random.rand(shape[0], shape[1])     # Step 1: initialize matrix D = np.random.rand(..., ...)
                D = D < keep_prob                           # Step 2: convert entries of D to 0 or 1
            A = A * D                                       # Step 3: shut down some neurons of A
            A = A / keep_prob                               # Step 4: scale the value of neurons that haven't been shut down
            cache.extend((Z, D, A, W, b))
        else:
            cache.extend((Z, A, W, b))

    # LINEAR -> OUTPUT
    W = parameters["W" + str(L)]
    b = parameters["b" + str(L)]
    Z = np.dot(W, A) + b
    AL = _output_activate(Z, output)
    cache.extend((Z, AL, W, b))

    return AL, tuple(cache)


def forward(X, parameters, hidden_activation="relu", output="sigmoid", keep_prob=1.0, masks=None):
    """Forward pass of [LINEAR -> g (-> dropout)] * (L-1) -> LINEAR -> output.

    X: (n_0, m). Returns ``(AL, cache)`` with AL (n_L, m); each ``Z = np.dot(W, A_prev) + b``.

    Dropout is on iff ``keep_prob < 1`` (and then on every hidden layer, in
    forward order): the mask is ``D = masks((n_l, m))`` if a callable
    ``masks`` is given (it must return a bool or 0/1 array of that shape; it is
    called once per hidden layer, layer 1 first), else
    ``D = np.random.rand(n_l, m) < keep_prob`` drawn from NumPy's global random
    state (no reseeding here); then ``A = A * D; A = A / keep_prob`` (the
    course's order). With ``keep_prob == 1`` no mask is made, ``masks`` is not
    called and no random number is consumed.

    ``cache`` is a flat tuple in the course's pattern (for L = 3 it *is* the
    course's cache):
    - with dropout, ``(Z, D, A, W, b)`` per hidden layer, then ``(ZL, AL, WL, bL)``
      (course: ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``);
    - without, ``(Z, A, W, b)`` per layer (course ``reg_utils``:
      ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``).
    Here A is the hidden activation after dropout. :func:`backward` tells the
    two patterns apart by its own ``keep_prob`` argument (``< 1``: dropout),
    as the course does by calling the dropout or the plain backward.
    """
    _check_keep_prob(keep_prob)
    _check_output(output)
    names = _hidden_names(hidden_activation, len(parameters) // 2)
    return _forward(X, parameters, names, output, keep_prob, keep_prob < 1, masks)


# --------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------

def loss_sum(AL, Y, output):
    """The loss summed over all examples (and output rows); a NumPy float.

    sigmoid: ``np.sum(np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y))``
    (the course's mini-batch ``compute_cost`` in ``opt_utils_v1a.py``);
    softmax: ``-np.sum(Y * np.log(AL))``; identity: ``1. / 2 * np.sum(np.square(AL - Y))``.
    """
    Y = np.reshape(Y, AL.shape)
    if output == "sigmoid":
        logprobs = np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y)
        return np.sum(logprobs)
    if output == "softmax":
        return -np.sum(Y * np.log(AL))
    if output == "identity":
        return 1. / 2 * np.sum(np.square(AL - Y))
    raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def cost(AL, Y, parameters, output="sigmoid", lambd=0.0):
    """Mean cost with the L2 term: ``1./m * loss_sum + (1./m*lambd/2)*(sum_l np.sum(np.square(Wl)))``.

    m = number of examples (columns of AL). The L2 term (on weights only, in
    the course's operation order, layers summed left to right) is added only
    when ``lambd != 0``. Returns a NumPy float.
    """
    m = AL.shape[1]
    J = 1. / m * loss_sum(AL, Y, output)
    if lambd != 0:
        L2_regularization_cost = (1. / m * lambd / 2) * _l2_sum(parameters)
        J = J + L2_regularization_cost
    return J


# --------------------------------------------------------------------------
# Backward propagation
# --------------------------------------------------------------------------

def _split_cache(cache, dropout):
    """Per-layer records ``{Z, D, A, W, b}`` (layer 1 first) from the flat cache."""
    cache = tuple(cache)
    n = len(cache)
    if dropout:
        if n < 4 or (n - 4) % 5:
            raise ValueError(f"a dropout cache has 5 entries per hidden layer plus 4, got {n} "
                             "(was forward run with the same keep_prob?)")
        L = (n - 4) // 5 + 1
        layers = [dict(zip("ZDAWb", cache[5 * i:5 * i + 5])) for i in range(L - 1)]
    else:
        if n < 4 or n % 4:
            raise ValueError(f"a cache without dropout has 4 entries per layer, got {n} "
                             "(was forward run with the same keep_prob?)")
        L = n // 4
        layers = [dict(zip("ZAWb", cache[4 * i:4 * i + 4])) for i in range(L - 1)]
    layers.append(dict(zip("ZAWb", cache[n - 4:])))
    return layers


def _backward(X, Y, cache, names, output, lambd, keep_prob, dropout):
    """Backward pass; ``dropout`` chooses the cache pattern."""
    _check_output(output)
    layers = _split_cache(cache, dropout)
    L = len(layers)
    if len(names) != L - 1:
        raise ValueError(f"need {L - 1} hidden activations for {L} layers, got {len(names)}")
    m = X.shape[1]
    AL = layers[L - 1]["A"]
    Y = np.reshape(Y, AL.shape)
    grads = {}

    dZ = AL - Y
    grads["dZ" + str(L)] = dZ
    for l in range(L, 0, -1):
        rec = layers[l - 1]
        W = rec["W"]
        A_prev = X if l == 1 else layers[l - 2]["A"]
        dW = 1. / m * np.dot(dZ, A_prev.T)
        if lambd != 0:
            dW = dW + (lambd * W) / m
        db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
        grads["dW" + str(l)] = dW
        grads["db" + str(l)] = db
        if l == 1:
            break
        prev = layers[l - 2]
        dA = np.dot(W.T, dZ)
        if dropout:
            dA = dA * prev["D"]             # Step 1: Apply mask D to shut down the same neurons as during the forward propagation
            dA = dA / keep_prob             # Step 2: Scale the value of neurons that haven't been shut down
        grads["dA" + str(l - 1)] = dA
        dZ = _activation_backward(dA, prev["Z"], names[l - 2])
        grads["dZ" + str(l - 1)] = dZ

    return grads


def backward(X, Y, cache, hidden_activation="relu", output="sigmoid", lambd=0.0, keep_prob=1.0):
    """Gradients of :func:`cost` (with the same ``lambd``) w.r.t. the parameters.

    X: (n_0, m); Y: labels (reshaped to AL's shape); ``cache`` from
    :func:`forward`, read as the dropout pattern iff ``keep_prob < 1`` (so pass
    the ``keep_prob`` the forward pass used; a cache of the wrong length raises
    ``ValueError``).

    From ``dZL = AL - Y``, for l = L..1 (as the course names them):
    ``dWl = 1./m * np.dot(dZl, A_{l-1}.T) + (lambd * Wl) / m`` (the L2 term
    only when ``lambd != 0``, never on b), ``dbl = 1./m * np.sum(dZl, axis=1,
    keepdims=True)``, and for l > 1 ``dA_{l-1} = np.dot(Wl.T, dZl)``, with
    dropout then ``dA = dA * D; dA = dA / keep_prob``, and
    ``dZ_{l-1} = dA_{l-1} * g'(Z_{l-1})``.

    Returns a dict with ``dZl, dWl, dbl`` for l = 1..L and ``dAl`` for
    l = 1..L-1 (no ``dA0``, no ``dAL``: the course's keys).
    """
    _check_keep_prob(keep_prob)
    dropout = keep_prob < 1
    L = len(_split_cache(cache, dropout))
    names = _hidden_names(hidden_activation, L)
    return _backward(X, Y, cache, names, output, lambd, keep_prob, dropout)
