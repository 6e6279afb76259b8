"""Arithmetic that must round exactly as IEEE (and as the first fastdnn release) does.

The training loops are compiled with fast-math, whose ``arcp`` flag lets LLVM
turn ``a / b`` into ``a * (1 / b)``: one ulp off, which would change the
results of the notebook's configuration from one release to the next. The
few divisions whose exact rounding matters (the step lr / m, the mean cost)
go through this strictly compiled helper; LLVM keeps its instructions' (lack
of) flags even when it inlines it.
"""

from numba import njit

from .config import STRICT_JIT_OPTIONS


@njit(**STRICT_JIT_OPTIONS)
def divide(a, b):
    """a / b, correctly rounded (float64 for a float64 a)."""
    return a / b
