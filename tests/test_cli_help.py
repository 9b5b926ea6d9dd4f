"""Help and usage errors answer without importing torch (they must be instant)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from wideshot.cli import COMMANDS

#: Commands whose options are all known without the library (train's defaults come from
#: its TrainingConfig, which needs torch).
LIGHT = [name for name in COMMANDS if name != "train"]

PROBE = """
import sys
from wideshot.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(name for name in ("torch", "h5py", "scipy", "matplotlib") if name in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def _heavy_modules(argv: list[str]) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                            text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in LIGHT),
                                  ["reconstruct", "--views", "3", "x.npy", "--out", "o"],
                                  ["generate", "--preset", "nope", "--out", "x.h5"]])
def test_help_and_usage_errors_import_nothing_heavy(argv):
    assert _heavy_modules(argv) == "HEAVY:"
