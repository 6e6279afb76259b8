"""Peak memory of a short training run, reference vs fastdnn.

asv's ``peakmem_`` reports the peak resident set size of the whole benchmark
process, so every value includes a common baseline: the interpreter, numpy,
scipy, numba (imported by the benchmark modules) and the problem's X and Y
(built in setup). Compare implementations within a size, not across sizes.
fastdnn's kernels are loaded (or compiled) on the tiny problem in setup, and
its figure includes what they keep resident.

reference: ``L_layer_model``; fastdnn: ``DeepNeuralNetwork.fit`` (strategy
"auto"), both from the same initial parameters, float64.
"""

from . import common
from .common import IMPLS, SIZE_NAMES

#: iterations of the measured run (memory does not grow with iterations)
MEMORY_ITERATIONS = {"tiny": 10, "cat": 2, "medium": 2, "wide": 1}


class PeakMemTraining:
    params = [IMPLS, SIZE_NAMES]
    param_names = ["impl", "size"]
    timeout = 300

    def setup(self, impl, size):
        common.limit_threads()
        common.skip_if_too_slow(impl, size, "float64")
        common.problem(size, "float64")
        if impl == "fastdnn":
            common.warm_numba("float64")

    def peakmem_train(self, impl, size):
        n = MEMORY_ITERATIONS[size]
        if impl == "reference":
            common.reference_train(size, "float64", n)
        else:
            common.fastdnn_train(size, "float64", n)
