"""Nothing in the repository shadows the standard library, for the interpreter a Debian or Ubuntu user has.

Each check starts ``/usr/bin/python3`` in the repository root, where the current directory is on
``sys.path`` first, and imports ``re``, ``enum`` and ``operator``: each must come from the standard
library.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
CHECK = (
    "import enum, operator, re, sysconfig\n"
    "stdlib = sysconfig.get_paths()['stdlib']\n"
    "for module in (re, enum, operator):\n"
    "    assert getattr(module, '__file__', stdlib).startswith(stdlib), module\n"
    "print('stdlib', operator.eq(1, 1))\n"
)

pytestmark = pytest.mark.skipif(
    not SYSTEM_PYTHON.exists(), reason="no /usr/bin/python3 (not a Debian or Ubuntu machine)"
)


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SYSTEM_PYTHON), *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_dash_c_in_the_root_imports_the_standard_library():
    result = _run("-c", CHECK)
    assert result.returncode == 0 and result.stdout.strip() == "stdlib True", result.stderr


def test_a_script_on_standard_input_in_the_root_imports_the_standard_library():
    result = _run("-", stdin=CHECK)
    assert result.returncode == 0 and result.stdout.strip() == "stdlib True", result.stderr


def test_venv_started_in_the_root_works(tmp_path):
    result = _run("-m", "venv", str(tmp_path / "venv"))
    assert result.returncode == 0, result.stderr
    python = tmp_path / "venv" / "bin" / "python"
    checked = subprocess.run([str(python), "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stdout.strip() == "stdlib True", checked.stderr


def test_no_folder_at_the_root_is_an_importable_package():
    packages = sorted(path.parent.name for path in ROOT.glob("*/__init__.py"))
    assert not packages, f"importable from the root: {packages}"


def test_no_package_is_named_like_a_standard_library_module():
    stdlib = set(sys.stdlib_module_names)
    named = sorted(
        {path.parent.name for path in ROOT.rglob("__init__.py") if ".venv" not in path.parts} & stdlib
    )
    assert not named, f"packages named like standard-library modules: {named}"
