"""Faithful plain-NumPy reference of the seed notebook (the test oracle).

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
from .model import L_layer_model, predict

from . import model as _model
from . import seed as _seed

__all__ = _seed.__all__ + _model.__all__
