"""Shared problem sizes, a deterministic problem builder and the BLAS thread setting.

Every benchmark module imports this one first, so the BLAS thread count is
fixed before anything is timed:

* ``FASTDNN_BENCH_THREADS`` (environment, default 2) is applied with
  ``threadpoolctl.threadpool_limits`` to every BLAS pool loaded in the process
  (numpy's OpenBLAS and scipy's, which Numba's ``np.dot`` calls). The value is
  printed to stderr (``asv run --show-stderr``) and recorded in the results by
  ``tracking.track_blas_threads``.

Benchmarks never mutate the cached arrays returned here (X, Y, parameters).
"""

import os
import sys

import numpy as np
import scipy.linalg  # noqa: F401  (loads scipy's BLAS, the one Numba's np.dot calls)
from threadpoolctl import threadpool_info, threadpool_limits

from fastdnn.initializers import initialize

#: name -> (layer_dims, m). Keep the names stable: they are parameter values
#: in the stored results.
SIZES = {
    "tiny": ([5, 4, 3, 1], 4),
    "cat": ([12288, 20, 7, 5, 1], 209),
    "medium": ([784, 128, 64, 1], 10000),
    "wide": ([1024, 1024, 1024, 1], 4096),
}
SIZE_NAMES = list(SIZES)
DTYPES = ["float64", "float32"]
IMPLS = ["reference", "fastdnn"]

#: Training iterations done by ONE timed call, the same for both impls, chosen
#: so that a call stays well under a few seconds. Time per iteration = reported
#: time / ITERATIONS[size].
ITERATIONS = {"tiny": 100, "cat": 5, "medium": 2, "wide": 1}

#: (impl, size, dtype) combinations not run because one call would take too
#: long on a small CI machine (> ~5 s). Empty today: the slowest measured call,
#: reference "wide" float64 at 1 iteration, takes ~1.5-3 s on 2 cores. Add a
#: tuple here to skip a combination (setup raises NotImplementedError, asv's
#: documented way to skip; the result shows as n/a).
TOO_SLOW = set()

LEARNING_RATE = 0.0075
SEED = 20240601
DEFAULT_THREADS = 2


def blas_threads_wanted():
    """BLAS threads the benchmarks use: ``FASTDNN_BENCH_THREADS`` or 2."""
    return int(os.environ.get("FASTDNN_BENCH_THREADS", DEFAULT_THREADS))


def blas_threads_in_use():
    """Largest thread count among the BLAS pools loaded in this process."""
    return max((d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"),
               default=0)


def limit_threads():
    """Apply the wanted BLAS thread count (cheap when it is already in force)."""
    n = blas_threads_wanted()
    if blas_threads_in_use() != n:
        threadpool_limits(limits=n, user_api="blas")
    return n


limit_threads()
print("fastdnn asv benchmarks: BLAS threads = %d (FASTDNN_BENCH_THREADS=%s)"
      % (blas_threads_in_use(), os.environ.get("FASTDNN_BENCH_THREADS", "unset, default 2")),
      file=sys.stderr)


def skip_if_too_slow(impl, size, dtype):
    """Raise NotImplementedError (asv: skip) for combinations listed in TOO_SLOW."""
    if (impl, size, dtype) in TOO_SLOW:
        raise NotImplementedError("%s/%s/%s takes too long per call" % (impl, size, dtype))


def activations(layer_dims):
    """[relu]*(L-1) + [sigmoid]."""
    return ["relu"] * (len(layer_dims) - 2) + ["sigmoid"]


_PROBLEMS = {}


def problem(size, dtype):
    """(X, Y, layer_dims, parameters) for a named size, in ``dtype``; cached per process.

    X (n_x, m) ~ U[0, 1) and Y (1, m) ~ Bernoulli(0.5), from a fixed seed, both
    C-contiguous; parameters from ``initialize(dims, "scaled", 1)`` cast to dtype.
    """
    key = (size, dtype)
    if key not in _PROBLEMS:
        dims, m = SIZES[size]
        rng = np.random.default_rng(SEED)
        X = np.ascontiguousarray(rng.random((dims[0], m)), dtype=dtype)
        Y = np.ascontiguousarray(rng.random((1, m)) < 0.5, dtype=dtype)
        params = {k: np.ascontiguousarray(v, dtype=dtype)
                  for k, v in initialize(dims, "scaled", 1).items()}
        _PROBLEMS[key] = (X, Y, list(dims), params)
    return _PROBLEMS[key]


def new_engine(size, dtype, strategy="auto", planned_iterations=2500):
    """A fresh ``TrainingEngine`` on ``problem(size, dtype)``.

    ``planned_iterations`` feeds the "auto" strategy choice; 2500 (the default
    of ``DeepNeuralNetwork.fit``) makes it pick what a real fit would ("gram"
    for "cat", "direct" for "medium" and "wide").
    """
    from fastdnn.engine import TrainingEngine

    X, Y, dims, params = problem(size, dtype)
    return TrainingEngine(X, Y, params, dims, activations(dims), LEARNING_RATE, strategy,
                          planned_iterations)


_ENGINES = {}


def warm_engine(size, dtype, strategy="auto"):
    """A cached engine that has already trained once (compiled or cache-loaded kernels,
    buffers paged in). Timed calls continue training it: its state keeps evolving
    from call to call, which does not change the work per iteration."""
    key = (size, dtype, strategy)
    if key not in _ENGINES:
        engine = new_engine(size, dtype, strategy)
        engine.run(1, 1)
        _ENGINES[key] = engine
    return _ENGINES[key]


def reference_train(size, dtype, num_iterations):
    """The plain-NumPy oracle, ``L_layer_model``, from the fixed initial parameters."""
    from fastdnn.reference import L_layer_model

    X, Y, dims, params = problem(size, dtype)
    return L_layer_model(X, Y, dims, LEARNING_RATE, num_iterations,
                         initial_parameters=params, record_every=num_iterations)


def fastdnn_train(size, dtype, num_iterations, strategy="auto"):
    """``DeepNeuralNetwork.fit`` from the same initial parameters; returns the model."""
    from fastdnn import DeepNeuralNetwork

    X, Y, dims, params = problem(size, dtype)
    model = DeepNeuralNetwork(dims, LEARNING_RATE, dtype=dtype, strategy=strategy)
    return model.fit(X, Y, num_iterations, initial_parameters=params,
                     record_every=num_iterations)


def warm_numba(dtype):
    """Compile (or load from Numba's cache) every training kernel for ``dtype``,
    both strategies, on the tiny problem."""
    for strategy in ("direct", "gram"):
        warm_engine("tiny", dtype, strategy)
