"""Every compile option of fastdnn's Numba kernels, in one place.

Environment switches (read once, at import):

``FASTDNN_NUMBA_CACHE=0``
    Do not write or read Numba's on-disk cache (``cache=True`` is the default,
    so a second process loads compiled kernels in ~0.3 s instead of compiling
    them for several seconds). For a read-only install, keep caching on and
    point ``NUMBA_CACHE_DIR`` at a writable folder instead.
``FASTDNN_FASTMATH=0``
    Compile without fast-math flags (strict IEEE order of operations).

Setting ``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python (slow, but
readable tracebacks and line coverage).
"""

import os

#: Whether kernels are cached on disk (``FASTDNN_NUMBA_CACHE=0`` turns it off).
CACHE = os.environ.get("FASTDNN_NUMBA_CACHE", "1") != "0"

#: LLVM fast-math flags. ``nnan`` and ``ninf`` are left out on purpose: they
#: would let LLVM assume no NaN/inf exists and break ``np.isfinite`` checks,
#: which the training loop relies on to stop a diverging run.
FASTMATH = (
    {"nsz", "arcp", "contract", "afn", "reassoc"}
    if os.environ.get("FASTDNN_FASTMATH", "1") != "0"
    else False
)

#: Options shared by every ``@njit`` kernel. Serial on purpose: BLAS already
#: uses every core, and ``parallel=True`` loops fought it (1.3x-14x slower).
JIT_OPTIONS = dict(cache=CACHE, fastmath=FASTMATH, nogil=True, error_model="numpy")

#: The same without fast-math, for kernels whose rounding must follow the
#: seed's operation order exactly (the cross-entropy cost, whose printed value
#: the drop-in reproduces digit for digit).
STRICT_JIT_OPTIONS = dict(JIT_OPTIONS, fastmath=False)

#: For the small helpers called many times per iteration (activations, the
#: tiny-matmul loops, the update): inlined into their callers at Numba's IR
#: level, which removes a call with dozens of exploded array arguments each
#: time (tiny network: 1.45 -> ~0.9 us per iteration) at some compile time.
INLINE_JIT_OPTIONS = dict(JIT_OPTIONS, inline="always")
