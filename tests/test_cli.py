"""Tests for the ``fastdnn`` command line (fastdnn.cli) and fastdnn.plotting."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

import fastdnn
from fastdnn.cli import main
from fastdnn.io.data import load_builtin, make_synthetic_images, write_course_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A model trained by the CLI on the built-in data set (768 inputs)."""
    path = tmp_path_factory.mktemp("model") / "model.h5"
    assert main(["train", "--iterations", "60", "--quiet", "--out", str(path)]) == 0
    return path


def _course_file(path, m, seed, split, image_size=8):
    ds = make_synthetic_images(m, image_size, seed)
    write_course_file(path, ds.images(as_uint8=True), ds.Y.ravel(), ("no-shape", "shape"), split)
    return path


@pytest.fixture(scope="module")
def course_files(tmp_path_factory):
    """Small course-layout train (60) and test (20) files of 8x8x3 images (n_x = 192)."""
    d = tmp_path_factory.mktemp("data")
    return (_course_file(d / "train.h5", 60, 1, "train"),
            _course_file(d / "test.h5", 20, 2, "test"))


@pytest.fixture(scope="module")
def flat_file(tmp_path_factory):
    """A general HDF5 file: float X (m, 10) under 'features', labels under 'labels'."""
    path = tmp_path_factory.mktemp("flat") / "flat.h5"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 10))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=X)
        f.create_dataset("labels", data=y)
    return path


def _run(capsys, argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(err):
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastdnn: error: "), err


# --------------------------------------------------------------------------- train

def test_train_builtin_writes_model_and_reports_accuracy(capsys, tmp_path):
    out_path = tmp_path / "m.h5"
    code, out, err = _run(capsys, ["train", "--iterations", 50, "--out", out_path])
    assert code == 0, err
    assert "Traceback" not in err
    assert "Cost after iteration 0:" in out and "Cost after iteration 100" not in out
    assert "train accuracy:" in out and "test accuracy:" in out
    assert "wall time:" in out
    assert "model saved to %s" % out_path in out
    model = fastdnn.load_model(out_path)
    train, test = load_builtin()
    assert model.layer_dims_ == [train.n_x, 20, 7, 5, 1]
    assert model.n_iter_ == 50 and model.cost_iterations_ == [0]
    assert model.learning_rate == 0.05           # the built-in data set's default
    acc = float(out.split("test accuracy:")[1].split()[0])
    assert acc == pytest.approx(model.score(test.X, test.Y), abs=1e-4)


def test_train_quiet_prints_summary_only(capsys, tmp_path):
    code, out, err = _run(capsys, ["train", "--iterations", 20, "--quiet", "--layers", "4",
                                   "--out", tmp_path / "m.h5"])
    assert code == 0, err
    assert "Cost after" not in out
    assert "train accuracy:" in out and "model saved to" in out


def test_train_course_files_with_options(capsys, tmp_path, course_files):
    out_path = tmp_path / "m.h5"
    code, out, err = _run(capsys, ["train", *course_files, "--layers", "5,3", "--iterations", 30,
                                   "--seed", 2, "--dtype", "float32", "--strategy", "direct",
                                   "--record-every", 10, "--init", "he", "--out", out_path])
    assert code == 0, err
    assert "Cost after iteration 20:" in out and "test accuracy:" in out
    model = fastdnn.load_model(out_path)
    assert model.layer_dims_ == [192, 5, 3, 1]
    assert model.dtype_ == np.float32 and model.parameters_["W1"].dtype == np.float32
    assert model.learning_rate == 0.0075         # the data files' default
    assert model.init == "he" and model.random_state == 2 and model.strategy == "direct"
    assert model.cost_iterations_ == [0, 10, 20] and model.n_iter_ == 30


def test_train_split_strategy_matches_direct(capsys, tmp_path, course_files):
    """--strategy split (each mini-batch across the cores) trains what --strategy direct
    trains, to rounding; without mini-batches it is a one-line error."""
    runs = {}
    for strategy in ("direct", "split"):
        out_path = tmp_path / ("%s.h5" % strategy)
        code, out, err = _run(capsys, ["train", *course_files, "--layers", "5,3", "--epochs", 3,
                                       "--optimizer", "adam", "--batch-size", 16, "--quiet",
                                       "--strategy", strategy, "--out", out_path])
        assert code == 0, err
        runs[strategy] = fastdnn.load_model(out_path)
    assert runs["split"].strategy == "split"
    for k, v in runs["direct"].parameters_.items():
        assert np.abs(runs["split"].parameters_[k] - v).max() <= 1e-9 * np.abs(v).max(), k
    code, out, err = _run(capsys, ["train", *course_files, "--layers", "5", "--iterations", 2,
                                   "--strategy", "split", "--out", tmp_path / "x.h5"])
    assert code != 0 and "strategy='split' splits mini-batches" in err
    _assert_one_line_error(err)


def test_train_single_file_no_test(capsys, tmp_path, course_files):
    code, out, err = _run(capsys, ["train", course_files[0], "--iterations", 5, "--quiet",
                                   "--learning-rate", 0.01, "--out", tmp_path / "m.h5"])
    assert code == 0, err
    assert "train accuracy:" in out and "test accuracy:" not in out
    assert fastdnn.load_model(tmp_path / "m.h5").learning_rate == 0.01


def test_train_general_hdf5_keys(capsys, tmp_path, flat_file):
    code, out, err = _run(capsys, ["train", flat_file, flat_file, "--x-key", "features",
                                   "--y-key", "labels", "--layers", "4", "--iterations", 20,
                                   "--learning-rate", 0.5, "--quiet", "--out", tmp_path / "m.h5"])
    assert code == 0, err
    assert fastdnn.load_model(tmp_path / "m.h5").layer_dims_ == [10, 4, 1]


def test_train_no_hidden_layers(capsys, tmp_path):
    code, _, err = _run(capsys, ["train", "--layers", "", "--iterations", 5, "--quiet",
                                 "--out", tmp_path / "m.h5"])
    assert code == 0, err
    assert fastdnn.load_model(tmp_path / "m.h5").layer_dims_ == [768, 1]


def test_help_documents_builtin_learning_rate(capsys):
    code, out, _ = _run(capsys, ["train", "--help"])
    assert code == 0
    assert "0.05" in out and "0.0075" in out and "built-in" in out


def test_version(capsys):
    code, out, _ = _run(capsys, ["--version"])
    assert code == 0 and fastdnn.__version__ in out


# --------------------------------------------------------------------- evaluate, predict, info

def test_evaluate_builtin(capsys, model_path):
    code, out, err = _run(capsys, ["evaluate", model_path, "builtin"])
    assert code == 0, err
    model = fastdnn.load_model(model_path)
    _, test = load_builtin()
    pred = model.predict(test.X).ravel()
    y = test.Y.ravel()
    counts = {k: int(out.split(k + " ")[1].split()[0]) for k in ("TP", "FP", "TN", "FN")}
    assert counts == {"TP": int(np.sum((pred == 1) & (y == 1))),
                      "FP": int(np.sum((pred == 1) & (y == 0))),
                      "TN": int(np.sum((pred == 0) & (y == 0))),
                      "FN": int(np.sum((pred == 0) & (y == 1)))}
    assert sum(counts.values()) == test.m
    acc = float(out.split("accuracy:")[1].split()[0])
    assert acc == pytest.approx(model.score(test.X, test.Y), abs=1e-4)


def test_evaluate_course_file_and_keys(capsys, tmp_path, course_files):
    path = tmp_path / "m.h5"
    assert main(["train", str(course_files[0]), "--iterations", "10", "--quiet", "--layers", "3",
                 "--out", str(path)]) == 0
    capsys.readouterr()
    code, out, err = _run(capsys, ["evaluate", path, course_files[1]])
    assert code == 0, err
    assert "accuracy:" in out and "TP " in out
    code, out2, err = _run(capsys, ["evaluate", path, course_files[1], "--x-key", "test_set_x",
                                    "--y-key", "test_set_y"])
    assert code == 0, err
    assert out2.split("accuracy:")[1].split()[0] == out.split("accuracy:")[1].split()[0]


def test_predict_stdout_csv(capsys, model_path):
    code, out, err = _run(capsys, ["predict", model_path, "builtin"])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "index,probability,label"
    model = fastdnn.load_model(model_path)
    _, test = load_builtin()
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == test.m
    assert [int(r[0]) for r in rows] == list(range(test.m))
    np.testing.assert_allclose([float(r[1]) for r in rows], model.predict_proba(test.X).ravel(),
                               rtol=1e-5, atol=1e-12)
    assert [int(r[2]) for r in rows] == model.predict(test.X).ravel().tolist()


def test_predict_to_file(capsys, tmp_path, model_path):
    csv = tmp_path / "p.csv"
    code, out, err = _run(capsys, ["predict", model_path, "builtin", "--out", csv])
    assert code == 0, err
    assert str(csv) in out
    assert csv.read_text().splitlines()[0] == "index,probability,label"
    assert len(csv.read_text().splitlines()) == 81


def test_predict_x_key_without_labels(capsys, tmp_path, model_path):
    _, test = load_builtin()
    path = tmp_path / "unlabelled.h5"
    with h5py.File(path, "w") as f:            # uint8 images, no labels at all
        f.create_dataset("images", data=test.images(as_uint8=True))
    code, out, err = _run(capsys, ["predict", model_path, path, "--x-key", "images"])
    assert code == 0, err
    labels = [int(line.split(",")[2]) for line in out.strip().splitlines()[1:]]
    model = fastdnn.load_model(model_path)
    assert labels == model.predict(test.X).ravel().tolist()


def test_info(capsys, model_path):
    code, out, err = _run(capsys, ["info", model_path])
    assert code == 0, err
    assert "[768, 20, 7, 5, 1]" in out
    assert "relu, relu, relu, sigmoid" in out
    assert "float64" in out and "learning_rate=0.05" in out and "init='scaled'" in out
    assert "iterations:       60" in out
    assert "last cost:" in out
    assert "fastdnn %s" % fastdnn.__version__ in out and "format version 3" in out


# --------------------------------------------------------------------------- failures

@pytest.fixture
def bad_files(tmp_path, course_files):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"this is not an HDF5 file" * 10)
    return {"missing": tmp_path / "missing.h5", "corrupt": corrupt,
            "course_train": course_files[0], "course_test": course_files[1],
            "nodir": tmp_path / "no" / "such" / "dir" / "m.h5"}


FAILURES = [
    # (argv with {placeholders}, exit code, part of the message)
    (["evaluate", "{missing}", "builtin"], 1, "not found"),
    (["evaluate", "{model}", "{missing}"], 1, "not found"),
    (["info", "{missing}"], 1, "not found"),
    (["info", "{corrupt}"], 1, "not a readable HDF5 file"),
    (["info", "{course_train}"], 1, "not a fastdnn model"),
    (["predict", "{corrupt}", "builtin"], 1, "not a readable HDF5 file"),
    (["evaluate", "{model}", "{corrupt}"], 1, "not a readable HDF5 file"),
    (["evaluate", "{model}", "{course_test}"], 1, "shape mismatch"),
    (["predict", "{model}", "{course_test}"], 1, "shape mismatch"),
    (["evaluate", "{model}", "{course_test}", "--x-key", "nope", "--y-key", "test_set_y"], 1,
     "'nope' not found"),
    (["train", "{missing}", "--iterations", "5"], 1, "not found"),
    (["train", "{course_train}", "{corrupt}", "--iterations", "5"], 1, "not a readable HDF5"),
    (["train", "--iterations", "5", "--out", "{nodir}"], 1, "does not exist"),
    (["train", "--iterations", "300", "--learning-rate", "1e308", "--quiet"], 1, "diverged"),
    (["train", "--layers", "20,x"], 2, "--layers"),
    (["train", "--layers", "20,0"], 2, "--layers"),
    (["train", "--iterations", "0"], 2, "--iterations"),
    (["train", "--iterations", "-3"], 2, "--iterations"),
    (["train", "--learning-rate", "0"], 2, "--learning-rate"),
    (["train", "--record-every", "0"], 2, "--record-every"),
    (["train", "--init", "bogus"], 2, "--init"),
    (["train", "--dtype", "float16"], 2, "--dtype"),
    (["train", "a.h5", "b.h5", "c.h5"], 2, "at most 2"),
    (["train", "{course_train}", "--x-key", "train_set_x"], 2, "--y-key"),
    (["train", "--x-key", "x", "--y-key", "y"], 2, "data files"),
    (["evaluate", "{model}"], 2, "required"),
    (["bogus"], 2, "invalid choice"),
    ([], 2, "required"),
]


@pytest.mark.parametrize("argv, code, message", FAILURES,
                         ids=["%s-%d" % ("_".join(a)[:40], c) for a, c, _ in FAILURES])
def test_failures_one_line_and_exit_code(capsys, tmp_path, monkeypatch, model_path, bad_files,
                                         argv, code, message):
    monkeypatch.chdir(tmp_path)                 # a stray default model.h5 lands in tmp_path
    names = dict(bad_files, model=model_path)
    got, _, err = _run(capsys, [a.format(**names) for a in argv])
    assert got == code, err
    _assert_one_line_error(err)
    assert message in err


def test_nothing_written_on_failure(capsys, tmp_path, model_path):
    out = tmp_path / "m.h5"
    code, _, err = _run(capsys, ["train", "--iterations", "300", "--learning-rate", "1e308",
                                 "--out", out])
    assert code == 1 and "diverged" in err
    assert not out.exists()


# --------------------------------------------------------------------------- plots

def _assert_png(path):
    data = path.read_bytes()
    assert len(data) > 0 and data[:8] == PNG_SIGNATURE


def test_train_writes_plots(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    curve, grid = tmp_path / "curve.png", tmp_path / "grid.png"
    code, out, err = _run(capsys, ["train", "--iterations", 120, "--record-every", 20, "--quiet",
                                   "--out", tmp_path / "m.h5", "--plot", curve,
                                   "--misclassified", grid])
    assert code == 0, err
    _assert_png(curve)
    _assert_png(grid)
    assert str(curve) in out and str(grid) in out


def test_plot_functions(tmp_path):
    pytest.importorskip("matplotlib")
    from fastdnn.plotting import plot_learning_curve, plot_misclassified

    plot_learning_curve([0, 100, 200], [0.7, 0.5, 0.3], tmp_path / "c.png", title="t")
    _assert_png(tmp_path / "c.png")
    _, test = load_builtin()
    pred = 1 - test.Y.astype(np.int64)          # everything wrong
    assert plot_misclassified(test, pred, tmp_path / "all.png", max_images=6) == test.m
    _assert_png(tmp_path / "all.png")
    assert plot_misclassified(test, test.Y, tmp_path / "none.png") == 0   # nothing wrong
    _assert_png(tmp_path / "none.png")
    with pytest.raises(ValueError, match="same length"):
        plot_learning_curve([0, 1], [0.5], tmp_path / "x.png")
    with pytest.raises(ValueError, match="predictions"):
        plot_misclassified(test, pred[:, :3], tmp_path / "x.png")


def test_misclassified_needs_images(capsys, tmp_path, flat_file):
    pytest.importorskip("matplotlib")
    code, _, err = _run(capsys, ["train", flat_file, "--x-key", "features", "--y-key", "labels",
                                 "--iterations", 5, "--out", tmp_path / "m.h5",
                                 "--misclassified", tmp_path / "g.png"])
    assert code == 1
    _assert_one_line_error(err)
    assert "image" in err
    assert not (tmp_path / "m.h5").exists()     # checked before training


def test_plots_without_matplotlib(capsys, tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)       # makes the import fail
    from fastdnn.plotting import require_matplotlib

    with pytest.raises(ImportError, match=r"fastdnn\[plot\]"):
        require_matplotlib()
    code, _, err = _run(capsys, ["train", "--iterations", 5, "--out", tmp_path / "m.h5",
                                 "--plot", tmp_path / "c.png"])
    assert code == 1
    _assert_one_line_error(err)
    assert "fastdnn[plot]" in err
    assert not (tmp_path / "m.h5").exists()


# --------------------------------------------------------------------------- processes

def test_python_m_fastdnn_train(tmp_path):
    out_path = tmp_path / "m.h5"
    proc = subprocess.run([sys.executable, "-m", "fastdnn", "train", "--iterations", "20",
                           "--out", str(out_path)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "test accuracy:" in proc.stdout and "model saved to" in proc.stdout
    assert fastdnn.load_model(out_path).n_iter_ == 20


def test_python_m_fastdnn_error_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastdnn", "info", str(tmp_path / "no.h5")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    _assert_one_line_error(proc.stderr)


def test_import_cli_is_cheap():
    code = ("import sys, fastdnn.cli; heavy = ('numba', 'matplotlib', 'h5py', 'numpy'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
