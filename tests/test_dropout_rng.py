"""The dropout generator: SplitMix64, compiled and in NumPy, and the masks it draws.

``fastdnn.kernels.dropout`` draws masks inside the compiled training loops from
an explicit uint64 state; ``fastdnn.engine.rng`` is its NumPy twin (it hands the
very same masks to the reference). Both must be SplitMix64 (Steele, Lea & Flood
2014; Vigna's splitmix64.c) bit for bit: checked against the published first
outputs for seed 1234567 and a plain-Python version written out here.
"""

import numpy as np
import pytest
from conftest import (
    DIMS,
    M,
    assert_params_equal,
    binary_problem,
    regression_problem,
    start_parameters,
)

from fastdnn import DeepNeuralNetwork, TrainingDivergedError
from fastdnn.engine import TrainingEngine
from fastdnn.engine.options import TrainingOptions
from fastdnn.engine.rng import mask_source, new_state, uniforms
from fastdnn.kernels.dropout import apply_mask_backward, apply_new_mask, fill_uniforms, next_uniform

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15

#: SplitMix64's first five outputs for seed 1234567, as the reference C implementation
#: (splitmix64.c) prints them (Rosetta Code, "Pseudo-random numbers/Splitmix64").
PUBLISHED_1234567 = [6457827717110365317, 3203168211198807973, 9817491932198370423,
                     4593380528125082431, 16408922859458223821]
#: ... and the first two for seed 0.
PUBLISHED_0 = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


def splitmix64(seed, k):
    """The first k outputs of SplitMix64 from ``seed``, with Python integers mod 2^64."""
    x, out = seed & MASK64, []
    for _ in range(k):
        x = (x + GAMMA) & MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return out


def to_unit(z):
    """The documented uniform: the top 53 bits of z times 2^-53."""
    return (z >> 11) / float(1 << 53)


# == the generator =====================================================================

def test_python_splitmix64_gives_the_published_outputs():
    assert splitmix64(1234567, 5) == PUBLISHED_1234567
    assert splitmix64(0, 2) == PUBLISHED_0


@pytest.mark.parametrize("seed, published", [(1234567, PUBLISHED_1234567), (0, PUBLISHED_0)])
def test_both_generators_give_the_published_uniforms(seed, published):
    want = np.array([to_unit(z) for z in published])
    state = new_state(seed)
    np.testing.assert_array_equal(uniforms(state, len(published)), want)
    assert int(state[0]) == (seed + GAMMA * len(published)) & MASK64
    state = new_state(seed)
    out = np.empty(len(published))
    fill_uniforms(state, out)
    np.testing.assert_array_equal(out, want)
    state = new_state(seed)
    assert [next_uniform(state) for _ in published] == list(want)


@pytest.mark.parametrize("seed", [0, 1, 7, 1234567, 2 ** 32 - 1, 2 ** 63 + 5, 2 ** 64 - 1])
def test_compiled_generator_equals_numpy_twin_bit_for_bit(seed):
    a, b = new_state(seed), new_state(seed)
    for k in (1, 5, 1000):                   # consecutive blocks continue one stream
        want = uniforms(a, k)
        got = np.empty(k)
        fill_uniforms(b, got)
        np.testing.assert_array_equal(got, want)
        assert a[0] == b[0]
    assert a.dtype == b.dtype == np.uint64
    # and both equal the Python integers, across the 2^64 wrap-around
    np.testing.assert_array_equal(uniforms(new_state(seed), 50),
                                  [to_unit(z) for z in splitmix64(seed, 50)])


def test_new_state_takes_the_seed_mod_2_64():
    assert int(new_state(-1)[0]) == MASK64
    assert int(new_state(2 ** 64 + 3)[0]) == 3


def test_uniforms_are_in_unit_interval_with_uniform_moments():
    u = uniforms(new_state(2024), 200_000)
    assert u.dtype == np.float64
    assert u.min() >= 0.0 and u.max() < 1.0
    # mean 1/2 and variance 1/12 of U[0, 1): standard errors 6.5e-4 and 3.7e-4; 6 sigma
    assert abs(u.mean() - 0.5) < 4e-3
    assert abs(u.var() - 1 / 12) < 2.5e-3
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 20_000) < 6 * np.sqrt(20_000 * 0.9))
    assert len(np.unique(u)) > 199_990


# == masks ===============================================================================

@pytest.mark.parametrize("keep_prob", [0.2, 0.5, 0.8, 0.95])
def test_compiled_mask_keeps_about_keep_prob_and_equals_mask_source(keep_prob):
    n, m = 60, 500
    rng = np.random.RandomState(1)
    A = rng.rand(n, m) + 0.5                 # positive, so a kept entry is never 0
    before = A.copy()
    P, D = np.zeros_like(A), np.zeros((n, m), dtype=np.bool_)
    state = new_state(99)
    apply_new_mask(A, P, D, keep_prob, state)
    want = mask_source(99, keep_prob)((n, m))
    np.testing.assert_array_equal(D, want)          # the NumPy twin's very mask
    np.testing.assert_array_equal(P, before)        # activations before dropout kept
    np.testing.assert_allclose(A, before * D / keep_prob, rtol=1e-15, atol=0)
    assert int(state[0]) == (99 + GAMMA * n * m) & MASK64       # one draw per entry
    # fraction kept: binomial, standard error sqrt(p (1 - p) / 30000) < 2.9e-3; 5 sigma
    assert abs(D.mean() - keep_prob) < 0.015
    dA = rng.randn(n, m)
    back = dA.copy()
    apply_mask_backward(back, D, keep_prob)
    np.testing.assert_allclose(back, dA * D / keep_prob, rtol=1e-15, atol=0)


def test_mask_source_draws_in_row_major_order_from_one_stream():
    masks = mask_source(3, 0.5)
    first, second = masks((2, 4)), masks((3, 2))
    u = uniforms(new_state(3), 14)
    np.testing.assert_array_equal(first, (u[:8] < 0.5).reshape(2, 4))
    np.testing.assert_array_equal(second, (u[8:] < 0.5).reshape(3, 2))


def _dropout_engine(X, Y, seed=5, keep_prob=0.7, batch_size=None):
    opts = TrainingOptions(keep_prob=keep_prob, dropout_seed=seed, batch_size=batch_size)
    return TrainingEngine(X, Y, start_parameters(DIMS), DIMS, ["relu", "tanh", "sigmoid"], 0.05,
                          strategy="direct", options=opts)


def _masks(ws):
    """The masks of the hidden layers (n_l, m) of the last step, from the workspace."""
    return [ws.mask[ws.a_off[l - 1]:ws.a_off[l - 1] + ws.dims[l] * ws.m].reshape(ws.dims[l], ws.m)
            .copy() for l in (1, 2)]


def test_every_step_draws_fresh_masks_in_order():
    X, Y = binary_problem()
    engine = _dropout_engine(X, Y)
    source = mask_source(5, 0.7)
    seen = []
    for step in range(3):
        engine.run(1, 1, start_iteration=step)
        got = _masks(engine.ws)
        for layer, mask in enumerate(got):
            np.testing.assert_array_equal(mask, source(mask.shape), err_msg=(step, layer))
        seen.append(got)
    assert not np.array_equal(seen[0][0], seen[1][0])
    assert not np.array_equal(seen[1][0], seen[2][0])
    assert not np.array_equal(seen[0][1], seen[1][1])
    assert int(engine.ws.rng[0]) == (5 + GAMMA * 3 * (3 + 2) * M) & MASK64


def test_mini_batches_draw_one_mask_per_batch():
    """Batches of 8, 8, 8, 6: the generator advances by (n_1 + n_2) * m_b per batch,
    so by (3 + 2) * 30 per epoch, as full-batch epochs do."""
    X, Y = binary_problem()
    engine = _dropout_engine(X, Y, batch_size=8)
    engine.run(4, 100)
    assert int(engine.ws.rng[0]) == (5 + GAMMA * 4 * 5 * M) & MASK64
    # the last batch (6 examples) used the front of the (8-column) mask buffers
    source = mask_source(5, 0.7)
    source((1, 3 * 5 * M + 3 * 5 * 8))       # 3 epochs, then 3 batches of 8 of the 4th
    want1, want2 = source((3, 6)), source((2, 6))
    ws = engine.ws
    np.testing.assert_array_equal(ws.mask[ws.a_off[0]:ws.a_off[0] + 18].reshape(3, 6), want1)
    np.testing.assert_array_equal(ws.mask[ws.a_off[1]:ws.a_off[1] + 12].reshape(2, 6), want2)


def test_model_rng_state_counts_the_draws_over_the_model_life():
    X, Y = binary_problem()
    model = DeepNeuralNetwork(DIMS, 0.05, keep_prob=0.8, dropout_seed=12, batch_size=8)
    model.fit(X, Y, num_epochs=3, initial_parameters=start_parameters(DIMS))
    assert model.optimizer_state_["rng"] == (12 + GAMMA * 3 * 5 * M) & MASK64
    model.fit(X, Y, num_epochs=2, warm_start=True)
    assert model.optimizer_state_["rng"] == (12 + GAMMA * 5 * 5 * M) & MASK64
    no_dropout = DeepNeuralNetwork(DIMS, 0.05, dropout_seed=12).fit(X, Y, 3)
    assert no_dropout.optimizer_state_["rng"] == 12          # keep_prob = 1 draws nothing


# == divergence rewinds the generator =======================================================

DIVERGING = [
    # (batch_size, learning rate, record_every), found to diverge after a few epochs on each
    # path of the engine's rewind (the comment says where the kept state comes from)
    pytest.param(None, 0.3, 3, id="full-output-mid-chunk"),        # chunk snapshot + 1 replayed
    pytest.param(None, 0.2, 3, id="full-output-second-step"),      # chunk snapshot as is
    pytest.param(None, 0.3, 5, id="full-output-at-chunk-start"),   # previous chunk + 4 replayed
    pytest.param(None, 0.15, 3, id="full-update-at-chunk-start"),  # chunk snapshot as is
    pytest.param(8, 0.05, 3, id="minibatch-first-epoch-of-chunk"),
    pytest.param(8, 0.05, 5, id="minibatch-replays-4-epochs"),
]


@pytest.mark.parametrize("batch_size, lr, record_every", DIVERGING)
def test_divergence_with_dropout_keeps_a_state_that_replays_bit_for_bit(batch_size, lr,
                                                                        record_every):
    """After a divergence the kept parameters, costs and generator are exactly those of a
    fresh fit of n_iter_ epochs: the rewind restored the dropout generator too."""
    X, Y = regression_problem()
    Y = 10 * Y
    P0 = start_parameters(DIMS)
    kw = dict(output="identity", hidden_activation="identity", keep_prob=0.8, dropout_seed=1,
              batch_size=batch_size, strategy="direct")
    model = DeepNeuralNetwork(DIMS, lr, **kw)
    with pytest.raises(TrainingDivergedError) as info:
        model.fit(X, Y, num_epochs=300, record_every=record_every, initial_parameters=P0)
    kept = model.n_iter_
    assert kept == info.value.iteration and 1 <= kept < 300
    assert all(np.isfinite(a).all() for a in model.parameters_.values())
    fresh = DeepNeuralNetwork(DIMS, lr, **kw).fit(X, Y, num_epochs=kept,
                                                  record_every=record_every, initial_parameters=P0)
    assert_params_equal(model.parameters_, fresh.parameters_)
    assert model.optimizer_state_["rng"] == fresh.optimizer_state_["rng"]
    assert model.optimizer_state_["rng"] == (1 + GAMMA * kept * 5 * M) & MASK64
    assert model.optimizer_state_["t"] == fresh.optimizer_state_["t"]
    assert model.costs_[:len(fresh.costs_)] == fresh.costs_
    # and training on from the kept state diverges again at the same point
    again = DeepNeuralNetwork(DIMS, lr, **kw)
    again.fit(X, Y, num_epochs=kept, record_every=record_every, initial_parameters=P0)
    with pytest.raises(TrainingDivergedError):
        again.fit(X, Y, num_epochs=300, record_every=record_every, warm_start=True)
    assert again.n_iter_ == kept
    assert_params_equal(again.parameters_, model.parameters_)
