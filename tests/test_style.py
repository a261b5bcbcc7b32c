"""The code's style, types and layers, held by the tools pyproject.toml configures: ruff, mypy and
import-linter."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name) or name


def test_ruff_format_leaves_the_code_as_it_is():
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr + "\nrun: make format"


def test_ruff_check_finds_nothing():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_no_type_errors():
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers_hold():
    result = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_generated_files_are_current():
    """The CRD and the chart's values schema are what tools/generate.py writes from the settings."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _imported_modules(path: Path) -> set[str]:
    """The top-level names of the modules a Python file imports (``import a.b``, ``from a.b import c``)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_another_or_a_conftest():
    """Shared code is in tests/helpers/ (or a conftest.py fixture): a test module imports neither another
    test module nor conftest, and helpers import no test module."""
    tests = ROOT / "tests"
    forbidden = {path.stem for path in tests.rglob("test_*.py")} | {"conftest"}
    importing = {
        str(path.relative_to(ROOT)): sorted(_imported_modules(path) & forbidden)
        for path in sorted(tests.rglob("*.py"))
    }
    assert not {path: names for path, names in importing.items() if names}
    flat = sorted(path.name for path in tests.glob("*.py") if not path.name.startswith(("test_", "conftest")))
    assert not flat, f"helpers belong in tests/helpers/: {flat}"
