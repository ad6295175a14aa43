"""ruff (configured in pyproject.toml) is clean on the model-side packages; the rest of codec/ follows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ["codec/config.py", "codec/schema.py", "codec/runtime/streaming.py", "codec/runtime/longform.py", "codec/models",
         "codec/quantization", "codec/nn", "codec/train/loop.py", "codec/train/step.py", "codec/train/config.py",
         "tests/test_architecture.py", "tests/test_config_validation.py", "tests/test_golden.py",
         "tests/test_imports.py", "tests/test_new_kinds.py", "tests/test_nn.py", "tests/test_quantizers.py"]


def test_ruff_is_clean_on_the_model_side():
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([str(ruff), "check", "--output-format", "concise", *CLEAN], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
