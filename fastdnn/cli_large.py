"""``fastdnn train --stream`` and ``--dask-scheduler`` / ``--dask-workers``: training on
data files larger than memory, out of core or data-parallel on Dask.

The data files are read as ``fastdnn.io.HDF5Source`` (course layout, or
--x-key/--y-key), never loaded whole: with --stream the model trains chunk by
chunk (``fastdnn.outofcore``); with Dask each worker reads its own blocks of
the file (``dask.array.from_array`` on the h5py dataset) and the driver
reduces their gradients (``fastdnn.distributed``). Accuracies are computed
chunk by chunk too. What needs the whole data in memory or a run's state
(validation data, early stopping, checkpoints, --resume, --misclassified,
dropout) is refused with a usage error.
"""

import sys
import time

from .cli import (DEFAULT_ITERATIONS, DEFAULT_RECORD_EVERY, FILE_LEARNING_RATE, UsageError,
                  _check_length_usage, _check_writable, _new_model, _options_summary,
                  _print_cost, _print_epoch_cost)


def _refuse(args):
    if not args.data:
        raise UsageError("--stream and Dask training read data files: give DATA")
    for dest, flag in (("resume", "--resume"), ("validation_split", "--validation-split"),
                       ("validation", "--validation"), ("early_stopping", "--early-stopping"),
                       ("checkpoint", "--checkpoint"), ("misclassified", "--misclassified")):
        if getattr(args, dest) not in (None, False):
            raise UsageError("%s is not supported with --stream or Dask training yet" % flag)
    if args.keep_prob is not None and args.keep_prob < 1:
        raise UsageError("--keep-prob (dropout) is not supported with --stream or Dask "
                         "training: its masks cannot be split into pieces")
    if args.stream and (args.dask_scheduler is not None or args.dask_workers is not None):
        raise UsageError("--stream trains in this process; --dask-scheduler/--dask-workers on "
                         "Dask: give one of them")


def _keys(path, args):
    """(x_key, y_key): --x-key/--y-key, or the course layout's train_set_* / test_set_*."""
    if args.x_key is not None:
        return args.x_key, args.y_key
    from .io.data import DataFileError, _check_path, _dataset_keys, _open

    p = _check_path(path)
    with _open(p) as f:
        found = [s for s in ("train", "test") if "%s_set_x" % s in f]
        if len(found) != 1:
            raise DataFileError("%r: expected exactly one of 'train_set_x' / 'test_set_x' "
                                "(course layout), the file has datasets %s; or give --x-key "
                                "and --y-key" % (str(p), _dataset_keys(f)))
    return "%s_set_x" % found[0], "%s_set_y" % found[0]


def train_large(args):
    from .io.sources import HDF5Source
    from .model import TrainingInterrupted

    _refuse(args)
    batched = args.batch_size is not None
    _check_length_usage(args, batched)
    _check_writable(args.out, "model")
    if args.plot:
        from .plotting import require_matplotlib
        require_matplotlib()
    sources = []
    for path in args.data:
        xk, yk = _keys(path, args)
        sources.append(HDF5Source(path, xk, yk, chunk_examples=args.chunk_examples))
    train = sources[0]
    test = sources[1] if len(sources) == 2 else None
    if test is not None and test.n_x != train.n_x:
        raise ValueError("shape mismatch: the train data has %d features per example, the "
                         "test data %d" % (train.n_x, test.n_x))
    lr = args.learning_rate or FILE_LEARNING_RATE
    model = _new_model(args, train.n_x, lr)
    n = args.epochs or args.iterations or DEFAULT_ITERATIONS
    unit = "epoch" if batched else "iteration"
    record_every = args.record_every or DEFAULT_RECORD_EVERY
    how = ("streamed in chunks of %d examples" % train.chunk_examples if args.stream else
           "data-parallel on Dask (%s), blocks of %d examples"
           % (args.dask_scheduler or "%d local workers" % args.dask_workers,
              train.chunk_examples))
    print("data: %s (%s)" % (" and ".join(repr(d) for d in args.data), how))
    for label, src in (("train", train), ("test ", test)):
        if src is not None:
            print("  %s %d examples of shape %s (%s), n_x = %d"
                  % (label, src.m, src.example_shape, src.x_dtype, src.n_x))
    print("model: layer dims %s, init %s, learning rate %g, %d %ss, %s"
          % (model.layer_dims, model.init, lr, n, unit, model.dtype))
    summary = _options_summary(model)
    if summary:
        print("options: %s" % summary)
    sys.stdout.flush()
    fit_args = {"num_epochs" if batched else "num_iterations": n, "record_every": record_every,
                "verbose": not args.quiet,
                "callback": None if args.quiet else (_print_epoch_cost if batched
                                                     else _print_cost)}
    t0 = time.perf_counter()
    try:
        if args.stream:
            model.fit(train, None, **fit_args)
        else:
            _fit_dask(model, train, args, fit_args)
    except TrainingInterrupted:
        model.save(args.out)
        print("fastdnn: interrupted at %s %d of %d; saved %s (continue in Python with "
              "fit(..., warm_start=True))" % (unit, model.n_iter_, n, args.out),
              file=sys.stderr)
        return 130
    wall = time.perf_counter() - t0
    print("last cost:      %.6f (recorded at %s %d)"
          % (model.costs_[-1], unit, model.cost_iterations_[-1]))
    for label, src in (("train", train), ("test", test)):
        if src is not None:
            print("%-15s %.4f (%d examples, read chunk by chunk)"
                  % (label + " accuracy:", model.score(src), src.m))
    print("wall time:      %.2f s training (%d %ss, %.3f ms/%s)"
          % (wall, model.n_iter_, unit, 1e3 * wall / max(model.n_iter_, 1), unit))
    model.save(args.out)
    print("model saved to %s" % args.out)
    if args.plot:
        from .plotting import plot_learning_curve
        plot_learning_curve(model.cost_iterations_, model.costs_, args.plot,
                            title="learning curve: %s, lr %g" % (model.layer_dims, lr),
                            xlabel=unit)
        print("learning curve written to %s" % args.plot)
    return 0


def _fit_dask(model, train, args, fit_args):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--dask-scheduler/--dask-workers need Dask: pip install "
                         "'fastdnn[dask]'") from None
    from .distributed import hdf5_arrays

    X, Y = hdf5_arrays(train.path, train.x_key, train.y_key,
                       chunk_examples=train.chunk_examples)
    try:
        if args.dask_scheduler is not None:
            with Client(args.dask_scheduler) as client:
                print("dask: %d workers at %s" % (len(client.scheduler_info()["workers"]),
                                                 args.dask_scheduler), flush=True)
                model.fit(X, Y, **fit_args)
        else:
            with LocalCluster(n_workers=args.dask_workers, processes=True, threads_per_worker=1,
                              dashboard_address=":0") as cluster, Client(cluster):
                print("dask: a local cluster of %d worker processes" % args.dask_workers,
                      flush=True)
                model.fit(X, Y, **fit_args)
    finally:
        del X                                     # closes the file (its last reference)


def _source(args, with_labels):
    from .io.sources import HDF5Source

    if args.x_key is not None:
        xk, yk = args.x_key, (args.y_key if with_labels else None)
    else:
        xk, yk = _keys(args.data, args)
        yk = yk if with_labels else None
    return HDF5Source(args.data, xk, yk, chunk_examples=args.chunk_examples)


def _check_model(model, src, args):
    from .cli import _check_binary

    if src.n_x != model.layer_dims_[0]:
        raise ValueError("shape mismatch: the model takes %d input features per example but "
                         "%r has %d" % (model.layer_dims_[0], args.data, src.n_x))
    _check_binary(model, repr(args.model))


def _labels_of(model, A):
    """0/1 labels (m,) from outputs A (n_L, m), as the in-memory commands take them."""
    if model.output_ == "softmax":
        return A.argmax(axis=0)
    return (A.ravel() > 0.5).astype(int)


def evaluate_large(args, model):
    """``fastdnn evaluate --stream``: accuracy and confusion counts, chunk by chunk."""
    import numpy as np

    from .cli import _count
    from .outofcore import _outputs_hdf5

    src = _source(args, True)
    _check_model(model, src, args)
    A, Y = _outputs_hdf5(model, src, labels=True)
    y = Y.argmax(axis=0) if model.output_ == "softmax" else Y.ravel()
    pred = _labels_of(model, A)
    c = _count(pred, y)
    correct = c["TP"] + c["TN"]
    print("model: %s (layer dims %s, %s)" % (args.model, model.layer_dims_, model.dtype_.name))
    print("data:  %r: %d examples of shape %s, read in chunks of %d, %d positive"
          % (args.data, src.m, src.example_shape, src.chunk_examples, int(np.sum(y == 1))))
    print("accuracy: %.4f (%d/%d correct)" % (correct / src.m, correct, src.m))
    print("TP %d  FP %d  TN %d  FN %d  (positive = label 1)"
          % (c["TP"], c["FP"], c["TN"], c["FN"]))
    if model.output_ == "identity":
        from .model import _score
        print("R^2: %.4f (identity output against the 0/1 labels; label = output > 0.5)"
              % _score("identity", A, Y))
    return 0


def predict_large(args, model):
    """``fastdnn predict --stream``: the CSV of ``predict``, the outputs computed chunk by
    chunk (the CSV lines are written as they are formed)."""
    from .cli import _check_writable

    src = _source(args, False)
    _check_model(model, src, args)
    _check_writable(args.out, "predictions")
    A = model.predict_proba(src)
    proba = A[1] if model.output_ == "softmax" else A.ravel()
    labels = _labels_of(model, A)
    header = "index,output,label\n" if model.output_ == "identity" else \
        "index,probability,label\n"
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="")
    try:
        out.write(header)
        for i, (p, y) in enumerate(zip(proba, labels)):
            out.write("%d,%.6g,%d\n" % (i, p, y))
    finally:
        if out is not sys.stdout:
            out.close()
    if args.out != "-":
        print("wrote %d predictions (%d labelled 1) to %s" % (len(labels), labels.sum(),
                                                              args.out))
    return 0
