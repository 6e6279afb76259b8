"""One call of the compiled mini-batch epochs, on one core or split across several.

``TrainingEngine`` (``DeepNeuralNetwork``) and ``EpochRunner`` (the scikit-learn
estimators) both train mini-batches through ``minibatch_epochs``: with no
``PartBuffers`` it is ``kernels.training.train_minibatch`` (the "direct"
strategy, today's results bit for bit), with them
``kernels.split.train_minibatch_split`` (the "split" strategy: every batch's
rows cut into one slice per core, their gradient sums added).
"""

from ..kernels.split import part_gradient, part_update, train_minibatch_split
from ..kernels.training import LOSS_FORM, train_minibatch


def minibatch_epochs(ws, split, XT, YT, order, rule, hp, lrs, batch_size, record, first_batch,
                     max_steps, partial):
    """Train the epochs of ``order`` (n_epochs, m) in place in Workspace ``ws`` (built with
    ``gather=True``); split: its ``PartBuffers`` or None. XT (m, n_0) and YT (m, n_L):
    the examples as C-contiguous rows. Returns ``train_minibatch``'s (cost, epochs
    completed, failed, batch reached, running total)."""
    if split is None:
        return train_minibatch(XT, YT, order, ws.xb, ws.yb, *ws.kernel_args(), rule, hp,
                               ws.counters, ws.rng, lrs, batch_size, record, first_batch,
                               max_steps, partial, ws.arith)
    if order.shape[0]:
        load_part_kernels(ws, split, XT, YT, order, rule, hp)
    return train_minibatch_split(
        XT, YT, order, split.xb, split.yb, ws.dims, ws.codes, ws.w_off, ws.b_off, split.a_off,
        ws.params, split.grads, split.acts, split.delta, ws.pre, ws.mask, ws.vel, ws.sq, rule,
        hp, ws.counters, ws.rng, lrs, batch_size, record, first_batch, max_steps, partial,
        split.part_loss, split.part_ok, split.fwd_codes, split.scratch, ws.arith)


def load_part_kernels(ws, split, XT, YT, order, rule, hp):
    """Load (or compile) the split kernel's two parts for this run's types before the
    parallel kernel itself, by calling each once with no effect on the run: part_update
    on an empty slice, part_gradient on one example into slice 0's scratch buffers.

    Why: a parallel kernel loaded from Numba's cache carries copies of the parts that
    were optimised again after linking, and under fast-math those round differently.
    Its calls go to code already loaded in the process, as they do in the process that
    compiled it; so loading the parts first gives every process the same results (a
    fresh clone or a resumed run as well as a warm cache: tests/test_split_processes.py).
    """
    part_update(ws.params, split.grads, ws.vel, ws.sq, ws.dims, ws.w_off, ws.b_off, rule, hp,
                0.0, 1, 0, 1, 0, 0, ws.arith)
    part_gradient(XT, YT, order[0], 0, 1, split.xb[0], split.yb[0], ws.dims, ws.codes,
                  split.fwd_codes, ws.w_off, ws.b_off, split.a_off, ws.params, split.grads[0],
                  split.acts[0], split.delta[0], ws.pre, ws.mask, ws.rng, split.scratch[0],
                  False, hp[LOSS_FORM])
