"""Fused parameter updates over ranges of the flat parameter buffer.

``grads`` holds *unscaled* gradient sums over the m_b examples of a batch;
each rule scales them by ``inv_m`` = 1/m_b and adds the L2 term
``decay * W`` (decay = lambd / m_b, weights only) in the same pass:

- gd:        p <- p - lr * d
- momentum:  v <- beta v + (1 - beta) d;  p <- p - lr v   (the course's form)
- adam:      v <- b1 v + (1 - b1) d;  s <- b2 s + (1 - b2) d^2;
             p <- p - lr (v / c1) / (sqrt(s / c2) + eps),  c1 = 1 - b1^t, c2 = 1 - b2^t

with d = inv_m * g + decay * p, and scikit-learn's forms of the same rules
(``MLPClassifier``'s ``SGDOptimizer`` and ``AdamOptimizer``), for ``fastdnn.sklearn``:

- sk_sgd:      v <- beta v - lr d;  p <- p + v      (beta: scikit-learn's ``momentum``)
- sk_nesterov: v <- beta v - lr d;  p <- p + beta v - lr d
- sk_adam:     v, s as adam;  p <- p - lr_t v / (sqrt(s) + eps),
               lr_t = lr sqrt(c2) / c1 (passed in as ``lr``: the correction is folded in)

Each returns whether every updated value is
finite; the check rides along in the same pass (p * 0 is NaN exactly when p
is NaN or infinite), so it costs no extra read of the buffer.
"""

import numpy as np
from numba import njit

from .config import INLINE_JIT_OPTIONS

GD = 0
MOMENTUM = 1
ADAM = 2
SK_SGD = 3
SK_NESTEROV = 4
SK_ADAM = 5
#: name -> code of the course's update rules (``DeepNeuralNetwork``'s ``optimizer``).
OPTIMIZERS = {"gd": GD, "momentum": MOMENTUM, "adam": ADAM}


@njit(**INLINE_JIT_OPTIONS)
def gradient_descent_update(params, grads, step):
    """In place: params (P,) -= step * grads (P,); one loop for every layer's W and b.

    ``step`` = learning_rate / m: plain gradient descent without L2, the
    notebook's update (kept as its own loop so its results stay bit-identical).
    """
    check = params[0] * 0
    for i in range(params.shape[0]):
        p = params[i] - step * grads[i]
        params[i] = p
        check += p * 0
    return np.isfinite(check)


@njit(**INLINE_JIT_OPTIONS)
def rule_update(params, grads, vel, sq, lo, hi, rule, lr, inv_m, decay, beta, beta1, beta2, eps,
                c1, c2, zero):
    """In place over params[lo:hi]: one step of ``rule`` (see the module docstring).

    vel / sq hold momentum's v or Adam's v and s (unused ones may be empty).
    Scalars are in the dtype of params, except beta, beta1, beta2: float64, so that
    1 - beta is formed before rounding (in float32, 1 - float32(0.999) is 1.3e-5
    off, which no longer matches the bias correction 1 - beta2^t).

    Moments that decay below the smallest normal number are flushed to zero: a
    dead unit's v would otherwise sink into subnormals (and stay there, since
    0.9 v rounds back to v), where every operation is 3-15x slower. The values
    flushed are below 2.3e-308 (float64) / 1.2e-38 (float32): no visible change.

    ``zero``'s type sets the arithmetic of a float32 step (float64 runs are the same
    either way; callers take it from ``arith_zero``). An int 0 (fastdnn's original
    arithmetic): the moments are formed in float32, widened to float64 where they are
    flushed, and the step p - lr v (Adam: with its root and divisions) is computed in
    float64 and rounded once. ``params.dtype.type(0)``: every operation in float32,
    as NumPy, PyTorch and JAX do it; LLVM then vectorises twice as wide and Adam's
    step is 2-3x faster.
    """
    # Views of [lo, hi) indexed from 0: with a loop index that is provably
    # non-negative, no wraparound test sits in the loop and LLVM vectorises it
    # (2-4x faster; the same operations on every element).
    params, grads = params[lo:hi], grads[lo:hi]
    vel = vel[lo:hi] if vel.shape[0] else vel
    sq = sq[lo:hi] if sq.shape[0] else sq
    n = hi - lo
    check = params[0] * zero
    dt = params.dtype.type
    tiny = dt(2.2250738585072014e-308) if params.itemsize == 8 else dt(1.1754943508222875e-38)
    beta, keep = dt(beta), dt(1.0 - beta)
    beta1, keep1 = dt(beta1), dt(1.0 - beta1)
    beta2, keep2 = dt(beta2), dt(1.0 - beta2)
    if rule == GD:
        for i in range(n):
            p = params[i] - lr * (inv_m * grads[i] + decay * params[i])
            params[i] = p
            check += p * zero
    elif rule == MOMENTUM:
        for i in range(n):
            v = beta * vel[i] + keep * (inv_m * grads[i] + decay * params[i])
            if abs(v) < tiny:
                v = v * zero
            vel[i] = v
            p = params[i] - lr * v
            params[i] = p
            check += p * zero
    elif rule == SK_SGD or rule == SK_NESTEROV:
        for i in range(n):
            d = inv_m * grads[i] + decay * params[i]
            v = beta * vel[i] - lr * d
            if abs(v) < tiny:
                v = v * zero
            vel[i] = v
            if rule == SK_NESTEROV:
                p = params[i] + (beta * v - lr * d)
            else:
                p = params[i] + v
            params[i] = p
            check += p * zero
    else:
        for i in range(n):
            d = inv_m * grads[i] + decay * params[i]
            v = beta1 * vel[i] + keep1 * d
            s = beta2 * sq[i] + keep2 * (d * d)
            if abs(v) < tiny:
                v = v * zero
            if s < tiny:
                s = s * zero
            vel[i] = v
            sq[i] = s
            if rule == ADAM:
                p = params[i] - lr * (v / c1) / (np.sqrt(s / c2) + eps)
            else:
                p = params[i] + (-lr) * v / (np.sqrt(s) + eps)
            params[i] = p
            check += p * zero
    return np.isfinite(check)


@njit(**INLINE_JIT_OPTIONS)
def arith_zero(arith):
    """The ``zero`` of ``rule_update`` chosen by the type of ``arith``, an empty array:
    int64 for fastdnn's original arithmetic, float32 for float32 steps in float32. A
    type, not a value, so that each arithmetic compiles to its own kernel without a
    branch (a branch between the two changed the original's compiled rounding)."""
    return arith.dtype.type(0)
