"""Data sets and model files: NumPy and h5py only (never numba, never the engine).

The documented exception types for bad files, both ``ValueError`` subclasses whose
message names the file and what is wrong:

- ``ModelFileError`` (``fastdnn.io.model_file``): a model file that is damaged,
  truncated, edited after saving, foreign, of a newer format, or has contents of the
  wrong type, dtype, shape or size (and a payload ``save_model_file`` refuses).
- ``DataFileError`` (``fastdnn.io.data``): a data file that is not readable HDF5, lacks
  a dataset, or has one of the wrong dtype, shape, size or values.

``HDF5Source`` (``fastdnn.io.sources``) streams examples from HDF5 in chunks for
out-of-core ``fit`` / ``predict`` / ``score``.

Importing ``fastdnn.io`` imports h5py; ``import fastdnn`` does not import this
package until a file is read or written.
"""

from .data import DataFileError
from .model_file import ModelFileError
from .sources import HDF5Source

__all__ = ["ModelFileError", "DataFileError", "HDF5Source"]
