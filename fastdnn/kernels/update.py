"""Fused parameter updates over the whole flat parameter buffer."""

import numpy as np
from numba import njit

from .config import INLINE_JIT_OPTIONS


@njit(**INLINE_JIT_OPTIONS)
def gradient_descent_update(params, grads, step):
    """In place: params (P,) -= step * grads (P,); one loop for every layer's W and b.

    Returns whether every updated value is finite. The check rides along in the
    same pass (p * 0 is NaN exactly when p is NaN or infinite), so it costs no
    extra read of the buffer.
    """
    check = params[0] * 0
    for i in range(params.shape[0]):
        p = params[i] - step * grads[i]
        params[i] = p
        check += p * 0
    return np.isfinite(check)
