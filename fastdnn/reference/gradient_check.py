"""Course 2, Gradient Checking notebook: centred differences against backpropagation (plain NumPy).

``dictionary_to_vector`` / ``vector_to_dictionary`` / ``gradients_to_vector``
are the course's ``gc_utils.py`` helpers generalised from its hard-coded
4-5-3-1 network to any L layers; ``gradient_check_n`` is the notebook's
exercise for any network of :mod:`fastdnn.reference.network`.
"""

import numpy as np

from .network import _check_output, _forward, _hidden_names, cost

__all__ = [
    "dictionary_to_vector",
    "vector_to_dictionary",
    "gradients_to_vector",
    "gradient_check_n",
]


def _num_layers(d, prefix):
    """Number of layers in a dict with keys ``prefix + "1"``, ``prefix + "2"``, ..."""
    L = 0
    while (prefix + str(L + 1)) in d:
        L += 1
    return L


def dictionary_to_vector(parameters):
    """All parameters rolled into one column: ``(theta, keys)``.

    theta: (n, 1), the entries of W1, b1, W2, b2, ..., WL, bL in that order,
    each flattened row-major (``np.reshape(p, (-1, 1))``); keys: a list of n
    strings, the key each entry came from (e.g. ``["W1", "W1", ..., "b3"]``).
    """
    keys = []
    count = 0
    L = _num_layers(parameters, "W")
    for key in [k for l in range(1, L + 1) for k in ("W" + str(l), "b" + str(l))]:

        # flatten parameter
        new_vector = np.reshape(parameters[key], (-1, 1))
        keys = keys + [key] * new_vector.shape[0]

        if count == 0:
            theta = new_vector
        else:
            theta = np.concatenate((theta, new_vector), axis=0)
        count = count + 1

    return theta, keys


def vector_to_dictionary(theta, layer_dims=(4, 5, 3, 1)):
    """Inverse of :func:`dictionary_to_vector` for ``layer_dims = [n_0, ..., n_L]``.

    The default is the course's hard-coded 4-5-3-1 network (W1 (5, 4) from
    ``theta[:20]``, b1 (5, 1) from ``theta[20:25]``, ... b3 from ``theta[46:47]``).
    The arrays are reshaped slices (views) of theta.
    """
    parameters = {}
    start = 0
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        parameters["W" + str(l)] = theta[start:start + n * n_prev].reshape((n, n_prev))
        start += n * n_prev
        parameters["b" + str(l)] = theta[start:start + n].reshape((n, 1))
        start += n
    if start != theta.shape[0]:
        raise ValueError(f"theta has {theta.shape[0]} entries, layer_dims {tuple(layer_dims)} need {start}")

    return parameters


def gradients_to_vector(gradients):
    """The gradients dW1, db1, ..., dWL, dbL rolled into one (n, 1) column (same order as theta)."""
    count = 0
    L = _num_layers(gradients, "dW")
    for key in [k for l in range(1, L + 1) for k in ("dW" + str(l), "db" + str(l))]:
        # flatten parameter
        new_vector = np.reshape(gradients[key], (-1, 1))

        if count == 0:
            theta = new_vector
        else:
            theta = np.concatenate((theta, new_vector), axis=0)
        count = count + 1

    return theta


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False, *,
                     hidden_activation="relu", output="sigmoid"):
    """Relative difference between ``gradients`` and centred differences of the cost.

    The cost J is :func:`fastdnn.reference.network.cost` (no L2, no dropout)
    of the network's forward pass, the course's ``forward_propagation_n`` for
    the default ReLU/ReLU/sigmoid (``1./m * np.sum(logprobs)``). For each
    entry i of theta: ``gradapprox[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 * epsilon)``.
    Returns ``difference = ||grad - gradapprox|| / (||grad|| + ||gradapprox||)``
    (2-norms, ``np.linalg.norm``), a NumPy float.

    If ``print_msg``, prints the course's message (with its colour codes):
    "There is a mistake in the backward propagation! difference = ..." when
    ``difference > 2e-7``, else "Your backward propagation works perfectly
    fine! difference = ...".
    """
    _check_output(output)
    L = _num_layers(parameters, "W")
    names = _hidden_names(hidden_activation, L)
    layer_dims = [parameters["W1"].shape[1]] + [parameters["W" + str(l)].shape[0] for l in range(1, L + 1)]

    def J(theta):
        params = vector_to_dictionary(theta, layer_dims)
        AL, _ = _forward(X, params, names, output, 1.0, False, None)
        return cost(AL, Y, params, output)

    # Set-up variables
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))

    # Compute gradapprox
    for i in range(num_parameters):
        thetaplus = np.copy(parameters_values)                  # Step 1
        thetaplus[i][0] = thetaplus[i][0] + epsilon             # Step 2
        J_plus[i] = J(thetaplus)                                # Step 3

        thetaminus = np.copy(parameters_values)                 # Step 1
        thetaminus[i][0] = thetaminus[i][0] - epsilon           # Step 2
        J_minus[i] = J(thetaminus)                              # Step 3

        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)

    # Compare gradapprox to backward propagation gradients by computing difference.
    numerator = np.linalg.norm(grad - gradapprox)                       # Step 1'
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)     # Step 2'
    difference = numerator / denominator                                # Step 3'

    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = " + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = " + str(difference) + "\033[0m")

    return difference
