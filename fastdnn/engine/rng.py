"""The dropout generator's stream in NumPy (the twin of ``fastdnn.kernels.dropout``).

Used to hand the compiled trainer's very masks to the reference training
loop, and to test the compiled generator. State: a (1,) uint64 array.
"""

import numpy as np

from ..kernels.dropout import GAMMA, MIX1, MIX2, TO_UNIT


def new_state(seed):
    """A generator state (1,) uint64 from an integer seed."""
    return np.array([int(seed) % (1 << 64)], dtype=np.uint64)


def uniforms(state, k):
    """The next k uniforms in [0, 1) (float64), advancing ``state`` in place."""
    with np.errstate(over="ignore"):
        z = state[0] + GAMMA * np.arange(1, k + 1, dtype=np.uint64)
        state[0] = state[0] + GAMMA * np.uint64(k)
        z = (z ^ (z >> np.uint64(30))) * MIX1
        z = (z ^ (z >> np.uint64(27))) * MIX2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * TO_UNIT


def mask_source(seed, keep_prob):
    """A ``masks(shape)`` callable for ``fastdnn.reference``'s training loop: the masks
    the compiled trainer draws from ``dropout_seed=seed``, in the same order."""
    state = new_state(seed)

    def masks(shape):
        n, m = shape
        return (uniforms(state, n * m) < keep_prob).reshape(n, m)

    return masks
