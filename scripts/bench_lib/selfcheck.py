"""Self-check: every available baseline gives the same parameters and cost.

Run from the repository root::

    python -m scripts.bench_lib.selfcheck        # or: python scripts/bench_lib/selfcheck.py

For a few small networks, each baseline runs 20 iterations from the same
params0 (split as run(5) + run(15), which also checks that runs resume from
the current state), then its parameters are compared with the first available
baseline's: max |a - b| / max |b| over each array must be below 1e-10 in
float64 and 1e-4 in float32; costs likewise. Unavailable baselines are
reported and skipped. Exit status 1 on any mismatch.
"""

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

if __package__ in (None, ""):  # run as a file: make "scripts.bench_lib" importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

from scripts.bench_lib.baselines import BASELINES, BaselineUnavailable, make_problem  # noqa: E402

CASES = [([5, 4, 3, 1], 4), ([20, 7, 5, 1], 50), ([30, 16, 1], 64)]
TOL = {"float64": 1e-10, "float32": 1e-4}


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def main():
    failures = 0
    for dtype in ("float64", "float32"):
        for dims, m in CASES:
            X, Y, p0 = make_problem(dims, m, dtype)
            results = {}
            for name, make in BASELINES.items():
                try:
                    model = make(dims, X, Y, p0, 0.1, dtype)
                except BaselineUnavailable as exc:
                    print(f"  skip {name}: {exc}")
                    continue
                model.run(5)
                model.run(15)
                results[name] = (model.parameters(), model.cost())
            ref_name = next(iter(results))
            ref_params, ref_cost = results[ref_name]
            for name, (params, cost) in results.items():
                worst = max(_rel(params[k].astype(np.float64), ref_params[k].astype(np.float64))
                            for k in ref_params)
                worst = max(worst, abs(cost - ref_cost) / abs(ref_cost))
                ok = worst <= TOL[dtype] and params["W1"].dtype == np.dtype(dtype)
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {dtype} {dims} m={m} {name:20s} "
                      f"max rel diff vs {ref_name}: {worst:.2e}  cost={cost:.12f}")
    print("selfcheck:", "all agree" if failures == 0 else f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
