"""The equivalence script itself runs and passes (so it cannot rot).

``--quick`` keeps almost every kind of row (seed functions and training, the
Course 2 drop-ins and update rules, training configurations with both strategies
and ``functional.model``) but only full-batch configurations and no
``gradient_check`` rows, so it compiles no entry point beyond the seed rows' own
(the cold-cache cost of this test is that compilation, ~50 s on 2 busy cores;
with the kernels cached it runs in a few seconds).
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_equivalence.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600)


def test_check_equivalence_quick_grid_passes():
    run = _run("--quick", "--iterations", "30")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "0 over tolerance" in run.stdout
    assert "DeepNeuralNetwork/gram params" in run.stdout
    assert "step 2 (warm) adam" in run.stdout
    assert "Training configurations against reference.model" in run.stdout
    for impl in ("model/direct", "model/gram", "functional.model"):
        assert impl in run.stdout, impl


def test_check_equivalence_configs_only():
    run = _run("--configs", "--quick", "--iterations", "10")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "0 over tolerance" in run.stdout
    assert "model/gram" in run.stdout
    assert "linear_forward" not in run.stdout and "step 1 gd" not in run.stdout
