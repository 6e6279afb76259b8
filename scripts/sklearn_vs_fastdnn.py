#!/usr/bin/env python
"""fastdnn's scikit-learn estimators side by side with MLPClassifier / MLPRegressor.

On scikit-learn's bundled data sets (digits, breast cancer, wine: classification;
diabetes: regression, with adam and with lbfgs), the same stratified split (25 % test, random_state 0),
standardised, the same layers and hyper-parameters and random_state: both fit,
warm (kernels compiled first), interleaved, median of ``--repeats`` fit times. Prints
the test score of each, the largest relative difference of the fitted parameters,
the epochs each ran and the fit-time ratio. BLAS runs on ``--threads`` threads in both.
fastdnn runs twice: its default strategy (one core) and ``strategy="split"`` (each
batch cut across the cores, one BLAS thread each; not for lbfgs).

    python scripts/sklearn_vs_fastdnn.py            # the table of issue 10
    python scripts/sklearn_vs_fastdnn.py --repeats 7 --threads 2
"""

import argparse
import os
import statistics
import sys
import time
import warnings


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="timed fits of each (median)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of both")
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds of rest before each timed fit (default 0.3), so that the "
                        "previous fit's idle threads stop spinning first")
    return p.parse_args(argv)


def problems():
    """(name, X, y, task, hyper-parameters) of each comparison (scikit-learn's defaults
    otherwise: adam, batch "auto", lr 1e-3)."""
    from sklearn import datasets
    net = dict(hidden_layer_sizes=(64, 32), max_iter=200, random_state=0)
    yield "digits", *datasets.load_digits(return_X_y=True), "classification", net
    yield "breast_cancer", *datasets.load_breast_cancer(return_X_y=True), "classification", net
    yield "wine", *datasets.load_wine(return_X_y=True), "classification", net
    X, y = datasets.load_diabetes(return_X_y=True)
    y = y / y.std()                                   # targets in units of their spread
    yield "diabetes", X, y, "regression", dict(hidden_layer_sizes=(16,), alpha=3.0,
                                               max_iter=1000, random_state=0)
    yield "diabetes lbfgs", X, y, "regression", dict(hidden_layer_sizes=(32,), solver="lbfgs",
                                                     alpha=30.0, max_iter=500, random_state=0)


def split(X, y, task):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if task == "classification" else None)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def timed_fit(make, X, y, pause=0.0):
    """(seconds, fitted estimator) of make().fit(X, y), after ``pause`` seconds of rest:
    OpenBLAS's worker threads spin for up to ~0.1 s after a call and OpenMP's after a
    parallel loop, taking a core from whatever runs next on a 2-core machine."""
    time.sleep(pause)
    est = make()
    start = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - start, est


def max_rel(a, b):
    return max(float(abs(p - q).max() / abs(q).max())
               for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from threadpoolctl import threadpool_limits

    from fastdnn.sklearn import DNNClassifier, DNNRegressor
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("%-14s %-13s %10s %7s %11s %9s %10s" % ("data", "estimator", "test score", "epochs",
                                                  "fit (ms)", "sk / fd", "max rel"))
    with threadpool_limits(args.threads):
        for name, X, y, task, settings in problems():
            X_tr, X_te, y_tr, y_te = split(X, y, task)
            ours, theirs = ((DNNClassifier, MLPClassifier) if task == "classification"
                            else (DNNRegressor, MLPRegressor))
            makers = {"scikit-learn": lambda: theirs(**settings),
                      "fastdnn": lambda: ours(**settings)}
            if settings.get("solver", "adam") != "lbfgs":   # split: mini-batch solvers only
                makers["fastdnn split"] = lambda: ours(strategy="split", **settings)
            for label, make in makers.items():               # compile, outside the timing
                if label != "scikit-learn":
                    timed_fit(make, X_tr, y_tr)
            times = {label: [] for label in makers}
            fitted = {}
            for _ in range(args.repeats):                    # interleaved
                for label, make in makers.items():
                    t, fitted[label] = timed_fit(make, X_tr, y_tr, args.pause)
                    times[label].append(t)
            med = {k: statistics.median(v) for k, v in times.items()}
            sk = fitted["scikit-learn"]
            for label, est in fitted.items():
                mine = label != "scikit-learn"
                ratio = "%8.1fx" % (med["scikit-learn"] / med[label]) if mine else ""
                diff = "%.1e" % max_rel(est, sk) if mine else ""
                print("%-14s %-13s %10.4f %7d %11.1f %9s %10s" % (
                    name, label, est.score(X_te, y_te), est.n_iter_, 1e3 * med[label], ratio,
                    diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
