"""The ``fastdnn`` command line: train, evaluate, predict with and inspect model files.

    fastdnn train [DATA ...]        train (no DATA: the built-in data set) and save a model
    fastdnn evaluate MODEL DATA     accuracy and confusion counts
    fastdnn predict MODEL DATA      probabilities and labels as CSV
    fastdnn info MODEL              what a model file holds

``fastdnn train`` also sets every option of ``DeepNeuralNetwork`` (output,
hidden activations, optimizer, mini-batches, L2, dropout, learning-rate decay,
seeds), holds out validation data (with early stopping), continues a saved
model exactly (``--resume MODEL``), and writes checkpoints of its run
(``--checkpoint CK``, every ``--checkpoint-every`` N iterations or N seconds "Ns")
that ``--resume CK`` continues to the end the run planned, to the same bits.

Before training, ``train`` compiles the kernels the run will use (or loads them
from Numba's disk cache) on a few examples and says which it did and how long
it took ("compiling kernels, first run only ..."), so that the training time it
reports is the training's own.

Errors print one line ``fastdnn: error: <message>`` on stderr and exit with 2
(usage errors) or 1 (runtime errors: missing or corrupt files, shape mismatches,
a diverging run). Ctrl-C during training stops at the next safe point (well under
a second), saves the model to --out (and the checkpoint), prints one line with
the command that continues the run, and exits with 130; a second Ctrl-C, or one
outside training, exits with 130 at once. Importing this module is cheap: numpy,
h5py, numba and matplotlib load only when a command needs them.
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
DEFAULT_ITERATIONS = 2500
DEFAULT_RECORD_EVERY = 100
#: --checkpoint-every's default: by time, so that tiny fast runs do not spend their time
#: writing files and long ones lose at most this much work to a crash.
DEFAULT_CHECKPOINT_EVERY = "30s"
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: The warm-up before training trains the run's configuration on this many examples.
WARMUP_EXAMPLES = 8
#: Without a cache index to go by, the "compiling kernels" line appears when the
#: warm-up has taken this long (loading cached kernels takes well under a second).
WARMUP_NOTICE_SECONDS = 2.0
BUILTIN = "builtin"
#: ``--validation test``: validate on the test data (second DATA file or built-in test split).
TEST = "test"
#: The model's choices, spelled out here so that importing the CLI stays cheap (the
#: model's own lists live with the compiled kernels; tests/test_cli.py checks they agree).
OUTPUTS = ("sigmoid", "softmax", "identity")
HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
OPTIMIZERS = ("gd", "momentum", "adam")
DECAYS = ("inverse", "scheduled")
UPDATE_ARITHMETICS = ("float64", "native")
#: The seed of the fixed permutation that picks the examples --validation-split holds out.
SPLIT_SEED = 0
#: train flags that set a hyper-parameter (dest -> flag): --resume keeps the saved ones.
HYPERPARAMETER_FLAGS = {
    "layers": "--layers", "learning_rate": "--learning-rate", "init": "--init", "seed": "--seed",
    "dtype": "--dtype", "strategy": "--strategy", "output": "--output",
    "hidden_activation": "--hidden-activation", "optimizer": "--optimizer", "beta": "--beta",
    "beta1": "--beta1", "beta2": "--beta2", "epsilon": "--epsilon", "batch_size": "--batch-size",
    "lambd": "--lambd", "keep_prob": "--keep-prob", "decay": "--decay",
    "decay_rate": "--decay-rate", "time_interval": "--time-interval",
    "shuffle_seed": "--shuffle-seed", "dropout_seed": "--dropout-seed",
    "update_arithmetic": "--update-arithmetic",
}

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


def _seed(text):
    """A seed for np.random: an integer in [0, 2**32)."""
    n = _nonnegative_int(text)
    if n >= 2 ** 32:
        raise argparse.ArgumentTypeError("must be < 2**32, got %s" % text)
    return n


def _number(text):
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError("must be a finite number, got %s" % text)
    return x


def _positive_float(text):
    x = _number(text)
    if not x > 0:
        raise argparse.ArgumentTypeError("must be a positive number, got %s" % text)
    return x


def _nonnegative_float(text):
    x = _number(text)
    if x < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % text)
    return x


def _fraction(low_open, high_closed):
    """An argparse type: a number in (0, 1], [0, 1), (0, 1) ... as flagged."""
    interval = "%s0, 1%s" % ("(" if low_open else "[", "]" if high_closed else ")")

    def parse(text):
        x = _number(text)
        if not ((x > 0 if low_open else x >= 0) and (x <= 1 if high_closed else x < 1)):
            raise argparse.ArgumentTypeError("must be in %s, got %s" % (interval, text))
        return x
    return parse


def _every(text):
    """--checkpoint-every: 'N' -> N (epochs), 'Ns' -> 'Ns' (seconds), as fit takes them."""
    from .checkpoint import parse_every

    text = text.strip()
    value = int(text) if text.isdigit() else text
    try:
        parse_every(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "%r is not a number of iterations (epochs) >= 1 or of seconds such as 30s"
            % text) from None
    return value


def _hidden_activation(text):
    """'tanh' -> 'tanh' (every hidden layer); 'relu,tanh' -> ['relu', 'tanh'] (one per layer)."""
    names = [part.strip() for part in text.split(",")]
    bad = [n for n in names if n not in HIDDEN_ACTIVATIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            "%r is not an activation or a comma-separated list of them (one per hidden layer) "
            "from %s" % (text, ", ".join(HIDDEN_ACTIVATIONS)))
    return names[0] if len(names) == 1 else names


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
        "HDF5 files with --x-key/--y-key.\n\n"
        "The training options below choose the output (softmax: [n_x, *LAYERS, 2]), the\n"
        "hidden activations, the optimizer, mini-batches, L2, dropout and learning-rate\n"
        "decay; --validation-split/--validation record a validation curve (with optional\n"
        "early stopping); --resume MODEL continues a saved model exactly, with its saved\n"
        "hyper-parameters.")
    t.add_argument("data", nargs="*", metavar="DATA", help="train file, then optional test file")
    t.add_argument("--layers", type=_layers, default=None, metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default: %s); the net is "
                   "[n_x, SIZES..., 1]" % ",".join(map(str, DEFAULT_HIDDEN)))
    length = t.add_mutually_exclusive_group()
    length.add_argument("--iterations", type=_positive_int, default=None, metavar="N",
                        help="gradient-descent iterations (default: %d)" % DEFAULT_ITERATIONS)
    length.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                        help="epochs: passes over the training set, for mini-batch runs "
                        "(--batch-size; default: %d; with full batches an epoch is one "
                        "iteration)" % DEFAULT_ITERATIONS)
    t.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                   help="gradient-descent step (default: %g for data files, the course's; %g "
                   "for the built-in data set, which trains it to train accuracy 1.0 within a "
                   "few hundred iterations where %g barely moves)"
                   % (FILE_LEARNING_RATE, BUILTIN_LEARNING_RATE, FILE_LEARNING_RATE))
    t.add_argument("--init", choices=sorted(INITIALIZERS), default=None,
                   help="weight initialisation (default: scaled = randn/sqrt(n_prev), zero biases)")
    t.add_argument("--seed", type=_nonnegative_int, default=None,
                   help="seed of the initialisation (default: the scheme's own, 1 for scaled)")
    t.add_argument("--dtype", choices=("float64", "float32"), default=None,
                   help="working precision (default: float64)")
    t.add_argument("--strategy", choices=("auto", "direct", "gram", "split"), default=None,
                   help="how it is computed: layer 1 directly or through X^T X (gram), or "
                        "each mini-batch split across the cores (split; opt-in, see README) "
                        "(default: auto)")
    t.add_argument("--update-arithmetic", choices=UPDATE_ARITHMETICS, default=None,
                   help="a float32 model's momentum and Adam steps in float64, rounded once "
                        "(float64, fastdnn's numbers) or in float32 (native, faster) "
                        "(default: float64)")
    t.add_argument("--record-every", type=_positive_int, default=None, metavar="N",
                   help="record and print the cost every N iterations (default: %d)"
                   % DEFAULT_RECORD_EVERY)
    o = t.add_argument_group("training options (defaults: the course's plain full-batch "
                             "gradient descent)")
    o.add_argument("--output", choices=OUTPUTS, default=None,
                   help="output layer and loss: sigmoid (binary cross-entropy, default), "
                   "softmax (2 classes, categorical cross-entropy; the net ends with 2 units) "
                   "or identity (squared error on the 0/1 labels; label = output > 0.5)")
    o.add_argument("--hidden-activation", type=_hidden_activation, default=None, metavar="NAME",
                   help="activation of every hidden layer, or one per hidden layer "
                   "comma-separated, from %s (default: relu)" % ", ".join(HIDDEN_ACTIVATIONS))
    o.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                   help="gd (default), momentum or adam")
    o.add_argument("--beta", type=_fraction(False, False), default=None, metavar="B",
                   help="momentum's beta, in [0, 1) (default: 0.9)")
    o.add_argument("--beta1", type=_fraction(False, False), default=None, metavar="B",
                   help="Adam's beta1, in [0, 1) (default: 0.9)")
    o.add_argument("--beta2", type=_fraction(False, False), default=None, metavar="B",
                   help="Adam's beta2, in [0, 1) (default: 0.999)")
    o.add_argument("--epsilon", type=_positive_float, default=None, metavar="EPS",
                   help="Adam's epsilon (default: 1e-8)")
    o.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                   help="shuffled mini-batches of N examples (default: full batch); count "
                   "the run in --epochs")
    o.add_argument("--lambd", type=_nonnegative_float, default=None, metavar="L",
                   help="L2 regularisation strength (default: 0)")
    o.add_argument("--keep-prob", type=_fraction(True, True), default=None, metavar="P",
                   help="dropout: probability of keeping a hidden unit, in (0, 1] (default: 1, "
                   "no dropout)")
    o.add_argument("--decay", choices=DECAYS, default=None,
                   help="learning-rate decay per epoch: inverse (lr0 / (1 + rate * epoch)) or "
                   "scheduled (lr0 / (1 + rate * floor(epoch / interval))) (default: none)")
    o.add_argument("--decay-rate", type=_nonnegative_float, default=None, metavar="R",
                   help="decay rate (default: 1)")
    o.add_argument("--time-interval", type=_positive_int, default=None, metavar="N",
                   help="epochs per step of the scheduled decay (default: 1000)")
    o.add_argument("--shuffle-seed", type=_seed, default=None, metavar="S",
                   help="seed of the mini-batch shuffles (default: 10)")
    o.add_argument("--dropout-seed", type=_seed, default=None, metavar="S",
                   help="seed of the dropout masks (default: 0)")
    v = t.add_argument_group("validation and resuming")
    held = v.add_mutually_exclusive_group()
    held.add_argument("--validation-split", type=_fraction(True, False), default=None,
                      metavar="F", help="hold out the fraction F of the training examples "
                      "(always the same ones: a fixed permutation, seed %d) and record the "
                      "validation cost and accuracy with every cost" % SPLIT_SEED)
    held.add_argument("--validation", default=None, metavar="FILE",
                      help="validate on FILE (read like DATA), or on the test data with "
                      "'--validation %s'" % TEST)
    v.add_argument("--early-stopping", action="store_true",
                   help="stop when the validation cost has not improved for --patience records "
                   "and keep the best parameters")
    v.add_argument("--patience", type=_positive_int, default=None, metavar="N",
                   help="records without improvement before stopping (default: 10)")
    v.add_argument("--resume", "--warm-start", dest="resume", default=None, metavar="MODEL",
                   help="continue training the saved MODEL exactly where it stopped, with its "
                   "saved hyper-parameters and optimizer state (--iterations/--epochs: how many "
                   "more); give the same DATA (and --validation-split) to continue exactly. A "
                   "checkpoint (--checkpoint) resumes its run to the end it planned, to the same "
                   "bits as a run that never stopped")
    v.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="write the run to PATH (a model file that also holds what continues "
                   "the run mid-way) every --checkpoint-every, when it ends and when it is "
                   "interrupted (Ctrl-C); continue it with --resume PATH")
    v.add_argument("--checkpoint-every", type=_every, default=None, metavar="N|Ns",
                   help="how often to write the checkpoint: every N iterations (epochs) or "
                   "every N seconds with a trailing s, e.g. 30s (default: %s)"
                   % DEFAULT_CHECKPOINT_EVERY)
    big = t.add_argument_group("data larger than memory, and Dask")
    big.add_argument("--stream", action="store_true",
                     help="read the data files chunk by chunk while training (out of core: "
                     "memory bounded by --chunk-examples, not by the file); mini-batches then "
                     "take the chunks in a shuffled order and shuffle inside each chunk")
    big.add_argument("--chunk-examples", type=_positive_int, default=None, metavar="N",
                     help="examples per chunk read with --stream or per Dask block (default: "
                     "64 MB of float64 X)")
    dask_where = big.add_mutually_exclusive_group()
    dask_where.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                            help="train data-parallel on the Dask cluster at ADDRESS (e.g. "
                            "tcp://scheduler:8786); its workers read the data file themselves, "
                            "so it must be at the same path on them")
    dask_where.add_argument("--dask-workers", type=_positive_int, default=None, metavar="N",
                            help="start a local Dask cluster of N worker processes and train "
                            "data-parallel on it")
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
    e.add_argument("--stream", action="store_true",
                   help="read DATA chunk by chunk (memory bounded by --chunk-examples)")
    e.add_argument("--chunk-examples", type=_positive_int, default=None, metavar="N",
                   help="examples per chunk with --stream (default: 64 MB of float64 X)")
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
    q.add_argument("--stream", action="store_true",
                   help="read DATA chunk by chunk (memory bounded by --chunk-examples)")
    q.add_argument("--chunk-examples", type=_positive_int, default=None, metavar="N",
                   help="examples per chunk with --stream (default: 64 MB of float64 X)")
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


def _print_epoch_cost(epoch, cost):
    """``_print_cost`` of a mini-batch run: the cost of that epoch."""
    print("Cost after epoch %d: %f" % (epoch, cost), flush=True)


def _labels(model, X):
    """Predicted 0/1 labels (1, m): the model's own for sigmoid and softmax outputs; an
    identity output (regression on the 0/1 labels) is read as label 1 above 0.5."""
    if model.output_ == "identity":
        return (model.predict_proba(X) > 0.5).astype("int64")
    return model.predict(X)


def _accuracy_line(label, model, ds):
    import numpy as np

    pred = _labels(model, ds.X)
    correct = int(np.sum(pred == ds.Y))
    print("%-15s %.4f (%d/%d correct)" % (label + " accuracy:", correct / ds.m, correct, ds.m))
    if model.output_ == "identity":
        print("%-15s %.4f" % (label + " R^2:", model.score(ds.X, ds.Y)))
    return pred


def _describe(ds):
    shape = "x".join(map(str, ds.image_shape)) + " images, " if ds.image_shape else ""
    return "%s: %d examples, %sn_x = %d, classes 0=%r 1=%r, %d positive" % (
        ds.name, ds.m, shape, ds.n_x, ds.classes[0], ds.classes[1], int(ds.Y.sum()))


def _load_model(path):
    from .persistence import load_model

    return load_model(path)


def _check_binary(model, path):
    """The command line's data sets are binary: one sigmoid or identity output, or a
    2-class softmax."""
    n_out, out = model.layer_dims_[-1], model.output_
    if (out == "softmax") != (n_out == 2) or n_out > 2:
        raise ValueError("%s has %d %s output%s; the command line handles binary models (one "
                         "sigmoid or identity output, or a 2-class softmax)"
                         % (path, n_out, out, "s" if n_out > 1 else ""))


def _split(train, fraction):
    """(rest, held out) of a Dataset: round(fraction * m) examples, the same ones every time
    (the last of a fixed permutation), each part in the data's order."""
    import numpy as np

    from .io.data import Dataset

    m = train.m
    n_val = int(round(fraction * m))
    if not 1 <= n_val <= m - 1:
        raise ValueError("--validation-split %g of %d training examples holds out %d; it must "
                         "leave at least one example on each side" % (fraction, m, n_val))
    order = np.random.RandomState(SPLIT_SEED).permutation(m)
    held, rest = np.sort(order[m - n_val:]), np.sort(order[:m - n_val])

    def part(idx, what):
        return Dataset(train.X[:, idx], train.Y[:, idx], train.classes, train.image_shape,
                       name="%s [%s]" % (train.name, what))
    return part(rest, "train part"), part(held, "validation split %g" % fraction)


def _given(args, dest):
    return getattr(args, dest) not in (None, False)


def _check_train_usage(args):
    """Combinations of train flags that cannot work (before anything is loaded)."""
    if len(args.data) > 2:
        raise UsageError("train takes at most 2 data files (train, test); got %d"
                         % len(args.data))
    _check_keys(args, need_y=True)
    if not args.data and args.x_key:
        raise UsageError("--x-key/--y-key need data files")
    if args.resume is not None:
        given = [flag for dest, flag in HYPERPARAMETER_FLAGS.items() if _given(args, dest)]
        if given:
            raise UsageError("--resume continues the saved model with its saved "
                             "hyper-parameters; %s cannot change them (train a new model "
                             "instead)" % ", ".join(given))
        return
    optimizer = args.optimizer or "gd"
    for dest, flag, wanted in (("beta", "--beta", ("momentum",)),
                               ("beta1", "--beta1", ("adam",)), ("beta2", "--beta2", ("adam",)),
                               ("epsilon", "--epsilon", ("adam",))):
        if _given(args, dest) and optimizer not in wanted:
            raise UsageError("%s is a setting of --optimizer %s (the optimizer is %s)"
                             % (flag, wanted[0], optimizer))
    if args.decay is None and (args.decay_rate is not None or args.time_interval is not None):
        raise UsageError("--decay-rate/--time-interval need --decay")
    if args.time_interval is not None and args.decay != "scheduled":
        raise UsageError("--time-interval is a setting of --decay scheduled")
    if args.batch_size is None and args.shuffle_seed is not None:
        raise UsageError("--shuffle-seed needs --batch-size (full batches are not shuffled)")
    if args.dropout_seed is not None and (args.keep_prob is None or args.keep_prob == 1):
        raise UsageError("--dropout-seed needs --keep-prob below 1 (dropout)")
    if args.hidden_activation is not None and isinstance(args.hidden_activation, list):
        n_hidden = len(args.layers if args.layers is not None else DEFAULT_HIDDEN)
        if len(args.hidden_activation) != n_hidden:
            raise UsageError("--hidden-activation names %d activations for %d hidden layers"
                             % (len(args.hidden_activation), n_hidden))


def _check_length_usage(args, batched):
    if batched and args.iterations is not None:
        raise UsageError("a mini-batch run counts epochs: use --epochs, not --iterations")


def _new_model(args, n_x, lr):
    from .model import DeepNeuralNetwork

    layers = args.layers if args.layers is not None else list(DEFAULT_HIDDEN)
    output = args.output or "sigmoid"
    dims = [n_x, *layers, 2 if output == "softmax" else 1]
    options = {dest: getattr(args, dest) for dest in (
        "output", "hidden_activation", "optimizer", "beta", "beta1", "beta2", "epsilon",
        "batch_size", "lambd", "keep_prob", "decay", "decay_rate", "time_interval",
        "shuffle_seed", "dropout_seed", "update_arithmetic") if getattr(args, dest) is not None}
    return DeepNeuralNetwork(dims, lr, init=args.init or "scaled", random_state=args.seed,
                             dtype=args.dtype or "float64", strategy=args.strategy or "auto",
                             **options)


def _options_summary(model):
    """One line of the options that differ from plain full-batch gradient descent, or ''."""
    parts = []
    if model.output != "sigmoid":
        parts.append("%s output" % model.output)
    if model.hidden_activation is not None:
        h = model.hidden_activation
        parts.append("hidden %s" % (h if isinstance(h, str) else ",".join(h)))
    if model.optimizer == "momentum":
        parts.append("momentum (beta %g)" % model.beta)
    elif model.optimizer == "adam":
        parts.append("adam (beta1 %g, beta2 %g, epsilon %g)"
                     % (model.beta1, model.beta2, model.epsilon))
    if model.batch_size is not None:
        parts.append("mini-batches of %d (shuffle seed %d)" % (model.batch_size,
                                                              model.shuffle_seed))
    if model.lambd:
        parts.append("L2 %g" % model.lambd)
    if model.keep_prob < 1:
        parts.append("dropout keep %g (seed %d)" % (model.keep_prob, model.dropout_seed))
    if model.decay == "inverse":
        parts.append("inverse decay (rate %g)" % model.decay_rate)
    elif model.decay == "scheduled":
        parts.append("scheduled decay (rate %g every %d epochs)"
                     % (model.decay_rate, model.time_interval))
    if model.update_arithmetic != "float64":
        parts.append("%s update arithmetic" % model.update_arithmetic)
    return ", ".join(parts)


def _validation_data(args, train, test, builtin):
    """(train, validation Dataset or None, what it is) from --validation-split/--validation."""
    if args.validation_split is not None:
        train, val = _split(train, args.validation_split)
        return train, val, "%g of the training examples held out" % args.validation_split
    if args.validation is None:
        return train, None, None
    if args.validation == TEST:
        if test is None:
            raise UsageError("--validation %s needs test data (a second DATA file)" % TEST)
        return train, test, "the test data" + (" (built-in test split)" if builtin else "")
    val = _load_data(args.validation, args)
    if val.n_x != train.n_x:
        raise ValueError("shape mismatch: the train data has %d features per example, the "
                         "validation data %d" % (train.n_x, val.n_x))
    return train, val, repr(args.validation)


# --------------------------------------------------------------------------- commands

def _read_run(path):
    """(model, RunPlan) when the model file at ``path`` holds a checkpointed run (written by
    fit(..., checkpoint=)), else None: a plain model file, continued by a warm start."""
    from .checkpoint import read_checkpoint

    try:
        return read_checkpoint(path)
    except ValueError:                          # loaded before: the file holds no run
        return None


def _check_run_usage(args, run, unit):
    """Flags that would change a checkpointed run: refused unless they repeat its plan."""
    if args.iterations is not None or args.epochs is not None:
        raise UsageError("--resume %s continues the checkpointed run to its planned end "
                         "(%d in all); --iterations/--epochs cannot change it"
                         % (args.resume, run.target))
    for flag, given, planned in (
            ("--record-every", args.record_every, run.record_every),
            ("--checkpoint-every", None if args.checkpoint_every is None else
             _every_pair(args.checkpoint_every), run.every),
            ("--early-stopping", args.early_stopping or None, run.early_stopping),
            ("--patience", args.patience, run.patience if run.early_stopping else None)):
        if given is not None and given != planned:
            raise UsageError("--resume %s continues the checkpointed run with its own %s (%s); "
                             "drop %s" % (args.resume, flag, _plan_value(planned, unit), flag))
    args.early_stopping = run.early_stopping
    if run.early_stopping:
        args.patience = run.patience


def _every_pair(value):
    from .checkpoint import parse_every

    return parse_every(value)


def _plan_value(value, unit):
    if isinstance(value, tuple):                # a checkpoint cadence
        kind, amount = value
        return "every %gs" % amount if kind == "seconds" else "every %d %ss" % (amount, unit)
    return "off" if value is False else str(value)


def _run_strategy(model, m, n, run):
    """The strategy the training will use ("auto" resolved as the engine resolves it)."""
    from .engine.strategy import choose_strategy

    if run is not None and run.strategy:
        return run.strategy
    dims, _, _, opts = model._checked_config()
    if model.strategy != "auto":
        return model.strategy
    return choose_strategy(list(dims), m, n) if opts.gram_exact else "direct"


def _kernel_dispatchers():
    """Every Numba dispatcher of fastdnn's kernels (none with NUMBA_DISABLE_JIT=1)."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return []
    seen = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("fastdnn.kernels.") and module is not None:
            for obj in vars(module).values():
                if isinstance(obj, Dispatcher):
                    seen[id(obj)] = obj
    return list(seen.values())


def _cache_counts(dispatchers):
    """(disk cache hits, misses = compilations) so far, over the dispatchers."""
    hits = misses = 0
    for d in dispatchers:
        stats = d.stats
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return hits, misses


def _indexed_on_disk(dispatcher):
    """Whether Numba's on-disk cache index of ``dispatcher`` holds code compiled for this
    machine and the current sources (True/False), or None when that cannot be told.

    Numba keeps one index file per function (``<module>.<function>-<line>.pyXY.nbi``) that
    it drops when the source file changes, keyed by signature and CPU ("magic tuple"); a
    first run, a new NUMBA_CACHE_DIR or edited kernels have no entry for this CPU."""
    try:
        index = dispatcher._cache._cache_file._load_index()
        magic = dispatcher.targetctx.codegen().magic_tuple()
        return any(key[1] == magic for key in index)
    except Exception:                           # private API: a Numba without it
        return None


def _warm_up(model, strategy, X, Y):
    """Compile (or load from Numba's cache) the kernels the run will use, by training the
    same configuration for one epoch on the first few examples, and say so: the time the
    training reports afterwards is then its own.

    Whether the kernels are cached is told beforehand from the cache index of the training
    kernel and of the forward pass (``_indexed_on_disk``), so that "compiling kernels, first
    run only ..." is printed before the wait; where the index says nothing the line is
    printed once the warm-up has taken WARMUP_NOTICE_SECONDS. Afterwards Numba's
    dispatcher statistics (cache hits and misses: a miss is a compilation) tell what
    happened, and that is what the last line reports."""
    import threading

    import numpy as np

    from .kernels import config, split, training
    from .model import DeepNeuralNetwork
    from .persistence import HYPERPARAMETERS

    dispatchers = _kernel_dispatchers()
    if not dispatchers:                         # NUMBA_DISABLE_JIT: nothing to compile
        return
    kernel = {"gram": training.train_gram}.get(strategy, training.train_full)
    if model.batch_size is not None:
        kernel = split.train_minibatch_split if strategy == "split" else training.train_minibatch
    lock, notice = threading.Lock(), []

    def announce():
        with lock:
            if not notice:
                notice.append(True)
                print("compiling kernels, first run only ..." if config.CACHE else
                      "compiling kernels (FASTDNN_NUMBA_CACHE=0: not cached, every run) ...",
                      flush=True)

    if not config.CACHE or not all(_indexed_on_disk(d) for d in (kernel,
                                                                 training.predict_forward)):
        announce()
        timer = None
    else:
        timer = threading.Timer(WARMUP_NOTICE_SECONDS, announce)
        timer.daemon = True
        timer.start()
    before = _cache_counts(dispatchers)
    k = min(WARMUP_EXAMPLES, X.shape[1])
    settings = {name: getattr(model, name) for name in HYPERPARAMETERS}
    settings["strategy"] = strategy
    warm = DeepNeuralNetwork(list(model.layer_dims), dtype=model.dtype, **settings)
    Xs, Ys = np.ascontiguousarray(X[:, :k]), np.ascontiguousarray(Y[:, :k])
    t0 = time.perf_counter()
    try:
        try:
            warm.fit(Xs, Ys, num_epochs=1, record_every=1)
        except FloatingPointError:              # diverged (a huge rate): compiled anyway
            pass
        warm.predict_proba(Xs)
    finally:
        if timer is not None:
            timer.cancel()
    seconds = time.perf_counter() - t0
    hits, misses = (a - b for a, b in zip(_cache_counts(dispatchers), before))
    with lock:
        notice.append(True)                     # no late "compiling" line from the timer
        if misses:
            print("kernels compiled in %.1f s" % seconds)
        elif hits:
            print("kernels loaded from cache in %.2f s" % seconds)
        else:
            print("kernels already loaded (%.2f s)" % seconds)
        sys.stdout.flush()


def _continue_command(args, path, more, unit):
    """The command line that continues an interrupted run from ``path``."""
    import shlex

    cmd = ["fastdnn", "train", *args.data]
    for flag, dest in (("--x-key", "x_key"), ("--y-key", "y_key"),
                       ("--classes-key", "classes_key"),
                       ("--validation-split", "validation_split"),
                       ("--validation", "validation")):
        if getattr(args, dest) is not None:
            cmd += [flag, "%s" % getattr(args, dest)]
    cmd += ["--resume", str(path)]
    if more is not None:                        # a warm start from the saved model
        cmd += ["--%ss" % unit, str(more)]
        if args.record_every is not None:
            cmd += ["--record-every", str(args.record_every)]
        if args.early_stopping:
            cmd += ["--early-stopping"]
            if args.patience is not None:
                cmd += ["--patience", str(args.patience)]
    if args.out != "model.h5":
        cmd += ["--out", args.out]
    return shlex.join(cmd)


def _cmd_train(args):
    _check_train_usage(args)
    if args.stream or args.dask_scheduler is not None or args.dask_workers is not None:
        from .cli_large import train_large
        return train_large(args)
    if args.chunk_examples is not None:
        raise UsageError("--chunk-examples needs --stream, --dask-scheduler or --dask-workers")
    if args.early_stopping and args.validation_split is None and args.validation is None:
        raise UsageError("--early-stopping needs validation data (--validation-split or "
                         "--validation)")
    if args.patience is not None and not args.early_stopping:
        raise UsageError("--patience needs --early-stopping")
    if args.checkpoint_every is not None and args.checkpoint is None and args.resume is None:
        raise UsageError("--checkpoint-every needs --checkpoint")
    if args.checkpoint is not None and (os.path.realpath(args.checkpoint)
                                        == os.path.realpath(args.out)):
        raise UsageError("--checkpoint must be another file than --out (%s): the checkpoint "
                         "holds the run, the model file only the model" % args.out)
    builtin = not args.data
    resumed = _load_model(args.resume) if args.resume is not None else None
    run = None
    if resumed is not None:
        found = _read_run(args.resume)
        if found is not None:
            resumed, run = found
            _check_run_usage(args, run, "iteration" if resumed.batch_size is None else "epoch")
    if run is None and args.checkpoint_every is not None and args.checkpoint is None:
        raise UsageError("--checkpoint-every needs --checkpoint")
    batched = (resumed.batch_size if resumed is not None else args.batch_size) is not None
    _check_length_usage(args, batched)
    for path, what in ((args.out, "model"), (args.plot, "learning curve"),
                       (args.misclassified, "misclassified grid"),
                       (args.checkpoint, "checkpoint")):
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
    train, val, val_source = _validation_data(args, train, test, builtin)
    n = args.epochs or args.iterations or DEFAULT_ITERATIONS
    unit = "epoch" if batched else "iteration"
    record_every = args.record_every or DEFAULT_RECORD_EVERY

    if resumed is not None:
        model = resumed
        _check_n_x(model.layer_dims_[0], train.X, "the train data")
        _check_binary(model, repr(args.resume))
        dims, lr, start = model.layer_dims_, model.learning_rate, model.n_iter_
        if run is not None:
            n, record_every = max(run.target - start, 0), run.record_every
    else:
        lr = args.learning_rate or (BUILTIN_LEARNING_RATE if builtin else FILE_LEARNING_RATE)
        model = _new_model(args, train.n_x, lr)
        dims, start = model.layer_dims, 0
    print("data: %s" % source)
    print("  train %s" % _describe(train))
    if test is not None:
        print("  test  %s" % _describe(test))
    if val is not None:
        print("  validation %s (%s)" % (_describe(val), val_source))
    if run is not None:
        position = model.optimizer_state_.get("position", 0)
        print("resuming: the run checkpointed in %s, at %s %d%s of %d, with its saved "
              "hyper-parameters" % (args.resume, unit, start,
                                    " (batch %d of the next)" % position if position else "",
                                    run.target))
    elif resumed is not None:
        print("resuming: %s after %d %ss, with its saved hyper-parameters"
              % (args.resume, start, unit))
    seed = "" if model.random_state is None else " (seed %d)" % model.random_state
    print("model: layer dims %s, init %s%s, learning rate %g, %d %ss, %s"
          % (dims, model.init, seed, lr, n, unit, model.dtype))
    summary = _options_summary(model)
    if summary:
        print("options: %s" % summary)
    checkpoint = args.checkpoint if args.checkpoint is not None else (
        args.resume if run is not None else None)
    if checkpoint is not None:
        every = run.every if run is not None else _every_pair(
            args.checkpoint_every or DEFAULT_CHECKPOINT_EVERY)
        print("checkpoint: %s (%s, when the run ends and when it is interrupted)"
              % (checkpoint, _plan_value(every, unit)))
    sys.stdout.flush()
    if n > 0:
        _warm_up(model, _run_strategy(model, train.m, n, run), train.X, train.Y)
    printer = _print_epoch_cost if batched else _print_cost
    from .model import TrainingInterrupted

    fit_args = dict(verbose=not args.quiet, callback=None if args.quiet else printer,
                    validation_data=None if val is None else (val.X, val.Y))
    if run is not None:
        fit_args.update(resume=args.resume, checkpoint=args.checkpoint)
    else:
        fit_args.update({"num_epochs" if batched else "num_iterations": n},
                        record_every=record_every, warm_start=resumed is not None,
                        early_stopping=args.early_stopping,
                        **({} if args.patience is None else {"patience": args.patience}))
        if args.checkpoint is not None:
            fit_args.update(checkpoint=args.checkpoint,
                            checkpoint_every=args.checkpoint_every or DEFAULT_CHECKPOINT_EVERY)
    interrupted = None
    t0 = time.perf_counter()
    try:
        model.fit(train.X, train.Y, **fit_args)
    except TrainingInterrupted as stop:
        interrupted = stop
    finally:
        wall = time.perf_counter() - t0
    if interrupted is not None:
        model.save(args.out)
        sys.stdout.flush()
        position = model.optimizer_state_.get("position", 0)
        where = "%s %d%s of %d" % (unit, model.n_iter_, " (batch %d of the next)" % position
                                   if position else "", start + n)
        if checkpoint is not None:
            saved = "%s and the checkpoint %s" % (args.out, checkpoint)
            command = _continue_command(args, checkpoint, None, unit)
        else:
            saved = args.out
            command = _continue_command(args, args.out, start + n - model.n_iter_, unit)
        print("fastdnn: interrupted at %s; saved %s (continue with: %s)"
              % (where, saved, command), file=sys.stderr)
        return INTERRUPTED
    trained = model.n_iter_ - start
    print("last cost:      %.6f (recorded at %s %d)"
          % (model.costs_[-1], unit, model.cost_iterations_[-1]))
    if val is not None:
        _validation_summary(model, unit, args, n, start)
    pred_train = _accuracy_line("train", model, train)
    if val is not None and val is not test:
        _accuracy_line("validation", model, val)
    pred_test = _accuracy_line("test", model, test) if test is not None else None
    print("wall time:      %.2f s training (%d %ss, %s strategy, %.3f ms/%s)"
          % (wall, trained, unit, model.strategy_ or (run.strategy if run else None),
             1e3 * wall / max(trained, 1), unit))
    model.save(args.out)
    print("model saved to %s" % args.out)
    if args.plot:
        from .plotting import plot_learning_curve
        plot_learning_curve(model.cost_iterations_, model.costs_, args.plot,
                            title="learning curve: %s, lr %g" % (dims, lr),
                            val_costs=getattr(model, "val_costs_", None) if val is not None
                            else None,
                            best_iteration=getattr(model, "best_iteration_", None)
                            if args.early_stopping else None,
                            xlabel=unit, ylabel=_cost_label(model.output_))
        print("learning curve written to %s" % args.plot)
    if args.misclassified:
        from .plotting import plot_misclassified
        pred = pred_test if test is not None else pred_train
        n_wrong = plot_misclassified(shown, pred, args.misclassified)
        print("misclassified %s images (%d) written to %s"
              % ("test" if test is not None else "train", n_wrong, args.misclassified))
    return 0


def _cost_label(output):
    return {"sigmoid": "cost (cross-entropy)", "softmax": "cost (categorical cross-entropy)",
            "identity": "cost (squared error)"}[output]


def _validation_summary(model, unit, args, n, start):
    """The last validation cost and score, the best one and whether training stopped early."""
    record = {i: (c, sc) for i, c, sc in zip(model.cost_iterations_, model.val_costs_,
                                             model.val_scores_) if c is not None}
    if not record:
        return
    score = "R^2" if model.output_ == "identity" else "accuracy"
    last = max(record)
    print("validation cost: %.6f (%s %.4f, recorded at %s %d)"
          % (record[last][0], score, record[last][1], unit, last))
    best = getattr(model, "best_iteration_", None)
    if best in record:
        print("best validation: %.6f (%s %.4f) at %s %d"
              % (record[best][0], score, record[best][1], unit, best))
    elif best is not None:                      # the final parameters, after the last record
        print("best validation: at %s %d (the final parameters)" % (unit, best))
    if args.early_stopping and model.n_iter_ < start + n:
        print("early stopping:  no improvement for %d records; stopped after %s %d and kept "
              "the parameters of %s %d"
              % (10 if args.patience is None else args.patience, unit, model.n_iter_, unit,
                 best))


def _cmd_evaluate(args):
    _check_keys(args, need_y=True)
    _check_stream(args)
    model = _load_model(args.model)
    if args.stream:
        from .cli_large import evaluate_large
        return evaluate_large(args, model)
    ds = _load_builtin()[1] if args.data == BUILTIN else _load_data(args.data, args)
    where = "the built-in test split" if args.data == BUILTIN else repr(args.data)
    _check_n_x(model.layer_dims_[0], ds.X, where)
    _check_binary(model, repr(args.model))
    pred = _labels(model, ds.X)
    c = _count(pred, ds.Y)
    correct = c["TP"] + c["TN"]
    print("model: %s (layer dims %s, %s)" % (args.model, model.layer_dims_, model.dtype_.name))
    print("data:  %s" % _describe(ds))
    print("accuracy: %.4f (%d/%d correct)" % (correct / ds.m, correct, ds.m))
    print("TP %d  FP %d  TN %d  FN %d  (positive = label 1 = %r)"
          % (c["TP"], c["FP"], c["TN"], c["FN"], ds.classes[1]))
    if model.output_ == "identity":
        print("R^2: %.4f (identity output against the 0/1 labels; label = output > 0.5)"
              % model.score(ds.X, ds.Y))
    return 0


def _check_stream(args):
    if args.chunk_examples is not None and not args.stream:
        raise UsageError("--chunk-examples needs --stream")
    if args.stream and args.data == BUILTIN:
        raise UsageError("--stream reads a data file, not the built-in data set")


def _cmd_predict(args):
    _check_keys(args, need_y=False)
    _check_stream(args)
    model = _load_model(args.model)
    if args.stream:
        from .cli_large import predict_large
        return predict_large(args, model)
    if args.data == BUILTIN:
        X, where = _load_builtin()[1].X, "the built-in test split"
    elif args.x_key is not None:
        X, where = _load_x_only(args.data, args.x_key), repr(args.data)
    else:
        X, where = _load_data(args.data, args).X, repr(args.data)
    _check_n_x(model.layer_dims_[0], X, where)
    _check_binary(model, repr(args.model))
    _check_writable(args.out, "predictions")
    A = model.predict_proba(X)
    header = "index,probability,label\n"
    if model.output_ == "softmax":
        proba = A[1]                            # the probability of class 1
        labels = model.predict(X).ravel()       # the most probable class
    else:
        proba = A.ravel()
        labels = (proba > 0.5).astype(int)      # the rule of DeepNeuralNetwork.predict
        if model.output_ == "identity":
            header = "index,output,label\n"
    lines = [header]
    lines += ["%d,%.6g,%d\n" % (i, p, y) for i, (p, y) in enumerate(zip(proba, labels))]
    if args.out == "-":
        sys.stdout.writelines(lines)
    else:
        with open(args.out, "w", newline="") as f:
            f.writelines(lines)
        print("wrote %d predictions (%d labelled 1) to %s" % (len(labels), labels.sum(), args.out))
    return 0


def _cmd_info(args):
    import textwrap

    from .io.model_file import load_model_file

    p = load_model_file(args.model)
    fmt_version = p["format_version"]
    dims = p["layer_dims"]
    n_params = sum(int(a.size) for a in p["parameters"].values())
    hyper = p["hyperparameters"]
    hp = ", ".join("%s=%r" % kv for kv in sorted(hyper.items()))
    if fmt_version >= 2:                        # many of them: wrap the line
        hp = ("\n" + " " * 18).join(textwrap.wrap(hp, 100 - 18, break_long_words=False,
                                                  break_on_hyphens=False))
    costs, its = p["costs"], p["cost_iterations"]
    unit = "epoch" if hyper.get("batch_size") is not None else "iteration"
    print("model file:       %s" % args.model)
    print("layer dims:       %s (%d weight layers, %d parameters)"
          % (dims, len(dims) - 1, n_params))
    print("activations:      %s" % ", ".join(p["activations"]))
    print("dtype:            %s" % p["dtype"])
    print("hyper-parameters: %s" % (hp or "(none)"))
    print("%-17s %d" % (unit + "s:", p["n_iter"]))
    if len(costs):
        print("last cost:        %.6f (recorded at %s %d; %d costs recorded)"
              % (costs[-1], unit, its[-1], len(costs)))
    else:
        print("last cost:        (none recorded)")
    state = p["optimizer_state"]
    if state is None:
        print("optimizer state:  none stored (format version 1: plain gradient descent, which "
              "needs none)")
    else:
        moments = [name for key, name in (("v", "v (first moments)"),
                                          ("s", "s (second moments)"))
                   if state[key] is not None]
        print("optimizer state:  t=%d update steps, moments stored: %s, dropout generator "
              "state %d" % (state["t"], ", ".join(moments) or "none", state["rng"]))
    val = p["validation"]
    if val is not None:
        import numpy as np

        known = np.flatnonzero(~np.isnan(val["costs"]))
        if known.size:
            k = known[-1]
            line = ("%d of %d record points, last cost %.6f (score %.4f, at %s %d)"
                    % (known.size, len(val["costs"]), val["costs"][k], val["scores"][k],
                       unit, its[k]))
        else:
            line = "no values recorded"
        if val["best_iteration"] is not None:
            line += "; best at %s %d" % (unit, val["best_iteration"])
        print("validation:       %s" % line)
    cp = p.get("checkpoint") or {}
    position = int(cp.get("position", 0))
    inside = " (and batch %d of the next)" % position if position else ""
    if "target" in cp:
        every = (("seconds", float(cp["every"])) if cp["every_kind"] == "seconds"
                 else ("epochs", int(cp["every"])))
        target = int(cp["target"])
        print("checkpoint:       %s at %s %d%s of %d (%s strategy, written %s)%s"
              % ("a finished run" if p["n_iter"] >= target and not position else "a run", unit,
                 p["n_iter"], inside, target, cp["strategy"], _plan_value(every, unit),
                 "" if p["n_iter"] >= target and not position else
                 "; continue it with: fastdnn train DATA --resume %s" % args.model))
    elif position:
        print("stopped:          inside an epoch, after %s %d%s" % (unit, p["n_iter"], inside))
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
