"""Gradient checking of the compiled backward pass, for any configuration.

``gradient_check(model, X, Y)`` compares the gradients that the compiled
kernels compute for a ``DeepNeuralNetwork``'s configuration (any hidden
activations, output and loss, L2, dropout) with centred finite differences of
the compiled cost, the course's ``gradient_check_n`` recipe:

    difference = ||grad - approx|| / (||grad|| + ||approx||)

with approx_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps), and J the
regularised mean cost (the L2 term included). With dropout every evaluation
uses the same masks (the generator state is reset before each one), so J is
a deterministic function of theta. Everything runs in float64.

Finite differences need a differentiable point: where a relu or leaky-relu
pre-activation is exactly 0 (zero biases behind a dead or dropped-out layer
make whole rows of Z exactly 0) the two one-sided derivatives differ and the
check reports a false mismatch. Check at parameters with random biases
(``init="seed"`` draws them).
"""

from dataclasses import dataclass

import numpy as np

from . import validation as v
from .engine.rng import new_state
from .engine.workspace import Workspace
from .initializers import initialize
from .kernels.training import LAMBD, gradient_sums

#: The course's threshold: above it, "There is a mistake in the backward propagation!".
THRESHOLD = 2e-7


@dataclass
class GradientCheck:
    """Result of ``gradient_check``: gradients and approximations, seed-format dicts."""

    difference: float
    gradients: dict
    approximations: dict

    @property
    def ok(self):
        return self.difference <= THRESHOLD


def _cost_and_gradients(ws, X, Y, hp, seed):
    """(J, gradient dict dW1, db1, ...) of the regularised mean cost at ws.params."""
    m = X.shape[1]
    ws.rng[:] = new_state(seed)
    total = gradient_sums(X, Y, ws.dims, ws.codes, ws.w_off, ws.b_off, ws.a_off, ws.params,
                          ws.grads, ws.acts, ws.delta, ws.pre, ws.mask, hp, ws.rng)
    grads = ws.parameters(ws.grads, "d")
    lambd = hp[LAMBD]
    for l in range(1, ws.n_layers + 1):
        grads["dW%d" % l] = grads["dW%d" % l] / m + (lambd / m) * ws.W(l)
        grads["db%d" % l] = grads["db%d" % l] / m
    return total / m, grads


def gradient_check(model, X, Y, parameters=None, epsilon=1e-7):
    """Check the compiled gradients of ``model``'s configuration at ``parameters``.

    model: a ``DeepNeuralNetwork`` (fitted or not; only its configuration is
    used: layers, activations, output, lambd, keep_prob, dropout_seed).
    X (n_x, m), Y as ``fit`` takes it; parameters: seed-format dict (default:
    the model's fitted parameters, else its initialisation). Keep the network
    small: it costs two forward passes per parameter. Returns ``GradientCheck``.
    """
    dims, _, acts, opts = model._checked_config()
    epsilon = v.check_positive("epsilon", epsilon)
    X, Y = v.check_targets(X, Y, dims, np.float64, acts[-1])
    if parameters is None:
        parameters = getattr(model, "parameters_", None) or initialize(dims, model.init,
                                                                         model.random_state)
    parameters = v.check_parameters(parameters, dims, np.float64)
    ws = Workspace(dims, X.shape[1], np.float64, acts, dropout=opts.keep_prob < 1)
    ws.set_parameters(parameters)
    hp = opts.kernel_hyperparameters()
    _, grads = _cost_and_gradients(ws, X, Y, hp, opts.dropout_seed)
    approx = np.empty_like(ws.params)
    for i in range(ws.params.size):
        saved = ws.params[i]
        ws.params[i] = saved + epsilon
        plus, _ = _cost_and_gradients(ws, X, Y, hp, opts.dropout_seed)
        ws.params[i] = saved - epsilon
        minus, _ = _cost_and_gradients(ws, X, Y, hp, opts.dropout_seed)
        ws.params[i] = saved
        approx[i] = (plus - minus) / (2 * epsilon)
    grad_flat = np.concatenate([grads["d%s%d" % (p, l)].ravel()
                                for l in range(1, ws.n_layers + 1) for p in "Wb"])
    difference = (np.linalg.norm(grad_flat - approx)
                  / (np.linalg.norm(grad_flat) + np.linalg.norm(approx)))
    return GradientCheck(float(difference), grads, ws.parameters(approx, "d"))
