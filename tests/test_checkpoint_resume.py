"""Checkpoints survive SIGKILL: kill a training child at random moments, resume, compare.

The kill-and-resume experiment is ``scripts/kill_resume.py`` (the same code at a
larger scale, ``--kills 20``): a child trains with ``checkpoint_every`` 1 epoch (or
10 ms) and ``CHUNK_SECONDS`` tiny, so that every compiled call is one step and
checkpoints written by time stand inside epochs; the parent SIGKILLs it after seeded
random delays, each time once the child has written a checkpoint of its own,
resumes in a new child, kills again, and finally lets a child finish. The result
(parameters, costs, optimizer state) must equal an uninterrupted run with the same
settings, and a plain ``fit`` without checkpoints, bit for bit.

The in-process tests below check what resuming refuses and accepts, and resume from
every kind of position inside an epoch deterministically (a "crash" right after the
k-th checkpoint write).
"""

import datetime
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest

import fastdnn
import fastdnn.checkpoint as checkpoint_module
import fastdnn.engine.trainer as trainer
from fastdnn.checkpoint import read_checkpoint

from conftest import assert_params_equal, binary_problem, softmax_problem

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kill_resume.py"
_spec = importlib.util.spec_from_file_location("kill_resume", SCRIPT)
kill_resume = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kill_resume)

#: SIGKILLs per case (each after the child wrote a checkpoint of its own).
KILLS = 4
#: Random delays between a child's first checkpoint and its kill (seconds).
DELAYS = (0.05, 0.35)


@pytest.fixture(scope="module")
def warm_kernels():
    """Compile (or load from the disk cache) every kernel of the cases once, in a child of
    its own, so that no kill timing below includes a compilation."""
    t0 = time.monotonic()
    kill_resume.warm_kernels()
    return time.monotonic() - t0


# --------------------------------------------------------------------------- SIGKILL

@pytest.mark.parametrize("name", sorted(kill_resume.CASES))
def test_sigkill_and_resume_is_bit_identical(name, tmp_path, warm_kernels):
    case = kill_resume.CASES[name]
    t0 = time.monotonic()
    reference, reference_out = kill_resume.start_reference(case, tmp_path)
    lines = []
    got = kill_resume.kill_and_resume(case, KILLS, seed=sorted(kill_resume.CASES).index(name),
                                      workdir=tmp_path, delays=DELAYS, log=lines.append)
    kill_resume.finish(reference, "the reference child")
    rows = got["rows"]
    print("\n%s (%.1f s, kernels warmed in %.1f s):\n  %s" % (
        name, time.monotonic() - t0, warm_kernels, "\n  ".join(lines)))
    # a child that finished before its kill ends the series early; the runs are sized so
    # that this does not happen here, but a very slow machine may get fewer kills
    assert len(rows) >= 2, lines
    positions = [(epoch, position) for _, _, epoch, position in rows]
    assert positions == sorted(positions), "a resumed child went backwards: %s" % positions
    assert positions[-1][0] <= case["epochs"]
    if case["model"].get("batch_size"):        # checkpoints by time stand inside epochs
        assert any(position > 0 for _, position in positions), positions
    final = np.load(got["result"])
    assert int(final["n_iter"]) == case["epochs"]
    assert str(final["strategy"]) == case["strategy"]
    assert kill_resume.compare(got["result"], reference_out) == []
    assert kill_resume.compare(got["result"], str(reference_out) + ".plain.npz") == []


# --------------------------------------------------------------------------- in process

def _adam_problem(strategy="direct"):
    """Adam mini-batches with dropout ("direct"), or without it ("split": each batch cut
    across the cores, which refuses dropout)."""
    X, labels, _ = softmax_problem(n_x=6, m=40, classes=3, seed=4)
    model = dict(layer_dims=[6, 5, 3], learning_rate=0.02, output="softmax", optimizer="adam",
                 keep_prob=0.8 if strategy == "direct" else 1.0, batch_size=8,
                 strategy=strategy)
    return X, labels, model


def _assert_same_run(a, b):
    assert a.n_iter_ == b.n_iter_
    assert_params_equal(a.parameters_, b.parameters_)
    assert a.costs_ == b.costs_ and a.cost_iterations_ == b.cost_iterations_
    for key in ("v", "s"):
        assert_params_equal(a.optimizer_state_[key], b.optimizer_state_[key])
    for key in ("t", "rng", "position", "partial"):
        assert a.optimizer_state_[key] == b.optimizer_state_[key], key


class _Crash(Exception):
    """Stands for a process killed right after a checkpoint write."""


@pytest.mark.parametrize("strategy", ["direct", "split"])
def test_resume_from_every_kind_of_position_in_an_epoch(tmp_path, monkeypatch, strategy):
    """A crash right after the k-th checkpoint write, with a checkpoint after every step
    (one step per compiled call): the checkpoint stands at batch k of an epoch; the
    resumed run equals the uninterrupted one."""
    X, Y, settings = _adam_problem(strategy)       # 5 batches per epoch (4 of 8, none left)
    epochs = 3
    reference = fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=epochs,
                                                          record_every=2)
    monkeypatch.setattr(trainer, "CHUNK_SECONDS", 1e-6)
    write = checkpoint_module.RunPlan.write
    seen = []
    for k in (1, 3, 4, 5, 7, 11):
        path = tmp_path / ("ck%d.h5" % k)
        writes = []

        def crashing_write(self, model, engine, monitor, _k=k, _writes=writes):
            write(self, model, engine, monitor)
            _writes.append(model.n_iter_)
            if len(_writes) == _k:
                raise _Crash()

        monkeypatch.setattr(checkpoint_module.RunPlan, "write", crashing_write)
        with pytest.raises(_Crash):
            fastdnn.DeepNeuralNetwork(**settings).fit(
                X, Y, num_epochs=epochs, record_every=2, checkpoint=path,
                checkpoint_every="0.000000001s")
        monkeypatch.setattr(checkpoint_module.RunPlan, "write", write)
        saved, _ = read_checkpoint(path)
        seen.append((saved.n_iter_, saved.optimizer_state_["position"]))
        resumed = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path)
        _assert_same_run(resumed, reference)
        assert resumed.strategy_ == strategy
    assert {position for _, position in seen} == {0, 1, 2, 3, 4}, seen


def test_resume_refuses_other_data(tmp_path):
    X, Y = binary_problem(n_x=5, m=20, seed=1)
    Xv, Yv = binary_problem(n_x=5, m=10, seed=2)
    path = tmp_path / "ck.h5"
    model = fastdnn.DeepNeuralNetwork([5, 4, 1], 0.1, optimizer="momentum")
    model.fit(X, Y, 10, checkpoint=path, checkpoint_every=3, validation_data=(Xv, Yv))
    other = X.copy()
    other[2, 7] += 1e-12
    with pytest.raises(ValueError, match="other training data"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(other, Y, resume=path, validation_data=(Xv, Yv))
    with pytest.raises(ValueError, match="other training data"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X, 1 - Y, resume=path, validation_data=(Xv, Yv))
    with pytest.raises(ValueError, match="other training data"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X.astype(np.float32).astype(np.float64)
                                              + 0.5, Y, resume=path, validation_data=(Xv, Yv))
    with pytest.raises(ValueError, match="other validation data"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path)
    with pytest.raises(ValueError, match="other validation data"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path, validation_data=(Xv, 1 - Yv))


def test_resume_of_a_finished_checkpoint_returns_at_once(tmp_path):
    X, Y, settings = _adam_problem()
    path = tmp_path / "ck.h5"
    done = fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=4, checkpoint=path,
                                                     checkpoint_every=1)
    before = os.stat(path)
    t0 = time.perf_counter()
    again = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path)
    assert time.perf_counter() - t0 < 1.0
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written
    _assert_same_run(again, done)
    assert again.layer_dims_ == done.layer_dims_ and again.optimizer == "adam"
    assert again.batch_size == 8 and again.keep_prob == 0.8


@pytest.mark.parametrize("extra", [dict(num_epochs=5), dict(num_iterations=5),
                                   dict(initial_parameters={"W1": np.zeros((5, 6))})])
def test_resume_takes_no_length(tmp_path, extra):
    X, Y, settings = _adam_problem()
    path = tmp_path / "ck.h5"
    fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=2, checkpoint=path)
    with pytest.raises(ValueError, match="resume continues the checkpointed run"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path, **extra)


def test_resume_of_a_plain_model_file_is_a_clear_error(tmp_path):
    X, Y, settings = _adam_problem()
    path = tmp_path / "model.h5"
    fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=2).save(path)
    with pytest.raises(ValueError, match="without a run to resume.*warm_start=True"):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path)
    with pytest.raises(FileNotFoundError):
        fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=tmp_path / "missing.h5")


@pytest.mark.parametrize("every", ["abc", 0, -1, "0s", "-1s", "", "1e3s", True, 1.5, None])
def test_checkpoint_every_is_validated(tmp_path, every):
    X, Y, settings = _adam_problem()
    path = tmp_path / "ck.h5"
    with pytest.raises(ValueError, match="checkpoint_every"):
        fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=2, checkpoint=path,
                                                  checkpoint_every=every)
    assert not path.exists()


@pytest.mark.parametrize("every, parsed", [
    (3, ("epochs", 3)), (np.int64(2), ("epochs", 2)), ("30s", ("seconds", 30.0)),
    (" 0.5 s ", ("seconds", 0.5)), (".25s", ("seconds", 0.25)),
    (datetime.timedelta(minutes=2), ("seconds", 120.0))])
def test_checkpoint_every_accepts_epochs_and_seconds(every, parsed):
    assert checkpoint_module.parse_every(every) == parsed


# --------------------------------------------------------------------------- known bugs

def test_resume_of_a_finished_checkpoint_keeps_the_strategy(tmp_path):
    X, Y, settings = _adam_problem()
    path = tmp_path / "ck.h5"
    done = fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=2, checkpoint=path)
    again = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path)
    assert again.strategy_ == done.strategy_ == "direct"


def _early_stopping_problem():
    X, Y = binary_problem(n_x=20, m=60, seed=0)
    Xv, Yv = binary_problem(n_x=20, m=25, seed=5)
    # a large Adam step: the validation cost is best at the start and then only rises
    return X, Y, (Xv, Yv), dict(layer_dims=[20, 8, 1], learning_rate=0.5, optimizer="adam")


def test_resume_of_an_early_stopped_run_returns_at_once(tmp_path):
    X, Y, val, settings = _early_stopping_problem()
    path = tmp_path / "ck.h5"
    done = fastdnn.DeepNeuralNetwork(**settings).fit(
        X, Y, 200, validation_data=val, early_stopping=True, patience=3, record_every=5,
        checkpoint=path, checkpoint_every=1)
    assert done.n_iter_ < 200                   # it did stop early
    again = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path, validation_data=val)
    assert again.n_iter_ == done.n_iter_
    assert again.costs_ == done.costs_ and again.val_costs_ == done.val_costs_
    assert_params_equal(again.parameters_, done.parameters_)


def test_resume_of_a_finished_early_stopping_run_keeps_the_best_parameters(tmp_path):
    X, Y, val, settings = _early_stopping_problem()
    path = tmp_path / "ck.h5"
    done = fastdnn.DeepNeuralNetwork(**settings).fit(
        X, Y, 30, validation_data=val, early_stopping=True, patience=100, record_every=5,
        checkpoint=path, checkpoint_every=1)
    assert done.n_iter_ == 30 and done.best_iteration_ < 30
    again = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=path, validation_data=val)
    assert again.best_iteration_ == done.best_iteration_
    assert_params_equal(again.parameters_, done.parameters_)
