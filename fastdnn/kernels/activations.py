"""Elementwise activation kernels, forward and backward, in place.

Activations travel into kernels as integer codes (``CODES``), so one compiled
kernel serves any stack of layers. Backward passes use the activation *output*
A (relu: A > 0 exactly where Z > 0; sigmoid: A * (1 - A); tanh: 1 - A^2;
leaky relu: A > 0 exactly where Z > 0), so the training loop needs no cache of
pre-activations Z. Softmax is an output only: its derivative is never taken
alone, since the output delta is fused (dZ_L = A_L - Y, ``fastdnn.kernels.losses``).
"""

import numpy as np
from numba import njit

from .config import INLINE_JIT_OPTIONS

RELU = 0
SIGMOID = 1
IDENTITY = 2
LEAKY_RELU = 3
TANH = 4
SOFTMAX = 5
#: name -> code; a new activation gets the next integer and a branch in
#: ``activate_scalar`` and ``activation_backward``.
CODES = {"relu": RELU, "sigmoid": SIGMOID, "identity": IDENTITY, "leaky_relu": LEAKY_RELU,
         "tanh": TANH, "softmax": SOFTMAX}
#: Activations a hidden layer may use (softmax normalises over a layer: outputs only).
HIDDEN = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
#: Output activations; each comes with its loss (``fastdnn.kernels.losses``).
OUTPUTS = ("sigmoid", "softmax", "identity")
#: Slope of leaky relu for z <= 0 (the course's and PyTorch's default).
LEAKY_SLOPE = 0.01


@njit(**INLINE_JIT_OPTIONS)
def sigmoid_scalar(z, one):
    """Logistic function without overflow: exp is only taken of -|z|.

    ``one`` is 1 in z's dtype, so float32 stays float32.
    """
    if z >= 0:
        return one / (one + np.exp(-z))
    e = np.exp(z)
    return e / (one + e)


@njit(**INLINE_JIT_OPTIONS)
def activate_scalar(z, code, one, slope):
    """g(z) for the activation ``code``; ``one`` and ``slope`` (leaky relu's) in z's dtype."""
    if code == RELU:
        return z if z > 0 else one - one
    if code == SIGMOID:
        return sigmoid_scalar(z, one)
    if code == LEAKY_RELU:
        return z if z > 0 else z * slope
    if code == TANH:
        return np.tanh(z)
    return z


@njit(**INLINE_JIT_OPTIONS)
def add_bias_activate(Z, b, code):
    """In place: Z (n, m) <- g(Z + b), with b (n,) broadcast over the m columns."""
    n, m = Z.shape
    one = Z.dtype.type(1)
    slope = Z.dtype.type(LEAKY_SLOPE)
    for i in range(n):
        bi = b[i]
        for j in range(m):
            Z[i, j] = activate_scalar(Z[i, j] + bi, code, one, slope)


@njit(**INLINE_JIT_OPTIONS)
def activate(Z, code):
    """In place: Z (n, m) <- g(Z); softmax normalises each of the m columns."""
    if code == SOFTMAX:
        softmax_columns(Z)
        return
    n, m = Z.shape
    one = Z.dtype.type(1)
    slope = Z.dtype.type(LEAKY_SLOPE)
    for i in range(n):
        for j in range(m):
            Z[i, j] = activate_scalar(Z[i, j], code, one, slope)


@njit(**INLINE_JIT_OPTIONS)
def softmax_columns(Z):
    """In place: each column of Z (n, m) <- exp(z - max z) / sum(exp(z - max z))."""
    n, m = Z.shape
    for j in range(m):
        top = Z[0, j]
        for i in range(1, n):
            top = max(top, Z[i, j])
        total = Z.dtype.type(0)
        for i in range(n):
            e = np.exp(Z[i, j] - top)
            Z[i, j] = e
            total += e
        for i in range(n):
            Z[i, j] = Z[i, j] / total


@njit(**INLINE_JIT_OPTIONS)
def activation_backward(dA, A, code):
    """In place: dA (n, m) <- dA * g'(Z), with g' written through the output A (n, m).

    relu zeroes dA where A <= 0 (the seed's ``dZ[Z <= 0] = 0``, since A = max(0, Z)).
    """
    n, m = dA.shape
    one = dA.dtype.type(1)
    slope = dA.dtype.type(LEAKY_SLOPE)
    for i in range(n):
        if code == RELU:
            for j in range(m):
                if A[i, j] <= 0:
                    dA[i, j] = 0
        elif code == SIGMOID:
            for j in range(m):
                a = A[i, j]
                dA[i, j] = dA[i, j] * a * (one - a)
        elif code == LEAKY_RELU:
            for j in range(m):
                if A[i, j] <= 0:
                    dA[i, j] = dA[i, j] * slope
        elif code == TANH:
            for j in range(m):
                a = A[i, j]
                dA[i, j] = dA[i, j] * (one - a * a)
