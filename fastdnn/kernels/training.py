"""Whole training steps and loops of [LINEAR->g]*(L-1) -> LINEAR->output, compiled.

State lives in a few flat buffers laid out by ``fastdnn.engine.workspace.Workspace``
(one compile serves every depth, width and configuration):

- ``dims`` (L+1,) int64: layer sizes n_0 = n_x, n_1, ..., n_L.
- ``codes`` (L,) int64: activation code of layers 1..L (``activations.CODES``);
  the last one is the output (sigmoid, softmax or identity) and picks the loss.
- ``params`` / ``grads`` (P,): W1, b1, W2, b2, ... back to back; layer l's
  W (n_l, n_{l-1}) starts at ``w_off[l-1]`` and b (n_l,) at ``b_off[l-1]``.
  ``grads`` holds *unscaled* sums over the batch (dZ A_prev^T, row sums of
  dZ); the 1/m_b is fused into the update (``update.py``).
- ``acts`` (sum n_l*m,): A_1..A_L, layer l's (n_l, m) block at ``a_off[l-1]``;
  with dropout these are the activations after dropout (what the next layer
  reads). ``pre`` (same layout, or empty) keeps them before dropout and
  ``mask`` (bool, same layout, or empty) the masks, for the backward pass.
- ``delta`` (2, max n_l*m): ping-pong space for dZ_l and dA_{l-1}.
- ``vel`` / ``sq`` (P,) or empty: momentum's v, Adam's v and s.
- ``rule`` (int, ``update.py``'s codes) and ``hp`` float64 [beta, beta1, beta2,
  epsilon, lambd, keep_prob, loss_form] (loss_form: COURSE_LOSS or SKLEARN_LOSS,
  which loss is recorded); ``arith``: an empty array whose dtype sets the update's
  arithmetic (``update.arith_zero``); ``counters`` int64 [Adam's t: its update steps
  over the model's life]; ``rng`` uint64 [dropout generator state] (``dropout.py``).
- ``lrs`` float64: the learning rate of each iteration / epoch of the call.

A step is one gradient pass (``forward_pass`` + ``backward_pass``) and one
``update_step``; the three loops (full batch, full batch through the Gram
matrix, shuffled mini-batches) share them. Nothing here allocates array
memory: every array below is a view.
"""

import numpy as np
from numba import njit

from .activations import IDENTITY, activate, activation_backward, add_bias_activate
from .config import INLINE_JIT_OPTIONS, JIT_OPTIONS
from .cost import loss_sum, sklearn_loss_sum
from .dropout import apply_mask_backward, apply_new_mask
from .linear import linear_grads_into, matmul_into
from .strict import divide
from .update import ADAM, GD, SK_ADAM, arith_zero, gradient_descent_update, rule_update
from .views import block, borrow

#: Indices into ``hp``.
BETA, BETA1, BETA2, EPSILON, LAMBD, KEEP_PROB, LOSS_FORM = range(7)
#: hp[LOSS_FORM]: the course's loss from the logits (``cost.loss_sum``) or
#: scikit-learn's from clipped probabilities (``cost.sklearn_loss_sum``).
COURSE_LOSS, SKLEARN_LOSS = 0.0, 1.0


@njit(**INLINE_JIT_OPTIONS)
def hidden_activate(Z, b, code, l, a_off, pre, mask, keep_prob, rng):
    """In place: hidden layer l's Z (n, m) <- dropout(g(Z + b)); dropout when keep_prob < 1."""
    add_bias_activate(Z, b, code)
    if keep_prob < 1.0:
        n, m = Z.shape
        apply_new_mask(Z, block(pre, a_off[l - 1], n, m), block(mask, a_off[l - 1], n, m),
                       keep_prob, rng)


@njit(**INLINE_JIT_OPTIONS)
def forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, pre, mask, keep_prob, rng,
                 first, record, loss_form):
    """Fill A_first..A_L from A_{first-1} (X when first == 1); X (n_0, m) of any layout.

    Returns (loss, finite): ``finite`` is false when an output logit is NaN or
    infinite (the output activation would hide an overflow), and then the loss
    is NaN. The loss is the *summed* loss over the m examples, computed from the
    output logits before the final activation (``loss_form`` COURSE_LOSS) or from
    the outputs after it (SKLEARN_LOSS), only when ``record`` is true (else
    NaN). Y (n_L, m) is only read when recording.
    """
    m = X.shape[1]
    L = dims.shape[0] - 1
    loss = np.nan
    finite = True
    for l in range(first, L + 1):
        n, k = dims[l], dims[l - 1]
        Z = block(acts, a_off[l - 1], n, m)
        W = block(params, w_off[l - 1], n, k)
        if l == 1:  # X apart: a batch view of X has another layout than the C blocks
            matmul_into(W, X, Z)
        else:
            matmul_into(W, block(acts, a_off[l - 2], k, m), Z)
        b = params[b_off[l - 1]:b_off[l - 1] + n]
        if l < L:
            hidden_activate(Z, b, codes[l - 1], l, a_off, pre, mask, keep_prob, rng)
        else:
            add_bias_activate(Z, b, IDENTITY)
            finite = np.isfinite(np.sum(Z))
            if record and finite and loss_form == COURSE_LOSS:
                loss = loss_sum(Z, Y, codes[l - 1])
            activate(Z, codes[l - 1])
            if record and finite and loss_form == SKLEARN_LOSS:
                loss = sklearn_loss_sum(Z, Y, codes[l - 1])
    return loss, finite


@njit(**INLINE_JIT_OPTIONS)
def backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, pre, mask,
                  keep_prob, last):
    """Unscaled gradients of layers L..last; returns the last dZ computed.

    Starts from dZ_L = A_L - Y (every output/loss pair). For every layer l > 1
    down to ``last`` it also forms dZ_{l-1} (through the dropout mask when
    keep_prob < 1); with last == 1 the gradient with respect to X is never
    computed. Returns dZ_{last-1} (n, m) when last > 1 (the Gram strategy needs
    dZ_1), else dZ_1.
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
        dW, db = block(grads, w_off[l - 1], n, k), grads[b_off[l - 1]:b_off[l - 1] + n]
        if l == 1:  # X apart, as in forward_pass
            linear_grads_into(dZ, X, dW, db)
        else:
            A_prev = block(acts, a_off[l - 2], k, m)
            linear_grads_into(dZ, A_prev, dW, db)
            side = 1 - side
            dA_prev = block(delta[side], 0, k, m)
            matmul_into(block(params, w_off[l - 1], n, k).T, dZ, dA_prev)
            if keep_prob < 1.0:
                apply_mask_backward(dA_prev, block(mask, a_off[l - 2], k, m), keep_prob)
                activation_backward(dA_prev, block(pre, a_off[l - 2], k, m), codes[l - 2])
            else:
                activation_backward(dA_prev, A_prev, codes[l - 2])
            dZ = dA_prev
    return dZ


@njit(**INLINE_JIT_OPTIONS)
def weights_squared(params, dims, w_off, first=1):
    """sum over layers l >= first of ||W_l||^2 (float64), for the L2 term of the cost."""
    total = 0.0
    for l in range(first, dims.shape[0]):
        lo = w_off[l - 1]
        for i in range(lo, lo + dims[l] * dims[l - 1]):
            total += params[i] * params[i]
    return total


@njit(**INLINE_JIT_OPTIONS)
def regularised_loss(loss, params, dims, w_off, lambd):
    """The batch's summed loss plus its L2 term lambd/2 * sum ||W_l||^2 (m_b times its mean cost)."""
    if lambd == 0.0:
        return loss
    return loss + 0.5 * lambd * weights_squared(params, dims, w_off)


@njit(**INLINE_JIT_OPTIONS)
def update_step(params, grads, vel, sq, dims, w_off, b_off, rule, hp, lr, m, counters, skip_w1,
                arith):
    """One update of every parameter (W1 left out when ``skip_w1``) from the batch's
    unscaled gradient sums over m examples, with learning rate lr. Adam (both
    forms) first counts the step in counters[0] (its t, from 1 over the model's
    life, as the course's ``t = t + 1``; the other rules leave it alone);
    scikit-learn's Adam folds its bias correction into the rate here.

    Plain gradient descent without L2 is the notebook's ``p -= (lr / m) g`` in
    one loop; the other rules go layer by layer so that L2 (lambd / m) reaches
    the weights only. Returns whether every parameter is finite.
    """
    dt = params.dtype.type
    lo = b_off[0] if skip_w1 else 0
    lambd = hp[LAMBD]
    if rule == GD and lambd == 0.0:
        return gradient_descent_update(params[lo:], grads[lo:], dt(divide(lr, m)))
    if rule == ADAM or rule == SK_ADAM:
        counters[0] += 1
    t = counters[0]
    if rule == SK_ADAM:
        lr = lr * np.sqrt(1.0 - hp[BETA2] ** t) / (1.0 - hp[BETA1] ** t)
    inv_m, decay, zero = dt(1.0 / m), dt(lambd / m), dt(0)
    beta, beta1, beta2, eps = hp[BETA], hp[BETA1], hp[BETA2], dt(hp[EPSILON])
    c1, c2 = dt(1.0 - beta1 ** t), dt(1.0 - beta2 ** t)
    flush = arith_zero(arith)
    ok = True
    for l in range(1, dims.shape[0]):
        n, k = dims[l], dims[l - 1]
        if not (skip_w1 and l == 1):
            w = w_off[l - 1]
            ok &= rule_update(params, grads, vel, sq, w, w + n * k, rule, dt(lr), inv_m, decay,
                              beta, beta1, beta2, eps, c1, c2, flush)
        b = b_off[l - 1]
        ok &= rule_update(params, grads, vel, sq, b, b + n, rule, dt(lr), inv_m, zero,
                          beta, beta1, beta2, eps, c1, c2, flush)
    return ok


@njit(**JIT_OPTIONS)
def train_full(X, Y, dims, codes, w_off, b_off, a_off, params, grads, acts, delta, pre, mask,
               vel, sq, rule, hp, counters, rng, lrs, n_steps, record, arith):
    """Run n_steps full-batch iterations in place; iteration i uses learning rate lrs[i].

    X (n_0, m), Y (n_L, m). Returns (cost before the first update, or NaN if
    not ``record``; iterations completed; whether it stopped in an update).
    Stops early when the output logits turn non-finite (before that
    iteration's update) or when an update makes a parameter non-finite (after
    it: the caller rewinds).
    """
    X, Y, dims, codes, w_off, b_off, a_off, params, grads, acts, delta, pre, mask, vel, sq, hp, \
        counters, rng, lrs, arith = borrow(X, Y, dims, codes, w_off, b_off, a_off, params, grads,
                                           acts, delta, pre, mask, vel, sq, hp, counters, rng,
                                           lrs, arith)
    m = X.shape[1]
    keep_prob = hp[KEEP_PROB]
    cost = np.nan
    for it in range(n_steps):
        loss, finite = forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, pre,
                                    mask, keep_prob, rng, 1, record and it == 0, hp[LOSS_FORM])
        if it == 0 and record and finite:
            cost = divide(regularised_loss(loss, params, dims, w_off, hp[LAMBD]), m)
        if not finite:
            return cost, it, False
        backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, pre,
                      mask, keep_prob, 1)
        if not update_step(params, grads, vel, sq, dims, w_off, b_off, rule, hp, lrs[it], m,
                           counters, False, arith):
            return cost, it, True
    return cost, n_steps, False


@njit(**INLINE_JIT_OPTIONS)
def gram_general_step(G, Z0, P0, Z1, B, C, coef, dZ1, rule, eta, inv_m, lam, beta):
    """Layer 1 of gradient descent or momentum, with L2 and any rate, through G.

    W1 is kept as a W1(0) + e V(0) + B X^T and its velocity as
    c W1(0) + f V(0) + C X^T (coef = [a, e, c, f], float64; B, C (n_1, m));
    then W1 X = a Z0 + e P0 + B G with Z0 = W1(0) X and P0 = V(0) X (empty when
    V(0) = 0). With d = dZ1 X^T / m + lam W1 (lam = lambd / m) the rules are
    gd: W1 -= eta d; momentum: v = beta v + (1 - beta) d, W1 -= eta v; each
    splits into the same recurrence on the scalars and on B, C. Z1 is formed
    again from them (no drift from repeated increments).
    """
    n1, m = Z1.shape
    keep = Z1.dtype.type(1.0 - beta)  # beta in float64 (see ``rule_update``)
    beta_x = Z1.dtype.type(beta)
    tiny = Z1.dtype.type(2.2250738585072014e-308 if Z1.itemsize == 8 else 1.1754943508222875e-38)
    if rule == GD:
        shrink = 1.0 - eta * lam
        coef[0] *= shrink
        coef[1] *= shrink
        for i in range(n1):
            for j in range(m):
                B[i, j] -= eta * (inv_m * dZ1[i, j] + lam * B[i, j])
    else:
        coef[2] = beta * coef[2] + (1.0 - beta) * lam * coef[0]
        coef[3] = beta * coef[3] + (1.0 - beta) * lam * coef[1]
        coef[0] -= eta * coef[2]
        coef[1] -= eta * coef[3]
        for i in range(n1):
            for j in range(m):
                c = beta_x * C[i, j] + keep * (inv_m * dZ1[i, j] + lam * B[i, j])
                if abs(c) < tiny:  # no subnormals (see ``rule_update``)
                    c = c * 0
                C[i, j] = c
                B[i, j] -= eta * c
    matmul_into(B, G, Z1)
    a, e = Z1.dtype.type(coef[0]), Z1.dtype.type(coef[1])
    for i in range(n1):
        for j in range(m):
            Z1[i, j] += a * Z0[i, j]
    if P0.shape[1] > 0:
        for i in range(n1):
            for j in range(m):
                Z1[i, j] += e * P0[i, j]


@njit(**INLINE_JIT_OPTIONS)
def gram_current_w1(X, params, vel, w_off, n1, B, coef, W1):
    """W1 (n_1, n_0) <- a W1(0) + e V(0) + B X^T, the current weights of ``gram_general_step``."""
    n0 = X.shape[0]
    matmul_into(B, X.T, W1)
    a, e = W1.dtype.type(coef[0]), W1.dtype.type(coef[1])
    W0 = block(params, w_off[0], n1, n0)
    for i in range(n1):
        for j in range(n0):
            W1[i, j] += a * W0[i, j]
    if vel.shape[0] > 0 and coef[1] != 0.0:
        V0 = block(vel, w_off[0], n1, n0)
        for i in range(n1):
            for j in range(n0):
                W1[i, j] += e * V0[i, j]


@njit(**JIT_OPTIONS)
def train_gram(X, Y, G, Z0, P0, Z1, S, C, coef, dims, codes, w_off, b_off, a_off, params, grads,
               acts, delta, pre, mask, vel, sq, rule, hp, counters, rng, lrs, n_steps, record,
               plain, arith):
    """``train_full`` with layer 1 driven by the Gram matrix G = X^T X (m, m).

    Full-batch descent moves W1 X by products with G only, since dW1 = dZ1 X^T / m
    (+ lam W1 with L2). So Z1 = W1 X (n_1, m, bias not included) is kept up to
    date and W1 in ``params`` stays at its value W1(0) when Z1 was formed:

    - ``plain`` (gd, no L2, constant rate): Z1 <- Z1 - step dZ1 G and S (n_1, m)
      accumulates sum(dZ1), so W1 = W1(0) - step S X^T (the first fastdnn
      release's arithmetic, kept bit for bit);
    - otherwise (gd or momentum, L2, any rates): ``gram_general_step`` with
      S as B and C, coef, Z0, P0 (``fastdnn.engine.trainer`` forms W1 and its
      velocity from them when they are asked for).

    b1 and layers 2..L update as usual. Exact in real arithmetic for any
    activations, outputs and hidden-layer dropout; not for Adam (its update is
    not linear in the gradient) nor mini-batches (X changes). Needs L >= 2.
    """
    X, Y, G, Z0, P0, Z1, S, C, coef, dims, codes, w_off, b_off, a_off, params, grads, acts, \
        delta, pre, mask, vel, sq, hp, counters, rng, lrs, arith = borrow(
            X, Y, G, Z0, P0, Z1, S, C, coef, dims, codes, w_off, b_off, a_off, params, grads,
            acts, delta, pre, mask, vel, sq, hp, counters, rng, lrs, arith)
    m = X.shape[1]
    n1 = dims[1]
    L = dims.shape[0] - 1
    keep_prob = hp[KEEP_PROB]
    A1 = block(acts, a_off[0], n1, m)
    DG = block(delta[L % 2], 0, n1, m)  # backward_pass leaves dZ1 in delta[(L - 1) % 2]
    b1 = params[b_off[0]:b_off[0] + n1]
    db1 = grads[b_off[0]:b_off[0] + n1]
    dt = db1.dtype.type
    zero = dt(0)
    lam, beta, inv_m = dt(hp[LAMBD] / m), hp[BETA], dt(1.0 / m)
    cost = np.nan
    for it in range(n_steps):
        A1[:, :] = Z1
        hidden_activate(A1, b1, codes[0], 1, a_off, pre, mask, keep_prob, rng)
        loss, finite = forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, pre,
                                    mask, keep_prob, rng, 2, record and it == 0, hp[LOSS_FORM])
        if it == 0 and record and finite:
            if hp[LAMBD] == 0.0:
                cost = divide(loss, m)
            else:  # W1 in params is W1(0): form the current one where dW1 would live
                W1 = block(grads, w_off[0], n1, dims[0])
                gram_current_w1(X, params, vel, w_off, n1, S, coef, W1)
                squares = weights_squared(grads, dims[:2], w_off) + weights_squared(
                    params, dims, w_off, 2)
                cost = divide(loss + 0.5 * hp[LAMBD] * squares, m)
        if not finite:
            return cost, it, False
        dZ1 = backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta,
                            pre, mask, keep_prob, 2)
        if plain:  # the first release's loop, unchanged (bit-identical results)
            step = dt(divide(lrs[it], m))
            matmul_into(dZ1, G, DG)
            for i in range(n1):
                s = zero
                for j in range(m):
                    d = dZ1[i, j]
                    Z1[i, j] -= step * DG[i, j]
                    S[i, j] += d
                    s += d
                db1[i] = s
        else:
            for i in range(n1):
                s = zero
                for j in range(m):
                    s += dZ1[i, j]
                db1[i] = s
            gram_general_step(G, Z0, P0, Z1, S, C, coef, dZ1, rule, dt(lrs[it]), inv_m, lam,
                              beta)
        if not update_step(params, grads, vel, sq, dims, w_off, b_off, rule, hp, lrs[it], m,
                           counters, True, arith):
            return cost, it, True
    return cost, n_steps, False


@njit(**INLINE_JIT_OPTIONS)
def copy_into(src, dst):
    """dst (n,) <- src (n,), element by element: for contiguous rows LLVM vectorises this
    loop (twice the speed of a 2-D slice assignment's generic copy: 10 against 5 GB/s)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(**INLINE_JIT_OPTIONS)
def gather_batch(XT, YT, order, start, mb, xb, yb):
    """Copy rows order[start:start + mb] of XT (m, n_0) and YT (m, n_L) into the front of
    xb and yb; returns the batch as transposed views X (n_0, mb) and Y (n_L, mb)."""
    n0, nL = XT.shape[1], YT.shape[1]
    for j in range(mb):
        r = order[start + j]
        copy_into(XT[r], xb[j * n0:(j + 1) * n0])
        copy_into(YT[r], yb[j * nL:(j + 1) * nL])
    return block(xb, 0, mb, n0).T, block(yb, 0, mb, nL).T


@njit(**JIT_OPTIONS)
def train_minibatch(XT, YT, order, xb, yb, dims, codes, w_off, b_off, a_off, params, grads, acts,
                    delta, pre, mask, vel, sq, rule, hp, counters, rng, lrs, batch_size, record,
                    first_batch, max_steps, partial, arith):
    """Run the epochs of ``order`` (n_epochs, m) in place, at most max_steps updates.

    XT (m, n_0) and YT (m, n_L) hold the examples as rows (contiguous), so a
    batch is gathered row by row into xb (batch_size * n_0,) and yb
    (batch_size * n_L,) and used through transposed views (n_0, m_b), without
    copies. Epoch e takes its batches in the order order[e] (full batches of
    ``batch_size``, then the smaller rest) with learning rate lrs[e]. The first
    epoch starts at batch ``first_batch`` (one stopped part-way earlier), its
    running loss total at ``partial``.
    Returns (the cost of the first epoch when ``record`` and it was completed --
    the sum of its batches' summed losses, each with its L2 term and taken
    before the batch's update, divided by m -- else NaN; epochs completed;
    whether it stopped because an output or a parameter became non-finite; the
    batch the current epoch stopped at (0 after a whole epoch); its running total).
    """
    XT, YT, order, xb, yb, dims, codes, w_off, b_off, a_off, params, grads, acts, delta, pre, \
        mask, vel, sq, hp, counters, rng, lrs, arith = borrow(
            XT, YT, order, xb, yb, dims, codes, w_off, b_off, a_off, params, grads, acts, delta,
            pre, mask, vel, sq, hp, counters, rng, lrs, arith)
    m = XT.shape[0]
    n_batches = (m + batch_size - 1) // batch_size
    keep_prob = hp[KEEP_PROB]
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
            X, Y = gather_batch(XT, YT, order[e], start, mb, xb, yb)
            loss, finite = forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, pre,
                                        mask, keep_prob, rng, 1, rec, hp[LOSS_FORM])
            if not finite:
                return cost, e, True, k, total
            if rec:
                total += regularised_loss(loss, params, dims, w_off, hp[LAMBD])
            backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, pre,
                          mask, keep_prob, 1)
            steps += 1
            if not update_step(params, grads, vel, sq, dims, w_off, b_off, rule, hp, lrs[e], mb,
                               counters, False, arith):
                return cost, e, True, k + 1, total
        if rec:
            cost = divide(total, m)
    return cost, order.shape[0], False, 0, 0.0


@njit(**JIT_OPTIONS)
def gradient_sums(X, Y, dims, codes, w_off, b_off, a_off, params, grads, acts, delta, pre, mask,
                  hp, rng):
    """One gradient pass without an update: fills ``grads`` with the unscaled sums and
    returns the summed loss (L2 term included) over the m examples of X (n_0, m).

    For gradient checks (``fastdnn.gradcheck``): with dropout, the caller resets
    ``rng`` before each call so that every evaluation uses the same masks.
    """
    keep_prob = hp[KEEP_PROB]
    loss, finite = forward_pass(X, Y, dims, codes, params, w_off, b_off, acts, a_off, pre, mask,
                                keep_prob, rng, 1, True, hp[LOSS_FORM])
    backward_pass(X, Y, dims, codes, params, grads, w_off, b_off, acts, a_off, delta, pre, mask,
                  keep_prob, 1)
    return regularised_loss(loss, params, dims, w_off, hp[LAMBD])


@njit(**JIT_OPTIONS)
def predict_forward(X, dims, codes, w_off, b_off, a_off, params, acts):
    """Forward pass without dropout for prediction: A_L lands in ``acts`` at a_off[L-1]."""
    no_mask = np.zeros(0, dtype=np.bool_)
    no_rng = np.zeros(1, dtype=np.uint64)
    forward_pass(X, X, dims, codes, params, w_off, b_off, acts, a_off, acts, no_mask, 1.0, no_rng,
                 1, False, COURSE_LOSS)
