"""Issue 9, item 4 ("the same numbers"), on tiny versions of the benchmark workloads.

For each workload of ``scripts/bench_minibatch.py`` -- W1 (ReLU network, softmax output,
Adam, batch sizes that leave a smaller last batch), W2 (sigmoid output, momentum 0.9) and
W3 (the cat network's depth, sigmoid output, Adam, many epochs) -- fastdnn's recorded
epoch costs and final parameters equal the NumPy reference's (``fastdnn.reference.model``,
the course's mini-batch loop) from the same start and batch order: float64 to 1e-9
relative, float32 (the reference then also runs in float32) to the tolerances below.
``scripts/bench_minibatch.py --check`` runs the same comparison on larger sizes.
"""

import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork
from fastdnn import reference as R

RTOL64 = 1e-9
#: float32: both sides round to float32 but in other orders (BLAS blocking, the fused 1/m
#: of the update); Adam's division by sqrt(s) magnifies it for small gradients. Parameters
#: are compared as max |a - b| / max |b| per array. (Observed here: costs < 2e-7,
#: parameters < 4e-7; on the larger sizes of --check costs < 2e-7, parameters < 2e-4.)
RTOL32_COSTS = 1e-4
RTOL32_PARAMS = 2e-3

#: name -> (layer_dims, m, output, optimizer, learning_rate, batch_size, epochs)
WORKLOADS = {
    "W1": ([12, 8, 6, 4], 70, "softmax", "adam", 1e-3, 16, 3),
    "W1_big_batch": ([12, 8, 6, 4], 70, "softmax", "adam", 1e-3, 64, 3),
    "W2": ([8, 6, 4, 1], 50, "sigmoid", "momentum", 0.05, 8, 3),
    "W3": ([30, 6, 5, 4, 1], 21, "sigmoid", "adam", 7e-3, 8, 20),
}


def _problem(dims, m, output, dtype, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.random((dims[0], m))
    if output == "softmax":
        labels = rng.integers(0, dims[-1], m)
        Y = np.zeros((dims[-1], m))
        Y[labels, np.arange(m)] = 1.0
    else:
        Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
        params["b%d" % l] = np.zeros((dims[l], 1))
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return cast(X), cast(Y), {k: cast(v) for k, v in params.items()}


def _both(name, dtype, **model_options):
    dims, m, output, optimizer, lr, batch, epochs = WORKLOADS[name]
    X, Y, p0 = _problem(dims, m, output, dtype)
    model = DeepNeuralNetwork(dims, lr, output=output, optimizer=optimizer, batch_size=batch,
                              dtype=dtype, **model_options)
    model.fit(X, Y, num_epochs=epochs, initial_parameters=p0, record_every=1)
    zeros = {"d" + k: np.zeros_like(v) for k, v in p0.items()}
    state = {"v": zeros, "s": {k: v.copy() for k, v in zeros.items()}, "t": 0}
    params, costs = R.model(X, Y, dims, optimizer, learning_rate=lr, mini_batch_size=batch,
                            num_epochs=epochs, print_cost=False, initial_parameters=p0,
                            output=output, record_every=1, optimizer_state=state)
    return model, params, costs


def _rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / np.abs(b).max())


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_float64_equals_reference(name):
    model, params, costs = _both(name, "float64")
    assert len(model.costs_) == len(costs) == WORKLOADS[name][-1]
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL64, atol=0)
    for k in params:
        assert model.parameters_[k].dtype == np.float64
        assert _rel(model.parameters_[k], params[k]) <= RTOL64, k


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_float32_close_to_float32_reference(name):
    model, params, costs = _both(name, "float32")
    assert all(p.dtype == np.float32 for p in params.values())  # the reference stayed float32
    assert len(model.costs_) == len(costs)
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL32_COSTS, atol=0)
    for k in params:
        assert model.parameters_[k].dtype == np.float32
        assert _rel(model.parameters_[k], params[k]) <= RTOL32_PARAMS, k
