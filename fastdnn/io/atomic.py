"""Replacing a file so that readers see the old one or the whole new one, never a part.

Model and estimator files, checkpoints and ONNX exports go through
:func:`replace_atomically` (data sets and the command line's prediction CSVs are written
in place): the contents are written to a new temporary file in the target's folder,
made durable, and renamed over the target. A writer killed half-way leaves only its
temporary file, which the next save to the same name removes (:func:`remove_orphans`).
"""

import os
import secrets
from pathlib import Path


def remove_orphans(directory, name):
    """Delete temporary files of earlier saves to ``name`` in ``directory`` whose writer
    process is gone (a killed writer cannot clean up; its file was never renamed, so
    nothing refers to it)."""
    for tmp in Path(directory).glob(f".{name}.*.tmp"):
        try:
            pid = int(tmp.name[len(name) + 2:].split(".")[0])
            os.kill(pid, 0)              # raises ProcessLookupError when pid is gone
        except ProcessLookupError:
            try:
                tmp.unlink()
            except OSError:
                pass
        except (ValueError, OSError):    # not ours, or a live process of another user
            pass


def replace_atomically(path, fill) -> None:
    """Create or replace ``path`` with the file that ``fill(tmp)`` writes at ``tmp``.

    ``tmp`` is a new, empty file beside ``path`` (``.{name}.{pid}.{random}.tmp``, created
    exclusively, with the permissions a plain ``open`` would give: 0o666 less the umask);
    ``fill`` writes it and makes its contents durable (``os.fsync``). It is then renamed
    over ``path`` and the folder is synced where the system allows, so that the rename
    survives a crash too. On any error, an interrupt included, ``tmp`` is removed and an
    existing ``path`` is untouched; concurrent writers leave one complete file.
    """
    path = Path(path)
    directory = path.parent
    remove_orphans(directory, path.name)
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        fill(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                 # make the rename durable; not possible everywhere
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
