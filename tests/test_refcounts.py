"""The compiled training loops count no references per step (``kernels.views.borrow``).

Numba takes and drops a reference (two atomic operations) on every array an inlined
helper is handed; before the loops borrowed their arrays, ``train_minibatch`` held 62
such increments (``train_full`` 64) and a tiny network at batch 1 spent 40% of its step
in them. This test compiles fresh (uncached) copies of the loops, runs them through the
public API and counts the reference-count calls left in each loop's optimised LLVM IR.
"""

import re

import numpy as np
import pytest
from numba import njit

import fastdnn
from fastdnn.engine import batches, trainer
from fastdnn.kernels import training
from fastdnn.kernels.config import JIT_OPTIONS


def _increfs(dispatcher, name):
    """NRT_incref calls in the compiled body of ``name`` (the loop itself, not its wrappers)."""
    (ir,) = dispatcher.inspect_llvm().values()
    bodies = [f for f in re.split(r"\n(?=define )", ir)
              if f.startswith("define") and name in f.splitlines()[0]
              and "cpython" not in f.splitlines()[0] and "cfunc" not in f.splitlines()[0]]
    assert len(bodies) == 1, "expected one compiled body of %s" % name
    return bodies[0].count("@NRT_incref(")


@pytest.mark.parametrize("where, name, options, length", [
    (batches, "train_minibatch", dict(batch_size=4, optimizer="adam"), dict(num_epochs=2)),
    (trainer, "train_full", dict(optimizer="momentum"), dict(num_iterations=3)),
])
def test_training_loops_count_no_references(monkeypatch, where, name, options, length):
    fresh = njit(**dict(JIT_OPTIONS, cache=False))(getattr(training, name).py_func)
    monkeypatch.setattr(where, name, fresh)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 10)), (rng.random((1, 10)) < 0.5).astype(float)
    model = fastdnn.DeepNeuralNetwork([3, 4, 1], 0.1, strategy="direct", random_state=0,
                                      **options)
    model.fit(X, Y, **length)
    assert len(fresh.signatures) == 1, "the fit did not run through the fresh copy"
    assert _increfs(fresh, name) == 0
