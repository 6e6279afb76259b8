"""ONNX export of fitted fully-connected networks.

One core, ``network_to_onnx``, turns plain arrays into a checked
``onnx.ModelProto``; thin adapters feed it ``DeepNeuralNetwork``
(``deep_network_to_onnx``) and scikit-learn-style MLP estimators
(``mlp_to_onnx``: anything with ``coefs_``, ``intercepts_``, ``activation``,
``out_activation_`` and, for classifiers, ``classes_``).
``register_skl2onnx`` lets ``skl2onnx`` convert whole pipelines that end in
such an estimator.

The graph is standard ONNX (opset ``TARGET_OPSET``) in the model's dtype
(float32 or float64) throughout: per layer ``MatMul`` + ``Add``
(Z = X W^T + b, W^T stored as an (n_in, n_out) initializer) and one activation
operator (Relu, Sigmoid, Tanh, Identity, Softmax(axis=-1)). Not ``Gemm``:
onnxruntime 1.15 fuses Gemm + activation into a FusedGemm that has only a
float32 kernel, so float64 models failed to load there (onnxruntime fuses
MatMul + Add into Gemm itself where it can). Leaky relu is ``LeakyRelu`` in
float32; in float64 it is ``Max(z, slope * z)``: onnxruntime has no float64
LeakyRelu before opset 16, and its ``alpha`` is a float32 attribute, which
would multiply by float32(0.01), not the float64 slope training used
(a relative error of 2e-8). Input "X" is batch-first (batch, n_x)
with a symbolic batch dimension. Outputs, by ``task``:

- "network" (``DeepNeuralNetwork``): sigmoid output: "label" int64
  (batch, n_L), 1 where the probability > 0.5, and "probabilities"
  (batch, n_L); softmax: "label" int64 (batch,) the class index, and
  "probabilities" (batch, n_L); identity: "predictions" (batch, n_L). These
  are ``predict`` and ``predict_proba`` transposed (softmax labels flattened).
- "classifier" (skl2onnx's convention): "label" (batch,) the class labels
  (int64 for integer or boolean classes, string for strings; multilabel:
  int64 (batch, k) 0/1) and "probabilities" (batch, n_classes) as
  scikit-learn's ``predict_proba`` (binary: [1 - p, p]).
- "regressor" (skl2onnx's convention): "variable" (batch, n_outputs).

``import fastdnn`` never imports onnx; the functions here import it when
called (``pip install 'fastdnn[onnx]'``).
"""

import os
from collections import namedtuple

import numpy as np

from .exceptions import NotFittedError

#: ONNX operator set of the exported graphs (Softmax over the last axis needs 13).
TARGET_OPSET = 13
#: IR version paired with opset 13, so that older runtimes read the files too.
IR_VERSION = 7
#: Symbolic name of the batch dimension of the input and outputs.
BATCH = "batch"

HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
#: Output activations; "exp" (scikit-learn's Poisson-loss MLPRegressor) for regressors only.
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "identity", "exp")
TASKS = ("network", "classifier", "regressor")
#: scikit-learn's activation names -> fastdnn's.
_SKLEARN_NAMES = {"logistic": "sigmoid"}
_OPERATORS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity",
              "exp": "Exp"}

#: A validated network: weights (n_out, n_in) and biases (n_out,) per layer in
#: ``dtype``, the hidden activation names, the output activation, the task and
#: the class labels (an array, or None).
Network = namedtuple("Network", "weights biases hidden output dtype task classes")


# -- public entry points --------------------------------------------------------
def network_to_onnx(weights, biases, hidden_activations, output, dtype, *, task="network",
                    classes=None, path=None, graph_name="fastdnn_network"):
    """A checked ``onnx.ModelProto`` of a fully-connected network (written to ``path`` if given).

    weights: L arrays (n_l, n_{l-1}) (fastdnn's orientation: Z = W A + b).
    biases: L arrays (n_l,) or (n_l, 1).
    hidden_activations: L - 1 names from ``HIDDEN_ACTIVATIONS``.
    output: "sigmoid" (or "logistic"), "softmax", "identity" or (regressors) "exp".
    dtype: float32 or float64, the dtype of every tensor of the graph.
    task: "network", "classifier" (needs ``classes``) or "regressor"; see the
        module docstring for the outputs of each.
    classes: classifier labels (n_classes,) (ints, bools or strings).
    """
    net = check_network(weights, biases, hidden_activations, output, dtype, task, classes)
    model = _model(net, graph_name)
    if path is not None:
        _write_atomic(model, path)
    return model


def deep_network_to_onnx(model, path=None):
    """A fitted ``fastdnn.DeepNeuralNetwork`` as an ``onnx.ModelProto`` (task "network").

    Input "X" (batch, n_x) is the transpose of ``predict``'s X (n_x, m).
    Outputs: sigmoid: "label" int64 (batch, n_L) and "probabilities" (batch, n_L);
    softmax: "label" int64 (batch,) and "probabilities" (batch, n_L);
    identity: "predictions" (batch, n_L).
    """
    if not hasattr(model, "parameters_"):
        raise NotFittedError("this %s is not fitted yet: call fit(X, Y) or "
                             "fastdnn.load_model(path) first" % type(model).__name__)
    L = len(model.layer_dims_) - 1
    weights = [model.parameters_["W%d" % l] for l in range(1, L + 1)]
    biases = [model.parameters_["b%d" % l] for l in range(1, L + 1)]
    acts = list(model.activations_)
    return network_to_onnx(weights, biases, acts[:-1], acts[-1], model.dtype_, task="network",
                           path=path, graph_name="fastdnn_DeepNeuralNetwork")


def mlp_to_onnx(estimator, path=None):
    """A fitted scikit-learn-style MLP (``MLPClassifier``/``MLPRegressor`` or fastdnn's
    estimators) as an ``onnx.ModelProto``, with skl2onnx's outputs.

    Classifiers: "label" (batch,) of ``classes_`` (multilabel: int64 (batch, k)) and
    "probabilities" (batch, n_classes) = ``predict_proba``. Regressors: "variable"
    (batch, n_outputs) = ``predict`` (as a column when there is one output).
    The dtype is ``estimator.dtype`` when set, else that of ``coefs_``.
    """
    net = estimator_network(estimator)
    model = _model(net, "fastdnn_" + type(estimator).__name__)
    if path is not None:
        _write_atomic(model, path)
    return model


def register_skl2onnx(estimator_classes):
    """Register a skl2onnx converter for each class (classifiers and regressors with
    ``mlp_to_onnx``'s attributes), so ``skl2onnx.to_onnx`` converts pipelines ending
    in them. Classifiers take skl2onnx's options ``zipmap`` (True by default: the
    probabilities become "output_probability", a list of dicts of float32, so a
    float64 model's probabilities are cast to float32 there; False keeps the tensor
    "probabilities" in the model's dtype) and ``nocl`` (labels are class indices).
    """
    skl2onnx = _require("skl2onnx", "register_skl2onnx needs skl2onnx")
    from sklearn.base import ClassifierMixin

    for cls in estimator_classes:
        options = ({"zipmap": [True, False, "columns"], "nocl": [False, True]}
                   if issubclass(cls, ClassifierMixin) else None)
        skl2onnx.update_registered_converter(cls, "Fastdnn" + cls.__name__, _skl2onnx_shapes,
                                             _skl2onnx_convert, options=options)


# -- validation -------------------------------------------------------------------
def check_network(weights, biases, hidden_activations, output, dtype, task, classes):
    """A ``Network`` of the arguments of ``network_to_onnx``, each checked (ValueError /
    TypeError naming the argument)."""
    dtype = _check_dtype(dtype)
    if task not in TASKS:
        raise ValueError("task must be one of %s; got %r" % (TASKS, task))
    weights, biases = _check_layers(weights, biases, dtype)
    hidden = _check_hidden(hidden_activations, len(weights))
    output = _SKLEARN_NAMES.get(output, output)
    if output not in OUTPUT_ACTIVATIONS:
        raise ValueError("unsupported output activation %r: ONNX export knows %s"
                         % (output, OUTPUT_ACTIVATIONS))
    n_out = weights[-1].shape[0]
    allowed = {"network": ("sigmoid", "softmax", "identity"), "regressor": ("identity", "exp"),
               "classifier": ("sigmoid", "softmax")}[task]
    if output not in allowed:
        raise ValueError("the output activation of task=%r must be one of %s; got %r"
                         % (task, allowed, output))
    if task == "classifier":
        classes = _check_classes(classes, output, n_out)
    elif classes is not None:
        raise ValueError("classes are for task='classifier' only; task is %r" % task)
    return Network(weights, biases, hidden, output, dtype, task, classes)


def _check_dtype(dtype):
    """np.dtype float32 or float64, else TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in ("float32", "float64"):
        raise TypeError("dtype must be float32 or float64; got %r" % (dtype,))
    return dt


def _check_layers(weights, biases, dtype):
    """Weights (n_l, n_{l-1}) and biases (n_l,) as C-ordered arrays of ``dtype``."""
    weights = [np.asarray(W) for W in weights]
    biases = [np.asarray(b) for b in biases]
    if not weights or len(weights) != len(biases):
        raise ValueError("weights and biases must be two lists of the same length >= 1; got "
                         "%d and %d" % (len(weights), len(biases)))
    for l, (W, b) in enumerate(zip(weights, biases), start=1):
        if W.ndim != 2 or (l > 1 and W.shape[1] != weights[l - 2].shape[0]):
            raise ValueError("weights[%d] must be (n_out, n_in) with n_in the previous layer's "
                             "n_out; got shape %s" % (l - 1, W.shape))
        if b.size != W.shape[0] or b.ndim > 2:
            raise ValueError("biases[%d] must hold %d values, (n,) or (n, 1); got shape %s"
                             % (l - 1, W.shape[0], b.shape))
    return ([np.ascontiguousarray(W, dtype=dtype) for W in weights],
            [np.ascontiguousarray(b.reshape(-1), dtype=dtype) for b in biases])


def _check_hidden(hidden_activations, n_layers):
    """The L - 1 hidden activation names (one string: every hidden layer)."""
    if isinstance(hidden_activations, str):
        hidden_activations = [hidden_activations] * (n_layers - 1)
    names = [_SKLEARN_NAMES.get(a, a) for a in hidden_activations]
    if len(names) != n_layers - 1:
        raise ValueError("need %d hidden activations (one per hidden layer); got %r"
                         % (n_layers - 1, list(hidden_activations)))
    for a in names:
        if a not in HIDDEN_ACTIVATIONS:
            raise ValueError("unsupported hidden activation %r: ONNX export knows %s (and "
                             "scikit-learn's 'logistic')" % (a, HIDDEN_ACTIVATIONS))
    return names


def _check_classes(classes, output, n_out):
    """Class labels (n_classes,) as int64 or str (the ONNX label tensor's values)."""
    if classes is None:
        raise ValueError("task='classifier' needs classes")
    classes = np.asarray(classes)
    expected = 2 if (output == "sigmoid" and n_out == 1) else n_out
    if classes.ndim != 1 or len(classes) != expected:
        raise ValueError("classes must be %d labels for a %s output of %d unit(s); got %r"
                         % (expected, output, n_out, classes))
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return classes.astype(np.int64)  # as skl2onnx: integral float labels become ints
    if classes.dtype.kind in "USO" and all(isinstance(c, str) for c in classes.tolist()):
        return classes.astype(str)
    raise TypeError("class labels must be integers, booleans or strings to go into ONNX; got "
                    "%r (dtype %s)" % (classes, classes.dtype))


def estimator_network(estimator):
    """The ``Network`` of a fitted scikit-learn-style MLP (weights turned to (n_out, n_in))."""
    if not hasattr(estimator, "coefs_"):
        raise NotFittedError("this %s is not fitted yet: call fit(X, y) first"
                             % type(estimator).__name__)
    classes = getattr(estimator, "classes_", None)
    task = "regressor" if classes is None else "classifier"
    dtype = getattr(estimator, "dtype", None)
    dtype = np.asarray(estimator.coefs_[0]).dtype if dtype is None else dtype
    hidden = estimator.activation
    return check_network([np.asarray(W).T for W in estimator.coefs_], estimator.intercepts_,
                         hidden, estimator.out_activation_, dtype, task, classes)


# -- graph building ------------------------------------------------------------
class _Graph:
    """Nodes and initializers of a standalone graph, with unique names."""

    def __init__(self, reserved):
        from onnx import helper

        self._helper = helper
        self.nodes, self.initializers = [], []
        self._taken = set(reserved)

    def fresh(self, seed):
        """A name starting with ``seed`` not used yet."""
        name, k = seed, 0
        while name in self._taken:
            k += 1
            name = "%s_%d" % (seed, k)
        self._taken.add(name)
        return name

    def constant(self, seed, array):
        """An initializer holding ``array``; returns its name."""
        name = self.fresh(seed)
        self.initializers.append(_tensor(name, array))
        return name

    def op(self, op_type, inputs, output=None, **attrs):
        """Append a node with one output (``output`` or a fresh name); returns that name."""
        output = output or self.fresh(op_type.lower())
        self.nodes.append(self._helper.make_node(op_type, list(inputs), [output],
                                                 name=self.fresh("node_" + op_type), **attrs))
        return output


class _Skl2onnxGraph:
    """``_Graph``'s interface over skl2onnx's scope and container (converters)."""

    def __init__(self, scope, container):
        from onnx import TensorProto

        self._scope, self._container = scope, container
        self._string = TensorProto.STRING

    def fresh(self, seed):
        return self._scope.get_unique_variable_name(seed)

    def constant(self, seed, array):
        name = self.fresh(seed)
        tensor = _tensor(name, array)
        if tensor.data_type == self._string:  # add_initializer copies only raw data
            self._container.add_initializer(name, tensor.data_type, list(tensor.dims),
                                            list(tensor.string_data))
        else:
            self._container.add_initializer(name, tensor.data_type, list(tensor.dims), tensor)
        return name

    def op(self, op_type, inputs, output=None, **attrs):
        output = output or self.fresh(op_type.lower())
        self._container.add_node(op_type, list(inputs), [output],
                                 name=self._scope.get_unique_operator_name(op_type), **attrs)
        return output


def _tensor(name, array):
    """A TensorProto of a numeric or string array."""
    from onnx import TensorProto, helper, numpy_helper

    array = np.asarray(array)
    if array.dtype.kind == "U":
        return helper.make_tensor(name, TensorProto.STRING, array.shape,
                                  [s.encode("utf-8") for s in array.ravel().tolist()])
    return numpy_helper.from_array(array, name)


def _layers(g, x, net):
    """A_L (batch, n_L) of input ``x`` (batch, n_0): MatMul, Add and activation per layer."""
    a = x
    acts = net.hidden + [net.output]
    for l, (W, b, act) in enumerate(zip(net.weights, net.biases, acts), start=1):
        product = g.op("MatMul", [a, g.constant("W%d_T" % l, np.ascontiguousarray(W.T))])
        z = g.op("Add", [product, g.constant("b%d" % l, b)], output=g.fresh("Z%d" % l))
        a = _activation(g, z, act, net.dtype, g.fresh("A%d" % l))
    return a


def _activation(g, z, name, dtype, output):
    """g(z) (batch, n) into ``output``; softmax over the last axis."""
    if name == "softmax":
        return g.op("Softmax", [z], output=output, axis=-1)
    if name == "leaky_relu":
        from .kernels.activations import LEAKY_SLOPE

        if dtype == np.float32:
            return g.op("LeakyRelu", [z], output=output, alpha=float(np.float32(LEAKY_SLOPE)))
        slope = g.constant("leaky_slope", np.asarray(LEAKY_SLOPE, dtype=dtype))
        return g.op("Max", [z, g.op("Mul", [z, slope])], output=output)  # z if z > 0, else slope z
    return g.op(_OPERATORS[name], [z], output=output)


def _head(g, a, net, names):
    """The graph outputs ``names`` (those of ``output_specs``) from A_L (batch, n_L)."""
    n_out = net.weights[-1].shape[0]
    if net.task == "regressor" or net.output == "identity":
        g.op("Identity", [a], output=names[0])
        return
    label, proba = names
    if net.output == "softmax":
        index = g.op("ArgMax", [a], output=None if net.task == "classifier" else label,
                     axis=1, keepdims=0)
        if net.task == "classifier":
            g.op("Gather", [g.constant("classes", net.classes), index], output=label, axis=0)
        g.op("Identity", [a], output=proba)
    elif net.task == "network" or n_out > 1:  # independent 0/1 outputs (multilabel)
        _above_half(g, a, net.dtype, label)
        g.op("Identity", [a], output=proba)
    else:  # binary classifier: labels from classes_, probabilities [1 - p, p]
        index = g.op("Reshape", [_above_half(g, a, net.dtype),
                                 g.constant("flat", np.array([-1], dtype=np.int64))])
        g.op("Gather", [g.constant("classes", net.classes), index], output=label, axis=0)
        negative = g.op("Sub", [g.constant("one", np.ones(1, dtype=net.dtype)), a])
        g.op("Concat", [negative, a], output=proba, axis=1)


def _above_half(g, a, dtype, output=None):
    """int64 (batch, n): 1 where a > 0.5 (the predict rule), else 0."""
    from onnx import TensorProto

    half = g.constant("half", np.full(1, 0.5, dtype=dtype))
    return g.op("Cast", [g.op("Greater", [a, half])], output=output, to=TensorProto.INT64)


def output_specs(net):
    """[(name, element type, shape after the batch dimension)] of the graph's outputs."""
    from onnx import TensorProto

    value = TensorProto.DOUBLE if net.dtype == np.float64 else TensorProto.FLOAT
    n_out = net.weights[-1].shape[0]
    if net.task == "regressor":
        return [("variable", value, [n_out])]
    if net.output == "identity":
        return [("predictions", value, [n_out])]
    if net.task == "network":
        label = (TensorProto.INT64, [n_out] if net.output == "sigmoid" else [])
        return [("label",) + label, ("probabilities", value, [n_out])]
    if net.output == "sigmoid" and n_out > 1:  # multilabel
        return [("label", TensorProto.INT64, [n_out]), ("probabilities", value, [n_out])]
    label = TensorProto.STRING if net.classes.dtype.kind == "U" else TensorProto.INT64
    return [("label", label, []), ("probabilities", value, [len(net.classes)])]


def _model(net, graph_name):
    """The checked standalone ModelProto of ``net``."""
    onnx = _require("onnx", "ONNX export needs the onnx package")
    from onnx import TensorProto, helper

    from . import __version__

    specs = output_specs(net)
    g = _Graph(reserved=["X"] + [name for name, _, _ in specs])
    a = _layers(g, "X", net)
    _head(g, a, net, [name for name, _, _ in specs])
    value = TensorProto.DOUBLE if net.dtype == np.float64 else TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("X", value, [BATCH, net.weights[0].shape[1]])]
    outputs = [helper.make_tensor_value_info(name, elem, [BATCH] + tail)
               for name, elem, tail in specs]
    graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, g.initializers)
    model = helper.make_model(graph, producer_name="fastdnn", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", TARGET_OPSET)],
                              doc_string=_doc(net, specs))
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _doc(net, specs):
    """A one-line description of the network and its outputs for the model's doc_string."""
    dims = [net.weights[0].shape[1]] + [W.shape[0] for W in net.weights]
    return ("fastdnn %s: layers %s, activations %s, %s; input X (batch, %d); outputs %s"
            % (net.task, dims, net.hidden + [net.output], net.dtype.name, dims[0],
               ", ".join(name for name, _, _ in specs)))


def _write_atomic(model, path):
    """Write the serialized model to ``path`` through a temporary file in its folder
    (``fastdnn.io.atomic.replace_atomically``)."""
    from .io.atomic import replace_atomically

    def fill(tmp):
        with open(tmp, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())

    replace_atomically(path, fill)


def _require(module, what):
    """Import ``module``, or raise an ImportError that says how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError("%s (pip install 'fastdnn[onnx]'); importing %r failed: %s"
                          % (what, module, err)) from err


# -- skl2onnx converter -----------------------------------------------------------
def _skl2onnx_shapes(operator):
    """skl2onnx shape calculator: the output types of ``output_specs``."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType,
                                            Int64TensorType, StringTensorType)

    types = {TensorProto.DOUBLE: DoubleTensorType, TensorProto.FLOAT: FloatTensorType,
             TensorProto.INT64: Int64TensorType, TensorProto.STRING: StringTensorType}
    net, cast = _skl2onnx_network(operator.scope_inst, operator.raw_operator)
    specs = output_specs(net)
    if cast:
        specs[1] = (specs[1][0], TensorProto.FLOAT, specs[1][2])
    if len(operator.inputs) != 1 or len(operator.outputs) != len(specs):
        raise RuntimeError("%s: expected 1 input and %d outputs, got %d and %d"
                           % (operator.type, len(specs), len(operator.inputs),
                              len(operator.outputs)))
    N = operator.inputs[0].get_first_dimension()
    for variable, (_, elem, tail) in zip(operator.outputs, specs):
        variable.type = types[elem](shape=[N] + tail)


def _skl2onnx_convert(scope, operator, container):
    """skl2onnx converter: the same nodes as ``mlp_to_onnx`` inside the pipeline's graph."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import guess_proto_type

    net, cast = _skl2onnx_network(scope, operator.raw_operator)
    g = _Skl2onnxGraph(scope, container)
    x = operator.inputs[0].full_name
    value = TensorProto.DOUBLE if net.dtype == np.float64 else TensorProto.FLOAT
    if guess_proto_type(operator.inputs[0].type) != value:
        x = g.op("Cast", [x], to=value)
    names = [v.full_name for v in operator.outputs]
    if cast:  # skl2onnx's ZipMap takes float32 probabilities only
        names[1] = g.fresh("probabilities_float64")
    _head(g, _layers(g, x, net), net, names)
    if cast:
        g.op("Cast", [names[1]], output=operator.outputs[1].full_name, to=TensorProto.FLOAT)


def _skl2onnx_network(scope, estimator):
    """(``estimator_network``, whether to cast the probabilities to float32): under
    skl2onnx's ``nocl`` option the labels are class indices, and a float64 classifier's
    probabilities go to ZipMap (the ``zipmap`` option) as float32."""
    net = estimator_network(estimator)
    if net.task != "classifier":
        return net, False
    options = scope.get_options(estimator, {"nocl": False, "zipmap": True})
    if options["nocl"]:
        net = net._replace(classes=np.arange(len(net.classes), dtype=np.int64))
    return net, options["zipmap"] is True and net.dtype == np.float64
