#!/usr/bin/env python
"""fastdnn beside scikit-learn's MLPClassifier on the bundled digits (8x8 images, 10 classes).

Both train the same network the same way and are timed the same way:

- data: ``sklearn.datasets.load_digits`` (1797 x 64), ``train_test_split(test_size=0.25,
  stratify=y, random_state=0)`` (1347 train / 450 test), features standardised with a
  ``StandardScaler`` fitted on the training set;
- networks: 64 inputs -> hidden layers -> 10-way softmax, by default [64, 64, 10] and
  [64, 128, 64, 10], the same hidden activation (default ReLU), no L2 (``alpha=0``);
- training: Adam (learning rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8 for both),
  shuffled mini-batches of 32 (the last one smaller), the same number of epochs
  (MLPClassifier: ``max_iter=epochs``, ``tol=0``, ``n_iter_no_change`` larger than the
  epochs, so it never stops early; its ConvergenceWarning is expected and silenced);
- initialisation: fastdnn ``init="xavier"`` (normal, variance 2 / (fan_in + fan_out),
  zero biases); scikit-learn draws Glorot-uniform weights and biases of the same
  variance. The two are not the same numbers, so the accuracies differ a little;
- threads: BLAS limited to ``--threads`` (default 1) for both with threadpoolctl, and
  ``DeepNeuralNetwork(n_threads=...)`` the same;
- time: wall-clock of ``fit`` only, warm (fastdnn's kernels compiled first on a tiny
  problem, scikit-learn fitted once for 1 epoch), the median of ``--repeats`` (3) runs
  each, interleaved (fastdnn, scikit-learn, fastdnn, ...).

Prints a table (train and test accuracy, median fit time, the ratio scikit-learn /
fastdnn) and exits 1 if fastdnn's test accuracy is below 0.96 on any network.
scikit-learn is only a dependency of this script and of the tests, never of the
fastdnn package.

Usage: python scripts/digits_vs_sklearn.py [--hidden 64 --hidden 128,64] [--epochs 60]
       [--batch-size 32] [--learning-rate 1e-3] [--activation relu] [--repeats 3] [--threads 1]
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np

MIN_ACCURACY = 0.96

#: fastdnn's hidden activation names -> MLPClassifier's.
SKLEARN_ACTIVATION = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic", "identity": "identity"}


def load_data(seed=0):
    """(X_train (64, m), y_train (1, m), X_test, y_test) in fastdnn's layout, standardised."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    return (np.ascontiguousarray(X_tr.T), y_tr.reshape(1, -1),
            np.ascontiguousarray(X_te.T), y_te.reshape(1, -1))


def make_fastdnn(hidden=(64,), learning_rate=1e-3, batch_size=32, activation="relu", threads=1):
    """The softmax network as a ``fastdnn.DeepNeuralNetwork`` (not fitted)."""
    from fastdnn import DeepNeuralNetwork

    return DeepNeuralNetwork([64, *hidden, 10], learning_rate, output="softmax",
                             hidden_activation=activation, optimizer="adam", beta1=0.9,
                             beta2=0.999, epsilon=1e-8, batch_size=batch_size, init="xavier",
                             random_state=0, n_threads=threads)


def make_sklearn(hidden=(64,), learning_rate=1e-3, batch_size=32, activation="relu", epochs=60):
    """The same network as an ``MLPClassifier`` (not fitted)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=tuple(hidden),
                         activation=SKLEARN_ACTIVATION[activation], solver="adam", alpha=0.0,
                         batch_size=batch_size, learning_rate_init=learning_rate,
                         max_iter=epochs, shuffle=True, random_state=0, tol=0.0,
                         n_iter_no_change=epochs + 1, early_stopping=False, beta_1=0.9,
                         beta_2=0.999, epsilon=1e-8)


def fit_fastdnn(model, X, y, epochs):
    model.fit(X, y, num_epochs=epochs, record_every=epochs)
    return model


def fit_sklearn(model, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X.T, y.ravel())
    return model


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def compare(hidden, args):
    """Fit both on one network, interleaved: {name: (epochs, train acc, test acc, times)}."""
    X_tr, y_tr, X_te, y_te = load_data()
    common = dict(hidden=hidden, learning_rate=args.learning_rate, batch_size=args.batch_size,
                  activation=args.activation)
    # warm-up: fastdnn's kernels compiled (or loaded from the cache) on a tiny problem,
    # scikit-learn fitted for one epoch
    fit_fastdnn(make_fastdnn(**common, threads=args.threads), X_tr[:, :50], y_tr[:, :50],
                2).score(X_te[:, :5], y_te[:, :5])
    fit_sklearn(make_sklearn(**dict(common, epochs=1)), X_tr[:, :50], y_tr[:, :50])
    times = {"fastdnn": [], "scikit-learn": []}
    models = {}
    for _ in range(args.repeats):
        t, models["fastdnn"] = timed(lambda: fit_fastdnn(
            make_fastdnn(**common, threads=args.threads), X_tr, y_tr, args.epochs))
        times["fastdnn"].append(t)
        t, models["scikit-learn"] = timed(lambda: fit_sklearn(
            make_sklearn(**common, epochs=args.epochs), X_tr, y_tr))
        times["scikit-learn"].append(t)
    fd, sk = models["fastdnn"], models["scikit-learn"]
    return {"fastdnn": (fd.n_iter_, fd.score(X_tr, y_tr), fd.score(X_te, y_te), times["fastdnn"]),
            "scikit-learn": (sk.n_iter_, sk.score(X_tr.T, y_tr.ravel()),
                             sk.score(X_te.T, y_te.ravel()), times["scikit-learn"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", action="append",
                        help="hidden layer sizes, comma-separated; repeat for several networks "
                             "(default: 64 and 128,64)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--activation", default="relu", choices=sorted(SKLEARN_ACTIVATION))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both (default 1)")
    args = parser.parse_args(argv)
    specs = args.hidden or ["64", "128,64"]
    networks = [tuple(int(h) for h in spec.split(",")) for spec in specs]

    import sklearn
    from threadpoolctl import threadpool_limits

    import fastdnn

    start = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        results = [(hidden, compare(hidden, args)) for hidden in networks]
    X_tr, _, X_te, _ = load_data()
    print("digits: %d train / %d test, 64 features standardised; %s hidden layers, softmax; "
          "Adam lr %g, batch %d, %d epochs, no L2; %d BLAS thread(s); fit time: median of %d "
          "warm fits, interleaved"
          % (X_tr.shape[1], X_te.shape[1], args.activation, args.learning_rate,
             args.batch_size, args.epochs, args.threads, args.repeats))
    print("fastdnn %s, scikit-learn %s"
          % (getattr(fastdnn, "__version__", "?"), sklearn.__version__))
    print()
    print("%-18s %-13s %6s %9s %9s %12s %9s  %s"
          % ("layers", "", "epochs", "train acc", "test acc", "fit time (s)", "sk / fd",
             "runs (s)"))
    failed = []
    for hidden, res in results:
        ratio = statistics.median(res["scikit-learn"][3]) / statistics.median(res["fastdnn"][3])
        for name in ("fastdnn", "scikit-learn"):
            epochs, train_acc, test_acc, times = res[name]
            print("%-18s %-13s %6d %9.4f %9.4f %12.4f %9s  %s" % (
                str([64, *hidden, 10]).replace(" ", ""), name, epochs, train_acc, test_acc,
                statistics.median(times), "%.1fx" % ratio if name == "fastdnn" else "",
                " ".join("%.3f" % t for t in times)))
        if res["fastdnn"][2] < MIN_ACCURACY:
            failed.append((hidden, res["fastdnn"][2]))
    print("\nfastdnn test accuracy >= %.2f on every network: %s (%.1f s in all)"
          % (MIN_ACCURACY, "FAIL %s" % failed if failed else "ok", time.perf_counter() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
