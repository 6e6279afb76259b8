"""Single kernels, reference (plain NumPy seed functions) vs fastdnn (Numba kernels).

Inputs are built once per process and cached; fastdnn writes into preallocated
outputs (its training loop's way), the reference allocates its results (the
seed's way), so both sides are timed as they are used. Kernels are called once
in the first setup of a process so compile/cache-load time is never timed.
Where a fastdnn kernel works in place, setup (which asv re-runs before every
timed call) restores its input first.

Layer shapes are "n x k x m": W (n, k), A_prev (k, m), Z (n, m).
"""

import numpy as np

from fastdnn import reference
from fastdnn.initializers import initialize
from fastdnn.kernels.activations import (CODES, RELU, activate, activation_backward,
                                         add_bias_activate)
from fastdnn.kernels.linear import linear_grads_into, matmul_into
from fastdnn.kernels.update import gradient_descent_update

from . import common
from .common import DTYPES, IMPLS, LEARNING_RATE

#: cat's first layer, medium's first layer, and a small layer under the
#: matmul_into BLAS threshold (plain compiled loop).
LINEAR_SHAPES = ["20x12288x209", "128x784x10000", "7x20x209"]
#: activations of medium's first layer
ACTIVATION_SHAPE = (128, 10000)
#: networks whose whole parameter vector is updated
UPDATE_NETWORKS = ["cat", "wide"]

_CACHE = {}


def _cached(key, build):
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def _rng():
    return np.random.default_rng(common.SEED)


def _linear_inputs(shape, dtype):
    n, k, m = (int(s) for s in shape.split("x"))
    rng = _rng()
    W = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(dtype)
    b = (0.1 * rng.standard_normal((n, 1))).astype(dtype)
    A_prev = rng.random((k, m)).astype(dtype)
    dZ = (0.01 * rng.standard_normal((n, m))).astype(dtype)
    Z = np.empty((n, m), dtype=dtype)
    dW = np.empty((n, k), dtype=dtype)
    db = np.empty(n, dtype=dtype)
    dA_prev = np.empty((k, m), dtype=dtype)
    return dict(W=W, b=b, b1=b.reshape(-1), A_prev=A_prev, dZ=dZ, Z=Z, dW=dW, db=db,
                dA_prev=dA_prev)


class TimeLinear:
    """Linear part of a layer: forward (W A + b, then ReLU) and backward (dW, db, dA_prev).

    fastdnn forward = ``matmul_into`` + ``add_bias_activate`` (bias and ReLU fused);
    reference forward = ``linear_activation_forward(A, W, b, "relu")``.
    fastdnn backward = ``linear_grads_into`` (dW, db unscaled: the 1/m is fused into
    the update in training) + ``matmul_into(W.T, dZ)`` for dA_prev;
    reference backward = ``linear_backward(dZ, (A_prev, W, b))``.
    """

    params = [IMPLS, LINEAR_SHAPES, DTYPES]
    param_names = ["impl", "shape", "dtype"]
    repeat = (1, 10, 5.0)

    def setup(self, impl, shape, dtype):
        common.limit_threads()
        self.x = _cached(("linear", shape, dtype), lambda: _linear_inputs(shape, dtype))
        if impl == "fastdnn":
            _cached(("linear-warm", shape, dtype), lambda: self._warm(impl, shape, dtype))

    def _warm(self, *params):
        self.time_forward(*params)
        self.time_backward(*params)
        return True

    def time_forward(self, impl, shape, dtype):
        x = self.x
        if impl == "fastdnn":
            matmul_into(x["W"], x["A_prev"], x["Z"])
            add_bias_activate(x["Z"], x["b1"], RELU)
        else:
            reference.linear_activation_forward(x["A_prev"], x["W"], x["b"], "relu")

    def time_backward(self, impl, shape, dtype):
        x = self.x
        if impl == "fastdnn":
            linear_grads_into(x["dZ"], x["A_prev"], x["dW"], x["db"])
            matmul_into(x["W"].T, x["dZ"], x["dA_prev"])
        else:
            reference.linear_backward(x["dZ"], (x["A_prev"], x["W"], x["b"]))


def _activation_inputs(activation, dtype):
    rng = _rng()
    Z = rng.standard_normal(ACTIVATION_SHAPE).astype(dtype)
    A = getattr(reference, activation)(Z)[0]
    dA = rng.standard_normal(ACTIVATION_SHAPE).astype(dtype)
    return dict(Z=Z, A=np.ascontiguousarray(A), dA=dA, Z_work=Z.copy(), dA_work=dA.copy())


class TimeActivation:
    """Elementwise activation on a 128 x 10000 array (medium's first layer).

    forward: fastdnn ``activate`` (in place) vs reference ``relu``/``sigmoid``;
    backward: fastdnn ``activation_backward`` (in place, through the output A)
    vs reference ``relu_backward``/``sigmoid_backward`` (through Z).
    """

    params = [IMPLS, ["relu", "sigmoid"], DTYPES]
    param_names = ["impl", "activation", "dtype"]
    repeat = (1, 10, 5.0)
    # one call per sample, so setup restores the in-place inputs before every
    # call with any asv_runner (repeated in-place sigmoid backward would
    # otherwise shrink dA into denormals)
    number = 1

    def setup(self, impl, activation, dtype):
        common.limit_threads()
        self.x = x = _cached(("act", activation, dtype),
                             lambda: _activation_inputs(activation, dtype))
        self.code = CODES[activation]
        self.ref_forward = getattr(reference, activation)
        self.ref_backward = getattr(reference, activation + "_backward")
        if impl == "fastdnn":
            _cached(("act-warm", activation, dtype), lambda: self._warm(impl, activation, dtype))
            np.copyto(x["Z_work"], x["Z"])
            np.copyto(x["dA_work"], x["dA"])

    def _warm(self, *params):
        self.time_forward(*params)
        self.time_backward(*params)
        return True

    def time_forward(self, impl, activation, dtype):
        if impl == "fastdnn":
            activate(self.x["Z_work"], self.code)
        else:
            self.ref_forward(self.x["Z"])

    def time_backward(self, impl, activation, dtype):
        if impl == "fastdnn":
            activation_backward(self.x["dA_work"], self.x["A"], self.code)
        else:
            self.ref_backward(self.x["dA"], self.x["Z"])


def _update_inputs(network, dtype):
    dims = common.SIZES[network][0]
    rng = _rng()
    params = {k: v.astype(dtype) for k, v in initialize(dims, "scaled", 1).items()}
    grads = {}
    for l in range(1, len(dims)):
        grads["dW%d" % l] = (1e-3 * rng.standard_normal(params["W%d" % l].shape)).astype(dtype)
        grads["db%d" % l] = (1e-3 * rng.standard_normal(params["b%d" % l].shape)).astype(dtype)
    flat_params = np.concatenate([params[k].ravel() for k in sorted(params)])
    flat_grads = np.concatenate([grads["d" + k].ravel() for k in sorted(params)])
    return dict(params=params, grads=grads, flat_params=flat_params, flat_grads=flat_grads,
                step=flat_params.dtype.type(LEARNING_RATE))


class TimeUpdate:
    """One gradient-descent step over every parameter of a network.

    fastdnn: ``gradient_descent_update`` over the flat parameter buffer (one
    fused loop, in place); reference: ``update_parameters`` (new arrays per layer).
    """

    params = [IMPLS, UPDATE_NETWORKS, DTYPES]
    param_names = ["impl", "network", "dtype"]
    repeat = (1, 10, 5.0)

    def setup(self, impl, network, dtype):
        common.limit_threads()
        self.x = _cached(("update", network, dtype), lambda: _update_inputs(network, dtype))
        if impl == "fastdnn":
            _cached(("update-warm", network, dtype), lambda: self._warm(impl, network, dtype))

    def _warm(self, *params):
        self.time_update(*params)
        return True

    def time_update(self, impl, network, dtype):
        x = self.x
        if impl == "fastdnn":
            gradient_descent_update(x["flat_params"], x["flat_grads"], x["step"])
        else:
            reference.update_parameters(x["params"], x["grads"], LEARNING_RATE)
