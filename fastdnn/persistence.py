"""Saving and loading ``DeepNeuralNetwork`` objects through ``fastdnn.io.model_file`` files.

A saved model carries every constructor argument (``HYPERPARAMETERS``), the
parameters, the cost history, the optimizer state (moments, step count,
dropout generator) and the validation curves, so that a loaded model predicts
as the saved one did and ``fit(X, Y, k, warm_start=True)`` continues it exactly:
fit(n), save, load, fit(k, warm_start=True) computes what fit(n + k) computes.
"""

import math

import numpy as np

from .engine.rng import new_state
from .io.estimator_file import is_estimator_file
from .io.model_file import ModelFileError, load_model_file, save_model_file
from .model import DeepNeuralNetwork

#: Every constructor argument of DeepNeuralNetwork but layer_dims and dtype (stored
#: apart, as the fitted ``layer_dims_`` and ``dtype_``).
HYPERPARAMETERS = ("learning_rate", "init", "random_state", "strategy", "n_threads",
                   "activations", "output", "hidden_activation", "optimizer", "beta", "beta1",
                   "beta2", "epsilon", "batch_size", "lambd", "keep_prob", "decay", "decay_rate",
                   "time_interval", "shuffle_seed", "dropout_seed", "update_arithmetic")
#: The moments each optimizer keeps (``optimizer_state_["v"]`` / ``["s"]``).
_MOMENTS = {"gd": (), "momentum": ("v",), "adam": ("v", "s")}


def _plain(value):
    """A hyper-parameter as JSON stores it (tuples as lists, numpy scalars as Python)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _implied_state(model):
    """The optimizer state of a model fitted without one on record (a version-1 file:
    full-batch gradient descent): no moments, no Adam steps, and the dropout
    generator untouched at ``dropout_seed`` (version-1 models had no dropout)."""
    return {"v": None, "s": None, "t": 0,
            "rng": int(new_state(model.dropout_seed)[0])}


def _state_to_save(model):
    """``optimizer_state_`` with the moments the optimizer needs: zeros stand in for
    absent ones (what ``fit(warm_start=True)`` starts from), e.g. after the optimizer
    of a fitted model was changed."""
    state = getattr(model, "optimizer_state_", None) or _implied_state(model)
    state = dict(state)
    for key in _MOMENTS.get(model.optimizer, ()):
        if state.get(key) is None:
            state[key] = {"d" + k: np.zeros_like(a) for k, a in model.parameters_.items()}
    return state


def _validation_to_save(model):
    """The validation curves (None as NaN) padded to one value per recorded cost, or None.

    A ``fit(warm_start=True)`` without validation data after one with it leaves
    ``val_costs_`` shorter than ``costs_``: the later record points have no value (None).
    """
    if not hasattr(model, "val_costs_"):
        return None
    k = len(model.costs_)
    curves = {}
    for key, name in (("costs", "val_costs_"), ("scores", "val_scores_")):
        values = list(getattr(model, name, []))
        if len(values) > k:
            raise ValueError("%s has %d values but only %d costs are recorded"
                             % (name, len(values), k))
        values += [None] * (k - len(values))
        curves[key] = np.array([np.nan if x is None else float(x) for x in values],
                               dtype=np.float64)
    best = getattr(model, "best_iteration_", None)
    curves["best_iteration"] = None if best is None else int(best)
    return curves


def _checkpoint_to_save(model, extra):
    """The /checkpoint entries: where a run stands inside an epoch (when not at its start),
    plus ``extra`` (a checkpoint's run state, ``fastdnn.checkpoint``); None if empty."""
    state = getattr(model, "optimizer_state_", None) or {}
    out = {}
    if state.get("position"):
        out["position"] = int(state["position"])
        out["partial"] = float(state.get("partial", 0.0))
    out.update(extra or {})
    return out or None


def save_model(model, path, checkpoint=None):
    """Write a fitted model: dims, activations, dtype, every hyper-parameter, parameters,
    costs, optimizer state and (when fitted with validation data) the validation curves."""
    from . import __version__

    model._check_fitted()
    model._checked_config()      # refuse to write what load_model would refuse to read
    save_model_file(path, {
        "layer_dims": model.layer_dims_,
        "activations": model.activations_,
        "dtype": model.dtype_.name,
        "hyperparameters": {k: _plain(getattr(model, k)) for k in HYPERPARAMETERS},
        "parameters": model.parameters_,
        "costs": np.asarray(model.costs_, dtype=np.float64),
        "cost_iterations": np.asarray(model.cost_iterations_, dtype=np.int64),
        "n_iter": int(model.n_iter_),
        "fastdnn_version": __version__,
        "optimizer_state": _state_to_save(model),
        "validation": _validation_to_save(model),
        "checkpoint": _checkpoint_to_save(model, checkpoint),
    })


def load_model(path):
    """A fitted ``DeepNeuralNetwork`` from a file written by ``save``; predicts as it did.
    (A file written by a scikit-learn estimator's ``save`` gives that estimator back.)

    Continue training it with ``fit(X, Y, k, warm_start=True)``: with a format-2 file
    this continues exactly (hyper-parameters, optimizer moments, step count, dropout
    generator, epoch numbering). A format-1 file (fastdnn 0.1, full-batch gradient
    descent) gives the defaults for the hyper-parameters it lacks and the state of plain
    gradient descent (no moments), which continues it exactly too.
    """
    if is_estimator_file(path):
        from .sklearn import load_estimator
        return load_estimator(path)
    p = load_model_file(path)
    where = repr(str(path))
    saved = p["hyperparameters"]
    kwargs = {k: saved[k] for k in HYPERPARAMETERS if k in saved}
    if "activations" not in saved and "hidden_activation" not in saved:
        kwargs["activations"] = list(p["activations"])     # format 1: the names on file
    model = DeepNeuralNetwork(list(p["layer_dims"]), dtype=p["dtype"], **kwargs)
    try:
        dims, _, acts, _ = model._checked_config()
    except (TypeError, ValueError) as err:
        raise ModelFileError("%s: invalid hyper-parameters in the model file: %s"
                             % (where, err)) from None
    if list(acts) != list(p["activations"]):
        raise ModelFileError("%s: the hyper-parameters give the activations %s but the file "
                             "records %s" % (where, list(acts), list(p["activations"])))
    model.layer_dims_, model.activations_ = list(dims), list(p["activations"])
    model.dtype_ = np.dtype(p["dtype"])
    model.parameters_ = {k: np.asarray(a) for k, a in p["parameters"].items()}
    model.costs_ = [float(c) for c in p["costs"]]
    model.cost_iterations_ = [int(i) for i in p["cost_iterations"]]
    model.n_iter_ = int(p["n_iter"])
    model.strategy_ = None
    state = p["optimizer_state"]
    if state is None:
        model.optimizer_state_ = _implied_state(model)
    else:
        model.optimizer_state_ = {
            "v": None if state["v"] is None else {k: np.asarray(a) for k, a in state["v"].items()},
            "s": None if state["s"] is None else {k: np.asarray(a) for k, a in state["s"].items()},
            "t": int(state["t"]), "rng": int(state["rng"])}
    cp = dict(p.get("checkpoint") or {})
    model.optimizer_state_["position"] = int(cp.pop("position", 0))
    model.optimizer_state_["partial"] = float(cp.pop("partial", 0.0))
    if cp:
        model._checkpoint = cp          # a run to resume (fastdnn.checkpoint.read_checkpoint)
    val = p["validation"]
    if val is not None:
        model.val_costs_ = [None if math.isnan(c) else float(c) for c in val["costs"]]
        model.val_scores_ = [None if math.isnan(s) else float(s) for s in val["scores"]]
        if val["best_iteration"] is not None:
            model.best_iteration_ = int(val["best_iteration"])
    return model
