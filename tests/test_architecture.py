"""The shape of the code (DESIGN.md §8) and the docs' promises, checked."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = ["mig/model.py", "mig/defaults.py", "mig/sqltext.py", "mig/render.py", "mig/schema/decl.py", "mig/plan"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module if node.module.startswith("mig") else node.module.split(".")[0])
    return out


def _files(rel: str) -> list[Path]:
    p = ROOT / rel
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


def test_model_and_plan_are_pure() -> None:
    for rel in PURE:
        for f in _files(rel):
            bad = _imports(f) & {"sqlite3", "click", "rich"}
            assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_imports_flow_forward() -> None:
    layers = {"mig.plan": {"mig.phases", "mig.commands", "mig.cli"},
              "mig.phases": {"mig.commands", "mig.cli"},
              "mig.model": {"mig.plan", "mig.phases", "mig.commands", "mig.cli", "mig.schema"}}
    for layer, forbidden in layers.items():
        for f in _files(layer.replace(".", "/") + (".py" if layer == "mig.model" else "")):
            for imp in _imports(f):
                assert not any(imp == b or imp.startswith(b + ".") for b in forbidden), \
                    f"{f.relative_to(ROOT)} imports {imp}"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert "mig demo" in blocks[0]
    assert "pytest" in blocks[1]
    assert blocks[1].strip() in (ROOT / ".ci" / "run").read_text()


def test_every_command_is_in_the_readme_reference() -> None:
    from mig.cli import main

    readme = (ROOT / "README.md").read_text()
    for name in main.commands:
        assert f"`mig {name}" in readme, name


def test_the_package_type_checks_strictly() -> None:
    """STYLE.md: mypy --strict for the package (skipped only where mypy is not installed)."""
    import subprocess
    import sys

    pytest = __import__("pytest")
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "mig"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
