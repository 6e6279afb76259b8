"""Elementwise activation kernels, forward and backward, in place.

Activations travel into kernels as integer codes (``CODES``), so one compiled
kernel serves any stack of layers. Backward passes use the activation *output*
A (relu: A > 0 exactly where Z > 0; sigmoid: A * (1 - A)), so the training
loop needs no cache of pre-activations Z.
"""

import numpy as np
from numba import njit

from .config import INLINE_JIT_OPTIONS

RELU = 0
SIGMOID = 1
IDENTITY = 2
#: name -> code; a new activation gets the next integer and a branch in
#: ``activate_scalar`` and ``activation_backward``.
CODES = {"relu": RELU, "sigmoid": SIGMOID, "identity": IDENTITY}


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
def activate_scalar(z, code, one):
    """g(z) for the activation ``code``."""
    if code == RELU:
        return z if z > 0 else one - one
    if code == SIGMOID:
        return sigmoid_scalar(z, one)
    return z


@njit(**INLINE_JIT_OPTIONS)
def add_bias_activate(Z, b, code):
    """In place: Z (n, m) <- g(Z + b), with b (n,) broadcast over the m columns."""
    n, m = Z.shape
    one = Z.dtype.type(1)
    for i in range(n):
        bi = b[i]
        for j in range(m):
            Z[i, j] = activate_scalar(Z[i, j] + bi, code, one)


@njit(**INLINE_JIT_OPTIONS)
def activate(Z, code):
    """In place: Z (n, m) <- g(Z)."""
    n, m = Z.shape
    one = Z.dtype.type(1)
    for i in range(n):
        for j in range(m):
            Z[i, j] = activate_scalar(Z[i, j], code, one)


@njit(**INLINE_JIT_OPTIONS)
def activation_backward(dA, A, code):
    """In place: dA (n, m) <- dA * g'(Z), with g' written through the output A (n, m).

    relu zeroes dA where A <= 0 (the seed's ``dZ[Z <= 0] = 0``, since A = max(0, Z)).
    """
    n, m = dA.shape
    one = dA.dtype.type(1)
    for i in range(n):
        if code == RELU:
            for j in range(m):
                if A[i, j] <= 0:
                    dA[i, j] = 0
        elif code == SIGMOID:
            for j in range(m):
                a = A[i, j]
                dA[i, j] = dA[i, j] * a * (one - a)
