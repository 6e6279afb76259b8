"""Training loop and prediction built from the seed functions (plain NumPy).

The seed notebook leaves these to "the next notebook"; they are written here
from the seed's helpers only, as the reference the compiled trainer is checked
against.
"""

import copy

import numpy as np

from .seed import (
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialise_parameters_deep,
    update_parameters,
)

__all__ = ["L_layer_model", "predict"]


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, *, initial_parameters=None, record_every=100):
    """Train [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID by full-batch gradient descent.

    X: (n_0, m); Y: (1, m) labels in {0, 1}; ``layers_dims = [n_0, ..., n_L]``.

    Parameters start from ``initialise_parameters_deep(layers_dims)`` (which
    calls ``np.random.seed(3)``, resetting NumPy's global random state), or
    from a deep copy of ``initial_parameters`` (dict ``W1, b1, ...``) if given;
    the dict passed in is never modified.

    Each iteration ``i``: forward, cost, backward, update. When
    ``i % record_every == 0`` the cost of that iteration's forward pass (i.e.
    *before* its update) is appended to ``costs`` as a float, and printed as
    ``"Cost after iteration %i: %f"`` if ``print_cost``. So ``costs`` holds the
    costs at iterations 0, record_every, 2*record_every, ... and has
    ``ceil(num_iterations / record_every)`` entries.

    Returns ``(parameters, costs)``: the final dict of arrays and a list of floats.
    """
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every!r}")

    costs = []

    if initial_parameters is None:
        parameters = initialise_parameters_deep(layers_dims)
    else:
        parameters = copy.deepcopy(initial_parameters)

    for i in range(0, num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)

        if i % record_every == 0:
            costs.append(float(cost))
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))

    return parameters, costs


def predict(X, parameters):
    """Predicted labels: ``AL > 0.5`` as floats 0.0/1.0.

    X: (n_0, m); parameters: dict ``W1, b1, ..., WL, bL``.
    Returns an array of shape (1, m) (more generally (n_L, m)) of float64.
    """
    AL, _ = L_model_forward(X, parameters)
    return (AL > 0.5).astype(np.float64)
