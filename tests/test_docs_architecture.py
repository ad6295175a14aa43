"""docs/architecture.md's worked examples run as written (a decoder kind, a teacher kind, a layout and a command)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

from codec import cli
from codec.models.parts import DECODERS, ENCODERS, QUANTIZERS
from codec.models.teachers import TEACHERS

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_architecture_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 5
    commands = cli.COMMAND_MODULES
    registries = [DECODERS, ENCODERS, QUANTIZERS, TEACHERS]
    saved = [dict(r) for r in registries]
    module = types.ModuleType("architecture_md")  # dataclasses and typing look classes' modules up
    sys.modules[module.__name__] = module
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec", dont_inherit=True), module.__dict__)
        assert "linear" in DECODERS and "energy" in TEACHERS and "duration" in cli.COMMAND_MODULES
    finally:
        del sys.modules[module.__name__]
        sys.modules.pop("codec.commands.duration", None)
        cli.COMMAND_MODULES = commands
        for registry, before in zip(registries, saved):
            registry.clear()
            registry.update(before)
