"""Mini-batch epochs with every batch split across cores (the "split" strategy).

Small products do not go faster with more BLAS threads (waking them costs more
than the product), but a batch's examples are independent: its rows are cut
into ``parts`` consecutive slices, each core runs the forward and backward pass
of its slice on one BLAS thread into its own buffers, and the slices' unscaled
gradient sums and summed losses are added before the one update. Same step,
same update, same results up to the order of the sums: the batch's sum over
its m_b examples becomes a sum of ``parts`` partial sums (about 1e-16 relative
per step in float64; not bit-identical to ``train_minibatch``). A softmax output
goes through ``vexp.softmax_columns_vectorised`` (exp as vectorisable arithmetic,
within one unit in the last place of the C library's; 9% faster digits steps).

Per-part buffers are stacked on a leading axis: ``xb`` (parts, rows*n_0),
``yb`` (parts, rows*n_L), ``grads`` (parts, P), ``acts`` (parts, A) and
``delta`` (parts, 2, D), for slices of up to ``rows`` = ceil(batch/parts)
examples (layouts as in ``training.py``). Dropout is not supported (its masks
come from one stream in batch order); the caller refuses it.

Compiled with ``parallel=True``: the part loop is a ``prange`` run by Numba's
threading layer (OpenMP where available: ~2 us per batch to start both
halves; the fallback "workqueue" layer costs ~140 us and makes this slower).
Its loops only call two separately compiled kernels, ``part_gradient`` and
``part_update``, which do all the arithmetic; the caller loads both before this
one (``fastdnn.engine.batches.load_part_kernels``), so that every process runs
the same compiled code for them whether this kernel was compiled or loaded from
Numba's cache (a cached copy of them, optimised again inside this kernel, rounded
the update differently under fast-math).

The epoch and batch bookkeeping (resume at ``first_batch``, ``max_steps``, the
recorded cost) repeats ``train_minibatch``'s on purpose: sharing it would mean
compiling the one-core loop with ``parallel=True`` too (Numba then also
parallelises its array expressions), and that loop's results are promised bit
for bit. ``update_slice`` repeats ``update_step``'s layer loop for the same reason.
"""

import numpy as np
from numba import njit, prange

from .activations import SOFTMAX
from .config import INLINE_JIT_OPTIONS, JIT_OPTIONS
from .cost import loss_sum, sklearn_loss_sum
from .strict import divide
from .training import (BETA, BETA1, BETA2, COURSE_LOSS, EPSILON, LAMBD, LOSS_FORM, SKLEARN_LOSS,
                       backward_pass, forward_pass, gather_batch, regularised_loss)
from .update import ADAM, GD, SK_ADAM, arith_zero, gradient_descent_update, rule_update
from .views import block, borrow
from .vexp import softmax_columns_vectorised

#: The split epoch loop: the training kernels' options, plus a parallel part loop.
PARALLEL_JIT_OPTIONS = dict(JIT_OPTIONS, parallel=True)


@njit(**INLINE_JIT_OPTIONS)
def count_step(rule, counters):
    """Adam's step count t after this step (counters[0] += 1 for Adam, either form)."""
    if rule == ADAM or rule == SK_ADAM:
        counters[0] += 1
    return counters[0]


@njit(**INLINE_JIT_OPTIONS)
def update_slice(params, grads, vel, sq, dims, w_off, b_off, rule, hp, lr, m, t, lo, hi, arith):
    """``training.update_step``'s update of the parameters at flat positions [lo, hi) only,
    Adam's step already counted (t): every element gets the operations it gets there,
    whatever the slice, so slices updated on different cores make one whole update.
    (``update_step`` keeps its own loop: under fast-math, routing it through this one
    changed the compiled rounding of scikit-learn's Adam rate, and today's results must
    stay bit-identical.)

    Plain gradient descent without L2 is the notebook's ``p -= (lr / m) g`` in
    one loop; the other rules go layer by layer so that L2 (lambd / m) reaches
    the weights only. scikit-learn's Adam folds its bias correction into the
    rate here. Returns whether every updated parameter is finite.
    """
    dt = params.dtype.type
    lambd = hp[LAMBD]
    if lo >= hi:
        return True
    if rule == GD and lambd == 0.0:
        return gradient_descent_update(params[lo:hi], grads[lo:hi], dt(divide(lr, m)))
    if rule == SK_ADAM:
        lr = lr * np.sqrt(1.0 - hp[BETA2] ** t) / (1.0 - hp[BETA1] ** t)
    inv_m, decay, zero = dt(1.0 / m), dt(lambd / m), dt(0)
    beta, beta1, beta2, eps = hp[BETA], hp[BETA1], hp[BETA2], dt(hp[EPSILON])
    c1, c2 = dt(1.0 - beta1 ** t), dt(1.0 - beta2 ** t)
    flush = arith_zero(arith)
    ok = True
    for l in range(1, dims.shape[0]):
        n, k = dims[l], dims[l - 1]
        for start, stop, l2 in ((w_off[l - 1], w_off[l - 1] + n * k, decay),
                                (b_off[l - 1], b_off[l - 1] + n, zero)):
            a, b = max(start, lo), min(stop, hi)
            if a < b:
                ok &= rule_update(params, grads, vel, sq, a, b, rule, dt(lr), inv_m, l2, beta,
                                  beta1, beta2, eps, c1, c2, flush)
    return ok


@njit(**JIT_OPTIONS)
def part_update(params, grads, vel, sq, dims, w_off, b_off, rule, hp, lr, m, t, used, lo, hi,
                arith):
    """One core's share of a split step's update: adds the other parts' gradient sums
    grads[1:used] (used, P) into grads[0] over the flat positions [lo, hi), then updates
    those parameters (``update_slice``; Adam's step t already counted)."""
    params, grads, vel, sq, dims, w_off, b_off, hp, arith = borrow(
        params, grads, vel, sq, dims, w_off, b_off, hp, arith)
    summed = grads[0]
    mine = summed[lo:hi]   # views from 0: no wraparound test, so LLVM vectorises
    for other in range(1, used):
        theirs = grads[other, lo:hi]
        for i in range(hi - lo):
            mine[i] += theirs[i]
    return update_slice(params, summed, vel, sq, dims, w_off, b_off, rule, hp, lr, m, t, lo,
                        hi, arith)


@njit(**JIT_OPTIONS)
def part_gradient(XT, YT, order, start, rows, xb, yb, dims, codes, fwd_codes, w_off, b_off, a_off,
                  params, grads, acts, delta, pre, mask, rng, scratch, record, loss_form):
    """One slice's gradient pass: gathers rows order[start:start + rows] of XT (m, n_0) and
    YT (m, n_L), fills grads (P,) with their unscaled sums and returns (summed loss or NaN
    when not ``record``, whether the outputs were finite).

    A softmax output is computed here rather than in ``forward_pass`` (which runs with
    fwd_codes: codes with that output as identity), by ``vexp.softmax_columns_vectorised``
    (scratch (2, >= rows) float64); the loss is then taken where ``forward_pass`` takes it
    (the course's from the logits, scikit-learn's from the probabilities)."""
    XT, YT, order, xb, yb, dims, codes, fwd_codes, w_off, b_off, a_off, params, grads, acts, \
        delta, pre, mask, rng, scratch = borrow(
            XT, YT, order, xb, yb, dims, codes, fwd_codes, w_off, b_off, a_off, params, grads,
            acts, delta, pre, mask, rng, scratch)
    X, Y = gather_batch(XT, YT, order, start, rows, xb, yb)
    L = dims.shape[0] - 1
    softmax = codes[L - 1] == SOFTMAX
    loss, finite = forward_pass(X, Y, dims, fwd_codes, params, w_off, b_off, acts, a_off, pre,
                                mask, 1.0, rng, 1, record and not softmax, loss_form)
    if not finite:
        return loss, False
    if softmax:
        Z = block(acts, a_off[L - 1], dims[L], rows)
        if record and loss_form == COURSE_LOSS:
            loss = loss_sum(Z, Y, SOFTMAX)
        softmax_columns_vectorised(Z, scratch[0], scratch[1])
        if record and loss_form == SKLEARN_LOSS:
            loss = sklearn_loss_sum(Z, Y, SOFTMAX)
    backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, pre, mask,
                  1.0, 1)
    return loss, True


@njit(**PARALLEL_JIT_OPTIONS)
def train_minibatch_split(XT, YT, order, xb, yb, dims, codes, w_off, b_off, a_off, params, grads,
                          acts, delta, pre, mask, vel, sq, rule, hp, counters, rng, lrs,
                          batch_size, record, first_batch, max_steps, partial, part_loss,
                          part_ok, fwd_codes, scratch, arith):
    """``training.train_minibatch`` (same arguments, same returns) with each batch split
    into parts = grads.shape[0] slices trained in parallel (see the module docstring).

    part_loss (parts,) float64 and part_ok (parts,) bool receive each slice's loss and
    finiteness; fwd_codes and scratch (parts, 2, rows) are ``part_gradient``'s. The update
    is split too: each core adds the other parts' sums into grads[0] over its own slice of
    the flat parameters, then updates that slice (``part_update``).
    """
    XT, YT, order, xb, yb, dims, codes, w_off, b_off, a_off, params, grads, acts, delta, pre, \
        mask, vel, sq, hp, counters, rng, lrs, part_loss, part_ok, fwd_codes, scratch, arith = \
        borrow(XT, YT, order, xb, yb, dims, codes, w_off, b_off, a_off, params, grads, acts,
               delta, pre, mask, vel, sq, hp, counters, rng, lrs, part_loss, part_ok, fwd_codes,
               scratch, arith)
    m = XT.shape[0]
    parts = grads.shape[0]
    n_batches = (m + batch_size - 1) // batch_size
    cost = np.nan
    steps = 0
    total = partial
    for e in range(order.shape[0]):
        rec = record and e == 0
        if e > 0:
            total = 0.0
        for k in range(first_batch if e == 0 else 0, n_batches):
            if steps == max_steps:
                return cost, e, False, k, total
            start = k * batch_size
            mb = min(batch_size, m - start)
            used = min(parts, mb)
            for t in prange(used):
                lo = start + (t * mb) // used
                hi = start + ((t + 1) * mb) // used
                loss, finite = part_gradient(XT, YT, order[e], lo, hi - lo, xb[t], yb[t], dims,
                                             codes, fwd_codes, w_off, b_off, a_off, params,
                                             grads[t], acts[t], delta[t], pre, mask, rng,
                                             scratch[t], rec, hp[LOSS_FORM])
                part_loss[t] = loss
                part_ok[t] = finite
            loss = 0.0
            for t in range(used):
                if not part_ok[t]:
                    return cost, e, True, k, total
                loss += part_loss[t]
            if rec:
                total += regularised_loss(loss, params, dims, w_off, hp[LAMBD])
            steps += 1
            t_adam = count_step(rule, counters)
            P = params.shape[0]
            for t in prange(parts):
                lo, hi = (t * P) // parts, ((t + 1) * P) // parts
                part_ok[t] = part_update(params, grads, vel, sq, dims, w_off, b_off, rule, hp,
                                         lrs[e], mb, t_adam, used, lo, hi, arith)
            for t in range(parts):
                if not part_ok[t]:
                    return cost, e, True, k + 1, total
        if rec:
            cost = divide(total, m)
    return cost, order.shape[0], False, 0, 0.0

