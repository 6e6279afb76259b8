#!/usr/bin/env python
"""Check fastdnn's compiled paths against the plain-NumPy reference.

Runs ``fastdnn.functional`` (every seed function and every Course 2 drop-in it
offers), the compiled update rules and gradients, and ``DeepNeuralNetwork``
(every training configuration, both strategies) against ``fastdnn.reference``
in both dtypes, prints one row per case with the max abs and max relative
difference, and exits 1 if any case exceeds its tolerance.

"rel" is normwise per array: max|got - want| / max|want|, the largest over the
arrays a case compares (elementwise ratios blow up on entries near zero).

What is compared:
- Seed functions (``functional`` vs ``reference``) and the seed's training loop
  (``DeepNeuralNetwork`` direct and Gram, ``functional.L_layer_model``) against
  ``reference.L_layer_model``, over a grid of depths, widths and example counts.
- Course 2 functions: every public name of the reference's Course 2 modules is
  looked up in ``fastdnn.functional``; compiled ones are compared, names that
  are the reference's own function (re-exported) or absent are listed, not
  compared. ``fastdnn.gradient_check``'s compiled gradients against
  ``reference.backward``; the engine's learning-rate schedule and epoch
  orders against ``reference.update_lr`` / ``schedule_lr_decay`` /
  ``random_mini_batches``.
- Update rules: one (and, through ``warm_start``, a second) full-batch step of
  ``DeepNeuralNetwork(optimizer=gd|momentum|adam)`` against
  ``reference.forward`` + ``reference.backward`` + ``update_parameters_with_*``
  (parameters, and momentum's / Adam's v and s).
- Training configurations (``--configs`` runs only these): ``DeepNeuralNetwork``
  against ``reference.model`` after N update steps (``--iterations``, default
  100; mini-batch runs train ceil(N / batches per epoch) epochs), comparing
  parameters and recorded costs. A covering set: every pair of (output x
  hidden activation x optimizer x batching x L2 x dropout x decay) levels
  appears in at least one configuration (checked and printed), plus a few
  more (every feature at once, batch size 1, a batch larger than m, batches
  that divide m), the Gram strategy with dropout and with every hidden
  activation and output (and with momentum / L2 / decay where the model
  accepts them), ``functional.model`` on some of them, and the seed notebook's
  configuration ([12288, 20, 7, 5, 1], m = 209, learning rate 0.0075, full-batch
  gradient descent) with both strategies. Dropout masks reach the reference
  through ``fastdnn.engine.rng.mask_source(dropout_seed, keep_prob)``.

Tolerances (stated, not tuned per case):
- float64 single functions: 1e-12; float64 training after N iterations: 1e-9
  (training configurations too).
- float32: compared with the float64 reference run on the same (float32-rounded)
  inputs, at 1e-4 for single functions and 1e-3 for the seed's training loop.
  float32 carries ~1e-7 relative rounding per operation; training compounds it
  over N iterations. (The seed's own dAL formula loses more in float32; fastdnn
  starts backprop from dZL = AL - Y, which is exact in the same algebra.)
- float32 training configurations: 1e-3 after N = 100 update steps, as for the
  seed's loop (float64 rows at 1e-9 catch any difference of formula; the float32
  rows check that the float32 kernels' rounding stays bounded). Measured over every
  configuration here: a float32 NumPy run of ``reference.model`` differs from its
  float64 run by at most ~1.3e-6 (parameters, normwise), fastdnn's float32 gd and
  momentum runs by at most ~2e-6, and its Adam runs by at most ~1e-6 when 1 - beta1
  and 1 - beta2 are formed in float64 (formed in float32 after rounding beta2 = 0.999,
  1 - beta2 is off by 1.3e-5 relative, ~1e-5 after 100 steps). The margin above
  rounding is for discrete events: rounding can move a ReLU pre-activation across 0
  for one example and so change a gradient by a finite amount, and Adam's step
  lr * v_hat / (sqrt(s_hat) + eps), normalised per parameter, moves a parameter with
  a small gradient by up to lr whatever the gradient's size, so such a jump is
  carried forward (with the float32 beta error above, one configuration here jumps
  from 1e-5 at step 20 to 2e-3 at step 40, in the weights of one hidden unit).
- The Gram rows use learning rate 0.02: with inputs in [0, 1) and n_x = 80, layer 1's
  largest curvature is about n_x / 4 = 20, so gradient descent at 0.1 runs at the edge
  of stability, where rounding grows exponentially (there even a float32 NumPy run of
  the reference differs from the float64 one by 0.2, and the direct strategy in
  float64 by 1e-6).

Usage: python scripts/check_equivalence.py [--iterations 100] [--quick] [--configs]
"""

import argparse
import copy
import functools
import math
import sys
import time
from collections import namedtuple
from itertools import combinations

import numpy as np

from fastdnn import DeepNeuralNetwork
from fastdnn import functional as F
from fastdnn import reference as R
from fastdnn.engine.rng import mask_source
from fastdnn.initializers import initialize

TOL = {("float64", "function"): 1e-12, ("float64", "training"): 1e-9,
       ("float32", "function"): 1e-4, ("float32", "training"): 1e-3}

#: Tolerances of the training-configuration rows, by dtype and optimizer (see the docstring).
CONFIG_TOL = {"float64": 1e-9, "float32": 1e-3}


# =============================================================================
# Comparison helpers
# =============================================================================

def _pairs(got, want):
    """Matching leaves of two nested dicts / lists / tuples (want's structure)."""
    if isinstance(want, dict):
        for k in want:
            yield from _pairs(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        if len(got) != len(want):
            raise ValueError("lengths differ: %d vs %d" % (len(got), len(want)))
        for g, w in zip(got, want):
            yield from _pairs(g, w)
    else:
        yield got, want


def diff(got, want):
    """(max abs, normwise rel) difference over matching arrays / dicts / lists / scalars.

    Shapes must match exactly (no broadcasting): a mismatch counts as inf.
    """
    worst_abs = worst_rel = 0.0
    for g, w in _pairs(got, want):
        g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
        if g.shape != w.shape:
            return np.inf, np.inf
        if not w.size:
            continue
        a = float(np.max(np.abs(g - w)))
        if np.isnan(a):
            a = np.inf
        worst_abs = max(worst_abs, a)
        worst_rel = max(worst_rel, a / max(float(np.max(np.abs(w))), 1e-300))
    return worst_abs, worst_rel


def f64(x):
    if isinstance(x, dict):
        return {k: f64(v) for k, v in x.items()}
    return np.asarray(x, dtype=np.float64)


def cast(x, dtype):
    if isinstance(x, dict):
        return {k: cast(v, dtype) for k, v in x.items()}
    return np.asarray(x, dtype=dtype)


# =============================================================================
# Seed functions and the seed's training loop (unchanged rows)
# =============================================================================

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


# =============================================================================
# Course 2 problems: any output, targets of the right kind
# =============================================================================

def targets(rng, output, n_out, m, dtype):
    """Y (n_out, m): 0/1 labels (sigmoid), one-hot columns (softmax) or reals (identity)."""
    if output == "sigmoid":
        Y = (rng.random((n_out, m)) > 0.5).astype(dtype)
        Y[:, 0], Y[:, -1] = 0, 1
        return Y
    if output == "softmax":
        labels = rng.integers(0, n_out, m)
        labels[:n_out] = np.arange(n_out)  # every class present
        return np.eye(n_out, dtype=dtype)[:, labels]
    return rng.standard_normal((n_out, m)).astype(dtype)


def net_problem(dims, m, output, dtype, seed):
    """X (n_x, m) in [0, 1), targets for ``output``, 'scaled' weights and small random biases."""
    rng = np.random.default_rng(seed)
    X = rng.random((dims[0], m)).astype(dtype)
    Y = targets(rng, output, dims[-1], m, dtype)
    params = initialize(dims, "scaled", seed)
    for l in range(1, len(dims)):
        params["b%d" % l] = 0.1 * rng.standard_normal((dims[l], 1))
    return X, Y, cast(params, dtype)


# =============================================================================
# Course 2 single functions
# =============================================================================

#: One small network per output for the single-function rows: (hidden, output, dims).
FUNCTION_NETS = [("relu", "sigmoid", [6, 5, 4, 1]), ("tanh", "softmax", [6, 5, 4, 3]),
                 (["leaky_relu", "sigmoid"], "identity", [6, 5, 4, 2]),
                 ("identity", "sigmoid", [6, 5, 4, 3])]


def _copy(x):
    return copy.deepcopy(x)


def _course2_names():
    """Public names of the reference's Course 2 modules (functions only)."""
    names = []
    for mod in (R._initialization, R._optimization, R._network, R._regularization,
                R._gradient_check, R._training):
        names += [n for n in mod.__all__ if callable(getattr(R, n, None))]
    return names


def course2_cases(name, fn, dtype):
    """(case, got, want) rows for the functional drop-in ``fn`` of reference ``name``."""
    ref = getattr(R, name)
    m = 9
    for k, (hidden, output, dims) in enumerate(FUNCTION_NETS):
        X, Y, params = net_problem(dims, m, output, dtype, seed=20 + k)
        kp = 0.8 if k % 2 else 1.0
        tag = "%s/%s%s" % (hidden if isinstance(hidden, str) else "+".join(hidden), output,
                           "/drop" if kp < 1 else "")
        masks = (lambda: mask_source(7, kp)) if kp < 1 else (lambda: None)
        AL_r, cache_r = R.forward(f64(X), f64(params), hidden, output, kp, masks())
        grads_r = R.backward(f64(X), f64(Y), cache_r, hidden, output, 0.7, kp)
        grads = cast({k_: v for k_, v in grads_r.items() if k_[:2] in ("dW", "db")}, dtype)
        grads0 = cast({k_: v for k_, v in R.backward(f64(X), f64(Y), cache_r, hidden, output, 0.0,
                                                     kp).items() if k_[:2] in ("dW", "db")}, dtype)
        if name == "forward":
            yield name + " " + tag, fn(X, params, hidden, output, kp, masks())[0], AL_r
        elif name == "loss_sum":
            yield (name + " " + tag, fn(cast(AL_r, dtype), Y, output),
                   R.loss_sum(AL_r, f64(Y), output))
        elif name == "cost":
            yield (name + " " + tag + " L2", fn(cast(AL_r, dtype), Y, params, output, 0.7),
                   R.cost(AL_r, f64(Y), f64(params), output, 0.7))
        elif name == "backward":
            cache = (F.forward(X, params, hidden, output, kp, masks())[1] if hasattr(F, "forward")
                     else tuple(cast(c, dtype) for c in cache_r))
            yield name + " " + tag + " L2", fn(X, Y, cache, hidden, output, 0.7, kp), grads_r
        elif name == "gradient_check_n" and kp == 1:
            got = fn(params, grads0, X, Y, 1e-7, False, hidden_activation=hidden, output=output)
            want = ref(f64(params), f64(grads0), f64(X), f64(Y), 1e-7, False,
                       hidden_activation=hidden, output=output)
            # differences are rounding noise of finite differences: compare the verdicts
            yield ("gradient_check_n verdict " + tag, np.float64(got > 2e-7),
                   np.float64(want > 2e-7))
        if k:
            continue
        # network-independent functions, on the first network
        v = {("d" + k_): 0.1 * np.ones_like(p) for k_, p in params.items()}
        s = {k_: 0.01 * (1 + np.abs(x)) for k_, x in v.items()}
        if name in ("initialize_parameters_zeros", "initialize_parameters_random",
                    "initialize_parameters_he") and dtype is np.float64:
            yield name, fn(dims), ref(dims)
        elif name == "random_mini_batches":
            yield name + " (size 4)", fn(X, Y, 4, 3), ref(f64(X), f64(Y), 4, 3)
        elif name in ("initialize_velocity",):
            yield name, fn(params), ref(f64(params))
        elif name == "initialize_adam":
            yield name, fn(params), ref(f64(params))
        elif name == "update_parameters_with_gd":
            yield name, fn(_copy(params), grads, 0.05), ref(f64(params), f64(grads), 0.05)
        elif name == "update_parameters_with_momentum":
            yield (name, fn(_copy(params), grads, cast(v, dtype), 0.9, 0.05),
                   ref(f64(params), f64(grads), f64(v), 0.9, 0.05))
        elif name == "update_parameters_with_adam":
            yield (name + " (t=3)", fn(_copy(params), grads, cast(v, dtype), cast(s, dtype), 3,
                                        0.01, 0.9, 0.999, 1e-8),
                   ref(f64(params), f64(grads), f64(v), f64(s), 3, 0.01, 0.9, 0.999, 1e-8))
        elif name == "update_lr" and dtype is np.float64:
            yield name, [fn(0.1, e, 0.3) for e in range(20)], [ref(0.1, e, 0.3) for e in range(20)]
        elif name == "schedule_lr_decay" and dtype is np.float64:
            yield (name, [fn(0.1, e, 0.3, 3) for e in range(20)],
                   [ref(0.1, e, 0.3, 3) for e in range(20)])
        elif name == "compute_cost_with_regularization":
            A = cast(R.forward(f64(X), f64(params))[0], dtype)
            yield name, fn(A, Y, params, 0.7), ref(f64(A), f64(Y), f64(params), 0.7)
        elif name == "backward_propagation_with_regularization":
            cache = tuple(cast(c, dtype) for c in R.forward(f64(X), f64(params))[1])
            yield (name, fn(X, Y, cache, 0.7),
                   ref(f64(X), f64(Y), R.forward(f64(X), f64(params))[1], 0.7))
        elif name == "forward_propagation_with_dropout":
            yield name, fn(X, params, 0.8)[0], ref(f64(X), f64(params), 0.8)[0]
        elif name == "backward_propagation_with_dropout":
            cache_d = R.forward_propagation_with_dropout(f64(X), f64(params), 0.8)[1]
            yield (name, fn(X, Y, tuple(cast(c, dtype) for c in cache_d), 0.8),
                   ref(f64(X), f64(Y), cache_d, 0.8))
        elif name == "dictionary_to_vector":
            theta, keys = fn(params)
            theta_r, keys_r = ref(f64(params))
            yield name + " theta", theta, theta_r
            yield name + " keys", np.float64(keys != keys_r), np.float64(0)
        elif name == "vector_to_dictionary":
            theta_r = R.dictionary_to_vector(f64(params))[0]
            yield name, fn(cast(theta_r, dtype), dims), ref(theta_r, dims)
        elif name == "gradients_to_vector":
            yield name, fn(grads), ref(f64(grads))


def course2_function_rows(dtype):
    """Rows for the functional drop-ins; also returns (re-exported names, absent names)."""
    rows, same, absent = [], [], []
    for name in _course2_names():
        fn = getattr(F, name, None)
        if fn is None:
            absent.append(name)
            continue
        if fn is getattr(R, name):
            same.append(name)
            continue
        if name == "model":
            continue  # compiled training loop: among the training configurations
        try:
            rows += [("function", c) for c in course2_cases(name, fn, dtype)]
        except Exception as err:  # a drop-in that breaks is a failure, not a crash
            case = "functional.%s raised %s: %s" % (name, type(err).__name__, err)
            rows.append(("function", (case, np.inf, np.float64(1.0))))
    return rows, same, absent


def gradient_check_cases(dtype):
    """``fastdnn.gradient_check``'s compiled gradients against ``reference.backward`` (float64)."""
    try:
        from fastdnn import gradient_check
    except ImportError:
        return
    if dtype is not np.float64:
        return  # gradient_check runs in float64 only
    configs = [("relu", "sigmoid", 0.0, 1.0, [6, 5, 4, 1]),
               ("tanh", "softmax", 0.7, 1.0, [6, 5, 4, 3]),
               ("leaky_relu", "identity", 0.0, 0.8, [6, 5, 4, 2]),
               (["sigmoid", "identity"], "sigmoid", 0.7, 0.8, [6, 5, 4, 3])]
    for k, (hidden, output, lambd, kp, dims) in enumerate(configs):
        X, Y, params = net_problem(dims, 9, output, np.float64, seed=40 + k)
        model = DeepNeuralNetwork(dims, output=output, hidden_activation=hidden, lambd=lambd,
                                  keep_prob=kp, dropout_seed=3)
        got = gradient_check(model, X, Y, parameters=params).gradients
        _, cache = R.forward(X, params, hidden, output, kp, mask_source(3, kp) if kp < 1 else None)
        want = R.backward(X, Y, cache, hidden, output, lambd, kp)
        want = {k_: v for k_, v in want.items() if k_[:2] in ("dW", "db")}
        tag = "%s/%s%s%s" % (hidden if isinstance(hidden, str) else "+".join(hidden), output,
                             "/L2" if lambd else "", "/drop" if kp < 1 else "")
        yield "gradient_check gradients " + tag, got, want


def schedule_cases(dtype):
    """The engine's learning rates and epoch orders against the course's formulas."""
    if dtype is not np.float64:
        return
    from fastdnn.engine.schedule import epoch_orders, learning_rates
    lr0, rate, n = 0.05, 0.3, 40
    yield ("engine learning_rates inverse", learning_rates(lr0, "inverse", rate, 3, 0, n),
           [lr0] + [R.update_lr(lr0, e, rate) for e in range(n - 1)])
    yield ("engine learning_rates scheduled", learning_rates(lr0, "scheduled", rate, 3, 5, n),
           [R.schedule_lr_decay(lr0, e - 1, rate, 3) for e in range(5, 5 + n)])
    m, size = 23, 5
    X = np.arange(m, dtype=np.float64).reshape(1, m)
    orders = epoch_orders(m, 10, 2, 3)
    got = [[X[:, o[i:i + size]] for i in range(0, m, size)] for o in orders]
    want = [[bx for bx, _ in R.random_mini_batches(X, X, size, 10 + e + 1)] for e in range(2, 5)]
    yield "engine epoch_orders vs random_mini_batches", got, want


# =============================================================================
# Update rules: one and two full-batch steps of the model against the reference
# =============================================================================

def reference_steps(X, Y, params, hidden, output, opt, lr, lambd, kp, seed, steps, hp):
    """params, v, s after ``steps`` full-batch reference steps (forward, backward, update)."""
    params = _copy(params)
    masks = mask_source(seed, kp) if kp < 1 else None
    v = s = None
    if opt == "momentum":
        v = R.initialize_velocity(params)
    elif opt == "adam":
        v, s = R.initialize_adam(params)
    for t in range(1, steps + 1):
        _, cache = R.forward(X, params, hidden, output, kp, masks)
        grads = R.backward(X, Y, cache, hidden, output, lambd, kp)
        if opt == "gd":
            params = R.update_parameters_with_gd(params, grads, lr)
        elif opt == "momentum":
            params, v = R.update_parameters_with_momentum(params, grads, v, hp["beta"], lr)
        else:
            params, v, s, _, _ = R.update_parameters_with_adam(
                params, grads, v, s, t, lr, hp["beta1"], hp["beta2"], hp["epsilon"])
    return params, v, s


def update_rule_cases(dtype):
    """One step and a warm-started second step of each compiled rule, with and without L2."""
    hp = {"beta": 0.8, "beta1": 0.85, "beta2": 0.99, "epsilon": 1e-8}
    lrs = {"gd": 0.1, "momentum": 0.1, "adam": 0.01}
    nets = [("relu", "sigmoid", [6, 5, 4, 1], 1.0), ("tanh", "softmax", [6, 5, 4, 3], 0.8)]
    for opt in ("gd", "momentum", "adam"):
        for k, (hidden, output, dims, kp) in enumerate(nets):
            for lambd in (0.0, 0.7):
                X, Y, params = net_problem(dims, 11, output, dtype, seed=60 + k)
                model = DeepNeuralNetwork(dims, lrs[opt], dtype=np.dtype(dtype).name,
                                          output=output, hidden_activation=hidden, optimizer=opt,
                                          lambd=lambd, keep_prob=kp, dropout_seed=4,
                                          strategy="direct", **hp)
                tag = "%s %s/%s%s%s" % (opt, hidden, output, " L2" if lambd else "",
                                        " drop" if kp < 1 else "")
                for steps in (1, 2):
                    model.fit(X, Y, num_iterations=1, warm_start=steps > 1,
                              initial_parameters=None if steps > 1 else params)
                    p, v, s = reference_steps(f64(X), f64(Y), f64(params), hidden, output, opt,
                                              lrs[opt], lambd, kp, 4, steps, hp)
                    label = "step %d%s %s" % (steps, " (warm)" if steps > 1 else "", tag)
                    yield label + " params", model.parameters_, p
                    state = model.optimizer_state_
                    if v is not None:
                        yield label + " v", state["v"], v
                    if s is not None:
                        yield label + " s", state["s"], s


# =============================================================================
# Training configurations against reference.model
# =============================================================================

Config = namedtuple("Config", "output n_out hidden optimizer batch lambd keep_prob decay "
                              "hidden_dims strategy impl")

LR = {"gd": 0.1, "momentum": 0.1, "adam": 0.01}
DECAY_RATE, TIME_INTERVAL, DROPOUT_SEED = 0.3, 2, 5
MIXED = ("tanh", "relu", "leaky_relu")


def C(output, n_out, hidden, optimizer, batch, l2, drop, decay, hidden_dims=(10, 6),
      strategy="direct", impl="model"):
    if hidden == "mixed":
        hidden, hidden_dims = list(MIXED), (9, 8, 6)
    return Config(output, n_out, hidden, optimizer, batch, 0.7 if l2 else 0.0,
                  0.8 if drop else 1.0, decay, tuple(hidden_dims), strategy, impl)


#: Pairwise covering set: every pair of levels of (output, hidden, optimizer, batching,
#: L2, dropout, decay) appears at least once (``pair_coverage`` checks it). m = 57, so a
#: batch of 16 leaves a last batch of 9.
COVERING = [
    C("identity", 2, "identity", "adam", None, 0, 0, "inverse"),
    C("identity", 2, "leaky_relu", "adam", 16, 1, 1, None),
    C("identity", 2, "mixed", "gd", None, 1, 0, None),
    C("identity", 2, "relu", "adam", 16, 1, 1, "inverse", (12, 8, 6)),
    C("identity", 2, "sigmoid", "momentum", None, 0, 1, None),
    C("identity", 2, "tanh", "adam", 16, 0, 1, "scheduled"),
    C("sigmoid", 1, "identity", "gd", 16, 1, 1, "scheduled"),
    C("sigmoid", 1, "leaky_relu", "momentum", 16, 0, 0, "scheduled"),
    C("sigmoid", 1, "mixed", "adam", None, 1, 1, "inverse"),
    C("sigmoid", 1, "relu", "gd", None, 0, 0, None),
    C("sigmoid", 1, "sigmoid", "adam", 16, 0, 1, "inverse", (7,)),
    C("sigmoid", 1, "tanh", "gd", None, 1, 1, "inverse"),
    C("sigmoid", 3, "identity", "momentum", None, 1, 1, None),
    C("sigmoid", 3, "leaky_relu", "momentum", None, 0, 0, None, (12, 8, 6)),
    C("sigmoid", 3, "mixed", "gd", None, 0, 1, None),
    C("sigmoid", 3, "relu", "adam", 16, 1, 1, "scheduled"),
    C("sigmoid", 3, "sigmoid", "gd", 16, 1, 0, "inverse"),
    C("sigmoid", 3, "tanh", "momentum", None, 1, 1, "inverse", (7,)),
    C("softmax", 4, "identity", "gd", None, 1, 0, "inverse"),
    C("softmax", 4, "leaky_relu", "gd", 16, 0, 1, "inverse"),
    C("softmax", 4, "mixed", "momentum", 16, 0, 0, "scheduled"),
    C("softmax", 4, "relu", "momentum", None, 1, 1, "inverse"),
    C("softmax", 4, "sigmoid", "adam", None, 0, 1, "scheduled", (12, 8, 6)),
    C("softmax", 4, "tanh", "gd", 16, 1, 0, None),
]

#: More: everything at once, pure SGD (batch 1), one shuffled batch larger than m,
#: batches that divide m, deeper nets.
EXTRA = [
    C("softmax", 4, "relu", "adam", 16, 1, 1, "scheduled"),
    C("sigmoid", 1, "tanh", "momentum", 1, 0, 0, None, (5,)),
    C("identity", 2, "leaky_relu", "adam", 64, 0, 0, "inverse"),
    C("softmax", 4, "sigmoid", "gd", 19, 1, 0, "scheduled"),
    C("sigmoid", 3, "mixed", "adam", 16, 0, 1, None),
    C("sigmoid", 3, "leaky_relu", "momentum", None, 1, 1, "scheduled", (12, 10, 8, 6)),
    C("identity", 2, "tanh", "adam", None, 1, 1, "scheduled"),
    C("sigmoid", 1, "relu", "momentum", 16, 1, 1, "inverse"),
]

#: functional.model (the course's loop on the compiled engine) on a few of them.
FUNCTIONAL = [c._replace(impl="functional") for c in (COVERING[3], COVERING[20], COVERING[21],
                                                        EXTRA[0])]

#: The Gram strategy (n_x = 80 > m = 40): dropout, every hidden activation and output.
#: Rows with momentum / L2 / decay run only where the model accepts them with "gram".
GRAM = [
    C("sigmoid", 1, "relu", "gd", None, 0, 1, None, strategy="gram"),
    C("softmax", 4, "tanh", "gd", None, 0, 0, None, strategy="gram"),
    C("identity", 2, "leaky_relu", "gd", None, 0, 1, None, strategy="gram"),
    C("sigmoid", 3, "sigmoid", "gd", None, 0, 1, None, strategy="gram"),
    C("sigmoid", 1, "identity", "gd", None, 0, 0, None, strategy="gram"),
    C("softmax", 4, "mixed", "gd", None, 0, 1, None, strategy="gram"),
    C("sigmoid", 1, "relu", "gd", None, 1, 0, None, strategy="gram"),
    C("softmax", 4, "tanh", "gd", None, 0, 1, "inverse", strategy="gram"),
    C("sigmoid", 3, "relu", "momentum", None, 0, 0, None, strategy="gram"),
    C("identity", 2, "tanh", "momentum", None, 1, 1, "scheduled", strategy="gram"),
]

#: The seed notebook: [12288, 20, 7, 5, 1] on the cat data's m = 209, rate 0.0075.
NOTEBOOK = [Config("sigmoid", 1, "relu", "gd", None, 0.0, 1.0, None, (20, 7, 5), s, "model")
            for s in ("direct", "gram")]
NOTEBOOK_N_X, NOTEBOOK_M, NOTEBOOK_LR = 12288, 209, 0.0075
#: Learning rate of the Gram rows (see the module docstring: 0.1 is at the edge of stability there).
GRAM_LR = 0.02

FEATURES = ("output", "hidden", "optimizer", "batch", "L2", "dropout", "decay")


def levels(cfg):
    """The covering set's level of each feature for one configuration."""
    return {"output": "%s x%d" % (cfg.output, cfg.n_out),
            "hidden": cfg.hidden if isinstance(cfg.hidden, str) else "mixed",
            "optimizer": cfg.optimizer, "batch": "full" if cfg.batch is None else "mini",
            "L2": cfg.lambd > 0, "dropout": cfg.keep_prob < 1, "decay": cfg.decay}


def pair_coverage(configs):
    """(pairs covered, pairs needed, missing pairs) over the feature levels."""
    all_levels = {"output": ["sigmoid x1", "sigmoid x3", "softmax x4", "identity x2"],
                  "hidden": ["relu", "leaky_relu", "tanh", "sigmoid", "identity", "mixed"],
                  "optimizer": ["gd", "momentum", "adam"], "batch": ["full", "mini"],
                  "L2": [False, True], "dropout": [False, True],
                  "decay": [None, "inverse", "scheduled"]}
    seen = {(f, lv[f], g, lv[g]) for lv in map(levels, configs)
            for f, g in combinations(FEATURES, 2)}
    need = [(f, a, g, b) for f, g in combinations(FEATURES, 2)
            for a in all_levels[f] for b in all_levels[g]]
    missing = [p for p in need if p not in seen]
    return len(need) - len(missing), len(need), missing


def config_dims(cfg, n_x):
    return [n_x, *cfg.hidden_dims, cfg.n_out]


def run_config(cfg, dtype, steps, seed, n_x=12, m=57, lr=None):
    """(model params, model costs, reference params, reference costs, epochs, strategy used).

    Returns None when the model does not accept the configuration (Gram rows).
    """
    dims = config_dims(cfg, n_x)
    lr = LR[cfg.optimizer] if lr is None else lr
    batches = 1 if cfg.batch is None else math.ceil(m / cfg.batch)
    epochs = math.ceil(steps / batches)
    every = max(epochs // 10, 1)
    X, Y, p0 = net_problem(dims, m, cfg.output, dtype, seed)
    decay = {None: None, "inverse": R.update_lr,
             "scheduled": functools.partial(R.schedule_lr_decay, time_interval=TIME_INTERVAL),
             }[cfg.decay]
    masks = mask_source(DROPOUT_SEED, cfg.keep_prob) if cfg.keep_prob < 1 else None
    if cfg.impl == "functional":
        got_p, got_c = F.model(X, Y, dims, cfg.optimizer, learning_rate=lr,
                               mini_batch_size=cfg.batch, num_epochs=epochs, print_cost=False,
                               decay=decay, decay_rate=DECAY_RATE, initial_parameters=p0,
                               hidden_activation=cfg.hidden, output=cfg.output, lambd=cfg.lambd,
                               keep_prob=cfg.keep_prob, dropout_seed=DROPOUT_SEED,
                               record_every=every)
        used = "-"
    else:
        try:
            model = DeepNeuralNetwork(dims, lr, dtype=np.dtype(dtype).name, output=cfg.output,
                                      hidden_activation=cfg.hidden, optimizer=cfg.optimizer,
                                      batch_size=cfg.batch, lambd=cfg.lambd,
                                      keep_prob=cfg.keep_prob, decay=cfg.decay,
                                      decay_rate=DECAY_RATE, time_interval=TIME_INTERVAL,
                                      dropout_seed=DROPOUT_SEED, strategy=cfg.strategy)
            model.fit(X, Y, num_epochs=epochs, initial_parameters=p0, record_every=every)
        except ValueError as err:
            if cfg.strategy == "gram" and "gram" in str(err):
                return None
            raise
        got_p, got_c, used = model.parameters_, model.costs_, model.strategy_
    want_p, want_c = R.model(f64(X), f64(Y), dims, cfg.optimizer, learning_rate=lr,
                             mini_batch_size=cfg.batch, num_epochs=epochs, print_cost=False,
                             decay=decay, decay_rate=DECAY_RATE, initial_parameters=f64(p0),
                             hidden_activation=cfg.hidden, output=cfg.output, lambd=cfg.lambd,
                             keep_prob=cfg.keep_prob, masks=masks, record_every=every)
    return got_p, got_c, want_p, want_c, epochs, used


def config_list(quick):
    """(group, Config) rows; ``quick``: full-batch ones only, so that the test suite's run
    compiles no entry point beyond those the seed rows compile (train_full, train_gram)."""
    rows = ([("cover", c) for c in COVERING] + [("extra", c) for c in EXTRA]
            + [("func", c) for c in FUNCTIONAL] + [("gram", c) for c in GRAM]
            + [("notebook", c) for c in NOTEBOOK])
    if quick:
        full = [(g, c) for g, c in rows if c.batch is None]
        rows = [r for k, r in enumerate(full) if r[0] in ("func", "notebook") or k % 3 == 0]
    return rows


def config_rows(dtype, steps, quick):
    """One row per configuration; rows of Gram configurations the model refuses are skipped."""
    name = np.dtype(dtype).name
    rows, skipped = [], []
    for k, (group, cfg) in enumerate(config_list(quick)):
        kw = {}
        if group == "gram":
            kw = {"n_x": 80, "m": 40, "lr": GRAM_LR}
        elif group == "notebook":
            kw = {"n_x": NOTEBOOK_N_X if not quick else 1229, "m": NOTEBOOK_M, "lr": NOTEBOOK_LR}
        try:
            out = run_config(cfg, dtype, steps, seed=100 + k, **kw)
        except Exception as err:
            out = err
        dims = config_dims(cfg, kw.get("n_x", 12))
        hidden = cfg.hidden if isinstance(cfg.hidden, str) else "+".join(h[:4] for h in cfg.hidden)
        desc = dict(dtype=name, group=group, dims=str(dims).replace(" ", ""), m=kw.get("m", 57),
                    output=cfg.output, hidden=hidden, opt=cfg.optimizer,
                    batch="full" if cfg.batch is None else str(cfg.batch), lambd=cfg.lambd,
                    kp=cfg.keep_prob, decay=cfg.decay or "-",
                    impl="functional.model" if cfg.impl == "functional" else
                    "model/" + cfg.strategy, tol=CONFIG_TOL[name])
        if out is None:
            skipped.append(desc)
            continue
        if isinstance(out, Exception):
            desc.update(epochs=0, pa=np.inf, pr=np.inf, ca=np.inf, cr=np.inf,
                        note="raised %s: %s" % (type(out).__name__, out))
        else:
            got_p, got_c, want_p, want_c, epochs, used = out
            pa, pr = diff(got_p, want_p)
            ca, cr = diff(got_c, want_c)
            note = ""
            if cfg.impl == "model" and used != cfg.strategy:
                pr = np.inf
                note = "ran strategy %r" % used
            desc.update(epochs=epochs, pa=pa, pr=pr, ca=ca, cr=cr, note=note)
        desc["ok"] = max(desc["pr"], desc["cr"]) <= desc["tol"]
        rows.append(desc)
    return rows, skipped


CONFIG_HEADER = ("%-7s %-8s %-22s %3s %-8s %-14s %-8s %5s %5s %4s %-9s %-16s %3s %9s %9s %9s %9s "
                 "%7s %s"
                 % ("dtype", "group", "layer_dims", "m", "output", "hidden", "optim", "batch",
                    "lambd", "kp", "decay", "impl", "ep", "par abs", "par rel", "cost abs",
                    "cost rel", "tol", ""))


def format_config_row(r):
    return ("%-7s %-8s %-22s %3d %-8s %-14s %-8s %5s %5.2g %4.2g %-9s %-16s %3d %9.2e %9.2e %9.2e "
            "%9.2e %7.0e %s%s" % (r["dtype"], r["group"], r["dims"], r["m"], r["output"],
                                   r["hidden"], r["opt"], r["batch"], r["lambd"], r["kp"],
                                   r["decay"], r["impl"], r["epochs"], r["pa"], r["pr"], r["ca"],
                                   r["cr"], r["tol"], "ok" if r["ok"] else "FAIL",
                                   "  " + r["note"] if r["note"] else ""))


# =============================================================================
# Main
# =============================================================================

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100,
                        help="training iterations (update steps for the configurations)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller grid, full-batch configurations only, no gradient_check "
                             "rows: no compiled entry point beyond the seed rows' (test suite)")
    parser.add_argument("--configs", action="store_true",
                        help="only the training configurations against reference.model")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, failures, worst = [], 0, {}
    same = absent = None
    cfg_rows, skipped = [], []
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        if not args.configs:
            for dims, m in grid(args.quick):
                cases = [("function", c) for c in function_cases(dims, m, dtype)]
                cases += [("training", c) for c in training_cases(dims, m, dtype, args.iterations)]
                for kind, (case, got, want) in cases:
                    rows.append((name, str(dims), m, kind, case, got, want))
            c2_rows, same, absent = course2_function_rows(dtype)
            extra = list(c2_rows)
            if not args.quick:  # its own compiled entry point: ~6 s more to compile cold
                extra += [("function", c) for c in gradient_check_cases(dtype)]
            extra += [("function", c) for c in schedule_cases(dtype)]
            extra += [("function", c) for c in update_rule_cases(dtype)]
            for kind, (case, got, want) in extra:
                rows.append((name, "course2", 0, kind, case, got, want))
        got_rows, got_skipped = config_rows(dtype, args.iterations, args.quick)
        cfg_rows += got_rows
        skipped += got_skipped
    table = []
    for name, dims, m, kind, case, got, want in rows:
        try:
            a, r = diff(got, want)
        except Exception as err:  # structure mismatch
            a = r = np.inf
            case += " (%s)" % err
        ok = r <= TOL[name, kind]
        failures += not ok
        table.append((name, dims, m, case, a, r, TOL[name, kind], "ok" if ok else "FAIL"))
        worst[name, kind] = max(worst.get((name, kind), 0.0), r)
    if table:
        header = ("dtype", "layer_dims", "m", "case", "max abs", "max rel", "tol", "")
        print("%-8s %-22s %4s %-48s %10s %10s %8s %s" % header)
        for row in table:
            print("%-8s %-22s %4d %-48s %10.2e %10.2e %8.0e %s" % row)
    if same is not None:
        compiled = [n for n in _course2_names() if n not in same and n not in absent]
        print("\nfastdnn.functional, Course 2 names: compiled and compared: %s (functional.model "
              "among the training configurations); the reference's own function re-exported "
              "(nothing compiled to compare): %s; absent (skipped): %s"
              % (", ".join(compiled) or "none", ", ".join(same) or "none",
                 ", ".join(absent) or "none"))
    print("\nTraining configurations against reference.model after %d update steps "
          "(tol: float64 %.0e, float32 %.0e):"
          % (args.iterations, CONFIG_TOL["float64"], CONFIG_TOL["float32"]))
    print(CONFIG_HEADER)
    for r in cfg_rows:
        print(format_config_row(r))
        failures += not r["ok"]
        key = (r["dtype"], "config")
        worst[key] = max(worst.get(key, 0.0), r["pr"], r["cr"])
    for r in skipped:
        print("skipped (the model refuses strategy='gram' here): %s %s/%s %s batch=%s lambd=%g "
              "kp=%g decay=%s" % (r["dtype"], r["hidden"], r["output"], r["opt"], r["batch"],
                                  r["lambd"], r["kp"], r["decay"]))
    if not args.quick:
        covered, needed, missing = pair_coverage(COVERING)
        print("feature pairs covered by the covering set: %d/%d%s"
              % (covered, needed, "" if not missing else "; missing: %s" % missing))
        failures += bool(missing)
    tol_of = lambda k: TOL.get(k) or CONFIG_TOL[k[0]]  # noqa: E731
    print("\nworst max rel: " + ", ".join("%s %s %.2e (tol %.0e)" % (k[0], k[1], v, tol_of(k))
                                          for k, v in sorted(worst.items())))
    print("%d cases, %d over tolerance (%.1f s)" % (len(table) + len(cfg_rows), failures,
                                                    time.perf_counter() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
