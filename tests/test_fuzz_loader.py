"""The loaders against a fuzzed corpus of broken files (``scripts/fuzz_loader.py``).

A deterministic corpus (seed 0) of a few hundred cases derived from valid files: model
files of format 3 (with the integrity header), format 2 and format 1 (without), a
course-layout data file and a general HDF5 data file; truncations at many offsets,
single and multiple byte flips, header flips, overwritten runs, inserted/deleted bytes,
and structurally valid HDF5 with wrong dtypes, shapes, missing or extra datasets, absurd
declared sizes, NaN/inf, strings where numbers belong, bad JSON and newer versions. Each
case is loaded in a worker subprocess (batched, with a per-case watchdog and an address
space limit). Every case must give the documented error naming the file, or load and
predict exactly as the original -- except that a digest-less file (format 1/2 model, data
file) may load with changed values, which nothing can detect. The larger run is
``python scripts/fuzz_loader.py --cases 5000``.
"""
import importlib.util
import os
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_loader.py"
N_CASES = 400


def _load_script():
    spec = importlib.util.spec_from_file_location("fuzz_loader", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fz = _load_script()


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return fz.make_originals(tmp_path_factory.mktemp("originals"))


def test_corpus_is_deterministic(originals, tmp_path):
    a = fz.generate(originals, 260, 7, tmp_path / "a")
    b = fz.generate(originals, 260, 7, tmp_path / "b")
    assert [c["name"] for c in a] == [c["name"] for c in b]
    assert all(Path(x["path"]).read_bytes() == Path(y["path"]).read_bytes()
               for x, y in zip(a, b))
    c = fz.generate(originals, 260, 8, tmp_path / "c")
    assert [x["name"] for x in a] != [x["name"] for x in c]


def test_fuzzed_files_give_the_documented_error_or_load_exactly(originals, tmp_path, capsys,
                                                                record_property):
    cases = fz.generate(originals, N_CASES, 0, tmp_path / "corpus")
    assert len(cases) == N_CASES
    work = tmp_path / "work"
    work.mkdir()
    t0 = time.perf_counter()
    results = fz.Runner(work, batch=40, timeout=15.0, jobs=2).run(cases)
    with capsys.disabled():
        print()
        bad = fz.report(results, time.perf_counter() - t0)
    counts = {}
    for r in results:
        key = (fz._group(r), r["kind"], r["outcome"])
        counts[key] = counts.get(key, 0) + 1
    record_property("fuzz_outcomes", {" / ".join(k): v for k, v in sorted(counts.items())})

    assert not bad, bad[:5]
    assert len(results) == N_CASES
    # every mutation kind ran against every family of files
    for group in ("model v3 (digest)", "model v1/v2 (no digest)", "data (no digest)"):
        kinds = {r["kind"] for r in results if fz._group(r) == group}
        assert kinds == set(fz.KINDS), (group, kinds)
    # no crash, hang, MemoryError or foreign exception at all in this corpus
    assert not [r for r in results if r["outcome"] in ("crash", "hang", "memory", "other")]
    # a damaged format-3 model file never reaches libhdf5's parser with a wrong byte: every
    # random mutation is refused (by the integrity check: "damaged")
    sealed = [r for r in results if r["loader"] == "model" and r["sealed"]]
    assert sealed and all(r["outcome"] in ("error", "untyped") for r in sealed)
    assert all("damaged" in r["message"] or "not a readable HDF5 file" in r["message"]
               for r in sealed if r["kind"] != "structural")
    assert all(r["type"] == "ModelFileError" for r in results
               if r["loader"] == "model" and r["outcome"] == "error")
    assert all(r["type"] == "DataFileError" for r in results
               if r["loader"] != "model" and r["outcome"] == "error")
    # bounded time: each case well under a second (libhdf5 + the digest of a small file)
    assert max(r["seconds"] for r in results) < 5.0


def test_runner_attributes_a_crash_and_a_hang_to_the_exact_file(originals, tmp_path,
                                                                monkeypatch):
    cases = fz.generate(originals, 0, 0, tmp_path / "corpus")[:8]
    names = [os.path.basename(c["path"]) for c in cases]
    monkeypatch.setenv("FUZZ_SELFTEST_CRASH", names[2])
    monkeypatch.setenv("FUZZ_SELFTEST_HANG", names[5])
    work = tmp_path / "work"
    work.mkdir()
    results = fz.Runner(work, batch=8, timeout=3.0, jobs=1).run(cases)
    outcomes = [r["outcome"] for r in results]
    assert outcomes[2] == "crash" and results[2]["type"] == "SIGABRT"
    assert outcomes[5] == "hang" and "stack" in results[5]["message"]
    assert all(o in ("error", "untyped") for i, o in enumerate(outcomes) if i not in (2, 5))
    assert fz.judge(results[2]) and fz.judge(results[5])     # structural cases: forbidden
