"""Preallocated buffers of a training run, and their per-layer views.

A ``Workspace`` is built once for ``(layer_dims, m, dtype)``; the compiled
training loop then only reads and writes these arrays (see
``fastdnn.kernels.training`` for the layout).
"""

import numpy as np

from ..kernels.activations import CODES


class Workspace:
    """Flat parameter, gradient, activation and delta buffers for one network.

    layer_dims: [n_0, n_1, ..., n_L]; m: number of examples; activations: L names.
    ``training=False`` leaves out the gradient and delta buffers (prediction
    only runs the forward pass).
    """

    def __init__(self, layer_dims, m, dtype, activations, training=True):
        self.dims = np.asarray(layer_dims, dtype=np.int64)
        self.m = int(m)
        self.dtype = np.dtype(dtype)
        self.codes = np.array([CODES[a] for a in activations], dtype=np.int64)
        n_out, n_in = self.dims[1:], self.dims[:-1]
        layer_sizes = n_out * n_in + n_out
        starts = np.concatenate(([0], np.cumsum(layer_sizes)[:-1])).astype(np.int64)
        self.w_off = starts
        self.b_off = starts + n_out * n_in
        self.params = np.zeros(int(layer_sizes.sum()), dtype=self.dtype)
        self.grads = np.zeros(self.params.size if training else 0, dtype=self.dtype)
        act_sizes = n_out * self.m
        self.a_off = np.concatenate(([0], np.cumsum(act_sizes)[:-1])).astype(np.int64)
        self.acts = np.zeros(int(act_sizes.sum()), dtype=self.dtype)
        self.delta = np.zeros((2, int(act_sizes.max()) if training else 0), dtype=self.dtype)

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

    def set_parameters(self, parameters):
        """Copy a seed-format dict (W1, b1, ...) into the flat buffer (cast to dtype)."""
        for l in range(1, self.n_layers + 1):
            self.W(l)[...] = parameters["W%d" % l]
            self.b(l)[...] = parameters["b%d" % l]

    def parameters(self, buf=None):
        """A seed-format dict of copies: W1 (n_1, n_0), b1 (n_1, 1), ..."""
        out = {}
        for l in range(1, self.n_layers + 1):
            out["W%d" % l] = self.W(l, buf).copy()
            out["b%d" % l] = self.b(l, buf).copy()
        return out

    @property
    def nbytes(self):
        """Bytes held by all buffers (the training working set besides X and Y)."""
        return sum(a.nbytes for a in (self.params, self.grads, self.acts, self.delta))

    def kernel_args(self):
        """The layout arrays and buffers, in the order the training kernels take them."""
        return (self.dims, self.codes, self.params, self.grads, self.w_off, self.b_off,
                self.acts, self.a_off, self.delta)
