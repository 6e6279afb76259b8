"""Course 2, Regularization notebook: L2 and dropout, under the course's names (plain NumPy).

The course writes these for its 3-layer LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID
network; here they take any number of layers (ReLU hidden layers, sigmoid
output) and, on a 3-layer network, compute what the course's functions
compute: the same operations in the same order (thin wrappers over
:mod:`fastdnn.reference.network`). The one representational difference: the
ReLU derivative zeroes dA where ``Z <= 0`` (the seed's form) instead of
multiplying by ``np.int64(A > 0)``; the values are equal, only the sign of
some zero entries of ``dZ`` can differ.

Caches are the course's flat tuples (see :func:`fastdnn.reference.network.forward`).
"""

import numpy as np

from .network import _backward, _forward, _l2_sum

__all__ = [
    "compute_cost_with_regularization",
    "backward_propagation_with_regularization",
    "forward_propagation_with_dropout",
    "backward_propagation_with_dropout",
]


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy cost plus the L2 term: ``1./m * np.nansum(logprobs) + (1./m*lambd/2)*(sum_l ||Wl||^2)``.

    A3, Y: (1, m). The cross-entropy part is the course's ``reg_utils.compute_cost``
    (note ``np.nansum``: entries that are nan, i.e. ``0 * log(0)`` at a saturated
    output, are dropped); the L2 term sums ``np.sum(np.square(Wl))`` over all
    L layers left to right, as the course's ``W1, W2, W3``. Always added.
    """
    m = Y.shape[1]

    logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cross_entropy_cost = 1. / m * np.nansum(logprobs)  # This gives you the cross-entropy part of the cost

    L2_regularization_cost = (1. / m * lambd / 2) * _l2_sum(parameters)

    cost = cross_entropy_cost + L2_regularization_cost

    return cost


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """Backward pass of the ReLU/.../sigmoid network with the L2 gradient ``(lambd * W) / m`` on every dW.

    ``cache``: the course's no-dropout cache ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``.
    Returns the course's gradients dict (``dZl, dWl, dbl`` and ``dAl`` for l < L).
    """
    L = len(tuple(cache)) // 4
    return _backward(X, Y, cache, ["relu"] * (L - 1), "sigmoid", lambd, 1.0, False)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """Forward pass with inverted dropout on every hidden (ReLU) layer, sigmoid output.

    Course quirk kept: calls ``np.random.seed(1)`` first, then draws
    ``D = np.random.rand(n_l, m) < keep_prob`` layer by layer. Masks are drawn
    even when ``keep_prob == 1`` (as the course). Returns ``(AL, cache)`` with the
    course's dropout cache ``(Z1, D1, A1, W1, b1, ..., ZL, AL, WL, bL)``.
    """
    np.random.seed(1)
    L = len(parameters) // 2
    return _forward(X, parameters, ["relu"] * (L - 1), "sigmoid", keep_prob, True, None)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """Backward pass matching :func:`forward_propagation_with_dropout`.

    Reapplies each hidden layer's mask to its dA, then divides by ``keep_prob``
    (``dA = dA * D; dA = dA / keep_prob``). Returns the course's gradients dict.
    """
    L = (len(tuple(cache)) - 4) // 5 + 1
    return _backward(X, Y, cache, ["relu"] * (L - 1), "sigmoid", 0.0, keep_prob, True)
