"""Concurrent use of one model file path: savers and readers in separate processes.

Two processes saving different models to the same path at the same time leave one
complete model, exactly one of the two (never a mix, never a stray temp file); a process
loading the path in a loop while another rewrites it gets the old or the new model
exactly, every time, never an error (saves are temp file + fsync + os.replace; a load
checks and parses one open file, so a rename under it does not matter).
"""
import subprocess
import sys
import textwrap
import time

import numpy as np

from fastdnn.io.model_file import load_model_file

CHILD = textwrap.dedent('''
    import os, sys, time
    import numpy as np
    from fastdnn.io.model_file import ModelFileError, load_model_file, save_model_file

    def payload(which):
        dims = [30, 20, 1] if which == "A" else [30, 10, 5, 1]
        rng = np.random.default_rng(0 if which == "A" else 1)
        params = {}
        for l in range(1, len(dims)):
            params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1]))
            params[f"b{l}"] = rng.standard_normal((dims[l], 1))
        return {"layer_dims": dims, "activations": ["relu"] * (len(dims) - 2) + ["sigmoid"],
                "dtype": "float64", "hyperparameters": {"learning_rate": 0.1, "which": which},
                "parameters": params, "costs": rng.random(50),
                "cost_iterations": np.arange(50, dtype=np.int64), "n_iter": 5000,
                "fastdnn_version": "test",
                "optimizer_state": {"v": None, "s": None, "t": 0, "rng": 1},
                "validation": None, "checkpoint": {"blob": rng.random(4000)}}

    def which(p):
        """'A' or 'B' when p equals that payload exactly, else None."""
        for name in "AB":
            q = payload(name)
            if (p["layer_dims"] == q["layer_dims"]
                    and p["hyperparameters"] == q["hyperparameters"]
                    and all(p["parameters"][k].tobytes() == q["parameters"][k].tobytes()
                            for k in q["parameters"])
                    and p["checkpoint"]["blob"].tobytes() == q["checkpoint"]["blob"].tobytes()
                    and p["costs"].tobytes() == q["costs"].tobytes()):
                return name
        return None

    role, path, go, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    if role in ("A", "B", "AB"):
        payloads = [payload(c) for c in role]
        for i in range(count):
            save_model_file(path, payloads[i % len(payloads)])
        print("saved", count)
    else:                                   # reader: load until the stop file appears
        seen = {"A": 0, "B": 0, "mix": 0, "error": 0}
        first_error = ""
        stop = path + ".stop"
        while not os.path.exists(stop):
            try:
                got = which(load_model_file(path))
                seen[got or "mix"] += 1
            except (ModelFileError, OSError) as e:
                seen["error"] += 1
                first_error = first_error or f"{type(e).__name__}: {e}"
        print(seen["A"], seen["B"], seen["mix"], seen["error"], first_error)
''')


def _start(tmp_path, role, path, count):
    return subprocess.Popen([sys.executable, "-c", CHILD, role, str(path), str(tmp_path / "go"),
                             str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_ready(procs):
    for p in procs:
        line = p.stdout.readline()
        assert line.strip() == "ready", p.stderr.read()


def _finish(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return out


def _which(path):
    ns = {}
    exec(CHILD.split("role, path, go")[0], ns)       # payload() and which() of the children
    return ns["which"](load_model_file(path))


def test_two_savers_at_once_leave_one_complete_model(tmp_path):
    path = tmp_path / "m.h5"
    for round_ in range(3):
        (tmp_path / "go").unlink(missing_ok=True)
        procs = [_start(tmp_path, role, path, 60) for role in ("A", "B")]
        _wait_ready(procs)
        (tmp_path / "go").touch()
        for p in procs:
            assert "saved 60" in _finish(p)
        assert _which(path) in ("A", "B")
        assert sorted(f.name for f in tmp_path.iterdir()) == ["go", "m.h5"]   # no temp left


def test_reader_sees_the_old_or_the_new_model_exactly(tmp_path):
    path = tmp_path / "m.h5"
    ns = {}
    exec(CHILD.split("role, path, go")[0], ns)
    from fastdnn.io.model_file import save_model_file

    save_model_file(path, ns["payload"]("A"))
    reader = _start(tmp_path, "read", path, 0)
    writer = _start(tmp_path, "AB", path, 150)
    _wait_ready([reader, writer])
    (tmp_path / "go").touch()
    _finish(writer)
    time.sleep(0.05)
    (tmp_path / "m.h5.stop").touch()
    a, b, mix, errors, *first = _finish(reader).split(maxsplit=4)
    a, b, mix, errors = int(a), int(b), int(mix), int(errors)
    print("reader: %d loads of A, %d of B, %d mixed, %d errors" % (a, b, mix, errors))
    assert errors == 0, first
    assert mix == 0
    assert a > 0 and b > 0 and a + b >= 50          # it really read while the writer wrote
    assert _which(path) == "B"                      # the last save (150 alternating: ends on B)
    np.testing.assert_array_equal(load_model_file(path)["layer_dims"], [30, 10, 5, 1])
