"""Shared test set-up: the independent references under ``tests/reference`` import as
``reference`` (code that shares nothing with the package, for validation)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
