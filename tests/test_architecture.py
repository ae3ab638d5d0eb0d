"""The shape of the code (docs/design.md, "The code is the pipeline") and the docs' promises, checked."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = ["mig/sql", "mig/model.py", "mig/ddl.py", "mig/bookkeeping.py", "mig/schema/decl.py", "mig/plan"]

# The pipeline, bottom up (docs/design.md opens with it): what each layer may import of mig.
# A layer is a module or package prefix; the longest prefix that names a file decides.
BELOW_MODEL = {"mig.sql", "mig.errors"}
MODEL = BELOW_MODEL | {"mig.model", "mig.ddl", "mig.bookkeeping"}
BOUNDARY = MODEL | {"mig.sqlite"}
MAY_IMPORT = {
    "mig.sql": {"mig.sql"},
    "mig.errors": set(),  # (plan.ops only for type checking)
    "mig.model": BELOW_MODEL,
    "mig.bookkeeping": {"mig.sql"},
    "mig.ddl": BELOW_MODEL | {"mig.model"},
    "mig.sqlite": MODEL | {"mig.sqlite"},
    "mig.dsl": set(),
    "mig.schema": BOUNDARY | {"mig.schema", "mig.dsl"},
    "mig.plan": MODEL | {"mig.plan"},
    "mig.phases.common": BOUNDARY | {"mig.plan", "mig.phases.common"},
    "mig.phases": BOUNDARY | {"mig.plan", "mig.phases.common"},  # a phase never imports another
    "mig.locate": BOUNDARY | {"mig.schema", "mig.phases.common"},
    "mig.commands": BOUNDARY | {"mig.schema", "mig.plan", "mig.phases", "mig.locate"},
    "mig.fleet": BOUNDARY | {"mig.phases", "mig.locate", "mig.fleet"},  # many databases: above the phases
    "mig.runtime": {"mig.runtime", "mig.bookkeeping"},  # the service library: light, never the planner
    "mig.cli": {"mig"},
    "mig": set(),  # the package itself; a module in no layer above may import nothing
}


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


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    return max((layer for layer in MAY_IMPORT if module == layer or module.startswith(layer + ".")), key=len)


def _mig_imports(path: Path) -> set[str]:
    """What `path` imports of mig, outside `if TYPE_CHECKING:` blocks, as module names."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("mig")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mig"):
            # `from mig.phases import drain` imports the module mig.phases.drain
            out |= {f"{node.module}.{a.name}" if (ROOT / node.module.replace(".", "/") / f"{a.name}.py").exists()
                    or (ROOT / node.module.replace(".", "/") / a.name).is_dir() else node.module
                    for a in node.names}
    return out


def test_every_module_imports_only_the_layers_below_it() -> None:
    wrong = []
    for f in sorted((ROOT / "mig").rglob("*.py")):
        module = _module(f)
        allowed = MAY_IMPORT[_layer(module)]
        for imp in _mig_imports(f):
            own = imp == module or imp.startswith(module + ".")
            if not own and _layer(imp) != _layer(module) and not any(imp == a or imp.startswith(a + ".")
                                                                     for a in allowed):
                wrong.append(f"{module} imports {imp}")
    assert not wrong, wrong


def test_no_phase_imports_another() -> None:
    phases = {_module(f) for f in (ROOT / "mig" / "phases").glob("*.py") if f.name != "__init__.py"}
    wrong = [f"{_module(f)} imports {imp}" for f in (ROOT / "mig" / "phases").rglob("*.py")
             for imp in _mig_imports(f) if imp in phases and imp != _module(f)]
    assert not wrong, wrong


def test_the_top_level_reads_as_the_pipeline() -> None:
    top = sorted(p.name for p in (ROOT / "mig").iterdir() if not p.name.startswith("__") or p.name == "__init__.py")
    assert top == ["__init__.py", "bookkeeping.py", "cli", "commands.py", "ddl.py", "dsl.py", "errors.py", "fleet",
                   "locate.py", "model.py", "phases", "plan", "runtime", "schema", "sql", "sqlite"], top


def test_no_module_is_over_400_lines() -> None:
    long = {str(f.relative_to(ROOT)): n for f in (ROOT / "mig").rglob("*.py")
            if (n := len(f.read_text().splitlines())) > 400}
    assert not long, long


def test_mig_s_own_tables_are_the_ones_bookkeeping_names() -> None:
    """SQL anywhere in mig spells mig's tables and triggers literally: every such name is one
    that mig.bookkeeping defines."""
    from mig import bookkeeping

    spelled = set()
    for f in (ROOT / "mig").rglob("*.py"):
        spelled |= set(re.findall(r"\b_(?:migration_[a-z_]+|id_mapping|schema_identity)\b", f.read_text()))
    assert spelled <= bookkeeping.TABLES, spelled - bookkeeping.TABLES


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert "mig demo" in blocks[0]
    assert "pytest" in blocks[1]
    assert blocks[1].strip() in (ROOT / ".ci" / "run").read_text()


def test_every_command_is_in_the_readme_reference() -> None:
    from mig.cli.main import main

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
