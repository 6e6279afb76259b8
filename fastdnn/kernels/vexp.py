"""A softmax whose exponentials LLVM can vectorise (for the split strategy only).

``np.exp`` compiles to a call into the C library, one value at a time (~7 ns
each here): the softmax of a (10, 100) slice costs ~8 us, a tenth of a digits
step. ``exp_nonpositive`` is exp(x) for x <= 0 written as plain arithmetic --
x = k ln2 + r with |r| <= ln2/2, a degree-13 Taylor polynomial for exp(r), the
factor 2^k built from its bits -- which LLVM turns into vector code. It agrees
with the C library to within a unit in the last place (tested against
``np.exp``); below -708.396 it returns 0 where the C library returns subnormals
(< 2.2e-308, nothing next to the column's largest term, 1).

The one-core path keeps ``activations.softmax_columns`` (its bits are promised).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .config import FASTMATH, INLINE_JIT_OPTIONS, JIT_OPTIONS

#: exp_nonpositive's options: fast-math without ``reassoc``, which would merge the two
#: steps of ``(x - k LN2_HI) - k LN2_LO`` and lose the low part (measured: errors up to
#: 200 units in the last place near x = -700). Not inlined at Numba's level, so that the
#: flags stay its own; LLVM still inlines it into the loops and vectorises them.
EXP_JIT_OPTIONS = dict(JIT_OPTIONS, fastmath=(set(FASTMATH) - {"reassoc"}) if FASTMATH else False)

LN2_HI = 6.93147180369123816490e-01   # ln 2 split in two: k * LN2_HI is exact for |k| < 2^20
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e+00
#: log of the smallest normal float64 (2.2e-308): below it exp(x) is returned as 0.
LOWEST = -708.3964185322641
#: 1 / n! for n = 0..13: exp(r) = sum r^n / n! + O(r^14 / 14!) (< 5e-18 for |r| <= ln2/2).
INVERSE_FACTORIALS = tuple(1.0 / float(np.prod(np.arange(1, n + 1))) for n in range(14))


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 whose IEEE bits are the int64 ``bits`` (a register move, vectorisable)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@njit(**EXP_JIT_OPTIONS)
def exp_nonpositive(x):
    """exp(x) in float64 for x <= 0 (0 below ``LOWEST``), as vectorisable arithmetic."""
    x = float(x)
    below = x < LOWEST
    x = max(x, LOWEST)
    k = np.floor(x * INV_LN2 + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    c = INVERSE_FACTORIALS
    p = c[13]
    for n in range(12, -1, -1):   # Horner; a constant trip count, unrolled by LLVM
        p = p * r + c[n]
    e = p * _float_from_bits((np.int64(k) + 1023) << 52)
    return 0.0 if below else e


@njit(**INLINE_JIT_OPTIONS)
def softmax_columns_vectorised(Z, top, total):
    """In place: each column of Z (n, m) <- exp(z - max z) / sum(exp(z - max z)), the loops
    running along the rows (the m columns side by side) so that they vectorise.
    top, total: (>= m,) float64 scratch for each column's maximum and sum."""
    n, m = Z.shape
    for j in range(m):
        top[j] = Z[0, j]
        total[j] = 0.0
    for i in range(1, n):
        for j in range(m):
            top[j] = max(top[j], Z[i, j])
    for i in range(n):
        for j in range(m):
            e = exp_nonpositive(Z[i, j] - top[j])
            Z[i, j] = e
            total[j] += e
    for i in range(n):
        for j in range(m):
            Z[i, j] = Z[i, j] / total[j]
