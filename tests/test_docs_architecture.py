"""docs/architecture.md's worked examples run as written (a decoder kind and a teacher kind added at run time)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

from codec.models.parts import DECODERS, ENCODERS, QUANTIZERS
from codec.models.teachers import TEACHERS

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_architecture_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 3
    registries = [DECODERS, ENCODERS, QUANTIZERS, TEACHERS]
    saved = [dict(r) for r in registries]
    module = types.ModuleType("architecture_md")  # dataclasses and typing look classes' modules up
    sys.modules[module.__name__] = module
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec", dont_inherit=True), module.__dict__)
        assert "linear" in DECODERS and "energy" in TEACHERS
    finally:
        del sys.modules[module.__name__]
        for registry, before in zip(registries, saved):
            registry.clear()
            registry.update(before)
