"""Cheap views into flat buffers, and borrowed arrays, for use inside compiled kernels.

``buf[off:off + r * c].reshape((r, c))`` costs ~50 ns inside Numba (a runtime
call that re-derives contiguity); a tiny network takes a few dozen such views
per iteration, which was most of its time. ``block`` builds the same
C-contiguous view directly (shape and strides are known).

The view is *borrowed*: it carries no memory owner, so creating and dropping
it costs no atomic reference-count updates (tiny network: 0.92 -> 0.63 us per
iteration). It is therefore only valid while ``buf`` is alive, i.e. inside the
kernel call that made it; kernels never return such a view to Python. It does
no bounds check either: the layout (``fastdnn.engine.workspace``) guarantees
``off + r * c <= buf.size``.

``borrow`` gives a kernel's own arguments the same treatment. Numba counts
references on every array a kernel passes around: each inlined helper takes
new references to the arrays it is given and drops them again, two atomic
operations per array and call (tiny network at batch 1: ~60 per step, 40% of
its time). A kernel that borrows its arrays once on entry (the caller holds
them for the whole call) makes all of those no-ops; the arithmetic is the same.
"""

from numba import config
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


@intrinsic
def _block(typingctx, buf, off, rows, cols):
    ret = types.Array(buf.dtype, 2, "C")
    sig = ret(buf, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        buf_v, off_v, rows_v, cols_v = args
        src = make_array(signature.args[0])(context, builder, buf_v)
        out = make_array(ret)(context, builder)
        itemsize = context.get_constant(
            types.intp, context.get_abi_sizeof(context.get_data_type(buf.dtype)))
        populate_array(out, data=builder.gep(src.data, [off_v]),
                       shape=cgutils.pack_array(builder, [rows_v, cols_v]),
                       strides=cgutils.pack_array(builder, [builder.mul(cols_v, itemsize), itemsize]),
                       itemsize=itemsize, meminfo=cgutils.get_null_value(src.meminfo.type))
        return out._getvalue()

    return sig, codegen


@intrinsic
def _borrow(typingctx, *values):
    ret = types.Tuple(values)
    sig = ret(types.StarArgTuple(values))

    def codegen(context, builder, signature, args):
        out = []
        for i, ty in enumerate(signature.args[0]):
            v = builder.extract_value(args[0], i)
            if isinstance(ty, types.Array):
                a = make_array(ty)(context, builder, value=v)
                a.meminfo = cgutils.get_null_value(a.meminfo.type)
                a.parent = cgutils.get_null_value(a.parent.type)
                v = a._getvalue()
            out.append(v)
        return context.make_tuple(builder, signature.return_type, out)

    return sig, codegen


def _block_python(buf, off, rows, cols):
    """The plain-Python equivalent, used when NUMBA_DISABLE_JIT=1."""
    return buf[off:off + rows * cols].reshape((rows, cols))


def _borrow_python(*values):
    """The plain-Python equivalent of ``borrow``."""
    return values


#: block(buf (N,), off, rows, cols) -> (rows, cols) C-contiguous view of buf[off:off + rows*cols]
block = _block_python if config.DISABLE_JIT else _block
#: borrow(a, b, ...) -> (a, b, ...) with every array borrowed: the same type, data, shape
#: and strides without its owner (other values pass through)
borrow = _borrow_python if config.DISABLE_JIT else _borrow
