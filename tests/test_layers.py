"""The layers of README's "Layout" table point one way, and no module imports another in a circle.

import-linter checks the contracts of pyproject.toml (`[tool.importlinter]`) on the import graph
that grimp builds from the source: an import of a higher layer, or a cycle, fails here with the
chain of imports that breaks it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PYPROJECT = ROOT / "pyproject.toml"


def contracts() -> list[dict]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def test_every_module_imports_only_layers_below_its_own_and_nothing_in_a_circle() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    checked = subprocess.run(
        [str(lint_imports), str(PYPROJECT), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = checked.stdout + checked.stderr
    assert checked.returncode == 0, report
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", report)
    assert kept and int(kept[1]) == len(contracts()), report


def test_the_readme_layout_table_lists_the_layers_in_their_order() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") : readme.index("## Commands")]
    folders = [
        row.split("`")[1].removesuffix("/").removesuffix(".py") for row in re.findall(r"^\| `[^`]+` \|", layout, re.M)
    ]
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    bottom_up = [name.strip() for layer in reversed(layers) for name in layer.split("|")]
    assert [folder for folder in folders if folder in bottom_up] == bottom_up
