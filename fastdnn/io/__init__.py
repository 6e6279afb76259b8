"""Data sets and model files: NumPy and h5py only (never numba, never the engine).

The documented exception types for bad files, both ``ValueError`` subclasses whose
message names the file and what is wrong:

- ``ModelFileError`` (``fastdnn.io.model_file``): a model file that is damaged,
  truncated, edited after saving, foreign, of a newer format, or has contents of the
  wrong type, dtype, shape or size (and a payload ``save_model_file`` refuses).
- ``DataFileError`` (``fastdnn.io.data``): a data file that is not readable HDF5, lacks
  a dataset, or has one of the wrong dtype, shape, size or values.

Both load on first use (the submodules import h5py).
"""

_LAZY = {
    "ModelFileError": ("fastdnn.io.model_file", "ModelFileError"),
    "DataFileError": ("fastdnn.io.data", "DataFileError"),
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError("module 'fastdnn.io' has no attribute %r" % name)
