"""Helpers for ``scripts/bench.py``: competitor baselines, machine peak and timing.

* :mod:`.baselines` -- the same full-batch GD training run in NumPy (the
  reference), PyTorch (eager manual, autograd, torch.compile) and JAX, behind
  one interface (``make_<name>(layer_dims, X, Y, params0, learning_rate, dtype)``).
* :mod:`.environment` -- thread limits set before numpy loads.
* :mod:`.machine` -- GEMM peak GFLOP/s, BLAS thread-pool info and limits.
* :mod:`.timing` -- interleaved timer, peak RSS, first-call time in a fresh
  interpreter.
* :mod:`.selfcheck` -- ``python -m scripts.bench_lib.selfcheck``: all
  baselines agree on the parameters after 20 iterations.
* :mod:`.minibatch` -- issue 9's mini-batch workloads (W1, W2, W3) and their
  implementations (fastdnn, the reference, PyTorch eager / fused / compile, JAX
  step / scan, scikit-learn) for ``scripts/bench_minibatch.py`` and the asv
  suite, and the fastdnn-equals-reference check.
* :mod:`.minibatch_profile` -- where a fastdnn mini-batch step's time goes.

None of torch / jax is a dependency of fastdnn: they are imported lazily, and
a baseline whose library is missing raises :class:`BaselineUnavailable`.
"""
