"""Competitor baselines: the same full-batch gradient-descent run in other frameworks.

Network: [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID, cross-entropy cost. Each
iteration, for l = 1..L and then back from L to 1::

    Z_l = W_l A_{l-1} + b_l,  A_l = relu(Z_l) (l < L),  A_L = sigmoid(Z_L),  A_0 = X
    dZ_L = A_L - Y
    dW_l = dZ_l A_{l-1}^T / m,  db_l = sum(dZ_l, axis=1) / m
    dA_{l-1} = W_l^T dZ_l  (old W_l; not for l = 1),  dZ_{l-1} = dA_{l-1} * (Z_{l-1} > 0)
    W_l -= lr dW_l,  b_l -= lr db_l

Shapes: X (n_0, m), Y (1, m), W_l (n_l, n_{l-1}), b_l (n_l, 1), with
``layer_dims = [n_0, ..., n_L]``.

Every factory ``make_<name>(layer_dims, X, Y, params0, learning_rate, dtype)``
(dtype "float64" or "float32"; params0 a dict of numpy arrays W1, b1, ...,
copied, never modified) returns an object with

* ``run(num_iterations)``: that many GD iterations from the current state;
  returns once the work is really done (results are blocked on);
* ``parameters()``: dict of numpy arrays W1, b1, ... (copies);
* ``cost()``: cross-entropy cost at the current parameters, a float;
* ``setup_seconds``: time the factory spent compiling / warming up (0 if none).

A factory whose framework is missing or fails raises :class:`BaselineUnavailable`
with the reason. :data:`BASELINES` maps names to factories.

Torch and JAX are imported lazily and are not dependencies of fastdnn. Set
thread counts (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, XLA_FLAGS) before they
are imported; the torch factories call ``torch.set_num_threads`` only if
``threads`` is given to them.
"""

import copy
import time

import numpy as np

__all__ = [
    "BaselineUnavailable", "BASELINES", "make_problem",
    "make_numpy_reference", "make_torch_eager_manual", "make_torch_autograd",
    "make_torch_compile", "make_jax_fori",
]


class BaselineUnavailable(RuntimeError):
    """The baseline cannot run here (framework missing, or compilation failed)."""


def make_problem(layer_dims, m, dtype="float64", seed=1):
    """Random benchmark data: X ~ U[0,1] (n_0, m), Y ~ Bernoulli(0.5) (1, m) as floats,
    params0 W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = zeros(n_l, 1).

    Drawn in float64 from ``np.random.default_rng(seed)`` in the order X, Y,
    W1, W2, ..., then cast to ``dtype``. Returns ``(X, Y, params0)``.
    """
    rng = np.random.default_rng(seed)
    X = rng.random((layer_dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) / np.sqrt(layer_dims[l - 1])
        params[f"b{l}"] = np.zeros((layer_dims[l], 1))
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return cast(X), cast(Y), {k: cast(v) for k, v in params.items()}


def _num_layers(params0):
    return len(params0) // 2


# ---------------------------------------------------------------------------
# NumPy: the project's reference implementation
# ---------------------------------------------------------------------------

class _NumpyReference:
    def __init__(self, layer_dims, X, Y, params0, learning_rate, dtype):
        try:
            from fastdnn.reference import L_layer_model
            from fastdnn.reference.seed import L_model_forward, compute_cost
        except ImportError as exc:  # written by another engineer; may not exist yet
            raise BaselineUnavailable(f"fastdnn.reference not importable: {exc}") from exc
        self._train, self._forward, self._cost = L_layer_model, L_model_forward, compute_cost
        self.layer_dims, self.lr = list(layer_dims), learning_rate
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.Y = np.ascontiguousarray(Y, dtype=dtype)
        self.params = {k: np.array(v, dtype=dtype) for k, v in params0.items()}
        self.setup_seconds = 0.0

    def run(self, num_iterations):
        if num_iterations > 0:
            self.params, _ = self._train(self.X, self.Y, self.layer_dims, self.lr, num_iterations,
                                         initial_parameters=self.params, record_every=num_iterations)

    def parameters(self):
        return copy.deepcopy(self.params)

    def cost(self):
        AL, _ = self._forward(self.X, self.params)
        return float(self._cost(AL, self.Y))


def make_numpy_reference(layer_dims, X, Y, params0, learning_rate, dtype):
    """``fastdnn.reference.L_layer_model`` (plain NumPy, allocating), called per ``run``."""
    return _NumpyReference(layer_dims, X, Y, params0, learning_rate, dtype)


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------

def _import_torch(threads):
    try:
        import torch
    except ImportError as exc:
        raise BaselineUnavailable(f"torch not installed: {exc}") from exc
    if threads is not None:
        torch.set_num_threads(threads)
    return torch


class _TorchBase:
    """Holds tensors X, Y, lists W[1..L], b[1..L] (index 0 unused); numpy in/out."""

    def __init__(self, torch, layer_dims, X, Y, params0, learning_rate, dtype, requires_grad=False):
        self.torch, self.lr, self.m = torch, float(learning_rate), X.shape[1]
        self.L = _num_layers(params0)
        tdt = getattr(torch, dtype)
        self.X = torch.tensor(np.asarray(X), dtype=tdt)
        self.Y = torch.tensor(np.asarray(Y), dtype=tdt)
        mk = lambda a: torch.tensor(np.asarray(a), dtype=tdt, requires_grad=requires_grad)  # noqa: E731
        self.W = [None] + [mk(params0[f"W{l}"]) for l in range(1, self.L + 1)]
        self.b = [None] + [mk(params0[f"b{l}"]) for l in range(1, self.L + 1)]
        self.setup_seconds = 0.0

    def parameters(self):
        out = {}
        for l in range(1, self.L + 1):
            out[f"W{l}"] = self.W[l].detach().numpy().copy()
            out[f"b{l}"] = self.b[l].detach().numpy().copy()
        return out

    def cost(self):
        torch = self.torch
        with torch.no_grad():
            A = self.X
            for l in range(1, self.L + 1):
                Z = torch.addmm(self.b[l], self.W[l], A)
                A = torch.relu(Z)
            return float(torch.nn.functional.binary_cross_entropy_with_logits(Z, self.Y))


class _TorchEagerManual(_TorchBase):
    """Manual backward with preallocated buffers and in-place ops.

    Buffers: A[l] (n_l, m) holds relu(Z_l) (so Z_l > 0 <=> A[l] > 0), A[L]
    holds sigmoid(Z_L) and then dZ_L; D[l] (n_l, m), l < L, holds dA_l then dZ_l;
    db[l] (n_l, 1). The update is fused: W_l.addmm_(dZ_l, A_{l-1}^T, alpha=-lr/m).
    """

    def __init__(self, torch, *args):
        super().__init__(torch, *args)
        dt, m = self.X.dtype, self.m
        dims = [self.X.shape[0]] + [w.shape[0] for w in self.W[1:]]
        self.A = [self.X] + [torch.empty((n, m), dtype=dt) for n in dims[1:]]
        self.D = [None] + [torch.empty((n, m), dtype=dt) for n in dims[1:-1]]
        self.db = [None] + [torch.empty((n, 1), dtype=dt) for n in dims[1:]]
        self._relu_bwd = torch.ops.aten.threshold_backward.grad_input

    def run(self, num_iterations):
        torch, L, A, D, W, b = self.torch, self.L, self.A, self.D, self.W, self.b
        step = self.lr / self.m
        with torch.no_grad():
            for _ in range(num_iterations):
                for l in range(1, L + 1):
                    torch.addmm(b[l], W[l], A[l - 1], out=A[l])
                    if l < L:
                        A[l].relu_()
                    else:
                        A[l].sigmoid_()
                dZ = A[L].sub_(self.Y)
                for l in range(L, 0, -1):
                    if l > 1:
                        torch.mm(W[l].T, dZ, out=D[l - 1])          # dA_{l-1}, with the old W_l
                    W[l].addmm_(dZ, A[l - 1].T, alpha=-step)
                    b[l].sub_(torch.sum(dZ, dim=1, keepdim=True, out=self.db[l]), alpha=step)
                    if l > 1:                                       # dZ_{l-1} = dA_{l-1} * (Z_{l-1} > 0)
                        dZ = self._relu_bwd(D[l - 1], A[l - 1], 0.0, grad_input=D[l - 1])


def make_torch_eager_manual(layer_dims, X, Y, params0, learning_rate, dtype, threads=None):
    """PyTorch eager, manual backward, in-place ops and reused ``out=`` buffers."""
    torch = _import_torch(threads)
    return _TorchEagerManual(torch, layer_dims, X, Y, params0, learning_rate, dtype)


class _TorchAutograd(_TorchBase):
    """Leaf tensors with requires_grad; cost = binary_cross_entropy_with_logits(Z_L, Y)
    (the mean of the cross-entropy of sigmoid(Z_L)); ``.backward()``; in-place SGD."""

    def run(self, num_iterations):
        torch, L, W, b = self.torch, self.L, self.W, self.b
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        params = W[1:] + b[1:]
        for _ in range(num_iterations):
            A = self.X
            for l in range(1, L + 1):
                Z = torch.addmm(b[l], W[l], A)
                A = torch.relu(Z) if l < L else None
            bce(Z, self.Y).backward()
            with torch.no_grad():
                for p in params:
                    p.sub_(p.grad, alpha=self.lr)
                    p.grad = None


def make_torch_autograd(layer_dims, X, Y, params0, learning_rate, dtype, threads=None):
    """PyTorch autograd (no nn.Module, no optimizer object)."""
    torch = _import_torch(threads)
    return _TorchAutograd(torch, layer_dims, X, Y, params0, learning_rate, dtype, requires_grad=True)


def _manual_step(xp_relu, xp_sigmoid, Ws, bs, X, Y, lr):
    """One functional GD step, shared by torch.compile and JAX.

    Ws, bs: sequences of L arrays (W_l (n_l, n_{l-1}), b_l (n_l, 1)); X (n_0, m),
    Y (1, m). Returns new (Ws, bs) as lists. ``xp_relu``/``xp_sigmoid`` are the
    framework's elementwise functions; everything else is operators.
    """
    L, m = len(Ws), X.shape[1]
    As = [X]
    for l in range(L):
        Z = Ws[l] @ As[-1] + bs[l]
        As.append(xp_relu(Z) if l < L - 1 else xp_sigmoid(Z))
    dZ = As[L] - Y
    newW, newb = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        dW = (dZ @ As[l].T) / m
        db = dZ.sum(axis=1, keepdims=True) / m
        if l > 0:
            dZ_prev = (Ws[l].T @ dZ) * (As[l] > 0)   # A_{l} > 0 <=> Z_{l} > 0 for relu
        newW[l] = Ws[l] - lr * dW
        newb[l] = bs[l] - lr * db
        if l > 0:
            dZ = dZ_prev
    return newW, newb


class _TorchCompile(_TorchBase):
    """``torch.compile`` (inductor, dynamic=False) of the functional manual step."""

    def __init__(self, torch, *args):
        super().__init__(torch, *args)
        # Several sizes / dtypes in one process: allow the recompiles, and keep
        # shapes static (automatic dynamic shapes would kick in on the 2nd size).
        cfg = torch._dynamo.config
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(cfg, name):
                setattr(cfg, name, max(getattr(cfg, name), 64))
        lr = self.lr

        def step(Ws, bs, X, Y):
            return _manual_step(torch.relu, torch.sigmoid, Ws, bs, X, Y, lr)

        self._step = torch.compile(step, dynamic=False)
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                self._step([w.clone() for w in self.W[1:]], [v.clone() for v in self.b[1:]], self.X, self.Y)
        except Exception as exc:  # compiler missing, inductor bug, ...
            raise BaselineUnavailable(f"torch.compile failed: {type(exc).__name__}: {exc}"[:2000]) from exc
        self.setup_seconds = time.perf_counter() - t0

    def run(self, num_iterations):
        Ws, bs = self.W[1:], self.b[1:]
        with self.torch.no_grad():
            for _ in range(num_iterations):
                Ws, bs = self._step(Ws, bs, self.X, self.Y)
        self.W, self.b = [None] + list(Ws), [None] + list(bs)


def make_torch_compile(layer_dims, X, Y, params0, learning_rate, dtype, threads=None):
    """torch.compile of the manual step; compiles (and times it) in the factory."""
    torch = _import_torch(threads)
    return _TorchCompile(torch, layer_dims, X, Y, params0, learning_rate, dtype)


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------

class _JaxFori:
    """``jax.jit`` (parameters donated) of ``lax.fori_loop(0, n, step)``; n is traced,
    so one compilation serves every ``run(n)``. Compiled ahead of time in __init__."""

    def __init__(self, layer_dims, X, Y, params0, learning_rate, dtype):
        try:
            import jax
        except ImportError as exc:
            raise BaselineUnavailable(f"jax not installed: {exc}") from exc
        jax.config.update("jax_enable_x64", True)   # float64 arrays; float32 stays float32
        import jax.numpy as jnp

        self.jax, self.jnp, self.L = jax, jnp, _num_layers(params0)
        self.X = jnp.asarray(X, dtype=dtype)
        self.Y = jnp.asarray(Y, dtype=dtype)
        self.params = ([jnp.asarray(params0[f"W{l}"], dtype=dtype) for l in range(1, self.L + 1)],
                       [jnp.asarray(params0[f"b{l}"], dtype=dtype) for l in range(1, self.L + 1)])
        lr = float(learning_rate)
        sigmoid = jax.nn.sigmoid
        relu = jax.nn.relu

        def train(params, X, Y, n):
            body = lambda _, p: _manual_step(relu, sigmoid, p[0], p[1], X, Y, lr)  # noqa: E731
            return jax.lax.fori_loop(0, n, body, params)

        def cost(params, X, Y):
            A = X
            for W, b in zip(*params):
                Z = W @ A + b
                A = jax.nn.relu(Z)
            return jnp.mean(jax.nn.softplus(Z) - Y * Z)

        t0 = time.perf_counter()
        self._train = jax.jit(train, donate_argnums=0).lower(self.params, self.X, self.Y, np.int32(0)).compile()
        self.setup_seconds = time.perf_counter() - t0
        self._cost = jax.jit(cost)

    def run(self, num_iterations):
        self.params = self._train(self.params, self.X, self.Y, np.int32(num_iterations))
        self.jax.block_until_ready(self.params)

    def parameters(self):
        Ws, bs = self.params
        out = {}
        for l in range(self.L):
            out[f"W{l + 1}"] = np.array(Ws[l])
            out[f"b{l + 1}"] = np.array(bs[l])
        return out

    def cost(self):
        return float(self._cost(self.params, self.X, self.Y))


def make_jax_fori(layer_dims, X, Y, params0, learning_rate, dtype):
    """JAX: jit + fori_loop over the manual step (x64 enabled for float64)."""
    return _JaxFori(layer_dims, X, Y, params0, learning_rate, dtype)


BASELINES = {
    "numpy_reference": make_numpy_reference,
    "torch_eager_manual": make_torch_eager_manual,
    "torch_autograd": make_torch_autograd,
    "torch_compile": make_torch_compile,
    "jax_fori": make_jax_fori,
}
