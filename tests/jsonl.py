"""Reading the labelled JSON Lines data sets the tests check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def read_numbered(path: Path) -> tuple[tuple[int, dict[str, Any]], ...]:
    """(line number, object) for every line; a line that is not a JSON object fails here."""
    assert path.is_file(), f"{path} is missing"
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            where = f"{path.name}:{number}"
            assert line.strip(), f"{where}: empty line"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                pytest.fail(f"{where}: not JSON ({exc})")
            assert isinstance(obj, dict), f"{where}: not a JSON object"
            rows.append((number, obj))
    assert rows, f"{path} is empty"
    return tuple(rows)
