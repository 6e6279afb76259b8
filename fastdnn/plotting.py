"""Plots of a training run: the learning curve and a grid of misclassified images.

Needs the optional extra ``plot`` (matplotlib): ``pip install 'fastdnn[plot]'``.
Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no screen, and
the user's pyplot backend is left alone) and written as image files (PNG unless
the path's extension names another format matplotlib knows).
"""

import math

import numpy as np

__all__ = ["plot_learning_curve", "plot_misclassified", "require_matplotlib"]


def require_matplotlib():
    """matplotlib's ``Figure`` and Agg canvas classes, or a clear ImportError."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib, which is not installed: "
                          "install fastdnn[plot] (pip install 'fastdnn[plot]')") from None
    return Figure, FigureCanvasAgg


def _new_figure(figsize):
    Figure, FigureCanvasAgg = require_matplotlib()
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def plot_learning_curve(cost_iterations, costs, path, title=None, *, val_costs=None,
                        best_iteration=None, xlabel="iteration", ylabel="cost (cross-entropy)"):
    """Cost against iteration (``model.cost_iterations_``, ``model.costs_``) -> image at path.

    val_costs: the validation cost at the same record points (``model.val_costs_``; None
    or NaN where there is none), drawn beside the training cost. best_iteration: marked
    with a dotted line (``model.best_iteration_`` after early stopping). xlabel: "epoch"
    for mini-batch runs; ylabel names the loss.
    """
    its = np.asarray(cost_iterations, dtype=np.float64).ravel()
    cs = np.asarray(costs, dtype=np.float64).ravel()
    if its.shape != cs.shape:
        raise ValueError("cost_iterations (%d) and costs (%d) must have the same length"
                         % (its.size, cs.size))
    if cs.size == 0:
        raise ValueError("no recorded costs to plot")
    vs = None
    if val_costs is not None:
        vs = np.array([np.nan if c is None else c for c in val_costs], dtype=np.float64).ravel()
        if vs.shape != cs.shape:
            raise ValueError("val_costs (%d) and costs (%d) must have the same length"
                             % (vs.size, cs.size))
    fig = _new_figure((6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    marker = "o" if cs.size <= 40 else None
    ax.plot(its, cs, marker=marker, markersize=3, linewidth=1.5,
            label="training" if vs is not None else None)
    if vs is not None:
        ax.plot(its, vs, marker=marker, markersize=3, linewidth=1.5, label="validation")
        if best_iteration is not None:
            ax.axvline(best_iteration, color="gray", linestyle=":", linewidth=1,
                       label="best (%s %d)" % (xlabel, best_iteration))
        ax.legend(fontsize=8)
        known = np.flatnonzero(np.isfinite(vs))
        if known.size:
            k = known[-1]
            ax.annotate("%.4g" % vs[k], (its[k], vs[k]), textcoords="offset points",
                        xytext=(0, 6), ha="right", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "learning curve")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.annotate("%.4g" % cs[-1], (its[-1], cs[-1]), textcoords="offset points",
                xytext=(0, 6) if vs is None else (0, -12), ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _displayable(img):
    """An image as floats in [0, 1] (rescaled only if it is outside that range)."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    lo, hi = float(img.min()), float(img.max())
    if lo < 0.0 or hi > 1.0:
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return img


def plot_misclassified(dataset, predictions, path, max_images=20, *, columns=None):
    """Grid of the examples of ``dataset`` whose ``predictions`` differ from its labels.

    dataset: a ``fastdnn.io.data.Dataset`` with an image_shape (images via ``dataset.images()``).
    predictions: (1, m) or (m,) 0/1 labels, e.g. ``model.predict(dataset.X)``.
    Each image is titled with its example index and "true: <class>" / "pred: <class>".
    Returns the number of misclassified examples (all of them, not just those shown).
    """
    pred = np.asarray(predictions).reshape(-1)
    y = np.asarray(dataset.Y).reshape(-1)
    if pred.shape != y.shape:
        raise ValueError("predictions have %d values but the data set has %d examples"
                         % (pred.size, y.size))
    if int(max_images) < 1:
        raise ValueError("max_images must be >= 1, got %r" % (max_images,))
    wrong = np.flatnonzero(pred != y)
    shown = wrong[:int(max_images)]
    classes = dataset.classes
    if shown.size == 0:
        fig = _new_figure((5.0, 1.6))
        fig.text(0.5, 0.5, "no misclassified examples (0 of %d)" % y.size,
                 ha="center", va="center", fontsize=12)
        fig.savefig(path, dpi=100)
        return 0
    images = dataset.images()                   # ValueError if it is not an image data set
    cols = int(columns) if columns else min(shown.size, 5)
    rows = math.ceil(shown.size / cols)
    fig = _new_figure((2.0 * cols, 2.35 * rows + 0.5))
    for k, i in enumerate(shown):
        ax = fig.add_subplot(rows, cols, k + 1)
        img = _displayable(images[i])
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest",
                  vmin=0.0, vmax=1.0)
        ax.set_title("#%d\ntrue: %s\npred: %s" % (i, classes[int(y[i])], classes[int(pred[i])]),
                     fontsize=8, color="darkred")
        ax.set_xticks([])
        ax.set_yticks([])
    name = " of %s" % dataset.name if getattr(dataset, "name", "") else ""
    fig.suptitle("misclassified%s: %d of %d examples%s"
                 % (name, wrong.size, y.size,
                    " (first %d shown)" % shown.size if shown.size < wrong.size else ""),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return int(wrong.size)
