"""fastdnn: fully-connected deep neural networks trained on the CPU, fast.

- ``fastdnn.reference``: the seed notebook's plain-NumPy helpers (the oracle).
- ``fastdnn.functional``: the same functions backed by compiled kernels (a drop-in).
- ``fastdnn.DeepNeuralNetwork``: fit / predict / score / save; ``fastdnn.load_model``.
- ``fastdnn.DNNClassifier`` / ``fastdnn.DNNRegressor``: scikit-learn estimators
  (``fastdnn.sklearn``; needs scikit-learn) computing what MLPClassifier/MLPRegressor do.
- ``fastdnn.gradient_check``: the compiled backward pass of any configuration
  against finite differences.

Heavy or optional parts (the compiled core, h5py, tqdm, matplotlib) load on first use.
"""

__version__ = "0.2.0"

_LAZY = {
    "DeepNeuralNetwork": ("fastdnn.model", "DeepNeuralNetwork"),
    "TrainingDivergedError": ("fastdnn.engine", "TrainingDivergedError"),
    "TrainingInterrupted": ("fastdnn.model", "TrainingInterrupted"),
    "load_model": ("fastdnn.persistence", "load_model"),
    "load_dataset": ("fastdnn.io.data", "load_dataset"),
    "load_hdf5": ("fastdnn.io.data", "load_hdf5"),
    "load_builtin": ("fastdnn.io.data", "load_builtin"),
    "gradient_check": ("fastdnn.gradcheck", "gradient_check"),
    "ModelFileError": ("fastdnn.io.model_file", "ModelFileError"),
    "DataFileError": ("fastdnn.io.data", "DataFileError"),
    "NotFittedError": ("fastdnn.exceptions", "NotFittedError"),
    "DNNClassifier": ("fastdnn.sklearn", "DNNClassifier"),
    "DNNRegressor": ("fastdnn.sklearn", "DNNRegressor"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError("module 'fastdnn' has no attribute %r" % name)
