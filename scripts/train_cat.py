#!/usr/bin/env python
"""Train the cat classifier end to end, with fastdnn and with the plain-NumPy reference.

The cat-classifier follow-up's two models, on the course's cat / non-cat files:

* two-layer  [12288, 7, 1]         init "small"  (randn * 0.01, zero biases, seed 1)
* four-layer [12288, 20, 7, 5, 1]  init "scaled" (randn / sqrt(n_prev), zero biases, seed 1)

learning rate 0.0075, 2500 iterations. Both fastdnn and the reference ``L_layer_model``
start from the same ``fastdnn.initializers.initialize(dims, init, 1)`` parameters; the
script prints the cost every 100 iterations, train/test accuracy, both wall times and
the largest relative parameter difference between the two.

    python scripts/train_cat.py [--data-dir DIR] [--iterations N] [--skip-reference]

Known results of the course: two-layer train 1.0 / test 0.72; four-layer train ~0.985 /
test 0.80.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import fastdnn
from fastdnn.io.data import load_dataset
from fastdnn.initializers import initialize
from fastdnn.reference import L_layer_model
from fastdnn.reference import predict as reference_predict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
FILES = ("train_catvnoncat.h5", "test_catvnoncat.h5")
MODELS = (
    ("two-layer", [12288, 7, 1], "small"),
    ("four-layer", [12288, 20, 7, 5, 1], "scaled"),
)
SEED = 1


def max_relative_difference(params, reference):
    """max over arrays k of max|params[k] - reference[k]| / max|reference[k]|."""
    worst = 0.0
    for k, ref in reference.items():
        scale = float(np.max(np.abs(ref))) or 1.0
        worst = max(worst, float(np.max(np.abs(params[k] - ref))) / scale)
    return worst


def accuracy(pred, Y):
    return float(np.mean(np.asarray(pred).ravel() == np.asarray(Y).ravel()))


def run(name, dims, init, train, test, args):
    print("=" * 72)
    print("%s model %s, init %r (seed %d), learning rate %g, %d iterations"
          % (name, dims, init, SEED, args.learning_rate, args.iterations))
    print("=" * 72)
    params0 = initialize(dims, init, SEED)

    model = fastdnn.DeepNeuralNetwork(dims, args.learning_rate, init=init, random_state=SEED)
    t0 = time.perf_counter()
    model.fit(train.X, train.Y, args.iterations, initial_parameters=params0,
              record_every=args.record_every)
    t_fast = time.perf_counter() - t0
    for it, cost in zip(model.cost_iterations_, model.costs_):
        print("Cost after iteration %d: %f" % (it, cost))
    train_acc = model.score(train.X, train.Y)
    test_acc = model.score(test.X, test.Y)
    print("fastdnn:   train accuracy %.4f, test accuracy %.4f" % (train_acc, test_acc))
    print("fastdnn:   wall time %.2f s (%s strategy)" % (t_fast, model.strategy_))
    result = {"name": name, "train": train_acc, "test": test_acc, "fastdnn_s": t_fast}

    if not args.skip_reference:
        t0 = time.perf_counter()
        ref_params, ref_costs = L_layer_model(train.X, train.Y, dims, args.learning_rate,
                                              args.iterations, initial_parameters=params0,
                                              record_every=args.record_every)
        t_ref = time.perf_counter() - t0
        ref_train = accuracy(reference_predict(train.X, ref_params), train.Y)
        ref_test = accuracy(reference_predict(test.X, ref_params), test.Y)
        cost_diff = float(np.max(np.abs(np.asarray(model.costs_) - np.asarray(ref_costs))))
        rel = max_relative_difference(model.parameters_, ref_params)
        print("reference: train accuracy %.4f, test accuracy %.4f" % (ref_train, ref_test))
        print("reference: wall time %.2f s (L_layer_model, plain NumPy) -> fastdnn is %.1fx "
              "faster" % (t_ref, t_ref / t_fast))
        print("max |cost difference| over the %d recorded costs: %.3g"
              % (len(ref_costs), cost_diff))
        print("max relative parameter difference (max_k max|W_k - W_k^ref| / max|W_k^ref|): %.3g"
              % rel)
        result.update(reference_s=t_ref, rel=rel, ref_train=ref_train, ref_test=ref_test)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help="folder with %s and %s (default: ../shared/data from the repo root, "
                   "i.e. %s)" % (FILES + (DEFAULT_DATA_DIR,)))
    p.add_argument("--iterations", type=int, default=2500, help="default: 2500")
    p.add_argument("--learning-rate", type=float, default=0.0075, help="default: 0.0075")
    p.add_argument("--record-every", type=int, default=100, help="default: 100")
    p.add_argument("--skip-reference", action="store_true",
                   help="do not run the plain-NumPy reference (~25 s per model)")
    args = p.parse_args(argv)
    if args.iterations < 1 or args.record_every < 1 or not args.learning_rate > 0:
        p.error("--iterations, --record-every and --learning-rate must be positive")

    paths = [args.data_dir / f for f in FILES]
    missing = [str(q) for q in paths if not q.is_file()]
    if missing:
        print("train_cat: error: data file(s) not found: %s; pass --data-dir DIR (the folder "
              "holding %s and %s)" % (", ".join(missing), *FILES), file=sys.stderr)
        return 1
    try:
        train, test = load_dataset(paths)
    except (ValueError, OSError) as err:
        print("train_cat: error: %s" % err, file=sys.stderr)
        return 1
    print("data: %s: train %d, test %d examples, n_x = %d, classes %s"
          % (args.data_dir, train.m, test.m, train.n_x, train.classes))

    # Load the compiled kernels (from Numba's disk cache, or compile them) before timing.
    t0 = time.perf_counter()
    for strategy in ("direct", "gram"):
        fastdnn.DeepNeuralNetwork([train.n_x, 3, 1], strategy=strategy).fit(
            train.X[:, :8], train.Y[:, :8], 1)
    print("(warm-up: fastdnn kernels loaded in %.2f s, not included in the timings below)"
          % (time.perf_counter() - t0))

    results = [run(name, dims, init, train, test, args) for name, dims, init in MODELS]

    print("=" * 72)
    print("summary (course: two-layer train 1.0 / test 0.72; four-layer train ~0.985 / test 0.80)")
    for r in results:
        line = "  %-10s train %.4f  test %.4f  fastdnn %6.2f s" % (
            r["name"], r["train"], r["test"], r["fastdnn_s"])
        if "reference_s" in r:
            line += "  reference %6.2f s (%.1fx)  max rel. param. diff %.2g" % (
                r["reference_s"], r["reference_s"] / r["fastdnn_s"], r["rel"])
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
