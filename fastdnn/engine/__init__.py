"""Python drivers over the compiled kernels: buffers, strategies, threads, training runs.

No argument validation, no files, no scikit-learn or Dask here: the API layer
(``fastdnn.model``, ``fastdnn.functional``) validates, and ``fastdnn.io`` reads
and writes files.
"""

from .trainer import TrainingDivergedError, TrainingEngine

__all__ = ["TrainingEngine", "TrainingDivergedError"]
