"""Choosing how the first layer is trained: directly from X, or through X^T X.

In full-batch gradient descent dW1 = dZ1 X^T / m, so the first pre-activation
moves as ``Z1 <- Z1 - (lr/m) dZ1 (X^T X) - lr db1``. With m examples much fewer
than n_x inputs, the (m, m) Gram matrix replaces the two (n_1, n_x, m) GEMMs
with X of every iteration by one (n_1, m, m) GEMM. It is exact in real
arithmetic; it does not apply to mini-batches or Adam.
"""

STRATEGIES = ("auto", "direct", "gram")


def check_strategy(strategy, layer_dims):
    """The strategy name, validated for this network (ValueError otherwise)."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError("strategy must be one of %s; got %r" % (STRATEGIES, strategy))
    if strategy == "gram" and len(layer_dims) < 3:
        raise ValueError("strategy='gram' needs at least one hidden layer (it trains layer 1 "
                         "through X^T X); got layer_dims %s. Use 'direct' or 'auto'"
                         % (list(layer_dims),))
    return strategy


def layer1_flops(layer_dims, m, num_iterations, strategy):
    """Multiply-adds spent on layer 1 over a run (the other layers cost the same either way).

    direct: forward W1 X and backward dZ1 X^T, n_1 n_x m each, every iteration.
    gram: G = X^T X once (m^2 n_x / 2 with a symmetric product), Z1 = W1 X once,
    dZ1 G every iteration (n_1 m^2), and W1 recovered once at the end (n_1 m n_x).
    """
    n_x, n_1 = layer_dims[0], layer_dims[1]
    if strategy == "direct":
        return 2 * n_1 * n_x * m * num_iterations
    return m * m * n_x / 2 + 2 * n_1 * m * n_x + n_1 * m * m * num_iterations


def choose_strategy(layer_dims, m, num_iterations):
    """'gram' where it needs fewer flops and its (m, m) matrix is no larger than X, else 'direct'."""
    if len(layer_dims) < 3 or m > layer_dims[0]:
        return "direct"
    gram = layer1_flops(layer_dims, m, num_iterations, "gram")
    direct = layer1_flops(layer_dims, m, num_iterations, "direct")
    return "gram" if gram < 0.5 * direct else "direct"
