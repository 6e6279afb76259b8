"""Saving and loading ``DeepNeuralNetwork`` objects through ``fastdnn.io.model_file`` files."""

import numpy as np

from .model import DeepNeuralNetwork
from .io.model_file import load_model_file, save_model_file

HYPERPARAMETERS = ("learning_rate", "init", "random_state", "strategy", "n_threads")


def save_model(model, path):
    """Write a fitted model (dims, activations, dtype, hyper-parameters, parameters, costs)."""
    from . import __version__

    model._check_fitted()
    save_model_file(path, {
        "layer_dims": model.layer_dims_,
        "activations": model.activations_,
        "dtype": model.dtype_.name,
        "hyperparameters": {k: getattr(model, k) for k in HYPERPARAMETERS},
        "parameters": model.parameters_,
        "costs": np.asarray(model.costs_, dtype=np.float64),
        "cost_iterations": np.asarray(model.cost_iterations_, dtype=np.int64),
        "n_iter": model.n_iter_,
        "fastdnn_version": __version__,
    })


def load_model(path):
    """A fitted ``DeepNeuralNetwork`` from a file written by ``save``; predicts as it did.

    Continue training it with ``fit(X, Y, n, warm_start=True)``.
    """
    p = load_model_file(path)
    model = DeepNeuralNetwork(p["layer_dims"], dtype=p["dtype"], activations=p["activations"],
                              **{k: p["hyperparameters"][k] for k in HYPERPARAMETERS
                                 if k in p["hyperparameters"]})
    model.layer_dims_, model.activations_ = list(p["layer_dims"]), list(p["activations"])
    model.dtype_ = np.dtype(p["dtype"])
    model.parameters_ = {k: np.asarray(a) for k, a in p["parameters"].items()}
    model.costs_ = [float(c) for c in p["costs"]]
    model.cost_iterations_ = [int(i) for i in p["cost_iterations"]]
    model.n_iter_ = int(p["n_iter"])
    model.strategy_ = None
    return model
