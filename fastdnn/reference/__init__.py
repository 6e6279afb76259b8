"""Faithful plain-NumPy reference of the seed notebook and of Course 2 (the test oracle).

- ``seed``, ``seed_model``: the seed notebook's helpers and its training loop.
- ``initialization``, ``optimization``, ``regularization``, ``gradient_check``:
  deeplearning.ai Course 2 ("Improving Deep Neural Networks") functions under
  the course's names and signatures.
- ``network``: a general L-layer network (any hidden activations; sigmoid,
  softmax or identity output; L2; dropout) in the course's conventions.
- ``training``: one training loop over all of it (the optimization notebook's ``model``).

``fastdnn.reference.model`` is the Course 2 training function
(:func:`fastdnn.reference.training.model`); the seed's loop lives in ``seed_model``.

Importing this package needs NumPy only: it never imports numba or any other
part of ``fastdnn``.
"""

from .seed import (
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialise_parameters,
    initialise_parameters_deep,
    initialize_parameters,
    initialize_parameters_deep,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    update_parameters,
)
from .seed_model import L_layer_model, predict

from . import gradient_check as _gradient_check
from . import initialization as _initialization
from . import seed_model as _seed_model
from . import network as _network
from . import optimization as _optimization
from . import regularization as _regularization
from . import seed as _seed
from . import training as _training

from .initialization import (
    initialize_parameters_he,
    initialize_parameters_random,
    initialize_parameters_zeros,
)
from .optimization import (
    initialize_adam,
    initialize_velocity,
    random_mini_batches,
    schedule_lr_decay,
    update_lr,
    update_parameters_with_adam,
    update_parameters_with_gd,
    update_parameters_with_momentum,
)
from .network import HIDDEN_ACTIVATIONS, OUTPUTS, backward, cost, forward, loss_sum
from .regularization import (
    backward_propagation_with_dropout,
    backward_propagation_with_regularization,
    compute_cost_with_regularization,
    forward_propagation_with_dropout,
)
from .gradient_check import (
    dictionary_to_vector,
    gradient_check_n,
    gradients_to_vector,
    vector_to_dictionary,
)
from .training import model

__all__ = (
    _seed.__all__
    + _seed_model.__all__
    + _initialization.__all__
    + _optimization.__all__
    + _network.__all__
    + _regularization.__all__
    + _gradient_check.__all__
    + _training.__all__
)
