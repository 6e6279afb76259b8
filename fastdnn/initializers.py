"""Parameter initialisation schemes, in plain NumPy.

Each scheme returns a seed-format dict W1 (n_1, n_0), b1 (n_1, 1), ... in
float64, drawn from ``np.random.RandomState(random_state)`` -- the same stream
as the seed's ``np.random.seed(s); np.random.randn(...)``, without touching
NumPy's global random state.
"""

import numpy as np



def _weights_only(layer_dims, random_state, scale):
    """W_l = scale(randn(n_l, n_{l-1}), n_{l-1}, n_l), layer by layer; zero biases."""
    rng = np.random.RandomState(random_state)
    params = {}
    for l in range(1, len(layer_dims)):
        n, k = layer_dims[l], layer_dims[l - 1]
        params["W%d" % l] = scale(rng.randn(n, k), k, n)
        params["b%d" % l] = np.zeros((n, 1))
    return params


def seed_scheme(layer_dims, random_state=3):
    """The seed notebook's ``initialise_parameters_deep``: W and b both ``randn`` (unscaled)."""
    rng = np.random.RandomState(random_state)
    params = {}
    for l in range(1, len(layer_dims)):
        params["W%d" % l] = rng.randn(layer_dims[l], layer_dims[l - 1])
        params["b%d" % l] = rng.randn(layer_dims[l], 1)
    return params


INITIALIZERS = {
    "seed": seed_scheme,
    # the cat-classifier follow-up's L-layer init, to the bit: randn / sqrt(n_prev)
    "scaled": lambda dims, rs=1: _weights_only(dims, rs, lambda w, k, n: w / np.sqrt(k)),
    # the follow-up's two-layer init: randn * 0.01
    "small": lambda dims, rs=1: _weights_only(dims, rs, lambda w, k, n: w * 0.01),
    "he": lambda dims, rs=1: _weights_only(dims, rs, lambda w, k, n: w * np.sqrt(2 / k)),
    "xavier": lambda dims, rs=1: _weights_only(dims, rs, lambda w, k, n: w * np.sqrt(2 / (k + n))),
}
INITIALIZERS["glorot"] = INITIALIZERS["xavier"]


def initialize(layer_dims, init="scaled", random_state=None):
    """Parameters for ``layer_dims`` by the named scheme (see ``INITIALIZERS``).

    random_state None means each scheme's historical seed (3 for "seed", 1 otherwise).
    """
    scheme = INITIALIZERS[init]
    return scheme(list(layer_dims)) if random_state is None else scheme(list(layer_dims), random_state)
