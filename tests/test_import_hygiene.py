"""The engine and the CLI must not drag in Qt, and must not import torch until needed."""

import subprocess
import sys

import pytest


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import photofind.core.pipeline, photofind.core.match.grouping, photofind.core.match.pairsearch, "
        "photofind.core.report, photofind.core.scan.cache, photofind.core.query",
        "import photofind.cli; photofind.cli.build_parser()",
    ],
)
def test_engine_and_cli_import_neither_qt_nor_torch(statement):
    loaded = _loaded_after(statement)
    assert not {m for m in loaded if m.startswith("PySide6")}, "Qt leaked into the engine/CLI"
    assert "torch" not in loaded, "torch must be imported lazily"
    assert "numba" not in loaded, "numba (the LSH loop's compiler) must be imported lazily"


def test_no_core_module_imports_qt():
    """Every module under photofind.core, subpackages included, stays Qt-free."""
    import pkgutil

    import photofind.core

    names = [m.name for m in pkgutil.walk_packages(photofind.core.__path__, "photofind.core.")]
    assert {
        "photofind.core.scan.cache",
        "photofind.core.match.grouping",
        "photofind.core.cleanup.trash",
    } <= set(names)
    loaded = _loaded_after("import " + ", ".join(names))
    assert not {m for m in loaded if m.startswith("PySide6")}


def test_help_is_fast_and_works():
    out = subprocess.run([sys.executable, "-m", "photofind", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "scan" in out.stdout
