#!/usr/bin/env python
"""Side-by-side training benchmark: fastdnn against the NumPy reference (and PyTorch, JAX).

For every size and dtype it times full-batch gradient-descent iterations of each
implementation from the same data and initial parameters, interleaved (A B C A B C
...) so drift on a shared machine hits all alike, and prints medians per
iteration, ratios, achieved GFLOP/s against the measured GEMM peak, and the
fastdnn working set. It also times the seed's own workload end to end (the cat
network, 2500 iterations), the first fit in a fresh process (warm and cold Numba
cache) and each implementation's peak memory in a fresh process.

PyTorch and JAX are used when installed, never required.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench.py   # everything
    python scripts/bench.py --sizes tiny,cat --dtypes float64 --repeats 7
    python scripts/bench.py --json results.json      # keep the numbers

GFLOP/s counts the flops the direct algorithm needs per iteration (forward
2*n_l*n_{l-1}*m per layer, dW the same, dA for layers 2..L; no dX). The Gram
strategy needs fewer, so its figure is "direct-equivalent".
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lib.environment import set_thread_env  # noqa: E402  (before numpy loads)

SIZES = {
    "tiny": ([5, 4, 3, 1], 4),
    "cat": ([12288, 20, 7, 5, 1], 209),
    "medium": ([784, 128, 64, 1], 10000),
    "wide": ([1024, 1024, 1024, 1], 4096),
}
COMPETITORS = ["torch_eager_manual", "torch_autograd", "torch_compile", "jax_fori"]
#: seconds of sleep before each timed call: the previous library's thread pool
#: keeps spinning after its work and would slow the next one down
PAUSE = 0.2
#: rounds in which other processes took more than this share of the CPU are redone
MAX_FOREIGN = 0.15


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=",".join(SIZES), help="comma list of %s" % ", ".join(SIZES))
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds (median)")
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch / XLA threads")
    p.add_argument("--seconds", type=float, default=0.25,
                   help="target length of one timed call (iterations per call are calibrated)")
    p.add_argument("--impls", default="auto",
                   help="comma list from fastdnn, reference, %s (auto: all installed)"
                   % ", ".join(COMPETITORS))
    p.add_argument("--no-seed-workload", action="store_true",
                   help="skip the 2500-iteration cat run")
    p.add_argument("--no-startup", action="store_true", help="skip first-call timings")
    p.add_argument("--no-memory", action="store_true", help="skip fresh-process peak memory")
    p.add_argument("--json", help="write all results to this file")
    return p.parse_args(argv)


def direct_flops(dims, m):
    """Flops of one direct iteration: forward + dW for every layer, dA for layers 2..L."""
    macs = sum(dims[l] * dims[l - 1] * m for l in range(1, len(dims)))
    macs_dA = sum(dims[l] * dims[l - 1] * m for l in range(2, len(dims)))
    return 2 * (2 * macs + macs_dA)


class FastdnnImpl:
    """fastdnn's engine, continuing from its current state on each ``run(n)``."""

    def __init__(self, dims, X, Y, params, lr, dtype, strategy="auto"):
        from fastdnn.engine import TrainingEngine

        acts = ["relu"] * (len(dims) - 2) + ["sigmoid"]
        self.engine = TrainingEngine(X, Y, params, dims, acts, lr, strategy, planned_iterations=2500)
        self.engine.run(2, 1)  # compile / load the kernels outside the timings

    def run(self, n):
        self.engine.run(n, n)

    def parameters(self):
        return self.engine.parameters()


def make_impls(names, dims, X, Y, params, lr, dtype, threads):
    from bench_lib.baselines import BASELINES, BaselineUnavailable

    impls, skipped = {}, {}
    for name in names:
        try:
            if name == "fastdnn":
                impls[name] = FastdnnImpl(dims, X, Y, params, lr, dtype)
            elif name == "reference":
                impls[name] = BASELINES["numpy_reference"](dims, X, Y, params, lr, dtype)
            elif name.startswith("torch"):
                impls[name] = BASELINES[name](dims, X, Y, params, lr, dtype, threads=threads)
            else:
                impls[name] = BASELINES[name](dims, X, Y, params, lr, dtype)
        except BaselineUnavailable as exc:
            skipped[name] = str(exc).splitlines()[0][:120]
    return impls, skipped


def calibrate(impl, seconds):
    """Iterations per timed call so that one call lasts about ``seconds`` (at least 1)."""
    n = 1
    while True:
        t0 = time.perf_counter()
        impl.run(n)
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or n >= 1 << 20:
            return max(1, int(n * seconds / max(dt, 1e-9)))
        n *= 4


def time_per_iteration(impls, seconds, repeats):
    """Interleaved rounds; returns name -> (median seconds per iteration, iterations per call)."""
    from bench_lib.timing import interleaved

    counts = {name: calibrate(impl, seconds) for name, impl in impls.items()}
    calls = {name: (lambda impl=impl, n=counts[name]: impl.run(n)) for name, impl in impls.items()}
    res = interleaved(calls, repeats=repeats, warmup=0, pause=PAUSE, max_foreign=MAX_FOREIGN)
    return {name: (res[name]["median"] / counts[name], counts[name]) for name in impls}


def working_set_bytes(dims, m, dtype):
    """fastdnn's training buffers vs the reference's allocations during one iteration."""
    import tracemalloc

    from bench_lib.baselines import make_problem
    from fastdnn import reference as R
    from fastdnn.engine.workspace import Workspace

    ws = Workspace(dims, m, dtype, ["relu"] * (len(dims) - 2) + ["sigmoid"])
    X, Y, params = make_problem(dims, m, dtype)
    tracemalloc.start()
    AL, caches = R.L_model_forward(X, params)
    grads = R.L_model_backward(AL, Y, caches)
    R.update_parameters(params, grads, 0.0075)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del AL, caches, grads
    return ws.nbytes + (ws.params.nbytes * 2), peak  # + the two divergence snapshots


def fresh_peak_memory(impl, size, dtype, threads, iterations):
    """Peak RSS (MiB) of a fresh process that builds ``impl`` and trains ``iterations``.

    Read from VmHWM: ru_maxrss would carry over the parent's peak through fork + exec.
    """
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from bench import SIZES, make_impls\n"
        "from bench_lib.baselines import make_problem\n"
        "dims, m = SIZES[%r]; X, Y, p = make_problem(dims, m, %r)\n"
        "impls, skipped = make_impls([%r], dims, X, Y, p, 0.0075, %r, %d)\n"
        "[i.run(%d) for i in impls.values()]\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('__RSS__', int(hwm) / 1024 if impls else -1)\n"
    ) % (str(Path(__file__).resolve().parent), size, dtype, impl, dtype, threads, iterations)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("__RSS__"):
            value = float(line.split()[1])
            return None if value < 0 else value
    return None


def startup_times(repeats=3):
    """Median seconds of import fastdnn + a first small fit in a fresh process (warm, cold cache)."""
    import tempfile

    from bench_lib.timing import fresh_interpreter_seconds

    snippet = ("import numpy as np, fastdnn\n"
               "X = np.random.rand(5, 4); Y = np.array([[0., 1., 0., 1.]])\n"
               "fastdnn.DeepNeuralNetwork([5, 4, 3, 1]).fit(X, Y, 10).predict(X)\n")
    fresh_interpreter_seconds(snippet)  # make sure the default cache is warm
    warm = [fresh_interpreter_seconds(snippet) for _ in range(repeats)]
    cold = []
    for _ in range(max(1, repeats - 1)):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(fresh_interpreter_seconds(snippet, env={"NUMBA_CACHE_DIR": cache}))
    return statistics.median(warm), statistics.median(cold)


def seed_workload(names, threads, repeats):
    """The seed's workload: cat network, m=209, 2500 iterations, lr 0.0075.

    fastdnn: DeepNeuralNetwork.fit(2500) end to end (validation, Gram matrix,
    W1 recovery included), median of ``repeats``. Others: their per-iteration
    median over 50-iteration calls, times 2500 (they have no per-run setup worth
    counting, and 2500 reference iterations take minutes).
    """
    import numpy as np
    from bench_lib.baselines import make_problem
    from bench_lib.timing import interleaved
    from fastdnn import DeepNeuralNetwork
    from fastdnn import reference as R

    dims, m = SIZES["cat"]
    X, Y, params = make_problem(dims, m, "float64")
    model = DeepNeuralNetwork(dims, 0.0075)
    fit = lambda: model.fit(X, Y, 2500, initial_parameters=params)  # noqa: E731
    fit()
    impls, _ = make_impls([n for n in names if n != "fastdnn"], dims, X, Y, params, 0.0075,
                          "float64", threads)
    calls = {"fastdnn": fit}
    calls.update({name: (lambda impl=impl: impl.run(50)) for name, impl in impls.items()})
    res = interleaved(calls, repeats=repeats, warmup=0, pause=PAUSE, max_foreign=MAX_FOREIGN)
    totals = {"fastdnn": res["fastdnn"]["median"]}
    totals.update({name: res[name]["median"] / 50 * 2500 for name in impls})
    ref_p, ref_c = R.L_layer_model(X, Y, dims, 0.0075, 2500, initial_parameters=params)
    rel = max(np.abs(model.parameters_[k] - ref_p[k]).max() / np.abs(ref_p[k]).max() for k in ref_p)
    cost_rel = max(abs(a - b) / abs(b) for a, b in zip(model.costs_, ref_c))
    return totals, rel, cost_rel, model.strategy_


def main(argv=None):
    args = parse_args(argv)
    set_thread_env(args.threads)
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, which numba's np.dot uses)
    from bench_lib.baselines import make_problem
    from bench_lib.machine import gemm_peak_gflops, set_threads, thread_info

    names = (["fastdnn", "reference"] + COMPETITORS if args.impls == "auto"
             else args.impls.split(","))
    sizes, dtypes = args.sizes.split(","), args.dtypes.split(",")
    out = {"machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                       "threads": args.threads,
                       "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")},
           "sizes": []}
    import fastdnn
    out["fastdnn_version"] = fastdnn.__version__
    set_threads(args.threads)
    peak = {dt: gemm_peak_gflops(dt) for dt in dtypes}
    out["machine"]["gemm_peak_gflops"] = peak

    if os.environ.get("OPENBLAS_CORETYPE"):
        print("note: OPENBLAS_CORETYPE=%s forces an older OpenBLAS kernel (GEMM ~1.7x slower here); "
              "run as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench.py` "
              "to measure the machine's own" % os.environ["OPENBLAS_CORETYPE"])
    print("fastdnn %s, Python %s, %d CPUs, %d BLAS threads; GEMM peak %s"
          % (fastdnn.__version__, platform.python_version(), os.cpu_count(), args.threads,
             ", ".join("%s %.0f GFLOP/s" % kv for kv in peak.items())))
    for name in names:
        if name in ("fastdnn", "reference"):
            continue
        try:
            if name.startswith("torch"):
                import torch
                torch.set_num_threads(args.threads)
            else:
                import jax  # noqa: F401
        except ImportError:
            pass
    for pool in thread_info():
        print("  pool: %(user_api)s %(internal_api)s %(version)s, %(num_threads)s threads, "
              "kernel %(architecture)s (%(prefix)s)" % pool)
    out["machine"]["thread_pools"] = thread_info()
    print("  per-iteration medians of %d interleaved rounds; ratio = time / fastdnn time\n"
          % args.repeats)

    header = "%-7s %-8s %-19s %12s %9s %9s %8s" % ("size", "dtype", "impl", "ms/iter",
                                                  "x ref", "vs fdnn", "GFLOP/s")
    print(header + "\n" + "-" * len(header))
    for size in sizes:
        dims, m = SIZES[size]
        for dtype in dtypes:
            X, Y, params = make_problem(dims, m, dtype)
            impls, skipped = make_impls(names, dims, X, Y, params, 0.0075, dtype, args.threads)
            set_threads(args.threads)  # torch / jax may have loaded new pools
            times = time_per_iteration(impls, args.seconds, args.repeats)
            flops = direct_flops(dims, m)
            ref = times.get("reference", (None,))[0]
            fast = times.get("fastdnn", (None,))[0]
            rows = []
            for name, (t, n) in times.items():
                row = {"impl": name, "seconds_per_iteration": t, "iterations_per_call": n,
                       "gflops": flops / t / 1e9,
                       "speedup_vs_reference": ref / t if ref else None,
                       "time_vs_fastdnn": t / fast if fast else None}
                rows.append(row)
                print("%-7s %-8s %-19s %12.5f %9s %9s %8.1f" % (
                    size, dtype, name, t * 1e3,
                    "%.1fx" % (ref / t) if ref else "-", "%.2f" % (t / fast) if fast else "-",
                    row["gflops"]))
            for name, why in skipped.items():
                print("%-7s %-8s %-19s skipped: %s" % (size, dtype, name, why))
            entry = {"size": size, "layer_dims": dims, "m": m, "dtype": dtype, "rows": rows,
                     "skipped": skipped, "direct_flops_per_iteration": flops,
                     "gemm_peak_gflops": peak[dtype]}
            if "fastdnn" in impls:
                entry["fastdnn_strategy"] = impls["fastdnn"].engine.strategy
                fast_ws, ref_ws = working_set_bytes(dims, m, dtype)
                entry["working_set_bytes"] = {"fastdnn_buffers": fast_ws, "reference_one_iteration": ref_ws}
                print("%-7s %-8s fastdnn strategy %s; %.1f%% of %s GEMM peak%s; buffers %.1f KiB "
                      "vs reference per-iteration allocations %.1f KiB"
                      % (size, dtype, entry["fastdnn_strategy"], 100 * flops / fast / 1e9 / peak[dtype],
                         dtype, " (direct-equivalent flops)" if entry["fastdnn_strategy"] == "gram"
                         else "", fast_ws / 2**10, ref_ws / 2**10))
            if not args.no_memory:
                entry["peak_rss_mib"] = {name: fresh_peak_memory(name, size, dtype, args.threads,
                                                                 times[name][1])
                                         for name in impls}
                print("%-7s %-8s fresh-process peak RSS MiB: %s" % (size, dtype, ", ".join(
                    "%s %.0f" % (k, v) for k, v in entry["peak_rss_mib"].items() if v)))
            out["sizes"].append(entry)
            del impls
            print()

    if not args.no_seed_workload and "cat" in sizes:
        totals, rel, cost_rel, strategy = seed_workload(
            [n for n in names if n in ("fastdnn", "reference") or n in COMPETITORS],
            args.threads, max(3, args.repeats // 2))
        out["seed_workload"] = {"seconds": totals, "max_rel_param_diff": rel,
                                "max_rel_cost_diff": cost_rel, "strategy": strategy}
        print("seed workload: cat [12288,20,7,5,1] m=209, 2500 iterations, float64 "
              "(fastdnn measured end to end, others per-iteration x 2500)")
        for name, t in totals.items():
            print("  %-19s %9.3f s  %8.1fx fastdnn" % (name, t, t / totals["fastdnn"]))
        print("  fastdnn (%s) vs reference: max rel parameter diff %.1e, max rel cost diff %.1e\n"
              % (strategy, rel, cost_rel))

    if not args.no_startup:
        warm, cold = startup_times()
        out["startup_seconds"] = {"warm_cache": warm, "cold_cache": cold}
        print("first fit in a fresh process (import fastdnn + fit + predict, tiny net): "
              "warm cache %.2f s, cold cache (compile) %.2f s" % (warm, cold))

    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        print("results written to %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
