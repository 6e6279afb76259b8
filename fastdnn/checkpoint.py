"""Checkpoints: a model file that also carries what continues a run mid-way.

``fit(X, Y, n, checkpoint=path, checkpoint_every=k)`` writes, atomically,
every k epochs (an int) or seconds (a string "30s") and when the run ends or
is interrupted, a model file (``fastdnn.persistence``: parameters, optimiser
moments, Adam's t, the dropout generator, the recorded costs, every
hyper-parameter) whose ``/checkpoint`` group adds the run itself:

- the plan: target epoch, record_every, checkpoint cadence, early stopping and
  patience, and the strategy chosen (so "auto" cannot choose otherwise on resume);
- where the run stands inside an epoch: next batch and running loss total
  (``position``, ``partial``; kept with any saved model);
- the Gram strategy's raw state (``gram_*``: W1(0), V(0), Z1, S, C, coef), since
  its parameters are formed from them and forming them again would round;
- with early stopping, the best parameters so far (``best_*``);
- SHA-256 fingerprints of X, Y and the validation data, so that a resume on
  other data is refused instead of silently computing something else.

``fit(X, Y, resume=path)`` reads all of it back and continues to the same
bits as the run that was never stopped (same machine and thread settings).
"""

import hashlib
import re
import time
from dataclasses import dataclass, field

import numpy as np

_EVERY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s\s*$")


def parse_every(every):
    """("epochs", k) for an int k >= 1, ("seconds", x) for "30s" (or a timedelta)."""
    import datetime
    import numbers

    if isinstance(every, datetime.timedelta):
        seconds = every.total_seconds()
    elif isinstance(every, str) and _EVERY.match(every):
        seconds = float(_EVERY.match(every).group(1))
    elif isinstance(every, numbers.Integral) and not isinstance(every, bool) and every >= 1:
        return ("epochs", int(every))
    else:
        raise ValueError("checkpoint_every must be a number of epochs (an int >= 1) or of "
                         "seconds (a string such as '30s'); got %r" % (every,))
    if not seconds > 0:
        raise ValueError("checkpoint_every must be a positive time; got %r" % (every,))
    return ("seconds", seconds)


def fingerprint(*arrays):
    """SHA-256 (hex) of the arrays' shapes, dtypes and bytes ("" for None)."""
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            continue
        a = np.ascontiguousarray(a)
        digest.update(("%s%s" % (a.dtype.str, a.shape)).encode())
        digest.update(memoryview(a).cast("B"))
    return digest.hexdigest()


@dataclass
class RunPlan:
    """A checkpointed run: where it is written, how often, and what it is."""

    path: object
    every: tuple
    record_every: int
    early_stopping: bool
    patience: int
    target: int = None
    strategy: str = None
    gram: dict = None
    best: tuple = None
    data: str = None
    validation: str = None
    _arrays: tuple = field(default=None, repr=False)
    _last: tuple = field(default=None, repr=False)

    def begin(self, engine, target, X, Y, validation):
        """Start (or go on with) the run on the engine; nothing is written yet."""
        self.target, self.strategy = target, engine.strategy
        self._arrays = (X, Y, validation)
        self._last = (None, time.monotonic())

    def due(self, iteration, engine):
        """Whether a checkpoint is due after reaching ``iteration`` (epochs)."""
        last_iteration, last_time = self._last
        if last_iteration is None:
            self._last = (iteration, last_time)
            return False
        kind, amount = self.every
        if kind == "epochs":
            return iteration - last_iteration >= amount
        return time.monotonic() - last_time >= amount

    def write(self, model, engine, monitor):
        """Write the model and the run's state to ``path``, atomically."""
        from .persistence import save_model

        if self.data is None:
            X, Y, validation = self._arrays
            self.data = fingerprint(X, Y)
            self.validation = fingerprint(*validation) if validation is not None else ""
        extra = {"target": int(self.target), "record_every": int(self.record_every),
                 "every_kind": self.every[0], "every": float(self.every[1]),
                 "early_stopping": bool(self.early_stopping), "patience": int(self.patience),
                 "strategy": self.strategy, "data": self.data, "validation": self.validation}
        gram = engine.gram_state()
        if gram is not None:
            extra.update({"gram_" + k: v for k, v in gram.items()})
        cost, iteration, params = monitor.best
        if self.early_stopping and params is not None:
            extra.update({"best_cost": float(cost), "best_iteration": int(iteration)})
            extra.update({"best_" + k: v for k, v in params.items()})
        save_model(model, self.path, checkpoint=extra)
        self._last = (model.n_iter_, time.monotonic())

    def check_data(self, path, X, Y, validation):
        """Refuse to resume on other data than the run's (by fingerprint)."""
        if fingerprint(X, Y) != self.data:
            raise ValueError("%r was checkpointed on other training data: X and Y must be the "
                             "ones the run started with (same values, shapes and dtype)"
                             % str(path))
        if (fingerprint(*validation) if validation is not None else "") != self.validation:
            raise ValueError("%r was checkpointed with other validation data (or none): give "
                             "the run's validation_data" % str(path))


def read_checkpoint(path):
    """(model, RunPlan) from a checkpoint file; ValueError when it holds no run."""
    from .persistence import load_model

    model = load_model(path)
    cp = model.__dict__.pop("_checkpoint", None) or {}
    if "target" not in cp:
        raise ValueError("%r is a model file without a run to resume (no checkpoint written by "
                         "fit(..., checkpoint=path)); continue it with fit(X, Y, n, "
                         "warm_start=True)" % str(path))
    every = ("epochs", int(cp["every"])) if cp["every_kind"] == "epochs" else (
        "seconds", float(cp["every"]))
    run = RunPlan(path=path, every=every, record_every=int(cp["record_every"]),
                  early_stopping=bool(cp["early_stopping"]), patience=int(cp["patience"]),
                  target=int(cp["target"]), strategy=str(cp["strategy"]),
                  data=str(cp["data"]), validation=str(cp["validation"]))
    gram = {k[5:]: np.asarray(v) for k, v in cp.items() if k.startswith("gram_")}
    run.gram = gram or None
    if "best_cost" in cp:
        params = {k[5:]: np.asarray(v) for k, v in cp.items()
                  if k.startswith("best_") and k[5:6] in ("W", "b") and k[6:].isdigit()}
        run.best = (float(cp["best_cost"]), int(cp["best_iteration"]), params)
    return model, run
