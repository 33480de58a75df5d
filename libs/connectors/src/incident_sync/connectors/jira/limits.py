"""Jira Cloud's field limits, and a body cut to fit them. Pure.

A summary holds 255 characters (longer is refused: "Summary must be less than 255
characters."); a description or a comment 32,767 (`CONTENT_LIMIT_EXCEEDED`, "The entered text
is too long"). Jira does not say whether it counts the text or its stored form, so what is
measured is the ADF document sent (never shorter than its text).
"""

from __future__ import annotations

from typing import Final

import orjson

from incident_sync.connectors.jira.adf import text_to_adf
from incident_sync.syncmodel.limits import cut

SUMMARY_MAX: Final = 255
TEXT_MAX: Final = 32_767  # a description or a comment


def adf_length(text: str) -> int:
    """The length of the ADF document `text` is sent as."""
    return len(orjson.dumps(text_to_adf(text)).decode())


def fit_text(text: str | None) -> str | None:
    """A description or comment body cut (visibly) to fit Jira's limit."""
    return cut(text, TEXT_MAX, measure=adf_length)
