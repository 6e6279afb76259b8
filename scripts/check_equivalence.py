#!/usr/bin/env python
"""Check fastdnn's compiled paths against the plain-NumPy reference.

Runs ``fastdnn.functional`` (every seed function) and ``DeepNeuralNetwork``
(both training strategies) against ``fastdnn.reference`` over a grid of depths,
widths, example counts and both dtypes, prints one row per case with the max abs
and max relative difference, and exits 1 if any case exceeds its tolerance.

"rel" is normwise per array: max|got - want| / max|want|, the largest over the
arrays a case compares (elementwise ratios blow up on entries near zero).

Tolerances (stated, not tuned per case):
- float64 single functions: 1e-12; float64 training after N iterations: 1e-9.
- float32: compared with the float64 reference run on the same (float32-rounded)
  inputs, at 1e-4 for single functions and 1e-3 for training. float32 carries
  ~1e-7 relative rounding per operation; training compounds it over N
  iterations. (The seed's own dAL formula loses more in float32; fastdnn
  starts backprop from dZL = AL - Y, which is exact in the same algebra.)

Usage: python scripts/check_equivalence.py [--iterations 100] [--quick]
"""

import argparse
import sys

import numpy as np

from fastdnn import DeepNeuralNetwork
from fastdnn import functional as F
from fastdnn import reference as R
from fastdnn.initializers import initialize

TOL = {("float64", "function"): 1e-12, ("float64", "training"): 1e-9,
       ("float32", "function"): 1e-4, ("float32", "training"): 1e-3}


def diff(got, want):
    """(max abs, normwise rel) difference over matching arrays / dicts / lists / scalars."""
    if isinstance(want, dict):
        pairs = [(got[k], want[k]) for k in want]
    elif isinstance(want, (list, tuple)):
        pairs = list(zip(got, want))
    else:
        pairs = [(got, want)]
    worst_abs = worst_rel = 0.0
    for g, w in pairs:
        g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
        a = float(np.max(np.abs(g - w))) if w.size else 0.0
        worst_abs = max(worst_abs, a)
        worst_rel = max(worst_rel, a / max(float(np.max(np.abs(w))), 1e-300) if w.size else 0.0)
    return worst_abs, worst_rel


def problem(dims, m, dtype, seed=1):
    """X (n_x, m) in [0, 1), Y (1, m) of 0/1, and 'scaled' initial parameters, in dtype.

    The float64 copies the reference gets are made from the dtype-rounded values.
    """
    rng = np.random.default_rng(seed)
    X = rng.random((dims[0], m)).astype(dtype)
    Y = (rng.random((1, m)) > 0.5).astype(dtype)
    Y[0, 0], Y[0, -1] = 0, 1 if m > 1 else 0
    params = {k: v.astype(dtype) for k, v in initialize(dims, "scaled", seed).items()}
    return X, Y, params


def f64(x):
    if isinstance(x, dict):
        return {k: f64(v) for k, v in x.items()}
    return np.asarray(x, dtype=np.float64)


def function_cases(dims, m, dtype):
    """(name, got, want) for each seed function on one layer shape and one network."""
    X, Y, params = problem(dims, m, dtype)
    rng = np.random.default_rng(2)
    n = dims[1]
    W, b = params["W1"], params["b1"] + dtype(0.1)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    yield "linear_forward", F.linear_forward(X, W, b)[0], R.linear_forward(f64(X), f64(W), f64(b))[0]
    for act in ("relu", "sigmoid"):
        yield ("linear_activation_forward/" + act, F.linear_activation_forward(X, W, b, act)[0],
               R.linear_activation_forward(f64(X), f64(W), f64(b), act)[0])
        Z = f64(W) @ f64(X)
        backward = F.relu_backward if act == "relu" else F.sigmoid_backward
        ref_backward = R.relu_backward if act == "relu" else R.sigmoid_backward
        yield act + "_backward", backward(dZ, Z.astype(dtype)), ref_backward(f64(dZ), f64(Z.astype(dtype)))
    yield ("linear_backward", F.linear_backward(dZ, (X, W, b)),
           R.linear_backward(f64(dZ), (f64(X), f64(W), f64(b))))
    AL, caches = F.L_model_forward(X, params)
    AL_r, caches_r = R.L_model_forward(f64(X), f64(params))
    yield "L_model_forward", AL, AL_r
    yield "compute_cost", F.compute_cost(AL, Y), R.compute_cost(AL_r, f64(Y))
    grads = F.L_model_backward(AL, Y, caches)
    grads_r = R.L_model_backward(AL_r, f64(Y), caches_r)
    yield "L_model_backward", grads, grads_r
    yield ("update_parameters", F.update_parameters(dict(params), grads, 0.05),
           R.update_parameters(f64(params), grads_r, 0.05))


def training_cases(dims, m, dtype, iterations):
    """(name, got, want) for N training iterations, costs and parameters compared."""
    X, Y, params = problem(dims, m, dtype)
    lr, every = 0.05, max(iterations // 10, 1)
    want_p, want_c = R.L_layer_model(f64(X), f64(Y), dims, lr, iterations,
                                     initial_parameters=f64(params), record_every=every)
    strategies = ["direct", "gram"] if len(dims) > 2 else ["direct"]
    for strategy in strategies:
        model = DeepNeuralNetwork(dims, lr, dtype=np.dtype(dtype).name, strategy=strategy)
        model.fit(X, Y, iterations, initial_parameters=params, record_every=every)
        yield "DeepNeuralNetwork/%s params" % strategy, model.parameters_, want_p
        yield "DeepNeuralNetwork/%s costs" % strategy, model.costs_, want_c
    got_p, got_c = F.L_layer_model(X, Y, dims, lr, iterations, initial_parameters=params,
                                   record_every=every)
    yield "functional.L_layer_model params", got_p, want_p
    yield "functional.L_layer_model costs", got_c, want_c


def grid(quick):
    dims = [[3, 1], [5, 4, 3, 1], [20, 16, 8, 1], [200, 20, 7, 5, 1], [64, 32, 32, 16, 8, 1]]
    ms = [1, 4, 57] if not quick else [4, 57]
    if quick:
        dims = dims[1:4]
    return [(d, m) for d in dims for m in ms]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a smaller grid (for the test suite)")
    args = parser.parse_args(argv)
    rows, failures, worst = [], 0, {}
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        for dims, m in grid(args.quick):
            cases = [("function", c) for c in function_cases(dims, m, dtype)]
            cases += [("training", c) for c in training_cases(dims, m, dtype, args.iterations)]
            for kind, (case, got, want) in cases:
                a, r = diff(got, want)
                ok = r <= TOL[name, kind]
                failures += not ok
                rows.append((name, str(dims), m, case, a, r, TOL[name, kind], "ok" if ok else "FAIL"))
                worst[name, kind] = max(worst.get((name, kind), 0.0), r)
    header = ("dtype", "layer_dims", "m", "case", "max abs", "max rel", "tol", "")
    print("%-8s %-22s %4s %-36s %10s %10s %8s %s" % header)
    for row in rows:
        print("%-8s %-22s %4d %-36s %10.2e %10.2e %8.0e %s" % row)
    print("\nworst max rel: " + ", ".join("%s %s %.2e (tol %.0e)" % (k[0], k[1], v, TOL[k])
                                          for k, v in sorted(worst.items())))
    print("%d cases, %d over tolerance" % (len(rows), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
