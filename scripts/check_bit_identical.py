#!/usr/bin/env python
"""Prove that today's calls keep giving bit-identical results when the code changes.

What it proves
    A fixed set of calls, written ONLY against the public API as it exists at an
    old revision (default: 97136c7, "the API of today"), gives exactly the same
    bits when run on the old revision and on the current working tree. The calls
    cover ``fastdnn.DeepNeuralNetwork`` (strategies "direct", "gram" and "auto";
    float64 and float32; several networks; inits "scaled", "seed", "he",
    "xavier"; record_every 1 and 100; a warm-start continuation; explicit
    initial parameters and activations; runs that diverge; predict_proba /
    predict / score on new data) and the ``fastdnn.functional`` drop-ins
    (initialisation, forward, cost, backward, update, ``L_layer_model``). Each
    case saves ``costs_``, ``cost_iterations_``, ``n_iter_``, ``strategy_``,
    every parameter array and every output under keys like ``case/param/W1``.
    The cases use top-level names only (``fastdnn.DeepNeuralNetwork``,
    ``fastdnn.functional``); internal modules are free to move. Data are built
    with NumPy from fixed seeds; no files are read.

What "bit-identical" means here
    Same machine, same Python environment, same thread settings, old commit
    against new code: for every saved array the dtype and shape are equal and
    the raw bytes are equal (arrays are compared as ``.view(np.uint8)``, so
    -0.0 against 0.0, or two different NaN payloads, count as differences).
    This is the strongest promise possible for a floating-point library; it is
    not a claim about other machines, other BLAS builds or other thread counts
    (BLAS may sum in another order there). Both sides run in fresh
    subprocesses with the same environment: ``OPENBLAS_NUM_THREADS`` (and
    OMP/MKL) = ``--threads``, ``threadpoolctl.threadpool_limits(--threads)``
    around the calls and ``n_threads=--threads`` on the models (one case keeps
    the default ``n_threads=None`` policy). Each side compiles its kernels into
    its own temporary ``NUMBA_CACHE_DIR``, so old and new kernels never mix.

How to run it (from anywhere; uses the interpreter it is started with)
    python scripts/check_bit_identical.py                      # 97136c7 vs working tree
    python scripts/check_bit_identical.py --against REV        # another old revision
    python scripts/check_bit_identical.py --quick              # fewer cases (< 1 min)
    python scripts/check_bit_identical.py --against A --new B  # two revisions (self-test: A = B)
    options: --threads N (default 1), --keep (keep exports and dumps),
    --sequential (run the two sides one after the other instead of at once).

    REV is exported with ``git archive`` into a temporary directory (the
    repository's state is not touched). This file then runs itself twice in
    "dump" mode (``--dump OUT.npz --tree DIR``: put DIR first on sys.path,
    import fastdnn from it, print ``fastdnn.__file__``, run the cases, save an
    .npz), once per side, and compares the two dumps array by array.

Exit status: 0 if every array of every case is bit-identical; 1 if anything
differs (or a case raised on either side); 2 if a side could not run at all
(e.g. the working tree fails to import mid-refactor).
"""

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REV = "97136c7"
META = "__meta__"
SUMMARY_LINES = ("fastdnn.__file__", "thread pools", "cases:")


# =============================================================================
# The cases (dump mode). Public API of the old revision only.
# =============================================================================

def make_data(n_x, m, seed, m_new=37):
    """X (n_x, m), Y (1, m) of 0/1 from a noisy linear teacher, and X_new (n_x, m_new)."""
    rs = np.random.RandomState(seed)
    X = rs.randn(n_x, m)
    w = rs.randn(n_x)
    Y = ((w @ X + 0.5 * rs.randn(m)) > 0).astype(np.float64).reshape(1, m)
    X_new = np.random.RandomState(seed + 1000).randn(n_x, m_new)
    return X, Y, X_new


SMALL, MID, WIDE, LOGREG = [5, 4, 3, 1], [20, 16, 8, 1], [200, 20, 7, 5, 1], [3, 1]
M = {tuple(SMALL): 64, tuple(MID): 300, tuple(WIDE): 60, tuple(LOGREG): 100}  # WIDE: m < n_x


def data_for(dims, seed=None):
    return make_data(dims[0], M[tuple(dims)], seed if seed is not None else 10 + len(dims))


def _array(x):
    return np.asarray(x)


def model_state(model, out, prefix=""):
    """Everything a fitted (or diverged) model keeps."""
    out[prefix + "costs_"] = _array(model.costs_)
    out[prefix + "cost_iterations_"] = _array(model.cost_iterations_)
    out[prefix + "n_iter_"] = _array(model.n_iter_)
    out[prefix + "strategy_"] = _array(str(getattr(model, "strategy_", "<no strategy_>")))
    for key in sorted(model.parameters_):
        out[prefix + "param/" + key] = _array(model.parameters_[key])
    return out


def fit(model, X, Y, n, out, prefix="", **kw):
    """model.fit, recording a divergence (caught by class name) instead of raising."""
    try:
        model.fit(X, Y, n, **kw)
        out[prefix + "diverged"] = _array(False)
    except Exception as err:  # noqa: BLE001 - matched by name: the class may move
        if type(err).__name__ != "TrainingDivergedError":
            raise
        out[prefix + "diverged"] = _array(True)
        out[prefix + "diverged_iteration"] = _array(err.iteration)
        out[prefix + "diverged_recorded"] = _array([c for _, c in err.recorded])
        out[prefix + "diverged_recorded_iterations"] = _array([i for i, _ in err.recorded])
    return model_state(model, out, prefix)


def outputs(model, X, Y, X_new, out, prefix=""):
    out[prefix + "predict_proba_new"] = _array(model.predict_proba(X_new))
    out[prefix + "predict_new"] = _array(model.predict(X_new))
    out[prefix + "predict_proba_train"] = _array(model.predict_proba(X))
    out[prefix + "score_train"] = _array(model.score(X, Y))
    return out


def model_case(dims, dtype, strategy, init, lr, iters, record_every, threads="same",
               random_state=None, activations=None, seed=None, cast_X=False):
    def run(fd, ctx):
        X, Y, X_new = data_for(dims, seed)
        if cast_X:  # hand the model data already in its dtype
            X, Y, X_new = X.astype(dtype), Y.astype(dtype), X_new.astype(dtype)
        kw = dict(init=init, dtype=dtype, strategy=strategy, random_state=random_state,
                  n_threads=ctx["threads"] if threads == "same" else threads)
        if activations is not None:
            kw["activations"] = activations
        model = fd.DeepNeuralNetwork(list(dims), lr, **kw)
        out = fit(model, X, Y, iters, {}, record_every=record_every)
        return outputs(model, X, Y, X_new, out)
    return run


def warm_case(dims, dtype, strategy, init, lr, first=60, then=40, record_every=10):
    """fit(first) then fit(then, warm_start=True); also the one-shot fit(first + then)."""
    def run(fd, ctx):
        X, Y, X_new = data_for(dims)
        kw = dict(init=init, dtype=dtype, strategy=strategy, n_threads=ctx["threads"])
        out = {}
        model = fd.DeepNeuralNetwork(list(dims), lr, **kw)
        fit(model, X, Y, first, out, "first/", record_every=record_every)
        fit(model, X, Y, then, out, "warm/", record_every=record_every, warm_start=True)
        outputs(model, X, Y, X_new, out, "warm/")
        once = fd.DeepNeuralNetwork(list(dims), lr, **kw)
        fit(once, X, Y, first + then, out, "oneshot/", record_every=record_every)
        return out
    return run


def initial_parameters_case(dtype):
    def run(fd, ctx):
        X, Y, X_new = data_for(MID)
        rs = np.random.RandomState(7)
        params = {}
        for l in range(1, len(MID)):
            params["W%d" % l] = rs.randn(MID[l], MID[l - 1]) * 0.3
            params["b%d" % l] = rs.randn(MID[l], 1) * 0.1
        model = fd.DeepNeuralNetwork(MID, 0.03, dtype=dtype, strategy="auto",
                                     n_threads=ctx["threads"])
        out = fit(model, X, Y, 400, {}, record_every=50, initial_parameters=params)
        return outputs(model, X, Y, X_new, out)
    return run


def _save_dict(out, prefix, d):
    for k in sorted(d):
        out[prefix + k] = _array(d[k])


def _save_caches(out, prefix, caches):
    for l, ((A_prev, W, b), Z) in enumerate(caches, start=1):
        out["%scache%d/A_prev" % (prefix, l)] = _array(A_prev)
        out["%scache%d/W" % (prefix, l)] = _array(W)
        out["%scache%d/b" % (prefix, l)] = _array(b)
        out["%scache%d/Z" % (prefix, l)] = _array(Z)


def functional_case(dims, dtype):
    """Every seed function of fastdnn.functional, on the seed's own initialisation."""
    def run(fd, ctx):
        F = fd.functional
        dt = np.dtype(dtype)
        X, Y, X_new = data_for(dims)
        X, Y, X_new = X.astype(dt), Y.astype(dt), X_new.astype(dt)
        out = {}
        _save_dict(out, "init2/", F.initialize_parameters(dims[0], dims[1], 1))
        _save_dict(out, "init2_uk/", F.initialise_parameters(dims[0], dims[1], 1))
        p64 = F.initialize_parameters_deep(dims)
        _save_dict(out, "init_deep/", p64)
        _save_dict(out, "init_deep_uk/", F.initialise_parameters_deep(dims))
        if dims[0] > 50:  # the seed's randn weights saturate the sigmoid (dAL = inf): scale them
            p64 = {k: v / np.sqrt(v.shape[1]) if k[0] == "W" else v * 0.1 for k, v in p64.items()}
        p = {k: v.astype(dt) for k, v in p64.items()}
        # single functions
        Z, lcache = F.linear_forward(X, p["W1"], p["b1"])
        out["linear_forward/Z"] = _array(Z)
        out["sigmoid/A"], _ = F.sigmoid(Z)
        out["relu/A"], _ = F.relu(Z)
        for act in ("relu", "sigmoid"):
            A, cache = F.linear_activation_forward(X, p["W1"], p["b1"], act)
            out["laf_%s/A" % act] = _array(A)
            _save_caches(out, "laf_%s/" % act, [cache])
            dA = np.random.RandomState(3).randn(*A.shape).astype(dt)
            dA_prev, dW, db = F.linear_activation_backward(dA, cache, act)
            out["lab_%s/dA_prev" % act] = dA_prev
            out["lab_%s/dW" % act] = dW
            out["lab_%s/db" % act] = db
        dZ = np.random.RandomState(4).randn(*Z.shape).astype(dt)
        dA_prev, dW, db = F.linear_backward(dZ, lcache)
        out["linear_backward/dA_prev"], out["linear_backward/dW"] = dA_prev, dW
        out["linear_backward/db"] = db
        out["relu_backward/dZ"] = _array(F.relu_backward(dZ, Z))
        out["sigmoid_backward/dZ"] = _array(F.sigmoid_backward(dZ, Z))
        # the L-layer pass: forward, cost, backward, update, predict
        AL, caches = F.L_model_forward(X, p)
        out["L_model_forward/AL"] = _array(AL)
        _save_caches(out, "L_model_forward/", caches)
        out["compute_cost"] = _array(F.compute_cost(AL, Y))
        grads = F.L_model_backward(AL, Y, caches)
        _save_dict(out, "L_model_backward/", grads)
        updated = F.update_parameters({k: v.copy() for k, v in p.items()}, grads, 0.0075)
        _save_dict(out, "update_parameters/", updated)
        out["predict_new"] = _array(F.predict(X_new, updated))
        return out
    return run


def l_layer_model_case(dims, dtype, iters, record_every=100, strategy=None, lr=0.0075):
    """functional.L_layer_model: the seed's training loop on the compiled engine."""
    def run(fd, ctx):
        X, Y, X_new = data_for(dims)
        kw = {} if strategy is None else {"strategy": strategy}
        params, costs = fd.functional.L_layer_model(
            X.astype(dtype), Y.astype(dtype), list(dims), learning_rate=lr,
            num_iterations=iters, record_every=record_every, **kw)
        out = {"costs": _array(costs)}
        _save_dict(out, "param/", params)
        out["predict_new"] = _array(fd.functional.predict(X_new.astype(dtype), params))
        return out
    return run


# (name, in --quick, function(fastdnn, ctx) -> {key: array})
CASES = [
    # tiny network: every product is a compiled loop
    ("small_direct_scaled_f64_r1", True, model_case(SMALL, "float64", "direct", "scaled", 0.05, 300, 1)),
    ("small_auto_seed_f32_r100", False, model_case(SMALL, "float32", "auto", "seed", 0.05, 1000, 100)),
    ("small_gram_he_f64_r1", False, model_case(SMALL, "float64", "gram", "he", 0.05, 300, 1)),
    ("small_gram_scaled_f32_r100", False, model_case(SMALL, "float32", "gram", "scaled", 0.05, 500, 100)),
    # m > n_x: "auto" picks direct
    ("mid_direct_he_f64_r100", False, model_case(MID, "float64", "direct", "he", 0.02, 1000, 100)),
    ("mid_auto_scaled_f32_r1", True, model_case(MID, "float32", "auto", "scaled", 0.02, 300, 1)),
    ("mid_gram_seed_f32_r100", False, model_case(MID, "float32", "gram", "seed", 0.005, 300, 100)),
    ("mid_direct_scaled_f32_cast", False, model_case(MID, "float32", "direct", "scaled", 0.02, 300, 100,
                                                      cast_X=True)),
    ("mid_activations_identity_f64", False, model_case(MID, "float64", "direct", "he", 0.01, 300, 100,
                                                        activations=["relu", "identity", "sigmoid"])),
    # m < n_x: "gram" is natural
    ("wide_gram_scaled_f64_r100", True, model_case(WIDE, "float64", "gram", "scaled", 0.05, 1000, 100)),
    ("wide_gram_scaled_f32_r1", False, model_case(WIDE, "float32", "gram", "scaled", 0.05, 300, 1)),
    ("wide_direct_he_f64_r100", False, model_case(WIDE, "float64", "direct", "he", 0.01, 500, 100)),
    ("wide_direct_scaled_f32_r1", True, model_case(WIDE, "float32", "direct", "scaled", 0.05, 300, 1)),
    ("wide_auto_seed_f64_r100", False, model_case(WIDE, "float64", "auto", "seed", 0.0075, 500, 100)),
    ("wide_auto_xavier_f64_rs5", False, model_case(WIDE, "float64", "auto", "xavier", 0.05, 500, 100,
                                                    random_state=5)),
    ("wide_auto_f32_default_threads", False, model_case(WIDE, "float32", "auto", "scaled", 0.05, 500, 100,
                                                         threads=None)),
    # logistic regression (no hidden layer: gram is not allowed)
    ("logreg_direct_scaled_f64_r1", True, model_case(LOGREG, "float64", "direct", "scaled", 0.1, 1000, 1)),
    ("logreg_auto_he_f32_r100", False, model_case(LOGREG, "float32", "auto", "he", 0.1, 1000, 100)),
    # warm start: fit 60, then 40 more, and the one-shot 100
    ("warm_mid_direct_f64", True, warm_case(MID, "float64", "direct", "he", 0.02)),
    ("warm_wide_gram_f32", False, warm_case(WIDE, "float32", "gram", "scaled", 0.05)),
    ("warm_wide_auto_f64_r100", False, warm_case(WIDE, "float64", "auto", "scaled", 0.05, 150, 250, 100)),
    # runs that diverge: what the model keeps, and the error's iteration
    # (learning rates chosen so that they blow up after iteration 1 or 2, mid-chunk for r100)
    ("diverge_mid_direct_f64_r100", True, model_case(MID, "float64", "direct", "he", 1e30, 300, 100)),
    ("diverge_mid_gram_f64_r1", False, model_case(MID, "float64", "gram", "he", 1e30, 300, 1)),
    ("diverge_wide_gram_f32_r1", False, model_case(WIDE, "float32", "gram", "he", 1e4, 300, 1)),
    ("diverge_wide_direct_f32_r100", False, model_case(WIDE, "float32", "direct", "he", 1e4, 300, 100)),
    ("diverge_mid_direct_f32_r1", False, model_case(MID, "float32", "direct", "he", 1e8, 300, 1)),
    # explicit initial parameters
    ("initial_parameters_f64", False, initial_parameters_case("float64")),
    ("initial_parameters_f32", False, initial_parameters_case("float32")),
    # fastdnn.functional drop-ins
    ("functional_small_f64", True, functional_case(SMALL, "float64")),
    ("functional_small_f32", False, functional_case(SMALL, "float32")),
    ("functional_wide_f64", False, functional_case(WIDE, "float64")),
    ("functional_wide_f32", True, functional_case(WIDE, "float32")),
    ("L_layer_model_mid_f64", True, l_layer_model_case(MID, "float64", 500)),
    ("L_layer_model_wide_gram_f32", True, l_layer_model_case(WIDE, "float32", 300, 50, "gram", 0.05)),
    ("L_layer_model_wide_auto_f64", False, l_layer_model_case(WIDE, "float64", 300, 1, None, 0.0075)),
    ("L_layer_model_small_direct_f32", False, l_layer_model_case(SMALL, "float32", 500, 100, "direct", 0.05)),
]


def dump(args):
    """Dump mode: import fastdnn from --tree, run the cases, save every array to --dump."""
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))
    try:  # load scipy's BLAS (numba's np.dot) first, so threadpool_limits sees it too
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:
        pass
    from threadpoolctl import threadpool_info, threadpool_limits

    import fastdnn
    import fastdnn.functional  # noqa: F401  (public module)

    where = Path(fastdnn.__file__).resolve()
    print("fastdnn.__file__ = %s" % where, flush=True)
    if tree not in where.parents:  # not an assert: must hold under python -O too
        raise SystemExit("fastdnn was imported from %s, not from %s" % (where, tree))

    out, order = {}, []
    ctx = {"threads": args.threads}
    names = [(n, f) for n, quick, f in CASES if quick or not args.quick]
    t_all = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        blas = sorted({"%s:%s=%d" % (p["internal_api"], Path(p["filepath"]).name, p["num_threads"])
                       for p in threadpool_info()})
        print("thread pools inside the limits: %s" % ", ".join(blas), flush=True)
        for name, run in names:
            t = time.perf_counter()
            try:
                arrays = run(fastdnn, ctx)
            except Exception as err:  # noqa: BLE001 - reported as a failing case
                traceback.print_exc()
                arrays = {"__error__": np.asarray("%s: %s" % (type(err).__name__, err))}
            seconds = time.perf_counter() - t
            for key, value in arrays.items():
                out["%s/%s" % (name, key)] = np.asarray(value)
            out["%s/time/%s" % (META, name)] = np.asarray(seconds)
            order.append(name)
    out["%s/cases" % META] = np.asarray(order)
    out["%s/fastdnn_file" % META] = np.asarray(str(where))
    out["%s/seconds" % META] = np.asarray(time.perf_counter() - t_all)
    np.savez(args.dump, **out)
    n_arrays = sum(not k.startswith(META + "/") for k in out)
    print("cases: %d, arrays: %d, %.1f s (kernel compilation included) -> %s" % (
        len(order), n_arrays, time.perf_counter() - t_all, args.dump), flush=True)


# =============================================================================
# Driver: export, run both sides, compare.
# =============================================================================

def git(*argv, **kw):
    return subprocess.run(["git", "-C", str(REPO), *argv], check=True, stdout=subprocess.PIPE, **kw).stdout


def export(rev, dest):
    """git archive REV into dest (read-only on the repository); returns the full hash."""
    full = git("rev-parse", "--verify", rev + "^{commit}").decode().strip()
    data = git("archive", "--format=tar", full)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Python without extraction filters
            tar.extractall(dest)
    return full


def child_env(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no .pyc files in the trees
    return env


def start_side(label, tree, out, cache, args):
    env = child_env(args.threads)
    env["NUMBA_CACHE_DIR"] = str(cache)  # per side: old and new kernels never mix
    cmd = [sys.executable, str(Path(__file__).resolve()), "--dump", str(out), "--tree", str(tree),
           "--threads", str(args.threads)] + (["--quick"] if args.quick else [])
    log = open(out.with_suffix(".log"), "w+")
    side = {"label": label, "tree": tree, "out": out, "log": log, "t0": time.perf_counter()}
    side["proc"] = subprocess.Popen(cmd, env=env, cwd=str(out.parent), stdout=log,
                                    stderr=subprocess.STDOUT)

    def wait():  # stamps the end time even while the other side is still being waited for
        side["rc"] = side["proc"].wait()
        side["seconds"] = time.perf_counter() - side["t0"]

    side["waiter"] = threading.Thread(target=wait, daemon=True)
    side["waiter"].start()
    return side


def finish_side(side):
    side["waiter"].join()
    rc = side["rc"]
    side["log"].seek(0)
    text = side["log"].read()
    side["log"].close()
    print("-- %s: %s  (exit %d, %.1f s wall)" % (side["label"], side["tree"], rc, side["seconds"]))
    lines = text.rstrip().splitlines()
    shown = lines[-60:] if rc else [l for l in lines if l.startswith(SUMMARY_LINES)]
    for line in shown:
        print("   | " + line)
    if not rc and len(shown) < len(lines):
        print("   | (%d more lines: tracebacks of failing cases; --keep keeps %s)"
              % (len(lines) - len(shown), side["log"].name))
    side["ok"] = rc == 0 and side["out"].exists()
    return side


def bits(a):
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def compare_arrays(a, b):
    """(identical, max abs diff or None, note)."""
    if a.dtype != b.dtype:
        return False, None, "dtype %s vs %s" % (a.dtype, b.dtype)
    if a.shape != b.shape:
        return False, None, "shape %s vs %s" % (a.shape, b.shape)
    if np.array_equal(bits(a), bits(b)):
        return True, 0.0, ""
    if a.dtype.kind not in "biufc":
        return False, None, "values differ"
    x, y = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64), \
        b.astype(np.complex128 if b.dtype.kind == "c" else np.float64)
    fx, fy = np.isfinite(x), np.isfinite(y)
    both = fx & fy
    diff = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
    note = ""
    if not np.array_equal(fx, fy):
        note = "NaN/inf at other positions"
    elif not np.array_equal(x[~fx], y[~fy], equal_nan=True):
        note = "other NaN/inf values"
    if not note and diff == 0.0:
        note = "equal values, other bits (-0.0/NaN payload)"
    return False, diff, note


def compare(old_path, new_path):
    old, new = np.load(old_path, allow_pickle=False), np.load(new_path, allow_pickle=False)
    cases = list(old["%s/cases" % META])
    cases += [c for c in new["%s/cases" % META] if c not in cases]

    def by_case(npz):
        groups = {}
        for key in npz.files:
            if not key.startswith(META + "/"):
                case, _, rest = key.partition("/")
                groups.setdefault(case, {})[rest] = key
        return groups

    go, gn = by_case(old), by_case(new)
    rows, all_ok = [], True
    for case in cases:
        ko, kn = go.get(case, {}), gn.get(case, {})
        ok, worst, notes, n_diff = True, 0.0, [], 0
        for side, keys in (("old", ko), ("new", kn)):
            if "__error__" in keys:
                ok = False
                notes.append("error on %s side: %s" % (side, str(old[keys["__error__"]] if side == "old"
                                                                    else new[keys["__error__"]])[:80]))
        missing = sorted(set(ko) ^ set(kn))
        if missing:
            ok = False
            notes.append("keys only on one side: %s" % ", ".join(missing[:4]))
        for rest in sorted(set(ko) & set(kn)):
            same, diff, note = compare_arrays(old[ko[rest]], new[kn[rest]])
            if not same:
                ok = False
                n_diff += 1
                if diff is not None:
                    worst = max(worst, diff)
                if n_diff <= 2:
                    notes.append("%s%s" % (rest, " (%s)" % note if note else ""))
        if n_diff > 2:
            notes.append("... %d arrays differ" % n_diff)
        t_key = "%s/time/%s" % (META, case)
        t_old = old[t_key] if t_key in old.files else None
        t_new = new[t_key] if t_key in new.files else None
        rows.append((case, len(set(ko) | set(kn)), ok, worst if n_diff else None, "; ".join(notes),
                     t_old, t_new))
        all_ok &= ok
    return rows, all_ok


def print_table(rows):
    w = max(len(r[0]) for r in rows)
    head = "%-*s %6s  %-9s  %-12s %7s %7s  %s" % (w, "case", "arrays", "identical", "max abs diff",
                                                   "old s", "new s", "first differences")
    print(head)
    print("-" * len(head))
    for case, n, ok, diff, note, t_old, t_new in rows:
        sec = lambda t: "%7.2f" % float(t) if t is not None else "      -"  # noqa: E731
        print("%-*s %6d  %-9s  %-12s %s %s  %s" % (
            w, case, n, "yes" if ok else "NO", "" if ok or diff is None else "%.3g" % diff,
            sec(t_old), sec(t_new), note))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default=DEFAULT_REV, metavar="REV",
                        help="old revision whose public API the cases use (default %(default)s)")
    parser.add_argument("--new", metavar="REV2", default=None,
                        help="compare against this exported revision instead of the working tree")
    parser.add_argument("--quick", action="store_true", help="fewer cases")
    parser.add_argument("--keep", action="store_true", help="keep the exported trees and dumps")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads on both sides (default 1)")
    parser.add_argument("--sequential", action="store_true",
                        help="run the old side, then the new one (default: both at once when the "
                             "machine has 2 x --threads cores)")
    parser.add_argument("--dump", metavar="PATH", help=argparse.SUPPRESS)  # internal: one side
    parser.add_argument("--tree", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.dump:
        if not args.tree:
            parser.error("--dump needs --tree DIR")
        dump(args)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="fastdnn-bitcheck-"))
    t_start = time.perf_counter()
    try:
        old_tree = tmp / "old"
        old_full = export(args.against, old_tree)
        old_label = "old %s (%s)" % (args.against, old_full[:10])
        if args.new is None:
            head = git("rev-parse", "--short", "HEAD").decode().strip()
            new_tree, new_label = REPO, "new: working tree (HEAD %s plus any uncommitted changes)" % head
        else:
            new_tree = tmp / "new"
            new_full = export(args.new, new_tree)
            new_label = "new %s (%s)" % (args.new, new_full[:10])
        parallel = not args.sequential and (os.cpu_count() or 1) >= 2 * args.threads
        print("bit-identity check: %s  vs  %s (%s)" % (old_label, new_label, new_tree))
        print("%s cases, --threads %d, python %s, numpy %s; sides run %s" % (
            "quick" if args.quick else "all", args.threads, sys.version.split()[0], np.__version__,
            "in parallel" if parallel else "sequentially"), flush=True)
        sides = []
        for label, tree, name in ((old_label, old_tree, "old"), (new_label, new_tree, "new")):
            side = start_side(label, tree, tmp / ("%s.npz" % name), tmp / ("numba-cache-%s" % name), args)
            if not parallel:
                finish_side(side)
            sides.append(side)
        if parallel:
            for side in sides:
                finish_side(side)
        print("time: old side %.1f s, new side %.1f s (each includes compiling its kernels)"
              % (sides[0]["seconds"], sides[1]["seconds"]))
        broken = [s["label"] for s in sides if not s["ok"]]
        if broken:
            print("FAILED TO RUN: %s (see its output above); nothing compared" % ", ".join(broken))
            return 2
        rows, all_ok = compare(sides[0]["out"], sides[1]["out"])
        print()
        print_table(rows)
        n_ok = sum(r[2] for r in rows)
        print()
        print("%d/%d cases bit-identical, %d arrays; total %.1f s" % (
            n_ok, len(rows), sum(r[1] for r in rows), time.perf_counter() - t_start))
        print("RESULT: %s" % ("PASS - bit-identical" if all_ok else "FAIL - results differ"))
        return 0 if all_ok else 1
    finally:
        if args.keep:
            print("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
