"""Per-epoch schedules, computed before a compiled call and handed to it as arrays.

- ``epoch_orders``: the example order of each epoch, drawn exactly as the
  course's ``random_mini_batches(X, Y, size, seed)`` draws it
  (``np.random.seed(seed); np.random.permutation(m)``), with seed
  ``shuffle_seed + e + 1`` for epoch e counted over the model's life (by the
  compiled ``kernels.shuffle``, which draws the same orders).
- ``learning_rates``: the rate of each epoch; epoch 0 uses lr0 and epoch e > 0
  uses decay(lr0, e - 1, decay_rate), as the course's training loop sets the
  rate after each epoch.
"""

import math

import numpy as np

from ..kernels.shuffle import STATE_WORDS, course_orders_into


def epoch_orders(m, shuffle_seed, first_epoch, n_epochs):
    """(n_epochs, m) int64: row i is the permutation of epoch first_epoch + i.

    Drawn by the compiled twin of NumPy's legacy permutation (``kernels.shuffle``, the
    same orders, 2.5x faster); seeds outside [0, 2**32) go to NumPy, which refuses
    them as it always did ("Seed must be between 0 and 2**32 - 1").
    """
    out = np.empty((n_epochs, m), dtype=np.int64)
    seeds = [shuffle_seed + first_epoch + i + 1 for i in range(n_epochs)]
    if n_epochs and 0 <= min(seeds) and max(seeds) < 2 ** 32 and m < 2 ** 32:
        key = np.empty(STATE_WORDS, dtype=np.uint32)
        course_orders_into(np.array(seeds, dtype=np.int64), key, out)
        return out
    for i, seed in enumerate(seeds):
        out[i] = np.random.RandomState(seed).permutation(m)
    return out


def update_lr(learning_rate0, epoch_num, decay_rate):
    """The course's inverse decay, in its order of operations: 1 / (1 + decay_rate * epoch_num) * lr0."""
    return 1 / (1 + decay_rate * epoch_num) * learning_rate0


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """The course's stepped decay: 1 / (1 + decay_rate * floor(epoch_num / time_interval)) * lr0."""
    return 1 / (1 + decay_rate * np.floor(epoch_num / time_interval)) * learning_rate0


def learning_rates(lr0, decay, decay_rate, time_interval, first_epoch, n_epochs):
    """(n_epochs,) float64: the learning rate of epochs first_epoch, first_epoch + 1, ..."""
    epochs = range(first_epoch, first_epoch + n_epochs)
    if decay is None:
        return np.full(n_epochs, lr0, dtype=np.float64)
    if decay == "inverse":
        rate = lambda e: update_lr(lr0, e, decay_rate)  # noqa: E731
    else:
        rate = lambda e: schedule_lr_decay(lr0, e, decay_rate, time_interval)  # noqa: E731
    return np.array([lr0 if e == 0 else float(rate(e - 1)) for e in epochs], dtype=np.float64)


def batches_per_epoch(m, batch_size):
    """Number of update steps in one epoch of m examples."""
    return 1 if batch_size is None else math.ceil(m / batch_size)
