"""Every Python example in docs/layouts.md runs as a doctest, so the printed ids cannot drift."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "layouts.md"
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def python_blocks() -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang in ("python", "pycon")]


def test_every_python_block_is_a_doctest() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 10
    for body in blocks:
        assert body.lstrip().startswith(">>>"), f"docs/layouts.md block is not a doctest:\n{body[:200]}"


def test_docs_examples_run() -> None:
    text = "\n".join(python_blocks())
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, "docs/layouts.md", str(DOC), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
    assert runner.tries >= 40


def test_layout_figure_script(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import runpy
    import sys

    out = tmp_path / "layouts.png"
    argv, sys.argv = sys.argv, ["plot_layouts.py", str(out)]
    try:
        runpy.run_path(str(ROOT / "examples" / "plot_layouts.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
