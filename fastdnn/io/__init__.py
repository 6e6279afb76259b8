"""Data sets and model files: NumPy and h5py only (never numba, never the engine)."""
