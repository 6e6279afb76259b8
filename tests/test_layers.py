"""The package layers import only the layers below them (README "Layout").

kernels (every @njit) <- engine (drivers over kernels) <- API (validation,
initializers, functional, model, persistence, cli, plotting); ``io`` (data and
model files) and ``reference`` (the NumPy oracle) stand apart and never import
numba or the compiled core. Checked on the source with ``ast``, so a violation
is caught even on a path no test executes.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fastdnn"

#: layer -> fastdnn subpackages / third-party roots it must never import
FORBIDDEN = {
    "kernels": {"fastdnn.engine", "fastdnn.io", "fastdnn.reference", "fastdnn.model",
                "fastdnn.functional", "fastdnn.validation", "fastdnn.cli", "fastdnn.persistence"},
    "engine": {"fastdnn.io", "fastdnn.reference", "fastdnn.model", "fastdnn.functional",
               "fastdnn.validation", "fastdnn.cli", "fastdnn.persistence", "h5py", "sklearn",
               "dask"},
    "io": {"numba", "fastdnn.kernels", "fastdnn.engine", "fastdnn.model", "fastdnn.functional",
           "fastdnn.cli", "fastdnn.persistence", "fastdnn.reference"},
    "reference": {"numba", "fastdnn.kernels", "fastdnn.engine", "fastdnn.io", "fastdnn.model",
                  "fastdnn.functional", "fastdnn.validation", "fastdnn.cli",
                  "fastdnn.persistence", "fastdnn.initializers"},
}


def _imports(path):
    """Absolute module names imported by a file of the fastdnn package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = ".".join(parts[:-1])  # the package a relative import starts from
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.append(target)
            names += [target + "." + a.name for a in node.names]
    return names


def _violates(name, forbidden):
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_is_below(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, layer
    bad = [(f.name, n) for f in files for n in _imports(f) if _violates(n, FORBIDDEN[layer])]
    assert not bad, "%s imports what it must not: %s" % (layer, bad)


def test_every_njit_lives_in_kernels():
    outside = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.parent.name != "kernels" and "@njit" in p.read_text()]
    assert not outside
