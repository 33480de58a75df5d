"""Bodies: text -> ADF -> text is the identity; ADF and wiki markup read as plain text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from incident_sync.connectors.jira.adf import adf_to_text, text_to_adf, wiki_to_text
from tests.unit.connectors.jira.helpers import sample

lines = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@given(st.lists(lines, max_size=6))
def test_text_survives_a_trip_through_adf(parts: list[str]) -> None:
    text = "\n".join(parts)
    # exact, except that runs of blank lines collapse into one paragraph break
    assert adf_to_text(text_to_adf(text)) == re.sub(r"\n{3,}", "\n\n", text.strip("\n"))


def test_paragraphs_and_hard_breaks() -> None:
    doc = text_to_adf("line one\nline two\n\nsecond paragraph")
    assert [n["type"] for n in doc["content"]] == ["paragraph", "paragraph"]
    assert [n["type"] for n in doc["content"][0]["content"]] == ["text", "hardBreak", "text"]


def test_the_spec_samples_read_as_text() -> None:
    body = sample("rest_addComment_response_201.json")["body"]
    assert adf_to_text(body).startswith("Lorem ipsum dolor sit amet")
    issue = sample("rest_createIssue_request.json")["fields"]
    assert adf_to_text(issue["description"]) == "Order entry fails when selecting supplier."


def test_lists_mentions_and_cards() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "first"}]}
                        ],
                    },
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "mention", "attrs": {"id": "1", "text": "@Ann"}}
                                ],
                            }
                        ],
                    },
                ],
            },
            {
                "type": "paragraph",
                "content": [{"type": "inlineCard", "attrs": {"url": "https://x.example"}}],
            },
        ],
    }
    assert adf_to_text(doc) == "- first\n- @Ann\n\nhttps://x.example"


def test_wiki_markup_is_flattened() -> None:
    assert wiki_to_text("h2. Title\n*bold* and _it_ [docs|https://d.example] {{code}}") == (
        "Title\nbold and it docs code"
    )
    assert wiki_to_text("{code:python}x = 1{code}") == "x = 1"
    assert wiki_to_text("snake_case_name stays, 2*3*4 too") == "snake_case_name stays, 2*3*4 too"
