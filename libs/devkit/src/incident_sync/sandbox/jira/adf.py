"""ADF as Jira stores it, and the wiki-markup rendering webhooks carry (REST v2 form)."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def is_doc(value: object) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def doc(text: str) -> JSON:
    """What the Jira editor stores for typed text: one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def _inline(node: JSON) -> str:
    kind = node.get("type")
    if kind == "text":
        text = str(node.get("text", ""))
        marks = {m.get("type") for m in node.get("marks") or [] if isinstance(m, dict)}
        if "strong" in marks:
            text = f"*{text}*"
        if "em" in marks:
            text = f"_{text}_"
        return text
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return f"[~accountid:{node.get('attrs', {}).get('id', '')}]"
    return "".join(_inline(c) for c in node.get("content") or [] if isinstance(c, dict))


def to_wiki(value: object) -> str | None:
    """ADF -> wiki markup, as the v2 representation in webhook bodies shows it."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return str(value)
    blocks = []
    for node in value.get("content") or []:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind == "heading":
            level = node.get("attrs", {}).get("level", 1)
            blocks.append(f"h{level}. {_inline(node)}")
        elif kind in ("bulletList", "orderedList"):
            marker = "#" if kind == "orderedList" else "*"
            items = [f"{marker} {_inline(i)}" for i in node.get("content") or []]
            blocks.append("\n".join(items))
        elif kind == "codeBlock":
            blocks.append("{code}" + _inline(node) + "{code}")
        else:
            blocks.append(_inline(node))
    return "\n\n".join(blocks)
