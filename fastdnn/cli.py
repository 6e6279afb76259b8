"""The ``fastdnn`` command line: train, evaluate, predict with and inspect model files.

    fastdnn train [DATA ...]        train (no DATA: the built-in data set) and save a model
    fastdnn evaluate MODEL DATA     accuracy and confusion counts
    fastdnn predict MODEL DATA      probabilities and labels as CSV
    fastdnn info MODEL              what a model file holds

Errors print one line ``fastdnn: error: <message>`` on stderr and exit with 2
(usage errors) or 1 (runtime errors: missing or corrupt files, shape mismatches,
a diverging run). Importing this module is cheap: numpy, h5py, numba and
matplotlib load only when a command needs them.
"""

import argparse
import math
import os
import sys
import time

__all__ = ["main", "build_parser"]

#: Learning rate of ``fastdnn train`` on data files: the cat-classifier course's.
FILE_LEARNING_RATE = 0.0075
#: Learning rate of ``fastdnn train`` on the built-in data set: with 0.0075 the
#: [768, 20, 7, 5, 1] net still sits near cost 0.66 after 300 iterations; 0.05
#: reaches train accuracy 1.0 / test ~0.96 within 300 iterations and stays stable.
BUILTIN_LEARNING_RATE = 0.05
DEFAULT_HIDDEN = (20, 7, 5)
BUILTIN = "builtin"

_RUNTIME_ERRORS = (ValueError, TypeError, FileNotFoundError, OSError, FloatingPointError,
                   RuntimeError, ImportError)


class UsageError(Exception):
    """A bad combination of arguments (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line: ``fastdnn: error: <message>``."""

    def error(self, message):
        self.exit(2, "fastdnn: error: %s (see '%s --help')\n" % (message, self.prog))


# --------------------------------------------------------------------------- argument types

def _int_at_least(minimum, wanted):
    """An argparse type: an integer >= minimum (``wanted`` names it in errors)."""
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
        if n < minimum:
            raise argparse.ArgumentTypeError("must be %s, got %s" % (wanted, text))
        return n
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonnegative_int = _int_at_least(0, ">= 0")


def _positive_float(text):
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError("must be a positive number, got %s" % text)
    return x


def _layers(text):
    """'20,7,5' -> [20, 7, 5]; '' -> [] (no hidden layer: logistic regression)."""
    if not text.strip():
        return []
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                "%r is not a comma-separated list of positive layer sizes (e.g. 20,7,5)" % text)
        sizes.append(int(part))
    return sizes


# --------------------------------------------------------------------------- parser

def build_parser():
    from . import __version__
    from .initializers import INITIALIZERS  # numpy only

    p = _Parser(prog="fastdnn", description="Train and use fully-connected binary classifiers "
                "[LINEAR->RELU]*(L-1)->LINEAR->SIGMOID (full-batch gradient descent, Numba core).")
    p.add_argument("--version", action="version", version="fastdnn %s" % __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def data_keys(q, y_help):
        g = q.add_argument_group("general HDF5 files (instead of the course layout)")
        g.add_argument("--x-key", help="dataset holding X, examples along the first axis "
                       "(m, ...); integer X is scaled by its dtype's maximum (uint8: /255)")
        g.add_argument("--y-key", help=y_help)
        g.add_argument("--classes-key", help="optional dataset with the 2 class names")

    t = sub.add_parser(
        "train", help="train a model and save it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train [n_x, *LAYERS, 1] by full-batch gradient descent and save it.\n\n"
        "DATA: none -> the built-in data set (generated 16x16 RGB 'shapes' images, 240\n"
        "train / 80 test examples); one or two course-layout HDF5 files (train, optional\n"
        "test: train_set_x/train_set_y or test_set_x/test_set_y + list_classes), or any\n"
        "HDF5 files with --x-key/--y-key.")
    t.add_argument("data", nargs="*", metavar="DATA", help="train file, then optional test file")
    t.add_argument("--layers", type=_layers, default=list(DEFAULT_HIDDEN), metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default: %s); the net is "
                   "[n_x, SIZES..., 1]" % ",".join(map(str, DEFAULT_HIDDEN)))
    t.add_argument("--iterations", type=_positive_int, default=2500, metavar="N",
                   help="gradient-descent iterations (default: 2500)")
    t.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                   help="gradient-descent step (default: %g for data files, the course's; %g "
                   "for the built-in data set, which trains it to train accuracy 1.0 within a "
                   "few hundred iterations where %g barely moves)"
                   % (FILE_LEARNING_RATE, BUILTIN_LEARNING_RATE, FILE_LEARNING_RATE))
    t.add_argument("--init", choices=sorted(INITIALIZERS), default="scaled",
                   help="weight initialisation (default: scaled = randn/sqrt(n_prev), zero biases)")
    t.add_argument("--seed", type=_nonnegative_int, default=None,
                   help="seed of the initialisation (default: the scheme's own, 1 for scaled)")
    t.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="working precision (default: float64)")
    t.add_argument("--strategy", choices=("auto", "direct", "gram"), default="auto",
                   help="how layer 1 is trained (default: auto)")
    t.add_argument("--record-every", type=_positive_int, default=100, metavar="N",
                   help="record and print the cost every N iterations (default: 100)")
    t.add_argument("--out", default="model.h5", metavar="PATH",
                   help="where to save the model (default: model.h5)")
    t.add_argument("--plot", metavar="PNG", help="write the learning curve here (needs matplotlib)")
    t.add_argument("--misclassified", metavar="PNG",
                   help="write a grid of misclassified test images (train images without test "
                   "data) here (needs matplotlib)")
    t.add_argument("--quiet", action="store_true",
                   help="no progress bar and no per-record costs; only the summary")
    data_keys(t, "dataset holding the 0/1 labels (m,) or (1, m); required with --x-key")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="accuracy and confusion counts of a model on data",
                       description="Accuracy and confusion counts (TP, FP, TN, FN; positive = "
                       "label 1) of MODEL on DATA: a course-layout file, an HDF5 file with "
                       "--x-key/--y-key, or 'builtin' (the built-in test split).")
    e.add_argument("model", metavar="MODEL")
    e.add_argument("data", metavar="DATA")
    data_keys(e, "dataset holding the 0/1 labels; required with --x-key")
    e.set_defaults(func=_cmd_evaluate)

    q = sub.add_parser("predict", help="predicted probabilities and labels as CSV",
                       description="Write index,probability,label (one line per example, "
                       "with a header) for DATA: a course-layout file, an HDF5 file with "
                       "--x-key (labels not needed), or 'builtin' (the built-in test split).")
    q.add_argument("model", metavar="MODEL")
    q.add_argument("data", metavar="DATA")
    q.add_argument("--out", default="-", metavar="CSV",
                   help="output CSV file (default: standard output)")
    data_keys(q, "labels dataset (optional, ignored: predictions do not need labels)")
    q.set_defaults(func=_cmd_predict)

    i = sub.add_parser("info", help="describe a model file",
                       description="Layer sizes, activations, dtype, hyper-parameters, "
                       "iterations trained, last cost and versions of a model file.")
    i.add_argument("model", metavar="MODEL")
    i.set_defaults(func=_cmd_info)
    return p


# --------------------------------------------------------------------------- helpers

def _one_line(err):
    text = " ".join(str(err).split())
    if isinstance(err, FileNotFoundError) and err.filename and "[Errno" in text:
        text = "file not found: %r" % str(err.filename)
    return text or type(err).__name__


def _check_keys(args, need_y):
    if args.x_key is None and (args.y_key or args.classes_key):
        raise UsageError("--y-key/--classes-key need --x-key")
    if args.x_key is not None and need_y and not args.y_key:
        raise UsageError("--x-key needs --y-key (the labels)")


def _load_data(path, args):
    """A Dataset from a course-layout file, or from any HDF5 file with --x-key/--y-key."""
    from .io.data import load_dataset, load_hdf5

    if args.x_key is None:
        return load_dataset(path)
    return load_hdf5(path, args.x_key, args.y_key, classes_key=args.classes_key)


def _load_x_only(path, x_key):
    """X (n_x, m) from an HDF5 file without labels, preprocessed as ``load_hdf5`` does."""
    import numpy as np

    from .io.data import _check_path, _check_x, _finite, _open, _read

    p = _check_path(path)
    with _open(p) as f:
        x = _read(f, p, x_key)
    _check_x(x, p, x_key)
    X = np.ascontiguousarray(x.reshape(x.shape[0], -1).T, dtype=np.float64)
    _finite(X, p, x_key)
    if x.dtype.kind in "iu":
        X /= float(np.iinfo(x.dtype).max)
    return X


def _load_builtin():
    from .io.data import load_builtin

    return load_builtin()


def _check_writable(path, what):
    if not path or path == "-":
        return
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise FileNotFoundError("cannot write the %s to %r: directory %r does not exist"
                                % (what, path, d))
    if os.path.isdir(path):
        raise ValueError("cannot write the %s to %r: it is a directory" % (what, path))


def _check_n_x(n_x, X, source):
    if X.shape[0] != n_x:
        raise ValueError("shape mismatch: the model takes %d input features per example but %s "
                         "has %d" % (n_x, source, X.shape[0]))


def _count(pred, Y):
    import numpy as np

    p, y = np.asarray(pred).ravel() == 1, np.asarray(Y).ravel() == 1
    return {"TP": int(np.sum(p & y)), "FP": int(np.sum(p & ~y)),
            "TN": int(np.sum(~p & ~y)), "FN": int(np.sum(~p & y))}


def _print_cost(iteration, cost):
    """Print one recorded cost as the seed's training loops do, while training runs."""
    print("Cost after iteration %d: %f" % (iteration, cost), flush=True)


def _accuracy_line(label, model, ds):
    import numpy as np

    pred = model.predict(ds.X)
    correct = int(np.sum(pred == ds.Y))
    print("%-15s %.4f (%d/%d correct)" % (label + " accuracy:", correct / ds.m, correct, ds.m))
    return pred


def _describe(ds):
    shape = "x".join(map(str, ds.image_shape)) + " images, " if ds.image_shape else ""
    return "%s: %d examples, %sn_x = %d, classes 0=%r 1=%r, %d positive" % (
        ds.name, ds.m, shape, ds.n_x, ds.classes[0], ds.classes[1], int(ds.Y.sum()))


def _load_model(path):
    from .persistence import load_model

    return load_model(path)


# --------------------------------------------------------------------------- commands

def _cmd_train(args):
    if len(args.data) > 2:
        raise UsageError("train takes at most 2 data files (train, test); got %d"
                         % len(args.data))
    _check_keys(args, need_y=True)
    builtin = not args.data
    if builtin and args.x_key:
        raise UsageError("--x-key/--y-key need data files")
    for path, what in ((args.out, "model"), (args.plot, "learning curve"),
                       (args.misclassified, "misclassified grid")):
        _check_writable(path, what)
    if args.plot or args.misclassified:
        from .plotting import require_matplotlib
        require_matplotlib()

    if builtin:
        train, test = _load_builtin()
        source = "the built-in data set"
    else:
        train = _load_data(args.data[0], args)
        test = _load_data(args.data[1], args) if len(args.data) == 2 else None
        source = " and ".join(repr(d) for d in args.data)
        if test is not None and test.n_x != train.n_x:
            raise ValueError("shape mismatch: the train data has %d features per example, the "
                             "test data %d" % (train.n_x, test.n_x))
    shown = test if test is not None else train
    if args.misclassified and shown.image_shape is None:
        raise ValueError("--misclassified needs image data, but %s holds flat vectors (X of "
                         "shape (m, n_x)); store X as (m, height, width[, channels])"
                         % shown.name)
    lr = args.learning_rate or (BUILTIN_LEARNING_RATE if builtin else FILE_LEARNING_RATE)
    dims = [train.n_x, *args.layers, 1]

    from .model import DeepNeuralNetwork

    model = DeepNeuralNetwork(dims, lr, init=args.init, random_state=args.seed,
                              dtype=args.dtype, strategy=args.strategy)
    print("data: %s" % source)
    print("  train %s" % _describe(train))
    if test is not None:
        print("  test  %s" % _describe(test))
    print("model: layer dims %s, init %s%s, learning rate %g, %d iterations, %s"
          % (dims, args.init, "" if args.seed is None else " (seed %d)" % args.seed, lr,
             args.iterations, args.dtype))
    sys.stdout.flush()
    t0 = time.perf_counter()
    try:
        model.fit(train.X, train.Y, args.iterations, record_every=args.record_every,
                  verbose=not args.quiet, callback=None if args.quiet else _print_cost)
    finally:
        wall = time.perf_counter() - t0
    print("last cost:      %.6f (recorded at iteration %d)"
          % (model.costs_[-1], model.cost_iterations_[-1]))
    pred_train = _accuracy_line("train", model, train)
    pred_test = _accuracy_line("test", model, test) if test is not None else None
    print("wall time:      %.2f s training (%d iterations, %s strategy, %.3f ms/iteration)"
          % (wall, args.iterations, model.strategy_, 1e3 * wall / args.iterations))
    model.save(args.out)
    print("model saved to %s" % args.out)
    if args.plot:
        from .plotting import plot_learning_curve
        plot_learning_curve(model.cost_iterations_, model.costs_, args.plot,
                            title="learning curve: %s, lr %g" % (dims, lr))
        print("learning curve written to %s" % args.plot)
    if args.misclassified:
        from .plotting import plot_misclassified
        pred = pred_test if test is not None else pred_train
        n_wrong = plot_misclassified(shown, pred, args.misclassified)
        print("misclassified %s images (%d) written to %s"
              % ("test" if test is not None else "train", n_wrong, args.misclassified))
    return 0


def _cmd_evaluate(args):
    _check_keys(args, need_y=True)
    model = _load_model(args.model)
    ds = _load_builtin()[1] if args.data == BUILTIN else _load_data(args.data, args)
    where = "the built-in test split" if args.data == BUILTIN else repr(args.data)
    _check_n_x(model.layer_dims_[0], ds.X, where)
    pred = model.predict(ds.X)
    c = _count(pred, ds.Y)
    correct = c["TP"] + c["TN"]
    print("model: %s (layer dims %s, %s)" % (args.model, model.layer_dims_, model.dtype_.name))
    print("data:  %s" % _describe(ds))
    print("accuracy: %.4f (%d/%d correct)" % (correct / ds.m, correct, ds.m))
    print("TP %d  FP %d  TN %d  FN %d  (positive = label 1 = %r)"
          % (c["TP"], c["FP"], c["TN"], c["FN"], ds.classes[1]))
    return 0


def _cmd_predict(args):
    _check_keys(args, need_y=False)
    model = _load_model(args.model)
    if args.data == BUILTIN:
        X, where = _load_builtin()[1].X, "the built-in test split"
    elif args.x_key is not None:
        X, where = _load_x_only(args.data, args.x_key), repr(args.data)
    else:
        X, where = _load_data(args.data, args).X, repr(args.data)
    _check_n_x(model.layer_dims_[0], X, where)
    _check_writable(args.out, "predictions")
    proba = model.predict_proba(X).ravel()
    labels = (proba > 0.5).astype(int)          # the rule of DeepNeuralNetwork.predict
    lines = ["index,probability,label\n"]
    lines += ["%d,%.6g,%d\n" % (i, p, y) for i, (p, y) in enumerate(zip(proba, labels))]
    if args.out == "-":
        sys.stdout.writelines(lines)
    else:
        with open(args.out, "w", newline="") as f:
            f.writelines(lines)
        print("wrote %d predictions (%d labelled 1) to %s" % (len(labels), labels.sum(), args.out))
    return 0


def _cmd_info(args):
    import h5py

    from .io.model_file import load_model_file

    p = load_model_file(args.model)
    with h5py.File(args.model, "r") as f:
        fmt_version = int(f.attrs["format_version"])
    dims = p["layer_dims"]
    n_params = sum(int(a.size) for a in p["parameters"].values())
    hp = ", ".join("%s=%r" % kv for kv in sorted(p["hyperparameters"].items()))
    costs, its = p["costs"], p["cost_iterations"]
    print("model file:       %s" % args.model)
    print("layer dims:       %s (%d weight layers, %d parameters)"
          % (dims, len(dims) - 1, n_params))
    print("activations:      %s" % ", ".join(p["activations"]))
    print("dtype:            %s" % p["dtype"])
    print("hyper-parameters: %s" % (hp or "(none)"))
    print("iterations:       %d" % p["n_iter"])
    if len(costs):
        print("last cost:        %.6f (recorded at iteration %d; %d costs recorded)"
              % (costs[-1], its[-1], len(costs)))
    else:
        print("last cost:        (none recorded)")
    print("written by:       fastdnn %s, model format version %d"
          % (p["fastdnn_version"], fmt_version))
    return 0


# --------------------------------------------------------------------------- entry point

def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 runtime error, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:                 # --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    try:
        return args.func(args)
    except UsageError as err:
        print("fastdnn: error: %s (see 'fastdnn %s --help')" % (err, args.command),
              file=sys.stderr)
        return 2
    except _RUNTIME_ERRORS as err:
        sys.stdout.flush()
        print("fastdnn: error: %s" % _one_line(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastdnn: interrupted", file=sys.stderr)
        return 130
