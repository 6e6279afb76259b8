"""How many BLAS threads a training run uses.

fastdnn's kernels are serial (but for the "split" strategy below); parallelism
comes from BLAS (numpy's and scipy's OpenBLAS: numba's ``np.dot`` calls
scipy's). Waking BLAS threads costs more than it saves on small products, and on
a busy machine a 2-thread BLAS call of a small product was measured up to 100x
slower than a 1-thread one. So:

- ``n_threads=None`` ("auto", the default): if every BLAS product of an
  iteration is smaller than ``SINGLE_THREAD_BELOW`` multiply-adds, the run uses
  one BLAS thread; otherwise the BLAS setting is left as it is (set it with
  ``OPENBLAS_NUM_THREADS`` or ``threadpoolctl.threadpool_limits``).
- ``n_threads=k``: the run uses k BLAS threads.

Either way the previous limits are restored when the run returns.

The "split" strategy (``fastdnn.engine.strategy``) is the exception: its cores
each call BLAS on their slice of the batch, so BLAS runs on one thread, and
``n_threads`` is the number of slices (None: Numba's thread count, the cores).
"""

from contextlib import nullcontext

from ..kernels.linear import SMALL_MATMUL

#: Multiply-adds of the largest BLAS product per iteration below which one thread is used.
SINGLE_THREAD_BELOW = 1 << 23

_controller = None


def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries (found once)."""
    global _controller
    if _controller is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot uses)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def largest_blas_product(layer_dims, m, strategy):
    """Multiply-adds of the largest product per iteration that goes to BLAS (0 if none)."""
    sizes = [layer_dims[l] * layer_dims[l - 1] * m for l in range(1, len(layer_dims))]
    if strategy == "gram":
        sizes[0] = layer_dims[1] * m * m
    return max([s for s in sizes if s >= SMALL_MATMUL], default=0)


def split_parts(n_threads):
    """Slices of each batch under the "split" strategy: n_threads, or the number of threads
    Numba runs parallel loops on (``numba.get_num_threads()``: the cores, unless lowered)."""
    if n_threads is not None:
        return int(n_threads)
    import numba
    return int(numba.get_num_threads())


def blas_threads(n_threads, layer_dims, m, strategy):
    """Context manager applying the thread policy above to one run."""
    if strategy == "split":
        n_threads = 1
    elif n_threads is None:
        biggest = largest_blas_product(layer_dims, m, strategy)
        if biggest == 0 or biggest >= SINGLE_THREAD_BELOW:
            return nullcontext()
        n_threads = 1
    return _blas_controller().limit(limits=n_threads)
