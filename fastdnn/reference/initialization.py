"""Course 2 ("Improving Deep Neural Networks"), Initialization notebook (plain NumPy).

The three initialisations the notebook compares, with its names, signatures and
arithmetic. ``layers_dims = [n_0, n_1, ..., n_L]``; every function returns
``{"Wl": (n_l, n_{l-1}), "bl": (n_l, 1)}`` for ``l = 1..L``, biases zero.

Course quirk kept: the random ones call ``np.random.seed(3)`` themselves, so
they reset NumPy's global random state and always return the same values.
Draw order: W1, W2, ... (biases are not drawn).
"""

import numpy as np

__all__ = [
    "initialize_parameters_zeros",
    "initialize_parameters_random",
    "initialize_parameters_he",
]


def initialize_parameters_zeros(layers_dims):
    """All weights and biases zero (the notebook's example of *not* breaking symmetry)."""
    parameters = {}
    L = len(layers_dims)            # number of layers in the network, plus the input

    for l in range(1, L):
        parameters["W" + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))

    return parameters


def initialize_parameters_random(layers_dims):
    """Large random weights ``randn(n_l, n_{l-1}) * 10``, zero biases.

    Calls ``np.random.seed(3)`` (course quirk, see the module docstring).
    """
    np.random.seed(3)               # This seed makes sure your "random" numbers will be the same as ours
    parameters = {}
    L = len(layers_dims)

    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * 10
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))

    return parameters


def initialize_parameters_he(layers_dims):
    """He initialisation ``randn(n_l, n_{l-1}) * np.sqrt(2./n_{l-1})``, zero biases.

    Calls ``np.random.seed(3)`` (course quirk). This is also, value for value,
    the ``initialize_parameters`` of the course's ``opt_utils_v1a.py`` (which
    writes ``np.sqrt(2 / layer_dims[l-1])``, the same float), i.e. the
    initialisation of the optimization notebook's ``model``.
    """
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)            # integer representing the number of layers

    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2. / layers_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))

    return parameters
