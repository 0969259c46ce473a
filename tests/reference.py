"""The reference material beside the repository (`../shared/reference/`, as CI checks it out)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def reference_dir() -> Path:
    # A clone has shared/ beside it; a git worktree under <root>/wt/<name> has it two levels up.
    for base in (REPO.parent, *REPO.parents):
        candidate = base / "shared" / "reference"
        if (candidate / "power-platform-schemas").is_dir():
            return candidate
    raise AssertionError(f"no shared/reference/ beside {REPO} or above it: the connector schemas are there")


_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*')


def load_commented_json(path: Path) -> Any:
    """JSON with `//` line comments (Power Platform's schemas have them); `//` inside strings stays."""
    text = _STRING_OR_COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", path.read_text())
    return json.loads(text)
