"""The equivalence script itself runs and passes (so it cannot rot)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_equivalence.py"


def test_check_equivalence_quick_grid_passes():
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--iterations", "30"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "0 over tolerance" in run.stdout
    assert "DeepNeuralNetwork/gram params" in run.stdout
