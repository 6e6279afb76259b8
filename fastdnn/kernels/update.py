"""Fused parameter updates over the whole flat parameter buffer."""

from numba import njit

from ..config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def gradient_descent_update(params, grads, step):
    """In place: params (P,) -= step * grads (P,); one loop for every layer's W and b."""
    for i in range(params.shape[0]):
        params[i] -= step * grads[i]
