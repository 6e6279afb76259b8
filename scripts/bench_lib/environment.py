"""Thread limits that must be in the environment before numpy / torch / jax load.

Imports nothing heavy, so the benchmark scripts call it first.
"""

import os


def set_thread_env(threads):
    """OpenBLAS / OpenMP / MKL and XLA's CPU thread counts, for this process and its children."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=%s intra_op_parallelism_threads=%d"
                               % ("true" if threads > 1 else "false", threads)).strip()
