"""Random numbers for dropout masks, from an explicit generator state.

The generator is SplitMix64 (Steele, Lea & Flood 2014; the seeder of Java's
SplittableRandom and of xoshiro): its whole state is one uint64 counter
``state[0]`` that advances by a fixed odd constant per draw, and each output
is a bijective mix of the counter. The state lives in a NumPy array passed
into the kernels, so it can be saved, restored and replayed exactly (Numba's
own global generator cannot), and ``fastdnn.engine.rng`` reproduces the same
stream in NumPy. Uniforms take the top 53 bits: u = (z >> 11) * 2^-53 in [0, 1).
"""

import numpy as np
from numba import njit

from .config import INLINE_JIT_OPTIONS

GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@njit(**INLINE_JIT_OPTIONS)
def next_uniform(state):
    """Advance ``state`` (1,) uint64 by one draw; return a float64 uniform in [0, 1)."""
    z = state[0] + GAMMA
    state[0] = z
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * TO_UNIT


@njit(**INLINE_JIT_OPTIONS)
def apply_new_mask(A, P, D, keep_prob, state):
    """Inverted dropout of A (n, m) in place with a fresh mask, drawn row by row.

    P (n, m) keeps the activations before dropout (their derivative is taken
    from them), D (n, m) bool the mask u < keep_prob (compared in float64, like
    NumPy's ``rand(n, m) < keep_prob``), and A <- A * D / keep_prob (the course's
    order of operations, in A's dtype).
    """
    n, m = A.shape
    zero = A.dtype.type(0)
    one = A.dtype.type(1)
    kp = A.dtype.type(keep_prob)
    for i in range(n):
        for j in range(m):
            a = A[i, j]
            P[i, j] = a
            keep = next_uniform(state) < keep_prob
            D[i, j] = keep
            A[i, j] = (a * (one if keep else zero)) / kp


@njit(**INLINE_JIT_OPTIONS)
def apply_mask_backward(dA, D, keep_prob):
    """In place: dA (n, m) <- dA * D / keep_prob with the mask D (n, m) of the forward pass."""
    n, m = dA.shape
    zero = dA.dtype.type(0)
    one = dA.dtype.type(1)
    kp = dA.dtype.type(keep_prob)
    for i in range(n):
        for j in range(m):
            dA[i, j] = (dA[i, j] * (one if D[i, j] else zero)) / kp


@njit(**INLINE_JIT_OPTIONS)
def fill_uniforms(state, out):
    """out (k,) float64 <- the next k uniforms of ``state`` (for checks against the NumPy twin)."""
    for i in range(out.shape[0]):
        out[i] = next_uniform(state)
