"""Numba-compiled kernels: pure functions over preallocated NumPy arrays.

Kernels never validate, allocate result buffers or touch Python objects; the
thin API layer (``fastdnn.functional``, ``fastdnn.engine``) does that.
Activations are passed as small integer codes (see ``activations.CODES``).
"""
