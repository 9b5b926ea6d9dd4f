"""Shared test set-up: the independent references under ``tests/reference`` import as
``reference`` (code that shares nothing with the package, for validation)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def run_failing(capsys):
    """A function that runs a wideshot command which must fail with status 2 (a usage error)
    and returns its message, checked to be one line and no traceback."""
    from wideshot.cli import main

    def run(argv: list[str]) -> str:
        capsys.readouterr()
        assert main(argv) == 2
        message = capsys.readouterr().err.strip()
        assert message and "\n" not in message and "Traceback" not in message
        return message

    return run
