"""The vendors' recorded payloads and API specs live in ../shared beside the repository (they
are the project's reference, not part of it). A test that needs one is skipped, with the path
it looked for, where they are not there; CI has them."""

from __future__ import annotations

from pathlib import Path

import pytest

PROTOCOLS = Path(__file__).resolve().parents[1].parent / "shared" / "protocols"


def vendor_file(*parts: str) -> Path:
    path = PROTOCOLS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"vendor file not found: {path} (../shared beside the repository)")
    return path
