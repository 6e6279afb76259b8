"""Preallocated buffers of a training run, and their per-layer views.

A ``Workspace`` is built once for ``(layer_dims, m, dtype)``; the compiled
training loops then only read and write these arrays (see
``fastdnn.kernels.training`` for the layout). m is the number of examples a
pass sees at once: all of them for full-batch training, the batch size for
mini-batches (a smaller last batch uses the front of the same buffers).
"""

import numpy as np

from ..kernels.activations import CODES


class Workspace:
    """Flat parameter, gradient, activation, delta, dropout and optimiser buffers.

    layer_dims: [n_0, n_1, ..., n_L]; m: examples per pass; activations: L names.
    ``training=False`` leaves out everything but parameters and activations
    (prediction only runs the forward pass). ``dropout`` adds the pre-dropout
    activations and masks; ``moments`` (0, 1 or 2) the optimiser's v and s;
    ``gather=True`` the (m, n_0) and (m, n_L) buffers mini-batches are gathered into.
    ``arith`` is the update kernels' arithmetic (``kernels.update.arith_zero``): an empty
    float32 array with ``native_update`` and float32 parameters (float32 steps in
    float32), else int64 (the original arithmetic; float64 runs are the same either way
    and share its compiled kernels).
    """

    def __init__(self, layer_dims, m, dtype, activations, training=True, *, dropout=False,
                 moments=0, gather=False, native_update=False):
        self.dims = np.asarray(layer_dims, dtype=np.int64)
        self.m = int(m)
        self.dtype = np.dtype(dtype)
        self.codes = np.array([CODES[a] for a in activations], dtype=np.int64)
        n_out, n_in = self.dims[1:], self.dims[:-1]
        layer_sizes = n_out * n_in + n_out
        starts = np.concatenate(([0], np.cumsum(layer_sizes)[:-1])).astype(np.int64)
        self.w_off = starts
        self.b_off = starts + n_out * n_in
        P = int(layer_sizes.sum())
        self.params = np.zeros(P, dtype=self.dtype)
        self.grads = np.zeros(P if training else 0, dtype=self.dtype)
        act_sizes = n_out * self.m
        self.a_off = np.concatenate(([0], np.cumsum(act_sizes)[:-1])).astype(np.int64)
        self.acts = np.zeros(int(act_sizes.sum()), dtype=self.dtype)
        self.delta = np.zeros((2, int(act_sizes.max()) if training else 0), dtype=self.dtype)
        n_drop = self.acts.size if dropout else 0
        self.pre = np.zeros(n_drop, dtype=self.dtype)
        self.mask = np.zeros(n_drop, dtype=np.bool_)
        self.vel = np.zeros(P if moments >= 1 else 0, dtype=self.dtype)
        self.sq = np.zeros(P if moments >= 2 else 0, dtype=self.dtype)
        self.counters = np.zeros(1, dtype=np.int64)  # Adam's t: its update steps so far
        self.rng = np.zeros(1, dtype=np.uint64)      # dropout generator state
        self.xb = np.zeros(self.m * int(self.dims[0]) if gather else 0, dtype=self.dtype)
        self.yb = np.zeros(self.m * int(self.dims[-1]) if gather else 0, dtype=self.dtype)
        native = native_update and self.dtype == np.float32
        self.arith = np.empty(0, dtype=np.float32 if native else np.int64)

    @property
    def n_layers(self):
        """L, the number of weight layers."""
        return len(self.dims) - 1

    def W(self, l, buf=None):
        """View of layer l's weights (n_l, n_{l-1}) in ``buf`` (default: params), l = 1..L."""
        buf = self.params if buf is None else buf
        n, k = self.dims[l], self.dims[l - 1]
        return buf[self.w_off[l - 1]:self.w_off[l - 1] + n * k].reshape(n, k)

    def b(self, l, buf=None):
        """View of layer l's bias (n_l, 1) in ``buf`` (default: params), l = 1..L."""
        buf = self.params if buf is None else buf
        n = self.dims[l]
        return buf[self.b_off[l - 1]:self.b_off[l - 1] + n].reshape(n, 1)

    def A(self, l):
        """View of layer l's activations (n_l, m), l = 1..L."""
        n = self.dims[l]
        return self.acts[self.a_off[l - 1]:self.a_off[l - 1] + n * self.m].reshape(n, self.m)

    def set_parameters(self, parameters, buf=None, prefix=""):
        """Copy a seed-format dict (W1, b1, ... or, with prefix "d", dW1, db1, ...) into
        ``buf`` (default: params), cast to the dtype."""
        for l in range(1, self.n_layers + 1):
            self.W(l, buf)[...] = parameters["%sW%d" % (prefix, l)]
            self.b(l, buf)[...] = parameters["%sb%d" % (prefix, l)]

    def parameters(self, buf=None, prefix=""):
        """A seed-format dict of copies: W1 (n_1, n_0), b1 (n_1, 1), ... (keys prefixed)."""
        out = {}
        for l in range(1, self.n_layers + 1):
            out["%sW%d" % (prefix, l)] = self.W(l, buf).copy()
            out["%sb%d" % (prefix, l)] = self.b(l, buf).copy()
        return out

    def set_optimizer_state(self, state):
        """Load a saved optimiser state (``optimizer_state_``'s form: "v", "s" parameter
        dicts, "t" Adam's step count, "rng" the dropout generator) into vel, sq, counters
        and rng; entries that are missing or None leave their buffer as it is."""
        for buf, key in ((self.vel, "v"), (self.sq, "s")):
            if buf.size and state.get(key) is not None:
                self.set_parameters(state[key], buf, "d")
        self.counters[0] = int(state.get("t", 0))
        if state.get("rng") is not None:
            self.rng[0] = np.uint64(int(state["rng"]))

    @property
    def nbytes(self):
        """Bytes held by all buffers (the training working set besides X and Y)."""
        return sum(a.nbytes for a in (self.params, self.grads, self.acts, self.delta, self.pre,
                                      self.mask, self.vel, self.sq, self.xb, self.yb))

    def kernel_args(self):
        """Layout arrays and buffers, in the order the training kernels take them:
        dims, codes, w_off, b_off, a_off, params, grads, acts, delta, pre, mask, vel, sq."""
        return (self.dims, self.codes, self.w_off, self.b_off, self.a_off, self.params,
                self.grads, self.acts, self.delta, self.pre, self.mask, self.vel, self.sq)


class PartBuffers:
    """The split strategy's per-core buffers (``fastdnn.kernels.split``): a batch of up to
    ``batch_size`` examples cut into ``parts`` slices, each with its own gathered rows,
    activations, deltas and gradient sums, stacked on a leading (parts,) axis.

    ``a_off`` is the activation layout of one slice (of ``rows`` examples); the
    parameters, moments and layer offsets stay the Workspace's.
    """

    def __init__(self, layer_dims, activations, batch_size, dtype, parts):
        self.parts = int(parts)
        self.rows = -(-int(batch_size) // self.parts)  # the largest slice
        one = Workspace(layer_dims, self.rows, dtype, activations, gather=True)
        self.a_off = one.a_off
        self.xb, self.yb, self.grads, self.acts, self.delta = (
            np.zeros((self.parts,) + a.shape, dtype=a.dtype)
            for a in (one.xb, one.yb, one.grads, one.acts, one.delta))
        self.part_loss = np.zeros(self.parts, dtype=np.float64)
        self.part_ok = np.zeros(self.parts, dtype=np.bool_)
        # the forward pass runs a softmax output as identity; the split kernel applies its
        # vectorised softmax (kernels/vexp.py) with a column maximum and sum per slice
        self.fwd_codes = np.where(one.codes == CODES["softmax"], CODES["identity"], one.codes)
        self.scratch = np.zeros((self.parts, 2, self.rows), dtype=np.float64)
