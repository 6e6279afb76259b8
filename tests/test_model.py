"""``DeepNeuralNetwork`` against the plain-NumPy reference ``fastdnn.reference``.

Costs are recorded before the update at iterations 0, record_every, ...; the
model must reproduce ``fastdnn.reference.L_layer_model`` (same initial
parameters, same record_every) to rounding, with either training strategy.
Initialisation schemes are checked against formulas written out here.
"""

import io
import tracemalloc

import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork
from fastdnn import reference as R
from fastdnn.initializers import initialize

LR = 0.05


def _problem(n_x, m, seed=0):
    """A well-conditioned, linearly separable problem: X (n_x, m), Y (1, m)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    w = rng.randn(n_x)
    Y = (w @ X > 0).astype(np.float64).reshape(1, -1)
    assert 0 < Y.sum() < m
    return X, Y


def _assert_params_close(actual, expected, rtol):
    """Each array within rtol of the expected one, relative to the array's largest entry."""
    assert list(actual) == list(expected)
    for k in expected:
        assert actual[k].shape == expected[k].shape, k
        err = np.max(np.abs(actual[k] - expected[k]))
        assert err <= rtol * np.max(np.abs(expected[k])), (k, err)


def _assert_params_equal(actual, expected):
    assert list(actual) == list(expected)
    for k in expected:
        assert actual[k].dtype == expected[k].dtype, k
        np.testing.assert_array_equal(actual[k], expected[k], err_msg=k)


def _first_cost(X, Y, params):
    return float(R.compute_cost(R.L_model_forward(X, params)[0], Y))


# == fit against the reference ====================================================

# n_x > m so that "gram" (X^T X is (m, m)) is the strategy it is meant for.
HIDDEN = {1: [30, 5, 1], 2: [30, 5, 3, 1], 3: [30, 5, 4, 3, 1]}


@pytest.mark.parametrize("strategy", ["direct", "gram"])
@pytest.mark.parametrize("hidden", [1, 2, 3])
def test_fit_matches_reference(strategy, hidden):
    dims = HIDDEN[hidden]
    X, Y = _problem(30, 12)
    P0 = initialize(dims, "scaled")
    model = DeepNeuralNetwork(dims, LR, strategy=strategy)
    assert model.fit(X, Y, 200, record_every=25) is model
    ref_params, ref_costs = R.L_layer_model(X, Y, dims, LR, 200, record_every=25,
                                            initial_parameters=P0)
    assert model.strategy_ == strategy
    assert model.cost_iterations_ == [0, 25, 50, 75, 100, 125, 150, 175]
    assert len(model.costs_) == 8 and all(type(c) is float for c in model.costs_)
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-12, atol=0)
    assert ref_costs[-1] < 0.5 * ref_costs[0]          # it did learn
    _assert_params_close(model.parameters_, ref_params, 1e-12)
    assert model.n_iter_ == 200
    assert model.layer_dims_ == dims and model.dtype_ == np.float64


def test_fit_without_hidden_layer_matches_reference():
    X, Y = _problem(6, 20)
    model = DeepNeuralNetwork([6, 1], LR, init="seed").fit(X, Y, 150, record_every=1)
    ref_params, ref_costs = R.L_layer_model(X, Y, [6, 1], LR, 150, record_every=1)
    assert model.cost_iterations_ == list(range(150))
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-12, atol=0)
    _assert_params_close(model.parameters_, ref_params, 1e-12)


@pytest.mark.parametrize("record_every", [1, 7, 60, 1000])
def test_cost_iterations(record_every):
    X, Y = _problem(5, 8)
    model = DeepNeuralNetwork([5, 4, 1], LR).fit(X, Y, 60, record_every=record_every)
    assert model.cost_iterations_ == list(range(0, 60, record_every))
    _, ref_costs = R.L_layer_model(X, Y, [5, 4, 1], LR, 60, record_every=record_every,
                                   initial_parameters=initialize([5, 4, 1], "scaled"))
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-12, atol=0)


def test_auto_strategy_matches_reference():
    X, Y = _problem(30, 12)
    dims = HIDDEN[2]
    model = DeepNeuralNetwork(dims, LR).fit(X, Y, 100, record_every=10)
    assert model.strategy_ in ("direct", "gram")
    _, ref_costs = R.L_layer_model(X, Y, dims, LR, 100, record_every=10,
                                   initial_parameters=initialize(dims, "scaled"))
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-12, atol=0)


def test_float32_close_to_float64_reference():
    dims = [6, 5, 3, 1]
    X, Y = _problem(6, 40)
    model = DeepNeuralNetwork(dims, LR, dtype="float32").fit(X, Y, 100, record_every=10)
    ref_params, ref_costs = R.L_layer_model(X, Y, dims, LR, 100, record_every=10,
                                            initial_parameters=initialize(dims, "scaled"))
    assert model.dtype_ == np.float32
    assert all(v.dtype == np.float32 for v in model.parameters_.values())
    assert all(type(c) is float for c in model.costs_)
    # float32 rounding (eps 1.2e-7) over 100 iterations; the float32 path takes
    # dZL = AL - Y and the cost from the logits, so it stays this close.
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-4, atol=0)
    _assert_params_close(model.parameters_, ref_params, 1e-4)
    proba = model.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, R.L_model_forward(X, ref_params)[0], rtol=1e-4)


@pytest.mark.parametrize("strategy", ["direct", "gram"])
def test_float32_both_strategies_close_to_reference(strategy):
    dims = HIDDEN[2]
    X, Y = _problem(30, 12)
    model = DeepNeuralNetwork(dims, LR, dtype="float32", strategy=strategy)
    model.fit(X, Y, 100, record_every=10)
    _, ref_costs = R.L_layer_model(X, Y, dims, LR, 100, record_every=10,
                                   initial_parameters=initialize(dims, "scaled"))
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-4, atol=0)


# == initialisation schemes ==================================================

INIT_DIMS = [7, 5, 4, 1]


def _weights_then_zero_biases(dims, scale, seed=1):
    """W_l = randn(n_l, n_prev) * scale(n_prev, n_l) drawn W1, W2, ... from np.random.seed(seed)."""
    np.random.seed(seed)
    params = {}
    for l in range(1, len(dims)):
        n, n_prev = dims[l], dims[l - 1]
        params["W%d" % l] = np.random.randn(n, n_prev) * scale(n_prev, n)
        params["b%d" % l] = np.zeros((n, 1))
    return params


def _follow_up_init(dims, seed=1):
    """The cat-classifier follow-up's initialize_parameters_deep, written out."""
    np.random.seed(seed)
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        params["b%d" % l] = np.zeros((dims[l], 1))
    return params


EXPECTED_INIT = {
    "seed": lambda dims: R.initialise_parameters_deep(dims),
    "small": lambda dims: _weights_then_zero_biases(dims, lambda k, n: 0.01),
    "he": lambda dims: _weights_then_zero_biases(dims, lambda k, n: np.sqrt(2 / k)),
    "xavier": lambda dims: _weights_then_zero_biases(dims, lambda k, n: np.sqrt(2 / (k + n))),
}


@pytest.mark.parametrize("init", ["seed", "small", "he", "xavier"])
def test_init_scheme_bit_for_bit(init):
    _assert_params_equal(initialize(INIT_DIMS, init), EXPECTED_INIT[init](INIT_DIMS))


def test_scaled_init_matches_follow_up_to_rounding():
    got, want = initialize(INIT_DIMS, "scaled", 1), _follow_up_init(INIT_DIMS)
    assert list(got) == list(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-15, atol=0, err_msg=k)
    _assert_params_equal(initialize(INIT_DIMS, "scaled"), initialize(INIT_DIMS, "scaled", 1))


def test_scaled_init_bit_for_bit_with_follow_up():
    dims = [12288, 20, 7, 5, 1]   # the follow-up's cat classifier
    _assert_params_equal(initialize(dims, "scaled", 1), _follow_up_init(dims))


def test_xavier_and_glorot_identical():
    _assert_params_equal(initialize(INIT_DIMS, "glorot"), initialize(INIT_DIMS, "xavier"))
    _assert_params_equal(initialize(INIT_DIMS, "glorot", 5), initialize(INIT_DIMS, "xavier", 5))


def test_init_spread_matches_scheme():
    """Sample std of W1 (400 x 1000 draws) within 2% of each scheme's formula."""
    dims = [1000, 400, 1]
    std = {"scaled": 1 / np.sqrt(1000), "small": 0.01, "he": np.sqrt(2 / 1000),
           "xavier": np.sqrt(2 / 1400), "seed": 1.0}
    for init, want in std.items():
        assert np.std(initialize(dims, init, 0)["W1"]) == pytest.approx(want, rel=0.02), init


@pytest.mark.parametrize("init", ["seed", "scaled", "small", "he", "xavier", "glorot"])
def test_fit_starts_from_the_init_scheme(init):
    X, Y = _problem(7, 9)
    expected = (_follow_up_init(INIT_DIMS) if init == "scaled"
                else EXPECTED_INIT["xavier" if init == "glorot" else init](INIT_DIMS))
    model = DeepNeuralNetwork(INIT_DIMS, LR, init=init).fit(X, Y, 1, record_every=1)
    assert model.costs_[0] == pytest.approx(_first_cost(X, Y, expected), rel=1e-12)
    ref_params, _ = R.L_layer_model(X, Y, INIT_DIMS, LR, 1, initial_parameters=expected)
    _assert_params_close(model.parameters_, ref_params, 1e-12)


def test_initial_parameters_win_over_init():
    X, Y = _problem(7, 9)
    P = _weights_then_zero_biases(INIT_DIMS, lambda k, n: 0.5, seed=42)
    model = DeepNeuralNetwork(INIT_DIMS, LR, init="he", random_state=3)
    model.fit(X, Y, 20, initial_parameters=P, record_every=5)
    ref_params, ref_costs = R.L_layer_model(X, Y, INIT_DIMS, LR, 20, record_every=5,
                                            initial_parameters=P)
    np.testing.assert_allclose(model.costs_, ref_costs, rtol=1e-12, atol=0)
    _assert_params_close(model.parameters_, ref_params, 1e-12)


@pytest.mark.parametrize("init", ["seed", "scaled", "he"])
def test_random_state(init):
    X, Y = _problem(7, 9)
    fit = lambda rs: DeepNeuralNetwork(INIT_DIMS, LR, init=init, random_state=rs).fit(
        X, Y, 15, record_every=3)
    default, seven, seven_again = fit(None), fit(7), fit(7)
    assert seven.costs_ == seven_again.costs_
    _assert_params_equal(seven.parameters_, seven_again.parameters_)
    assert seven.costs_[0] != default.costs_[0]
    expected7 = initialize(INIT_DIMS, init, 7)
    assert seven.costs_[0] == pytest.approx(_first_cost(X, Y, expected7), rel=1e-12)
    historical = 3 if init == "seed" else 1
    _assert_params_equal(initialize(INIT_DIMS, init), initialize(INIT_DIMS, init, historical))


def test_fit_leaves_global_random_state_alone():
    X, Y = _problem(7, 9)
    np.random.seed(123)
    want = np.random.rand(3)
    np.random.seed(123)
    DeepNeuralNetwork(INIT_DIMS, LR, init="seed").fit(X, Y, 3)
    DeepNeuralNetwork(INIT_DIMS, LR, init="he", random_state=9).fit(X, Y, 3)
    np.testing.assert_array_equal(np.random.rand(3), want)


# == inference =================================================================

@pytest.fixture(scope="module")
def trained():
    X, Y = _problem(10, 30)
    return DeepNeuralNetwork([10, 6, 4, 1], 0.1).fit(X, Y, 300), X, Y


def test_predict_proba_matches_reference(trained):
    model, X, _ = trained
    Xnew = np.random.RandomState(8).randn(10, 17)
    for data in (X, Xnew):
        proba = model.predict_proba(data)
        assert proba.shape == (1, data.shape[1]) and proba.dtype == np.float64
        np.testing.assert_allclose(proba, R.L_model_forward(data, model.parameters_)[0],
                                   rtol=1e-13, atol=0)


def test_predict_is_proba_above_half(trained):
    model, X, _ = trained
    pred = model.predict(X)
    assert pred.shape == (1, X.shape[1]) and pred.dtype.kind == "i"
    assert set(np.unique(pred)) <= {0, 1} and len(np.unique(pred)) == 2
    np.testing.assert_array_equal(pred, (model.predict_proba(X) > 0.5).astype(int))
    np.testing.assert_array_equal(pred, R.predict(X, model.parameters_))


def test_score_matches_reference_accuracy(trained):
    model, X, Y = trained
    want = float(np.mean(R.predict(X, model.parameters_) == Y))
    assert model.score(X, Y) == want
    assert model.score(X, 1 - Y) == pytest.approx(1 - want)


def _hand_model():
    """A fitted [2, 1] model whose parameters are then set to W = [[1, -1]], b = [[0]]."""
    X = np.array([[2.0, 0.0, 1.0, 3.0, 0.0, 4.0],
                  [0.0, 1.0, 3.0, 1.0, 0.5, 4.0]])
    model = DeepNeuralNetwork([2, 1], 0.1).fit(X, np.array([[1, 0, 0, 1, 0, 1]]), 1)
    model.parameters_ = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]])}
    return model, X


def test_predict_and_score_hand_computed():
    model, X = _hand_model()
    # z = x0 - x1 = 2, -1, -2, 2, -0.5, 0  ->  sigmoid(0) = 0.5 is *not* > 0.5
    np.testing.assert_allclose(model.predict_proba(X),
                               1 / (1 + np.exp(-np.array([[2, -1, -2, 2, -0.5, 0]]))), rtol=1e-15)
    np.testing.assert_array_equal(model.predict(X), [[1, 0, 0, 1, 0, 0]])
    # predictions 1 0 0 1 0 0 vs labels 1 1 0 1 1 0: right on columns 0, 2, 3, 5
    assert model.score(X, np.array([[1, 1, 0, 1, 1, 0]])) == 4 / 6
    assert model.score(X, np.array([True, False, False, True, False, False])) == 1.0


# == warm start =================================================================

@pytest.mark.parametrize("n, k, record_every", [(100, 100, 50), (150, 120, 100), (7, 13, 5)])
def test_warm_start_equals_single_fit_direct(n, k, record_every):
    X, Y = _problem(30, 12)
    dims = HIDDEN[2]
    a = DeepNeuralNetwork(dims, LR, strategy="direct").fit(X, Y, n, record_every=record_every)
    assert a.fit(X, Y, k, record_every=record_every, warm_start=True) is a
    b = DeepNeuralNetwork(dims, LR, strategy="direct").fit(X, Y, n + k, record_every=record_every)
    assert a.n_iter_ == b.n_iter_ == n + k
    assert a.cost_iterations_ == b.cost_iterations_ == list(range(0, n + k, record_every))
    assert a.costs_ == b.costs_                       # bit-identical
    _assert_params_equal(a.parameters_, b.parameters_)


@pytest.mark.parametrize("n, k, record_every", [(100, 100, 50), (150, 120, 100)])
def test_warm_start_equals_single_fit_gram(n, k, record_every):
    # gram re-forms Z1 = W1 X + b1 at the start of each fit: equal to rounding only.
    X, Y = _problem(30, 12)
    dims = HIDDEN[2]
    a = DeepNeuralNetwork(dims, LR, strategy="gram").fit(X, Y, n, record_every=record_every)
    a.fit(X, Y, k, record_every=record_every, warm_start=True)
    b = DeepNeuralNetwork(dims, LR, strategy="gram").fit(X, Y, n + k, record_every=record_every)
    assert a.strategy_ == b.strategy_ == "gram"
    assert a.n_iter_ == n + k
    assert a.cost_iterations_ == b.cost_iterations_
    np.testing.assert_allclose(a.costs_, b.costs_, rtol=1e-12, atol=0)
    _assert_params_close(a.parameters_, b.parameters_, 1e-12)


def test_warm_start_on_unfitted_model_is_a_plain_fit():
    X, Y = _problem(5, 8)
    a = DeepNeuralNetwork([5, 4, 1], LR).fit(X, Y, 30, record_every=4, warm_start=True)
    b = DeepNeuralNetwork([5, 4, 1], LR).fit(X, Y, 30, record_every=4)
    assert a.costs_ == b.costs_ and a.n_iter_ == 30
    _assert_params_equal(a.parameters_, b.parameters_)


def test_refit_without_warm_start_starts_over():
    X, Y = _problem(5, 8)
    model = DeepNeuralNetwork([5, 4, 1], LR).fit(X, Y, 30, record_every=4)
    first = (list(model.costs_), {k: v.copy() for k, v in model.parameters_.items()})
    model.fit(X, Y, 30, record_every=4)
    assert model.costs_ == first[0] and model.n_iter_ == 30
    _assert_params_equal(model.parameters_, first[1])


# == verbose ================================================================

def test_verbose_gives_the_same_result():
    X, Y = _problem(30, 12)
    quiet = DeepNeuralNetwork(HIDDEN[2], LR).fit(X, Y, 120, record_every=25)
    loud = DeepNeuralNetwork(HIDDEN[2], LR).fit(X, Y, 120, record_every=25, verbose=True)
    assert loud.costs_ == quiet.costs_ and loud.cost_iterations_ == quiet.cost_iterations_
    _assert_params_equal(loud.parameters_, quiet.parameters_)


def test_verbose_progress_bar_reaches_the_end(monkeypatch):
    import tqdm.auto

    bars = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.update(disable=False, file=io.StringIO())
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    X, Y = _problem(5, 8)
    model = DeepNeuralNetwork([5, 4, 1], LR).fit(X, Y, 120, record_every=50, verbose=True)
    model.fit(X, Y, 30, record_every=50, verbose=True, warm_start=True)
    assert [(b.total, b.n) for b in bars] == [(120, 120), (30, 30)]
    assert model.cost_iterations_ == [0, 50, 100]
    assert bars[0].postfix == "cost=%.6f" % model.costs_[2]   # the last cost recorded
    assert bars[1].postfix is None                           # iterations 120..149: no record


# == memory ==================================================================

def _fit_peak_bytes(model, X, Y, n, record_every):
    """Peak traced memory (above the start) during model.fit(X, Y, n)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        model.fit(X, Y, n, record_every=record_every)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()


@pytest.mark.parametrize("dims, m, strategy", [([20, 16, 8, 1], 64, "direct"),
                                               ([64, 16, 8, 1], 20, "gram")])
def test_fit_memory_does_not_grow_with_iterations(dims, m, strategy):
    X, Y = _problem(dims[0], m)
    model = DeepNeuralNetwork(dims, 0.01, strategy=strategy)
    model.fit(X, Y, 5, record_every=5)          # warm-up: imports, kernels loaded
    short = _fit_peak_bytes(model, X, Y, 20, 20)
    long = _fit_peak_bytes(model, X, Y, 2000, 2000)
    # Both runs allocate the same workspace (tens of KiB) and record one cost. Numba's
    # allocations go through CPython's allocator, so tracemalloc sees them too. 32 KiB
    # over the 1980 extra iterations allows < 17 bytes per iteration: less than one
    # retained Python float and far less than any array, so any per-iteration
    # allocation that is kept would exceed it; the slack absorbs allocator noise.
    assert long - short < 32 * 1024, (short, long)


def test_fit_memory_grows_only_by_the_recorded_costs():
    X, Y = _problem(20, 64)
    model = DeepNeuralNetwork([20, 16, 8, 1], 0.01, strategy="direct")
    model.fit(X, Y, 5, record_every=5)
    short = _fit_peak_bytes(model, X, Y, 20, 10)      # records 2 costs
    long = _fit_peak_bytes(model, X, Y, 2000, 10)     # records 200 costs
    assert len(model.costs_) == 200
    # Each record is an (iteration, cost) tuple plus slots in three lists: about
    # 130 bytes; allow 256 per extra record on top of the 32 KiB slack above.
    assert long - short < 32 * 1024 + 256 * 198, (short, long)
