"""Tracked values: speed-up of fastdnn over the reference, numerical agreement, threads.

* ``TrackSpeedup.track_speedup`` (unit "x"): reference time / fastdnn time for
  ``ITERATIONS[size]`` training iterations, measured side by side in the same
  process: one untimed warm-up round, then ``ROUNDS`` interleaved rounds
  (reference, fastdnn, reference, fastdnn, ...), ratio of the medians. Noise
  that drifts over time hits both sides alike.
* ``TrackMaxAbsDiff.track_max_abs_diff`` (unit "abs"): max |fastdnn - reference|
  over every parameter after ``ACCURACY_ITERATIONS[size]`` iterations from the
  same initial parameters, both computed in ``dtype`` (float32 compares the
  float32 fastdnn run with the reference run on float32 arrays).
* ``track_blas_threads`` (unit "threads"): BLAS threads in force during the run.
"""

import statistics
import time

import numpy as np

from . import common
from .common import DTYPES, ITERATIONS, SIZE_NAMES

ROUNDS = 3
#: iterations before comparing parameters; cat's 20 make "auto" pick "gram"
ACCURACY_ITERATIONS = {"tiny": 200, "cat": 20, "medium": 2, "wide": 1}


class TrackSpeedup:
    params = [SIZE_NAMES, DTYPES]
    param_names = ["size", "dtype"]
    unit = "x"
    timeout = 300

    def setup(self, size, dtype):
        common.limit_threads()
        common.skip_if_too_slow("reference", size, dtype)
        common.skip_if_too_slow("fastdnn", size, dtype)
        self.engine = common.warm_engine(size, dtype)

    def track_speedup(self, size, dtype):
        n = ITERATIONS[size]
        runs = {
            "reference": lambda: common.reference_train(size, dtype, n),
            "fastdnn": lambda: self.engine.run(n, n),
        }
        for run in runs.values():  # untimed warm-up round
            run()
        times = {name: [] for name in runs}
        for _ in range(ROUNDS):
            for name, run in runs.items():
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)
        return statistics.median(times["reference"]) / statistics.median(times["fastdnn"])


def _max_abs_diff(a, b):
    return float(max(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))
                     for k in a))


class TrackMaxAbsDiff:
    params = [SIZE_NAMES, DTYPES]
    param_names = ["size", "dtype"]
    unit = "abs"
    timeout = 300

    def setup(self, size, dtype):
        common.limit_threads()
        common.skip_if_too_slow("reference", size, dtype)
        common.warm_numba(dtype)

    def track_max_abs_diff(self, size, dtype):
        n = ACCURACY_ITERATIONS[size]
        ref, _ = common.reference_train(size, dtype, n)
        fast = common.fastdnn_train(size, dtype, n).parameters_
        return _max_abs_diff(ref, fast)


class TrackMaxAbsDiffStrategy:
    """As TrackMaxAbsDiff, on the cat size with each first-layer strategy forced."""

    params = [["direct", "gram"], DTYPES]
    param_names = ["strategy", "dtype"]
    unit = "abs"
    timeout = 300

    def setup(self, strategy, dtype):
        common.limit_threads()
        common.warm_numba(dtype)

    def track_max_abs_diff_cat(self, strategy, dtype):
        n = ACCURACY_ITERATIONS["cat"]
        ref, _ = common.reference_train("cat", dtype, n)
        fast = common.fastdnn_train("cat", dtype, n, strategy=strategy).parameters_
        return _max_abs_diff(ref, fast)


def track_blas_threads():
    """BLAS threads in force (FASTDNN_BENCH_THREADS, default 2)."""
    common.limit_threads()
    return common.blas_threads_in_use()


track_blas_threads.unit = "threads"
