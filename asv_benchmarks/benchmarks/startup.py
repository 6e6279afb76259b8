"""Start-up cost in a fresh interpreter: ``import fastdnn`` and the first small fit.

``timeraw_`` benchmarks return code that asv runs in a new Python process per
sample; only the statement is timed, the setup part (numpy and the data) is
not. The first ``fit`` imports numba and gets the training kernels either from
Numba's on-disk cache (warm) or by compiling them (cold):

* warm: the default cache (``__pycache__`` beside fastdnn's sources, or
  ``NUMBA_CACHE_DIR`` if set); ``setup`` runs the same fit in the benchmark
  process first so the cache is filled even on a fresh checkout.
* cold: ``FASTDNN_NUMBA_CACHE=0`` set in the child before fastdnn is imported,
  so every kernel is compiled and nothing is read from or written to disk.
"""

from . import common

_DATA = """
import numpy as np
X = np.random.default_rng(0).random((5, 8))
Y = (np.arange(8) % 2).reshape(1, 8).astype(np.float64)
"""

_COLD = """
import os
os.environ["FASTDNN_NUMBA_CACHE"] = "0"
"""

_IMPORT = """
import fastdnn
fastdnn.DeepNeuralNetwork
"""

_FIRST_FIT = """
import fastdnn
fastdnn.DeepNeuralNetwork([5, 4, 3, 1]).fit(X, Y, 100)
"""


class Startup:
    number = 1
    repeat = 3
    rounds = 1
    warmup_time = 0
    timeout = 600

    def setup(self):
        common.limit_threads()
        namespace = {}
        exec(_DATA + _FIRST_FIT, namespace)  # fills Numba's default cache for the warm case

    def timeraw_import(self):
        """``import fastdnn`` and its model module (which imports numba)."""
        return _IMPORT, _DATA

    def timeraw_first_fit_warm_cache(self):
        """import + first 100-iteration fit of [5, 4, 3, 1], kernels from Numba's cache."""
        return _FIRST_FIT, _DATA

    def timeraw_first_fit_cold_cache(self):
        """import + first 100-iteration fit of [5, 4, 3, 1], every kernel compiled."""
        return _FIRST_FIT, _COLD + _DATA
