"""Mini-batch training (issue 9): one shuffled epoch per timed call, fastdnn vs the
reference and, where installed, PyTorch / JAX / scikit-learn.

The workloads are those of ``scripts/bench_minibatch.py`` (``scripts/bench_lib/minibatch.py``)
cut short so the suite stays quick: the same networks, optimisers, batch sizes and
dtypes, but fewer examples (``EXAMPLES``; W3 keeps the cat data's 209 and runs one epoch
per call instead of 100). So **time per step = reported time / STEPS[workload]**
(``track_steps_per_call`` records it). "tiny" (5-4-3 softmax, Adam, batch 4, 16 examples)
is what ``smoke.sh`` runs.

* fastdnn: its ``TrainingEngine`` (what ``fit`` runs), built and run for one epoch in
  setup (kernels compiled or loaded, buffers paged in); each call is one more epoch.
* reference: ``fastdnn.reference.model`` (the course's loop) continued one epoch.
* torch_eager (manual course-form update), torch_fused (autograd + fused Adam), jax_step
  (jit per step), jax_scan (jit of the epoch with ``lax.scan``), sklearn (MLPClassifier,
  one epoch per ``fit``): skipped (n/a) where the library is not installed. They are
  never dependencies of fastdnn.

Implementations are cached per process, with their warm-up epoch done in setup, so
compilation never lands in a timing. A commit whose fastdnn lacks mini-batch training
shows n/a (setup raises NotImplementedError, asv's way to skip).
"""

import sys
from pathlib import Path

from . import common

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

#: workload -> examples per epoch in the asv suite (W3: the cat data's 209).
EXAMPLES = {"tiny": 16, "W1_b32": 1024, "W1_b128": 1024, "W1_b1024": 2048,
            "W1_b128_f64": 1024, "W2_f64": 2048, "W2_f32": 2048, "W3": 209}
WORKLOAD_NAMES = list(EXAMPLES)
IMPL_NAMES = ["fastdnn", "fastdnn_split", "split_native", "reference", "torch_eager", "torch_fused",
              "jax_step", "jax_scan",
              "sklearn"]
TINY = dict(data="W1", dims=[5, 4, 3], m=16, output="softmax", optimizer="adam", lr=1e-3,
            batch=4, dtype="float64", epochs=1, epochs_per_call=1)


def _lib():
    """scripts/bench_lib/minibatch.py (the workloads and implementations), or skip."""
    if str(_SCRIPTS) not in sys.path:
        sys.path.insert(0, str(_SCRIPTS))
    try:
        from bench_lib import minibatch
    except ImportError as exc:
        raise NotImplementedError("scripts/bench_lib/minibatch.py not importable: %s" % exc)
    return minibatch


def _workload(name):
    lib = _lib()
    return dict(TINY) if name == "tiny" else dict(lib.WORKLOADS[name])


def steps(name):
    w = _workload(name)
    return -(-EXAMPLES[name] // w["batch"])


_IMPLS = {}


def warm_impl(impl, name):
    """A cached implementation of workload ``name`` that has run one epoch already."""
    key = (impl, name)
    if key not in _IMPLS:
        lib = _lib()
        w = _workload(name)
        try:
            X, Y, p0, labels, _ = lib.make_data(w, EXAMPLES[name])
            obj = lib.make_impl(impl, w, X, Y, p0, labels, threads=common.blas_threads_wanted())
            obj.epoch()
        except lib.BaselineUnavailable as exc:
            raise NotImplementedError(str(exc))
        except (ImportError, TypeError, AttributeError, ValueError) as exc:
            # older fastdnn: no mini-batches (TypeError...) or no "split" strategy (ValueError)
            raise NotImplementedError("%s unavailable here: %s" % (impl, exc))
        common.limit_threads()  # torch / jax may have loaded new pools
        _IMPLS[key] = obj
    return _IMPLS[key]


class TimeMinibatchEpoch:
    """One epoch of the reduced workload per call (time per step = time / STEPS)."""

    params = [IMPL_NAMES, WORKLOAD_NAMES]
    param_names = ["impl", "workload"]
    repeat = (1, 5, 10.0)
    number = 1
    timeout = 600

    def setup(self, impl, workload):
        common.limit_threads()
        self.impl = warm_impl(impl, workload)

    def time_epoch(self, impl, workload):
        self.impl.epoch()


def track_steps_per_call(workload):
    """Update steps in one ``TimeMinibatchEpoch`` call of this workload."""
    return steps(workload)


track_steps_per_call.params = [WORKLOAD_NAMES]
track_steps_per_call.param_names = ["workload"]
track_steps_per_call.unit = "steps"


def track_same_numbers_tiny():
    """Largest relative difference between fastdnn and the reference (recorded costs and
    final parameters) on the tiny workload, float64, 3 epochs from the same start and
    batch order: should stay near 1e-16 (tests assert below 1e-9)."""
    lib = _lib()
    r = lib.check_workload(dict(TINY), m=EXAMPLES["tiny"], epochs=3)
    return max(r["cost_rel"], r["param_rel"])


track_same_numbers_tiny.unit = "relative difference"
