"""Training speed: full-batch gradient-descent iterations, reference vs fastdnn.

Each timed call runs ``ITERATIONS[size]`` iterations (tiny 100, cat 5,
medium 2, wide 1), the same for both implementations, so asv reports the time
of one call: **time per iteration = reported time / ITERATIONS[size]**.

* reference: ``fastdnn.reference.L_layer_model`` (plain NumPy) from the fixed
  initial parameters (its deep copy of them is inside the timing; negligible).
* fastdnn: ``TrainingEngine.run`` on an engine built and run once in setup
  (Numba kernels compiled or loaded from cache, buffers paged in), so neither
  compile time nor one-off work of a fit (e.g. the Gram matrix X^T X of the
  "gram" strategy) lands in a timing. The engine keeps training from call to
  call; the work per iteration does not depend on its state.

asv re-runs ``setup`` before every timed call; it only looks up cached
problems and engines, so that costs nothing measurable.
"""

from . import common
from .common import DTYPES, IMPLS, ITERATIONS, SIZE_NAMES


class TimeTrainingIteration:
    """ITERATIONS[size] training iterations per call; strategy "auto" for fastdnn
    (planned for a 2500-iteration fit: "gram" on cat, "direct" elsewhere)."""

    params = [IMPLS, SIZE_NAMES, DTYPES]
    param_names = ["impl", "size", "dtype"]
    repeat = (1, 5, 10.0)  # min samples, max samples, seconds per round
    timeout = 300

    def setup(self, impl, size, dtype):
        common.limit_threads()
        common.skip_if_too_slow(impl, size, dtype)
        self.n = ITERATIONS[size]
        common.problem(size, dtype)
        if impl == "fastdnn":
            self.engine = common.warm_engine(size, dtype)

    def time_train(self, impl, size, dtype):
        if impl == "reference":
            common.reference_train(size, dtype, self.n)
        else:
            self.engine.run(self.n, self.n)


class TimeTrainingStrategy:
    """fastdnn on the cat size with each first-layer strategy, ITERATIONS["cat"]
    (5) iterations per call. The one-off X^T X of "gram" is in setup, not timed."""

    params = [["direct", "gram"], DTYPES]
    param_names = ["strategy", "dtype"]
    repeat = (1, 5, 10.0)
    timeout = 300

    def setup(self, strategy, dtype):
        common.limit_threads()
        self.n = ITERATIONS["cat"]
        self.engine = common.warm_engine("cat", dtype, strategy)

    def time_train_cat(self, strategy, dtype):
        self.engine.run(self.n, self.n)
