"""``fastdnn.io.atomic.replace_atomically``, through which model and estimator files,
checkpoints and ONNX exports are written: readers see the old file or the whole new one;
failures and killed writers leave no temporary file behind for long."""

import os
import subprocess
import sys

import pytest

from fastdnn.io.atomic import replace_atomically


def _files(d):
    return sorted(p.name for p in d.iterdir())


def _write(data):
    def fill(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
    return fill


def _dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_creates_then_replaces_with_a_plain_opens_permissions(tmp_path):
    path = tmp_path / "out.bin"
    replace_atomically(path, _write(b"first"))
    assert path.read_bytes() == b"first"
    replace_atomically(path, _write(b"second"))
    assert path.read_bytes() == b"second"
    assert _files(tmp_path) == ["out.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("where", ["fill", "replace", "interrupt"])
def test_a_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, where):
    path = tmp_path / "out.bin"
    replace_atomically(path, _write(b"old"))
    fill = _write(b"new")
    if where == "fill":
        def fill(tmp):
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise OSError("disk full (simulated)")
    elif where == "replace":
        monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(
            OSError("rename failed (simulated)")))
    else:
        def fill(tmp):
            raise KeyboardInterrupt
    with pytest.raises((OSError, KeyboardInterrupt)):
        replace_atomically(path, fill)
    assert path.read_bytes() == b"old"
    assert _files(tmp_path) == ["out.bin"]


def test_a_killed_writers_temporary_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "out.bin"
    orphan = tmp_path / f".out.bin.{_dead_pid()}.0123abcd.tmp"
    live = tmp_path / f".out.bin.{os.getpid()}.89abcdef.tmp"      # a writer still running
    other = tmp_path / ".other.bin.1.0123abcd.tmp"                   # another file's
    for p in (orphan, live, other):
        p.write_bytes(b"partial")
    replace_atomically(path, _write(b"new"))
    assert _files(tmp_path) == sorted([live.name, other.name, "out.bin"])
