"""The command line with the model's options: ``fastdnn train`` flags for the output, hidden
activations, optimizer, mini-batches, L2, dropout, decay, seeds, validation data with early
stopping and ``--resume``; ``info`` on version-2 (and version-1) files; evaluate/predict of
softmax and identity models; the learning curve with its validation cost."""
import h5py
import numpy as np
import pytest

import fastdnn
from fastdnn import cli
from fastdnn.cli import main
from fastdnn.io.data import make_synthetic_images, write_course_file
from fastdnn.persistence import HYPERPARAMETERS
from test_persistence_v2 import write_v1
from test_cli import _assert_one_line_error, _run  # the CLI tests' helpers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _course_file(path, m, seed, split, image_size=8):
    ds = make_synthetic_images(m, image_size, seed)
    write_course_file(path, ds.images(as_uint8=True), ds.Y.ravel(), ("no-shape", "shape"), split)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Course-layout train (60), test (20) and extra validation (16) files of 8x8x3 images
    (n_x = 192), and a train file of other images (4x4x3: n_x = 48)."""
    d = tmp_path_factory.mktemp("data")
    return {"train": _course_file(d / "train.h5", 60, 1, "train"),
            "test": _course_file(d / "test.h5", 20, 2, "test"),
            "val": _course_file(d / "val.h5", 16, 3, "test"),
            "small": _course_file(d / "small.h5", 20, 4, "train", image_size=4)}




def _train(capsys, files, out, *flags, test=True):
    """Train [192, 4, 1] (or continue with --resume) on the train (and test) file."""
    data = [files["train"], files["test"]] if test else [files["train"]]
    layers = [] if "--resume" in flags or "--warm-start" in flags else ["--layers", "4"]
    code, stdout, err = _run(capsys, ["train", *data, *layers, "--quiet", "--out", out,
                                      *flags])
    assert code == 0, err
    return stdout


def _same_params(a, b):
    assert list(a.parameters_) == list(b.parameters_)
    return all(a.parameters_[k].tobytes() == b.parameters_[k].tobytes() for k in a.parameters_)


ADAM = ["--optimizer", "adam", "--batch-size", 16, "--keep-prob", 0.8, "--lambd", 0.01,
        "--record-every", 1, "--learning-rate", 0.01]


def test_cli_choices_match_the_model():
    from fastdnn.kernels.activations import HIDDEN, OUTPUTS
    from fastdnn.kernels.update import OPTIMIZERS
    from fastdnn.model import DECAYS, UPDATE_ARITHMETICS

    assert cli.UPDATE_ARITHMETICS == UPDATE_ARITHMETICS
    assert cli.OUTPUTS == OUTPUTS
    assert cli.HIDDEN_ACTIVATIONS == HIDDEN
    assert cli.OPTIMIZERS == tuple(OPTIMIZERS)
    assert (None, *cli.DECAYS) == DECAYS
    flags = {dest for dest in cli.HYPERPARAMETER_FLAGS} - {"layers", "seed", "dtype"}
    assert flags | {"random_state", "n_threads", "activations"} == set(HYPERPARAMETERS)


def test_help_lists_the_new_flags(capsys):
    code, out, _ = _run(capsys, ["train", "--help"])
    assert code == 0
    for flag in ("--output", "--hidden-activation", "--optimizer", "--beta", "--beta1", "--beta2",
                 "--epsilon", "--batch-size", "--epochs", "--lambd", "--keep-prob", "--decay",
                 "--decay-rate", "--time-interval", "--shuffle-seed", "--dropout-seed",
                 "--validation-split", "--validation", "--early-stopping", "--patience",
                 "--resume", "--warm-start"):
        assert flag in out, flag


# ------------------------------------------------------------------------ options reach the model

def test_train_with_every_option(capsys, tmp_path, files):
    out = _train(capsys, files, tmp_path / "m.h5", "--epochs", 3, "--optimizer", "adam",
                 "--beta1", 0.8, "--beta2", 0.99, "--epsilon", 1e-7, "--batch-size", 16,
                 "--lambd", 0.01, "--keep-prob", 0.8, "--decay", "scheduled", "--decay-rate", 0.5,
                 "--time-interval", 2, "--hidden-activation", "tanh", "--shuffle-seed", 3,
                 "--dropout-seed", 5, "--record-every", 1)
    model = fastdnn.load_model(tmp_path / "m.h5")
    expected = dict(optimizer="adam", beta1=0.8, beta2=0.99, epsilon=1e-7, batch_size=16,
                    lambd=0.01, keep_prob=0.8, decay="scheduled", decay_rate=0.5,
                    time_interval=2, hidden_activation="tanh", shuffle_seed=3, dropout_seed=5,
                    output="sigmoid", learning_rate=0.0075, init="scaled", strategy="auto")
    for name, value in expected.items():
        assert getattr(model, name) == value, name
    assert model.layer_dims_ == [192, 4, 1] and model.activations_ == ["tanh", "sigmoid"]
    assert model.n_iter_ == 3 and model.cost_iterations_ == [0, 1, 2]
    assert model.optimizer_state_["t"] == 3 * 4                      # 60 examples, 16 a batch
    assert "3 epochs" in out and "wall time:" in out and "ms/epoch" in out
    assert ("options: hidden tanh, adam (beta1 0.8, beta2 0.99, epsilon 1e-07), mini-batches "
            "of 16 (shuffle seed 3), L2 0.01, dropout keep 0.8 (seed 5), scheduled decay "
            "(rate 0.5 every 2 epochs)") in out


def test_epoch_costs_are_printed_per_epoch(capsys, tmp_path, files):
    code, out, err = _run(capsys, ["train", files["train"], "--layers", 3, "--batch-size", 20,
                                   "--epochs", 4, "--record-every", 2, "--out",
                                   tmp_path / "m.h5"])
    assert code == 0, err
    assert "Cost after epoch 0:" in out and "Cost after epoch 2:" in out
    assert "Cost after iteration" not in out


def test_update_arithmetic_flag_reaches_the_model(capsys, tmp_path, files):
    out = _train(capsys, files, tmp_path / "m.h5", "--epochs", 2, "--optimizer", "adam",
                 "--batch-size", 16, "--dtype", "float32", "--update-arithmetic", "native")
    model = fastdnn.load_model(tmp_path / "m.h5")
    assert model.update_arithmetic == "native" and model.dtype_ == np.float32
    assert "native update arithmetic" in out


def test_full_batch_epochs_are_iterations(capsys, tmp_path, files):
    _train(capsys, files, tmp_path / "m.h5", "--epochs", 7, "--optimizer", "momentum",
           "--beta", 0.8)
    model = fastdnn.load_model(tmp_path / "m.h5")
    assert model.n_iter_ == 7 and model.batch_size is None and model.beta == 0.8


def test_hidden_activation_per_layer(capsys, tmp_path, files):
    code, _, err = _run(capsys, ["train", files["train"], "--layers", "4,3", "--iterations", 3,
                                 "--hidden-activation", "leaky_relu,sigmoid", "--quiet",
                                 "--out", tmp_path / "m.h5"])
    assert code == 0, err
    model = fastdnn.load_model(tmp_path / "m.h5")
    assert model.activations_ == ["leaky_relu", "sigmoid", "sigmoid"]
    assert model.hidden_activation == ["leaky_relu", "sigmoid"]


def test_softmax_output_train_evaluate_predict(capsys, tmp_path, files):
    path = tmp_path / "m.h5"
    out = _train(capsys, files, path, "--output", "softmax", "--iterations", 20)
    model = fastdnn.load_model(path)
    assert model.layer_dims_ == [192, 4, 2] and model.output_ == "softmax"
    assert "options: softmax output" in out and "test accuracy:" in out
    test = fastdnn.load_dataset(files["test"])
    code, out, err = _run(capsys, ["evaluate", path, files["test"]])
    assert code == 0, err
    acc = float(out.split("accuracy:")[1].split()[0])
    assert acc == pytest.approx(model.score(test.X, test.Y), abs=1e-4)
    code, out, err = _run(capsys, ["predict", path, files["test"]])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "index,probability,label" and len(lines) == 21
    rows = [line.split(",") for line in lines[1:]]
    np.testing.assert_allclose([float(r[1]) for r in rows], model.predict_proba(test.X)[1],
                               rtol=1e-5)
    assert [int(r[2]) for r in rows] == model.predict(test.X).ravel().tolist()


def test_identity_output_train_evaluate_predict(capsys, tmp_path, files):
    path = tmp_path / "m.h5"
    out = _train(capsys, files, path, "--output", "identity", "--iterations", 20,
                 "--learning-rate", 0.05)
    assert "train R^2:" in out and "test R^2:" in out and "test accuracy:" in out
    model = fastdnn.load_model(path)
    assert model.layer_dims_ == [192, 4, 1] and model.output_ == "identity"
    code, out, err = _run(capsys, ["evaluate", path, files["test"]])
    assert code == 0, err
    assert "R^2:" in out and "TP " in out
    code, out, err = _run(capsys, ["predict", path, files["test"]])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "index,output,label"
    test = fastdnn.load_dataset(files["test"])
    values = model.predict_proba(test.X).ravel()
    assert [int(line.split(",")[2]) for line in lines[1:]] == (values > 0.5).astype(int).tolist()


def test_evaluate_refuses_a_model_with_more_classes(capsys, tmp_path, files):
    test = fastdnn.load_dataset(files["test"])
    model = fastdnn.DeepNeuralNetwork([192, 3], output="softmax").fit(
        test.X, np.arange(20).reshape(1, -1) % 3, 2)
    model.save(tmp_path / "m3.h5")
    for command in ("evaluate", "predict"):
        code, _, err = _run(capsys, [command, tmp_path / "m3.h5", files["test"]])
        assert code == 1
        _assert_one_line_error(err)
        assert "binary models" in err


# --------------------------------------------------------------------------- validation

def test_validation_split_is_deterministic(capsys, tmp_path, files):
    outs = [_train(capsys, files, tmp_path / ("m%d.h5" % i), "--validation-split", 0.25,
                   "--iterations", 30, "--record-every", 10) for i in range(2)]
    assert outs[0].count("validation") >= 2
    assert "validation " in outs[0] and "[validation split 0.25]: 15 examples" in outs[0]
    assert "[train part]: 45 examples" in outs[0]
    assert "validation cost:" in outs[0] and "validation accuracy:" in outs[0]
    a, b = (fastdnn.load_model(tmp_path / ("m%d.h5" % i)) for i in range(2))
    assert _same_params(a, b) and a.val_costs_ == b.val_costs_
    assert len(a.val_costs_) == len(a.costs_) == 3 and a.best_iteration_ in (0, 10, 20, 30)


def test_validation_file_and_test_data(capsys, tmp_path, files):
    out = _train(capsys, files, tmp_path / "f.h5", "--validation", files["val"],
                 "--iterations", 20, "--record-every", 10)
    assert "16 examples" in out and "validation cost:" in out
    model = fastdnn.load_model(tmp_path / "f.h5")
    val = fastdnn.load_dataset(files["val"])
    assert model.val_scores_[-1] is not None and len(model.val_scores_) == 2
    out = _train(capsys, files, tmp_path / "t.h5", "--validation", "test", "--iterations", 20,
                 "--record-every", 10)
    assert "(the test data)" in out
    model = fastdnn.load_model(tmp_path / "t.h5")
    assert len(model.val_costs_) == 2
    assert val.m == 16


def test_early_stopping(capsys, tmp_path, files):
    out = _train(capsys, files, tmp_path / "m.h5", "--validation", "test", "--early-stopping",
                 "--patience", 1, "--iterations", 400, "--record-every", 1,
                 "--learning-rate", 0.5, "--optimizer", "adam", "--beta1", 0.5)
    model = fastdnn.load_model(tmp_path / "m.h5")
    assert model.n_iter_ < 400
    assert "early stopping:  no improvement for 1 records" in out
    assert "kept the parameters of iteration %d" % model.best_iteration_ in out
    assert "best validation:" in out


def test_plot_shows_the_validation_cost(capsys, tmp_path, files):
    pytest.importorskip("matplotlib")
    curve = tmp_path / "c.png"
    out = _train(capsys, files, tmp_path / "m.h5", "--validation-split", 0.2, "--iterations", 20,
                 "--record-every", 5, "--plot", curve, "--early-stopping")
    assert curve.read_bytes()[:8] == PNG_SIGNATURE and str(curve) in out


def test_plot_learning_curve_with_validation(tmp_path):
    pytest.importorskip("matplotlib")
    from fastdnn.plotting import plot_learning_curve

    plot_learning_curve([0, 1, 2, 3], [0.7, 0.5, 0.4, 0.3], tmp_path / "v.png",
                        val_costs=[None, 0.6, 0.55, 0.58], best_iteration=2, xlabel="epoch",
                        ylabel="cost (squared error)")
    assert (tmp_path / "v.png").read_bytes()[:8] == PNG_SIGNATURE
    plot_learning_curve([0, 1], [0.7, 0.5], tmp_path / "n.png", val_costs=[None, None])
    with pytest.raises(ValueError, match="val_costs"):
        plot_learning_curve([0, 1], [0.7, 0.5], tmp_path / "x.png", val_costs=[0.5])


# --------------------------------------------------------------------------- resume

@pytest.mark.parametrize("flag", ["--resume", "--warm-start"])
def test_resume_continues_exactly(capsys, tmp_path, files, flag):
    common = [*ADAM, "--validation-split", 0.25]
    _train(capsys, files, tmp_path / "full.h5", "--epochs", 5, *common)
    _train(capsys, files, tmp_path / "part.h5", "--epochs", 3, *common)
    out = _train(capsys, files, tmp_path / "more.h5", flag, tmp_path / "part.h5", "--epochs", 2,
                 "--record-every", 1, "--validation-split", 0.25)
    assert "resuming: %s after 3 epochs" % (tmp_path / "part.h5") in out
    full, more = (fastdnn.load_model(tmp_path / n) for n in ("full.h5", "more.h5"))
    assert _same_params(full, more)
    assert full.costs_ == more.costs_ and full.val_costs_ == more.val_costs_
    assert more.n_iter_ == 5 and more.optimizer_state_["t"] == full.optimizer_state_["t"]
    assert more.optimizer_state_["rng"] == full.optimizer_state_["rng"]


def test_resume_a_version_1_file(capsys, tmp_path, files):
    """(The direct strategy: a Gram run continues exactly only up to rounding, see
    tests/test_persistence.py.)"""
    train = fastdnn.load_dataset(files["train"])
    old = fastdnn.DeepNeuralNetwork([192, 4, 1], 0.0075, strategy="direct").fit(train.X,
                                                                                 train.Y, 10)
    write_v1(tmp_path / "v1.h5", old)
    code, out, err = _run(capsys, ["info", tmp_path / "v1.h5"])
    assert code == 0, err
    assert "format version 1" in out and "none stored" in out
    _train(capsys, files, tmp_path / "more.h5", "--resume", tmp_path / "v1.h5",
           "--iterations", 5, test=False)
    full = fastdnn.DeepNeuralNetwork([192, 4, 1], 0.0075, strategy="direct").fit(train.X,
                                                                                  train.Y, 15)
    assert _same_params(full, fastdnn.load_model(tmp_path / "more.h5"))


def test_info_of_a_version_2_file(capsys, tmp_path, files):
    _train(capsys, files, tmp_path / "m.h5", "--epochs", 2, *ADAM, "--validation", "test")
    code, out, err = _run(capsys, ["info", tmp_path / "m.h5"])
    assert code == 0, err
    assert "optimizer='adam'" in out and "batch_size=16" in out and "keep_prob=0.8" in out
    assert "epochs:           2" in out
    assert "t=8 update steps, moments stored: v (first moments), s (second moments)" in out
    assert "validation:       2 of 2 record points" in out and "best at epoch" in out
    assert "model format version 3" in out


# --------------------------------------------------------------------------- failures

FAILURES = [
    (["--iterations", 5, "--epochs", 5], 2, "not allowed with argument"),
    (["--batch-size", 8, "--iterations", 5], 2, "use --epochs"),
    (["--output", "tanh"], 2, "--output"),
    (["--hidden-activation", "swish"], 2, "--hidden-activation"),
    (["--layers", 5, "--hidden-activation", "relu,tanh"], 2, "2 activations for 1 hidden layers"),
    (["--optimizer", "sgd"], 2, "--optimizer"),
    (["--optimizer", "momentum", "--beta", 1], 2, "--beta"),
    (["--beta", 0.5], 2, "--beta is a setting of --optimizer momentum"),
    (["--optimizer", "momentum", "--beta1", 0.5], 2, "--beta1 is a setting of --optimizer adam"),
    (["--optimizer", "adam", "--epsilon", 0], 2, "--epsilon"),
    (["--optimizer", "adam", "--beta2", "nan"], 2, "--beta2"),
    (["--batch-size", 0], 2, "--batch-size"),
    (["--lambd", -1], 2, "--lambd"),
    (["--keep-prob", 0], 2, "--keep-prob"),
    (["--keep-prob", 1.5], 2, "--keep-prob"),
    (["--decay", "exponential"], 2, "--decay"),
    (["--decay-rate", 0.5], 2, "--decay-rate/--time-interval need --decay"),
    (["--decay", "inverse", "--time-interval", 3], 2, "--time-interval is a setting of"),
    (["--decay", "inverse", "--decay-rate", -1], 2, "--decay-rate"),
    (["--shuffle-seed", -1], 2, "--shuffle-seed"),
    (["--shuffle-seed", 4], 2, "--shuffle-seed needs --batch-size"),
    (["--batch-size", 8, "--dropout-seed", 4294967296], 2, "--dropout-seed"),
    (["--dropout-seed", 4], 2, "--dropout-seed needs --keep-prob"),
    (["--validation-split", 1], 2, "--validation-split"),
    (["--validation-split", 0], 2, "--validation-split"),
    (["--validation-split", 0.001], 1, "holds out 0"),
    (["--validation-split", 0.2, "--validation", "test"], 2, "not allowed with argument"),
    (["--early-stopping"], 2, "--early-stopping needs validation data"),
    (["--validation", "test", "--patience", 3], 2, "--patience needs --early-stopping"),
    (["--validation", "test", "--early-stopping", "--patience", 0], 2, "--patience"),
    (["--validation", "{missing}"], 1, "not found"),
    (["--validation", "{small}"], 1, "shape mismatch"),
    (["--keep-prob", 0.5, "--layers", ""], 1, "no hidden layer"),
    (["--strategy", "gram", "--optimizer", "adam"], 1, "gram"),
    (["--resume", "{missing}"], 1, "not found"),
    (["--resume", "{model}", "--layers", 3], 2, "--resume continues the saved model"),
    (["--resume", "{model}", "--optimizer", "adam", "--lambd", 0.1], 2, "--optimizer, --lambd"),
    (["--resume", "{batched}", "--iterations", 3], 2, "use --epochs"),
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, files):
    d = tmp_path_factory.mktemp("models")
    assert main(["train", str(files["train"]), "--layers", "3", "--iterations", "5", "--quiet",
                 "--out", str(d / "model.h5")]) == 0
    assert main(["train", str(files["train"]), "--layers", "3", "--epochs", "2", "--quiet",
                 "--batch-size", "30", "--out", str(d / "batched.h5")]) == 0
    return {"model": d / "model.h5", "batched": d / "batched.h5"}


@pytest.mark.parametrize("argv, code, message", FAILURES,
                         ids=["%s-%d" % ("_".join(map(str, a))[:40], c) for a, c, _ in FAILURES])
def test_failures_one_line_and_exit_code(capsys, tmp_path, monkeypatch, files, saved,
                                         argv, code, message):
    monkeypatch.chdir(tmp_path)
    names = dict(files, missing=tmp_path / "missing.h5", **saved)
    argv = [str(a).format(**names) for a in argv]
    data = [files["train"]] + ([files["test"]] if "test" in argv else [])
    got, _, err = _run(capsys, ["train", *data, "--iterations" if "--epochs" not in argv
                                and "--batch-size" not in argv and "{batched}" not in argv
                                and "--iterations" not in argv else "--record-every", 3,
                                "--quiet", "--out", tmp_path / "m.h5", *argv])
    assert got == code, err
    _assert_one_line_error(err)
    assert message in err
    assert not (tmp_path / "m.h5").exists()


def test_resume_with_other_data_is_refused(capsys, tmp_path, files, saved):
    code, _, err = _run(capsys, ["train", files["small"], "--resume", saved["model"],
                                 "--out", tmp_path / "m.h5"])
    assert code == 1
    _assert_one_line_error(err)
    assert "shape mismatch" in err


def test_saved_v2_file_has_the_optimizer_group(capsys, tmp_path, files):
    _train(capsys, files, tmp_path / "m.h5", "--iterations", 3, "--optimizer", "momentum")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert int(f.attrs["format_version"]) == 3
        assert sorted(f["optimizer"]) == ["v"] and int(f["optimizer"].attrs["t"]) == 0
