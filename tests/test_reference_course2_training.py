"""Conventions of the Course 2 pieces the compiled trainer must reproduce.

- ``random_mini_batches`` partitions the columns (every one exactly once, the
  last batch smaller) and keeps X and a several-row Y together;
- the training loop ``model``: epoch seeds ``seed + e + 1``, Adam's t counted
  over the model's life, the recorded-cost definition, decay and
  ``start_epoch``, split run == one run, no mutation of the caller's dicts;
  full-batch gd on ReLU/sigmoid equals the seed's ``L_layer_model``;
- one hand-computed step of each update rule.
"""

import contextlib
import copy
import functools
import io
import math

import numpy as np
import pytest

import fastdnn.reference as ref
from fastdnn.reference import training


def make_data(dims, m, seed, output="sigmoid"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    if output == "sigmoid":
        Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    else:
        Y = rng.standard_normal((dims[-1], m))
    params = {}
    for l in range(1, len(dims)):
        params["W%d" % l] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
        params["b%d" % l] = rng.standard_normal((dims[l], 1)) * 0.1
    return X, Y, params


def assert_dicts_equal(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# --------------------------------------------------------------------------
# random_mini_batches
# --------------------------------------------------------------------------

@pytest.mark.parametrize("m, size", [(10, 3), (12, 4), (5, 8), (1, 1), (7, 7)])
def test_random_mini_batches_partition(m, size):
    X = np.arange(2 * m, dtype=float).reshape(2, m)
    Y = np.vstack([np.arange(m), -np.arange(m)]).astype(float)  # two label rows
    batches = ref.random_mini_batches(X, Y, size, seed=3)
    sizes = [bx.shape[1] for bx, _ in batches]
    full, rest = divmod(m, size)
    assert sizes == [size] * full + ([rest] if rest else [])
    cols = np.concatenate([bx[0] for bx, _ in batches])
    assert sorted(cols.tolist()) == X[0].tolist()  # every column exactly once
    for bx, by in batches:
        assert by.shape == (2, bx.shape[1])
        np.testing.assert_array_equal(by[0], bx[0])  # X and Y columns stay together (X[0] == Y[0])
        np.testing.assert_array_equal(by[1], -by[0])
    # the course's shuffle: np.random.seed(seed); list(np.random.permutation(m))
    np.random.seed(3)
    perm = list(np.random.permutation(m))
    np.testing.assert_array_equal(np.concatenate([bx for bx, _ in batches], axis=1), X[:, perm])


# --------------------------------------------------------------------------
# Update rules, one hand-computed step each
# --------------------------------------------------------------------------

def test_one_step_update_rules_by_hand():
    W = np.array([[1.0, 2.0]])
    b = np.array([[0.5]])
    dW = np.array([[0.5, -1.0]])
    db = np.array([[-0.25]])

    p = ref.update_parameters_with_gd({"W1": W, "b1": b}, {"dW1": dW, "db1": db}, 0.1)
    np.testing.assert_array_equal(p["W1"], [[1.0 - 0.1 * 0.5, 2.0 + 0.1 * 1.0]])
    np.testing.assert_array_equal(p["b1"], [[0.5 + 0.1 * 0.25]])

    v = {"dW1": np.array([[0.2, 0.0]]), "db1": np.array([[1.0]])}
    p, v = ref.update_parameters_with_momentum({"W1": W, "b1": b}, {"dW1": dW, "db1": db}, v, 0.9, 0.1)
    vW = [0.9 * 0.2 + (1 - 0.9) * 0.5, 0.9 * 0.0 + (1 - 0.9) * -1.0]
    vb = 0.9 * 1.0 + (1 - 0.9) * -0.25
    np.testing.assert_array_equal(v["dW1"], [vW])
    np.testing.assert_array_equal(v["db1"], [[vb]])
    np.testing.assert_array_equal(p["W1"], [[1.0 - 0.1 * vW[0], 2.0 - 0.1 * vW[1]]])
    np.testing.assert_array_equal(p["b1"], [[0.5 - 0.1 * vb]])

    v, s = ref.initialize_adam({"W1": W, "b1": b})
    v["dW1"] = np.array([[0.1, -0.2]])
    s["dW1"] = np.array([[0.04, 0.01]])
    t, lr, b1, b2, eps = 3, 0.01, 0.9, 0.999, 1e-8
    p, v, s, vc, sc = ref.update_parameters_with_adam({"W1": W, "b1": b}, {"dW1": dW, "db1": db},
                                                      v, s, t, lr, b1, b2, eps)
    for j, (v0, s0, g, w) in enumerate([(0.1, 0.04, 0.5, 1.0), (-0.2, 0.01, -1.0, 2.0)]):
        v1 = b1 * v0 + (1 - b1) * g
        s1 = b2 * s0 + (1 - b2) * g ** 2
        vcj = v1 / (1 - b1 ** t)
        scj = s1 / (1 - b2 ** t)
        assert v["dW1"][0, j] == v1 and s["dW1"][0, j] == s1
        assert vc["dW1"][0, j] == vcj and sc["dW1"][0, j] == scj
        assert p["W1"][0, j] == w - lr * vcj / (math.sqrt(scj) + eps)  # epsilon outside the root
    # b starts from zero moments
    v1 = b1 * 0.0 + (1 - b1) * -0.25
    s1 = b2 * 0.0 + (1 - b2) * (-0.25) ** 2
    assert p["b1"][0, 0] == 0.5 - lr * (v1 / (1 - b1 ** t)) / (math.sqrt(s1 / (1 - b2 ** t)) + eps)


def test_learning_rate_decay_formulas():
    for lr0, e, rate in [(0.1, 0, 1.0), (0.1, 7, 0.3), (0.5, 2, 1), (0.0007, 4999, 1)]:
        assert ref.update_lr(lr0, e, rate) == 1 / (1 + rate * e) * lr0
        assert math.isclose(ref.update_lr(lr0, e, rate), lr0 / (1 + rate * e), rel_tol=2e-16)
    for lr0, e, rate, ti in [(0.1, 999, 1, 1000), (0.1, 1000, 1, 1000), (0.3, 250, 0.25, 100), (0.3, 0, 0.25, 100)]:
        assert ref.schedule_lr_decay(lr0, e, rate, ti) == 1 / (1 + rate * math.floor(e / ti)) * lr0
    assert ref.schedule_lr_decay(0.1, 1999, 1) == 1 / (1 + 1) * 0.1  # default time_interval=1000


# --------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------

def manual_model(X, Y, params, optimizer, learning_rate, mini_batch_size, num_epochs, *, beta=0.9,
                 beta1=0.9, beta2=0.999, epsilon=1e-8, decay=None, decay_rate=1, hidden="relu",
                 output="sigmoid", lambd=0.0, keep_prob=1.0, seed=10, record_every=1):
    """The documented semantics of ``model``, written out with the public pieces."""
    params = copy.deepcopy(params)
    m = X.shape[1]
    lr = learning_rate
    t = 0
    v = s = None
    if optimizer == "momentum":
        v = ref.initialize_velocity(params)
    if optimizer == "adam":
        v, s = ref.initialize_adam(params)
    costs = []
    for e in range(num_epochs):
        batches = [(X, Y)] if mini_batch_size is None else ref.random_mini_batches(X, Y, mini_batch_size, seed + e + 1)
        total = 0
        for bx, by in batches:
            AL, cache = ref.forward(bx, params, hidden, output, keep_prob)
            c = ref.loss_sum(AL, by, output)
            if lambd:
                c = c + lambd / 2 * sum_squares(params)
            total += c
            grads = ref.backward(bx, by, cache, hidden, output, lambd, keep_prob)
            if optimizer == "gd":
                params = ref.update_parameters_with_gd(params, grads, lr)
            elif optimizer == "momentum":
                params, v = ref.update_parameters_with_momentum(params, grads, v, beta, lr)
            else:
                t += 1
                params, v, s, _, _ = ref.update_parameters_with_adam(params, grads, v, s, t, lr, beta1, beta2, epsilon)
        if decay:
            lr = decay(learning_rate, e, decay_rate)
        if e % record_every == 0:
            costs.append(total / m)
    return params, costs


def sum_squares(params):
    L = len(params) // 2
    total = np.sum(np.square(params["W1"]))
    for l in range(2, L + 1):
        total = total + np.sum(np.square(params["W%d" % l]))
    return total


CONFIGS = [
    dict(optimizer="gd", learning_rate=0.1, mini_batch_size=4),
    dict(optimizer="momentum", learning_rate=0.05, mini_batch_size=3, lambd=0.2, decay=ref.update_lr, decay_rate=0.5),
    dict(optimizer="adam", learning_rate=0.01, mini_batch_size=5, keep_prob=0.8, hidden="tanh", output="softmax"),
    dict(optimizer="adam", learning_rate=0.02, mini_batch_size=None, lambd=0.1, output="identity",
         decay=functools.partial(ref.schedule_lr_decay, time_interval=2), decay_rate=1.0),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c["optimizer"] + "-" + str(c["mini_batch_size"]))
def test_model_follows_documented_semantics(cfg):
    cfg = dict(cfg)
    hidden = cfg.pop("hidden", "relu")
    output = cfg.pop("output", "sigmoid")
    dims = [3, 4, 3]
    X, Y, p0 = make_data(dims, 11, seed=1, output=output)
    expected_params, expected_costs = manual_model(X, Y, p0, num_epochs=4, hidden=hidden, output=output, **cfg)
    params, costs = ref.model(X, Y, dims, num_epochs=4, print_cost=False, initial_parameters=p0,
                              hidden_activation=hidden, output=output, record_every=1, **cfg)
    assert_dicts_equal(params, expected_params)
    assert costs == [float(c) for c in expected_costs]


def test_epoch_seeds(monkeypatch):
    seen = []
    real = training.random_mini_batches

    def spy(X, Y, mini_batch_size=64, seed=0):
        seen.append(seed)
        return real(X, Y, mini_batch_size, seed)

    monkeypatch.setattr(training, "random_mini_batches", spy)
    X, Y, p0 = make_data([2, 3, 1], 9, seed=2)
    ref.model(X, Y, [2, 3, 1], "gd", num_epochs=3, mini_batch_size=4, print_cost=False, initial_parameters=p0)
    assert seen == [11, 12, 13]  # the course: seed = 10, seed = seed + 1 before each epoch
    seen.clear()
    ref.model(X, Y, [2, 3, 1], "gd", num_epochs=2, mini_batch_size=4, print_cost=False, initial_parameters=p0,
              seed=5, start_epoch=4)
    assert seen == [10, 11]
    seen.clear()
    ref.model(X, Y, [2, 3, 1], "gd", num_epochs=2, mini_batch_size=None, print_cost=False, initial_parameters=p0)
    assert seen == []


def test_adam_t_counts_steps_over_the_model_life(monkeypatch):
    seen = []
    real = training.update_parameters_with_adam

    def spy(parameters, grads, v, s, t, *args):
        seen.append(t)
        return real(parameters, grads, v, s, t, *args)

    monkeypatch.setattr(training, "update_parameters_with_adam", spy)
    X, Y, p0 = make_data([2, 3, 1], 10, seed=3)
    params, costs, state = ref.model(X, Y, [2, 3, 1], "adam", num_epochs=2, mini_batch_size=4,
                                     print_cost=False, initial_parameters=p0, return_state=True)
    assert seen == [1, 2, 3, 4, 5, 6]  # 3 batches (4, 4, 2) per epoch
    assert state["t"] == 6 and state["epoch"] == 2
    seen.clear()
    ref.model(X, Y, [2, 3, 1], "adam", num_epochs=1, mini_batch_size=4, print_cost=False,
              initial_parameters=params, start_epoch=state["epoch"], optimizer_state=state)
    assert seen == [7, 8, 9]


def test_learning_rate_per_epoch_with_decay_and_start_epoch(monkeypatch):
    seen = []
    real = training.update_parameters_with_gd

    def spy(parameters, grads, learning_rate):
        seen.append(learning_rate)
        return real(parameters, grads, learning_rate)

    monkeypatch.setattr(training, "update_parameters_with_gd", spy)
    X, Y, p0 = make_data([2, 3, 1], 6, seed=4)
    lr0 = 0.3
    _, _, state = ref.model(X, Y, [2, 3, 1], "gd", lr0, mini_batch_size=None, num_epochs=4, print_cost=False,
                            decay=ref.update_lr, decay_rate=0.5, initial_parameters=p0, return_state=True)
    assert seen == [lr0] + [ref.update_lr(lr0, e - 1, 0.5) for e in range(1, 4)]
    assert state["learning_rate"] == ref.update_lr(lr0, 3, 0.5)
    seen.clear()
    ref.model(X, Y, [2, 3, 1], "gd", lr0, mini_batch_size=None, num_epochs=2, print_cost=False,
              decay=ref.update_lr, decay_rate=0.5, initial_parameters=p0, start_epoch=3)
    assert seen == [ref.update_lr(lr0, 2, 0.5), ref.update_lr(lr0, 3, 0.5)]
    seen.clear()
    sched = functools.partial(ref.schedule_lr_decay, time_interval=2)
    ref.model(X, Y, [2, 3, 1], "gd", lr0, mini_batch_size=None, num_epochs=5, print_cost=False,
              decay=sched, decay_rate=1, initial_parameters=p0)
    assert seen == [lr0, lr0, lr0, lr0 / 2, lr0 / 2]  # epoch e uses decay(lr0, e - 1): floor((e - 1) / 2)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_split_run_equals_one_run(optimizer):
    dims = [3, 5, 2]
    X, Y, p0 = make_data(dims, 13, seed=5)
    kw = dict(learning_rate=0.05, mini_batch_size=4, print_cost=False, lambd=0.1, keep_prob=0.8,
              decay=ref.update_lr, decay_rate=0.3, record_every=2)
    p_all, c_all, s_all = ref.model(X, Y, dims, optimizer, num_epochs=7, initial_parameters=p0,
                                    return_state=True, **kw)
    p1, c1, s1 = ref.model(X, Y, dims, optimizer, num_epochs=3, initial_parameters=p0, return_state=True, **kw)
    p2, c2, s2 = ref.model(X, Y, dims, optimizer, num_epochs=4, initial_parameters=p1, start_epoch=s1["epoch"],
                           optimizer_state=s1, return_state=True, **kw)
    assert_dicts_equal(p2, p_all)
    assert c1 + c2 == c_all and len(c_all) == 4  # epochs 0, 2, 4, 6
    assert s2["epoch"] == s_all["epoch"] == 7
    assert s2["t"] == s_all["t"] and s2["learning_rate"] == s_all["learning_rate"]
    for key in ("v", "s"):
        if s_all[key] is None:
            assert s2[key] is None
        else:
            assert_dicts_equal(s2[key], s_all[key])


def test_split_run_full_batch_with_injected_masks():
    dims = [3, 4, 4, 1]
    X, Y, p0 = make_data(dims, 6, seed=6)
    rng = np.random.default_rng(0)
    arrays = [rng.random((n, 6)) < 0.7 for n in dims[1:-1]]
    masks_state = {"i": 0}

    def masks(shape):
        D = arrays[masks_state["i"] % 2]
        masks_state["i"] += 1
        return D

    kw = dict(learning_rate=0.02, mini_batch_size=None, print_cost=False, keep_prob=0.7, masks=masks,
              record_every=1)
    p_all, c_all = ref.model(X, Y, dims, "adam", num_epochs=5, initial_parameters=p0, **kw)
    assert masks_state["i"] == 10  # twice (two hidden layers) per epoch
    p1, c1, s1 = ref.model(X, Y, dims, "adam", num_epochs=2, initial_parameters=p0, return_state=True, **kw)
    p2, c2 = ref.model(X, Y, dims, "adam", num_epochs=3, initial_parameters=p1, start_epoch=2,
                       optimizer_state=s1, **kw)
    assert_dicts_equal(p2, p_all)
    assert c1 + c2 == c_all


def test_full_batch_gd_equals_seed_L_layer_model():
    dims = [4, 5, 3, 1]
    X, Y, p0 = make_data(dims, 20, seed=7)
    seed_params, seed_costs = ref.L_layer_model(X, Y, dims, learning_rate=0.0075, num_iterations=60,
                                                initial_parameters=p0, record_every=1)
    params, costs = ref.model(X, Y, dims, "gd", learning_rate=0.0075, mini_batch_size=None, num_epochs=60,
                              print_cost=False, initial_parameters=p0, record_every=1)
    for key in seed_params:
        np.testing.assert_allclose(params[key], seed_params[key], rtol=1e-12, atol=1e-14, err_msg=key)
    np.testing.assert_allclose(costs, seed_costs, rtol=1e-12, atol=0)


def test_recorded_cost_definition():
    dims = [3, 4, 1]
    X, Y, p0 = make_data(dims, 8, seed=8)
    # full batch without L2: the mean cost of the forward pass before the update
    _, costs = ref.model(X, Y, dims, "gd", 0.1, mini_batch_size=None, num_epochs=1, print_cost=False,
                         initial_parameters=p0)
    AL, _ = ref.forward(X, p0)
    assert math.isclose(costs[0], ref.cost(AL, Y, p0), rel_tol=1e-15)
    assert costs[0] == ref.loss_sum(AL, Y, "sigmoid") / 8
    # mini-batches with L2: sum over batches of (loss_sum + lambd/2 * sum ||W||^2), divided by m
    _, costs = ref.model(X, Y, dims, "gd", 0.0, mini_batch_size=3, num_epochs=1, print_cost=False,
                         initial_parameters=p0, lambd=0.5)  # learning rate 0: parameters stay p0
    total = 0
    for bx, by in ref.random_mini_batches(X, Y, 3, 11):
        AL, _ = ref.forward(bx, p0)
        total += ref.loss_sum(AL, by, "sigmoid") + 0.5 / 2 * sum_squares(p0)
    assert costs[0] == total / 8
    # 3 batches (3, 3, 2): the L2 term is counted once per batch, i.e. 3 times over m,
    # where the mean cost of the whole set counts it once
    mean_cost = ref.cost(ref.forward(X, p0)[0], Y, p0, lambd=0.5)
    assert math.isclose(costs[0], mean_cost + (3 - 1) * 0.5 / 2 * sum_squares(p0) / 8, rel_tol=1e-12)


def test_costs_recorded_and_printed_over_the_model_life():
    dims = [2, 3, 1]
    X, Y, p0 = make_data(dims, 5, seed=9)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _, costs = ref.model(X, Y, dims, "gd", 0.1, mini_batch_size=None, num_epochs=7, print_cost=True,
                             initial_parameters=p0, start_epoch=5, record_every=3, decay=ref.update_lr)
    assert len(costs) == 2  # epochs 6 and 9
    lines = out.getvalue().splitlines()
    assert lines == ["Cost after epoch 6: %f" % costs[0], "learning rate after epoch 6: %f" % ref.update_lr(0.1, 6, 1),
                     "Cost after epoch 9: %f" % costs[1], "learning rate after epoch 9: %f" % ref.update_lr(0.1, 9, 1)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _, costs2 = ref.model(X, Y, dims, "gd", 0.1, mini_batch_size=None, num_epochs=7, print_cost=False,
                              initial_parameters=p0, start_epoch=5, record_every=3, decay=ref.update_lr)
    assert out.getvalue() == "" and costs2 == costs


def test_model_does_not_modify_callers_dicts():
    dims = [2, 3, 1]
    X, Y, p0 = make_data(dims, 7, seed=10)
    p_snapshot = copy.deepcopy(p0)
    p_ids = {k: id(v) for k, v in p0.items()}
    _, _, state = ref.model(X, Y, dims, "adam", 0.01, mini_batch_size=3, num_epochs=2, print_cost=False,
                            initial_parameters=p0, return_state=True)
    state_snapshot = copy.deepcopy(state)
    ref.model(X, Y, dims, "adam", 0.01, mini_batch_size=3, num_epochs=2, print_cost=False,
              initial_parameters=p0, start_epoch=2, optimizer_state=state)
    assert_dicts_equal(p0, p_snapshot)
    assert {k: id(v) for k, v in p0.items()} == p_ids
    assert state["t"] == state_snapshot["t"]
    assert_dicts_equal(state["v"], state_snapshot["v"])
    assert_dicts_equal(state["s"], state_snapshot["s"])


def test_default_initialisation_is_he():
    dims = [2, 3, 1]
    X, Y, _ = make_data(dims, 6, seed=11)
    p_default, c_default = ref.model(X, Y, dims, "momentum", 0.05, mini_batch_size=4, num_epochs=2,
                                     print_cost=False)
    p_he, c_he = ref.model(X, Y, dims, "momentum", 0.05, mini_batch_size=4, num_epochs=2, print_cost=False,
                           initial_parameters=ref.initialize_parameters_he(dims))
    assert_dicts_equal(p_default, p_he)
    assert c_default == c_he


def test_model_argument_errors():
    dims = [2, 3, 1]
    X, Y, p0 = make_data(dims, 4, seed=12)
    with pytest.raises(ValueError):
        ref.model(X, Y, dims, "rmsprop", print_cost=False, num_epochs=1)
    with pytest.raises(ValueError):
        ref.model(X, Y, dims, "gd", print_cost=False, num_epochs=1, record_every=0)
    with pytest.raises(ValueError):
        ref.model(X, Y, [2, 4, 1], "gd", print_cost=False, num_epochs=1, initial_parameters=p0)
