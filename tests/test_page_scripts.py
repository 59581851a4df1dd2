"""The page scripts' own checks, in the one test command: TypeScript checks every script
(`tsc --noEmit`, JSDoc types, strict), and `node --test` runs tests/js. Both come from
`npm ci` (package-lock.json), which the README's test command runs before pytest."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TSC = ROOT / "node_modules" / ".bin" / "tsc"
SCRIPTS = sorted((ROOT / "server").rglob("*.js"))


def _run(*command: str | Path) -> str:
    if not TSC.exists():
        pytest.fail("node_modules is missing: run `npm ci` first (the README's test command does)")
    done = subprocess.run([str(part) for part in command], cwd=ROOT, capture_output=True,
                          text=True, timeout=150)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.mark.parametrize("project", [".", "tests/js"])
def test_typescript_finds_no_error(project: str) -> None:
    _run(TSC, "--noEmit", "-p", project)


def test_typescript_checks_every_page_script() -> None:
    listed = {Path(line) for line in _run(TSC, "--listFilesOnly", "-p", ".").splitlines()}
    assert set(SCRIPTS) <= listed
    for script in SCRIPTS:
        assert script.read_text(encoding="utf-8").startswith("// @ts-check\n"), script


def test_the_scripts_tests_pass_under_node() -> None:
    _run("node", "--test", "tests/js/")
