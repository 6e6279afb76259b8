"""Loss kernels: each output activation with its loss, summed over the m examples.

Every loss is computed from the output *logits* Z (before the output
activation), which keeps it finite where the activation saturates, and is
accumulated in float64 whatever the dtype. The pairs (output, loss) all have
the same output delta dZ_L = A_L - Y (per example; the 1/m comes with the
update), which is what makes them the natural pairs:

- sigmoid + binary cross-entropy, one or several independent output rows,
- softmax + categorical cross-entropy (Y one-hot, columns summing to 1),
- identity + squared error 1/2 (A - Y)^2.

``sklearn_loss_sum`` computes the loss scikit-learn's MLP records instead:
from the probabilities, clipped to [eps, 1 - eps], and the squared error's
mean over the outputs (``fastdnn.sklearn`` reports the same ``loss_curve_``).
"""

import numpy as np
from numba import njit

from .activations import IDENTITY, SIGMOID, SOFTMAX
from .config import STRICT_JIT_OPTIONS


@njit(**STRICT_JIT_OPTIONS)
def softplus(x):
    """log(1 + exp(x)) without overflow, in x's dtype."""
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@njit(**STRICT_JIT_OPTIONS)
def binary_cross_entropy_sum(Z, Y):
    """Summed cross-entropy of sigmoid outputs given their logits Z (n, m) and labels Y (n, m).

    Uses log(sigmoid(z)) = -softplus(-z) and log(1 - sigmoid(z)) = -softplus(z),
    so the cost stays finite where the sigmoid itself rounds to 0 or 1; labels
    exactly 0 or 1 take only their own term (no 0 * inf).
    """
    n, m = Z.shape
    one = Z.dtype.type(1)
    total = 0.0
    for i in range(n):
        for j in range(m):
            z = Z[i, j]
            y = Y[i, j]
            if y == 1:
                total += softplus(-z)
            elif y == 0:
                total += softplus(z)
            else:
                total += y * softplus(-z) + (one - y) * softplus(z)
    return total


@njit(**STRICT_JIT_OPTIONS)
def cross_entropy_from_logits(Z, Y):
    """Mean binary cross-entropy (over the m examples) of logits Z (n, m), labels Y (n, m)."""
    return binary_cross_entropy_sum(Z, Y) / Z.shape[1]


@njit(**STRICT_JIT_OPTIONS)
def softmax_cross_entropy_sum(Z, Y):
    """Summed -sum_i y_i log(softmax(z)_i) over the columns of logits Z (C, m), Y (C, m).

    log softmax(z)_i = z_i - logsumexp(z), with the column maximum taken out
    first, so no exp overflows; classes with y_i == 0 add nothing.
    """
    n, m = Z.shape
    total = 0.0
    for j in range(m):
        top = Z[0, j]
        for i in range(1, n):
            top = max(top, Z[i, j])
        s = 0.0
        for i in range(n):
            s += np.exp(Z[i, j] - top)
        lse = top + np.log(s)
        for i in range(n):
            y = Y[i, j]
            if y != 0:
                total += y * (lse - Z[i, j])
    return total


@njit(**STRICT_JIT_OPTIONS)
def squared_error_sum(Z, Y):
    """Summed 1/2 (z - y)^2 over every entry of Z (n, m) and Y (n, m) (identity output)."""
    n, m = Z.shape
    total = 0.0
    for i in range(n):
        for j in range(m):
            d = Z[i, j] - Y[i, j]
            total += d * d
    return 0.5 * total


@njit(**STRICT_JIT_OPTIONS)
def loss_sum(Z, Y, code):
    """Summed loss of the output activation ``code`` (SIGMOID, SOFTMAX or IDENTITY)."""
    if code == SIGMOID:
        return binary_cross_entropy_sum(Z, Y)
    if code == SOFTMAX:
        return softmax_cross_entropy_sum(Z, Y)
    if code == IDENTITY:
        return squared_error_sum(Z, Y)
    return np.nan


@njit(**STRICT_JIT_OPTIONS)
def sklearn_loss_sum(A, Y, code):
    """Summed loss over the m examples of outputs A (n, m) (after the output activation)
    and targets Y (n, m), as scikit-learn's ``binary_log_loss`` / ``log_loss`` /
    ``squared_loss`` times m: probabilities clipped to [eps, 1 - eps] (eps of A's
    dtype), labels 0 adding no log term (``xlogy``); squared error 1/2 (a - y)^2
    averaged over the n outputs. Accumulates in float64.
    """
    n, m = A.shape
    eps = np.finfo(A.dtype).eps
    one = A.dtype.type(1)
    total = 0.0
    for i in range(n):
        for j in range(m):
            a = A[i, j]
            y = Y[i, j]
            if code == IDENTITY:
                d = y - a
                total += d * d
                continue
            p = min(max(a, eps), one - eps)
            if y != 0:
                total -= y * np.log(p)
            if code == SIGMOID and y != 1:
                total -= (one - y) * np.log(one - p)
    if code == IDENTITY:
        return 0.5 * total / n
    return total


@njit(**STRICT_JIT_OPTIONS)
def cross_entropy_from_probs(AL, Y):
    """The seed's cost, -1/m * sum(Y log AL + (1 - Y) log(1 - AL)), for AL (1, m), Y (1, m).

    Labels exactly 0 or 1 take only their own log term, so a saturated but
    correct prediction costs 0 instead of 0 * log(0) = NaN. Accumulates in float64.
    """
    n, m = AL.shape
    total = 0.0
    for i in range(n):
        for j in range(m):
            a = AL[i, j]
            y = Y[i, j]
            if y == 1:
                total += np.log(a)
            elif y == 0:
                total += np.log(1 - a)
            else:
                total += y * np.log(a) + (1 - y) * np.log(1 - a)
    return (-1.0 / m) * total  # the seed multiplies by -1/m (same rounding)
