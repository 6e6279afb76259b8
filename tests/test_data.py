"""Tests for fastdnn.io.data: course layout, general HDF5 loader, errors, synthetic data."""
from pathlib import Path

import h5py
import numpy as np
import pytest

import fastdnn.io.data as data_module
from fastdnn.io.data import (
    DataFileError,
    Dataset,
    load_builtin,
    load_dataset,
    load_hdf5,
    make_synthetic_images,
    write_course_file,
)

SHARED = Path(__file__).parents[1].parent / "shared" / "data"
TRAIN_H5 = SHARED / "train_catvnoncat.h5"
TEST_H5 = SHARED / "test_catvnoncat.h5"


def _images(m=6, h=4, w=5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(m, h, w, c), dtype=np.uint8)


def _labels(m=6):
    return np.arange(m) % 2


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f.create_dataset(k, data=v)
    return path


# ----------------------------------------------------------------------------- course layout

@pytest.mark.parametrize("split", ["train", "test"])
def test_course_layout_exact_preprocessing(tmp_path, split):
    x, y = _images(), _labels()
    p = tmp_path / f"{split}.h5"
    write_course_file(p, x, y, ("non-cat", "cat"), split=split)
    ds = load_dataset(p)
    expected_X = x.reshape(x.shape[0], -1).T / 255.
    assert isinstance(ds, Dataset)
    assert ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.X.shape == (4 * 5 * 3, 6) and (ds.n_x, ds.m) == (60, 6)
    np.testing.assert_array_equal(ds.X, expected_X)
    assert ds.Y.dtype == np.float64 and ds.Y.shape == (1, 6)
    np.testing.assert_array_equal(ds.Y, y.reshape(1, 6))
    assert ds.classes == ("non-cat", "cat")
    assert ds.image_shape == (4, 5, 3)
    assert ds.name == split
    np.testing.assert_array_equal(ds.images(as_uint8=True), x)
    np.testing.assert_array_equal(ds.images(), x / 255.)


def test_course_file_layout_matches_course(tmp_path):
    p = tmp_path / "c.h5"
    write_course_file(p, _images(), _labels(), ("non-cat", "cat"))
    with h5py.File(p, "r") as f:
        assert f["train_set_x"].dtype == np.uint8 and f["train_set_x"].shape == (6, 4, 5, 3)
        assert f["train_set_y"].shape == (6,)
        assert list(f["list_classes"][()]) == [b"non-cat", b"cat"]


def test_load_dataset_list_returns_tuple_in_order(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_course_file(a, _images(m=4), _labels(4), split="train")
    write_course_file(b, _images(m=8, seed=1), _labels(8), split="test")
    out = load_dataset([a, b])
    assert isinstance(out, tuple) and [d.m for d in out] == [4, 8]
    out2 = load_dataset((str(b), str(a)))
    assert [d.m for d in out2] == [8, 4]


def test_course_file_with_both_splits_needs_split(tmp_path):
    p = _write(tmp_path / "both.h5", train_set_x=_images(), train_set_y=_labels(),
               test_set_x=_images(m=2), test_set_y=_labels(2))
    with pytest.raises(ValueError, match="exactly one of"):
        load_dataset(p)
    assert load_dataset(p, split="test").m == 2


def test_course_layout_without_list_classes(tmp_path):
    p = _write(tmp_path / "nc.h5", train_set_x=_images(), train_set_y=_labels())
    assert load_dataset(p).classes == ("0", "1")


def test_images_requires_image_shape():
    ds = Dataset(np.zeros((3, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="image_shape"):
        ds.images()


# ----------------------------------------------------------------------------- real files

@pytest.mark.skipif(not (TRAIN_H5.exists() and TEST_H5.exists()),
                    reason=f"cat/non-cat files not found in {SHARED} (see shared/data/SOURCE.md)")
def test_real_catvnoncat_files():
    train, test = load_dataset([TRAIN_H5, TEST_H5])
    assert train.X.shape == (12288, 209) and test.X.shape == (12288, 50)
    assert train.Y.shape == (1, 209) and test.Y.shape == (1, 50)
    assert int(train.Y.sum()) == 72 and int(test.Y.sum()) == 33
    assert train.classes == test.classes == ("non-cat", "cat")
    assert train.image_shape == (64, 64, 3)
    # pixel sums from SOURCE.md, recovered exactly from the /255. scaling
    assert int(np.rint(train.X * 255).sum()) == 264542077
    assert int(np.rint(test.X * 255).sum()) == 65969547
    with h5py.File(TEST_H5, "r") as f:
        x = f["test_set_x"][()]
    np.testing.assert_array_equal(test.X, x.reshape(50, -1).T / 255.)


# ----------------------------------------------------------------------------- general loader

def test_load_hdf5_examples_first_auto_scale(tmp_path):
    x, y = _images(), _labels()
    p = _write(tmp_path / "g.h5", imgs=x, lab=y, names=np.array([b"neg", b"pos"]))
    ds = load_hdf5(p, "imgs", "lab", classes_key="names")
    np.testing.assert_array_equal(ds.X, x.reshape(6, -1).T / 255.)
    assert ds.classes == ("neg", "pos") and ds.image_shape == (4, 5, 3)


def test_load_hdf5_examples_last(tmp_path):
    X = np.random.default_rng(0).random((7, 5))
    p = _write(tmp_path / "g.h5", X=X, Y=_labels(5).reshape(1, 5).astype(float))
    ds = load_hdf5(p, "X", "Y", examples_axis=-1)
    np.testing.assert_array_equal(ds.X, X)          # float: "auto" leaves it alone
    assert ds.image_shape is None and ds.Y.shape == (1, 5)
    assert ds.classes == ("0", "1")


def test_load_hdf5_examples_last_images(tmp_path):
    x = _images()                                   # (m, h, w, c) -> store as (h, w, c, m)
    p = _write(tmp_path / "g.h5", X=np.moveaxis(x, 0, -1), Y=_labels())
    ds = load_hdf5(p, "X", "Y", examples_axis=-1)
    assert ds.image_shape == (4, 5, 3)
    np.testing.assert_array_equal(ds.images(as_uint8=True), x)


def test_load_hdf5_nested_key(tmp_path):
    with h5py.File(tmp_path / "n.h5", "w") as f:
        f.create_dataset("grp/x", data=_images())
        f.create_dataset("grp/y", data=_labels())
    assert load_hdf5(tmp_path / "n.h5", "grp/x", "grp/y").m == 6


@pytest.mark.parametrize("scale,div", [(None, 1.0), (2.0, 2.0), ("auto", 255.0)])
def test_load_hdf5_scale_modes(tmp_path, scale, div):
    x = _images()
    p = _write(tmp_path / "s.h5", x=x, y=_labels())
    ds = load_hdf5(p, "x", "y", scale=scale)
    np.testing.assert_array_equal(ds.X, x.reshape(6, -1).T.astype(np.float64) / div)


def test_load_hdf5_auto_scale_uses_dtype_max(tmp_path):
    x = np.full((3, 2), 65535, dtype=np.uint16)
    p = _write(tmp_path / "s.h5", x=x, y=np.array([0, 1, 1]))
    assert load_hdf5(p, "x", "y").X.max() == 1.0
    f = np.full((3, 2), 7.5)
    p2 = _write(tmp_path / "f.h5", x=f, y=np.array([0, 1, 1]))
    assert load_hdf5(p2, "x", "y").X.max() == 7.5


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), "max"])
def test_load_hdf5_bad_scale(tmp_path, scale):
    p = _write(tmp_path / "s.h5", x=_images(), y=_labels())
    with pytest.raises(ValueError, match="scale"):
        load_hdf5(p, "x", "y", scale=scale)


def test_load_hdf5_bad_examples_axis(tmp_path):
    p = _write(tmp_path / "s.h5", x=_images(), y=_labels())
    with pytest.raises(ValueError, match="examples_axis"):
        load_hdf5(p, "x", "y", examples_axis=1)


# ----------------------------------------------------------------------------- errors

def test_missing_file(tmp_path):
    p = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load_dataset(p)
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load_hdf5(p, "x", "y")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(DataFileError, match="directory"):
        load_hdf5(tmp_path, "x", "y")


def test_random_bytes_not_hdf5(tmp_path):
    p = tmp_path / "junk.h5"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DataFileError, match="junk.h5.*not a readable HDF5 file"):
        load_dataset(p)
    with pytest.raises(DataFileError, match="not a readable HDF5 file"):
        load_hdf5(p, "x", "y")


def test_empty_file_not_hdf5(tmp_path):
    p = tmp_path / "empty.h5"
    p.write_bytes(b"")
    with pytest.raises(DataFileError, match="not a readable HDF5 file"):
        load_dataset(p)


def test_truncated_file(tmp_path):
    p = tmp_path / "t.h5"
    write_course_file(p, _images(m=40, h=16, w=16), _labels(40))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="t.h5.*not a readable HDF5 file"):
        load_dataset(p)


def test_missing_key_lists_available(tmp_path):
    p = _write(tmp_path / "k.h5", images=_images(), labels=_labels())
    with pytest.raises(DataFileError, match=r"k\.h5.*'pixels' not found.*\['images', 'labels'\]"):
        load_hdf5(p, "pixels", "labels")
    with pytest.raises(DataFileError, match="'targets' not found"):
        load_hdf5(p, "images", "targets")
    with pytest.raises(DataFileError, match="train_set_x.*test_set_x.*images"):
        load_dataset(p)
    with pytest.raises(DataFileError, match="'cls' not found"):
        load_hdf5(p, "images", "labels", classes_key="cls")


def test_key_is_group(tmp_path):
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f.create_dataset("g/x", data=_images())
        f.create_dataset("y", data=_labels())
    with pytest.raises(DataFileError, match="'g' is a group"):
        load_hdf5(tmp_path / "g.h5", "g", "y")


def test_example_count_mismatch(tmp_path):
    p = _write(tmp_path / "m.h5", train_set_x=_images(m=6), train_set_y=_labels(5))
    with pytest.raises(DataFileError, match="6 examples.*'train_set_y' have 5"):
        load_dataset(p)
    p2 = _write(tmp_path / "m2.h5", x=np.zeros((4, 6)), y=_labels(5))
    with pytest.raises(DataFileError, match="6 examples"):
        load_hdf5(p2, "x", "y", examples_axis=-1)


@pytest.mark.parametrize("bad", [np.array([0, 1, 2, 0, 1, 0]), np.array([0, -1, 0, 1, 1, 0]),
                                 np.array([0, 0.5, 0, 1, 1, 0]), np.array([0, np.nan, 0, 1, 1, 0])])
def test_labels_outside_01(tmp_path, bad):
    p = _write(tmp_path / "l.h5", train_set_x=_images(), train_set_y=bad)
    with pytest.raises(DataFileError, match="must be 0 or 1"):
        load_dataset(p)


def test_labels_wrong_shape(tmp_path):
    p = _write(tmp_path / "l.h5", x=_images(), y=np.zeros((2, 3)))
    with pytest.raises(DataFileError, match=r"shape \(m,\) or \(1, m\), got \(2, 3\)"):
        load_hdf5(p, "x", "y")


def test_labels_not_numeric(tmp_path):
    p = _write(tmp_path / "l.h5", x=_images(), y=np.array([b"a"] * 6))
    with pytest.raises(DataFileError, match="numeric"):
        load_hdf5(p, "x", "y")


def test_empty_data(tmp_path):
    p = _write(tmp_path / "e.h5", train_set_x=np.zeros((0, 4, 4, 3), np.uint8),
               train_set_y=np.zeros((0,), np.int64))
    with pytest.raises(DataFileError, match="empty"):
        load_dataset(p)
    with pytest.raises(DataFileError, match="empty"):
        load_hdf5(p, "train_set_x", "train_set_y")


def test_x_not_numeric(tmp_path):
    p = _write(tmp_path / "s.h5", x=np.array([[b"ab", b"cd"]] * 3), y=np.array([0, 1, 0]))
    with pytest.raises(DataFileError, match="numeric.*dtype"):
        load_hdf5(p, "x", "y")


def test_x_one_dimensional(tmp_path):
    p = _write(tmp_path / "s.h5", x=np.zeros(3), y=np.array([0, 1, 0]))
    with pytest.raises(DataFileError, match="at least 2 dimensions"):
        load_hdf5(p, "x", "y")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_x_nonfinite(tmp_path, bad):
    x = np.zeros((3, 4))
    x[1, 2] = bad
    p = _write(tmp_path / "s.h5", x=x, y=np.array([0, 1, 0]))
    with pytest.raises(DataFileError, match="NaN or inf"):
        load_hdf5(p, "x", "y")


def test_course_layout_rejects_float_pixels(tmp_path):
    p = _write(tmp_path / "f.h5", train_set_x=np.zeros((6, 2, 2, 3)), train_set_y=_labels())
    with pytest.raises(DataFileError, match="integer pixels"):
        load_dataset(p)


def test_bad_class_list(tmp_path):
    p = _write(tmp_path / "c.h5", train_set_x=_images(), train_set_y=_labels(),
               list_classes=np.array([b"a", b"b", b"c"]))
    with pytest.raises(DataFileError, match="2 class names"):
        load_dataset(p)


def test_data_file_error_is_a_value_error():
    import fastdnn.io

    assert issubclass(DataFileError, ValueError) and fastdnn.io.DataFileError is DataFileError


def test_bad_arguments_stay_plain_value_errors(tmp_path):
    p = tmp_path / "c.h5"
    write_course_file(p, _images(), _labels())
    for call in (lambda: load_dataset(p, split="dev"),
                 lambda: load_hdf5(p, "train_set_x", "train_set_y", examples_axis=1),
                 lambda: load_hdf5(p, "train_set_x", "train_set_y", examples_axis="0"),
                 lambda: load_hdf5(p, "train_set_x", "train_set_y", scale="x")):
        with pytest.raises(ValueError) as info:
            call()
        assert not isinstance(info.value, DataFileError)


def _unallocated(path, key, shape, dtype="u1", **kw):
    with h5py.File(path, "w") as f:
        f.create_dataset(key, shape=shape, dtype=dtype, **kw)
        f.create_dataset("train_set_y", data=np.zeros(shape[0], np.int64) if shape[0] < 10 ** 6
                         else np.zeros(3, np.int64))
    return path


def test_absurd_declared_size_refused_before_reading(tmp_path, monkeypatch):
    p = _unallocated(tmp_path / "huge.h5", "train_set_x", (10 ** 9, 64, 64, 3),
                     chunks=(1, 64, 64, 3), compression="gzip")
    with pytest.raises(DataFileError, match=r"huge\.h5.*'train_set_x' declares shape "
                                            r"\(1000000000, 64, 64, 3\).*MAX_DATASET_BYTES"):
        load_dataset(p)
    with pytest.raises(DataFileError, match="MAX_DATASET_BYTES"):
        load_hdf5(p, "train_set_x", "train_set_y")
    monkeypatch.setattr(data_module, "MAX_DATASET_BYTES", 1000)
    q = tmp_path / "c.h5"
    write_course_file(q, _images(m=6), _labels(6))      # 360 values each, 2880 as float64
    with pytest.raises(DataFileError, match="declares shape \\(6, 4, 5, 3\\).*limit"):
        load_dataset(q)


def test_never_written_and_truncated_datasets(tmp_path):
    p = _unallocated(tmp_path / "nw.h5", "train_set_x", (6, 4, 5, 3))
    with pytest.raises(DataFileError, match="declares 360 bytes .* but stores 0"):
        load_dataset(p)
    q = tmp_path / "t.h5"
    write_course_file(q, _images(m=40, h=16, w=16), _labels(40))
    with h5py.File(q, "r") as f:
        end = f["train_set_x"].id.get_offset() + f["train_set_x"].id.get_storage_size()
    data = q.read_bytes()
    assert end > len(data) - 1000           # the pixels lie near the end of the file
    q.write_bytes(data[:end - 10])
    with pytest.raises(DataFileError, match=r"t\.h5"):
        load_dataset(q)


def test_wrong_dtypes_refused_from_metadata(tmp_path):
    p = _write(tmp_path / "s.h5", train_set_x=np.array([[b"ab", b"cd"]] * 3),
               train_set_y=np.array([0, 1, 0]))
    with pytest.raises(DataFileError, match="must be numeric, got dtype"):
        load_dataset(p)
    p = _write(tmp_path / "c.h5", train_set_x=np.zeros((3, 2, 2), np.complex64),
               train_set_y=np.array([0, 1, 0]))
    with pytest.raises(DataFileError, match="must be numeric"):
        load_dataset(p)
    cmp = np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])
    p = _write(tmp_path / "y.h5", train_set_x=_images(m=3), train_set_y=cmp)
    with pytest.raises(DataFileError, match="labels 'train_set_y' must be numeric"):
        load_dataset(p)
    p = _write(tmp_path / "l.h5", train_set_x=_images(), train_set_y=_labels(),
               list_classes=np.array([b"a", b"b", b"c"]))
    with pytest.raises(DataFileError, match="must list 2 class names, got 3"):
        load_dataset(p)


def test_external_link_not_followed(tmp_path):
    write_course_file(tmp_path / "other.h5", _images(), _labels())
    with h5py.File(tmp_path / "l.h5", "w") as f:
        f["train_set_x"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "train_set_x")
        f["train_set_y"] = _labels()
    with pytest.raises(DataFileError, match="external link"):
        load_dataset(tmp_path / "l.h5")


def test_write_course_file_validates(tmp_path):
    with pytest.raises(ValueError, match="0..255"):
        write_course_file(tmp_path / "w.h5", np.full((2, 2, 2, 3), 300), [0, 1])
    with pytest.raises(ValueError, match="integer"):
        write_course_file(tmp_path / "w.h5", np.zeros((2, 2, 2, 3)), [0, 1])
    with pytest.raises(ValueError, match="labels"):
        write_course_file(tmp_path / "w.h5", _images(m=2), [0, 1, 1])
    with pytest.raises(ValueError, match="split"):
        write_course_file(tmp_path / "w.h5", _images(m=2), [0, 1], split="dev")


def test_dataset_validates_shapes():
    with pytest.raises(ValueError, match="Y must have shape"):
        Dataset(np.zeros((3, 4)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        Dataset(np.zeros((3, 2)), np.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="image_shape"):
        Dataset(np.zeros((3, 2)), np.zeros((1, 2)), image_shape=(2, 2))


# ----------------------------------------------------------------------------- synthetic data

def test_synthetic_deterministic():
    a, b = make_synthetic_images(m=50, seed=3), make_synthetic_images(m=50, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    c = make_synthetic_images(m=50, seed=4)
    assert not np.array_equal(a.X, c.X)
    (tr1, te1), (tr2, te2) = load_builtin(), load_builtin("shapes")
    np.testing.assert_array_equal(tr1.X, tr2.X)
    np.testing.assert_array_equal(te1.Y, te2.Y)


def test_synthetic_layout():
    ds = make_synthetic_images(m=40, image_size=8, seed=1)
    assert ds.X.shape == (8 * 8 * 3, 40) and ds.Y.shape == (1, 40)
    assert ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0
    np.testing.assert_array_equal(np.rint(ds.X * 255) / 255., ds.X)   # uint8-like pixels
    assert int(ds.Y.sum()) == 20 and ds.image_shape == (8, 8, 3)
    assert ds.images(as_uint8=True).shape == (40, 8, 8, 3)


def test_builtin_sizes_and_classes():
    train, test = load_builtin()
    assert (train.m, test.m) == (240, 80)
    assert train.image_shape == (16, 16, 3) and train.n_x == 768
    assert train.classes == ("no-shape", "shape")
    assert 0.35 < train.Y.mean() < 0.65 and 0.3 < test.Y.mean() < 0.7
    with pytest.raises(ValueError, match="available"):
        load_builtin("mnist")


def test_synthetic_classes_differ():
    train, test = load_builtin()
    # mean intensity alone separates the classes well above chance
    thr = 0.5 * (train.X.mean(0)[train.Y[0] == 1].mean() + train.X.mean(0)[train.Y[0] == 0].mean())
    acc = ((test.X.mean(0) > thr) == (test.Y[0] == 1)).mean()
    assert acc > 0.75


def test_synthetic_learnable_by_logistic_regression():
    """Plain numpy gradient descent (no fastdnn core) gets well above chance on the test split."""
    train, test = load_builtin()
    w, b = np.zeros((train.n_x, 1)), 0.0
    for _ in range(300):
        a = 1 / (1 + np.exp(-(w.T @ train.X + b)))
        dz = a - train.Y
        w -= 0.05 * (train.X @ dz.T) / train.m
        b -= 0.05 * dz.mean()
    acc = (((w.T @ test.X + b) > 0) == (test.Y == 1)).mean()
    assert acc > 0.8
