"""One call of the compiled mini-batch epochs, on one core or split across several.

``TrainingEngine`` (``DeepNeuralNetwork``) and ``EpochRunner`` (the scikit-learn
estimators) both train mini-batches through ``minibatch_epochs``: with no
``PartBuffers`` it is ``kernels.training.train_minibatch`` (the "direct"
strategy, today's results bit for bit), with them
``kernels.split.train_minibatch_split`` (the "split" strategy: every batch's
rows cut into one slice per core, their gradient sums added).
"""

from ..kernels.split import train_minibatch_split
from ..kernels.training import train_minibatch


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
    return train_minibatch_split(
        XT, YT, order, split.xb, split.yb, ws.dims, ws.codes, ws.w_off, ws.b_off, split.a_off,
        ws.params, split.grads, split.acts, split.delta, ws.pre, ws.mask, ws.vel, ws.sq, rule,
        hp, ws.counters, ws.rng, lrs, batch_size, record, first_batch, max_steps, partial,
        split.part_loss, split.part_ok, split.fwd_codes, split.scratch, ws.arith)
