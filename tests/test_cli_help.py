"""Help and usage errors answer without importing torch (they must be instant), and the names and
defaults they show (:mod:`wideshot.choices`) are the library's."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict, fields

import pytest

from wideshot import choices
from wideshot.cli import COMMANDS

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


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS),
                                  ["reconstruct", "--views", "3", "x.npy", "--out", "o"],
                                  ["generate", "--preset", "nope", "--out", "x.h5"],
                                  ["train", "--schedule", "nope", "--out", "run"]])
def test_help_and_usage_errors_import_nothing_heavy(argv):
    assert _heavy_modules(argv) == "HEAVY:"


def test_offered_names_and_defaults_are_the_librarys():
    from wideshot.data.augment import AUGMENTATIONS
    from wideshot.models import LOSSES, MODELS
    from wideshot.training import TrainingConfig

    assert tuple(MODELS) == choices.MODEL_NAMES
    assert tuple(LOSSES) == choices.LOSS_NAMES
    assert tuple(AUGMENTATIONS) == choices.AUGMENTATION_NAMES
    assert choices.NO_AUGMENTATION not in AUGMENTATIONS
    config_defaults = {item.name: item.default for item in fields(TrainingConfig)}
    for name, value in asdict(choices.TRAINING_DEFAULTS).items():
        assert config_defaults[name] == value, name
