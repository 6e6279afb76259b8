"""Data-parallel training on Dask (``fastdnn.distributed``), on a small LocalCluster.

Expected results are those of single-process, in-memory training on the same
NumPy arrays (direct strategy): the same gradients summed over the workers'
blocks, the same batch order, so parameters agree to 1e-10 (max relative
difference, float64). Problems are tiny; one cluster serves the module, and
the fault tests get their own.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import binary_problem, max_rel_error, softmax_problem
from fastdnn import DeepNeuralNetwork

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

TOL = 1e-10
DIMS = [6, 5, 3, 1]


def cluster(**kw):
    return distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                    dashboard_address=":0", **kw)


@pytest.fixture(scope="module")
def client():
    with cluster() as c, distributed.Client(c) as cl:
        yield cl


@pytest.fixture(scope="module")
def problem():
    X, Y = binary_problem(n_x=6, m=101)
    return X, Y


def net(**kw):
    return DeepNeuralNetwork(DIMS, 0.05, strategy="direct", **kw)


@pytest.mark.parametrize("options", [{}, {"optimizer": "adam", "lambd": 0.1},
                                     {"optimizer": "momentum", "decay": "inverse",
                                      "decay_rate": 0.3}])
def test_full_batch_equals_single_process(client, problem, options):
    X, Y = problem
    expected = net(**options).fit(X, Y, 15, record_every=5)
    Xd = da.from_array(X, chunks=(3, 40))   # uneven blocks, features split too
    got = net(**options).fit(Xd, Y, 15, record_every=5)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    assert got.cost_iterations_ == expected.cost_iterations_
    np.testing.assert_allclose(got.costs_, expected.costs_, rtol=1e-10)
    assert got.optimizer_state_["t"] == expected.optimizer_state_["t"]


def test_minibatch_equals_single_process(client, problem):
    """Synchronous mini-batches: each global batch of the in-memory order split across
    the workers' blocks."""
    X, Y = problem
    opts = dict(optimizer="adam", batch_size=16, lambd=0.05)
    expected = net(**opts).fit(X, Y, num_epochs=3, record_every=1)
    got = net(**opts).fit(da.from_array(X, chunks=(6, 30)), da.from_array(Y, chunks=(1, 50)),
                          num_epochs=3, record_every=1)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    np.testing.assert_allclose(got.costs_, expected.costs_, rtol=1e-10)


def test_softmax_labels_predict_score(client):
    X, labels, _ = softmax_problem(n_x=6, m=64)
    kw = dict(output="softmax", optimizer="adam", strategy="direct")
    expected = DeepNeuralNetwork([6, 4, 3], 0.02, **kw).fit(X, labels, 10)
    Xd = da.from_array(X, chunks=(6, 32))
    got = DeepNeuralNetwork([6, 4, 3], 0.02, **kw).fit(Xd, da.from_array(labels.ravel(), 32), 10)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
    A = got.predict_proba(Xd)
    assert isinstance(A, da.Array)
    np.testing.assert_allclose(A.compute(), got.predict_proba(X), rtol=1e-13)
    np.testing.assert_array_equal(got.predict(Xd).compute(), got.predict(X))
    assert got.score(Xd, labels) == got.score(X, labels)


def test_without_a_client_uses_the_local_scheduler(problem, monkeypatch):
    import fastdnn.distributed as fd

    monkeypatch.setattr(fd, "current_client", lambda: None)
    X, Y = problem
    expected = net(optimizer="momentum", batch_size=32).fit(X, Y, num_epochs=2)
    got = net(optimizer="momentum", batch_size=32).fit(da.from_array(X, chunks=(6, 25)), Y,
                                                       num_epochs=2)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL


def test_bad_input(client, problem):
    X, Y = problem
    Xd = da.from_array(X, chunks=(6, 50))
    with pytest.raises(ValueError, match=r"shape \(5, m\)"):
        DeepNeuralNetwork([5, 1]).fit(Xd, Y, 2)
    with pytest.raises(ValueError, match="Y must have shape"):
        net().fit(Xd, Y[:, :50], 2)
    with pytest.raises(ValueError, match="dropout"):
        DeepNeuralNetwork(DIMS, keep_prob=0.5).fit(Xd, Y, 2)
    with pytest.raises(ValueError, match="validation_data"):
        net().fit(Xd, Y, 2, validation_data=(X, Y))
    bad = Y.copy()
    bad[0, 70] = 3
    with pytest.raises(ValueError, match="labels 0 or 1"):
        net().fit(Xd, bad, 2)
    Xn = X.copy()
    Xn[2, 60] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net().fit(da.from_array(Xn, chunks=(6, 50)), Y, 2)


def test_import_fastdnn_does_not_import_dask():
    code = ("import sys, fastdnn, numpy as np; m = fastdnn.DeepNeuralNetwork([2, 1])"
            ".fit(np.ones((2, 4)), np.array([[0, 1, 0, 1]]), 2); "
            "print(any(k.partition('.')[0] in ('dask', 'distributed') for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _kill_workers(cl, every=False):
    """SIGKILL the first worker (by address), or every worker; their nannies restart them."""
    pids = sorted(cl.run(os.getpid).items())
    for addr, pid in pids if every else pids[:1]:
        os.kill(pid, signal.SIGKILL)
    return pids[0][0]


def test_worker_killed_mid_training_recovers(problem):
    """A worker killed during training: Dask recomputes its blocks (from_array's graph),
    the round is redone, and the result is the single-process one."""
    X, Y = problem
    expected = net(optimizer="adam").fit(X, Y, 12, record_every=1)
    killed = []

    def kill_at_4(iteration, cost):
        if iteration == 4:
            killed.append(_kill_workers(cl))

    with cluster() as c, distributed.Client(c) as cl:
        got = net(optimizer="adam").fit(da.from_array(X, chunks=(6, 26)), Y, 12,
                                        record_every=1, callback=kill_at_4)
    assert killed
    assert got.n_iter_ == 12
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL


def test_lost_data_stops_with_last_consistent_parameters(problem):
    """Data scattered to the workers (no graph to recompute it) and every worker killed
    (one is not enough: Dask had replicated the checked blocks): a clear
    DistributedTrainingError, and the model keeps the parameters of the iterations
    completed before it."""
    from fastdnn.distributed import DistributedTrainingError, fit_dask

    X, Y = problem

    def kill_at_3(iteration, cost):
        if iteration == 3:
            _kill_workers(cl, every=True)
            time.sleep(1.0)   # let the scheduler notice the loss

    with cluster() as c, distributed.Client(c) as cl:
        blocks = [cl.scatter(np.ascontiguousarray(X[:, lo:lo + 51])) for lo in (0, 51)]
        Xd = da.concatenate([da.from_delayed(b, shape=(6, min(51, 101 - lo)), dtype=X.dtype)
                             for b, lo in zip(blocks, (0, 51))], axis=1)
        model = net(optimizer="adam")
        with pytest.raises(DistributedTrainingError, match="cannot be recomputed"):
            fit_dask(model, Xd, Y, 12, record_every=1, callback=kill_at_3, retries=1)
    assert model.n_iter_ == 4
    expected = net(optimizer="adam").fit(X, Y, model.n_iter_)
    assert max_rel_error(model.parameters_, expected.parameters_) <= TOL


def test_cli_dask_workers_equals_in_memory(client, tmp_path, capsys):
    """fastdnn train --dask-workers 2 (a new local cluster) and --dask-scheduler ADDRESS
    (the module's cluster, by its tcp address): each worker reads its blocks of the file."""
    from fastdnn import load_model
    from fastdnn.cli import main
    from fastdnn.io.data import write_course_file

    rng = np.random.RandomState(3)
    imgs = rng.randint(0, 256, size=(40, 2, 2, 3)).astype(np.uint8)
    path = tmp_path / "train.h5"
    write_course_file(path, imgs, (imgs[:, 0, 0, 0] > 127).astype(int))
    common = [str(path), "--iterations", "10", "--layers", "4", "--strategy", "direct",
              "--quiet", "--learning-rate", "0.05"]
    assert main(["train", *common, "--out", str(tmp_path / "mem.h5")]) == 0
    assert main(["train", *common, "--dask-workers", "2", "--chunk-examples", "15",
                 "--out", str(tmp_path / "dask.h5")]) == 0
    assert "local cluster of 2 worker processes" in capsys.readouterr().out
    address = client.scheduler.address
    assert address.startswith("tcp://")
    assert main(["train", *common, "--dask-scheduler", address, "--chunk-examples", "15",
                 "--out", str(tmp_path / "remote.h5")]) == 0
    assert "dask: 2 workers at %s" % address in capsys.readouterr().out
    expected = load_model(tmp_path / "mem.h5")
    for name in ("dask.h5", "remote.h5"):
        got = load_model(tmp_path / name)
        assert max_rel_error(got.parameters_, expected.parameters_) <= TOL


def test_hdf5_arrays_read_by_the_workers(client, tmp_path):
    """hdf5_arrays: X read block by block from the file on the workers, uint8 / 255."""
    from fastdnn.distributed import hdf5_arrays
    from fastdnn.io.data import load_dataset, write_course_file

    rng = np.random.RandomState(4)
    imgs = rng.randint(0, 256, size=(45, 2, 3, 2)).astype(np.uint8)
    path = tmp_path / "train.h5"
    write_course_file(path, imgs, (imgs[:, 0, 0, 0] > 127).astype(int))
    ds = load_dataset(path)
    X, Y = hdf5_arrays(path, "train_set_x", "train_set_y", chunk_examples=20)
    assert X.shape == ds.X.shape and X.chunks[1] == (20, 20, 5)
    np.testing.assert_array_equal(X.compute(), ds.X)
    kw = dict(strategy="direct", optimizer="adam", batch_size=16)
    expected = DeepNeuralNetwork([12, 4, 1], 0.05, **kw).fit(ds.X, ds.Y, num_epochs=3)
    got = DeepNeuralNetwork([12, 4, 1], 0.05, **kw).fit(X, Y, num_epochs=3)
    assert max_rel_error(got.parameters_, expected.parameters_) <= TOL
