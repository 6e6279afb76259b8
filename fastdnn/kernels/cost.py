"""Binary cross-entropy cost kernels (mean over the m examples)."""

import numpy as np
from numba import njit

from .config import STRICT_JIT_OPTIONS


@njit(**STRICT_JIT_OPTIONS)
def softplus(x):
    """log(1 + exp(x)) without overflow, in x's dtype."""
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@njit(**STRICT_JIT_OPTIONS)
def cross_entropy_from_logits(Z, Y):
    """Cost of sigmoid outputs given their pre-activations Z (1, m) and labels Y (1, m).

    Uses log(sigmoid(z)) = -softplus(-z) and log(1 - sigmoid(z)) = -softplus(z),
    so the cost stays finite where the sigmoid itself rounds to 0 or 1; labels
    exactly 0 or 1 take only their own term (no 0 * inf).
    Accumulates in float64 whatever the dtype.
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
    return total / m


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
