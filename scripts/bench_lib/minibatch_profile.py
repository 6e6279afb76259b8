"""Where a fastdnn mini-batch step's time goes (``scripts/bench_minibatch.py --profile``).

For a workload it measures, in one process, the best (minimum) wall time per step over
a few rounds (on a shared machine the minimum is the least disturbed measurement):

* the whole step with the workload's optimizer, and the same run with plain gradient
  descent: the difference is the cost of the optimizer's update (momentum: v; Adam: v, s,
  sqrt, divide) over all P parameters;
* every matrix product of the step alone (``fastdnn.kernels.linear.matmul_into`` at the
  step's shapes and layouts: forward W_l A_{l-1}, dW_l = dZ_l A_{l-1}^T, dA = W_l^T dZ_l);
* the gather of a batch (rows of the example matrix into the contiguous batch buffer);
* fastdnn's whole step with BLAS limited to 1 and to 2 threads (wall time).

What remains (step - products - gather - update) is activations, loss, bias sums and
per-step bookkeeping.
"""

import time

import numpy as np
from numba import njit

__all__ = ["profile_workload"]


def _best_per(fn, reps, rounds=5):
    fn(1)
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(reps)
        ts.append((time.perf_counter() - t0) / reps)
    return float(min(ts))


_KERNELS = {}


def _kernels():
    if not _KERNELS:
        from fastdnn.kernels.linear import matmul_into
        from fastdnn.kernels.training import gather_batch

        @njit(cache=False)
        def mm(a, b, out, n):
            for _ in range(n):
                matmul_into(a, b, out)

        @njit(cache=False)
        def gather(XT, YT, order, xb, yb, mb, n):
            for r in range(n):
                gather_batch(XT, YT, order, (r * mb) % (order.shape[0] - mb), mb, xb, yb)

        _KERNELS.update(mm=mm, gather=gather)
    return _KERNELS


def _fastdnn_steps_seconds(w, X, Y, p0, optimizers, n_threads, rounds=5):
    """{optimizer: best seconds per step} of fastdnn's epoch with each optimizer, timed in
    interleaved rounds (A B C A B C ...) so that a slow spell of the shared machine hits
    them alike: their differences (the optimizers' update costs) come from one run."""
    from .minibatch import FastdnnImpl, steps_per_epoch

    impls = {}
    for opt in optimizers:
        impls[opt] = FastdnnImpl(dict(w, optimizer=opt), X, Y, p0, n_threads=n_threads)
        impls[opt].epoch()
    ts = {opt: [] for opt in impls}
    for _ in range(rounds):
        for opt, impl in impls.items():
            t0 = time.perf_counter()
            impl.epoch()
            ts[opt].append(time.perf_counter() - t0)
    steps = steps_per_epoch(X.shape[1], w["batch"])
    return {opt: float(min(t)) / steps for opt, t in ts.items()}


def profile_workload(w, m=8000, epochs_w3=10):
    """Dict of per-step seconds (see the module docstring) for workload dict ``w``."""
    from threadpoolctl import threadpool_limits

    from .minibatch import make_data

    X, Y, p0, _, _ = make_data(w, m)
    if w["data"] == "W3":  # a timed epoch of 4 steps is too short: repeat the data
        X, Y = np.tile(X, (1, epochs_w3)), np.tile(Y, (1, epochs_w3))
    dims, B, dt = w["dims"], w["batch"], np.dtype(w["dtype"])
    out = {}
    with threadpool_limits(1, user_api="blas"):
        steps = _fastdnn_steps_seconds(w, X, Y, p0, list(dict.fromkeys([w["optimizer"], "gd",
                                                                          "momentum"])), 1)
        out["step_cpu"] = steps[w["optimizer"]]
        out["step_gd_cpu"] = steps["gd"]
        out["step_momentum_cpu"] = steps["momentum"]
        out["update_cpu"] = out["step_cpu"] - out["step_gd_cpu"]
        k = _kernels()
        rng = np.random.default_rng(0)
        XT, YT = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
        xb, yb = np.zeros(B * dims[0], dt), np.zeros(B * dims[-1], dt)
        order = rng.permutation(XT.shape[0])
        out["gather_cpu"] = _best_per(lambda n: k["gather"](XT, YT, order, xb, yb, B, n),
                                      max(10, 2000000 // (B * dims[0])))
        prods = {}
        A0 = xb.reshape(B, dims[0]).T
        for l in range(1, len(dims)):
            n, kk = dims[l], dims[l - 1]
            W = (rng.random((n, kk)) - 0.5).astype(dt)
            A = A0 if l == 1 else rng.random((kk, B)).astype(dt)
            Z, dZ = np.zeros((n, B), dt), rng.random((n, B)).astype(dt)
            dW, dA = np.zeros((n, kk), dt), np.zeros((kk, B), dt)
            reps = max(5, int(5e7 / (n * kk * B)))
            prods["fwd%d" % l] = _best_per(lambda r: k["mm"](W, A, Z, r), reps)
            prods["dW%d" % l] = _best_per(lambda r: k["mm"](dZ, A.T, dW, r), reps)
            if l > 1:
                prods["dA%d" % l] = _best_per(lambda r: k["mm"](W.T, dZ, dA, r), reps)
        out["products_cpu"] = prods
        out["products_total_cpu"] = sum(prods.values())
    out["rest_cpu"] = (out["step_gd_cpu"] - out["products_total_cpu"] - out["gather_cpu"])
    for nt in (1, 2):
        with threadpool_limits(nt, user_api="blas"):
            out["step_wall_%dthread" % nt] = _fastdnn_steps_seconds(
                w, X, Y, p0, [w["optimizer"]], nt)[w["optimizer"]]
    out["params"] = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))
    return out


def format_profile(name, w, r, flops):
    us = lambda s: "%.1f" % (s * 1e6)  # noqa: E731
    # The update's cost is a difference of two noisy minima; below zero it says only that
    # the machine's noise was larger than the update in this run.
    update = (us(r["update_cpu"]) + " us" if r["update_cpu"] >= 0 else
              "below this run's noise (the gd step measured %s us longer)" % us(-r["update_cpu"]))
    lines = ["%s (batch %d, %s, %s, %d parameters), per step, 1 BLAS thread, best of 5:"
             % (name, w["batch"], w["dtype"], w["optimizer"], r["params"]),
             "  whole step %s us = products %s us (%.0f GFLOP/s on them) + gather %s us + "
             "%s update %s + rest (activations, loss, bias sums, bookkeeping) %s us"
             % (us(r["step_cpu"]), us(r["products_total_cpu"]),
                flops / max(r["products_total_cpu"], 1e-12) / 1e9, us(r["gather_cpu"]),
                w["optimizer"], update, us(r["rest_cpu"])),
             "  products: " + ", ".join("%s %s" % (k, us(v)) for k, v in
                                        r["products_cpu"].items()),
             "  same step with gd %s us, with momentum %s us; whole step with BLAS on 1 "
             "thread %s us, on 2 threads %s us"
             % (us(r["step_gd_cpu"]), us(r["step_momentum_cpu"]), us(r["step_wall_1thread"]),
                us(r["step_wall_2thread"]))]
    return "\n".join(lines)


def tiny_steps(m=20000, rounds=5):
    """Item 5: fastdnn's per-step time of a tiny network ([5, 4, 3, 1], sigmoid output) at
    batch 1, for gd / momentum / Adam (wall time, median of ``rounds`` epochs of m steps, 1
    BLAS thread), and the Numba runtime allocations over those epochs (counted when the
    process runs with ``NUMBA_NRT_STATS=1``, else None): a per-step allocation would show
    as >= rounds * m."""
    from numba.core.runtime import rtsys

    from .minibatch import FastdnnImpl

    rng = np.random.default_rng(0)
    dims = [5, 4, 3, 1]
    X = rng.random((dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    p0 = {}
    for l in range(1, len(dims)):
        p0["W%d" % l] = rng.standard_normal((dims[l], dims[l - 1]))
        p0["b%d" % l] = np.zeros((dims[l], 1))
    out = {}
    for opt in ("gd", "momentum", "adam"):
        w = dict(data="tiny", dims=dims, m=m, output="sigmoid", optimizer=opt, lr=0.01, batch=1,
                 dtype="float64", epochs=1)
        impl = FastdnnImpl(w, X, Y, p0, n_threads=1)
        impl.epoch()
        from numba.core import config

        a0 = rtsys.get_allocation_stats().alloc if config.NRT_STATS else None
        ts = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            impl.epoch()
            ts.append(time.perf_counter() - t0)
        allocs = None if a0 is None else rtsys.get_allocation_stats().alloc - a0
        out[opt] = {"seconds_per_step": float(np.median(ts)) / m,
                    "min_seconds_per_step": min(ts) / m, "nrt_allocations": allocs,
                    "steps": rounds * m}
    return out
