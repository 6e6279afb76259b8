#!/usr/bin/env python
"""Kill a checkpointed training run with SIGKILL at random moments, resume it, compare.

A child process trains with ``fit(X, Y, n, checkpoint=ck, checkpoint_every=...)``
(``fastdnn.engine.trainer.CHUNK_SECONDS`` set tiny, so that every compiled call
is one step and checkpoints written by time land inside epochs too). The parent
kills it with SIGKILL after a random delay (seeded), once a checkpoint of that
child exists; a new child resumes from the checkpoint
(``DeepNeuralNetwork([1, 1]).fit(X, Y, resume=ck)``) and is killed again, and so
on ``--kills`` times; the last child is left to finish. Its parameters, costs and
optimizer state must equal, bit for bit, those of an uninterrupted run with the
same settings (another child), and those of a plain ``fit`` without checkpoints
and with the default CHUNK_SECONDS.

    python scripts/kill_resume.py                    # every case, 20 kills each
    python scripts/kill_resume.py --case minibatch --kills 50 --epochs 3000 --seed 7

Prints, per case, a table (kill #, delay, the checkpoint's epoch and position
after the kill, whether the next child resumed from it and went on) and the
verdict; exits 1 when a final result differs from the uninterrupted run.
``tests/test_checkpoint_resume.py`` runs the same code on short runs.

(SIGKILL can land while a checkpoint is being written: the file is replaced
atomically, so the previous checkpoint stays whole; the temporary file of the
interrupted write, ``.ck.h5.<pid>.<random>.tmp``, is left behind and counted.)
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: The problems: a network, its data and how it is checkpointed. ``epochs`` is sized so
#: that an uninterrupted run with a checkpoint every epoch (or 10 ms) takes a few seconds.
CASES = {
    # full batch, Adam, dropout: the direct strategy (m > n_x, and Adam is never 'gram')
    "adam-dropout": dict(
        data=dict(kind="softmax", n_x=20, m=60, classes=3, seed=0),
        model=dict(layer_dims=[20, 8, 6, 3], learning_rate=0.01, output="softmax",
                   optimizer="adam", keep_prob=0.8, dropout_seed=3),
        epochs=400, record_every=10, every=1, strategy="direct"),
    # mini-batches of 8 (7 full and one of 4 per epoch), Adam, dropout, decay; checkpoints
    # every 10 ms, so they stand inside epochs (position > 0) as often as not
    "minibatch": dict(
        data=dict(kind="softmax", n_x=20, m=60, classes=3, seed=1),
        model=dict(layer_dims=[20, 8, 6, 3], learning_rate=0.01, output="softmax",
                   optimizer="adam", keep_prob=0.8, batch_size=8, decay="inverse",
                   decay_rate=0.01, shuffle_seed=4, dropout_seed=5),
        epochs=4000, record_every=7, every="0.01s", strategy="direct"),
    # mini-batches cut across the cores ("split"; no dropout, which it refuses), Adam and
    # decay, checkpoints every 10 ms: every resumed child loads the parallel kernels anew
    "split": dict(
        data=dict(kind="softmax", n_x=20, m=60, classes=3, seed=3),
        model=dict(layer_dims=[20, 8, 6, 3], learning_rate=0.01, output="softmax",
                   optimizer="adam", batch_size=8, decay="inverse", decay_rate=0.01,
                   shuffle_seed=4, strategy="split"),
        epochs=400, record_every=7, every="0.01s", strategy="split"),
    # the Gram strategy: full-batch momentum, L2, dropout, m = 30 < n_x = 80 ("auto")
    "gram": dict(
        data=dict(kind="binary", n_x=80, m=30, seed=2),
        model=dict(layer_dims=[80, 8, 6, 1], learning_rate=0.05, optimizer="momentum",
                   lambd=0.1, keep_prob=0.8, dropout_seed=6),
        epochs=400, record_every=10, every=1, strategy="gram"),
}

#: CHUNK_SECONDS in the children: every compiled call is one step.
CHUNK = 1e-6


# --------------------------------------------------------------------------- child side

def make_data(spec):
    """X (n_x, m) float64 and Y: integer labels (1, m) (softmax) or 0/1 labels (1, m)."""
    rng = np.random.RandomState(spec["seed"])
    X = rng.randn(spec["n_x"], spec["m"])
    if spec["kind"] == "softmax":
        Y = np.argmax(rng.randn(spec["classes"], spec["n_x"]) @ X, axis=0).reshape(1, -1)
    else:
        Y = (rng.randn(1, spec["n_x"]) @ X > 0).astype(np.float64)
    return X, Y


def result_arrays(model):
    """Everything a run ends with, as named arrays (compared bit for bit)."""
    out = {"n_iter": np.array(model.n_iter_), "costs": np.array(model.costs_, np.float64),
           "cost_iterations": np.array(model.cost_iterations_, np.int64)}
    out.update({"param_" + k: a for k, a in model.parameters_.items()})
    state = model.optimizer_state_
    for key in ("v", "s"):
        for k, a in (state.get(key) or {}).items():
            out["%s_%s" % (key, k)] = a
    out["t"] = np.array(state["t"])
    out["rng"] = np.array(state["rng"], dtype=np.uint64)
    out["position"] = np.array(state.get("position", 0))
    return out


def child(mode, case, ck, out):
    """Train (mode "run"), resume (mode "resume") or compute the references ("reference")."""
    import fastdnn
    import fastdnn.engine.trainer as trainer

    X, Y = make_data(case["data"])
    if mode == "reference":                    # plain fit: default chunks, no checkpoint
        plain = fastdnn.DeepNeuralNetwork(**case["model"]).fit(
            X, Y, num_epochs=case["epochs"], record_every=case["record_every"])
        np.savez(out + ".plain.npz", **result_arrays(plain))
    trainer.CHUNK_SECONDS = CHUNK
    print("ready", flush=True)
    if mode == "resume":
        model = fastdnn.DeepNeuralNetwork([1, 1]).fit(X, Y, resume=ck)
    else:
        model = fastdnn.DeepNeuralNetwork(**case["model"]).fit(
            X, Y, num_epochs=case["epochs"], record_every=case["record_every"],
            checkpoint=ck, checkpoint_every=case["every"])
    # strategy_ is None after a resume of a checkpoint that had reached its end (a child
    # killed after its last write): fit(resume=) then returns at once
    np.savez(out, strategy=np.array(str(model.strategy_)), **result_arrays(model))
    print("done", flush=True)


# --------------------------------------------------------------------------- parent side

def start_child(mode, case, ck, out):
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", mode, json.dumps(case),
         str(ck), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, what, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("%s exited with %s:\n%s%s" % (what, proc.returncode, out, err))


def _inode(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def checkpoint_position(ck):
    """(epoch, position in the epoch, target) of the checkpoint at ``ck``."""
    from fastdnn.checkpoint import read_checkpoint

    model, run = read_checkpoint(ck)
    return model.n_iter_, int(model.optimizer_state_.get("position", 0)), run.target


def kill_and_resume(case, kills, seed, workdir, delays=(0.05, 0.35), log=None, timeout=120):
    """Run ``case`` in children killed ``kills`` times at random moments, each kill after
    the child wrote a checkpoint of its own, then let the last one finish.

    Returns {"rows": [(kill #, delay, epoch, position)], "result": path of the final
    arrays, "tmp_left": temporary files left by killed writes, "finished_early": whether
    a child finished before its kill}."""
    workdir = Path(workdir)
    rng = random.Random(seed)
    ck, out = workdir / "ck.h5", workdir / "final.npz"
    for stale in (ck, out):
        if stale.exists():
            stale.unlink()
    rows, mode, finished_early = [], "run", False
    while True:
        before = _inode(ck)
        proc = start_child(mode, case, ck, out)
        if proc.stdout.readline().strip() != "ready":
            finish(proc, "the %s child" % mode)
            raise RuntimeError("the %s child did not start" % mode)
        if len(rows) >= kills:
            finish(proc, "the last child", timeout)
            break
        deadline = time.monotonic() + timeout
        while _inode(ck) in (None, before) and proc.poll() is None:  # a checkpoint of its own
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("no checkpoint written in %s s" % timeout)
            time.sleep(0.002)
        delay = rng.uniform(*delays)
        time.sleep(delay)
        if proc.poll() is not None:            # the run ended before its kill
            finish(proc, "the %s child" % mode)
            finished_early = True
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        epoch, position, target = checkpoint_position(ck)
        rows.append((len(rows) + 1, delay, epoch, position))
        if log:
            log("kill %2d after %.3f s: checkpoint at epoch %d, position %d (of %d epochs)"
                % (rows[-1] + (target,)))
        mode = "resume"
    tmp_left = sorted(p.name for p in workdir.glob(".ck.h5.*.tmp"))
    return {"rows": rows, "result": out, "tmp_left": tmp_left,
            "finished_early": finished_early}


def start_reference(case, workdir):
    """Start the child computing the uninterrupted runs: (process, path of its result)."""
    workdir = Path(workdir)
    out = workdir / "reference.npz"
    return start_child("reference", case, workdir / "reference-ck.h5", out), out


def compare(result, reference):
    """Names of the arrays that differ (any bit, dtype or shape) between two result files."""
    a, b = np.load(result), np.load(reference)
    keys = sorted((set(a.files) | set(b.files)) - {"strategy"})
    return [k for k in keys if not (
        k in a.files and k in b.files and a[k].dtype == b[k].dtype
        and a[k].shape == b[k].shape and np.array_equal(a[k], b[k]))]


def warm_kernels():
    """Compile (or load) every kernel the cases use in one child, so that no timing below
    includes a compilation."""
    code = ("import sys; sys.path.insert(0, %r); import kill_resume as k, fastdnn\n"
            "for c in k.CASES.values():\n"
            "    X, Y = k.make_data(c['data'])\n"
            "    fastdnn.DeepNeuralNetwork(**c['model']).fit(X, Y, num_epochs=2)\n"
            % os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], check=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=sorted(CASES), action="append",
                   help="a case to run (repeatable; default: all)")
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs per case (default: 20)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of every case (default: each case's own, x the kills / 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random delays")
    p.add_argument("--min-delay", type=float, default=0.05)
    p.add_argument("--max-delay", type=float, default=0.35)
    p.add_argument("--workdir", default=None, help="where the files go (default: a temp dir)")
    args = p.parse_args(argv)
    import tempfile

    root = Path(args.workdir or tempfile.mkdtemp(prefix="kill_resume-"))
    warm_kernels()
    failed = False
    for number, name in enumerate(args.case or sorted(CASES)):
        case = json.loads(json.dumps(CASES[name]))
        case["epochs"] = args.epochs or max(case["epochs"],
                                            case["epochs"] * args.kills // 4)
        work = root / name
        work.mkdir(parents=True, exist_ok=True)
        ref_proc, ref_out = start_reference(case, work)
        t0 = time.monotonic()
        got = kill_and_resume(case, args.kills, args.seed + number, work,
                              (args.min_delay, args.max_delay))
        finish(ref_proc, "the reference child")
        print("\n%s: %s, %d epochs" % (name, case["model"], case["epochs"]))
        print("%6s %9s %10s %9s %11s" % ("kill #", "delay s", "ck epoch", "position",
                                         "resumed ok"))
        rows = got["rows"]
        for i, (k, delay, epoch, position) in enumerate(rows):
            # the next child resumed from this checkpoint: it went on to the next one
            nxt = rows[i + 1][2:] if i + 1 < len(rows) else None
            ok = nxt is None or nxt >= (epoch, position)
            print("%6d %9.3f %10d %9d %11s" % (k, delay, epoch, position,
                                               "yes" if ok else "NO"))
        diff = compare(got["result"], ref_out)
        diff_plain = compare(got["result"], str(ref_out) + ".plain.npz")
        strategy = str(np.load(got["result"])["strategy"])
        if strategy != case["strategy"]:
            diff.append("strategy %s, not %s" % (strategy, case["strategy"]))
        verdict = "BIT-IDENTICAL" if not diff and not diff_plain else "DIFFERENT"
        mid = sum(1 for r in rows if r[3] > 0)
        print("%s: %d kills (%d checkpoints mid-epoch)%s, %.1f s; final result vs the "
              "uninterrupted run: %s%s" % (
                  name, len(rows), mid, ", finished before a kill" if got["finished_early"]
                  else "", time.monotonic() - t0, verdict,
                  "" if verdict == "BIT-IDENTICAL" else " (%s)" % ", ".join(diff + diff_plain)))
        if got["tmp_left"]:
            print("  temporary files left by killed writes: %d" % len(got["tmp_left"]))
        failed |= verdict != "BIT-IDENTICAL"
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.exit(main())
