"""The docs a new user reads: every command documented, no pointer to a file that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codec.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
USER_DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "recipes").glob("*.yaml")),
    ROOT / "pretrained" / "README.md",
]


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_cli_page(command):
    page = (ROOT / "docs" / "cli.md").read_text()
    assert re.search(rf"`codec {re.escape(command)}[ `]", page), f"docs/cli.md does not show `codec {command}`"


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_markdown_files_exist(doc):
    existing = {p.name for p in ROOT.rglob("*.md") if ".git" not in p.parts and ".venv" not in p.parts}
    named = set(re.findall(r"\b([A-Za-z0-9_.-]+\.md)\b", doc.read_text()))
    assert not named - existing, f"{doc.relative_to(ROOT)} names {sorted(named - existing)}, which are not in the repo"


def test_apt_install_lines_answer_yes():
    for doc in USER_DOCS:
        for line in doc.read_text().splitlines():
            if "apt-get install" in line:
                assert "apt-get install -y" in line, f"{doc.relative_to(ROOT)}: {line.strip()}"
