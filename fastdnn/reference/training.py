"""One plain training loop over the Course 2 pieces, written the optimization notebook's way.

The notebook's ``model`` (mini-batches reshuffled every epoch, gd / momentum /
Adam, optional learning-rate decay) on the general network of
:mod:`fastdnn.reference.network`, with L2 and dropout, and with the state
needed to split a run in two. The compiled trainer is checked against it.
"""

import copy

from .initialization import initialize_parameters_he
from .network import _backward, _check_keep_prob, _check_output, _forward, _hidden_names, _l2_sum, loss_sum
from .optimization import (
    initialize_adam,
    initialize_velocity,
    random_mini_batches,
    update_parameters_with_adam,
    update_parameters_with_gd,
    update_parameters_with_momentum,
)

__all__ = ["model"]

OPTIMIZERS = ("gd", "momentum", "adam")


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9,
          beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True,
          decay=None, decay_rate=1, *, initial_parameters=None, hidden_activation="relu",
          output="sigmoid", lambd=0.0, keep_prob=1.0, masks=None, seed=10, record_every=100,
          start_epoch=0, optimizer_state=None, return_state=False):
    """Train by mini-batch gradient descent (``optimizer`` "gd", "momentum" or "adam").

    X: (n_0, m); Y: (n_L, m); ``layers_dims = [n_0, ..., n_L]``; m = X.shape[1].

    Start: parameters = a deep copy of ``initial_parameters``, else
    ``initialize_parameters_he(layers_dims)`` (the course's model uses
    ``opt_utils_v1a.initialize_parameters``, which is He initialisation;
    it calls ``np.random.seed(3)``). Optimizer state: a deep copy of
    ``optimizer_state`` (dict with ``v``, ``s``, ``t``) if given, else
    ``v = initialize_velocity(parameters)`` (momentum) or
    ``v, s = initialize_adam(parameters)`` (Adam) and ``t = 0``. The dicts
    passed in are never modified.

    Epochs ``e = start_epoch, ..., start_epoch + num_epochs - 1`` (counted over
    the model's life). Epoch e:
    1. batches = ``random_mini_batches(X, Y, mini_batch_size, seed + e + 1)``
       (the course sets ``seed = 10`` and adds 1 before every epoch; this
       reseeds NumPy's global random state), or, with ``mini_batch_size=None``,
       the one batch (X, Y) as given (no shuffling, no reseeding).
    2. for each batch, in order: ``forward`` (dropout iff ``keep_prob < 1``,
       masks from ``masks`` or else from the global random state right after
       that epoch's shuffle); the batch's summed cost
       ``c_b = loss_sum(AL, Y_b, output)``, plus ``lambd / 2 * S`` if
       ``lambd != 0`` where ``S = sum_l np.sum(np.square(Wl))`` (the regularised
       mean cost times the batch size m_b), taken on this forward pass, before
       this batch's update; ``backward`` (with ``lambd`` and ``keep_prob``);
       then the update with the current learning rate:
       ``update_parameters_with_gd``, ``update_parameters_with_momentum(..., beta, lr)``
       or, after ``t = t + 1``, ``update_parameters_with_adam(..., t, lr, beta1, beta2, epsilon)``
       (so t counts Adam steps from 1 over the model's life).
    3. the epoch's cost is ``cost_avg = (0 + c_1 + c_2 + ...) / m`` (summed in
       batch order, divided by the number of examples in X; for one full batch
       without L2 this is the mean cost).
    4. learning-rate decay, as the course: ``if decay: learning_rate =
       decay(learning_rate0, e, decay_rate)`` with ``learning_rate0`` the
       ``learning_rate`` argument. ``decay`` is ``update_lr``,
       ``schedule_lr_decay`` (pass ``functools.partial(schedule_lr_decay,
       time_interval=...)`` for another interval) or any callable like them. So
       epoch 0 uses learning_rate0 and epoch e > 0 uses ``decay(learning_rate0,
       e - 1, decay_rate)``; a run starting at ``start_epoch > 0`` starts from
       that rate.
    5. if ``e % record_every == 0``: ``float(cost_avg)`` is appended to
       ``costs`` and, if ``print_cost``, printed as ``"Cost after epoch %i: %f"``
       (and ``"learning rate after epoch %i: %f"`` with decay). The course
       prints every 1000 epochs and records every 100, only when print_cost.

    Returns ``(parameters, costs)``, or with ``return_state=True``
    ``(parameters, costs, state)`` where ``state = {"v", "s", "t", "epoch",
    "learning_rate"}`` (v / s None when unused; ``epoch`` the next epoch
    number; ``learning_rate`` the rate the next epoch would use). Calling again
    with ``start_epoch=state["epoch"]``, ``optimizer_state=state``, the same
    ``learning_rate`` (the original one) and the returned parameters as
    ``initial_parameters`` continues the run exactly, as one longer call would
    (with ``mini_batch_size=None`` and random dropout masks, provided the global
    random state is left as the first call left it).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every!r}")
    _check_keep_prob(keep_prob)
    _check_output(output)
    L = len(layers_dims) - 1
    names = _hidden_names(hidden_activation, L)
    dropout = keep_prob < 1

    costs = []                       # to keep track of the cost
    m = X.shape[1]                   # number of training examples
    learning_rate0 = learning_rate   # the original learning rate
    if decay and start_epoch > 0:
        learning_rate = decay(learning_rate0, start_epoch - 1, decay_rate)

    # Initialize parameters
    if initial_parameters is None:
        parameters = initialize_parameters_he(layers_dims)
    else:
        parameters = copy.deepcopy(initial_parameters)
        if len(parameters) != 2 * L or any(
                parameters["W" + str(l)].shape != (layers_dims[l], layers_dims[l - 1])
                or parameters["b" + str(l)].shape != (layers_dims[l], 1) for l in range(1, L + 1)):
            raise ValueError("initial_parameters do not match layers_dims")

    # Initialize the optimizer
    state = copy.deepcopy(optimizer_state) if optimizer_state is not None else {}
    v = state.get("v")
    s = state.get("s")
    t = state.get("t", 0)            # initializing the counter required for Adam update
    if optimizer == "momentum" and v is None:
        v = initialize_velocity(parameters)
    elif optimizer == "adam" and (v is None or s is None):
        v, s = initialize_adam(parameters)

    # Optimization loop
    for i in range(start_epoch, start_epoch + num_epochs):

        # Define the random minibatches. The seed changes every epoch to reshuffle the dataset differently.
        if mini_batch_size is None:
            minibatches = [(X, Y)]
        else:
            minibatches = random_mini_batches(X, Y, mini_batch_size, seed + i + 1)
        cost_total = 0

        for minibatch in minibatches:

            # Select a minibatch
            (minibatch_X, minibatch_Y) = minibatch

            # Forward propagation
            a, caches = _forward(minibatch_X, parameters, names, output, keep_prob, dropout, masks)

            # Compute the summed cost and add it to the cost total
            batch_cost = loss_sum(a, minibatch_Y, output)
            if lambd != 0:
                batch_cost = batch_cost + lambd / 2 * _l2_sum(parameters)
            cost_total += batch_cost

            # Backward propagation
            grads = _backward(minibatch_X, minibatch_Y, caches, names, output, lambd, keep_prob, dropout)

            # Update parameters
            if optimizer == "gd":
                parameters = update_parameters_with_gd(parameters, grads, learning_rate)
            elif optimizer == "momentum":
                parameters, v = update_parameters_with_momentum(parameters, grads, v, beta, learning_rate)
            elif optimizer == "adam":
                t = t + 1  # Adam counter
                parameters, v, s, _, _ = update_parameters_with_adam(parameters, grads, v, s,
                                                                     t, learning_rate, beta1, beta2, epsilon)
        cost_avg = cost_total / m
        if decay:
            learning_rate = decay(learning_rate0, i, decay_rate)

        if i % record_every == 0:
            costs.append(float(cost_avg))
            if print_cost:
                print("Cost after epoch %i: %f" % (i, cost_avg))
                if decay:
                    print("learning rate after epoch %i: %f" % (i, learning_rate))

    if return_state:
        state = {"v": v, "s": s, "t": t, "epoch": start_epoch + num_epochs,
                 "learning_rate": learning_rate}
        return parameters, costs, state
    return parameters, costs
