"""Argument checks for the public API: clear errors before anything reaches a kernel.

Every check names the argument, says what it got and what was expected, and
returns the value converted to what the kernels need (C-contiguous arrays of
the working dtype, Python ints/floats).
"""

import numbers

import numpy as np

SUPPORTED_DTYPES = ("float64", "float32")


def check_dtype(dtype):
    """np.dtype of 'float64' or 'float32' (anything else: TypeError)."""
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in SUPPORTED_DTYPES:
        raise TypeError("dtype must be one of %s; got %r" % (", ".join(SUPPORTED_DTYPES), dtype))
    return dt


def check_positive(name, value, integer=False):
    """A finite number > 0 (an int when ``integer``), else TypeError/ValueError."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError("%s must be a%s number; got %r of type %s"
                        % (name, "n integer" if integer else " real", value, type(value).__name__))
    if not np.isfinite(value) or value <= 0:
        raise ValueError("%s must be > 0; got %r" % (name, value))
    return int(value) if integer else float(value)


def check_layer_dims(layer_dims):
    """List of >= 2 positive ints [n_x, n_1, ..., n_L]."""
    try:
        dims = list(layer_dims)
    except TypeError:
        raise TypeError("layer_dims must be a list of layer sizes [n_x, n_1, ..., n_L]; got %r"
                        % (layer_dims,)) from None
    if len(dims) < 2:
        raise ValueError("layer_dims needs at least an input and an output size, "
                         "[n_x, ..., n_L]; got %r" % (dims,))
    for i, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError("layer_dims[%d] must be a positive integer; got %r in %r" % (i, n, dims))
    return [int(n) for n in dims]


def check_array(name, a, dtype, shape=None):
    """A finite, real, non-empty 2-D array converted to C-contiguous ``dtype``.

    ``shape`` may hold None for a free dimension, e.g. (n_x, None).
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError("%s must hold real numbers; got dtype %s" % (name, arr.dtype))
    if arr.ndim != 2:
        want = "(%s)" % ", ".join("?" if s is None else str(s) for s in shape) if shape else "2-D"
        raise ValueError("%s must be a 2-D array of shape %s (one column per example); got %d-D "
                         "shape %s" % (name, want, arr.ndim, arr.shape))
    if shape is not None and any(s is not None and s != g for s, g in zip(shape, arr.shape)):
        want = "(%s)" % ", ".join("m" if s is None else str(s) for s in shape)
        raise ValueError("%s must have shape %s; got %s" % (name, want, arr.shape))
    if arr.size == 0:
        raise ValueError("%s is empty (shape %s); need at least one example" % (name, arr.shape))
    out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError("%s contains NaN or infinity (first at index %s, after conversion to %s)"
                         % (name, tuple(int(i) for i in bad), dtype))
    return out


def check_X(X, n_x, dtype):
    """X (n_x, m) as C-contiguous ``dtype``."""
    return check_array("X", X, dtype, (n_x, None))


def check_XY(X, Y, layer_dims, dtype):
    """X (n_x, m) and labels Y (n_L, m) in {0, 1}, both C-contiguous ``dtype``.

    A 1-D Y of length m is accepted for a single output unit.
    """
    X = check_X(X, layer_dims[0], dtype)
    m = X.shape[1]
    Y = np.asarray(Y)
    if Y.ndim == 1 and layer_dims[-1] == 1:
        Y = Y.reshape(1, -1)
    Y = check_array("Y", Y, dtype, (layer_dims[-1], None))
    if Y.shape[1] != m:
        raise ValueError("X and Y must hold the same number of examples (columns); X has %d, "
                         "Y has %d" % (m, Y.shape[1]))
    bad = (Y != 0) & (Y != 1)
    if bad.any():
        raise ValueError("Y must hold labels 0 or 1; got %r at index %s"
                         % (Y[bad][0].item(), tuple(int(i) for i in np.argwhere(bad)[0])))
    return X, Y


def check_parameters(parameters, layer_dims, dtype=np.float64, name="parameters"):
    """A dict with exactly W1, b1, ..., WL, bL of shapes (n_l, n_{l-1}) and (n_l, 1).

    Returns a new dict of finite ``dtype`` arrays (the caller's dict is not touched).
    """
    if not isinstance(parameters, dict):
        raise TypeError("%s must be a dict {'W1': ..., 'b1': ..., ...}; got %s"
                        % (name, type(parameters).__name__))
    L = len(layer_dims) - 1
    expected = ["%s%d" % (p, l) for l in range(1, L + 1) for p in "Wb"]
    if set(parameters) != set(expected):
        missing = [k for k in expected if k not in parameters]
        extra = sorted(set(parameters) - set(expected))
        raise ValueError("%s for layer_dims %s must have keys %s; missing %s, unexpected %s"
                         % (name, layer_dims, expected, missing, extra))
    out = {}
    for l in range(1, L + 1):
        for key, shape in (("W%d" % l, (layer_dims[l], layer_dims[l - 1])),
                           ("b%d" % l, (layer_dims[l], 1))):
            out[key] = check_array("%s[%r]" % (name, key), parameters[key], dtype, shape)
    return out


def check_choice(name, value, choices):
    """``value`` if it is one of ``choices`` (strings), else ValueError naming them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError("%s must be one of %s; got %r" % (name, ", ".join(map(repr, choices)),
                                                          value))
    return value


def check_fraction(name, value, low_open=True, high_closed=True):
    """A real number in (0, 1] (or [0, 1) etc. as flagged), else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a real number; got %r of type %s"
                        % (name, value, type(value).__name__))
    lo_ok = value > 0 if low_open else value >= 0
    hi_ok = value <= 1 if high_closed else value < 1
    if not (np.isfinite(value) and lo_ok and hi_ok):
        raise ValueError("%s must be in %s0, 1%s; got %r"
                         % (name, "(" if low_open else "[", "]" if high_closed else ")", value))
    return float(value)


def check_non_negative(name, value):
    """A finite real number >= 0, else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a real number; got %r of type %s"
                        % (name, value, type(value).__name__))
    if not np.isfinite(value) or value < 0:
        raise ValueError("%s must be >= 0; got %r" % (name, value))
    return float(value)


def check_seed(name, value):
    """A non-negative integer seed (what np.random.seed accepts), else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer; got %r of type %s"
                        % (name, value, type(value).__name__))
    if not 0 <= value < 2 ** 32:
        raise ValueError("%s must be in [0, 2**32); got %r" % (name, value))
    return int(value)


def check_targets(X, Y, layer_dims, dtype, output):
    """X (n_x, m) and targets Y as the output ``output`` needs them, both C-contiguous ``dtype``.

    sigmoid: labels 0/1 of shape (n_L, m) (1-D accepted for one output);
    softmax: one-hot (C, m) columns, or integer class labels 0..C-1 of shape
    (1, m) or (m,), returned one-hot; identity: any finite reals (n_L, m)
    (1-D accepted for one output).
    """
    if output == "sigmoid":
        return check_XY(X, Y, layer_dims, dtype)
    X = check_X(X, layer_dims[0], dtype)
    m, n_out = X.shape[1], layer_dims[-1]
    Y = np.asarray(Y)
    if output == "softmax" and (Y.ndim == 1 or (Y.ndim == 2 and Y.shape[0] == 1 and n_out > 1)):
        labels = check_array("Y", Y.reshape(1, -1), np.float64, (1, None)).ravel()
        if labels.size != m:
            raise ValueError("X and Y must hold the same number of examples; X has %d columns, "
                             "Y has %d labels" % (m, labels.size))
        bad = (labels != np.round(labels)) | (labels < 0) | (labels >= n_out)
        if bad.any():
            raise ValueError("Y as class labels must hold integers 0..%d (the %d softmax outputs); "
                             "got %r at index %d" % (n_out - 1, n_out, labels[bad][0].item(),
                                                     int(np.argmax(bad))))
        onehot = np.zeros((n_out, m), dtype=dtype)
        onehot[labels.astype(np.int64), np.arange(m)] = 1
        return X, onehot
    if Y.ndim == 1 and n_out == 1:
        Y = Y.reshape(1, -1)
    Y = check_array("Y", Y, dtype, (n_out, None))
    if Y.shape[1] != m:
        raise ValueError("X and Y must hold the same number of examples (columns); X has %d, "
                         "Y has %d" % (m, Y.shape[1]))
    if output == "softmax":
        ok = ((Y == 0) | (Y == 1)).all(axis=0) & (Y.sum(axis=0) == 1)
        if not ok.all():
            raise ValueError("Y for a softmax output must be one-hot columns (C=%d, m) or integer "
                             "labels (1, m); column %d is %s" % (n_out, int(np.argmin(ok)),
                                                                 Y[:, np.argmin(ok)].tolist()))
    return X, Y
