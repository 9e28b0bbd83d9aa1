"""`make bench` (benchmarks/run_all.py) runs every benchmark: a new one cannot be left out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchmarks import run_all

BENCHMARKS = Path(run_all.__file__).resolve().parent


def _is_command(path: Path) -> bool:
    """A script with an `if __name__ == "__main__":` block (the others are shared helpers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body)


def test_every_benchmark_command_is_in_run_all():
    commands = {p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "run_all" and _is_command(p)}
    assert commands == set(run_all.BENCHMARKS)


def test_unknown_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(["--only", "scan_throughput,nope"])
    assert exit_info.value.code == 2
    assert "unknown benchmark(s): nope" in capsys.readouterr().err
