"""Choosing how a run is computed: directly, through X^T X, or split across cores.

In full-batch gradient descent dW1 = dZ1 X^T / m, so the first pre-activation
moves as ``Z1 <- Z1 - (lr/m) dZ1 (X^T X) - lr db1``. With m examples much fewer
than n_x inputs, the (m, m) Gram matrix replaces the two (n_1, n_x, m) GEMMs
with X of every iteration by one (n_1, m, m) GEMM. It is exact in real
arithmetic; it does not apply to mini-batches or Adam.

"split" (mini-batches only, opt-in) cuts every batch's rows into one slice per
core, runs the slices' gradient passes in parallel on one BLAS thread each and
adds their gradient sums before the update (``fastdnn.kernels.split``): equal
to "direct" up to the order of the sums and, for a softmax output, a vectorised
exp within one unit in the last place (~1e-16 relative per step in float64),
1.4-1.7x faster per step on two idle cores for batches of a few hundred rows,
but slower when the other core is busy, which is why "auto" never picks it.
"""

STRATEGIES = ("auto", "direct", "gram", "split")


def check_strategy(strategy, layer_dims):
    """The strategy name, validated for this network (ValueError otherwise)."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError("strategy must be one of %s; got %r" % (STRATEGIES, strategy))
    if strategy == "gram" and len(layer_dims) < 3:
        raise ValueError("strategy='gram' needs at least one hidden layer (it trains layer 1 "
                         "through X^T X); got layer_dims %s. Use 'direct' or 'auto'"
                         % (list(layer_dims),))
    return strategy


def check_split(strategy, batch_size, keep_prob):
    """ValueError unless the "split" strategy can run this configuration: mini-batches
    (a batch_size) and no dropout (its masks come from one stream in batch order)."""
    if strategy != "split":
        return
    if batch_size is None:
        raise ValueError("strategy='split' splits mini-batches across cores; it needs a "
                         "batch_size (got batch_size=None, full batch). Use 'auto' or 'direct'")
    if keep_prob < 1:
        raise ValueError("strategy='split' does not support dropout (keep_prob=%r): its masks "
                         "are drawn from one stream in batch order. Use keep_prob=1 or "
                         "strategy 'direct'" % (keep_prob,))


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
