"""Comment and description bodies: plain text <-> Atlassian Document Format, wiki -> text.

REST v3 takes and returns ADF; webhooks carry the REST v2 representation, i.e. wiki markup.
The pipeline speaks plain text, so both are flattened here, and text goes out as ADF built so
that `adf_to_text(text_to_adf(t)) == t` for any text (paragraphs split on blank lines, a
single newline as a hardBreak): an echo then compares equal to what was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

Node = dict[str, Any]

BLOCK_SEPARATOR: Final = "\n\n"


def text_to_adf(text: str) -> Node:
    """A `doc` of paragraphs (blank-line separated), single newlines as hard breaks."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    content: list[Node] = []
    for block in re.split(r"\n{2,}", normalized) if normalized else []:
        inline: list[Node] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def adf_to_text(node: object) -> str:
    """Readable text of an ADF node: blocks separated by a blank line, list items as `- `."""
    if isinstance(node, str):
        return node  # a v2 string or an already-plain body
    if not isinstance(node, Mapping):
        return ""
    return _block(node).strip("\n")


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = node.get("content")
    return [c for c in content if isinstance(c, Mapping)] if isinstance(content, list) else []


def _inline(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    assert isinstance(attrs, Mapping)
    if kind == "text":
        text = node.get("text")
        return text if isinstance(text, str) else ""
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        value = attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or ""
        return str(value)
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    return "".join(_inline(c) for c in _children(node))


def _block(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind in ("doc", "blockquote", "panel", "expand", "nestedExpand", "layoutSection"):
        return BLOCK_SEPARATOR.join(b for b in (_block(c) for c in _children(node)) if b)
    if kind in ("bulletList", "orderedList"):
        items = []
        for n, item in enumerate(_children(node), start=1):
            marker = f"{n}. " if kind == "orderedList" else "- "
            items.append(marker + _block(item).replace(BLOCK_SEPARATOR, "\n"))
        return "\n".join(items)
    if kind in ("listItem", "layoutColumn", "tableCell", "tableHeader"):
        return BLOCK_SEPARATOR.join(b for b in (_block(c) for c in _children(node)) if b)
    if kind == "table":
        rows = []
        for row in _children(node):
            rows.append(" | ".join(_block(cell) for cell in _children(row)))
        return "\n".join(rows)
    if kind == "rule":
        return "---"
    # paragraph, heading, codeBlock and any inline-holding node
    return _inline(node)


# -- wiki markup (webhook bodies) -> text ---------------------------------------------------
_WIKI_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\{\{([^}\n]+)\}\}"), r"\1"),  # {{monospace}}
    (re.compile(r"\{(?:code|noformat|quote|panel)(?::[^}]*)?\}"), ""),
    (re.compile(r"\{color(?::[^}]*)?\}"), ""),
    (re.compile(r"\[([^|\]\n]+)\|([^\]\n]+)\]"), r"\1"),  # [text|url] -> text
    (re.compile(r"\[(~?(?:accountid:)?[^\]\n]+)\]"), r"\1"),  # [url], [~mention]
    (re.compile(r"^h[1-6]\.\s+", re.MULTILINE), ""),
    (re.compile(r"^bq\.\s+", re.MULTILINE), ""),
    (re.compile(r"^[*#]+\s+", re.MULTILINE), "- "),  # list items
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *bold*
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # _italic_
    (re.compile(r"\\\\\s*"), "\n"),  # \\ forced line break
)


def wiki_to_text(wiki: str) -> str:
    """Jira wiki markup as plain text: markup dropped, link texts and mentions kept."""
    text = wiki.replace("\r\n", "\n").replace("\r", "\n")
    for pattern, replacement in _WIKI_RULES:
        text = pattern.sub(replacement, text)
    return text.strip("\n")


def body_text(body: object) -> str:
    """A comment or description body in either representation (ADF object or wiki string)."""
    if isinstance(body, str):
        return wiki_to_text(body)
    return adf_to_text(body)
