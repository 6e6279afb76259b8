"""``DeepNeuralNetwork.fit`` against ``fastdnn.reference.model``, the course's training loop.

The reference is plain NumPy written the optimization notebook's way (see its
docstring); every configuration of the compiled trainer must reproduce it to
rounding: float64 within RTOL = 1e-9 on ``costs_`` and ``parameters_`` (each
array relative to its largest entry). Dropout masks reach the reference through
``fastdnn.engine.rng.mask_source(dropout_seed, keep_prob)`` (the compiled
generator's own stream), decays as the course's functions.

Also here: float32 against the float64 reference, exact warm starts, the Gram
strategy, ``functional.model``, the course's conventions (batch order, Adam's t,
the recorded cost) written out by hand, prediction and scores, validation data
and early stopping, and memory that does not grow with the number of steps.
"""

import functools
import math
import tracemalloc

import numpy as np
import pytest
from conftest import (
    DIMS,
    M,
    assert_params_close,
    assert_params_equal,
    binary_problem,
    max_rel_error,
    regression_problem,
    softmax_problem,
    start_parameters,
)

from fastdnn import DeepNeuralNetwork
from fastdnn import functional as F
from fastdnn import reference as R
from fastdnn.engine import TrainingEngine
from fastdnn.engine.options import TrainingOptions
from fastdnn.engine.rng import mask_source

LR = 0.05
EPOCHS = 6
#: float64 against the float64 reference.
RTOL = 1e-9
#: float32 against the float64 reference: float32 rounding (eps 1.2e-7) over a few
#: epochs; Adam divides by sqrt(s), which amplifies the relative error of small
#: gradients, so parameters get the looser bound (observed: costs < 4e-6, parameters < 4e-5).
RTOL32_COSTS = 1e-4
RTOL32_PARAMS = 1e-3


# == problems and the two trainers ===============================================

def _problem(name):
    """(layer_dims, X, Y for fit, Y for the reference, output name) of a named problem."""
    if name == "sigmoid":
        X, Y = binary_problem()
        return DIMS, X, Y, Y, "sigmoid"
    if name == "sigmoid2":  # two independent sigmoid outputs
        X, Y = binary_problem(n_out=2)
        return [4, 3, 2, 2], X, Y, Y, "sigmoid"
    if name == "softmax":  # one-hot columns
        X, _, onehot = softmax_problem()
        return [4, 3, 2, 3], X, onehot, onehot, "softmax"
    if name == "softmax_labels":  # integer labels (1, m); the reference takes them one-hot
        X, labels, onehot = softmax_problem()
        return [4, 3, 2, 3], X, labels, onehot, "softmax"
    if name == "identity":
        X, Y = regression_problem()
        return DIMS, X, Y, Y, "identity"
    raise AssertionError(name)


def _reference_kwargs(kw):
    """The reference's arguments for the model's keyword arguments ``kw``."""
    kw = dict(kw)
    out = {"optimizer": kw.pop("optimizer", "gd"),
           "mini_batch_size": kw.pop("batch_size", None)}
    decay, interval = kw.pop("decay", None), kw.pop("time_interval", 1000)
    if decay == "inverse":
        out["decay"] = R.update_lr
    elif decay == "scheduled":
        out["decay"] = functools.partial(R.schedule_lr_decay, time_interval=interval)
    dropout_seed = kw.pop("dropout_seed", 0)
    if kw.get("keep_prob", 1.0) < 1:
        out["masks"] = mask_source(dropout_seed, kw["keep_prob"])
    if "shuffle_seed" in kw:
        out["seed"] = kw.pop("shuffle_seed")
    out.update(kw)  # hidden_activation, lambd, keep_prob, beta, beta1, ...
    return out


def _fit_both(problem, kw, lr=LR, epochs=EPOCHS, record_every=1, dtype="float64"):
    """(model, reference parameters, reference costs, initial parameters) of one configuration."""
    dims, X, Y, Y_ref, output = _problem(problem)
    kw = dict(kw, output=output)
    P0 = start_parameters(dims)
    model = DeepNeuralNetwork(dims, lr, dtype=dtype, **kw)
    model.fit(X, Y, num_epochs=epochs, record_every=record_every, initial_parameters=P0)
    params, costs = R.model(X, Y_ref, dims, learning_rate=lr, num_epochs=epochs,
                            print_cost=False, record_every=record_every, initial_parameters=P0,
                            **_reference_kwargs(kw))
    return model, params, costs, P0


MB = dict(batch_size=8)  # 30 examples: batches of 8, 8, 8 and a smaller last one of 6
DROP = dict(keep_prob=0.8, dropout_seed=7)

CONFIGS = [
    # every output
    pytest.param("sigmoid", dict(), id="sigmoid-gd-full"),
    pytest.param("sigmoid2", dict(optimizer="adam", **MB), id="sigmoid2-adam-mb"),
    pytest.param("softmax", dict(optimizer="momentum", **MB), id="softmax-momentum-mb"),
    pytest.param("softmax_labels", dict(optimizer="adam"), id="softmax_labels-adam-full"),
    pytest.param("softmax_labels", dict(optimizer="gd", lambd=0.2, **MB, **DROP),
                 id="softmax_labels-gd-mb-l2-dropout"),
    pytest.param("identity", dict(**MB), id="identity-gd-mb"),
    pytest.param("identity", dict(optimizer="adam", lambd=0.3, **MB, **DROP),
                 id="identity-adam-mb-l2-dropout"),
    # every hidden activation
    pytest.param("sigmoid", dict(hidden_activation="relu", optimizer="momentum"),
                 id="relu-momentum-full"),
    pytest.param("sigmoid", dict(hidden_activation="leaky_relu", optimizer="adam", **MB),
                 id="leaky_relu-adam-mb"),
    pytest.param("sigmoid", dict(hidden_activation="tanh", **MB, **DROP), id="tanh-gd-mb-dropout"),
    pytest.param("sigmoid", dict(hidden_activation="sigmoid", optimizer="momentum", lambd=0.2,
                                 **MB),
                 id="sigmoid-momentum-mb-l2"),
    pytest.param("sigmoid", dict(hidden_activation="identity", optimizer="adam", **DROP),
                 id="identity_hidden-adam-full-dropout"),
    pytest.param("softmax", dict(hidden_activation=["tanh", "leaky_relu"], optimizer="momentum",
                                 lambd=0.1, **MB, **DROP), id="per_layer-momentum-mb-l2-dropout"),
    # every optimizer, full batch and mini-batches
    pytest.param("sigmoid", dict(optimizer="gd", **MB), id="gd-mb"),
    pytest.param("sigmoid", dict(optimizer="momentum", beta=0.8, **MB), id="momentum-beta-mb"),
    pytest.param("sigmoid", dict(optimizer="adam"), id="adam-full"),
    pytest.param("sigmoid", dict(optimizer="adam", beta1=0.8, beta2=0.99, epsilon=1e-6, **MB),
                 id="adam-betas-mb"),
    pytest.param("sigmoid", dict(batch_size=7, shuffle_seed=3), id="gd-mb7-seed3"),
    pytest.param("sigmoid", dict(optimizer="adam", batch_size=1), id="adam-mb1"),
    pytest.param("sigmoid", dict(optimizer="momentum", batch_size=30), id="momentum-mb-equals-m"),
    pytest.param("sigmoid", dict(optimizer="adam", batch_size=64), id="adam-mb-above-m"),
    # L2 and dropout
    pytest.param("sigmoid", dict(lambd=0.5), id="gd-full-l2"),
    pytest.param("sigmoid", dict(keep_prob=0.6, dropout_seed=11), id="gd-full-dropout"),
    pytest.param("sigmoid", dict(optimizer="adam", lambd=0.3, **MB, **DROP),
                 id="adam-mb-l2-dropout"),
    # decay
    pytest.param("sigmoid", dict(decay="inverse", decay_rate=0.5), id="gd-full-inverse"),
    pytest.param("sigmoid", dict(optimizer="adam", decay="inverse", decay_rate=0.3, **MB),
                 id="adam-mb-inverse"),
    pytest.param("sigmoid", dict(optimizer="momentum", decay="scheduled", decay_rate=1.0,
                                 time_interval=2), id="momentum-full-scheduled2"),
    pytest.param("softmax", dict(optimizer="adam", decay="scheduled", decay_rate=2.0,
                                 time_interval=3, lambd=0.2, hidden_activation="tanh",
                                 **MB, **DROP),
                 id="softmax-adam-mb-scheduled3-l2-dropout"),
]


@pytest.mark.parametrize("problem, kw", CONFIGS)
def test_fit_matches_reference_model(problem, kw):
    model, params, costs, P0 = _fit_both(problem, kw)
    assert model.cost_iterations_ == list(range(EPOCHS))
    assert all(type(c) is float for c in model.costs_)
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL, atol=0)
    assert_params_close(model.parameters_, params, RTOL)
    assert model.n_iter_ == EPOCHS
    assert max_rel_error(params, P0) > 1e-3          # the run did move the parameters


def test_every_option_changes_the_run():
    """The options compared above are not no-ops: each one changes the trained parameters
    (so a trainer that ignored it would fail the comparison with the reference)."""
    X, Y = binary_problem()
    P0 = start_parameters(DIMS)

    def params(**kw):
        kw = dict(dict(optimizer="adam", batch_size=8, hidden_activation="tanh"), **kw)
        model = DeepNeuralNetwork(DIMS, LR, **kw)
        return model.fit(X, Y, num_epochs=EPOCHS, initial_parameters=P0).parameters_

    base = params()
    changes = [dict(optimizer="momentum"), dict(optimizer="gd"), dict(batch_size=None),
               dict(batch_size=7), dict(shuffle_seed=3), dict(lambd=0.3), dict(keep_prob=0.8),
               dict(keep_prob=0.8, dropout_seed=5), dict(decay="inverse"),
               dict(decay="scheduled", time_interval=2), dict(decay="scheduled", time_interval=3),
               dict(beta1=0.8), dict(beta2=0.99), dict(epsilon=1e-3),
               dict(hidden_activation=["tanh", "relu"])]
    for change in changes:
        assert max_rel_error(params(**change), base) > 1e-6, change
    drop = params(keep_prob=0.8)
    assert max_rel_error(params(keep_prob=0.8, dropout_seed=5), drop) > 1e-6


FLOAT32_CONFIGS = [
    pytest.param("sigmoid", dict(), id="gd-full"),
    pytest.param("sigmoid", dict(optimizer="momentum", **MB, **DROP), id="momentum-mb-dropout"),
    pytest.param("sigmoid2", dict(optimizer="adam", lambd=0.3, **MB), id="sigmoid2-adam-mb-l2"),
    pytest.param("softmax_labels", dict(optimizer="adam", hidden_activation="tanh", **DROP),
                 id="softmax-adam-full-dropout"),
    pytest.param("identity", dict(optimizer="adam", decay="inverse", decay_rate=0.3, **MB),
                 id="identity-adam-mb-inverse"),
]


@pytest.mark.parametrize("problem, kw", FLOAT32_CONFIGS)
def test_float32_close_to_float64_reference(problem, kw):
    model, params, costs, _ = _fit_both(problem, kw, dtype="float32")
    assert model.dtype_ == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters_.values())
    assert all(type(c) is float for c in model.costs_)
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL32_COSTS, atol=0)
    assert_params_close(model.parameters_, params, RTOL32_PARAMS)


# == warm start ===================================================================

WARM = [
    pytest.param(dict(optimizer="adam", lambd=0.1, decay="inverse", decay_rate=0.2, **MB, **DROP),
                 id="adam-mb-dropout-inverse"),
    pytest.param(dict(optimizer="adam", decay="scheduled", decay_rate=1.0, time_interval=4,
                      batch_size=7, **DROP), id="adam-mb7-dropout-scheduled"),
    pytest.param(dict(optimizer="momentum", decay="inverse", decay_rate=0.5, **DROP),
                 id="momentum-full-dropout-inverse"),
]


@pytest.mark.parametrize("kw", WARM)
@pytest.mark.parametrize("n, k, record_every", [(7, 5, 3), (4, 8, 4), (1, 1, 1)])
def test_warm_start_is_exact(kw, n, k, record_every):
    X, Y = binary_problem()
    P0 = start_parameters(DIMS)
    kw = dict(kw, hidden_activation="tanh", strategy="direct")
    a = DeepNeuralNetwork(DIMS, LR, **kw)
    a.fit(X, Y, num_epochs=n, record_every=record_every, initial_parameters=P0)
    assert a.fit(X, Y, num_epochs=k, record_every=record_every, warm_start=True) is a
    b = DeepNeuralNetwork(DIMS, LR, **kw)
    b.fit(X, Y, num_epochs=n + k, record_every=record_every, initial_parameters=P0)
    assert a.n_iter_ == b.n_iter_ == n + k
    assert a.cost_iterations_ == b.cost_iterations_ == list(range(0, n + k, record_every))
    assert a.costs_ == b.costs_                                   # bit for bit
    assert_params_equal(a.parameters_, b.parameters_)
    sa, sb = a.optimizer_state_, b.optimizer_state_
    assert sa["t"] == sb["t"] and sa["rng"] == sb["rng"]
    for key in ("v", "s"):
        assert (sa[key] is None) == (sb[key] is None)
        if sa[key] is not None:
            assert_params_equal(sa[key], sb[key])


# == the Gram strategy ==============================================================

GRAM_DIRECT = [
    pytest.param("softmax", dict(hidden_activation="tanh", keep_prob=0.7),
                 id="tanh-softmax-dropout"),
    pytest.param("identity", dict(hidden_activation=["sigmoid", "leaky_relu"], keep_prob=0.8,
                                  dropout_seed=3), id="sigmoid_leaky-identity-dropout"),
    pytest.param("sigmoid2", dict(hidden_activation="leaky_relu"), id="leaky-sigmoid2"),
    pytest.param("softmax_labels", dict(hidden_activation="identity", keep_prob=0.9),
                 id="identity_hidden-softmax_labels-dropout"),
]


@pytest.mark.parametrize("problem, kw", GRAM_DIRECT)
def test_gram_equals_direct_full_batch_gd(problem, kw):
    dims, X, Y, _, output = _problem(problem)
    P0 = start_parameters(dims)
    runs = {}
    for strategy in ("gram", "direct"):
        model = DeepNeuralNetwork(dims, 0.1, strategy=strategy, output=output, **kw)
        runs[strategy] = model.fit(X, Y, 40, record_every=5, initial_parameters=P0)
    gram, direct = runs["gram"], runs["direct"]
    assert gram.strategy_ == "gram" and direct.strategy_ == "direct"
    assert gram.cost_iterations_ == direct.cost_iterations_
    np.testing.assert_allclose(gram.costs_, direct.costs_, rtol=1e-9, atol=0)
    assert_params_close(gram.parameters_, direct.parameters_, 1e-9)
    assert direct.costs_[-1] < direct.costs_[0]
    if kw.get("keep_prob", 1) < 1:
        assert gram.optimizer_state_["rng"] == direct.optimizer_state_["rng"]


def _wide():
    """n_x = 40 > m = 10: plain full-batch gd on it is what 'auto' sends to 'gram'."""
    return binary_problem(n_x=40, m=10, seed=4)


WIDE_DIMS = [40, 3, 2, 1]

GRAM_CANDIDATES = [
    # (options, whether the Gram strategy is exact for them)
    pytest.param(dict(optimizer="adam"), False, id="adam"),
    pytest.param(dict(optimizer="adam", lambd=0.1, decay="inverse"), False, id="adam-l2-decay"),
    pytest.param(dict(batch_size=4), False, id="gd-mb"),
    pytest.param(dict(optimizer="momentum", batch_size=5), False, id="momentum-mb"),
    pytest.param(dict(batch_size=10), False, id="gd-mb-equals-m"),
    pytest.param(dict(keep_prob=0.8), True, id="gd-dropout"),
    pytest.param(dict(optimizer="momentum"), True, id="momentum"),
    pytest.param(dict(lambd=0.2), True, id="gd-l2"),
    pytest.param(dict(decay="inverse", decay_rate=0.1), True, id="gd-inverse"),
    pytest.param(dict(decay="scheduled", decay_rate=1.0, time_interval=7), True, id="gd-scheduled"),
    pytest.param(dict(optimizer="momentum", lambd=0.1, decay="inverse", keep_prob=0.8), True,
                 id="momentum-l2-inverse-dropout"),
]


def test_auto_picks_gram_for_plain_gd_on_wide_data():
    """The positive control of the test below: on this problem 'auto' does choose 'gram'."""
    X, Y = _wide()
    assert DeepNeuralNetwork(WIDE_DIMS, LR).fit(X, Y, 50).strategy_ == "gram"


@pytest.mark.parametrize("kw, exact", GRAM_CANDIDATES)
def test_gram_only_where_it_is_exact(kw, exact):
    """'auto' never picks 'gram' for Adam (its update is not linear in the gradient) or
    mini-batches (X changes from batch to batch), and forcing it there raises. Full-batch
    gd and momentum, with L2, decay and dropout, are linear in dZ1 X^T: there the engine
    allows it (it first excluded momentum, L2 and decay) and it must equal 'direct'."""
    X, Y = _wide()
    P0 = start_parameters(WIDE_DIMS)
    options = {k: v for k, v in kw.items() if k in TrainingOptions.__dataclass_fields__}
    assert TrainingOptions(**options).gram_exact == exact
    def fit(strategy):
        return DeepNeuralNetwork(WIDE_DIMS, LR, strategy=strategy, **kw).fit(
            X, Y, num_epochs=50, record_every=10, initial_parameters=P0)

    auto = fit("auto")
    direct = fit("direct")
    if not exact:
        assert auto.strategy_ == "direct"
        with pytest.raises(ValueError, match=r"strategy='gram' is exact only for"):
            fit("gram")
        return
    gram = fit("gram")
    assert gram.strategy_ == "gram" and auto.strategy_ == "gram"
    np.testing.assert_allclose(gram.costs_, direct.costs_, rtol=1e-9, atol=0)
    assert_params_close(gram.parameters_, direct.parameters_, 1e-9)
    if direct.optimizer_state_["v"] is not None:
        assert_params_close(gram.optimizer_state_["v"], direct.optimizer_state_["v"], 1e-9)


GRAM_WARM = [
    pytest.param(dict(optimizer="momentum"), id="momentum"),
    pytest.param(dict(lambd=0.2, decay="inverse", decay_rate=0.1), id="gd-l2-inverse"),
    pytest.param(dict(optimizer="momentum", lambd=0.1, decay="scheduled", time_interval=7,
                      keep_prob=0.8), id="momentum-l2-scheduled-dropout"),
]


@pytest.mark.parametrize("kw", GRAM_WARM)
@pytest.mark.parametrize("n, k", [(20, 30), (7, 13)])
def test_gram_warm_start_equals_one_direct_run(kw, n, k):
    """A warm start of the Gram strategy starts from W1 and a velocity that moved: it must
    go on exactly as one direct run (to rounding)."""
    X, Y = _wide()
    P0 = start_parameters(WIDE_DIMS)
    a = DeepNeuralNetwork(WIDE_DIMS, LR, strategy="gram", **kw)
    a.fit(X, Y, n, record_every=5, initial_parameters=P0)
    a.fit(X, Y, k, record_every=5, warm_start=True)
    d = DeepNeuralNetwork(WIDE_DIMS, LR, strategy="direct", **kw)
    d.fit(X, Y, n + k, record_every=5, initial_parameters=P0)
    assert a.strategy_ == "gram" and a.cost_iterations_ == d.cost_iterations_
    np.testing.assert_allclose(a.costs_, d.costs_, rtol=1e-9, atol=0)
    assert_params_close(a.parameters_, d.parameters_, 1e-9)
    if d.optimizer_state_["v"] is not None:
        assert_params_close(a.optimizer_state_["v"], d.optimizer_state_["v"], 1e-9)


@pytest.mark.parametrize("kw", GRAM_WARM)
def test_gram_float32_close_to_float64_direct(kw):
    X, Y = _wide()
    P0 = start_parameters(WIDE_DIMS)
    g = DeepNeuralNetwork(WIDE_DIMS, LR, strategy="gram", dtype="float32", **kw)
    g.fit(X, Y, 200, record_every=5, initial_parameters=P0)
    d = DeepNeuralNetwork(WIDE_DIMS, LR, strategy="direct", **kw)
    d.fit(X, Y, 200, record_every=5, initial_parameters=P0)
    assert all(p.dtype == np.float32 for p in g.parameters_.values())
    np.testing.assert_allclose(g.costs_, d.costs_, rtol=RTOL32_COSTS, atol=0)
    assert_params_close(g.parameters_, d.parameters_, RTOL32_PARAMS)


# == functional.model ===============================================================

FUNCTIONAL = [
    pytest.param("sigmoid", dict(optimizer="adam", mini_batch_size=8, keep_prob=0.8,
                                 decay=R.update_lr, decay_rate=0.3), id="adam-mb-dropout-inverse"),
    pytest.param("sigmoid", dict(optimizer="momentum", mini_batch_size=None, lambd=0.2,
                                 decay=functools.partial(R.schedule_lr_decay, time_interval=2),
                                 decay_rate=1.0), id="momentum-full-l2-scheduled"),
    pytest.param("softmax", dict(optimizer="gd", mini_batch_size=7, hidden_activation="tanh",
                                 seed=4), id="softmax-gd-mb7"),
    pytest.param("identity", dict(optimizer="gd", mini_batch_size=8, decay=R.schedule_lr_decay,
                                  decay_rate=1.0), id="identity-gd-mb-scheduled1000"),
]


@pytest.mark.parametrize("problem, kw", FUNCTIONAL)
def test_functional_model_equals_reference_model(problem, kw):
    dims, X, Y, Y_ref, output = _problem(problem)
    P0 = start_parameters(dims)
    kw = dict(kw, output=output, learning_rate=LR, print_cost=False, record_every=2)
    dropout_seed = 5
    masks = mask_source(dropout_seed, kw["keep_prob"]) if kw.get("keep_prob", 1) < 1 else None
    p, c, s = F.model(X, Y_ref, dims, num_epochs=5, initial_parameters=P0, return_state=True,
                      dropout_seed=dropout_seed, **kw)
    rp, rc, rs = R.model(X, Y_ref, dims, num_epochs=5, initial_parameters=P0, return_state=True,
                         masks=masks, **kw)
    np.testing.assert_allclose(c, rc, rtol=RTOL, atol=0)
    assert len(c) == 3                                                   # epochs 0, 2, 4
    assert_params_close(p, rp, RTOL)
    assert s["epoch"] == rs["epoch"] == 5
    if kw["optimizer"] == "adam":  # the reference's t counts Adam steps (0 for gd and momentum)
        assert s["t"] == rs["t"] == 5 * 4
    assert s["learning_rate"] == pytest.approx(rs["learning_rate"], rel=1e-15)
    for key in ("v", "s"):
        assert (s[key] is None) == (rs[key] is None), key
        if rs[key] is not None:
            assert_params_close(s[key], rs[key], RTOL)
    # ... and a continued run continues the reference's continued run
    p2, c2, s2 = F.model(X, Y_ref, dims, num_epochs=3, initial_parameters=p, return_state=True,
                         start_epoch=s["epoch"], optimizer_state=s, dropout_seed=dropout_seed,
                         **kw)
    rp2, rc2, rs2 = R.model(X, Y_ref, dims, num_epochs=3, initial_parameters=rp,
                            return_state=True, start_epoch=rs["epoch"], optimizer_state=rs,
                            masks=masks, **kw)
    np.testing.assert_allclose(c2, rc2, rtol=RTOL, atol=0)
    assert_params_close(p2, rp2, RTOL)
    assert s2["epoch"] == rs2["epoch"] == 8
    if kw["optimizer"] == "adam":
        assert s2["t"] == rs2["t"] == 8 * 4
    assert s2["learning_rate"] == pytest.approx(rs2["learning_rate"], rel=1e-15)


@pytest.mark.parametrize("optimizer", ["gd", "momentum"])
def test_functional_model_state_t_for_gd_and_momentum(optimizer):
    X, Y = binary_problem()
    P0 = start_parameters(DIMS)
    kw = dict(mini_batch_size=8, num_epochs=3, print_cost=False, initial_parameters=P0,
              return_state=True)
    _, _, state = F.model(X, Y, DIMS, optimizer, **kw)
    _, _, ref_state = R.model(X, Y, DIMS, optimizer, **kw)
    assert ref_state["t"] == 0
    assert state["t"] == ref_state["t"]


# == the course's conventions, written out =============================================

def _hand_trained(X, Y, P0, lr, batch_size, shuffle_seed, lambd, epochs, hidden="tanh"):
    """The course's mini-batch gradient descent written out: epoch e shuffles with
    ``np.random.seed(shuffle_seed + e + 1); np.random.permutation(m)``, cuts batches of
    batch_size (the rest last), and records sum_b (loss_b + lambd/2 sum ||W||^2, taken
    before the batch's update) / m. Returns (parameters, per-epoch costs)."""
    m = X.shape[1]
    params = {k: v.copy() for k, v in P0.items()}
    costs = []
    for e in range(epochs):
        order = np.random.RandomState(shuffle_seed + e + 1).permutation(m)
        total = 0.0
        for start in range(0, m, batch_size):
            cols = order[start:start + batch_size]
            Xb, Yb = X[:, cols], Y[:, cols]
            AL, cache = R.forward(Xb, params, hidden, "sigmoid")
            l2 = sum(np.sum(params["W%d" % l] ** 2) for l in range(1, len(P0) // 2 + 1))
            total += R.loss_sum(AL, Yb, "sigmoid") + lambd / 2 * l2
            grads = R.backward(Xb, Yb, cache, hidden, "sigmoid", lambd=lambd)
            # backward takes the batch's mean: 1/m_b with m_b = 6 for the last batch
            for key in params:
                params[key] = params[key] - lr * grads["d" + key]
        costs.append(total / m)
    return params, costs


@pytest.mark.parametrize("shuffle_seed, lambd", [(10, 0.0), (0, 0.3), (123, 0.1)])
def test_batch_order_and_epoch_cost_by_hand(shuffle_seed, lambd):
    X, Y = binary_problem()
    P0 = start_parameters(DIMS)
    # the permutation written out is the course's random_mini_batches(X, Y, 8, seed)
    first = R.random_mini_batches(X, Y, 8, seed=shuffle_seed + 1)
    order = np.random.RandomState(shuffle_seed + 1).permutation(M)
    np.testing.assert_array_equal(first[0][0], X[:, order[:8]])
    assert [b[0].shape[1] for b in first] == [8, 8, 8, 6]

    model = DeepNeuralNetwork(DIMS, 0.1, hidden_activation="tanh", batch_size=8,
                              shuffle_seed=shuffle_seed, lambd=lambd)
    model.fit(X, Y, num_epochs=3, record_every=1, initial_parameters=P0)
    params, costs = _hand_trained(X, Y, P0, 0.1, 8, shuffle_seed, lambd, 3)
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL, atol=0)
    assert_params_close(model.parameters_, params, RTOL)
    # another seed gives another run
    other, _ = _hand_trained(X, Y, P0, 0.1, 8, shuffle_seed + 1, lambd, 3)
    assert max_rel_error(other, params) > 1e-6


def test_later_epochs_use_their_own_seed_after_warm_start():
    """Epochs are numbered over the model's life: epochs 2..3 of a warm start shuffle
    with shuffle_seed + 3 and + 4, whatever the first fit was."""
    X, Y = binary_problem()
    P0 = start_parameters(DIMS)
    model = DeepNeuralNetwork(DIMS, 0.1, hidden_activation="tanh", batch_size=8, shuffle_seed=5)
    model.fit(X, Y, num_epochs=2, record_every=1, initial_parameters=P0)
    model.fit(X, Y, num_epochs=2, record_every=1, warm_start=True)
    params, costs = _hand_trained(X, Y, P0, 0.1, 8, 5, 0.0, 4)
    assert model.cost_iterations_ == [0, 1, 2, 3]
    np.testing.assert_allclose(model.costs_, costs, rtol=RTOL, atol=0)
    assert_params_close(model.parameters_, params, RTOL)


def test_full_batch_epoch_cost_is_the_mean_cost_before_the_update():
    X, Y = binary_problem()
    P0 = start_parameters(DIMS)
    model = DeepNeuralNetwork(DIMS, 0.1, hidden_activation="tanh", lambd=0.2)
    model.fit(X, Y, num_epochs=1, record_every=1, initial_parameters=P0)
    AL, _ = R.forward(X, P0, "tanh", "sigmoid")
    l2 = sum(np.sum(P0["W%d" % l] ** 2) for l in (1, 2, 3))
    want = -np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) + 0.2 / (2 * M) * l2
    assert model.costs_ == [pytest.approx(want, rel=1e-12)]


@pytest.mark.parametrize("batch_size", [None, 1, 7, 8, 30, 64])
def test_adam_t_counts_steps_over_the_model_life(batch_size):
    X, Y = binary_problem()
    steps = 1 if batch_size is None else math.ceil(M / batch_size)
    model = DeepNeuralNetwork(DIMS, 0.01, optimizer="adam", batch_size=batch_size,
                              hidden_activation="tanh")
    model.fit(X, Y, num_epochs=3, initial_parameters=start_parameters(DIMS))
    assert model.optimizer_state_["t"] == 3 * steps
    model.fit(X, Y, num_epochs=2, warm_start=True)
    assert model.optimizer_state_["t"] == 5 * steps
    model.fit(X, Y, num_epochs=2)                                  # a fresh fit starts over
    assert model.optimizer_state_["t"] == 2 * steps


# == predict and score ==============================================================

def test_softmax_predict_and_proba():
    dims, X, labels, onehot, _ = _problem("softmax_labels")
    model = DeepNeuralNetwork(dims, 0.1, output="softmax", hidden_activation="tanh",
                              optimizer="adam", keep_prob=0.9)
    model.fit(X, labels, 30, initial_parameters=start_parameters(dims))
    Xnew = np.random.RandomState(9).randn(4, 17)
    for data in (X, Xnew):
        proba = model.predict_proba(data)
        assert proba.shape == (3, data.shape[1])
        np.testing.assert_allclose(proba.sum(axis=0), 1.0, rtol=0, atol=1e-12)
        assert (proba > 0).all()
        want = R.forward(data, model.parameters_, "tanh", "softmax")[0]   # no dropout
        np.testing.assert_allclose(proba, want, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(model.predict_proba(data), proba)   # deterministic
        pred = model.predict(data)
        assert pred.shape == (1, data.shape[1]) and pred.dtype.kind == "i"
        np.testing.assert_array_equal(pred[0], np.argmax(want, axis=0))
    accuracy = float(np.mean(model.predict(X) == labels))
    assert accuracy > 0.6                                          # it learned something
    assert model.score(X, labels) == accuracy
    assert model.score(X, onehot) == accuracy
    assert model.score(X, labels.ravel()) == accuracy


def test_two_sigmoid_outputs_predict_and_score():
    dims, X, Y, _, _ = _problem("sigmoid2")
    model = DeepNeuralNetwork(dims, 0.1, hidden_activation="tanh", optimizer="adam")
    model.fit(X, Y, 20, initial_parameters=start_parameters(dims))
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, R.forward(X, model.parameters_, "tanh", "sigmoid")[0],
                               rtol=1e-12, atol=0)
    pred = model.predict(X)
    assert pred.shape == (2, M)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert model.score(X, Y) == float(np.mean(pred == Y))          # over every entry
    assert model.score(X, 1 - Y) == pytest.approx(1 - model.score(X, Y))


@pytest.mark.parametrize("n_out", [1, 2])
def test_identity_predict_and_r2_score(n_out):
    X, Y = regression_problem(n_out=n_out)
    dims = [4, 3, 2, n_out]
    model = DeepNeuralNetwork(dims, 0.05, output="identity", hidden_activation="tanh",
                              optimizer="adam")
    model.fit(X, Y, 30, initial_parameters=start_parameters(dims))
    A = model.predict(X)
    np.testing.assert_array_equal(A, model.predict_proba(X))
    np.testing.assert_allclose(A, R.forward(X, model.parameters_, "tanh", "identity")[0],
                               rtol=1e-12, atol=1e-15)
    r2 = np.mean([1 - np.sum((Y[i] - A[i]) ** 2) / np.sum((Y[i] - np.mean(Y[i])) ** 2)
                  for i in range(n_out)])
    assert model.score(X, Y) == pytest.approx(r2, rel=1e-12)
    assert 0 < r2 < 1
    assert model.score(X, A) == 1.0                                 # perfect predictions


# == validation data and early stopping ================================================

VAL_KW = dict(hidden_activation="tanh", optimizer="adam", batch_size=8, keep_prob=0.8, lambd=0.1)


def _val_problem(output):
    """(dims, X, Y, X_val, Y_val (as given to fit), Y_val one-hot or as is)."""
    if output == "sigmoid":
        X, Y = binary_problem()
        Xv, Yv = binary_problem(m=20, seed=1)
        return DIMS, X, Y, Xv, Yv, Yv
    if output == "softmax":
        X, Y, _ = softmax_problem()
        Xv, Yv, onehot = softmax_problem(m=20, seed=1)
        return [4, 3, 2, 3], X, Y, Xv, Yv, onehot
    X, Y = regression_problem()
    Xv, Yv = regression_problem(m=20, seed=1)
    return DIMS, X, Y, Xv, Yv, Yv


def _expected_score(output, A, Y):
    if output == "sigmoid":
        return float(np.mean((A > 0.5) == (Y == 1)))
    if output == "softmax":
        return float(np.mean(np.argmax(A, axis=0) == np.argmax(Y, axis=0)))
    return float(np.mean([1 - np.sum((Y[i] - A[i]) ** 2) / np.sum((Y[i] - Y[i].mean()) ** 2)
                          for i in range(Y.shape[0])]))


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
def test_validation_costs_and_scores_at_record_points(output):
    """val_costs_[i] / val_scores_[i] are the mean loss (no dropout, no L2 term) and score
    on the validation data of the parameters after cost_iterations_[i] epochs."""
    dims, X, Y, Xv, Yv, Yv_ref = _val_problem(output)
    P0 = start_parameters(dims)
    kw = dict(VAL_KW, output=output)
    model = DeepNeuralNetwork(dims, LR, **kw)
    model.fit(X, Y, num_epochs=12, record_every=4, initial_parameters=P0, validation_data=(Xv, Yv))
    assert model.cost_iterations_ == [0, 4, 8]
    assert len(model.val_costs_) == len(model.val_scores_) == 3
    assert all(type(c) is float for c in model.val_costs_ + model.val_scores_)
    for i, epochs in enumerate(model.cost_iterations_):
        params = P0 if epochs == 0 else DeepNeuralNetwork(dims, LR, **kw).fit(
            X, Y, num_epochs=epochs, initial_parameters=P0).parameters_
        A = R.forward(Xv, params, "tanh", output)[0]            # keep_prob = 1: no dropout
        want = R.loss_sum(A, Yv_ref, output) / Xv.shape[1]        # no L2 term
        assert model.val_costs_[i] == pytest.approx(want, rel=1e-9), i
        assert model.val_scores_[i] == pytest.approx(_expected_score(output, A, Yv_ref), rel=1e-12)
    assert len(set(model.val_costs_)) == 3


@pytest.mark.parametrize("kw", [dict(), dict(optimizer="momentum", lambd=0.1, keep_prob=0.8)],
                         ids=["gd", "momentum-l2-dropout"])
def test_validation_with_the_gram_strategy_sees_the_current_w1(kw):
    """The Gram strategy keeps W1 implicit; the validation pass must see the W1 of that
    point, as the direct strategy does."""
    X, Y = _wide()
    Xv, Yv = binary_problem(n_x=40, m=12, seed=5)
    P0 = start_parameters(WIDE_DIMS)
    runs = [DeepNeuralNetwork(WIDE_DIMS, LR, strategy=s, **kw).fit(
        X, Y, 60, record_every=10, initial_parameters=P0, validation_data=(Xv, Yv))
        for s in ("gram", "direct")]
    assert runs[0].strategy_ == "gram"
    np.testing.assert_allclose(runs[0].val_costs_, runs[1].val_costs_, rtol=1e-9, atol=0)
    assert runs[0].val_scores_ == runs[1].val_scores_
    assert len(set(runs[1].val_costs_)) == 6


def _early_stopping_case():
    X, Y = binary_problem()
    Xv, Yv = binary_problem(seed=1)   # another rule: the validation cost falls, then rises
    return X, Y, Xv, Yv, start_parameters(DIMS)


ES_KW = dict(hidden_activation="tanh", optimizer="adam", batch_size=8)


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_early_stopping_stops_after_patience_and_restores_the_best(patience):
    X, Y, Xv, Yv, P0 = _early_stopping_case()
    full = DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(
        X, Y, num_epochs=40, record_every=2, initial_parameters=P0, validation_data=(Xv, Yv))
    curve = full.val_costs_
    # where it must stop: the first record `patience` records after the best so far
    stop = next(i for i in range(len(curve)) if i - int(np.argmin(curve[:i + 1])) >= patience)
    best = int(np.argmin(curve[:stop + 1]))
    assert 0 < best < stop < len(curve) - 1          # a real minimum, then a real rise

    model = DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(
        X, Y, num_epochs=40, record_every=2, initial_parameters=P0, validation_data=(Xv, Yv),
        early_stopping=True, patience=patience)
    assert model.n_iter_ == full.cost_iterations_[stop]
    assert model.best_iteration_ == full.cost_iterations_[best]
    assert model.cost_iterations_ == full.cost_iterations_[:stop]
    assert model.costs_ == full.costs_[:stop]
    assert model.val_costs_ == curve[:stop]
    restored = DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(
        X, Y, num_epochs=model.best_iteration_, initial_parameters=P0)
    assert_params_equal(model.parameters_, restored.parameters_)
    # the optimizer state is that of where it stopped, not of the best point
    stopped = DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(
        X, Y, num_epochs=model.n_iter_, initial_parameters=P0)
    assert model.optimizer_state_["t"] == stopped.optimizer_state_["t"]


def test_without_early_stopping_the_last_parameters_are_kept():
    X, Y, Xv, Yv, P0 = _early_stopping_case()
    model = DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(
        X, Y, num_epochs=20, record_every=2, initial_parameters=P0, validation_data=(Xv, Yv))
    plain = DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(X, Y, num_epochs=20, initial_parameters=P0)
    assert model.n_iter_ == 20
    assert_params_equal(model.parameters_, plain.parameters_)
    assert model.costs_ == DeepNeuralNetwork(DIMS, LR, **ES_KW).fit(
        X, Y, num_epochs=20, record_every=2, initial_parameters=P0).costs_


def test_early_stopping_with_flipped_validation_labels_restores_the_start():
    """Validation labels flipped: learning the training labels makes the validation cost
    rise from the start, so the best parameters are the initial ones."""
    X, Y, _, _, P0 = _early_stopping_case()
    kw = dict(hidden_activation="tanh", optimizer="gd")
    full = DeepNeuralNetwork(DIMS, 0.5, **kw).fit(
        X, Y, 200, record_every=5, initial_parameters=P0, validation_data=(X, 1 - Y))
    assert np.all(np.diff(full.val_costs_[:4]) > 0)
    model = DeepNeuralNetwork(DIMS, 0.5, **kw).fit(
        X, Y, 200, record_every=5, initial_parameters=P0, validation_data=(X, 1 - Y),
        early_stopping=True, patience=2)
    assert model.best_iteration_ == 0
    assert model.n_iter_ == 10                      # records at 0 (best), 5, 10: 2 without gain
    assert model.cost_iterations_ == [0, 5] and model.val_costs_ == full.val_costs_[:2]
    assert_params_equal(model.parameters_, P0)
    A0 = R.forward(X, P0, "tanh", "sigmoid")[0]
    assert model.val_scores_[0] == _expected_score("sigmoid", A0, 1 - Y)


# == memory ============================================================================

def _run_peak_bytes(engine, epochs, record_every):
    """Peak traced memory (above the start) during engine.run(epochs, record_every)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        engine.run(epochs, record_every)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()


def test_minibatch_adam_dropout_memory_does_not_grow_with_steps():
    X, Y = binary_problem()
    opts = TrainingOptions(optimizer="adam", batch_size=2, keep_prob=0.8, lambd=0.1,
                           decay="inverse", decay_rate=0.01)
    acts = ["tanh", "relu", "sigmoid"]

    def engine():
        return TrainingEngine(X, Y, start_parameters(DIMS), DIMS, acts, 0.01, options=opts)

    engine().run(5, 10 ** 6)                      # warm-up: kernels loaded
    short_epochs, long_epochs = 5, 200
    short = _run_peak_bytes(engine(), short_epochs, 10 ** 6)
    long_engine = engine()
    long = _run_peak_bytes(long_engine, long_epochs, 10 ** 6)
    assert long_engine.ws.counters[0] == long_epochs * 15        # 3000 steps in one call
    # One compiled call runs all the epochs; what the engine draws ahead for it is the
    # epoch orders (epochs x m int64) and the learning rates (epochs float64), by
    # design. Anything else that grew with the 2925 extra steps (even 8 bytes a
    # step: 23 KiB) would exceed the 16 KiB slack.
    schedule = (long_epochs - short_epochs) * (M + 1) * 8
    assert long - short < schedule + 16 * 1024, (short, long, schedule)
