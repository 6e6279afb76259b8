"""Out-of-core training from HDF5 (``fastdnn.outofcore``, ``fastdnn.io.HDF5Source``).

Every result is checked against in-memory training on the same data loaded
with ``fastdnn.io.data`` (the CLI's loaders): the same gradients summed over
chunks must give the same parameters (max relative difference 1e-12 in
float64; the direct strategy, since the Gram one differs by rounding).
Files are tiny (tens of examples) and the chunks deliberately uneven.
"""

import threading

import h5py
import numpy as np
import pytest

from conftest import max_rel_error, regression_problem, softmax_problem
from fastdnn import DeepNeuralNetwork, TrainingDivergedError
from fastdnn.engine.pieces import chunk_shuffled_order
from fastdnn.io import DataFileError, HDF5Source
from fastdnn.io.data import load_dataset, load_hdf5, write_course_file

M = 53
IMAGE = (4, 4, 3)
N_X = 48
DIMS = [N_X, 5, 3, 1]
TOL = 1e-12


@pytest.fixture(scope="module")
def course_file(tmp_path_factory):
    """A course-layout file: train_set_x (53, 4, 4, 3) uint8, train_set_y (53,) 0/1."""
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, size=(M,) + IMAGE).astype(np.uint8)
    y = (imgs.reshape(M, -1)[:, :24].mean(1) > imgs.reshape(M, -1)[:, 24:].mean(1)).astype(int)
    path = tmp_path_factory.mktemp("ooc") / "train.h5"
    write_course_file(path, imgs, y)
    return path


@pytest.fixture(scope="module")
def in_memory(course_file):
    return load_dataset(course_file)


def source(path, **kw):
    return HDF5Source(path, "train_set_x", "train_set_y", **kw)


def net(**kw):
    return DeepNeuralNetwork(DIMS, 0.05, strategy="direct", **kw)


@pytest.mark.parametrize("options", [
    {},
    {"optimizer": "momentum", "lambd": 0.5, "decay": "inverse", "decay_rate": 0.1},
    {"optimizer": "adam", "lambd": 0.2},
    {"hidden_activation": "tanh", "optimizer": "adam", "decay": "scheduled", "time_interval": 7},
])
@pytest.mark.parametrize("chunk", [7, 53, 100])
def test_full_batch_equals_in_memory(course_file, in_memory, options, chunk):
    expected = net(**options).fit(in_memory.X, in_memory.Y, 30, record_every=5)
    got = net(**options).fit(source(course_file, chunk_examples=chunk), None, 30, record_every=5)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    assert got.cost_iterations_ == expected.cost_iterations_
    np.testing.assert_allclose(got.costs_, expected.costs_, rtol=1e-12)
    assert got.n_iter_ == 30
    state, want = got.optimizer_state_, expected.optimizer_state_
    assert state["t"] == want["t"]
    for key in ("v", "s"):
        if want[key] is not None:
            assert max_rel_error(state[key], want[key]) <= 1e-10


def test_h5py_datasets_directly(course_file, in_memory):
    """fit(f["train_set_x"], f["train_set_y"]): uint8 converted per chunk (/255, the CLI's rule)."""
    expected = net(optimizer="adam").fit(in_memory.X, in_memory.Y, 20)
    with h5py.File(course_file, "r") as f:
        got = net(optimizer="adam").fit(f["train_set_x"], f["train_set_y"], 20)
        assert got.score(f["train_set_x"], f["train_set_y"]) == expected.score(in_memory.X,
                                                                              in_memory.Y)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL


def test_minibatch_exact_order_equals_in_memory(course_file, in_memory):
    """shuffle="exact" reads each batch by row indices in the in-memory order."""
    opts = dict(optimizer="adam", batch_size=16, lambd=0.1, decay="inverse", decay_rate=0.2)
    expected = net(**opts).fit(in_memory.X, in_memory.Y, num_epochs=6, record_every=2)
    got = net(**opts).fit(source(course_file, chunk_examples=10, shuffle="exact"), None,
                          num_epochs=6, record_every=2)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    assert got.cost_iterations_ == expected.cost_iterations_ == [0, 2, 4]
    np.testing.assert_allclose(got.costs_, expected.costs_, rtol=1e-12)


def test_minibatch_chunk_order_is_the_documented_one(course_file, in_memory):
    """shuffle="chunks": epoch e takes the examples in ``chunk_shuffled_order``. Expected: the
    in-memory model trained one epoch at a time (warm start) on the examples permuted so
    that its own order of that epoch visits them in the documented one."""
    opts = dict(optimizer="momentum", batch_size=8)
    chunk, epochs, seed = 10, 4, 10
    expected = net(**opts)
    for e in range(epochs):
        want = chunk_shuffled_order(M, chunk, seed, e)
        own = np.random.RandomState(seed + e + 1).permutation(M)
        perm = np.empty(M, dtype=np.int64)
        perm[own] = want           # the in-memory batch k takes own[...]: that is want[...]
        expected.fit(in_memory.X[:, perm], in_memory.Y[:, perm], num_epochs=1,
                     warm_start=e > 0, record_every=1)
    got = net(**opts).fit(source(course_file, chunk_examples=chunk), None, num_epochs=epochs,
                          record_every=1)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    np.testing.assert_allclose(got.costs_, expected.costs_, rtol=1e-12)
    again = net(**opts).fit(source(course_file, chunk_examples=chunk), None, num_epochs=epochs)
    for k in got.parameters_:  # the same seed, the same bits
        np.testing.assert_array_equal(again.parameters_[k], got.parameters_[k])


def test_chunk_shuffled_order_is_a_permutation():
    for m, c in ((53, 10), (10, 10), (7, 100), (1, 1)):
        order = chunk_shuffled_order(m, c, 3, 0)
        assert sorted(order) == list(range(m))
        # each chunk's examples come together: as many runs of one chunk as chunks
        chunk_of = order // c
        assert 1 + np.count_nonzero(np.diff(chunk_of)) == -(-m // c)
    assert not np.array_equal(chunk_shuffled_order(53, 10, 3, 0),
                              chunk_shuffled_order(53, 10, 3, 1))


def test_warm_start_continues_exactly(course_file, in_memory):
    src = source(course_file, chunk_examples=9)
    whole = net(optimizer="adam", batch_size=16).fit(src, None, num_epochs=5)
    parts = net(optimizer="adam", batch_size=16).fit(src, None, num_epochs=2)
    parts.fit(src, None, num_epochs=3, warm_start=True)
    assert parts.n_iter_ == 5 and parts.optimizer_state_["t"] == whole.optimizer_state_["t"]
    for k in whole.parameters_:
        np.testing.assert_array_equal(parts.parameters_[k], whole.parameters_[k])
    # in memory first, then out of core: the same as in memory throughout (full batch)
    mem = net(optimizer="momentum").fit(in_memory.X, in_memory.Y, 20)
    mixed = net(optimizer="momentum").fit(in_memory.X, in_memory.Y, 8)
    mixed.fit(src, None, 12, warm_start=True)
    assert max_rel_error(mixed.parameters_, mem.parameters_) <= TOL


def test_general_layout_softmax_and_float_data(tmp_path):
    """Float X (m, n_x), integer class labels (m,), scale=None; and (m, n_out) targets."""
    X, labels, onehot = softmax_problem(n_x=6, m=41)
    path = tmp_path / "general.h5"
    with h5py.File(path, "w") as f:
        f["x"] = X.T
        f["labels"] = labels.ravel()
        f["onehot"] = onehot.T
    dims = [6, 4, 3]
    kw = dict(output="softmax", optimizer="adam", strategy="direct")
    expected = DeepNeuralNetwork(dims, 0.01, **kw).fit(X, labels, 25)
    for y_key in ("labels", "onehot"):
        got = DeepNeuralNetwork(dims, 0.01, **kw).fit(
            HDF5Source(path, "x", y_key, chunk_examples=6, scale=None), None, 25)
        assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    src = HDF5Source(path, "x", "labels", chunk_examples=6)
    np.testing.assert_allclose(got.predict_proba(src), got.predict_proba(X), rtol=1e-13)
    np.testing.assert_array_equal(got.predict(src), got.predict(X))
    assert got.score(src) == got.score(X, labels)


def test_regression_targets_rows(tmp_path):
    X, Y = regression_problem(n_x=5, m=37, n_out=2)
    path = tmp_path / "reg.h5"
    with h5py.File(path, "w") as f:
        f["x"] = X.T.astype(np.float32)   # float32 on disk, float64 model
        f["y"] = Y.T
    X32 = X.astype(np.float32).astype(np.float64)
    dims = [5, 4, 2]
    kw = dict(output="identity", strategy="direct", optimizer="momentum")
    expected = DeepNeuralNetwork(dims, 0.05, **kw).fit(X32, Y, 30)
    src = HDF5Source(path, "x", "y", chunk_examples=8)
    got = DeepNeuralNetwork(dims, 0.05, **kw).fit(src, None, 30)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    assert abs(got.score(src) - expected.score(X32, Y)) <= 1e-12


def test_predict_and_score_on_course_file(course_file, in_memory):
    model = net(optimizer="adam").fit(in_memory.X, in_memory.Y, 20)
    src = source(course_file, chunk_examples=11)
    np.testing.assert_array_equal(model.predict(src), model.predict(in_memory.X))
    with h5py.File(course_file, "r") as f:
        np.testing.assert_allclose(model.predict_proba(f["train_set_x"]),
                                   model.predict_proba(in_memory.X), rtol=1e-13)
    assert model.score(src) == model.score(in_memory.X, in_memory.Y)


def test_float32_model(course_file, in_memory):
    expected = net(dtype="float32").fit(in_memory.X, in_memory.Y, 20)
    got = net(dtype="float32").fit(source(course_file, chunk_examples=10), None, 20)
    assert got.parameters_["W1"].dtype == np.float32
    assert max_rel_error(got.parameters_, expected.parameters_) <= 1e-5


def test_divergence_keeps_finite_parameters(course_file):
    with pytest.raises(TrainingDivergedError):
        DeepNeuralNetwork(DIMS, 1e6, strategy="direct", output="identity").fit(
            source(course_file, chunk_examples=10), None, 50)


def test_divergence_state(course_file):
    model = DeepNeuralNetwork(DIMS, 1e6, strategy="direct", output="identity")
    with pytest.raises(TrainingDivergedError) as err:
        model.fit(source(course_file, chunk_examples=10), None, 50, record_every=1)
    assert all(np.isfinite(p).all() for p in model.parameters_.values())
    assert model.n_iter_ == err.value.iteration


def test_refused_options_and_bad_input(course_file, tmp_path):
    src = source(course_file, chunk_examples=10)
    with pytest.raises(ValueError, match="dropout"):
        DeepNeuralNetwork([N_X, 4, 1], keep_prob=0.8).fit(src, None, 2)
    with pytest.raises(ValueError, match="validation_data"):
        net().fit(src, None, 2, validation_data=(np.zeros((N_X, 2)), np.zeros((1, 2))))
    with pytest.raises(ValueError, match="checkpoint"):
        net().fit(src, None, 2, checkpoint=str(tmp_path / "c.h5"))
    with pytest.raises(ValueError, match="n_x = layer_dims"):
        DeepNeuralNetwork([12, 3, 1]).fit(src, None, 2)
    with pytest.raises(ValueError, match="carries its own labels"):
        net().fit(src, np.zeros(M), 2)
    with pytest.raises(ValueError, match="needs labels"):
        net().fit(HDF5Source(course_file, "train_set_x"), None, 2)
    with pytest.raises(DataFileError, match="nope"):
        HDF5Source(course_file, "nope", "train_set_y")
    with pytest.raises(ValueError, match="chunk_examples"):
        source(course_file, chunk_examples=0)
    with pytest.raises(ValueError, match="shuffle"):
        source(course_file, shuffle="random")
    with pytest.raises(TypeError, match="x_key"):
        HDF5Source(course_file)
    with pytest.raises(FileNotFoundError):
        HDF5Source(tmp_path / "missing.h5", "x")
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        x = np.random.RandomState(0).rand(20, 3)
        x[13, 1] = np.nan
        f["x"] = x
        f["y"] = np.ones(20)
        f["y2"] = np.full(20, 2.0)
        f["short"] = np.ones(19)
    with pytest.raises(ValueError, match="chunk from example 10: X contains NaN") as err:
        DeepNeuralNetwork([3, 1]).fit(HDF5Source(path, "x", "y", chunk_examples=5), None, 2)
    assert not isinstance(err.value, DataFileError)
    with pytest.raises(ValueError, match="labels 0 or 1"):
        DeepNeuralNetwork([3, 1]).fit(HDF5Source(path, "x", "y2", chunk_examples=5), None, 2)
    with pytest.raises(DataFileError, match="labels must have shape"):
        HDF5Source(path, "x", "short")


def test_reader_thread_stops_and_reports_errors(course_file):
    src = source(course_file, chunk_examples=5)
    before = threading.active_count()
    for i, _ in enumerate(src.chunks()):
        if i == 2:
            break          # leaving early stops the reader
    assert threading.active_count() == before

    def boom(X, Y, lo):
        if lo >= 20:
            raise RuntimeError("bad chunk %d" % lo)
        return X, Y

    with pytest.raises(RuntimeError, match="bad chunk 20"):
        list(src.chunks(transform=boom))
    assert threading.active_count() == before


def test_chunks_convert_like_the_loaders(course_file, in_memory, tmp_path):
    src = source(course_file, chunk_examples=8)
    X = np.concatenate([X for _, X, _ in src.chunks()], axis=1)
    np.testing.assert_array_equal(X, in_memory.X)
    with h5py.File(tmp_path / "u16.h5", "w") as f:
        f["x"] = (np.arange(30, dtype=np.uint16) * 2000).reshape(10, 3)
        f["y"] = np.arange(10) % 2
    ds = load_hdf5(tmp_path / "u16.h5", "x", "y")
    got = np.concatenate([X for _, X, _ in HDF5Source(tmp_path / "u16.h5", "x", "y",
                                                      chunk_examples=3).chunks()], axis=1)
    np.testing.assert_array_equal(got, ds.X)


def test_cli_train_stream_equals_in_memory(course_file, tmp_path, capsys):
    from fastdnn import load_model
    from fastdnn.cli import main

    common = [str(course_file), "--iterations", "15", "--layers", "5,3", "--strategy", "direct",
              "--quiet", "--learning-rate", "0.05", "--optimizer", "adam"]
    assert main(["train", *common, "--out", str(tmp_path / "mem.h5")]) == 0
    assert main(["train", *common, "--stream", "--chunk-examples", "9",
                 "--out", str(tmp_path / "stream.h5")]) == 0
    out = capsys.readouterr().out
    assert "streamed in chunks of 9 examples" in out
    got, expected = load_model(tmp_path / "stream.h5"), load_model(tmp_path / "mem.h5")
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    assert got.optimizer_state_["t"] == 15


def test_cli_stream_usage_errors(course_file, tmp_path, capsys):
    from fastdnn.cli import main

    for extra, message in ((["--validation-split", "0.2"], "--validation-split is not supported"),
                           (["--keep-prob", "0.5"], "dropout"),
                           (["--dask-workers", "2"], "give one of them")):
        assert main(["train", str(course_file), "--stream", *extra,
                     "--out", str(tmp_path / "m.h5")]) == 2
        assert message in capsys.readouterr().err
    assert main(["train", str(course_file), "--chunk-examples", "5",
                 "--out", str(tmp_path / "m.h5")]) == 2
    assert "--chunk-examples needs" in capsys.readouterr().err


def test_labels_as_one_row_and_exact_order(tmp_path, in_memory):
    """Labels stored (1, m) (the course's in-memory shape), read by range and by rows."""
    path = tmp_path / "row.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.rint(in_memory.X.T * 255).astype(np.uint8)
        f["y"] = in_memory.Y.astype(np.int64)            # (1, m)
    opts = dict(optimizer="adam", batch_size=10)
    expected = net(**opts).fit(in_memory.X, in_memory.Y, num_epochs=3)
    got = net(**opts).fit(HDF5Source(path, "x", "y", chunk_examples=12, shuffle="exact"), None,
                          num_epochs=3)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL


def test_cli_evaluate_and_predict_stream(course_file, in_memory, tmp_path, capsys):
    from fastdnn.cli import main

    model_path = tmp_path / "m.h5"
    net(optimizer="adam").fit(in_memory.X, in_memory.Y, 20).save(model_path)
    lines = {}
    for mode, extra in (("memory", []), ("stream", ["--stream", "--chunk-examples", "8"])):
        assert main(["evaluate", str(model_path), str(course_file), *extra]) == 0
        lines[mode] = [l for l in capsys.readouterr().out.splitlines()
                       if l.startswith(("accuracy", "TP"))]
        assert main(["predict", str(model_path), str(course_file), *extra,
                     "--out", str(tmp_path / (mode + ".csv"))]) == 0
    assert lines["stream"][0] == lines["memory"][0]
    assert lines["stream"][1].split("(")[0] == lines["memory"][1].split("(")[0]
    assert (tmp_path / "stream.csv").read_text() == (tmp_path / "memory.csv").read_text()
    assert main(["evaluate", str(model_path), str(course_file), "--chunk-examples", "8"]) == 2


@pytest.mark.parametrize("batch_size", [None, 8])
def test_ctrl_c_stops_at_a_consistent_state(course_file, in_memory, batch_size):
    """SIGINT during a streamed fit: TrainingInterrupted, and the model keeps the state after
    the whole iterations (epochs) done, equal to an in-memory fit of that length."""
    import os
    import signal

    from fastdnn import TrainingInterrupted

    def ctrl_c(iteration, cost):
        if iteration == 3:
            os.kill(os.getpid(), signal.SIGINT)

    model = net(optimizer="adam", batch_size=batch_size)
    with pytest.raises(TrainingInterrupted, match="after (iteration|epoch) 4 of 10"):
        model.fit(source(course_file, chunk_examples=10), None, num_epochs=10, record_every=1,
                  callback=ctrl_c)
    assert model.n_iter_ == 4 and model.cost_iterations_ == [0, 1, 2, 3]
    expected = net(optimizer="adam", batch_size=batch_size).fit(in_memory.X, in_memory.Y,
                                                                num_epochs=4)
    if batch_size is None:
        assert max_rel_error(model.parameters_, expected.parameters_) <= TOL
    streamed = net(optimizer="adam", batch_size=batch_size).fit(
        source(course_file, chunk_examples=10), None, num_epochs=4)
    for k in streamed.parameters_:
        np.testing.assert_array_equal(model.parameters_[k], streamed.parameters_[k])
    model.fit(source(course_file, chunk_examples=10), None, num_epochs=6, warm_start=True)
    assert model.n_iter_ == 10


def test_compressed_chunked_file(tmp_path, in_memory):
    """A gzip-compressed, chunked dataset (chunks unrelated to chunk_examples) reads the same."""
    path = tmp_path / "gz.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.rint(in_memory.X.T * 255).astype(np.uint8).reshape(
            M, *IMAGE), chunks=(5, 4, 4, 3), compression="gzip")
        f.create_dataset("y", data=in_memory.Y.ravel().astype(np.uint8), chunks=(7,),
                         compression="gzip")
    expected = net(optimizer="momentum").fit(in_memory.X, in_memory.Y, 10)
    got = net(optimizer="momentum").fit(HDF5Source(path, "x", "y", chunk_examples=12), None, 10)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
