"""Machine facts for the benchmark: numpy GEMM peak, BLAS thread pools, thread limits."""

import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["gemm_peak_gflops", "thread_info", "set_threads"]

_INFO_KEYS = ("user_api", "internal_api", "prefix", "version", "num_threads",
              "architecture", "threading_layer", "filepath")


def gemm_peak_gflops(dtype="float64", n=2048, repeats=5):
    """Median GFLOP/s of numpy ``A @ B`` for square (n, n) matrices of ``dtype``.

    Counts 2 n^3 flops per product; one untimed warm-up product first. Uses
    whatever BLAS threads are currently allowed (see :func:`set_threads`).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=c)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(times) / 1e9


def thread_info():
    """threadpoolctl's view of every loaded thread pool (BLAS and OpenMP).

    Returns a list of dicts with keys user_api ("blas"/"openmp"), internal_api
    ("openblas", "mkl", ...), prefix, version, num_threads, architecture (the
    OpenBLAS kernel in use, e.g. "Haswell" or "SkylakeX"), threading_layer and
    filepath (missing keys are None). Import numpy / scipy.linalg / torch first
    to have their pools listed; scipy's BLAS is loaded by ``scipy.linalg``.
    """
    return [{k: d.get(k) for k in _INFO_KEYS} for d in threadpool_info()]


def set_threads(n):
    """Limit every loaded BLAS and OpenMP pool to ``n`` threads (and torch, if imported).

    Returns the ``threadpool_limits`` object (it is also a context manager;
    call ``.restore_original_limits()`` to undo). Pools loaded later are not
    affected: set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before importing to
    cover those too.
    """
    limits = threadpool_limits(limits=n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    return limits
