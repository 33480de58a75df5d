"""The vendors' recorded payloads and API specs the tests read, copied into the repository
(`tests/vendor/`, provenance in each folder's SOURCES.md), so a fresh clone skips nothing."""

from __future__ import annotations

from pathlib import Path

PROTOCOLS = Path(__file__).resolve().parent / "vendor"


def vendor_file(*parts: str) -> Path:
    """A file under tests/vendor (`vendor_file("jira", "samples", "x.json")`)."""
    return PROTOCOLS.joinpath(*parts)


def samples(tool: str) -> Path:
    return PROTOCOLS / tool / "samples"
