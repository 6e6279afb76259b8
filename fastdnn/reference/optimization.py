"""Course 2, Optimization Methods notebook: mini-batches, update rules, learning-rate decay.

Plain NumPy, with the notebook's names, signatures and arithmetic (the same
operations in the same order). ``parameters`` holds ``Wl`` (n_l, n_{l-1}) and
``bl`` (n_l, 1) for ``l = 1..L`` (``L = len(parameters) // 2``); ``grads``,
``v`` and ``s`` hold ``dWl`` and ``dbl`` of the same shapes.

Course semantics kept on purpose: the update functions assign *new* arrays
into the dicts they are given (``parameters``, ``v``, ``s``) and return those
same dicts, so the caller's dicts are modified while the old arrays themselves
are not changed in place (as the seed's ``update_parameters``).
"""

import math

import numpy as np

__all__ = [
    "update_parameters_with_gd",
    "random_mini_batches",
    "initialize_velocity",
    "update_parameters_with_momentum",
    "initialize_adam",
    "update_parameters_with_adam",
    "update_lr",
    "schedule_lr_decay",
]


def update_parameters_with_gd(parameters, grads, learning_rate):
    """One gradient-descent step: ``Wl = Wl - learning_rate * dWl`` (same for bl).

    Updates and returns the ``parameters`` dict passed in (module docstring).
    """
    L = len(parameters) // 2        # number of layers in the neural networks

    # Update rule for each parameter
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]

    return parameters


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the columns of (X, Y) together and cut them into mini-batches.

    X: (n_x, m); Y: (n_y, m) (the course has n_y = 1). Returns a list of
    ``(mini_batch_X, mini_batch_Y)`` tuples: ``floor(m / mini_batch_size)``
    full batches, then one smaller last batch if ``m % mini_batch_size != 0``.
    Every column appears exactly once.

    As the course: calls ``np.random.seed(seed)`` (resetting NumPy's global
    random state) and shuffles with ``list(np.random.permutation(m))``. The
    course reshapes the shuffled Y to ``(1, m)``; here to ``(Y.shape[0], m)``,
    which is the same for one row and also allows several.
    """
    np.random.seed(seed)            # To make your "random" minibatches the same as ours
    m = X.shape[1]                  # number of training examples
    mini_batches = []

    # Step 1: Shuffle (X, Y)
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((Y.shape[0], m))

    # Step 2: Partition (shuffled_X, shuffled_Y). Minus the end case.
    num_complete_minibatches = math.floor(m / mini_batch_size)  # number of mini batches of size mini_batch_size in your partitionning
    for k in range(0, num_complete_minibatches):
        mini_batch_X = shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size]
        mini_batch_Y = shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]
        mini_batch = (mini_batch_X, mini_batch_Y)
        mini_batches.append(mini_batch)

    # Handling the end case (last mini-batch < mini_batch_size)
    if m % mini_batch_size != 0:
        mini_batch_X = shuffled_X[:, num_complete_minibatches * mini_batch_size:m]
        mini_batch_Y = shuffled_Y[:, num_complete_minibatches * mini_batch_size:m]
        mini_batch = (mini_batch_X, mini_batch_Y)
        mini_batches.append(mini_batch)

    return mini_batches


def initialize_velocity(parameters):
    """Momentum velocity: ``{"dWl": zeros like Wl, "dbl": zeros like bl}``."""
    L = len(parameters) // 2        # number of layers in the neural networks
    v = {}

    # Initialize velocity
    for l in range(1, L + 1):
        v["dW" + str(l)] = np.zeros(parameters["W" + str(l)].shape)
        v["db" + str(l)] = np.zeros(parameters["b" + str(l)].shape)

    return v


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """One momentum step, per layer: ``v = beta*v + (1-beta)*dW``, then ``W = W - learning_rate*v``.

    (Same for b.) Returns ``(parameters, v)``: the dicts passed in, updated
    (module docstring).
    """
    L = len(parameters) // 2        # number of layers in the neural networks

    # Momentum update for each parameter
    for l in range(1, L + 1):
        # compute velocities
        v["dW" + str(l)] = beta * v["dW" + str(l)] + (1 - beta) * grads["dW" + str(l)]
        v["db" + str(l)] = beta * v["db" + str(l)] + (1 - beta) * grads["db" + str(l)]
        # update parameters
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * v["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * v["db" + str(l)]

    return parameters, v


def initialize_adam(parameters):
    """Adam's moving averages: ``(v, s)``, two dicts of zeros shaped like the parameters."""
    L = len(parameters) // 2        # number of layers in the neural networks
    v = {}
    s = {}

    # Initialize v, s. Input: "parameters". Outputs: "v, s".
    for l in range(1, L + 1):
        v["dW" + str(l)] = np.zeros(parameters["W" + str(l)].shape)
        v["db" + str(l)] = np.zeros(parameters["b" + str(l)].shape)
        s["dW" + str(l)] = np.zeros(parameters["W" + str(l)].shape)
        s["db" + str(l)] = np.zeros(parameters["b" + str(l)].shape)

    return v, s


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """One Adam step; ``t`` (>= 1) counts the Adam steps taken, this one included.

    Per parameter, in the course's order:
    ``v = beta1*v + (1-beta1)*dW``; ``v_corrected = v / (1 - beta1**t)``;
    ``s = beta2*s + (1-beta2)*(dW**2)``; ``s_corrected = s / (1 - beta2**t)``;
    ``W = W - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)``
    (epsilon outside the square root).

    Returns ``(parameters, v, s, v_corrected, s_corrected)``: the first three
    are the dicts passed in, updated (module docstring); the corrected
    estimates are new dicts.
    """
    L = len(parameters) // 2        # number of layers in the neural networks
    v_corrected = {}                # Initializing first moment estimate, python dictionary
    s_corrected = {}                # Initializing second moment estimate, python dictionary

    # Perform Adam update on all parameters
    for l in range(1, L + 1):
        # Moving average of the gradients. Inputs: "v, grads, beta1". Output: "v".
        v["dW" + str(l)] = beta1 * v["dW" + str(l)] + (1 - beta1) * grads["dW" + str(l)]
        v["db" + str(l)] = beta1 * v["db" + str(l)] + (1 - beta1) * grads["db" + str(l)]

        # Compute bias-corrected first moment estimate. Inputs: "v, beta1, t". Output: "v_corrected".
        v_corrected["dW" + str(l)] = v["dW" + str(l)] / (1 - beta1 ** t)
        v_corrected["db" + str(l)] = v["db" + str(l)] / (1 - beta1 ** t)

        # Moving average of the squared gradients. Inputs: "s, grads, beta2". Output: "s".
        s["dW" + str(l)] = beta2 * s["dW" + str(l)] + (1 - beta2) * (grads["dW" + str(l)] ** 2)
        s["db" + str(l)] = beta2 * s["db" + str(l)] + (1 - beta2) * (grads["db" + str(l)] ** 2)

        # Compute bias-corrected second raw moment estimate. Inputs: "s, beta2, t". Output: "s_corrected".
        s_corrected["dW" + str(l)] = s["dW" + str(l)] / (1 - beta2 ** t)
        s_corrected["db" + str(l)] = s["db" + str(l)] / (1 - beta2 ** t)

        # Update parameters. Inputs: "parameters, learning_rate, v_corrected, s_corrected, epsilon". Output: "parameters".
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * v_corrected["dW" + str(l)] / (np.sqrt(s_corrected["dW" + str(l)]) + epsilon)
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * v_corrected["db" + str(l)] / (np.sqrt(s_corrected["db" + str(l)]) + epsilon)

    return parameters, v, s, v_corrected, s_corrected


def update_lr(learning_rate0, epoch_num, decay_rate):
    """Decay on every epoch: ``1 / (1 + decay_rate * epoch_num) * learning_rate0``.

    Written in the course's order (its formula is
    ``alpha = 1 / (1 + decayRate * epochNumber) * alpha_0``); it can differ from
    ``learning_rate0 / (1 + decay_rate * epoch_num)`` in the last bit.
    """
    learning_rate = 1 / (1 + decay_rate * epoch_num) * learning_rate0

    return learning_rate


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """Fixed-interval decay: ``1 / (1 + decay_rate * np.floor(epoch_num / time_interval)) * learning_rate0``.

    The rate changes only every ``time_interval`` epochs. Course order as in
    :func:`update_lr`; returns a NumPy float (``np.floor`` of a Python float).
    """
    learning_rate = 1 / (1 + decay_rate * np.floor(epoch_num / time_interval)) * learning_rate0

    return learning_rate
