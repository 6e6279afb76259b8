"""Numba-compiled kernels: pure functions over preallocated NumPy arrays.

Kernels never validate, allocate result buffers or touch Python objects; the
thin API layer (``fastdnn.functional``, ``fastdnn.engine``) does that.
Activations are passed as small integer codes (see ``activations.CODES``).

Numba's on-disk cache checks only the file of the function it caches, but the
training loops inline kernels from their sibling modules (and options from
``config.py``). So on import the cached kernels in this folder are
dropped whenever any of those sources changed since they were written. (A cache
kept elsewhere through ``NUMBA_CACHE_DIR`` is not checked: clear it after
editing kernels.)
"""

import hashlib
from pathlib import Path


def _drop_stale_cache():
    here = Path(__file__).resolve().parent
    sources = sorted(here.glob("*.py"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "fastdnn-kernels.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            f.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # read-only install: Numba then caches under NUMBA_CACHE_DIR or not at all
        pass


_drop_stale_cache()
