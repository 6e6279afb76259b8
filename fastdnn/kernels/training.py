"""Whole training iterations of [LINEAR->g]*(L-1) -> LINEAR->SIGMOID, compiled.

State lives in a few flat buffers laid out by ``fastdnn.engine.workspace.Workspace``
(one compile serves every depth and width):

- ``dims`` (L+1,) int64: layer sizes n_0 = n_x, n_1, ..., n_L.
- ``codes`` (L,) int64: activation code of layers 1..L (``activations.CODES``).
- ``params`` / ``grads`` (P,): W1, b1, W2, b2, ... back to back; layer l's
  W (n_l, n_{l-1}) starts at ``w_off[l-1]`` and b (n_l,) at ``b_off[l-1]``.
  ``grads`` holds *unscaled* sums (dZ A_prev^T, row sums of dZ); the 1/m is
  fused into the update step ``learning_rate / m``.
- ``acts`` (sum n_l*m,): A_1..A_L, layer l's (n_l, m) block at ``a_off[l-1]``.
- ``delta`` (2, max n_l*m): ping-pong space for dZ_l and dA_{l-1}.

Nothing here allocates array memory: every array below is a view.
"""

import numpy as np
from numba import njit

from .config import INLINE_JIT_OPTIONS, JIT_OPTIONS
from .activations import IDENTITY, activate, activation_backward, add_bias_activate
from .cost import cross_entropy_from_logits
from .linear import linear_grads_into, matmul_into
from .update import gradient_descent_update
from .views import block


@njit(**INLINE_JIT_OPTIONS)
def forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, first, record):
    """Fill A_first..A_L from A_{first-1} (X when first == 1).

    Returns (cost, finite): ``finite`` is false when an output logit is NaN or
    infinite (the sigmoid would hide an overflow by rounding it to 0 or 1), and
    then the cost is NaN. The cost is computed from the output logits, before
    the final activation, only when ``record`` is true (else NaN). Y (n_L, m) is
    only read when recording.
    """
    m = X.shape[1]
    L = dims.shape[0] - 1
    cost = np.nan
    finite = True
    for l in range(first, L + 1):
        n, k = dims[l], dims[l - 1]
        A_prev = X if l == 1 else block(acts, a_off[l - 2], k, m)
        Z = block(acts, a_off[l - 1], n, m)
        matmul_into(block(params, w_off[l - 1], n, k), A_prev, Z)
        b = params[b_off[l - 1]:b_off[l - 1] + n]
        if l < L:
            add_bias_activate(Z, b, codes[l - 1])
        else:
            add_bias_activate(Z, b, IDENTITY)
            finite = np.isfinite(np.sum(Z))
            if record and finite:
                cost = cross_entropy_from_logits(Z, Y)
            activate(Z, codes[l - 1])
    return cost, finite


@njit(**INLINE_JIT_OPTIONS)
def backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, last):
    """Unscaled gradients of layers L..last; returns the last dZ computed.

    Starts from dZ_L = A_L - Y (sigmoid output with cross-entropy cost). For
    every layer l > 1 down to ``last`` it also forms dZ_{l-1}; with last == 1 the
    gradient with respect to X is never computed. Returns dZ_{last-1} (n, m) when
    last > 1 (the Gram strategy needs dZ_1), else dZ_1.
    """
    m = X.shape[1]
    L = dims.shape[0] - 1
    dZ = block(delta[0], 0, dims[L], m)
    AL = block(acts, a_off[L - 1], dims[L], m)
    for i in range(dims[L]):
        for j in range(m):
            dZ[i, j] = AL[i, j] - Y[i, j]
    side = 0
    for l in range(L, last - 1, -1):
        n, k = dims[l], dims[l - 1]
        A_prev = X if l == 1 else block(acts, a_off[l - 2], k, m)
        linear_grads_into(dZ, A_prev, block(grads, w_off[l - 1], n, k),
                          grads[b_off[l - 1]:b_off[l - 1] + n])
        if l > 1:
            side = 1 - side
            dA_prev = block(delta[side], 0, k, m)
            matmul_into(block(params, w_off[l - 1], n, k).T, dZ, dA_prev)
            activation_backward(dA_prev, A_prev, codes[l - 2])
            dZ = dA_prev
    return dZ


@njit(**JIT_OPTIONS)
def train_direct(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta,
                 step, n_steps, record):
    """Run n_steps full-batch gradient-descent iterations in place.

    X (n_0, m), Y (n_L, m); ``step`` = learning_rate / m in the dtype of X.
    Returns (cost before the first update or NaN if not ``record``, iterations
    completed, whether it stopped in an update). Stops early when the output
    logits turn non-finite (before that iteration's update) or when an update
    makes a parameter non-finite (after it: the caller rewinds).
    """
    cost = np.nan
    for it in range(n_steps):
        c, finite = forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, 1,
                                 record and it == 0)
        if it == 0:
            cost = c
        if not finite:
            return cost, it, False
        backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, 1)
        if not gradient_descent_update(params, grads, step):
            return cost, it, True
    return cost, n_steps, False


@njit(**JIT_OPTIONS)
def train_gram(X, Y, G, Z1, S, dims, codes, params, grads, w_off, b_off, acts, a_off, delta,
               step, n_steps, record):
    """``train_direct`` with layer 1 driven by the Gram matrix G = X^T X (m, m).

    Full-batch gradient descent moves W1 X as W1 X <- W1 X - step * (dZ1 @ G),
    since dW1 = dZ1 X^T. So Z1 = W1 X (n_1, m, bias not included) is updated in
    place and W1 in ``params`` stays at its value when Z1 was formed; S (n_1, m)
    accumulates sum(dZ1) so that ``W1 - step * S @ X^T`` is the current W1
    (``fastdnn.engine.trainer`` does that product when W1 is asked for). b1 and layers
    2..L update as usual. Needs at least one hidden layer (L >= 2).
    """
    m = X.shape[1]
    n1 = dims[1]
    L = dims.shape[0] - 1
    A1 = block(acts, a_off[0], n1, m)
    DG = block(delta[L % 2], 0, n1, m)  # backward_pass leaves dZ1 in delta[(L - 1) % 2]
    b1 = params[b_off[0]:b_off[0] + n1]
    db1 = grads[b_off[0]:b_off[0] + n1]
    tail = b_off[0]
    zero = db1.dtype.type(0)
    cost = np.nan
    for it in range(n_steps):
        A1[:, :] = Z1
        add_bias_activate(A1, b1, codes[0])
        c, finite = forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, 2,
                                 record and it == 0)
        if it == 0:
            cost = c
        if not finite:
            return cost, it, False
        dZ1 = backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off,
                            delta, 2)
        matmul_into(dZ1, G, DG)
        for i in range(n1):
            s = zero
            for j in range(m):
                d = dZ1[i, j]
                Z1[i, j] -= step * DG[i, j]
                S[i, j] += d
                s += d
            db1[i] = s
        if not gradient_descent_update(params[tail:], grads[tail:], step):
            return cost, it, True
    return cost, n_steps, False
