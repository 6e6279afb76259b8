"""Model file format version 2: every hyper-parameter, the optimizer state and the validation
curves survive save/load, so that a loaded model continues training exactly; version-1 files
(fastdnn 0.1) still load; malformed version-2 files are refused with a clear error."""
import inspect
import json

import h5py
import numpy as np
import pytest

from fastdnn import DeepNeuralNetwork, load_model
from fastdnn.io.model_file import FORMAT_NAME, FORMAT_VERSION, load_model_file, seal_model_file
from fastdnn.persistence import HYPERPARAMETERS

M = 30


def _data(output, seed=0):
    """X (4, 30) and targets for a [4, 3, 2] network with the given output."""
    rng = np.random.RandomState(seed)
    X = rng.randn(4, M)
    if output == "sigmoid":
        Y = (rng.randn(2, 4) @ X > 0).astype(np.float64)       # 2 independent 0/1 outputs
    elif output == "softmax":
        Y = (rng.randn(1, 4) @ X > 0).astype(np.int64)          # class labels 0/1 (1, m)
    else:
        Y = np.tanh(rng.randn(2, 4) @ X) + 0.1 * rng.randn(2, M)
    return X, Y


def _net(output="sigmoid", optimizer="adam", **kw):
    options = dict(learning_rate=0.05, output=output, optimizer=optimizer, batch_size=8,
                   keep_prob=0.8, random_state=4, dropout_seed=7, shuffle_seed=3)
    options.update(kw)
    return DeepNeuralNetwork([4, 3, 2], **options)


def _assert_params_equal(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


def _assert_state_equal(a, b):
    assert a["t"] == b["t"] and a["rng"] == b["rng"]
    for key in ("v", "s"):
        assert (a[key] is None) == (b[key] is None), key
        if a[key] is not None:
            _assert_params_equal(a[key], b[key])


def _assert_same_run(x, y):
    _assert_params_equal(x.parameters_, y.parameters_)
    assert x.costs_ == y.costs_
    assert x.cost_iterations_ == y.cost_iterations_
    assert x.n_iter_ == y.n_iter_
    _assert_state_equal(x.optimizer_state_, y.optimizer_state_)


def test_hyperparameters_name_every_constructor_argument():
    args = set(inspect.signature(DeepNeuralNetwork.__init__).parameters) - {"self"}
    assert set(HYPERPARAMETERS) == args - {"layer_dims", "dtype"}
    assert len(set(HYPERPARAMETERS)) == len(HYPERPARAMETERS)


# ----------------------------------------------------------------------------- exact resumption

@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
def test_save_load_warm_start_equals_uninterrupted(tmp_path, output, optimizer):
    """Mini-batches and dropout: fit(n), save, load, fit(k, warm_start) == fit(n + k)."""
    X, Y = _data(output)
    n, k = 3, 2
    full = _net(output, optimizer).fit(X, Y, num_epochs=n + k, record_every=1)
    part = _net(output, optimizer).fit(X, Y, num_epochs=n, record_every=1)
    part.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5")

    assert loaded.output_ == output and loaded.activations_ == part.activations_
    for name in HYPERPARAMETERS:
        assert getattr(loaded, name) == getattr(part, name), name
    _assert_same_run(loaded, part)
    np.testing.assert_array_equal(loaded.predict_proba(X), part.predict_proba(X))
    assert loaded.predict_proba(X).tobytes() == part.predict_proba(X).tobytes()

    loaded.fit(X, Y, num_epochs=k, record_every=1, warm_start=True)
    assert full.strategy_ == loaded.strategy_ == "direct"
    _assert_same_run(loaded, full)
    assert loaded.cost_iterations_ == list(range(n + k))


@pytest.mark.parametrize("options", [
    dict(optimizer="momentum", batch_size=None, keep_prob=0.7, lambd=0.01, strategy="direct"),
    dict(optimizer="adam", decay="scheduled", decay_rate=0.5, time_interval=2, lambd=0.02,
         hidden_activation="tanh", beta1=0.8, beta2=0.99, epsilon=1e-7),
    dict(optimizer="momentum", decay="inverse", decay_rate=0.3, beta=0.8,
         hidden_activation=["leaky_relu"], dtype="float32", batch_size=7),
    dict(optimizer="adam", batch_size=None, keep_prob=1.0, init="he", random_state=9,
         strategy="direct", activations=["sigmoid", "sigmoid"], output="sigmoid"),
], ids=["full-batch-momentum-dropout-l2", "adam-scheduled-decay-tanh",
        "momentum-inverse-decay-float32", "adam-full-batch-activations"])
def test_every_option_survives_and_resumes_exactly(tmp_path, options):
    X, Y = _data("sigmoid", seed=1)
    n, k = 4, 3
    full = _net(**options).fit(X, Y, num_epochs=n + k, record_every=2)
    part = _net(**options).fit(X, Y, num_epochs=n, record_every=2)
    part.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5")
    for name in HYPERPARAMETERS:
        assert getattr(loaded, name) == getattr(part, name), name
    assert loaded.dtype_ == part.dtype_
    loaded.fit(X, Y, num_epochs=k, record_every=2, warm_start=True)
    _assert_same_run(loaded, full)


def test_twice_saved_and_loaded_still_exact(tmp_path):
    X, Y = _data("softmax")
    full = _net("softmax").fit(X, Y, num_epochs=6, record_every=2)
    model = _net("softmax").fit(X, Y, num_epochs=2, record_every=2)
    for _ in range(2):
        model.save(tmp_path / "m.h5")
        model = load_model(tmp_path / "m.h5").fit(X, Y, num_epochs=2, record_every=2,
                                                 warm_start=True)
    _assert_same_run(model, full)


def test_optimizer_state_is_stored_losslessly(tmp_path):
    X, Y = _data("sigmoid")
    model = _net().fit(X, Y, num_epochs=3)
    model.optimizer_state_["rng"] = 2 ** 64 - 1                 # the largest uint64
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert int(f.attrs["format_version"]) == FORMAT_VERSION == 3
        g = f["optimizer"]
        assert g.attrs["rng"].dtype == np.uint64 and int(g.attrs["rng"]) == 2 ** 64 - 1
        assert int(g.attrs["t"]) == model.optimizer_state_["t"] == 3 * 4    # 4 batches/epoch
        assert sorted(g) == ["s", "v"]
        assert list(g["v"]) == ["dW1", "dW2", "db1", "db2"]       # (h5py lists sorted)
        hp = json.loads(f.attrs["hyperparameters"])
        assert list(hp) == list(HYPERPARAMETERS)
        assert hp["batch_size"] == 8 and hp["decay"] is None and hp["keep_prob"] == 0.8
    loaded = load_model(tmp_path / "m.h5")
    _assert_state_equal(loaded.optimizer_state_, model.optimizer_state_)


def test_gd_file_stores_no_moments(tmp_path):
    X, Y = _data("identity")
    model = _net("identity", "gd", keep_prob=1.0).fit(X, Y, num_epochs=2)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert list(f["optimizer"]) == []
    state = load_model(tmp_path / "m.h5").optimizer_state_
    assert state["v"] is None and state["s"] is None and state["t"] == 0  # Adam's t only


def test_changed_optimizer_saves_zero_moments(tmp_path):
    """A gd model switched to Adam before saving: the file holds the zero moments that a
    warm start in memory would begin with, and the two continuations agree."""
    X, Y = _data("sigmoid")
    model = _net(optimizer="gd").fit(X, Y, num_epochs=2)
    model.optimizer = "adam"
    model.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5")
    assert all(not a.any() for a in loaded.optimizer_state_["v"].values())
    model.fit(X, Y, num_epochs=2, warm_start=True)
    loaded.fit(X, Y, num_epochs=2, warm_start=True)
    _assert_same_run(loaded, model)


def test_save_refuses_invalid_hyperparameters(tmp_path):
    X, Y = _data("sigmoid")
    model = _net().fit(X, Y, num_epochs=1)
    model.optimizer = "bogus"
    with pytest.raises(ValueError, match="optimizer"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


# ----------------------------------------------------------------------------- validation curves

def test_validation_curves_round_trip_and_resume(tmp_path):
    X, Y = _data("softmax")
    Xv, Yv = _data("softmax", seed=5)
    kw = dict(record_every=1, validation_data=(Xv, Yv))
    full = _net("softmax").fit(X, Y, num_epochs=5, **kw)
    part = _net("softmax").fit(X, Y, num_epochs=3, **kw)
    part.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5")
    assert loaded.val_costs_ == part.val_costs_ and len(loaded.val_costs_) == 3
    assert loaded.val_scores_ == part.val_scores_
    assert loaded.best_iteration_ == part.best_iteration_
    loaded.fit(X, Y, num_epochs=2, warm_start=True, **kw)
    part.fit(X, Y, num_epochs=2, warm_start=True, **kw)
    _assert_same_run(loaded, full)
    assert loaded.val_costs_ == full.val_costs_ and loaded.val_scores_ == full.val_scores_
    # best_iteration_ is that of the last fit's record points (fastdnn.model), as in memory
    assert loaded.best_iteration_ == part.best_iteration_


def test_early_stopped_model_round_trip(tmp_path):
    X, Y = _data("sigmoid")
    Xv, Yv = _data("sigmoid", seed=8)
    model = _net(learning_rate=0.5).fit(X, Y, num_epochs=60, record_every=1,
                                         validation_data=(Xv, Yv), early_stopping=True,
                                         patience=2)
    model.save(tmp_path / "m.h5")
    loaded = load_model(tmp_path / "m.h5")
    assert loaded.best_iteration_ == model.best_iteration_
    assert loaded.val_costs_ == model.val_costs_ and loaded.n_iter_ == model.n_iter_
    _assert_same_run(loaded, model)
    assert loaded.predict_proba(Xv).tobytes() == model.predict_proba(Xv).tobytes()


def test_no_validation_group_without_validation(tmp_path):
    X, Y = _data("sigmoid")
    _net().fit(X, Y, num_epochs=1).save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "validation" not in f
    assert not hasattr(load_model(tmp_path / "m.h5"), "val_costs_")


def test_validation_curves_padded_when_a_later_fit_had_none(tmp_path):
    """fit with validation data, then a warm start without: the later record points have no
    validation value; the file holds NaN there and the loaded model None."""
    X, Y = _data("sigmoid")
    model = _net().fit(X, Y, num_epochs=2, record_every=1, validation_data=(X, Y))
    model.fit(X, Y, num_epochs=2, record_every=1, warm_start=True)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        costs = f["validation/costs"][()]
    assert costs.shape == (4,) and np.isnan(costs[2:]).all() and np.isfinite(costs[:2]).all()
    loaded = load_model(tmp_path / "m.h5")
    assert loaded.val_costs_ == model.val_costs_ + [None, None]
    assert len(loaded.val_scores_) == len(loaded.costs_) == 4


# ----------------------------------------------------------------------------- format version 1

def write_v1(path, model, fastdnn_version="0.1.0"):
    """A version-1 model file exactly as fastdnn 0.1 wrote it (``fastdnn/model_io.py`` at
    commit 97136c7: ``save_model`` + ``_write``), from a fitted full-batch gd model."""
    hyperparameters = {k: getattr(model, k) for k in ("learning_rate", "init", "random_state",
                                                      "strategy", "n_threads")}
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "fastdnn-model"
        f.attrs["format_version"] = 1
        f.attrs["fastdnn_version"] = str(fastdnn_version)
        f.attrs["dtype"] = str(model.dtype_.name)
        f.attrs["n_iter"] = int(model.n_iter_)
        f.attrs["layer_dims"] = np.asarray(model.layer_dims_, dtype=np.int64)
        f.attrs["activations"] = json.dumps([str(a) for a in model.activations_])
        f.attrs["hyperparameters"] = json.dumps(hyperparameters)
        g = f.create_group("parameters")
        for l in range(1, len(model.layer_dims_)):
            for k in (f"W{l}", f"b{l}"):
                g.create_dataset(k, data=np.asarray(model.parameters_[k]))
        f.create_dataset("costs", data=np.asarray(model.costs_, dtype=np.float64))
        f.create_dataset("cost_iterations", data=np.asarray(model.cost_iterations_,
                                                            dtype=np.int64))


def _v1_model(dtype="float64"):
    """What fastdnn 0.1 could train: full-batch gradient descent, relu hidden layers, sigmoid."""
    return DeepNeuralNetwork([4, 5, 3, 1], 0.1, init="he", random_state=2, dtype=dtype,
                             strategy="direct")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_version_1_file_loads_predicts_and_resumes_exactly(tmp_path, dtype):
    X, Y = _data("sigmoid")
    Y = Y[:1]
    n, k = 12, 8
    part = _v1_model(dtype).fit(X, Y, n, record_every=5)
    write_v1(tmp_path / "v1.h5", part)
    payload = load_model_file(tmp_path / "v1.h5")
    assert payload["format_version"] == 1
    assert payload["optimizer_state"] is None and payload["validation"] is None

    loaded = load_model(tmp_path / "v1.h5")
    assert loaded.learning_rate == 0.1 and loaded.init == "he" and loaded.random_state == 2
    assert loaded.strategy == "direct" and loaded.dtype_ == np.dtype(dtype)
    defaults = {name: p.default
                for name, p in inspect.signature(DeepNeuralNetwork.__init__).parameters.items()}
    for name in HYPERPARAMETERS:
        if name not in ("learning_rate", "init", "random_state", "strategy", "n_threads",
                        "activations"):
            assert getattr(loaded, name) == defaults[name], name
    assert loaded.activations == ["relu", "relu", "sigmoid"] == loaded.activations_
    assert loaded.optimizer_state_ == {"v": None, "s": None, "t": 0, "rng": 0, "position": 0,
                                       "partial": 0.0}
    assert not hasattr(loaded, "val_costs_")
    _assert_params_equal(loaded.parameters_, part.parameters_)
    assert loaded.costs_ == part.costs_ and loaded.cost_iterations_ == [0, 5, 10]
    assert loaded.predict_proba(X).tobytes() == part.predict_proba(X).tobytes()
    np.testing.assert_array_equal(loaded.predict(X), part.predict(X))

    full = _v1_model(dtype).fit(X, Y, n + k, record_every=5)
    loaded.fit(X, Y, k, record_every=5, warm_start=True)
    _assert_same_run(loaded, full)

    loaded.save(tmp_path / "v2.h5")                 # a version-1 model saves as version 2
    again = load_model(tmp_path / "v2.h5")
    assert load_model_file(tmp_path / "v2.h5")["format_version"] == 3
    _assert_same_run(again, full)


def test_version_1_file_of_a_logistic_regression(tmp_path):
    X, Y = _data("sigmoid")
    model = DeepNeuralNetwork([4, 1], 0.2, strategy="direct").fit(X, Y[:1], 5)
    write_v1(tmp_path / "v1.h5", model)
    loaded = load_model(tmp_path / "v1.h5")
    assert loaded.activations_ == ["sigmoid"]
    assert loaded.predict_proba(X).tobytes() == model.predict_proba(X).tobytes()


# ----------------------------------------------------------------------------- malformed files

@pytest.fixture
def adam_file(tmp_path):
    X, Y = _data("sigmoid")
    path = tmp_path / "adam.h5"
    _net().fit(X, Y, num_epochs=2, record_every=1, validation_data=(X, Y)).save(path)
    return path


def _edit(path, change):
    with h5py.File(path, "a") as f:
        change(f)
    seal_model_file(path)       # a deliberate edit: reseal, so the contents are checked


def _replace(name, value):
    def change(f):
        del f[name]
        f[name] = value
    return change


def _set_attr(group, name, value):
    def change(f):
        f[group].attrs[name] = value
    return change


def _del_attr(group, name):
    def change(f):
        del f[group].attrs[name]
    return change


def _set_hyperparameter(name, value):
    def change(f):
        hp = json.loads(f.attrs["hyperparameters"])
        hp[name] = value
        f.attrs["hyperparameters"] = json.dumps(hp)
    return change


def _nan_in(name):
    def change(f):
        a = f[name][()]
        a.flat[0] = np.nan
        f[name][...] = a
    return change


MALFORMED = [
    ("no optimizer group", lambda f: f.__delitem__("optimizer"), r"without its /optimizer group"),
    ("adam without s", lambda f: f.__delitem__("optimizer/s"),
     r"optimizer 'adam' needs its second moments .*/optimizer/s is missing"),
    ("adam without v", lambda f: f.__delitem__("optimizer/v"),
     r"optimizer 'adam' needs its first moments .*/optimizer/v is missing"),
    ("momentum without v", lambda f: (f.__delitem__("optimizer/v"),
                                      _set_hyperparameter("optimizer", "momentum")(f)),
     r"optimizer 'momentum' needs its first moments"),
    ("missing moment", lambda f: f.__delitem__("optimizer/v/db2"),
     r"/optimizer/v/db2 missing"),
    ("extra moment", lambda f: f["optimizer/s"].create_dataset("dW9", data=np.zeros(2)),
     r"unexpected optimizer moments \['dW9'\]"),
    ("moment shape", _replace("optimizer/v/dW1", np.zeros((4, 3))),
     r"/optimizer/v/dW1 has shape \(4, 3\), parameter W1 needs \(3, 4\)"),
    ("moment dtype", _replace("optimizer/s/db1", np.zeros((3, 1), np.float32)),
     r"/optimizer/s/db1 is float32, the model's dtype is float64"),
    ("nan moment", _nan_in("optimizer/v/dW2"), r"/optimizer/v/dW2 holds NaN or infinite"),
    ("inf moment", _replace("optimizer/s/db2", np.full((2, 1), np.inf)),
     r"/optimizer/s/db2 holds NaN or infinite"),
    ("negative second moment", _replace("optimizer/s/dW1", -np.ones((3, 4))),
     r"/optimizer/s/dW1 holds negative values"),
    ("moment is a group", lambda f: (f.__delitem__("optimizer/v"), f.create_group("optimizer/v/x")),
     r"/optimizer/v/x is a group"),
    ("no t", _del_attr("optimizer", "t"), r"optimizer step count \(attribute 't'\) is missing"),
    ("no rng", _del_attr("optimizer", "rng"), r"dropout generator state \(attribute 'rng'\) is "
     r"missing"),
    ("float rng", _set_attr("optimizer", "rng", 1.5), r"attribute 'rng'\) must be an integer"),
    ("negative t", _set_attr("optimizer", "t", -1), r"step count t must be an integer >= 0"),
    ("unknown optimizer", _set_hyperparameter("optimizer", "rmsprop"),
     r"optimizer must be one of \['gd', 'momentum', 'adam'\], got 'rmsprop'"),
    ("validation length", _replace("validation/costs", np.zeros(5)),
     r"validation costs have shape \(5,\), one per recorded cost needs \(2,\)"),
    ("validation scores missing", lambda f: f.__delitem__("validation/scores"),
     r"validation scores \(/validation/scores\) are missing"),
    ("bad hyperparameter", _set_hyperparameter("keep_prob", 1.5),
     r"invalid hyper-parameters in the model file: keep_prob"),
    ("activations disagree", _set_hyperparameter("hidden_activation", "tanh"),
     r"give the activations \['tanh', 'sigmoid'\] but the file records \['relu', 'sigmoid'\]"),
]


@pytest.mark.parametrize("change, message", [(c, m) for _, c, m in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_version_2_file(adam_file, change, message):
    _edit(adam_file, change)
    with pytest.raises(ValueError, match=message) as info:
        load_model(adam_file)
    assert "adam.h5" in str(info.value)


def test_newer_version_asks_for_an_upgrade(adam_file):
    _edit(adam_file, _set_attr("/", "format_version", 4))
    with pytest.raises(ValueError, match=r"adam\.h5.*format version 4.*reads format version 3 "
                                         r"or older; upgrade fastdnn"):
        load_model(adam_file)


def test_file_attributes_v2(adam_file):
    with h5py.File(adam_file, "r") as f:
        assert f.attrs["format"] == FORMAT_NAME
        assert sorted(f) == ["cost_iterations", "costs", "optimizer", "parameters", "validation"]
        assert sorted(f["validation"]) == ["costs", "scores"]
        assert "best_iteration" in f["validation"].attrs
