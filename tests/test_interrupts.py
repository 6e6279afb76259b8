"""Ctrl-C during fit and in ``fastdnn train``: a quick, clean stop that continues exactly.

- A child process trains a long run with a checkpoint; the parent sends SIGINT; the child
  catches ``fastdnn.TrainingInterrupted`` within a compiled call's length
  (``CHUNK_SECONDS``) and saves; the saved state, resumed to the end (from the checkpoint,
  or by a warm start from the saved model), equals an uninterrupted run bit for bit.
- In process: one SIGINT -> TrainingInterrupted, two -> KeyboardInterrupt at once; the
  SIGINT handler is put back.
- ``fastdnn train --checkpoint``: SIGINT -> exit status 130, one line on stderr, model
  and checkpoint saved; the command it prints continues the run to the same final model
  as an uninterrupted CLI run.
- First run honesty: with an empty Numba cache the CLI says it is compiling and how long
  that took; the next run says the kernels came from the cache.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastdnn
from fastdnn.checkpoint import read_checkpoint

from conftest import assert_params_equal, binary_problem

#: SIGINT to exception, at most (the loop stops at the end of the current compiled call,
#: about CHUNK_SECONDS = 0.25 s, then writes the checkpoint).
MAX_LATENCY = 1.5

CHILD = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    import fastdnn

    mode, ck, out, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = np.random.RandomState(0)
    X = rng.randn(50, 400)
    Y = (rng.randn(1, 50) @ X > 0).astype(np.float64)
    # tanh: no exactly-zero gradients, so Adam's moments never reach subnormal numbers
    settings = dict(layer_dims=[50, 32, 16, 1], learning_rate=0.001, hidden_activation="tanh",
                    optimizer="adam", keep_prob=0.9, batch_size=32, dropout_seed=7)

    def arrays(model):
        state = model.optimizer_state_
        out = {"n_iter": np.array(model.n_iter_), "costs": np.array(model.costs_),
               "cost_iterations": np.array(model.cost_iterations_),
               "t": np.array(state["t"]), "rng": np.array(state["rng"], np.uint64),
               "position": np.array(state["position"])}
        out.update({"p_" + k: a for k, a in model.parameters_.items()})
        out.update({"v_" + k: a for k, a in state["v"].items()})
        out.update({"s_" + k: a for k, a in state["s"].items()})
        return out

    if mode == "train":
        model = fastdnn.DeepNeuralNetwork(**settings)
        model.fit(X, Y, num_epochs=2)                    # kernels loaded before "ready"
        model = fastdnn.DeepNeuralNetwork(**settings)
        print("ready", flush=True)
        try:
            model.fit(X, Y, num_epochs=epochs, record_every=1000, checkpoint=ck,
                      checkpoint_every=100)
            print(json.dumps({"finished": True}), flush=True)
        except fastdnn.TrainingInterrupted as stop:
            caught = time.monotonic()
            model.save(out)
            print(json.dumps({"caught": caught, "iteration": stop.iteration,
                              "n_iter": model.n_iter_,
                              "position": model.optimizer_state_["position"],
                              "message": str(stop)}), flush=True)
    elif mode == "continue":                             # from the checkpoint, and warm
        resumed = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=ck)
        np.savez(out + ".resumed.npz", **arrays(resumed))
        saved = fastdnn.load_model(out)
        saved.fit(X, Y, num_epochs=epochs - saved.n_iter_, record_every=1000, warm_start=True)
        np.savez(out + ".warm.npz", **arrays(saved))
    else:                                                # the uninterrupted run
        model = fastdnn.DeepNeuralNetwork(**settings)
        model.fit(X, Y, num_epochs=epochs, record_every=1000)
        np.savez(out, **arrays(model))
''')

#: Epochs of the child's run: about 3 s on this machine (0.8 ms per epoch of 13 steps).
EPOCHS = 4000


def _same_arrays(a, b):
    a, b = np.load(a), np.load(b)
    assert sorted(a.files) == sorted(b.files)
    return [k for k in a.files if not (a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]))]


def test_sigint_stops_within_a_chunk_and_the_run_continues_exactly(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    ck, out = tmp_path / "ck.h5", tmp_path / "stopped.h5"
    ref = tmp_path / "reference.npz"

    def child(mode, target):
        return subprocess.Popen([sys.executable, str(script), mode, str(ck), str(target),
                                 str(EPOCHS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    reference = child("reference", ref)
    train = child("train", out)
    assert train.stdout.readline().strip() == "ready", train.communicate()
    time.sleep(1.0)
    sent = time.monotonic()
    train.send_signal(signal.SIGINT)
    stdout, stderr = train.communicate(timeout=60)
    assert train.returncode == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert "finished" not in report, "the run ended before the SIGINT: make EPOCHS larger"
    latency = report["caught"] - sent
    print("\nSIGINT -> TrainingInterrupted in %.3f s, at epoch %d (batch %d of the next) of "
          "%d: %s" % (latency, report["n_iter"], report["position"], EPOCHS,
                      report["message"]))
    assert latency < MAX_LATENCY
    assert 0 < report["n_iter"] < EPOCHS and report["iteration"] == report["n_iter"]
    assert "checkpoint" in report["message"]
    # the checkpoint holds the state the model was saved with
    stopped = fastdnn.load_model(out)
    at, run = read_checkpoint(ck)
    assert run.target == EPOCHS
    assert (at.n_iter_, at.optimizer_state_["position"]) == (report["n_iter"],
                                                            report["position"])
    assert stopped.optimizer_state_["position"] == report["position"]
    assert_params_equal(at.parameters_, stopped.parameters_)
    # and it continues to the uninterrupted run's bits
    cont = child("continue", out)
    _, err = cont.communicate(timeout=120)
    assert cont.returncode == 0, err
    _, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err
    assert _same_arrays(str(out) + ".resumed.npz", ref) == []
    assert _same_arrays(str(out) + ".warm.npz", ref) == []


# --------------------------------------------------------------------------- in process

def _problem():
    X, Y = binary_problem(n_x=6, m=40, seed=3)
    return X, Y, dict(layer_dims=[6, 5, 4, 1], learning_rate=0.05, optimizer="momentum",
                      keep_prob=0.8, batch_size=16)


def _interrupting(times, at_call):
    """A fit callback that raises SIGINT ``times`` times at its ``at_call``-th call."""
    calls = []

    def callback(iteration, cost):
        calls.append(iteration)
        if len(calls) == at_call:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
    return callback


def test_one_sigint_raises_training_interrupted_with_the_state_kept(tmp_path):
    X, Y, settings = _problem()
    reference = fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=30, record_every=2)
    handler = signal.getsignal(signal.SIGINT)
    model = fastdnn.DeepNeuralNetwork(**settings)
    ck = tmp_path / "ck.h5"
    with pytest.raises(fastdnn.TrainingInterrupted) as info:
        model.fit(X, Y, num_epochs=30, record_every=2, callback=_interrupting(1, 4),
                  checkpoint=ck, checkpoint_every=1000)
    assert isinstance(info.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is handler
    assert info.value.iteration == model.n_iter_ and 0 < model.n_iter_ < 30
    assert "Ctrl-C" in str(info.value) and str(ck) in str(info.value)
    assert read_checkpoint(ck)[0].n_iter_ == model.n_iter_     # written at the stop
    more = 30 - model.n_iter_
    model.fit(X, Y, num_epochs=more, record_every=2, warm_start=True)
    assert_params_equal(model.parameters_, reference.parameters_)
    assert model.costs_ == reference.costs_
    resumed = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=ck)
    assert_params_equal(resumed.parameters_, reference.parameters_)
    assert resumed.costs_ == reference.costs_


def test_a_second_sigint_raises_keyboard_interrupt_at_once(tmp_path):
    X, Y, settings = _problem()
    handler = signal.getsignal(signal.SIGINT)
    ck = tmp_path / "ck.h5"
    model = fastdnn.DeepNeuralNetwork(**settings)
    with pytest.raises(KeyboardInterrupt) as info:
        model.fit(X, Y, num_epochs=30, record_every=2, callback=_interrupting(2, 4),
                  checkpoint=ck, checkpoint_every=1000)
    assert not isinstance(info.value, fastdnn.TrainingInterrupted)
    assert signal.getsignal(signal.SIGINT) is handler
    assert not ck.exists()                      # stopped at once: no checkpoint written


def test_without_sigint_the_handler_is_put_back(tmp_path):
    X, Y, settings = _problem()
    handler = signal.getsignal(signal.SIGINT)
    fastdnn.DeepNeuralNetwork(**settings).fit(X, Y, num_epochs=3, checkpoint=tmp_path / "c.h5")
    assert signal.getsignal(signal.SIGINT) is handler
    with pytest.raises(ValueError):
        fastdnn.DeepNeuralNetwork(**settings).fit(X, Y[:, :5], num_epochs=3)
    assert signal.getsignal(signal.SIGINT) is handler


# --------------------------------------------------------------------------- the CLI

CLI_RUN = ["--epochs", "2500", "--layers", "64,32", "--batch-size", "8", "--keep-prob", "0.9",
           "--learning-rate", "0.01", "--record-every", "1000", "--quiet"]


def _cli(args, cwd, env=None):
    return subprocess.Popen([sys.executable, "-m", "fastdnn", "train", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _assert_same_model(a, b):
    assert a.n_iter_ == b.n_iter_
    assert_params_equal(a.parameters_, b.parameters_)
    assert a.costs_ == b.costs_ and a.cost_iterations_ == b.cost_iterations_
    for key in ("v", "s"):
        if b.optimizer_state_[key] is None:
            assert a.optimizer_state_[key] is None
        else:
            assert_params_equal(a.optimizer_state_[key], b.optimizer_state_[key])
    for key in ("t", "rng", "position", "partial"):
        assert a.optimizer_state_[key] == b.optimizer_state_[key], key


def test_cli_sigint_saves_exits_130_and_the_printed_command_continues_exactly(tmp_path):
    reference = _cli([*CLI_RUN, "--out", "reference.h5"], tmp_path)
    run = _cli([*CLI_RUN, "--checkpoint", "ck.h5", "--out", "model.h5"], tmp_path)
    for line in run.stdout:                     # up to the warm-up's last line
        if line.startswith("kernels "):
            break
    else:
        pytest.fail("no warm-up line: %s" % (run.communicate(),))
    time.sleep(1.0)
    sent = time.monotonic()
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=60)
    exited = time.monotonic() - sent
    assert run.returncode == 130, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    print("\nCLI: SIGINT -> exit 130 in %.3f s; stderr: %s" % (exited, lines[0]))
    assert lines[0].startswith("fastdnn: interrupted at epoch ")
    assert "saved model.h5 and the checkpoint ck.h5" in lines[0]
    assert exited < MAX_LATENCY + 1.0
    stopped = fastdnn.load_model(tmp_path / "model.h5")
    at, run_plan = read_checkpoint(tmp_path / "ck.h5")
    assert 0 < stopped.n_iter_ < 2500 and run_plan.target == 2500
    assert "epoch %d" % stopped.n_iter_ in lines[0]
    assert at.n_iter_ == stopped.n_iter_
    assert_params_equal(at.parameters_, stopped.parameters_)
    info = subprocess.run([sys.executable, "-m", "fastdnn", "info", "ck.h5"], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout
    assert "checkpoint:       a run at epoch %d" % stopped.n_iter_ in info
    assert "--resume ck.h5" in info
    # the command printed on stderr continues the run
    command = shlex.split(lines[0].split("(continue with: ", 1)[1].rstrip(")"))
    assert command[:2] == ["fastdnn", "train"] and "--resume" in command
    cont = _cli(command[2:], tmp_path)
    stdout, stderr = cont.communicate(timeout=120)
    assert cont.returncode == 0, stderr
    assert "resuming: the run checkpointed in ck.h5, at epoch %d" % stopped.n_iter_ in stdout
    _, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err
    _assert_same_model(fastdnn.load_model(tmp_path / "model.h5"),
                       fastdnn.load_model(tmp_path / "reference.h5"))


def test_cli_resume_flags_that_would_change_the_run_are_refused(tmp_path):
    from fastdnn.cli import main

    ck = tmp_path / "ck.h5"
    base = ["train", "--iterations", "20", "--layers", "3", "--quiet", "--out",
            str(tmp_path / "m.h5")]
    assert main([*base, "--checkpoint", str(ck), "--checkpoint-every", "5"]) == 0
    assert main(["train", "--resume", str(ck), "--quiet", "--out", str(tmp_path / "m.h5"),
                 "--checkpoint-every", "5", "--record-every", "100"]) == 0   # the same plan
    for extra, flag in ((["--iterations", "5"], "--iterations"),
                        (["--record-every", "7"], "--record-every"),
                        (["--checkpoint-every", "9s"], "--checkpoint-every")):
        assert main(["train", "--resume", str(ck), "--out", str(tmp_path / "m.h5"),
                     *extra]) == 2, flag
    for argv in (["--checkpoint-every", "0"], ["--checkpoint-every", "abc"],
                 ["--checkpoint-every", "0s"], ["--checkpoint-every", "5"],
                 ["--checkpoint", str(tmp_path / "m.h5")]):
        assert main([*base, *argv]) == 2, argv


def test_cli_first_run_says_it_compiles_and_the_next_loads_from_the_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env.pop("FASTDNN_NUMBA_CACHE", None)
    args = ["--iterations", "5", "--layers", "3", "--quiet", "--out", "m.h5"]
    outputs = []
    for _ in range(2):
        t0 = time.monotonic()
        proc = _cli(args, tmp_path, env)
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        outputs.append((stdout, time.monotonic() - t0))
    (first, first_s), (second, second_s) = outputs
    kernel_lines = [[line for line in out.splitlines() if "kernels" in line]
                    for out, _ in outputs]
    print("\nfirst run (%.1f s): %s\nsecond run (%.1f s): %s"
          % (first_s, kernel_lines[0], second_s, kernel_lines[1]))
    lines = first.splitlines()
    compiling = lines.index("compiling kernels, first run only ...")
    assert lines[compiling + 1].startswith("kernels compiled in ")
    assert compiling < [i for i, line in enumerate(lines) if line.startswith("wall time:")][0]
    assert "compiling" not in second
    assert len(kernel_lines[1]) == 1 and kernel_lines[1][0].startswith(
        "kernels loaded from cache in ")
    assert float(kernel_lines[1][0].split()[-2]) < float(lines[compiling + 1].split()[-2])


# --------------------------------------------------------------------------- known bugs

@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_optimizer_moments_never_become_subnormal(optimizer):
    X, Y = binary_problem(n_x=30, m=200, seed=0)
    model = fastdnn.DeepNeuralNetwork([30, 20, 1], 0.001, optimizer=optimizer)
    model.fit(X, Y, 10)
    model.parameters_["b1"][:10] = -1e6         # half the hidden units die: g = 0 from here on
    model.fit(X, Y, 8000, warm_start=True)      # 0.9 ** 7000 < 2.2e-308
    tiny = np.finfo(np.float64).tiny
    v = np.concatenate([a.ravel() for a in model.optimizer_state_["v"].values()])
    subnormal = v[(v != 0) & (np.abs(v) < tiny)]
    assert subnormal.size == 0, "%d subnormal moments, e.g. %r" % (subnormal.size, subnormal[:3])
