"""The README's two commands are the ones that work: CI runs its test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command_under(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_the_readme_test_command_verbatim():
    command = command_under("Tests")
    assert "\n" not in command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci_lines


def test_quick_start_is_one_command_that_installs_and_serves():
    command = command_under("Quick start")
    assert "\n" not in command
    assert "pip install" in command and command.endswith("castimer serve")
