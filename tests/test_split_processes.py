"""The "split" strategy gives the same bits in every process: the one that compiles its
kernels, the ones that load them from Numba's cache, and this test process.

A resumed run (a new process, usually a warm cache) must continue exactly where the
killed one stood, so a difference in the last bits between a compiling and a loading
process is a bug (it was one: a cached parallel kernel ran copies of its parts optimised
again after linking, which rounded momentum and Adam steps differently;
``fastdnn.engine.batches.load_part_kernels`` is the fix). Oracle: the same training in
this process. The first subprocess compiles into an empty cache (two kernel signatures),
the second loads that cache.
"""

import os
import subprocess
import sys

#: Trains split models (momentum with L2 and Adam, sigmoid and softmax, float64 and float32:
#: two signatures of the kernels) and prints one SHA-256 per model.
SCRIPT = """
import hashlib
import numpy as np
from fastdnn import DeepNeuralNetwork

rng = np.random.RandomState(0)
X = rng.randn(20, 300)
labels = {"sigmoid": (rng.randn(1, 20) @ X > 0).astype(float),
          "softmax": np.argmax(rng.randn(4, 20) @ X, axis=0).reshape(1, -1)}
cases = [("float64", "momentum", "sigmoid", dict(lambd=0.2, batch_size=7)),
         ("float64", "adam", "softmax", dict(batch_size=32)),
         ("float32", "adam", "softmax", dict(batch_size=32)),
         ("float32", "momentum", "sigmoid", dict(lambd=0.2, batch_size=7))]
for dtype, optimizer, output, kw in cases:
    n_out = 4 if output == "softmax" else 1
    model = DeepNeuralNetwork([20, 16, 8, n_out], 0.01, optimizer=optimizer, dtype=dtype,
                              output=output, random_state=1, strategy="split", **kw)
    model.fit(X, labels[output], num_epochs=5)
    digest = hashlib.sha256()
    for key in sorted(model.parameters_):
        digest.update(np.ascontiguousarray(model.parameters_[key]).tobytes())
    digest.update(np.asarray(model.costs_, dtype=np.float64).tobytes())
    print(digest.hexdigest())
"""


def _digests_in_subprocess(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop("FASTDNN_NUMBA_CACHE", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, check=True)
    return out.stdout.split()


def _digests_here(capsys):
    exec(compile(SCRIPT, "split_processes_script", "exec"), {})
    return capsys.readouterr().out.split()


def test_split_same_bits_compiled_cached_and_here(tmp_path, capsys):
    compiled = _digests_in_subprocess(tmp_path / "numba-cache")
    cached = _digests_in_subprocess(tmp_path / "numba-cache")
    here = _digests_here(capsys)
    assert len(set(compiled)) == 4            # four distinct trainings were hashed
    assert cached == compiled, "a process loading the split kernels from the cache differs"
    assert here == compiled

