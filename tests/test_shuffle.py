"""The compiled course shuffle (``fastdnn.kernels.shuffle``) draws NumPy's orders exactly.

Oracle: ``np.random.RandomState(seed).permutation(m)``, what the course's
``random_mini_batches`` draws; sizes around the generator's 624-word state and seeds
across the 32-bit range (both ends included).
"""

import numpy as np
import pytest

from fastdnn.engine.schedule import epoch_orders
from fastdnn.kernels.shuffle import STATE_WORDS, course_permutation_into

SIZES = [0, 1, 2, 3, 10, 209, 623, 624, 625, 1249, 20000, 60001]
SEEDS = [0, 1, 2, 11, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]


@pytest.mark.parametrize("m", SIZES)
def test_permutation_equals_numpy(m):
    key = np.empty(STATE_WORDS, dtype=np.uint32)
    out = np.empty(m, dtype=np.int64)
    for seed in SEEDS:
        course_permutation_into(seed, key, out)
        np.testing.assert_array_equal(out, np.random.RandomState(seed).permutation(m))


def test_epoch_orders_are_numpy_orders_per_epoch():
    orders = epoch_orders(1000, 7, 3, 4)
    assert orders.shape == (4, 1000) and orders.dtype == np.int64
    for i in range(4):  # epoch 3 + i uses seed 7 + (3 + i) + 1
        np.testing.assert_array_equal(orders[i],
                                      np.random.RandomState(11 + i).permutation(1000))


@pytest.mark.parametrize("shuffle_seed", [-5, 2 ** 32 - 1])
def test_epoch_orders_refuse_seeds_numpy_refuses(shuffle_seed):
    """Seeds outside [0, 2**32) (here -4 and 2**32) get NumPy's own error, as before."""
    with pytest.raises(ValueError, match="Seed must be between 0 and 2\\*\\*32 - 1"):
        epoch_orders(10, shuffle_seed, 0, 1)
