#!/usr/bin/env python
"""Fuzz fastdnn's file loaders: model files (fastdnn.load_model) and data files
(fastdnn.io.data.load_dataset / load_hdf5) against a corpus of broken files.

What it does
    Builds valid originals in a temporary directory -- model files of format 3 (with the
    integrity header: a full-batch gradient-descent model and a mini-batch Adam model
    with dropout, validation curves and a checkpoint), the same Adam model as a format-2
    file and the gradient-descent model as a format-1 file (neither has a digest), a
    course-layout data file (``write_course_file``) and a general HDF5 data file -- and
    derives a deterministic (``--seed``) corpus of broken files from them:

    truncate    the file cut at many offsets (fixed ones around the header and the
                HDF5 superblock, then random ones)
    flip1       one byte XORed with a random non-zero value, anywhere
    flipN       2 to 64 bytes flipped at once
    header      one to four bytes flipped within the first 64 (the integrity header or
                the HDF5 superblock)
    splat       a run of 1 to 256 bytes overwritten with zeros, 0xFF or random bytes
    shift       bytes inserted or deleted in the middle, or appended at the end
    structural  structurally valid HDF5 with the wrong contents, each with the error it
                must give: wrong dtypes, shapes, missing or extra datasets and
                attributes, absurd declared sizes (unallocated, or compressed), NaN/inf
                parameters, strings where numbers belong, attributes that are not JSON,
                a newer format or header version, a format-3 file without its header;
                format-3 files are resealed after the edit (``seal_model_file``) so the
                loader's content checks, not the checksum, are what is tested

    Every case is loaded in a worker subprocess (several cases per worker, one JSON line
    per case as it finishes; a worker that dies or outlives its time budget has the
    first unreported case rerun alone, so a crash or hang is attributed to the exact
    file). Workers run with an address-space limit (``--memory-limit``), so a runaway
    allocation shows up as a MemoryError instead of taking the machine down.

Outcomes
    error       the documented exception (ModelFileError / DataFileError) naming the file
    same        loads, and predicts exactly as the original (models: predict_proba bit for
                bit on fixed inputs; data: X, Y, classes and image shape equal)
    differs     loads, but predicts (or holds) something else
    untyped     a plain ValueError naming the file from a later stage than the file
                loader (fastdnn.load_model's hyper-parameter checks), not the documented
                type
    memory      MemoryError
    other       any other exception
    crash       the worker died (a signal) on this file, alone
    hang        the file alone took longer than ``--timeout`` seconds

    Forbidden (exit status 1): memory and other anywhere; crash and hang on a format-3
    model file or a structural case; differs for a format-3 model file (its digest must
    catch every change); a structural case that does not give its expected error.
    Files without a digest (format 1 and 2 models, data files) can only be checked for
    their structure: a changed byte inside a parameter or a pixel is not detectable, so
    ``differs`` is reported for them, not forbidden; and libhdf5 parses them as they are,
    so a crash or hang inside libhdf5 on such a file is reported (with the stack where it
    hung) under "libhdf5 on files without a digest", forbidden only with ``--strict``.
    ``untyped`` is allowed unless ``--strict``.

How to run it
    python scripts/fuzz_loader.py                      # 5000 cases, seed 0
    python scripts/fuzz_loader.py --cases 20000 --seed 3 --jobs 4
    options: --batch N (cases per worker, 40), --timeout S (per case, 20),
    --keep DIR (keep the corpus and results.json there), --strict.
    The worker mode (``--worker JOBFILE RESULTFILE``) is internal.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FORBIDDEN = {"memory", "other", "crash", "hang"}
OUTCOMES = ("error", "same", "differs", "untyped", "memory", "other", "crash", "hang")
KINDS = ("truncate", "flip1", "flipN", "header", "splat", "shift", "structural")


# ====================================================================== originals

def _model_data():
    import numpy as np

    rng = np.random.RandomState(0)
    X = rng.randn(4, 40)
    Y = (rng.randn(1, 4) @ X > 0).astype(np.float64)
    return X, Y


def make_originals(directory) -> list:
    """Valid files to break, and what loading each must give (a .npz reference)."""
    import h5py
    import numpy as np

    import fastdnn
    from fastdnn.io import model_file as mio
    from fastdnn.io.data import load_dataset, load_hdf5, write_course_file

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    X, Y = _model_data()
    out = []

    def model_ref(name, model):
        ref = d / f"{name}.ref.npz"
        np.savez(ref, X=X, proba=model.predict_proba(X))
        return str(ref)

    gd = fastdnn.DeepNeuralNetwork([4, 3, 1]).fit(X, Y, 5)
    gd.save(d / "gd3.h5")
    ref_gd = model_ref("gd", gd)
    out.append(dict(name="gd3", path=str(d / "gd3.h5"), loader="model", sealed=True,
                    ref=ref_gd))

    adam = fastdnn.DeepNeuralNetwork([4, 6, 3, 1], 0.01, optimizer="adam", batch_size=8,
                                     keep_prob=0.9, random_state=2)
    adam.fit(X, Y, num_epochs=4, record_every=1, validation_data=(X, Y))
    adam.save(d / "adam3.h5")
    payload = mio.load_model_file(d / "adam3.h5")
    payload.pop("format_version")
    payload["checkpoint"] = {"epoch": 4, "lr": 0.01, "note": "mid-run", "done": False,
                             "order": np.arange(40, dtype=np.int64),
                             "buffer": np.linspace(0, 1, 12).reshape(3, 4)}
    mio.save_model_file(d / "adam3.h5", payload)
    ref_adam = model_ref("adam", adam)
    out.append(dict(name="adam3", path=str(d / "adam3.h5"), loader="model", sealed=True,
                    ref=ref_adam))

    del payload["checkpoint"]
    with h5py.File(d / "adam2.h5", "w") as f:             # format 2, as fastdnn 0.2 wrote it
        mio._write(f, payload, version=2)
    out.append(dict(name="adam2", path=str(d / "adam2.h5"), loader="model", sealed=False,
                    ref=ref_adam))

    p1 = mio.load_model_file(d / "gd3.h5")
    p1["hyperparameters"] = {k: p1["hyperparameters"][k] for k in
                             ("learning_rate", "init", "random_state", "strategy", "n_threads")}
    with h5py.File(d / "gd1.h5", "w") as f:               # format 1 (fastdnn 0.1)
        mio._write(f, p1, version=1)
    out.append(dict(name="gd1", path=str(d / "gd1.h5"), loader="model", sealed=False,
                    ref=ref_gd))

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(12, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(12) % 2
    write_course_file(d / "course.h5", images, labels, ("no", "yes"))
    ds = load_dataset(d / "course.h5")
    ref = d / "course.ref.npz"
    np.savez(ref, X=ds.X, Y=ds.Y, classes=np.array(ds.classes), image_shape=ds.image_shape)
    out.append(dict(name="course", path=str(d / "course.h5"), loader="course", sealed=False,
                    ref=str(ref)))

    with h5py.File(d / "general.h5", "w") as f:
        f["x"] = rng.standard_normal((20, 15))
        f["y"] = (np.arange(15) % 2).reshape(1, 15).astype(np.float32)
        f["classes"] = np.array([b"neg", b"pos"])
    ds = load_hdf5(d / "general.h5", "x", "y", classes_key="classes", examples_axis=-1)
    ref = d / "general.ref.npz"
    np.savez(ref, X=ds.X, Y=ds.Y, classes=np.array(ds.classes),
             image_shape=np.array([], dtype=np.int64))
    out.append(dict(name="general", path=str(d / "general.h5"), loader="hdf5", sealed=False,
                    ref=str(ref)))
    return out


# ====================================================================== structural cases

def _model_edits():
    """(name, edit(h5py.File), expected message regex) for model files."""
    import numpy as np

    def attr(name, value, group="/"):
        return lambda f: f[group].attrs.__setitem__(name, value)

    def replace(name, value=None, **kw):
        def change(f):
            del f[name]
            if value is None:
                f.create_dataset(name, **kw)
            else:
                f[name] = value
        return change

    def hyper(name, value):
        def change(f):
            hp = json.loads(f.attrs["hyperparameters"])
            hp[name] = value
            f.attrs["hyperparameters"] = json.dumps(hp)
        return change

    def setitem(name, index, value):
        return lambda f: f[name].__setitem__(index, value)

    def like(name, convert=None, **kw):
        """Replace dataset ``name`` by convert(its array), or by an unwritten dataset of
        its shape (``kw``: dtype, ...)."""
        def change(f):
            old = f[name][()]
            del f[name]
            if convert is None:
                f.create_dataset(name, shape=old.shape, **kw)
            else:
                f[name] = convert(old)
        return change

    return [
        ("param float32", like("parameters/b1", lambda a: a.astype(np.float32)),
         r"/parameters/b1 is float32, the model's dtype is float64"),
        ("param int", like("parameters/b1", lambda a: a.astype(np.int64)),
         r"must be floating-point numbers, got dtype int64"),
        ("param strings", like("parameters/W1", lambda a: a.astype("S8")),
         r"must be floating-point numbers, got strings"),
        ("param shape", replace("parameters/W1", np.zeros((4, 3))),
         r"parameter W1 has shape \(4, 3\)"),
        ("param missing", lambda f: f.__delitem__("parameters/b2"), r"\['b2'\] are missing"),
        ("param extra", lambda f: f.create_dataset("parameters/W9", data=np.zeros(2)),
         r"unexpected parameters \['W9'\]"),
        ("param is a group", lambda f: (f.__delitem__("parameters/W1"),
                                        f.create_group("parameters/W1")),
         r"/parameters/W1 is a group"),
        ("param NaN", setitem("parameters/W1", (0, 0), np.nan), r"holds NaN or infinite"),
        ("param inf", setitem("parameters/b1", (1, 0), -np.inf), r"holds NaN or infinite"),
        ("param never written", like("parameters/W1", dtype="f8"),
         r"stores 0 of its \d+ bytes"),
        ("absurd layer_dims", attr("layer_dims", np.array([4, 10 ** 12, 1], np.int64)),
         r"more than the whole file"),
        ("absurd param shape", lambda f: (
            replace("parameters/W1", shape=(10 ** 6, 10 ** 6), dtype="f8", chunks=(1, 1000),
                    compression="gzip")(f),
            f.attrs.__setitem__("layer_dims", np.array([10 ** 6] * 2 + [1], np.int64))),
         r"more than the whole file"),
        ("absurd costs", replace("costs", shape=(10 ** 13,), dtype="f8", chunks=(10 ** 5,),
                                 compression="gzip"), r"declares .* more than the whole file"),
        ("long layer_dims", attr("layer_dims", np.ones(5000, np.int64)),
         r"layer_dims \[1, 1, .*\(5000 values\)\] need .* more than the whole file"),
        ("costs missing", lambda f: f.__delitem__("costs"), r"/costs is missing"),
        ("costs strings", replace("costs", np.array([b"x", b"y"])),
         r"costs \(/costs\) must be floating-point numbers"),
        ("cost_iterations floats", replace("cost_iterations", np.zeros(3)),
         r"cost iterations \(/cost_iterations\) must be integers"),
        ("extra root dataset", lambda f: f.create_dataset("notes", data=np.zeros(3)),
         r"unexpected entries \['notes'\]"),
        ("extra root group", lambda f: f.create_group("extras"),
         r"unexpected entries \['extras'\]"),
        ("extra root attribute", attr("comment", "x"), r"unexpected attributes \['comment'\]"),
        ("n_iter string", attr("n_iter", "5"), r"'n_iter'\) must be an integer, got a string"),
        ("n_iter negative", attr("n_iter", -3), r"n_iter must be an integer >= 0"),
        ("layer_dims string", attr("layer_dims", "[4, 3, 1]"),
         r"layer_dims must be a 1-D integer array"),
        ("layer_dims float", attr("layer_dims", np.array([4.0, 3.0, 1.0])),
         r"layer_dims must be a 1-D integer array, got float64"),
        ("dtype unknown", attr("dtype", "float16"), r"must be one of \['float32', 'float64'\]"),
        ("dtype number", attr("dtype", 8), r"'dtype'\) must be a string"),
        ("format missing", lambda f: f.attrs.__delitem__("format"), r"not a fastdnn model"),
        ("format other", attr("format", "keras-model"), r"not a fastdnn model"),
        ("format_version string", attr("format_version", "3"),
         r"bad 'format_version' attribute"),
        ("format_version newer", attr("format_version", 99),
         r"format version 99.*upgrade fastdnn"),
        ("hyperparameters not JSON", attr("hyperparameters", "{learning_rate: 0.1"),
         r"is not valid JSON"),
        ("hyperparameters a list", attr("hyperparameters", "[0.1]"),
         r"must be a JSON dict, got list"),
        ("activations not JSON", attr("activations", "relu, sigmoid"), r"is not valid JSON"),
        ("activations numbers", attr("activations", "[1, 2]"), r"list of names"),
        ("activations deep JSON", attr("activations", "[" * 50000 + "]" * 50000),
         r"is not valid JSON"),
        ("activations count", attr("activations", '["relu", "relu", "relu", "sigmoid"]'),
         r"4 activations for \d layers"),
        ("learning_rate string", hyper("learning_rate", "fast"),
         r"invalid hyper-parameters in the model file"),
        ("keep_prob out of range", hyper("keep_prob", 1.5),
         r"invalid hyper-parameters in the model file"),
        ("unknown activation", hyper("hidden_activation", "swish"),
         r"invalid hyper-parameters in the model file"),
    ]


def _optimizer_edits():
    """Edits that need the /optimizer and /validation groups (format 2 and 3 files)."""
    import numpy as np

    def replace(name, value):
        def change(f):
            del f[name]
            f[name] = value
        return change

    return [
        ("no optimizer", lambda f: f.__delitem__("optimizer"), r"without its /optimizer group"),
        ("t string", lambda f: f["optimizer"].attrs.__setitem__("t", "8"),
         r"step count \(attribute 't'\) must be an integer, got a string"),
        ("rng float", lambda f: f["optimizer"].attrs.__setitem__("rng", 1.5),
         r"generator state \(attribute 'rng'\) must be an integer"),
        ("moment dtype", replace("optimizer/s/db1", np.zeros((6, 1), np.float32)),
         r"/optimizer/s/db1 is float32"),
        ("moment NaN", lambda f: f["optimizer/v/dW1"].__setitem__((0, 0), np.nan),
         r"/optimizer/v/dW1 holds NaN"),
        ("moment negative s", replace("optimizer/s/dW2", -np.ones((3, 6))),
         r"/optimizer/s/dW2 holds negative values"),
        ("moment missing", lambda f: f.__delitem__("optimizer/s/db3"), r"/optimizer/s/db3 missing"),
        ("moment extra", lambda f: f.create_dataset("optimizer/v/dW7", data=np.zeros(2)),
         r"unexpected optimizer moments \['dW7'\]"),
        ("validation strings", replace("validation/costs", np.array([b"a"] * 4)),
         r"validation costs \(/validation/costs\) must be floating-point numbers"),
        ("validation length", replace("validation/scores", np.zeros(9)),
         r"validation scores have shape \(9,\)"),
    ]


def _checkpoint_edits():
    import numpy as np

    return [
        ("checkpoint NaN", lambda f: f["checkpoint/buffer"].__setitem__((0, 0), np.nan),
         r"checkpoint entry 'buffer' /checkpoint/buffer holds NaN"),
        ("checkpoint strings", lambda f: (f.__delitem__("checkpoint/order"),
                                          f.create_dataset("checkpoint/order",
                                                           data=np.array([b"1"] * 3))),
         r"checkpoint entry 'order' \(/checkpoint/order\) must be numbers, got strings"),
        ("checkpoint bad name", lambda f: f["checkpoint"].attrs.__setitem__("a-b", 1),
         r"not a simple identifier"),
        ("checkpoint array attribute", lambda f: f["checkpoint"].attrs.__setitem__(
            "epoch", np.arange(3)), r"must be a scalar int, float, bool or string"),
        ("checkpoint absurd", lambda f: f.create_dataset(
            "checkpoint/huge", shape=(10 ** 8, 10 ** 6), dtype="f4", chunks=(10, 10),
            compression="gzip"), r"more than the whole file"),
    ]


def _data_builders():
    """(name, loader, build(path), expected message regex) for data files."""
    import h5py
    import numpy as np

    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, size=(6, 4, 4, 3), dtype=np.uint8)
    lab = np.arange(6) % 2

    def write(**datasets):
        def build(path):
            with h5py.File(path, "w") as f:
                for k, v in datasets.items():
                    if k.endswith("__group"):
                        f.create_group(k[:-len("__group")])
                    elif isinstance(v, dict):
                        f.create_dataset(k, **v)
                    else:
                        f[k] = v
        return build

    huge = dict(shape=(10 ** 9, 64, 64, 3), dtype="u1", chunks=(1, 64, 64, 3),
                compression="gzip")
    return [
        ("course float pixels", "course", write(train_set_x=imgs / 255.0, train_set_y=lab),
         r"integer pixels"),
        ("course string pixels", "course", write(train_set_x=np.array([[b"ab"] * 3] * 6),
                                                 train_set_y=lab), r"must be numeric"),
        ("course pixels > 255", "course", write(train_set_x=imgs.astype(np.int64) * 2,
                                                train_set_y=lab), r"must be 0\.\.255"),
        ("course string labels", "course", write(train_set_x=imgs,
                                                 train_set_y=np.array([b"1"] * 6)),
         r"labels 'train_set_y' must be numeric"),
        ("course label 2", "course", write(train_set_x=imgs, train_set_y=lab * 2),
         r"must be 0 or 1, found \[2\.0\]"),
        ("course label NaN", "course", write(train_set_x=imgs,
                                             train_set_y=np.array([0, np.nan, 1, 0, 1, 0])),
         r"must be 0 or 1, found \[nan\]"),
        ("course 1-D pixels", "course", write(train_set_x=np.zeros(6, np.uint8),
                                              train_set_y=lab), r"at least 2 dimensions"),
        ("course absurd compressed", "course", write(train_set_x=huge, train_set_y=lab),
         r"MAX_DATASET_BYTES"),
        ("course never written", "course",
         write(train_set_x=dict(shape=(6, 4, 4, 3), dtype="u1"), train_set_y=lab),
         r"but stores 0"),
        ("course count mismatch", "course", write(train_set_x=imgs, train_set_y=lab[:5]),
         r"6 examples but labels"),
        ("course 3 classes", "course", write(train_set_x=imgs, train_set_y=lab,
                                             list_classes=np.array([b"a", b"b", b"c"])),
         r"2 class names, got 3"),
        ("course no labels", "course", write(train_set_x=imgs), r"'train_set_y' not found"),
        ("course both splits", "course", write(train_set_x=imgs, train_set_y=lab,
                                               test_set_x=imgs, test_set_y=lab),
         r"exactly one of"),
        ("course empty", "course", write(train_set_x=np.zeros((0, 4, 4, 3), np.uint8),
                                         train_set_y=np.zeros(0, np.int64)), r"is empty"),
        ("course compound", "course", write(
            train_set_x=np.zeros((6, 2), dtype=[("a", "u1"), ("b", "u1")]), train_set_y=lab),
         r"must be numeric"),
        ("course null dataspace", "course", write(train_set_x=h5py.Empty("u1"),
                                                  train_set_y=lab), r"null dataspace"),
        ("general NaN", "hdf5", write(x=np.full((20, 15), np.nan), y=np.zeros((1, 15)),
                                      classes=np.array([b"a", b"b"])), r"NaN or inf"),
        ("general inf", "hdf5", write(x=np.full((20, 15), np.inf), y=np.zeros((1, 15)),
                                      classes=np.array([b"a", b"b"])), r"NaN or inf"),
        ("general labels 2-D", "hdf5", write(x=np.zeros((20, 15)), y=np.zeros((3, 5)),
                                             classes=np.array([b"a", b"b"])),
         r"shape \(m,\) or \(1, m\)"),
        ("general x is a group", "hdf5", write(x__group=None, y=np.zeros((1, 15)),
                                               classes=np.array([b"a", b"b"])),
         r"'x' is a group"),
        ("general absurd unallocated", "hdf5",
         write(x=dict(shape=(10 ** 6, 10 ** 6), dtype="f8"), y=np.zeros((1, 10 ** 6)),
               classes=np.array([b"a", b"b"])), r"MAX_DATASET_BYTES"),
    ]


def _copy(src, dst):
    shutil.copyfile(src, dst)
    return dst


def structural_cases(originals, directory) -> list:
    """Every structural case (deterministic; one file each)."""
    import h5py

    from fastdnn.io import model_file as mio

    d = Path(directory)
    by = {o["name"]: o for o in originals}
    cases = []

    def add(name, original, path, expect):
        cases.append(dict(kind="structural", name=name, original=original["name"],
                          path=str(path), loader=original["loader"], ref=original["ref"],
                          sealed=original["sealed"], expect=expect))

    i = 0
    for oname, edits in (("gd3", _model_edits()), ("adam3", _model_edits() + _optimizer_edits()
                                                    + _checkpoint_edits()),
                         ("adam2", _model_edits() + _optimizer_edits()),
                         ("gd1", _model_edits()[:12])):
        o = by[oname]
        for name, edit, expect in edits:
            i += 1
            path = _copy(o["path"], d / f"s{i:04d}-{oname}.h5")
            with h5py.File(path, "a") as f:
                edit(f)
            if o["sealed"]:
                mio.seal_model_file(path)
            add(f"{oname}: {name}", o, path, expect)

    o = by["adam3"]
    data = Path(o["path"]).read_bytes()
    i += 1
    path = d / f"s{i:04d}-adam3.h5"                       # a newer integrity header
    path.write_bytes(data[:12] + (2).to_bytes(4, "little") + data[16:])
    add("adam3: header version 2", o, path, r"integrity header version 2.*upgrade fastdnn")
    i += 1
    path = d / f"s{i:04d}-adam3.h5"                       # format 3 content, no user block
    payload = mio.load_model_file(o["path"])
    payload.pop("format_version")
    with h5py.File(path, "w") as f:
        mio._write(f, payload, version=3)
    add("adam3: no integrity header", o, path, r"format version 3 file without its integrity")
    i += 1
    path = d / f"s{i:04d}-adam3.h5"                       # not HDF5 at all
    path.write_bytes(random.Random(0).randbytes(len(data)))
    add("adam3: random bytes", o, path, r"not a readable HDF5 file")
    i += 1
    path = d / f"s{i:04d}-adam3.h5"
    path.write_bytes(b"")
    add("adam3: empty file", o, path, r"not a readable HDF5 file")

    for name, loader, build, expect in _data_builders():
        i += 1
        o = by["course" if loader == "course" else "general"]
        path = d / f"s{i:04d}-{o['name']}.h5"
        build(path)
        add(f"{o['name']}: {name}", o, path, expect)
    return cases


# ====================================================================== random mutations

def _mutate(kind, data: bytes, rnd: random.Random):
    n = len(data)
    b = bytearray(data)
    if kind == "truncate":
        fixed = [0, 1, 7, 8, 12, 27, 28, 59, 60, 64, 100, 511, 512, 513, 520, 600, 1024,
                 n // 4, n // 2, 3 * n // 4, n - 512, n - 64, n - 8, n - 2, n - 1]
        cut = rnd.choice(fixed) if rnd.random() < 0.4 else rnd.randrange(n)
        cut = min(max(cut, 0), n - 1)
        return bytes(b[:cut]), f"cut at {cut} of {n}"
    if kind == "flip1":
        i = rnd.randrange(n)
        b[i] ^= rnd.randrange(1, 256)
        return bytes(b), f"byte {i}"
    if kind == "flipN":
        k = rnd.randint(2, 64)
        where = sorted(rnd.sample(range(n), k))
        for i in where:
            b[i] ^= rnd.randrange(1, 256)
        return bytes(b), f"{k} bytes from {where[0]} to {where[-1]}"
    if kind == "header":
        k = rnd.randint(1, 4)
        where = sorted(rnd.sample(range(64), k))
        for i in where:
            b[i] ^= rnd.randrange(1, 256)
        return bytes(b), f"header bytes {where}"
    if kind == "splat":
        length = rnd.randint(1, 256)
        start = rnd.randrange(n)
        fill = rnd.choice(("zeros", "ones", "random"))
        end = min(n, start + length)
        chunk = (bytes(end - start) if fill == "zeros" else b"\xff" * (end - start)
                 if fill == "ones" else rnd.randbytes(end - start))
        if chunk == bytes(b[start:end]):
            chunk = bytes(x ^ 0x5A for x in chunk)
        b[start:end] = chunk
        return bytes(b), f"{fill} over [{start}, {end})"
    if kind == "shift":
        what = rnd.choice(("insert", "delete", "append"))
        k = rnd.randint(1, 64)
        if what == "append":
            return bytes(b) + rnd.randbytes(k), f"{k} bytes appended"
        i = rnd.randrange(n)
        if what == "insert":
            return bytes(b[:i]) + rnd.randbytes(k) + bytes(b[i:]), f"{k} bytes inserted at {i}"
        return bytes(b[:i]) + bytes(b[i + k:]), f"{k} bytes deleted at {i}"
    raise ValueError(kind)


#: Share of the random (non-structural) cases per mutation kind.
_WEIGHTS = {"truncate": 0.2, "flip1": 0.3, "flipN": 0.18, "header": 0.08, "splat": 0.14,
            "shift": 0.1}


def generate(originals, n_cases: int, seed: int, directory) -> list:
    """A deterministic corpus: every structural case, then random mutations of the
    originals up to ``n_cases`` in all (the same seed gives the same files)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cases = structural_cases(originals, d)
    rnd = random.Random(seed)
    contents = {o["name"]: Path(o["path"]).read_bytes() for o in originals}
    n_random = max(0, n_cases - len(cases))
    kinds = list(_WEIGHTS)
    counts = [int(round(_WEIGHTS[k] * n_random)) for k in kinds]
    counts[1] += n_random - sum(counts)
    j = 0
    for kind, count in zip(kinds, counts):
        for _ in range(count):
            o = originals[j % len(originals)]
            j += 1
            data, detail = _mutate(kind, contents[o["name"]], rnd)
            if data == contents[o["name"]]:
                data, detail = _mutate("flip1", data, rnd)
            path = d / f"r{j:05d}-{o['name']}-{kind}.h5"
            path.write_bytes(data)
            cases.append(dict(kind=kind, name=f"{o['name']}: {detail}", original=o["name"],
                              path=str(path), loader=o["loader"], ref=o["ref"],
                              sealed=o["sealed"], expect=None))
    for i, c in enumerate(cases):
        c["id"] = i
    return cases


# ====================================================================== worker

def _worker(jobfile, resultfile):
    """Load each case of ``jobfile`` and append one JSON line per case to ``resultfile``."""
    import numpy as np

    from fastdnn.io.data import DataFileError, load_dataset, load_hdf5
    from fastdnn.io.model_file import ModelFileError, load_model_file

    import faulthandler

    cases = json.loads(Path(jobfile).read_text())
    case_timeout = float(os.environ.get("FUZZ_CASE_TIMEOUT", "0"))
    refs = {}
    with open(resultfile, "a") as out:
        for c in cases:
            if case_timeout:                # a hang (even inside libhdf5) dumps the stack, exits
                faulthandler.dump_traceback_later(case_timeout, exit=True)
            t0 = time.perf_counter()
            path = c["path"]
            name = os.path.basename(path)
            if name == os.environ.get("FUZZ_SELFTEST_CRASH"):    # the runner's own tests
                os.abort()
            if name == os.environ.get("FUZZ_SELFTEST_HANG"):
                while True:
                    time.sleep(1)
            ref = refs.get(c["ref"])
            if ref is None:
                ref = refs[c["ref"]] = dict(np.load(c["ref"]))
            outcome, etype, msg = None, None, ""
            try:
                if c["loader"] == "model":
                    stage = "load_model_file"
                    load_model_file(path)
                    stage = "load_model"
                    import fastdnn

                    model = fastdnn.load_model(path)
                    stage = "predict_proba"
                    proba = model.predict_proba(ref["X"])
                    same = (proba.dtype == ref["proba"].dtype and proba.shape == ref["proba"].shape
                            and proba.tobytes() == ref["proba"].tobytes())
                else:
                    stage = c["loader"]
                    if c["loader"] == "course":
                        ds = load_dataset(path)
                    else:
                        ds = load_hdf5(path, "x", "y", classes_key="classes", examples_axis=-1)
                    shape = tuple(int(s) for s in ref["image_shape"]) or None
                    same = (ds.X.tobytes() == ref["X"].tobytes() and ds.X.shape == ref["X"].shape
                            and ds.Y.tobytes() == ref["Y"].tobytes()
                            and ds.classes == tuple(str(s) for s in ref["classes"])
                            and ds.image_shape == shape)
                outcome = "same" if same else "differs"
            except (ModelFileError, DataFileError) as e:
                outcome, etype, msg = "error", type(e).__name__, str(e)
            except MemoryError as e:
                outcome, etype, msg = "memory", "MemoryError", str(e)
            except ValueError as e:
                if stage == "load_model" and name in str(e):
                    outcome = "untyped"
                else:
                    outcome = "other"
                etype, msg = type(e).__name__, f"[{stage}] {e}"
            except BaseException as e:          # noqa: BLE001 - every other outcome is data
                outcome, etype, msg = "other", type(e).__name__, f"[{stage}] {e}"
            seconds = time.perf_counter() - t0
            faulthandler.cancel_dump_traceback_later()
            out.write(json.dumps(dict(id=c["id"], outcome=outcome, type=etype,
                                      message=msg[:400], seconds=round(seconds, 4))) + "\n")
            out.flush()


def _limit_memory(limit_bytes):
    if limit_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


# ====================================================================== runner

def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except (ValueError, TypeError):
        return f"exit {code}"


class Runner:
    """Runs cases in worker subprocesses, batch by batch, attributing crashes and hangs."""

    def __init__(self, workdir, *, batch=40, timeout=20.0, jobs=2, memory_limit=6 << 30):
        self.workdir = Path(workdir)
        self.batch, self.timeout, self.jobs = batch, timeout, jobs
        self.memory_limit = memory_limit
        self._n = 0
        self._lock = threading.Lock()

    def _spawn(self, cases, budget):
        with self._lock:
            self._n += 1
            k = self._n
        job = self.workdir / f"job{k:05d}.json"
        res = self.workdir / f"job{k:05d}.out"
        job.write_text(json.dumps(cases))
        res.write_text("")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", FUZZ_MEMORY_LIMIT=str(self.memory_limit),
                   FUZZ_CASE_TIMEOUT=str(self.timeout))
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                 str(job), str(res)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=budget)
            status = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            status = "timeout"
        done = {}
        for line in res.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            done[r["id"]] = r
        job.unlink()
        res.unlink()
        return done, status, (err or b"").decode("utf-8", "replace")[-2000:]

    def run_batch(self, cases):
        """Results of ``cases`` by id. When a worker dies, the first case it did not report
        is the culprit: a watchdog timeout names it at once (a hang, with the stack where
        it hung); otherwise it is rerun alone to confirm a crash."""
        results = {}
        todo = list(cases)
        while todo:
            # the in-worker watchdog bounds each case; this is only a backstop
            budget = 30.0 + self.timeout * (1 + len(todo) / 4)
            done, status, err = self._spawn(todo, budget)
            results.update(done)
            rest = [c for c in todo if c["id"] not in done]
            if not rest:
                break
            culprit, rest = rest[0], rest[1:]
            hung = status == "timeout" or "Timeout (" in err
            if not hung and len(todo) > 1:              # confirm a crash alone
                done, status, err = self._spawn([culprit], 30.0 + self.timeout)
                results.update(done)
                hung = status == "timeout" or "Timeout (" in err
            if culprit["id"] not in results:
                if hung:
                    where = " | ".join(line.strip() for line in err.splitlines()
                                       if line.strip().startswith("File"))[:400]
                    results[culprit["id"]] = dict(
                        id=culprit["id"], outcome="hang", type="timeout",
                        message=f"no result within {self.timeout:g} s; stack: {where}",
                        seconds=None)
                else:
                    results[culprit["id"]] = dict(id=culprit["id"], outcome="crash",
                                                  type=_signal_name(status),
                                                  message=err.strip()[-400:], seconds=None)
            else:
                results[culprit["id"]]["note"] = (f"worker died in a batch ({status}), "
                                                  f"fine alone")
            todo = rest
        return results

    def run(self, cases):
        batches = [cases[i:i + self.batch] for i in range(0, len(cases), self.batch)]
        results = {}
        with ThreadPoolExecutor(self.jobs) as pool:
            for r in pool.map(self.run_batch, batches):
                results.update(r)
        return [dict(c, **results[c["id"]]) for c in cases]


# ====================================================================== judging, report

def digestless(r) -> bool:
    return not (r["loader"] == "model" and r["sealed"])


def libhdf5_limit(r) -> bool:
    """A crash or hang on a file without a digest, inside libhdf5: reported; forbidden only
    with --strict (fastdnn cannot check such a file before libhdf5 parses it)."""
    return r["outcome"] in ("crash", "hang") and digestless(r) and r["expect"] is None


def judge(r, strict=False) -> str | None:
    """Why result ``r`` is forbidden, or None."""
    out = r["outcome"]
    if libhdf5_limit(r) and not strict:
        return None
    if out in FORBIDDEN:
        return f"forbidden outcome {out}"
    if out == "untyped" and strict:
        return "a plain ValueError, not the documented type"
    if out == "error" and os.path.basename(r["path"]) not in r["message"]:
        return "the error message does not name the file"
    if r["loader"] == "model" and r["sealed"] and out == "differs":
        return "a damaged format-3 model file loaded and predicts differently"
    if r["expect"] is not None:
        import re

        if out not in ("error", "untyped") or not re.search(r["expect"], r["message"]):
            return f"expected an error matching {r['expect']!r}"
    return None


def _group(r):
    if r["loader"] == "model":
        return "model v3 (digest)" if r["sealed"] else "model v1/v2 (no digest)"
    return "data (no digest)"


def report(results, seconds, strict=False, file=sys.stdout):
    """Print the outcome table (mutation kind x outcome, per file family); return the
    forbidden results."""
    bad = []
    for r in results:
        why = judge(r, strict)
        if why:
            bad.append(dict(r, why=why))
    groups = sorted({_group(r) for r in results})
    print(f"{len(results)} cases in {seconds:.1f} s", file=file)
    for g in groups:
        rows = [r for r in results if _group(r) == g]
        table = collections.Counter((r["kind"], r["outcome"]) for r in rows)
        cols = [o for o in OUTCOMES if any(r["outcome"] == o for r in rows)]
        print(f"\n{g}: {len(rows)} cases", file=file)
        print(f"  {'kind':<11}" + "".join(f"{o:>9}" for o in cols) + f"{'total':>9}", file=file)
        for kind in KINDS:
            n = sum(table[(kind, o)] for o in cols)
            if n:
                print(f"  {kind:<11}" + "".join(f"{table[(kind, o)]:>9}" for o in cols)
                      + f"{n:>9}", file=file)
        print(f"  {'total':<11}" + "".join(f"{sum(r['outcome'] == o for r in rows):>9}"
                                          for o in cols) + f"{len(rows):>9}", file=file)
    timed = [r for r in results if r.get("seconds") is not None]
    if timed:
        slow = max(timed, key=lambda r: r["seconds"])
        print(f"\nslowest case with a result: {slow['seconds']:.3f} s ({slow['name']}); mean "
              f"{sum(r['seconds'] for r in timed) / len(timed) * 1000:.1f} ms", file=file)
    limits = [r for r in results if libhdf5_limit(r)]
    print(f"libhdf5 on files without a digest: {sum(r['outcome'] == 'crash' for r in limits)} "
          f"crashes, {sum(r['outcome'] == 'hang' for r in limits)} hangs"
          + (" (forbidden: --strict)" if strict and limits else ""), file=file)
    for r in limits:
        print(f"  {r['outcome']}: {r['name']} ({os.path.basename(r['path'])}): "
              f"{r['message'][:300]}", file=file)
    errors = collections.Counter(r["type"] for r in results if r["outcome"] == "error")
    print("documented errors by type: " + ", ".join(f"{k} {v}" for k, v in errors.items()),
          file=file)
    for r in results:
        if r.get("note"):
            print(f"note: {r['name']} ({r['path']}): {r['note']}", file=file)
    if bad:
        print(f"\n{len(bad)} FORBIDDEN:", file=file)
        for r in bad[:50]:
            print(f"  [{r['kind']}] {r['name']} ({os.path.basename(r['path'])}): {r['why']}; "
                  f"got {r['outcome']} {r['type']}: {r['message'][:200]}", file=file)
    else:
        print("\nno forbidden outcome", file=file)
    return bad


def fuzz(n_cases, seed, directory, *, jobs=2, batch=40, timeout=20.0,
         memory_limit=6 << 30):
    """Build the originals and the corpus in ``directory``, run it; -> (cases with
    results, seconds)."""
    d = Path(directory)
    originals = make_originals(d / "originals")
    cases = generate(originals, n_cases, seed, d / "corpus")
    work = d / "work"
    work.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    results = Runner(work, batch=batch, timeout=timeout, jobs=jobs,
                     memory_limit=memory_limit).run(cases)
    return results, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=40)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--memory-limit", type=float, default=6.0, help="GiB per worker (0: none)")
    ap.add_argument("--keep", metavar="DIR")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("JOBFILE", "RESULTFILE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _limit_memory(int(os.environ.get("FUZZ_MEMORY_LIMIT", "0")))
        _worker(*args.worker)
        return 0
    directory = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fuzz-loader-"))
    try:
        t0 = time.perf_counter()
        results, seconds = fuzz(args.cases, args.seed, directory, jobs=args.jobs,
                                batch=args.batch, timeout=args.timeout,
                                memory_limit=int(args.memory_limit * (1 << 30)))
        print(f"fuzz_loader: seed {args.seed}, {args.jobs} jobs, corpus built in "
              f"{time.perf_counter() - t0 - seconds:.1f} s")
        bad = report(results, seconds, args.strict)
        if args.keep:
            (directory / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
