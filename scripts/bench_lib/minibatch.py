"""Mini-batch workloads of issue 9 and every implementation of them behind one interface.

Workloads (``WORKLOADS``):

* W1: 784-256-128-10, ReLU, softmax + cross-entropy, Adam (lr 1e-3), one shuffled epoch of
  60,000 examples (synthetic random data of MNIST's shape: X ~ U[0, 1], labels uniform in
  0..9, one-hot; nothing is downloaded), float32 at batch 32, 128, 1024 and float64 at 128.
* W2: 64-32-16-1, ReLU, sigmoid + binary cross-entropy, momentum 0.9 (lr 0.01), batch 32,
  one epoch of 20,000 synthetic examples (X ~ N(0, 1), labels of a random linear teacher),
  float64 and float32.
* W3: the seed's cat data (209 x 12288, ``/work/shared/data/train_catvnoncat.h5``; a
  synthetic stand-in of the same shape if the file is missing), [12288, 20, 7, 5, 1],
  Adam (lr 0.0007, the course's), batch 64, 100 epochs, float32.

Every implementation starts from the same parameters (``W_l = randn / sqrt(n_{l-1})``,
``b_l = 0``, drawn in float64 and cast) and takes the course's batch order: epoch e is
``random_mini_batches(X, Y, B, seed=10 + e + 1)`` (full batches, then the rest), the
order fastdnn uses (``fastdnn.engine.schedule.epoch_orders``). scikit-learn cannot take
an order per epoch: it gets the data pre-permuted in epoch 0's order, ``shuffle=False``.

An implementation object has ``epoch()`` (one more epoch from where it stands; returns
after the work is really done), ``parameters()`` (seed-format dict of numpy arrays),
``name`` and ``setup_seconds`` (compile / warm-up time, excluded from timings). Factories
raise :class:`BaselineUnavailable` when their library is missing. torch, jax and
scikit-learn are imported lazily; none of them is a fastdnn dependency.
"""

import os
import time
import warnings
from pathlib import Path

import numpy as np

from .baselines import BaselineUnavailable

__all__ = ["WORKLOADS", "IMPLS", "FASTDNN_CONFIGS", "make_data", "make_impl", "step_flops",
           "steps_per_epoch", "check_workload", "CAT_FILE"]

CAT_FILE = Path(os.environ.get("FASTDNN_CAT_FILE", "/work/shared/data/train_catvnoncat.h5"))
SHUFFLE_SEED = 10

W1_DIMS = [784, 256, 128, 10]
W2_DIMS = [64, 32, 16, 1]
W3_DIMS = [12288, 20, 7, 5, 1]

#: name -> workload description. ``epochs`` is the workload's length; a timed call runs
#: ``epochs_per_call`` epochs.
WORKLOADS = {
    "W1_b32": dict(data="W1", dims=W1_DIMS, m=60000, output="softmax", optimizer="adam",
                   lr=1e-3, batch=32, dtype="float32", epochs=1),
    "W1_b128": dict(data="W1", dims=W1_DIMS, m=60000, output="softmax", optimizer="adam",
                    lr=1e-3, batch=128, dtype="float32", epochs=1),
    "W1_b1024": dict(data="W1", dims=W1_DIMS, m=60000, output="softmax", optimizer="adam",
                     lr=1e-3, batch=1024, dtype="float32", epochs=1),
    "W1_b128_f64": dict(data="W1", dims=W1_DIMS, m=60000, output="softmax", optimizer="adam",
                        lr=1e-3, batch=128, dtype="float64", epochs=1),
    "W2_f64": dict(data="W2", dims=W2_DIMS, m=20000, output="sigmoid", optimizer="momentum",
                   lr=0.01, batch=32, dtype="float64", epochs=1),
    "W2_f32": dict(data="W2", dims=W2_DIMS, m=20000, output="sigmoid", optimizer="momentum",
                   lr=0.01, batch=32, dtype="float32", epochs=1),
    "W3": dict(data="W3", dims=W3_DIMS, m=209, output="sigmoid", optimizer="adam", lr=0.0007,
               batch=64, dtype="float32", epochs=100),
}
for _w in WORKLOADS.values():
    _w.setdefault("epochs_per_call", _w["epochs"])

BETA, BETA1, BETA2, EPSILON = 0.9, 0.9, 0.999, 1e-8

#: fastdnn's configurations: name -> (strategy, update_arithmetic).
FASTDNN_CONFIGS = {"fastdnn": ("direct", "float64"), "fastdnn_split": ("split", "float64"),
                   "split_native": ("split", "native")}
IMPLS = [*FASTDNN_CONFIGS, "reference", "torch_eager", "torch_fused", "torch_compile",
         "jax_step", "jax_scan", "sklearn"]


def steps_per_epoch(m, batch):
    return -(-m // batch)


def step_flops(dims, batch):
    """Flops one step needs: forward and dW 2*n_l*n_{l-1}*B for every layer, dA for
    layers 2..L (no gradient with respect to X). Element-wise work is not counted."""
    macs = sum(dims[l] * dims[l - 1] for l in range(1, len(dims)))
    macs_dA = sum(dims[l] * dims[l - 1] for l in range(2, len(dims)))
    return 2 * batch * (2 * macs + macs_dA)


def _cat_data(m):
    if CAT_FILE.exists():
        from fastdnn.io.data import load_dataset

        ds = load_dataset(str(CAT_FILE))
        return np.asarray(ds.X, dtype=np.float64)[:, :m], np.asarray(ds.Y, np.float64)[:, :m], \
            "cat file %s" % CAT_FILE
    rng = np.random.default_rng(3)
    return rng.random((12288, m)), (rng.random((1, m)) < 0.35).astype(np.float64), \
        "synthetic stand-in (cat file missing)"


def make_data(w, m=None, seed=1):
    """(X (n_0, m), Y (n_L, m), params0, labels or None, source) of workload dict ``w``,
    in its dtype. ``m`` overrides the number of examples (W3: at most 209)."""
    dims, dtype = w["dims"], w["dtype"]
    m = m or w["m"]
    rng = np.random.default_rng(seed)
    labels = None
    if w["data"] == "W1":
        X = rng.random((dims[0], m))
        labels = rng.integers(0, dims[-1], m)
        Y = np.zeros((dims[-1], m))
        Y[labels, np.arange(m)] = 1.0
        source = "synthetic, MNIST's shape: X ~ U[0,1], labels uniform 0..9"
    elif w["data"] == "W2":
        X = rng.standard_normal((dims[0], m))
        teacher = rng.standard_normal(dims[0])
        Y = ((teacher @ X + 0.5 * rng.standard_normal(m)) > 0).astype(np.float64)[None, :]
        labels = Y[0].astype(np.int64)
        source = "synthetic: X ~ N(0,1), labels of a noisy random linear teacher"
    else:
        X, Y, source = _cat_data(min(m, 209))
        labels = Y[0].astype(np.int64)
    prng = np.random.default_rng(seed + 1)
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = prng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
        params["b%d" % l] = np.zeros((dims[l], 1))
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return cast(X), cast(Y), {k: cast(v) for k, v in params.items()}, labels, source


def orders(m, first, n):
    from fastdnn.engine.schedule import epoch_orders

    return epoch_orders(m, SHUFFLE_SEED, first, n)


# ---------------------------------------------------------------------------
# fastdnn and the NumPy reference
# ---------------------------------------------------------------------------

class FastdnnImpl:
    """fastdnn's training engine (what ``DeepNeuralNetwork.fit`` runs), one epoch per
    ``epoch()``, recording the epoch's cost like ``fit(record_every=1)``. strategy
    "direct" (the default, one core) or "split" (each batch cut across the cores);
    update_arithmetic "float64" (the default) or "native" (float32 steps in float32)."""

    name = "fastdnn"

    def __init__(self, w, X, Y, params0, n_threads=None, strategy="direct",
                 update_arithmetic="float64"):
        from fastdnn.engine import TrainingEngine
        from fastdnn.engine.options import TrainingOptions

        L = len(w["dims"]) - 1
        acts = ["relu"] * (L - 1) + [w["output"]]
        opts = TrainingOptions(optimizer=w["optimizer"], beta=BETA, beta1=BETA1, beta2=BETA2,
                               epsilon=EPSILON, batch_size=w["batch"],
                               update_arithmetic=update_arithmetic)
        t0 = time.perf_counter()
        self.engine = TrainingEngine(X, Y, params0, w["dims"], acts, w["lr"], strategy,
                                     options=opts, n_threads=n_threads)
        self.e = 0
        self.costs = []
        self.setup_seconds = time.perf_counter() - t0

    def epoch(self):
        self.costs += [c for _, c in self.engine.run(1, 1, start_iteration=self.e)]
        self.e += 1

    def parameters(self):
        return self.engine.parameters()


class ReferenceImpl:
    """``fastdnn.reference.model`` (the course's mini-batch loop), one epoch per call,
    continued exactly (``start_epoch``, ``optimizer_state``). Its optimizer state starts
    as zeros of the workload's dtype, so a float32 run stays float32 throughout."""

    name = "reference"

    def __init__(self, w, X, Y, params0):
        from fastdnn import reference as R

        self.R, self.w, self.X, self.Y = R, w, X, Y
        self.params = {k: v.copy() for k, v in params0.items()}
        zeros = {"d" + k: np.zeros_like(v) for k, v in params0.items()}
        self.state = {"v": zeros, "s": {k: v.copy() for k, v in zeros.items()}
                      if w["optimizer"] == "adam" else None, "t": 0}
        self.e = 0
        self.costs = []
        self.setup_seconds = 0.0

    def epoch(self):
        w = self.w
        with np.errstate(divide="ignore", invalid="ignore"):  # float32 sigmoid saturating
            self._epoch(w)

    def _epoch(self, w):
        self.params, costs, self.state = self.R.model(
            self.X, self.Y, w["dims"], w["optimizer"], learning_rate=w["lr"],
            mini_batch_size=w["batch"], beta=BETA, beta1=BETA1, beta2=BETA2, epsilon=EPSILON,
            num_epochs=1, print_cost=False, initial_parameters=self.params, output=w["output"],
            seed=SHUFFLE_SEED, record_every=1, start_epoch=self.e, optimizer_state=self.state,
            return_state=True)
        self.costs += costs
        self.e += 1

    def parameters(self):
        return {k: v.copy() for k, v in self.params.items()}


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------

def _torch(threads):
    try:
        import torch
    except ImportError as exc:
        raise BaselineUnavailable("torch not installed: %s" % exc) from exc
    if threads:
        torch.set_num_threads(threads)
    return torch


class _TorchBase:
    """Examples as rows: X (m, n_0), Y (m, n_L); W_l (n_l, n_{l-1}), b_l (n_l,)."""

    def __init__(self, torch, w, X, Y, params0):
        self.torch, self.w = torch, w
        self.dt = getattr(torch, w["dtype"])
        self.X = torch.from_numpy(np.ascontiguousarray(X.T))
        self.Y = torch.from_numpy(np.ascontiguousarray(Y.T))
        self.L = len(w["dims"]) - 1
        self.W = [torch.from_numpy(params0["W%d" % l].copy()) for l in range(1, self.L + 1)]
        self.b = [torch.from_numpy(params0["b%d" % l][:, 0].copy()) for l in range(1, self.L + 1)]
        self.m, self.B = X.shape[1], w["batch"]
        self.e = 0
        self.loss_total = None

    def batches(self):
        order = orders(self.m, self.e, 1)[0]
        idx = self.torch.from_numpy(order)
        self.e += 1
        return [idx[k:k + self.B] for k in range(0, self.m, self.B)]

    def parameters(self):
        out = {}
        for l in range(self.L):
            out["W%d" % (l + 1)] = self.W[l].detach().numpy().copy()
            out["b%d" % (l + 1)] = self.b[l].detach().numpy().copy()[:, None]
        return out


class TorchEager(_TorchBase):
    """Eager PyTorch, forward / backward / update written out as the course does
    (in-place tensor ops, no autograd), the summed loss kept on the tensor side."""

    name = "torch_eager"

    def __init__(self, torch, w, X, Y, params0):
        super().__init__(torch, w, X, Y, params0)
        self.v = [torch.zeros_like(p) for p in self.W + self.b]
        self.s = [torch.zeros_like(p) for p in self.W + self.b]
        self.t = 0
        self.setup_seconds = 0.0

    def step(self, idx):
        torch, L = self.torch, self.L
        Xb, Yb = self.X[idx], self.Y[idx]
        A, acts, Zs = Xb, [Xb], []
        for l in range(L):
            Z = torch.addmm(self.b[l], A, self.W[l].t())
            Zs.append(Z)
            A = torch.relu(Z) if l < L - 1 else Z
            acts.append(A)
        Z = Zs[-1]
        if self.w["output"] == "softmax":
            logp = torch.log_softmax(Z, dim=1)
            loss = -(Yb * logp).sum()
            dZ = logp.exp_().sub_(Yb)
        else:
            loss = (torch.nn.functional.softplus(Z) - Yb * Z).sum()
            dZ = torch.sigmoid(Z).sub_(Yb)
        mb = Xb.shape[0]
        grads = [None] * (2 * L)
        for l in range(L - 1, -1, -1):
            grads[l] = dZ.t().mm(acts[l]).div_(mb)
            grads[L + l] = dZ.sum(0).div_(mb)
            if l > 0:
                dZ = dZ.mm(self.W[l]).mul_(Zs[l - 1] > 0)
        params = self.W + self.b
        if self.w["optimizer"] == "adam":
            self.t += 1
            c1, c2 = 1 - BETA1 ** self.t, 1 - BETA2 ** self.t
            for p, g, v, s in zip(params, grads, self.v, self.s):
                v.mul_(BETA1).add_(g, alpha=1 - BETA1)
                s.mul_(BETA2).addcmul_(g, g, value=1 - BETA2)
                p.addcdiv_(v, s.div(c2).sqrt_().add_(EPSILON), value=-self.w["lr"] / c1)
        else:
            for p, g, v in zip(params, grads, self.v):
                v.mul_(BETA).add_(g, alpha=1 - BETA)
                p.add_(v, alpha=-self.w["lr"])
        return loss

    def epoch(self):
        with self.torch.no_grad():
            total = 0
            for idx in self.batches():
                total = total + self.step(idx)
            self.loss_total = float(total)


class TorchFused(_TorchBase):
    """Autograd and ``torch.optim.Adam(fused=True)`` (momentum: ``SGD(momentum=0.9,
    dampening=0.9)`` from a zero buffer, the course's form; fused when this torch allows
    it, else foreach)."""

    name = "torch_fused"

    def __init__(self, torch, w, X, Y, params0):
        super().__init__(torch, w, X, Y, params0)
        for p in self.W + self.b:
            p.requires_grad_(True)
        params = self.W + self.b
        if w["optimizer"] == "adam":
            self.opt = torch.optim.Adam(params, lr=w["lr"], betas=(BETA1, BETA2), eps=EPSILON,
                                        fused=True)
        else:
            try:
                self.opt = torch.optim.SGD(params, lr=w["lr"], momentum=BETA, dampening=BETA,
                                           fused=True)
            except (RuntimeError, TypeError, ValueError):
                self.opt = torch.optim.SGD(params, lr=w["lr"], momentum=BETA, dampening=BETA,
                                           foreach=True)
            for p in params:  # torch starts v at the first gradient; the course at zero
                self.opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
        self.setup_seconds = 0.0

    def step(self, idx):
        torch, L = self.torch, self.L
        Xb, Yb = self.X[idx], self.Y[idx]
        A = Xb
        for l in range(L):
            Z = torch.addmm(self.b[l], A, self.W[l].t())
            A = torch.relu(Z) if l < L - 1 else Z
        if self.w["output"] == "softmax":
            loss = -(Yb * torch.log_softmax(Z, dim=1)).sum()
        else:
            loss = (torch.nn.functional.softplus(Z) - Yb * Z).sum()
        self.opt.zero_grad(set_to_none=True)
        (loss / Xb.shape[0]).backward()
        self.opt.step()
        return loss.detach()

    def epoch(self):
        total = 0
        for idx in self.batches():
            total = total + self.step(idx)
        self.loss_total = float(total)


class TorchCompile(_TorchBase):
    """``torch.compile`` of the whole manual step (gather, forward, backward, update),
    functional in form (new tensors out); Adam's t is a tensor so it never recompiles.
    The smaller last batch compiles its own graph (in the warm-up epoch)."""

    name = "torch_compile"

    def __init__(self, torch, w, X, Y, params0):
        super().__init__(torch, w, X, Y, params0)
        self.v = [torch.zeros_like(p) for p in self.W + self.b]
        self.s = [torch.zeros_like(p) for p in self.W + self.b]
        self.t = torch.zeros((), dtype=self.dt)
        L, out, opt, lr = self.L, w["output"], w["optimizer"], w["lr"]

        def step(W, b, v, s, t, X, Y, idx):
            Xb, Yb = X[idx], Y[idx]
            A, acts, Zs = Xb, [Xb], []
            for l in range(L):
                Z = b[l] + A @ W[l].t()
                Zs.append(Z)
                A = torch.relu(Z) if l < L - 1 else Z
                acts.append(A)
            if out == "softmax":
                logp = torch.log_softmax(Z, dim=1)
                loss = -(Yb * logp).sum()
                dZ = logp.exp() - Yb
            else:
                loss = (torch.nn.functional.softplus(Z) - Yb * Z).sum()
                dZ = torch.sigmoid(Z) - Yb
            mb = Xb.shape[0]
            gW, gb = [None] * L, [None] * L
            for l in range(L - 1, -1, -1):
                gW[l] = dZ.t() @ acts[l] / mb
                gb[l] = dZ.sum(0) / mb
                if l > 0:
                    dZ = (dZ @ W[l]) * (Zs[l - 1] > 0)
            params, grads = W + b, gW + gb
            params, v, s, t = course_update(opt, params, grads, v, s, t, lr, torch.sqrt)
            return params[:L], params[L:], v, s, t, loss

        try:
            self._step = torch.compile(step)
        except Exception as exc:  # noqa: BLE001
            raise BaselineUnavailable("torch.compile failed: %s" % exc) from exc
        self.setup_seconds = 0.0

    def epoch(self):
        with self.torch.no_grad():
            total = 0
            for idx in self.batches():
                self.W, self.b, self.v, self.s, self.t, loss = self._step(
                    self.W, self.b, self.v, self.s, self.t, self.X, self.Y, idx)
                total = total + loss
            self.loss_total = float(total)


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------

def course_update(opt, params, grads, v, s, t, lr, sqrt):
    """The course's Adam (t counted first) or momentum over lists of arrays of any array
    library (``sqrt`` is its square root); returns (params, v, s, t)."""
    if opt == "adam":
        t = t + 1
        c1, c2 = 1 - BETA1 ** t, 1 - BETA2 ** t
        v = [BETA1 * vi + (1 - BETA1) * g for vi, g in zip(v, grads)]
        s = [BETA2 * si + (1 - BETA2) * g * g for si, g in zip(s, grads)]
        params = [p - lr * (vi / c1) / (sqrt(si / c2) + EPSILON)
                  for p, vi, si in zip(params, v, s)]
    else:
        v = [BETA * vi + (1 - BETA) * g for vi, g in zip(v, grads)]
        params = [p - lr * vi for p, vi in zip(params, v)]
    return params, v, s, t


def _jax_step_fn(jax, jnp, w, L):
    out, opt, lr = w["output"], w["optimizer"], w["lr"]

    def step(carry, X, Y, idx):
        W, b, v, s, t = carry
        Xb, Yb = X[idx], Y[idx]
        A, acts, Zs = Xb, [Xb], []
        for l in range(L):
            Z = A @ W[l].T + b[l]
            Zs.append(Z)
            A = jax.nn.relu(Z) if l < L - 1 else Z
            acts.append(A)
        if out == "softmax":
            logp = jax.nn.log_softmax(Z, axis=1)
            loss = -(Yb * logp).sum()
            dZ = jnp.exp(logp) - Yb
        else:
            loss = (jax.nn.softplus(Z) - Yb * Z).sum()
            dZ = jax.nn.sigmoid(Z) - Yb
        mb = Xb.shape[0]
        gW, gb = [None] * L, [None] * L
        for l in range(L - 1, -1, -1):
            gW[l] = dZ.T @ acts[l] / mb
            gb[l] = dZ.sum(0) / mb
            if l > 0:
                dZ = (dZ @ W[l]) * (Zs[l - 1] > 0)
        params, grads = list(W) + list(b), gW + gb
        params, v, s, t = course_update(opt, params, grads, v, s, t, lr, jnp.sqrt)
        return (params[:L], params[L:], v, s, t), loss

    return step


class _JaxBase:
    def __init__(self, w, X, Y, params0):
        try:
            import jax
        except ImportError as exc:
            raise BaselineUnavailable("jax not installed: %s" % exc) from exc
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jax, self.jnp, self.w = jax, jnp, w
        self.L = L = len(w["dims"]) - 1
        dt = w["dtype"]
        self.X = jnp.asarray(np.ascontiguousarray(X.T))
        self.Y = jnp.asarray(np.ascontiguousarray(Y.T))
        W = [jnp.asarray(params0["W%d" % l]) for l in range(1, L + 1)]
        b = [jnp.asarray(params0["b%d" % l][:, 0]) for l in range(1, L + 1)]
        z = [jnp.zeros_like(p) for p in W + b]
        self.carry = (W, b, z, [jnp.zeros_like(p) for p in z], jnp.zeros((), dtype=dt))
        self.m, self.B = X.shape[1], w["batch"]
        self.e = 0
        self.step_fn = _jax_step_fn(jax, jnp, w, L)

    def parameters(self):
        W, b = self.carry[0], self.carry[1]
        out = {}
        for l in range(self.L):
            out["W%d" % (l + 1)] = np.array(W[l])
            out["b%d" % (l + 1)] = np.array(b[l])[:, None]
        return out


class JaxStep(_JaxBase):
    """``jax.jit`` of one step (gather, forward, backward, update; state donated), called
    from Python once per batch with that batch's indices."""

    name = "jax_step"

    def __init__(self, w, X, Y, params0):
        super().__init__(w, X, Y, params0)
        self._step = self.jax.jit(self.step_fn, donate_argnums=0)
        self.setup_seconds = 0.0

    def epoch(self):
        order = orders(self.m, self.e, 1)[0].astype(np.int32)
        self.e += 1
        total = 0.0
        for k in range(0, self.m, self.B):
            self.carry, loss = self._step(self.carry, self.X, self.Y, order[k:k + self.B])
            total = total + loss
        self.loss_total = float(total)  # blocks until the epoch is done


class JaxScan(_JaxBase):
    """``jax.jit`` of a whole epoch: ``lax.scan`` of the step over the full batches, then
    the smaller last batch, in one compiled call (state donated)."""

    name = "jax_scan"

    def __init__(self, w, X, Y, params0):
        super().__init__(w, X, Y, params0)
        jax, B, step = self.jax, self.B, self.step_fn
        n_full = self.m // B

        def epoch(carry, X, Y, order):
            full = order[:n_full * B].reshape(n_full, B)
            carry, losses = jax.lax.scan(lambda c, idx: step(c, X, Y, idx), carry, full)
            total = losses.sum()
            if self.m % B:
                carry, loss = step(carry, X, Y, order[n_full * B:])
                total = total + loss
            return carry, total

        self._epoch = jax.jit(epoch, donate_argnums=0)
        self.setup_seconds = 0.0

    def epoch(self):
        order = orders(self.m, self.e, 1)[0].astype(np.int32)
        self.e += 1
        self.carry, total = self._epoch(self.carry, self.X, self.Y, order)
        self.loss_total = float(total)


# ---------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------

class SklearnImpl:
    """``MLPClassifier`` (softmax for W1, logistic output for the binary W2/W3), ReLU,
    ``solver="adam"`` or ``"sgd"`` with momentum 0.9 (no Nesterov; learning rate
    lr (1 - 0.9), so that its ``v = 0.9 v - lr' g`` is the course's form), alpha=0,
    ``batch_size=B``, ``shuffle=False`` on data pre-permuted in epoch 0's order (every
    epoch), one epoch per ``partial_fit`` (the optimizer state carries over), started
    from the same parameters. Its Adam folds the bias corrections into the rate, with
    epsilon outside the uncorrected root: close to, not equal to, the course's.)"""

    name = "sklearn"

    def __init__(self, w, X, Y, params0, labels):
        try:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:
            raise BaselineUnavailable("scikit-learn not installed: %s" % exc) from exc
        self.warning = ConvergenceWarning
        dims = w["dims"]
        kw = dict(solver="adam", beta_1=BETA1, beta_2=BETA2, epsilon=EPSILON)
        lr = w["lr"]
        if w["optimizer"] == "momentum":  # v = 0.9 v - lr (1 - 0.9) g: the course's form
            kw = dict(solver="sgd", momentum=BETA, nesterovs_momentum=False,
                      learning_rate="constant")
            lr = w["lr"] * (1 - BETA)
        self.mlp = MLPClassifier(hidden_layer_sizes=tuple(dims[1:-1]), activation="relu",
                                 alpha=0.0, batch_size=w["batch"], learning_rate_init=lr,
                                 max_iter=1, shuffle=False, tol=0.0, warm_start=False,
                                 n_iter_no_change=10 ** 9, random_state=0, **kw)
        order = orders(X.shape[1], 0, 1)[0]
        self.X = np.ascontiguousarray(X.T[order])
        self.y = np.asarray(labels)[order]
        self.classes = np.arange(max(2, dims[-1]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.warning)
            self.mlp.partial_fit(self.X[:w["batch"]], self.y[:w["batch"]],
                                  classes=self.classes)
        del self.mlp._optimizer  # that step only initialised the network: start afresh
        L = len(dims) - 1
        self.mlp.coefs_ = [params0["W%d" % l].T.copy() for l in range(1, L + 1)]
        self.mlp.intercepts_ = [params0["b%d" % l][:, 0].copy() for l in range(1, L + 1)]
        self.L = L
        self.setup_seconds = 0.0

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.warning)
            self.mlp.partial_fit(self.X, self.y, classes=self.classes)

    def parameters(self):
        out = {}
        for l in range(self.L):
            out["W%d" % (l + 1)] = self.mlp.coefs_[l].T.copy()
            out["b%d" % (l + 1)] = self.mlp.intercepts_[l][:, None].copy()
        return out


def make_impl(name, w, X, Y, params0, labels, threads=None):
    """The implementation ``name`` (one of ``IMPLS``) of workload ``w`` on this data."""
    if name in FASTDNN_CONFIGS:
        strategy, arithmetic = FASTDNN_CONFIGS[name]
        return FastdnnImpl(w, X, Y, params0, strategy=strategy, update_arithmetic=arithmetic)
    if name == "reference":
        return ReferenceImpl(w, X, Y, params0)
    if name.startswith("torch"):
        torch = _torch(threads)
        cls = {"torch_eager": TorchEager, "torch_fused": TorchFused,
               "torch_compile": TorchCompile}[name]
        return cls(torch, w, X, Y, params0)
    if name == "jax_step":
        return JaxStep(w, X, Y, params0)
    if name == "jax_scan":
        return JaxScan(w, X, Y, params0)
    if name == "sklearn":
        return SklearnImpl(w, X, Y, params0, labels)
    raise ValueError("unknown implementation %r" % name)


# ---------------------------------------------------------------------------
# Same numbers: fastdnn against the reference
# ---------------------------------------------------------------------------

#: float32 tolerances of the check (fastdnn float32 against the reference in float32
#: from the same start and order). Costs: relative, per epoch. Parameters: per array,
#: max |a - b| / max |b| (Adam divides by sqrt(s), which magnifies float32 rounding of
#: small gradients; the two sides round in different orders: BLAS blocking, fused 1/m).
RTOL32_COSTS = 1e-4
RTOL32_PARAMS = 2e-3
RTOL64 = 1e-9


def max_rel_param_diff(a, b):
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max() /
                     max(np.abs(b[k]).max(), np.finfo(np.float64).tiny)) for k in b)


def check_workload(w, m=None, epochs=None, strategy="direct", update_arithmetic="float64"):
    """Run fastdnn (``strategy``, ``update_arithmetic``) and the reference on workload ``w``
    (``m`` examples, ``epochs`` epochs) from the same start and batch order; return a dict
    with the largest relative cost and parameter differences, the tolerances and ``ok``."""
    epochs = epochs or w["epochs"]
    X, Y, p0, labels, source = make_data(w, m)
    fast = FastdnnImpl(w, X, Y, p0, strategy=strategy, update_arithmetic=update_arithmetic)
    ref = ReferenceImpl(w, X, Y, p0)
    for _ in range(epochs):
        fast.epoch()
        ref.epoch()
    cost_rel = max(abs(a - b) / abs(b) for a, b in zip(fast.costs, ref.costs))
    par_rel = max_rel_param_diff(fast.parameters(), ref.parameters())
    f64 = w["dtype"] == "float64"
    rc, rp = (RTOL64, RTOL64) if f64 else (RTOL32_COSTS, RTOL32_PARAMS)
    return {"m": X.shape[1], "epochs": epochs, "n_costs": len(fast.costs),
            "cost_rel": cost_rel, "param_rel": par_rel, "rtol_costs": rc, "rtol_params": rp,
            "ok": len(fast.costs) == len(ref.costs) == epochs and cost_rel <= rc
            and par_rel <= rp, "source": source}
